//! `commit`: snapshot datasets into the store and move the branch.

use std::path::PathBuf;

use super::TableOptions;
use super::examples::{CommitDelta, EventContext, Meta};
use super::ledger::nonce;
use super::{Repo, RepoError, is_within};
use crate::id::CommitId;
use crate::index::DatasetCache;
use crate::ledger::batch::BatchBuilder;
use crate::ledger::merkle;
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

impl CommitOptions {
    /// A commit a command makes for the user (a merge, a revert): every
    /// dataset in `paths`, made even when the data did not change, with no
    /// metadata of its own.
    pub(crate) fn made_for(
        paths: Vec<PathBuf>,
        message: String,
        author: String,
        time: i64,
    ) -> CommitOptions {
        CommitOptions {
            paths,
            message,
            author,
            time,
            allow_empty: true,
            tables: TableOptions::default(),
            source: None,
            meta: Meta::default(),
            meta_file: None,
        }
    }
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
    /// The folder dataset whose files its rows describe (`links`), if any.
    pub links: Option<String>,
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

/// The datasets of a commit as snapshotted from the working tree.
#[derive(Default)]
struct Snapshotted {
    /// Every dataset entry of the new commit, sorted by path.
    entries: Vec<DatasetEntry>,
    /// Refreshed stat caches, per dataset.
    caches: Vec<(String, DatasetCache)>,
    /// What changed, per snapshotted dataset.
    changes: Vec<(String, FileChanges)>,
    /// The table files found in them.
    table_files: Vec<super::TableFile>,
    stats: HashStats,
    skipped: Vec<String>,
    /// The files (full paths) of each snapshotted dataset a table links to.
    linked_files: std::collections::HashMap<String, std::collections::HashSet<String>>,
}

/// What the parent commit holds.
struct Parent {
    id: Option<CommitId>,
    datasets: Vec<DatasetEntry>,
    tables: Vec<TableRef>,
    /// The manifests of its tables, by path.
    manifests: std::collections::HashMap<String, crate::table::manifest::Manifest>,
}

/// Metadata given on the command line and in a sidecar, checked.
struct GivenMeta {
    classes: Vec<String>,
    sidecar: std::cell::RefCell<std::collections::HashMap<String, (u64, Meta)>>,
    sidecar_name: String,
}

impl Repo {
    /// Snapshots datasets and records a commit on the current branch.
    pub fn commit(
        &self,
        lock: &RepoLock,
        opts: &CommitOptions,
        progress: &dyn Progress,
    ) -> Result<CommitOutcome, RepoError> {
        if self.merge_state()?.is_some() {
            return Err(RepoError::MergeInProgress);
        }
        self.commit_with(lock, opts, progress, None, &[])
    }

    /// [`Repo::commit`], or the commit of a merge (`merge`): two parents,
    /// and ledger events that correct, for the examples the merged branch
    /// changed, what its history says where the merged data differs.
    pub(crate) fn commit_with(
        &self,
        lock: &RepoLock,
        opts: &CommitOptions,
        progress: &dyn Progress,
        merge: Option<&super::merge::MergeState>,
        extra: &[crate::ledger::Draft],
    ) -> Result<CommitOutcome, RepoError> {
        let mut parent = self.parent()?;
        let theirs = merge.map(|m| self.read_commit(m.theirs)).transpose()?;
        if let Some(t) = &theirs {
            // Keys are sticky across the merge too (D19).
            for (p, m) in self.parent_manifests(&t.tables)? {
                parent.manifests.entry(p).or_insert(m);
            }
        }
        let config = self.config()?;
        let targets = self.commit_targets(&parent.datasets, &opts.paths)?;
        // Refuse bad batch or sidecar metadata before anything is written.
        let given = given_meta(&config, opts)?;
        let sealed = sealed_datasets(&config, &targets, opts)?;
        let index = self.open_index_rw(lock)?;
        let mut writer = self.store.writer()?;
        let mut sealed_writer = match &sealed {
            Some((_, seal)) => Some(self.store.sealed_writer(seal.clone())?),
            None => None,
        };
        let sealing = Sealing {
            datasets: sealed.as_ref().map(|s| &s.0),
            writer: sealed_writer.as_ref(),
        };
        let mut snap = self.snapshot_datasets(
            &index, &writer, &sealing, &config, &parent, &targets, opts, progress,
        )?;
        check_keys(&opts.tables, &snap.table_files)?;
        let mut built = self.build_tables(&snap.table_files, &parent.manifests)?;
        add_skeletons(
            &config,
            &writer,
            &sealing,
            &mut built,
            (&self.store, &parent.manifests),
        )?;
        let (tables, summaries) =
            store_tables(&config, &writer, &sealing, &built, &parent.tables, &targets)?;
        let outcome = |commit, events, snap: Snapshotted| CommitOutcome {
            commit,
            changes: snap.changes,
            stats: snap.stats,
            skipped: snap.skipped,
            tables: summaries.clone(),
            events,
        };
        let pending = match self.refs.head()? {
            Head::Branch(b) => self.pending(&b)?,
            Head::Detached(_) => Vec::new(),
        };
        let unchanged = snap.entries == parent.datasets && tables == parent.tables;
        // Batch metadata describes the examples a commit adds: with no
        // change there are none, and the flags would be dropped.
        if unchanged && merge.is_none() && opts.meta_file.is_none() {
            let flags: Vec<&str> = batch_flags(opts);
            if !flags.is_empty() {
                return Err(RepoError::MetaRefused(format!(
                    "{} describe{} the examples a commit adds, and nothing changed: record metadata of existing examples with `folio annotate SELECTOR --label …` (or `folio commit --meta FILE` with a row per example)",
                    flags.join(", "),
                    if flags.len() == 1 { "s" } else { "" }
                )));
            }
        }
        // A sidecar names existing examples: its metadata is the commit.
        let sidecar_only = opts.meta_file.is_some() && !given.sidecar.borrow().is_empty();
        if unchanged && pending.is_empty() && !opts.allow_empty && !sidecar_only && merge.is_none()
        {
            // Nothing changed: the unfinished pack is discarded on drop.
            drop(writer);
            self.save_caches(&index, &snap.caches)?;
            return Ok(outcome(None, 0, snap));
        }
        // The ledger: record the examples this commit adds and removes, and
        // attest the new head in the commit.
        // The files of linked datasets this commit did not snapshot are
        // their parent's.
        let mut linked_files = std::mem::take(&mut snap.linked_files);
        for (_, l) in config.links() {
            let d = l.dataset.trim_end_matches('/');
            if linked_files.contains_key(d) {
                continue;
            }
            if let Some(e) = snap.entries.iter().find(|e| e.path == d) {
                let files = self
                    .flatten_dataset(Some(e))?
                    .into_iter()
                    .filter(|(_, f)| f.kind != crate::object::EntryKind::Tree)
                    .map(|(rel, _)| super::join_path(d, &rel))
                    .collect();
                linked_files.insert(d.to_string(), files);
            }
        }
        let delta = CommitDelta {
            linked_files: &linked_files,
            datasets: &targets,
            changes: &snap.changes,
            old_tables: &parent.tables,
            parent_manifests: &parent.manifests,
            built: &built,
        };
        // The index windows of this commit's `Rows` events, collected on the
        // walk that checks their rows (so indexing does not walk them again).
        let mut known = super::ledger::KnownWindows::new();
        let (own, hashes) = match (merge, &theirs) {
            (Some(m), Some(_)) => {
                // Corrections read the merged trees and tables from the
                // store: they must be readable first.
                if let Some(sw) = sealed_writer.take() {
                    sw.finish()?;
                }
                writer.finish()?;
                writer = self.store.writer()?;
                let ctx = self.event_context(opts, &config, &given);
                let now = (snap.entries.as_slice(), tables.as_slice());
                let ours = parent.id.ok_or(RepoError::NoCommits)?;
                self.merge_corrections(&ctx, m, now, ours, nonce(), extra)?
            }
            _ => self.commit_events(&parent, opts, &config, &given, &delta, extra, &mut known)?,
        };
        let events = hashes.len() as u64;
        let mut batches = pending.clone();
        if let Some((bytes, n)) = &own {
            batches.push((writer.put(bytes)?, *n));
        }
        // The head of the new ledger: the parent's, then (for a merge) the
        // batches the merged history brings, then the pending batches,
        // then this commit's own events.
        let mut frontier = self.ledger_frontier(parent.id)?;
        if let (Some(m), Some(ours)) = (merge, parent.id) {
            let brought = self.brought_parts(ours, m.theirs)?;
            self.extend_frontier(&mut frontier, &brought)?;
        }
        let start = frontier.size;
        let pending_parts: Vec<crate::ledger::query::Part> = pending
            .iter()
            .map(|&(batch, count)| crate::ledger::query::Part {
                batch,
                commit: None,
                start,
                count,
            })
            .collect();
        self.extend_frontier(&mut frontier, &pending_parts)?;
        for h in &hashes {
            frontier.push(merkle::leaf(h));
        }
        let commit = Commit {
            parents: parent
                .id
                .into_iter()
                .chain(merge.map(|m| m.theirs))
                .collect(),
            datasets: snap.entries.clone(),
            tables,
            ledger: (frontier.size > 0).then(|| (frontier.size, frontier.root())),
            events: batches,
            author: opts.author.clone(),
            time: opts.time,
            message: opts.message.clone(),
        };
        if let Some(sw) = sealed_writer.take() {
            sw.finish()?;
        }
        let id = CommitId(writer.put(&commit.encode())?);
        writer.finish()?;
        crate::failpoint::hit("commit:objects-stored");
        self.move_head_to(id)?;
        crate::failpoint::hit("commit:head-moved");
        // The commit is done once HEAD moved: what follows is tidying and
        // derived data, whose failure (a full disk) must not report the
        // commit as failed (D73).
        if let Ok(Head::Branch(b)) = self.refs.head() {
            // The commit lists them now; a crash or a failure here leaves
            // a list that `pending` filters.
            let _ = self.set_pending(&b, &[]);
        }
        if merge.is_some() {
            self.merge_done()?;
        }
        // The commit is done: the derived indexes follow. A failure leaves
        // them behind, which readers tolerate (they read unindexed batches).
        crate::failpoint::hit("commit:before-index");
        self.cache_frontier(lock, id, &frontier);
        if let (Some((bytes, _)), Some((batch, _))) = (&own, commit.events.last()) {
            let _ = self.index_batch(lock, batch, bytes, std::mem::take(&mut known));
        }
        let _ = self.save_caches(&index, &snap.caches);
        let keep: Vec<&str> = commit.datasets.iter().map(|d| d.path.as_str()).collect();
        let old = &parent.datasets;
        if keep.len() != old.len() || old.iter().any(|d| !keep.contains(&d.path.as_str())) {
            let _ = index.retain_datasets(&keep);
        }
        Ok(outcome(Some(id), events, snap))
    }

    fn event_context<'a>(
        &self,
        opts: &'a CommitOptions,
        config: &'a crate::config::Config,
        given: &'a GivenMeta,
    ) -> EventContext<'a> {
        EventContext {
            actor: &opts.author,
            time: opts.time,
            source: opts.source.as_deref(),
            batch: &opts.meta,
            sidecar: &given.sidecar,
            sidecar_name: &given.sidecar_name,
            config,
            classes: given.classes.clone(),
            spill: self.tmp_dir(),
        }
    }

    /// Encodes the events of `delta` into this commit's own batch; returns
    /// the batch (its bytes and event count; none when there are no
    /// events) and the events' hashes; `known` gets the index windows of
    /// its `Rows` events.
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    fn commit_events(
        &self,
        parent: &Parent,
        opts: &CommitOptions,
        config: &crate::config::Config,
        given: &GivenMeta,
        delta: &CommitDelta<'_>,
        extra: &[crate::ledger::Draft],
        known: &mut super::ledger::KnownWindows,
    ) -> Result<(Option<(Vec<u8>, u64)>, Vec<merkle::Hash>), RepoError> {
        let ctx = self.event_context(opts, config, given);
        let mut out = BatchBuilder::new(parent.id, nonce());
        *known = self.example_events(&ctx, delta, &mut |d| {
            Ok(out.push(&crate::ledger::Event::from(d))?)
        })?;
        for d in extra {
            out.push(&crate::ledger::Event::from(d.clone()))?;
        }
        let n = out.len();
        let built = out.finish()?;
        Ok(((n > 0).then_some((built.bytes, n)), built.hashes))
    }

    /// HEAD's commit and what it holds.
    fn parent(&self) -> Result<Parent, RepoError> {
        let id = self.head_commit()?;
        let commit = id.map(|p| self.read_commit(p)).transpose()?;
        let (datasets, tables) = commit
            .as_ref()
            .map(|c| (c.datasets.clone(), c.tables.clone()))
            .unwrap_or_default();
        Ok(Parent {
            id,
            manifests: self.parent_manifests(&tables)?,
            datasets,
            tables,
        })
    }

    /// Moves the current branch (or a detached HEAD) to `id`.
    pub(super) fn move_head_to(&self, id: CommitId) -> Result<(), RepoError> {
        match self.refs.head()? {
            Head::Branch(b) => self.refs.set(RefKind::Branch, &b, id)?,
            Head::Detached(_) => self.refs.set_head(&Head::Detached(id))?,
        }
        Ok(())
    }

    /// Walks, hashes and stores each target dataset; builds its trees and
    /// compares them with the parent's. Untouched datasets are kept.
    #[allow(clippy::too_many_arguments)]
    fn snapshot_datasets(
        &self,
        index: &crate::index::Index,
        writer: &crate::store::Writer,
        sealing: &Sealing<'_, '_>,
        config: &crate::config::Config,
        parent: &Parent,
        targets: &[String],
        opts: &CommitOptions,
        progress: &dyn Progress,
    ) -> Result<Snapshotted, RepoError> {
        let stamp = index.stamp()?;
        let old = &parent.datasets;
        let mut out = Snapshotted {
            entries: old
                .iter()
                .filter(|d| !targets.contains(&d.path))
                .cloned()
                .collect(),
            ..Default::default()
        };
        for path in targets {
            let abs = self.abs(path);
            let prev = old.iter().find(|d| &d.path == path);
            if std::fs::symlink_metadata(&abs).is_err() {
                // A tracked dataset that is gone from the working tree.
                if let Some(p) = prev {
                    out.changes
                        .push((path.clone(), self.dataset_changes(Some(p), None)?));
                }
                continue;
            }
            let mut scan = snapshot::scan(&abs, Some(&self.repo_ignore()))?;
            scan.remove_temps();
            let cache = index.stat_cache(path);
            // A sealed dataset's files go through the sealing writer; its
            // trees (names and sizes) stay readable (D83).
            let contents = sealing.writer_for(path).unwrap_or(writer);
            let (cache, st) =
                snapshot::resolve_ids(&mut scan, &abs, &cache, Some(contents), stamp, progress)?;
            out.stats.hashed_files += st.hashed_files;
            out.stats.hashed_bytes += st.hashed_bytes;
            out.stats.cached_files += st.cached_files;
            out.skipped
                .extend(scan.skipped.iter().map(|s| format!("{path}/{s}")));
            out.table_files.extend(self.table_files(
                config,
                path,
                &scan,
                &parent.manifests,
                &opts.tables,
            )?);
            if config
                .links()
                .any(|(_, l)| l.dataset.trim_end_matches('/') == path)
            {
                let files = scan
                    .entries
                    .iter()
                    .map(|e| super::join_path(path, &e.path))
                    .collect();
                out.linked_files.insert(path.clone(), files);
            }
            let (entry, ch) = self.dataset_entry(path, prev, &scan, writer)?;
            if prev != Some(&entry) {
                out.changes.push((path.clone(), ch));
            }
            out.entries.push(entry);
            if let Some(cache) = cache {
                out.caches.push((path.clone(), cache));
            }
        }
        out.entries
            .sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        Ok(out)
    }

    /// The entry of a scanned dataset and its changes against `prev`; a
    /// folder's trees are compared in memory, then written.
    fn dataset_entry(
        &self,
        path: &str,
        prev: Option<&DatasetEntry>,
        scan: &snapshot::Scan,
        writer: &crate::store::Writer,
    ) -> Result<(DatasetEntry, FileChanges), RepoError> {
        if scan.single_file {
            let e = &scan.entries[0];
            let entry = DatasetEntry {
                path: path.to_string(),
                kind: e.kind,
                id: e.id.expect("resolved"),
                size: e.size,
            };
            let ch = self.dataset_changes(prev, Some(&entry))?;
            return Ok((entry, ch));
        }
        let trees = WorkTrees::build(scan);
        let root = Some(trees.root.0);
        let ch = match prev.filter(|p| p.kind == EntryKind::Tree) {
            Some(p) => snapshot::diff_trees(&self.store, Some(p.id), &trees, root)?,
            None => {
                let mut ch = snapshot::diff_trees(&self.store, None, &trees, root)?;
                if prev.is_some() {
                    ch.deleted.push(String::new());
                }
                ch
            }
        };
        trees.write(writer)?;
        let entry = DatasetEntry {
            path: path.to_string(),
            kind: EntryKind::Tree,
            id: trees.root.0,
            size: trees.size,
        };
        Ok((entry, ch))
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
        let root = std::fs::canonicalize(&self.work).ok();
        for g in given {
            // `commit .` (the working tree itself): every tracked dataset
            // and each top-level entry no dataset covers, as its own
            // dataset; hidden entries (.git, .DS_Store) only when named.
            if root.is_some() && std::fs::canonicalize(g).ok() == root {
                let untracked = self.untracked(old)?;
                let all = old
                    .iter()
                    .map(|d| d.path.clone())
                    .chain(untracked.into_iter().filter(|n| !n.starts_with('.')));
                for p in all {
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
                continue;
            }
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

/// Checks the metadata flags and reads the sidecar, before anything is
/// written.
fn given_meta(
    config: &crate::config::Config,
    opts: &CommitOptions,
) -> Result<GivenMeta, RepoError> {
    let classes = config.sensitivities();
    crate::ledger::values::text("the author", &opts.author, crate::ledger::values::MAX_NAME)?;
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
    Ok(GivenMeta {
        classes,
        sidecar: std::cell::RefCell::new(sidecar),
        sidecar_name: opts
            .meta_file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default(),
    })
}

/// Stores the chunks and manifests of rebuilt tables; returns the new
/// commit's table list (tables outside the targets kept) and a summary of
/// each table read.
fn store_tables(
    config: &crate::config::Config,
    writer: &crate::store::Writer,
    sealing: &Sealing<'_, '_>,
    built: &[super::BuiltTable],
    old: &[TableRef],
    targets: &[String],
) -> Result<(Vec<TableRef>, Vec<TableSummary>), RepoError> {
    let mut tables: Vec<TableRef> = old
        .iter()
        .filter(|t| !targets.iter().any(|d| is_within(&t.path, d)))
        .cloned()
        .collect();
    let mut summaries = Vec::new();
    for b in built {
        if let Some(chunks) = &b.chunks {
            // Compressed on every core; their ids were computed as they
            // were cut.
            use rayon::prelude::*;
            // A sealed table's rows are sealed; its manifest root (columns,
            // counts, chunk ids) stays readable, so history can be walked
            // without an identity (D83).
            let rows = sealing.writer_for(&b.path).unwrap_or(writer);
            refuse_purged_rows(writer, &b.path, chunks)?;
            chunks
                .ids()
                .par_iter()
                .try_for_each(|id| -> Result<(), RepoError> {
                    let bytes = chunks.get(id)?.expect("listed");
                    Ok(rows.put_with_id(*id, &bytes)?)
                })
                .map_err(|e| match e {
                    // A purged row, committed again (D86).
                    RepoError::Store(crate::store::StoreError::Purged { record, .. }) => {
                        RepoError::from(crate::snapshot::SnapshotError::Purged {
                            path: b.path.clone().into(),
                            record,
                        })
                    }
                    other => other,
                })?;
            writer.put(&b.manifest.encode())?;
        }
        tables.push(b.table_ref());
        summaries.push(TableSummary {
            path: b.path.clone(),
            rows: b.manifest.rows,
            columns: b.manifest.columns.len(),
            key: b.manifest.key.clone(),
            rejected: b.manifest.rejected.clone(),
            parsed: b.chunks.is_some(),
            links: config
                .table(&b.path)
                .links
                .map(|l| l.dataset.trim_end_matches('/').to_string()),
        });
    }
    tables.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok((tables, summaries))
}

/// Gives every new chunk of a sealed table a readable skeleton (its rows'
/// identities, counts and mapped metadata: D83), stored plain and named by
/// the manifest beside its chunk, so history, `audit` and `lineage` read
/// the table without an identity. A chunk of the parent version keeps
/// the skeleton it has there (a rebuild does not hold it again, D96).
fn add_skeletons(
    config: &crate::config::Config,
    writer: &crate::store::Writer,
    sealing: &Sealing<'_, '_>,
    built: &mut [super::BuiltTable],
    (store, parents): (
        &crate::store::Store,
        &std::collections::HashMap<String, crate::table::manifest::Manifest>,
    ),
) -> Result<(), RepoError> {
    use rayon::prelude::*;
    for b in built.iter_mut() {
        let Some(chunks) = &b.chunks else { continue };
        if sealing.writer_for(&b.path).is_none() {
            continue;
        }
        let t = config.table(&b.path);
        let mut columns = crate::ledger::rows::mapped_columns(&t.meta);
        columns.extend(t.links.as_ref().map(|l| l.column.clone()));
        let kept: std::collections::HashMap<crate::id::ObjectId, crate::id::ChunkId> = parents
            .get(&b.path)
            .into_iter()
            .flat_map(|m| &m.chunks)
            .filter_map(|c| Some((c.id.0, c.skeleton?)))
            .collect();
        let all = chunks.over(store);
        let made = b
            .manifest
            .chunks
            .par_iter()
            .map(|c| c.id.0)
            .filter(|id| !kept.contains_key(id))
            .map(|id| {
                let bytes = crate::table::manifest::ChunkSource::chunk(&all, &id)?;
                let (sid, sbytes) = crate::table::manifest::skeleton(id, &bytes, &columns)?;
                writer.put_with_id(sid, &sbytes)?;
                Ok((id, (sid, sbytes)))
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        let of: std::collections::HashMap<_, _> =
            made.iter().map(|(id, (sid, _))| (*id, *sid)).collect();
        for c in &mut b.manifest.chunks {
            c.skeleton = match of.get(&c.id.0) {
                Some(s) => Some(crate::id::ChunkId(*s)),
                None => kept.get(&c.id.0).copied(),
            };
        }
        // Kept for the walk that records the commit's events, which reads
        // the table through them (not made again).
        b.skeletons = made.into_iter().map(|(_, s)| s).collect();
    }
    Ok(())
}

/// Which datasets of a commit are sealed, and the writer that seals.
struct Sealing<'a, 's> {
    datasets: Option<&'a std::collections::BTreeSet<String>>,
    writer: Option<&'a crate::store::Writer<'s>>,
}

impl<'a, 's> Sealing<'a, 's> {
    /// The sealing writer, for a path in a sealed dataset.
    fn writer_for(&self, path: &str) -> Option<&'a crate::store::Writer<'s>> {
        let sealed = self
            .datasets
            .is_some_and(|d| d.iter().any(|d| is_within(path, d)));
        if sealed { self.writer } else { None }
    }
}

/// The datasets a commit seals, and the seal of the configured recipients.
type SealedSet = (
    std::collections::BTreeSet<String>,
    std::sync::Arc<crate::crypt::Seal>,
);

/// The datasets of this commit whose contents are sealed (D83): those the
/// config marks `encrypt = true`, and every one when the commit gives a
/// sensitivity of a sealed class (`--sensitivity pii`) and recipients are
/// configured; with the seal of those recipients. `None` when nothing is
/// sealed.
fn sealed_datasets(
    config: &crate::config::Config,
    targets: &[String],
    opts: &CommitOptions,
) -> Result<Option<SealedSet>, RepoError> {
    let class = opts
        .meta
        .sensitivity
        .as_deref()
        .map(str::to_ascii_lowercase)
        // A sensitive class is sealed once recipients are configured (a
        // repository without [encryption] keeps working as before: D83).
        .filter(|s| {
            config.encryption.classes.contains(s) && !config.encryption.recipients.is_empty()
        });
    let set: std::collections::BTreeSet<String> = targets
        .iter()
        .filter(|t| class.is_some() || config.datasets.get(t.as_str()).is_some_and(|d| d.encrypt))
        .cloned()
        .collect();
    if set.is_empty() {
        return Ok(None);
    }
    if config.encryption.recipients.is_empty() {
        let why = match &class {
            Some(c) => format!("the commit's sensitivity is {c}"),
            None => "it is configured `encrypt = true`".into(),
        };
        return Err(RepoError::Seal(format!(
            "{} is to be stored encrypted ({why}) but [encryption] recipients lists no one: add an age public key to .folio/config.toml (age-keygen -o key.txt prints one) and keep the identity outside the repository",
            set.iter().next().expect("non-empty")
        )));
    }
    let seal = crate::crypt::Seal::parse(&config.encryption.recipients)
        .map_err(|e| RepoError::Seal(e.to_string()))?;
    Ok(Some((set, std::sync::Arc::new(seal))))
}

/// Key columns from the command line must each apply to a table read: a
/// bare `--key` to the one table (with several, it is ambiguous), a
/// `--key TABLE=…` to a table of the commit.
fn check_keys(opts: &TableOptions, files: &[super::TableFile]) -> Result<(), RepoError> {
    let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for table in opts.keys.keys() {
        if !names.contains(&table.as_str()) {
            return Err(RepoError::KeyRefused(format!(
                "--key {table}=…: {table} is not a table this commit reads (it reads {})",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        }
    }
    let unnamed: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !opts.keys.contains_key(*n))
        .collect();
    if !opts.key.is_empty() && unnamed.len() > 1 {
        let key = opts.key.join(",");
        return Err(RepoError::KeyRefused(format!(
            "--key {key} would apply to {} tables ({}): name the table, --key {}={key}, or set `key = [...]` under [tables.\"{}\"] in .folio/config.toml",
            unnamed.len(),
            unnamed.join(", "),
            unnamed[0],
            unnamed[0]
        )));
    }
    Ok(())
}

/// The batch metadata flags a commit was given, by flag name.
fn batch_flags(opts: &CommitOptions) -> Vec<&'static str> {
    let m = &opts.meta;
    [
        ("--source", opts.source.is_some() || m.source.is_some()),
        ("--collected-at", m.collected_at.is_some()),
        ("--label", m.label.is_some()),
        ("--annotator", m.annotator.is_some()),
        ("--confidence", m.confidence.is_some()),
        ("--cost", m.cost.is_some()),
        ("--labelling-cost", m.labelling_cost.is_some()),
        ("--vendor", m.vendor.is_some()),
        ("--license", m.license.is_some()),
        ("--sensitivity", m.sensitivity.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, given)| given.then_some(f))
    .collect()
}

/// A row a purge erased is never committed again (D86), whatever chunk it
/// lands in: refused naming the table and the row.
fn refuse_purged_rows(
    writer: &crate::store::Writer,
    path: &str,
    chunks: &crate::table::chunkset::ChunkSet,
) -> Result<(), RepoError> {
    let purged = writer.purged();
    if purged.hashes.is_empty() {
        return Ok(());
    }
    for id in chunks.ids() {
        let bytes = chunks.get(&id)?.expect("listed");
        for row in crate::table::manifest::decode_chunk(id, &bytes)? {
            let h = crate::id::ObjectId(crate::table::row_hash(&row.body));
            if purged.hashes.contains(&h) {
                return Err(RepoError::PurgedContent(format!(
                    "{path}: row {} was purged from this repository (row hash {}; `folio purge --list`): folio does not store it again — remove it from the file, or `folio restore {path}` writes the table without it",
                    crate::table::display_key(&row.ident),
                    h.short(12)
                )));
            }
        }
    }
    Ok(())
}
