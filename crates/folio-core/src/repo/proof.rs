//! `prove`: Merkle inclusion proofs that an example's events are in the
//! ledger a commit attests (the format and its check: `ledger::proof`).

use super::{Repo, RepoError};
use crate::id::CommitId;
use crate::ledger::merkle;
use crate::ledger::merkle::Hash;
use crate::ledger::proof::{self, Proof, ProofError};

impl Repo {
    /// A proof that the events of the example named by `selector` are in
    /// the ledger commit `rev` attests. Reads every event hash up to the
    /// commit's head (32 bytes an event).
    pub fn prove(&self, selector: &str, rev: CommitId) -> Result<Proof, RepoError> {
        let example = self.ledger_view_at(rev)?.resolve::<RepoError>(selector)?;
        let commit = self.read_commit(rev)?;
        let Some((size, root)) = commit.ledger else {
            return Err(ProofError::NoHead(rev).into());
        };
        let mut leaves = Vec::with_capacity(size as usize);
        let mut mine: Vec<(u64, Vec<u8>)> = Vec::new();
        self.ledger_view_at(rev)?
            .with_voided()
            .read_raw(&None, &mut |raw, p| {
                leaves.push(merkle::leaf(&Hash::of(raw)));
                if p.example == Some(&example.0[..]) {
                    mine.push((p.seq, raw.to_vec()));
                }
                Ok(true)
            })?;
        if (leaves.len() as u64) < size || merkle::root(&leaves) != root {
            return Err(ProofError::LedgerMismatch.into());
        }
        if mine.is_empty() {
            return Err(ProofError::NoEvents {
                selector: selector.to_string(),
                commit: rev,
            }
            .into());
        }
        Ok(proof::make(rev, &commit.encode(), &leaves, example, mine))
    }
}
