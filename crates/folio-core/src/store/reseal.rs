//! Sealing stored objects again (D89): each object given is written sealed
//! to the recipients configured now — one stored sealed is opened and
//! sealed again, one stored in the clear is sealed — and only once the new
//! copy is durable are the old copies removed (packs rewritten without
//! them). Ids do not change: they are the plaintext's.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::{CHUNK, Encoding, LOOSE_ENCODINGS, PackWriter, Store, StoreError};
use crate::crypt::Seal;
use crate::fsutil::{self, TempFile};
use crate::id::ObjectId;

/// What [`Store::reseal`] or [`Store::install_sealed`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// Objects now stored sealed.
    pub objects: u64,
    /// Their plaintext bytes.
    pub bytes: u64,
    /// Old stored copies removed (loose files, pack records).
    pub removed: u64,
    /// Packs rewritten without old copies.
    pub packs: u64,
}

/// A sealed copy received from elsewhere (a remote), to replace ours.
pub enum SealedCopy {
    /// A small object: its decoded length and the age file.
    Record(u64, Vec<u8>),
    /// A large object: a file holding the age file.
    File(PathBuf),
}

impl Store {
    /// Replaces every stored copy of `ids` by one sealed to `seal`'s
    /// recipients. An object stored sealed is opened (the identities and
    /// read policy given apply, as for any read) and its plaintext checked
    /// against its id before it is sealed again; one stored in the clear
    /// is read and checked. Small objects go into one new pack, large ones
    /// become loose `.age` files — none installed until every one is
    /// written, so a failure (an object that does not open) changes
    /// nothing; the old copies are removed only after. An interruption
    /// past that leaves the old copy beside the new one (either
    /// opens for its recipients; running again finishes). The chunks of an
    /// object stored as a chunk list are left to the caller (other objects
    /// may use them). Call only under the repository lock.
    pub fn reseal(&self, ids: &[ObjectId], seal: &Seal) -> Result<Resealed, StoreError> {
        self.reload_packs()?;
        let (small, large) = self.by_size(ids)?;
        let writer = Mutex::new(PackWriter::new(&self.packs_dir)?);
        let bytes = AtomicU64::new(0);
        small
            .par_iter()
            .try_for_each(|id| -> Result<(), StoreError> {
                let plain = self.get(id)?;
                let sealed = seal.seal(&plain)?;
                bytes.fetch_add(plain.len() as u64, Ordering::Relaxed);
                writer.lock().unwrap_or_else(|e| e.into_inner()).add(
                    *id,
                    Encoding::Age,
                    plain.len() as u64,
                    &sealed,
                )
            })?;
        // Large ones sealed into temporary files beside their places.
        let sealed_large = large
            .par_iter()
            .map(|id| -> Result<(PathBuf, TempFile), StoreError> {
                let dest = self.loose_path(id, Encoding::Age);
                let dir = dest.parent().expect("fan-out folder");
                fsutil::create_dir_durable(dir).map_err(|e| StoreError::io(dir, e))?;
                let mut tmp = TempFile::new_in(dir).map_err(|e| StoreError::io(dir, e))?;
                let mut sealer = seal.sealer(io::BufWriter::with_capacity(CHUNK, tmp.file()))?;
                // Checked against the id before it is put in place.
                let n = self.copy_to(id, &mut sealer)?;
                sealer
                    .finish()
                    .and_then(|mut w| w.flush())
                    .map_err(|e| StoreError::io(dir, e))?;
                bytes.fetch_add(n, Ordering::Relaxed);
                Ok((dest, tmp))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Every new copy is written: only now is any installed (a failure
        // before leaves the store as it was; the pack and the temporary
        // files go when dropped).
        let pack = writer.into_inner().unwrap_or_else(|e| e.into_inner());
        let new_pack = pack.finish()?.map(|idx| idx.with_extension("pack"));
        for (dest, tmp) in sealed_large {
            tmp.persist(&dest).map_err(|e| StoreError::io(&dest, e))?;
        }
        crate::failpoint::hit("reseal:copied");
        let (removed, packs) = self.drop_old_copies(&small, &large, new_pack.as_deref())?;
        Ok(Resealed {
            objects: ids.len() as u64,
            bytes: bytes.into_inner(),
            removed,
            packs,
        })
    }

    /// Replaces our copies of objects by sealed copies received from
    /// elsewhere (a remote's, after it was resealed): each checked to be
    /// an age file; its contents are checked when opened, as for any
    /// fetched sealed object (D83). Old copies are removed once the new
    /// ones are in place. Call only under the repository lock.
    pub fn install_sealed(
        &self,
        copies: Vec<(ObjectId, SealedCopy)>,
    ) -> Result<Resealed, StoreError> {
        self.reload_packs()?;
        let mut writer = PackWriter::new(&self.packs_dir)?;
        let (mut small, mut large) = (Vec::new(), Vec::new());
        let mut bytes = 0;
        for (id, copy) in copies {
            match copy {
                SealedCopy::Record(raw_len, data) => {
                    crate::crypt::check_header(&data[..], &id.short(12))?;
                    writer.add(id, Encoding::Age, raw_len, &data)?;
                    bytes += raw_len;
                    small.push(id);
                }
                SealedCopy::File(path) => {
                    let f = fs::File::open(&path).map_err(|e| StoreError::io(&path, e))?;
                    crate::crypt::check_header(io::BufReader::new(f), &id.short(12))?;
                    self.install_loose(&id, &path, Encoding::Age)?;
                    large.push(id);
                }
            }
        }
        let new_pack = writer.finish()?.map(|idx| idx.with_extension("pack"));
        let (removed, packs) = self.drop_old_copies(&small, &large, new_pack.as_deref())?;
        Ok(Resealed {
            objects: (small.len() + large.len()) as u64,
            bytes,
            removed,
            packs,
        })
    }

    /// Objects stored both sealed and in the clear (what an interrupted
    /// reseal leaves), for `verify` to name. Unreadable records are passed
    /// over (`verify` names them as damage).
    pub fn clear_beside_sealed(&self) -> Result<Vec<ObjectId>, StoreError> {
        let mut sealed: HashSet<ObjectId> = HashSet::new();
        let mut clear: HashSet<ObjectId> = HashSet::new();
        for p in self.packs() {
            for (id, off) in p.entries() {
                match p.record_encoding(off, &id) {
                    Ok(Encoding::Age) => sealed.insert(id),
                    Ok(_) => clear.insert(id),
                    Err(_) => false,
                };
            }
        }
        for (id, path) in self.loose_objects()? {
            if path.extension().is_some_and(|e| e == "age") {
                sealed.insert(id);
            } else {
                clear.insert(id);
            }
        }
        let mut both: Vec<ObjectId> = sealed.intersection(&clear).copied().collect();
        both.sort();
        Ok(both)
    }

    /// Removes the copies in the clear of objects also stored sealed
    /// (what an interrupted reseal leaves): loose raw or compressed files,
    /// and records of other encodings in packs (rewritten without them).
    /// Returns copies removed, packs rewritten, and the chunks the chunk
    /// lists removed named (for the caller to erase those nothing else
    /// uses). Call only under the repository lock.
    pub fn drop_clear_beside_sealed(&self) -> Result<(u64, u64, Vec<ObjectId>), StoreError> {
        self.reload_packs()?;
        let mut sealed: HashSet<ObjectId> = HashSet::new();
        // A record that cannot be read is damage for `verify` to name
        // (and `gc --prune` to refuse): it is passed over here.
        for p in self.packs() {
            for (id, off) in p.entries() {
                if matches!(p.record_encoding(off, &id), Ok(Encoding::Age)) {
                    sealed.insert(id);
                }
            }
        }
        for (id, path) in self.loose_objects()? {
            if path.extension().is_some_and(|e| e == "age") {
                sealed.insert(id);
            }
        }
        if sealed.is_empty() {
            return Ok((0, 0, Vec::new()));
        }
        let mut removed = 0;
        for id in &sealed {
            removed += self.remove_loose(id, &[Encoding::Raw, Encoding::Zstd])?;
        }
        // Records kept in a rewritten pack: those the dirty packs hold (a
        // sealed copy elsewhere is not among them).
        let mut chunks = Vec::new();
        let (records, packs) = self.repack_without(None, &mut |p, id, off| {
            if !sealed.contains(&id) {
                return Ok(false);
            }
            Ok(match p.record_encoding(off, &id) {
                Ok(Encoding::Age) | Err(_) => false,
                Ok(Encoding::Chunked) => {
                    let rec = p.read_record(off, &id)?;
                    if let Some(list) = super::decode_chunk_list(&rec.data) {
                        chunks.extend(list.into_iter().map(|(c, _)| c));
                    }
                    true
                }
                Ok(_) => true,
            })
        })?;
        Ok((removed + records, packs, chunks))
    }

    /// Splits `ids` into those stored as pack records (other than chunk
    /// lists: small) and the rest (loose or chunked: large).
    fn by_size(&self, ids: &[ObjectId]) -> Result<(Vec<ObjectId>, Vec<ObjectId>), StoreError> {
        let (mut small, mut large) = (Vec::new(), Vec::new());
        for id in ids {
            match self.in_packs(id) {
                Some((p, off)) if p.record_encoding(off, id)? != Encoding::Chunked => {
                    small.push(*id)
                }
                Some(_) => large.push(*id),
                None if self.loose_file(id).is_some() => large.push(*id),
                None => return Err(StoreError::Missing(*id)),
            }
        }
        Ok((small, large))
    }

    /// Removes the copies of `small` (now in `new_pack`) and of `large`
    /// (now loose `.age` files) that are not those: loose files of other
    /// encodings, records in other packs (rewritten without them).
    fn drop_old_copies(
        &self,
        small: &[ObjectId],
        large: &[ObjectId],
        new_pack: Option<&Path>,
    ) -> Result<(u64, u64), StoreError> {
        self.reload_packs()?;
        let mut removed = 0;
        for id in small {
            removed += self.remove_loose(id, &LOOSE_ENCODINGS)?;
        }
        for id in large {
            removed += self.remove_loose(id, &[Encoding::Raw, Encoding::Zstd])?;
        }
        let gone: HashSet<ObjectId> = small.iter().chain(large).copied().collect();
        let (records, packs) =
            self.repack_without(new_pack, &mut |_, id, _| Ok(gone.contains(&id)))?;
        fsutil::sync_dir(&self.objects).map_err(|e| StoreError::io(&self.objects, e))?;
        Ok((removed + records, packs))
    }
}

#[cfg(all(test, feature = "encryption"))]
mod tests {
    use super::*;
    use crate::crypt::Keys;
    use crate::crypt::tests::pair;
    use std::sync::Arc;

    fn open_with(s: &Store, keys: &Arc<Keys>, id: &ObjectId) -> Result<Vec<u8>, StoreError> {
        s.set_keys(keys.clone(), Arc::new(Default::default()));
        s.get(id)
    }

    /// Every stored copy of an object resealed opens only for the new
    /// recipients, holds the same bytes, and an object stored in the
    /// clear (small, large raw, large in chunks) is sealed with no copy in
    /// the clear left.
    #[test]
    fn resealed_objects_open_only_for_the_new_recipients_and_no_clear_copy_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        Store::init(dir.path()).expect("init");
        let s = Store::open(dir.path()).expect("open");
        let (old, old_keys) = pair();
        let (new, new_keys) = pair();
        let (old_keys, new_keys) = (Arc::new(old_keys), Arc::new(new_keys));
        let small = b"small secret".to_vec();
        let noise = super::super::tests::noise(700 * 1024);
        let text = "line of text with SECRET-42\n".repeat(40_000).into_bytes();
        let sealed_small = b"sealed small".to_vec();
        let w = s.writer().expect("writer");
        let (a, b) = (w.put(&small).expect("put"), w.put(&noise).expect("put"));
        let mut f = tempfile::NamedTempFile::new().expect("tmp");
        f.write_all(&text).expect("write");
        let (c, _) = w.put_file(f.path()).expect("put file");
        w.finish().expect("finish");
        assert!(
            s.chunk_ids(&c).expect("chunks").is_some(),
            "text is chunked"
        );
        let sw = s.sealed_writer(Arc::new(old)).expect("writer");
        let d = sw.put(&sealed_small).expect("put");
        sw.finish().expect("finish");
        assert!(open_with(&s, &old_keys, &d).is_ok());

        let done = s.reseal(&[a, b, c, d], &new).expect("reseal");
        assert_eq!(done.objects, 4);
        let len = (small.len() + noise.len() + text.len() + sealed_small.len()) as u64;
        assert_eq!(done.bytes, len);
        for (id, want) in [(a, &small), (b, &noise), (c, &text), (d, &sealed_small)] {
            assert_eq!(&open_with(&s, &new_keys, &id).expect("opens"), want);
            assert!(open_with(&s, &old_keys, &id).is_err(), "old key opens {id}");
            // One copy, sealed.
            let copies = s.copies_of(&id);
            assert_eq!(copies.len(), 1, "{copies:?}");
        }
        // The chunk list went; its chunks are the caller's (still stored).
        assert_eq!(s.chunk_ids(&c).expect("chunks"), None);
        // Nothing to finish.
        assert_eq!(s.drop_clear_beside_sealed().expect("sweep").0, 0);
    }
}
