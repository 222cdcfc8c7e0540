//! `purge`: erasing the content of examples from every snapshot that
//! holds them, with proof, while every id, manifest and proof keeps
//! working (D86).
//!
//! A file example's blob is erased. A row example's row chunks are
//! replaced by redacted chunks (`folio-redacted 1`) that keep the other
//! rows whole and the purged row as a skeleton (its identity, count,
//! mapped metadata cells and content hash); the table files that held the
//! row are erased, and rebuilt from their rows by `checkout`. A purge
//! record (`folio-purge 1`) lists all of it by hash; `.folio/purges`
//! lists the records, and the store consults them for an object it does
//! not have. Erasing rewrites the packs that held erased objects and
//! clears the derived caches that could hold their values.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use rayon::prelude::*;

use super::{Recorder, Repo, RepoError, join_path};
use crate::id::{CommitId, ObjectId};
use crate::ledger::{Draft, ExampleId, Locator, Payload, Subject};
use crate::lock::RepoLock;
use crate::object::EntryKind;
use crate::purge::{PurgeRecord, PurgedExample};
use crate::table::manifest::{decode_chunk, is_skeletal, redact};

/// The file listing the repository's purge records, one id a line.
const PURGES_FILE: &str = "purges";

/// What [`Repo::walk_history`] calls with each file of history: the
/// commit, the dataset, the file's path and its entry.
pub(super) type FileVisit<'a> = dyn FnMut(
        CommitId,
        &crate::object::Commit,
        &crate::object::DatasetEntry,
        String,
        &crate::snapshot::FlatEntry,
    ) -> Result<(), RepoError>
    + 'a;

/// What [`Repo::walk_history`] calls with each table version.
pub(super) type TableVisit<'a> =
    dyn FnMut(CommitId, &crate::object::TableRef) -> Result<(), RepoError> + 'a;

/// One example a purge concerns.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PurgeItem {
    /// Its example id.
    pub id: ExampleId,
    /// Where it was.
    pub locator: String,
    /// `file` or `row`.
    pub kind: &'static str,
}

/// What `purge` erased (or, with a dry run, would erase).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PurgeReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// The purge record written (not on a dry run).
    pub record: Option<ObjectId>,
    /// The examples found in history and purged.
    pub examples: Vec<PurgeItem>,
    /// Selected examples no snapshot holds any more (purged before, or
    /// never stored): nothing to erase for them.
    pub not_held: Vec<String>,
    /// Commits whose snapshots held purged content.
    pub commits: u64,
    /// File versions (blobs) erased.
    pub files: u64,
    /// Table file versions erased (rebuilt from their rows on checkout).
    pub table_files: u64,
    /// The tables those were versions of.
    pub tables: Vec<String>,
    /// Row chunks replaced by redacted ones.
    pub chunks: u64,
    /// Row versions purged (distinct content hashes).
    pub rows: u64,
    /// Stored copies removed (objects, chunks of chunked files).
    pub removed: u64,
    /// Packs rewritten without what was erased.
    pub packs_rewritten: u64,
    /// Cached drift profiles removed.
    pub caches_cleared: u64,
    /// Paths of the working tree that still hold purged content.
    pub working_tree: Vec<String>,
}

/// Where purged content is still found (`purge --verify`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PurgeCheck {
    /// The examples checked.
    pub examples: u64,
    /// The purge records that erased them.
    pub records: Vec<ObjectId>,
    /// Objects checked absent.
    pub objects: u64,
    /// What still holds their content: a snapshot's file or row, a stored
    /// copy of an erased object, a cache, the working tree. Empty: gone.
    pub holders: Vec<String>,
}

/// What a walk of history found of the selected examples.
#[derive(Default)]
struct Found {
    /// File blobs, with the paths that held them.
    files: BTreeMap<ObjectId, BTreeSet<String>>,
    /// Table file blobs that held a selected row, with their tables.
    table_files: BTreeMap<ObjectId, BTreeSet<String>>,
    /// A manifest of each table file, and its path.
    manifests: BTreeMap<ObjectId, (ObjectId, String)>,
    /// Row chunks holding a selected row, with their table.
    chunks: BTreeMap<ObjectId, String>,
    /// Examples found, with their locators.
    examples: BTreeMap<ExampleId, (String, &'static str)>,
    /// Commits holding any of it.
    commits: BTreeSet<CommitId>,
}

impl Found {
    /// The working-tree paths that may hold what was found, and the
    /// contents (blob ids) that would show they do.
    fn working_tree_targets(&self) -> (BTreeSet<String>, HashSet<ObjectId>) {
        let paths = self
            .files
            .values()
            .chain(self.table_files.values())
            .flatten()
            .cloned()
            .collect();
        let held = self
            .files
            .keys()
            .chain(self.table_files.keys())
            .copied()
            .collect();
        (paths, held)
    }
}

impl Repo {
    /// Reads the purge records `.folio/purges` lists and tells the store
    /// what they erased. A record that cannot be read is skipped here
    /// (`verify` reports it): what it erased then reads as missing, which
    /// is damage, never a wrong answer.
    pub(crate) fn load_purges(&self) {
        let mut map = crate::store::Purged::default();
        for id in self.purge_records().unwrap_or_default() {
            if let Ok(bytes) = self.store.get(&id)
                && let Ok(rec) = PurgeRecord::decode(&bytes)
            {
                rec.apply_to(id, &mut map);
            }
        }
        self.store.set_purged(map);
    }

    /// The purge records, oldest first.
    pub fn purge_records(&self) -> Result<Vec<ObjectId>, RepoError> {
        let path = self.dot.join(PURGES_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RepoError::io(&path)(e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                l.trim().parse::<ObjectId>().map_err(|_| {
                    RepoError::PurgeRefused(format!(
                        "{}: '{l}' is not a purge record id; the file is damaged (`folio verify`)",
                        path.display()
                    ))
                })
            })
            .collect()
    }

    /// Reads one purge record.
    pub fn purge_record(&self, id: &ObjectId) -> Result<PurgeRecord, RepoError> {
        let bytes = self.store.get(id)?;
        PurgeRecord::decode(&bytes).map_err(|detail| {
            RepoError::PurgeRefused(format!(
                "object {} is not a purge record: {detail}",
                id.short(12)
            ))
        })
    }

    /// Every commit of the repository's histories: what refs reach, what
    /// the operation log names (deleted branches, moved refs), whatever
    /// its retention.
    pub(super) fn every_commit(&self) -> Result<Vec<CommitId>, RepoError> {
        let mut problems = Vec::new();
        let mut todo = self.ref_tips(&mut problems)?;
        for id in self.oplog_keeps(u32::MAX, 0)? {
            if let Ok(b) = self.store.get(&id)
                && crate::object::looks_like_commit(&b)
            {
                todo.push(CommitId(id));
            }
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        while let Some(c) = todo.pop() {
            if !seen.insert(c) {
                continue;
            }
            let commit = self.read_commit(c)?;
            todo.extend(commit.parents.iter().copied());
            out.push(c);
        }
        Ok(out)
    }

    /// Walks history (every commit [`Repo::every_commit`] finds), each
    /// dataset version and table version once, at the first commit that
    /// shows it: `file` gets every file (not folder) of a dataset version
    /// — the commit, the dataset, the file's path in the repository and
    /// its entry — and `table` every table version.
    pub(super) fn walk_history(
        &self,
        file: &mut FileVisit<'_>,
        table: &mut TableVisit<'_>,
    ) -> Result<(), RepoError> {
        let mut seen = HashSet::new();
        for c in self.every_commit()? {
            let commit = self.read_commit(c)?;
            for d in &commit.datasets {
                if !seen.insert((d.path.clone(), d.id)) {
                    continue;
                }
                for (rel, e) in self.flatten_dataset(Some(d))? {
                    if e.kind != EntryKind::Tree {
                        file(c, &commit, d, join_path(&d.path, &rel), &e)?;
                    }
                }
            }
            for t in &commit.tables {
                if seen.insert((t.path.clone(), t.manifest.0)) {
                    table(c, t)?;
                }
            }
        }
        Ok(())
    }

    /// Walks every snapshot for the content of `selected` examples.
    fn find_held(&self, selected: &HashSet<ExampleId>) -> Result<Found, RepoError> {
        let mut found = Found::default();
        // Each dataset version is walked once; whether it held any.
        let mut datasets_seen: HashMap<(String, ObjectId), bool> = HashMap::new();
        let mut chunks_seen: HashSet<(String, ObjectId)> = HashSet::new();
        for c in self.every_commit()? {
            let commit = self.read_commit(c)?;
            for d in &commit.datasets {
                if let Some(held) = datasets_seen.get(&(d.path.clone(), d.id)) {
                    if *held {
                        found.commits.insert(c);
                    }
                    continue;
                }
                let mut held = false;
                for (rel, e) in self.flatten_dataset(Some(d))? {
                    // Trees hold nothing; a purged blob is gone already.
                    if e.kind == EntryKind::Tree || self.store.purge_record_of(&e.id).is_some() {
                        continue;
                    }
                    let path = join_path(&d.path, &rel);
                    let ex = ExampleId::file(&path);
                    if selected.contains(&ex) {
                        found.files.entry(e.id).or_default().insert(path.clone());
                        found.examples.insert(ex, (path, "file"));
                        found.commits.insert(c);
                        held = true;
                    }
                }
                datasets_seen.insert((d.path.clone(), d.id), held);
            }
            for t in &commit.tables {
                let m = self.read_manifest(t.manifest)?;
                let todo: Vec<(ObjectId, Option<ObjectId>)> = m
                    .chunks
                    .iter()
                    .map(|ch| (ch.id.0, ch.skeleton.map(|s| s.0)))
                    .filter(|(id, _)| chunks_seen.insert((t.path.clone(), *id)))
                    .collect();
                let keyed = !m.key.is_empty();
                let hits: Vec<(ObjectId, Vec<(ExampleId, String)>)> = todo
                    .par_iter()
                    .map(|(id, skeleton)| {
                        // An encrypted chunk is looked into through its
                        // plain skeleton (identities): opened only when it
                        // holds a selected row (D83).
                        let bytes = match (self.store.get(id), skeleton) {
                            (Ok(b), _) => b,
                            (Err(crate::store::StoreError::Crypt(_)), Some(s)) => {
                                let sk = self.store.get(s)?;
                                let wanted = decode_chunk(*s, &sk)?
                                    .iter()
                                    .any(|r| selected.contains(&ExampleId::row(&t.path, &r.ident)));
                                if !wanted {
                                    return Ok((*id, Vec::new()));
                                }
                                self.store
                                    .get(id)
                                    .map_err(|e| self.sealed_purge(e, &t.path))?
                            }
                            (Err(e), _) => return Err(self.sealed_purge(e, &t.path)),
                        };
                        let mut hits = Vec::new();
                        for row in decode_chunk(*id, &bytes)? {
                            if is_skeletal(&row.body) {
                                continue; // purged already
                            }
                            let ex = ExampleId::row(&t.path, &row.ident);
                            if selected.contains(&ex) {
                                hits.push((
                                    ex,
                                    Locator::row(&t.path, keyed, &row.ident).to_string(),
                                ));
                            }
                        }
                        Ok((*id, hits))
                    })
                    .filter(|r: &Result<_, RepoError>| {
                        r.as_ref().map_or(true, |(_, h)| !h.is_empty())
                    })
                    .collect::<Result<_, RepoError>>()?;
                let held = !hits.is_empty()
                    || m.chunks
                        .iter()
                        .any(|ch| found.chunks.contains_key(&ch.id.0));
                for (id, rows) in hits {
                    found.chunks.insert(id, t.path.clone());
                    for (ex, loc) in rows {
                        found.examples.insert(ex, (loc, "row"));
                    }
                }
                if held && !m.shards.is_empty() {
                    // A purged table file is written back from the rows
                    // kept (D86); which shard held a row is not recorded,
                    // so a shard cannot be (D91).
                    return Err(RepoError::PurgeRefused(format!(
                        "{} is a sharded table ({} shards): folio cannot purge single rows of a sharded table from history; remove the rows from the shard files and commit, and purge the table's older versions when whole files can be",
                        t.path,
                        m.shards.len()
                    )));
                }
                if held {
                    found
                        .table_files
                        .entry(m.blob)
                        .or_default()
                        .insert(t.path.clone());
                    found
                        .manifests
                        .entry(m.blob)
                        .or_insert((t.manifest.0, t.path.clone()));
                    found.commits.insert(c);
                }
            }
        }
        if !found.files.is_empty() {
            self.same_content_elsewhere(&mut found)?;
        }
        Ok(found)
    }

    /// Other files of history with the same content as a file being
    /// purged: the bytes are erased for them too, so they are purged with
    /// it, named and recorded (a copy of personal data under another path
    /// is still that data).
    fn same_content_elsewhere(&self, found: &mut Found) -> Result<(), RepoError> {
        self.walk_history(
            &mut |c, _, _, path, e| {
                let Some(paths) = found.files.get_mut(&e.id) else {
                    return Ok(());
                };
                if paths.insert(path.clone()) {
                    found
                        .examples
                        .insert(ExampleId::file(&path), (path, "file"));
                }
                found.commits.insert(c);
                Ok(())
            },
            &mut |_, _| Ok(()),
        )
    }

    /// The error for rows that cannot be read to be purged.
    fn sealed_purge(&self, e: crate::store::StoreError, table: &str) -> RepoError {
        match e {
            crate::store::StoreError::Crypt(c) => RepoError::PurgeRefused(format!(
                "the rows of {table} are encrypted and cannot be read ({c}): purging rows of an encrypted table needs FOLIO_IDENTITY and --purpose, so the rows kept can be sealed again"
            )),
            other => other.into(),
        }
    }

    /// Erases the content of `examples` from every snapshot that holds
    /// them (D86); records a `purged` event for each (pending on the
    /// current branch) and a purge record naming what went, by hash.
    pub fn purge(
        &self,
        lock: &RepoLock,
        examples: &[ExampleId],
        reason: &str,
        who: &Recorder,
    ) -> Result<PurgeReport, RepoError> {
        crate::ledger::values::text("the reason", reason, crate::ledger::values::MAX_TEXT)?;
        if reason.trim().is_empty() {
            return Err(RepoError::PurgeRefused(
                "a purge needs a reason: give --reason TEXT (the request or ticket it answers)"
                    .into(),
            ));
        }
        // A purge is recorded on the current branch.
        self.recording_branch()?;
        let selected: HashSet<ExampleId> = examples.iter().copied().collect();
        let found = self.find_held(&selected)?;
        let config = self.config()?;
        // Redact every chunk holding a selected row.
        let redacted: Vec<crate::table::manifest::RedactedChunk> = found
            .chunks
            .par_iter()
            .map(|(id, table)| {
                let t = config.table(table);
                let mut columns = crate::ledger::rows::mapped_columns(&t.meta);
                columns.extend(t.links.as_ref().map(|l| l.column.clone()));
                let bytes = self.store.get(id)?;
                let purge = |ident: &[u8]| selected.contains(&ExampleId::row(table, ident));
                let r = redact(*id, &bytes, &purge, &columns)?;
                Ok(r.expect("the walk found a row to purge"))
            })
            .collect::<Result<_, RepoError>>()?;
        let mut report = PurgeReport {
            dry_run: who.dry_run.is_some(),
            commits: found.commits.len() as u64,
            files: found.files.len() as u64,
            table_files: found.table_files.len() as u64,
            chunks: redacted.len() as u64,
            ..PurgeReport::default()
        };
        let mut tables: BTreeSet<String> = BTreeSet::new();
        for t in found.table_files.values() {
            tables.extend(t.iter().cloned());
        }
        report.tables = tables.into_iter().collect();
        let mut hashes: BTreeSet<ObjectId> = BTreeSet::new();
        for r in &redacted {
            hashes.extend(r.purged.iter().map(|h| ObjectId(*h)));
        }
        report.rows = hashes.len() as u64;
        hashes.extend(found.files.keys().copied());
        report.examples = found
            .examples
            .iter()
            .map(|(id, (loc, kind))| PurgeItem {
                id: *id,
                locator: loc.clone(),
                kind,
            })
            .collect();
        let mut not_held: Vec<ExampleId> = examples
            .iter()
            .filter(|x| !found.examples.contains_key(x))
            .copied()
            .collect();
        not_held.sort();
        not_held.dedup();
        report.not_held = not_held.iter().map(|x| x.to_hex()).collect();
        report.working_tree = self.held_in_working_tree(&found)?;
        if found.examples.is_empty() {
            return Err(RepoError::PurgeRefused(
                "no snapshot holds the content of the examples selected (purged already, or never committed)".into(),
            ));
        }
        if who.dry_run.is_some() {
            return Ok(report);
        }
        // The erased: files, table files, and the chunks of chunked ones
        // that no file kept uses.
        let mut erased: BTreeSet<ObjectId> = found.files.keys().copied().collect();
        erased.extend(found.table_files.keys().copied());
        erased.extend(self.chunks_only_of(&erased)?);
        let record = PurgeRecord {
            actor: who.actor.clone(),
            time: who.time,
            reason: reason.to_string(),
            examples: found
                .examples
                .iter()
                .map(|(id, (loc, _))| PurgedExample {
                    id: id.to_hex(),
                    locator: loc.clone(),
                })
                .collect(),
            erased: erased.iter().copied().collect(),
            redacted: redacted.iter().map(|r| (r.original, r.id)).collect(),
            tables: found
                .manifests
                .iter()
                .map(|(b, (m, p))| (*b, *m, p.clone()))
                .collect(),
            hashes: hashes.into_iter().collect(),
        };
        // 1. The replacements and the record, durable. The stand-in of an
        //    encrypted chunk is sealed to the recipients configured (D83):
        //    the rows kept are never written in the clear.
        let bytes = record.encode();
        let writer = self.store.writer()?;
        let mut sealed_writer = None;
        for r in &redacted {
            if self.is_sealed(&r.original) {
                if sealed_writer.is_none() {
                    let seal = crate::crypt::Seal::parse(&config.encryption.recipients)
                        .map_err(|e| RepoError::Seal(e.to_string()))?;
                    sealed_writer = Some(self.store.sealed_writer(std::sync::Arc::new(seal))?);
                }
                sealed_writer.as_ref().expect("set above").put(&r.bytes)?;
            } else {
                writer.put(&r.bytes)?;
            }
        }
        if let Some(w) = sealed_writer {
            w.finish()?;
        }
        let record_id = writer.put(&bytes)?;
        writer.finish()?;
        // 2. The events, then the list of records: from here on the store
        //    answers for the purged objects from the record.
        let head = self.head_commit()?;
        let drafts: Vec<Draft> = found
            .examples
            .keys()
            .map(|id| Draft {
                time: who.time,
                actor: who.actor.clone(),
                commit: head,
                subject: Subject::Example(*id),
                payload: Payload::Purged {
                    record: record_id,
                    reason: reason.to_string(),
                },
            })
            .collect();
        self.record(lock, who, drafts)?;
        let mut list = self.purge_records()?;
        list.push(record_id);
        self.write_purge_list(&list)?;
        crate::failpoint::hit("purge:recorded");
        self.load_purges();
        // 3. Every stored copy of what was erased, and the caches.
        let (removed, packs) = self.finish_purges(lock)?;
        report.removed = removed;
        report.packs_rewritten = packs;
        report.caches_cleared = self.clear_derived_caches()?;
        report.record = Some(record_id);
        Ok(report)
    }

    /// Whether `id` is stored sealed (D83).
    pub(super) fn is_sealed(&self, id: &ObjectId) -> bool {
        matches!(
            self.store.packed_record(id),
            Ok(Some(r)) if r.encoding == crate::store::Encoding::Age
        ) || self
            .store
            .loose_file(id)
            .is_some_and(|(_, e)| e == crate::store::Encoding::Age)
    }

    /// Removes every stored copy of what the purge records erased (an
    /// interrupted purge leaves some; `gc` calls this too). Returns the
    /// copies removed and the packs rewritten.
    pub(crate) fn finish_purges(&self, _lock: &RepoLock) -> Result<(u64, u64), RepoError> {
        self.erase_purged()
    }

    /// Writes the list of purge records (durably, whole).
    pub(super) fn write_purge_list(&self, list: &[ObjectId]) -> Result<(), RepoError> {
        let text: String = list.iter().map(|id| format!("{id}\n")).collect();
        let path = self.dot.join(PURGES_FILE);
        crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(RepoError::io(&path))
    }

    /// [`Repo::finish_purges`], for callers that hold the lock already.
    pub(super) fn erase_purged(&self) -> Result<(u64, u64), RepoError> {
        let purged = self.store.purged();
        if purged.is_empty() {
            return Ok((0, 0));
        }
        let ids: HashSet<ObjectId> = purged
            .erased
            .keys()
            .chain(purged.redacted.keys())
            .copied()
            .collect();
        Ok(self.store.erase(&ids)?)
    }

    /// Removes the caches that may hold values of purged rows: drift
    /// profiles (derived; computed again when asked) and leftovers under
    /// `.folio/tmp`. Returns the profiles removed.
    fn clear_derived_caches(&self) -> Result<u64, RepoError> {
        let mut n = 0;
        for dir in [self.dot.join("profiles"), self.tmp_dir()] {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                let res = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
                res.map_err(RepoError::io(&p))?;
                n += u64::from(dir.ends_with("profiles"));
            }
            crate::fsutil::sync_dir(&dir).map_err(RepoError::io(&dir))?;
        }
        Ok(n)
    }

    /// The chunks of the chunked blobs in `erased` that no other chunked
    /// blob of the store uses.
    pub(super) fn chunks_only_of(
        &self,
        erased: &BTreeSet<ObjectId>,
    ) -> Result<Vec<ObjectId>, RepoError> {
        let mut candidates: HashSet<ObjectId> = HashSet::new();
        for b in erased {
            if let Some(chunks) = self.store.chunk_ids(b)? {
                candidates.extend(chunks);
            }
        }
        self.chunks_unused_but(candidates, erased)
    }

    /// Of `candidates`, the chunks no chunked blob of the store uses.
    pub(super) fn chunks_unused(
        &self,
        candidates: HashSet<ObjectId>,
    ) -> Result<Vec<ObjectId>, RepoError> {
        self.chunks_unused_but(candidates, &BTreeSet::new())
    }

    /// Of `candidates`, the chunks no chunked blob of the store other than
    /// those of `except` uses.
    fn chunks_unused_but(
        &self,
        mut candidates: HashSet<ObjectId>,
        except: &BTreeSet<ObjectId>,
    ) -> Result<Vec<ObjectId>, RepoError> {
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        for p in self.store.packs() {
            for (id, off) in p.entries() {
                if except.contains(&id)
                    || p.record_encoding(off, &id)? != crate::store::Encoding::Chunked
                {
                    continue;
                }
                // This pack's record (another copy of `id` may be sealed).
                let rec = p.read_record(off, &id)?;
                for (c, _) in crate::store::decode_chunk_list(&rec.data).unwrap_or_default() {
                    candidates.remove(&c);
                }
            }
        }
        let mut out: Vec<ObjectId> = candidates.into_iter().collect();
        out.sort();
        Ok(out)
    }

    /// The working tree's paths that still hold purged content: files at
    /// purged paths with a purged blob, tables whose file is a purged
    /// version (compared by hash).
    fn held_in_working_tree(&self, found: &Found) -> Result<Vec<String>, RepoError> {
        let (paths, held) = found.working_tree_targets();
        self.working_files_among(&paths, &held)
    }

    /// Which of `paths` hold, in the working tree, one of the contents
    /// `held` (compared by hash).
    fn working_files_among(
        &self,
        paths: &BTreeSet<String>,
        held: &HashSet<ObjectId>,
    ) -> Result<Vec<String>, RepoError> {
        let mut out = Vec::new();
        for p in paths {
            let abs = self.abs(p);
            let Ok(meta) = std::fs::symlink_metadata(&abs) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let mut h = blake3::Hasher::new();
            let mut f = std::fs::File::open(&abs).map_err(RepoError::io(&abs))?;
            std::io::copy(&mut f, &mut h).map_err(RepoError::io(&abs))?;
            if held.contains(&ObjectId::from(h.finalize())) {
                out.push(p.clone());
            }
        }
        Ok(out)
    }

    /// Proves the content of `examples` gone: no snapshot's file or row
    /// holds it, no stored copy of what their purges erased remains, no
    /// cached profile predates the purge, and the working tree does not
    /// hold it.
    pub fn purge_check(&self, examples: &[ExampleId]) -> Result<PurgeCheck, RepoError> {
        let selected: HashSet<ExampleId> = examples.iter().copied().collect();
        let found = self.find_held(&selected)?;
        let mut check = PurgeCheck {
            examples: selected.len() as u64,
            ..PurgeCheck::default()
        };
        for (id, paths) in &found.files {
            for p in paths {
                check
                    .holders
                    .push(format!("file {p} (blob {}) is stored", id.short(12)));
            }
        }
        for (id, table) in &found.chunks {
            check.holders.push(format!(
                "row chunk {} of {table} holds a selected row",
                id.short(12)
            ));
        }
        // The records that purged them, and their objects' copies.
        let mut records = Vec::new();
        for rid in self.purge_records()? {
            let rec = self.purge_record(&rid)?;
            if rec.examples.iter().any(|e| {
                e.id.parse::<ObjectId>()
                    .is_ok_and(|o| selected.contains(&ExampleId(o.0)))
            }) {
                check.records.push(rid);
                records.push(rec);
            }
        }
        let objects: Vec<ObjectId> = records
            .iter()
            .flat_map(|r| {
                r.erased
                    .iter()
                    .copied()
                    .chain(r.redacted.iter().map(|(o, _)| *o))
            })
            .collect();
        if check.records.is_empty() {
            return Err(RepoError::PurgeRefused(if found.examples.is_empty() {
                "no purge record names the examples selected, and no snapshot holds them: nothing to verify".into()
            } else {
                "no purge record names the examples selected: they were never purged (`folio purge SELECTOR --reason TEXT` does)".into()
            }));
        }
        check.objects = objects.len() as u64;
        for id in &objects {
            for p in self.store.copies_of(id) {
                check.holders.push(format!(
                    "a copy of purged object {} remains in {} (run `folio gc --prune`)",
                    id.short(12),
                    p.display()
                ));
            }
        }
        // Profiles computed once the records were in force read redacted
        // chunks; older ones the purge removed, or should have.
        let listed = std::fs::metadata(self.dot.join(PURGES_FILE))
            .and_then(|m| m.modified())
            .ok();
        for p in self.profiles_older_than(listed)? {
            check.holders.push(format!(
                "cached drift profile {} predates the purge",
                p.display()
            ));
        }
        // The working tree, against what the snapshots still hold and
        // what the records erased.
        let (mut paths, mut held) = found.working_tree_targets();
        for rec in &records {
            held.extend(rec.erased.iter().copied());
            paths.extend(rec.tables.iter().map(|(_, _, p)| p.clone()));
            // A row's locator names no file: only files' are found.
            paths.extend(rec.examples.iter().map(|e| e.locator.clone()));
        }
        for p in self.working_files_among(&paths, &held)? {
            check
                .holders
                .push(format!("the working tree's {p} holds purged content"));
        }
        Ok(check)
    }

    /// Cached profiles not written after `time` (all of them when the
    /// time is unknown).
    fn profiles_older_than(
        &self,
        time: Option<std::time::SystemTime>,
    ) -> Result<Vec<PathBuf>, RepoError> {
        let dir = self.dot.join("profiles");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let m = e.metadata().map_err(RepoError::io(&e.path()))?;
            let newer = match (m.modified().ok(), time) {
                (Some(t), Some(since)) => t > since,
                _ => false,
            };
            if !newer {
                out.push(e.path());
            }
        }
        Ok(out)
    }

    /// The examples a purge (or its check) is about: each selector's
    /// (an example id or prefix, a file path, `TABLE:KEY`), and every
    /// example of the current ledger the filter matches — present or
    /// removed: what history holds is what a purge is for.
    pub fn purge_selection(
        &self,
        selectors: &[String],
        filter: &super::ExampleFilter,
    ) -> Result<Vec<ExampleId>, RepoError> {
        // Resolved on every core: each is a lookup in the ledger index.
        let view = self.ledger_view()?;
        let ids: Vec<ExampleId> = selectors
            .par_iter()
            .map(|s| view.resolve::<RepoError>(s))
            .collect::<Result<_, _>>()?;
        let mut out: BTreeSet<ExampleId> = ids.into_iter().collect();
        if !filter.is_empty() {
            let before = out.len();
            // Present or not: a purge reaches what history holds. Each
            // state is matched as it is folded (D94).
            let parts = self
                .ledger_view()?
                .fold_states(&Vec::new, &|v, id, mut st| {
                    st.present = true;
                    if filter.matches(&st) {
                        v.push(id);
                    }
                })?;
            out.extend(parts.into_iter().flatten());
            if out.len() == before {
                return Err(RepoError::PurgeRefused(
                    "no example of the ledger matches the filters given".into(),
                ));
            }
        }
        if out.is_empty() {
            return Err(RepoError::PurgeRefused(
                "name the examples to purge: SELECTOR (an example id, a file path, TABLE:KEY) or --where-… filters".into(),
            ));
        }
        Ok(out.into_iter().collect())
    }

    /// What `verify` finds wrong with the purges: a record list or record
    /// that does not read, a record no branch's `purged` event names (one
    /// slipped into the list), a redacted chunk missing or malformed, a
    /// copy of a purged object left behind.
    pub(super) fn purge_problems(&self) -> Result<Vec<super::Problem>, RepoError> {
        use super::Problem;
        let list = self.dot.join(PURGES_FILE);
        let ids = match self.purge_records() {
            Ok(ids) => ids,
            Err(e) => {
                return Ok(vec![Problem {
                    file: list,
                    detail: e.to_string(),
                }]);
            }
        };
        let mut out = Vec::new();
        if ids.is_empty() {
            return Ok(out);
        }
        // Each record read once; one that does not read is a problem.
        let mut records = Vec::new();
        for id in ids {
            match self.purge_record(&id) {
                Ok(r) => records.push((id, r)),
                Err(e) => out.push(Problem {
                    file: list.clone(),
                    detail: format!("purge record {}: {e}", id.short(12)),
                }),
            }
        }
        // The records the `purged` events of every branch's ledger name,
        // found through each record's first example.
        let mut named: HashSet<ObjectId> = HashSet::new();
        let mut terms = Vec::new();
        for (_, rec) in &records {
            if let Some(first) = rec.examples.first()
                && let Ok(x) = first.id.parse::<ObjectId>()
            {
                let t = crate::ledger::index::Term::Example(&ExampleId(x.0)).key();
                terms.push((t, t));
            }
        }
        let mut tips: Vec<(Option<String>, Option<CommitId>)> = Vec::new();
        for (b, tip) in self.refs.list(crate::refs::RefKind::Branch)? {
            tips.push((Some(b), tip.ok()));
        }
        // A purge fetched from a remote is named in its branches' ledger.
        for (_, tip) in self.refs.list(crate::refs::RefKind::Remote)? {
            tips.push((None, tip.ok()));
        }
        for (b, tip) in tips {
            let parts = self.history_parts(tip)?;
            let pending = match &b {
                Some(b) => self.pending(b)?,
                None => Vec::new(),
            };
            let view = crate::ledger::query::LedgerView::new(
                &self.store,
                &self.index_dir(),
                Self::with_pending(parts, &pending),
            );
            view.read(&Some(terms.clone()), &|_| true, &mut |e| {
                if let Payload::Purged { record, .. } = e.payload {
                    named.insert(record);
                }
                Ok::<(), RepoError>(())
            })?;
        }
        for (id, rec) in records {
            if !named.contains(&id) {
                out.push(Problem {
                    file: list.clone(),
                    detail: format!(
                        "purge record {} is named by no `purged` event of any branch: the list was edited",
                        id.short(12)
                    ),
                });
            }
            for (orig, repl) in &rec.redacted {
                // A sealed stand-in (an encrypted table's) is checked as far
                // as no identity is needed: there, its age header well-formed.
                let res = match self.store.get(repl) {
                    Ok(b) => crate::purge::check_redacted(orig, &b),
                    Err(crate::store::StoreError::Crypt(_)) => {
                        self.store.check_sealed(repl).map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e.to_string()),
                };
                if let Err(e) = res {
                    out.push(Problem {
                        file: self.where_is(repl),
                        detail: format!(
                            "redacted chunk {} (for {}): {e}",
                            repl.short(12),
                            orig.short(12)
                        ),
                    });
                }
            }
            for orig in rec.erased.iter().chain(rec.redacted.iter().map(|(o, _)| o)) {
                for p in self.store.copies_of(orig) {
                    out.push(Problem {
                        file: p,
                        detail: format!(
                            "purged object {} still has a copy here (an interrupted purge): `folio gc --prune` erases it",
                            orig.short(12)
                        ),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Whether every change `st` shows only follows from purges (D86): a
    /// file HEAD holds whose content was purged is missing, or (a table)
    /// written again from its rows kept. Such a working tree loses
    /// nothing when a merge or pull rewrites it.
    pub(crate) fn only_purged_changes(&self, st: &super::Status) -> Result<bool, RepoError> {
        Ok(st.datasets.iter().all(|d| {
            d.changes.is_empty()
                || (!d.missing
                    && d.changes.added.is_empty()
                    && d.changes.modified.len() + d.changes.deleted.len() == d.purged.len())
        }))
    }

    /// The purge records and what each erased, for `purge --show`/`list`.
    pub fn purges(&self) -> Result<Vec<(ObjectId, PurgeRecord)>, RepoError> {
        self.purge_records()?
            .into_iter()
            .map(|id| Ok((id, self.purge_record(&id)?)))
            .collect()
    }
}
