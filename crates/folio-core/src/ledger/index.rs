//! The ledger's derived lookups: a redb database, `.folio/index/ledger.redb`.
//!
//! It is an inverted index from terms to the frames of event batches that
//! mention them: an example (by the first 8 bytes of its id), a locator, a
//! source, trainings and annotations. A query looks up the frames of its
//! term, keeps those of the batches its revision's ledger holds, decodes
//! only those, and filters their events exactly, so a collision of 8-byte
//! terms costs a frame read, never a wrong answer. Batches are immutable:
//! one is indexed whole or not at all, and a reader reads every frame of a
//! batch the index does not cover, so a stale index is slower, never wrong.
//! It also caches the Merkle frontier of each commit's ledger. Everything
//! here is rebuilt from the store alone by `folio reindex`.

use crate::error::ErrorKind;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::batch::{self, BatchFrame, LogError};
use super::event::{EventKind, ExampleId, Peek};
use super::merkle::Frontier;
use super::rows::Window;
use super::terms::{RowsTerms, TermRun};
use super::{ExampleId as Ex, Payload};
use crate::id::{CommitId, ObjectId};

/// Frame number → postcard (batch id, frame, window): a frame's stored
/// events, or (with a window) the rows one `Rows` event of it stands for
/// in that window.
const FRAMES: TableDefinition<u64, &[u8]> = TableDefinition::new("ledger-frames-v4");
/// (term, frame number of a frame that mentions it).
const POSTINGS: TableDefinition<(u64, u64), ()> = TableDefinition::new("ledger-postings-v4");
/// Batch id → its first frame number (the batch is indexed).
const BATCHES: TableDefinition<&[u8; 32], u64> = TableDefinition::new("ledger-batches-v4");
/// "next" → the next frame number.
const META: TableDefinition<&str, u64> = TableDefinition::new("ledger-meta-v4");
/// (frame number of a run's first window, the run block's first term, the
/// block's number: a term may open two blocks) →
/// the block's entries: the terms of single examples of one large `Rows`
/// event's windows, each with the window's number (see [`RUN_MIN_TERMS`]).
const RUN_BLOCKS: TableDefinition<(u64, u64, u32), &[u8]> = TableDefinition::new("ledger-runs-v1");
/// Frame number of a run's first window → the number of its windows.
const RUNS: TableDefinition<u64, u32> = TableDefinition::new("ledger-run-list-v1");
/// Commit id → postcard Merkle frontier of its ledger.
const FRONTIERS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("ledger-frontiers-v4");

/// A `Rows` event of a frame (its index in the frame) and a window of it.
pub type RowsWindow = (u32, Window);

/// A frame of an indexed batch: its stored events, or one window of a
/// `Rows` event in it.
pub type IndexedFrame = (ObjectId, BatchFrame, Option<RowsWindow>);

/// The windows of the `Rows` event encoded as given, with the terms of the
/// row events they stand for (an error, such as a manifest that cannot be
/// read, leaves the batch unindexed).
pub type Windows<'a> = dyn FnMut(&[u8]) -> WindowsOf + 'a;

/// What [`Windows`] gives for one `Rows` event.
pub type WindowsOf = Result<RowsTerms, LogError>;

/// A `Rows` event whose windows hold at least this many terms of single
/// examples keeps them in a run (sorted blocks) instead of the postings:
/// millions of postings cost seconds of B-tree insertions, a run a sort.
const RUN_MIN_TERMS: usize = 4096;
/// redb's cache for a writer: it holds at most half of it in pages not
/// yet written, so a batch of millions of rows writes its run blocks as
/// it goes instead of holding them all until the commit (its default,
/// 1 GiB, let an index write hold 300 MB, D95).
const CACHE_BYTES: usize = 64 << 20;
/// Entries of a run block (12 bytes each: the term, big-endian, then the
/// window's number in its event, little-endian).
const RUN_BLOCK: usize = 1024;
const RUN_ENTRY: usize = 12;

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
    /// Every `voided` event.
    Voided,
    /// Every `purged` event.
    Purged,
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
            Term::Voided => hashed(b"voided\0", b""),
            Term::Purged => hashed(b"purged\0", b""),
        }
    }
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
        EventKind::Voided => out.push(Term::Voided.key()),
        EventKind::Purged => out.push(Term::Purged.key()),
        _ => {}
    }
    Some(())
}

/// The terms of a row event a `Rows` event stands for (as [`raw_terms`]
/// gives for a stored one): those of its example (id, locator) to
/// `unique`, those many rows share (source, `annotated`) to `shared`.
pub fn payload_terms(id: &Ex, p: &Payload, unique: &mut Vec<u64>, shared: &mut Vec<u64>) {
    unique.push(Term::Example(id).key());
    match p {
        Payload::Added {
            locator, source, ..
        } => {
            unique.push(Term::Locator(locator.as_str()).key());
            if let Some(s) = source {
                shared.push(Term::Source(s).key());
            }
        }
        Payload::Removed { locator } => unique.push(Term::Locator(locator.as_str()).key()),
        Payload::Annotated { .. } => shared.push(Term::Annotated.key()),
        _ => {}
    }
}

/// The entries of run block `v` whose terms lie in `lo..=hi`: the windows'
/// numbers in their event.
fn run_hits(v: &[u8], lo: u64, hi: u64, out: &mut Vec<u32>) {
    let n = v.len() / RUN_ENTRY;
    let term = |i: usize| {
        u64::from_be_bytes(
            v[i * RUN_ENTRY..i * RUN_ENTRY + 8]
                .try_into()
                .expect("8 bytes"),
        )
    };
    // The first entry at or past `lo`.
    let (mut a, mut b) = (0, n);
    while a < b {
        let m = (a + b) / 2;
        if term(m) < lo {
            a = m + 1;
        } else {
            b = m;
        }
    }
    while a < n && term(a) <= hi {
        let w = &v[a * RUN_ENTRY + 8..(a + 1) * RUN_ENTRY];
        out.push(u32::from_le_bytes(w.try_into().expect("4 bytes")));
        a += 1;
    }
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
            .set_cache_size(CACHE_BYTES)
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

    /// Whether batch `id` is indexed.
    pub fn has_batch(&self, id: &ObjectId) -> Result<bool, LedgerIndexError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match txn.open_table(BATCHES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
            Err(e) => return Err(self.err(e)),
        };
        Ok(table.get(id.as_bytes()).map_err(|e| self.err(e))?.is_some())
    }

    /// The batches of `ids` the index covers.
    pub fn indexed(&self, ids: &[ObjectId]) -> Result<HashSet<ObjectId>, LedgerIndexError> {
        let mut out = HashSet::new();
        for id in ids {
            if self.has_batch(id)? {
                out.insert(*id);
            }
        }
        Ok(out)
    }

    /// Indexes batch `id` (its bytes `bytes`) whole, unless it already is;
    /// `windows` gives the rows of its `Rows` events. A batch whose rows
    /// cannot be read is left unindexed (readers read it whole) and the
    /// error returned.
    pub fn add_batch(
        &self,
        id: &ObjectId,
        bytes: &[u8],
        windows: &mut Windows<'_>,
    ) -> Result<(), LedgerIndexError> {
        if self.has_batch(id)? {
            return Ok(());
        }
        let (_, frames) = batch::parse(id, bytes)?;
        // (frame, window, terms) in order.
        let mut entries: Vec<(BatchFrame, Option<RowsWindow>, Vec<u64>)> = Vec::new();
        // Runs: (the entry of the first window, its number of windows, the
        // (term, window) entries).
        let mut runs: Vec<(usize, u32, TermRun)> = Vec::new();
        for f in &frames {
            let payload = batch::frame_payload(id, bytes, f)?;
            let mut keys = Vec::new();
            let mut sub = Vec::new();
            let mut sub_runs = Vec::new();
            for (k, enc) in batch::split_frame(id, f, &payload)?.into_iter().enumerate() {
                let p = batch::peek_in(id, f, enc)?;
                raw_terms(&p, &mut keys).ok_or_else(|| LogError::Batch {
                    id: *id,
                    offset: f.offset,
                    detail: "an event lacks a field its kind requires: run `folio verify`".into(),
                })?;
                if p.kind == EventKind::Rows {
                    let RowsTerms {
                        windows: ws,
                        unique,
                    } = windows(enc)?;
                    let first = sub.len();
                    let n = ws.len();
                    for (window, shared) in ws {
                        sub.push((*f, Some((k as u32, window)), shared));
                    }
                    if unique.len() >= RUN_MIN_TERMS as u64 {
                        sub_runs.push((first, n as u32, unique));
                    } else {
                        // Few: in the windows' postings.
                        unique.for_each_sorted::<LogError>(&mut |t, w| {
                            let at =
                                sub.get_mut(first + w as usize)
                                    .ok_or_else(|| LogError::Batch {
                                        id: *id,
                                        offset: f.offset,
                                        detail: format!("row terms name window {w} of {n}"),
                                    })?;
                            at.2.push(t);
                            Ok(())
                        })?;
                        for e in &mut sub[first..] {
                            e.2.sort_unstable();
                            e.2.dedup();
                        }
                    }
                }
            }
            keys.sort_unstable();
            keys.dedup();
            entries.push((*f, None, keys));
            let base = entries.len();
            runs.extend(sub_runs.into_iter().map(|(i, n, r)| (base + i, n, r)));
            entries.extend(sub);
        }
        let txn = self.begin_write()?;
        {
            let mut mt = txn.open_table(META).map_err(|e| self.err(e))?;
            let next = mt
                .get("next")
                .map_err(|e| self.err(e))?
                .map_or(0, |v| v.value());
            mt.insert("next", next + entries.len() as u64)
                .map_err(|e| self.err(e))?;
            let mut ft = txn.open_table(FRAMES).map_err(|e| self.err(e))?;
            let mut postings = Vec::new();
            for (k, (f, w, keys)) in entries.iter().enumerate() {
                let n = next + k as u64;
                let bytes = postcard::to_stdvec(&(id.as_bytes(), f, w)).map_err(|e| self.err(e))?;
                ft.insert(n, bytes.as_slice()).map_err(|e| self.err(e))?;
                postings.extend(keys.iter().map(|key| (*key, n)));
            }
            // In key order: a batch of millions of rows inserts its terms as
            // runs into the tree's pages, not at random.
            postings.sort_unstable();
            let mut pt = txn.open_table(POSTINGS).map_err(|e| self.err(e))?;
            for key in postings {
                pt.insert(key, ()).map_err(|e| self.err(e))?;
            }
            for (first, windows, run) in runs {
                self.write_run(&txn, next + first as u64, windows, run)?;
            }
            let mut bt = txn.open_table(BATCHES).map_err(|e| self.err(e))?;
            bt.insert(id.as_bytes(), next).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// The cached Merkle frontier of commit `id`'s ledger.
    pub fn frontier(&self, id: &CommitId) -> Result<Option<Frontier>, LedgerIndexError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = match txn.open_table(FRONTIERS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(self.err(e)),
        };
        match table.get(id.0.as_bytes()).map_err(|e| self.err(e))? {
            Some(v) => Ok(Some(
                postcard::from_bytes(v.value()).map_err(|e| self.err(e))?,
            )),
            None => Ok(None),
        }
    }

    /// Caches the Merkle frontier of commit `id`'s ledger.
    pub fn put_frontier(&self, id: &CommitId, f: &Frontier) -> Result<(), LedgerIndexError> {
        let bytes = postcard::to_stdvec(f).map_err(|e| self.err(e))?;
        let txn = self.begin_write()?;
        {
            let mut t = txn.open_table(FRONTIERS).map_err(|e| self.err(e))?;
            t.insert(id.0.as_bytes(), bytes.as_slice())
                .map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// Empties the index.
    pub fn clear(&self) -> Result<(), LedgerIndexError> {
        let txn = self.begin_write()?;
        txn.delete_table(FRAMES).map_err(|e| self.err(e))?;
        txn.delete_table(POSTINGS).map_err(|e| self.err(e))?;
        txn.delete_table(BATCHES).map_err(|e| self.err(e))?;
        txn.delete_table(META).map_err(|e| self.err(e))?;
        txn.delete_table(FRONTIERS).map_err(|e| self.err(e))?;
        txn.delete_table(RUNS).map_err(|e| self.err(e))?;
        txn.delete_table(RUN_BLOCKS).map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))
    }

    /// Writes a run of `windows` windows whose first is frame `base`: its
    /// (term, window) entries, sorted, in blocks.
    fn write_run(
        &self,
        txn: &redb::WriteTransaction,
        base: u64,
        windows: u32,
        run: TermRun,
    ) -> Result<(), LedgerIndexError> {
        let mut rl = txn.open_table(RUNS).map_err(|e| self.err(e))?;
        let mut rb = txn.open_table(RUN_BLOCKS).map_err(|e| self.err(e))?;
        rl.insert(base, windows).map_err(|e| self.err(e))?;
        let mut block = Vec::with_capacity(RUN_BLOCK * RUN_ENTRY);
        let (mut first, mut i) = (0u64, 0u32);
        run.for_each_sorted::<LedgerIndexError>(&mut |t, w| {
            if w >= windows {
                return Err(self.err(format!("a run names window {w} of {windows}")));
            }
            if block.is_empty() {
                first = t;
            }
            block.extend_from_slice(&t.to_be_bytes());
            block.extend_from_slice(&w.to_le_bytes());
            if block.len() == RUN_BLOCK * RUN_ENTRY {
                rb.insert((base, first, i), block.as_slice())
                    .map_err(|e| self.err(e))?;
                block.clear();
                i += 1;
            }
            Ok(())
        })?;
        if !block.is_empty() {
            rb.insert((base, first, i), block.as_slice())
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Adds to `numbers` the frames of the runs' windows that mention a
    /// term in `ranges`: per run, the blocks from the last one starting
    /// before a range (its entries may continue into the next) on.
    fn run_numbers(
        &self,
        txn: &redb::ReadTransaction,
        ranges: &[(u64, u64)],
        numbers: &mut BTreeSet<u64>,
    ) -> Result<(), LedgerIndexError> {
        let (rl, rb) = match (txn.open_table(RUNS), txn.open_table(RUN_BLOCKS)) {
            (Ok(l), Ok(b)) => (l, b),
            _ => return Ok(()),
        };
        let mut hits = Vec::new();
        for run in rl.iter().map_err(|e| self.err(e))? {
            let (base, windows) = run.map_err(|e| self.err(e))?;
            let (base, windows) = (base.value(), windows.value());
            for &(lo, hi) in ranges {
                let start = match rb
                    .range((base, 0, 0)..(base, lo, 0))
                    .map_err(|e| self.err(e))?
                    .next_back()
                {
                    Some(r) => r.map_err(|e| self.err(e))?.0.value(),
                    None => (base, 0, 0),
                };
                for r in rb
                    .range(start..=(base, hi, u32::MAX))
                    .map_err(|e| self.err(e))?
                {
                    let (_, v) = r.map_err(|e| self.err(e))?;
                    let v = v.value();
                    if !v.len().is_multiple_of(RUN_ENTRY) {
                        return Err(self.err(format!("a run block of {} bytes", v.len())));
                    }
                    hits.clear();
                    run_hits(v, lo, hi, &mut hits);
                    for &w in &hits {
                        if w >= windows {
                            return Err(self.err(format!("a run names window {w} of {windows}")));
                        }
                        numbers.insert(base + u64::from(w));
                    }
                }
            }
        }
        Ok(())
    }

    /// The indexed frames that mention any term in `terms`.
    pub fn frames_of(&self, terms: &[u64]) -> Result<Vec<IndexedFrame>, LedgerIndexError> {
        self.frames_in(terms.iter().map(|&t| (t, t)))
    }

    /// The indexed frames that mention a term in any of the inclusive
    /// ranges (in no particular order: the reader places them).
    pub fn frames_in(
        &self,
        ranges: impl Iterator<Item = (u64, u64)>,
    ) -> Result<Vec<IndexedFrame>, LedgerIndexError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let (pt, ft) = match (txn.open_table(POSTINGS), txn.open_table(FRAMES)) {
            (Ok(p), Ok(f)) => (p, f),
            _ => return Ok(Vec::new()),
        };
        let ranges: Vec<(u64, u64)> = ranges.collect();
        let mut numbers = BTreeSet::new();
        for &(lo, hi) in &ranges {
            for row in pt
                .range((lo, 0)..=(hi, u64::MAX))
                .map_err(|e| self.err(e))?
            {
                let (k, _) = row.map_err(|e| self.err(e))?;
                numbers.insert(k.value().1);
            }
        }
        self.run_numbers(&txn, &ranges, &mut numbers)?;
        let mut out = Vec::with_capacity(numbers.len());
        for n in numbers {
            let v = ft
                .get(n)
                .map_err(|e| self.err(e))?
                .ok_or_else(|| self.err(format!("no frame recorded as number {n}")))?;
            let (b, f, w): ([u8; 32], BatchFrame, Option<RowsWindow>) =
                postcard::from_bytes(v.value()).map_err(|e| self.err(e))?;
            out.push((ObjectId::from_slice(&b).expect("32 bytes"), f, w));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's lookups against a scan of its entries: terms that open,
    /// close and straddle blocks, repeat across a block boundary, or are
    /// absent; two runs side by side.
    #[test]
    fn runs_find_every_window_of_a_term_across_blocks() {
        let d = tempfile::tempdir().expect("tempdir");
        let ix = LedgerIndex::open_rw(d.path()).expect("open");
        // Terms 0, 3, 6, … with term 3000 repeated over a block boundary.
        let mut run: Vec<(u64, u32)> = (0..3000u64).map(|i| (i * 3, (i / 7) as u32)).collect();
        run.extend((0..1500u32).map(|w| (3000, w % 400)));
        run.sort_unstable();
        let other: Vec<(u64, u32)> = vec![(3, 0), (3000, 1)];
        // Given out of order, as a walk gives them, to a run that spills.
        let spill = tempfile::tempdir().expect("tempdir");
        let term_run = |entries: &[(u64, u32)]| {
            let mut r = TermRun::with_budget(Some(spill.path().to_path_buf()), 700);
            for &(t, w) in entries.iter().rev() {
                r.push(t, w).expect("push");
            }
            r
        };
        let windows = |entries: &[(u64, u32)]| entries.iter().map(|e| e.1).max().unwrap_or(0) + 1;
        let txn = ix.begin_write().expect("write");
        ix.write_run(&txn, 100, windows(&run), term_run(&run))
            .expect("run");
        ix.write_run(&txn, 1_000_000, windows(&other), term_run(&other))
            .expect("run");
        txn.commit().expect("commit");
        let scan = |lo: u64, hi: u64| -> BTreeSet<u64> {
            let mut want: BTreeSet<u64> = run
                .iter()
                .filter(|e| (lo..=hi).contains(&e.0))
                .map(|e| 100 + u64::from(e.1))
                .collect();
            want.extend(
                other
                    .iter()
                    .filter(|e| (lo..=hi).contains(&e.0))
                    .map(|e| 1_000_000 + u64::from(e.1)),
            );
            want
        };
        let txn = ix.db.begin_read().expect("read");
        for (lo, hi) in [
            (0, 0),
            (3, 3),
            (4, 5),
            (3000, 3000),
            (2999, 3001),
            (3069, 3075),
            (8997, 9000),
            (9001, u64::MAX),
            (0, u64::MAX),
        ] {
            let mut got = BTreeSet::new();
            ix.run_numbers(&txn, &[(lo, hi)], &mut got).expect("lookup");
            assert_eq!(got, scan(lo, hi), "terms {lo}..={hi}");
        }
        // The repeated term fills more than one block.
        assert!(run.iter().filter(|e| e.0 == 3000).count() > RUN_BLOCK);
    }
}
