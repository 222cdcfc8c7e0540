//! Event batches: the immutable, content-addressed objects that carry
//! ledger events. A commit lists the batches it brings (the events its
//! branch recorded since its parent, then its own); events recorded
//! between commits wait in batches the branch lists as pending.
//!
//! ```text
//! "folio-batch 1\n"
//! base   32 bytes   the commit the events were recorded on (zeros: none)
//! nonce  u64        nanoseconds at recording: two batches with the same
//!                   events recorded apart are distinct objects
//! count  u64        events in the batch
//! frame* len u32 | events u32 | first 8 bytes of BLAKE3(payload) | payload
//!        payload = zstd of (event_len u32 | event)*, at most 4,096 events
//! ```

use std::io;
use std::path::PathBuf;

use crate::error::ErrorKind;
use crate::id::{CommitId, ObjectId};

use super::event::{Event, EventDecodeError, Peek};
use super::merkle::Hash;

/// The type tag of a batch object.
pub const BATCH_TAG: &[u8] = b"folio-batch 1\n";
const HEADER: usize = BATCH_TAG.len() + 32 + 8 + 8;
const FRAME_HEAD: usize = 16;
/// Events per frame at most.
pub const PER_FRAME: usize = 4096;

/// Errors reading or writing the ledger.
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
    /// A ledger file is damaged.
    #[error("{} (offset {offset}): {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the damage.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// An event batch is damaged.
    #[error("event batch {id} (offset {offset}): {detail}")]
    Batch {
        /// The batch object.
        id: ObjectId,
        /// Byte offset of the damage in the batch.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The events disagree with what a commit attests.
    #[error("ledger event {seq}: {detail}")]
    Chain {
        /// The first bad position.
        seq: u64,
        /// What is wrong.
        detail: String,
    },
    /// A batch cannot be read from the store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The rows a `Rows` event names cannot be read.
    #[error("the rows of table {table} the ledger refers to: {detail}")]
    Rows {
        /// The table.
        table: String,
        /// What is wrong.
        detail: String,
    },
}

impl LogError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LogError::Io { source, .. } => ErrorKind::of_io(source),
            LogError::Corrupt { .. }
            | LogError::Batch { .. }
            | LogError::Chain { .. }
            | LogError::Rows { .. } => ErrorKind::Damaged,
            LogError::Store(e) => e.kind(),
        }
    }
}

/// What a batch says of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// The commit its events were recorded on, if any.
    pub base: Option<CommitId>,
    /// Nanoseconds at recording.
    pub nonce: u64,
    /// How many events it holds.
    pub count: u64,
}

/// One frame of a batch: where its header lies, its payload's length and
/// checksum, and the index in the batch of its first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BatchFrame {
    /// Offset of the frame header in the batch.
    pub offset: u64,
    /// Payload length.
    pub len: u32,
    /// Events in the frame.
    pub events: u32,
    /// The first 8 bytes of BLAKE3 of the payload.
    pub check: [u8; 8],
    /// Index in the batch of the frame's first event.
    pub first: u64,
}

/// A batch being built, event by event.
pub struct BatchBuilder {
    out: Vec<u8>,
    frame: Vec<u8>,
    in_frame: u32,
    count: u64,
    hashes: Vec<Hash>,
}

/// A finished batch: its bytes and its events' hashes, in order.
pub struct Built {
    /// The object's bytes.
    pub bytes: Vec<u8>,
    /// BLAKE3 of each event's encoding.
    pub hashes: Vec<Hash>,
}

impl BatchBuilder {
    /// A batch of events recorded on `base`.
    pub fn new(base: Option<CommitId>, nonce: u64) -> BatchBuilder {
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(BATCH_TAG);
        match base {
            Some(c) => out.extend_from_slice(c.0.as_bytes()),
            None => out.extend_from_slice(&[0u8; 32]),
        }
        out.extend_from_slice(&nonce.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // count, set by finish
        BatchBuilder {
            out,
            frame: Vec::new(),
            in_frame: 0,
            count: 0,
            hashes: Vec::new(),
        }
    }

    /// Adds an event.
    pub fn push(&mut self, e: &Event) -> Result<(), LogError> {
        self.push_encoded(&e.encode())
    }

    /// Adds an encoded event.
    pub fn push_encoded(&mut self, enc: &[u8]) -> Result<(), LogError> {
        self.hashes.push(Hash::of(enc));
        self.frame
            .extend_from_slice(&(enc.len() as u32).to_le_bytes());
        self.frame.extend_from_slice(enc);
        self.in_frame += 1;
        self.count += 1;
        if self.in_frame as usize >= PER_FRAME {
            self.flush()?;
        }
        Ok(())
    }

    /// Events added so far.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn flush(&mut self) -> Result<(), LogError> {
        if self.in_frame == 0 {
            return Ok(());
        }
        let payload = zstd::bulk::compress(&self.frame, 1).map_err(|source| LogError::Io {
            path: PathBuf::from("(event batch)"),
            source,
        })?;
        self.out
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.out.extend_from_slice(&self.in_frame.to_le_bytes());
        self.out
            .extend_from_slice(&blake3::hash(&payload).as_bytes()[..8]);
        self.out.extend_from_slice(&payload);
        self.frame.clear();
        self.in_frame = 0;
        Ok(())
    }

    /// The batch's bytes and its events' hashes.
    pub fn finish(mut self) -> Result<Built, LogError> {
        self.flush()?;
        let at = HEADER - 8;
        self.out[at..HEADER].copy_from_slice(&self.count.to_le_bytes());
        Ok(Built {
            bytes: self.out,
            hashes: self.hashes,
        })
    }
}

fn damaged(id: &ObjectId, offset: u64, detail: impl Into<String>) -> LogError {
    LogError::Batch {
        id: *id,
        offset,
        detail: detail.into(),
    }
}

/// Reads a batch's header and frame headers (without decompressing), and
/// checks that the frames fill the object and hold `count` events.
pub fn parse(id: &ObjectId, bytes: &[u8]) -> Result<(BatchHeader, Vec<BatchFrame>), LogError> {
    if bytes.len() < HEADER || !bytes.starts_with(BATCH_TAG) {
        return Err(damaged(id, 0, "not an event batch"));
    }
    let base: [u8; 32] = bytes[BATCH_TAG.len()..BATCH_TAG.len() + 32]
        .try_into()
        .expect("32 bytes");
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let header = BatchHeader {
        base: (base != [0; 32]).then(|| CommitId(ObjectId::from_slice(&base).expect("32 bytes"))),
        nonce: u64_at(HEADER - 16),
        count: u64_at(HEADER - 8),
    };
    let mut frames = Vec::new();
    let (mut off, mut first) = (HEADER, 0u64);
    while off < bytes.len() {
        let head = bytes
            .get(off..off + FRAME_HEAD)
            .ok_or_else(|| damaged(id, off as u64, "frame header cut short"))?;
        let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let events = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
        if bytes.len() - off - FRAME_HEAD < len as usize {
            return Err(damaged(id, off as u64, "frame cut short"));
        }
        if events == 0 || events as usize > PER_FRAME {
            return Err(damaged(
                id,
                off as u64,
                "a frame holds no or too many events",
            ));
        }
        frames.push(BatchFrame {
            offset: off as u64,
            len,
            events,
            check: head[8..].try_into().expect("8 bytes"),
            first,
        });
        first += u64::from(events);
        off += FRAME_HEAD + len as usize;
    }
    if first != header.count {
        return Err(damaged(
            id,
            off as u64,
            format!(
                "the frames hold {first} events, the header says {}",
                header.count
            ),
        ));
    }
    Ok((header, frames))
}

/// The bytes of frame `f` (its header and payload) as stored.
pub fn frame_span(f: &BatchFrame) -> (u64, usize) {
    (f.offset, FRAME_HEAD + f.len as usize)
}

/// The decompressed payload of frame `f` of batch `id`, from the frame's
/// own bytes (header and payload, read in place), its header and checksum
/// checked.
pub fn frame_payload_in(id: &ObjectId, frame: &[u8], f: &BatchFrame) -> Result<Vec<u8>, LogError> {
    let head = frame
        .get(..FRAME_HEAD)
        .ok_or_else(|| damaged(id, f.offset, "frame cut short"))?;
    let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
    let events = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
    if len != f.len || events != f.events || head[8..] != f.check {
        return Err(damaged(
            id,
            f.offset,
            "the frame differs from what the index recorded",
        ));
    }
    frame_payload_at(id, frame, FRAME_HEAD, f)
}

/// The decompressed payload of frame `f` of batch `id`, its checksum
/// checked.
pub fn frame_payload(id: &ObjectId, bytes: &[u8], f: &BatchFrame) -> Result<Vec<u8>, LogError> {
    frame_payload_at(id, bytes, f.offset as usize + FRAME_HEAD, f)
}

/// The payload of frame `f`, which starts at `start` of `bytes`.
fn frame_payload_at(
    id: &ObjectId,
    bytes: &[u8],
    start: usize,
    f: &BatchFrame,
) -> Result<Vec<u8>, LogError> {
    let payload = bytes
        .get(start..start + f.len as usize)
        .ok_or_else(|| damaged(id, f.offset, "frame lies outside the batch"))?;
    if blake3::hash(payload).as_bytes()[..8] != f.check {
        return Err(damaged(id, f.offset, "frame checksum does not match"));
    }
    let out = match zstd::zstd_safe::get_frame_content_size(payload) {
        Ok(Some(n)) if n <= 1 << 30 => zstd::bulk::decompress(payload, n as usize),
        _ => zstd::stream::decode_all(payload),
    }
    .map_err(|e| damaged(id, f.offset, format!("frame does not decompress: {e}")))?;
    Ok(out)
}

/// The encoded events of a decompressed frame, in order; checks that the
/// frame holds exactly the events its header counts.
pub fn split_frame<'a>(
    id: &ObjectId,
    f: &BatchFrame,
    payload: &'a [u8],
) -> Result<Vec<&'a [u8]>, LogError> {
    // An event takes at least 4 bytes: a forged count reserves no more.
    let mut out = Vec::with_capacity((f.events as usize).min(payload.len() / 4));
    let mut rest = payload;
    while !rest.is_empty() {
        let n = rest
            .get(..4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
            .filter(|n| rest.len() >= 4 + n)
            .ok_or_else(|| damaged(id, f.offset, "an event in the frame is cut short"))?;
        out.push(&rest[4..4 + n]);
        rest = &rest[4 + n..];
    }
    if out.len() != f.events as usize {
        return Err(damaged(
            id,
            f.offset,
            format!(
                "the frame holds {} events, its header says {}",
                out.len(),
                f.events
            ),
        ));
    }
    Ok(out)
}

/// Decodes an encoded event of batch `id`.
pub fn decode_in(id: &ObjectId, f: &BatchFrame, enc: &[u8]) -> Result<Event, LogError> {
    Event::decode(enc).map_err(|EventDecodeError(d)| {
        damaged(id, f.offset, format!("an event does not decode ({d})"))
    })
}

/// Peeks at an encoded event of batch `id`.
pub fn peek_in<'a>(id: &ObjectId, f: &BatchFrame, enc: &'a [u8]) -> Result<Peek<'a>, LogError> {
    Peek::new(enc).ok_or_else(|| damaged(id, f.offset, "an event does not parse"))
}

/// `each` of every event of a batch (its frame, encoding and decoded
/// event), in order; frames are decompressed and decoded on every core.
fn each_event<T: Send>(
    id: &ObjectId,
    bytes: &[u8],
    each: &(dyn Fn(&[u8], Event) -> T + Sync),
) -> Result<Vec<T>, LogError> {
    use rayon::prelude::*;
    let (_, frames) = parse(id, bytes)?;
    let per_frame: Vec<Result<Vec<T>, LogError>> = frames
        .par_iter()
        .map(|f| {
            let payload = frame_payload(id, bytes, f)?;
            split_frame(id, f, &payload)?
                .into_iter()
                .map(|enc| Ok(each(enc, decode_in(id, f, enc)?)))
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    for r in per_frame {
        out.extend(r?);
    }
    Ok(out)
}

/// The hash of every event of a batch, in order, each event decoded (to
/// check it) and dropped: what `verify` needs, in a fraction of the memory
/// of [`events`].
pub fn checked_hashes(id: &ObjectId, bytes: &[u8]) -> Result<Vec<Hash>, LogError> {
    each_event(id, bytes, &|enc, _| Hash::of(enc))
}

/// Every event of a batch, decoded, with its hash.
pub fn events(id: &ObjectId, bytes: &[u8]) -> Result<Vec<(Event, Hash)>, LogError> {
    each_event(id, bytes, &|enc, e| (e, Hash::of(enc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{ExampleId, Locator, Payload, Subject};

    fn ev(n: u64) -> Event {
        Event {
            seq: 0,
            time: n as i64,
            actor: "t".into(),
            commit: None,
            subject: Subject::Example(ExampleId::file(&format!("f{n}"))),
            payload: Payload::Added {
                dataset: "d".into(),
                locator: Locator::file(&format!("d/f{n}")),
                source: None,
                collected_at: None,
            },
        }
    }

    #[test]
    fn build_parse_and_read_back() {
        let mut b = BatchBuilder::new(Some(CommitId(ObjectId::of(b"c"))), 7);
        for n in 0..5000 {
            b.push(&ev(n)).expect("push");
        }
        let built = b.finish().expect("finish");
        let id = ObjectId::of(&built.bytes);
        let (h, frames) = parse(&id, &built.bytes).expect("parses");
        assert_eq!(h.count, 5000);
        assert_eq!(h.nonce, 7);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].first, PER_FRAME as u64);
        let all = events(&id, &built.bytes).expect("reads");
        assert_eq!(all.len(), 5000);
        assert_eq!(all[4999].0, ev(4999));
        assert_eq!(all[17].1, built.hashes[17]);
        assert_eq!(all[17].1, Hash::of(&ev(17).encode()));
    }

    #[test]
    fn damage_is_caught() {
        let mut b = BatchBuilder::new(None, 0);
        for n in 0..10 {
            b.push(&ev(n)).expect("push");
        }
        let bytes = b.finish().expect("finish").bytes;
        let id = ObjectId::of(&bytes);
        for at in [HEADER - 1, HEADER + 2, HEADER + 9, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(events(&id, &bad).is_err(), "flip at {at}");
        }
        assert!(events(&id, &bytes[..bytes.len() - 1]).is_err());
        let empty = BatchBuilder::new(None, 0).finish().expect("finish").bytes;
        assert!(
            events(&ObjectId::of(&empty), &empty)
                .expect("empty")
                .is_empty()
        );
    }
}
