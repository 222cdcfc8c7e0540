//! `gc` and `reindex`: tidying the repository and rebuilding what is
//! derived.

use std::collections::HashSet;
use std::fs;

use super::{Repo, RepoError};
use crate::id::{CommitId, ObjectId};
use crate::lock::RepoLock;
use crate::object::EntryKind;
use crate::progress::Progress;
use crate::store::Location;

/// What `gc` found (and removed, with `prune`).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct GcReport {
    /// Objects no ref reaches.
    pub unreachable: u64,
    /// Their stored bytes (approximate for packed objects: raw size).
    pub unreachable_bytes: u64,
    /// Objects kept.
    pub reachable: u64,
    /// Whether anything was deleted.
    pub pruned: bool,
    /// Leftover temporary files and orphan packs removed.
    pub stale_files: u64,
}

impl Repo {
    /// Every object reachable from a ref, without re-hashing.
    fn reachable(&self, now: i64) -> Result<HashSet<ObjectId>, RepoError> {
        let mut problems = Vec::new();
        let tips = self.ref_tips(&mut problems)?;
        let tag_objects = self.tag_objects(&mut problems)?;
        if let Some(p) = problems.first() {
            return Err(crate::refs::RefError::Corrupt {
                path: p.file.clone(),
                detail: format!("{}; run `folio verify` and repair it before gc", p.detail),
            }
            .into());
        }
        let mut out: HashSet<ObjectId> = tag_objects.into_iter().collect();
        // Batches recorded since a branch's last commit wait in its list.
        for (b, _) in self.refs.list(crate::refs::RefKind::Branch)? {
            out.extend(self.pending(&b)?.into_iter().map(|e| e.0));
        }
        let mut commits: Vec<CommitId> = tips;
        // What the operation log names within its retention: commits of
        // deleted branches and moved refs, dropped pending batches.
        for id in self.oplog_keeps(self.config()?.gc.oplog_days, now)? {
            match self.store.get(&id) {
                Ok(b) if crate::object::looks_like_commit(&b) => commits.push(CommitId(id)),
                Ok(_) => {
                    out.insert(id);
                }
                Err(_) => {} // gone already (pruned after its retention)
            }
        }
        let mut trees = Vec::new();
        while let Some(c) = commits.pop() {
            if !out.insert(c.0) {
                continue;
            }
            let commit = self.read_commit(c)?;
            commits.extend(commit.parents.iter().copied());
            out.extend(commit.events.iter().map(|e| e.0));
            for t in &commit.tables {
                if out.insert(t.manifest.0) {
                    let m = self.read_manifest(t.manifest)?;
                    out.extend(
                        m.chunks
                            .iter()
                            .flat_map(|c| std::iter::once(c.id.0).chain(c.skeleton.map(|s| s.0))),
                    );
                }
            }
            for d in commit.datasets {
                if d.kind == EntryKind::Tree {
                    trees.push(d.id);
                } else {
                    out.insert(d.id);
                }
            }
        }
        while let Some(t) = trees.pop() {
            if !out.insert(t) {
                continue;
            }
            for e in crate::snapshot::read_tree(&self.store, t)?.entries {
                if e.kind == EntryKind::Tree {
                    trees.push(e.id);
                } else {
                    out.insert(e.id);
                }
            }
        }
        // Chunked blobs reach their chunks.
        let blobs: Vec<ObjectId> = out.iter().copied().collect();
        for b in blobs {
            if let Some(chunks) = self.store.chunk_ids(&b)? {
                out.extend(chunks);
            }
        }
        // What purges erased is gone on purpose; their records and the
        // redacted chunks standing in are kept (D86).
        let purged = self.store.purged();
        out.retain(|id| purged.record_of(id).is_none());
        for rid in self.purge_records()? {
            out.insert(rid);
        }
        out.extend(purged.redacted.values().map(|(r, _)| *r));
        out.extend(purged.tables.values().map(|(m, _)| m.0));
        Ok(out)
    }

    /// Finds objects no ref reaches; deletes them when `prune`.
    /// `now` (seconds since the epoch) dates the operation log's retention.
    pub fn gc(&self, lock: &RepoLock, prune: bool, now: i64) -> Result<GcReport, RepoError> {
        if prune {
            // An interrupted purge left copies of what it erased.
            self.finish_purges(lock)?;
            // An interrupted reseal left copies in the clear beside sealed
            // ones; repacking must not keep the wrong one (D89).
            self.finish_reseals()?;
        }
        let keep = self.reachable(now)?;
        let mut rep = GcReport {
            reachable: keep.len() as u64,
            pruned: prune,
            ..GcReport::default()
        };
        let loose = self.store.loose_objects()?;
        let mut dead_loose = Vec::new();
        for (id, path) in loose {
            if !keep.contains(&id) {
                rep.unreachable += 1;
                rep.unreachable_bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                dead_loose.push(path);
            }
        }
        let packs = self.store.packs();
        let mut dirty_packs = Vec::new();
        for p in &packs {
            let dead: Vec<ObjectId> = p
                .entries()
                .map(|(id, _)| id)
                .filter(|id| !keep.contains(id))
                .collect();
            if !dead.is_empty() {
                rep.unreachable += dead.len() as u64;
                for id in &dead {
                    if let Some(Location::Packed { offset, .. }) = self.store.locate(id)
                        && let Ok(rec) = p.read_record(offset, id)
                    {
                        rep.unreachable_bytes += rec.data.len() as u64;
                    }
                }
                dirty_packs.push(p.path.clone());
            }
        }
        if !prune {
            return Ok(rep);
        }
        // Never prune a damaged store: an object a ref reaches that cannot
        // be found (a damaged index entry hides it) may still have its only
        // intact copy in a pack that pruning would delete.
        if let Some(id) = keep.iter().find(|id| !self.store.contains(id)) {
            return Err(crate::store::StoreError::Corrupt {
                path: self.dot.join("packs"),
                detail: format!(
                    "object {} is reachable but cannot be found: gc --prune deletes nothing while the store is damaged (run `folio verify`)",
                    id.short(12)
                ),
            }
            .into());
        }
        // Pruning also consolidates: every commit adds a pack, and lookups
        // cost one binary search per pack.
        if packs.len() > 1 {
            dirty_packs = packs.iter().map(|p| p.path.clone()).collect();
        }
        // Repack the live objects of every pack that holds dead ones, then
        // remove the old packs: a crash in between leaves duplicates, never
        // a loss.
        if !dirty_packs.is_empty() {
            self.store.repack(&dirty_packs, &keep)?;
        }
        for path in dead_loose {
            fs::remove_file(&path).map_err(RepoError::io(&path))?;
        }
        rep.stale_files = self.store.remove_stale_files()? + self.remove_stale_runs()?;
        Ok(rep)
    }

    /// Removes sorted runs a crashed table build left under `.folio/tmp`
    /// (D90): temporary files an hour old or more (a live build holds its
    /// runs open, so even a younger one's removal would not hurt it, but
    /// nothing that young is touched).
    fn remove_stale_runs(&self) -> Result<u64, RepoError> {
        // Files' times are the system clock's (not the commit clock).
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let dir = self.tmp_dir();
        let Ok(rd) = fs::read_dir(&dir) else {
            return Ok(0);
        };
        let mut n = 0;
        for e in rd.flatten() {
            let name = e.file_name();
            if !name
                .to_string_lossy()
                .starts_with(crate::fsutil::TEMP_PREFIX)
            {
                continue;
            }
            let old = e
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| t <= hour_ago);
            if old {
                let p = e.path();
                fs::remove_file(&p).map_err(RepoError::io(&p))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Rebuilds the derived index from scratch: deletes it, re-hashes
    /// every tracked dataset into a new stat cache, and indexes the ledger
    /// from the ledger alone. Returns the files cached and events indexed.
    pub fn reindex(
        &self,
        lock: &RepoLock,
        progress: &dyn Progress,
    ) -> Result<(u64, u64), RepoError> {
        let dir = self.index_dir();
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(RepoError::io(&dir))?;
        }
        let index = self.open_index_rw(lock)?;
        let stamp = index.stamp()?;
        let datasets = self.head_datasets()?;
        let mut caches = Vec::new();
        let mut files = 0;
        for d in &datasets {
            if fs::symlink_metadata(self.abs(&d.path)).is_err() {
                continue;
            }
            let (_, cache, _) = self.scan_flat(&d.path, None, stamp, Some(lock), progress)?;
            let cache = cache.unwrap_or_default();
            files += cache.len() as u64;
            caches.push((d.path.clone(), cache));
        }
        self.save_caches(&index, &caches)?;
        drop(index);
        let events = self.update_ledger_index(lock)?;
        Ok((files, events))
    }
}
