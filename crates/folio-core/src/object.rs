//! Trees and commits and their canonical, type-tagged byte encoding.
//!
//! The layout is specified byte for byte in `docs/FORMAT.md`; the golden
//! tests at the end of this file pin it. Decoding accepts only the canonical
//! form (sorted entries, no trailing bytes), so every tree or commit has
//! exactly one encoding and one id.

use crate::error::ErrorKind;
use crate::id::{CommitId, ObjectId, TreeId};

/// First line of every encoded tree.
pub const TREE_TAG: &[u8] = b"folio-tree 1\n";
/// First line of every encoded commit.
pub const COMMIT_TAG: &[u8] = b"folio-commit 2\n";
/// First line of every encoded annotated tag.
pub const TAG_TAG: &[u8] = b"folio-tag 1\n";
/// The type tag of commits written by folio 0.1 (format 1, one global ledger).
pub const COMMIT_TAG_V1: &[u8] = b"folio-commit 1\n";

/// Why bytes are not a valid tree or commit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes do not start with the expected type tag.
    #[error("not a {0} object (wrong type tag)")]
    WrongType(&'static str),
    /// The bytes end before the structure does.
    #[error("{0} object is truncated")]
    Truncated(&'static str),
    /// A field holds a value the format does not allow.
    #[error("{what} object is malformed: {detail}")]
    Malformed {
        /// Object type.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl DecodeError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Damaged
    }
}

/// What a tree entry (or a dataset root) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A regular file with the executable bit.
    Executable,
    /// A symbolic link; its blob holds the target path.
    Symlink,
    /// A folder; its id names a tree.
    Tree,
}

impl EntryKind {
    fn code(self) -> u8 {
        match self {
            EntryKind::File => 1,
            EntryKind::Executable => 2,
            EntryKind::Symlink => 3,
            EntryKind::Tree => 4,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => EntryKind::File,
            2 => EntryKind::Executable,
            3 => EntryKind::Symlink,
            4 => EntryKind::Tree,
            _ => return None,
        })
    }

    /// True for files and executables (entries whose blob is file content).
    pub fn is_file(self) -> bool {
        matches!(self, EntryKind::File | EntryKind::Executable)
    }

    /// A short name for output.
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Executable => "executable",
            EntryKind::Symlink => "symlink",
            EntryKind::Tree => "folder",
        }
    }
}

/// One named entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// File or folder name: UTF-8, no `/`, no NUL, not `.` or `..`.
    pub name: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// Blob id (file, symlink) or tree id (folder).
    pub id: ObjectId,
    /// File size; symlink target length; for a folder, total file bytes under it.
    pub size: u64,
}

impl TreeEntry {
    /// Appends this entry's canonical encoding.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        encode_entry(out, self.kind, &self.name, &self.id, self.size);
    }
}

/// Appends one tree entry's canonical encoding.
pub fn encode_entry(out: &mut Vec<u8>, kind: EntryKind, name: &str, id: &ObjectId, size: u64) {
    out.push(kind.code());
    out.extend_from_slice(&u32_len(name.len()).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&size.to_le_bytes());
}

/// A folder: its entries sorted by name bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    /// Entries, sorted by name, names unique.
    pub entries: Vec<TreeEntry>,
}

/// Checks one path component: not empty, `.` or `..`; no `/` and no
/// control character (NUL, newline, escape); and
/// not the repository's own folder under another spelling (see
/// [`is_reserved`]).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.chars().any(char::is_control)
        && !is_reserved(name)
}

/// Whether a path component would name `.folio` on some file system: the
/// same letters in any case (case-insensitive file systems), with trailing
/// dots or spaces (Windows drops them), or with code points a file system
/// ignores (HFS+ ignores zero-width and direction marks). This is git's
/// rule for `.git`, applied to `.folio`.
pub fn is_reserved(name: &str) -> bool {
    if name.is_ascii() {
        // The common case, without allocating: every file name passes here.
        let trimmed = name.trim_end_matches(['.', ' ']);
        return trimmed.eq_ignore_ascii_case(".folio");
    }
    let ignorable = |c: &char| matches!(*c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0xFEFF | 0x00AD);
    let folded: String = name
        .chars()
        .filter(|c| !ignorable(c))
        .collect::<String>()
        .trim_end_matches(['.', ' '])
        .to_ascii_lowercase();
    folded == ".folio"
}

/// True when `/`-separated path `a` is `b` or lies inside it.
pub fn is_within(a: &str, b: &str) -> bool {
    a == b || (a.starts_with(b) && a.as_bytes().get(b.len()) == Some(&b'/'))
}

/// Checks a `/`-separated path of a dataset or table: valid components.
pub fn valid_path(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(valid_name)
}

impl Tree {
    /// Sorts entries into canonical order.
    pub fn sort(&mut self) {
        self.entries
            .sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    }

    /// Total file bytes under this tree.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// The canonical encoding (entries must already be sorted).
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.entries.len() * 64);
        for e in &self.entries {
            e.encode_into(&mut body);
        }
        Tree::encode_parts(u32_len(self.entries.len()), &body)
    }

    /// A tree's encoding from its entry count and its entries' encodings
    /// (see [`TreeEntry::encode_into`]), already in canonical order.
    pub fn encode_parts(count: u32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(TREE_TAG.len() + 4 + body.len());
        out.extend_from_slice(TREE_TAG);
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    /// The id of the canonical encoding.
    pub fn id(&self) -> TreeId {
        TreeId(ObjectId::of(&self.encode()))
    }

    /// Decodes and validates a canonical tree.
    pub fn decode(bytes: &[u8]) -> Result<Tree, DecodeError> {
        const WHAT: &str = "tree";
        let mut r = Reader::new(bytes, WHAT);
        r.tag(TREE_TAG)?;
        let n = r.u32()? as usize;
        let mut entries = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let code = r.u8()?;
            let kind = EntryKind::from_code(code).ok_or_else(|| r.bad(format!("kind {code}")))?;
            let len = r.u32()? as usize;
            let name = r.utf8(len)?;
            if !valid_name(&name) {
                return Err(r.bad(format!("invalid entry name {name:?}")));
            }
            let id = r.id()?;
            let size = r.u64()?;
            if let Some(prev) = entries.last().map(|e: &TreeEntry| e.name.as_bytes())
                && prev >= name.as_bytes()
            {
                return Err(r.bad(format!("entries not sorted or duplicated at {name:?}")));
            }
            entries.push(TreeEntry {
                name,
                kind,
                id,
                size,
            });
        }
        r.end()?;
        Ok(Tree { entries })
    }
}

/// One dataset recorded in a commit: a tracked path and its root object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetEntry {
    /// Path relative to the repository root, `/`-separated.
    pub path: String,
    /// `Tree` for a folder dataset, `File`/`Executable`/`Symlink` for one file.
    pub kind: EntryKind,
    /// Tree or blob id.
    pub id: ObjectId,
    /// Total file bytes.
    pub size: u64,
}

/// A table file of a commit and its row manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    /// Path of the file relative to the working tree.
    pub path: String,
    /// The manifest root object.
    pub manifest: crate::id::ManifestId,
}

/// A snapshot of every tracked dataset, with its history and metadata.
/// The default is the empty commit (no parent, no dataset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// Parent commits (none for the first commit).
    pub parents: Vec<CommitId>,
    /// Datasets, sorted by path.
    pub datasets: Vec<DatasetEntry>,
    /// Table files with their row manifests, sorted by path.
    pub tables: Vec<TableRef>,
    /// The head of this commit's ledger (the batches of its history, in
    /// ledger order): event count and RFC 6962 root (absent while that
    /// ledger is empty).
    pub ledger: Option<(u64, crate::ledger::merkle::Hash)>,
    /// The event batches this commit brings, in ledger order, each with
    /// its event count.
    pub events: Vec<(ObjectId, u64)>,
    /// Who made the commit.
    pub author: String,
    /// Seconds since the Unix epoch, UTC.
    pub time: i64,
    /// The commit message.
    pub message: String,
}

mod field {
    pub const PARENT: u8 = 1;
    pub const DATASET: u8 = 2;
    pub const AUTHOR: u8 = 3;
    pub const TIME: u8 = 4;
    pub const MESSAGE: u8 = 5;
    pub const TABLE: u8 = 6;
    pub const LEDGER: u8 = 7;
    pub const EVENTS: u8 = 8;

    /// Tags that may appear more than once.
    pub fn repeats(tag: u8) -> bool {
        matches!(tag, PARENT | DATASET | TABLE | EVENTS)
    }
}

impl Commit {
    /// The canonical encoding (datasets must already be sorted by path).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(COMMIT_TAG);
        for p in &self.parents {
            put_field(&mut out, field::PARENT, p.0.as_bytes());
        }
        for d in &self.datasets {
            let mut v = Vec::with_capacity(41 + d.path.len());
            v.push(d.kind.code());
            v.extend_from_slice(d.id.as_bytes());
            v.extend_from_slice(&d.size.to_le_bytes());
            v.extend_from_slice(d.path.as_bytes());
            put_field(&mut out, field::DATASET, &v);
        }
        put_field(&mut out, field::AUTHOR, self.author.as_bytes());
        put_field(&mut out, field::TIME, &self.time.to_le_bytes());
        put_field(&mut out, field::MESSAGE, self.message.as_bytes());
        for t in &self.tables {
            let mut v = Vec::with_capacity(32 + t.path.len());
            v.extend_from_slice(t.manifest.0.as_bytes());
            v.extend_from_slice(t.path.as_bytes());
            put_field(&mut out, field::TABLE, &v);
        }
        if let Some((size, root)) = &self.ledger {
            let mut v = size.to_le_bytes().to_vec();
            v.extend_from_slice(&root.0);
            put_field(&mut out, field::LEDGER, &v);
        }
        for (batch, count) in &self.events {
            let mut v = batch.as_bytes().to_vec();
            v.extend_from_slice(&count.to_le_bytes());
            put_field(&mut out, field::EVENTS, &v);
        }
        out
    }

    /// The id of the canonical encoding.
    pub fn id(&self) -> CommitId {
        CommitId(ObjectId::of(&self.encode()))
    }

    /// Decodes and validates a canonical commit.
    pub fn decode(bytes: &[u8]) -> Result<Commit, DecodeError> {
        if bytes.starts_with(COMMIT_TAG_V1) {
            return Err(DecodeError::Malformed {
                what: "commit",
                detail:
                    "written by folio 0.1 (format 1): run `folio upgrade` to convert the repository"
                        .into(),
            });
        }
        Commit::decode_tagged(bytes, COMMIT_TAG)
    }

    /// Decodes a commit written by folio 0.1 (format 1), for `folio
    /// upgrade`: its ledger head counts events of the one global ledger.
    pub fn decode_v1(bytes: &[u8]) -> Result<Commit, DecodeError> {
        let c = Commit::decode_tagged(bytes, COMMIT_TAG_V1)?;
        if !c.events.is_empty() {
            return Err(DecodeError::Malformed {
                what: "commit",
                detail: "a format-1 commit lists event batches".into(),
            });
        }
        Ok(c)
    }

    fn decode_tagged(bytes: &[u8], type_tag: &[u8]) -> Result<Commit, DecodeError> {
        const WHAT: &str = "commit";
        let mut r = Reader::new(bytes, WHAT);
        r.tag(type_tag)?;
        let mut c = Commit::default();
        let mut last_tag = 0u8;
        let mut seen = [false; 9];
        while !r.at_end() {
            let tag = r.u8()?;
            let len = r.u32()? as usize;
            if tag < last_tag || (tag == last_tag && !field::repeats(tag)) {
                return Err(r.bad(format!("field {tag} out of order")));
            }
            last_tag = tag;
            match tag {
                field::PARENT => c.parents.push(CommitId(r.id_sized(len)?)),
                field::DATASET => c.datasets.push(decode_dataset(&mut r, len)?),
                field::AUTHOR => c.author = r.utf8(len)?,
                field::TIME => {
                    if len != 8 {
                        return Err(r.bad("time field is not 8 bytes".into()));
                    }
                    c.time = r.u64()? as i64;
                }
                field::MESSAGE => c.message = r.utf8(len)?,
                field::TABLE => {
                    if len < 33 {
                        return Err(r.bad("table field too short".into()));
                    }
                    let manifest = crate::id::ManifestId(r.id()?);
                    let path = r.utf8(len - 32)?;
                    if !valid_path(&path) {
                        return Err(r.bad(format!("invalid table path {path:?}")));
                    }
                    c.tables.push(TableRef { path, manifest });
                }
                field::LEDGER => {
                    if len != 40 {
                        return Err(r.bad("ledger head is not 40 bytes".into()));
                    }
                    let size = r.u64()?;
                    let root = crate::ledger::merkle::Hash(*r.id()?.as_bytes());
                    c.ledger = Some((size, root));
                }
                field::EVENTS => {
                    if len != 40 {
                        return Err(r.bad("an event batch field is not 40 bytes".into()));
                    }
                    let batch = r.id()?;
                    let count = r.u64()?;
                    if count == 0 {
                        return Err(r.bad("an event batch with no events".into()));
                    }
                    c.events.push((batch, count));
                }
                other => return Err(r.bad(format!("unknown field {other}"))),
            }
            seen[usize::from(tag)] = true;
        }
        if !(seen[3] && seen[4] && seen[5]) {
            return Err(r.bad("author, time or message missing".into()));
        }
        for w in c.datasets.windows(2) {
            if w[0].path.as_bytes() >= w[1].path.as_bytes() {
                return Err(r.bad(format!("datasets not sorted at {:?}", w[1].path)));
            }
        }
        for w in c.tables.windows(2) {
            if w[0].path.as_bytes() >= w[1].path.as_bytes() {
                return Err(r.bad(format!("tables not sorted at {:?}", w[1].path)));
            }
        }
        // Datasets never nest (D14): one inside another — a symlink dataset
        // with a dataset under it — would let checkout write through the
        // link. Every table lies in a dataset.
        let paths: std::collections::HashSet<&str> =
            c.datasets.iter().map(|d| d.path.as_str()).collect();
        for d in &c.datasets {
            let mut at = d.path.as_str();
            while let Some((parent, _)) = at.rsplit_once('/') {
                if paths.contains(parent) {
                    return Err(r.bad(format!(
                        "dataset {:?} lies inside dataset {parent:?}",
                        d.path
                    )));
                }
                at = parent;
            }
        }
        for t in &c.tables {
            let inside = c.datasets.iter().any(|d| is_within(&t.path, &d.path));
            if !inside {
                return Err(r.bad(format!("table {:?} lies in no dataset", t.path)));
            }
        }
        Ok(c)
    }

    /// The first line of the message.
    pub fn summary(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }
}

/// An annotated tag: who named which commit, when and why. Stored as an
/// object; the tag's ref names the commit and this object (docs/FORMAT.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The commit tagged.
    pub target: CommitId,
    /// The tag's name (so the object cannot be passed off under another).
    pub name: String,
    /// Who made the tag.
    pub tagger: String,
    /// Seconds since the Unix epoch, UTC.
    pub time: i64,
    /// The tag message.
    pub message: String,
}

mod tag_field {
    pub const TARGET: u8 = 1;
    pub const NAME: u8 = 2;
    pub const TAGGER: u8 = 3;
    pub const TIME: u8 = 4;
    pub const MESSAGE: u8 = 5;
}

impl Tag {
    /// The canonical encoding: type tag, then the five fields in order.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.message.len());
        out.extend_from_slice(TAG_TAG);
        put_field(&mut out, tag_field::TARGET, self.target.0.as_bytes());
        put_field(&mut out, tag_field::NAME, self.name.as_bytes());
        put_field(&mut out, tag_field::TAGGER, self.tagger.as_bytes());
        put_field(&mut out, tag_field::TIME, &self.time.to_le_bytes());
        put_field(&mut out, tag_field::MESSAGE, self.message.as_bytes());
        out
    }

    /// The id of the canonical encoding.
    pub fn id(&self) -> ObjectId {
        ObjectId::of(&self.encode())
    }

    /// Decodes and validates a canonical tag object.
    pub fn decode(bytes: &[u8]) -> Result<Tag, DecodeError> {
        const WHAT: &str = "tag";
        let mut r = Reader::new(bytes, WHAT);
        r.tag(TAG_TAG)?;
        let field = |want: u8, r: &mut Reader<'_>| -> Result<usize, DecodeError> {
            let tag = r.u8()?;
            let len = r.u32()? as usize;
            if tag != want {
                return Err(r.bad(format!("field {tag} where field {want} belongs")));
            }
            Ok(len)
        };
        let len = field(tag_field::TARGET, &mut r)?;
        let target = CommitId(r.id_sized(len)?);
        let len = field(tag_field::NAME, &mut r)?;
        let name = r.utf8(len)?;
        let len = field(tag_field::TAGGER, &mut r)?;
        let tagger = r.utf8(len)?;
        if field(tag_field::TIME, &mut r)? != 8 {
            return Err(r.bad("time field is not 8 bytes".into()));
        }
        let time = r.u64()? as i64;
        let len = field(tag_field::MESSAGE, &mut r)?;
        let message = r.utf8(len)?;
        if !r.at_end() {
            return Err(r.bad("bytes after the message".into()));
        }
        Ok(Tag {
            target,
            name,
            tagger,
            time,
            message,
        })
    }
}

fn decode_dataset(r: &mut Reader<'_>, len: usize) -> Result<DatasetEntry, DecodeError> {
    if len < 41 {
        return Err(r.bad("dataset field too short".into()));
    }
    let code = r.u8()?;
    let kind = EntryKind::from_code(code).ok_or_else(|| r.bad(format!("dataset kind {code}")))?;
    let id = r.id()?;
    let size = r.u64()?;
    let path = r.utf8(len - 41)?;
    if !valid_path(&path) {
        return Err(r.bad(format!("invalid dataset path {path:?}")));
    }
    Ok(DatasetEntry {
        path,
        kind,
        id,
        size,
    })
}

fn put_field(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&u32_len(value.len()).to_le_bytes());
    out.extend_from_slice(value);
}

fn u32_len(n: usize) -> u32 {
    u32::try_from(n).expect("object fields are far below 4 GiB")
}

/// A bounds-checked cursor over encoded bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader {
            bytes,
            pos: 0,
            what,
        }
    }

    fn bad(&self, detail: String) -> DecodeError {
        DecodeError::Malformed {
            what: self.what,
            detail,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(DecodeError::Truncated(self.what))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn tag(&mut self, tag: &[u8]) -> Result<(), DecodeError> {
        if self.bytes.starts_with(tag) {
            self.pos = tag.len();
            Ok(())
        } else {
            Err(DecodeError::WrongType(self.what))
        }
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn id(&mut self) -> Result<ObjectId, DecodeError> {
        Ok(ObjectId::from_slice(self.take(32)?).expect("32 bytes"))
    }

    fn id_sized(&mut self, len: usize) -> Result<ObjectId, DecodeError> {
        if len != 32 {
            return Err(self.bad(format!("id field of {len} bytes")));
        }
        self.id()
    }

    fn utf8(&mut self, len: usize) -> Result<String, DecodeError> {
        let b = self.take(len)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.bad("text is not UTF-8".into()))
    }

    fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.bad(format!("{} trailing bytes", self.bytes.len() - self.pos)))
        }
    }
}

/// Returns true when `bytes` start with the commit tag.
pub fn looks_like_commit(bytes: &[u8]) -> bool {
    bytes.starts_with(COMMIT_TAG) || bytes.starts_with(COMMIT_TAG_V1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tag_objects_round_trip_and_only_canonical_bytes_decode() {
        let t = Tag {
            target: CommitId(ObjectId::of(b"c")),
            name: "v1/rc".into(),
            tagger: "Grace <g@example.com>".into(),
            time: 1_772_357_400,
            message: "Release 1\n\nAudited.".into(),
        };
        let b = t.encode();
        assert!(b.starts_with(TAG_TAG));
        // Type tag, five (tag, u32 length) headers, then the values.
        let values = 32 + 5 + 21 + 8 + 19;
        assert_eq!(b.len(), TAG_TAG.len() + 5 * 5 + values);
        assert_eq!(Tag::decode(&b), Ok(t.clone()));
        assert_ne!(
            t.id(),
            Tag {
                time: 0,
                ..t.clone()
            }
            .id()
        );
        let mut trailing = b.clone();
        trailing.push(0);
        assert!(Tag::decode(&trailing).is_err());
        assert!(Tag::decode(&b[..b.len() - 1]).is_err());
        // Fields swapped (name before target) are refused.
        let mut swapped = TAG_TAG.to_vec();
        put_field(&mut swapped, tag_field::NAME, b"v1");
        put_field(&mut swapped, tag_field::TARGET, t.target.0.as_bytes());
        assert!(Tag::decode(&swapped).is_err());
        // A commit is not a tag.
        assert!(Tag::decode(&Commit::default().encode()).is_err());
    }

    use super::*;

    fn sample_tree() -> Tree {
        let mut t = Tree {
            entries: vec![
                TreeEntry {
                    name: "b.txt".into(),
                    kind: EntryKind::File,
                    id: ObjectId::of(b"hello\n"),
                    size: 6,
                },
                TreeEntry {
                    name: "a".into(),
                    kind: EntryKind::Tree,
                    id: Tree::default().id().0,
                    size: 0,
                },
            ],
        };
        t.sort();
        t
    }

    #[test]
    fn reserved_names_in_every_spelling() {
        for n in [
            ".folio",
            ".FOLIO",
            ".Folio.",
            ".folio ",
            ".fo\u{200c}lio",
            "\u{feff}.folio",
        ] {
            assert!(is_reserved(n), "{n:?}");
            assert!(!valid_name(n), "{n:?}");
        }
        for n in ["folio", ".folios", "a.folio", ".foli0"] {
            assert!(!is_reserved(n), "{n:?}");
        }
    }

    #[test]
    fn hostile_commits_do_not_decode() {
        let with = |paths: &[(&str, EntryKind)]| {
            let mut c = sample_commit();
            c.datasets = paths
                .iter()
                .map(|(p, k)| DatasetEntry {
                    path: p.to_string(),
                    kind: *k,
                    id: ObjectId::of(p.as_bytes()),
                    size: 1,
                })
                .collect();
            c.datasets
                .sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
            Commit::decode(&c.encode())
        };
        // A symlink dataset with a dataset under it: checkout would write
        // through the link.
        let err = with(&[("a", EntryKind::Symlink), ("a/victim", EntryKind::File)]);
        assert!(err.is_err_and(|e| e.to_string().contains("inside dataset")));
        assert!(with(&[("x", EntryKind::Tree), ("x/y/z", EntryKind::Tree)]).is_err());
        for bad in [
            ".folio/config.toml",
            "data/.FOLIO/refs",
            "../x",
            "a//b",
            "/abs",
        ] {
            assert!(with(&[(bad, EntryKind::File)]).is_err(), "{bad}");
        }
        assert!(with(&[("a", EntryKind::Tree), ("a-b", EntryKind::Tree)]).is_ok());
        // A table outside every dataset.
        let mut c = sample_commit();
        c.tables.push(TableRef {
            path: "elsewhere.csv".into(),
            manifest: crate::id::ManifestId(ObjectId::of(b"m")),
        });
        assert!(Commit::decode(&c.encode()).is_err());
        // A tree naming `.folio`.
        let mut t = sample_tree();
        t.entries[0].name = ".Folio".into();
        t.sort();
        assert!(Tree::decode(&t.encode()).is_err());
    }

    fn sample_commit() -> Commit {
        Commit {
            parents: vec![],
            datasets: vec![DatasetEntry {
                path: "data".into(),
                kind: EntryKind::Tree,
                id: sample_tree().id().0,
                size: 6,
            }],
            tables: vec![],
            ledger: Some((12, crate::ledger::merkle::Hash([9; 32]))),
            events: vec![(ObjectId::of(b"b1"), 5), (ObjectId::of(b"b2"), 7)],
            author: "Ada <ada@example.com>".into(),
            time: 1_700_000_000,
            message: "first".into(),
        }
    }

    #[test]
    fn commit_with_tables_round_trips() {
        let mut c = sample_commit();
        c.tables = vec![
            TableRef {
                path: "data/a.csv".into(),
                manifest: crate::id::ManifestId(ObjectId::of(b"m1")),
            },
            TableRef {
                path: "data/b.jsonl".into(),
                manifest: crate::id::ManifestId(ObjectId::of(b"m2")),
            },
        ];
        assert_eq!(Commit::decode(&c.encode()).expect("decodes"), c);
        c.ledger = Some((12, crate::ledger::merkle::Hash([9; 32])));
        assert_eq!(Commit::decode(&c.encode()).expect("decodes"), c);
    }

    #[test]
    fn tree_round_trip() {
        let t = sample_tree();
        assert_eq!(Tree::decode(&t.encode()).expect("decodes"), t);
    }

    #[test]
    fn commit_round_trip() {
        let mut c = sample_commit();
        assert_eq!(Commit::decode(&c.encode()).expect("decodes"), c);
        c.ledger = None;
        c.events.clear();
        assert_eq!(Commit::decode(&c.encode()).expect("decodes"), c);
        // A format-1 commit is refused with a pointer to `folio upgrade`,
        // and read by the upgrade.
        let mut v1 = c.encode();
        v1[..COMMIT_TAG.len()].copy_from_slice(COMMIT_TAG_V1);
        let err = Commit::decode(&v1).expect_err("format 1").to_string();
        assert!(err.contains("folio upgrade"), "{err}");
        assert_eq!(Commit::decode_v1(&v1).expect("upgrade reads it"), c);
    }

    #[test]
    fn unsorted_tree_is_rejected() {
        let mut t = sample_tree();
        t.entries.reverse();
        assert!(matches!(
            Tree::decode(&t.encode()),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn truncated_objects_are_rejected() {
        let bytes = sample_commit().encode();
        for cut in [COMMIT_TAG.len() + 3, bytes.len() - 1] {
            assert!(Commit::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(
            Tree::decode(b"folio-commit 1\n"),
            Err(DecodeError::WrongType("tree"))
        );
    }

    // Golden hashes: the expected values come from tests/golden/encode.py, an
    // independent implementation of docs/FORMAT.md. A change here means the
    // on-disk format changed: bump the format version instead.
    #[test]
    fn golden_empty_tree() {
        assert_eq!(
            Tree::default().id().to_string(),
            include_str!("../../../tests/golden/empty_tree.id").trim()
        );
    }

    #[test]
    fn golden_sample_tree_and_commit() {
        assert_eq!(
            sample_tree().id().to_string(),
            include_str!("../../../tests/golden/sample_tree.id").trim()
        );
        assert_eq!(
            sample_commit().id().to_string(),
            include_str!("../../../tests/golden/sample_commit.id").trim()
        );
    }
}
