//! The ledger: an append-only, Merkle-attested record of what happened to
//! every example, that follows history.
//!
//! Events travel in immutable, content-addressed batches. A commit lists
//! the batches it brings; the ledger of a revision is the batches of its
//! history in a fixed order (a commit's ledger extends its first parent's:
//! the batches a merge brings from its other parents, oldest first, then
//! its own), and the commit records the head (event count and RFC 6962
//! root) of that ledger, so a commit id attests every event its history
//! holds, and what a branch recorded is invisible from another until
//! merged.

pub mod batch;
pub mod event;
pub mod index;
pub mod inventory;
pub(crate) mod legacy;
pub mod lineage;
pub mod merkle;
pub mod money;
pub mod proof;
pub mod quality;
pub mod query;
pub mod rows;
pub mod terms;
pub mod values;

pub use batch::LogError;
pub use event::{
    Event, EventKind, ExampleId, ExportedEvent, IdMap, Locator, Payload, Peek, Subject, TableRows,
};

use crate::id::CommitId;

/// What the ledger says of one example: the fold of its events, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExampleState {
    /// Where it is.
    pub locator: Locator,
    /// Its dataset.
    pub dataset: String,
    /// Where it came from.
    pub source: Option<String>,
    /// When it was collected.
    pub collected_at: Option<String>,
    /// Added and not removed since.
    pub present: bool,
    /// The latest label.
    pub label: Option<String>,
    /// Who gave it.
    pub annotator: Option<String>,
    /// With what confidence.
    pub confidence: Option<f64>,
    /// The latest cost basis (acquisition plus labelling, in millionths
    /// of the minor unit: exact, see `money::parse_micros`) and currency.
    pub cost: Option<(i128, String)>,
    /// The latest sensitivity.
    pub sensitivity: Option<String>,
    /// The latest licence.
    pub license: Option<String>,
    /// Its content was purged (`folio purge`): no snapshot holds it.
    pub purged: bool,
}

impl ExampleState {
    /// Applies the next event about the example.
    pub fn apply(&mut self, p: &Payload) {
        // Events that change no example's state are not copied.
        if !matches!(
            p,
            Payload::Trained { .. }
                | Payload::Impaired { .. }
                | Payload::Voided { .. }
                | Payload::Rows(_)
        ) {
            self.take(p.clone())
        }
    }

    /// Applies the next event about the example, taking its values.
    pub fn take(&mut self, p: Payload) {
        match p {
            Payload::Added {
                dataset,
                locator,
                source,
                collected_at,
            } => {
                if collected_at.is_some() {
                    self.collected_at = collected_at;
                }
                self.present = true;
                self.dataset = dataset;
                self.locator = locator;
                if source.is_some() {
                    self.source = source;
                }
            }
            Payload::Removed { locator } => {
                self.present = false;
                self.locator = locator;
            }
            Payload::Annotated {
                label,
                annotator,
                confidence,
            } => {
                self.label = Some(label);
                self.annotator = annotator;
                self.confidence = confidence;
            }
            p @ Payload::Valued { .. } => {
                self.cost = p.cost_micros().map(|(m, c)| (m, c.to_string()))
            }
            Payload::Reclassified { sensitivity } => self.sensitivity = Some(sensitivity),
            Payload::Licensed { license } => self.license = Some(license),
            // A view expands `Rows` into its rows' events before they get here.
            Payload::Trained { .. }
            | Payload::Impaired { .. }
            | Payload::Voided { .. }
            | Payload::Rows(_) => {}
            Payload::Purged { .. } => self.purged = true,
        }
    }
}

/// An event before it is placed in the chain.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// Who records it.
    pub actor: String,
    /// The commit it belongs to, when known at recording time.
    pub commit: Option<CommitId>,
    /// What it is about.
    pub subject: Subject,
    /// What happened.
    pub payload: Payload,
}

impl From<Draft> for Event {
    fn from(d: Draft) -> Event {
        Event {
            seq: 0,
            time: d.time,
            actor: d.actor,
            commit: d.commit,
            subject: d.subject,
            payload: d.payload,
        }
    }
}

/// A ledger's head: how many events, and the RFC 6962 root over their
/// hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Number of events.
    pub size: u64,
    /// RFC 6962 root over their hashes.
    pub root: merkle::Hash,
}

impl Head {
    /// The head of the leaves a frontier covers.
    pub fn of(f: &merkle::Frontier) -> Head {
        Head {
            size: f.size,
            root: f.root(),
        }
    }
}
