//! Purges travel (D86): a push carries this repository's purges to the
//! remote — the redacted chunks and records uploaded, every copy of what
//! they erased deleted (packs rewritten without it), then the record
//! listed as `purges/<id>`; a fetch applies the remote's purges here.

use std::collections::HashSet;
use std::fs;

use super::{Connection, RemoteIndex, Stats};
use crate::fsutil;
use crate::id::ObjectId;
use crate::progress::Progress;
use crate::purge::PurgeRecord;
use crate::repo::{Repo, RepoError};
use crate::store::{Encoding, PackWriter, parse_record};

/// Where a remote lists the purges applied to it.
const PURGES: &str = "purges/";

/// What carrying purges did.
#[derive(Debug, Clone, Default)]
pub struct PurgeSync {
    /// Purge records carried (pushed to, or applied from, the remote).
    pub records: Vec<ObjectId>,
    /// Stored copies removed (remote keys or pack records; local copies).
    pub removed: u64,
    /// Packs rewritten without what was erased.
    pub packs: u64,
}

impl Repo {
    /// The records a remote lists under `prefix` (`purges/`, `reseals/`):
    /// their ids.
    pub(super) fn remote_records(
        &self,
        conn: &Connection,
        prefix: &str,
    ) -> Result<HashSet<ObjectId>, RepoError> {
        let mut out = HashSet::new();
        for l in conn.backend.list(prefix)? {
            // A key that is not an id is not folio's: left alone.
            if let Ok(id) = l.key.trim_start_matches(prefix).parse::<ObjectId>() {
                out.insert(id);
            }
        }
        Ok(out)
    }

    /// Carries this repository's purges the remote has not had: uploads
    /// their redacted chunks and records, deletes every copy of what they
    /// erased (large objects; records of packs, which are rewritten
    /// without them), and only then lists each record, so an interrupted
    /// push applies it again next time.
    pub(super) fn push_purges(
        &self,
        conn: &Connection,
        stats: &Stats,
        progress: &dyn Progress,
    ) -> Result<PurgeSync, RepoError> {
        let mut out = PurgeSync::default();
        let local = self.purges()?;
        if local.is_empty() {
            return Ok(out);
        }
        let have = self.remote_records(conn, PURGES)?;
        let todo: Vec<(ObjectId, PurgeRecord)> = local
            .into_iter()
            .filter(|(id, _)| !have.contains(id))
            .collect();
        if todo.is_empty() {
            return Ok(out);
        }
        let index = self.remote_index(conn)?;
        // The stand-ins and the records first: the remote never lacks
        // both a chunk and its replacement.
        let mut meta: Vec<(ObjectId, u64)> = Vec::new();
        for (id, rec) in &todo {
            for oid in std::iter::once(id).chain(rec.redacted.iter().map(|(_, r)| r)) {
                if !index.has(oid) && !meta.iter().any(|(m, _)| m == oid) {
                    let len = self
                        .store
                        .packed_record(oid)?
                        .map_or(0, |r| r.data.len() as u64);
                    meta.push((*oid, len));
                }
            }
        }
        self.upload_packs(conn, "packs/meta", &[meta], &|_| false, stats, progress)?;
        let mut erase: HashSet<ObjectId> = HashSet::new();
        for (_, rec) in &todo {
            erase.extend(rec.erased.iter().copied());
            erase.extend(rec.redacted.iter().map(|(o, _)| *o));
        }
        let (removed, packs) = self.erase_on_remote(conn, &index, &erase, &HashSet::new())?;
        out.removed = removed;
        out.packs = packs;
        crate::failpoint::hit("push:purged");
        for (id, rec) in &todo {
            conn.backend
                .put_new(&format!("{PURGES}{id}"), &rec.encode())?;
            stats
                .writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out.records.push(*id);
        }
        Ok(out)
    }

    /// Deletes every copy of `ids` on a remote: their large-object keys,
    /// and their records from the packs holding them — each such pack is
    /// written again without them (uploaded first), then the old one
    /// deleted (index first). Large-object keys in `spare` stay (a copy
    /// just written there). Returns copies removed and packs rewritten.
    pub(super) fn erase_on_remote(
        &self,
        conn: &Connection,
        index: &RemoteIndex,
        ids: &HashSet<ObjectId>,
        spare: &HashSet<String>,
    ) -> Result<(u64, u64), RepoError> {
        let mut removed = 0;
        for id in ids {
            if let Some(l) = index.loose.get(id)
                && !spare.contains(&l.key)
            {
                conn.backend.delete(&l.key)?;
                removed += 1;
            }
        }
        let staging = self.dot.join(format!(
            "{}purge-{}",
            fsutil::TEMP_PREFIX,
            std::process::id()
        ));
        fsutil::create_dir_durable(&staging).map_err(RepoError::io(&staging))?;
        let mut packs = 0;
        let result = (|| -> Result<(), RepoError> {
            for p in &index.packs {
                let hit = p.entries.iter().filter(|(id, _)| ids.contains(id)).count();
                if hit == 0 {
                    continue;
                }
                let old = staging.join("old.pack");
                conn.backend.get_to_path(&p.key, &old)?;
                let bytes = fs::read(&old).map_err(RepoError::io(&old))?;
                let mut w = PackWriter::new(&staging)?;
                for (id, off) in &p.entries {
                    if ids.contains(id) {
                        continue;
                    }
                    let at = usize::try_from(*off).unwrap_or(usize::MAX);
                    let (rec, _) = bytes
                        .get(at..)
                        .ok_or_else(|| conn.damaged(format!("{}: a record lies outside it", p.key)))
                        .and_then(|b| {
                            parse_record(b, id).map_err(|e| conn.damaged(format!("{}: {e}", p.key)))
                        })?;
                    w.add(*id, rec.encoding, rec.raw_len, &rec.data)?;
                }
                let dir = p.key.rsplit_once('/').map_or("packs", |(d, _)| d);
                if let Some(idx) = w.finish()? {
                    let pack = idx.with_extension("pack");
                    let name = pack
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_string();
                    conn.backend
                        .put_file(&format!("{dir}/{name}.pack"), &pack)?;
                    conn.backend.put_file(&format!("{dir}/{name}.idx"), &idx)?;
                    let _ = fs::remove_file(&pack);
                    let _ = fs::remove_file(&idx);
                }
                let stem = p.key.trim_end_matches(".pack");
                conn.backend.delete(&format!("{stem}.idx"))?;
                conn.backend.delete(&p.key)?;
                let _ = fs::remove_file(&old);
                removed += hit as u64;
                packs += 1;
            }
            Ok(())
        })();
        let _ = fs::remove_dir_all(&staging);
        result?;
        Ok((removed, packs))
    }

    /// Applies the purges a remote lists that this repository has not
    /// had: each record checked (its bytes hash to its name, it decodes),
    /// the redacted chunks it names taken (checked), then recorded here
    /// and every local copy of what it erased removed.
    pub(super) fn fetch_purges(&self, conn: &Connection) -> Result<PurgeSync, RepoError> {
        let mut out = PurgeSync::default();
        let remote = self.remote_records(conn, PURGES)?;
        let local: HashSet<ObjectId> = self.purge_records()?.into_iter().collect();
        let mut todo: Vec<ObjectId> = remote.difference(&local).copied().collect();
        if todo.is_empty() {
            return Ok(out);
        }
        todo.sort();
        let index = self.remote_index(conn)?;
        let writer = self.store.writer()?;
        let mut records = Vec::new();
        for id in &todo {
            let key = format!("{PURGES}{id}");
            let bytes = conn
                .backend
                .get(&key)?
                .ok_or_else(|| conn.damaged(format!("{key} vanished while listed")))?;
            if ObjectId::of(&bytes) != *id {
                return Err(conn
                    .damaged(format!("{key} does not hash to its name"))
                    .into());
            }
            let rec =
                PurgeRecord::decode(&bytes).map_err(|e| conn.damaged(format!("{key}: {e}")))?;
            for (orig, r) in &rec.redacted {
                if self.store.contains(r) {
                    continue;
                }
                match self.take_one(conn, &index, r)? {
                    Taken::Plain(chunk) => {
                        crate::purge::check_redacted(orig, &chunk)
                            .map_err(|e| conn.damaged(format!("{key}: {e}")))?;
                        writer.put(&chunk)?;
                    }
                    // An encrypted table's stand-in travels sealed.
                    Taken::Sealed(raw_len, data) => {
                        writer.put_sealed_record(*r, raw_len, &data)?;
                    }
                }
            }
            writer.put(&bytes)?;
            records.push(*id);
        }
        writer.finish()?;
        let mut list = self.purge_records()?;
        list.extend(records.iter().copied());
        self.write_purge_list(&list)?;
        self.load_purges();
        let (removed, packs) = self.erase_purged()?;
        out.records = records;
        out.removed = removed;
        out.packs = packs;
        Ok(out)
    }

    /// One small object from a remote's packs: checked against its id, or
    /// (sealed) as stored.
    pub(super) fn take_one(
        &self,
        conn: &Connection,
        index: &RemoteIndex,
        id: &ObjectId,
    ) -> Result<Taken, RepoError> {
        let Some((p, start, end)) = index.at.get(id) else {
            return Err(conn
                .damaged(format!(
                    "a purge names redacted chunk {}, which the remote does not hold",
                    id.short(12)
                ))
                .into());
        };
        let bytes = conn.backend.get_range(&index.packs[*p].key, *start, *end)?;
        let (rec, _) = parse_record(&bytes, id)
            .map_err(|e| conn.damaged(format!("{}: {e}", index.packs[*p].key)))?;
        let plain = match rec.encoding {
            Encoding::Raw => rec.data,
            Encoding::Zstd => crate::store::decompress(&rec.data, rec.raw_len as usize)
                .map_err(|e| conn.damaged(format!("object {}: {e}", id.short(12))))?,
            Encoding::Age => return Ok(Taken::Sealed(rec.raw_len, rec.data)),
            Encoding::Chunked => {
                return Err(conn
                    .damaged(format!("object {} is not a row chunk", id.short(12)))
                    .into());
            }
        };
        if ObjectId::of(&plain) != *id {
            return Err(conn
                .damaged(format!("object {} does not match its id", id.short(12)))
                .into());
        }
        Ok(Taken::Plain(plain))
    }
}

/// An object taken from a remote's pack.
pub(super) enum Taken {
    /// Its bytes, checked against its id.
    Plain(Vec<u8>),
    /// A sealed record: decoded length and the age file.
    Sealed(u64, Vec<u8>),
}
