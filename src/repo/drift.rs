//! `drift`: distribution shift between two commits, per table column, per
//! folder (file sizes and types), and of labels and confidence the ledger
//! records.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use super::{Repo, RepoError, is_within};
use crate::drift::profile::PROFILE_VERSION;
use crate::drift::{ColumnBuilder, ColumnProfile, Profile, Settings, TableDrift, compare};
use crate::id::{CommitId, ObjectId};
use crate::ledger::{ExampleId, ExampleState, Subject};
use crate::object::{Commit, EntryKind};
use crate::table::manifest::decode_chunk;
use crate::table::{Cell, ColumnType};

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct DriftOptions {
    /// Tables or datasets to compare (all when empty).
    pub paths: Vec<String>,
    /// Columns to compare (all when empty).
    pub columns: Vec<String>,
    /// Bins, thresholds and per-column rules.
    pub settings: Settings,
}

/// Drift between two commits.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    /// The reference commit.
    pub reference: String,
    /// The current commit.
    pub current: String,
    /// Per table, then per folder dataset.
    pub tables: Vec<TableDrift>,
    /// Whether any table or folder drifted.
    pub drifted: bool,
    /// Bins of numeric columns.
    pub bins: usize,
    /// Share of drifted columns at which a table drifts.
    pub share_threshold: f64,
    /// Change of missing rate at which a column drifts.
    pub missing_threshold: f64,
    /// Profiles computed by this run (the others came from the cache).
    pub profiles_computed: usize,
}

/// Names of the columns folio adds to a table from the ledger.
pub const LEDGER_LABEL: &str = "(ledger) label";
/// See [`LEDGER_LABEL`].
pub const LEDGER_CONFIDENCE: &str = "(ledger) confidence";

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

    fn cached(&self, path: &std::path::Path) -> Option<Profile> {
        Profile::decode(&std::fs::read(path).ok()?)
    }

    fn cache(&self, path: &std::path::Path, p: &Profile) {
        // Derived: a failure to cache only costs the next run a recompute.
        let _ = crate::fsutil::create_dir_durable(&self.profile_dir());
        let _ = crate::fsutil::write_atomic(path, &p.encode());
    }

    /// The profile of the table version `manifest`: from the cache, or
    /// computed from its row chunks on every core (and cached). The flag
    /// says whether it was computed.
    pub fn table_profile(&self, manifest: ObjectId) -> Result<(Profile, bool), RepoError> {
        let path = self.profile_path("table", manifest.as_bytes());
        if let Some(p) = self.cached(&path) {
            return Ok((p, false));
        }
        let m = self.read_manifest(manifest)?;
        let columns: Vec<(String, ColumnType)> = m.columns.clone();
        let index: HashMap<&str, usize> = columns
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.as_str(), i))
            .collect();
        let fresh = || -> Vec<ColumnBuilder> {
            columns
                .iter()
                .map(|(n, t)| ColumnBuilder::new(n, *t))
                .collect()
        };
        let parts: Vec<Result<(Vec<ColumnBuilder>, u64), RepoError>> = m
            .chunks
            .par_iter()
            .map(|ch| {
                let bytes = self.store.get(&ch.id)?;
                let rows = decode_chunk(ch.id, &bytes)?;
                let mut b = fresh();
                let mut seen = vec![false; b.len()];
                let mut n = 0u64;
                for row in rows {
                    let cells = crate::table::decode_row(&row.body).ok_or_else(|| {
                        crate::table::TableError::Corrupt(ch.id, "a row does not decode".into())
                    })?;
                    let count = u64::from(row.count);
                    n += count;
                    seen.iter_mut().for_each(|s| *s = false);
                    for (name, cell) in &cells {
                        if let Some(&i) = index.get(name.as_str()) {
                            b[i].add(cell, count);
                            seen[i] = true;
                        }
                    }
                    for (i, s) in seen.iter().enumerate() {
                        if !s {
                            b[i].add(&Cell::Null, count);
                        }
                    }
                }
                Ok((b, n))
            })
            .collect();
        let mut all = fresh();
        let mut rows = 0;
        for part in parts {
            let (b, n) = part?;
            rows += n;
            for (acc, x) in all.iter_mut().zip(b) {
                acc.merge(x);
            }
        }
        let p = Profile {
            version: PROFILE_VERSION,
            rows,
            key: m.key.clone(),
            columns: all.into_iter().map(ColumnBuilder::finish).collect(),
        };
        self.cache(&path, &p);
        Ok((p, true))
    }

    /// The ledger's label and confidence of a table's examples present at
    /// `commit` (empty when the ledger records none), cached by the
    /// commit's ledger head.
    fn ledger_columns(
        &self,
        commit: &Commit,
        table: &str,
        states: &mut Option<(u64, HashMap<ExampleId, ExampleState>)>,
    ) -> Result<(Vec<ColumnProfile>, bool), RepoError> {
        let Some((size, root)) = commit.ledger else {
            return Ok((Vec::new(), false));
        };
        let mut key = root.to_vec();
        key.extend_from_slice(table.as_bytes());
        let path = self.profile_path("ledger", &key);
        if let Some(p) = self.cached(&path) {
            return Ok((p.columns, false));
        }
        if states.as_ref().is_none_or(|(s, _)| *s != size) {
            let mut m: HashMap<ExampleId, ExampleState> = HashMap::new();
            self.read_ledger(&None, size, &|_| true, &mut |e| {
                if let Subject::Example(id) = &e.subject {
                    m.entry(*id).or_default().apply(&e.payload);
                }
                Ok(())
            })?;
            *states = Some((size, m));
        }
        let (_, m) = states.as_ref().expect("set above");
        let mut label = ColumnBuilder::new(LEDGER_LABEL, ColumnType::Categorical);
        let mut conf = ColumnBuilder::new(LEDGER_CONFIDENCE, ColumnType::Float);
        let (colon, hash) = (format!("{table}:"), format!("{table}#"));
        let mut any = false;
        let mut rows = 0;
        for st in m.values().filter(|s| s.present) {
            if !(st.locator.starts_with(&colon) || st.locator.starts_with(&hash)) {
                continue;
            }
            rows += 1;
            any |= st.label.is_some() || st.confidence.is_some();
            label.add(&st.label.clone().map_or(Cell::Null, Cell::Text), 1);
            conf.add(
                &st.confidence
                    .map_or(Cell::Null, |c| Cell::Number(format!("{c}"))),
                1,
            );
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

    /// File sizes and types of a folder dataset at a commit.
    fn folder_profile(&self, commit: &Commit, dataset: &str) -> Result<Option<Profile>, RepoError> {
        let Some(d) = commit.datasets.iter().find(|d| d.path == dataset) else {
            return Ok(None);
        };
        let files = self.flatten_dataset(Some(d))?;
        let mut size = ColumnBuilder::new("file size (bytes)", ColumnType::Integer);
        let mut kind = ColumnBuilder::new("file type", ColumnType::Categorical);
        let mut n = 0;
        for (path, f) in &files {
            if f.kind == EntryKind::Tree {
                continue;
            }
            n += 1;
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
        Ok(Some(Profile {
            version: PROFILE_VERSION,
            rows: n,
            key: Vec::new(),
            columns: vec![size.finish(), kind.finish()],
        }))
    }

    /// Drift from commit `r` (reference) to commit `c` (current).
    pub fn drift(
        &self,
        r: CommitId,
        c: CommitId,
        opts: &DriftOptions,
    ) -> Result<DriftReport, RepoError> {
        let (rc, cc) = (self.read_commit(r)?, self.read_commit(c)?);
        let wanted = |p: &str| {
            opts.paths.is_empty()
                || opts
                    .paths
                    .iter()
                    .any(|w| is_within(p, w) || is_within(w, p))
        };
        let mut computed = 0;
        // Tables, by path, from either side.
        let mut tables: BTreeMap<&str, (Option<ObjectId>, Option<ObjectId>)> = BTreeMap::new();
        for t in &rc.tables {
            tables.entry(&t.path).or_default().0 = Some(t.manifest);
        }
        for t in &cc.tables {
            tables.entry(&t.path).or_default().1 = Some(t.manifest);
        }
        let mut out = Vec::new();
        let (mut rs, mut cs) = (None, None);
        for (path, (rm, cm)) in tables {
            if !wanted(path) {
                continue;
            }
            let mut side = |m: Option<ObjectId>,
                            commit: &Commit,
                            st: &mut Option<(u64, HashMap<ExampleId, ExampleState>)>|
             -> Result<Option<Profile>, RepoError> {
                let Some(m) = m else { return Ok(None) };
                let (mut p, fresh) = self.table_profile(m)?;
                computed += usize::from(fresh);
                let (extra, fresh) = self.ledger_columns(commit, path, st)?;
                computed += usize::from(fresh);
                p.columns.extend(extra);
                if !opts.columns.is_empty() {
                    p.columns.retain(|c| opts.columns.contains(&c.name));
                }
                Ok(Some(p))
            };
            let a = side(rm, &rc, &mut rs)?;
            let b = side(cm, &cc, &mut cs)?;
            out.push(compare(path, a.as_ref(), b.as_ref(), &opts.settings));
        }
        // Folder datasets: file sizes and types.
        let mut folders: Vec<&str> = rc
            .datasets
            .iter()
            .chain(&cc.datasets)
            .filter(|d| d.kind == EntryKind::Tree)
            .map(|d| d.path.as_str())
            .collect();
        folders.sort_unstable();
        folders.dedup();
        for d in folders {
            if !wanted(d) {
                continue;
            }
            let mut a = self.folder_profile(&rc, d)?;
            let mut b = self.folder_profile(&cc, d)?;
            for p in [&mut a, &mut b].into_iter().flatten() {
                if !opts.columns.is_empty() {
                    p.columns.retain(|c| opts.columns.contains(&c.name));
                }
            }
            out.push(compare(
                &format!("{d}/"),
                a.as_ref(),
                b.as_ref(),
                &opts.settings,
            ));
        }
        if out.is_empty() {
            return Err(RepoError::Refused(if opts.paths.is_empty() {
                "neither commit has a table or a folder dataset to compare".into()
            } else {
                format!(
                    "no table or folder dataset matches {}",
                    opts.paths.join(", ")
                )
            }));
        }
        if !opts.columns.is_empty() {
            let known: Vec<&str> = out
                .iter()
                .flat_map(|t| t.columns.iter().map(|c| c.column.as_str()))
                .collect();
            if let Some(missing) = opts.columns.iter().find(|c| !known.contains(&c.as_str())) {
                return Err(RepoError::Refused(format!(
                    "no compared table has a column '{missing}' on both sides"
                )));
            }
        }
        Ok(DriftReport {
            reference: r.to_string(),
            current: c.to_string(),
            drifted: out.iter().any(|t| t.drifted),
            tables: out,
            bins: opts.settings.bins,
            share_threshold: opts.settings.share,
            missing_threshold: opts.settings.missing,
            profiles_computed: computed,
        })
    }
}
