//! `reseal`: encrypting again what is stored (D89). Every object stored
//! sealed is sealed again to the recipients configured now (a recipient
//! removed can no longer open any copy this repository, or a remote it
//! pushes to, holds), and every file of history that the configuration
//! now says to encrypt — its dataset `encrypt = true`, or its example
//! classified in an `[encryption] classes` class — but that was stored in
//! the clear is sealed, its plaintext copies (and the chunks only they
//! used) removed. Ids never change: they are the plaintext's.
//!
//! A reseal record (`folio-reseal 1`) names what was sealed, by whom, why
//! and to which recipients; it is kept as `.folio/reseals/<id>` and
//! carried by `push` (the remote's copies replaced) and `fetch` (ours
//! replaced by the remote's).

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Recorder, Repo, RepoError};
use crate::id::ObjectId;
use crate::ledger::ExampleId;
use crate::lock::RepoLock;
use crate::object::EntryKind;

/// First line of a reseal record.
pub const RESEAL_TAG: &[u8] = b"folio-reseal 1\n";

/// The folder of reseal records under `.folio`.
pub(super) const RESEALS_DIR: &str = "reseals";

/// What one reseal sealed. Encoded as [`RESEAL_TAG`] then this struct as
/// compact JSON (lists sorted); named by the BLAKE3 of those bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResealRecord {
    /// Who resealed.
    pub actor: String,
    /// When, seconds since the epoch.
    pub time: i64,
    /// Why.
    pub reason: String,
    /// The recipients everything was sealed to (public keys).
    pub recipients: Vec<String>,
    /// Objects that were stored sealed, sealed again.
    pub resealed: Vec<ObjectId>,
    /// Objects that were stored in the clear, now sealed.
    pub sealed: Vec<ObjectId>,
    /// Chunks of files stored in chunks that only those used: erased
    /// (their bytes were the plaintext).
    pub erased: Vec<ObjectId>,
}

impl ResealRecord {
    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = RESEAL_TAG.to_vec();
        out.extend_from_slice(&serde_json::to_vec(self).expect("a record serializes"));
        out
    }

    /// Reads a record.
    pub fn decode(bytes: &[u8]) -> Result<ResealRecord, String> {
        let body = bytes
            .strip_prefix(RESEAL_TAG)
            .ok_or("not a reseal record (no `folio-reseal 1` line)")?;
        serde_json::from_slice(body).map_err(|e| format!("a reseal record does not decode: {e}"))
    }

    /// Every object the record replaced.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectId> {
        self.resealed.iter().chain(&self.sealed)
    }
}

/// What `reseal` did (or, with a dry run, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResealReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// The reseal record written (none on a dry run, or when nothing was
    /// to be sealed).
    pub record: Option<ObjectId>,
    /// Recipients now able to open every sealed object.
    pub recipients: u64,
    /// Objects stored sealed, sealed again to those recipients.
    pub resealed: u64,
    /// Objects stored in the clear, now sealed.
    pub sealed: u64,
    /// The paths of history whose files those are.
    pub sealed_paths: Vec<String>,
    /// Plaintext bytes sealed.
    pub bytes: u64,
    /// Old stored copies removed (loose files, pack records).
    pub removed: u64,
    /// Chunks of files stored in chunks, only they used, erased.
    pub chunks_erased: u64,
    /// Packs rewritten without old copies.
    pub packs_rewritten: u64,
    /// Tables to encrypt whose rows were committed in the clear: their
    /// rows stay so (sealing a row chunk needs a skeleton its manifest
    /// would have to name, which would change the commit's id).
    pub tables_in_clear: Vec<String>,
}

/// What to seal.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResealOptions {
    /// Only objects stored in the clear (no identity needed): objects
    /// stored sealed are left as they are.
    pub clear_only: bool,
}

impl Repo {
    /// Seals again every object stored sealed, to the recipients
    /// configured now, and seals what history holds in the clear that the
    /// configuration now says to encrypt (D89); records it.
    pub fn reseal(
        &self,
        _lock: &RepoLock,
        reason: &str,
        opts: ResealOptions,
        who: &Recorder,
    ) -> Result<ResealReport, RepoError> {
        crate::ledger::values::text("the reason", reason, crate::ledger::values::MAX_TEXT)?;
        let config = self.config()?;
        if config.encryption.recipients.is_empty() {
            return Err(RepoError::Seal(
                "[encryption] recipients lists no one to seal to: add an age public key to .folio/config.toml (age-keygen -o key.txt prints one)".into(),
            ));
        }
        let seal = crate::crypt::Seal::parse(&config.encryption.recipients)
            .map_err(|e| RepoError::Seal(e.to_string()))?;
        if reason.trim().is_empty() && who.dry_run.is_none() {
            return Err(RepoError::Seal(
                "a reseal needs a reason: give --reason TEXT (a recipient added or removed, a reclassification)".into(),
            ));
        }
        // What an interrupted reseal left, first.
        self.finish_reseals()?;
        let resealed: Vec<ObjectId> = if opts.clear_only {
            Vec::new()
        } else {
            self.stored_sealed()?
        };
        let (plain, paths, tables_in_clear) = self.clear_to_seal()?;
        let mut report = ResealReport {
            dry_run: who.dry_run.is_some(),
            recipients: config.encryption.recipients.len() as u64,
            resealed: resealed.len() as u64,
            sealed: plain.len() as u64,
            sealed_paths: paths.into_iter().collect(),
            tables_in_clear,
            ..ResealReport::default()
        };
        if who.dry_run.is_some() || (resealed.is_empty() && plain.is_empty()) {
            return Ok(report);
        }
        // The chunks only the chunked plaintext files use: their bytes are
        // the plaintext too.
        let plain_set: BTreeSet<ObjectId> = plain.iter().copied().collect();
        let chunks = self.chunks_only_of(&plain_set)?;
        let mut all = resealed.clone();
        all.extend(plain.iter().copied());
        let chunks = self.spare_reachable(chunks)?;
        let done = self.store.reseal(&all, &seal)?;
        report.bytes = done.bytes;
        report.chunks_erased = chunks.len() as u64;
        let mut recipients = config.encryption.recipients.clone();
        recipients.sort();
        let record = ResealRecord {
            actor: who.actor.clone(),
            time: who.time,
            reason: reason.to_string(),
            recipients,
            resealed,
            sealed: plain,
            erased: chunks,
        };
        // The record before the chunks go: an interruption from here is
        // finished from it by the next reseal or `gc --prune`.
        report.record = Some(self.write_reseal_record(&record.encode())?);
        crate::failpoint::hit("reseal:recorded");
        let (gone, packs) = self.store.erase(&record.erased.iter().copied().collect())?;
        report.removed = done.removed + gone;
        report.packs_rewritten = done.packs + packs;
        Ok(report)
    }

    /// Finishes interrupted reseals: removes the copies in the clear of
    /// objects also stored sealed, and the chunks the reseal records
    /// erased that are still stored (and still no object of history).
    /// Returns copies removed and packs rewritten.
    pub(crate) fn finish_reseals(&self) -> Result<(u64, u64), RepoError> {
        let (mut removed, mut packs, listed) = self.store.drop_clear_beside_sealed()?;
        // The chunks of chunk lists just removed that no other list uses,
        // and those the records erased that are still stored.
        let mut left = self.chunks_unused(listed.into_iter().collect())?;
        left.extend(
            self.reseals()?
                .iter()
                .flat_map(|(_, r)| r.erased.iter().copied())
                .filter(|id| self.store.contains(id)),
        );
        if !left.is_empty() {
            let left = self.spare_reachable(left)?;
            let (r, p) = self.store.erase(&left.into_iter().collect())?;
            removed += r;
            packs += p;
        }
        Ok((removed, packs))
    }

    /// Every object stored sealed: loose `.age` files and sealed pack
    /// records.
    fn stored_sealed(&self) -> Result<Vec<ObjectId>, RepoError> {
        let mut out: BTreeSet<ObjectId> = BTreeSet::new();
        for p in self.store.packs() {
            for (id, off) in p.entries() {
                if p.record_encoding(off, &id)? == crate::store::Encoding::Age {
                    out.insert(id);
                }
            }
        }
        for (id, path) in self.store.loose_objects()? {
            if path.extension().is_some_and(|e| e == "age") {
                out.insert(id);
            }
        }
        Ok(out.into_iter().collect())
    }

    /// The file blobs of history stored in the clear that the
    /// configuration says to seal (their dataset `encrypt = true`, or
    /// their example classified, as the ledger says now, in a sealed
    /// class), with their paths; and the tables of such datasets whose
    /// rows are in the clear.
    #[allow(clippy::type_complexity)]
    fn clear_to_seal(&self) -> Result<(Vec<ObjectId>, BTreeSet<String>, Vec<String>), RepoError> {
        let config = self.config()?;
        let classes: HashSet<String> = config
            .encryption
            .classes
            .iter()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let known = self.classified()?;
        let classified = |path: &str| {
            known
                .get(&ExampleId::file(path))
                .is_some_and(|s| classes.contains(&s.to_ascii_lowercase()))
        };
        let mut blobs: BTreeSet<ObjectId> = BTreeSet::new();
        let mut paths: BTreeSet<String> = BTreeSet::new();
        let mut tables: BTreeSet<String> = BTreeSet::new();
        let mut manifests_seen = HashSet::new();
        self.walk_history(
            &mut |_, commit, d, path, e| {
                if e.kind == EntryKind::Symlink {
                    return Ok(());
                }
                let encrypt = config.datasets.get(&d.path).is_some_and(|x| x.encrypt);
                if let Some(t) = commit.tables.iter().find(|t| t.path == path) {
                    // A table: its rows decide, and they cannot be sealed
                    // after the fact.
                    if encrypt && manifests_seen.insert(t.manifest) {
                        let m = self.read_manifest(t.manifest)?;
                        if m.chunks.iter().any(|ch| ch.skeleton.is_none()) {
                            tables.insert(path);
                        }
                    }
                    return Ok(());
                }
                if (encrypt || classified(&path))
                    && self.store.purge_record_of(&e.id).is_none()
                    && !self.is_sealed(&e.id)
                {
                    blobs.insert(e.id);
                    paths.insert(path);
                }
                Ok(())
            },
            &mut |_, _| Ok(()),
        )?;
        Ok((
            blobs.into_iter().collect(),
            paths,
            tables.into_iter().collect(),
        ))
    }

    /// `chunks` less any that history names as an object of its own (a
    /// file whose bytes happen to equal a chunk's): those stay.
    pub(super) fn spare_reachable(
        &self,
        chunks: Vec<ObjectId>,
    ) -> Result<Vec<ObjectId>, RepoError> {
        if chunks.is_empty() {
            return Ok(chunks);
        }
        let mut named: HashSet<ObjectId> = HashSet::new();
        let mut tables = Vec::new();
        self.walk_history(
            &mut |_, _, _, _, e| {
                named.insert(e.id);
                Ok(())
            },
            &mut |_, t| {
                tables.push(t.manifest);
                Ok(())
            },
        )?;
        for m in tables {
            named.extend(self.read_manifest(m)?.chunks.iter().map(|ch| ch.id.0));
        }
        Ok(chunks.into_iter().filter(|c| !named.contains(c)).collect())
    }

    fn reseals_dir(&self) -> PathBuf {
        self.dot.join(RESEALS_DIR)
    }

    /// Keeps a reseal record as `.folio/reseals/<id>`; returns its id.
    pub(super) fn write_reseal_record(&self, bytes: &[u8]) -> Result<ObjectId, RepoError> {
        let id = ObjectId::of(bytes);
        let dir = self.reseals_dir();
        crate::fsutil::create_dir_durable(&dir).map_err(RepoError::io(&dir))?;
        let path = dir.join(id.to_hex());
        crate::fsutil::write_atomic(&path, bytes).map_err(RepoError::io(&path))?;
        Ok(id)
    }

    /// The reseal records, oldest first (each checked: its bytes hash to
    /// its name and decode).
    pub fn reseals(&self) -> Result<Vec<(ObjectId, ResealRecord)>, RepoError> {
        let dir = self.reseals_dir();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RepoError::io(&dir)(e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(RepoError::io(&dir))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with(crate::fsutil::TEMP_PREFIX) {
                continue;
            }
            let path = entry.path();
            let damaged = |detail: String| {
                RepoError::Store(crate::store::StoreError::Corrupt {
                    path: path.clone(),
                    detail,
                })
            };
            let id: ObjectId = name
                .parse()
                .map_err(|_| damaged("not a reseal record's name (an object id)".into()))?;
            let bytes = std::fs::read(&path).map_err(RepoError::io(&path))?;
            if ObjectId::of(&bytes) != id {
                return Err(damaged("its bytes do not hash to its name".into()));
            }
            out.push((id, ResealRecord::decode(&bytes).map_err(damaged)?));
        }
        out.sort_by_key(|(id, r)| (r.time, *id));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reseal_record_round_trips_and_anything_else_is_refused() {
        let r = ResealRecord {
            actor: "Ada <ada@example.com>".into(),
            time: 1_700_000_000,
            reason: "bob left".into(),
            recipients: vec!["age1xyz".into()],
            resealed: vec![ObjectId::of(b"a")],
            sealed: vec![ObjectId::of(b"b")],
            erased: vec![ObjectId::of(b"c")],
        };
        let bytes = r.encode();
        assert!(bytes.starts_with(b"folio-reseal 1\n"));
        assert_eq!(ResealRecord::decode(&bytes).expect("decodes"), r);
        assert_eq!(r.objects().count(), 2);
        let err = ResealRecord::decode(b"folio-purge 1\n{}").expect_err("not a reseal");
        assert!(err.contains("folio-reseal 1"), "{err}");
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() - 2);
        assert!(ResealRecord::decode(&cut).is_err());
    }
}
