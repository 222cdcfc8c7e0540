//! A parallel folder walker with `.folioignore` rules.
//!
//! Each folder is read once (`readdir`), each file stat'ed once relative to
//! its folder (`fstatat`, no path walk), and sub-folders are walked in
//! parallel. Output is in *path order*: paths compared component by
//! component, which is the order of a depth-first walk with sorted names.

use std::cmp::Ordering;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rayon::prelude::*;

use super::{IGNORE_FILE, Scan, SnapshotError, WorkEntry, kind_of};
use crate::fsutil::TEMP_PREFIX;
use crate::object::EntryKind;

/// Orders paths component by component (`a/x` before `a.txt`).
pub fn path_order(a: &str, b: &str) -> Ordering {
    let key = |c: u8| if c == b'/' { 0 } else { c };
    a.bytes().map(key).cmp(b.bytes().map(key))
}

/// Ignore rules in force in one folder: root-most first.
type Chain = Vec<Arc<Gitignore>>;

fn load_ignore(file: &Path) -> Result<Arc<Gitignore>, SnapshotError> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut b = GitignoreBuilder::new(dir);
    if let Some(e) = b.add(file) {
        return Err(SnapshotError::Walk {
            path: file.to_path_buf(),
            detail: e.to_string(),
        });
    }
    b.build().map(Arc::new).map_err(|e| SnapshotError::Walk {
        path: file.to_path_buf(),
        detail: e.to_string(),
    })
}

fn ignored(chain: &Chain, path: &Path, is_dir: bool) -> bool {
    for gi in chain.iter().rev() {
        match gi.matched(path, is_dir) {
            Match::Ignore(_) => return true,
            Match::Whitelist(_) => return false,
            Match::None => {}
        }
    }
    false
}

/// Walks the folder `root`; `repo_ignore` applies below everything else.
pub fn walk(root: &Path, repo_ignore: Option<&Path>) -> Result<Scan, SnapshotError> {
    let mut chain = Chain::new();
    if let Some(f) = repo_ignore.filter(|p| p.is_file()) {
        chain.push(load_ignore(f)?);
    }
    walk_dir(root, "", &chain)
}

fn walk_dir(abs: &Path, rel: &str, parent_chain: &Chain) -> Result<Scan, SnapshotError> {
    if rel.bytes().filter(|b| *b == b'/').count() >= super::MAX_DEPTH {
        return Err(SnapshotError::TooDeepOnDisk {
            path: abs.to_path_buf(),
        });
    }
    let unreadable = |source| SnapshotError::Unreadable {
        path: abs.to_path_buf(),
        source,
    };
    let mut listing = Vec::new();
    let mut temps = Vec::new();
    for e in fs::read_dir(abs).map_err(unreadable)? {
        let e = e.map_err(unreadable)?;
        let name = e.file_name();
        let Some(name) = name.to_str().map(str::to_string) else {
            return Err(SnapshotError::NonUtf8Name { path: e.path() });
        };
        // A `.folio` anywhere (a nested repository, in any spelling a file
        // system may treat as it) is never tracked: no tree may name it.
        if name.starts_with(TEMP_PREFIX) {
            temps.push(e.path());
            continue;
        }
        if name.chars().any(char::is_control) {
            return Err(SnapshotError::ControlName { path: e.path() });
        }
        if crate::object::is_reserved(&name) {
            continue;
        }
        listing.push((name, e));
    }
    listing.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

    let mut chain = parent_chain.clone();
    if listing.iter().any(|(n, _)| n == IGNORE_FILE) {
        chain.push(load_ignore(&abs.join(IGNORE_FILE))?);
    }

    // Children in name order: a file, or a sub-folder to walk.
    enum Child {
        File(WorkEntry),
        Dir(String),
        Skipped(String),
    }
    let mut children = Vec::with_capacity(listing.len());
    for (name, e) in listing {
        let child_rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ft = e.file_type().map_err(|source| SnapshotError::Unreadable {
            path: e.path(),
            source,
        })?;
        if !chain.is_empty() && ignored(&chain, &e.path(), ft.is_dir()) {
            continue;
        }
        if ft.is_dir() {
            children.push(Child::Dir(child_rel));
            continue;
        }
        // DirEntry::metadata stats relative to the open folder.
        let meta = e.metadata().map_err(|source| SnapshotError::Unreadable {
            path: e.path(),
            source,
        })?;
        match kind_of(&meta) {
            Some(EntryKind::Tree) => children.push(Child::Dir(child_rel)),
            Some(kind) => {
                let size = meta.len();
                children.push(Child::File(WorkEntry {
                    path: child_rel,
                    kind,
                    meta: (&meta).into(),
                    id: None,
                    size,
                }));
            }
            None => children.push(Child::Skipped(child_rel)),
        }
    }

    let subdirs: Vec<&String> = children
        .iter()
        .filter_map(|c| match c {
            Child::Dir(r) => Some(r),
            _ => None,
        })
        .collect();
    let mut sub_scans: Vec<Scan> = subdirs
        .par_iter()
        .map(|r| {
            let name = r.rsplit('/').next().expect("non-empty");
            walk_dir(&abs.join(name), r, &chain)
        })
        .collect::<Result<Vec<Scan>, _>>()?
        .into_iter()
        .rev()
        .collect();

    let mut out = Scan {
        temps,
        ..Scan::default()
    };
    for c in children {
        match c {
            Child::File(w) => out.entries.push(w),
            Child::Skipped(s) => out.skipped.push(s),
            Child::Dir(d) => {
                let sub = sub_scans.pop().expect("one scan per folder");
                out.dirs.push(d);
                out.dirs.extend(sub.dirs);
                out.entries.extend(sub.entries);
                out.skipped.extend(sub.skipped);
                out.temps.extend(sub.temps);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_order_is_component_order() {
        let mut v = vec!["a.txt", "a/x", "a", "b", "a/x/y", "a-c"];
        v.sort_by(|a, b| path_order(a, b));
        assert_eq!(v, ["a", "a/x", "a/x/y", "a-c", "a.txt", "b"]);
    }

    #[test]
    fn nested_ignore_files_and_whitelists() {
        let d = tempfile::tempdir().expect("tempdir");
        let r = d.path();
        for f in [
            "a.log",
            "keep.log",
            "sub/b.log",
            "sub/c.txt",
            "sub/deep/d.log",
        ] {
            let p = r.join(f);
            fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            fs::write(p, b"x").expect("write");
        }
        fs::write(r.join(IGNORE_FILE), b"*.log\n!keep.log\n").expect("write");
        fs::write(r.join("sub").join(IGNORE_FILE), b"!b.log\n").expect("write");
        let s = walk(r, None).expect("walk");
        let paths: Vec<&str> = s.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                ".folioignore",
                "keep.log",
                "sub/.folioignore",
                "sub/b.log",
                "sub/c.txt"
            ]
        );
        assert_eq!(s.dirs, ["sub", "sub/deep"]);
    }
}
