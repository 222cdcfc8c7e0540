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

use crate::error::ErrorKind;
use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom, Write};
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

impl LogError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LogError::Io { source, .. } => ErrorKind::of_io(source),
            LogError::Corrupt { .. } | LogError::Chain { .. } => ErrorKind::Damaged,
        }
    }
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
#[derive(Debug, Clone)]
pub struct LedgerLog {
    dir: PathBuf,
    segment_max: u64,
}

fn segment_name(i: u32) -> String {
    format!("seg-{i:08}.log")
}

impl LedgerLog {
    /// The ledger in `dir` (created on first append).
    pub fn new(dir: &Path) -> LedgerLog {
        LedgerLog {
            dir: dir.to_path_buf(),
            segment_max: SEGMENT_MAX,
        }
    }

    /// The same, closing segments once they pass `bytes` (tests use small
    /// segments to exercise segment boundaries).
    pub fn with_segment_max(dir: &Path, bytes: u64) -> LedgerLog {
        LedgerLog {
            dir: dir.to_path_buf(),
            segment_max: bytes,
        }
    }

    fn seg_path(&self, i: u32) -> PathBuf {
        self.dir.join(segment_name(i))
    }

    fn checkpoint_path(&self) -> PathBuf {
        self.dir.join("checkpoint")
    }

    /// The saved checkpoint: `None` when there is none yet. Its bytes end
    /// with their BLAKE3 hash; a checkpoint that fails it, or does not
    /// decode, is damage (it records acknowledged events no commit attests
    /// yet), never silently rebuilt.
    pub fn checkpoint(&self) -> Result<Option<Checkpoint>, LogError> {
        let path = self.checkpoint_path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let damaged = |detail: &str| LogError::Corrupt {
            path: path.clone(),
            offset: 0,
            detail: format!("{detail}: the checkpoint is damaged (run `folio verify`)"),
        };
        let (body, sum) = bytes.split_at(bytes.len().saturating_sub(32));
        if sum.len() != 32 || blake3::hash(body).as_bytes() != sum {
            // Repositories written before the checksum (D51): the whole
            // file is the checkpoint, in its one canonical encoding. The
            // next save adds the checksum.
            if let Ok(cp) = postcard::from_bytes::<Checkpoint>(&bytes)
                && postcard::to_stdvec(&cp).is_ok_and(|b| b == bytes)
            {
                return Ok(Some(cp));
            }
            return Err(damaged("its checksum does not match"));
        }
        postcard::from_bytes(body)
            .map(Some)
            .map_err(|_| damaged("it does not decode"))
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

    /// Like [`LedgerLog::scan`], stopping after `limit` events. Frames are
    /// decompressed, decoded and hashed on every core; the chain and the
    /// Merkle frontier are then checked and extended in order.
    pub fn scan_upto(
        &self,
        limit: u64,
        mut each: impl FnMut(&Event, &Hash) -> Result<(), LogError>,
    ) -> Result<Checkpoint, LogError> {
        self.scan_frontiers(limit, Some(&mut each), &mut |_| {})
    }

    /// Like [`LedgerLog::scan_upto`], also showing `after` the Merkle
    /// frontier after each event (to compare roots with recorded heads).
    pub fn scan_frontiers(
        &self,
        limit: u64,
        mut each: Option<&mut EachEvent<'_>>,
        after: &mut dyn FnMut(&Frontier),
    ) -> Result<Checkpoint, LogError> {
        use rayon::prelude::*;
        let mut cp = Checkpoint::default();
        if let Some(&first) = self.segments()?.first() {
            cp.segment = first;
        }
        let frames = self.frames_from(0, 0)?;
        let last_segment = self.segments()?.last().copied();
        type Decoded = Result<Option<Vec<Linked>>, LogError>;
        let keep = each.is_some();
        let decode = |w: &[FrameRef]| -> Vec<Decoded> {
            w.par_iter().map(|f| self.hashed_events(f, keep)).collect()
        };
        let windows: Vec<&[FrameRef]> = frames.chunks(READ_WINDOW).collect();
        // The next window decodes on the other cores while this one is
        // checked and chained in order.
        std::thread::scope(|sc| -> Result<(), LogError> {
            let mut next = windows.first().map(|w| decode(w));
            for (w, window) in windows.iter().enumerate() {
                let decoded = next.take().expect("decoded");
                if cp.frontier.size >= limit {
                    break;
                }
                let pending = windows.get(w + 1).map(|nw| sc.spawn(move || decode(nw)));
                for (k, (f, evs)) in window.iter().zip(decoded).enumerate() {
                    if cp.frontier.size >= limit {
                        break;
                    }
                    let Some(evs) = evs? else {
                        self.torn_tail(&frames, w * READ_WINDOW + k, last_segment)?;
                        break; // a torn final append: ignored
                    };
                    for ev in evs {
                        if cp.frontier.size >= limit {
                            // Heads fall on frame ends; a limit inside a
                            // frame means the ledger and the head disagree.
                            return Err(LogError::Chain {
                                seq: limit,
                                detail: "the attested head falls inside a frame".into(),
                            });
                        }
                        check_link(&ev, &cp)?;
                        if let (Some(each), Some(e)) = (each.as_mut(), &ev.event) {
                            each(e, &ev.hash)?;
                        }
                        cp.frontier.push(ev.leaf);
                        cp.last = ev.hash;
                        after(&cp.frontier);
                    }
                    cp.segment = f.segment;
                    cp.offset = f.end();
                }
                next = pending.map(|h| h.join().expect("the decoding thread does not panic"));
            }
            Ok(())
        })?;
        Ok(cp)
    }

    /// The events of a frame with their hashes and Merkle leaves; `Ok(None)`
    /// on a bad checksum. An event that does not decode is a chain error
    /// naming its sequence number (counted within the frame by the caller's
    /// position, so it is reported as the event that fails to link).
    fn hashed_events(&self, f: &FrameRef, keep: bool) -> Result<Option<Vec<Linked>>, LogError> {
        let Some(batch) = self.frame_bytes(f)? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for enc in split_events(&batch) {
            let enc = enc.map_err(|()| self.corrupt(f, "an event in the frame is cut short"))?;
            let ev = decode_event(enc)?;
            let hash = Hash::of(enc);
            out.push(Linked {
                seq: ev.seq,
                prev: ev.prev,
                hash,
                leaf: merkle::leaf(&hash),
                event: keep.then_some(ev),
            });
        }
        Ok(Some(out))
    }

    /// Starts appending after `cp` (anything already past it is dropped).
    pub fn appender(&self, cp: &Checkpoint) -> Result<Appender<'_>, LogError> {
        fsutil::create_dir_durable(&self.dir).map_err(io_err(&self.dir))?;
        // Segments after the checkpoint's belong to an abandoned append.
        for i in self.segments()?.into_iter().filter(|&i| i > cp.segment) {
            let p = self.seg_path(i);
            fs::remove_file(&p).map_err(io_err(&p))?;
        }
        let path = self.seg_path(cp.segment);
        // Appending at an offset past the segment's end would leave a gap
        // where acknowledged events were: that is damage to report, never
        // to write over.
        let len = match fs::symlink_metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_err(&path)(e)),
        };
        if len < cp.offset {
            return Err(LogError::Corrupt {
                path,
                offset: len,
                detail: format!(
                    "the segment ends at byte {len} but the committed ledger reaches {}: acknowledged events were cut off (run `folio verify`)",
                    cp.offset
                ),
            });
        }
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
        // Segments are appended in place (each frame checksummed, a torn
        // tail cut here), never through a symlink.
        fsutil::refuse_symlink(&self.dir).map_err(io_err(&self.dir))?;
        let mut f = fsutil::open_in_place(path, true).map_err(io_err(path))?;
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
        let mut bytes = postcard::to_stdvec(cp).map_err(|e| LogError::Io {
            path: self.checkpoint_path(),
            source: io::Error::other(e.to_string()),
        })?;
        let sum = blake3::hash(&bytes);
        bytes.extend_from_slice(sum.as_bytes());
        let p = self.checkpoint_path();
        fsutil::write_atomic(&p, &bytes).map_err(io_err(&p))
    }
}

/// Where a frame lies: its segment, the offset of its header, and the
/// length of its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRef {
    /// Segment index.
    pub segment: u32,
    /// Offset of the frame header in the segment.
    pub offset: u64,
    /// Payload length.
    pub len: u32,
    /// The first 8 bytes of BLAKE3 of the payload, as the header records.
    pub check: [u8; 8],
}

impl FrameRef {
    /// Where the next frame starts.
    pub fn end(&self) -> u64 {
        self.offset + FRAME_HEAD as u64 + u64::from(self.len)
    }
}

/// A scan's callback: each event with its hash.
pub type EachEvent<'a> = dyn FnMut(&Event, &Hash) -> Result<(), LogError> + 'a;

/// A raw read's callback: each encoded event with its frame; `Ok(false)`
/// stops the read.
pub type EachRaw<'a> =
    dyn FnMut(&FrameRef, &[u8], &super::Peek<'_>) -> Result<bool, LogError> + Send + 'a;

/// Which encoded events a reader decodes (see [`super::Peek`]).
pub type Keep<'a> = dyn Fn(&[u8]) -> bool + Sync + 'a;

/// Frames read per parallel batch by [`LedgerLog::read`].
const READ_WINDOW: usize = 16;

impl LedgerLog {
    /// The frames from `(segment, offset)` on, reading only their headers.
    /// A frame cut short at the end of the last segment (a torn append)
    /// ends the list.
    pub fn frames_from(&self, segment: u32, offset: u64) -> Result<Vec<FrameRef>, LogError> {
        let segs = self.segments()?;
        let mut out = Vec::new();
        for (k, &i) in segs.iter().enumerate().filter(|(_, i)| **i >= segment) {
            let path = self.seg_path(i);
            let file = File::open(&path).map_err(io_err(&path))?;
            let len = file.metadata().map_err(io_err(&path))?.len();
            let mut off = if i == segment { offset } else { 0 };
            while off < len {
                let mut head = [0u8; FRAME_HEAD];
                let complete = len - off >= FRAME_HEAD as u64
                    && std::os::unix::fs::FileExt::read_exact_at(&file, &mut head, off).is_ok();
                let n = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
                if !complete || len - off - (FRAME_HEAD as u64) < u64::from(n) {
                    if k + 1 == segs.len() && !self.committed(i, off) {
                        return Ok(out); // torn
                    }
                    return Err(LogError::Corrupt {
                        path,
                        offset: off,
                        detail: "frame cut short".into(),
                    });
                }
                let f = FrameRef {
                    segment: i,
                    offset: off,
                    len: n,
                    check: head[4..].try_into().expect("8 bytes"),
                };
                off = f.end();
                out.push(f);
            }
        }
        Ok(out)
    }

    /// Reads and decompresses one frame, checking its checksum; `Ok(None)`
    /// when the checksum fails (the caller decides whether it is a torn tail).
    pub fn frame_bytes(&self, f: &FrameRef) -> Result<Option<Vec<u8>>, LogError> {
        let path = self.seg_path(f.segment);
        let file = File::open(&path).map_err(io_err(&path))?;
        let mut payload = vec![0u8; f.len as usize];
        std::os::unix::fs::FileExt::read_exact_at(
            &file,
            &mut payload,
            f.offset + FRAME_HEAD as u64,
        )
        .map_err(io_err(&path))?;
        if blake3::hash(&payload).as_bytes()[..8] != f.check {
            return Ok(None);
        }
        decompress(&payload)
            .map(Some)
            .map_err(|e| self.corrupt(f, format!("frame does not decompress: {e}")))
    }

    /// The events of one frame that `keep` accepts (given each encoding),
    /// decoded.
    pub fn frame_events(
        &self,
        f: &FrameRef,
        keep: &Keep<'_>,
    ) -> Result<Option<Vec<Event>>, LogError> {
        let Some(batch) = self.frame_bytes(f)? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for enc in split_events(&batch) {
            let enc = enc.map_err(|()| self.corrupt(f, "an event in the frame is cut short"))?;
            if !keep(enc) {
                continue;
            }
            let ev = Event::decode(enc).map_err(|EventDecodeError(d)| {
                self.corrupt(f, format!("an event does not decode ({d})"))
            })?;
            out.push(ev);
        }
        Ok(Some(out))
    }

    /// Reads the events of `frames` in order, decompressing and decoding
    /// them on every core, and gives each to `each` until `limit` events
    /// (by sequence number). It checks frame checksums but not the chain:
    /// queries trust the chain `verify` checks. A bad checksum on the
    /// ledger's last frame is a torn append and ends the read.
    pub fn read(
        &self,
        frames: &[FrameRef],
        limit: u64,
        keep: &Keep<'_>,
        each: &mut dyn FnMut(&FrameRef, Event) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        use rayon::prelude::*;
        let last = self.segments()?.last().copied();
        for (w, window) in frames.chunks(READ_WINDOW).enumerate() {
            let decoded: Vec<Result<Option<Vec<Event>>, LogError>> = window
                .par_iter()
                .map(|f| self.frame_events(f, keep))
                .collect();
            for (k, (f, evs)) in window.iter().zip(decoded).enumerate() {
                let Some(evs) = evs? else {
                    self.torn_tail(frames, w * READ_WINDOW + k, last)?;
                    return Ok(()); // a torn final append: ignored
                };
                for ev in evs {
                    if ev.seq >= limit {
                        return Ok(());
                    }
                    each(f, ev)?;
                }
            }
        }
        Ok(())
    }

    /// Gives `each`, in order, the encoding of every event in `frames`
    /// (with its frame), decompressing the next frames on one core while
    /// the caller works through the current ones on another: for readers
    /// that look at every event and decode few (see [`super::Peek`]).
    /// Checksums and torn tails are handled as [`LedgerLog::read`] does;
    /// the caller stops at its own limit by returning `Ok(false)`.
    pub fn read_raw(&self, frames: &[FrameRef], each: &mut EachRaw<'_>) -> Result<(), LogError> {
        use rayon::prelude::*;
        let last = self.segments()?.last().copied();
        let load = |w: &[FrameRef]| -> Vec<Result<Option<Vec<u8>>, LogError>> {
            w.par_iter().map(|f| self.frame_bytes(f)).collect()
        };
        let windows: Vec<&[FrameRef]> = frames.chunks(READ_WINDOW).collect();
        let mut next = windows.first().map(|w| load(w));
        for (k, window) in windows.iter().enumerate() {
            let current = next.take().expect("loaded");
            let following = windows.get(k + 1);
            let (loaded, done) = rayon::join(
                || following.map(|w| load(w)),
                || -> Result<bool, LogError> {
                    for (j, (f, bytes)) in window.iter().zip(current).enumerate() {
                        let Some(batch) = bytes? else {
                            self.torn_tail(frames, k * READ_WINDOW + j, last)?;
                            return Ok(true); // a torn final append: ignored
                        };
                        for enc in split_events(&batch) {
                            let enc = enc.map_err(|()| {
                                self.corrupt(f, "an event in the frame is cut short")
                            })?;
                            let peek = super::Peek::new(enc)
                                .ok_or_else(|| self.corrupt(f, "an event does not parse"))?;
                            if !each(f, enc, &peek)? {
                                return Ok(true);
                            }
                        }
                    }
                    Ok(false)
                },
            );
            if done? {
                return Ok(());
            }
            next = loaded;
        }
        Ok(())
    }

    /// Accepts a frame whose checksum fails when it is the torn end of the
    /// ledger — the last frame listed, ending the last segment — and
    /// reports any other as damage.
    /// A frame that starts before the checkpoint's committed end holds
    /// acknowledged events: damage there is never a torn append.
    fn torn_tail(&self, frames: &[FrameRef], i: usize, last: Option<u32>) -> Result<(), LogError> {
        let f = &frames[i];
        if i + 1 == frames.len()
            && Some(f.segment) == last
            && self.segment_len(f.segment)? == f.end()
            && !self.committed(f.segment, f.offset)
        {
            return Ok(());
        }
        Err(self.corrupt(f, "frame checksum does not match"))
    }

    /// Whether a frame starting at `(segment, offset)` lies before the end
    /// of the committed ledger the checkpoint records.
    /// A damaged checkpoint counts every frame as committed: damage is
    /// then reported, never skipped as a torn tail.
    fn committed(&self, segment: u32, offset: u64) -> bool {
        match self.checkpoint() {
            Ok(Some(cp)) => (segment, offset) < (cp.segment, cp.offset),
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// Damage inside frame `f`.
    fn corrupt(&self, f: &FrameRef, detail: impl Into<String>) -> LogError {
        LogError::Corrupt {
            path: self.seg_path(f.segment),
            offset: f.offset,
            detail: detail.into(),
        }
    }

    fn segment_len(&self, i: u32) -> Result<u64, LogError> {
        let p = self.seg_path(i);
        fs::metadata(&p).map(|m| m.len()).map_err(io_err(&p))
    }
}

/// Decompresses a frame's payload into a buffer of the size its zstd
/// header records (one allocation), or by streaming when it records none.
fn decompress(payload: &[u8]) -> io::Result<Vec<u8>> {
    match zstd::zstd_safe::get_frame_content_size(payload) {
        Ok(Some(n)) if n <= 1 << 30 => zstd::bulk::decompress(payload, n as usize),
        _ => zstd::stream::decode_all(payload),
    }
}

/// The encoded events of a decompressed frame, in order, read lazily (a
/// frame is larger than the cache: one pass touches it once); an event cut
/// short yields `Err(())` and ends the iteration.
fn split_events(batch: &[u8]) -> impl Iterator<Item = Result<&[u8], ()>> {
    let mut rest = batch;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = rest
            .get(..4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
            .filter(|n| rest.len() >= 4 + n);
        Some(match n {
            Some(n) => {
                let enc = &rest[4..4 + n];
                rest = &rest[4 + n..];
                Ok(enc)
            }
            None => {
                rest = &[];
                Err(())
            }
        })
    })
}

/// Decodes an encoded event; an error names its sequence number (when
/// that much of it parses) when it does not decode.
pub fn decode_event(enc: &[u8]) -> Result<Event, LogError> {
    Event::decode(enc).map_err(|EventDecodeError(d)| LogError::Chain {
        seq: super::Peek::new(enc).map_or(0, |p| p.seq),
        detail: format!("does not decode ({d})"),
    })
}

/// What chaining needs of an event: its number, the hash it links to, its
/// own hash and Merkle leaf, and the event itself when the reader wants it.
struct Linked {
    seq: u64,
    prev: Hash,
    hash: Hash,
    leaf: Hash,
    event: Option<Event>,
}

/// Checks that an event follows the checkpoint: next sequence number, and
/// the previous event's hash.
fn check_link(ev: &Linked, cp: &Checkpoint) -> Result<(), LogError> {
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
        if self.cp.offset >= self.log.segment_max {
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
