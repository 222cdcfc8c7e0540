//! `prove` and `verify-proof`: Merkle inclusion proofs that an example's
//! events are in the ledger a commit attests.

use serde::{Deserialize, Serialize};

use super::{Repo, RepoError};
use crate::id::{CommitId, ObjectId};
use crate::ledger::merkle::{self, Hash};
use crate::ledger::{Event, LedgerLog, Subject};
use crate::object::Commit;

/// Format version of proofs.
pub const PROOF_VERSION: u32 = 1;

/// One event and its inclusion path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenEvent {
    /// Its sequence number (its leaf index).
    pub seq: u64,
    /// The event's canonical encoding, hex.
    pub encoding: String,
    /// Sibling hashes from the leaf up, hex (RFC 6962 audit path).
    pub path: Vec<String>,
}

/// A self-contained proof: the commit (its bytes, so its id can be
/// re-hashed), the ledger head it records, and each event with its path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// [`PROOF_VERSION`].
    pub version: u32,
    /// The commit id.
    pub commit: String,
    /// The commit's canonical encoding, hex.
    pub commit_encoding: String,
    /// Ledger size the commit attests.
    pub size: u64,
    /// Merkle root the commit attests, hex.
    pub root: String,
    /// The example id, hex.
    pub example: String,
    /// Its events up to the commit's head.
    pub events: Vec<ProvenEvent>,
}

/// What a valid proof shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProofCheck {
    /// The commit whose ledger head includes the events.
    pub commit: String,
    /// The example.
    pub example: String,
    /// How many of its events were proven.
    pub events: usize,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn unhex32(s: &str) -> Option<Hash> {
    unhex(s)?.try_into().ok()
}

impl Repo {
    /// A proof that the events of the example named by `selector` are in
    /// the ledger commit `rev` attests. Reads every event hash up to the
    /// commit's head (32 bytes an event).
    pub fn prove(&self, selector: &str, rev: CommitId) -> Result<Proof, RepoError> {
        let example = self.resolve_example(selector)?;
        let commit = self.read_commit(rev)?;
        let Some((size, root)) = commit.ledger else {
            return Err(RepoError::Refused(format!(
                "commit {} records no ledger head: it has no events to prove",
                rev.0.short(12)
            )));
        };
        let mut leaves = Vec::with_capacity(size as usize);
        let mut mine: Vec<(u64, Vec<u8>)> = Vec::new();
        LedgerLog::new(&self.ledger_dir()).scan_upto(size, |e, h| {
            leaves.push(merkle::leaf(h));
            if e.subject == Subject::Example(example) {
                mine.push((e.seq, e.encode()));
            }
            Ok(())
        })?;
        if (leaves.len() as u64) < size || merkle::root(&leaves) != root {
            return Err(RepoError::Refused(
                "the ledger does not match the head this commit records: run `folio verify`".into(),
            ));
        }
        if mine.is_empty() {
            return Err(RepoError::Refused(format!(
                "'{selector}' has no events in the ledger commit {} attests",
                rev.0.short(12)
            )));
        }
        let events = mine
            .into_iter()
            .map(|(seq, enc)| ProvenEvent {
                seq,
                path: merkle::inclusion_path(&leaves, seq as usize)
                    .iter()
                    .map(|h| hex(h))
                    .collect(),
                encoding: hex(&enc),
            })
            .collect();
        Ok(Proof {
            version: PROOF_VERSION,
            commit: rev.to_string(),
            commit_encoding: hex(&commit.encode()),
            size,
            root: hex(&root),
            example: example.to_hex(),
            events,
        })
    }
}

/// Checks a proof on its own: the commit bytes hash to the commit id and
/// record the proof's head; every event decodes, is about the example, and
/// its inclusion path leads to the root. The error says what failed.
pub fn verify_proof(p: &Proof) -> Result<ProofCheck, String> {
    if p.version != PROOF_VERSION {
        return Err(format!("unsupported proof version {}", p.version));
    }
    let commit_bytes = unhex(&p.commit_encoding).ok_or("commit_encoding is not hex")?;
    let commit_id: ObjectId = p.commit.parse().map_err(|_| "commit is not an id")?;
    if ObjectId::of(&commit_bytes) != commit_id {
        return Err("the commit bytes do not hash to the commit id".into());
    }
    let commit = Commit::decode(&commit_bytes).map_err(|e| format!("commit: {e}"))?;
    let root = unhex32(&p.root).ok_or("root is not a 32-byte hex hash")?;
    if commit.ledger != Some((p.size, root)) {
        return Err("the commit does not record this ledger size and root".into());
    }
    let example = unhex32(&p.example).ok_or("example is not a 32-byte hex id")?;
    if p.events.is_empty() {
        return Err("the proof holds no events".into());
    }
    for pe in &p.events {
        let bytes = unhex(&pe.encoding).ok_or("an event encoding is not hex")?;
        let e = Event::decode(&bytes).map_err(|e| format!("event {}: {e}", pe.seq))?;
        if e.seq != pe.seq {
            return Err(format!("event {} claims sequence number {}", pe.seq, e.seq));
        }
        if e.subject != Subject::Example(crate::ledger::ExampleId(example)) {
            return Err(format!("event {} is about another subject", pe.seq));
        }
        let path: Vec<Hash> = pe
            .path
            .iter()
            .map(|h| unhex32(h).ok_or("a path hash is not 32-byte hex"))
            .collect::<Result<_, _>>()?;
        let leaf = merkle::leaf(blake3::hash(&bytes).as_bytes());
        if !merkle::verify_inclusion(&leaf, pe.seq, p.size, &path, &root) {
            return Err(format!(
                "event {} is not included in the ledger of {} events with this root",
                pe.seq, p.size
            ));
        }
    }
    Ok(ProofCheck {
        commit: p.commit.clone(),
        example: p.example.clone(),
        events: p.events.len(),
    })
}
