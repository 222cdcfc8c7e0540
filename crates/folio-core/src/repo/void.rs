//! `ledger void`: corrections as new events. A voided event stays in the
//! ledger (and in `lineage`, marked); no view counts it.

use std::collections::BTreeSet;

use super::{Recorder, Repo, RepoError};
use crate::id::CommitId;
use crate::ledger::index::Term;
use crate::ledger::{Draft, Event, EventKind, Payload, Subject, values};
use crate::lock::RepoLock;

/// Which events to void.
#[derive(Debug, Clone)]
pub enum VoidTarget {
    /// Events by their position in the current branch's ledger.
    Seqs(Vec<u64>),
    /// The events a commit brought (its own batches).
    Commit(CommitId),
    /// The events of one batch (a full id or a unique prefix of 8+ hex
    /// digits), committed or pending.
    Batch(String),
}

/// One event a void names.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VoidedEvent {
    /// Its position in the current ledger.
    pub seq: u64,
    /// Its kind.
    pub kind: &'static str,
    /// What it is about: `example:<id>` or `dataset:<path>`.
    pub subject: String,
}

impl Repo {
    /// Voids the targeted events of the current branch's ledger, for
    /// `reason`; returns them. Refuses a target that is itself a void, or
    /// already void, or that the ledger does not hold; nothing is recorded
    /// then.
    pub fn void(
        &self,
        lock: &RepoLock,
        target: &VoidTarget,
        reason: &str,
        who: &Recorder,
    ) -> Result<Vec<VoidedEvent>, RepoError> {
        if reason.trim().is_empty() {
            return Err(RepoError::VoidRefused(
                "give the reason with --reason".into(),
            ));
        }
        values::text("the reason", reason, values::MAX_TEXT)?;
        let view = self.ledger_view()?.with_voided().stored();
        let already = view.voided()?;
        let batch = match target {
            VoidTarget::Batch(prefix) => Some(self.batch_in_view(&view, prefix)?),
            _ => None,
        };
        let wanted = |e: &Event| -> bool {
            let part = view.part_of(e.seq);
            match target {
                VoidTarget::Seqs(s) => s.contains(&e.seq),
                VoidTarget::Commit(c) => part.is_some_and(|p| p.commit == Some(*c)),
                VoidTarget::Batch(_) => part.is_some_and(|p| Some(p.batch) == batch),
            }
        };
        let mut found: Vec<Event> = Vec::new();
        view.each(&mut |e| {
            if wanted(&e) {
                found.push(e);
            }
            Ok::<(), RepoError>(())
        })?;
        if let VoidTarget::Seqs(s) = target {
            let have: BTreeSet<u64> = found.iter().map(|e| e.seq).collect();
            if let Some(missing) = s.iter().find(|x| !have.contains(x)) {
                return Err(RepoError::VoidRefused(format!(
                    "the ledger of this branch holds no event #{missing} (`folio ledger export` lists them)"
                )));
            }
        }
        if found.is_empty() {
            return Err(RepoError::VoidRefused("no event matches".into()));
        }
        for e in &found {
            if e.payload.kind() == EventKind::Voided {
                return Err(RepoError::VoidRefused(format!(
                    "event #{} is itself a void; record the voided fact again instead",
                    e.seq
                )));
            }
            if already.contains_key(&e.hash()) {
                return Err(RepoError::VoidRefused(format!(
                    "event #{} is void already",
                    e.seq
                )));
            }
        }
        let head = self.head_commit()?;
        let drafts: Vec<Draft> = found
            .iter()
            .map(|e| Draft {
                time: who.time,
                actor: who.actor.clone(),
                commit: head,
                subject: e.subject.clone(),
                payload: Payload::Voided {
                    target: e.hash(),
                    reason: reason.to_string(),
                },
            })
            .collect();
        self.record(lock, who, drafts)?;
        Ok(found
            .iter()
            .map(|e| VoidedEvent {
                seq: e.seq,
                kind: e.payload.kind().name(),
                subject: match &e.subject {
                    Subject::Example(x) => format!("example:{x}"),
                    Subject::Dataset(d) => format!("dataset:{d}"),
                },
            })
            .collect())
    }

    /// The one batch of the view whose id starts with `prefix`.
    fn batch_in_view(
        &self,
        view: &crate::ledger::query::LedgerView<'_>,
        prefix: &str,
    ) -> Result<crate::id::ObjectId, RepoError> {
        let p = prefix.to_ascii_lowercase();
        if p.len() < 8 || !crate::id::is_hex(&p) {
            return Err(RepoError::VoidRefused(format!(
                "'{prefix}' is not a batch id: give 8 or more hex digits (`folio ledger export` shows each event's batch)"
            )));
        }
        let hits: BTreeSet<crate::id::ObjectId> = view
            .parts()
            .iter()
            .map(|x| x.batch)
            .filter(|b| b.to_hex().starts_with(&p))
            .collect();
        match hits.len() {
            1 => Ok(*hits.first().expect("one")),
            0 => Err(RepoError::VoidRefused(format!(
                "no batch of this branch's ledger starts with '{prefix}'"
            ))),
            _ => Err(RepoError::VoidRefused(format!(
                "'{prefix}' names several batches: give more digits"
            ))),
        }
    }

    /// Whether model `model`'s run `run` on `rev` is recorded in the
    /// current ledger (and not void).
    pub(crate) fn training_recorded(
        &self,
        rev: CommitId,
        model: &str,
        run: &str,
    ) -> Result<bool, RepoError> {
        let t = Term::Trained.key();
        let mut found = false;
        self.ledger_view()?
            .read(&Some(vec![(t, t)]), &|_| true, &mut |e| {
                if let Payload::Trained { model: m, run: r } = &e.payload {
                    found |= e.commit == Some(rev) && m == model && r == run;
                }
                Ok::<(), RepoError>(())
            })?;
        Ok(found)
    }
}
