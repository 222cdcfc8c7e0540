//! `audit`: the inventory of a revision (`ledger::inventory`), read
//! through a ledger view.

use super::{Repo, RepoError};
use crate::id::CommitId;
use crate::ledger::inventory::{AuditFilter, AuditReport, Inventory};

impl Repo {
    /// `rev` (HEAD when absent) and the ledger as of it.
    fn commit_and_view(
        &self,
        rev: Option<CommitId>,
    ) -> Result<(CommitId, crate::ledger::query::LedgerView<'_>), RepoError> {
        let commit = match rev {
            Some(r) => r,
            None => self.head_commit()?.ok_or(RepoError::NoCommits)?,
        };
        Ok((commit, self.ledger_view_as_of(rev)?))
    }

    /// The inventory of the examples present at `rev`, from every event up
    /// to the ledger head `rev` records; with `rev` absent, of HEAD with
    /// every event recorded since (labels, costs, classes not yet attested
    /// by a commit).
    pub fn audit(
        &self,
        rev: Option<CommitId>,
        filter: &AuditFilter,
    ) -> Result<AuditReport, RepoError> {
        let (commit, view) = self.commit_and_view(rev)?;
        if let Some(src) = &filter.source {
            return Ok(AuditReport::of(commit, view.states_of_source(src)?, filter));
        }
        // Counted as each example's state is known, none kept.
        let parts = view.fold_states(&|| Inventory::new(filter), &|inv, _, st| inv.add(st))?;
        let mut all = Inventory::new(filter);
        parts.into_iter().for_each(|p| all.merge(p));
        Ok(all.finish(commit))
    }
}

impl Repo {
    /// The examples due under `[retention]` at `as_of` (or within
    /// `within_days` after), of every example the ledger of `rev` (HEAD
    /// with the pending events when absent) knows — present or still held
    /// by history.
    pub fn retention(
        &self,
        rev: Option<CommitId>,
        as_of: i64,
        within_days: u32,
    ) -> Result<crate::retention::RetentionReport, RepoError> {
        let (commit, view) = self.commit_and_view(rev)?;
        let mut known = crate::retention::Known::default();
        view.each(&mut |e| {
            if let crate::ledger::Subject::Example(id) = &e.subject {
                let (state, added) = known.entry(*id).or_default();
                state.apply(&e.payload);
                if added.is_none() && matches!(e.payload, crate::ledger::Payload::Added { .. }) {
                    *added = Some(e.time);
                }
            }
            Ok::<(), RepoError>(())
        })?;
        let config = self.config()?;
        Ok(crate::retention::check(
            &commit.to_string(),
            &known,
            &config.retention,
            as_of,
            within_days,
        ))
    }
}
