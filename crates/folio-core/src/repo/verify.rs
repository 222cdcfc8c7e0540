//! `verify`: re-hash every reachable object and check commits, trees,
//! refs, tables and the ledger, naming the file of each problem.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use rayon::prelude::*;

use super::{Repo, RepoError};
use crate::id::{CommitId, ObjectId};
use crate::index::{Index, IndexHealth};
use crate::ledger::merkle::Frontier;
use crate::object::{Commit, EntryKind, Tree};
use crate::progress::Progress;
use crate::refs::{Head, RefKind};
use crate::store::StoreError;

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
    /// Blobs not fetched (a clone made with --no-data) that a remote's
    /// index lists: absent by design, not damage.
    pub not_fetched: u64,
    /// Objects stored encrypted that no identity given opens (D83): found
    /// and their age header checked, their contents not (set
    /// `FOLIO_IDENTITY` to check them).
    pub sealed: u64,
    /// Objects `folio purge` erased (D86), or replaced by a redacted row
    /// chunk (checked): gone on purpose, not damage.
    pub purged: u64,
    /// Every problem found.
    pub problems: Vec<Problem>,
}

/// What became of one blob's check.
enum BlobCheck {
    /// Re-hashed: this many bytes.
    Hashed(u64),
    /// Absent by design (a partial clone).
    NotFetched,
    /// Sealed, and no identity opens it.
    Sealed,
    /// Erased by a purge.
    Purged,
}

/// Whether a read failed only for want of an identity.
fn locked(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Crypt(
            crate::crypt::CryptError::Locked(_)
                | crate::crypt::CryptError::NotForYou(_)
                | crate::crypt::CryptError::Refused(..)
        )
    )
}

/// A blob id with its size.
type SizedId = (ObjectId, u64);

/// What commits name: trees, blobs (with sizes) and table manifests.
type Reached = (Vec<ObjectId>, Vec<SizedId>, Vec<ObjectId>);

impl Repo {
    /// Every commit id some ref (or HEAD) names, with problems for refs
    /// that cannot be read.
    pub(super) fn ref_tips(&self, problems: &mut Vec<Problem>) -> Result<Vec<CommitId>, RepoError> {
        let mut tips = Vec::new();
        match self.refs.head() {
            Ok(Head::Detached(c)) => tips.push(c),
            Ok(Head::Branch(b)) => {
                if let Err(e) = self.head_commit() {
                    problems.push(Problem {
                        file: self.refs.ref_path(RefKind::Branch, &b),
                        detail: e.to_string(),
                    });
                }
            }
            Err(e) => problems.push(Problem {
                file: self.refs.head_path(),
                detail: e.to_string(),
            }),
        }
        for kind in [RefKind::Branch, RefKind::Tag, RefKind::Remote] {
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

    pub(crate) fn where_is(&self, id: &ObjectId) -> PathBuf {
        self.store
            .locate(id)
            .map(|l| l.path().to_path_buf())
            .unwrap_or_else(|| self.store.objects_dir().to_path_buf())
    }

    /// Re-hashes every object reachable from any ref and checks every
    /// commit, tree, ref and pack.
    pub fn verify(
        &self,
        _lock: &crate::lock::RepoLock,
        progress: &dyn Progress,
    ) -> Result<VerifyReport, RepoError> {
        // A writer's steps are never seen half-done: verify runs under the
        // write lock (packs a gc replaces, a pending list and its journal
        // line), reading the pack list again under it.
        self.store.reload_packs()?;
        let mut r = VerifyReport::default();
        for p in self.store.packs() {
            for e in p.check_files() {
                r.problems.push(store_problem(e));
            }
        }
        let tips = self.ref_tips(&mut r.problems)?;
        self.tag_objects(&mut r.problems)?;
        if let Ok(Head::Branch(b)) = self.refs.head()
            && let Ok(None) = self.refs.get(RefKind::Branch, &b)
            && [RefKind::Branch, RefKind::Tag]
                .iter()
                .any(|k| self.refs.list(*k).is_ok_and(|l| !l.is_empty()))
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
        if let Err(e) = self.operations() {
            r.problems.push(Problem {
                file: self.dot.join("oplog"),
                detail: e.to_string(),
            });
        }
        r.problems.extend(self.purge_problems()?);
        // Reseal records (D89): each must hash to its name and decode.
        if let Err(e) = self.reseals() {
            r.problems.push(Problem {
                file: self.dot.join("reseals"),
                detail: e.to_string(),
            });
        }
        // An interrupted reseal leaves copies in the clear beside sealed
        // ones: plaintext the user believes sealed (D89).
        for id in self.store.clear_beside_sealed()? {
            r.problems.push(Problem {
                file: self.store.objects_dir().to_path_buf(),
                detail: format!(
                    "object {} is stored sealed and also in the clear (an interrupted reseal): run `folio reseal` again or `folio gc --prune` to remove the clear copy",
                    id.short(12)
                ),
            });
        }
        if let Err(e) = self.access_entries() {
            r.problems.push(Problem {
                file: self.dot.join("access"),
                detail: e.to_string(),
            });
        }
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
            tables.extend(c.tables.iter().map(|t| t.manifest.0));
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

    /// Checks the ledger: every batch a reachable commit or a branch's
    /// pending list names decodes whole and holds the events its lister
    /// counts, and every commit's ledger head is the root of its history's
    /// batches in ledger order (so an edited, removed, reordered or forged
    /// event contradicts a commit).
    fn check_ledger(&self, tips: &[CommitId], r: &mut VerifyReport) -> Result<(), RepoError> {
        let mut order = Vec::new();
        let mut seen = HashSet::new();
        for &t in tips {
            if self.post_order(t, &mut seen, &mut order).is_err() {
                return Ok(()); // a missing or damaged commit: reported by the commit walk
            }
        }
        let mut hashes: HashMap<ObjectId, Option<Vec<crate::ledger::merkle::Hash>>> =
            HashMap::new();
        let mut batch_hashes = |id: ObjectId, count: u64, r: &mut VerifyReport| {
            hashes
                .entry(id)
                .or_insert_with(|| match self.batch_events(&id, count) {
                    Ok(h) => {
                        r.events += h.len() as u64;
                        Some(h)
                    }
                    Err(e) => {
                        r.problems.push(Problem {
                            file: self.where_is(&id),
                            detail: format!("event batch {}: {e}", id.short(12)),
                        });
                        None
                    }
                })
                .clone()
        };
        let mut frontiers: HashMap<CommitId, Option<Frontier>> = HashMap::new();
        for &c in &order {
            let commit = self.read_commit(c)?;
            let mut f = match commit.parents.first() {
                Some(p) => frontiers.get(p).cloned().flatten(),
                None => Some(Frontier::default()),
            };
            let mut brought: Vec<CommitId> = Vec::new();
            if commit.parents.len() > 1 {
                let mut anc = HashSet::new();
                let mut scratch = Vec::new();
                self.post_order(commit.parents[0], &mut anc, &mut scratch)?;
                for &p in &commit.parents[1..] {
                    self.post_order(p, &mut anc, &mut brought)?;
                }
            }
            brought.push(c);
            for b in brought {
                for (id, count) in self.read_commit(b)?.events {
                    match (batch_hashes(id, count, r), f.as_mut()) {
                        (Some(hs), Some(fr)) => hs
                            .iter()
                            .for_each(|h| fr.push(crate::ledger::merkle::leaf(h))),
                        _ => f = None,
                    }
                }
            }
            if let Some(fr) = &f {
                let want = commit.ledger;
                let have = (fr.size > 0).then(|| (fr.size, fr.root()));
                if want != have {
                    r.problems.push(Problem {
                        file: self.where_is(&c.0),
                        detail: format!(
                            "commit {}: its ledger head ({}) is not the root of its history's {} events: events were edited, removed, reordered or forged",
                            c.short(12),
                            want.map_or("none".into(), |(n, root)| format!("{n} events, root {}", root.to_hex())),
                            fr.size
                        ),
                    });
                }
            }
            frontiers.insert(c, f);
        }
        for (b, _) in self.refs.list(crate::refs::RefKind::Branch)? {
            match self.pending(&b) {
                Ok(list) => {
                    for (id, count) in list {
                        batch_hashes(id, count, r);
                    }
                }
                Err(e) => r.problems.push(Problem {
                    file: self.dot.join("pending"),
                    detail: e.to_string(),
                }),
            }
        }
        self.check_pending_journal(r)
    }

    /// Holds each branch's pending list to the operation log, whose lines
    /// are hash-chained: a batch the log's last operation recorded as
    /// pending must still be pending or be in the branch's history, and a
    /// batch pending now must be one the log recorded. A consistent rewrite
    /// of a pending list (its checksum recomputed) is then caught unless
    /// the log's chain is rewritten too.
    fn check_pending_journal(&self, r: &mut VerifyReport) -> Result<(), RepoError> {
        // A damaged log is reported by the caller; no log, nothing to hold.
        let Ok(ops) = self.operations() else {
            return Ok(());
        };
        let Some(last) = ops.last() else {
            return Ok(());
        };
        let file = self.dot.join("pending");
        for (b, tip) in self.refs.list(crate::refs::RefKind::Branch)? {
            let Ok(now) = self.pending(&b) else {
                continue; // reported above
            };
            let recorded: &[(String, u64)] = last.after.pending.get(&b).map_or(&[], Vec::as_slice);
            let now_ids: HashSet<String> = now.iter().map(|(id, _)| id.to_string()).collect();
            let mut history: Option<HashSet<String>> = None;
            for (id, _) in recorded.iter().filter(|(id, _)| !now_ids.contains(id)) {
                let committed = match &history {
                    Some(h) => h,
                    None => {
                        let mut h = HashSet::new();
                        if let Ok(tip) = tip {
                            for c in self.ledger_order(tip)? {
                                h.extend(
                                    self.read_commit(c)?.events.iter().map(|e| e.0.to_string()),
                                );
                            }
                        }
                        history.insert(h)
                    }
                };
                if !committed.contains(id) {
                    r.problems.push(Problem {
                        file: file.clone(),
                        detail: format!(
                            "branch {b}: pending ledger batch {} (recorded by operation {}) is neither pending nor in the branch's history: its events were removed outside folio",
                            &id[..id.len().min(12)],
                            last.seq
                        ),
                    });
                }
            }
            let known: HashSet<&str> = recorded.iter().map(|(id, _)| id.as_str()).collect();
            for (id, _) in now
                .iter()
                .filter(|(id, _)| !known.contains(id.to_string().as_str()))
            {
                r.problems.push(Problem {
                    file: file.clone(),
                    detail: format!(
                        "branch {b}: pending ledger batch {} is not in the operation log (its last operation, {}, does not list it): events added outside folio, or a command interrupted before it journalled (then `folio commit` records them and this check passes)",
                        id.short(12),
                        last.seq
                    ),
                });
            }
        }
        Ok(())
    }

    /// Decodes every event of batch `id` and checks it holds `count`;
    /// returns their hashes.
    fn batch_events(
        &self,
        id: &ObjectId,
        count: u64,
    ) -> Result<Vec<crate::ledger::merkle::Hash>, RepoError> {
        let bytes = self.store.get(id)?;
        let hashes = crate::ledger::batch::checked_hashes(id, &bytes)?;
        if hashes.len() as u64 != count {
            return Err(crate::ledger::LogError::Batch {
                id: *id,
                offset: 0,
                detail: format!(
                    "it holds {} events; the list that names it says {count}",
                    hashes.len()
                ),
            }
            .into());
        }
        Ok(hashes)
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
                Ok(m) => chunks.extend(
                    m.chunks
                        .iter()
                        .flat_map(|c| std::iter::once(c.id.0).chain(c.skeleton.map(|s| s.0))),
                ),
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
        // A redacted row chunk stands in for a purged one: its own bytes
        // are checked against its own id, and what it stands for.
        let purged = self.store.purged_if_any();
        let expect = match purged.as_ref().and_then(|p| p.redacted.get(id)) {
            Some((rid, _)) => {
                r.purged += 1;
                *rid
            }
            None => *id,
        };
        match self.store.get(id) {
            Ok(b) if ObjectId::of(&b) == expect => {
                if expect != *id
                    && let Err(e) = crate::purge::check_redacted(id, &b)
                {
                    r.problems.push(Problem {
                        file: self.where_is(&expect),
                        detail: e,
                    });
                    return None;
                }
                Some(b)
            }
            Err(StoreError::Purged { .. }) => {
                r.purged += 1;
                None
            }
            Ok(b) => {
                r.problems.push(Problem {
                    file: self.where_is(id),
                    detail: format!("object {id} re-hashes to {}", ObjectId::of(&b)),
                });
                None
            }
            Err(e) if locked(&e) => {
                match self.store.check_sealed(&expect) {
                    Ok(()) => r.sealed += 1,
                    Err(e) => r.problems.push(store_problem(e)),
                }
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
        let absent = blobs.iter().any(|(id, _)| !self.store.contains(id));
        let fetchable = if absent {
            self.fetchable()?
        } else {
            HashSet::new()
        };
        let results: Vec<Result<BlobCheck, Problem>> = blobs
            .par_iter()
            .map(|(id, size)| {
                if self.store.purge_record_of(id).is_some() {
                    progress.advance(*size);
                    return Ok(BlobCheck::Purged);
                }
                if fetchable.contains(id) && !self.store.contains(id) {
                    progress.advance(*size);
                    return Ok(BlobCheck::NotFetched);
                }
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
                    Ok(got) if got == *id => Ok(BlobCheck::Hashed(*size)),
                    Ok(got) => Err(Problem {
                        file: self.where_is(id),
                        detail: format!("blob {id} re-hashes to {got}"),
                    }),
                    Err(e) if locked(&e) => match self.store.check_sealed(id) {
                        Ok(()) => Ok(BlobCheck::Sealed),
                        Err(e) => Err(store_problem(e)),
                    },
                    Err(e) => Err(store_problem(e)),
                };
                progress.advance(*size);
                res
            })
            .collect();
        progress.end();
        for res in results {
            match res {
                Ok(BlobCheck::Sealed) => r.sealed += 1,
                Ok(BlobCheck::Purged) => r.purged += 1,
                Ok(BlobCheck::Hashed(n)) => {
                    r.blobs += 1;
                    r.bytes += n;
                }
                Ok(BlobCheck::NotFetched) => r.not_fetched += 1,
                Err(p) => {
                    r.blobs += 1;
                    r.problems.push(p);
                }
            }
        }
        Ok(())
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
        StoreError::Sink { id, source } => Problem {
            file: PathBuf::from(format!("object {id}")),
            detail: source.to_string(),
        },
        StoreError::Crypt(e) => Problem {
            file: PathBuf::from("(sealed object)"),
            detail: e.to_string(),
        },
        e @ StoreError::Purged { .. } => Problem {
            file: PathBuf::from("(purged object)"),
            detail: e.to_string(),
        },
    }
}
