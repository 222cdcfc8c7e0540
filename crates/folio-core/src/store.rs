//! The content-addressed object store: packs for small objects, loose
//! files for large ones, zstd where it pays.
//!
//! The store knows nothing of trees, commits or the ledger: it maps an
//! [`ObjectId`] to bytes whose BLAKE3 hash is that id.

mod pack;
mod reseal;

use crate::error::ErrorKind;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use crate::crypt::{Keys, Seal};
use crate::fsutil::{self, TempFile};
use crate::id::ObjectId;
pub use pack::{Pack, PackWriter, Record, parse_index, parse_record};
pub use reseal::SealedCopy;

/// Objects at least this large are stored loose, one file each.
pub const LOOSE_THRESHOLD: u64 = 512 * 1024;
/// zstd level for stored objects.
const ZSTD_LEVEL: i32 = 3;
/// Chunk size for streaming large files.
const CHUNK: usize = 1 << 20;

/// Errors of the object store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing a store file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// An object that should be present is not.
    #[error("object {0} is missing from the store (run `folio verify`)")]
    Missing(ObjectId),
    /// A store file is damaged.
    #[error("{}: {detail}", path.display())]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Writing an object's bytes to the caller's destination failed (a
    /// full disk, say): the caller names the destination.
    #[error("writing object {id}: {source}")]
    Sink {
        /// The object being copied.
        id: ObjectId,
        /// The destination's error.
        source: io::Error,
    },
    /// A sealed object cannot be opened (no identity, not one of its
    /// recipients, or damaged), or sealing failed.
    #[error(transparent)]
    Crypt(#[from] crate::crypt::CryptError),
    /// The object's content was erased by `folio purge` (D86): gone on
    /// purpose, not damaged.
    #[error(
        "object {} was purged (purge record {}): its content is erased for good; `folio purge --list` says what and why",
        .id.short(12), .record.short(12)
    )]
    Purged {
        /// The erased object.
        id: ObjectId,
        /// The purge record that erased it.
        record: ObjectId,
    },
}

impl StoreError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Io { source, .. } | StoreError::Sink { source, .. } => {
                ErrorKind::of_io(source)
            }
            StoreError::Missing(_) | StoreError::Corrupt { .. } => ErrorKind::Damaged,
            StoreError::Crypt(e) => e.kind(),
            StoreError::Purged { .. } => ErrorKind::Invalid,
        }
    }
}

impl StoreError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: &Path, source: io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// How an object's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As they are.
    Raw,
    /// One zstd frame.
    Zstd,
    /// A list of content-defined chunks, each an object of its own.
    Chunked,
    /// Sealed in the age format (crate::crypt, D83): `age -d` gives the
    /// object's bytes.
    Age,
}

impl Encoding {
    pub(crate) fn code(self) -> u8 {
        match self {
            Encoding::Raw => 0,
            Encoding::Zstd => 1,
            Encoding::Chunked => 2,
            Encoding::Age => 3,
        }
    }

    pub(crate) fn from_code(c: u8) -> Option<Self> {
        match c {
            0 => Some(Encoding::Raw),
            1 => Some(Encoding::Zstd),
            2 => Some(Encoding::Chunked),
            3 => Some(Encoding::Age),
            _ => None,
        }
    }
}

/// First line of a chunk list.
pub const CHUNKS_TAG: &[u8] = b"folio-chunks 1\n";
/// Content-defined chunk sizes for large compressible files: rows of a
/// table edited in place change few chunks.
const CDC_MIN: usize = 512;
const CDC_AVG: usize = 2048;
const CDC_MAX: usize = 8192;

pub(crate) fn encode_chunk_list(chunks: &[(ObjectId, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CHUNKS_TAG.len() + chunks.len() * 36);
    out.extend_from_slice(CHUNKS_TAG);
    for (id, len) in chunks {
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    out
}

pub(crate) fn decode_chunk_list(bytes: &[u8]) -> Option<Vec<(ObjectId, u32)>> {
    let body = bytes.strip_prefix(CHUNKS_TAG)?;
    if !body.len().is_multiple_of(36) {
        return None;
    }
    Some(
        body.chunks_exact(36)
            .map(|c| {
                let id = ObjectId::from_slice(&c[..32]).expect("32 bytes");
                (id, u32::from_le_bytes(c[32..].try_into().expect("4 bytes")))
            })
            .collect(),
    )
}

/// Where an object is stored, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// In a pack, at this record offset.
    Packed {
        /// The `.pack` file.
        pack: PathBuf,
        /// Offset of the record.
        offset: u64,
    },
    /// A loose file.
    Loose(PathBuf),
}

impl Location {
    /// The file that holds the object.
    pub fn path(&self) -> &Path {
        match self {
            Location::Packed { pack, .. } => pack,
            Location::Loose(p) => p,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Packed { pack, offset } => write!(f, "{} (offset {offset})", pack.display()),
            Location::Loose(p) => write!(f, "{}", p.display()),
        }
    }
}

/// An open object store rooted at `.folio/`.
pub struct Store {
    objects: PathBuf,
    packs_dir: PathBuf,
    packs: RwLock<Vec<Arc<Pack>>>,
    /// The identities that open sealed objects, when the caller gave any.
    keys: RwLock<Option<(Arc<Keys>, Arc<crate::repo::ReadPolicy>)>>,
    /// What purges erased (D86), as the repository's purge records say.
    purged: RwLock<Arc<Purged>>,
    /// Whether `purged` is non-empty: reads of a repository never purged
    /// (almost all) skip its lock.
    any_purged: std::sync::atomic::AtomicBool,
}

/// What `folio purge` erased (D86): objects gone for good, and row
/// chunks whose kept rows live on in a redacted replacement. Built by the
/// repository from its purge records; the store consults it when an
/// object is not stored.
#[derive(Debug, Default, Clone)]
pub struct Purged {
    /// Objects erased with nothing in their place, and the record that
    /// erased each.
    pub erased: HashMap<ObjectId, ObjectId>,
    /// Row chunks replaced by a redacted chunk: (replacement, record).
    pub redacted: HashMap<ObjectId, (ObjectId, ObjectId)>,
    /// Erased table files, with a manifest of theirs and the table's
    /// path: written again from the rows kept.
    pub tables: HashMap<ObjectId, (crate::id::ManifestId, String)>,
    /// The content hashes purged (rows' and files'): not stored again.
    pub hashes: HashSet<ObjectId>,
}

impl Purged {
    /// The record that purged `id`, if one did.
    pub fn record_of(&self, id: &ObjectId) -> Option<ObjectId> {
        self.erased
            .get(id)
            .copied()
            .or_else(|| self.redacted.get(id).map(|(_, r)| *r))
    }

    /// True when nothing was purged.
    pub fn is_empty(&self) -> bool {
        self.erased.is_empty() && self.redacted.is_empty()
    }
}

impl Store {
    /// Creates the store folders under `root`.
    pub fn init(root: &Path) -> Result<(), StoreError> {
        for d in ["objects", "packs"] {
            let p = root.join(d);
            fsutil::create_dir_durable(&p).map_err(|e| StoreError::io(&p, e))?;
        }
        Ok(())
    }

    /// Opens the store under `root`, loading every pack index.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let packs_dir = root.join("packs");
        let store = Store {
            objects: root.join("objects"),
            packs_dir,
            packs: RwLock::new(Vec::new()),
            keys: RwLock::new(None),
            purged: RwLock::new(Arc::new(Purged::default())),
            any_purged: std::sync::atomic::AtomicBool::new(false),
        };
        store.reload_packs()?;
        Ok(store)
    }

    /// Re-reads the list of packs from disk.
    /// Packs already open are kept (a pack never changes once its index
    /// exists), so this costs one folder listing plus the new indexes.
    /// A pack a concurrent `gc` removed between the listing and its
    /// opening makes the listing stale: it is taken again (gc writes the
    /// new pack before it removes the old ones).
    pub fn reload_packs(&self) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            match self.try_reload_packs() {
                Err(StoreError::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound && attempt < 8 =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn try_reload_packs(&self) -> Result<(), StoreError> {
        let open = self.packs();
        let mut packs = Vec::new();
        for idx in list_pack_indexes(&self.packs_dir)? {
            let pack = idx.with_extension("pack");
            match open.iter().find(|p| p.path == pack) {
                Some(p) => packs.push(Arc::clone(p)),
                None => packs.push(Arc::new(Pack::open(&idx)?)),
            }
        }
        *self.packs.write().unwrap_or_else(|e| e.into_inner()) = packs;
        Ok(())
    }

    /// The open packs.
    pub fn packs(&self) -> Vec<Arc<Pack>> {
        self.packs.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn in_packs(&self, id: &ObjectId) -> Option<(Arc<Pack>, u64)> {
        let packs = self.packs.read().unwrap_or_else(|e| e.into_inner());
        packs
            .iter()
            .find_map(|p| p.find(id).map(|off| (Arc::clone(p), off)))
    }

    /// True when a pack holds `id` (no file system access).
    pub fn in_a_pack(&self, id: &ObjectId) -> bool {
        self.in_packs(id).is_some()
    }

    /// Every object stored loose, from one listing of `objects/`: for
    /// callers that hold the repository lock (no writer adds one
    /// meanwhile) and ask about many objects.
    pub fn loose_ids(&self) -> Result<std::collections::HashSet<ObjectId>, StoreError> {
        let mut out = std::collections::HashSet::new();
        let rd = match fs::read_dir(&self.objects) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::io(&self.objects, e)),
        };
        for dir in rd {
            let dir = dir.map_err(|e| StoreError::io(&self.objects, e))?;
            let prefix = dir.file_name().to_string_lossy().into_owned();
            if prefix.len() != 2 || !dir.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let Ok(inner) = fs::read_dir(dir.path()) else {
                continue;
            };
            for f in inner.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let hex = loose_stem(&name);
                if let Ok(id) = format!("{prefix}{hex}").parse::<ObjectId>() {
                    out.insert(id);
                }
            }
        }
        Ok(out)
    }

    /// Tells the store what purges erased (D86).
    pub fn set_purged(&self, purged: Purged) {
        let any = !purged.is_empty();
        *self.purged.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(purged);
        self.any_purged
            .store(any, std::sync::atomic::Ordering::Release);
    }

    /// What purges erased, as last told.
    pub fn purged(&self) -> Arc<Purged> {
        Arc::clone(&self.purged.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// What purges erased, when any purge did (`None` costs no lock).
    pub fn purged_if_any(&self) -> Option<Arc<Purged>> {
        self.any_purged
            .load(std::sync::atomic::Ordering::Acquire)
            .then(|| self.purged())
    }

    /// The record that purged `id`, when `id` was purged (whether or not
    /// a copy is still stored: an interrupted purge leaves some).
    pub fn purge_record_of(&self, id: &ObjectId) -> Option<ObjectId> {
        if !self.any_purged.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        self.purged().record_of(id)
    }

    /// What a purge made of `id`, for a read: `Ok(id)` itself, or the
    /// redacted chunk standing in for it; an error when it was erased.
    fn purge_redirect(&self, id: &ObjectId) -> Result<ObjectId, StoreError> {
        if !self.any_purged.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(*id);
        }
        let purged = self.purged();
        if let Some((r, _)) = purged.redacted.get(id) {
            return Ok(*r);
        }
        match purged.erased.get(id) {
            Some(record) => Err(StoreError::Purged {
                id: *id,
                record: *record,
            }),
            None => Ok(*id),
        }
    }

    /// Gives the identities that open sealed objects (D83).
    pub fn set_keys(&self, keys: Arc<Keys>, policy: Arc<crate::repo::ReadPolicy>) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Some((keys, policy));
    }

    /// The identities that open `id`, once the read policy allows it (the
    /// object is then noted as opened).
    fn keys_for(&self, id: &ObjectId) -> Result<Arc<Keys>, StoreError> {
        let (keys, policy) = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| crate::crypt::CryptError::Locked(id.short(12)))?;
        if let Some(why) = &policy.refused {
            return Err(crate::crypt::CryptError::Refused(id.short(12), why.clone()).into());
        }
        if let Some(why) = policy.outside_grant(id) {
            return Err(crate::crypt::CryptError::Refused(id.short(12), why).into());
        }
        policy.opened(id);
        Ok(keys)
    }

    /// Checks a sealed object without opening it: it is stored, and its
    /// age header parses (D83). Its contents need an identity to check.
    pub fn check_sealed(&self, id: &ObjectId) -> Result<(), StoreError> {
        if let Some((p, off)) = self.in_packs(id) {
            let rec = p.read_record(off, id)?;
            return Ok(crate::crypt::check_header(&rec.data[..], &id.short(12))?);
        }
        let path = self.loose_path(id, Encoding::Age);
        let f = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
        Ok(crate::crypt::check_header(
            BufReader::new(f),
            &id.short(12),
        )?)
    }

    fn loose_path(&self, id: &ObjectId, enc: Encoding) -> PathBuf {
        let hex = id.to_hex();
        let mut p = self.objects.join(&hex[..2]).join(&hex[2..]);
        match enc {
            Encoding::Zstd => p.set_extension("zst"),
            Encoding::Age => p.set_extension("age"),
            _ => false,
        };
        p
    }

    /// Where `id` is stored, if anywhere.
    pub fn locate(&self, id: &ObjectId) -> Option<Location> {
        if let Some((p, offset)) = self.in_packs(id) {
            return Some(Location::Packed {
                pack: p.path.clone(),
                offset,
            });
        }
        LOOSE_ENCODINGS
            .into_iter()
            .map(|e| self.loose_path(id, e))
            .find(|p| p.exists())
            .map(Location::Loose)
    }

    /// Like [`Store::locate`], re-reading the pack list once when `id` is
    /// not found: a writer may have repacked since this store was opened
    /// (readers take no lock), and the object now lives in a new pack.
    fn locate_fresh(&self, id: &ObjectId) -> Option<Location> {
        self.locate(id).or_else(|| {
            self.reload_packs().ok()?;
            self.locate(id)
        })
    }

    /// True when the store holds `id`.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.locate(id).is_some()
    }

    /// `len` bytes at `offset` of an object stored loose and uncompressed
    /// (a large event batch), read in place; `None` when the object is
    /// stored otherwise (the caller reads it whole). The bytes are not
    /// checked against the id: the caller checks what it reads (a batch
    /// frame carries its own checksum).
    pub fn read_range(
        &self,
        id: &ObjectId,
        offset: u64,
        len: usize,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(Location::Loose(path)) = self.locate(id) else {
            return Ok(None);
        };
        if path.extension().is_some() {
            return Ok(None); // zstd-compressed
        }
        let f = fs::File::open(&path).map_err(|e| StoreError::io(&path, e))?;
        let mut buf = vec![0u8; len];
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut buf, offset)
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(Some(buf))
    }

    /// Reads an object whole, checked against its id.
    pub fn get(&self, id: &ObjectId) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::new();
        self.copy_to(id, &mut out)?;
        Ok(out)
    }

    /// Streams an object's bytes into `w` and checks them against its id.
    /// On an error `w` may hold damaged bytes: the caller discards them
    /// (checkout writes into a temporary file it persists only on success).
    ///
    /// A purged object (D86) is an error naming its purge record, except a
    /// redacted row chunk: its replacement's bytes are given (checked
    /// against the replacement's id), rows purged standing as skeletons.
    pub fn copy_to(&self, id: &ObjectId, w: &mut dyn Write) -> Result<u64, StoreError> {
        let id = &self.purge_redirect(id)?;
        let mut tee = HashTee {
            hasher: blake3::Hasher::new(),
            inner: w,
        };
        let n = self.copy_unchecked(id, &mut tee, false)?;
        let got = ObjectId::from(tee.hasher.finalize());
        if got != *id {
            return Err(StoreError::Corrupt {
                path: self.locate(id).map_or_else(
                    || PathBuf::from(format!("object {id}")),
                    |l| l.path().to_path_buf(),
                ),
                detail: format!(
                    "object {} does not match its id (its bytes hash to {}): the stored copy is damaged",
                    id.short(12),
                    got.short(12)
                ),
            });
        }
        Ok(n)
    }

    fn copy_unchecked(
        &self,
        id: &ObjectId,
        w: &mut dyn Write,
        in_list: bool,
    ) -> Result<u64, StoreError> {
        match self.locate_fresh(id).ok_or(StoreError::Missing(*id))? {
            Location::Packed { pack, offset } => {
                let (p, _) = self.in_packs(id).ok_or(StoreError::Missing(*id))?;
                let rec = p.read_record(offset, id)?;
                let bytes = match rec.encoding {
                    Encoding::Chunked if in_list => {
                        // Chunks are whole objects: a list inside a list (or
                        // one naming itself) is damage, never recursion.
                        return Err(StoreError::Corrupt {
                            path: pack.clone(),
                            detail: format!(
                                "object {}: a chunk list names another chunk list",
                                id.short(12)
                            ),
                        });
                    }
                    Encoding::Chunked => {
                        let list =
                            decode_chunk_list(&rec.data).ok_or_else(|| StoreError::Corrupt {
                                path: pack.clone(),
                                detail: format!("object {}: malformed chunk list", id.short(12)),
                            })?;
                        let mut total = 0;
                        for (cid, _) in list {
                            total += self.copy_unchecked(&cid, w, true)?;
                        }
                        return Ok(total);
                    }
                    Encoding::Raw => rec.data,
                    Encoding::Zstd => decompress(&rec.data, rec.raw_len as usize).map_err(|e| {
                        StoreError::Corrupt {
                            path: pack.clone(),
                            detail: format!("object {} does not decompress: {e}", id.short(12)),
                        }
                    })?,
                    Encoding::Age => self.keys_for(id)?.open(&rec.data, &id.short(12))?,
                };
                w.write_all(&bytes)
                    .map_err(|source| StoreError::Sink { id: *id, source })?;
                Ok(bytes.len() as u64)
            }
            Location::Loose(path) => {
                let f = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
                let mut r: Box<dyn Read> = if path.extension().is_some_and(|e| e == "zst") {
                    Box::new(zstd::Decoder::new(f).map_err(|e| StoreError::io(&path, e))?)
                } else if path.extension().is_some_and(|e| e == "age") {
                    self.keys_for(id)?
                        .opener(BufReader::with_capacity(CHUNK, f), &id.short(12))?
                } else {
                    Box::new(BufReader::with_capacity(CHUNK, f))
                };
                // Tell the destination's errors from the object file's.
                let mut sink = SinkWriter {
                    inner: w,
                    failed: None,
                };
                // CHUNK bytes a write (io::copy moves 8 KiB at a time
                // through a `dyn Read`).
                let mut buf = vec![0u8; CHUNK];
                let mut total = 0u64;
                loop {
                    let n = read_full(&mut r, &mut buf).map_err(|e| StoreError::io(&path, e))?;
                    if n == 0 {
                        break Ok(total);
                    }
                    sink.write_all(&buf[..n])
                        .map_err(|e| match sink.failed.take() {
                            Some(source) => StoreError::Sink { id: *id, source },
                            None => StoreError::io(&path, e),
                        })?;
                    total += n as u64;
                }
            }
        }
    }

    /// The chunks of an object stored as a chunk list, or `None` for an
    /// object stored whole.
    pub fn chunk_ids(&self, id: &ObjectId) -> Result<Option<Vec<ObjectId>>, StoreError> {
        let Some((p, off)) = self.in_packs(id) else {
            return Ok(None);
        };
        // The header says; only a chunk list is read whole.
        if p.record_encoding(off, id)? != Encoding::Chunked {
            return Ok(None);
        }
        let rec = p.read_record(off, id)?;
        let list = decode_chunk_list(&rec.data).ok_or_else(|| StoreError::Corrupt {
            path: p.path.clone(),
            detail: format!("object {}: malformed chunk list", id.short(12)),
        })?;
        Ok(Some(list.into_iter().map(|(c, _)| c).collect()))
    }

    /// Re-hashes an object and returns the id its bytes really have.
    pub fn rehash(&self, id: &ObjectId) -> Result<ObjectId, StoreError> {
        if let Some(Location::Loose(path)) = self.locate(id)
            && path.extension().is_none()
        {
            // A raw loose object: hash the file itself, as b3sum does
            // (memory-mapped, multi-threaded).
            let mut h = blake3::Hasher::new();
            h.update_mmap_rayon(&path)
                .map_err(|e| StoreError::io(&path, e))?;
            return Ok(h.finalize().into());
        }
        let mut h = HashWriter(blake3::Hasher::new());
        self.copy_unchecked(id, &mut h, false)?;
        Ok(h.0.finalize().into())
    }

    /// Ids of every stored object whose hex form starts with `prefix`.
    pub fn ids_with_prefix(&self, prefix: &str) -> Result<Vec<ObjectId>, StoreError> {
        let prefix = prefix.to_ascii_lowercase();
        let mut out: HashSet<ObjectId> = HashSet::new();
        for p in self.packs() {
            out.extend(p.ids_with_prefix(&prefix));
        }
        for (id, _) in self.loose_objects()? {
            if id.to_hex().starts_with(&prefix) {
                out.insert(id);
            }
        }
        let mut v: Vec<_> = out.into_iter().collect();
        v.sort();
        Ok(v)
    }

    /// Whether any object in the store is a commit (reads objects until
    /// one is; for the rare check of a lost branch ref).
    pub fn holds_a_commit(&self) -> bool {
        let is_commit = |id: &ObjectId| {
            self.get(id)
                .is_ok_and(|b| crate::object::looks_like_commit(&b))
        };
        self.packs()
            .iter()
            .any(|p| p.entries().any(|(id, _)| is_commit(&id)))
            || self
                .loose_objects()
                .is_ok_and(|l| l.iter().any(|(id, _)| is_commit(id)))
    }

    /// Every loose object with its file path.
    pub fn loose_objects(&self) -> Result<Vec<(ObjectId, PathBuf)>, StoreError> {
        let mut out = Vec::new();
        let rd = match fs::read_dir(&self.objects) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::io(&self.objects, e)),
        };
        for fan in rd {
            let fan = fan.map_err(|e| StoreError::io(&self.objects, e))?;
            let fan_name = fan.file_name().to_string_lossy().into_owned();
            if fan_name.len() != 2 || !fan.path().is_dir() {
                continue;
            }
            for obj in fs::read_dir(fan.path()).map_err(|e| StoreError::io(&fan.path(), e))? {
                let obj = obj.map_err(|e| StoreError::io(&fan.path(), e))?;
                let name = obj.file_name().to_string_lossy().into_owned();
                let stem = loose_stem(&name);
                if let Ok(id) = format!("{fan_name}{stem}").parse::<ObjectId>() {
                    out.push((id, obj.path()));
                }
            }
        }
        Ok(out)
    }

    /// Starts a batch of writes. Small objects go into one new pack that
    /// becomes visible at [`Writer::finish`]; large ones are written loose
    /// at once (they are invisible to readers until a ref names them).
    pub fn writer(&self) -> Result<Writer<'_>, StoreError> {
        Ok(Writer {
            store: self,
            pack: Mutex::new(PackWriter::new(&self.packs_dir)?),
            created: Mutex::new(Vec::new()),
            finished: false,
            seal: None,
        })
    }

    /// Like [`Store::writer`], storing every object sealed to `seal`'s
    /// recipients (D83). An object already stored (sealed or not) is not
    /// stored again.
    pub fn sealed_writer(&self, seal: Arc<Seal>) -> Result<Writer<'_>, StoreError> {
        let mut w = self.writer()?;
        w.seal = Some(seal);
        Ok(w)
    }

    /// Copies the objects of `packs` that are in `keep` into one new pack,
    /// then removes those packs (index first, so readers never see a pack
    /// without its objects).
    pub fn repack(&self, packs: &[PathBuf], keep: &HashSet<ObjectId>) -> Result<(), StoreError> {
        let mut w = PackWriter::new(&self.packs_dir)?;
        for p in self.packs().iter().filter(|p| packs.contains(&p.path)) {
            for (id, off) in p.entries() {
                if keep.contains(&id) && !w.contains(&id) {
                    let rec = p.read_record(off, &id)?;
                    w.add(id, rec.encoding, rec.raw_len, &rec.data)?;
                }
            }
        }
        let new = w.finish()?.map(|idx| idx.with_extension("pack"));
        crate::failpoint::hit("gc:repacked");
        // The new pack may be byte-identical to an old one (same name).
        for pack in packs.iter().filter(|p| Some(*p) != new.as_ref()) {
            for path in [pack.with_extension("idx"), pack.clone()] {
                fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
            }
        }
        fsutil::sync_dir(&self.packs_dir).map_err(|e| StoreError::io(&self.packs_dir, e))?;
        self.reload_packs()
    }

    /// Removes every stored copy of `ids` (D86): their loose files, and
    /// their records from the packs that hold them (those packs rewritten
    /// without them, the old ones deleted). Returns how many copies went
    /// and how many packs were rewritten. Call only under the repository
    /// lock.
    pub fn erase(&self, ids: &HashSet<ObjectId>) -> Result<(u64, u64), StoreError> {
        self.reload_packs()?;
        let mut removed = 0;
        for id in ids {
            removed += self.remove_loose(id, &LOOSE_ENCODINGS)?;
        }
        let (records, packs) = self.repack_without(None, &mut |_, id, _| Ok(ids.contains(&id)))?;
        fsutil::sync_dir(&self.objects).map_err(|e| StoreError::io(&self.objects, e))?;
        Ok((removed + records, packs))
    }

    /// Rewrites every pack (but `skip`) that holds a record `drop` selects
    /// (given the pack, the id and the record's offset) without those
    /// records: the others are copied into one new pack, then the old
    /// packs removed. Returns records dropped and packs rewritten.
    pub(crate) fn repack_without(
        &self,
        skip: Option<&Path>,
        drop: &mut dyn FnMut(&Pack, ObjectId, u64) -> Result<bool, StoreError>,
    ) -> Result<(u64, u64), StoreError> {
        let mut dirty = Vec::new();
        let mut keep = HashSet::new();
        let mut dropped = 0;
        for p in self.packs() {
            if Some(p.path.as_path()) == skip {
                continue;
            }
            let mut kept = Vec::new();
            let mut hit = 0;
            for (id, off) in p.entries() {
                if drop(&p, id, off)? {
                    hit += 1;
                } else {
                    kept.push(id);
                }
            }
            if hit > 0 {
                dropped += hit;
                keep.extend(kept);
                dirty.push(p.path.clone());
            }
        }
        if !dirty.is_empty() {
            self.repack(&dirty, &keep)?;
        }
        Ok((dropped, dirty.len() as u64))
    }

    /// Removes the loose files of `id` stored as any of `encodings`;
    /// returns how many there were.
    pub(crate) fn remove_loose(
        &self,
        id: &ObjectId,
        encodings: &[Encoding],
    ) -> Result<u64, StoreError> {
        let mut removed = 0;
        for enc in encodings {
            let p = self.loose_path(id, *enc);
            match fs::remove_file(&p) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&p, e)),
            }
        }
        Ok(removed)
    }

    /// Where copies of `id` are stored, bypassing what purges say: for
    /// proving a purged object gone.
    pub fn copies_of(&self, id: &ObjectId) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = self
            .packs()
            .iter()
            .filter(|p| p.find(id).is_some())
            .map(|p| p.path.clone())
            .collect();
        out.extend(
            LOOSE_ENCODINGS
                .into_iter()
                .map(|e| self.loose_path(id, e))
                .filter(|p| p.exists()),
        );
        out
    }

    /// Removes leftovers of interrupted writes: temporary files and packs
    /// without an index. Call only under the repository lock.
    pub fn remove_stale_files(&self) -> Result<u64, StoreError> {
        let mut removed = 0;
        let root = self.objects.parent().unwrap_or(Path::new("."));
        let mut dirs = vec![root.to_path_buf(), self.packs_dir.clone()];
        if let Ok(rd) = fs::read_dir(&self.objects) {
            dirs.push(self.objects.clone());
            dirs.extend(
                rd.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.is_dir()),
            );
        }
        for dir in dirs {
            let Ok(rd) = fs::read_dir(&dir) else { continue };
            for e in rd.filter_map(Result::ok) {
                let p = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                let orphan_pack = dir == self.packs_dir
                    && p.extension().is_some_and(|x| x == "pack")
                    && !p.with_extension("idx").exists();
                if name.starts_with(fsutil::TEMP_PREFIX) || orphan_pack {
                    let res = if p.is_dir() {
                        fs::remove_dir_all(&p)
                    } else {
                        fs::remove_file(&p)
                    };
                    res.map_err(|e| StoreError::io(&p, e))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// The folder of loose objects.
    pub fn objects_dir(&self) -> &Path {
        &self.objects
    }

    /// The stored record of a packed object (its encoding, decoded length
    /// and stored bytes, unchecked), or `None` when it is not packed.
    pub fn packed_record(&self, id: &ObjectId) -> Result<Option<Record>, StoreError> {
        match self.in_packs(id) {
            Some((p, off)) => p.read_record(off, id).map(Some),
            None => Ok(None),
        }
    }

    /// The file of a loose object and how it is encoded, if it is loose.
    pub fn loose_file(&self, id: &ObjectId) -> Option<(PathBuf, Encoding)> {
        LOOSE_ENCODINGS
            .into_iter()
            .map(|e| (self.loose_path(id, e), e))
            .find(|(p, _)| p.exists())
    }

    /// Moves a checked pack (its `.pack`, then its `.idx`) into this store
    /// under the same file names, and makes it visible.
    pub fn install_pack(&self, idx: &Path) -> Result<(), StoreError> {
        let pack = idx.with_extension("pack");
        for from in [&pack, &idx.to_path_buf()] {
            let name = from.file_name().ok_or_else(|| StoreError::Corrupt {
                path: from.clone(),
                detail: "a pack path without a file name".into(),
            })?;
            let to = self.packs_dir.join(name);
            fsutil::rename_durable(from, &to).map_err(|e| StoreError::io(&to, e))?;
        }
        self.reload_packs()
    }

    /// Moves a checked loose object file, encoded as `enc`, into place.
    pub fn install_loose(
        &self,
        id: &ObjectId,
        from: &Path,
        enc: Encoding,
    ) -> Result<(), StoreError> {
        let to = self.loose_path(id, enc);
        let dir = to.parent().expect("fan-out folder");
        fsutil::create_dir_durable(dir).map_err(|e| StoreError::io(dir, e))?;
        fsutil::rename_durable(from, &to).map_err(|e| StoreError::io(&to, e))
    }

    /// Where a loose object encoded as `enc` lives, relative to the
    /// objects folder (`ab/cdef…`, with `.zst` when compressed): the same
    /// name on a remote.
    pub fn loose_name(id: &ObjectId, enc: Encoding) -> String {
        let hex = id.to_hex();
        let ext = match enc {
            Encoding::Zstd => ".zst",
            Encoding::Age => ".age",
            _ => "",
        };
        format!("{}/{}{ext}", &hex[..2], &hex[2..])
    }
}

/// How loose objects may be stored: raw, one zstd frame (`.zst`), or
/// sealed (`.age`).
pub const LOOSE_ENCODINGS: [Encoding; 3] = [Encoding::Raw, Encoding::Zstd, Encoding::Age];

/// A loose object's file name without its encoding's extension (`.zst`,
/// `.age`): its id in hex.
pub(crate) fn loose_stem(name: &str) -> &str {
    name.strip_suffix(".zst")
        .or_else(|| name.strip_suffix(".age"))
        .unwrap_or(name)
}

/// Lists the `.idx` files in `dir`, sorted.
pub fn list_pack_indexes(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    for e in rd {
        let p = e.map_err(|e| StoreError::io(dir, e))?.path();
        if p.extension().is_some_and(|x| x == "idx") {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

struct HashWriter(blake3::Hasher);

/// Passes writes to `inner`, keeping the first error it returns.
struct SinkWriter<'a> {
    inner: &'a mut dyn Write,
    failed: Option<io::Error>,
}

impl Write for SinkWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes what passes through to `inner`.
struct HashTee<'a> {
    hasher: blake3::Hasher,
    inner: &'a mut dyn Write,
}

impl Write for HashTee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Compresses `raw` when that saves at least an eighth.
fn maybe_compress(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() < 64 {
        return None;
    }
    thread_local! {
        // Creating a zstd context costs more than compressing a small object.
        static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let z = ZSTD.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
        }
        c.as_mut()?.compress(raw).ok()
    })?;
    (z.len() < raw.len() - raw.len() / 8).then_some(z)
}

/// Decompresses a packed object of `raw_len` bytes with this thread's
/// zstd context.
pub(crate) fn decompress(data: &[u8], raw_len: usize) -> io::Result<Vec<u8>> {
    // Packs hold objects smaller than the loose threshold: a larger length
    // is damage, and would reserve that much memory.
    if raw_len as u64 >= LOOSE_THRESHOLD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a packed object of {raw_len} bytes, larger than folio packs"),
        ));
    }
    thread_local! {
        static UNZSTD: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    UNZSTD.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(zstd::bulk::Decompressor::new()?);
        }
        c.as_mut().expect("set above").decompress(data, raw_len)
    })
}

/// A batch of writes into the store; safe to share between threads.
/// Dropped without [`Writer::finish`], it removes the loose objects it
/// created and its pending pack, leaving the store as it was.
pub struct Writer<'s> {
    store: &'s Store,
    pack: Mutex<PackWriter>,
    created: Mutex<Vec<PathBuf>>,
    finished: bool,
    /// Seal every object this writer stores (D83).
    seal: Option<Arc<Seal>>,
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let created = std::mem::take(&mut *self.created.lock().unwrap_or_else(|e| e.into_inner()));
        for p in created {
            let _ = fs::remove_file(&p);
        }
    }
}

impl Writer<'_> {
    /// Content a purge erased is never stored again (D86): committing a
    /// file or row that still holds it fails, naming the purge.
    fn refuse_purged(&self, id: &ObjectId) -> Result<(), StoreError> {
        match self.store.purge_record_of(id) {
            Some(record) => Err(StoreError::Purged { id: *id, record }),
            None => Ok(()),
        }
    }

    /// Stores a sealed pack record as it came (a remote's copy of an
    /// encrypted object, D83): its age header is checked, its contents
    /// need an identity and are checked when opened.
    pub(crate) fn put_sealed_record(
        &self,
        id: ObjectId,
        raw_len: u64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        crate::crypt::check_header(data, &id.short(12))?;
        self.refuse_purged(&id)?;
        if self.store.contains(&id) {
            return Ok(());
        }
        self.lock_pack().add(id, Encoding::Age, raw_len, data)
    }

    /// What purges erased, as the store was last told.
    pub(crate) fn purged(&self) -> Arc<Purged> {
        self.store.purged()
    }

    /// Stores `bytes` (if not already present) and returns their id.
    pub fn put(&self, bytes: &[u8]) -> Result<ObjectId, StoreError> {
        let id = ObjectId::of(bytes);
        self.put_with_id(id, bytes)?;
        Ok(id)
    }

    /// Stores `bytes`, whose id the caller computed (they are not hashed
    /// again).
    pub(crate) fn put_with_id(&self, id: ObjectId, bytes: &[u8]) -> Result<(), StoreError> {
        self.refuse_purged(&id)?;
        if let Some(seal) = &self.seal {
            if self.has(&id, bytes.len() as u64) {
                return Ok(());
            }
            let sealed = seal.seal(bytes)?;
            if bytes.len() as u64 >= LOOSE_THRESHOLD {
                return self.write_loose(id, Encoding::Age, &sealed);
            }
            return self
                .lock_pack()
                .add(id, Encoding::Age, bytes.len() as u64, &sealed);
        }
        if bytes.len() as u64 >= LOOSE_THRESHOLD {
            if self.store.contains(&id) {
                return Ok(());
            }
            return self.put_loose(id, bytes);
        }
        if self.has(&id, bytes.len() as u64) {
            return Ok(());
        }
        let z = maybe_compress(bytes);
        let (enc, stored) = match &z {
            Some(z) => (Encoding::Zstd, z.as_slice()),
            None => (Encoding::Raw, bytes),
        };
        self.lock_pack().add(id, enc, bytes.len() as u64, stored)
    }

    /// True when the object is stored or pending in this batch. `size`
    /// says where to look: small objects are only ever packed.
    pub fn has(&self, id: &ObjectId, size: u64) -> bool {
        if size >= LOOSE_THRESHOLD {
            self.store.contains(id)
        } else {
            self.pending(id) || self.store.in_packs(id).is_some()
        }
    }

    fn lock_pack(&self) -> std::sync::MutexGuard<'_, PackWriter> {
        self.pack.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pending(&self, id: &ObjectId) -> bool {
        self.lock_pack().contains(id)
    }

    fn put_loose(&self, id: ObjectId, bytes: &[u8]) -> Result<(), StoreError> {
        let z = maybe_compress(bytes);
        let enc = if z.is_some() {
            Encoding::Zstd
        } else {
            Encoding::Raw
        };
        self.write_loose(id, enc, z.as_deref().unwrap_or(bytes))
    }

    /// Writes a loose object's stored bytes (encoded as `enc`) into place.
    fn write_loose(&self, id: ObjectId, enc: Encoding, stored: &[u8]) -> Result<(), StoreError> {
        let dest = self.store.loose_path(&id, enc);
        let dir = dest.parent().expect("fan-out folder");
        fsutil::create_dir_durable(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut tmp = TempFile::new_in(dir).map_err(|e| StoreError::io(dir, e))?;
        tmp.file()
            .write_all(stored)
            .map_err(|e| StoreError::io(dir, e))?;
        tmp.persist(&dest).map_err(|e| StoreError::io(&dest, e))?;
        self.note_created(dest);
        Ok(())
    }

    fn note_created(&self, path: PathBuf) {
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path);
    }

    /// Stores the file at `path`, streaming it, and returns its blob id and
    /// size. Small files are read whole; large ones are hashed while they
    /// are copied into a temporary loose object.
    pub fn put_file(&self, path: &Path) -> Result<(ObjectId, u64), StoreError> {
        let mut f = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let len = f.metadata().map_err(|e| StoreError::io(path, e))?.len();
        if len < LOOSE_THRESHOLD {
            let mut buf = Vec::with_capacity(len as usize + 1);
            f.read_to_end(&mut buf)
                .map_err(|e| StoreError::io(path, e))?;
            let id = self.put(&buf)?;
            return Ok((id, buf.len() as u64));
        }
        self.put_large(path, f)
    }

    /// Stores a large file. Compressible ones (text, tables) are cut into
    /// content-defined chunks, so a new version shares most of its chunks
    /// with the old one; others are copied raw into a loose object, which
    /// `b3sum` can check.
    fn put_large(&self, path: &Path, mut f: File) -> Result<(ObjectId, u64), StoreError> {
        if let Some(seal) = &self.seal {
            return self.put_large_sealed(path, f, seal);
        }
        let mut buf = vec![0u8; CHUNK];
        let first = read_full(&mut f, &mut buf).map_err(|e| StoreError::io(path, e))?;
        if maybe_compress(&buf[..first]).is_some() {
            buf.truncate(first);
            return self.put_chunked(path, io::Cursor::new(buf).chain(f));
        }
        let tmp_dir = self.store.objects.clone();
        let mut tmp = TempFile::new_in(&tmp_dir).map_err(|e| StoreError::io(&tmp_dir, e))?;
        let tmp_err = |e: io::Error| StoreError::io(&tmp_dir, e);
        let mut hasher = blake3::Hasher::new();
        let mut n = first;
        let mut total = 0u64;
        while n > 0 {
            hasher.update(&buf[..n]);
            tmp.file().write_all(&buf[..n]).map_err(tmp_err)?;
            total += n as u64;
            n = read_full(&mut f, &mut buf).map_err(|e| StoreError::io(path, e))?;
        }
        self.place_loose(tmp, hasher.finalize().into(), Encoding::Raw, total)
    }

    /// Stores a large file sealed, in one pass: hashed while it is sealed
    /// into a temporary loose object (no chunking: a sealed file is one
    /// age stream, which `age -d` opens whole).
    fn put_large_sealed(
        &self,
        path: &Path,
        mut f: File,
        seal: &Seal,
    ) -> Result<(ObjectId, u64), StoreError> {
        let tmp_dir = self.store.objects.clone();
        let mut tmp = TempFile::new_in(&tmp_dir).map_err(|e| StoreError::io(&tmp_dir, e))?;
        let tmp_err = |e: io::Error| StoreError::io(&tmp_dir, e);
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0u64;
        {
            let mut sealer = seal.sealer(io::BufWriter::with_capacity(CHUNK, tmp.file()))?;
            loop {
                let n = read_full(&mut f, &mut buf).map_err(|e| StoreError::io(path, e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                sealer.write_all(&buf[..n]).map_err(tmp_err)?;
                total += n as u64;
            }
            sealer
                .finish()
                .and_then(|mut w| w.flush())
                .map_err(tmp_err)?;
        }
        self.place_loose(tmp, hasher.finalize().into(), Encoding::Age, total)
    }

    /// Moves a fully written temporary object into place as loose object
    /// `id` stored as `encoding`, unless the store holds it already (in
    /// any form); returns the id and its plaintext length.
    fn place_loose(
        &self,
        tmp: TempFile,
        id: ObjectId,
        encoding: Encoding,
        total: u64,
    ) -> Result<(ObjectId, u64), StoreError> {
        self.refuse_purged(&id)?;
        if self.store.contains(&id) {
            return Ok((id, total));
        }
        let dest = self.store.loose_path(&id, encoding);
        let dir = dest.parent().expect("fan-out folder");
        fsutil::create_dir_durable(dir).map_err(|e| StoreError::io(dir, e))?;
        tmp.persist(&dest).map_err(|e| StoreError::io(&dest, e))?;
        self.note_created(dest);
        Ok((id, total))
    }

    fn put_chunked(&self, path: &Path, r: impl Read) -> Result<(ObjectId, u64), StoreError> {
        let mut hasher = blake3::Hasher::new();
        let mut list = Vec::new();
        let mut total = 0u64;
        for chunk in fastcdc::v2020::StreamCDC::new(r, CDC_MIN, CDC_AVG, CDC_MAX) {
            let chunk = chunk.map_err(|e| StoreError::io(path, io::Error::other(e.to_string())))?;
            hasher.update(&chunk.data);
            let cid = self.put(&chunk.data)?;
            list.push((cid, chunk.data.len() as u32));
            total += chunk.data.len() as u64;
        }
        let id: ObjectId = hasher.finalize().into();
        if !self.has(&id, total) {
            let bytes = encode_chunk_list(&list);
            self.lock_pack().add(id, Encoding::Chunked, total, &bytes)?;
        }
        Ok((id, total))
    }

    /// Makes the pack of small objects visible. Call before writing a ref
    /// that names any of them.
    pub fn finish(mut self) -> Result<(), StoreError> {
        let pack = std::mem::replace(
            &mut *self.pack.lock().unwrap_or_else(|e| e.into_inner()),
            PackWriter::placeholder(),
        );
        self.finished = true;
        if let Some(idx) = pack.finish()? {
            let p = Arc::new(Pack::open(&idx)?);
            self.store
                .packs
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .push(p);
        }
        Ok(())
    }
}

fn read_full(f: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn new_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        Store::init(dir.path()).expect("init");
        let s = Store::open(dir.path()).expect("open");
        (dir, s)
    }

    /// A packed record's claimed length is bounded: past the loose
    /// threshold it is damage, never a reservation of that much memory.
    #[test]
    fn a_forged_packed_length_is_an_error() {
        let z = zstd::bulk::compress(b"tiny", 3).expect("compress");
        assert_eq!(decompress(&z, 4).expect("small"), b"tiny");
        let err = decompress(&z, usize::MAX).expect_err("forged");
        assert!(err.to_string().contains("larger than folio packs"), "{err}");
    }

    /// A destination that refuses every write, as a full disk does.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_destination_is_not_blamed_on_the_store() {
        let (_d, store) = new_store();
        let w = store.writer().expect("writer");
        let small = w.put(b"small, packed").expect("put");
        let big: Vec<u8> = (0..LOOSE_THRESHOLD as usize + 10)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1])
            .collect();
        let big = w.put(&big).expect("put");
        w.finish().expect("finish");
        for id in [small, big] {
            let err = store.copy_to(&id, &mut Full).expect_err("the sink is full");
            assert!(matches!(err, StoreError::Sink { .. }), "{err:?}");
            assert_eq!(err.kind(), ErrorKind::Io);
        }
    }

    #[test]
    fn small_objects_round_trip_through_a_pack() {
        let (dir, s) = new_store();
        let w = s.writer().expect("writer");
        let a = w.put(b"alpha").expect("put");
        let b = w.put(&b"compressible ".repeat(100)).expect("put");
        w.finish().expect("finish");
        let s = Store::open(dir.path()).expect("reopen");
        assert_eq!(s.get(&a).expect("get a"), b"alpha");
        assert_eq!(s.get(&b).expect("get b"), b"compressible ".repeat(100));
        assert!(matches!(s.locate(&a), Some(Location::Packed { .. })));
        assert_eq!(s.packs().len(), 1);
    }

    /// Deterministic incompressible bytes (xorshift).
    pub(crate) fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn large_incompressible_files_are_loose_and_hash_like_b3sum() {
        let (dir, s) = new_store();
        let data = noise(LOOSE_THRESHOLD as usize * 3);
        let f = dir.path().join("big");
        fs::write(&f, &data).expect("write");
        let w = s.writer().expect("writer");
        let (id, len) = w.put_file(&f).expect("put_file");
        w.finish().expect("finish");
        assert_eq!(id, ObjectId::of(&data));
        assert_eq!(len, data.len() as u64);
        match s.locate(&id) {
            Some(Location::Loose(p)) => assert_eq!(fs::read(p).expect("read"), data),
            other => panic!("expected a raw loose object, got {other:?}"),
        }
        assert_eq!(s.rehash(&id).expect("rehash"), id);
    }

    #[test]
    fn large_text_is_chunked_and_versions_share_chunks() {
        let (dir, s) = new_store();
        let rows: Vec<String> = (0..40_000)
            .map(|i| format!("{i},label{},{}\n", i % 7, i * 31 % 1000))
            .collect();
        let v1 = rows.concat();
        let mut rows2 = rows.clone();
        rows2[20_000] = "20000,changed,1\n".into();
        let v2 = rows2.concat();
        let f = dir.path().join("t.csv");
        let w = s.writer().expect("writer");
        fs::write(&f, &v1).expect("write");
        let (a, _) = w.put_file(&f).expect("put v1");
        w.finish().expect("finish");
        let chunks_a = s.chunk_ids(&a).expect("read").expect("chunked");
        let w = s.writer().expect("writer");
        fs::write(&f, &v2).expect("write");
        let (b, _) = w.put_file(&f).expect("put v2");
        w.finish().expect("finish");
        let chunks_b = s.chunk_ids(&b).expect("read").expect("chunked");
        assert_eq!(a, ObjectId::of(v1.as_bytes()));
        assert_eq!(s.get(&b).expect("get"), v2.as_bytes());
        assert_eq!(s.rehash(&b).expect("rehash"), b);
        let shared = chunks_b.iter().filter(|c| chunks_a.contains(c)).count();
        assert!(
            shared + 3 >= chunks_b.len(),
            "one edit changes at most a few chunks: {shared} of {}",
            chunks_b.len()
        );
    }

    #[test]
    fn unfinished_pack_is_invisible() {
        let (dir, s) = new_store();
        let w = s.writer().expect("writer");
        let a = w.put(b"never finished").expect("put");
        drop(w);
        let s = Store::open(dir.path()).expect("reopen");
        assert!(!s.contains(&a));
        let left: Vec<_> = fs::read_dir(dir.path().join("packs"))
            .expect("list")
            .collect();
        assert!(left.is_empty(), "temporary pack removed on drop");
    }

    #[test]
    fn abandoned_writer_removes_its_loose_objects() {
        let (dir, s) = new_store();
        let big = noise(LOOSE_THRESHOLD as usize + 10);
        let w = s.writer().expect("writer");
        let id = w.put(&big).expect("put");
        assert!(s.contains(&id));
        drop(w);
        assert!(!s.contains(&id), "an abandoned batch leaves nothing behind");
        assert!(s.loose_objects().expect("list").is_empty());
        let _ = dir;
    }

    #[test]
    fn prefix_lookup_finds_packed_and_loose() {
        let (dir, s) = new_store();
        let w = s.writer().expect("writer");
        let a = w.put(b"one").expect("put");
        let big = vec![9u8; LOOSE_THRESHOLD as usize];
        let b = w.put(&big).expect("put");
        w.finish().expect("finish");
        let s = Store::open(dir.path()).expect("reopen");
        assert_eq!(s.ids_with_prefix(&a.short(6)).expect("prefix"), vec![a]);
        assert_eq!(s.ids_with_prefix(&b.short(6)).expect("prefix"), vec![b]);
    }
}
