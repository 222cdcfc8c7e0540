//! Pack files: many small objects in one file, with a sorted index.
//!
//! `pack-<hash>.pack` holds records `[id 32][encoding u8][raw length u64]
//! [stored length u32][stored bytes]` after an 8-byte magic and a u32
//! version; `<hash>` is the BLAKE3 hash of the whole pack file.
//! `pack-<hash>.idx` holds the sorted ids with their record offsets and a
//! BLAKE3 checksum of itself. A pack is visible only once its index exists.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Encoding, StoreError};
use crate::fsutil::TempFile;
use crate::id::{ID_LEN, ObjectId};

const PACK_MAGIC: &[u8; 8] = b"FOLIOPAK";
const IDX_MAGIC: &[u8; 8] = b"FOLIOIDX";
/// Bytes read at once from a record: its header and, for most packed
/// records (small files, trees, row chunks), all of its data.
const SPECULATIVE_READ: usize = 16 << 10;
const VERSION: u32 = 1;
const PACK_HEADER: u64 = 12;
const RECORD_HEADER: usize = ID_LEN + 1 + 8 + 4;
const IDX_HEADER: usize = 16;
const IDX_ENTRY: usize = ID_LEN + 8;

/// An open pack: its index in memory and its data file for positional reads.
pub struct Pack {
    /// Path of the `.pack` file.
    pub path: PathBuf,
    file: File,
    /// The raw index file, entries sorted by id.
    idx: Vec<u8>,
    count: usize,
    /// `fan[b]`: the first entry whose id starts with a byte ≥ `b` (entries
    /// are sorted by id), so a lookup searches one 256th of the index.
    fan: Box<[u32; 257]>,
    /// The data file's length when opened (packs never change).
    len: u64,
}

/// Where one record sits in a pack and how it is stored.
pub struct Record {
    /// Stored encoding.
    pub encoding: Encoding,
    /// Length after decoding.
    pub raw_len: u64,
    /// The stored bytes.
    pub data: Vec<u8>,
}

impl Pack {
    /// Opens a pack by the path of its index.
    pub fn open(idx_path: &Path) -> Result<Pack, StoreError> {
        let idx = fs::read(idx_path).map_err(|e| StoreError::io(idx_path, e))?;
        let corrupt = |detail: &str| StoreError::Corrupt {
            path: idx_path.to_path_buf(),
            detail: detail.to_string(),
        };
        if idx.len() < IDX_HEADER + ID_LEN || &idx[..8] != IDX_MAGIC {
            return Err(corrupt("not a folio pack index"));
        }
        let count = u32::from_le_bytes(idx[12..16].try_into().expect("4 bytes")) as usize;
        if idx.len() != IDX_HEADER + count * IDX_ENTRY + ID_LEN {
            return Err(corrupt("index length does not match its entry count"));
        }
        let path = idx_path.with_extension("pack");
        let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
        let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
        let mut fan = Box::new([0u32; 257]);
        for i in 0..count {
            fan[usize::from(idx[IDX_HEADER + i * IDX_ENTRY]) + 1] += 1;
        }
        for b in 1..257 {
            fan[b] += fan[b - 1];
        }
        Ok(Pack {
            path,
            file,
            idx,
            count,
            fan,
            len,
        })
    }

    fn entry(&self, i: usize) -> (ObjectId, u64) {
        let at = IDX_HEADER + i * IDX_ENTRY;
        let id = ObjectId::from_slice(&self.idx[at..at + ID_LEN]).expect("32 bytes");
        let off = u64::from_le_bytes(
            self.idx[at + ID_LEN..at + IDX_ENTRY]
                .try_into()
                .expect("8 bytes"),
        );
        (id, off)
    }

    /// All ids with their record offsets, in id order.
    pub fn entries(&self) -> impl Iterator<Item = (ObjectId, u64)> + '_ {
        (0..self.count).map(|i| self.entry(i))
    }

    /// The record offset of `id`, if the pack holds it.
    pub fn find(&self, id: &ObjectId) -> Option<u64> {
        let want = id.as_bytes();
        let b = usize::from(want[0]);
        let (mut lo, mut hi) = (self.fan[b] as usize, self.fan[b + 1] as usize);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let at = IDX_HEADER + mid * IDX_ENTRY;
            match self.idx[at..at + ID_LEN].cmp(&want[..]) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.entry(mid).1),
            }
        }
        None
    }

    /// Ids whose hex form starts with `prefix` (a lowercase hex string).
    pub fn ids_with_prefix(&self, prefix: &str) -> Vec<ObjectId> {
        let start = self.entries().position(|(id, _)| {
            let h = id.to_hex();
            h.as_str() >= prefix
        });
        let Some(start) = start else {
            return Vec::new();
        };
        (start..self.count)
            .map(|i| self.entry(i).0)
            .take_while(|id| id.to_hex().starts_with(prefix))
            .collect()
    }

    /// The encoding of the record at `offset`, from its header alone (a
    /// question asked of many records: whether one is a chunk list).
    pub fn record_encoding(&self, offset: u64, expect: &ObjectId) -> Result<Encoding, StoreError> {
        let mut head = [0u8; RECORD_HEADER];
        self.file
            .read_exact_at(&mut head, offset)
            .map_err(|e| self.corrupt_or_io(e, offset))?;
        if &head[..ID_LEN] != expect.as_bytes() {
            return Err(self.corrupt(format!(
                "record at offset {offset} does not hold {}, as the index says",
                expect.short(12)
            )));
        }
        Encoding::from_code(head[ID_LEN])
            .ok_or_else(|| self.corrupt(format!("unknown encoding at offset {offset}")))
    }

    /// Reads the record at `offset`, checking that it holds `expect`.
    pub fn read_record(&self, offset: u64, expect: &ObjectId) -> Result<Record, StoreError> {
        // One read takes the header and, for the small records packs are
        // made of, the data too (a second read only for the rest of a
        // larger one). The read lands in a per-thread buffer; the record
        // gets a vector of its own size.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> =
                std::cell::RefCell::new(vec![0u8; SPECULATIVE_READ]);
        }
        let (head, first) = SCRATCH.with(|scratch| -> Result<_, StoreError> {
            let buf = &mut *scratch.borrow_mut();
            let mut got = self
                .file
                .read_at(buf, offset)
                .map_err(|e| self.corrupt_or_io(e, offset))?;
            if got < RECORD_HEADER {
                self.file
                    .read_exact_at(&mut buf[..RECORD_HEADER], offset)
                    .map_err(|e| self.corrupt_or_io(e, offset))?;
                got = RECORD_HEADER;
            }
            let head: [u8; RECORD_HEADER] = buf[..RECORD_HEADER].try_into().expect("header");
            let stored = u32::from_le_bytes(head[ID_LEN + 9..].try_into().expect("4")) as usize;
            let have = stored.min(got - RECORD_HEADER);
            let mut data = Vec::with_capacity(have);
            data.extend_from_slice(&buf[RECORD_HEADER..RECORD_HEADER + have]);
            Ok((head, data))
        })?;
        let id = ObjectId::from_slice(&head[..ID_LEN]).expect("32 bytes");
        if &id != expect {
            return Err(self.corrupt(format!(
                "record at offset {offset} holds {} where the index says {}",
                id.short(12),
                expect.short(12)
            )));
        }
        let encoding = Encoding::from_code(head[ID_LEN])
            .ok_or_else(|| self.corrupt(format!("unknown encoding at offset {offset}")))?;
        let raw_len = u64::from_le_bytes(head[ID_LEN + 1..ID_LEN + 9].try_into().expect("8"));
        let stored = u32::from_le_bytes(head[ID_LEN + 9..].try_into().expect("4")) as usize;
        // A length past the end of the file is damage (and would reserve
        // that much memory).
        let room = self
            .len
            .saturating_sub(offset + RECORD_HEADER as u64)
            .min(usize::MAX as u64) as usize;
        if stored > room {
            return Err(self.corrupt(format!(
                "record at offset {offset} claims {stored} bytes; {room} remain in the pack"
            )));
        }
        let mut data = first;
        if data.len() < stored {
            let done = data.len();
            data.resize(stored, 0);
            self.file
                .read_exact_at(&mut data[done..], offset + (RECORD_HEADER + done) as u64)
                .map_err(|e| self.corrupt_or_io(e, offset))?;
        }
        Ok(Record {
            encoding,
            raw_len,
            data,
        })
    }

    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }

    fn corrupt_or_io(&self, e: io::Error, offset: u64) -> StoreError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.corrupt(format!("record at offset {offset} runs past the end"))
        } else {
            StoreError::io(&self.path, e)
        }
    }

    /// Checks the index checksum and that the pack file hashes to its name.
    pub fn check_files(&self) -> Vec<StoreError> {
        let mut problems = Vec::new();
        let body = &self.idx[..self.idx.len() - ID_LEN];
        if blake3::hash(body).as_bytes() != &self.idx[self.idx.len() - ID_LEN..] {
            problems.push(StoreError::Corrupt {
                path: self.path.with_extension("idx"),
                detail: "index checksum does not match its contents".into(),
            });
        }
        match hash_file(&self.path) {
            Ok(h) => {
                let name = self.path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                if name.strip_prefix("pack-") != Some(h.to_hex().as_str()) {
                    problems.push(self.corrupt(format!(
                        "pack contents hash to {} but the file is named {name}",
                        h.short(12)
                    )));
                }
            }
            Err(e) => problems.push(StoreError::io(&self.path, e)),
        }
        problems
    }
}

/// Parses a pack index read from elsewhere (a remote): its entries in id
/// order, or what is wrong with it (magic, length, checksum, order).
pub fn parse_index(idx: &[u8]) -> Result<Vec<(ObjectId, u64)>, String> {
    if idx.len() < IDX_HEADER + ID_LEN || &idx[..8] != IDX_MAGIC {
        return Err("not a folio pack index".into());
    }
    let count = u32::from_le_bytes(idx[12..16].try_into().expect("4 bytes")) as usize;
    if idx.len() != IDX_HEADER + count * IDX_ENTRY + ID_LEN {
        return Err("index length does not match its entry count".into());
    }
    let body = &idx[..idx.len() - ID_LEN];
    if blake3::hash(body).as_bytes() != &idx[idx.len() - ID_LEN..] {
        return Err("index checksum does not match its contents".into());
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let at = IDX_HEADER + i * IDX_ENTRY;
        let id = ObjectId::from_slice(&idx[at..at + ID_LEN]).expect("32 bytes");
        let off = u64::from_le_bytes(idx[at + ID_LEN..at + IDX_ENTRY].try_into().expect("8"));
        if out
            .last()
            .is_some_and(|(prev, _): &(ObjectId, u64)| *prev >= id)
        {
            return Err("index entries are not in id order".into());
        }
        if off < PACK_HEADER {
            return Err(format!("entry {i} points into the pack header"));
        }
        out.push((id, off));
    }
    Ok(out)
}

/// Parses one record (header and stored bytes) read from elsewhere;
/// returns it and its total length, or what is wrong.
pub fn parse_record(bytes: &[u8], expect: &ObjectId) -> Result<(Record, usize), String> {
    if bytes.len() < RECORD_HEADER {
        return Err("a record cut short in its header".into());
    }
    let id = ObjectId::from_slice(&bytes[..ID_LEN]).expect("32 bytes");
    if &id != expect {
        return Err(format!(
            "the record holds {} where the index says {}",
            id.short(12),
            expect.short(12)
        ));
    }
    let encoding = Encoding::from_code(bytes[ID_LEN]).ok_or("an unknown encoding")?;
    let raw_len = u64::from_le_bytes(bytes[ID_LEN + 1..ID_LEN + 9].try_into().expect("8"));
    let stored =
        u32::from_le_bytes(bytes[ID_LEN + 9..RECORD_HEADER].try_into().expect("4")) as usize;
    let end = RECORD_HEADER + stored;
    if bytes.len() < end {
        return Err("a record cut short in its body".into());
    }
    Ok((
        Record {
            encoding,
            raw_len,
            data: bytes[RECORD_HEADER..end].to_vec(),
        },
        end,
    ))
}

fn hash_file(path: &Path) -> io::Result<ObjectId> {
    let mut h = blake3::Hasher::new();
    h.update_reader(File::open(path)?)?;
    Ok(h.finalize().into())
}

/// Appends objects to a new pack; [`PackWriter::finish`] makes it visible.
pub struct PackWriter {
    dir: PathBuf,
    out: Option<BufWriter<TempFile>>,
    hasher: blake3::Hasher,
    offset: u64,
    entries: Vec<(ObjectId, u64)>,
    ids: HashSet<ObjectId>,
}

impl PackWriter {
    /// Starts a pack in `dir` (the store's `packs/` folder).
    pub fn new(dir: &Path) -> Result<Self, StoreError> {
        let tmp = TempFile::new_in(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut w = PackWriter {
            dir: dir.to_path_buf(),
            out: Some(BufWriter::with_capacity(1 << 20, tmp)),
            hasher: blake3::Hasher::new(),
            offset: 0,
            entries: Vec::new(),
            ids: HashSet::new(),
        };
        let mut header = PACK_MAGIC.to_vec();
        header.extend_from_slice(&VERSION.to_le_bytes());
        w.write(&header)?;
        debug_assert_eq!(w.offset, PACK_HEADER);
        Ok(w)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.out
            .as_mut()
            .expect("a writing pack has its file")
            .write_all(bytes)
            .map_err(|e| StoreError::io(&self.dir, e))?;
        self.hasher.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// A writer that holds nothing and writes nothing (for moving the real
    /// one out of a struct that implements `Drop`).
    pub fn placeholder() -> Self {
        PackWriter {
            dir: PathBuf::new(),
            out: None,
            hasher: blake3::Hasher::new(),
            offset: 0,
            entries: Vec::new(),
            ids: HashSet::new(),
        }
    }

    /// True when this pack already holds `id`.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.ids.contains(id)
    }

    /// Appends one object (already encoded as `encoding`).
    pub fn add(
        &mut self,
        id: ObjectId,
        encoding: Encoding,
        raw_len: u64,
        stored: &[u8],
    ) -> Result<(), StoreError> {
        if !self.ids.insert(id) {
            return Ok(());
        }
        let stored_len = u32::try_from(stored.len()).expect("packed objects are small");
        self.entries.push((id, self.offset));
        let mut head = [0u8; RECORD_HEADER];
        head[..ID_LEN].copy_from_slice(id.as_bytes());
        head[ID_LEN] = encoding.code();
        head[ID_LEN + 1..ID_LEN + 9].copy_from_slice(&raw_len.to_le_bytes());
        head[ID_LEN + 9..].copy_from_slice(&stored_len.to_le_bytes());
        self.write(&head)?;
        self.write(stored)
    }

    /// Persists the pack and then its index. Returns the index path, or
    /// `None` when the pack is empty (nothing is written).
    pub fn finish(mut self) -> Result<Option<PathBuf>, StoreError> {
        if self.entries.is_empty() {
            return Ok(None);
        }
        let name = format!("pack-{}", self.hasher.finalize().to_hex());
        let pack_path = self.dir.join(format!("{name}.pack"));
        let idx_path = self.dir.join(format!("{name}.idx"));
        let tmp = self
            .out
            .take()
            .expect("a pack with entries has its file")
            .into_inner()
            .map_err(|e| StoreError::io(&self.dir, e.into_error()))?;
        tmp.persist(&pack_path)
            .map_err(|e| StoreError::io(&pack_path, e))?;
        crate::failpoint::hit("pack:data-persisted");

        self.entries.sort_unstable_by_key(|e| e.0);
        let mut idx = Vec::with_capacity(IDX_HEADER + self.entries.len() * IDX_ENTRY + ID_LEN);
        idx.extend_from_slice(IDX_MAGIC);
        idx.extend_from_slice(&VERSION.to_le_bytes());
        let count = u32::try_from(self.entries.len()).expect("under 4 billion objects a pack");
        idx.extend_from_slice(&count.to_le_bytes());
        for (id, off) in &self.entries {
            idx.extend_from_slice(id.as_bytes());
            idx.extend_from_slice(&off.to_le_bytes());
        }
        let sum = blake3::hash(&idx);
        idx.extend_from_slice(sum.as_bytes());
        crate::fsutil::write_atomic(&idx_path, &idx).map_err(|e| StoreError::io(&idx_path, e))?;
        Ok(Some(idx_path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record whose stored length runs past the end of its pack is
    /// damage, reported with its offset, not a read of 4 GB.
    #[test]
    fn a_record_longer_than_its_pack_is_damage() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut w = PackWriter::new(d.path()).expect("pack");
        let id = ObjectId::of(b"hello");
        w.add(id, Encoding::Raw, 5, b"hello").expect("add");
        let idx = w.finish().expect("finish").expect("a pack");
        let pack_path = idx.with_extension("pack");
        let good = Pack::open(&idx).expect("open");
        assert_eq!(
            good.read_record(PACK_HEADER, &id).expect("read").data,
            b"hello"
        );
        let mut bytes = fs::read(&pack_path).expect("read pack");
        let at = PACK_HEADER as usize + ID_LEN + 9;
        bytes[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        fs::write(&pack_path, &bytes).expect("write pack");
        let forged = Pack::open(&idx).expect("open");
        let err = forged.read_record(PACK_HEADER, &id).err().expect("damage");
        assert!(err.to_string().contains("remain in the pack"), "{err}");
    }
}
