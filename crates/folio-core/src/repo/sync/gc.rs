//! `folio gc --remote`: removing what no ref of a remote reaches — the
//! leftovers of interrupted or rejected pushes — once it is older than a
//! grace period, so that it never races a push in flight.
//!
//! Why this is safe (docs/REMOTES.md, "Garbage collection"):
//! - a ref moves only forward (fast-forward pushes, tags never move), so
//!   what the refs reach when gc reads them stays reachable;
//! - a push in flight relies only on what the refs it read reach, on what
//!   it uploads itself, and on objects written less than `TRUST_RECENT`
//!   ago (anything older it uploads again, which makes it new);
//! - gc removes only what is unreachable *and* older than the grace
//!   period (at least [`GC_GRACE_MIN`]), so as long as a push lasts less
//!   than the grace period minus `TRUST_RECENT`, nothing it relies on is
//!   removed before its refs move.
//!
//! gc reads the remote's history into this repository first (as `fetch
//! --no-data` does) and computes reachability here; if anything the refs
//! reach cannot be read, it removes nothing.

use std::collections::HashSet;

use super::{Connection, DataMode, GC_GRACE_MIN, Sources};
use crate::id::{CommitId, ObjectId};
use crate::lock::RepoLock;
use crate::progress::Progress;
use crate::repo::{Repo, RepoError};

/// What `gc --remote` found and (unless a dry run) removed.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RemoteGcReport {
    /// The remote, as shown to users.
    pub remote: String,
    /// Whether anything was deleted (`--prune`).
    pub pruned: bool,
    /// The grace period, seconds.
    pub grace_secs: i64,
    /// Objects the remote's branches and tags reach.
    pub reachable: u64,
    /// Keys removed (or, without `--prune`, that would be).
    pub removed: Vec<String>,
    /// Their bytes.
    pub removed_bytes: u64,
    /// Unreachable packs and objects kept because they are younger than
    /// the grace period (a push may be in flight).
    pub kept_recent: u64,
    /// Their bytes.
    pub kept_recent_bytes: u64,
    /// Packs kept whole because they hold reachable objects beside
    /// unreachable ones.
    pub kept_mixed: u64,
    /// Reachable file contents this repository has not fetched: whether
    /// they are chunked (their chunks stored apart) cannot be told here,
    /// so no file contents are removed.
    pub data_unresolved: u64,
    /// Leftover temporary files of interrupted writes (folder remotes).
    pub temporaries: u64,
}

impl Repo {
    /// Garbage-collects remote `conn`: removes packs and large objects no
    /// remote ref reaches that were written more than `grace_secs` ago,
    /// and packs whose upload was interrupted; only reports them unless
    /// `prune`.
    pub fn gc_remote(
        &self,
        lock: &RepoLock,
        conn: &Connection,
        grace_secs: i64,
        prune: bool,
        progress: &dyn Progress,
    ) -> Result<RemoteGcReport, RepoError> {
        if grace_secs < GC_GRACE_MIN {
            return Err(RepoError::RemoteUse(format!(
                "a grace period of {grace_secs} s is too short: at least {} hour(s), and longer than your longest push",
                GC_GRACE_MIN / 3600
            )));
        }
        self.ensure_marker(conn, false)?;
        // The refs' history, here. A push landing between the fetch and
        // the read of the refs is fetched again.
        let mut tips: Vec<CommitId> = Vec::new();
        let mut tag_objects: Vec<ObjectId> = Vec::new();
        for attempt in 0..3 {
            self.fetch(lock, conn, &DataMode::None, progress)?;
            let refs = self.remote_refs(conn)?;
            tips = refs.values().map(|(c, _, _)| *c).collect();
            tag_objects = refs.values().filter_map(|(_, _, t)| *t).collect();
            if tips.iter().all(|c| self.store.contains(&c.0)) {
                break;
            }
            if attempt == 2 {
                return Err(RepoError::RemoteUse(format!(
                    "{} kept moving while gc read it; run gc again",
                    conn.describe()
                )));
            }
        }
        // Listed after the refs were read: every pack a ref reaches is in
        // this listing.
        let index = self.remote_index(conn)?;
        let src = Sources {
            local: &self.store,
            extra: None,
            local_loose: None,
        };
        let closure = self.closure(
            &src,
            &tips,
            &HashSet::new(),
            &|_| false,
            &|d| {
                RepoError::Remote(conn.damaged(format!(
                    "the remote's refs reach objects gc cannot read, so it removes nothing: {d}"
                )))
            },
            &|_| Ok(None),
            true,
        )?;
        let mut reachable: HashSet<ObjectId> = closure.commits.iter().map(|c| c.0).collect();
        reachable.extend(tag_objects);
        reachable.extend(closure.meta.iter().copied());
        let mut report = RemoteGcReport {
            remote: conn.describe(),
            pruned: prune,
            grace_secs,
            ..RemoteGcReport::default()
        };
        for id in &closure.data {
            reachable.insert(*id);
            if let Some(chunks) = self.store.chunk_ids(id)? {
                reachable.extend(chunks);
            } else if !self.store.contains(id) {
                report.data_unresolved += 1;
            }
        }
        report.reachable = reachable.len() as u64;
        let cutoff = conn.now - grace_secs;
        // Deletions: an index before its pack (a pack without an index is
        // invisible; the next gc removes it).
        let mut doomed: Vec<(Vec<String>, u64)> = Vec::new();
        let keep_recent = |report: &mut RemoteGcReport, bytes: u64| {
            report.kept_recent += 1;
            report.kept_recent_bytes += bytes;
        };
        for p in &index.packs {
            let live = p
                .entries
                .iter()
                .filter(|(id, _)| reachable.contains(id))
                .count();
            let is_data = !p.key.starts_with("packs/meta/");
            if live > 0 {
                if live < p.entries.len() {
                    report.kept_mixed += 1;
                }
                continue;
            }
            if is_data && report.data_unresolved > 0 {
                continue;
            }
            if p.modified >= cutoff {
                keep_recent(&mut report, p.size);
                continue;
            }
            let stem = p.key.trim_end_matches(".pack");
            doomed.push((vec![format!("{stem}.idx"), p.key.clone()], p.size));
        }
        for (id, l) in &index.loose {
            // A large object may be a chunk of contents not fetched here.
            if reachable.contains(id) || report.data_unresolved > 0 {
                continue;
            }
            if l.modified >= cutoff {
                keep_recent(&mut report, l.size);
                continue;
            }
            doomed.push((vec![l.key.clone()], l.size));
        }
        for s in &index.strays {
            if s.modified >= cutoff {
                keep_recent(&mut report, s.size);
                continue;
            }
            doomed.push((vec![s.key.clone()], s.size));
        }
        doomed.sort();
        progress.begin_items("removing unreachable objects", doomed.len() as u64);
        for (keys, bytes) in doomed {
            if prune {
                for k in &keys {
                    conn.backend.delete(k)?;
                }
            }
            report.removed_bytes += bytes;
            report.removed.extend(keys);
            progress.advance(1);
        }
        progress.end();
        report.temporaries = conn.backend.temporaries(cutoff, prune)?;
        Ok(report)
    }
}
