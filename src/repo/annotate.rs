//! `annotate`, `value`, `classify`, `trained`: events recorded without
//! changing data. They name HEAD as their commit and are attested by the
//! next commit's ledger head.

use super::{Repo, RepoError};
use crate::id::CommitId;
use crate::ledger::money;
use crate::ledger::{Draft, Ledger, Payload, Subject};
use crate::lock::RepoLock;

/// The sensitivity classes folio accepts.
pub const SENSITIVITIES: &[&str] = &["public", "internal", "confidential", "pii"];

/// Who records an event, and when.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The actor.
    pub actor: String,
    /// Seconds since the epoch, UTC.
    pub time: i64,
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
}

impl Repo {
    fn record(&self, lock: &RepoLock, drafts: Vec<Draft>) -> Result<u64, RepoError> {
        let head = match self.refs.head_commit()? {
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

    fn example_draft(
        &self,
        selector: &str,
        who: &Recorder,
        payload: Payload,
    ) -> Result<Draft, RepoError> {
        let id = self.resolve_example(selector)?;
        Ok(Draft {
            time: who.time,
            actor: who.actor.clone(),
            commit: self.refs.head_commit()?,
            subject: Subject::Example(id),
            payload,
        })
    }

    /// Records a label for one example.
    pub fn annotate(
        &self,
        lock: &RepoLock,
        selector: &str,
        a: &Annotation,
        who: &Recorder,
    ) -> Result<u64, RepoError> {
        if a.label.trim().is_empty() {
            return Err(RepoError::Refused("the label is empty".into()));
        }
        if let Some(c) = a.confidence
            && !(c.is_finite() && (0.0..=1.0).contains(&c))
        {
            return Err(RepoError::Refused(format!(
                "confidence {c} is outside 0..1"
            )));
        }
        let payload = Payload::Annotated {
            label: a.label.clone(),
            annotator: a.annotator.clone(),
            confidence: a.confidence,
        };
        let d = self.example_draft(selector, who, payload)?;
        self.record(lock, vec![d])
    }

    /// Records the cost basis of one example.
    pub fn value(
        &self,
        lock: &RepoLock,
        selector: &str,
        v: &Valuation,
        who: &Recorder,
    ) -> Result<u64, RepoError> {
        let currency = v.currency.to_ascii_uppercase();
        let money = |s: &str| {
            money::parse_minor(s, &currency).map_err(|e| RepoError::Refused(e.to_string()))
        };
        let payload = Payload::Valued {
            acquisition: money(&v.cost)?,
            labelling: v.labelling.as_deref().map(money).transpose()?.unwrap_or(0),
            currency: currency.clone(),
            vendor: v.vendor.clone(),
        };
        let d = self.example_draft(selector, who, payload)?;
        self.record(lock, vec![d])
    }

    /// Records the sensitivity of one example.
    pub fn classify(
        &self,
        lock: &RepoLock,
        selector: &str,
        sensitivity: &str,
        who: &Recorder,
    ) -> Result<u64, RepoError> {
        let s = sensitivity.to_ascii_lowercase();
        if !SENSITIVITIES.contains(&s.as_str()) {
            return Err(RepoError::Refused(format!(
                "unknown sensitivity '{sensitivity}': use one of {}",
                SENSITIVITIES.join(", ")
            )));
        }
        let d = self.example_draft(selector, who, Payload::Reclassified { sensitivity: s })?;
        self.record(lock, vec![d])
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
        if model.trim().is_empty() || run.trim().is_empty() {
            return Err(RepoError::Refused(
                "the model name and the run id must not be empty".into(),
            ));
        }
        let c = self.read_commit(rev)?;
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
        self.record(lock, drafts)
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
        let format = crate::table::Format::from_path(&name).ok_or_else(|| {
            RepoError::Refused(format!(
                "{name}: use a .csv, .tsv or .jsonl annotation file"
            ))
        })?;
        let rows = crate::table::read_text_rows(file, format)?;
        // One pass over the ledger: locator and id → example.
        let mut by_locator: std::collections::HashMap<String, crate::ledger::ExampleId> =
            std::collections::HashMap::new();
        let mut ids = std::collections::HashSet::new();
        crate::ledger::LedgerLog::new(&self.ledger_dir()).scan(|e, _| {
            if let (Subject::Example(id), Payload::Added { locator, .. }) = (&e.subject, &e.payload)
            {
                by_locator.insert(locator.clone(), *id);
                ids.insert(id.to_hex());
            }
            Ok(())
        })?;
        let head = self.refs.head_commit()?;
        let mut drafts = Vec::with_capacity(rows.len());
        for (line, row) in &rows {
            let at = |what: String| RepoError::Refused(format!("{name}:{line}: {what}"));
            let sel = row
                .get("example")
                .ok_or_else(|| at("no 'example' value".into()))?;
            let id = match by_locator.get(sel) {
                Some(id) => *id,
                None if ids.contains(&sel.to_ascii_lowercase()) => {
                    let oid: crate::id::ObjectId = sel
                        .to_ascii_lowercase()
                        .parse()
                        .map_err(|_| at("bad id".into()))?;
                    crate::ledger::ExampleId(oid.0)
                }
                None => return Err(at(format!("no example matches '{sel}'"))),
            };
            if row.get("label").is_none_or(|l| l.trim().is_empty()) {
                return Err(at("no 'label' value".into()));
            }
            // The same checks as metadata on commit.
            let meta = super::Meta {
                label: row.get("label").cloned(),
                annotator: row.get("annotator").cloned(),
                confidence: row.get("confidence").cloned(),
                ..Default::default()
            };
            for payload in meta.payloads(None, &format!("{name}:{line}"))? {
                drafts.push(Draft {
                    time: who.time,
                    actor: who.actor.clone(),
                    commit: head,
                    subject: Subject::Example(id),
                    payload,
                });
            }
        }
        self.record(lock, drafts)
    }
}
