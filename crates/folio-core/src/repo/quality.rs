//! `quality`: label agreement and what to relabel (`ledger::quality`),
//! read through a ledger view.

use super::{Repo, RepoError};
use crate::ledger::quality::{QualityBuilder, QualityReport};

impl Repo {
    /// Label quality over every annotation in the ledger.
    pub fn quality(&self, min_confidence: f64) -> Result<QualityReport, RepoError> {
        let mut q = QualityBuilder::default();
        self.ledger_view()?.each(&mut |e| {
            q.apply(&e);
            Ok::<(), RepoError>(())
        })?;
        Ok(q.finish(min_confidence))
    }
}
