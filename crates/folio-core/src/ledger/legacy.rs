//! Reading the ledger of format 1 (folio 0.1): one global, hash-chained
//! log in `.folio/ledger/`, read only by `folio upgrade`.
//!
//! `seg-NNNNNNNN.log` holds frames `[len u32][first 8 bytes of
//! BLAKE3(payload)][payload]`, a payload one zstd frame of `[len u32][event]`
//! (events of format 1 carry their sequence number and the previous
//! event's hash); `checkpoint` (postcard, then BLAKE3 of it) records where
//! the committed ledger ends.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::batch::LogError;
use super::event::Event;
use super::merkle::{Frontier, Hash};

const FRAME_HEAD: usize = 12;

#[derive(Deserialize)]
struct Checkpoint {
    segment: u32,
    offset: u64,
    #[allow(dead_code)]
    last: Hash,
    frontier: Frontier,
}

fn corrupt(path: &Path, offset: u64, detail: impl Into<String>) -> LogError {
    LogError::Corrupt {
        path: path.to_path_buf(),
        offset,
        detail: detail.into(),
    }
}

/// Whether `dir` holds a format-1 ledger.
pub fn present(dir: &Path) -> bool {
    dir.join("checkpoint").exists() || dir.join("seg-00000000.log").exists()
}

/// The committed end recorded by the checkpoint: (segment, offset, events).
fn committed_end(dir: &Path) -> Result<Option<(u32, u64, u64)>, LogError> {
    let path = dir.join("checkpoint");
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LogError::Io { path, source }),
    };
    let body = match bytes.len().checked_sub(32) {
        Some(n) if blake3::hash(&bytes[..n]).as_bytes() == &bytes[n..] => &bytes[..n],
        _ => &bytes[..], // written before checkpoints carried their hash
    };
    let cp: Checkpoint =
        postcard::from_bytes(body).map_err(|e| corrupt(&path, 0, format!("unreadable: {e}")))?;
    Ok(Some((cp.segment, cp.offset, cp.frontier.size)))
}

/// Every committed event of the format-1 ledger in `dir`, in order, with
/// its hash, its chain checked; at least `need` of them (the count the
/// current commit attests) must be there. Frames past the checkpoint are
/// an abandoned append and are not read.
pub fn read_all(dir: &Path, need: u64) -> Result<Vec<(Event, Hash)>, LogError> {
    let end = committed_end(dir)?;
    let mut out: Vec<(Event, Hash)> = Vec::new();
    let mut last = Hash([0; 32]);
    for seg in 0u32.. {
        let path: PathBuf = dir.join(format!("seg-{seg:08}.log"));
        if !path.exists() {
            break;
        }
        let bytes = fs::read(&path).map_err(|source| LogError::Io {
            path: path.clone(),
            source,
        })?;
        let stop = match end {
            Some((s, off, _)) if s == seg => off as usize,
            Some((s, _, _)) if s < seg => 0,
            _ => bytes.len(),
        };
        let mut off = 0usize;
        while off < stop.min(bytes.len()) {
            let head = bytes
                .get(off..off + FRAME_HEAD)
                .ok_or_else(|| corrupt(&path, off as u64, "frame cut short"))?;
            let n = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
            let payload = bytes
                .get(off + FRAME_HEAD..off + FRAME_HEAD + n)
                .ok_or_else(|| corrupt(&path, off as u64, "frame cut short"))?;
            if blake3::hash(payload).as_bytes()[..8] != head[4..] {
                if end.is_none() && off + FRAME_HEAD + n == bytes.len() {
                    break; // a torn final append, never acknowledged
                }
                return Err(corrupt(&path, off as u64, "frame checksum does not match"));
            }
            let batch = zstd::stream::decode_all(payload)
                .map_err(|e| corrupt(&path, off as u64, format!("does not decompress: {e}")))?;
            let mut rest = &batch[..];
            while !rest.is_empty() {
                let len = rest
                    .get(..4)
                    .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
                    .filter(|l| rest.len() >= 4 + l)
                    .ok_or_else(|| corrupt(&path, off as u64, "an event is cut short"))?;
                let enc = &rest[4..4 + len];
                rest = &rest[4 + len..];
                let (e, prev) = Event::decode_v1(enc).map_err(|d| {
                    corrupt(
                        &path,
                        off as u64,
                        format!("an event does not decode ({})", d.0),
                    )
                })?;
                let seq = out.len() as u64;
                if e.seq != seq || prev != last {
                    return Err(LogError::Chain {
                        seq,
                        detail: "the chain is broken (an event was edited, removed or reordered)"
                            .into(),
                    });
                }
                last = Hash::of(enc);
                out.push((e, last));
            }
            off += FRAME_HEAD + n;
        }
    }
    let have = out.len() as u64;
    if have < need || end.is_some_and(|(_, _, size)| size != have) {
        return Err(LogError::Chain {
            seq: have,
            detail: format!(
                "the ledger ends after {have} events but its checkpoint or the current commit says more"
            ),
        });
    }
    Ok(out)
}
