//! `audit`: the inventory a reviewer asks for, folded from the ledger.

use std::collections::{BTreeMap, BTreeSet};

use super::{Repo, RepoError};
use crate::id::CommitId;
use crate::ledger::index::Term;
use crate::ledger::log::decode_event;
use crate::ledger::{Event, EventKind, ExampleState, IdMap, Subject};

/// Filters for `audit`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only examples from this source.
    pub source: Option<String>,
    /// Only examples of this dataset.
    pub dataset: Option<String>,
    /// Only examples of this sensitivity.
    pub sensitivity: Option<String>,
}

/// One (source, dataset) group of the inventory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditGroup {
    /// The source (`(none)` when unrecorded).
    pub source: String,
    /// The dataset.
    pub dataset: String,
    /// Examples present.
    pub examples: u64,
    /// Examples per sensitivity (`unclassified` when unrecorded).
    pub sensitivity: BTreeMap<String, u64>,
    /// Examples per licence (`(none)` when unrecorded).
    pub licenses: BTreeMap<String, u64>,
    /// Annotators who labelled them.
    pub annotators: BTreeSet<String>,
    /// Examples with a label.
    pub annotated: u64,
    /// Mean confidence over examples that have one.
    pub mean_confidence: Option<f64>,
    /// Lowest confidence.
    pub min_confidence: Option<f64>,
    /// Total cost basis per currency, in minor units.
    pub cost_minor: BTreeMap<String, i64>,
}

/// The inventory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditReport {
    /// The commit audited.
    pub commit: String,
    /// Groups, by source then dataset.
    pub groups: Vec<AuditGroup>,
    /// Locators of examples with no recorded source.
    pub without_source: Vec<crate::ledger::Locator>,
    /// Locators of examples with no label.
    pub without_annotation: Vec<crate::ledger::Locator>,
    /// Locators of examples with no licence.
    pub without_license: Vec<crate::ledger::Locator>,
}

impl Repo {
    /// The inventory of the examples present at `rev`, from every event up
    /// to the ledger head `rev` records; with `rev` absent, of HEAD with
    /// every event recorded since (labels, costs, classes not yet attested
    /// by a commit).
    pub fn audit(
        &self,
        rev: Option<CommitId>,
        filter: &AuditFilter,
    ) -> Result<AuditReport, RepoError> {
        let commit = match rev {
            Some(r) => r,
            None => self.refs.head_commit()?.ok_or(RepoError::NoCommits)?,
        }
        .to_string();
        let view = match rev {
            Some(r) => self.ledger_view_at(r)?,
            None => self.ledger_view()?,
        };
        let mut states: IdMap<ExampleState> = IdMap::default();
        let apply = |states: &mut IdMap<ExampleState>, e: Event| {
            if let Subject::Example(id) = &e.subject {
                states.entry(*id).or_default().apply(&e.payload);
            }
        };
        if let Some(src) = &filter.source {
            // Only that source's examples are folded, in one pass that
            // decodes their events alone: an example's first event is its
            // addition, which names the source.
            let t = Term::Source(src).key();
            // Later events of those examples lie after their addition.
            view.read_raw_since(&Some(vec![(t, t)]), &mut |_, raw, p| {
                let Some(id) = p.example_id() else {
                    return Ok(true);
                };
                let wanted = (p.kind == EventKind::Added && p.source() == Some(src.as_bytes()))
                    || states.contains_key(&id);
                if wanted {
                    apply(&mut states, decode_event(raw)?);
                }
                Ok(true)
            })?;
        } else {
            view.each(&mut |e| {
                apply(&mut states, e);
                Ok::<(), RepoError>(())
            })?;
        }
        let mut groups: BTreeMap<(String, String), (AuditGroup, f64, u64)> = BTreeMap::new();
        let mut without_source = Vec::new();
        let mut without_annotation = Vec::new();
        let mut without_license = Vec::new();
        for st in states.values().filter(|s| s.present) {
            let src = st.source.clone().unwrap_or_else(|| "(none)".into());
            let sens = st
                .sensitivity
                .clone()
                .unwrap_or_else(|| "unclassified".into());
            if filter.source.as_ref().is_some_and(|f| *f != src)
                || filter.dataset.as_ref().is_some_and(|f| *f != st.dataset)
                || filter.sensitivity.as_ref().is_some_and(|f| *f != sens)
            {
                continue;
            }
            if st.source.is_none() {
                without_source.push(st.locator.clone());
            }
            if st.label.is_none() {
                without_annotation.push(st.locator.clone());
            }
            if st.license.is_none() {
                without_license.push(st.locator.clone());
            }
            let (g, sum, n) = groups
                .entry((src.clone(), st.dataset.clone()))
                .or_insert_with(|| {
                    (
                        AuditGroup {
                            source: src.clone(),
                            dataset: st.dataset.clone(),
                            examples: 0,
                            sensitivity: BTreeMap::new(),
                            licenses: BTreeMap::new(),
                            annotators: BTreeSet::new(),
                            annotated: 0,
                            mean_confidence: None,
                            min_confidence: None,
                            cost_minor: BTreeMap::new(),
                        },
                        0.0,
                        0,
                    )
                });
            g.examples += 1;
            *g.sensitivity.entry(sens).or_default() += 1;
            let lic = st.license.clone().unwrap_or_else(|| "(none)".into());
            *g.licenses.entry(lic).or_default() += 1;
            if st.label.is_some() {
                g.annotated += 1;
            }
            if let Some(a) = &st.annotator {
                g.annotators.insert(a.clone());
            }
            if let Some(c) = st.confidence {
                *sum += c;
                *n += 1;
                g.min_confidence = Some(g.min_confidence.map_or(c, |m: f64| m.min(c)));
            }
            if let Some((minor, cur)) = &st.cost {
                *g.cost_minor.entry(cur.clone()).or_default() += minor;
            }
        }
        without_source.sort();
        without_annotation.sort();
        without_license.sort();
        Ok(AuditReport {
            commit,
            groups: groups
                .into_values()
                .map(|(mut g, sum, n)| {
                    g.mean_confidence = (n > 0).then(|| sum / n as f64);
                    g
                })
                .collect(),
            without_source,
            without_annotation,
            without_license,
        })
    }
}
