//! `lineage`: the whole story of one example (`ledger::lineage`), read
//! through a ledger view.

use super::{Repo, RepoError};
use crate::id::CommitId;
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
        self.lineage_at(selector, None)
    }

    /// [`Repo::lineage`] as of `rev` (its ledger; `None`: HEAD with the
    /// current branch's pending events).
    pub fn lineage_at(&self, selector: &str, rev: Option<CommitId>) -> Result<Lineage, RepoError> {
        // One view for both reads: the limit is read once.
        let view = self.ledger_view_as_of(rev)?.with_voided();
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
        trainings.retain(|t| !voided.contains_key(&t.hash()));
        let voids = events
            .iter()
            .map(|e| view.void_reason(e))
            .collect::<Result<Vec<_>, _>>()?;
        let mut l = Lineage::of(id, &events, &trainings, &heads, &voids);
        l.branches = self.branch_presence(&id)?;
        l.described_by = self.describing_rows(l.locator.as_str(), rev)?;
        Ok(l)
    }

    /// The rows of the linked tables of `rev` (default HEAD) that name
    /// the file at `path`.
    fn describing_rows(&self, path: &str, rev: Option<CommitId>) -> Result<Vec<String>, RepoError> {
        let config = self.config()?;
        let mut out = Vec::new();
        let Some(head) = rev.map_or_else(|| self.head_commit(), |r| Ok(Some(r)))? else {
            return Ok(out);
        };
        let mut commit = None;
        for (table, link) in config.links() {
            let dataset = link.dataset.trim_end_matches('/');
            if !path.starts_with(&format!("{dataset}/")) {
                continue;
            }
            let c = match &commit {
                Some(c) => c,
                None => commit.insert(self.read_commit(head)?),
            };
            let Some(t) = c.tables.iter().find(|t| t.path == table) else {
                continue;
            };
            let m = self.read_manifest(t.manifest)?;
            let keyed = !m.key.is_empty();
            for row in self.manifest_rows(Some(&m))? {
                let v = super::examples::link_value(&row.body, &link.column);
                if v.is_some_and(|v| super::examples::links_to(dataset, &v, path)) {
                    let l = crate::ledger::Locator::row(table, keyed, &row.ident);
                    out.push(l.as_str().to_string());
                }
            }
        }
        Ok(out)
    }

    /// Per branch whose ledger mentions example `id`: whether it holds it,
    /// and when it was added and removed there (the current branch with
    /// the events waiting on it).
    fn branch_presence(
        &self,
        id: &crate::ledger::ExampleId,
    ) -> Result<Vec<crate::ledger::lineage::BranchPresence>, RepoError> {
        let current = match self.refs.head()? {
            crate::refs::Head::Branch(b) => Some(b),
            crate::refs::Head::Detached(_) => None,
        };
        let mut out = Vec::new();
        for (b, tip) in self.refs.list(crate::refs::RefKind::Branch)? {
            let view = if current.as_deref() == Some(b.as_str()) {
                self.ledger_view()?
            } else {
                self.ledger_view_at(tip?)?
            };
            let ex = Term::Example(id).key();
            let mut events = Vec::new();
            view.read(&Some(vec![(ex, ex)]), &|_| true, &mut |e| {
                if e.subject == Subject::Example(*id) {
                    events.push(e);
                }
                Ok::<(), RepoError>(())
            })?;
            if events.is_empty() {
                continue;
            }
            // The view skips voided events: every event here counts.
            let l = Lineage::of(*id, &events, &[], &view.heads(), &[]);
            out.push(crate::ledger::lineage::BranchPresence {
                branch: b,
                present: l.added_in.is_some() && l.removed_in.is_none(),
                added_in: l.added_in,
                removed_in: l.removed_in,
            });
        }
        Ok(out)
    }
}
