//! A remote in a folder (local disk or a mounted share).
//!
//! Objects are written through a temporary file and hard-linked into
//! place (create-only: a link never replaces a name). Refs move under an
//! advisory lock (`refs.lock`, flock, released if the holder dies): read,
//! compare, write a temporary file, rename. object_store's local backend
//! is not used because it has no conditional update (docs/DECISIONS.md).

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Backend, Listed, RemoteError, Version};
use crate::fsutil::{self, TempFile};
use crate::lock::RepoLock;

/// A remote in a folder.
pub struct FolderBackend {
    root: PathBuf,
}

impl FolderBackend {
    /// Opens (without creating) the folder remote at `root`.
    pub fn open(root: &Path) -> Result<FolderBackend, RemoteError> {
        Ok(FolderBackend {
            root: root.to_path_buf(),
        })
    }

    fn storage(&self, op: &'static str, key: &str, e: impl std::fmt::Display) -> RemoteError {
        RemoteError::Storage {
            remote: self.describe(),
            op,
            key: key.to_string(),
            detail: e.to_string(),
        }
    }

    /// The file of `key`; keys are folio's own (hex names, checked ref
    /// names), and anything with an empty, `.` or `..` part is refused.
    fn path(&self, key: &str) -> Result<PathBuf, RemoteError> {
        if key.is_empty()
            || key
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(RemoteError::Damaged {
                remote: self.describe(),
                detail: format!("{key:?} is not a key folio writes"),
            });
        }
        Ok(self.root.join(key))
    }

    /// Creates the folders of `path` below the root, refusing symlinks.
    fn make_parent(&self, key: &str, path: &Path) -> Result<PathBuf, RemoteError> {
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        fsutil::create_dir_durable(&dir).map_err(|e| self.storage("create folder for", key, e))?;
        Ok(dir)
    }

    fn write_new(
        &self,
        key: &str,
        fill: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> Result<bool, RemoteError> {
        let path = self.path(key)?;
        let dir = self.make_parent(key, &path)?;
        let mut tmp = TempFile::new_in(&dir).map_err(|e| self.storage("write", key, e))?;
        fill(tmp.file()).map_err(|e| self.storage("write", key, e))?;
        tmp.persist_new(&path)
            .map_err(|e| self.storage("write", key, e))
    }
}

fn not_found(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

impl Backend for FolderBackend {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        let path = self.path(key)?;
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(self.storage("read", key, e)),
        }
    }

    fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Vec<u8>, RemoteError> {
        let path = self.path(key)?;
        let mut f = File::open(&path).map_err(|e| self.storage("read", key, e))?;
        f.seek(SeekFrom::Start(start))
            .map_err(|e| self.storage("read", key, e))?;
        let mut buf = Vec::with_capacity(end.saturating_sub(start) as usize);
        f.take(end.saturating_sub(start))
            .read_to_end(&mut buf)
            .map_err(|e| self.storage("read", key, e))?;
        if (buf.len() as u64) < end.saturating_sub(start) {
            return Err(RemoteError::Damaged {
                remote: self.describe(),
                detail: format!(
                    "{key} ends at {} before byte {end}",
                    start + buf.len() as u64
                ),
            });
        }
        Ok(buf)
    }

    fn get_to_file(&self, key: &str, dest: &mut File) -> Result<u64, RemoteError> {
        let path = self.path(key)?;
        let mut f = File::open(&path).map_err(|e| self.storage("read", key, e))?;
        io::copy(&mut f, dest).map_err(|e| self.storage("read", key, e))
    }

    fn get_to_path(&self, key: &str, dest: &Path) -> Result<u64, RemoteError> {
        let path = self.path(key)?;
        // Only a regular file is linked (a link to a symlink would be the
        // symlink); the caller checks the bytes either way.
        let meta = fs::symlink_metadata(&path).map_err(|e| self.storage("read", key, e))?;
        if meta.is_file() && fs::hard_link(&path, dest).is_ok() {
            return Ok(meta.len());
        }
        super::stream_to_new(self, key, dest)
    }

    fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        let path = self.path(key)?;
        match fs::symlink_metadata(&path) {
            Ok(m) => Ok(m.is_file()),
            Err(e) if not_found(&e) => Ok(false),
            Err(e) => Err(self.storage("look up", key, e)),
        }
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool, RemoteError> {
        self.write_new(key, |f| f.write_all(bytes))
    }

    fn put_file(&self, key: &str, path: &Path) -> Result<(), RemoteError> {
        let created = self.write_new(key, |f| {
            let mut src = File::open(path)?;
            io::copy(&mut src, f).map(|_| ())
        })?;
        if !created {
            // It was there (same bytes: keys are content addresses): make
            // it new again, so a remote gc's grace period starts over.
            let dest = self.path(key)?;
            // An existing file, opened only to set its time; a symlink
            // there is not followed (nor is it anything folio wrote).
            use std::os::unix::fs::OpenOptionsExt as _;
            #[allow(clippy::disallowed_methods)]
            let opened = File::options()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&dest);
            opened
                .and_then(|f| f.set_modified(std::time::SystemTime::now()))
                .map_err(|e| self.storage("refresh", key, e))?;
        }
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Vec<Listed>, RemoteError> {
        let base = self.root.join(prefix.trim_end_matches('/'));
        let mut out = Vec::new();
        let mut stack = vec![base];
        while let Some(dir) = stack.pop() {
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if not_found(&e) => continue,
                Err(e) => return Err(self.storage("list", prefix, e)),
            };
            for entry in rd {
                let entry = entry.map_err(|e| self.storage("list", prefix, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(fsutil::TEMP_PREFIX) || name == "refs.lock" {
                    continue;
                }
                let meta = entry
                    .metadata()
                    .map_err(|e| self.storage("list", prefix, e))?;
                let path = entry.path();
                if meta.is_dir() {
                    stack.push(path);
                } else if meta.is_file() {
                    let rel = path
                        .strip_prefix(&self.root)
                        .map_err(|e| self.storage("list", prefix, e))?;
                    let modified = meta
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs() as i64);
                    out.push(Listed {
                        key: rel.to_string_lossy().replace('\\', "/"),
                        size: meta.len(),
                        modified,
                    });
                } else {
                    return Err(RemoteError::Damaged {
                        remote: self.describe(),
                        detail: format!("{} is a symlink or special file", path.display()),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn read_ref(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, RemoteError> {
        Ok(self.get(key)?.map(|b| {
            let v = Version(String::from_utf8_lossy(&b).into_owned());
            (b, v)
        }))
    }

    fn swap_ref(
        &self,
        key: &str,
        expected: Option<&Version>,
        new: &[u8],
    ) -> Result<bool, RemoteError> {
        let path = self.path(key)?;
        let dir = self.make_parent(key, &path)?;
        fsutil::create_dir_durable(&self.root).map_err(|e| self.storage("lock", key, e))?;
        let _lock = RepoLock::acquire(&self.root.join("refs.lock"), true)
            .map_err(|e| self.storage("lock", key, e))?;
        let now = self.read_ref(key)?.map(|(_, v)| v);
        if now.as_ref() != expected {
            return Ok(false);
        }
        let mut tmp = TempFile::new_in(&dir).map_err(|e| self.storage("write", key, e))?;
        tmp.file()
            .write_all(new)
            .map_err(|e| self.storage("write", key, e))?;
        tmp.persist(&path)
            .map_err(|e| self.storage("write", key, e))?;
        Ok(true)
    }

    fn delete(&self, key: &str) -> Result<(), RemoteError> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(self.storage("delete", key, e)),
        }
    }

    fn temporaries(&self, before: i64, remove: bool) -> Result<u64, RemoteError> {
        let mut n = 0;
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if not_found(&e) => continue,
                Err(e) => return Err(self.storage("list", "", e)),
            };
            for entry in rd {
                let entry = entry.map_err(|e| self.storage("list", "", e))?;
                // Not followed: a symlink is neither a folder to walk nor
                // a file to delete.
                let meta = entry.metadata().map_err(|e| self.storage("list", "", e))?;
                if meta.is_dir() {
                    stack.push(entry.path());
                    continue;
                }
                let temporary = entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(fsutil::TEMP_PREFIX);
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs() as i64);
                if meta.is_file() && temporary && modified < before {
                    n += 1;
                    if remove {
                        match fs::remove_file(entry.path()) {
                            Ok(()) => {}
                            Err(e) if not_found(&e) => {}
                            Err(e) => return Err(self.storage("delete", "a temporary file", e)),
                        }
                    }
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_swap_only_from_the_expected_version() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = FolderBackend::open(dir.path()).expect("open");
        assert!(b.swap_ref("refs/heads/main", None, b"a\n").expect("create"));
        assert!(
            !b.swap_ref("refs/heads/main", None, b"b\n")
                .expect("second create loses")
        );
        let (bytes, v) = b
            .read_ref("refs/heads/main")
            .expect("read")
            .expect("present");
        assert_eq!(bytes, b"a\n");
        assert!(
            !b.swap_ref("refs/heads/main", Some(&Version("x\n".into())), b"c\n")
                .expect("stale version loses")
        );
        assert!(
            b.swap_ref("refs/heads/main", Some(&v), b"c\n")
                .expect("update")
        );
        assert_eq!(
            b.get("refs/heads/main").expect("get"),
            Some(b"c\n".to_vec())
        );
    }

    #[test]
    fn objects_are_create_only_and_keys_stay_inside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = FolderBackend::open(dir.path()).expect("open");
        assert!(b.put_new("objects/ab/cd", b"one").expect("first"));
        assert!(!b.put_new("objects/ab/cd", b"two").expect("second"));
        assert_eq!(b.get("objects/ab/cd").expect("get"), Some(b"one".to_vec()));
        assert_eq!(b.get_range("objects/ab/cd", 1, 3).expect("range"), b"ne");
        assert!(
            b.get_range("objects/ab/cd", 1, 9).is_err(),
            "a short read is an error"
        );
        for bad in ["../x", "a/../../x", "/etc/passwd", "a//b", ""] {
            assert!(b.put_new(bad, b"x").is_err(), "{bad}");
        }
        let keys: Vec<String> = b
            .list("objects/")
            .expect("list")
            .into_iter()
            .map(|l| l.key)
            .collect();
        assert_eq!(keys, vec!["objects/ab/cd".to_string()]);
    }
}
