//! `audit`: the inventory of a revision (`ledger::inventory`), read
//! through a ledger view.

use super::{Repo, RepoError};
use crate::id::CommitId;
use crate::ledger::inventory::{AuditFilter, AuditReport};

impl Repo {
    /// The inventory of the examples present at `rev`, from every event up
    /// to the ledger head `rev` records; with `rev` absent, of HEAD with
    /// every event recorded since (labels, costs, classes not yet attested
    /// by a commit).
    pub fn audit(
        &self,
        rev: Option<CommitId>,
        filter: &AuditFilter,
    ) -> Result<AuditReport, RepoError> {
        let commit = match rev {
            Some(r) => r,
            None => self.head_commit()?.ok_or(RepoError::NoCommits)?,
        };
        let view = match rev {
            Some(r) => self.ledger_view_at(r)?,
            None => self.ledger_view()?,
        };
        let states = match &filter.source {
            Some(src) => view.states_of_source(src)?,
            None => view.states()?,
        };
        Ok(AuditReport::of(commit, &states, filter))
    }
}
