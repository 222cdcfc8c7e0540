//! Reseals travel (D89): a push replaces the remote's copies of what this
//! repository resealed with the new sealed ones (uploaded first, the old
//! copies deleted after, packs rewritten without them), erases the
//! plaintext chunks the reseal erased, and only then lists the record as
//! `reseals/<id>`; a fetch replaces this repository's copies with the
//! remote's for each record it lists that we have not had.

use std::collections::HashSet;

use super::purges::Taken;
use super::{Connection, Stats};
use crate::id::ObjectId;
use crate::progress::Progress;
use crate::repo::reseal::ResealRecord;
use crate::repo::{Repo, RepoError};
use crate::store::{Encoding, SealedCopy, Store};

/// Where a remote lists the reseals applied to it.
const RESEALS: &str = "reseals/";

/// What carrying reseals did.
#[derive(Debug, Clone, Default)]
pub struct ResealSync {
    /// Reseal records carried (pushed to, or applied from, the remote).
    pub records: Vec<ObjectId>,
    /// Objects whose copies were replaced.
    pub objects: u64,
}

impl Repo {
    /// Carries this repository's reseals the remote has not had: every
    /// object they name that is stored sealed here is uploaded (small ones
    /// in one new pack, large ones to their keys), then the remote's other
    /// copies and the chunks the reseal erased are deleted, then the
    /// record is listed — so an interrupted push does it again.
    pub(super) fn push_reseals(
        &self,
        conn: &Connection,
        jobs: usize,
        stats: &Stats,
        progress: &dyn Progress,
    ) -> Result<ResealSync, RepoError> {
        let mut out = ResealSync::default();
        let local = self.reseals()?;
        if local.is_empty() {
            return Ok(out);
        }
        let have = self.remote_records(conn, RESEALS)?;
        let todo: Vec<(ObjectId, ResealRecord)> = local
            .into_iter()
            .filter(|(id, _)| !have.contains(id))
            .collect();
        if todo.is_empty() {
            return Ok(out);
        }
        let index = self.remote_index(conn)?;
        let mut small: Vec<(ObjectId, u64)> = Vec::new();
        let mut large = Vec::new();
        let mut spare: HashSet<String> = HashSet::new();
        let mut replaced: HashSet<ObjectId> = HashSet::new();
        let mut seen = HashSet::new();
        for (_, rec) in &todo {
            for id in rec.objects() {
                if !seen.insert(*id) {
                    continue;
                }
                // Only a copy sealed here replaces the remote's (an object
                // purged or never held since is left alone).
                if let Some(r) = self.store.packed_record(id)?
                    && r.encoding == Encoding::Age
                {
                    small.push((*id, r.data.len() as u64));
                    replaced.insert(*id);
                } else if let Some((path, Encoding::Age)) = self.store.loose_file(id) {
                    let key = format!("objects/{}", Store::loose_name(id, Encoding::Age));
                    // Keys are create-only: an old copy under the same key
                    // goes first (the push is listed only once all is done,
                    // so an interruption here is finished next time).
                    if index.loose.get(id).is_some_and(|l| l.key == key) {
                        conn.backend.delete(&key)?;
                    }
                    spare.insert(key);
                    large.push((*id, path, Encoding::Age));
                    replaced.insert(*id);
                }
            }
        }
        self.upload_packs(conn, "packs/data", &[small], &|_| false, stats, progress)?;
        self.upload_loose(conn, &|_| false, large, jobs, stats, progress)?;
        let mut erase = replaced.clone();
        for (_, rec) in &todo {
            erase.extend(rec.erased.iter().copied());
        }
        // The old index: the packs just uploaded are not in it.
        self.erase_on_remote(conn, &index, &erase, &spare)?;
        crate::failpoint::hit("push:resealed");
        for (id, rec) in &todo {
            conn.backend
                .put_new(&format!("{RESEALS}{id}"), &rec.encode())?;
            stats
                .writes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out.records.push(*id);
        }
        out.objects = replaced.len() as u64;
        Ok(out)
    }

    /// Applies the reseals a remote lists that this repository has not
    /// had: each record checked (its bytes hash to its name, it decodes),
    /// the remote's sealed copies of the objects it names that we hold
    /// taken in place of ours, the chunks it erased erased here, then the
    /// record kept.
    pub(super) fn fetch_reseals(&self, conn: &Connection) -> Result<ResealSync, RepoError> {
        let mut out = ResealSync::default();
        let remote = self.remote_records(conn, RESEALS)?;
        let local: HashSet<ObjectId> = self.reseals()?.into_iter().map(|(id, _)| id).collect();
        let mut todo: Vec<ObjectId> = remote.difference(&local).copied().collect();
        if todo.is_empty() {
            return Ok(out);
        }
        todo.sort();
        let index = self.remote_index(conn)?;
        let staging = self.store.objects_dir().to_path_buf();
        for rid in &todo {
            let key = format!("{RESEALS}{rid}");
            let bytes = conn
                .backend
                .get(&key)?
                .ok_or_else(|| conn.damaged(format!("{key} vanished while listed")))?;
            if ObjectId::of(&bytes) != *rid {
                return Err(conn
                    .damaged(format!("{key} does not hash to its name"))
                    .into());
            }
            let rec =
                ResealRecord::decode(&bytes).map_err(|e| conn.damaged(format!("{key}: {e}")))?;
            let mut copies = Vec::new();
            let mut temps = Vec::new();
            for id in rec.objects() {
                if !self.store.contains(id) {
                    continue; // fetched as the remote has it, when needed
                }
                if index.at.contains_key(id) {
                    match self.take_one(conn, &index, id)? {
                        Taken::Sealed(raw_len, data) => {
                            copies.push((*id, SealedCopy::Record(raw_len, data)))
                        }
                        Taken::Plain(_) => {
                            return Err(conn
                                .damaged(format!(
                                    "{key} names object {} as sealed, but the remote holds it in the clear",
                                    id.short(12)
                                ))
                                .into());
                        }
                    }
                } else if let Some(l) = index.loose.get(id) {
                    if !l.key.ends_with(".age") {
                        return Err(conn
                            .damaged(format!(
                                "{key} names object {} as sealed, but the remote holds it in the clear ({})",
                                id.short(12),
                                l.key
                            ))
                            .into());
                    }
                    let tmp = staging.join(format!(
                        "{}reseal-{}-{}",
                        crate::fsutil::TEMP_PREFIX,
                        std::process::id(),
                        id.to_hex()
                    ));
                    let _ = std::fs::remove_file(&tmp);
                    conn.backend.get_to_path(&l.key, &tmp)?;
                    temps.push(tmp.clone());
                    copies.push((*id, SealedCopy::File(tmp)));
                }
            }
            let n = copies.len() as u64;
            let res = self.store.install_sealed(copies);
            for t in temps {
                let _ = std::fs::remove_file(t);
            }
            res?;
            let erased = self.spare_reachable(rec.erased.clone())?;
            self.store.erase(&erased.into_iter().collect())?;
            self.write_reseal_record(&bytes)?;
            out.records.push(*rid);
            out.objects += n;
        }
        Ok(out)
    }
}
