//! Ledger segments on disk: framed, checksummed, append-only.
//!
//! `ledger/seg-NNNNNNNN.log` holds frames `[len u32][first 8 bytes of
//! BLAKE3(payload)][payload]`; a payload is one zstd frame holding a batch
//! of events, each `[len u32][encoded event]` (events repeat most of their
//! bytes, so batches compress about threefold).
//! `ledger/checkpoint` (replaced atomically) records where the committed
//! ledger ends, the last event's hash and the Merkle frontier, so opening
//! the ledger does not re-read it. Frames after the checkpoint are a torn
//! or abandoned append: a writer drops them (unless a commit attests them).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::event::{Event, EventDecodeError};
use super::merkle::{self, Frontier, Hash};
use crate::fsutil;

/// A segment is closed once it passes this size.
const SEGMENT_MAX: u64 = 64 << 20;
const FRAME_HEAD: usize = 12;
/// Events per frame at most.
const BATCH: usize = 4096;

/// Errors of the ledger files.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A ledger file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A frame inside the ledger is damaged (not a torn tail).
    #[error("{} (offset {offset}): {detail}", path.display())]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Byte offset of the frame.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// An event breaks the chain.
    #[error("ledger event {seq}: {detail}")]
    Chain {
        /// The first bad sequence number.
        seq: u64,
        /// What is wrong.
        detail: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where the committed ledger ends.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Index of the last segment.
    pub segment: u32,
    /// Committed length of that segment.
    pub offset: u64,
    /// Hash of the last event (zeros when empty).
    pub last: Hash,
    /// Merkle frontier over every event (its size is the event count).
    pub frontier: Frontier,
}

/// The state of the ledger: how many events, the chain's end, the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Number of events.
    pub size: u64,
    /// RFC 6962 root over their hashes.
    pub root: Hash,
}

impl Checkpoint {
    /// The head this checkpoint describes.
    pub fn head(&self) -> Head {
        Head {
            size: self.frontier.size,
            root: self.frontier.root(),
        }
    }
}

/// The ledger folder.
pub struct LedgerLog {
    dir: PathBuf,
}

fn segment_name(i: u32) -> String {
    format!("seg-{i:08}.log")
}

impl LedgerLog {
    /// The ledger in `dir` (created on first append).
    pub fn new(dir: &Path) -> LedgerLog {
        LedgerLog {
            dir: dir.to_path_buf(),
        }
    }

    fn seg_path(&self, i: u32) -> PathBuf {
        self.dir.join(segment_name(i))
    }

    fn checkpoint_path(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }

    /// The saved checkpoint (default when there is none or it is unreadable:
    /// it is derived, and a full scan rebuilds it).
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let bytes = fs::read(self.checkpoint_path()).ok()?;
        postcard::from_bytes(&bytes).ok()
    }

    /// Segment indexes present, ascending.
    fn segments(&self) -> Result<Vec<u32>, LogError> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err(&self.dir)(e)),
        };
        for e in rd {
            let name = e.map_err(io_err(&self.dir))?.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name
                .strip_prefix("seg-")
                .and_then(|s| s.strip_suffix(".log"))
                && let Ok(i) = n.parse()
            {
                out.push(i);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Reads every event in order, checking frames and the chain, and
    /// returns where the readable ledger ends. A damaged last frame is a
    /// torn append and ends the scan; damage elsewhere is an error.
    pub fn scan(
        &self,
        each: impl FnMut(&Event, &Hash) -> Result<(), LogError>,
    ) -> Result<Checkpoint, LogError> {
        self.scan_upto(u64::MAX, each)
    }

    /// Like [`LedgerLog::scan`], stopping after `limit` events.
    pub fn scan_upto(
        &self,
        limit: u64,
        mut each: impl FnMut(&Event, &Hash) -> Result<(), LogError>,
    ) -> Result<Checkpoint, LogError> {
        let mut cp = Checkpoint::default();
        let segs = self.segments()?;
        for (k, &i) in segs.iter().enumerate() {
            let path = self.seg_path(i);
            let last_segment = k + 1 == segs.len();
            let file = File::open(&path).map_err(io_err(&path))?;
            let len = file.metadata().map_err(io_err(&path))?.len();
            let mut r = BufReader::with_capacity(1 << 20, file);
            let mut off = 0u64;
            cp.segment = i;
            while off < len && cp.frontier.size < limit {
                let frame = read_frame(&mut r, off, len, &path)?;
                let payload = match frame {
                    Ok(p) => p,
                    Err((detail, at_end)) => {
                        if last_segment && at_end {
                            break; // a torn final append: ignored
                        }
                        return Err(LogError::Corrupt {
                            path,
                            offset: off,
                            detail,
                        });
                    }
                };
                let corrupt = |detail: String| LogError::Corrupt {
                    path: path.clone(),
                    offset: off,
                    detail,
                };
                let batch = zstd::stream::decode_all(&payload[..])
                    .map_err(|e| corrupt(format!("frame does not decompress: {e}")))?;
                let mut rest = &batch[..];
                while !rest.is_empty() {
                    if cp.frontier.size >= limit {
                        // Heads fall on frame ends; a limit inside a frame
                        // means the ledger and the head disagree.
                        return Err(LogError::Chain {
                            seq: limit,
                            detail: "the attested head falls inside a frame".into(),
                        });
                    }
                    let n = rest
                        .get(..4)
                        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
                        .filter(|n| rest.len() >= 4 + n)
                        .ok_or_else(|| corrupt("an event in the frame is cut short".into()))?;
                    let enc = &rest[4..4 + n];
                    rest = &rest[4 + n..];
                    let ev = Event::decode(enc).map_err(|EventDecodeError(d)| LogError::Chain {
                        seq: cp.frontier.size,
                        detail: format!("does not decode ({d})"),
                    })?;
                    let hash = *blake3::hash(enc).as_bytes();
                    check_link(&ev, &cp)?;
                    each(&ev, &hash)?;
                    cp.frontier.push(merkle::leaf(&hash));
                    cp.last = hash;
                }
                off += (FRAME_HEAD + payload.len()) as u64;
                cp.offset = off;
            }
        }
        Ok(cp)
    }

    /// Starts appending after `cp` (anything already past it is dropped).
    pub fn appender(&self, cp: &Checkpoint) -> Result<Appender<'_>, LogError> {
        fsutil::create_dir_durable(&self.dir).map_err(io_err(&self.dir))?;
        let path = self.seg_path(cp.segment);
        let out = self.open_at(&path, cp.offset)?;
        Ok(Appender {
            log: self,
            cp: cp.clone(),
            path,
            out,
            batch: Vec::new(),
            batched: 0,
        })
    }

    /// Opens a segment for appending at `offset`, dropping anything after
    /// it (a torn or abandoned append).
    fn open_at(&self, path: &Path, offset: u64) -> Result<io::BufWriter<File>, LogError> {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        f.set_len(offset).map_err(io_err(path))?;
        f.seek(SeekFrom::Start(offset)).map_err(io_err(path))?;
        Ok(io::BufWriter::with_capacity(1 << 20, f))
    }

    /// Every event's encoding, in order, without checking the chain (for
    /// tools and tests that inspect or rewrite a ledger).
    pub fn raw_events(&self) -> Result<Vec<Vec<u8>>, LogError> {
        let mut out = Vec::new();
        for i in self.segments()? {
            let path = self.seg_path(i);
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let mut off = 0usize;
            while off + FRAME_HEAD <= bytes.len() {
                let n =
                    u32::from_le_bytes(bytes[off..off + 4].try_into().expect("4 bytes")) as usize;
                let Some(payload) = bytes.get(off + FRAME_HEAD..off + FRAME_HEAD + n) else {
                    break;
                };
                let batch = zstd::stream::decode_all(payload).map_err(io_err(&path))?;
                let mut rest = &batch[..];
                while rest.len() >= 4 {
                    let m = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
                    let Some(ev) = rest.get(4..4 + m) else { break };
                    out.push(ev.to_vec());
                    rest = &rest[4 + m..];
                }
                off += FRAME_HEAD + n;
            }
        }
        Ok(out)
    }

    /// Replaces the whole ledger with these event encodings, as they are,
    /// one event a frame, and removes the checkpoint (for tools and tests
    /// that simulate damage; the chain is not checked).
    pub fn rewrite_raw(&self, events: &[Vec<u8>]) -> Result<(), LogError> {
        for i in self.segments()? {
            let p = self.seg_path(i);
            fs::remove_file(&p).map_err(io_err(&p))?;
        }
        let _ = fs::remove_file(self.checkpoint_path());
        let mut out = Vec::new();
        for ev in events {
            let mut batch = (ev.len() as u32).to_le_bytes().to_vec();
            batch.extend_from_slice(ev);
            let payload = zstd::bulk::compress(&batch, 3).map_err(io_err(&self.dir))?;
            out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            out.extend_from_slice(&blake3::hash(&payload).as_bytes()[..8]);
            out.extend_from_slice(&payload);
        }
        let p = self.seg_path(0);
        fsutil::write_atomic(&p, &out).map_err(io_err(&p))
    }

    /// Saves the checkpoint atomically.
    pub fn save(&self, cp: &Checkpoint) -> Result<(), LogError> {
        fsutil::create_dir_durable(&self.dir).map_err(io_err(&self.dir))?;
        let bytes = postcard::to_stdvec(cp).map_err(|e| LogError::Io {
            path: self.checkpoint_path(),
            source: io::Error::other(e.to_string()),
        })?;
        let p = self.checkpoint_path();
        fsutil::write_atomic(&p, &bytes).map_err(io_err(&p))
    }
}

/// A damaged frame: why, and whether it is the last thing in the file
/// (then it may be a torn append).
type BadFrame = (String, bool);

/// Checks that an event follows the checkpoint: next sequence number, and
/// the previous event's hash.
fn check_link(ev: &Event, cp: &Checkpoint) -> Result<(), LogError> {
    if ev.seq != cp.frontier.size {
        return Err(LogError::Chain {
            seq: cp.frontier.size,
            detail: format!(
                "found event {} where event {} belongs (events removed or reordered)",
                ev.seq, cp.frontier.size
            ),
        });
    }
    if ev.prev != cp.last {
        return Err(LogError::Chain {
            seq: ev.seq,
            detail: "its previous-event hash does not match the event before it (an event was edited, removed or reordered)".into(),
        });
    }
    Ok(())
}

/// Appends events one at a time, streaming them to disk in compressed
/// batches.
pub struct Appender<'a> {
    log: &'a LedgerLog,
    cp: Checkpoint,
    path: PathBuf,
    out: io::BufWriter<File>,
    batch: Vec<u8>,
    batched: usize,
}

impl Appender<'_> {
    /// The checkpoint after the events pushed so far.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.cp
    }

    /// Appends one encoded event whose hash is `hash`.
    pub fn push_encoded(&mut self, event: &[u8], hash: &Hash) -> Result<(), LogError> {
        self.batch
            .extend_from_slice(&(event.len() as u32).to_le_bytes());
        self.batch.extend_from_slice(event);
        self.batched += 1;
        self.cp.frontier.push(merkle::leaf(hash));
        self.cp.last = *hash;
        if self.batched >= BATCH {
            self.flush_batch()?;
        }
        Ok(())
    }

    /// Writes the pending batch as one frame.
    fn flush_batch(&mut self) -> Result<(), LogError> {
        if self.batched == 0 {
            return Ok(());
        }
        if self.cp.offset >= SEGMENT_MAX {
            self.sync()?;
            self.cp.segment += 1;
            self.cp.offset = 0;
            self.path = self.log.seg_path(self.cp.segment);
            self.out = self.log.open_at(&self.path, 0)?;
        }
        let io = |source| LogError::Io {
            path: self.path.clone(),
            source,
        };
        let payload = zstd::bulk::compress(&self.batch, 1).map_err(io)?;
        let check = blake3::hash(&payload);
        self.out
            .write_all(&(payload.len() as u32).to_le_bytes())
            .and_then(|_| self.out.write_all(&check.as_bytes()[..8]))
            .and_then(|_| self.out.write_all(&payload))
            .map_err(|source| LogError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.cp.offset += (FRAME_HEAD + payload.len()) as u64;
        self.batch.clear();
        self.batched = 0;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), LogError> {
        self.out.flush().map_err(io_err(&self.path))?;
        self.out.get_ref().sync_all().map_err(io_err(&self.path))
    }

    /// Makes everything pushed durable; returns the checkpoint after it.
    pub fn finish(mut self) -> Result<Checkpoint, LogError> {
        self.flush_batch()?;
        self.sync()?;
        fsutil::sync_dir(&self.log.dir).map_err(io_err(&self.log.dir))?;
        Ok(self.cp)
    }
}

/// Reads one frame.
fn read_frame(
    r: &mut impl Read,
    off: u64,
    len: u64,
    path: &Path,
) -> Result<Result<Vec<u8>, BadFrame>, LogError> {
    if len - off < FRAME_HEAD as u64 {
        return Ok(Err(("frame header cut short".into(), true)));
    }
    let mut head = [0u8; FRAME_HEAD];
    r.read_exact(&mut head).map_err(io_err(path))?;
    let n = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as u64;
    if (len - off - FRAME_HEAD as u64) < n {
        return Ok(Err(("frame cut short".into(), true)));
    }
    let mut payload = vec![0u8; n as usize];
    r.read_exact(&mut payload).map_err(io_err(path))?;
    if blake3::hash(&payload).as_bytes()[..8] != head[4..] {
        let at_end = off + FRAME_HEAD as u64 + n == len;
        return Ok(Err(("frame checksum does not match".into(), at_end)));
    }
    Ok(Ok(payload))
}
