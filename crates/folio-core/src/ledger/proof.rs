//! Self-contained Merkle proofs that an example's events are in the ledger
//! a commit attests, and their check (which needs no repository).

use serde::{Deserialize, Serialize};

use super::merkle::{self, Hash};
use super::{Event, ExampleId, Payload, Subject};
use crate::error::ErrorKind;
use crate::id::{CommitId, ObjectId};
use crate::object::{Commit, DecodeError};

/// Why a proof cannot be made, or does not check.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The commit records no ledger head.
    #[error("commit {} records no ledger head: it has no events to prove", .0.0.short(12))]
    NoHead(CommitId),
    /// The ledger on disk does not produce the head the commit records.
    #[error("the ledger does not match the head this commit records: run `folio verify`")]
    LedgerMismatch,
    /// The example has no events up to the commit's head.
    #[error("'{selector}' has no events in the ledger commit {} attests", commit.0.short(12))]
    NoEvents {
        /// The selector given.
        selector: String,
        /// The commit.
        commit: CommitId,
    },
    /// A proof of another format version.
    #[error("unsupported proof version {0} (this folio reads version {PROOF_VERSION})")]
    Version(u32),
    /// A field that should be hex, an id or a hash is not.
    #[error("{0} is not {1}")]
    Field(&'static str, &'static str),
    /// The commit bytes do not hash to the commit id.
    #[error("the commit bytes do not hash to the commit id")]
    CommitHash,
    /// The commit bytes do not decode.
    #[error("commit: {0}")]
    Commit(DecodeError),
    /// The commit records another ledger head.
    #[error("the commit does not record this ledger size and root")]
    Head,
    /// No event to check.
    #[error("the proof holds no events")]
    Empty,
    /// An event does not decode.
    #[error("event {seq}: {source}")]
    Event {
        /// The sequence number the proof gives.
        seq: u64,
        /// Why it does not decode.
        source: super::event::EventDecodeError,
    },
    /// An event about another example.
    #[error("event {0} is about another subject")]
    Subject(u64),
    /// An inclusion path that does not lead to the root.
    #[error("event {seq} is not included in the ledger of {size} events with this root")]
    NotIncluded {
        /// The event.
        seq: u64,
        /// The ledger size.
        size: u64,
    },
}

impl ProofError {
    /// What kind of failure this is: a request the repository cannot
    /// answer, or a proof (or ledger) that does not check.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProofError::NoHead(_) | ProofError::NoEvents { .. } | ProofError::Version(_) => {
                ErrorKind::Invalid
            }
            _ => ErrorKind::Damaged,
        }
    }
}

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
    /// For a `Rows` event (a table's changed rows, by reference): the
    /// evidence that the example is a row of a table version it names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<RowEvidence>,
}

/// That an example is a row of a table version: the version's row
/// manifest and the chunk holding the row, both as stored (so their ids
/// re-hash), and the row's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowEvidence {
    /// The manifest's encoding, hex (its BLAKE3 is the id the event names).
    pub manifest: String,
    /// The chunk's encoding, hex (its BLAKE3 is listed in the manifest).
    pub chunk: String,
    /// The row's identity, hex (the example id derives from it and the
    /// table's path).
    pub ident: String,
    /// When the chunk the manifest lists was purged (D86): the purge
    /// record's encoding, hex, which pairs that chunk with the redacted
    /// chunk given in `chunk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge: Option<String>,
}

impl RowEvidence {
    /// The evidence of a manifest's and a chunk's bytes and a row identity.
    pub fn new(manifest: &[u8], chunk: &[u8], ident: &[u8]) -> RowEvidence {
        RowEvidence {
            manifest: hex(manifest),
            chunk: hex(chunk),
            ident: hex(ident),
            purge: None,
        }
    }
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
    pub commit: CommitId,
    /// The example.
    pub example: ExampleId,
    /// How many of its events were proven.
    pub events: usize,
    /// When the row's chunk was purged (D86): the purge record the row
    /// evidence rests on, and whether a `purged` event of the proof names
    /// it (then the ledger attests it; else only the record does).
    pub purge: Option<PurgeBasis>,
}

/// The purge a row's evidence rests on (D86).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PurgeBasis {
    /// The purge record's id.
    pub record: ObjectId,
    /// Whether a `purged` event of the proof names it.
    pub named: bool,
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

/// A proof of `example`'s events (`mine`: sequence number and encoding)
/// against the ledger of `leaves` (every event's leaf hash up to the
/// commit's head) that `commit` attests.
pub fn make(
    commit: CommitId,
    encoded_commit: &[u8],
    leaves: &[Hash],
    example: ExampleId,
    mine: Vec<(u64, Vec<u8>, Option<RowEvidence>)>,
) -> Proof {
    let events = mine
        .into_iter()
        .map(|(seq, enc, rows)| ProvenEvent {
            rows,
            seq,
            path: merkle::inclusion_path(leaves, seq as usize)
                .iter()
                .map(Hash::to_hex)
                .collect(),
            encoding: hex(&enc),
        })
        .collect();
    Proof {
        version: PROOF_VERSION,
        commit: commit.to_string(),
        commit_encoding: hex(encoded_commit),
        size: leaves.len() as u64,
        root: merkle::root(leaves).to_hex(),
        example: example.to_hex(),
        events,
    }
}

/// Whether `ev` shows that `example` is a row of a table version the
/// `Rows` event `e` names: the manifest re-hashes to the event's old or new
/// manifest, lists the chunk, and the chunk holds a row whose identity
/// gives the example.
fn row_of(e: &Event, ev: &RowEvidence, example: &ExampleId) -> bool {
    let Some(r) = e.payload.rows() else {
        return false;
    };
    let (Some(m), Some(c), Some(ident)) = (unhex(&ev.manifest), unhex(&ev.chunk), unhex(&ev.ident))
    else {
        return false;
    };
    let mid = ObjectId::of(&m);
    // A purged chunk: the record pairs the chunk the manifest lists with
    // the redacted one given (D86).
    let cid = match &ev.purge {
        None => ObjectId::of(&c),
        Some(rec) => {
            let Some(rec) = unhex(rec).and_then(|b| crate::purge::PurgeRecord::decode(&b).ok())
            else {
                return false;
            };
            let got = ObjectId::of(&c);
            match rec.redacted.iter().find(|(_, r)| *r == got) {
                Some((orig, _)) if crate::purge::check_redacted(orig, &c).is_ok() => *orig,
                _ => return false,
            }
        }
    };
    if r.old != Some(mid) && r.new != Some(mid) {
        return false;
    }
    let Ok(manifest) = crate::table::manifest::Manifest::decode(mid, &m) else {
        return false;
    };
    if !manifest
        .chunks
        .iter()
        .any(|x| x.id.0 == cid || x.skeleton.is_some_and(|s| s.0 == cid))
    {
        return false;
    }
    let Ok(rows) = crate::table::manifest::decode_chunk(cid, &c) else {
        return false;
    };
    ExampleId::row(&r.table, &ident) == *example && rows.iter().any(|x| x.ident == ident)
}

/// The purge record a row evidence rests on, if any.
fn purge_of(ev: &RowEvidence) -> Option<ObjectId> {
    ev.purge
        .as_ref()
        .and_then(|h| unhex(h))
        .map(|b| ObjectId::of(&b))
}

/// Checks a proof on its own: the commit bytes hash to the commit id and
/// record the proof's head; every event decodes, is about the example, and
/// its inclusion path leads to the root. The error says what failed.
pub fn verify(p: &Proof) -> Result<ProofCheck, ProofError> {
    if p.version != PROOF_VERSION {
        return Err(ProofError::Version(p.version));
    }
    let commit_bytes =
        unhex(&p.commit_encoding).ok_or(ProofError::Field("commit_encoding", "hex"))?;
    let commit_id: ObjectId = p
        .commit
        .parse()
        .map_err(|_| ProofError::Field("commit", "an id"))?;
    if ObjectId::of(&commit_bytes) != commit_id {
        return Err(ProofError::CommitHash);
    }
    let commit = Commit::decode(&commit_bytes).map_err(ProofError::Commit)?;
    let root = Hash::from_hex(&p.root).ok_or(ProofError::Field("root", "a 32-byte hex hash"))?;
    if commit.ledger != Some((p.size, root)) {
        return Err(ProofError::Head);
    }
    let example =
        Hash::from_hex(&p.example).ok_or(ProofError::Field("example", "a 32-byte hex id"))?;
    if p.events.is_empty() {
        return Err(ProofError::Empty);
    }
    for pe in &p.events {
        let bytes = unhex(&pe.encoding).ok_or(ProofError::Field("an event encoding", "hex"))?;
        let e = Event::decode(&bytes).map_err(|source| ProofError::Event {
            seq: pe.seq,
            source,
        })?;
        let about = match (&e.subject, &pe.rows) {
            (Subject::Example(x), None) => *x == ExampleId(example.0),
            (Subject::Dataset(_), Some(ev)) => row_of(&e, ev, &ExampleId(example.0)),
            _ => false,
        };
        if !about {
            return Err(ProofError::Subject(pe.seq));
        }
        let path: Vec<Hash> = pe
            .path
            .iter()
            .map(|h| Hash::from_hex(h).ok_or(ProofError::Field("a path hash", "32-byte hex")))
            .collect::<Result<_, _>>()?;
        let leaf = merkle::leaf(&Hash::of(&bytes));
        if !merkle::verify_inclusion(&leaf, pe.seq, p.size, &path, &root) {
            return Err(ProofError::NotIncluded {
                seq: pe.seq,
                size: p.size,
            });
        }
    }
    let purge = p
        .events
        .iter()
        .filter_map(|pe| pe.rows.as_ref().and_then(purge_of))
        .next()
        .map(|rid| {
            let named = p.events.iter().any(|pe| {
                unhex(&pe.encoding)
                    .and_then(|b| Event::decode(&b).ok())
                    .is_some_and(
                        |e| matches!(e.payload, Payload::Purged { record, .. } if record == rid),
                    )
            });
            PurgeBasis { record: rid, named }
        });
    Ok(ProofCheck {
        commit: CommitId(commit_id),
        example: ExampleId(example.0),
        events: p.events.len(),
        purge,
    })
}
