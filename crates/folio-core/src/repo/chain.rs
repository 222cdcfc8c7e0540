//! Append-only, hash-chained JSON-lines journals: the operation log
//! (`oplog`) and the access log (`access`). Each line is one entry with
//! `seq` (from 1), `prev` (the previous line's `hash`, zeros for the
//! first) and `hash`: BLAKE3 of the line as serialized with `hash` empty.
//! A last line cut short (no newline, not an entry) is a torn append: it
//! is ignored, and cut off by the next append; any other damage is an
//! error naming the line.

use std::io::Write as _;
use std::path::Path;

use super::RepoError;

/// The `prev` of a first entry.
pub(crate) const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry of a chained journal.
pub(crate) trait Chained: serde::Serialize + serde::de::DeserializeOwned + Clone {
    fn seq(&self) -> u64;
    fn prev(&self) -> &str;
    fn hash(&self) -> &str;
    /// The same entry with `hash` set to `h`.
    fn with_hash(&self, h: String) -> Self;
}

/// BLAKE3 of the entry serialized with `hash` empty.
pub(crate) fn line_hash<T: Chained>(e: &T) -> String {
    let text = serde_json::to_string(&e.with_hash(String::new())).expect("serializable");
    blake3::hash(text.as_bytes()).to_hex().to_string()
}

/// The entries of a journal's bytes, their chain checked; the error names
/// the line (from 1) and what is wrong with it.
pub(crate) fn parse<T: Chained>(text: &[u8]) -> Result<Vec<T>, (usize, &'static str)> {
    let mut out: Vec<T> = Vec::new();
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    for (i, raw) in lines.iter().enumerate() {
        if raw.is_empty() {
            continue;
        }
        let torn = i + 1 == lines.len(); // no newline after it
        let e: T = match serde_json::from_slice(raw) {
            Ok(e) => e,
            Err(_) if torn => break,
            Err(_) => return Err((i + 1, "not an entry")),
        };
        let prev = out.last().map_or(ZERO, |o| o.hash());
        if e.prev() != prev || e.seq() != out.len() as u64 + 1 {
            return Err((i + 1, "it does not follow the entry before it"));
        }
        if line_hash(&e) != e.hash() {
            return Err((i + 1, "its hash does not match its content"));
        }
        out.push(e);
    }
    Ok(out)
}

/// The entries of the journal at `path` (none when absent); `what` names
/// it in the error a damaged line gives.
pub(crate) fn read<T: Chained>(path: &Path, what: &str) -> Result<Vec<T>, RepoError> {
    crate::fsutil::refuse_symlink(path).map_err(RepoError::io(path))?;
    let text = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RepoError::io(path)(e)),
    };
    parse(&text).map_err(|(line, detail)| {
        RepoError::io(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("line {line}: {detail}: the {what} was altered or damaged"),
        ))
    })
}

/// Appends `entry` (its `seq`, `prev` and `hash` already set) durably,
/// cutting off a torn last line first. Call under the repository lock.
pub(crate) fn append<T: Chained>(path: &Path, entry: &T) -> Result<(), RepoError> {
    let mut line = serde_json::to_vec(entry).expect("serializable");
    line.push(b'\n');
    let mut f = crate::fsutil::open_in_place(path, true).map_err(RepoError::io(path))?;
    let len = f.metadata().map_err(RepoError::io(path))?.len();
    let keep = good_len(path, len)?;
    if keep < len {
        f.set_len(keep).map_err(RepoError::io(path))?;
    }
    use std::io::Seek as _;
    f.seek(std::io::SeekFrom::End(0))
        .map_err(RepoError::io(path))?;
    f.write_all(&line).map_err(RepoError::io(path))?;
    f.sync_all().map_err(RepoError::io(path))
}

/// The length of the journal up to its last complete line.
fn good_len(path: &Path, len: u64) -> Result<u64, RepoError> {
    if len == 0 {
        return Ok(0);
    }
    let bytes = std::fs::read(path).map_err(RepoError::io(path))?;
    Ok(bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i as u64 + 1))
}
