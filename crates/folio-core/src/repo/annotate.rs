//! `annotate`, `value`, `classify`, `trained`: events recorded without
//! changing data. They name HEAD as their commit and are attested by the
//! next commit's ledger head.

use super::{InputProblem, Repo, RepoError};
use crate::id::CommitId;
use crate::ledger::query::SelectError;
use crate::ledger::{money, values};

use crate::ledger::{Draft, ExampleId, Payload, Subject};
use crate::lock::RepoLock;

/// The sensitivity classes folio accepts unless configured otherwise.
pub use crate::config::DEFAULT_SENSITIVITIES as SENSITIVITIES;

/// Where a dry run collects the events it would have recorded.
pub type Preview = std::sync::Arc<std::sync::Mutex<Vec<Draft>>>;

/// Who records an event, and when; and whether only to preview it.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The actor.
    pub actor: String,
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// A dry run: the events are collected here and nothing is recorded.
    pub dry_run: Option<Preview>,
}

/// A label for `annotate`.
#[derive(Debug, Clone)]
pub struct Annotation {
    /// The label.
    pub label: String,
    /// Who gave it.
    pub annotator: Option<String>,
    /// How sure, 0..1.
    pub confidence: Option<f64>,
}

/// Which examples an event is recorded for: one, by id (or prefix), path
/// or `TABLE:KEY`; or every present example the filters all match.
#[derive(Debug, Clone)]
pub enum Selector {
    /// One example.
    One(String),
    /// Every example present now that matches.
    Filter(ExampleFilter),
}

/// Filters on what the ledger says of an example now.
#[derive(Debug, Clone, Default)]
pub struct ExampleFilter {
    /// Its source.
    pub source: Option<String>,
    /// Its dataset.
    pub dataset: Option<String>,
    /// Its latest label.
    pub label: Option<String>,
    /// Who gave its latest label.
    pub annotator: Option<String>,
    /// Its sensitivity.
    pub sensitivity: Option<String>,
    /// Latest confidence at least this.
    pub min_confidence: Option<f64>,
    /// Latest confidence at most this.
    pub max_confidence: Option<f64>,
}

impl ExampleFilter {
    /// No filter given.
    pub fn is_empty(&self) -> bool {
        self.source.is_none()
            && self.dataset.is_none()
            && self.label.is_none()
            && self.annotator.is_none()
            && self.sensitivity.is_none()
            && self.min_confidence.is_none()
            && self.max_confidence.is_none()
    }

    /// Whether an example's state passes every filter (an example with no
    /// confidence fails a confidence bound).
    pub fn matches(&self, st: &crate::ledger::ExampleState) -> bool {
        let eq = |f: &Option<String>, v: &Option<String>| {
            f.as_ref().is_none_or(|f| v.as_ref() == Some(f))
        };
        st.present
            && eq(&self.source, &st.source)
            && self.dataset.as_ref().is_none_or(|d| *d == st.dataset)
            && eq(&self.label, &st.label)
            && eq(&self.annotator, &st.annotator)
            && eq(&self.sensitivity, &st.sensitivity)
            && self
                .min_confidence
                .is_none_or(|m| st.confidence.is_some_and(|c| c >= m))
            && self
                .max_confidence
                .is_none_or(|m| st.confidence.is_some_and(|c| c <= m))
    }
}

/// A cost basis for `value`, as the user wrote it.
#[derive(Debug, Clone)]
pub struct Valuation {
    /// Acquisition cost, a decimal amount.
    pub cost: String,
    /// Labelling cost, a decimal amount.
    pub labelling: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// Who was paid.
    pub vendor: Option<String>,
    /// The amounts are for all the selected examples together: split
    /// equally to the minor unit, the units left over going one each to
    /// the first examples in id order.
    pub batch: bool,
}

/// Splits `total` units over `n` shares: equal, the remainder one unit
/// each to the first shares.
fn split(total: i128, n: usize) -> Vec<i128> {
    let n = n.max(1) as i128;
    let (base, rest) = (total / n, total % n);
    (0..n).map(|i| base + i128::from(i < rest)).collect()
}

impl Repo {
    /// The examples a selector names, in id order.
    pub fn select(&self, sel: &Selector) -> Result<Vec<ExampleId>, RepoError> {
        match sel {
            Selector::One(s) => Ok(vec![self.resolve_example(s)?]),
            Selector::Filter(f) if f.is_empty() => Err(SelectError::Nothing.into()),
            Selector::Filter(f) => {
                // Each example's state is matched as it is folded: only the
                // ids that match are kept (D94).
                let parts = self.ledger_view()?.fold_states(&Vec::new, &|ids, id, st| {
                    if f.matches(&st) {
                        ids.push(id);
                    }
                })?;
                let mut ids: Vec<ExampleId> = parts.into_iter().flatten().collect();
                if ids.is_empty() {
                    return Err(SelectError::NoFilterMatch.into());
                }
                ids.sort();
                Ok(ids)
            }
        }
    }

    fn example_drafts(
        &self,
        sel: &Selector,
        who: &Recorder,
        payload: Payload,
    ) -> Result<Vec<Draft>, RepoError> {
        let commit = self.head_commit()?;
        Ok(self
            .select(sel)?
            .into_iter()
            .map(|id| Draft {
                time: who.time,
                actor: who.actor.clone(),
                commit,
                subject: Subject::Example(id),
                payload: payload.clone(),
            })
            .collect())
    }

    /// Records a label for the selected examples; returns how many.
    pub fn annotate(
        &self,
        lock: &RepoLock,
        selector: &Selector,
        a: &Annotation,
        who: &Recorder,
    ) -> Result<u64, RepoError> {
        values::label(&a.label)?;
        if let Some(who) = &a.annotator {
            values::text("the annotator", who, values::MAX_NAME)?;
        }
        a.confidence.map(values::confidence).transpose()?;
        let payload = Payload::Annotated {
            label: a.label.clone(),
            annotator: a.annotator.clone(),
            confidence: a.confidence,
        };
        let drafts = self.example_drafts(selector, who, payload)?;
        self.record(lock, who, drafts)
    }

    /// Records the cost basis of each selected example; returns how many.
    pub fn value(
        &self,
        lock: &RepoLock,
        selector: &Selector,
        v: &Valuation,
        who: &Recorder,
    ) -> Result<u64, RepoError> {
        let currency = v.currency.to_ascii_uppercase();
        if let Some(vendor) = &v.vendor {
            values::text("the vendor", vendor, values::MAX_NAME)?;
        }
        let amount = |s: &str| values::micros(s, &currency);
        let (acquisition, labelling) = (
            amount(&v.cost)?,
            v.labelling.as_deref().map(amount).transpose()?.unwrap_or(0),
        );
        let valued = |a, l| {
            Payload::valued(a, l, currency.clone(), v.vendor.clone())
                .map_err(values::ValueError::from)
        };
        let mut drafts = self.example_drafts(selector, who, valued(acquisition, labelling)?)?;
        if v.batch {
            // Split in the unit the amounts were given in: the minor
            // unit, or the finer one the user wrote.
            let unit = 10i128
                .pow(money::MAX_FINE - money::fine_of(acquisition).max(money::fine_of(labelling)));
            let n = drafts.len();
            let shares = split(acquisition / unit, n)
                .into_iter()
                .zip(split(labelling / unit, n));
            for (d, (a, l)) in drafts.iter_mut().zip(shares) {
                d.payload = valued(a * unit, l * unit)?;
            }
        }
        self.record(lock, who, drafts)
    }

    /// Records the sensitivity of the selected examples; returns how many.
    pub fn classify(
        &self,
        lock: &RepoLock,
        selector: &Selector,
        sensitivity: &str,
        who: &Recorder,
    ) -> Result<u64, RepoError> {
        let s = values::sensitivity(sensitivity, &self.config()?.sensitivities())?;
        let drafts =
            self.example_drafts(selector, who, Payload::Reclassified { sensitivity: s })?;
        self.record(lock, who, drafts)
    }

    /// Records that a model was trained on commit `rev`: one event per
    /// dataset of the commit.
    pub fn trained(
        &self,
        lock: &RepoLock,
        rev: CommitId,
        model: &str,
        run: &str,
        who: &Recorder,
    ) -> Result<u64, RepoError> {
        values::training(model, run)?;
        let c = self.read_commit(rev)?;
        if self.training_recorded(rev, model, run)? {
            return Err(RepoError::AlreadyRecorded(format!(
                "model {model} run {run} on commit {}",
                rev.short(12)
            )));
        }
        let drafts = c
            .datasets
            .iter()
            .map(|d| Draft {
                time: who.time,
                actor: who.actor.clone(),
                commit: Some(rev),
                subject: Subject::Dataset(d.path.clone()),
                payload: Payload::Trained {
                    model: model.to_string(),
                    run: run.to_string(),
                },
            })
            .collect();
        self.record(lock, who, drafts)
    }
}

impl Repo {
    /// Records the labels of an annotation file (CSV, TSV or JSONL with
    /// columns `example`, `label`, and optionally `annotator` and
    /// `confidence`; `example` is a locator — a file path or `TABLE:KEY` —
    /// or a full example id). Every row is checked before anything is
    /// recorded; an error names the file and line.
    pub fn annotate_from(
        &self,
        lock: &RepoLock,
        file: &std::path::Path,
        who: &Recorder,
    ) -> Result<u64, RepoError> {
        let name = file.to_string_lossy();
        let format = crate::table::Format::from_path(&name).ok_or_else(|| RepoError::Input {
            at: name.to_string(),
            problem: InputProblem::Format,
        })?;
        let rows = crate::table::read_text_rows(file, format)?;
        let classes = self.config()?.sensitivities();
        // One pass over the ledger: locator and id → example.
        let by_locator = self.ledger_view()?.locators()?;
        let ids: std::collections::HashSet<String> =
            by_locator.values().map(ExampleId::to_hex).collect();
        let head = self.head_commit()?;
        let mut drafts = Vec::with_capacity(rows.len());
        for (line, row) in &rows {
            let at = |problem: InputProblem| RepoError::Input {
                at: format!("{name}:{line}"),
                problem,
            };
            let sel = row
                .get("example")
                .ok_or_else(|| at(InputProblem::NoExample))?;
            let id = match by_locator.get(sel) {
                Some(id) => *id,
                None if ids.contains(&sel.to_ascii_lowercase()) => {
                    let oid: crate::id::ObjectId = sel
                        .to_ascii_lowercase()
                        .parse()
                        .map_err(|_| at(InputProblem::NoMatch(sel.clone())))?;
                    crate::ledger::ExampleId(oid.0)
                }
                None => return Err(at(InputProblem::NoMatch(sel.clone()))),
            };
            if row.get("label").is_none_or(|l| l.trim().is_empty()) {
                return Err(at(InputProblem::NoLabel));
            }
            // The same checks as metadata on commit.
            // A blank annotator or confidence is not given (a relabel
            // queue leaves them for the labeller to fill in or not).
            let given = |k: &str| row.get(k).filter(|v| !v.trim().is_empty()).cloned();
            let meta = super::Meta {
                label: row.get("label").cloned(),
                annotator: given("annotator"),
                confidence: given("confidence"),
                ..Default::default()
            };
            let payloads = meta
                .payloads(None, &classes)
                .map_err(|source| RepoError::ValueAt {
                    at: format!("{name}:{line}"),
                    source,
                })?;
            for payload in payloads {
                drafts.push(Draft {
                    time: who.time,
                    actor: who.actor.clone(),
                    commit: head,
                    subject: Subject::Example(id),
                    payload,
                });
            }
        }
        self.record(lock, who, drafts)
    }
}
