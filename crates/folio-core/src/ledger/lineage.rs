//! An example's story: its events folded into what it is now, when it
//! was added and removed, and which models were trained on a commit that
//! held it.

use super::{Event, ExampleId, Payload, Subject};
use crate::id::CommitId;

/// One event in an example's story.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LineageEvent {
    /// Sequence number.
    pub seq: u64,
    /// UTC seconds.
    pub time: i64,
    /// Who recorded it.
    pub actor: String,
    /// Event kind.
    pub kind: &'static str,
    /// The commit it belongs to (whose ledger head first covers it).
    pub commit: Option<CommitId>,
    /// Kind-specific fields.
    pub payload: serde_json::Value,
    /// Why it was voided, when it was (it then counts for nothing).
    pub voided: Option<String>,
}

/// Where one branch stands with an example.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BranchPresence {
    /// The branch.
    pub branch: String,
    /// Whether the example is in the branch's data now.
    pub present: bool,
    /// The commit of that branch's history that added it last.
    pub added_in: Option<CommitId>,
    /// The commit that removed it, when it is gone.
    pub removed_in: Option<CommitId>,
}

/// The whole story of one example.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Lineage {
    /// Example id.
    pub example: ExampleId,
    /// Where it is (file path, or `TABLE:KEY`).
    pub locator: crate::ledger::Locator,
    /// Its dataset.
    pub dataset: Option<String>,
    /// Where it came from.
    pub source: Option<String>,
    /// When it was collected, as recorded.
    pub collected_at: Option<String>,
    /// The commit that added it.
    pub added_in: Option<CommitId>,
    /// The commit that removed it (absent while it is still present).
    pub removed_in: Option<CommitId>,
    /// The latest label.
    pub label: Option<String>,
    /// Who gave it.
    pub annotator: Option<String>,
    /// With what confidence.
    pub confidence: Option<f64>,
    /// The latest cost basis: acquisition plus labelling, exact, in
    /// millionths of the minor unit (not in JSON: see `cost`).
    #[serde(skip)]
    pub cost_micros: Option<i128>,
    /// The same, as an exact decimal amount of `currency` (`"0.001"`).
    pub cost: Option<String>,
    /// Its currency.
    pub currency: Option<String>,
    /// The latest sensitivity.
    pub sensitivity: Option<String>,
    /// The latest licence.
    pub license: Option<String>,
    /// Models trained on a commit that contains it: `model (run) on commit`.
    pub models: Vec<String>,
    /// Every event about it, in order.
    pub events: Vec<LineageEvent>,
    /// Per branch whose ledger mentions it: whether it holds it, and when it
    /// was added and removed there.
    pub branches: Vec<BranchPresence>,
    /// The rows of linked tables that describe this file at HEAD
    /// (`TABLE:KEY`; `[tables."…"] links`).
    pub described_by: Vec<String>,
}

impl Lineage {
    /// The story of example `id` from its `events` (in order), the
    /// `trainings` recorded on datasets, and the ledger sizes commits
    /// attest (`heads`, ascending: an event without a commit belongs to
    /// the first commit whose size exceeds its number); `voids[i]` says why
    /// `events[i]` is void (`None`, or `voids` shorter: it counts).
    pub fn of(
        id: ExampleId,
        events: &[Event],
        trainings: &[Event],
        heads: &[(u64, CommitId)],
        voids: &[Option<String>],
    ) -> Lineage {
        let commit_of = |seq: u64| heads.iter().find(|(size, _)| *size > seq).map(|(_, c)| *c);
        let mut l = Lineage {
            example: id,
            locator: Default::default(),
            dataset: None,
            source: None,
            collected_at: None,
            added_in: None,
            removed_in: None,
            label: None,
            annotator: None,
            confidence: None,
            cost_micros: None,
            cost: None,
            currency: None,
            sensitivity: None,
            license: None,
            models: Vec::new(),
            events: Vec::new(),
            branches: Vec::new(),
            described_by: Vec::new(),
        };
        // Events voided later stay in the story, marked, and count for nothing.
        // When the example was present: from its addition to its removal.
        let mut spans: Vec<(u64, u64)> = Vec::new();
        let mut st = super::ExampleState::default();
        for (i, e) in events.iter().enumerate() {
            let commit = e.commit.or_else(|| commit_of(e.seq));
            let void = voids.get(i).cloned().flatten();
            l.events.push(LineageEvent {
                seq: e.seq,
                time: e.time,
                actor: e.actor.clone(),
                kind: e.payload.kind().name(),
                commit,
                payload: e.payload.to_json(),
                voided: void.clone(),
            });
            if void.is_some() {
                continue;
            }
            st.apply(&e.payload);
            match &e.payload {
                Payload::Added { .. } => {
                    l.added_in = commit;
                    l.removed_in = None;
                    spans.push((e.seq, u64::MAX));
                }
                Payload::Removed { .. } => {
                    l.removed_in = commit;
                    if let Some(s) = spans.last_mut() {
                        s.1 = e.seq;
                    }
                }
                _ => {}
            }
        }
        l.locator = st.locator;
        l.dataset = (!st.dataset.is_empty()).then_some(st.dataset);
        l.source = st.source;
        l.collected_at = st.collected_at;
        l.label = st.label;
        l.annotator = st.annotator;
        l.confidence = st.confidence;
        l.cost_micros = st.cost.as_ref().map(|c| c.0);
        l.cost = st
            .cost
            .as_ref()
            .map(|(m, c)| super::money::format_micros(*m, c));
        l.currency = st.cost.map(|c| c.1);
        l.sensitivity = st.sensitivity;
        l.license = st.license;
        // A model trained on commit C saw the example when C's ledger head
        // covers its addition and not its removal.
        let size_of: std::collections::HashMap<String, u64> =
            heads.iter().map(|(s, c)| (c.to_string(), *s)).collect();
        for t in trainings {
            let (Payload::Trained { model, run }, Some(c)) = (&t.payload, t.commit) else {
                continue;
            };
            let Some(&size) = size_of.get(&c.to_string()) else {
                continue;
            };
            let same_dataset = matches!(&t.subject, Subject::Dataset(d) if l.dataset.as_deref() == Some(d.as_str()));
            if same_dataset && spans.iter().any(|&(a, r)| a < size && r >= size) {
                l.models.push(format!("{model} ({run}) on {}", c.short(12)));
            }
        }
        l
    }
}
