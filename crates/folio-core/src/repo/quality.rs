//! `quality`: label agreement and what to relabel (`ledger::quality`),
//! read through a ledger view.

use super::{Repo, RepoError};
use crate::ledger::quality::{QualityBuilder, QualityReport};

impl Repo {
    /// Label quality over every annotation in the ledger; `adjudicator`
    /// (else the config's `[quality] adjudicator`) settles examples.
    pub fn quality(
        &self,
        min_confidence: f64,
        adjudicator: Option<&str>,
    ) -> Result<QualityReport, RepoError> {
        self.quality_at(min_confidence, adjudicator, None)
    }

    /// [`Repo::quality`] as of `rev` (its ledger; `None`: HEAD with the
    /// current branch's pending events).
    pub fn quality_at(
        &self,
        min_confidence: f64,
        adjudicator: Option<&str>,
        rev: Option<crate::id::CommitId>,
    ) -> Result<QualityReport, RepoError> {
        let judge = match adjudicator {
            Some(a) => Some(a.to_string()),
            None => self.config()?.quality.adjudicator,
        };
        let mut q = QualityBuilder::with_adjudicator(judge);
        let view = self.ledger_view_as_of(rev)?;
        view.each(&mut |e| {
            q.apply(&e);
            Ok::<(), RepoError>(())
        })?;
        Ok(q.finish(min_confidence))
    }
}
