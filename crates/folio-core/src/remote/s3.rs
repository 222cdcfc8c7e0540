//! A remote in S3 or an S3-compatible store, through the `object_store`
//! crate (Apache Arrow): conditional writes for create-only objects
//! (`If-None-Match: *`) and ref compare-and-swap (`If-Match: ETag`),
//! multipart uploads for large objects, and its retries with exponential
//! backoff for 5xx, throttling and timeouts.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ClientOptions, MultipartUpload, ObjectStore, ObjectStoreExt as _, PutMode,
    PutOptions, PutPayload, RetryConfig, UpdateVersion,
};
use tokio::io::AsyncReadExt as _;

use super::{Backend, Listed, RemoteError, S3Settings, Version};

/// Parts of a multipart upload (S3's least is 5 MiB): with `jobs` of
/// them in memory at once, 8 jobs hold 64 MiB.
const PART: usize = 8 << 20;

/// A remote in a bucket, under a prefix.
pub struct S3Backend {
    store: Arc<AmazonS3>,
    rt: tokio::runtime::Runtime,
    bucket: String,
    prefix: String,
    /// Bounds the upload parts in memory across threads.
    parts: Arc<tokio::sync::Semaphore>,
}

impl S3Backend {
    /// Connects to `bucket` (no request is made until the first use).
    pub fn open(
        bucket: &str,
        prefix: &str,
        s: &S3Settings,
        jobs: usize,
    ) -> Result<S3Backend, RemoteError> {
        // rustls needs one process-wide crypto provider: ring, pure Rust
        // and assembly, no cmake (docs/DECISIONS.md).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = format!("s3://{bucket}/{prefix}");
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(s.region.as_deref().unwrap_or("us-east-1"))
            .with_allow_http(s.allow_http)
            .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(15),
                    base: 2.0,
                },
                max_retries: 6,
                retry_timeout: Duration::from_secs(120),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(Duration::from_secs(120))
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_allow_http(s.allow_http),
            );
        if let Some(e) = &s.endpoint {
            b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
        }
        if let Some(k) = &s.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(k) = &s.secret_access_key {
            b = b.with_secret_access_key(k);
        }
        if let Some(t) = &s.session_token {
            b = b.with_token(t);
        }
        let store = b.build().map_err(|e| RemoteError::BadUrl {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(jobs.clamp(1, 4))
            .enable_all()
            .build()
            .map_err(|e| RemoteError::Local {
                path: url.clone().into(),
                source: e,
            })?;
        Ok(S3Backend {
            store: Arc::new(store),
            rt,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            parts: Arc::new(tokio::sync::Semaphore::new(jobs.max(1))),
        })
    }

    fn key(&self, key: &str) -> Key {
        if self.prefix.is_empty() {
            Key::from(key)
        } else {
            Key::from(format!("{}/{key}", self.prefix))
        }
    }

    /// Reads `path` in parts of `part` bytes and uploads them, at most
    /// `jobs` parts in memory across every upload of this remote (each
    /// part holds a permit until it is sent).
    async fn upload_parts(
        &self,
        upload: &mut dyn MultipartUpload,
        key: &str,
        path: &Path,
        part: usize,
    ) -> Result<(), RemoteError> {
        let mut f = tokio::fs::File::open(path)
            .await
            .map_err(RemoteError::local(path))?;
        let mut tasks = tokio::task::JoinSet::new();
        let reap = |r: Result<object_store::Result<()>, tokio::task::JoinError>| match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.err("upload", key, e)),
            Err(e) => Err(self.err("upload", key, e)),
        };
        loop {
            let permit = Arc::clone(&self.parts)
                .acquire_owned()
                .await
                .map_err(|e| self.err("upload", key, e))?;
            let mut buf = vec![0u8; part];
            let mut filled = 0;
            while filled < part {
                let n = f
                    .read(&mut buf[filled..])
                    .await
                    .map_err(RemoteError::local(path))?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            buf.truncate(filled);
            let sent = upload.put_part(PutPayload::from(buf));
            tasks.spawn(async move {
                let r = sent.await;
                drop(permit);
                r
            });
            while let Some(r) = tasks.try_join_next() {
                reap(r)?;
            }
            if filled < part {
                break;
            }
        }
        while let Some(r) = tasks.join_next().await {
            reap(r)?;
        }
        Ok(())
    }

    fn err(&self, op: &'static str, key: &str, e: impl std::fmt::Display) -> RemoteError {
        RemoteError::Storage {
            remote: self.describe(),
            op,
            key: key.to_string(),
            detail: e.to_string(),
        }
    }
}

impl Backend for S3Backend {
    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        self.rt.block_on(async {
            match self.store.get(&self.key(key)).await {
                Ok(r) => r
                    .bytes()
                    .await
                    .map(|b| Some(b.to_vec()))
                    .map_err(|e| self.err("read", key, e)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.err("read", key, e)),
            }
        })
    }

    fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Vec<u8>, RemoteError> {
        let b = self
            .rt
            .block_on(self.store.get_range(&self.key(key), start..end))
            .map_err(|e| self.err("read", key, e))?;
        if (b.len() as u64) != end - start {
            return Err(RemoteError::Damaged {
                remote: self.describe(),
                detail: format!("{key}: asked for bytes {start}..{end}, got {}", b.len()),
            });
        }
        Ok(b.to_vec())
    }

    fn get_to_file(&self, key: &str, dest: &mut File) -> Result<u64, RemoteError> {
        self.rt.block_on(async {
            let r = self
                .store
                .get(&self.key(key))
                .await
                .map_err(|e| self.err("read", key, e))?;
            let mut stream = r.into_stream();
            let mut n = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.err("read", key, e))?;
                dest.write_all(&chunk)
                    .map_err(|e| self.err("read", key, e))?;
                n += chunk.len() as u64;
            }
            Ok(n)
        })
    }

    fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        match self.rt.block_on(self.store.head(&self.key(key))) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("look up", key, e)),
        }
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool, RemoteError> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(bytes.to_vec());
        match self
            .rt
            .block_on(self.store.put_opts(&self.key(key), payload, opts))
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.err("write", key, e)),
        }
    }

    fn put_file(&self, key: &str, path: &Path) -> Result<(), RemoteError> {
        let len = std::fs::metadata(path)
            .map_err(RemoteError::local(path))?
            .len();
        // S3 allows 10,000 parts: parts grow past PART for objects over
        // ~78 GiB.
        let part = (PART as u64).max(len.div_ceil(9_000)) as usize;
        if len <= part as u64 {
            let _permit = self.rt.block_on(self.parts.acquire()).ok();
            let bytes = std::fs::read(path).map_err(RemoteError::local(path))?;
            // Overwrites (the same bytes: keys are content addresses), so
            // the key's last-modified time is now, as after a multipart
            // upload.
            return self
                .rt
                .block_on(self.store.put(&self.key(key), PutPayload::from(bytes)))
                .map(|_| ())
                .map_err(|e| self.err("write", key, e));
        }
        self.rt.block_on(async {
            let mut upload = self
                .store
                .put_multipart(&self.key(key))
                .await
                .map_err(|e| self.err("start upload of", key, e))?;
            let res = self.upload_parts(&mut *upload, key, path, part).await;
            match res {
                Ok(()) => upload
                    .complete()
                    .await
                    .map(|_| ())
                    .map_err(|e| self.err("finish upload of", key, e)),
                Err(e) => {
                    let _ = upload.abort().await;
                    Err(e)
                }
            }
        })
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, RemoteError> {
        let base = self.key(prefix.trim_end_matches('/'));
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut s = self.store.list(Some(&base));
            while let Some(m) = s.next().await {
                let m = m.map_err(|e| self.err("list", prefix, e))?;
                let full = m.location.to_string();
                let Some(rel) = full.strip_prefix(&strip) else {
                    continue;
                };
                out.push(Listed {
                    key: rel.to_string(),
                    size: m.size,
                    modified: m.last_modified.timestamp(),
                });
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
    }

    fn read_ref(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, RemoteError> {
        self.rt.block_on(async {
            match self.store.get(&self.key(key)).await {
                Ok(r) => {
                    let tag = r.meta.e_tag.clone().unwrap_or_default();
                    let b = r.bytes().await.map_err(|e| self.err("read", key, e))?;
                    Ok(Some((b.to_vec(), Version(tag))))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.err("read", key, e)),
            }
        })
    }

    fn swap_ref(
        &self,
        key: &str,
        expected: Option<&Version>,
        new: &[u8],
    ) -> Result<bool, RemoteError> {
        let mode = match expected {
            None => PutMode::Create,
            Some(v) => PutMode::Update(UpdateVersion {
                e_tag: Some(v.0.clone()),
                version: None,
            }),
        };
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match self.rt.block_on(self.store.put_opts(
            &self.key(key),
            PutPayload::from(new.to_vec()),
            opts,
        )) {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. })
            | Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("update", key, e)),
        }
    }

    fn delete(&self, key: &str) -> Result<(), RemoteError> {
        match self.rt.block_on(self.store.delete(&self.key(key))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("delete", key, e)),
        }
    }
}
