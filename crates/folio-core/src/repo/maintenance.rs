//! `verify`, `gc` and `reindex`: checking and tidying the repository.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use rayon::prelude::*;

use super::{Repo, RepoError};
use crate::id::{CommitId, ObjectId};
use crate::index::{Index, IndexHealth};
use crate::lock::RepoLock;
use crate::object::{Commit, EntryKind, Tree};
use crate::progress::Progress;
use crate::refs::{Head, RefKind};
use crate::store::{Location, StoreError};

/// One problem `verify` found, with the file it is in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    /// The file that holds the damage.
    pub file: PathBuf,
    /// What is wrong.
    pub detail: String,
}

/// What `verify` checked and found.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct VerifyReport {
    /// Commits checked.
    pub commits: u64,
    /// Trees checked.
    pub trees: u64,
    /// Blobs re-hashed.
    pub blobs: u64,
    /// Table manifests checked (with their row chunks).
    pub tables: u64,
    /// The state of the derived index.
    pub index: String,
    /// Ledger events checked.
    pub events: u64,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// Every problem found.
    pub problems: Vec<Problem>,
}

/// What `gc` found (and removed, with `prune`).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct GcReport {
    /// Objects no ref reaches.
    pub unreachable: u64,
    /// Their stored bytes (approximate for packed objects: raw size).
    pub unreachable_bytes: u64,
    /// Objects kept.
    pub reachable: u64,
    /// Whether anything was deleted.
    pub pruned: bool,
    /// Leftover temporary files and orphan packs removed.
    pub stale_files: u64,
}

/// A blob id with its size.
type SizedId = (ObjectId, u64);

/// What commits name: trees, blobs (with sizes) and table manifests.
type Reached = (Vec<ObjectId>, Vec<SizedId>, Vec<ObjectId>);

impl Repo {
    /// Every commit id some ref (or HEAD) names, with problems for refs
    /// that cannot be read.
    fn ref_tips(&self, problems: &mut Vec<Problem>) -> Result<Vec<CommitId>, RepoError> {
        let mut tips = Vec::new();
        match self.refs.head() {
            Ok(Head::Detached(c)) => tips.push(c),
            Ok(Head::Branch(_)) => {}
            Err(e) => problems.push(Problem {
                file: self.refs.head_path(),
                detail: e.to_string(),
            }),
        }
        for kind in [RefKind::Branch, RefKind::Tag] {
            for (name, value) in self.refs.list(kind)? {
                match value {
                    Ok(c) => tips.push(c),
                    Err(e) => problems.push(Problem {
                        file: self.refs.ref_path(kind, &name),
                        detail: e.to_string(),
                    }),
                }
            }
        }
        Ok(tips)
    }

    fn where_is(&self, id: &ObjectId) -> PathBuf {
        self.store
            .locate(id)
            .map(|l| l.path().to_path_buf())
            .unwrap_or_else(|| self.store.objects_dir().to_path_buf())
    }

    /// Re-hashes every object reachable from any ref and checks every
    /// commit, tree, ref and pack.
    pub fn verify(&self, progress: &dyn Progress) -> Result<VerifyReport, RepoError> {
        let mut r = VerifyReport::default();
        for p in self.store.packs() {
            for e in p.check_files() {
                r.problems.push(store_problem(e));
            }
        }
        let tips = self.ref_tips(&mut r.problems)?;
        if let Ok(Head::Branch(b)) = self.refs.head()
            && let Ok(None) = self.refs.get(RefKind::Branch, &b)
            && !tips.is_empty()
        {
            // HEAD on a branch with no commit is normal only in a new repository.
            r.problems.push(Problem {
                file: self.refs.head_path(),
                detail: format!("HEAD names branch '{b}', which does not exist"),
            });
        }
        let (trees, blobs, tables) = self.walk_commits(&tips, &mut r)?;
        self.check_tables(tables, &mut r);
        self.check_ledger(&tips, &mut r)?;
        self.walk_trees(trees, blobs, &mut r, progress)?;
        r.index = match Index::health(&self.index_dir()) {
            IndexHealth::Missing => "missing (rebuilt by the next scan)".into(),
            IndexHealth::Ok => "ok".into(),
            IndexHealth::NeedsRepair => {
                "not closed cleanly; the next writing command repairs it".into()
            }
            IndexHealth::Broken(e) => {
                r.problems.push(Problem {
                    file: self.index_dir().join("index.redb"),
                    detail: format!(
                        "the index cannot be opened ({e}); it is derived: run `folio reindex`"
                    ),
                });
                "broken".into()
            }
        };
        Ok(r)
    }

    /// Checks commits; returns the trees and blobs their datasets name.
    fn walk_commits(&self, tips: &[CommitId], r: &mut VerifyReport) -> Result<Reached, RepoError> {
        let mut seen = HashSet::new();
        let mut stack: Vec<CommitId> = tips.to_vec();
        let (mut trees, mut blobs, mut tables) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            r.commits += 1;
            let c = match self.checked_object(&id.0, r).map(|b| Commit::decode(&b)) {
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    r.problems.push(Problem {
                        file: self.where_is(&id.0),
                        detail: format!("commit {id}: {e}"),
                    });
                    continue;
                }
                None => continue,
            };
            stack.extend(c.parents.iter().copied());
            tables.extend(c.tables.iter().map(|t| t.manifest));
            for d in &c.datasets {
                if d.kind == EntryKind::Tree {
                    trees.push(d.id);
                } else {
                    blobs.push((d.id, d.size));
                }
            }
        }
        Ok((trees, blobs, tables))
    }

    /// Checks the ledger: every frame, the hash chain, and every ledger
    /// head a reachable commit records (so a re-chained forgery, a cut-off
    /// tail or an edited event contradicts a commit).
    fn check_ledger(&self, tips: &[CommitId], r: &mut VerifyReport) -> Result<(), RepoError> {
        use std::collections::BTreeMap;
        // Heads the commits attest: size -> (root, commit).
        let mut heads: BTreeMap<u64, Vec<([u8; 32], CommitId)>> = BTreeMap::new();
        let mut seen = HashSet::new();
        let mut stack = tips.to_vec();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let Ok(c) = self.read_commit(id) else {
                continue;
            };
            stack.extend(c.parents.iter().copied());
            if let Some((size, root)) = c.ledger {
                heads.entry(size).or_default().push((root, id));
            }
        }
        let log = crate::ledger::LedgerLog::new(&self.ledger_dir());
        let frontier = crate::ledger::merkle::Frontier::default();
        let check = |f: &crate::ledger::merkle::Frontier, r: &mut VerifyReport| {
            if let Some(list) = heads.get(&f.size) {
                let root = f.root();
                for (want, commit) in list {
                    if *want != root {
                        r.problems.push(Problem {
                            file: self.ledger_dir(),
                            detail: format!(
                                "the first {} ledger events do not hash to the root commit {} records: events were edited, removed, reordered or forged",
                                f.size,
                                commit.0.short(12)
                            ),
                        });
                    }
                }
            }
        };
        check(&frontier, r);
        let scanned = log.scan_frontiers(u64::MAX, None, &mut |f| check(f, r));
        match scanned {
            Ok(cp) => {
                r.events = cp.frontier.size;
                if let Some((&max, list)) = heads.iter().next_back()
                    && max > cp.frontier.size
                {
                    r.problems.push(Problem {
                        file: self.ledger_dir(),
                        detail: format!(
                            "the ledger ends after {} events but commit {} attests {max}: events were cut off",
                            cp.frontier.size,
                            list[0].1 .0.short(12)
                        ),
                    });
                }
                if let Some(saved) = log.checkpoint()
                    && saved.frontier.size > cp.frontier.size
                {
                    r.problems.push(Problem {
                        file: self.ledger_dir().join("checkpoint"),
                        detail: format!(
                            "the checkpoint records {} events but only {} are readable: events were cut off",
                            saved.frontier.size, cp.frontier.size
                        ),
                    });
                }
            }
            Err(e) => {
                let file = match &e {
                    crate::ledger::LogError::Corrupt { path, .. }
                    | crate::ledger::LogError::Io { path, .. } => path.clone(),
                    crate::ledger::LogError::Chain { .. } => self.ledger_dir(),
                };
                r.problems.push(Problem {
                    file,
                    detail: e.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Checks every table manifest and its row chunks.
    fn check_tables(&self, mut manifests: Vec<ObjectId>, r: &mut VerifyReport) {
        manifests.sort();
        manifests.dedup();
        let mut chunks = HashSet::new();
        for id in manifests {
            r.tables += 1;
            let Some(bytes) = self.checked_object(&id, r) else {
                continue;
            };
            match crate::table::manifest::Manifest::decode(id, &bytes) {
                Ok(m) => chunks.extend(m.chunks.iter().map(|c| c.id)),
                Err(e) => r.problems.push(Problem {
                    file: self.where_is(&id),
                    detail: e.to_string(),
                }),
            }
        }
        for c in chunks {
            if let Some(bytes) = self.checked_object(&c, r)
                && let Err(e) = crate::table::manifest::decode_chunk(c, &bytes)
            {
                r.problems.push(Problem {
                    file: self.where_is(&c),
                    detail: e.to_string(),
                });
            }
        }
    }

    /// Reads an object and checks its hash, recording problems.
    fn checked_object(&self, id: &ObjectId, r: &mut VerifyReport) -> Option<Vec<u8>> {
        match self.store.get(id) {
            Ok(b) if ObjectId::of(&b) == *id => Some(b),
            Ok(b) => {
                r.problems.push(Problem {
                    file: self.where_is(id),
                    detail: format!("object {id} re-hashes to {}", ObjectId::of(&b)),
                });
                None
            }
            Err(e) => {
                r.problems.push(store_problem(e));
                None
            }
        }
    }

    fn walk_trees(
        &self,
        mut trees: Vec<ObjectId>,
        mut blobs: Vec<SizedId>,
        r: &mut VerifyReport,
        progress: &dyn Progress,
    ) -> Result<(), RepoError> {
        let mut seen = HashSet::new();
        while let Some(id) = trees.pop() {
            if !seen.insert(id) {
                continue;
            }
            r.trees += 1;
            let t = match self.checked_object(&id, r).map(|b| Tree::decode(&b)) {
                Some(Ok(t)) => t,
                Some(Err(e)) => {
                    r.problems.push(Problem {
                        file: self.where_is(&id),
                        detail: format!("tree {id}: {e}"),
                    });
                    continue;
                }
                None => continue,
            };
            for e in t.entries {
                if e.kind == EntryKind::Tree {
                    trees.push(e.id);
                } else {
                    blobs.push((e.id, e.size));
                }
            }
        }
        let mut uniq = HashSet::new();
        blobs.retain(|(id, _)| uniq.insert(*id));
        progress.begin("verifying", blobs.iter().map(|b| b.1).sum());
        let results: Vec<Result<u64, Problem>> = blobs
            .par_iter()
            .map(|(id, size)| {
                // A chunked blob: name the damaged chunk and its pack.
                if let Ok(Some(chunks)) = self.store.chunk_ids(id) {
                    for c in chunks {
                        match self.store.rehash(&c) {
                            Ok(got) if got == c => {}
                            Ok(got) => {
                                progress.advance(*size);
                                return Err(Problem {
                                    file: self.where_is(&c),
                                    detail: format!("chunk {c} of blob {id} re-hashes to {got}"),
                                });
                            }
                            Err(e) => return Err(store_problem(e)),
                        }
                    }
                }
                let res = match self.store.rehash(id) {
                    Ok(got) if got == *id => Ok(*size),
                    Ok(got) => Err(Problem {
                        file: self.where_is(id),
                        detail: format!("blob {id} re-hashes to {got}"),
                    }),
                    Err(e) => Err(store_problem(e)),
                };
                progress.advance(*size);
                res
            })
            .collect();
        progress.end();
        for res in results {
            r.blobs += 1;
            match res {
                Ok(n) => r.bytes += n,
                Err(p) => r.problems.push(p),
            }
        }
        Ok(())
    }

    /// Every object reachable from a ref, without re-hashing.
    fn reachable(&self) -> Result<HashSet<ObjectId>, RepoError> {
        let mut problems = Vec::new();
        let tips = self.ref_tips(&mut problems)?;
        if let Some(p) = problems.first() {
            return Err(crate::refs::RefError::Corrupt {
                path: p.file.clone(),
                detail: format!("{}; run `folio verify` and repair it before gc", p.detail),
            }
            .into());
        }
        let mut out = HashSet::new();
        let mut commits: Vec<CommitId> = tips;
        let mut trees = Vec::new();
        while let Some(c) = commits.pop() {
            if !out.insert(c.0) {
                continue;
            }
            let commit = self.read_commit(c)?;
            commits.extend(commit.parents.iter().copied());
            for t in &commit.tables {
                if out.insert(t.manifest) {
                    let m = self.read_manifest(t.manifest)?;
                    out.extend(m.chunks.iter().map(|c| c.id));
                }
            }
            for d in commit.datasets {
                if d.kind == EntryKind::Tree {
                    trees.push(d.id);
                } else {
                    out.insert(d.id);
                }
            }
        }
        while let Some(t) = trees.pop() {
            if !out.insert(t) {
                continue;
            }
            for e in crate::snapshot::read_tree(&self.store, t)?.entries {
                if e.kind == EntryKind::Tree {
                    trees.push(e.id);
                } else {
                    out.insert(e.id);
                }
            }
        }
        // Chunked blobs reach their chunks.
        let blobs: Vec<ObjectId> = out.iter().copied().collect();
        for b in blobs {
            if let Some(chunks) = self.store.chunk_ids(&b)? {
                out.extend(chunks);
            }
        }
        Ok(out)
    }

    /// Finds objects no ref reaches; deletes them when `prune`.
    pub fn gc(&self, _lock: &RepoLock, prune: bool) -> Result<GcReport, RepoError> {
        let keep = self.reachable()?;
        let mut rep = GcReport {
            reachable: keep.len() as u64,
            pruned: prune,
            ..GcReport::default()
        };
        let loose = self.store.loose_objects()?;
        let mut dead_loose = Vec::new();
        for (id, path) in loose {
            if !keep.contains(&id) {
                rep.unreachable += 1;
                rep.unreachable_bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                dead_loose.push(path);
            }
        }
        let packs = self.store.packs();
        let mut dirty_packs = Vec::new();
        for p in &packs {
            let dead: Vec<ObjectId> = p
                .entries()
                .map(|(id, _)| id)
                .filter(|id| !keep.contains(id))
                .collect();
            if !dead.is_empty() {
                rep.unreachable += dead.len() as u64;
                for id in &dead {
                    if let Some(Location::Packed { offset, .. }) = self.store.locate(id)
                        && let Ok(rec) = p.read_record(offset, id)
                    {
                        rep.unreachable_bytes += rec.data.len() as u64;
                    }
                }
                dirty_packs.push(p.path.clone());
            }
        }
        if !prune {
            return Ok(rep);
        }
        // Pruning also consolidates: every commit adds a pack, and lookups
        // cost one binary search per pack.
        if packs.len() > 1 {
            dirty_packs = packs.iter().map(|p| p.path.clone()).collect();
        }
        // Repack the live objects of every pack that holds dead ones, then
        // remove the old packs: a crash in between leaves duplicates, never
        // a loss.
        if !dirty_packs.is_empty() {
            self.store.repack(&dirty_packs, &keep)?;
        }
        for path in dead_loose {
            fs::remove_file(&path).map_err(RepoError::io(&path))?;
        }
        rep.stale_files = self.store.remove_stale_files()?;
        Ok(rep)
    }

    /// Rebuilds the derived index from scratch: deletes it, re-hashes
    /// every tracked dataset into a new stat cache, and indexes the ledger
    /// from the ledger alone. Returns the files cached and events indexed.
    pub fn reindex(
        &self,
        lock: &RepoLock,
        progress: &dyn Progress,
    ) -> Result<(u64, u64), RepoError> {
        let dir = self.index_dir();
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(RepoError::io(&dir))?;
        }
        let index = self.open_index_rw(lock)?;
        let stamp = index.stamp()?;
        let datasets = match self.refs.head_commit()? {
            Some(h) => self.read_commit(h)?.datasets,
            None => Vec::new(),
        };
        let mut caches = Vec::new();
        let mut files = 0;
        for d in &datasets {
            if fs::symlink_metadata(self.abs(&d.path)).is_err() {
                continue;
            }
            let (_, cache, _) = self.scan_flat(&d.path, None, stamp, progress)?;
            let cache = cache.unwrap_or_default();
            files += cache.len() as u64;
            caches.push((d.path.clone(), cache));
        }
        self.save_caches(&index, &caches)?;
        drop(index);
        let events = self.update_ledger_index(lock)?;
        Ok((files, events))
    }
}

fn store_problem(e: StoreError) -> Problem {
    match e {
        StoreError::Io { path, source } => Problem {
            file: path,
            detail: source.to_string(),
        },
        StoreError::Corrupt { path, detail } => Problem { file: path, detail },
        StoreError::Missing(id) => Problem {
            file: PathBuf::from(format!("object {id}")),
            detail: "missing from the store".into(),
        },
    }
}
