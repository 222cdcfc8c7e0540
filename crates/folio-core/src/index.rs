//! The derived index: a redb database under `.folio/index/`.
//!
//! It holds the stat cache (per tracked dataset, the size, mtime, ctime and
//! inode of every file with its blob id) so that `status` and `commit`
//! re-hash only files that changed. Deleting the folder loses nothing: the
//! next scan re-hashes and rebuilds it.

use crate::error::ErrorKind;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::fsutil;
use crate::id::ObjectId;

/// Stat cache: dataset path → postcard-encoded [`DatasetCache`].
const STAT: TableDefinition<&str, &[u8]> = TableDefinition::new("stat-cache-v1");

/// Errors of the derived index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// redb failed.
    #[error("index {}: {detail} (the index is derived: delete it or run `folio reindex`)", path.display())]
    Db {
        /// The database file.
        path: PathBuf,
        /// What redb said.
        detail: String,
    },
    /// A file of the index could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl IndexError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            IndexError::Db { .. } => ErrorKind::Damaged,
            IndexError::Io { source, .. } => ErrorKind::of_io(source),
        }
    }
}

/// The parts of a file's metadata the stat cache compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: i128,
    /// Status-change time, nanoseconds since the epoch.
    pub ctime: i128,
    /// Inode number.
    pub ino: u64,
    /// Mode bits (file type and permissions).
    pub mode: u32,
}

impl From<&Metadata> for FileStat {
    fn from(m: &Metadata) -> Self {
        FileStat {
            size: m.len(),
            mtime: mtime_ns(m),
            ctime: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
            ino: m.ino(),
            mode: m.mode(),
        }
    }
}

/// What the stat cache remembers of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatEntry {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime: i128,
    /// Status-change time, nanoseconds since the epoch.
    pub ctime: i128,
    /// Inode number.
    pub ino: u64,
    /// Mode bits (file type and permissions).
    pub mode: u32,
    /// The blob id the file had.
    pub id: [u8; 32],
    /// Modified no earlier than the cache was written: re-hash (racy git).
    pub racy: bool,
}

impl StatEntry {
    /// A cache entry from fresh metadata and the id just computed.
    pub fn new(st: &FileStat, id: ObjectId, stamp: i128) -> StatEntry {
        StatEntry {
            size: st.size,
            mtime: st.mtime,
            ctime: st.ctime,
            ino: st.ino,
            mode: st.mode,
            id: *id.as_bytes(),
            racy: st.mtime >= stamp,
        }
    }

    /// The cached id when `meta` shows the file unchanged and the entry is
    /// not racy; `None` means the file must be re-hashed.
    pub fn id_if_fresh(&self, st: &FileStat) -> Option<ObjectId> {
        let same = !self.racy
            && self.size == st.size
            && self.mtime == st.mtime
            && self.ctime == st.ctime
            && self.ino == st.ino
            && self.mode == st.mode;
        same.then_some(ObjectId(self.id))
    }
}

/// Modification time in nanoseconds since the epoch.
pub fn mtime_ns(meta: &Metadata) -> i128 {
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

/// The stat cache of one dataset: (path relative to the dataset, entry),
/// in path order (see `snapshot::path_order`).
pub type DatasetCache = Vec<(String, StatEntry)>;

/// What `verify` finds of the derived index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexHealth {
    /// There is none (it is rebuilt on the next scan).
    Missing,
    /// It opens.
    Ok,
    /// It was not closed cleanly; the next writing command repairs it.
    NeedsRepair,
    /// It cannot be opened: `folio reindex` rebuilds it.
    Broken(String),
}

enum Db {
    Rw(redb::Database),
    Ro(redb::ReadOnlyDatabase),
}

/// An open index.
pub struct Index {
    dir: PathBuf,
    db: Db,
}

impl Index {
    fn db_path(dir: &Path) -> PathBuf {
        dir.join("index.redb")
    }

    fn err(dir: &Path, e: impl std::fmt::Display) -> IndexError {
        IndexError::Db {
            path: Self::db_path(dir),
            detail: e.to_string(),
        }
    }

    /// Opens (creating if needed) the index for writing. Call under the
    /// repository lock.
    pub fn open_rw(dir: &Path) -> Result<Index, IndexError> {
        fsutil::create_dir_durable(dir).map_err(|source| IndexError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = Self::db_path(dir);
        fsutil::refuse_symlink(&path).map_err(|source| IndexError::Io {
            path: path.clone(),
            source,
        })?;
        let db = redb::Builder::new()
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .create(path)
            .map_err(|e| Self::err(dir, e))?;
        Ok(Index {
            dir: dir.to_path_buf(),
            db: Db::Rw(db),
        })
    }

    /// Opens the index for reading, without the lock; `None` when there is
    /// no index or it cannot be opened now (the caller re-hashes instead).
    pub fn open_ro(dir: &Path) -> Option<Index> {
        let path = Self::db_path(dir);
        if !path.exists() || fsutil::refuse_symlink(&path).is_err() {
            return None;
        }
        let db = redb::Builder::new()
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .open_read_only(path)
            .ok()?;
        Some(Index {
            dir: dir.to_path_buf(),
            db: Db::Ro(db),
        })
    }

    /// The state of the index folder `dir`, for `verify`.
    pub fn health(dir: &Path) -> IndexHealth {
        let path = Self::db_path(dir);
        if !path.exists() {
            return IndexHealth::Missing;
        }
        let res = redb::Builder::new()
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .open_read_only(&path);
        match res {
            Ok(_) => IndexHealth::Ok,
            // Not closed cleanly (a process was interrupted): the next
            // writer repairs it; readers meanwhile re-hash.
            Err(redb::DatabaseError::RepairAborted) => IndexHealth::NeedsRepair,
            // A writer has it open right now.
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => IndexHealth::Ok,
            Err(e) => IndexHealth::Broken(e.to_string()),
        }
    }

    /// The stat cache of `dataset` (empty when none is recorded or the
    /// record is unreadable: the cache is only an optimisation).
    pub fn stat_cache(&self, dataset: &str) -> DatasetCache {
        let read = match &self.db {
            Db::Rw(db) => db.begin_read(),
            Db::Ro(db) => db.begin_read(),
        };
        let Ok(txn) = read else {
            return DatasetCache::new();
        };
        let Ok(table) = txn.open_table(STAT) else {
            return DatasetCache::new();
        };
        match table.get(dataset) {
            Ok(Some(v)) => postcard::from_bytes(v.value()).unwrap_or_default(),
            _ => DatasetCache::new(),
        }
    }

    /// Replaces the stat cache of each given dataset, in one transaction.
    pub fn save_stat_caches(&self, caches: &[(&str, &DatasetCache)]) -> Result<(), IndexError> {
        let Db::Rw(db) = &self.db else {
            return Ok(());
        };
        if caches.is_empty() {
            return Ok(());
        }
        let e = |e: &dyn std::fmt::Display| Self::err(&self.dir, e);
        let txn = db.begin_write().map_err(|x| e(&x))?;
        {
            let mut table = txn.open_table(STAT).map_err(|x| e(&x))?;
            for (name, cache) in caches {
                let bytes = postcard::to_stdvec(cache).map_err(|x| e(&x))?;
                table.insert(*name, bytes.as_slice()).map_err(|x| e(&x))?;
            }
        }
        txn.commit().map_err(|x| e(&x))
    }

    /// Forgets the stat cache of datasets that are no longer tracked.
    pub fn retain_datasets(&self, keep: &[&str]) -> Result<(), IndexError> {
        let Db::Rw(db) = &self.db else {
            return Ok(());
        };
        let e = |e: &dyn std::fmt::Display| Self::err(&self.dir, e);
        let txn = db.begin_write().map_err(|x| e(&x))?;
        {
            let mut table = txn.open_table(STAT).map_err(|x| e(&x))?;
            let mut gone = Vec::new();
            for row in table.iter().map_err(|x| e(&x))? {
                let (k, _) = row.map_err(|x| e(&x))?;
                if !keep.contains(&k.value()) {
                    gone.push(k.value().to_string());
                }
            }
            for k in gone {
                table.remove(k.as_str()).map_err(|x| e(&x))?;
            }
        }
        txn.commit().map_err(|x| e(&x))
    }

    /// See [`stamp`].
    pub fn stamp(&self) -> Result<i128, IndexError> {
        stamp(&self.dir)
    }
}

/// The file-system time now, read from a file written in the index folder
/// `dir`: entries modified at or after it are racy.
pub fn stamp(dir: &Path) -> Result<i128, IndexError> {
    {
        fsutil::create_dir_durable(dir).map_err(|source| IndexError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let p = dir.join("stamp");
        let io = |source| IndexError::Io {
            path: p.clone(),
            source,
        };
        fsutil::write_atomic(&p, b"folio stat-cache stamp\n").map_err(io)?;
        let meta = fs::metadata(&p).map_err(io)?;
        Ok(mtime_ns(&meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cache_round_trips_and_detects_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("f");
        fs::write(&f, b"one").expect("write");
        let meta = fs::metadata(&f).expect("stat");
        let idx = Index::open_rw(&dir.path().join("index")).expect("open");
        let stamp = mtime_ns(&meta) + 1;
        let entry = StatEntry::new(&(&meta).into(), ObjectId::of(b"one"), stamp);
        let cache: DatasetCache = vec![("f".into(), entry)];
        idx.save_stat_caches(&[("d", &cache)]).expect("save");
        let loaded = idx.stat_cache("d");
        assert_eq!(loaded, cache);
        assert_eq!(
            entry.id_if_fresh(&(&meta).into()),
            Some(ObjectId::of(b"one"))
        );
        fs::write(&f, b"two!").expect("rewrite");
        let meta2 = fs::metadata(&f).expect("stat");
        assert_eq!(entry.id_if_fresh(&(&meta2).into()), None);
    }

    #[test]
    fn racy_entries_are_never_trusted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("f");
        fs::write(&f, b"one").expect("write");
        let meta = fs::metadata(&f).expect("stat");
        // The cache was written in the same timestamp tick as the file.
        let entry = StatEntry::new(&(&meta).into(), ObjectId::of(b"one"), mtime_ns(&meta));
        assert!(entry.racy);
        assert_eq!(entry.id_if_fresh(&(&meta).into()), None);
    }

    #[test]
    fn missing_index_reads_as_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(Index::open_ro(&dir.path().join("index")).is_none());
    }
}
