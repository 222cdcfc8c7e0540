//! `commit`: snapshot datasets into the store and move the branch.

use std::path::PathBuf;

use super::TableOptions;
use super::examples::{CommitDelta, EventContext, Meta};
use super::{Repo, RepoError, is_within};
use crate::id::CommitId;
use crate::index::DatasetCache;
use crate::ledger::{Head as LedgerHead, Ledger};
use crate::lock::RepoLock;
use crate::object::{Commit, DatasetEntry, EntryKind, TableRef};
use crate::progress::Progress;
use crate::refs::{Head, RefKind};
use crate::snapshot::{self, FileChanges, HashStats, WorkTrees};

/// What to commit.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// Datasets to snapshot; empty means every tracked dataset.
    pub paths: Vec<PathBuf>,
    /// The message.
    pub message: String,
    /// The author.
    pub author: String,
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// Create a commit even when nothing changed.
    pub allow_empty: bool,
    /// How tables are read (key override, lenient mode).
    pub tables: TableOptions,
    /// Where the examples this commit adds come from (recorded in the ledger).
    pub source: Option<String>,
    /// Ledger metadata for every example this commit adds (table columns
    /// mapped in the config take precedence, row by row).
    pub meta: Meta,
    /// A sidecar file of per-example metadata (it takes precedence over
    /// columns and flags).
    pub meta_file: Option<PathBuf>,
}

/// What a commit recorded about one table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableSummary {
    /// Path relative to the working tree.
    pub path: String,
    /// Rows read.
    pub rows: u64,
    /// Columns.
    pub columns: usize,
    /// Key columns (empty: rows are identified by content).
    pub key: Vec<String>,
    /// Lines rejected in lenient mode: (line, reason).
    pub rejected: Vec<(u64, String)>,
    /// False when the parent's manifest was reused (file unchanged).
    pub parsed: bool,
}

/// What `commit` did.
#[derive(Debug)]
pub struct CommitOutcome {
    /// The new commit, or `None` when nothing changed.
    pub commit: Option<CommitId>,
    /// Per snapshotted dataset, what changed against the parent.
    pub changes: Vec<(String, FileChanges)>,
    /// Hashing work done.
    pub stats: HashStats,
    /// Paths skipped (sockets, devices, fifos).
    pub skipped: Vec<String>,
    /// Tables of the snapshotted datasets.
    pub tables: Vec<TableSummary>,
    /// Ledger events recorded (examples added and removed).
    pub events: u64,
}

impl Repo {
    /// Snapshots datasets and records a commit on the current branch.
    pub fn commit(
        &self,
        lock: &RepoLock,
        opts: &CommitOptions,
        progress: &dyn Progress,
    ) -> Result<CommitOutcome, RepoError> {
        let branch_head = self.refs.head()?;
        let parent = self.refs.head_commit()?;
        let parent_commit = parent.map(|p| self.read_commit(p)).transpose()?;
        let old: Vec<DatasetEntry> = parent_commit
            .as_ref()
            .map(|c| c.datasets.clone())
            .unwrap_or_default();

        let old_tables = parent_commit
            .as_ref()
            .map(|c| c.tables.clone())
            .unwrap_or_default();
        let config = self.config()?;
        let parent_manifests = self.parent_manifests(&old_tables)?;
        let targets = self.commit_targets(&old, &opts.paths)?;
        // Refuse bad batch or sidecar metadata before anything is written.
        let classes = config.sensitivities();
        opts.meta
            .payloads(None, &classes)
            .map_err(|source| RepoError::ValueAt {
                at: "commit flags".into(),
                source,
            })?;
        let sidecar = match &opts.meta_file {
            Some(f) => super::examples::read_sidecar(f, &classes)?,
            None => Default::default(),
        };
        let sidecar_name = opts
            .meta_file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        let sidecar = std::cell::RefCell::new(sidecar);
        let index = self.open_index_rw(lock)?;
        let stamp = index.stamp()?;
        let writer = self.store.writer()?;
        let mut stats = HashStats::default();
        let mut skipped = Vec::new();
        let mut new_entries: Vec<DatasetEntry> = old
            .iter()
            .filter(|d| !targets.contains(&d.path))
            .cloned()
            .collect();
        let mut caches: Vec<(String, DatasetCache)> = Vec::new();
        let mut changes = Vec::new();
        let mut table_files = Vec::new();
        for path in &targets {
            let abs = self.abs(path);
            let prev = old.iter().find(|d| &d.path == path);
            if std::fs::symlink_metadata(&abs).is_err() {
                // A tracked dataset that is gone from the working tree.
                if let Some(p) = prev {
                    changes.push((path.clone(), self.dataset_changes(Some(p), None)?));
                }
                continue;
            }
            let mut scan = snapshot::scan(&abs, Some(&self.repo_ignore()))?;
            let cache = index.stat_cache(path);
            let (cache, st) =
                snapshot::resolve_ids(&mut scan, &abs, &cache, Some(&writer), stamp, progress)?;
            stats.hashed_files += st.hashed_files;
            stats.hashed_bytes += st.hashed_bytes;
            stats.cached_files += st.cached_files;
            skipped.extend(scan.skipped.iter().map(|s| format!("{path}/{s}")));
            table_files.extend(self.table_files(
                &config,
                path,
                &scan,
                &parent_manifests,
                &opts.tables,
            ));
            let (entry, ch) = if scan.single_file {
                let e = &scan.entries[0];
                let entry = DatasetEntry {
                    path: path.clone(),
                    kind: e.kind,
                    id: e.id.expect("resolved"),
                    size: e.size,
                };
                let ch = self.dataset_changes(prev, Some(&entry))?;
                (entry, ch)
            } else {
                let trees = WorkTrees::build(&scan);
                // Compare before writing: the new trees are in memory.
                let ch = match prev.filter(|p| p.kind == EntryKind::Tree) {
                    Some(p) => {
                        snapshot::diff_trees(&self.store, Some(p.id), &trees, Some(trees.root.0))?
                    }
                    None => {
                        let mut ch =
                            snapshot::diff_trees(&self.store, None, &trees, Some(trees.root.0))?;
                        if prev.is_some() {
                            ch.deleted.push(String::new());
                        }
                        ch
                    }
                };
                trees.write(&writer)?;
                let entry = DatasetEntry {
                    path: path.clone(),
                    kind: EntryKind::Tree,
                    id: trees.root.0,
                    size: trees.size,
                };
                (entry, ch)
            };
            if prev != Some(&entry) {
                changes.push((path.clone(), ch));
            }
            new_entries.push(entry);
            if let Some(cache) = cache {
                caches.push((path.clone(), cache));
            }
        }
        new_entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));

        // Tables: rebuild manifests of changed table files, keep the others.
        let built = self.build_tables(&table_files, &parent_manifests)?;
        let mut new_tables: Vec<TableRef> = old_tables
            .iter()
            .filter(|t| !targets.iter().any(|d| is_within(&t.path, d)))
            .cloned()
            .collect();
        let mut summaries = Vec::new();
        for b in &built {
            if let Some(chunks) = &b.chunks {
                for (_, bytes) in chunks {
                    writer.put(bytes)?;
                }
                writer.put(&b.manifest.encode())?;
            }
            new_tables.push(b.table_ref());
            summaries.push(TableSummary {
                path: b.path.clone(),
                rows: b.manifest.rows,
                columns: b.manifest.columns.len(),
                key: b.manifest.key.clone(),
                rejected: b.manifest.rejected.clone(),
                parsed: b.chunks.is_some(),
            });
        }
        new_tables.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));

        if new_entries == old && new_tables == old_tables && !opts.allow_empty {
            // Nothing changed: the unfinished pack is discarded on drop.
            drop(writer);
            self.save_caches(&index, &caches)?;
            return Ok(CommitOutcome {
                commit: None,
                changes,
                stats,
                skipped,
                tables: summaries,
                events: 0,
            });
        }
        // The ledger: record the examples this commit adds and removes, and
        // attest the new head in the commit.
        let ctx = EventContext {
            actor: &opts.author,
            time: opts.time,
            source: opts.source.as_deref(),
            batch: &opts.meta,
            sidecar: &sidecar,
            sidecar_name: &sidecar_name,
            config: &config,
            classes: classes.clone(),
        };
        let attested = parent_commit
            .as_ref()
            .and_then(|c| c.ledger)
            .map(|(size, root)| LedgerHead { size, root });
        let mut ledger = Ledger::open(&self.ledger_dir(), attested)?;
        let mut events_out = ledger.writer()?;
        let delta = CommitDelta {
            datasets: &targets,
            changes: &changes,
            old_tables: &old_tables,
            parent_manifests: &parent_manifests,
            built: &built,
        };
        let events = self.example_events(&ctx, &delta, &mut |d| Ok(events_out.push(d)?))?;
        let cp = events_out.finish()?;
        let head = cp.head();
        let commit = Commit {
            parents: parent.into_iter().collect(),
            datasets: new_entries,
            tables: new_tables,
            ledger: (head.size > 0).then_some((head.size, head.root)),
            author: opts.author.clone(),
            time: opts.time,
            message: opts.message.clone(),
        };
        let id = CommitId(writer.put(&commit.encode())?);
        writer.finish()?;
        match branch_head {
            Head::Branch(b) => self.refs.set(RefKind::Branch, &b, id)?,
            Head::Detached(_) => self.refs.set_head(&Head::Detached(id))?,
        }
        ledger.settle(cp)?;
        // The commit is done: the derived indexes follow. A failure leaves
        // them behind, which readers detect (they read the unindexed tail).
        let _ = self.update_ledger_index(lock);
        self.save_caches(&index, &caches)?;
        let keep: Vec<&str> = commit.datasets.iter().map(|d| d.path.as_str()).collect();
        if keep.len() != old.len() || old.iter().any(|d| !keep.contains(&d.path.as_str())) {
            index.retain_datasets(&keep)?;
        }
        Ok(CommitOutcome {
            commit: Some(id),
            changes,
            stats,
            skipped,
            tables: summaries,
            events,
        })
    }

    pub(super) fn save_caches(
        &self,
        index: &crate::index::Index,
        caches: &[(String, DatasetCache)],
    ) -> Result<(), RepoError> {
        let refs: Vec<(&str, &DatasetCache)> =
            caches.iter().map(|(p, c)| (p.as_str(), c)).collect();
        index.save_stat_caches(&refs)?;
        Ok(())
    }

    /// The dataset paths a commit snapshots: the given ones (validated)
    /// or every tracked one.
    fn commit_targets(
        &self,
        old: &[DatasetEntry],
        given: &[PathBuf],
    ) -> Result<Vec<String>, RepoError> {
        if given.is_empty() {
            if old.is_empty() {
                return Err(RepoError::NothingTracked);
            }
            return Ok(old.iter().map(|d| d.path.clone()).collect());
        }
        let mut out: Vec<String> = Vec::new();
        for g in given {
            let path = self.dataset_path(g)?;
            if out.contains(&path) {
                continue;
            }
            let tracked = old.iter().any(|d| d.path == path);
            if !tracked && std::fs::symlink_metadata(self.abs(&path)).is_err() {
                return Err(RepoError::PathNotFound(g.clone()));
            }
            if !tracked {
                for d in old.iter().map(|d| &d.path).chain(out.iter()) {
                    if is_within(&path, d) || is_within(d, &path) {
                        return Err(RepoError::BadDataset {
                            path: path.clone(),
                            reason: format!(
                                "overlaps the tracked dataset '{d}': datasets cannot be nested; commit '{d}' instead"
                            ),
                        });
                    }
                }
            }
            out.push(path);
        }
        Ok(out)
    }
}
