//! Undo: `restore` discards working-tree changes without moving HEAD;
//! `reset` moves the current branch.

use super::{Repo, RepoError, is_within};
use crate::id::CommitId;
use crate::lock::RepoLock;
use crate::object::EntryKind;
use crate::progress::Progress;
use crate::refs::{Head, RefKind};

/// What `restore` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestoreStats {
    /// Files written back.
    pub written: u64,
    /// Files removed (the source does not hold them).
    pub removed: u64,
}

impl Repo {
    /// Makes each of `paths` (repository-relative files or folders inside
    /// datasets) what commit `source` holds there: changed files are
    /// written back, files the source lacks are removed. HEAD and the
    /// ledger do not move; files outside any dataset are not touched.
    pub fn restore(
        &self,
        _lock: &RepoLock,
        paths: &[String],
        source: CommitId,
        progress: &dyn Progress,
    ) -> Result<RestoreStats, RepoError> {
        let src = self.read_commit(source)?;
        let head = self.head_datasets()?;
        let mut stats = RestoreStats::default();
        for p in paths {
            let dataset = src
                .datasets
                .iter()
                .chain(&head)
                .map(|d| d.path.clone())
                .find(|d| is_within(p, d))
                .ok_or_else(|| RepoError::NotInADataset(p.clone()))?;
            let rel = p
                .strip_prefix(dataset.as_str())
                .unwrap_or("")
                .trim_start_matches('/');
            let under = |r: &str| rel.is_empty() || r == rel || r.starts_with(&format!("{rel}/"));
            let want = self.flatten_dataset(src.datasets.iter().find(|d| d.path == dataset))?;
            let have = if std::fs::symlink_metadata(self.abs(&dataset)).is_ok() {
                self.scan_flat(&dataset, None, 0, None, progress)?.0
            } else {
                Default::default()
            };
            let known = want.keys().chain(have.keys()).any(|r| under(r));
            if !known {
                return Err(RepoError::PathNotFound(self.abs(p)));
            }
            for (r, _) in have
                .iter()
                .filter(|(r, e)| under(r) && e.kind != EntryKind::Tree)
            {
                if !want.contains_key(r) {
                    let full = super::join_path(&dataset, r);
                    let (dir, name) = full.rsplit_once('/').unwrap_or(("", &full));
                    // Relative to its folder, opened without following a
                    // link (--hard replaces a link in the way, never
                    // removes through it).
                    let fd = super::checkout::real_dirs(&self.work, dir, true)?;
                    if fd
                        .remove_file(name)
                        .map_err(RepoError::io(&self.abs(&full)))?
                    {
                        stats.removed += 1;
                    }
                }
            }
            for (r, e) in want
                .iter()
                .filter(|(r, e)| under(r) && e.kind != EntryKind::Tree)
            {
                if have
                    .get(r)
                    .is_some_and(|h| h.kind == e.kind && h.id == e.id)
                    && !self.is_purged(&e.id)
                {
                    continue;
                }
                let full = super::join_path(&dataset, r);
                let dir = full.rsplit_once('/').map_or("", |x| x.0);
                super::checkout::real_dirs(&self.work, dir, true)?;
                self.write_entry(&self.abs(&full), e)?;
                stats.written += 1;
            }
        }
        Ok(stats)
    }

    /// Moves the current branch to `target`. With `hard`, the working tree
    /// follows (uncommitted changes to tracked files are discarded);
    /// without it, the working tree is left as it is, so what the branch
    /// held past `target` shows as changes. The branch's pending ledger
    /// events stay pending. Returns where the branch was.
    pub fn reset(
        &self,
        lock: &RepoLock,
        target: CommitId,
        hard: bool,
        progress: &dyn Progress,
    ) -> Result<Option<CommitId>, RepoError> {
        if self.merge_state()?.is_some() {
            return Err(RepoError::MergeInProgress);
        }
        let Head::Branch(b) = self.refs.head()? else {
            return Err(RepoError::DetachedHead);
        };
        let was = self.head_commit()?;
        self.read_commit(target)?;
        if hard {
            self.checkout(lock, target, Head::Branch(b.clone()), true, progress)?;
        }
        self.refs.set(RefKind::Branch, &b, target)?;
        if hard {
            // Changes checkout had no reason to touch are discarded too.
            let paths: Vec<String> = self
                .read_commit(target)?
                .datasets
                .iter()
                .map(|d| d.path.clone())
                .collect();
            self.restore(lock, &paths, target, progress)?;
        }
        Ok(was)
    }
}

impl Repo {
    /// A new commit on the current branch that undoes `rev`'s dataset
    /// changes (a three-way merge of `rev`'s parent into HEAD, with `rev`
    /// as the base) and voids the events `rev` recorded when it was made.
    /// Refused when the undo conflicts with later changes, or `rev` is a
    /// merge; nothing is written then.
    pub fn revert(
        &self,
        lock: &RepoLock,
        rev: CommitId,
        opts: &super::MergeOptions,
        progress: &dyn Progress,
    ) -> Result<super::CommitOutcome, RepoError> {
        if self.merge_state()?.is_some() {
            return Err(RepoError::MergeInProgress);
        }
        if let Head::Detached(_) = self.refs.head()? {
            return Err(RepoError::DetachedHead);
        }
        let head = self.read_commit(self.head_commit()?.ok_or(RepoError::NoCommits)?)?;
        let r = self.read_commit(rev)?;
        if r.parents.len() > 1 {
            return Err(RepoError::RevertRefused(format!(
                "{} is a merge: revert the commits it brought, or reset",
                rev.short(12)
            )));
        }
        if !self.status(progress)?.is_clean() {
            return Err(RepoError::UncommittedChanges {
                paths: vec![
                    "(the working tree: commit or restore your changes before reverting)".into(),
                ],
            });
        }
        let before = match r.parents.first() {
            Some(p) => self.read_commit(*p)?,
            None => crate::object::Commit::default(),
        };
        let plan = self.plan_merge(Some(&r), &head, &before, None)?;
        if !plan.conflicts.is_empty() {
            let paths: Vec<String> = plan.conflicts.iter().map(|c| c.path.clone()).collect();
            return Err(RepoError::RevertRefused(format!(
                "undoing {} conflicts with later changes to: {}; change them by hand and commit instead",
                rev.short(12),
                paths.join(", ")
            )));
        }
        let voids = self.commit_time_voids(rev, opts)?;
        self.apply_merge(&plan)?;
        let copts = super::CommitOptions::made_for(
            plan.datasets.iter().map(|d| self.abs(d)).collect(),
            opts.message.clone().unwrap_or_else(|| {
                format!("Revert \"{}\"\n\nThis undoes commit {rev}.", r.message)
            }),
            opts.author.clone(),
            opts.time,
        );
        self.commit_with(lock, &copts, progress, None, &voids)
    }

    /// Voids for the events `rev` recorded when it was made (those that
    /// name no commit of their own), still counted now.
    fn commit_time_voids(
        &self,
        rev: CommitId,
        opts: &super::MergeOptions,
    ) -> Result<Vec<crate::ledger::Draft>, RepoError> {
        let view = self.ledger_view()?.with_voided().stored();
        let voided = view.voided()?;
        let mut out = Vec::new();
        let head = self.head_commit()?;
        view.each(&mut |e| {
            let here = view.part_of(e.seq).is_some_and(|p| p.commit == Some(rev));
            if here
                && e.commit.is_none()
                && e.payload.kind() != crate::ledger::EventKind::Voided
                && !voided.contains_key(&e.hash())
            {
                out.push(crate::ledger::Draft {
                    time: opts.time,
                    actor: opts.author.clone(),
                    commit: head,
                    subject: e.subject.clone(),
                    payload: crate::ledger::Payload::Voided {
                        target: e.hash(),
                        reason: format!("commit {} reverted", rev.short(12)),
                    },
                });
            }
            Ok::<(), RepoError>(())
        })?;
        Ok(out)
    }
}
