//! Presets: the per-column tests and thresholds other drift tools use by
//! default, reproduced on folio's profiles so their verdicts can be had
//! (and checked) between any two commits. docs/DRIFT.md, "Presets", gives
//! each rule with its source; tests/golden/presets_expect.py computes the
//! expected figures with the real packages.
//!
//! - `evidently`: Evidently 0.4's `DataDriftPreset` defaults
//!   (`evidently/calculations/stattests/registry.py`, `_get_default_stattest`).
//! - `nannyml`: NannyML 0.13's `UnivariateDriftCalculator` default method,
//!   Jensen–Shannon distance, with the constant threshold 0.1 its method
//!   documentation states.

use std::collections::BTreeMap;

use serde::Serialize;

use super::compare::{Kind, Metric};
use super::profile::{ColumnProfile, Values};
use super::stats;

/// Whose defaults decide each column's verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// folio's own (docs/DRIFT.md, "Verdicts").
    #[default]
    Folio,
    /// Evidently's data-drift defaults.
    Evidently,
    /// NannyML's univariate-drift defaults.
    Nannyml,
}

impl Preset {
    /// Every preset, for messages.
    pub const ALL: [Preset; 3] = [Preset::Folio, Preset::Evidently, Preset::Nannyml];

    /// Its name in flags, config and output.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Folio => "folio",
            Preset::Evidently => "evidently",
            Preset::Nannyml => "nannyml",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The share of drifted columns at which a table drifts: Evidently's
    /// `drift_share` (0.5); NannyML has no table verdict, so any alert.
    pub fn share(self) -> Option<f64> {
        match self {
            Preset::Folio => None,
            Preset::Evidently => Some(0.5),
            Preset::Nannyml => Some(f64::MIN_POSITIVE),
        }
    }
}

/// A column's verdict under a preset.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// How the preset sees the column.
    pub kind: Kind,
    /// The test (its name is also a key of the column's metrics).
    pub metric: Metric,
    /// Its value.
    pub value: f64,
    /// Its threshold.
    pub threshold: f64,
    /// Whether the value is a p-value (drift when low).
    pub p_value: bool,
    /// The verdict, compared as the tool compares it.
    pub drifted: bool,
}

/// The verdict `preset` gives a column, or why it gives none.
pub fn verdict(preset: Preset, r: &ColumnProfile, c: &ColumnProfile) -> Result<Verdict, String> {
    let (rs, cs) = (sample(r)?, sample(c)?);
    if rs.len() == 0 || cs.len() == 0 {
        return Err("no values on one side".into());
    }
    match preset {
        Preset::Folio => Err("folio's own rules apply".into()),
        Preset::Evidently => Ok(evidently(&rs, &cs)),
        Preset::Nannyml => Ok(nannyml(&rs, &cs)),
    }
}

/// One side's non-missing values, as the preset tools read them.
enum Sample<'p> {
    /// Numbers, sorted.
    Numbers(&'p [f64]),
    /// Category counts.
    Labels(&'p BTreeMap<String, u64>),
}

impl Sample<'_> {
    fn len(&self) -> u64 {
        match self {
            Sample::Numbers(v) => v.len() as u64,
            Sample::Labels(m) => m.values().sum(),
        }
    }

    /// Counts per distinct value, keyed so numbers sort as numbers.
    fn counts(&self) -> BTreeMap<Key, u64> {
        let mut out = BTreeMap::new();
        match self {
            Sample::Numbers(v) => {
                for x in *v {
                    *out.entry(Key::Number(OrdF64(*x))).or_default() += 1;
                }
            }
            Sample::Labels(m) => {
                for (k, n) in *m {
                    out.insert(Key::Label(k.clone()), *n);
                }
            }
        }
        out
    }
}

fn sample(p: &ColumnProfile) -> Result<Sample<'_>, String> {
    match &p.values {
        Values::Numeric(v) => Ok(Sample::Numbers(v)),
        Values::Strings {
            counts: Some(m), ..
        } => Ok(Sample::Labels(m)),
        Values::Strings { counts: None, .. } => Err(format!(
            "more than {} distinct values: no category counts kept",
            super::profile::MAX_CATEGORIES
        )),
    }
}

/// A float with a total order, for keys.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF64(f64);
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Number(OrdF64),
    Label(String),
}

/// Distinct values of both samples together, up to `cap`.
fn union_distinct(r: &Sample<'_>, c: &Sample<'_>, cap: usize) -> usize {
    match (r, c) {
        (Sample::Numbers(a), Sample::Numbers(b)) => {
            let (mut i, mut j, mut n) = (0, 0, 0);
            let mut last: Option<f64> = None;
            while (i < a.len() || j < b.len()) && n < cap {
                let x = match (a.get(i), b.get(j)) {
                    (Some(x), Some(y)) if x <= y => {
                        i += 1;
                        *x
                    }
                    (Some(_), Some(y)) | (None, Some(y)) => {
                        j += 1;
                        *y
                    }
                    (Some(x), None) => {
                        i += 1;
                        *x
                    }
                    (None, None) => break,
                };
                if last != Some(x) {
                    n += 1;
                    last = Some(x);
                }
            }
            n
        }
        _ => joint(r, c).len(),
    }
}

/// Counts of both sides over the union of their values.
fn joint(r: &Sample<'_>, c: &Sample<'_>) -> Vec<(u64, u64)> {
    let (a, b) = (r.counts(), c.counts());
    let mut keys: Vec<&Key> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.iter()
        .map(|k| {
            (
                a.get(*k).copied().unwrap_or(0),
                b.get(*k).copied().unwrap_or(0),
            )
        })
        .collect()
}

/// A column with at most this many distinct values on both sides gets a
/// categorical test (chi-square, z-test or Jensen–Shannon).
const EVIDENTLY_FEW: usize = 5;
/// Evidently picks its tests by whether the reference has more rows.
const EVIDENTLY_SMALL: u64 = 1000;

fn evidently(r: &Sample<'_>, c: &Sample<'_>) -> Verdict {
    // Its data-drift preset takes numeric columns as numerical (integers
    // with few values included: they get a categorical test below).
    let numeric = matches!(r, Sample::Numbers(_));
    let kind = if numeric {
        Kind::Numeric
    } else {
        Kind::Categorical
    };
    // Distinct values of both sides together, counted only as far as the
    // rule needs (a million distinct floats need no map).
    let distinct = union_distinct(r, c, EVIDENTLY_FEW + 1);
    let pairs = if distinct <= EVIDENTLY_FEW || !numeric {
        joint(r, c)
    } else {
        Vec::new()
    };
    let p_test = |metric, value: f64, drifted| Verdict {
        kind,
        metric,
        value,
        threshold: 0.05,
        p_value: true,
        drifted,
    };
    let distance = |metric, value: f64| Verdict {
        kind,
        metric,
        value,
        threshold: 0.1,
        p_value: false,
        drifted: value >= 0.1,
    };
    if r.len() <= EVIDENTLY_SMALL {
        if numeric && distinct > EVIDENTLY_FEW {
            let (Sample::Numbers(a), Sample::Numbers(b)) = (r, c) else {
                unreachable!("numeric samples")
            };
            let (_, p) = stats::ks(a, b);
            return p_test(Metric::EvidentlyKsP, p, p <= 0.05);
        }
        if distinct > 2 {
            let p = chi_square_gof_p(&pairs);
            return p_test(Metric::EvidentlyChiSquareP, p, p < 0.05);
        }
        let p = z_test_p(&pairs);
        return p_test(Metric::EvidentlyZP, p, p < 0.05);
    }
    if numeric && distinct > EVIDENTLY_FEW {
        let (Sample::Numbers(a), Sample::Numbers(b)) = (r, c) else {
            unreachable!("numeric samples")
        };
        let sd = population_sd(a).max(0.001);
        return distance(
            Metric::EvidentlyWassersteinNorm,
            stats::wasserstein(a, b) / sd,
        );
    }
    let (n, m) = (r.len() as f64, c.len() as f64);
    let p: Vec<f64> = pairs.iter().map(|(a, _)| *a as f64 / n).collect();
    let q: Vec<f64> = pairs.iter().map(|(_, b)| *b as f64 / m).collect();
    distance(
        Metric::EvidentlyJensenShannonDistance,
        js_distance(&p, &q, None),
    )
}

/// Evidently's chi-square: a goodness-of-fit test of the current counts
/// against the reference's scaled to the current size (`scipy.stats.
/// chisquare(f_obs, f_exp)`), k − 1 degrees of freedom. A category the
/// reference lacks makes the statistic infinite: p = 0.
fn chi_square_gof_p(pairs: &[(u64, u64)]) -> f64 {
    let n: u64 = pairs.iter().map(|p| p.0).sum();
    let m: u64 = pairs.iter().map(|p| p.1).sum();
    let scale = m as f64 / n as f64;
    let mut x = 0.0;
    for (a, b) in pairs {
        let exp = *a as f64 * scale;
        if exp == 0.0 {
            return 0.0;
        }
        x += (*b as f64 - exp).powi(2) / exp;
    }
    stats::chi_square_sf(x, pairs.len() as u64 - 1)
}

/// Evidently's z-test of proportions for two categories: the share of
/// values other than the first (in sort order) on each side, pooled
/// standard error, `2 (1 − Φ(|z|))` as `scipy.stats.norm.cdf` computes
/// Φ. One value on both sides: p = 1.
fn z_test_p(pairs: &[(u64, u64)]) -> f64 {
    if pairs.len() < 2 {
        return 1.0;
    }
    let (n1, n2) = (
        pairs.iter().map(|p| p.0).sum::<u64>() as f64,
        pairs.iter().map(|p| p.1).sum::<u64>() as f64,
    );
    // Evidently maps the first key to 0 and every other to 1.
    let p1 = (n1 - pairs[0].0 as f64) / n1;
    let p2 = (n2 - pairs[0].1 as f64) / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let z = (p1 - p2) / (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if !z.is_finite() {
        return f64::NAN;
    }
    2.0 * (1.0 - ndtr(z.abs()))
}

/// The standard normal CDF as Cephes' `ndtr` (scipy's) evaluates it.
fn ndtr(a: f64) -> f64 {
    let x = a * std::f64::consts::FRAC_1_SQRT_2;
    let z = x.abs();
    if z < 1.0 {
        0.5 + 0.5 * libm::erf(x)
    } else {
        let y = 0.5 * libm::erfc(z);
        if x > 0.0 { 1.0 - y } else { y }
    }
}

/// Population standard deviation (numpy's `np.std`).
fn population_sd(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = np_sum(v) / n;
    let dev: Vec<f64> = v.iter().map(|x| (x - mean).powi(2)).collect();
    (np_sum(&dev) / n).sqrt()
}

/// `scipy.spatial.distance.jensenshannon(p, q, base)`: both normalised,
/// `sqrt((Σ rel_entr(p, m) + Σ rel_entr(q, m)) / ln(base) / 2)` with
/// `m = (p + q) / 2`; natural log when `base` is `None`.
fn js_distance(p: &[f64], q: &[f64], base: Option<f64>) -> f64 {
    let (sp, sq) = (np_sum(p), np_sum(q));
    let p: Vec<f64> = p.iter().map(|x| x / sp).collect();
    let q: Vec<f64> = q.iter().map(|x| x / sq).collect();
    let m: Vec<f64> = p.iter().zip(&q).map(|(a, b)| (a + b) / 2.0).collect();
    let rel = |x: &[f64]| -> Vec<f64> {
        x.iter()
            .zip(&m)
            .map(|(a, m)| if *a > 0.0 { a * (a / m).ln() } else { 0.0 })
            .collect()
    };
    let mut js = np_sum(&rel(&p)) + np_sum(&rel(&q));
    if let Some(b) = base {
        js /= b.ln();
    }
    (js / 2.0).sqrt()
}

/// numpy's pairwise summation of a contiguous float64 array (`np.sum`),
/// reproduced so sums round as numpy's do: sequential below 8 values,
/// eight accumulators up to 128, halves (at a multiple of 8) beyond.
fn np_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = -0.0;
        for x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        np_sum(&a[..n2]) + np_sum(&a[n2..])
    }
}

/// NannyML's threshold for Jensen–Shannon: an alert above 0.1.
const NANNYML_THRESHOLD: f64 = 0.1;

fn nannyml(r: &Sample<'_>, c: &Sample<'_>) -> Verdict {
    // NannyML: numbers (integers too) are continuous; strings and booleans
    // categorical.
    let (kind, value) = match (r, c) {
        (Sample::Numbers(a), Sample::Numbers(b)) => (Kind::Numeric, nannyml_continuous(a, b)),
        _ => (Kind::Categorical, nannyml_categorical(r, c)),
    };
    Verdict {
        kind,
        metric: Metric::NannymlJensenShannon,
        value,
        threshold: NANNYML_THRESHOLD,
        p_value: false,
        drifted: value > NANNYML_THRESHOLD,
    }
}

/// NannyML's continuous Jensen–Shannon distance (base 2): bins from
/// `np.histogram_bin_edges(reference, bins="doane")`, each side's share per
/// bin, current values outside the bins as one more bin the reference
/// lacks.
fn nannyml_continuous(r: &[f64], c: &[f64]) -> f64 {
    let edges = doane_edges(r);
    let shares = |v: &[f64]| -> (Vec<f64>, u64) {
        let counts = histogram(v, &edges);
        let inside: u64 = counts.iter().sum();
        let n = v.len() as f64;
        (counts.iter().map(|k| *k as f64 / n).collect(), inside)
    };
    let (p, _) = shares(r);
    let (q, _) = shares(c);
    with_leftover(p, q)
}

/// NannyML's categorical Jensen–Shannon distance (base 2): the reference's
/// categories, and the current side's values outside them as one more.
fn nannyml_categorical(r: &Sample<'_>, c: &Sample<'_>) -> f64 {
    let (a, b) = (r.counts(), c.counts());
    let (n, m) = (r.len() as f64, c.len() as f64);
    let p: Vec<f64> = a.values().map(|k| *k as f64 / n).collect();
    let q: Vec<f64> = a
        .keys()
        .map(|k| b.get(k).copied().unwrap_or(0) as f64 / m)
        .collect();
    with_leftover(p, q)
}

/// NannyML's last step: `leftover = 1 − Σ q` (numpy's sum), appended with a
/// reference share of 0 when positive; then the distance in bits.
fn with_leftover(mut p: Vec<f64>, mut q: Vec<f64>) -> f64 {
    let leftover = 1.0 - np_sum(&q);
    if leftover > 0.0 {
        q.push(leftover);
        p.push(0.0);
    }
    js_distance(&p, &q, Some(2.0))
}

/// `np.histogram_bin_edges(x, bins="doane")` of sorted `x`.
fn doane_edges(x: &[f64]) -> Vec<f64> {
    let (mut first, mut last) = (x[0], x[x.len() - 1]);
    if first == last {
        first -= 0.5;
        last += 0.5;
    }
    let n = x.len();
    let mut width = 0.0;
    if n > 2 {
        let nf = n as f64;
        let sg1 = (6.0 * (nf - 2.0) / ((nf + 1.0) * (nf + 3.0))).sqrt();
        let sigma = population_sd(x);
        if sigma > 0.0 {
            let mean = np_sum(x) / nf;
            let cubes: Vec<f64> = x.iter().map(|v| ((v - mean) / sigma).powi(3)).collect();
            let g1 = np_sum(&cubes) / nf;
            let ptp = x[n - 1] - x[0];
            width = ptp / (1.0 + nf.log2() + (1.0 + g1.abs() / sg1).log2());
        }
    }
    let bins = if width > 0.0 {
        ((last - first) / width).ceil() as usize
    } else {
        1
    }
    .max(1);
    // np.linspace(first, last, bins + 1): i · step + first, the last exact.
    let step = (last - first) / bins as f64;
    let mut edges: Vec<f64> = (0..=bins).map(|i| i as f64 * step + first).collect();
    edges[bins] = last;
    edges
}

/// `np.histogram(x, edges)` of sorted `x`: [e_i, e_{i+1}), the last bin
/// closed; values outside the edges are not counted.
fn histogram(x: &[f64], edges: &[f64]) -> Vec<u64> {
    let below = |e: f64| x.partition_point(|v| *v < e);
    let mut cum: Vec<usize> = edges[..edges.len() - 1].iter().map(|e| below(*e)).collect();
    cum.push(x.partition_point(|v| *v <= edges[edges.len() - 1]));
    cum.windows(2).map(|w| (w[1] - w[0]) as u64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_pairwise_sum_rounds_as_numpy() {
        // 0.1 ten times: sequential summation gives 0.9999999999999999,
        // numpy's eight accumulators give 1.0 (np.sum([0.1] * 10) == 1.0).
        let tenth = [0.1; 10];
        assert_eq!(np_sum(&tenth), 1.0);
        let seq: f64 = tenth.iter().sum();
        assert_eq!(seq, 0.9999999999999999);
        // Below eight values: sequential, as numpy.
        assert_eq!(np_sum(&[0.1; 7]), [0.1; 7].iter().sum::<f64>());
    }

    /// numpy's own sums (tests/golden/np_sum_expect.py), on arrays rebuilt
    /// here with the same IEEE operations; in most cases a sequential sum
    /// differs, so the cases tell the two apart.
    #[test]
    fn sums_match_numpy_bit_for_bit() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/golden/presets/np_sum.json");
        let exp: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("golden")).expect("json");
        let m = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5];
        let bits = |v: &serde_json::Value| {
            f64::from_bits(u64::from_str_radix(v.as_str().expect("hex"), 16).expect("bits"))
        };
        let mut told_apart = 0;
        for c in exp["cases"].as_array().expect("cases") {
            let n = c["n"].as_u64().expect("n") as usize;
            let a: Vec<f64> = (0..n)
                .map(|i| ((i * 7919) % 1000 + 1) as f64 / 997.0 * m[i % 11])
                .collect();
            assert_eq!(np_sum(&a).to_bits(), bits(&c["numpy"]).to_bits(), "n = {n}");
            told_apart += usize::from(bits(&c["numpy"]) != bits(&c["sequential"]));
        }
        assert!(
            told_apart >= 10,
            "the cases must tell pairwise from sequential sums"
        );
    }

    #[test]
    fn histogram_is_half_open_with_a_closed_last_bin() {
        let x = [0.0, 1.0, 1.0, 2.0, 3.0, 9.0];
        assert_eq!(histogram(&x, &[0.0, 1.0, 2.0, 3.0]), vec![1, 2, 2]);
        assert_eq!(histogram(&x, &[1.0, 3.0]), vec![4]);
    }

    #[test]
    fn doane_on_a_constant_sample_is_one_unit_bin() {
        assert_eq!(doane_edges(&[4.0, 4.0, 4.0]), vec![3.5, 4.5]);
    }

    #[test]
    fn jensen_shannon_distance_of_disjoint_shares_is_one_bit() {
        assert!((js_distance(&[1.0, 0.0], &[0.0, 1.0], Some(2.0)) - 1.0).abs() < 1e-15);
        let ln2 = std::f64::consts::LN_2;
        assert!((js_distance(&[1.0, 0.0], &[0.0, 1.0], None) - ln2.sqrt()).abs() < 1e-15);
    }
}
