//! HEAD, branches and tags: small files replaced by atomic rename.

use crate::error::ErrorKind;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil;
use crate::id::{CommitId, ObjectId};

/// Errors reading or writing refs.
#[derive(Debug, thiserror::Error)]
pub enum RefError {
    /// A ref file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The ref file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A ref file does not hold what a ref holds.
    #[error("{}: {detail}", path.display())]
    Corrupt {
        /// The ref file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The name is not allowed for a branch or tag.
    #[error(
        "'{0}' is not a valid name: use letters, digits, '-', '_', '.' and '/', not starting with '-' or '.', and no '..'"
    )]
    InvalidName(String),
    /// A branch or tag of that name exists already.
    #[error("{kind} '{name}' already exists")]
    Exists {
        /// "branch" or "tag".
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// No branch or tag of that name.
    #[error("no {kind} named '{name}'")]
    NotFound {
        /// "branch" or "tag".
        kind: &'static str,
        /// Its name.
        name: String,
    },
}

impl RefError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RefError::Io { source, .. } => ErrorKind::of_io(source),
            RefError::Corrupt { .. } => ErrorKind::Damaged,
            RefError::InvalidName(_) | RefError::NotFound { .. } => ErrorKind::Invalid,
            RefError::Exists { .. } => ErrorKind::Conflict,
        }
    }
}

/// What HEAD points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// A branch, which may have no commit yet.
    Branch(String),
    /// A commit, directly.
    Detached(CommitId),
}

/// Branch or tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// `refs/heads/`.
    Branch,
    /// `refs/tags/`.
    Tag,
    /// `refs/remotes/`: what a remote's branches were at the last fetch or
    /// push, named `REMOTE/BRANCH`.
    Remote,
}

impl RefKind {
    fn dir(self) -> &'static str {
        match self {
            RefKind::Branch => "refs/heads",
            RefKind::Tag => "refs/tags",
            RefKind::Remote => "refs/remotes",
        }
    }

    /// "branch" or "tag".
    pub fn noun(self) -> &'static str {
        match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
            RefKind::Remote => "remote-tracking branch",
        }
    }
}

/// Every ref of one kind: name and its commit, or why it cannot be read.
pub type RefList = Vec<(String, Result<CommitId, RefError>)>;

/// What a ref holds: a commit, and for an annotated tag the id of its
/// tag object (`object::Tag`).
pub type RefValue = (CommitId, Option<ObjectId>);

/// Refs by name with their values, unreadable ones as errors in place.
pub type TagList = Vec<(String, Result<RefValue, RefError>)>;

/// The refs of one repository.
pub struct Refs {
    root: PathBuf,
}

/// Checks a branch or tag name.
pub fn validate_name(name: &str) -> Result<(), RefError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with(['-', '.', '/'])
        && !name.ends_with(['/', '.'])
        && !name.contains("..")
        && !name.contains("//")
        && name != "HEAD"
        && !name.contains('~')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(())
    } else {
        Err(RefError::InvalidName(name.to_string()))
    }
}

impl Refs {
    /// Refs stored under `root` (the `.folio` folder).
    pub fn new(root: &Path) -> Refs {
        Refs {
            root: root.to_path_buf(),
        }
    }

    fn io(path: &Path) -> impl FnOnce(io::Error) -> RefError + '_ {
        move |source| RefError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Creates `refs/heads`, `refs/tags` and a HEAD naming `branch`.
    pub fn init(&self, branch: &str) -> Result<(), RefError> {
        for k in [RefKind::Branch, RefKind::Tag] {
            let d = self.root.join(k.dir());
            fsutil::create_dir_durable(&d).map_err(Self::io(&d))?;
        }
        self.set_head(&Head::Branch(branch.to_string()))
    }

    /// Path of the HEAD file.
    pub fn head_path(&self) -> PathBuf {
        self.root.join("HEAD")
    }

    /// Path of a branch or tag file.
    pub fn ref_path(&self, kind: RefKind, name: &str) -> PathBuf {
        self.root.join(kind.dir()).join(name)
    }

    /// Reads HEAD.
    pub fn head(&self) -> Result<Head, RefError> {
        let p = self.head_path();
        let text = fs::read_to_string(&p).map_err(Self::io(&p))?;
        let text = text.trim_end();
        if let Some(b) = text.strip_prefix("ref: refs/heads/") {
            return Ok(Head::Branch(b.to_string()));
        }
        parse_commit(text)
            .map(Head::Detached)
            .ok_or_else(|| RefError::Corrupt {
                path: p,
                detail: format!("HEAD holds {text:?}, neither a branch nor a commit id"),
            })
    }

    /// Replaces HEAD.
    pub fn set_head(&self, head: &Head) -> Result<(), RefError> {
        let text = match head {
            Head::Branch(b) => format!("ref: refs/heads/{b}\n"),
            Head::Detached(c) => format!("{c}\n"),
        };
        let p = self.head_path();
        fsutil::write_atomic(&p, text.as_bytes()).map_err(Self::io(&p))
    }

    /// The commit HEAD resolves to, or `None` on a branch with no commit.
    pub fn head_commit(&self) -> Result<Option<CommitId>, RefError> {
        match self.head()? {
            Head::Detached(c) => Ok(Some(c)),
            Head::Branch(b) => self.get(RefKind::Branch, &b),
        }
    }

    /// Reads a branch or tag; `None` when it does not exist. A tag
    /// resolves to the commit it names (annotated or not).
    pub fn get(&self, kind: RefKind, name: &str) -> Result<Option<CommitId>, RefError> {
        Ok(self.get_value(kind, name)?.map(|v| v.0))
    }

    /// Reads a tag: its commit and, for an annotated tag, the id of its
    /// tag object; `None` when it does not exist.
    pub fn get_tag(&self, name: &str) -> Result<Option<RefValue>, RefError> {
        self.get_value(RefKind::Tag, name)
    }

    fn get_value(&self, kind: RefKind, name: &str) -> Result<Option<RefValue>, RefError> {
        if validate_name(name).is_err() {
            return Ok(None);
        }
        let p = self.ref_path(kind, name);
        match fs::read_to_string(&p) {
            Ok(t) => parse_value(kind, t.trim_end())
                .map(Some)
                .ok_or_else(|| corrupt_value(kind, &p, &t)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::IsADirectory
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(Self::io(&p)(e)),
        }
    }

    /// Sets a branch or tag (creating it or moving it).
    pub fn set(&self, kind: RefKind, name: &str, id: CommitId) -> Result<(), RefError> {
        self.set_value(kind, name, (id, None))
    }

    /// Sets a tag to a commit and, for an annotated tag, its tag object
    /// (which the caller has stored).
    pub fn set_tag(&self, name: &str, value: RefValue) -> Result<(), RefError> {
        self.set_value(RefKind::Tag, name, value)
    }

    fn set_value(&self, kind: RefKind, name: &str, value: RefValue) -> Result<(), RefError> {
        validate_name(name)?;
        let p = self.ref_path(kind, name);
        let dir = p.parent().expect("ref has a folder");
        fsutil::create_dir_durable(dir).map_err(Self::io(dir))?;
        let text = match (kind, value) {
            (RefKind::Tag, (c, Some(t))) => format!("{c} {t}\n"),
            (_, (c, _)) => format!("{c}\n"),
        };
        fsutil::write_atomic(&p, text.as_bytes()).map_err(Self::io(&p))
    }

    /// Every tag with its value (see [`Refs::get_tag`]), sorted by name;
    /// unreadable tags as errors in place.
    pub fn list_tags(&self) -> Result<TagList, RefError> {
        self.list_values(RefKind::Tag)
    }

    /// Creates a branch or tag that must not exist yet.
    pub fn create(&self, kind: RefKind, name: &str, id: CommitId) -> Result<(), RefError> {
        validate_name(name)?;
        if self.ref_path(kind, name).exists() {
            return Err(RefError::Exists {
                kind: kind.noun(),
                name: name.to_string(),
            });
        }
        self.set(kind, name, id)
    }

    /// Deletes a branch or tag.
    pub fn delete(&self, kind: RefKind, name: &str) -> Result<(), RefError> {
        let p = self.ref_path(kind, name);
        if validate_name(name).is_err() || !p.is_file() {
            return Err(RefError::NotFound {
                kind: kind.noun(),
                name: name.to_string(),
            });
        }
        fs::remove_file(&p).map_err(Self::io(&p))?;
        fsutil::sync_dir(p.parent().expect("ref has a folder")).map_err(Self::io(&p))
    }

    /// Every branch or tag with its commit, sorted by name. Unreadable
    /// refs are returned as errors in place so `verify` can report them.
    pub fn list(&self, kind: RefKind) -> Result<RefList, RefError> {
        Ok(self
            .list_values(kind)?
            .into_iter()
            .map(|(n, v)| (n, v.map(|v| v.0)))
            .collect())
    }

    fn list_values(&self, kind: RefKind) -> Result<TagList, RefError> {
        let base = self.root.join(kind.dir());
        let mut out = Vec::new();
        let mut stack = vec![base.clone()];
        while let Some(dir) = stack.pop() {
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Self::io(&dir)(e)),
            };
            for e in rd {
                let p = e.map_err(Self::io(&dir))?.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let Ok(rel) = p.strip_prefix(&base) else {
                    continue;
                };
                let name = rel.to_string_lossy().replace('\\', "/");
                if name
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.starts_with(fsutil::TEMP_PREFIX))
                {
                    continue;
                }
                let value = match fs::read_to_string(&p) {
                    Ok(t) => {
                        parse_value(kind, t.trim_end()).ok_or_else(|| corrupt_value(kind, &p, &t))
                    }
                    Err(e) => Err(Self::io(&p)(e)),
                };
                out.push((name, value));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

fn parse_commit(s: &str) -> Option<CommitId> {
    s.parse::<ObjectId>().ok().map(CommitId)
}

/// A ref's text: a commit id; for a tag, optionally followed by a space
/// and the id of its tag object (an annotated tag).
fn parse_value(kind: RefKind, s: &str) -> Option<RefValue> {
    match s.split_once(' ') {
        None => Some((parse_commit(s)?, None)),
        Some((c, t)) if kind == RefKind::Tag => Some((parse_commit(c)?, Some(t.parse().ok()?))),
        Some(_) => None,
    }
}

fn corrupt_value(kind: RefKind, path: &Path, text: &str) -> RefError {
    RefError::Corrupt {
        path: path.to_path_buf(),
        detail: match kind {
            RefKind::Tag => format!(
                "holds {:?}, not a commit id (and a tag object id)",
                text.trim_end()
            ),
            _ => format!("holds {:?}, not a commit id", text.trim_end()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["main", "feature/x", "v1.0", "exp_2"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "-x", ".hidden", "a..b", "a/", "HEAD", "a b", "x~1", "a//b",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn branches_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let refs = Refs::new(dir.path());
        refs.init("main").expect("init");
        assert_eq!(refs.head().expect("head"), Head::Branch("main".into()));
        assert_eq!(refs.head_commit().expect("head commit"), None);
        let c = CommitId(ObjectId::of(b"c"));
        refs.set(RefKind::Branch, "main", c).expect("set");
        refs.create(RefKind::Tag, "v1/rc", c).expect("tag");
        assert!(matches!(
            refs.create(RefKind::Tag, "v1/rc", c),
            Err(RefError::Exists { .. })
        ));
        assert_eq!(refs.head_commit().expect("head"), Some(c));
        let tags = refs.list(RefKind::Tag).expect("list");
        assert_eq!(tags.len(), 1);
        assert_eq!(tags[0].0, "v1/rc");
    }
}
