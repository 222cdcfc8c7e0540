//! `lineage`: the whole story of one example (`ledger::lineage`), read
//! through a ledger view.

use super::{Repo, RepoError};
use crate::ledger::index::Term;
use crate::ledger::lineage::Lineage;
use crate::ledger::{Event, EventKind, ExampleId, Payload, Peek, Subject};

impl Repo {
    /// The example a selector names: an example id (or a unique prefix of
    /// 4+ hex digits), a file path, or `TABLE:KEY` for a row.
    pub fn resolve_example(&self, selector: &str) -> Result<ExampleId, RepoError> {
        self.ledger_view()?.resolve(selector)
    }

    /// The story of the example named by `selector` (see
    /// [`Repo::resolve_example`]).
    pub fn lineage(&self, selector: &str) -> Result<Lineage, RepoError> {
        // One view for both reads: the limit is read once.
        let view = self.ledger_view()?.with_voided();
        let id = view.resolve::<RepoError>(selector)?;
        let heads = view.heads();
        let mut events: Vec<Event> = Vec::new();
        let mut trainings: Vec<Event> = Vec::new();
        let (ex, tr) = (Term::Example(&id).key(), Term::Trained.key());
        let want = Some(vec![(ex, ex), (tr, tr)]);
        let keep = |raw: &[u8]| {
            Peek::new(raw)
                .is_none_or(|p| p.example == Some(&id.0[..]) || p.kind == EventKind::Trained)
        };
        view.read(&want, &keep, &mut |e| {
            if e.subject == Subject::Example(id) {
                events.push(e);
            } else if matches!(e.payload, Payload::Trained { .. }) {
                trainings.push(e);
            }
            Ok::<(), RepoError>(())
        })?;
        let voided = view.voided()?;
        trainings.retain(|t| !voided.contains(&t.hash()));
        Ok(Lineage::of(id, &events, &trainings, &heads))
    }
}
