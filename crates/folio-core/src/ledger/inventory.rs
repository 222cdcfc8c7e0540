//! The inventory a reviewer asks for: examples present, per source and
//! dataset, with their sensitivity, licences, annotators, confidence and
//! cost, and the examples missing a source, a label or a licence.

use std::collections::{BTreeMap, BTreeSet};

use super::{ExampleState, IdMap};

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
    /// The source (`None`, JSON `null`, when unrecorded).
    pub source: Option<String>,
    /// The dataset.
    pub dataset: String,
    /// Examples present.
    pub examples: u64,
    /// Examples per sensitivity (`unclassified` when unrecorded).
    pub sensitivity: BTreeMap<String, u64>,
    /// Examples per license (those without one are `unlicensed`).
    pub licenses: BTreeMap<String, u64>,
    /// Examples without a recorded license.
    pub unlicensed: u64,
    /// Annotators who labelled them.
    pub annotators: BTreeSet<String>,
    /// Examples with a label.
    pub annotated: u64,
    /// Mean confidence over examples that have one.
    pub mean_confidence: Option<f64>,
    /// Lowest confidence.
    pub min_confidence: Option<f64>,
    /// Total cost basis per currency, exact, in millionths of the minor
    /// unit (JSON: `cost`, exact decimal strings per currency).
    #[serde(rename = "cost", serialize_with = "super::money::exact_map")]
    pub cost_micros: BTreeMap<String, i128>,
}

/// The inventory.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditReport {
    /// The commit audited.
    pub commit: crate::id::CommitId,
    /// Groups, by source then dataset.
    pub groups: Vec<AuditGroup>,
    /// Locators of examples with no recorded source.
    pub without_source: Vec<crate::ledger::Locator>,
    /// Locators of examples with no label.
    pub without_annotation: Vec<crate::ledger::Locator>,
    /// Locators of examples with no licence.
    pub without_license: Vec<crate::ledger::Locator>,
}

impl AuditReport {
    /// The inventory of `states` (what a ledger view says of each example)
    /// that `filter` selects, for `commit`.
    pub fn of(
        commit: crate::id::CommitId,
        states: &IdMap<ExampleState>,
        filter: &AuditFilter,
    ) -> AuditReport {
        let mut groups: BTreeMap<(Option<String>, String), (AuditGroup, f64, u64)> =
            BTreeMap::new();
        let mut without_source = Vec::new();
        let mut without_annotation = Vec::new();
        let mut without_license = Vec::new();
        for st in states.values().filter(|s| s.present) {
            let src = st.source.clone();
            let sens = st
                .sensitivity
                .clone()
                .unwrap_or_else(|| "unclassified".into());
            if filter
                .source
                .as_ref()
                .is_some_and(|f| Some(f) != src.as_ref())
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
                            unlicensed: 0,
                            annotators: BTreeSet::new(),
                            annotated: 0,
                            mean_confidence: None,
                            min_confidence: None,
                            cost_micros: BTreeMap::new(),
                        },
                        0.0,
                        0,
                    )
                });
            g.examples += 1;
            *g.sensitivity.entry(sens).or_default() += 1;
            match &st.license {
                Some(l) => *g.licenses.entry(l.clone()).or_default() += 1,
                None => g.unlicensed += 1,
            }
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
            if let Some((micros, cur)) = &st.cost {
                *g.cost_micros.entry(cur.clone()).or_default() += micros;
            }
        }
        // Locators are distinct (one an example): an unstable sort gives
        // the same order, on every core.
        {
            use rayon::prelude::*;
            without_source.par_sort_unstable();
            without_annotation.par_sort_unstable();
            without_license.par_sort_unstable();
        }
        AuditReport {
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
        }
    }
}
