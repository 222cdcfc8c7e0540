//! `diff`: files and table rows between two commits, or a commit and the
//! working tree.

use std::collections::{BTreeMap, HashMap};

use super::{Repo, RepoError, TableOptions, is_within};
use crate::id::{CommitId, ObjectId};
use crate::index::Index;
use crate::object::{DatasetEntry, EntryKind};
use crate::progress::Progress;
use crate::snapshot::{self, FileChanges, TreeSource, WorkTrees};
use crate::table::manifest::{self, ChunkSource, Manifest, RowChangeKind, SchemaChange};
use crate::table::{decode_row, display_key};

/// One side of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffSide {
    /// A commit.
    Commit(CommitId),
    /// The working tree (the datasets HEAD tracks, as they are now).
    WorkTree,
}

impl DiffSide {
    /// The side for humans: 12 digits of a commit id, or `working tree`.
    pub fn short(&self) -> String {
        match self {
            DiffSide::Commit(c) => c.short(12),
            DiffSide::WorkTree => "working tree".into(),
        }
    }
}

impl std::fmt::Display for DiffSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiffSide::Commit(c) => write!(f, "{c}"),
            DiffSide::WorkTree => f.write_str("working tree"),
        }
    }
}

/// In JSON: the commit id in hex, or `working tree`.
impl serde::Serialize for DiffSide {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What to compare and how much to report.
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// Only paths at or under these (relative to the working tree).
    pub paths: Vec<String>,
    /// At most this many row changes per table.
    pub limit: Option<usize>,
    /// How working-tree tables are read.
    pub tables: TableOptions,
}

/// A file whose content moved to a new path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rename {
    /// Old path.
    pub from: String,
    /// New path.
    pub to: String,
}

/// File-level differences.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FileDiff {
    /// New paths (folders, with a trailing `/`, only when empty).
    pub added: Vec<String>,
    /// Paths that are gone.
    pub removed: Vec<String>,
    /// Paths whose content, mode or type changed.
    pub modified: Vec<String>,
    /// Same content at a new path.
    pub renamed: Vec<Rename>,
}

/// One changed row, as reported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RowReport {
    /// added, removed or modified.
    pub change: RowChangeKind,
    /// The key (keyed tables; JSON `null` otherwise).
    pub key: Option<String>,
    /// How many identical rows (unkeyed tables may repeat a row).
    pub count: u32,
    /// For modified rows: the cells that changed (empty otherwise).
    pub cells: Vec<manifest::CellChange>,
    /// For added or removed rows: the row's values (null cells omitted;
    /// JSON `null` for modified rows).
    pub row: Option<BTreeMap<String, String>>,
}

/// Row-level differences of one table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableDiff {
    /// Path relative to the working tree.
    pub path: String,
    /// added, removed or modified (the table file itself).
    pub status: &'static str,
    /// Key columns of the new side (of the old one when removed).
    pub key: Vec<String>,
    /// Set when the two sides use different keys (JSON `null` otherwise).
    pub note: Option<String>,
    /// Schema changes.
    pub schema: Vec<SchemaChange>,
    /// Columns in file order: the new side's, then those only the old side
    /// has (the order rows and cells are shown in).
    pub columns: Vec<String>,
    /// Rows added.
    pub rows_added: u64,
    /// Rows removed.
    pub rows_removed: u64,
    /// Rows modified (keyed tables).
    pub rows_modified: u64,
    /// The changed rows, in identity order, up to the limit.
    pub rows: Vec<RowReport>,
    /// Changed rows not listed because of the limit.
    pub omitted: u64,
}

/// Everything `diff` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diff {
    /// The old side: a commit or the working tree.
    pub from: DiffSide,
    /// The new side.
    pub to: DiffSide,
    /// File-level changes.
    pub files: FileDiff,
    /// Tables whose rows or schema changed.
    pub tables: Vec<TableDiff>,
}

impl Diff {
    /// True when nothing differs.
    pub fn is_empty(&self) -> bool {
        self.files == FileDiff::default() && self.tables.is_empty()
    }
}

/// A side, materialised: datasets, trees of the working tree, tables.
struct Side {
    label: DiffSide,
    datasets: Vec<DatasetEntry>,
    work: HashMap<String, WorkTrees>,
    tables: BTreeMap<String, SideTable>,
}

impl Repo {
    /// Compares two sides.
    pub fn diff(
        &self,
        from: DiffSide,
        to: DiffSide,
        opts: &DiffOptions,
        progress: &dyn Progress,
    ) -> Result<Diff, RepoError> {
        let a = self.side(from, opts, progress)?;
        let b = self.side(to, opts, progress)?;
        let files = self.file_diff(&a, &b, &opts.paths)?;
        let mut tables = Vec::new();
        let names: std::collections::BTreeSet<&String> =
            a.tables.keys().chain(b.tables.keys()).collect();
        for path in names {
            if !opts.paths.is_empty() && !opts.paths.iter().any(|p| is_within(path, p)) {
                continue;
            }
            if let Some(t) =
                self.table_diff(path, a.tables.get(path), b.tables.get(path), opts.limit)?
            {
                tables.push(t);
            }
        }
        Ok(Diff {
            from: a.label,
            to: b.label,
            files,
            tables,
        })
    }

    fn side(
        &self,
        side: DiffSide,
        opts: &DiffOptions,
        progress: &dyn Progress,
    ) -> Result<Side, RepoError> {
        match side {
            DiffSide::Commit(id) => {
                let c = self.read_commit(id)?;
                let mut tables = BTreeMap::new();
                for t in &c.tables {
                    tables.insert(
                        t.path.clone(),
                        (t.manifest, self.read_manifest(t.manifest)?, None),
                    );
                }
                Ok(Side {
                    label: side,
                    datasets: c.datasets,
                    work: HashMap::new(),
                    tables,
                })
            }
            DiffSide::WorkTree => self.work_side(opts, progress),
        }
    }

    /// The working tree as a side: every dataset HEAD tracks, hashed (with
    /// the stat cache) but not stored; changed tables parsed in memory.
    fn work_side(&self, opts: &DiffOptions, progress: &dyn Progress) -> Result<Side, RepoError> {
        let head = match self.head_commit()? {
            Some(h) => Some(self.read_commit(h)?),
            None => None,
        };
        let tracked = head
            .as_ref()
            .map(|c| c.datasets.clone())
            .unwrap_or_default();
        let head_tables = head.as_ref().map(|c| c.tables.clone()).unwrap_or_default();
        let parent = self.parent_manifests(&head_tables)?;
        let config = self.config()?;
        let index = Index::open_ro(&self.index_dir());
        let mut datasets = Vec::new();
        let mut work = HashMap::new();
        let mut files = Vec::new();
        for d in &tracked {
            let abs = self.abs(&d.path);
            if std::fs::symlink_metadata(&abs).is_err() {
                continue;
            }
            let mut scan = snapshot::scan(&abs, Some(&self.repo_ignore()))?;
            let cache = index
                .as_ref()
                .map(|ix| ix.stat_cache(&d.path))
                .unwrap_or_default();
            snapshot::resolve_ids(&mut scan, &abs, &cache, None, i128::MIN, progress)?;
            files.extend(self.table_files(&config, &d.path, &scan, &parent, &opts.tables)?);
            if scan.single_file {
                let e = &scan.entries[0];
                datasets.push(DatasetEntry {
                    path: d.path.clone(),
                    kind: e.kind,
                    id: e.id.expect("resolved"),
                    size: e.size,
                });
            } else {
                let trees = WorkTrees::build(&scan);
                datasets.push(DatasetEntry {
                    path: d.path.clone(),
                    kind: EntryKind::Tree,
                    id: trees.root.0,
                    size: trees.size,
                });
                work.insert(d.path.clone(), trees);
            }
        }
        let mut tables = BTreeMap::new();
        for b in self.build_tables(&files, &parent)? {
            let id = b.manifest.id();
            tables.insert(b.path, (id, b.manifest, b.chunks));
        }
        Ok(Side {
            label: DiffSide::WorkTree,
            datasets,
            work,
            tables,
        })
    }

    fn file_diff(&self, a: &Side, b: &Side, filter: &[String]) -> Result<FileDiff, RepoError> {
        let mut all = FileChanges::default();
        let mut paths: Vec<&str> = a
            .datasets
            .iter()
            .chain(&b.datasets)
            .map(|d| d.path.as_str())
            .collect();
        paths.sort();
        paths.dedup();
        for p in paths {
            let x = a.datasets.iter().find(|d| d.path == p);
            let y = b.datasets.iter().find(|d| d.path == p);
            let ch = self.dataset_diff(p, x, a, y, b)?;
            let prefix = |rel: &String| {
                if rel.is_empty() {
                    p.to_string()
                } else {
                    format!("{p}/{rel}")
                }
            };
            all.added.extend(ch.added.iter().map(prefix));
            all.added_ids.extend(ch.added_ids);
            all.deleted.extend(ch.deleted.iter().map(prefix));
            all.deleted_ids.extend(ch.deleted_ids);
            all.modified.extend(ch.modified.iter().map(prefix));
        }
        let keep = |p: &String| {
            filter.is_empty() || filter.iter().any(|f| is_within(p.trim_end_matches('/'), f))
        };
        // Pair removed and added files with the same content: renames.
        let empty = ObjectId::of(b"");
        let mut by_id: HashMap<ObjectId, Vec<usize>> = HashMap::new();
        for (i, id) in all.deleted_ids.iter().enumerate() {
            if let Some(id) = id.filter(|id| *id != empty) {
                by_id.entry(id).or_default().push(i);
            }
        }
        let mut renamed = Vec::new();
        let mut gone = vec![false; all.deleted.len()];
        let mut added = Vec::new();
        for (i, path) in all.added.iter().enumerate() {
            let id = all.added_ids.get(i).copied().flatten();
            match id.and_then(|id| by_id.get_mut(&id)).and_then(|v| v.pop()) {
                Some(j) => {
                    gone[j] = true;
                    renamed.push(Rename {
                        from: all.deleted[j].clone(),
                        to: path.clone(),
                    });
                }
                None => added.push(path.clone()),
            }
        }
        let removed = all
            .deleted
            .iter()
            .zip(gone)
            .filter(|(_, g)| !g)
            .map(|(p, _)| p.clone())
            .collect::<Vec<_>>();
        let mut fd = FileDiff {
            added: added.into_iter().filter(keep).collect(),
            removed: removed.into_iter().filter(keep).collect(),
            modified: all.modified.into_iter().filter(keep).collect(),
            renamed: renamed
                .into_iter()
                .filter(|r| keep(&r.from) || keep(&r.to))
                .collect(),
        };
        fd.added.sort();
        fd.removed.sort();
        fd.modified.sort();
        Ok(fd)
    }

    fn source<'a>(&'a self, side: &'a Side, dataset: &str) -> &'a dyn TreeSource {
        match side.work.get(dataset) {
            Some(w) => w,
            None => &self.store,
        }
    }

    /// Changes in one dataset; paths relative to it (`""` for the dataset
    /// itself when it is one file).
    fn dataset_diff(
        &self,
        path: &str,
        x: Option<&DatasetEntry>,
        a: &Side,
        y: Option<&DatasetEntry>,
        b: &Side,
    ) -> Result<FileChanges, RepoError> {
        if x.map(|d| (d.kind, d.id)) == y.map(|d| (d.kind, d.id)) {
            return Ok(FileChanges::default());
        }
        let tree = |d: Option<&DatasetEntry>| d.filter(|d| d.kind == EntryKind::Tree).map(|d| d.id);
        let mut ch =
            snapshot::diff_trees(self.source(a, path), tree(x), self.source(b, path), tree(y))?;
        match (file_entry(x), file_entry(y)) {
            (Some(_), Some(_)) => ch.modified.push(String::new()),
            (Some(f), None) => {
                ch.deleted.push(String::new());
                ch.deleted_ids.push(f.kind.is_file().then_some(f.id));
            }
            (None, Some(f)) => {
                ch.added.push(String::new());
                ch.added_ids.push(f.kind.is_file().then_some(f.id));
            }
            (None, None) => {}
        }
        Ok(ch)
    }

    fn table_diff(
        &self,
        path: &str,
        a: Option<&SideTable>,
        b: Option<&SideTable>,
        limit: Option<usize>,
    ) -> Result<Option<TableDiff>, RepoError> {
        if a.map(|t| t.0) == b.map(|t| t.0) {
            return Ok(None);
        }
        let (src_a, src_b) = (
            a.map(|t| chunk_source(self, t)),
            b.map(|t| chunk_source(self, t)),
        );
        let old = a.zip(src_a.as_deref()).map(|(t, s)| (&t.1, s));
        let new = b.zip(src_b.as_deref()).map(|(t, s)| (&t.1, s));
        let (rd, sealed) = match manifest::diff(old, new, limit) {
            Err(crate::table::TableError::Sealed(..)) => {
                // Encrypted rows and no identity: count the changes from
                // the skeletons, show no row (D83).
                let skeletons = a
                    .iter()
                    .chain(b.iter())
                    .flat_map(|t| &t.1.chunks)
                    .filter_map(|c| Some((c.id.0, c.skeleton?.0)))
                    .collect();
                let (sa, sb) = (
                    src_a.as_deref().map(|inner| HashOnly {
                        inner,
                        skeletons: &skeletons,
                    }),
                    src_b.as_deref().map(|inner| HashOnly {
                        inner,
                        skeletons: &skeletons,
                    }),
                );
                let old = a
                    .zip(sa.as_ref())
                    .map(|(t, s)| (&t.1, s as &dyn ChunkSource));
                let new = b
                    .zip(sb.as_ref())
                    .map(|(t, s)| (&t.1, s as &dyn ChunkSource));
                let mut rd = manifest::diff(old, new, Some(0))?;
                rd.changes.clear();
                (rd, true)
            }
            r => (r?, false),
        };
        let schema = match (a, b) {
            (Some(x), Some(y)) => manifest::schema_changes(&x.1.columns, &y.1.columns),
            _ => Vec::new(),
        };
        if rd.added == 0 && rd.removed == 0 && rd.modified == 0 && schema.is_empty() {
            return Ok(None);
        }
        let (status, key) = match (a, b) {
            (None, Some(y)) => ("added", y.1.key.clone()),
            (Some(x), None) => ("removed", x.1.key.clone()),
            (_, Some(y)) => ("modified", y.1.key.clone()),
            (None, None) => unreachable!("one side has the table"),
        };
        let note = match (a, b) {
            _ if sealed => Some(
                "its rows are encrypted: counts only (to see them, give FOLIO_IDENTITY a recipient's identity and --purpose)".to_string(),
            ),
            (Some(x), Some(y)) if x.1.key != y.1.key => Some(format!(
                "the key changed ({} → {}): rows are matched by different identities",
                show_key(&x.1.key),
                show_key(&y.1.key)
            )),
            _ => None,
        };
        let mut columns: Vec<String> = b
            .map(|y| y.1.columns.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default();
        for (n, _) in a.map(|x| x.1.columns.as_slice()).unwrap_or_default() {
            if !columns.contains(n) {
                columns.push(n.clone());
            }
        }
        let keyed = !key.is_empty() && note.is_none();
        let rows: Vec<RowReport> = rd
            .changes
            .iter()
            .map(|c| {
                let (cells, row) = match c.kind {
                    RowChangeKind::Modified => (
                        manifest::cell_changes(
                            c.old.as_deref().unwrap_or_default(),
                            c.new.as_deref().unwrap_or_default(),
                        ),
                        None,
                    ),
                    RowChangeKind::Added => (Vec::new(), c.new.as_deref().map(row_values)),
                    RowChangeKind::Removed => (Vec::new(), c.old.as_deref().map(row_values)),
                };
                RowReport {
                    change: c.kind,
                    key: keyed.then(|| display_key(&c.ident)),
                    count: c.count,
                    cells,
                    row,
                }
            })
            .collect();
        let total = rd.added + rd.removed + rd.modified;
        let listed: u64 = rd.changes.iter().map(|c| u64::from(c.count)).sum();
        Ok(Some(TableDiff {
            path: path.to_string(),
            status,
            key,
            note,
            schema,
            columns,
            rows_added: rd.added,
            rows_removed: rd.removed,
            rows_modified: rd.modified,
            // Rows of an encrypted table are not listed, not omitted.
            omitted: if sealed {
                0
            } else {
                total.saturating_sub(listed)
            },
            rows,
        }))
    }
}

fn file_entry(d: Option<&DatasetEntry>) -> Option<&DatasetEntry> {
    d.filter(|d| d.kind != EntryKind::Tree)
}

/// A side's table: manifest id, manifest, and in-memory chunks (working tree).
type SideTable = (
    crate::id::ManifestId,
    Manifest,
    Option<crate::table::chunkset::ChunkSet>,
);

fn chunk_source<'a>(repo: &'a Repo, t: &'a SideTable) -> Box<dyn ChunkSource + 'a> {
    match &t.2 {
        Some(m) => Box::new(m.over(&repo.store)),
        None => Box::new(&repo.store),
    }
}

/// Chunks of a side reduced to identities and row hashes
/// ([`manifest::identities_only`]); a sealed chunk read as its skeleton.
struct HashOnly<'a> {
    inner: &'a dyn ChunkSource,
    skeletons: &'a HashMap<ObjectId, ObjectId>,
}

impl ChunkSource for HashOnly<'_> {
    fn chunk(&self, id: &ObjectId) -> Result<Vec<u8>, crate::table::TableError> {
        match self.inner.chunk(id) {
            Ok(bytes) => manifest::identities_only(*id, &bytes),
            Err(crate::table::TableError::Sealed(..)) if self.skeletons.contains_key(id) => {
                let s = self.skeletons[id];
                manifest::identities_only(s, &self.inner.chunk(&s)?)
            }
            Err(e) => Err(e),
        }
    }
}

fn show_key(k: &[String]) -> String {
    if k.is_empty() {
        "row content".into()
    } else {
        k.join(",")
    }
}

fn row_values(body: &[u8]) -> BTreeMap<String, String> {
    decode_row(body)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.display()))
        .collect()
}
