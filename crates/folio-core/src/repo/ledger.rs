//! The ledger as the repository reads and writes it: how far readers
//! see, views as of a revision, appends, the derived index, and which
//! commit attests which events.

use super::{Repo, RepoError};
use crate::id::CommitId;
use crate::ledger::index::LedgerIndex;
use crate::ledger::query::LedgerView;
use crate::ledger::{Draft, ExportedEvent, Ledger, LedgerLog};
use crate::lock::RepoLock;

impl Repo {
    /// Appends events recorded without a commit (settled at once, attested
    /// by the next commit); returns how many.
    pub(crate) fn record(&self, lock: &RepoLock, drafts: Vec<Draft>) -> Result<u64, RepoError> {
        if let Some(d) = drafts.first() {
            crate::ledger::values::text("the actor", &d.actor, crate::ledger::values::MAX_NAME)?;
        }
        let head = match self.head_commit()? {
            Some(h) => self.read_commit(h)?.ledger,
            None => None,
        };
        let attested = head.map(|(size, root)| crate::ledger::Head { size, root });
        let mut ledger = Ledger::open(&self.ledger_dir(), attested)?;
        let n = drafts.len() as u64;
        let cp = ledger.append(drafts)?;
        ledger.settle(cp)?;
        // Derived: a failure leaves the index behind, which readers detect.
        let _ = self.update_ledger_index(lock);
        Ok(n)
    }

    /// How many events readers see: the saved checkpoint's count, or the
    /// count HEAD attests when a crash left the checkpoint behind it.
    pub(crate) fn ledger_limit(&self) -> Result<u64, RepoError> {
        let saved = crate::ledger::saved_head(&self.ledger_dir())?.size;
        let attested = match self.head_commit()? {
            Some(h) => self.read_commit(h)?.ledger.map_or(0, |(s, _)| s),
            None => 0,
        };
        Ok(saved.max(attested))
    }

    /// Brings the ledger index up to the committed ledger (under the lock).
    pub(crate) fn update_ledger_index(&self, _lock: &RepoLock) -> Result<u64, RepoError> {
        let index = LedgerIndex::open_rw(&self.index_dir())?;
        let log = LedgerLog::new(&self.ledger_dir());
        Ok(index.update(&log, self.ledger_limit()?)?)
    }

    /// Every event, in order, with its hashes (for export).
    pub fn export_ledger(&self, each: &mut dyn FnMut(ExportedEvent)) -> Result<u64, RepoError> {
        let cp = LedgerLog::new(&self.ledger_dir()).scan(|e, _| {
            each(ExportedEvent::from(e));
            Ok(())
        })?;
        Ok(cp.frontier.size)
    }

    /// Ledger sizes recorded by the commits reachable from HEAD, sorted:
    /// the events of a commit lie between its parent's size and its own.
    pub(crate) fn commit_heads(&self) -> Result<Vec<(u64, CommitId)>, RepoError> {
        let mut out = Vec::new();
        let Some(head) = self.head_commit()? else {
            return Ok(out);
        };
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![head];
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let c = self.read_commit(id)?;
            stack.extend(c.parents.iter().copied());
            if let Some((size, _)) = c.ledger {
                out.push((size, id));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The ledger as readers see it now: the settled events (HEAD's and
    /// those recorded since).
    pub fn ledger_view(&self) -> Result<LedgerView, RepoError> {
        Ok(LedgerView::new(
            &self.ledger_dir(),
            &self.index_dir(),
            self.ledger_limit()?,
        ))
    }

    /// The ledger as of commit `rev`: the events its ledger head attests.
    pub fn ledger_view_at(&self, rev: CommitId) -> Result<LedgerView, RepoError> {
        let size = self.read_commit(rev)?.ledger.map_or(0, |(s, _)| s);
        Ok(LedgerView::new(&self.ledger_dir(), &self.index_dir(), size))
    }
}
