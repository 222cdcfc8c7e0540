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
        let judge = match adjudicator {
            Some(a) => Some(a.to_string()),
            None => self.config()?.quality.adjudicator,
        };
        let mut q = QualityBuilder::with_adjudicator(judge);
        self.ledger_view()?.each(&mut |e| {
            q.apply(&e);
            Ok::<(), RepoError>(())
        })?;
        Ok(q.finish(min_confidence))
    }
}
