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
    /// List at most this many locators of examples missing a source, a
    /// label or a licence, the first in locator order (`None`: all of
    /// them); the counts are of all of them either way.
    pub listed: Option<usize>,
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
    /// Locators of examples with no recorded source, in order (the first
    /// `listed` of them when the filter says so).
    pub without_source: Vec<crate::ledger::Locator>,
    /// Locators of examples with no label, likewise.
    pub without_annotation: Vec<crate::ledger::Locator>,
    /// Locators of examples with no licence, likewise.
    pub without_license: Vec<crate::ledger::Locator>,
    /// How many examples lack each (all of them, listed or not).
    pub missing: Missing,
}

/// How many examples present lack a source, a label, a licence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Missing {
    /// Without a recorded source.
    pub source: u64,
    /// Without a label.
    pub annotation: u64,
    /// Without a licence.
    pub license: u64,
}

impl AuditReport {
    /// The inventory of `states` (what a ledger view says of each example)
    /// that `filter` selects, for `commit`.
    pub fn of(
        commit: crate::id::CommitId,
        states: IdMap<ExampleState>,
        filter: &AuditFilter,
    ) -> AuditReport {
        let mut inv = Inventory::new(filter);
        states.into_values().for_each(|st| inv.add(st));
        inv.finish(commit)
    }
}

/// An inventory being counted: examples are added one at a time, in any
/// order (the report does not depend on it), and not kept.
pub struct Inventory<'f> {
    filter: &'f AuditFilter,
    /// Groups by dataset, then source (looked up without allocating).
    groups: BTreeMap<String, BTreeMap<Option<String>, Tally>>,
    without_source: Lowest,
    without_annotation: Lowest,
    without_license: Lowest,
}

/// A group with its confidences, summed exactly.
struct Tally {
    group: AuditGroup,
    confidences: ExactSum,
    rated: u64,
}

impl<'f> Inventory<'f> {
    /// An empty inventory of the examples `filter` selects.
    pub fn new(filter: &'f AuditFilter) -> Inventory<'f> {
        Inventory {
            filter,
            groups: BTreeMap::new(),
            without_source: Lowest::new(filter.listed),
            without_annotation: Lowest::new(filter.listed),
            without_license: Lowest::new(filter.listed),
        }
    }

    /// Counts example `st` (one not present, or one the filter leaves out,
    /// is not counted).
    pub fn add(&mut self, st: ExampleState) {
        if !st.present {
            return;
        }
        let sens = st.sensitivity.as_deref().unwrap_or("unclassified");
        let f = self.filter;
        if f.source
            .as_ref()
            .is_some_and(|f| Some(f) != st.source.as_ref())
            || f.dataset.as_ref().is_some_and(|f| *f != st.dataset)
            || f.sensitivity.as_ref().is_some_and(|f| f != sens)
        {
            return;
        }
        let by_source = match self.groups.get_mut(st.dataset.as_str()) {
            Some(m) => m,
            None => self.groups.entry(st.dataset.clone()).or_default(),
        };
        let t = match by_source.get_mut(&st.source) {
            Some(t) => t,
            None => by_source.entry(st.source.clone()).or_insert_with(|| Tally {
                group: AuditGroup {
                    source: st.source.clone(),
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
                confidences: ExactSum::default(),
                rated: 0,
            }),
        };
        let g = &mut t.group;
        g.examples += 1;
        count(&mut g.sensitivity, sens);
        match &st.license {
            Some(l) => count(&mut g.licenses, l),
            None => g.unlicensed += 1,
        }
        if st.label.is_some() {
            g.annotated += 1;
        }
        if let Some(a) = &st.annotator
            && !g.annotators.contains(a)
        {
            g.annotators.insert(a.clone());
        }
        if let Some(c) = st.confidence {
            t.confidences.add(c);
            t.rated += 1;
            g.min_confidence = Some(g.min_confidence.map_or(c, |m: f64| m.min(c)));
        }
        if let Some((micros, cur)) = &st.cost {
            match g.cost_micros.get_mut(cur) {
                Some(v) => *v += micros,
                None => {
                    g.cost_micros.insert(cur.clone(), *micros);
                }
            }
        }
        if st.source.is_none() {
            self.without_source.push(&st.locator);
        }
        if st.label.is_none() {
            self.without_annotation.push(&st.locator);
        }
        if st.license.is_none() {
            self.without_license.push(&st.locator);
        }
    }

    /// Counts the examples `other` counted too (of the same filter).
    pub fn merge(&mut self, other: Inventory<'_>) {
        self.without_source.merge(other.without_source);
        self.without_annotation.merge(other.without_annotation);
        self.without_license.merge(other.without_license);
        for (dataset, by_source) in other.groups {
            let mine = self.groups.entry(dataset).or_default();
            for (source, t) in by_source {
                let Some(m) = mine.get_mut(&source) else {
                    mine.insert(source, t);
                    continue;
                };
                let (g, o) = (&mut m.group, t.group);
                g.examples += o.examples;
                g.annotated += o.annotated;
                g.unlicensed += o.unlicensed;
                for (k, n) in o.sensitivity {
                    *g.sensitivity.entry(k).or_default() += n;
                }
                for (k, n) in o.licenses {
                    *g.licenses.entry(k).or_default() += n;
                }
                g.annotators.extend(o.annotators);
                for (k, v) in o.cost_micros {
                    *g.cost_micros.entry(k).or_default() += v;
                }
                g.min_confidence = match (g.min_confidence, o.min_confidence) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                m.confidences.merge(&t.confidences);
                m.rated += t.rated;
            }
        }
    }

    /// The report, for `commit`.
    pub fn finish(self, commit: crate::id::CommitId) -> AuditReport {
        let (without_source, source) = self.without_source.finish();
        let (without_annotation, annotation) = self.without_annotation.finish();
        let (without_license, license) = self.without_license.finish();
        let mut groups: Vec<AuditGroup> = self
            .groups
            .into_values()
            .flat_map(BTreeMap::into_values)
            .map(|t| {
                let mut g = t.group;
                g.mean_confidence = (t.rated > 0).then(|| t.confidences.value() / t.rated as f64);
                g
            })
            .collect();
        // By source, then dataset.
        groups.sort_by(|a, b| (&a.source, &a.dataset).cmp(&(&b.source, &b.dataset)));
        AuditReport {
            commit,
            groups,
            without_source,
            without_annotation,
            without_license,
            missing: Missing {
                source,
                annotation,
                license,
            },
        }
    }
}

/// The first `limit` (all: `None`) of the locators pushed, in order, and
/// how many were pushed: held in at most twice the limit, and a locator
/// past the kept ones is not copied.
struct Lowest {
    limit: Option<usize>,
    kept: Vec<crate::ledger::Locator>,
    /// Once the kept ones were cut to the limit: the greatest of them.
    bound: Option<crate::ledger::Locator>,
    count: u64,
}

impl Lowest {
    fn new(limit: Option<usize>) -> Lowest {
        Lowest {
            limit,
            kept: Vec::new(),
            bound: None,
            count: 0,
        }
    }

    fn push(&mut self, l: &crate::ledger::Locator) {
        self.count += 1;
        if self.wants(l) {
            self.keep(Some(l.clone()));
        }
    }

    /// Whether `l` may be among the first `limit` (locators are distinct:
    /// one at or past the bound is not).
    fn wants(&self, l: &crate::ledger::Locator) -> bool {
        self.limit != Some(0) && self.bound.as_ref().is_none_or(|b| l < b)
    }

    fn keep(&mut self, l: Option<crate::ledger::Locator>) {
        let Some(l) = l else { return };
        self.kept.push(l);
        if let Some(k) = self.limit
            && self.kept.len() >= 2 * k
        {
            self.kept.select_nth_unstable(k - 1);
            self.kept.truncate(k);
            self.bound = self.kept.iter().max().cloned();
        }
    }

    fn merge(&mut self, other: Lowest) {
        self.count += other.count;
        for l in other.kept {
            if self.wants(&l) {
                self.keep(Some(l));
            }
        }
    }

    fn finish(mut self) -> (Vec<crate::ledger::Locator>, u64) {
        use rayon::prelude::*;
        // Locators are distinct (one an example): an unstable sort gives
        // one order, on every core.
        self.kept.par_sort_unstable();
        if let Some(k) = self.limit {
            self.kept.truncate(k);
        }
        (self.kept, self.count)
    }
}

/// One more of `key` (its key allocated only the first time).
fn count(m: &mut BTreeMap<String, u64>, key: &str) {
    match m.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            m.insert(key.to_string(), 1);
        }
    }
}

/// The sum of finite numbers, exact until it is rounded once at the end
/// (Shewchuk's non-overlapping partials, rounded as Python's `math.fsum`):
/// the same whatever order the numbers come in, so a report does not
/// depend on the order examples are read in.
#[derive(Debug, Clone, Default)]
pub struct ExactSum {
    partials: Vec<f64>,
}

impl ExactSum {
    /// Adds `x` (finite).
    pub fn add(&mut self, x: f64) {
        let mut x = x;
        let mut kept = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[kept] = lo;
                kept += 1;
            }
            x = hi;
        }
        self.partials.truncate(kept);
        self.partials.push(x);
    }

    /// Adds every number `other` holds (exactly: its partials sum to them).
    pub fn merge(&mut self, other: &ExactSum) {
        other.partials.iter().for_each(|x| self.add(*x));
    }

    /// The sum, correctly rounded.
    pub fn value(&self) -> f64 {
        let p = &self.partials;
        let Some(mut n) = p.len().checked_sub(1) else {
            return 0.0;
        };
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            lo = y - (hi - x);
            if lo != 0.0 {
                break;
            }
        }
        // Round half to even across the partials below: when the next one
        // has the sign of `lo`, the exact sum is past the halfway point.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            if y == x - hi {
                hi = x;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::{AuditFilter, ExactSum, Inventory};
    use crate::ledger::{ExampleState, Locator};
    use proptest::prelude::*;

    /// A present example `i`: a source for every third, a label for every
    /// other, a licence for every fifth, two datasets.
    fn example(i: u32) -> ExampleState {
        ExampleState {
            locator: Locator::from_stored(format!("d{}/{i:04}", i % 2)),
            dataset: format!("d{}", i % 2),
            source: i.is_multiple_of(3).then(|| "s".to_string()),
            present: i % 7 != 6,
            label: i.is_multiple_of(2).then(|| "cat".to_string()),
            confidence: i.is_multiple_of(2).then(|| f64::from(i % 10) / 10.0),
            license: i.is_multiple_of(5).then(|| "cc-by".to_string()),
            ..Default::default()
        }
    }

    proptest! {
        /// Counted in any number of parts and with any limit, the report
        /// is the one counted at once with every locator listed, its lists
        /// cut to the limit; each list is every missing example's locator
        /// in order, as counted here from the examples.
        #[test]
        fn inventories_in_parts_and_limited_lists_agree(
            ids in prop::collection::btree_set(0u32..500, 0..200),
            cuts in prop::collection::vec(0usize..200, 0..4),
            limit in 0usize..30,
        ) {
            let ids: Vec<u32> = ids.into_iter().collect();
            let all = AuditFilter::default();
            let mut whole = Inventory::new(&all);
            ids.iter().for_each(|i| whole.add(example(*i)));
            let whole = whole.finish(crate::id::CommitId(crate::id::ObjectId::of(b"c")));
            let want = |f: &dyn Fn(&ExampleState) -> bool| -> Vec<String> {
                let mut v: Vec<String> = ids.iter().map(|i| example(*i))
                    .filter(|e| e.present && f(e))
                    .map(|e| e.locator.to_string()).collect();
                v.sort();
                v
            };
            let shown = |l: &[Locator]| l.iter().map(Locator::to_string).collect::<Vec<_>>();
            prop_assert_eq!(shown(&whole.without_source), want(&|e| e.source.is_none()));
            prop_assert_eq!(shown(&whole.without_annotation), want(&|e| e.label.is_none()));
            prop_assert_eq!(shown(&whole.without_license), want(&|e| e.license.is_none()));

            let limited = AuditFilter { listed: Some(limit), ..Default::default() };
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c.min(&ids.len()).to_owned()).collect();
            bounds.push(0);
            bounds.push(ids.len());
            bounds.sort_unstable();
            let mut parts = bounds.windows(2).map(|w| {
                let mut inv = Inventory::new(&limited);
                ids[w[0]..w[1]].iter().for_each(|i| inv.add(example(*i)));
                inv
            });
            let mut merged = parts.next().expect("one part at least");
            parts.for_each(|p| merged.merge(p));
            let r = merged.finish(whole.commit);
            let cut = |v: &[Locator]| v.iter().take(limit).cloned().collect::<Vec<_>>();
            prop_assert_eq!(&r.without_source, &cut(&whole.without_source));
            prop_assert_eq!(&r.without_annotation, &cut(&whole.without_annotation));
            prop_assert_eq!(&r.without_license, &cut(&whole.without_license));
            prop_assert_eq!(r.missing, whole.missing);
            prop_assert_eq!(r.missing.source, whole.without_source.len() as u64);
            prop_assert_eq!(r.missing.license, whole.without_license.len() as u64);
            prop_assert_eq!(
                serde_json::to_value(&r.groups).expect("json"),
                serde_json::to_value(&whole.groups).expect("json")
            );
        }
    }

    fn sum(xs: &[f64]) -> f64 {
        let mut s = ExactSum::default();
        xs.iter().for_each(|x| s.add(*x));
        s.value()
    }

    #[test]
    fn an_exact_sum_keeps_what_a_running_sum_loses() {
        assert_eq!(sum(&[1e16, 1.0, -1e16]), 1.0);
        assert_eq!(sum(&[0.1, 0.2, 0.3]), 0.6);
        assert_eq!(sum(&[]), 0.0);
        // The running sum of the same numbers is off in both cases.
        assert_ne!(1e16 + 1.0 - 1e16, 1.0);
        assert_ne!(0.1 + 0.2 + 0.3, 0.6);
    }

    proptest! {
        /// Multiples of 2^-30 below 1 sum exactly in integers: the exact
        /// sum is that integer sum, scaled, in any order.
        #[test]
        fn exact_sums_equal_integer_sums_in_any_order(
            ks in prop::collection::vec(0u64..(1 << 30), 0..300),
            seed in any::<u64>(),
        ) {
            let xs: Vec<f64> = ks.iter().map(|k| *k as f64 / (1u64 << 30) as f64).collect();
            let want = ks.iter().sum::<u64>() as f64 / (1u64 << 30) as f64;
            prop_assert_eq!(sum(&xs), want);
            let mut shuffled = xs.clone();
            let mut r = seed | 1;
            for i in (1..shuffled.len()).rev() {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                shuffled.swap(i, (r % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(sum(&shuffled), want);
        }

        /// Any finite numbers in [0, 1]: the order they come in does not
        /// change the sum.
        #[test]
        fn exact_sums_do_not_depend_on_order(xs in prop::collection::vec(0.0f64..=1.0, 0..300)) {
            let mut rev = xs.clone();
            rev.reverse();
            let mut sorted = xs.clone();
            sorted.sort_by(f64::total_cmp);
            prop_assert_eq!(sum(&xs).to_bits(), sum(&rev).to_bits());
            prop_assert_eq!(sum(&xs).to_bits(), sum(&sorted).to_bits());
        }
    }
}
