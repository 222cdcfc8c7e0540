//! `verify`: re-hash every reachable object and check commits, trees,
//! refs, tables and the ledger, naming the file of each problem.

use std::collections::HashSet;
use std::path::PathBuf;

use rayon::prelude::*;

use super::{Repo, RepoError};
use crate::id::{CommitId, ObjectId};
use crate::index::{Index, IndexHealth};
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
    /// Every problem found.
    pub problems: Vec<Problem>,
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

    /// Checks the ledger: every frame, the hash chain, and every ledger
    /// head a reachable commit records (so a re-chained forgery, a cut-off
    /// tail or an edited event contradicts a commit).
    fn check_ledger(&self, tips: &[CommitId], r: &mut VerifyReport) -> Result<(), RepoError> {
        use std::collections::BTreeMap;
        // Heads the commits attest: size -> (root, commit).
        let mut heads: BTreeMap<u64, Vec<(crate::ledger::merkle::Hash, CommitId)>> =
            BTreeMap::new();
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
                if let Err(e) = log.checkpoint() {
                    r.problems.push(Problem {
                        file: self.ledger_dir().join("checkpoint"),
                        detail: e.to_string(),
                    });
                }
                if let Ok(Some(saved)) = log.checkpoint()
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
                Ok(m) => chunks.extend(m.chunks.iter().map(|c| c.id.0)),
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
    }
}
