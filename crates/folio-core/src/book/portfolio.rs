//! The data balance sheet: per dataset and per source, cost, accumulated
//! depreciation and impairment, carrying amount, share, and what the
//! ledger says of the examples held (confidence, sensitivity).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Policy;
use super::ledgered::Ledgered;
use super::report::{self, BookError, By, Month, PeriodKind};
use crate::ledger::ExampleState;
use crate::ledger::inventory::ExactSum;

/// One line of the data balance sheet.
#[derive(Debug, Clone, Serialize)]
pub struct PortfolioRow {
    /// `dataset` or `source`.
    pub kind: &'static str,
    /// The dataset path or source (`(none)` for examples without a
    /// recorded source; JSON `null`).
    #[serde(serialize_with = "report::none_as_null")]
    pub name: String,
    /// Cost of what is held, in minor units.
    #[serde(rename = "cost_minor")]
    pub cost: i64,
    /// Depreciation and impairment charged on it, in minor units.
    #[serde(rename = "accumulated_minor")]
    pub accumulated: i64,
    /// Carrying amount, in minor units.
    #[serde(rename = "carrying_minor")]
    pub carrying: i64,
    /// Share of the total carrying amount.
    pub share: f64,
    /// Mean latest confidence of its examples present now (when any).
    pub mean_confidence: Option<f64>,
    /// Its examples present now, per sensitivity class (`unclassified`
    /// when none is recorded).
    pub sensitivity: BTreeMap<String, u64>,
    /// For datasets: the drift verdict from HEAD's first parent to HEAD
    /// (`drifted`, `stable`, or none when there is no parent or nothing to
    /// compare).
    pub drift: Option<String>,
}

/// The data balance sheet.
#[derive(Debug, Clone, Serialize)]
pub struct Portfolio {
    /// The month whose end it is measured at.
    pub as_of: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Per dataset, then per source.
    pub rows: Vec<PortfolioRow>,
    /// Total carrying amount, in minor units.
    #[serde(rename = "carrying_minor")]
    pub carrying: i64,
    /// Total cost, in minor units.
    #[serde(rename = "cost_minor")]
    pub cost: i64,
    /// Carrying amount at the end of each month from the first lot's
    /// (JSON: `month`, `carrying_minor`).
    #[serde(serialize_with = "monthly")]
    pub history: Vec<(String, i64)>,
}

/// (month, carrying) pairs as named fields.
fn monthly<S: serde::Serializer>(v: &[(String, i64)], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Point<'a> {
        month: &'a str,
        carrying_minor: i64,
    }
    s.collect_seq(v.iter().map(|(m, c)| Point {
        month: m,
        carrying_minor: *c,
    }))
}

impl Portfolio {
    /// The balance sheet of what `l` holds at the end of `as_of`, before
    /// the examples' statistics ([`Portfolio::describe`]) and drift.
    pub fn of(
        l: &Ledgered,
        policies: &BTreeMap<String, Policy>,
        as_of: Month,
    ) -> Result<Portfolio, BookError> {
        let lots = l.booked_lots();
        let currency = report::check(&lots, policies)?;
        let from = lots
            .iter()
            .map(|x| x.start)
            .min()
            .expect("checked: not empty");
        let to = as_of.max(from);
        let mut rows = Vec::new();
        let mut history = Vec::new();
        for (kind, by) in [("dataset", By::Dataset), ("source", By::Source)] {
            let s = report::schedule(
                &lots,
                policies,
                &l.runs,
                &l.impairments,
                from,
                to,
                PeriodKind::Month,
                by,
            )?;
            if by == By::Dataset {
                history = s
                    .totals
                    .iter()
                    .map(|t| (t.period.clone(), t.closing))
                    .collect();
            }
            let last = to.to_string();
            for r in s.rows.iter().filter(|r| r.period == last) {
                rows.push(PortfolioRow {
                    kind,
                    name: r.key.clone(),
                    cost: r.cost,
                    accumulated: r.cost - r.closing,
                    carrying: r.closing,
                    share: 0.0,
                    mean_confidence: None,
                    sensitivity: BTreeMap::new(),
                    drift: None,
                });
            }
        }
        let datasets = rows.iter().filter(|r| r.kind == "dataset");
        let (carrying, cost) = datasets.fold((0, 0), |(a, c), r| (a + r.carrying, c + r.cost));
        for r in &mut rows {
            r.share = if carrying > 0 {
                r.carrying as f64 / carrying as f64
            } else {
                0.0
            };
        }
        Ok(Portfolio {
            as_of: as_of.to_string(),
            currency,
            rows,
            carrying,
            cost,
            history,
        })
    }

    /// Fills each row's mean confidence and sensitivity counts from what
    /// `d` counted of the examples present now.
    pub fn describe(&mut self, d: &Description) {
        for r in &mut self.rows {
            let key = (r.kind, r.name.clone());
            r.mean_confidence = d.confidence.get(&key).map(|(s, n)| s.value() / *n as f64);
            r.sensitivity = d.sensitivity.get(&key).cloned().unwrap_or_default();
        }
    }
}

/// What a portfolio's rows say of the examples present, per dataset and
/// per source: their confidences, summed exactly (the mean does not depend
/// on the order examples come in), and their sensitivity classes. Counted
/// one example at a time, in parts that merge.
#[derive(Debug, Default)]
pub struct Description {
    confidence: HashMap<(&'static str, String), (ExactSum, u64)>,
    sensitivity: HashMap<(&'static str, String), BTreeMap<String, u64>>,
}

impl Description {
    /// Counts example `st` (one not present is not counted).
    pub fn add(&mut self, st: &ExampleState) {
        if !st.present {
            return;
        }
        let source = st.source.clone().unwrap_or_else(|| "(none)".into());
        let class = st.sensitivity.as_deref().unwrap_or("unclassified");
        for key in [("dataset", st.dataset.clone()), ("source", source)] {
            if let Some(c) = st.confidence {
                let e = self.confidence.entry(key.clone()).or_default();
                e.0.add(c);
                e.1 += 1;
            }
            *self
                .sensitivity
                .entry(key)
                .or_default()
                .entry(class.to_string())
                .or_default() += 1;
        }
    }

    /// Counts what `other` counted too.
    pub fn merge(&mut self, other: Description) {
        for (k, (s, n)) in other.confidence {
            let e = self.confidence.entry(k).or_default();
            e.0.merge(&s);
            e.1 += n;
        }
        for (k, classes) in other.sensitivity {
            let e = self.sensitivity.entry(k).or_default();
            for (c, n) in classes {
                *e.entry(c).or_default() += n;
            }
        }
    }
}

/// An impairment to record or propose.
#[derive(Debug, Clone, Serialize)]
pub struct Impairment {
    /// The dataset.
    pub dataset: String,
    /// The month it takes effect in.
    pub month: String,
    /// The carrying amount before it, in minor units.
    #[serde(rename = "carrying_minor")]
    pub carrying: i64,
    /// The loss, in minor units.
    #[serde(rename = "amount_minor")]
    pub amount: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Why.
    pub reason: String,
    /// Whether it was recorded in the ledger.
    pub recorded: bool,
}

/// The impairment drift suggests: `drifted` of `compared` columns, as a
/// share of `carrying`, rounded half away from zero (docs/BOOK.md).
pub fn drift_impairment(carrying: i64, drifted: u64, compared: u64) -> i64 {
    if compared == 0 {
        return 0;
    }
    let (c, k, n) = (
        i128::from(carrying),
        i128::from(drifted),
        i128::from(compared),
    );
    ((2 * c * k + n) / (2 * n)) as i64
}

#[cfg(test)]
mod tests {
    use super::drift_impairment;

    #[test]
    fn drift_impairment_rounds_half_up() {
        // 1000 × 1/3 = 333.33 → 333; 1001 × 1/2 = 500.5 → 501.
        assert_eq!(drift_impairment(1000, 1, 3), 333);
        assert_eq!(drift_impairment(1001, 1, 2), 501);
        assert_eq!(drift_impairment(1000, 0, 0), 0);
        assert_eq!(drift_impairment(999, 3, 3), 999);
    }
}
