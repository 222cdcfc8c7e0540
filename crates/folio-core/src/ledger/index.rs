//! The ledger's derived lookups: a redb database, `.folio/index/ledger.redb`.
//!
//! It is an inverted index from terms to the frames that mention them: an
//! example (by the first 8 bytes of its id), a locator, a source,
//! trainings and annotations. A query looks up the frames of its term, decodes only those,
//! and filters their events exactly, so a collision of 8-byte terms costs a
//! frame read, never a wrong answer. The index covers the ledger up to the
//! position it records; a reader decodes whatever lies past it (the tail a
//! crash kept from being indexed), so a stale index is slower, never wrong.
//! Everything here is rebuilt from the ledger alone by `folio reindex`.

use crate::error::ErrorKind;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};

use super::event::{EventKind, ExampleId, Peek};
use super::log::{FrameRef, LedgerLog, LogError};

/// Frame by its first sequence number.
const FRAMES: TableDefinition<u64, &[u8]> = TableDefinition::new("ledger-frames-v2");
/// (term, first sequence number of a frame that mentions it).
const POSTINGS: TableDefinition<(u64, u64), ()> = TableDefinition::new("ledger-postings-v2");
/// Where the index ends.
const END: TableDefinition<&str, &[u8]> = TableDefinition::new("ledger-end-v2");

/// Errors of the ledger index.
#[derive(Debug, thiserror::Error)]
pub enum LedgerIndexError {
    /// redb failed.
    #[error("ledger index {}: {detail} (the index is derived: run `folio reindex`)", path.display())]
    Db {
        /// The database file.
        path: PathBuf,
        /// What redb said.
        detail: String,
    },
    /// Reading the ledger failed.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl LedgerIndexError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LedgerIndexError::Db { .. } => ErrorKind::Damaged,
            LedgerIndexError::Log(e) => e.kind(),
        }
    }
}

/// What a term names.
#[derive(Debug, Clone, Copy)]
pub enum Term<'a> {
    /// An example.
    Example(&'a ExampleId),
    /// A locator (file path, or `TABLE:KEY`).
    Locator(&'a str),
    /// A source.
    Source(&'a str),
    /// Every `trained` event.
    Trained,
    /// Every `annotated` event.
    Annotated,
}

/// The first 8 bytes of BLAKE3(tag || value), big-endian.
fn hashed(tag: &[u8], value: &[u8]) -> u64 {
    let mut h = blake3::Hasher::new();
    h.update(tag);
    h.update(value);
    u64::from_be_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

/// The term of an example id (its first 8 bytes).
fn example_key(id: &[u8]) -> u64 {
    u64::from_be_bytes(id[..8].try_into().expect("an example id has 32 bytes"))
}

impl Term<'_> {
    /// The 8-byte term.
    pub fn key(&self) -> u64 {
        match self {
            Term::Example(id) => example_key(&id.0),
            Term::Locator(l) => hashed(b"locator\0", l.as_bytes()),
            Term::Source(s) => hashed(b"source\0", s.as_bytes()),
            Term::Trained => hashed(b"trained\0", b""),
            Term::Annotated => hashed(b"annotated\0", b""),
        }
    }
}

/// Where the index ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEnd {
    /// Events indexed.
    pub seq: u64,
    /// Segment and offset where the next frame starts.
    pub segment: u32,
    /// See `segment`.
    pub offset: u64,
    /// The last frame indexed, to check the ledger still holds it.
    pub last: Option<FrameRef>,
}

/// The ledger index.
pub struct LedgerIndex {
    path: PathBuf,
    db: Db,
}

enum Db {
    Rw(redb::Database),
    Ro(redb::ReadOnlyDatabase),
}

impl Db {
    fn begin_read(&self) -> Result<redb::ReadTransaction, redb::TransactionError> {
        match self {
            Db::Rw(db) => db.begin_read(),
            Db::Ro(db) => db.begin_read(),
        }
    }
}

fn db_err(path: &Path, e: impl std::fmt::Display) -> LedgerIndexError {
    LedgerIndexError::Db {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// The terms an encoded event adds to its frame's postings, read without
/// decoding it: its example; for an addition its locator and source; for a
/// removal its locator; trainings and annotations by kind. `None` when a
/// field it needs is missing.
fn raw_terms(p: &Peek<'_>, out: &mut Vec<u64>) -> Option<()> {
    if let Some(id) = p.example.filter(|x| x.len() == 32) {
        out.push(example_key(id));
    }
    match p.kind {
        EventKind::Added | EventKind::Removed => {
            out.push(hashed(b"locator\0", p.locator()?));
            if let Some(src) = p.source() {
                out.push(hashed(b"source\0", src));
            }
        }
        EventKind::Annotated => out.push(Term::Annotated.key()),
        EventKind::Trained => out.push(Term::Trained.key()),
        _ => {}
    }
    Some(())
}

impl LedgerIndex {
    /// The database file in the index folder `dir`.
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join("ledger.redb")
    }

    /// Opens (creating if needed) for writing; call under the repository lock.
    pub fn open_rw(dir: &Path) -> Result<LedgerIndex, LedgerIndexError> {
        let path = Self::db_path(dir);
        crate::fsutil::create_dir_durable(dir).map_err(|e| db_err(&path, e))?;
        crate::fsutil::refuse_symlink(&path).map_err(|e| db_err(&path, e))?;
        let db = redb::Builder::new()
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .create(&path)
            .map_err(|e| db_err(&path, e))?;
        Ok(LedgerIndex {
            path,
            db: Db::Rw(db),
        })
    }

    /// Opens for reading, without the lock; `None` when there is no index
    /// or it cannot be opened now (the caller reads the ledger instead).
    pub fn open_ro(dir: &Path) -> Option<LedgerIndex> {
        let path = Self::db_path(dir);
        if !path.exists() || crate::fsutil::refuse_symlink(&path).is_err() {
            return None;
        }
        let db = redb::Builder::new()
            .set_concurrency_mode(redb::ConcurrencyMode::SingleWriter)
            .open_read_only(&path)
            .ok()?;
        Some(LedgerIndex {
            path,
            db: Db::Ro(db),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> LedgerIndexError {
        db_err(&self.path, e)
    }

    fn begin_write(&self) -> Result<redb::WriteTransaction, LedgerIndexError> {
        match &self.db {
            Db::Rw(db) => db.begin_write().map_err(|e| self.err(e)),
            Db::Ro(_) => Err(self.err("opened for reading only")),
        }
    }

    /// Where the index ends (the start when it is empty).
    pub fn end(&self) -> Result<IndexEnd, LedgerIndexError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match txn.open_table(END) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(IndexEnd::default()),
            Err(e) => return Err(self.err(e)),
        };
        match table.get("end").map_err(|e| self.err(e))? {
            Some(v) => postcard::from_bytes(v.value()).map_err(|e| self.err(e)),
            None => Ok(IndexEnd::default()),
        }
    }

    /// The end of the index when `log` still holds the frame it ended
    /// with; `None` when the ledger was rewritten under it (the index must
    /// not be used).
    pub fn valid_end(&self, log: &LedgerLog) -> Result<Option<IndexEnd>, LedgerIndexError> {
        let end = self.end()?;
        let Some(last) = end.last else {
            return Ok(Some(end));
        };
        let on_disk = log.frames_from(last.segment, last.offset)?;
        Ok((on_disk.first() == Some(&last)).then_some(end))
    }

    /// Indexes every frame of `log` past the index's end, up to `limit`
    /// events (a frame is indexed whole or not at all; frames past the
    /// limit wait for the next update). Returns the events indexed.
    pub fn update(&self, log: &LedgerLog, limit: u64) -> Result<u64, LedgerIndexError> {
        let mut end = match self.valid_end(log)? {
            Some(e) => e,
            None => {
                self.clear()?;
                IndexEnd::default()
            }
        };
        let start = end.seq;
        let frames = log.frames_from(end.segment, end.offset)?;
        let mut postings: Vec<(u64, u64)> = Vec::new();
        let mut new_frames: Vec<(u64, FrameRef)> = Vec::new();
        let mut indexed_to = end.seq;
        // The frame being read: itself, its first event, its events, and
        // its terms (deduplicated when the frame is done: an example's
        // events usually share a frame).
        let mut current: Option<(FrameRef, u64, u64)> = None;
        let mut keys: Vec<u64> = Vec::new();
        let mut bad: Option<u64> = None;
        let mut flush =
            |cur: (FrameRef, u64, u64), keys: &mut Vec<u64>, postings: &mut Vec<(u64, u64)>| {
                keys.sort_unstable();
                keys.dedup();
                postings.extend(keys.drain(..).map(|k| (k, cur.1)));
                new_frames.push((cur.1, cur.0));
                indexed_to = cur.1 + cur.2;
            };
        log.read_raw(&frames, &mut |f, _, p| {
            let mut these = Vec::new();
            let seq = p.seq;
            let Some(()) = raw_terms(p, &mut these) else {
                bad = Some(seq);
                return Ok(false);
            };
            if current.as_ref().is_none_or(|(c, _, _)| c != f) {
                if let Some(c) = current.take() {
                    flush(c, &mut keys, &mut postings);
                }
                if seq >= limit {
                    return Ok(false);
                }
                current = Some((*f, seq, 0));
            }
            current.as_mut().expect("set above").2 += 1;
            keys.extend(these);
            Ok(true)
        })?;
        if let Some(seq) = bad {
            return Err(LogError::Chain {
                seq,
                detail: "a field its kind requires is missing: run `folio verify`".into(),
            }
            .into());
        }
        if let Some(c) = current.take()
            && c.1 + c.2 <= limit
        {
            flush(c, &mut keys, &mut postings);
        }
        end.seq = indexed_to;
        let Some((_, last)) = new_frames.last() else {
            return Ok(0);
        };
        end.segment = last.segment;
        end.offset = last.end();
        end.last = Some(*last);
        postings.sort_unstable();
        let txn = self.begin_write()?;
        {
            let mut ft = txn.open_table(FRAMES).map_err(|e| self.err(e))?;
            for (first, f) in &new_frames {
                let bytes = postcard::to_stdvec(f).map_err(|e| self.err(e))?;
                ft.insert(*first, bytes.as_slice())
                    .map_err(|e| self.err(e))?;
            }
            let mut pt = txn.open_table(POSTINGS).map_err(|e| self.err(e))?;
            for p in &postings {
                pt.insert(*p, ()).map_err(|e| self.err(e))?;
            }
            let mut et = txn.open_table(END).map_err(|e| self.err(e))?;
            let bytes = postcard::to_stdvec(&end).map_err(|e| self.err(e))?;
            et.insert("end", bytes.as_slice())
                .map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(end.seq - start)
    }

    /// Empties the index.
    pub fn clear(&self) -> Result<(), LedgerIndexError> {
        let txn = self.begin_write()?;
        txn.delete_table(FRAMES).map_err(|e| self.err(e))?;
        txn.delete_table(POSTINGS).map_err(|e| self.err(e))?;
        txn.delete_table(END).map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))
    }

    /// The indexed frames that mention any term in `terms`, in ledger order.
    pub fn frames_of(&self, terms: &[u64]) -> Result<Vec<FrameRef>, LedgerIndexError> {
        self.frames_in(terms.iter().map(|&t| (t, t)))
    }

    /// The indexed frames that mention a term in any of the inclusive
    /// ranges, in ledger order.
    pub fn frames_in(
        &self,
        ranges: impl Iterator<Item = (u64, u64)>,
    ) -> Result<Vec<FrameRef>, LedgerIndexError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let (pt, ft) = match (txn.open_table(POSTINGS), txn.open_table(FRAMES)) {
            (Ok(p), Ok(f)) => (p, f),
            _ => return Ok(Vec::new()),
        };
        let mut firsts = BTreeSet::new();
        for (lo, hi) in ranges {
            for row in pt
                .range((lo, 0)..=(hi, u64::MAX))
                .map_err(|e| self.err(e))?
            {
                let (k, _) = row.map_err(|e| self.err(e))?;
                firsts.insert(k.value().1);
            }
        }
        let mut out = Vec::with_capacity(firsts.len());
        for first in firsts {
            let v = ft
                .get(first)
                .map_err(|e| self.err(e))?
                .ok_or_else(|| self.err(format!("no frame recorded at event {first}")))?;
            out.push(postcard::from_bytes(v.value()).map_err(|e| self.err(e))?);
        }
        Ok(out)
    }
}
