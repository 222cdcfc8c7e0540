//! `lineage` and `ledger export`: reading the ledger.

use std::collections::BTreeMap;

use super::{Repo, RepoError};
use crate::id::{CommitId, ObjectId};
use crate::ledger::index::{LedgerIndex, Term};
use crate::ledger::log::{FrameRef, Keep};
use crate::ledger::query::SelectError;
use crate::ledger::{
    Event, EventKind, ExampleId, ExportedEvent, LedgerLog, Payload, Peek, Subject,
};
use crate::lock::RepoLock;

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
    pub commit: Option<String>,
    /// Kind-specific fields.
    pub payload: serde_json::Value,
}

/// The whole story of one example.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Lineage {
    /// Example id.
    pub example: String,
    /// Where it is (file path, or `TABLE:KEY`).
    pub locator: crate::ledger::Locator,
    /// Its dataset.
    pub dataset: Option<String>,
    /// Where it came from.
    pub source: Option<String>,
    /// When it was collected, as recorded.
    pub collected_at: Option<String>,
    /// The commit that added it.
    pub added_in: Option<String>,
    /// The commit that removed it (absent while it is still present).
    pub removed_in: Option<String>,
    /// The latest label.
    pub label: Option<String>,
    /// Who gave it.
    pub annotator: Option<String>,
    /// With what confidence.
    pub confidence: Option<f64>,
    /// The latest cost basis: acquisition plus labelling, in minor units.
    pub cost_minor: Option<i64>,
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
}

/// Which events a ledger read needs: `None` for all of them, or inclusive
/// ranges of index terms (see [`Term::key`]).
pub(crate) type Want = Option<Vec<(u64, u64)>>;

/// The inclusive term range of an example-id prefix of 4 to 64 hex digits.
fn prefix_range(prefix: &str) -> (u64, u64) {
    let digits = &prefix[..prefix.len().min(16)];
    let lo = format!("{digits:0<16}");
    let hi = format!("{digits:f<16}");
    (
        u64::from_str_radix(&lo, 16).unwrap_or(0),
        u64::from_str_radix(&hi, 16).unwrap_or(u64::MAX),
    )
}

impl Repo {
    /// How many events readers see: the saved checkpoint's count, or the
    /// count HEAD attests when a crash left the checkpoint behind it.
    pub(crate) fn ledger_limit(&self) -> Result<u64, RepoError> {
        let saved = crate::ledger::saved_head(&self.ledger_dir()).size;
        let attested = match self.refs.head_commit()? {
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

    /// The frames that may hold events for `want`: with the index, the
    /// frames it names and every frame past it; without it, or when the
    /// ledger was rewritten under it, every frame.
    pub(crate) fn ledger_frames(
        &self,
        log: &LedgerLog,
        want: &Want,
    ) -> Result<Vec<FrameRef>, RepoError> {
        let index = match want {
            Some(_) => LedgerIndex::open_ro(&self.index_dir()),
            None => None,
        };
        Ok(match (&index, want) {
            (Some(ix), Some(ranges)) => match ix.valid_end(log)? {
                Some(end) => {
                    let mut f = ix.frames_in(ranges.iter().copied())?;
                    f.extend(log.frames_from(end.segment, end.offset)?);
                    f
                }
                None => log.frames_from(0, 0)?,
            },
            _ => log.frames_from(0, 0)?,
        })
    }

    /// Gives `each`, in order, the events of the first `limit` that may
    /// concern `want` (a superset: callers filter exactly). With the index,
    /// only the frames it names and the frames past it are read; without
    /// it, or when the ledger was rewritten under it, every frame.
    pub(crate) fn read_ledger(
        &self,
        want: &Want,
        limit: u64,
        keep: &Keep<'_>,
        each: &mut dyn FnMut(Event) -> Result<(), RepoError>,
    ) -> Result<(), RepoError> {
        let log = LedgerLog::new(&self.ledger_dir());
        let frames = self.ledger_frames(&log, want)?;
        let mut failed = None;
        log.read(&frames, limit, keep, &mut |_, e| {
            if failed.is_none()
                && let Err(x) = each(e)
            {
                failed = Some(x);
            }
            Ok(())
        })?;
        failed.map_or(Ok(()), Err)
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
        let Some(head) = self.refs.head_commit()? else {
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

    /// The example a selector names: an example id (or a unique prefix of
    /// 4+ hex digits), a file path, or `TABLE:KEY` for a row.
    pub fn resolve_example(&self, selector: &str) -> Result<ExampleId, RepoError> {
        let file_id = ExampleId::file(selector.trim_end_matches('/'));
        let prefix = selector.to_ascii_lowercase();
        let by_prefix = prefix.len() >= 4 && prefix.len() <= 64 && crate::id::is_hex(&prefix);
        let mut want = vec![
            (Term::Example(&file_id).key(), Term::Example(&file_id).key()),
            (Term::Locator(selector).key(), Term::Locator(selector).key()),
        ];
        if by_prefix {
            want.push(prefix_range(&prefix));
        }
        let mut candidates: BTreeMap<ExampleId, ()> = BTreeMap::new();
        let keep = |raw: &[u8]| {
            Peek::new(raw).is_none_or(|p| {
                p.example.is_some_and(|x| {
                    x == file_id.0
                        || matches!(p.kind, EventKind::Added | EventKind::Removed)
                        || (by_prefix
                            && ObjectId::from_slice(x)
                                .is_some_and(|o| o.to_hex().starts_with(&prefix)))
                })
            })
        };
        self.read_ledger(&Some(want), self.ledger_limit()?, &keep, &mut |e| {
            if let Subject::Example(id) = &e.subject {
                let locator = match &e.payload {
                    Payload::Added { locator, .. } | Payload::Removed { locator } => Some(locator),
                    _ => None,
                };
                if *id == file_id
                    || locator.is_some_and(|l| l == selector)
                    || (by_prefix && id.to_hex().starts_with(&prefix))
                {
                    candidates.insert(*id, ());
                }
            }
            Ok(())
        })?;
        match candidates.len() {
            0 => Err(SelectError::NoMatch(selector.to_string()).into()),
            1 => Ok(*candidates.keys().next().expect("one")),
            _ => Err(SelectError::Ambiguous {
                selector: selector.to_string(),
                candidates: candidates.into_keys().collect(),
            }
            .into()),
        }
    }

    /// The story of the example named by `selector` (see
    /// [`Repo::resolve_example`]).
    pub fn lineage(&self, selector: &str) -> Result<Lineage, RepoError> {
        let id = self.resolve_example(selector)?;
        let heads = self.commit_heads()?;
        let commit_of = |seq: u64| {
            heads
                .iter()
                .find(|(size, _)| *size > seq)
                .map(|(_, c)| c.to_string())
        };
        let mut events: Vec<Event> = Vec::new();
        let mut trainings: Vec<Event> = Vec::new();
        let (ex, tr) = (Term::Example(&id).key(), Term::Trained.key());
        let want = Some(vec![(ex, ex), (tr, tr)]);
        let keep = |raw: &[u8]| {
            Peek::new(raw)
                .is_none_or(|p| p.example == Some(&id.0[..]) || p.kind == EventKind::Trained)
        };
        self.read_ledger(&want, self.ledger_limit()?, &keep, &mut |e| {
            if e.subject == Subject::Example(id) {
                events.push(e);
            } else if matches!(e.payload, Payload::Trained { .. }) {
                trainings.push(e);
            }
            Ok(())
        })?;
        let mut l = Lineage {
            example: id.to_hex(),
            locator: Default::default(),
            dataset: None,
            source: None,
            collected_at: None,
            added_in: None,
            removed_in: None,
            label: None,
            annotator: None,
            confidence: None,
            cost_minor: None,
            currency: None,
            sensitivity: None,
            license: None,
            models: Vec::new(),
            events: Vec::new(),
        };
        // When the example was present: from its addition to its removal.
        let mut spans: Vec<(u64, u64)> = Vec::new();
        let mut st = crate::ledger::ExampleState::default();
        for e in &events {
            let commit = e.commit.map(|c| c.to_string()).or_else(|| commit_of(e.seq));
            st.apply(&e.payload);
            match &e.payload {
                Payload::Added { .. } => {
                    l.added_in = commit.clone();
                    l.removed_in = None;
                    spans.push((e.seq, u64::MAX));
                }
                Payload::Removed { .. } => {
                    l.removed_in = commit.clone();
                    if let Some(s) = spans.last_mut() {
                        s.1 = e.seq;
                    }
                }
                _ => {}
            }
            let x = ExportedEvent::from(e);
            l.events.push(LineageEvent {
                seq: e.seq,
                time: e.time,
                actor: e.actor.clone(),
                kind: x.kind,
                commit,
                payload: x.payload,
            });
        }
        l.locator = st.locator;
        l.dataset = (!st.dataset.is_empty()).then_some(st.dataset);
        l.source = st.source;
        l.collected_at = st.collected_at;
        l.label = st.label;
        l.annotator = st.annotator;
        l.confidence = st.confidence;
        l.cost_minor = st.cost.as_ref().map(|c| c.0);
        l.currency = st.cost.map(|c| c.1);
        l.sensitivity = st.sensitivity;
        l.license = st.license;
        // A model trained on commit C saw the example when C's ledger head
        // covers its addition and not its removal.
        let size_of: std::collections::HashMap<String, u64> =
            heads.iter().map(|(s, c)| (c.to_string(), *s)).collect();
        for t in &trainings {
            let (Payload::Trained { model, run }, Some(c)) = (&t.payload, t.commit) else {
                continue;
            };
            let Some(&size) = size_of.get(&c.to_string()) else {
                continue;
            };
            let same_dataset = matches!(&t.subject, Subject::Dataset(d) if l.dataset.as_deref() == Some(d.as_str()));
            if same_dataset && spans.iter().any(|&(a, r)| a < size && r >= size) {
                l.models
                    .push(format!("{model} ({run}) on {}", &c.to_string()[..12]));
            }
        }
        Ok(l)
    }
}
