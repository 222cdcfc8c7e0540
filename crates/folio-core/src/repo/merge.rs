//! `merge`: joins another branch's history into the current one.
//!
//! Fast-forward when the current branch is an ancestor; otherwise a
//! three-way merge against the merge base, applied to the working tree
//! and committed with two parents. Files merge by path (changed on one
//! side: take it; on both, differently: a conflict); table files changed
//! on both sides merge by row identity, down to cells
//! (`table::merge`). The ledger needs no merging: the merge commit's
//! ledger is its first parent's, then the batches the other side's
//! history brings, then its own corrections (see `Repo::commit_with`).
//! With conflicts nothing is committed: the state is saved in
//! `.folio/MERGE`, the working tree holds the merged result with ours
//! where it conflicts, and `merge --ours/--theirs PATH`, `--continue` and
//! `--abort` finish the job.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{Repo, RepoError, is_within};
use crate::id::CommitId;
use crate::lock::RepoLock;
use crate::object::{Commit, DatasetEntry, EntryKind};
use crate::progress::Progress;
use crate::refs::{Head, RefKind};
use crate::snapshot::FlatEntry;
use crate::table::manifest::{ChunkRow, Manifest};
use crate::table::merge::{RowConflict, Side, column_order, merge_rows, three_way, write_ordered};

/// One path that conflicts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conflict {
    /// The file (a path of the working tree).
    pub path: String,
    /// What the base, ours and theirs hold there (a short blob id, or
    /// `None` when absent): set for file conflicts.
    pub file: Option<[Option<String>; 3]>,
    /// The conflicting rows and cells, for a table.
    pub rows: Vec<RowConflict>,
}

/// A merge waiting for its conflicts to be resolved (`.folio/MERGE`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MergeState {
    /// The branch's commit when the merge started.
    pub ours: CommitId,
    /// The commit being merged.
    pub theirs: CommitId,
    /// What it was named on the command line.
    pub theirs_name: String,
    /// The merge base, if the histories share one.
    pub base: Option<CommitId>,
    /// The commit message to use.
    pub message: String,
    /// What conflicts.
    pub conflicts: Vec<Conflict>,
    /// For each conflicted path, the BLAKE3 of what the merge wrote there
    /// (`None`: nothing), to tell a hand-edited resolution.
    pub written: BTreeMap<String, Option<String>>,
    /// Paths resolved with `--ours` or `--theirs`.
    pub resolved: BTreeSet<String>,
    /// Every path the merge wrote or removed (what `--abort` restores).
    #[serde(default)]
    pub touched: Vec<String>,
}

/// A label two sides gave one example differently since the merge base.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LabelConflict {
    /// The example's locator.
    pub locator: String,
    /// Ours' latest label.
    pub ours: String,
    /// Theirs' latest label (the merged ledger's latest).
    pub theirs: String,
}

/// What `merge` did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum MergeOutcome {
    /// Theirs is already in the current branch's history.
    UpToDate,
    /// The branch moved forward to theirs.
    FastForward {
        /// The new head.
        to: CommitId,
    },
    /// A merge commit was made.
    Merged {
        /// It.
        commit: CommitId,
        /// Paths the merge changed in the working tree.
        changed: Vec<String>,
        /// Labels both sides set differently (reported, not picked).
        labels: Vec<LabelConflict>,
    },
    /// Conflicts wait in the working tree; nothing was committed.
    Conflicted {
        /// The saved state.
        state: MergeState,
        /// Labels both sides set differently.
        labels: Vec<LabelConflict>,
    },
}

/// Who, when and what message, for the merge commit.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// The author.
    pub author: String,
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// The message (default "Merge NAME").
    pub message: Option<String>,
    /// Settle every conflict for one side.
    pub prefer: Option<Side>,
}

/// A path's change to the working tree.
pub(super) enum Write {
    /// The bytes of a blob of the store.
    Blob(FlatEntry),
    /// Bytes the merge made (a merged table).
    Bytes(Vec<u8>),
    /// Remove the file.
    Remove,
}

/// The merge of the three versions, planned.
#[derive(Default)]
pub(super) struct Plan {
    writes: Vec<(String, Write)>,
    pub(super) conflicts: Vec<Conflict>,
    pub(super) datasets: BTreeSet<String>,
}

/// A table's three-way merge: our chunks theirs holds too (their rows are
/// the result as they are), the rows the row merge gave, and its conflicts.
struct MergedTable {
    common: Vec<crate::table::manifest::ChunkRef>,
    diff: Vec<(Vec<u8>, u32, Vec<u8>)>,
    conflicts: Vec<RowConflict>,
}

impl Repo {
    fn merge_path(&self) -> std::path::PathBuf {
        self.dot.join("MERGE")
    }

    /// The merge in progress, if any.
    pub fn merge_state(&self) -> Result<Option<MergeState>, RepoError> {
        let path = self.merge_path();
        crate::fsutil::refuse_symlink(&path).map_err(RepoError::io(&path))?;
        let state: MergeState = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                RepoError::io(&path)(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "the saved merge state is damaged ({e}); delete it to abandon the merge"
                    ),
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RepoError::io(&path)(e)),
        };
        // Committed already (a crash before the state was cleared).
        if let Some(h) = self.head_commit()?
            && self.read_commit(h)?.parents == [state.ours, state.theirs]
        {
            self.clear_merge_state()?;
            return Ok(None);
        }
        Ok(Some(state))
    }

    fn save_merge_state(&self, s: &MergeState) -> Result<(), RepoError> {
        let path = self.merge_path();
        let bytes = serde_json::to_vec_pretty(s).expect("serializable");
        crate::fsutil::write_atomic(&path, &bytes).map_err(RepoError::io(&path))
    }

    fn clear_merge_state(&self) -> Result<(), RepoError> {
        let path = self.merge_path();
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RepoError::io(&path)(e)),
            _ => Ok(()),
        }
    }

    /// A common ancestor of `a` and `b` nearest to `b` (breadth first);
    /// `None` for unrelated histories.
    pub(crate) fn merge_base(
        &self,
        a: CommitId,
        b: CommitId,
    ) -> Result<Option<CommitId>, RepoError> {
        let mut anc = HashSet::new();
        self.post_order(a, &mut anc, &mut Vec::new())?;
        let mut queue = std::collections::VecDeque::from([b]);
        let mut seen = HashSet::new();
        while let Some(c) = queue.pop_front() {
            if anc.contains(&c) {
                return Ok(Some(c));
            }
            if seen.insert(c) {
                queue.extend(self.read_commit(c)?.parents);
            }
        }
        Ok(None)
    }

    /// Merges `theirs` (named `name`) into the current branch.
    pub fn merge(
        &self,
        lock: &RepoLock,
        theirs: CommitId,
        name: &str,
        opts: &MergeOptions,
        progress: &dyn Progress,
    ) -> Result<MergeOutcome, RepoError> {
        if self.merge_state()?.is_some() {
            return Err(RepoError::MergeInProgress);
        }
        let Head::Branch(branch) = self.refs.head()? else {
            return Err(RepoError::DetachedHead);
        };
        let ours = self.head_commit()?.ok_or(RepoError::NoCommits)?;
        let base = self.merge_base(ours, theirs)?;
        if base == Some(theirs) {
            return Ok(MergeOutcome::UpToDate);
        }
        let st = self.status(progress)?;
        if !st.is_clean() && !self.only_purged_changes(&st)? {
            return Err(RepoError::UncommittedChanges {
                paths: vec![
                    "(the working tree: commit or restore your changes before merging)".into(),
                ],
            });
        }
        if base == Some(ours) {
            self.checkout(lock, theirs, Head::Branch(branch.clone()), false, progress)?;
            self.refs.set(RefKind::Branch, &branch, theirs)?;
            return Ok(MergeOutcome::FastForward { to: theirs });
        }
        let (o, t) = (self.read_commit(ours)?, self.read_commit(theirs)?);
        let b = base.map(|c| self.read_commit(c)).transpose()?;
        let plan = self.plan_merge(b.as_ref(), &o, &t, opts.prefer)?;
        let changed: Vec<String> = plan.writes.iter().map(|w| w.0.clone()).collect();
        self.apply_merge(&plan)?;
        let labels = self.label_conflicts(base, ours, theirs)?;
        let message = opts
            .message
            .clone()
            .unwrap_or_else(|| format!("Merge {name} into {branch}"));
        let mut state = MergeState {
            ours,
            theirs,
            theirs_name: name.to_string(),
            base,
            message,
            conflicts: plan.conflicts,
            written: BTreeMap::new(),
            resolved: BTreeSet::new(),
            touched: changed.clone(),
        };
        if !state.conflicts.is_empty() {
            for c in &state.conflicts {
                state
                    .written
                    .insert(c.path.clone(), self.work_hash(&c.path));
            }
            self.save_merge_state(&state)?;
            return Ok(MergeOutcome::Conflicted { state, labels });
        }
        let commit = self.commit_merge(lock, &state, &plan.datasets, opts, progress)?;
        Ok(MergeOutcome::Merged {
            commit,
            changed,
            labels,
        })
    }

    /// BLAKE3 of a working-tree file, hex (`None`: absent).
    fn work_hash(&self, path: &str) -> Option<String> {
        std::fs::read(self.abs(path))
            .ok()
            .map(|b| blake3::hash(&b).to_hex().to_string())
    }

    /// Plans the three-way merge of every dataset.
    pub(super) fn plan_merge(
        &self,
        b: Option<&Commit>,
        o: &Commit,
        t: &Commit,
        prefer: Option<Side>,
    ) -> Result<Plan, RepoError> {
        let entry = |c: Option<&Commit>, p: &str| -> Option<DatasetEntry> {
            c.and_then(|c| c.datasets.iter().find(|d| d.path == p).cloned())
        };
        let mut plan = Plan::default();
        let paths: BTreeSet<String> = [b, Some(o), Some(t)]
            .into_iter()
            .flatten()
            .flat_map(|c| c.datasets.iter().map(|d| d.path.clone()))
            .collect();
        for ds in paths {
            let (eb, eo, et) = (entry(b, &ds), entry(Some(o), &ds), entry(Some(t), &ds));
            let key = |e: &Option<DatasetEntry>| e.as_ref().map(|d| (d.kind, d.id));
            if three_way(key(&eb), key(&eo), key(&et)) == Some(key(&eo)) {
                if eo.is_some() {
                    plan.datasets.insert(ds.clone());
                }
                continue; // ours is the result
            }
            let (fb, fo, ft) = (
                self.flatten_dataset(eb.as_ref())?,
                self.flatten_dataset(eo.as_ref())?,
                self.flatten_dataset(et.as_ref())?,
            );
            let rels: BTreeSet<&String> = fb.keys().chain(fo.keys()).chain(ft.keys()).collect();
            for rel in rels {
                let path = super::join_path(&ds, rel);
                let files = |m: &BTreeMap<String, FlatEntry>| {
                    m.get(rel.as_str())
                        .copied()
                        .filter(|e| e.kind != EntryKind::Tree)
                };
                let (xb, xo, xt) = (files(&fb), files(&fo), files(&ft));
                let id = |e: Option<FlatEntry>| e.map(|e| (e.kind, e.id));
                match three_way(id(xb), id(xo), id(xt)) {
                    Some(r) if r == id(xo) => {}
                    Some(_) => plan.writes.push((
                        path,
                        match xt {
                            Some(e) => Write::Blob(e),
                            None => Write::Remove,
                        },
                    )),
                    None => self.conflicting_file(
                        &mut plan,
                        [b, Some(o), Some(t)],
                        path,
                        [xb, xo, xt],
                        prefer,
                    )?,
                }
            }
            if eo.is_some() || et.is_some() {
                plan.datasets.insert(ds.clone());
            }
        }
        Ok(plan)
    }

    /// A file both sides changed: a row merge for a table both sides hold
    /// with the same key, else a conflict (or the preferred side).
    fn conflicting_file(
        &self,
        plan: &mut Plan,
        commits: [Option<&Commit>; 3],
        path: String,
        files: [Option<FlatEntry>; 3],
        prefer: Option<Side>,
    ) -> Result<(), RepoError> {
        let manifest = |c: Option<&Commit>| -> Result<Option<Manifest>, RepoError> {
            match c.and_then(|c| c.tables.iter().find(|x| x.path == path)) {
                Some(r) => Ok(Some(self.read_manifest(r.manifest)?)),
                None => Ok(None),
            }
        };
        let (mb, mo, mt) = (
            manifest(commits[0])?,
            manifest(commits[1])?,
            manifest(commits[2])?,
        );
        if let (Some(mo), Some(mt)) = (&mo, &mt)
            && mo.key == mt.key
            && mo.format == mt.format
            && files[1].is_some()
            && files[2].is_some()
        {
            let merged = self.merge_table(mb.as_ref(), mo, mt, prefer)?;
            let mut columns: Vec<String> = mo.columns.iter().map(|c| c.0.clone()).collect();
            columns.extend(
                mt.columns
                    .iter()
                    .map(|c| c.0.clone())
                    .filter(|c| !mo.columns.iter().any(|x| &x.0 == c)),
            );
            let bytes = self.write_merged(&path, mo, &columns, &merged)?;
            if !merged.conflicts.is_empty() {
                plan.conflicts.push(Conflict {
                    path: path.clone(),
                    file: None,
                    rows: merged.conflicts,
                });
            }
            plan.writes.push((path, Write::Bytes(bytes)));
            return Ok(());
        }
        let chosen = match prefer {
            Some(Side::Theirs) => files[2],
            Some(Side::Ours) => files[1],
            None => {
                let short = |e: Option<FlatEntry>| e.map(|e| e.id.short(12));
                plan.conflicts.push(Conflict {
                    path: path.clone(),
                    file: Some([short(files[0]), short(files[1]), short(files[2])]),
                    rows: Vec::new(),
                });
                files[1]
            }
        };
        if chosen.map(|e| e.id) != files[1].map(|e| e.id) {
            plan.writes.push((
                path,
                match chosen {
                    Some(e) => Write::Blob(e),
                    None => Write::Remove,
                },
            ));
        }
        Ok(())
    }

    /// The three-way merge of a table's rows. Chunks are content-defined
    /// (docs/FORMAT.md), so a chunk both sides hold holds the same rows in
    /// both: those rows are the result as they are, whatever the base says,
    /// and are streamed from the store when the file is written, never
    /// held. Only the other chunks of each side, and the base's rows
    /// outside the shared chunks, go through the row merge.
    fn merge_table(
        &self,
        mb: Option<&Manifest>,
        mo: &Manifest,
        mt: &Manifest,
        prefer: Option<Side>,
    ) -> Result<MergedTable, RepoError> {
        let theirs_ids: HashSet<_> = mt.chunks.iter().map(|c| c.id).collect();
        let shared: HashSet<_> = mo
            .chunks
            .iter()
            .map(|c| c.id)
            .filter(|id| theirs_ids.contains(id))
            .collect();
        let (common, ours_rest): (Vec<_>, Vec<_>) = mo
            .chunks
            .iter()
            .cloned()
            .partition(|c| shared.contains(&c.id));
        let rest = |m: &Manifest| -> Vec<crate::table::manifest::ChunkRef> {
            m.chunks
                .iter()
                .filter(|c| !shared.contains(&c.id))
                .cloned()
                .collect()
        };
        let ours_rest = self.chunk_rows(&ours_rest)?;
        let theirs_rest = self.chunk_rows(&rest(mt))?;
        let base_rest = match mb {
            Some(b) => self.chunk_rows(&rest(b))?,
            None => Vec::new(),
        };
        // A base row among the shared rows is theirs and ours alike: out
        // of the row merge. Both lists are in identity order (a manifest
        // that says otherwise is damaged): one walk, no set of a million
        // identities.
        let blob = mb.map_or(mo.blob, |b| b.blob);
        if !base_rest.windows(2).all(|w| w[0].ident < w[1].ident) {
            return Err(RepoError::Table(crate::table::TableError::Corrupt(
                blob,
                "the manifest's rows are not in identity order".into(),
            )));
        }
        let mut keep = vec![true; base_rest.len()];
        let mut at = 0;
        self.each_shared_row(mo, &common, &mut |r| {
            while at < base_rest.len() && base_rest[at].ident < r.ident {
                at += 1;
            }
            if at < base_rest.len() && base_rest[at].ident == r.ident {
                keep[at] = false;
            }
            Ok(())
        })?;
        let base_rest: Vec<ChunkRow> = base_rest
            .into_iter()
            .zip(keep)
            .filter_map(|(r, k)| k.then_some(r))
            .collect();
        let merged = merge_rows(
            !mo.key.is_empty(),
            &base_rest,
            &ours_rest,
            &theirs_rest,
            prefer,
            &crate::table::display_key,
        );
        Ok(MergedTable {
            common,
            diff: merged.rows,
            conflicts: merged.conflicts,
        })
    }

    /// Calls `each` with the rows of `chunks` (shared chunks of our
    /// version `mo`) in order, a few chunks read at a time on every core;
    /// refuses rows out of identity order or a chunk whose row count is
    /// not its manifest's.
    fn each_shared_row(
        &self,
        mo: &Manifest,
        chunks: &[crate::table::manifest::ChunkRef],
        each: &mut dyn FnMut(ChunkRow) -> Result<(), RepoError>,
    ) -> Result<(), RepoError> {
        use rayon::prelude::*;
        let mut last: Option<Vec<u8>> = None;
        for window in chunks.chunks(64) {
            let decoded: Vec<Result<Vec<ChunkRow>, RepoError>> = window
                .par_iter()
                .map(|c| {
                    let bytes = self.store.get(&c.id.0)?;
                    let rows = crate::table::manifest::decode_chunk(c.id.0, &bytes)?;
                    if rows.len() != c.rows as usize {
                        return Err(RepoError::Table(crate::table::TableError::Corrupt(
                            c.id.0,
                            "the chunk holds another row count than its manifest says".into(),
                        )));
                    }
                    Ok(rows)
                })
                .collect();
            for rows in decoded {
                for r in rows? {
                    if last.as_ref().is_some_and(|l| *l >= r.ident) {
                        return Err(RepoError::Table(crate::table::TableError::Corrupt(
                            mo.blob,
                            "the manifest's rows are not in identity order".into(),
                        )));
                    }
                    last = Some(r.ident.clone());
                    each(r)?;
                }
            }
        }
        Ok(())
    }

    /// The merged table `path` as a file: our shared rows streamed from the
    /// store interleaved, in identity order, with the rows the row merge
    /// gave.
    fn write_merged(
        &self,
        path: &str,
        mo: &Manifest,
        columns: &[String],
        merged: &MergedTable,
    ) -> Result<Vec<u8>, RepoError> {
        let text = |e: String| RepoError::io(&self.abs(path))(std::io::Error::other(e));
        // Shared rows hold only our columns (listed in `columns`); a row
        // that holds another is refused as it is written.
        let order =
            column_order(columns, merged.diff.iter().map(|r| r.2.as_slice())).map_err(text)?;
        let mut failed: Option<RepoError> = None;
        let written = write_ordered(mo.format, &order, &mut |write| {
            let mut d = merged.diff.iter().peekable();
            let walked = self.each_shared_row(mo, &merged.common, &mut |c| {
                while let Some(x) = d.next_if(|x| x.0 < c.ident) {
                    write(&x.2, x.1).map_err(text)?;
                }
                write(&c.body, c.count).map_err(text)
            });
            if let Err(e) = walked {
                failed = Some(e);
                return Err(String::new());
            }
            d.try_for_each(|x| write(&x.2, x.1))
        });
        match (written, failed) {
            (_, Some(e)) => Err(e),
            (Err(t), None) => Err(text(t)),
            (Ok(bytes), None) => Ok(bytes),
        }
    }

    /// The rows of some chunks, in order, read on every core.
    fn chunk_rows(
        &self,
        chunks: &[crate::table::manifest::ChunkRef],
    ) -> Result<Vec<ChunkRow>, RepoError> {
        use rayon::prelude::*;
        let decoded: Vec<Result<Vec<ChunkRow>, RepoError>> = chunks
            .par_iter()
            .map(|c| {
                let bytes = self.store.get(&c.id.0)?;
                Ok(crate::table::manifest::decode_chunk(c.id.0, &bytes)?)
            })
            .collect();
        let mut out = Vec::new();
        for d in decoded {
            out.extend(d?);
        }
        Ok(out)
    }

    /// Every row of a table version (none for `None`).
    pub(crate) fn manifest_rows(&self, m: Option<&Manifest>) -> Result<Vec<ChunkRow>, RepoError> {
        self.chunk_rows(m.map(|m| m.chunks.as_slice()).unwrap_or_default())
    }

    /// Writes a plan's changes into the working tree, never through a
    /// symlink.
    pub(super) fn apply_merge(&self, plan: &Plan) -> Result<(), RepoError> {
        // Folders removals go through, each opened once.
        let mut dirs = std::collections::HashMap::new();
        for (path, w) in &plan.writes {
            let dest = self.abs(path);
            let dir = path.rsplit_once('/').map_or("", |x| x.0);
            match w {
                Write::Remove => {
                    // Relative to its folder, opened without following a
                    // link; a folder already gone leaves nothing to remove.
                    if let Some(fd) = super::checkout::opened(&self.work, &mut dirs, dir)? {
                        let name = path.rsplit('/').next().unwrap_or(path);
                        fd.remove_file(name).map_err(RepoError::io(&dest))?;
                    }
                }
                Write::Blob(e) => {
                    super::checkout::real_dirs(&self.work, dir, false)?;
                    self.write_entry(&dest, e)?;
                }
                Write::Bytes(b) => {
                    // Relative to its folder, made and opened without
                    // following a link.
                    let fd = super::checkout::real_dirs(&self.work, dir, false)?;
                    let name = path.rsplit('/').next().unwrap_or(path);
                    fd.write_file(name, 0o644, &mut |f| std::io::Write::write_all(f, b))
                        .map_err(RepoError::io(&dest))?;
                }
            }
        }
        Ok(())
    }

    /// Commits the merged working tree with two parents.
    fn commit_merge(
        &self,
        lock: &RepoLock,
        state: &MergeState,
        datasets: &BTreeSet<String>,
        opts: &MergeOptions,
        progress: &dyn Progress,
    ) -> Result<CommitId, RepoError> {
        let copts = super::CommitOptions::made_for(
            datasets.iter().map(|d| self.abs(d)).collect(),
            state.message.clone(),
            opts.author.clone(),
            opts.time,
        );
        let out = self.commit_with(lock, &copts, progress, Some(state), &[])?;
        Ok(out.commit.expect("a merge always commits"))
    }

    /// Settles conflicted paths for one side (tables: every conflicting
    /// row and cell of the table).
    pub fn merge_resolve(
        &self,
        _lock: &RepoLock,
        paths: &[String],
        side: Side,
    ) -> Result<MergeState, RepoError> {
        let mut state = self.merge_state()?.ok_or(RepoError::NoMerge)?;
        let (o, t) = (
            self.read_commit(state.ours)?,
            self.read_commit(state.theirs)?,
        );
        let b = state.base.map(|c| self.read_commit(c)).transpose()?;
        for p in paths {
            let path = self.dataset_path(std::path::Path::new(p))?;
            if !state.conflicts.iter().any(|c| c.path == path) {
                return Err(RepoError::NotConflicted(path));
            }
            let ds: Vec<String> = o
                .datasets
                .iter()
                .chain(&t.datasets)
                .map(|d| d.path.clone())
                .filter(|d| is_within(&path, d))
                .collect();
            let Some(dataset) = ds.first() else {
                return Err(RepoError::NotConflicted(path));
            };
            let rel = path
                .strip_prefix(dataset.as_str())
                .unwrap_or("")
                .trim_start_matches('/');
            let flat = |c: Option<&Commit>| -> Result<Option<FlatEntry>, RepoError> {
                let e = c.and_then(|c| c.datasets.iter().find(|d| &d.path == dataset));
                Ok(self.flatten_dataset(e)?.get(rel).copied())
            };
            let files = [flat(b.as_ref())?, flat(Some(&o))?, flat(Some(&t))?];
            let mut plan = Plan::default();
            self.conflicting_file(
                &mut plan,
                [b.as_ref(), Some(&o), Some(&t)],
                path.clone(),
                files,
                Some(side),
            )?;
            if plan.writes.is_empty() && side == Side::Ours {
                // Ours was there already; make sure it still is.
                if let Some(e) = files[1] {
                    plan.writes.push((path.clone(), Write::Blob(e)));
                }
            }
            self.apply_merge(&plan)?;
            if !state.touched.contains(&path) {
                state.touched.push(path.clone());
            }
            state.resolved.insert(path);
        }
        self.save_merge_state(&state)?;
        Ok(state)
    }

    /// Commits a merge whose conflicts are resolved.
    pub fn merge_continue(
        &self,
        lock: &RepoLock,
        opts: &MergeOptions,
        progress: &dyn Progress,
    ) -> Result<CommitId, RepoError> {
        let mut state = self.merge_state()?.ok_or(RepoError::NoMerge)?;
        if self.head_commit()? != Some(state.ours) {
            return Err(RepoError::MergeMoved);
        }
        let open: Vec<String> = state
            .conflicts
            .iter()
            .map(|c| c.path.clone())
            .filter(|p| {
                !state.resolved.contains(p)
                    && state.written.get(p).cloned().flatten() == self.work_hash(p)
            })
            .collect();
        if !open.is_empty() {
            return Err(RepoError::Unresolved(open));
        }
        if let Some(m) = &opts.message {
            state.message = m.clone();
        }
        let (o, t) = (
            self.read_commit(state.ours)?,
            self.read_commit(state.theirs)?,
        );
        let datasets: BTreeSet<String> = o
            .datasets
            .iter()
            .chain(&t.datasets)
            .map(|d| d.path.clone())
            .filter(|d| {
                std::fs::symlink_metadata(self.abs(d)).is_ok()
                    || o.datasets.iter().any(|x| &x.path == d)
            })
            .collect();
        let id = self.commit_merge(lock, &state, &datasets, opts, progress)?;
        Ok(id)
    }

    /// Abandons a merge: the working tree returns to the branch's commit.
    pub fn merge_abort(
        &self,
        lock: &RepoLock,
        progress: &dyn Progress,
    ) -> Result<CommitId, RepoError> {
        let state = self.merge_state()?.ok_or(RepoError::NoMerge)?;
        if let Head::Detached(_) = self.refs.head()? {
            return Err(RepoError::DetachedHead);
        }
        let head = self.head_commit()?.unwrap_or(state.ours);
        self.restore(lock, &state.touched, head, progress)?;
        self.clear_merge_state()?;
        Ok(head)
    }

    /// Ends a merge once its commit is made.
    pub(crate) fn merge_done(&self) -> Result<(), RepoError> {
        self.clear_merge_state()
    }
}
