//! `quality`: label agreement where the ledger holds several annotations of
//! one example.
//!
//! Each annotator's latest label of an example counts once (a second label
//! by the same annotator replaces the first). For an example with n ≥ 2
//! such labels, with label shares p_i, the normalised label entropy is
//! H = −Σ p_i log2 p_i / log2 n: 0 when every annotator agrees, 1 when every
//! one gave a different label. Its agreement is 1 − H.
//!
//! An example's *reference label* is the adjudicator's, when one is set and
//! has labelled it (the adjudicator is then not among the annotators
//! counted), else the strict majority label, else none. An annotator's
//! agreement is the share of their labels, over examples with a reference,
//! that equal it. An adjudicated example is settled: it is to relabel only
//! when its latest confidence is low.

use std::collections::BTreeMap;

use super::{Event, ExampleId, Locator, Payload, Subject};

/// One example's annotations.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExampleQuality {
    /// Where it is.
    pub locator: Locator,
    /// Annotators counted.
    pub annotations: usize,
    /// Label → how many annotators gave it.
    pub labels: BTreeMap<String, usize>,
    /// Normalised label entropy, 0..1.
    pub entropy: f64,
    /// 1 − entropy.
    pub agreement: f64,
    /// The latest confidence recorded.
    pub confidence: Option<f64>,
    /// The reference label: the adjudicator's, or the strict majority.
    pub reference: Option<String>,
    /// True when the adjudicator gave the reference.
    pub adjudicated: bool,
}

/// One annotator's agreement with the reference labels.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AnnotatorQuality {
    /// The annotator.
    pub annotator: String,
    /// Labels they gave on examples with a reference label.
    pub compared: usize,
    /// How many equal it.
    pub agreed: usize,
    /// agreed / compared.
    pub agreement: Option<f64>,
}

/// The label-quality report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QualityReport {
    /// Examples with two or more annotators.
    pub examples: Vec<ExampleQuality>,
    /// Annotators, by name.
    pub annotators: Vec<AnnotatorQuality>,
    /// Locators to relabel: annotators disagree, or the latest confidence
    /// is below the threshold.
    pub relabel: Vec<Locator>,
    /// The confidence threshold used.
    pub min_confidence: f64,
    /// The adjudicator, when one is set.
    pub adjudicator: Option<String>,
}

/// The normalised entropy of label counts (see the module docs).
pub fn normalised_entropy(counts: &[usize]) -> f64 {
    let n: usize = counts.iter().sum();
    if n < 2 {
        return 0.0;
    }
    let h: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n as f64;
            -p * p.log2()
        })
        .sum();
    // Clamped, and + 0.0 turns −0 (the sum of −1·log2 1) into 0: output
    // must not read −0.000 or 1.0000001.
    (h / (n as f64).log2()).clamp(0.0, 1.0) + 0.0
}

/// An example's locator, each annotator's latest label, its latest
/// confidence.
type Seen = (Locator, BTreeMap<String, String>, Option<f64>);

/// Folds annotations into a [`QualityReport`].
#[derive(Default)]
pub struct QualityBuilder {
    /// Per example: locator, annotator → latest label, latest confidence.
    seen: BTreeMap<ExampleId, Seen>,
    /// Whose label settles an example.
    adjudicator: Option<String>,
}

impl QualityBuilder {
    /// A builder whose reference labels are `adjudicator`'s where given.
    pub fn with_adjudicator(adjudicator: Option<String>) -> Self {
        QualityBuilder {
            seen: BTreeMap::new(),
            adjudicator,
        }
    }

    /// Applies the next event.
    pub fn apply(&mut self, e: &Event) {
        let Subject::Example(id) = &e.subject else {
            return;
        };
        let entry = self.seen.entry(*id).or_default();
        match &e.payload {
            Payload::Added { locator, .. } => entry.0 = locator.clone(),
            Payload::Annotated {
                label,
                annotator,
                confidence,
            } => {
                let who = annotator.clone().unwrap_or_else(|| e.actor.clone());
                entry.1.insert(who, label.clone());
                entry.2 = *confidence;
            }
            _ => {}
        }
    }

    /// The report: examples whose annotators disagree or whose latest
    /// confidence is below `min_confidence` are to relabel.
    pub fn finish(self, min_confidence: f64) -> QualityReport {
        let mut examples = Vec::new();
        let mut relabel = Vec::new();
        let mut per_annotator: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let judge = self.adjudicator.as_deref();
        for (locator, all, confidence) in self.seen.values() {
            if all.is_empty() {
                continue;
            }
            let ruling = judge.and_then(|j| all.get(j)).cloned();
            let labels: BTreeMap<&String, &String> = all
                .iter()
                .filter(|(who, _)| Some(who.as_str()) != judge || ruling.is_none())
                .collect();
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for l in labels.values() {
                *counts.entry((*l).clone()).or_default() += 1;
            }
            let entropy = normalised_entropy(&counts.values().copied().collect::<Vec<_>>());
            let low = confidence.is_some_and(|c| c < min_confidence);
            let adjudicated = ruling.is_some();
            if (entropy > 0.0 && !adjudicated) || low {
                relabel.push(locator.clone());
            }
            let top = counts.values().max().copied().unwrap_or(0);
            let majority: Vec<&String> = counts
                .iter()
                .filter(|(_, c)| **c == top)
                .map(|(l, _)| l)
                .collect();
            let reference = ruling.or_else(|| {
                (labels.len() >= 2 && majority.len() == 1).then(|| majority[0].clone())
            });
            if let Some(r) = &reference
                && (adjudicated || labels.len() >= 2)
            {
                for (who, l) in &labels {
                    let e = per_annotator.entry((*who).clone()).or_default();
                    e.0 += 1;
                    if *l == r {
                        e.1 += 1;
                    }
                }
            }
            if labels.len() >= 2 || adjudicated {
                examples.push(ExampleQuality {
                    locator: locator.clone(),
                    annotations: labels.len(),
                    labels: counts,
                    entropy,
                    agreement: (1.0 - entropy).clamp(0.0, 1.0) + 0.0,
                    confidence: *confidence,
                    reference,
                    adjudicated,
                });
            }
        }
        // Worst first: least agreement, then by locator.
        examples.sort_by(|a, b| {
            a.agreement
                .total_cmp(&b.agreement)
                .then_with(|| a.locator.cmp(&b.locator))
        });
        relabel.sort();
        QualityReport {
            examples,
            annotators: per_annotator
                .into_iter()
                .map(|(annotator, (compared, agreed))| AnnotatorQuality {
                    annotator,
                    compared,
                    agreed,
                    agreement: (compared > 0).then(|| agreed as f64 / compared as f64),
                })
                .collect(),
            relabel,
            min_confidence,
            adjudicator: self.adjudicator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalised_entropy;

    #[test]
    fn entropy_by_hand() {
        assert_eq!(normalised_entropy(&[3]), 0.0);
        assert!(normalised_entropy(&[3]).is_sign_positive(), "not −0");
        assert_eq!(normalised_entropy(&[1, 1]), 1.0);
        assert_eq!(normalised_entropy(&[1, 1, 1]), 1.0);
        // Labels a, a, b: H = 0.9182958 bits; log2 3 = 1.5849625.
        assert!((normalised_entropy(&[2, 1]) - 0.9182958 / 1.5849625).abs() < 1e-6);
    }
}
