//! `status`: what changed in the working tree since HEAD.

use std::collections::BTreeMap;

use super::{Repo, RepoError};
use crate::id::CommitId;
use crate::index::{DatasetCache, Index};
use crate::object::DatasetEntry;
use crate::progress::Progress;
use crate::refs::Head;
use crate::snapshot::{self, FileChanges, FlatEntry, HashStats, WorkTrees};

/// The state of one tracked dataset.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatasetStatus {
    /// Dataset path.
    pub path: String,
    /// True when the dataset's path is gone from the working tree.
    pub missing: bool,
    /// File changes against HEAD.
    #[serde(flatten)]
    pub changes: FileChanges,
    /// The modified or deleted paths whose content at HEAD a purge erased
    /// (D86): missing, or a table written again from its rows kept. The
    /// next commit records them; a merge or pull may overwrite them.
    pub purged: Vec<String>,
}

/// The working tree against HEAD.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// The current branch, or `None` when detached.
    pub branch: Option<String>,
    /// The HEAD commit, if any.
    pub head: Option<CommitId>,
    /// Tracked datasets, sorted by path.
    pub datasets: Vec<DatasetStatus>,
    /// Top-level entries of the working tree that no dataset tracks.
    pub untracked: Vec<String>,
    /// Files re-hashed because the stat cache could not vouch for them.
    pub hashed_files: u64,
    /// Files whose id came from the stat cache.
    pub cached_files: u64,
    /// The merge in progress, if any.
    pub merge: Option<super::MergeState>,
}

impl Status {
    /// True when no tracked dataset has a change.
    pub fn is_clean(&self) -> bool {
        self.datasets
            .iter()
            .all(|d| !d.missing && d.changes.is_empty())
    }
}

/// A flattened working-tree dataset, its refreshed stat cache (if it
/// changed) and the hashing work done.
pub(crate) type FlatScan = (BTreeMap<String, FlatEntry>, Option<DatasetCache>, HashStats);

impl Repo {
    /// Compares every tracked dataset with HEAD. Takes the lock only if it
    /// is free, to refresh the stat cache; otherwise reads without it.
    pub fn status(&self, progress: &dyn Progress) -> Result<Status, RepoError> {
        let head = self.refs.head()?;
        let head_id = self.head_commit()?;
        let datasets = match head_id {
            Some(id) => self.read_commit(id)?.datasets,
            None => Vec::new(),
        };
        // With the lock free, status refreshes the stat cache (as git
        // status refreshes its index); without it, it only reads. The
        // index is opened for writing only if there is something to save.
        let lock = self.lock(false).ok();
        let stamp = match &lock {
            Some(_) => crate::index::stamp(&self.index_dir())?,
            None => i128::MIN,
        };
        let index = Index::open_ro(&self.index_dir());
        let mut out = Vec::new();
        let mut stats = HashStats::default();
        let mut caches: Vec<(String, DatasetCache)> = Vec::new();
        for d in &datasets {
            let (st, cache, hs) = self.dataset_status(d, index.as_ref(), stamp, progress)?;
            stats.hashed_files += hs.hashed_files;
            stats.cached_files += hs.cached_files;
            if let Some(c) = cache {
                caches.push((d.path.clone(), c));
            }
            out.push(st);
        }
        drop(index);
        if let Some(l) = &lock
            && !caches.is_empty()
        {
            self.save_caches(&self.open_index_rw(l)?, &caches)?;
        }
        Ok(Status {
            branch: match head {
                Head::Branch(b) => Some(b),
                Head::Detached(_) => None,
            },
            head: head_id,
            datasets: out,
            untracked: self.untracked(&datasets)?,
            hashed_files: stats.hashed_files,
            cached_files: stats.cached_files,
            merge: self.merge_state()?,
        })
    }

    fn dataset_status(
        &self,
        d: &DatasetEntry,
        index: Option<&Index>,
        stamp: i128,
        progress: &dyn Progress,
    ) -> Result<(DatasetStatus, Option<DatasetCache>, HashStats), RepoError> {
        let abs = self.abs(&d.path);
        if std::fs::symlink_metadata(&abs).is_err() {
            let changes = self.dataset_changes(Some(d), None)?;
            let st = DatasetStatus {
                path: d.path.clone(),
                missing: true,
                changes,
                purged: Vec::new(),
            };
            return Ok((st, None, HashStats::default()));
        }
        // Walk the folder while the stat cache loads.
        let (scan, old_cache) = rayon::join(
            || snapshot::scan(&abs, Some(&self.repo_ignore())),
            || index.map(|ix| ix.stat_cache(&d.path)).unwrap_or_default(),
        );
        let mut scan = scan?;
        let (cache, hs) =
            snapshot::resolve_ids(&mut scan, &abs, &old_cache, None, stamp, progress)?;
        let changes = if scan.single_file || d.kind != crate::object::EntryKind::Tree {
            let work = snapshot::flatten_scan(&scan);
            snapshot::compare(&self.flatten_dataset(Some(d))?, &work)
        } else {
            // Build the working tree's trees in memory: when the root id
            // equals HEAD's, nothing changed and nothing is flattened.
            let trees = WorkTrees::build(&scan);
            snapshot::diff_trees(&self.store, Some(d.id), &trees, Some(trees.root.0))?
        };
        let purged = self.purged_changes(d, &changes)?;
        let st = DatasetStatus {
            path: d.path.clone(),
            missing: false,
            changes,
            purged,
        };
        Ok((st, cache, hs))
    }

    /// Which modified or deleted paths of `changes` had content at HEAD
    /// that a purge erased.
    fn purged_changes(
        &self,
        d: &DatasetEntry,
        changes: &FileChanges,
    ) -> Result<Vec<String>, RepoError> {
        let purged = self.store.purged();
        if purged.is_empty() || (changes.modified.is_empty() && changes.deleted.is_empty()) {
            return Ok(Vec::new());
        }
        let flat = self.flatten_dataset(Some(d))?;
        Ok(changes
            .modified
            .iter()
            .chain(&changes.deleted)
            .filter(|p| {
                flat.get(p.as_str())
                    .is_some_and(|e| purged.record_of(&e.id).is_some())
            })
            .cloned()
            .collect())
    }

    /// Scans a dataset in the working tree (hashing without storing) and
    /// flattens it; paths are relative to the dataset, `""` for one file.
    /// With `lock` (a writer), temporary files a killed writer left in the
    /// dataset are removed on the way.
    pub(crate) fn scan_flat(
        &self,
        path: &str,
        index: Option<&Index>,
        stamp: i128,
        lock: Option<&crate::lock::RepoLock>,
        progress: &dyn Progress,
    ) -> Result<FlatScan, RepoError> {
        let abs = self.abs(path);
        let mut scan = snapshot::scan(&abs, Some(&self.repo_ignore()))?;
        if lock.is_some() {
            scan.remove_temps();
        }
        let cache = index.map(|ix| ix.stat_cache(path)).unwrap_or_default();
        let (cache, hs) = snapshot::resolve_ids(&mut scan, &abs, &cache, None, stamp, progress)?;
        Ok((snapshot::flatten_scan(&scan), cache, hs))
    }

    pub(super) fn untracked(&self, datasets: &[DatasetEntry]) -> Result<Vec<String>, RepoError> {
        let mut out = Vec::new();
        let rd = std::fs::read_dir(&self.work).map_err(RepoError::io(&self.work))?;
        for e in rd {
            let e = e.map_err(RepoError::io(&self.work))?;
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name == super::DOT_FOLIO
                || name == snapshot::IGNORE_FILE
                || name.starts_with(crate::fsutil::TEMP_PREFIX)
            {
                continue;
            }
            let covered = datasets
                .iter()
                .any(|d| super::is_within(&d.path, &name) || super::is_within(&name, &d.path));
            if !covered {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }
}
