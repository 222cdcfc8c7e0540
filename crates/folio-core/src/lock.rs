//! The repository write lock: one writer at a time, readers never blocked.

use crate::error::ErrorKind;
use std::fs::{File, TryLockError};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Errors taking the lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "repository is locked by another folio process (pid {pid}); wait for it to finish, or pass --wait"
    )]
    Held {
        /// The holder's pid as it wrote it, or "unknown".
        pid: String,
    },
    /// The lock file could not be opened or locked.
    #[error("{}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl LockError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LockError::Held { .. } => ErrorKind::Locked,
            LockError::Io { source, .. } => ErrorKind::of_io(source),
        }
    }
}

/// A held repository lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RepoLock {
    _file: File,
}

impl RepoLock {
    /// Takes the lock at `path`; waits for it when `wait` is true.
    pub fn acquire(path: &Path, wait: bool) -> Result<RepoLock, LockError> {
        let io_err = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        // The lock file is locked in place and never replaced; a symlink
        // there is refused.
        let mut file = crate::fsutil::open_in_place(path, true).map_err(io_err)?;
        if wait {
            file.lock().map_err(io_err)?;
        } else {
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let mut pid = String::new();
                    let _ = file.read_to_string(&mut pid);
                    let pid = pid.trim();
                    return Err(LockError::Held {
                        pid: if pid.is_empty() { "unknown" } else { pid }.to_string(),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io_err(e)),
            }
        }
        // The pid is informational (the lock itself is the flock). It is
        // written in place, fixed-width, in one write: a process reading it
        // while we write sees the old holder's pid or ours, never an empty
        // file ("pid unknown").
        use std::os::unix::fs::FileExt;
        let pid = format!("{:>10}\n", std::process::id());
        file.write_all_at(pid.as_bytes(), 0).map_err(io_err)?;
        file.set_len(pid.len() as u64).map_err(io_err)?;
        Ok(RepoLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_is_refused_with_the_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("lock");
        let first = RepoLock::acquire(&p, false).expect("first lock");
        match RepoLock::acquire(&p, false) {
            Err(LockError::Held { pid }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        RepoLock::acquire(&p, false).expect("free again after drop");
    }
}
