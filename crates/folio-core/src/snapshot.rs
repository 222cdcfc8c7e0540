//! Scanning datasets in the working tree, hashing them with the stat
//! cache, and turning them into trees.

use crate::error::ErrorKind;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

mod tree;
mod walk;

pub use tree::{TreeSource, WorkTrees, diff_trees};
pub use walk::path_order;

use crate::id::{ObjectId, TreeId};
use crate::index::{DatasetCache, FileStat, StatEntry};
use crate::object::{DecodeError, EntryKind, Tree};
use crate::progress::Progress;
use crate::store::{Store, StoreError, Writer};

/// The file of ignore patterns (gitignore syntax), in any folder.
pub const IGNORE_FILE: &str = ".folioignore";

/// Errors scanning or snapshotting a dataset.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file or folder could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file holds content a purge erased (D86): it is not stored again.
    #[error(
        "{} holds content purged from this repository (purge record {}): folio does not store it again; delete the file, or `folio restore` it (a table is written without its purged rows)",
        path.display(), record.short(12)
    )]
    Purged {
        /// The file.
        path: PathBuf,
        /// The purge record.
        record: ObjectId,
    },
    /// A name is not valid UTF-8; folio refuses such names.
    #[error(
        "{} has a name that is not valid UTF-8; folio stores names as UTF-8 so that every platform can check them out: rename it or list it in .folioignore",
        path.display()
    )]
    NonUtf8Name {
        /// The path, shown lossily.
        path: PathBuf,
    },
    /// A name with a control character (a newline, an escape): it could
    /// forge lines of every listing.
    #[error(
        "{} has a name with a control character; folio refuses such names so that no listing can be forged: rename it or list it in .folioignore",
        path.display().to_string().escape_debug()
    )]
    ControlName {
        /// The path.
        path: PathBuf,
    },
    /// Walking the folder failed.
    #[error("cannot scan {}: {detail}", path.display())]
    Walk {
        /// The dataset.
        path: PathBuf,
        /// What the walker said.
        detail: String,
    },
    /// A stored tree nests deeper than [`MAX_DEPTH`] folders.
    #[error(
        "{path}: stored trees nest deeper than {MAX_DEPTH} folders: the snapshot is damaged or hostile"
    )]
    TooDeep {
        /// The path where the limit was reached.
        path: String,
    },
    /// A folder of the working tree nests deeper than [`MAX_DEPTH`].
    #[error("{}: folders nest deeper than {MAX_DEPTH} levels; folio refuses such a dataset (list the folder in .folioignore)", path.display())]
    TooDeepOnDisk {
        /// The folder.
        path: PathBuf,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored tree is damaged.
    #[error("tree {id}: {source}")]
    BadTree {
        /// The tree id.
        id: ObjectId,
        /// The decoding error.
        source: DecodeError,
    },
}

impl SnapshotError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SnapshotError::Unreadable { .. } | SnapshotError::Walk { .. } => ErrorKind::Io,
            SnapshotError::NonUtf8Name { .. }
            | SnapshotError::ControlName { .. }
            | SnapshotError::Purged { .. } => ErrorKind::Invalid,
            SnapshotError::Store(e) => e.kind(),
            SnapshotError::BadTree { .. } | SnapshotError::TooDeep { .. } => ErrorKind::Damaged,
            SnapshotError::TooDeepOnDisk { .. } => ErrorKind::Invalid,
        }
    }
}

/// One file or symlink found in the working tree.
#[derive(Debug)]
pub struct WorkEntry {
    /// Path relative to the dataset root (`/`-separated; empty for a
    /// single-file dataset).
    pub path: String,
    /// File, executable or symlink.
    pub kind: EntryKind,
    /// Its metadata, taken before reading it.
    pub meta: FileStat,
    /// Its blob id, once known.
    pub id: Option<ObjectId>,
    /// Its size (for symlinks, the target length).
    pub size: u64,
}

/// What a scan found in one dataset.
#[derive(Debug, Default)]
pub struct Scan {
    /// Files and symlinks, sorted by path.
    pub entries: Vec<WorkEntry>,
    /// Every folder below the root, sorted.
    pub dirs: Vec<String>,
    /// Paths skipped because they are neither file, folder nor symlink.
    pub skipped: Vec<String>,
    /// True when the dataset is one file rather than a folder.
    pub single_file: bool,
    /// Temporary files a killed checkout left (`.tmp-folio-*`), never
    /// tracked; a writer removes them.
    pub temps: Vec<std::path::PathBuf>,
}

impl Scan {
    /// Removes the temporary files a killed writer left. Call under the
    /// lock (only writers create them); best effort.
    pub fn remove_temps(&self) {
        for t in &self.temps {
            let _ = fs::remove_file(t);
        }
    }
}

/// Counts of work done by `resolve_ids`.
#[derive(Debug, Default, Clone, Copy)]
pub struct HashStats {
    /// Files read and hashed.
    pub hashed_files: u64,
    /// Bytes read and hashed.
    pub hashed_bytes: u64,
    /// Files whose id came from the stat cache.
    pub cached_files: u64,
    /// True when the new stat cache differs from the old one.
    pub cache_changed: bool,
}

fn kind_of(meta: &Metadata) -> Option<EntryKind> {
    let ft = meta.file_type();
    if ft.is_symlink() {
        Some(EntryKind::Symlink)
    } else if ft.is_file() {
        Some(if meta.permissions().mode() & 0o111 != 0 {
            EntryKind::Executable
        } else {
            EntryKind::File
        })
    } else if ft.is_dir() {
        Some(EntryKind::Tree)
    } else {
        None
    }
}

/// Scans the dataset at `abs` (a folder or one file). `repo_ignore` is the
/// repository's top-level `.folioignore`, applied to every dataset.
/// Entries and folders come in [`path_order`].
pub fn scan(abs: &Path, repo_ignore: Option<&Path>) -> Result<Scan, SnapshotError> {
    let meta = fs::symlink_metadata(abs).map_err(|source| SnapshotError::Unreadable {
        path: abs.to_path_buf(),
        source,
    })?;
    if meta.is_dir() {
        return walk::walk(abs, repo_ignore);
    }
    let kind = kind_of(&meta).ok_or_else(|| SnapshotError::Walk {
        path: abs.to_path_buf(),
        detail: "not a file, folder or symlink".into(),
    })?;
    let size = meta.len();
    Ok(Scan {
        entries: vec![WorkEntry {
            path: String::new(),
            kind,
            meta: (&meta).into(),
            id: None,
            size,
        }],
        single_file: true,
        ..Scan::default()
    })
}

/// Fills in every entry's id: from the stat cache when the file is
/// unchanged, otherwise by hashing it (and storing it when `writer` is
/// given). Returns the new stat cache (`None` when it equals the old one)
/// and what was done.
pub fn resolve_ids(
    scan: &mut Scan,
    abs: &Path,
    cache: &DatasetCache,
    writer: Option<&Writer<'_>>,
    stamp: i128,
    progress: &dyn Progress,
) -> Result<(Option<DatasetCache>, HashStats), SnapshotError> {
    let mut stats = HashStats::default();
    let mut todo = Vec::new();
    // Both lists are in path order: walk them together.
    let mut ci = 0;
    for (i, e) in scan.entries.iter_mut().enumerate() {
        while ci < cache.len() && path_order(&cache[ci].0, &e.path).is_lt() {
            ci += 1;
        }
        let hit = cache.get(ci).filter(|c| c.0 == e.path).map(|c| c.1);
        // A cached id counts only if the store has the blob when storing:
        // `status` caches ids of files it hashed but did not store.
        let cached = hit
            .and_then(|c| c.id_if_fresh(&e.meta))
            .filter(|id| writer.is_none_or(|w| w.has(id, e.size)));
        match cached {
            Some(id) => {
                e.id = Some(id);
                stats.cached_files += 1;
            }
            None => todo.push(i),
        }
    }
    let total: u64 = todo.iter().map(|&i| scan.entries[i].size).sum();
    progress.begin("hashing", total);
    let results: Vec<Result<(usize, ObjectId, u64), SnapshotError>> = todo
        .par_iter()
        .map(|&i| {
            let e = &scan.entries[i];
            let path = if e.path.is_empty() {
                abs.to_path_buf()
            } else {
                abs.join(&e.path)
            };
            let (id, size) = hash_entry(&path, e.kind, writer)?;
            progress.advance(size);
            Ok((i, id, size))
        })
        .collect();
    progress.end();
    for r in results {
        let (i, id, size) = r?;
        let e = &mut scan.entries[i];
        e.id = Some(id);
        e.size = size;
        stats.hashed_files += 1;
        stats.hashed_bytes += size;
        // Symlinks are not cached: reading one is as cheap as a stat.
        stats.cache_changed |= e.kind != EntryKind::Symlink;
    }
    // Every entry not re-hashed came unchanged from the cache, so only a
    // re-hash or a removal changes it.
    let cached_entries = scan
        .entries
        .iter()
        .filter(|e| e.kind != EntryKind::Symlink)
        .count();
    stats.cache_changed |= cached_entries != cache.len();
    if !stats.cache_changed {
        return Ok((None, stats));
    }
    let new_cache: DatasetCache = scan
        .entries
        .iter()
        .filter(|e| e.kind != EntryKind::Symlink)
        .map(|e| {
            let id = e.id.expect("every id resolved above");
            (e.path.clone(), StatEntry::new(&e.meta, id, stamp))
        })
        .collect();
    Ok((Some(new_cache), stats))
}

fn hash_entry(
    path: &Path,
    kind: EntryKind,
    writer: Option<&Writer<'_>>,
) -> Result<(ObjectId, u64), SnapshotError> {
    let unreadable = |source| SnapshotError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    if kind == EntryKind::Symlink {
        let target = fs::read_link(path).map_err(unreadable)?;
        let bytes = target.as_os_str().as_bytes();
        let id = match writer {
            Some(w) => w.put(bytes)?,
            None => ObjectId::of(bytes),
        };
        return Ok((id, bytes.len() as u64));
    }
    match writer {
        Some(w) => w.put_file(path).map_err(|e| match e {
            StoreError::Io { path: p, source } if p == path => unreadable(source),
            StoreError::Purged { record, .. } => SnapshotError::Purged {
                path: path.to_path_buf(),
                record,
            },
            other => other.into(),
        }),
        None => {
            let f = fs::File::open(path).map_err(unreadable)?;
            let mut h = blake3::Hasher::new();
            h.update_reader(f).map_err(unreadable)?;
            let size = h.count();
            Ok((h.finalize().into(), size))
        }
    }
}

/// One entry of a flattened tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlatEntry {
    /// What it is.
    pub kind: EntryKind,
    /// Blob or tree id.
    pub id: ObjectId,
    /// Size in bytes.
    pub size: u64,
}

/// The deepest folder nesting folio stores or reads (git's default
/// `core.maxTreeDepth` is 4096; no dataset needs hundreds): it bounds the
/// memory and stack a hostile snapshot can make a reader use.
pub const MAX_DEPTH: usize = 256;

/// Refuses a stored path deeper than [`MAX_DEPTH`] folders.
pub fn check_depth(path: &str) -> Result<(), SnapshotError> {
    if path.bytes().filter(|b| *b == b'/').count() >= MAX_DEPTH {
        return Err(SnapshotError::TooDeep {
            path: path.chars().take(200).collect::<String>() + "…",
        });
    }
    Ok(())
}

/// Every path under a stored tree (files, symlinks and folders), sorted.
pub fn flatten(store: &Store, root: TreeId) -> Result<BTreeMap<String, FlatEntry>, SnapshotError> {
    let mut out = BTreeMap::new();
    let mut stack = vec![(String::new(), root.0)];
    while let Some((prefix, id)) = stack.pop() {
        let tree = read_tree(store, id)?;
        for e in tree.entries {
            let path = if prefix.is_empty() {
                e.name
            } else {
                format!("{prefix}/{}", e.name)
            };
            if e.kind == EntryKind::Tree {
                check_depth(&path)?;
                stack.push((path.clone(), e.id));
            }
            out.insert(
                path,
                FlatEntry {
                    kind: e.kind,
                    id: e.id,
                    size: e.size,
                },
            );
        }
    }
    Ok(out)
}

/// Reads and decodes one tree.
pub fn read_tree(store: &Store, id: ObjectId) -> Result<Tree, SnapshotError> {
    let bytes = store.get(&id)?;
    Tree::decode(&bytes).map_err(|source| SnapshotError::BadTree { id, source })
}

/// The flattened view of a resolved scan, comparable with [`flatten`]'s.
pub fn flatten_scan(scan: &Scan) -> BTreeMap<String, FlatEntry> {
    let mut out: BTreeMap<String, FlatEntry> = scan
        .entries
        .iter()
        .map(|e| {
            (
                e.path.clone(),
                FlatEntry {
                    kind: e.kind,
                    id: e.id.expect("resolved"),
                    size: e.size,
                },
            )
        })
        .collect();
    for d in &scan.dirs {
        out.insert(
            d.clone(),
            FlatEntry {
                kind: EntryKind::Tree,
                id: ObjectId([0; 32]),
                size: 0,
            },
        );
    }
    out
}

/// Changes between two snapshots of one dataset.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileChanges {
    /// Paths only in the new side.
    pub added: Vec<String>,
    /// Paths in both whose content, mode or type differs.
    pub modified: Vec<String>,
    /// Paths only in the old side.
    pub deleted: Vec<String>,
    /// Blob ids of `added`, in the same order (folders: `None`); filled by
    /// `diff_trees` only.
    #[serde(skip)]
    pub added_ids: Vec<Option<ObjectId>>,
    /// Blob ids of `deleted`, as for `added_ids`.
    #[serde(skip)]
    pub deleted_ids: Vec<Option<ObjectId>>,
}

impl FileChanges {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.deleted.is_empty()
    }
}

/// Compares two flattened snapshots. Folders are reported only when
/// empty on the side that has them (otherwise their files say it all);
/// folder paths end with `/`.
pub fn compare(
    old: &BTreeMap<String, FlatEntry>,
    new: &BTreeMap<String, FlatEntry>,
) -> FileChanges {
    let old_parents = parents(old);
    let new_parents = parents(new);
    let mut ch = FileChanges::default();
    let show = |p: &str, kind: EntryKind| {
        if kind == EntryKind::Tree {
            format!("{p}/")
        } else {
            p.to_string()
        }
    };
    for (p, n) in new {
        match old.get(p) {
            None => {
                if n.kind != EntryKind::Tree || !new_parents.contains(p.as_str()) {
                    ch.added.push(show(p, n.kind));
                }
            }
            Some(o) if o.kind == EntryKind::Tree && n.kind == EntryKind::Tree => {}
            Some(o) if o.kind != n.kind || o.id != n.id => ch.modified.push(show(p, n.kind)),
            Some(_) => {}
        }
    }
    for (p, o) in old {
        if !new.contains_key(p) && (o.kind != EntryKind::Tree || !old_parents.contains(p.as_str()))
        {
            ch.deleted.push(show(p, o.kind));
        }
    }
    ch
}

fn parents(map: &BTreeMap<String, FlatEntry>) -> BTreeSet<&str> {
    map.keys()
        .filter_map(|p| p.rfind('/').map(|i| &p[..i]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn scan_respects_folioignore_and_finds_empty_dirs() {
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path();
        fs::create_dir_all(root.join("a/empty")).expect("mkdir");
        fs::write(root.join("a/x.txt"), b"x").expect("write");
        fs::write(root.join("a/skip.log"), b"log").expect("write");
        fs::write(root.join(IGNORE_FILE), b"*.log\n").expect("write");
        let s = scan(root, None).expect("scan");
        let paths: Vec<_> = s.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, [".folioignore", "a/x.txt"]);
        assert_eq!(s.dirs, ["a", "a/empty"]);
    }

    fn resolve(d: &Path, cache: &DatasetCache, stamp: i128) -> (DatasetCache, HashStats) {
        let mut s = scan(d, None).expect("scan");
        let (new, st) = resolve_ids(&mut s, d, cache, None, stamp, &NoProgress).expect("resolve");
        (new.unwrap_or_else(|| cache.clone()), st)
    }

    #[test]
    fn resolve_uses_the_cache_for_unchanged_files() {
        let d = tempfile::tempdir().expect("tempdir");
        fs::write(d.path().join("f"), b"content").expect("write");
        // A stamp no later than the file's mtime makes the entry racy.
        let (racy, st) = resolve(d.path(), &DatasetCache::new(), i128::MIN);
        assert_eq!(st.hashed_files, 1);
        assert_eq!(racy[0].1.id, *ObjectId::of(b"content").as_bytes());
        let (_, st) = resolve(d.path(), &racy, 0);
        assert_eq!((st.hashed_files, st.cached_files), (1, 0));
        // A stamp after the mtime makes it trustworthy.
        let (fresh, _) = resolve(d.path(), &DatasetCache::new(), i128::MAX);
        let (_, st) = resolve(d.path(), &fresh, 0);
        assert_eq!((st.hashed_files, st.cached_files), (0, 1));
        fs::write(d.path().join("f"), b"changed, longer").expect("write");
        let (_, st) = resolve(d.path(), &fresh, 0);
        assert_eq!((st.hashed_files, st.cached_files), (1, 0));
    }

    #[test]
    fn compare_reports_only_meaningful_folders() {
        let f = |kind, b: &[u8]| FlatEntry {
            kind,
            id: ObjectId::of(b),
            size: 1,
        };
        let old: BTreeMap<String, FlatEntry> = [
            ("a".to_string(), f(EntryKind::Tree, b"")),
            ("a/x".to_string(), f(EntryKind::File, b"x")),
            ("gone".to_string(), f(EntryKind::Tree, b"")),
        ]
        .into();
        let new: BTreeMap<String, FlatEntry> = [
            ("a".to_string(), f(EntryKind::Tree, b"")),
            ("a/x".to_string(), f(EntryKind::Executable, b"x")),
            ("b".to_string(), f(EntryKind::Tree, b"")),
            ("b/y".to_string(), f(EntryKind::File, b"y")),
        ]
        .into();
        let ch = compare(&old, &new);
        assert_eq!(ch.added, ["b/y"]);
        assert_eq!(ch.modified, ["a/x"]);
        assert_eq!(ch.deleted, ["gone/"]);
    }
}
