//! `upgrade`: converts a repository written by folio 0.1 (format 1: one
//! global, hash-chained ledger in `.folio/ledger/`) to format 2 (event
//! batches carried by commits, docs/FORMAT.md).
//!
//! Format 1 has no merges, so its history is a forest of first-parent
//! chains. Each event of the old ledger goes to the commit with the
//! smallest recorded ledger size above its position (the rule D22 used to
//! answer "which commit recorded it"); events past every commit's head are
//! pending on HEAD's branch. Commits are rewritten parents first (their ids
//! change: each now lists its batch and the head of its own history's
//! ledger), events are re-encoded without their position and chain link
//! (format 2) and the commit ids they name are mapped to the new ones. The
//! conversion is deterministic (batch nonces are 0), so an interrupted
//! upgrade run again produces the same objects. The old ledger is kept,
//! renamed `.folio/ledger-v1/`, and `.folio/upgrade-map` lists old and new
//! commit ids.

use std::collections::{HashMap, HashSet};

use super::{Repo, RepoError};
use crate::id::{CommitId, ObjectId};
use crate::ledger::batch::BatchBuilder;
use crate::ledger::merkle::{self, Frontier};
use crate::ledger::{Event, legacy};
use crate::lock::RepoLock;
use crate::object::Commit;
use crate::refs::{Head, RefKind};

/// What `upgrade` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UpgradeReport {
    /// False when the repository was already in the current format.
    pub converted: bool,
    /// Commits rewritten.
    pub commits: u64,
    /// Events carried over.
    pub events: u64,
    /// Of those, events left pending on HEAD's branch.
    pub pending: u64,
    /// Each rewritten commit: old id, new id (also in `.folio/upgrade-map`).
    pub map: Vec<(CommitId, CommitId)>,
}

impl Repo {
    /// Whether the repository is in format 1 and needs `upgrade`.
    pub fn needs_upgrade(&self) -> bool {
        legacy::present(&self.ledger_dir())
    }

    /// Converts a format-1 repository in place (see the module docs).
    pub fn upgrade(&self, lock: &RepoLock) -> Result<UpgradeReport, RepoError> {
        if !self.needs_upgrade() {
            return Ok(UpgradeReport::default());
        }
        let (order, old) = self.legacy_commits()?;
        let need = old.values().filter_map(|c| c.ledger).map(|l| l.0).max();
        let events = legacy::read_all(&self.ledger_dir(), need.unwrap_or(0))?;
        // The owner of event i: the commit with the smallest size above i.
        let mut by_size: Vec<(u64, usize)> = order
            .iter()
            .enumerate()
            .filter_map(|(k, c)| old[c].ledger.map(|l| (l.0, k)))
            .collect();
        by_size.sort();
        let mut owned: Vec<Vec<Event>> = vec![Vec::new(); order.len()];
        let mut pending: Vec<Event> = Vec::new();
        for (i, (e, _)) in events.into_iter().enumerate() {
            let at = by_size.partition_point(|(size, _)| *size <= i as u64);
            match by_size.get(at) {
                Some(&(_, k)) => owned[k].push(e),
                None => pending.push(e),
            }
        }
        // Rewrite parents first; a commit's ledger extends its parent's.
        let mut sorted: Vec<usize> = (0..order.len()).collect();
        sorted.sort_by_key(|&k| (old[&order[k]].ledger.map_or(0, |l| l.0), k));
        let writer = self.store.writer()?;
        let mut new_id: HashMap<CommitId, CommitId> = HashMap::new();
        let mut frontier: HashMap<CommitId, Frontier> = HashMap::new();
        let mut report = UpgradeReport {
            converted: true,
            ..Default::default()
        };
        for k in sorted {
            let c = &old[&order[k]];
            let parents: Vec<CommitId> = c.parents.iter().map(|p| new_id[p]).collect();
            let mut f = parents
                .first()
                .map(|p| frontier[p].clone())
                .unwrap_or_default();
            let mut batches = Vec::new();
            if !owned[k].is_empty() {
                let (id, n) = self.legacy_batch(
                    &writer,
                    parents.first().copied(),
                    &owned[k],
                    &new_id,
                    &mut f,
                )?;
                batches.push((id, n));
                report.events += n;
            }
            let commit = Commit {
                parents,
                datasets: c.datasets.clone(),
                tables: c.tables.clone(),
                ledger: (f.size > 0).then(|| (f.size, f.root())),
                events: batches,
                author: c.author.clone(),
                time: c.time,
                message: c.message.clone(),
            };
            let id = CommitId(writer.put(&commit.encode())?);
            new_id.insert(order[k], id);
            frontier.insert(id, f);
            report.map.push((order[k], id));
        }
        report.commits = report.map.len() as u64;
        let head_branch = match self.refs.head()? {
            Head::Branch(b) => Some(b),
            Head::Detached(_) => None,
        };
        let mut pending_batch = None;
        if !pending.is_empty() {
            let Some(b) = &head_branch else {
                return Err(RepoError::DetachedHead);
            };
            let base = self
                .refs
                .get(RefKind::Branch, b)?
                .map(|c| new_id.get(&c).copied().unwrap_or(c));
            let mut scratch = Frontier::default();
            let (id, n) = self.legacy_batch(&writer, base, &pending, &new_id, &mut scratch)?;
            pending_batch = Some((id, n));
            report.pending = n;
            report.events += n;
        }
        writer.finish()?;
        self.write_upgrade_map(&report.map)?;
        self.move_refs(&new_id)?;
        if let (Some(b), Some(batch)) = (&head_branch, pending_batch) {
            self.set_pending(b, &[batch])?;
        }
        let old_dir = self.ledger_dir();
        let kept = self.dot.join("ledger-v1");
        crate::fsutil::rename_durable(&old_dir, &kept).map_err(RepoError::io(&old_dir))?;
        // Derived: rebuilt for the new format.
        let ix = crate::ledger::index::LedgerIndex::db_path(&self.index_dir());
        let _ = std::fs::remove_file(ix);
        let _ = self.update_ledger_index(lock);
        for (id, f) in &frontier {
            self.cache_frontier(lock, *id, f);
        }
        Ok(report)
    }

    /// The format-1 commits every ref reaches, in an order where parents
    /// come first, and each decoded.
    #[allow(clippy::type_complexity)]
    fn legacy_commits(&self) -> Result<(Vec<CommitId>, HashMap<CommitId, Commit>), RepoError> {
        // A ref an interrupted run moved already points at a new commit:
        // the map it wrote first leads back to the old one.
        let back: HashMap<String, String> = std::fs::read_to_string(self.dot.join("upgrade-map"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(o, n)| (n.to_string(), o.to_string()))
            .collect();
        let old_of = |c: CommitId| -> CommitId {
            back.get(&c.to_string())
                .and_then(|o| o.parse().ok())
                .map_or(c, CommitId)
        };
        let mut tips = Vec::new();
        for kind in [RefKind::Branch, RefKind::Tag] {
            for (_, c) in self.refs.list(kind)? {
                tips.push(old_of(c?));
            }
        }
        if let Head::Detached(c) = self.refs.head()? {
            tips.push(old_of(c));
        }
        let mut old: HashMap<CommitId, Commit> = HashMap::new();
        let mut order = Vec::new();
        let mut done: HashSet<CommitId> = HashSet::new();
        for t in tips {
            let mut stack = vec![(t, false)];
            while let Some((c, expanded)) = stack.pop() {
                if done.contains(&c) {
                    continue;
                }
                if expanded {
                    done.insert(c);
                    order.push(c);
                    continue;
                }
                let bytes = self.store.get(&c.0)?;
                let commit = Commit::decode_v1(&bytes).map_err(|source| RepoError::BadObject {
                    id: c.0,
                    location: self.where_is(&c.0).display().to_string(),
                    source,
                })?;
                if commit.parents.len() > 1 {
                    return Err(RepoError::BadObject {
                        id: c.0,
                        location: self.where_is(&c.0).display().to_string(),
                        source: crate::object::DecodeError::Malformed {
                            what: "commit",
                            detail: "several parents, which format 1 never wrote".into(),
                        },
                    });
                }
                stack.push((c, true));
                stack.extend(commit.parents.iter().map(|&p| (p, false)));
                old.insert(c, commit);
            }
        }
        Ok((order, old))
    }

    /// Stores format-1 events as one batch recorded on `base`, their
    /// commit ids mapped; extends `f` with them.
    fn legacy_batch(
        &self,
        writer: &crate::store::Writer<'_>,
        base: Option<CommitId>,
        events: &[Event],
        new_id: &HashMap<CommitId, CommitId>,
        f: &mut Frontier,
    ) -> Result<(ObjectId, u64), RepoError> {
        let mut b = BatchBuilder::new(base, 0);
        for e in events {
            let mut e = e.clone();
            e.seq = 0;
            e.commit = e.commit.map(|c| new_id.get(&c).copied().unwrap_or(c));
            b.push(&e)?;
        }
        let built = b.finish()?;
        for h in &built.hashes {
            f.push(merkle::leaf(h));
        }
        Ok((writer.put(&built.bytes)?, built.hashes.len() as u64))
    }

    fn write_upgrade_map(&self, map: &[(CommitId, CommitId)]) -> Result<(), RepoError> {
        let mut text = String::from("# folio upgrade: old commit id, new commit id\n");
        for (o, n) in map {
            text.push_str(&format!("{o} {n}\n"));
        }
        let path = self.dot.join("upgrade-map");
        crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(RepoError::io(&path))
    }

    /// Points every ref (and a detached HEAD) at the rewritten commits.
    fn move_refs(&self, new_id: &HashMap<CommitId, CommitId>) -> Result<(), RepoError> {
        for kind in [RefKind::Branch, RefKind::Tag] {
            for (name, c) in self.refs.list(kind)? {
                if let Some(n) = new_id.get(&c?)
                    && self.refs.get(kind, &name)? != Some(*n)
                {
                    self.refs.set(kind, &name, *n)?;
                }
            }
        }
        if let Head::Detached(c) = self.refs.head()?
            && let Some(n) = new_id.get(&c)
        {
            self.refs.set_head(&Head::Detached(*n))?;
        }
        Ok(())
    }
}
