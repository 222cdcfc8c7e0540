//! `drift`: distribution shift between two commits, per table column, per
//! folder (file sizes and types), and of labels and confidence the ledger
//! records.

use crate::ledger::query::LatestLabel;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use rayon::prelude::*;

use super::{Repo, RepoError};
use crate::config::MetaFields;
use crate::drift::compare::compare_selected;
use crate::drift::profile::PROFILE_VERSION;
use crate::drift::report::{
    DriftOptions, DriftReport, FILE_SIZE, FILE_TYPE, LEDGER_CONFIDENCE, LEDGER_LABEL, RowFilter,
};
use crate::drift::{ColumnBuilder, ColumnProfile, DriftError, Kind, Profile, TableDrift};
use crate::id::{CommitId, ManifestId};
use crate::ledger::{ExampleId, IdMap};
use crate::object::{Commit, EntryKind};
use crate::snapshot::FlatEntry;
use crate::table::manifest::{Manifest, decode_chunk};
use crate::table::{Cell, ColumnType};

/// What [`Repo::each_row`] calls with a row: identity, body, occurrences.
pub(super) type EachRow<'f> = dyn FnMut(&[u8], &[u8], u32) -> Result<(), RepoError> + 'f;

/// Which rows of a table version to read, by identity.
type KeepRow<'a> = dyn Fn(&[u8]) -> bool + Sync + 'a;

/// Adds decoded rows of one table version to per-column builders.
struct RowFolder<'m> {
    columns: &'m [(String, ColumnType)],
    index: HashMap<&'m str, usize>,
}

impl<'m> RowFolder<'m> {
    fn new(columns: &'m [(String, ColumnType)]) -> Self {
        let index = columns
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.as_str(), i))
            .collect();
        RowFolder { columns, index }
    }

    fn fresh(&self) -> Vec<ColumnBuilder> {
        self.columns
            .iter()
            .map(|(n, t)| ColumnBuilder::new(n, *t))
            .collect()
    }

    /// Adds one row (`count` occurrences) of chunk `chunk`.
    fn add(
        &self,
        b: &mut [ColumnBuilder],
        seen: &mut [bool],
        chunk: crate::id::ObjectId,
        body: &[u8],
        count: u64,
    ) -> Result<(), RepoError> {
        seen.iter_mut().for_each(|s| *s = false);
        // Rows usually list columns in table order: try the position
        // first, then the name.
        let mut k = 0;
        crate::table::visit_row(body, &mut |name, cell| {
            let i = match self.columns.get(k) {
                Some((n, _)) if n == name => Some(k),
                _ => self.index.get(name).copied(),
            };
            k += 1;
            if let Some(i) = i {
                b[i].add_ref(cell, count);
                seen[i] = true;
            }
        })
        .ok_or_else(|| crate::table::TableError::Corrupt(chunk, "a row does not decode".into()))?;
        for (i, s) in seen.iter().enumerate() {
            if !s {
                b[i].add_ref(crate::table::CellRef::Null, count);
            }
        }
        Ok(())
    }

    fn finish(&self, m: &Manifest, all: Vec<ColumnBuilder>, rows: u64) -> Profile {
        Profile {
            version: PROFILE_VERSION,
            rows,
            key: m.key.clone(),
            columns: all.into_iter().map(ColumnBuilder::finish).collect(),
        }
    }
}

impl Repo {
    fn profile_dir(&self) -> PathBuf {
        self.dot.join("profiles")
    }

    /// The cache file of a profile: BLAKE3 of the profile version, a kind
    /// tag and what the profile summarises (derived; safe to delete).
    fn profile_path(&self, kind: &str, what: &[u8]) -> PathBuf {
        let mut h = blake3::Hasher::new();
        h.update(&PROFILE_VERSION.to_le_bytes());
        h.update(kind.as_bytes());
        h.update(&[0]);
        h.update(what);
        self.profile_dir().join(h.finalize().to_hex().as_str())
    }

    /// A cached profile, when its checksum holds: a damaged cache file is
    /// ignored (and rewritten), never trusted — profiles are derived.
    fn cached(&self, path: &std::path::Path) -> Option<Profile> {
        let bytes = std::fs::read(path).ok()?;
        let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
        if blake3::hash(body).as_bytes() != sum {
            return None;
        }
        Profile::decode(body)
    }

    /// Caches a profile with a BLAKE3 checksum of its bytes appended.
    fn cache(&self, path: &std::path::Path, p: &Profile) {
        let mut bytes = p.encode();
        let sum = blake3::hash(&bytes);
        bytes.extend_from_slice(sum.as_bytes());
        // Derived: a failure to cache only costs the next run a recompute.
        let _ = crate::fsutil::create_dir_durable(&self.profile_dir());
        let _ = crate::fsutil::write_atomic(path, &bytes);
    }

    /// The profile of the table version `manifest`: from the cache, or
    /// computed from its row chunks on every core (and cached). The flag
    /// says whether it was computed.
    pub fn table_profile(
        &self,
        manifest: crate::id::ManifestId,
    ) -> Result<(Profile, bool), RepoError> {
        let path = self.profile_path("table", manifest.0.as_bytes());
        if let Some(p) = self.cached(&path) {
            return Ok((p, false));
        }
        let m = self.read_manifest(manifest)?;
        let (p, _) = self.profile_rows(&m, None)?;
        self.cache(&path, &p);
        Ok((p, true))
    }

    /// The profile of the rows of `m` whose identity `keep` accepts (every
    /// row when `None`), read on every core; and the identities kept when
    /// `keep` is given.
    fn profile_rows(
        &self,
        m: &Manifest,
        keep: Option<&KeepRow<'_>>,
    ) -> Result<(Profile, Vec<Vec<u8>>), RepoError> {
        let folder = RowFolder::new(&m.columns);
        // Builders per worker (fold), merged pairwise (reduce): memory is
        // one set of builders per thread, not per chunk.
        type Part = Result<(Vec<ColumnBuilder>, u64, Vec<Vec<u8>>), RepoError>;
        let (all, rows, kept) = m
            .chunks
            .par_iter()
            .fold(
                || -> Part { Ok((folder.fresh(), 0, Vec::new())) },
                |acc: Part, ch| {
                    let (mut b, mut n, mut kept) = acc?;
                    let bytes = self.store.get(&ch.id.0)?;
                    let mut seen = vec![false; b.len()];
                    for row in decode_chunk(ch.id.0, &bytes)? {
                        // A purged row's values are gone (D86).
                        if crate::table::manifest::is_skeletal(&row.body) {
                            continue;
                        }
                        if let Some(k) = keep {
                            if !k(&row.ident) {
                                continue;
                            }
                            kept.push(row.ident.clone());
                        }
                        n += u64::from(row.count);
                        folder.add(&mut b, &mut seen, ch.id.0, &row.body, u64::from(row.count))?;
                    }
                    Ok((b, n, kept))
                },
            )
            .reduce(
                || Ok((folder.fresh(), 0, Vec::new())),
                |x, y| {
                    let ((mut a, n, mut ka), (b, k, kb)) = (x?, y?);
                    for (acc, more) in a.iter_mut().zip(b) {
                        acc.merge(more);
                    }
                    ka.extend(kb);
                    Ok((a, n + k, ka))
                },
            )?;
        Ok((folder.finish(m, all, rows), kept))
    }

    /// Calls `f` with each row of `m` (identity, body, occurrences), one
    /// chunk in memory at a time; with `added_since`, only the rows whose
    /// content that reference version does not hold (added, the new
    /// version of changed ones, extra occurrences of repeated ones), found
    /// by the sorted-manifest diff.
    pub(super) fn each_row(
        &self,
        m: &Manifest,
        added_since: Option<Option<&Manifest>>,
        f: &mut EachRow<'_>,
    ) -> Result<(), RepoError> {
        use crate::table::manifest::{ChunkSource, RowChangeKind, diff_each};
        let Some(reference) = added_since else {
            for ch in &m.chunks {
                let bytes = self.store.get(&ch.id.0)?;
                for row in decode_chunk(ch.id.0, &bytes)? {
                    if !crate::table::manifest::is_skeletal(&row.body) {
                        f(&row.ident, &row.body, row.count)?;
                    }
                }
            }
            return Ok(());
        };
        let mut failed = None;
        let src: &dyn ChunkSource = &self.store;
        diff_each(
            reference.map(|r| (r, src)),
            Some((m, src)),
            &mut |kind, _, new, n| {
                if let Some(row) = new
                    && kind != RowChangeKind::Removed
                    && !crate::table::manifest::is_skeletal(&row.body)
                    && failed.is_none()
                    && let Err(e) = f(&row.ident, &row.body, n)
                {
                    failed = Some(e);
                }
            },
        )?;
        failed.map_or(Ok(()), Err)
    }

    /// The profile of the rows of `m` whose content `reference` does not
    /// hold (see [`Repo::each_row`]), those `keep` accepts; and their
    /// identities.
    fn profile_added(
        &self,
        reference: Option<&Manifest>,
        m: &Manifest,
        keep: Option<&KeepRow<'_>>,
    ) -> Result<(Profile, Vec<Vec<u8>>), RepoError> {
        let folder = RowFolder::new(&m.columns);
        let mut b = folder.fresh();
        let mut seen = vec![false; b.len()];
        let (mut rows, mut kept) = (0u64, Vec::new());
        self.each_row(m, Some(reference), &mut |ident, body, n| {
            if keep.is_some_and(|k| !k(ident)) {
                return Ok(());
            }
            rows += u64::from(n);
            kept.push(ident.to_vec());
            folder.add(&mut b, &mut seen, m.blob, body, u64::from(n))
        })?;
        Ok((folder.finish(m, b, rows), kept))
    }

    /// The ledger's label and confidence of a table's examples present at
    /// `commit` (empty when the ledger records none), cached by the
    /// commit's ledger head.
    fn ledger_columns(
        &self,
        commit: &Commit,
        table: &str,
    ) -> Result<(Vec<ColumnProfile>, bool), RepoError> {
        let Some((_, root)) = commit.ledger else {
            return Ok((Vec::new(), false));
        };
        let mut key = root.0.to_vec();
        key.extend_from_slice(table.as_bytes());
        let path = self.profile_path("ledger", &key);
        if let Some(p) = self.cached(&path) {
            return Ok((p.columns, false));
        }
        let view = self.ledger_view_at(commit.id())?;
        let labels = if view.has_no_annotations()? {
            Vec::new()
        } else {
            view.present_labels(table)?
        };
        let mut label = ColumnBuilder::new(LEDGER_LABEL, ColumnType::Categorical);
        let mut conf = ColumnBuilder::new(LEDGER_CONFIDENCE, ColumnType::Float);
        let mut any = false;
        let mut rows = 0;
        for (l, c) in labels {
            rows += 1;
            any |= l.is_some() || c.is_some();
            label.add(&l.map_or(Cell::Null, Cell::Text), 1);
            conf.add(&c.map_or(Cell::Null, |c| Cell::Number(format!("{c}"))), 1);
        }
        let p = Profile {
            version: PROFILE_VERSION,
            rows,
            key: Vec::new(),
            columns: if any {
                vec![label.finish(), conf.finish()]
            } else {
                Vec::new()
            },
        };
        self.cache(&path, &p);
        Ok((p.columns, true))
    }

    /// The ledger's latest label and confidence of the files of the
    /// folder datasets `folders` present at `commit` that have one (empty
    /// when none has): one read of the ledger for every folder.
    fn file_labels(
        &self,
        commit: &Commit,
        folders: &[&str],
    ) -> Result<IdMap<LatestLabel>, RepoError> {
        if commit.ledger.is_none() || folders.is_empty() {
            return Ok(IdMap::default());
        }
        let view = self.ledger_view_at(commit.id())?;
        if view.has_no_annotations()? {
            return Ok(IdMap::default());
        }
        let prefixes: Vec<String> = folders.iter().map(|d| format!("{d}/")).collect();
        let mut m =
            view.present_labels_where(&|l| prefixes.iter().any(|p| l.starts_with(p.as_bytes())))?;
        m.retain(|_, (l, c)| l.is_some() || c.is_some());
        Ok(m)
    }

    /// File sizes and types of the files of a folder dataset at a commit
    /// that `keep` accepts (by path in the repository and entry), and,
    /// given `labels`, the ledger's label and confidence of each; whether
    /// any file of the dataset (kept or not) has one in `labels`.
    fn folder_profile(
        &self,
        commit: &Commit,
        dataset: &str,
        labels: Option<&IdMap<LatestLabel>>,
        keep: &dyn Fn(&str, &FlatEntry) -> bool,
    ) -> Result<Option<(Profile, bool)>, RepoError> {
        let Some(d) = commit.datasets.iter().find(|d| d.path == dataset) else {
            return Ok(None);
        };
        let mut labelled = false;
        let files = self.flatten_dataset(Some(d))?;
        let mut size = ColumnBuilder::new(FILE_SIZE, ColumnType::Integer);
        let mut kind = ColumnBuilder::new(FILE_TYPE, ColumnType::Categorical);
        let mut label = ColumnBuilder::new(LEDGER_LABEL, ColumnType::Categorical);
        let mut conf = ColumnBuilder::new(LEDGER_CONFIDENCE, ColumnType::Float);
        let mut n = 0;
        for (path, f) in &files {
            let full = format!("{dataset}/{path}");
            if f.kind == EntryKind::Tree {
                continue;
            }
            let known = labels.and_then(|m| m.get(&ExampleId::file(&full)));
            labelled |= known.is_some();
            if !keep(&full, f) {
                continue;
            }
            n += 1;
            if labels.is_some() {
                let (l, c) = known.cloned().unwrap_or_default();
                label.add(&l.map_or(Cell::Null, Cell::Text), 1);
                conf.add(&c.map_or(Cell::Null, |c| Cell::Number(format!("{c}"))), 1);
            }
            size.add(&Cell::Number(f.size.to_string()), 1);
            let name = path.rsplit('/').next().unwrap_or(path);
            let ext = match name.rsplit_once('.') {
                Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => {
                    format!(".{}", ext.to_ascii_lowercase())
                }
                _ => "(no extension)".into(),
            };
            kind.add(&Cell::Text(ext), 1);
        }
        Ok(Some((
            Profile {
                version: PROFILE_VERSION,
                rows: n,
                key: Vec::new(),
                columns: if labels.is_some() {
                    vec![size.finish(), kind.finish(), label.finish(), conf.finish()]
                } else {
                    vec![size.finish(), kind.finish()]
                },
            },
            labelled,
        )))
    }

    /// Drift from commit `r` (reference) to commit `c` (current).
    pub fn drift(
        &self,
        r: CommitId,
        c: CommitId,
        opts: &DriftOptions,
    ) -> Result<DriftReport, RepoError> {
        let (rc, cc) = (self.read_commit(r)?, self.read_commit(c)?);
        let mut known = std::collections::BTreeSet::new();
        let (mut out, computed) = self.drift_tables(&rc, &cc, opts, &mut known)?;
        out.extend(self.drift_folders(&rc, &cc, opts, &mut known)?);
        if out.is_empty() {
            return Err(DriftError::NothingToCompare(opts.paths.clone()).into());
        }
        let known: Vec<String> = known.into_iter().collect();
        check_names(&known, &opts.named, &opts.patterns)?;
        Ok(DriftReport {
            reference: r,
            current: c,
            drifted: out.iter().any(|t| t.drifted),
            tables: out,
            bins: opts.settings.bins,
            share_threshold: opts.settings.share,
            missing_threshold: opts.settings.missing,
            profiles_computed: computed,
            preset: opts.settings.preset,
        })
    }
}

/// What drift reads of an example's ledger state.
#[derive(Debug, Clone, Default)]
pub(super) struct Brief {
    /// Its latest source.
    pub source: Option<String>,
    /// Its latest label.
    pub label: Option<String>,
    /// Its latest confidence.
    pub confidence: Option<f64>,
}

impl Repo {
    /// The example ids of `view` whose latest source and label are those
    /// `filter` asks for (`None`: the filter keeps every row).
    pub(super) fn selected_examples(
        &self,
        commit: &Commit,
        filter: &RowFilter,
        states: &mut Option<IdMap<Brief>>,
    ) -> Result<Option<HashSet<ExampleId>>, RepoError> {
        if filter.is_empty() {
            return Ok(None);
        }
        let states = self.states_at(commit, states)?;
        let wanted = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        Ok(Some(
            states
                .iter()
                .filter(|(_, e)| {
                    wanted(&filter.source, &e.source) && wanted(&filter.label, &e.label)
                })
                .map(|(id, _)| *id)
                .collect(),
        ))
    }

    /// What the ledger at `commit` says of every example's source, label
    /// and confidence, read once (each state folded and cut to those, D94).
    pub(super) fn states_at<'s>(
        &self,
        commit: &Commit,
        states: &'s mut Option<IdMap<Brief>>,
    ) -> Result<&'s IdMap<Brief>, RepoError> {
        if states.is_none() {
            let mut known = IdMap::default();
            if commit.ledger.is_some() {
                let parts = self.ledger_view_at(commit.id())?.fold_states(
                    &Vec::new,
                    &|v: &mut Vec<(ExampleId, Brief)>, id, st| {
                        v.push((
                            id,
                            Brief {
                                source: st.source,
                                label: st.label,
                                confidence: st.confidence,
                            },
                        ))
                    },
                )?;
                known.reserve(parts.iter().map(Vec::len).sum());
                known.extend(parts.into_iter().flatten());
            }
            *states = Some(known);
        }
        Ok(states.as_ref().expect("just set"))
    }

    /// One side of a table's comparison: its profile (the rows `filter`
    /// keeps, or with `added_since` those added since that version, with
    /// the ledger's label and confidence of those rows), and
    /// how many profiles were computed.
    fn table_side(
        &self,
        path: &str,
        commit: &Commit,
        manifest: Option<ManifestId>,
        filter: &RowFilter,
        added_since: Option<Option<ManifestId>>,
    ) -> Result<Option<(Profile, usize)>, RepoError> {
        let Some(manifest) = manifest else {
            return Ok(None);
        };
        if filter.is_empty() && added_since.is_none() {
            let (mut p, fresh) = self.table_profile(manifest)?;
            let (extra, fresh2) = self.ledger_columns(commit, path)?;
            p.columns.extend(extra);
            return Ok(Some((p, usize::from(fresh) + usize::from(fresh2))));
        }
        let mut states = None;
        let ids = self.selected_examples(commit, filter, &mut states)?;
        let keep = ids
            .as_ref()
            .map(|ids| move |ident: &[u8]| ids.contains(&ExampleId::row(path, ident)));
        let keep = keep.as_ref().map(|k| k as &KeepRow<'_>);
        let m = self.read_manifest(manifest)?;
        let (mut p, kept) = match added_since {
            Some(reference) => {
                let r = reference.map(|r| self.read_manifest(r)).transpose()?;
                self.profile_added(r.as_ref(), &m, keep)?
            }
            None => self.profile_rows(&m, keep.or(Some(&|_: &[u8]| true)))?,
        };
        // The ledger's label and confidence of the rows kept, when the
        // ledger holds any for this table (known from the cached
        // whole-table columns, without folding every example's state).
        let ledger_has = self.ledger_columns(commit, path)?.0.len() == 2;
        if !ledger_has {
            return Ok(Some((p, 1)));
        }
        let states = self.states_at(commit, &mut states)?;
        let mut label = ColumnBuilder::new(LEDGER_LABEL, ColumnType::Categorical);
        let mut conf = ColumnBuilder::new(LEDGER_CONFIDENCE, ColumnType::Float);
        for ident in &kept {
            let e = states.get(&ExampleId::row(path, ident));
            let (l, c) = e.map_or((None, None), |e| (e.label.clone(), e.confidence));
            label.add(&l.map_or(Cell::Null, Cell::Text), 1);
            conf.add(&c.map_or(Cell::Null, |c| Cell::Number(format!("{c}"))), 1);
        }
        // A table whose ledger holds labels has the columns on every side,
        // so compare them when the other side has them too.
        p.columns.extend([label.finish(), conf.finish()]);
        Ok(Some((p, 1)))
    }

    /// Each table of either commit that `opts` selects, compared; and how
    /// many profiles were computed (not read from the cache). Adds every
    /// column name seen to `known`.
    fn drift_tables(
        &self,
        rc: &Commit,
        cc: &Commit,
        opts: &DriftOptions,
        known: &mut std::collections::BTreeSet<String>,
    ) -> Result<(Vec<TableDrift>, usize), RepoError> {
        let mut computed = 0;
        let config = self.config()?;
        // Tables, by path, from either side.
        let mut tables: BTreeMap<&str, (Option<ManifestId>, Option<ManifestId>)> = BTreeMap::new();
        for t in &rc.tables {
            tables.entry(&t.path).or_default().0 = Some(t.manifest);
        }
        for t in &cc.tables {
            tables.entry(&t.path).or_default().1 = Some(t.manifest);
        }
        let mut out = Vec::new();
        for (path, (rm, cm)) in tables.into_iter().filter(|(p, _)| opts.wants(p)) {
            let sel = opts.selection_for(path);
            let added = sel.added.then_some(rm);
            let (a, b) = rayon::join(
                || self.table_side(path, rc, rm, &sel.reference, None),
                || self.table_side(path, cc, cm, &sel.current, added),
            );
            let (mut a, mut b) = (a?, b?);
            computed += a.as_ref().map_or(0, |x| x.1) + b.as_ref().map_or(0, |x| x.1);
            // Metadata: the columns the table maps to the ledger, and the
            // ledger's own; a mapped label or confidence the ledger also
            // gives is compared once, as the ledger's (its latest).
            let meta = config.table(path).meta;
            let mapped: Vec<(&str, String)> = MetaFields::NAMES
                .iter()
                .filter_map(|f| meta.field(f).clone().map(|c| (*f, c)))
                .collect();
            let has = |p: &Option<(Profile, usize)>, name: &str| {
                p.as_ref()
                    .is_some_and(|p| p.0.columns.iter().any(|c| c.name == name))
            };
            let mut notes = Vec::new();
            for (field, ledger) in [("label", LEDGER_LABEL), ("confidence", LEDGER_CONFIDENCE)] {
                if let Some((_, col)) = mapped.iter().find(|(f, _)| *f == field)
                    && (has(&a, ledger) || has(&b, ledger))
                    && (has(&a, col) || has(&b, col))
                {
                    for p in [&mut a, &mut b].into_iter().flatten() {
                        p.0.columns.retain(|c| c.name != *col);
                    }
                    notes.push(format!(
                        "column {col} holds each row's {field}: compared once, as '{ledger}' (the ledger's latest)"
                    ));
                }
            }
            for p in [&a, &b].into_iter().flatten() {
                known.extend(p.0.columns.iter().map(|c| c.name.clone()));
            }
            let table_known = names_of([&a, &b].into_iter().flatten().map(|x| &x.0));
            if let Some(t) = opts.tables.get(path) {
                let what = format!("[drift.tables.\"{path}\"]");
                let named: Vec<(String, String)> = t
                    .columns
                    .iter()
                    .map(|c| (format!("{what} columns"), c.clone()))
                    .collect();
                let patterns: Vec<(String, String)> = t
                    .exclude
                    .iter()
                    .map(|c| (format!("{what} exclude"), c.clone()))
                    .collect();
                check_names(&table_known, &named, &patterns)?;
            }
            let exclusions = sel.exclusions()?;
            for p in [&mut a, &mut b].into_iter().flatten() {
                p.0.columns.retain(|c| {
                    (sel.columns.is_empty() || sel.columns.contains(&c.name))
                        && !exclusions.iter().any(|(_, g)| g.is_match(&c.name))
                });
            }
            let is_metadata = |name: &str| {
                name == LEDGER_LABEL
                    || name == LEDGER_CONFIDENCE
                    || mapped.iter().any(|(_, c)| c == name)
            };
            let mut t = compare_selected(
                path,
                a.as_ref().map(|x| &x.0),
                b.as_ref().map(|x| &x.0),
                &opts.settings,
                &sel,
                &is_metadata,
            );
            t.notes.extend(notes);
            out.push(t);
        }
        Ok((out, computed))
    }

    /// Each folder dataset of either commit that `opts` selects: file
    /// sizes and types compared.
    fn drift_folders(
        &self,
        rc: &Commit,
        cc: &Commit,
        opts: &DriftOptions,
        known: &mut std::collections::BTreeSet<String>,
    ) -> Result<Vec<TableDrift>, RepoError> {
        let mut folders: Vec<&str> = rc
            .datasets
            .iter()
            .chain(&cc.datasets)
            .filter(|d| d.kind == EntryKind::Tree)
            .map(|d| d.path.as_str())
            .collect();
        folders.sort_unstable();
        folders.dedup();
        folders.retain(|d| opts.wants(d));
        // One read of each side's ledger for every folder.
        let (rl, cl) = (
            self.file_labels(rc, &folders)?,
            self.file_labels(cc, &folders)?,
        );
        let mut out = Vec::new();
        for d in folders {
            let sel = opts.selection_for(d);
            let (mut rs, mut cs) = (None, None);
            let ra = self.selected_examples(rc, &sel.reference, &mut rs)?;
            let ca = self.selected_examples(cc, &sel.current, &mut cs)?;
            let in_set = |ids: &Option<HashSet<ExampleId>>, path: &str| {
                ids.as_ref()
                    .is_none_or(|ids| ids.contains(&ExampleId::file(path)))
            };
            // The reference's files, to tell what the current side added.
            let before = if sel.added {
                let entry = rc.datasets.iter().find(|x| x.path == d);
                Some(self.flatten_dataset(entry)?)
            } else {
                None
            };
            // Either side's ledger labelling any file: both sides get the
            // columns (a side without labels, all missing).
            let any = !rl.is_empty() || !cl.is_empty();
            let labels_of = |m| any.then_some(m);
            let a = self.folder_profile(rc, d, labels_of(&rl), &|p, _| in_set(&ra, p))?;
            let b = self.folder_profile(cc, d, labels_of(&cl), &|p, f| {
                in_set(&ca, p)
                    && before.as_ref().is_none_or(|before| {
                        let rel = &p[d.len() + 1..];
                        before.get(rel).is_none_or(|old| old.id != f.id)
                    })
            })?;
            // The ledger's columns on both sides when either side labels
            // a file of this dataset, on neither otherwise.
            let labelled = [&a, &b].into_iter().flatten().any(|p| p.1);
            let (mut a, mut b) = (a.map(|p| p.0), b.map(|p| p.0));
            if !labelled {
                for p in [&mut a, &mut b].into_iter().flatten() {
                    p.columns
                        .retain(|c| c.name != LEDGER_LABEL && c.name != LEDGER_CONFIDENCE);
                }
            }
            for p in [&a, &b].into_iter().flatten() {
                known.extend(p.columns.iter().map(|c| c.name.clone()));
            }
            let exclusions = sel.exclusions()?;
            for p in [&mut a, &mut b].into_iter().flatten() {
                p.columns.retain(|c| {
                    (sel.columns.is_empty() || sel.columns.contains(&c.name))
                        && !exclusions.iter().any(|(_, g)| g.is_match(&c.name))
                });
            }
            // File sizes are measurements: numeric, however few distinct
            // sizes the reference has (unless configured otherwise).
            let mut settings = opts.settings.clone();
            let size = settings.rules.entry(FILE_SIZE.to_string()).or_default();
            size.kind = size.kind.or(Some(Kind::Numeric));
            out.push(compare_selected(
                &format!("{d}/"),
                a.as_ref(),
                b.as_ref(),
                &settings,
                &sel,
                &|name| name == LEDGER_LABEL || name == LEDGER_CONFIDENCE,
            ));
        }
        Ok(out)
    }
}

/// Column names of profiles, sorted, once each.
fn names_of<'p>(profiles: impl Iterator<Item = &'p Profile>) -> Vec<String> {
    let mut v: Vec<String> = profiles
        .flat_map(|p| p.columns.iter().map(|c| c.name.clone()))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Checks that each named column is one of `known` and each pattern
/// matches one: an error names the flag or setting and lists the columns.
fn check_names(
    known: &[String],
    named: &[(String, String)],
    patterns: &[(String, String)],
) -> Result<(), DriftError> {
    for (what, column) in named {
        if !known.contains(column) {
            return Err(DriftError::NoSuchColumn {
                what: what.clone(),
                column: column.clone(),
                known: known.to_vec(),
            });
        }
    }
    for (what, pattern) in patterns {
        let g = globset::Glob::new(pattern)
            .map_err(|e| DriftError::Pattern(pattern.clone(), e.kind().to_string()))?
            .compile_matcher();
        if !known.iter().any(|k| g.is_match(k)) {
            return Err(DriftError::ExcludesNothing {
                what: what.clone(),
                pattern: pattern.clone(),
                known: known.to_vec(),
            });
        }
    }
    Ok(())
}
