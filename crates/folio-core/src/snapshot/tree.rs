//! Building trees from a scan, and diffing trees without flattening them:
//! subtrees with equal ids are skipped, so a diff costs in proportion to
//! what changed.

use std::collections::HashMap;

use super::{FileChanges, Scan, SnapshotError, path_order, read_tree};
use crate::id::{ObjectId, TreeId};
use crate::object::{EntryKind, Tree, TreeEntry};
use crate::store::{Store, Writer};

/// Where trees are read from.
pub trait TreeSource {
    /// The tree with this id.
    fn tree(&self, id: &ObjectId) -> Result<Tree, SnapshotError>;
}

impl TreeSource for Store {
    fn tree(&self, id: &ObjectId) -> Result<Tree, SnapshotError> {
        read_tree(self, *id)
    }
}

/// The trees of a scanned folder, built in memory (encoded).
pub struct WorkTrees {
    /// The root tree.
    pub root: TreeId,
    /// Total bytes.
    pub size: u64,
    trees: HashMap<ObjectId, Vec<u8>>,
}

impl TreeSource for WorkTrees {
    fn tree(&self, id: &ObjectId) -> Result<Tree, SnapshotError> {
        let bytes = self
            .trees
            .get(id)
            .ok_or(SnapshotError::Store(crate::store::StoreError::Missing(*id)))?;
        Tree::decode(bytes).map_err(|source| SnapshotError::BadTree { id: *id, source })
    }
}

/// One folder being built: its path and its entries so far, encoded.
struct Frame<'a> {
    path: &'a str,
    count: u32,
    body: Vec<u8>,
    size: u64,
}

impl Frame<'_> {
    fn add(&mut self, name: &str, kind: EntryKind, id: &ObjectId, size: u64) {
        crate::object::encode_entry(&mut self.body, kind, name, id, size);
        self.count += 1;
        self.size += size;
    }
}

impl WorkTrees {
    /// Builds every tree of a resolved folder scan in one pass: the scan is
    /// in path order, so each folder is complete when the walk leaves it.
    pub fn build(scan: &Scan) -> WorkTrees {
        let mut trees = HashMap::with_capacity(scan.dirs.len() + 1);
        let mut stack = vec![Frame {
            path: "",
            count: 0,
            body: Vec::new(),
            size: 0,
        }];
        let (mut i, mut j) = (0, 0);
        loop {
            // The next item in path order: a folder or a file.
            let next_dir = scan.dirs.get(i).map(String::as_str);
            let next_file = scan.entries.get(j);
            let take_dir = match (next_dir, next_file) {
                (Some(d), Some(f)) => path_order(d, &f.path).is_lt(),
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let path = if take_dir {
                next_dir.expect("dir")
            } else {
                &next_file.expect("file").path
            };
            let (parent, name) = split_parent(path);
            while stack.last().expect("root frame").path != parent {
                close(&mut stack, &mut trees);
            }
            if take_dir {
                stack.push(Frame {
                    path,
                    count: 0,
                    body: Vec::new(),
                    size: 0,
                });
                i += 1;
            } else {
                let e = next_file.expect("file");
                let id = e.id.expect("resolved before building trees");
                stack
                    .last_mut()
                    .expect("frame")
                    .add(name, e.kind, &id, e.size);
                j += 1;
            }
        }
        while stack.len() > 1 {
            close(&mut stack, &mut trees);
        }
        let root = stack.pop().expect("root frame");
        let (id, bytes) = finish(&root);
        trees.insert(id, bytes);
        WorkTrees {
            root: TreeId(id),
            size: root.size,
            trees,
        }
    }

    /// Stores every tree.
    pub fn write(&self, writer: &Writer<'_>) -> Result<(), SnapshotError> {
        for bytes in self.trees.values() {
            writer.put(bytes)?;
        }
        Ok(())
    }
}

fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

fn finish(f: &Frame<'_>) -> (ObjectId, Vec<u8>) {
    let bytes = Tree::encode_parts(f.count, &f.body);
    (ObjectId::of(&bytes), bytes)
}

/// Closes the innermost folder and adds it to its parent.
fn close(stack: &mut Vec<Frame<'_>>, trees: &mut HashMap<ObjectId, Vec<u8>>) {
    let f = stack.pop().expect("a frame to close");
    let (id, bytes) = finish(&f);
    trees.insert(id, bytes);
    let (_, name) = split_parent(f.path);
    stack
        .last_mut()
        .expect("parent frame")
        .add(name, EntryKind::Tree, &id, f.size);
}

/// The changes from tree `old` to tree `new` (either may be absent).
/// Folders appear (with a trailing `/`) only when empty.
pub fn diff_trees(
    old_src: &dyn TreeSource,
    old: Option<ObjectId>,
    new_src: &dyn TreeSource,
    new: Option<ObjectId>,
) -> Result<FileChanges, SnapshotError> {
    let mut ch = FileChanges::default();
    let d = Differ { old_src, new_src };
    d.diff("", old, new, &mut ch)?;
    Ok(ch)
}

struct Differ<'a> {
    old_src: &'a dyn TreeSource,
    new_src: &'a dyn TreeSource,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

impl Differ<'_> {
    fn diff(
        &self,
        prefix: &str,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        ch: &mut FileChanges,
    ) -> Result<(), SnapshotError> {
        if old == new {
            return Ok(());
        }
        super::check_depth(prefix)?;
        let a = old
            .map(|id| self.old_src.tree(&id))
            .transpose()?
            .unwrap_or_default();
        let b = new
            .map(|id| self.new_src.tree(&id))
            .transpose()?
            .unwrap_or_default();
        let (mut i, mut j) = (0, 0);
        while i < a.entries.len() || j < b.entries.len() {
            let ord = match (a.entries.get(i), b.entries.get(j)) {
                (Some(x), Some(y)) => x.name.as_bytes().cmp(y.name.as_bytes()),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match ord {
                std::cmp::Ordering::Less => {
                    let out = (&mut ch.deleted, &mut ch.deleted_ids);
                    self.all(self.old_src, prefix, &a.entries[i], out)?;
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    let out = (&mut ch.added, &mut ch.added_ids);
                    self.all(self.new_src, prefix, &b.entries[j], out)?;
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    self.pair(prefix, &a.entries[i], &b.entries[j], ch)?;
                    i += 1;
                    j += 1;
                }
            }
        }
        Ok(())
    }

    fn pair(
        &self,
        prefix: &str,
        x: &TreeEntry,
        y: &TreeEntry,
        ch: &mut FileChanges,
    ) -> Result<(), SnapshotError> {
        let path = join(prefix, &x.name);
        match (x.kind == EntryKind::Tree, y.kind == EntryKind::Tree) {
            (true, true) => self.diff(&path, Some(x.id), Some(y.id), ch),
            (false, false) => {
                if x.kind != y.kind || x.id != y.id {
                    ch.modified.push(path);
                }
                Ok(())
            }
            _ => {
                self.all(
                    self.old_src,
                    prefix,
                    x,
                    (&mut ch.deleted, &mut ch.deleted_ids),
                )?;
                self.all(self.new_src, prefix, y, (&mut ch.added, &mut ch.added_ids))
            }
        }
    }

    /// Every path at or below `e` (a folder is listed only when empty).
    fn all(
        &self,
        src: &dyn TreeSource,
        prefix: &str,
        e: &TreeEntry,
        out: (&mut Vec<String>, &mut Vec<Option<ObjectId>>),
    ) -> Result<(), SnapshotError> {
        let (paths, ids) = out;
        let path = join(prefix, &e.name);
        if e.kind != EntryKind::Tree {
            paths.push(path);
            ids.push(e.kind.is_file().then_some(e.id));
            return Ok(());
        }
        super::check_depth(&path)?;
        let t = src.tree(&e.id)?;
        if t.entries.is_empty() {
            paths.push(format!("{path}/"));
            ids.push(None);
        }
        for c in &t.entries {
            self.all(src, &path, c, (&mut *paths, &mut *ids))?;
        }
        Ok(())
    }
}
