//! `log` and `show`: reading history.

use std::collections::{BTreeMap, BinaryHeap, HashSet};

use super::{Repo, RepoError, is_within};
use crate::id::{CommitId, ObjectId, TreeId};
use crate::object::{Commit, DatasetEntry, EntryKind};
use crate::snapshot::{self, FileChanges, FlatEntry};

/// One commit as `log` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LogEntry {
    /// Commit id.
    pub id: CommitId,
    /// Parent ids.
    pub parents: Vec<CommitId>,
    /// Author.
    pub author: String,
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// Full message.
    pub message: String,
    /// The ledger head the commit attests: its event count and RFC 6962
    /// root (hex), against which `prove` and `verify-proof` check (`None`
    /// while the ledger is empty).
    pub ledger: Option<LedgerHead>,
}

/// A ledger head: how many events, and their Merkle root.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LedgerHead {
    /// Events in the ledger of the commit's history.
    pub events: u64,
    /// Their RFC 6962 Merkle root, hex.
    pub root: String,
}

impl LogEntry {
    fn new(id: CommitId, c: &Commit) -> Self {
        LogEntry {
            id,
            parents: c.parents.clone(),
            author: c.author.clone(),
            time: c.time,
            message: c.message.clone(),
            ledger: c.ledger.map(|(events, root)| LedgerHead {
                events,
                root: root.to_hex(),
            }),
        }
    }
}

/// One dataset of a commit, as `show` describes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatasetInfo {
    /// Dataset path.
    pub path: String,
    /// "folder", "file", "executable" or "symlink".
    pub kind: &'static str,
    /// Root tree or blob id.
    pub id: crate::id::ObjectId,
    /// Number of files and symlinks.
    pub files: u64,
    /// Total bytes.
    pub bytes: u64,
}

/// Everything `show` reports about a commit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CommitInfo {
    /// Metadata.
    #[serde(flatten)]
    pub entry: LogEntry,
    /// Datasets with their counts.
    pub datasets: Vec<DatasetInfo>,
    /// Changes against the first parent (or against nothing), per dataset.
    pub changes: BTreeMap<String, FileChanges>,
    /// Tables with their schema and rejected lines.
    pub tables: Vec<TableInfo>,
}

/// One table of a commit, as `show` describes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableInfo {
    /// Path relative to the working tree.
    pub path: String,
    /// The manifest id.
    pub manifest: String,
    /// File format.
    pub format: &'static str,
    /// Key columns (empty: rows are identified by their content).
    pub key: Vec<String>,
    /// Rows read.
    pub rows: u64,
    /// Rows that repeat another row exactly (unkeyed tables).
    pub duplicates: u64,
    /// Columns and their types.
    pub columns: Vec<ColumnInfo>,
    /// Lines rejected in lenient mode.
    pub rejected: Vec<RejectedLine>,
    /// The files of a sharded table (D91), in path order (empty for a
    /// table of one file).
    pub shards: Vec<String>,
}

/// A column and its type.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnInfo {
    /// Name.
    pub name: String,
    /// Type (inferred, or declared in the config).
    #[serde(rename = "type")]
    pub ty: &'static str,
}

/// A line `--lenient` left out.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RejectedLine {
    /// 1-based line.
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// What a path names in a commit (`folio cat REV:PATH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathAt {
    /// A file, executable or symlink: its kind, contents id and size.
    Blob(EntryKind, ObjectId, u64),
    /// A folder: its entries (name, kind, size), in order.
    Folder(Vec<(String, EntryKind, u64)>),
}

impl Repo {
    /// What `path` (repository-relative, `/`-separated) names in commit
    /// `id`, walking only the folders on the way; `None` when nothing.
    pub fn path_at(&self, id: CommitId, path: &str) -> Result<Option<PathAt>, RepoError> {
        let path = path.trim_matches('/');
        let commit = self.read_commit(id)?;
        let listing = |tree: &crate::object::Tree| {
            PathAt::Folder(
                tree.entries
                    .iter()
                    .map(|e| (e.name.clone(), e.kind, e.size))
                    .collect(),
            )
        };
        for d in &commit.datasets {
            if !is_within(path, &d.path) {
                continue;
            }
            if d.kind != EntryKind::Tree {
                return Ok((path == d.path).then_some(PathAt::Blob(d.kind, d.id, d.size)));
            }
            let mut tree = self.read_tree(TreeId(d.id))?;
            let rest = path[d.path.len()..].trim_start_matches('/');
            if rest.is_empty() {
                return Ok(Some(listing(&tree)));
            }
            let parts: Vec<&str> = rest.split('/').collect();
            for (i, part) in parts.iter().enumerate() {
                let Some(e) = tree.entries.iter().find(|e| e.name == *part) else {
                    return Ok(None);
                };
                let last = i + 1 == parts.len();
                match (e.kind, last) {
                    (EntryKind::Tree, true) => {
                        return Ok(Some(listing(&self.read_tree(TreeId(e.id))?)));
                    }
                    (EntryKind::Tree, false) => tree = self.read_tree(TreeId(e.id))?,
                    (kind, true) => return Ok(Some(PathAt::Blob(kind, e.id, e.size))),
                    (_, false) => return Ok(None),
                }
            }
        }
        // A folder holding datasets (`data` when `data/a` and `data/b`
        // are datasets) lists them.
        let mut under: BTreeMap<String, (EntryKind, u64)> = BTreeMap::new();
        for d in &commit.datasets {
            let rest = if path.is_empty() {
                Some(d.path.as_str())
            } else {
                d.path.strip_prefix(path).and_then(|r| r.strip_prefix('/'))
            };
            let Some(rest) = rest else { continue };
            match rest.split_once('/') {
                Some((first, _)) => {
                    under
                        .entry(first.to_string())
                        .or_insert((EntryKind::Tree, 0));
                }
                None => {
                    under.insert(rest.to_string(), (d.kind, d.size));
                }
            }
        }
        let listing: Vec<(String, EntryKind, u64)> =
            under.into_iter().map(|(n, (k, s))| (n, k, s)).collect();
        Ok((!listing.is_empty()).then_some(PathAt::Folder(listing)))
    }

    /// Whether this repository holds an object's contents (a partial
    /// clone may have left them on a remote).
    pub fn holds(&self, id: &ObjectId) -> bool {
        self.store.contains(id)
    }

    /// Streams an object's contents into `out`, checked against its id
    /// (an error after the last byte when they do not match).
    ///
    /// A table file a purge erased is written from the rows kept (D86),
    /// in row-identity order; returns the rows written then.
    pub fn cat(&self, id: &ObjectId, out: &mut dyn std::io::Write) -> Result<u64, RepoError> {
        if let Some((manifest, table)) = self.store.purged().tables.get(id).cloned() {
            return self.rebuild_table(manifest, &table, out);
        }
        Ok(self.store.copy_to(id, out)?)
    }

    /// Flattens a dataset entry (`None` gives an empty map). A single-file
    /// dataset flattens to one entry with the empty path.
    pub(crate) fn flatten_dataset(
        &self,
        d: Option<&DatasetEntry>,
    ) -> Result<BTreeMap<String, FlatEntry>, RepoError> {
        Ok(match d {
            None => BTreeMap::new(),
            Some(d) if d.kind == EntryKind::Tree => snapshot::flatten(&self.store, TreeId(d.id))?,
            Some(d) => BTreeMap::from([(
                String::new(),
                FlatEntry {
                    kind: d.kind,
                    id: d.id,
                    size: d.size,
                },
            )]),
        })
    }

    /// File changes between two versions of one dataset.
    pub(crate) fn dataset_changes(
        &self,
        old: Option<&DatasetEntry>,
        new: Option<&DatasetEntry>,
    ) -> Result<FileChanges, RepoError> {
        if old.map(|d| (d.kind, d.id)) == new.map(|d| (d.kind, d.id)) {
            return Ok(FileChanges::default());
        }
        let is_tree = |d: Option<&DatasetEntry>| d.is_none_or(|d| d.kind == EntryKind::Tree);
        if is_tree(old) && is_tree(new) {
            let (a, b) = (old.map(|d| d.id), new.map(|d| d.id));
            return Ok(snapshot::diff_trees(&self.store, a, &self.store, b)?);
        }
        // A dataset that changed between one file and a folder.
        let a = self.flatten_dataset(old)?;
        let b = self.flatten_dataset(new)?;
        Ok(snapshot::compare(&a, &b))
    }

    /// Commits reachable from `start`, newest first; at most `limit`; only
    /// those that changed `path` (a dataset or a path inside one) if given.
    pub fn log(
        &self,
        start: CommitId,
        limit: Option<usize>,
        path: Option<&str>,
    ) -> Result<Vec<LogEntry>, RepoError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut heap = BinaryHeap::new();
        let first = self.read_commit(start)?;
        heap.push((first.time, start));
        seen.insert(start);
        while let Some((_, id)) = heap.pop() {
            let c = self.read_commit(id)?;
            if limit.is_some_and(|n| out.len() >= n) {
                break;
            }
            let mut parent_commits = Vec::new();
            for p in &c.parents {
                let pc = self.read_commit(*p)?;
                if seen.insert(*p) {
                    heap.push((pc.time, *p));
                }
                parent_commits.push(pc);
            }
            let include = match path {
                None => true,
                Some(p) => {
                    let mine = self.object_at(&c, p)?;
                    match parent_commits.first() {
                        None => mine.is_some(),
                        Some(pc) => self.object_at(pc, p)? != mine,
                    }
                }
            };
            if include {
                out.push(LogEntry::new(id, &c));
            }
        }
        Ok(out)
    }

    /// The id of the object at `path` in a commit, if any.
    fn object_at(&self, c: &Commit, path: &str) -> Result<Option<ObjectId>, RepoError> {
        let path = path.trim_end_matches('/');
        for d in &c.datasets {
            if is_within(path, &d.path) {
                if path == d.path {
                    return Ok(Some(d.id));
                }
                let rest = &path[d.path.len() + 1..];
                let mut id = d.id;
                for part in rest.split('/') {
                    let tree = snapshot::read_tree(&self.store, id)?;
                    match tree.entries.into_iter().find(|e| e.name == part) {
                        Some(e) => id = e.id,
                        None => return Ok(None),
                    }
                }
                return Ok(Some(id));
            }
            if is_within(&d.path, path) {
                // The path is a folder holding whole datasets: hash them.
                let ids: Vec<u8> = c
                    .datasets
                    .iter()
                    .filter(|d| is_within(&d.path, path))
                    .flat_map(|d| d.id.0)
                    .collect();
                return Ok(Some(ObjectId::of(&ids)));
            }
        }
        Ok(None)
    }

    /// Describes a commit: metadata, datasets and changes since its parent.
    pub fn show(&self, id: CommitId) -> Result<CommitInfo, RepoError> {
        let c = self.read_commit(id)?;
        let parent = c
            .parents
            .first()
            .map(|p| self.read_commit(*p))
            .transpose()?;
        let mut datasets = Vec::new();
        for d in &c.datasets {
            let flat = self.flatten_dataset(Some(d))?;
            let files = flat.values().filter(|e| e.kind != EntryKind::Tree).count() as u64;
            datasets.push(DatasetInfo {
                path: d.path.clone(),
                kind: d.kind.name(),
                id: d.id,
                files,
                bytes: d.size,
            });
        }
        let mut changes = BTreeMap::new();
        let old: &[DatasetEntry] = parent
            .as_ref()
            .map(|p| p.datasets.as_slice())
            .unwrap_or(&[]);
        let mut paths: Vec<&str> = old
            .iter()
            .chain(&c.datasets)
            .map(|d| d.path.as_str())
            .collect();
        paths.sort();
        paths.dedup();
        for p in paths {
            let a = old.iter().find(|d| d.path == p);
            let b = c.datasets.iter().find(|d| d.path == p);
            let ch = self.dataset_changes(a, b)?;
            if !ch.is_empty() {
                changes.insert(p.to_string(), ch);
            }
        }
        let mut tables = Vec::new();
        for t in &c.tables {
            let m = self.read_manifest(t.manifest)?;
            tables.push(TableInfo {
                path: t.path.clone(),
                manifest: t.manifest.to_string(),
                format: m.format.name(),
                key: m.key.clone(),
                rows: m.rows,
                duplicates: m.duplicates,
                shards: m.shards.iter().map(|s| s.path.clone()).collect(),
                columns: m
                    .columns
                    .iter()
                    .map(|(n, t)| ColumnInfo {
                        name: n.clone(),
                        ty: t.name(),
                    })
                    .collect(),
                rejected: m
                    .rejected
                    .iter()
                    .map(|(line, reason)| RejectedLine {
                        line: *line,
                        reason: reason.clone(),
                    })
                    .collect(),
            });
        }
        Ok(CommitInfo {
            entry: LogEntry::new(id, &c),
            datasets,
            changes,
            tables,
        })
    }
}
