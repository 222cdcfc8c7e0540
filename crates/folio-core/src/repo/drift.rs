//! `drift`: distribution shift between two commits, per table column, per
//! folder (file sizes and types), and of labels and confidence the ledger
//! records.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use rayon::prelude::*;

use super::{Repo, RepoError};
use crate::drift::profile::PROFILE_VERSION;
use crate::drift::report::{DriftOptions, DriftReport, LEDGER_CONFIDENCE, LEDGER_LABEL};
use crate::drift::{ColumnBuilder, ColumnProfile, DriftError, Profile, TableDrift, compare};
use crate::id::{CommitId, ManifestId};
use crate::object::{Commit, EntryKind};
use crate::table::manifest::decode_chunk;
use crate::table::{Cell, ColumnType};

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
        // Builders per worker (fold), merged pairwise (reduce): memory is
        // one set of builders per thread, not per chunk.
        type Part = Result<(Vec<ColumnBuilder>, u64), RepoError>;
        let (all, rows) = m
            .chunks
            .par_iter()
            .fold(
                || -> Part { Ok((fresh(), 0)) },
                |acc: Part, ch| {
                    let (mut b, mut n) = acc?;
                    let bytes = self.store.get(&ch.id.0)?;
                    let mut seen = vec![false; b.len()];
                    for row in decode_chunk(ch.id.0, &bytes)? {
                        let count = u64::from(row.count);
                        n += count;
                        seen.iter_mut().for_each(|s| *s = false);
                        // Rows usually list columns in table order: try the
                        // position first, then the name.
                        let mut k = 0;
                        crate::table::visit_row(&row.body, &mut |name, cell| {
                            let i = match columns.get(k) {
                                Some((n, _)) if n == name => Some(k),
                                _ => index.get(name).copied(),
                            };
                            k += 1;
                            if let Some(i) = i {
                                b[i].add_ref(cell, count);
                                seen[i] = true;
                            }
                        })
                        .ok_or_else(|| {
                            crate::table::TableError::Corrupt(
                                ch.id.0,
                                "a row does not decode".into(),
                            )
                        })?;
                        for (i, s) in seen.iter().enumerate() {
                            if !s {
                                b[i].add_ref(crate::table::CellRef::Null, count);
                            }
                        }
                    }
                    Ok((b, n))
                },
            )
            .reduce(
                || Ok((fresh(), 0)),
                |x, y| {
                    let ((mut a, n), (b, k)) = (x?, y?);
                    for (acc, more) in a.iter_mut().zip(b) {
                        acc.merge(more);
                    }
                    Ok((a, n + k))
                },
            )?;
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
        let (mut out, computed) = self.drift_tables(&rc, &cc, opts)?;
        out.extend(self.drift_folders(&rc, &cc, opts)?);
        if out.is_empty() {
            return Err(DriftError::NothingToCompare(opts.paths.clone()).into());
        }
        if !opts.columns.is_empty() {
            let known: Vec<&str> = out
                .iter()
                .flat_map(|t| t.columns.iter().map(|c| c.column.as_str()))
                .collect();
            if let Some(missing) = opts.columns.iter().find(|c| !known.contains(&c.as_str())) {
                return Err(DriftError::NoSuchColumn(missing.clone()).into());
            }
        }
        Ok(DriftReport {
            reference: r,
            current: c,
            drifted: out.iter().any(|t| t.drifted),
            tables: out,
            bins: opts.settings.bins,
            share_threshold: opts.settings.share,
            missing_threshold: opts.settings.missing,
            profiles_computed: computed,
        })
    }

    /// Each table of either commit that `opts` selects, compared; and how
    /// many profiles were computed (not read from the cache).
    fn drift_tables(
        &self,
        rc: &Commit,
        cc: &Commit,
        opts: &DriftOptions,
    ) -> Result<(Vec<TableDrift>, usize), RepoError> {
        let mut computed = 0;
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
            let side = |m: Option<ManifestId>,
                        commit: &Commit|
             -> Result<Option<(Profile, usize)>, RepoError> {
                let Some(m) = m else { return Ok(None) };
                let (mut p, fresh) = self.table_profile(m)?;
                let (extra, fresh2) = self.ledger_columns(commit, path)?;
                p.columns.extend(extra);
                opts.keep_columns(&mut p);
                Ok(Some((p, usize::from(fresh) + usize::from(fresh2))))
            };
            let (a, b) = rayon::join(|| side(rm, rc), || side(cm, cc));
            let (a, b) = (a?, b?);
            computed += a.as_ref().map_or(0, |x| x.1) + b.as_ref().map_or(0, |x| x.1);
            let (a, b) = (a.as_ref().map(|x| &x.0), b.as_ref().map(|x| &x.0));
            out.push(compare(path, a, b, &opts.settings));
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
        let mut out = Vec::new();
        for d in folders.into_iter().filter(|d| opts.wants(d)) {
            let mut a = self.folder_profile(rc, d)?;
            let mut b = self.folder_profile(cc, d)?;
            for p in [&mut a, &mut b].into_iter().flatten() {
                opts.keep_columns(p);
            }
            out.push(compare(
                &format!("{d}/"),
                a.as_ref(),
                b.as_ref(),
                &opts.settings,
            ));
        }
        Ok(out)
    }
}
