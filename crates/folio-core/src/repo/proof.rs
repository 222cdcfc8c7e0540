//! `prove`: Merkle inclusion proofs that an example's events are in the
//! ledger a commit attests (the format and its check: `ledger::proof`).

use super::{Repo, RepoError};
use crate::id::CommitId;
use crate::ledger::index::Term;
use crate::ledger::merkle;
use crate::ledger::merkle::Hash;
use crate::ledger::proof::{self, Proof, ProofError, RowEvidence};
use crate::ledger::query::LedgerView;
use crate::ledger::{Event, EventKind};

impl Repo {
    /// A proof that the events of the example named by `selector` are in
    /// the ledger commit `rev` attests. Reads every event hash up to the
    /// commit's head (32 bytes an event).
    pub fn prove(&self, selector: &str, rev: CommitId) -> Result<Proof, RepoError> {
        let view = self.ledger_view_at(rev)?.with_voided();
        let example = view.resolve::<RepoError>(selector)?;
        let commit = self.read_commit(rev)?;
        let Some((size, root)) = commit.ledger else {
            return Err(ProofError::NoHead(rev).into());
        };
        // The positions of the `Rows` events that stand for some of the
        // example's events (a row event has its `Rows` event's position).
        let ex = Term::Example(&example).key();
        let mut any_at = std::collections::BTreeSet::new();
        view.read_raw(&Some(vec![(ex, ex)]), &mut |_, p| {
            if p.example == Some(&example.0[..]) {
                any_at.insert(p.seq);
            }
            Ok(true)
        })?;
        let mut leaves = Vec::with_capacity((size as usize).min(1 << 20));
        let mut mine: Vec<(u64, Vec<u8>, Option<RowEvidence>)> = Vec::new();
        let mut rows_at: Vec<(u64, Vec<u8>)> = Vec::new();
        // The same ledger, as stored: the Merkle leaves.
        LedgerView::new(&self.store, &self.index_dir(), view.parts().to_vec())
            .with_voided()
            .stored()
            .read_raw(&None, &mut |raw, p| {
                leaves.push(merkle::leaf(&Hash::of(raw)));
                if p.example == Some(&example.0[..]) {
                    mine.push((p.seq, raw.to_vec(), None));
                } else if p.kind == EventKind::Rows && any_at.contains(&p.seq) {
                    rows_at.push((p.seq, raw.to_vec()));
                }
                Ok(true)
            })?;
        if (leaves.len() as u64) < size || merkle::root(&leaves) != root {
            return Err(ProofError::LedgerMismatch.into());
        }
        for (seq, raw) in rows_at {
            let e = Event::decode(&raw).map_err(|d| crate::ledger::batch::LogError::Chain {
                seq,
                detail: d.to_string(),
            })?;
            if let Some(ev) = self.row_evidence(&e, &example)? {
                mine.push((seq, raw, Some(ev)));
            }
        }
        mine.sort_by_key(|m| m.0);
        if mine.is_empty() {
            return Err(ProofError::NoEvents {
                selector: selector.to_string(),
                commit: rev,
            }
            .into());
        }
        Ok(proof::make(rev, &commit.encode(), &leaves, example, mine))
    }

    /// The manifest and chunk showing that `example` is a row of a table
    /// version `Rows` event `e` names (the new one first).
    fn row_evidence(
        &self,
        e: &Event,
        example: &crate::ledger::ExampleId,
    ) -> Result<Option<RowEvidence>, RepoError> {
        let Some(r) = e.payload.rows() else {
            return Ok(None);
        };
        for m in [r.new, r.old].into_iter().flatten() {
            let bytes = self.store.get(&m)?;
            let manifest = crate::table::manifest::Manifest::decode(m, &bytes)?;
            for c in &manifest.chunks {
                // A sealed chunk's skeleton is the evidence: it names the
                // row without showing its cells (D83).
                let cid = c.skeleton.map_or(c.id.0, |s| s.0);
                let chunk = self.store.get(&cid)?;
                for row in crate::table::manifest::decode_chunk(cid, &chunk)? {
                    if crate::ledger::ExampleId::row(&r.table, &row.ident) == *example {
                        let mut ev = RowEvidence::new(&bytes, &chunk, &row.ident);
                        // A purged chunk's stand-in comes with the record
                        // that pairs the two (D86).
                        if let Some((_, record)) = self.store.purged().redacted.get(&cid) {
                            ev.purge = Some(
                                self.store
                                    .get(record)?
                                    .iter()
                                    .map(|b| format!("{b:02x}"))
                                    .collect(),
                            );
                        }
                        return Ok(Some(ev));
                    }
                }
            }
        }
        Ok(None)
    }
}
