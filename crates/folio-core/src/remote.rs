//! Remotes: plain object storage (a folder, or S3 and the stores that
//! speak its protocol) that repositories share commits, objects and
//! refs through, without a folio server.
//!
//! A remote holds (docs/REMOTES.md):
//!
//! - `folio-remote`: the marker, `folio-remote 1`;
//! - `refs/heads/NAME`, `refs/tags/NAME`: a commit id and a newline, moved
//!   only by compare-and-swap, and only after every object it reaches is
//!   uploaded;
//! - `packs/meta/pack-H.pack` + `.idx`: commits, trees, manifests, row
//!   chunks and ledger batches, in the local pack format (`H` is the
//!   BLAKE3 of the pack file);
//! - `packs/data/pack-H.pack` + `.idx`: file contents (blobs and their
//!   chunks), fetched whole or record by record with ranged reads;
//! - `objects/ab/cdef…[.zst]`: large objects, one each, as stored locally.
//!
//! Objects are written create-only under names their contents determine,
//! so an interrupted push leaves orphans at worst, never a damaged object.
//! This module is the storage interface ([`Backend`]) and its two
//! implementations; what to copy is `repo::sync`.

mod folder;
#[cfg(feature = "s3")]
mod s3;

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::ErrorKind;

pub use folder::FolderBackend;

/// The first bytes of a remote's `folio-remote` marker.
pub const MARKER: &[u8] = b"folio-remote 1\n";

/// Errors of remote storage.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// A URL folio cannot use.
    #[error("{url}: {reason}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// The storage failed (after retries, for transient errors).
    #[error("{remote}: {op} {key}: {detail}")]
    Storage {
        /// The remote, as described to users (no secrets).
        remote: String,
        /// What was being done.
        op: &'static str,
        /// The key concerned.
        key: String,
        /// The storage's error.
        detail: String,
    },
    /// A local file could not be read or written during a transfer.
    #[error("{}: {source}", path.display())]
    Local {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The remote holds something it should not: wrong bytes, a name that
    /// is not folio's, a ref to a missing object.
    #[error(
        "{remote}: {detail}; the remote is damaged or not a folio remote, and nothing was taken from it"
    )]
    Damaged {
        /// The remote.
        remote: String,
        /// What is wrong, naming the key or object.
        detail: String,
    },
    /// This build of folio has no S3 support.
    #[error(
        "{0}: this folio was built without S3 support; rebuild with `cargo install folio-cli --features s3` (the default)"
    )]
    NoS3(String),
}

impl RemoteError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RemoteError::BadUrl { .. } | RemoteError::NoS3(_) => ErrorKind::Invalid,
            RemoteError::Storage { .. } => ErrorKind::Io,
            RemoteError::Local { source, .. } => ErrorKind::of_io(source),
            RemoteError::Damaged { .. } => ErrorKind::Damaged,
        }
    }

    /// Wraps a local I/O error with its file.
    pub fn local(path: &Path) -> impl FnOnce(std::io::Error) -> RemoteError + '_ {
        move |source| RemoteError::Local {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where a remote lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A folder on this machine (or a mounted share).
    Folder(PathBuf),
    /// A bucket and a key prefix (no leading or trailing `/`).
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix keys are placed under (may be empty).
        prefix: String,
    },
}

impl Location {
    /// Parses `file:///path`, a plain path, or `s3://bucket[/prefix]`.
    /// A relative path is taken from `base` (the working folder).
    pub fn parse(url: &str, base: &Path) -> Result<Location, RemoteError> {
        let bad = |reason: &str| RemoteError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.')
                });
            if !bucket_ok {
                return Err(bad(
                    "not a bucket name (3 to 63 lowercase letters, digits, '-' or '.'): write s3://BUCKET/PREFIX",
                ));
            }
            let prefix = prefix.trim_matches('/').to_string();
            if prefix.split('/').any(|p| p == ".." || p == ".")
                || prefix.contains("//")
                || prefix.chars().any(|c| c.is_control())
            {
                return Err(bad("the prefix holds an empty, '.' or '..' part"));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if let Some((scheme, _)) = url.split_once("://")
            && scheme != "file"
        {
            return Err(bad(&format!(
                "folio knows file:// and s3:// remotes, not {scheme}://; for an S3-compatible store (MinIO, Ceph, R2) write s3://BUCKET/PREFIX and set its endpoint"
            )));
        }
        let path = match url.strip_prefix("file://") {
            Some(p) if p.starts_with('/') => PathBuf::from(p),
            Some(_) => {
                return Err(bad(
                    "a file URL needs an absolute path: file:///path/to/folder",
                ));
            }
            None if url.is_empty() => return Err(bad("an empty path")),
            None => base.join(url),
        };
        Ok(Location::Folder(path))
    }
}

/// How to reach an S3-compatible store: the settings of the remote (from
/// `.folio/remotes.toml`) and credentials the caller read from the
/// environment (the library never reads it). Credentials are never
/// written or shown.
#[derive(Clone, Default)]
pub struct S3Settings {
    /// A custom endpoint (MinIO, Ceph, R2, moto): `http://host:port`.
    pub endpoint: Option<String>,
    /// The region (`us-east-1` when absent).
    pub region: Option<String>,
    /// Whether plain HTTP is allowed (for a local endpoint).
    pub allow_http: bool,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("allow_http", &self.allow_http)
            .field("credentials", &self.access_key_id.as_ref().map(|_| "(set)"))
            .finish()
    }
}

/// One key of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The key, relative to the remote's root, `/`-separated.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, seconds since the epoch.
    pub modified: i64,
}

/// The version of a ref a compare-and-swap expects: the ETag on S3, the
/// contents on a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(pub String);

/// Streams a key into the new file `dest` and fsyncs it.
fn stream_to_new<B: Backend + ?Sized>(b: &B, key: &str, dest: &Path) -> Result<u64, RemoteError> {
    // A fresh name in a quarantine: O_EXCL neither follows a symlink nor
    // replaces a file.
    #[allow(clippy::disallowed_methods)]
    let mut f = File::create_new(dest).map_err(RemoteError::local(dest))?;
    let n = b.get_to_file(key, &mut f)?;
    f.sync_all().map_err(RemoteError::local(dest))?;
    Ok(n)
}

/// Object storage as folio uses it: create-only puts, whole and ranged
/// reads, listings, and compare-and-swap for refs. Implementations retry
/// transient failures themselves and are safe to call from many threads.
pub trait Backend: Send + Sync {
    /// The remote as shown to users (never with credentials).
    fn describe(&self) -> String;
    /// A whole key, or `None` when absent.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError>;
    /// Bytes `start..end` of a key.
    fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Vec<u8>, RemoteError>;
    /// Streams a key into `dest`; returns the byte count.
    fn get_to_file(&self, key: &str, dest: &mut File) -> Result<u64, RemoteError>;
    /// Makes the new file `dest` hold a key's bytes, durably; returns the
    /// byte count. A folder remote on the same file system hard-links
    /// (its objects never change); others stream.
    fn get_to_path(&self, key: &str, dest: &Path) -> Result<u64, RemoteError> {
        stream_to_new(self, key, dest)
    }
    /// Whether a key exists.
    fn exists(&self, key: &str) -> Result<bool, RemoteError>;
    /// Writes `bytes` under `key` unless it exists; `false` when it did.
    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool, RemoteError>;
    /// Uploads the file at `path` under `key` (large files in parallel
    /// parts). Only for content-addressed keys: a key that exists holds
    /// the same bytes, so a concurrent upload of it is harmless; either
    /// way its last-modified time is now afterwards (a remote gc's grace
    /// period counts from it).
    fn put_file(&self, key: &str, path: &Path) -> Result<(), RemoteError>;
    /// Every key under `prefix` (which ends with `/`).
    fn list(&self, prefix: &str) -> Result<Vec<Listed>, RemoteError>;
    /// A ref's contents and version, or `None` when absent.
    fn read_ref(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, RemoteError>;
    /// Sets a ref to `new` if it is still at `expected` (`None`: absent).
    /// Returns `false`, changing nothing, when it moved.
    fn swap_ref(
        &self,
        key: &str,
        expected: Option<&Version>,
        new: &[u8],
    ) -> Result<bool, RemoteError>;
    /// Deletes a key (absent is not an error).
    fn delete(&self, key: &str) -> Result<(), RemoteError>;
    /// Counts (and, when `remove`, deletes) the leftovers of interrupted
    /// writes older than `before` (seconds since the epoch). Object
    /// stores have none folio can see: abandoned multipart uploads are
    /// the store's to expire (an S3 lifecycle rule).
    fn temporaries(&self, before: i64, remove: bool) -> Result<u64, RemoteError> {
        let _ = (before, remove);
        Ok(0)
    }
}

/// Opens the storage of a remote.
pub fn open(
    location: &Location,
    s3: &S3Settings,
    jobs: usize,
) -> Result<Box<dyn Backend>, RemoteError> {
    match location {
        Location::Folder(p) => Ok(Box::new(FolderBackend::open(p)?)),
        #[cfg(feature = "s3")]
        Location::S3 { bucket, prefix } => {
            Ok(Box::new(s3::S3Backend::open(bucket, prefix, s3, jobs)?))
        }
        #[cfg(not(feature = "s3"))]
        Location::S3 { bucket, prefix } => {
            let _ = (s3, jobs);
            Err(RemoteError::NoS3(format!("s3://{bucket}/{prefix}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_to_folders_and_buckets() {
        let base = Path::new("/work");
        assert_eq!(
            Location::parse("file:///srv/remote", base).expect("file url"),
            Location::Folder(PathBuf::from("/srv/remote"))
        );
        assert_eq!(
            Location::parse("../shared", base).expect("relative path"),
            Location::Folder(PathBuf::from("/work/../shared"))
        );
        assert_eq!(
            Location::parse("s3://my-bucket/teams/vision/", base).expect("s3 url"),
            Location::S3 {
                bucket: "my-bucket".into(),
                prefix: "teams/vision".into()
            }
        );
        for bad in [
            "s3://B/x",
            "s3://ab",
            "gs://bucket/x",
            "file://relative",
            "s3://bucket/a/../b",
            "",
        ] {
            assert!(
                Location::parse(bad, base).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn settings_never_show_credentials() {
        let s = S3Settings {
            secret_access_key: Some("s3cr3t-value".into()),
            access_key_id: Some("AKIAEXAMPLE".into()),
            ..S3Settings::default()
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("AKIA"),
            "{shown}"
        );
    }
}
