//! Comparing two profiles: per-column statistics, thresholds and verdicts.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::profile::{ColumnProfile, Profile, Values, is_numeric};
use super::stats::{self, Counts};

/// A drift metric a verdict can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Population stability index (nats).
    Psi,
    /// Jensen–Shannon divergence (bits).
    JensenShannon,
    /// KL(reference ‖ current) (nats).
    Kl,
    /// Hellinger distance.
    Hellinger,
    /// Largest change of a category's share.
    LInfinity,
    /// Kolmogorov–Smirnov statistic D.
    Ks,
    /// Kolmogorov–Smirnov p-value (drift when below the threshold).
    KsP,
    /// Chi-square p-value (drift when below the threshold).
    ChiSquareP,
    /// Wasserstein distance over the reference standard deviation.
    WassersteinNorm,
    /// Evidently's KS p-value (as `ks_p`; drift at or below the threshold).
    EvidentlyKsP,
    /// Evidently's chi-square: goodness of fit of the current counts to the
    /// reference's (a p-value).
    EvidentlyChiSquareP,
    /// Evidently's two-proportion z-test p-value.
    EvidentlyZP,
    /// Evidently's Wasserstein distance over max(sd, 0.001).
    EvidentlyWassersteinNorm,
    /// Evidently's Jensen–Shannon distance (natural log, square root).
    EvidentlyJensenShannonDistance,
    /// NannyML's Jensen–Shannon distance (bits, square root, its bins).
    NannymlJensenShannon,
}

impl Metric {
    /// Every metric, for messages.
    pub const ALL: [Metric; 9] = [
        Metric::Psi,
        Metric::JensenShannon,
        Metric::Kl,
        Metric::Hellinger,
        Metric::LInfinity,
        Metric::Ks,
        Metric::KsP,
        Metric::ChiSquareP,
        Metric::WassersteinNorm,
    ];

    /// Its name in output, config and flags.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Psi => "psi",
            Metric::JensenShannon => "jensen_shannon",
            Metric::Kl => "kl",
            Metric::Hellinger => "hellinger",
            Metric::LInfinity => "l_infinity",
            Metric::Ks => "ks",
            Metric::KsP => "ks_p",
            Metric::ChiSquareP => "chi_square_p",
            Metric::WassersteinNorm => "wasserstein_norm",
            Metric::EvidentlyKsP => "evidently_ks_p",
            Metric::EvidentlyChiSquareP => "evidently_chi_square_p",
            Metric::EvidentlyZP => "evidently_z_p",
            Metric::EvidentlyWassersteinNorm => "evidently_wasserstein_norm",
            Metric::EvidentlyJensenShannonDistance => "evidently_jensen_shannon_distance",
            Metric::NannymlJensenShannon => "nannyml_jensen_shannon",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Whether `value` crosses `threshold`: below it for p-values (at or
    /// below for Evidently's KS, as Evidently compares), at or above it
    /// for the others (strictly above for NannyML's, as NannyML alerts).
    pub fn crossed(self, value: f64, threshold: f64) -> bool {
        match self {
            Metric::EvidentlyKsP => value <= threshold,
            Metric::NannymlJensenShannon => value > threshold,
            m if m.is_p_value() => value < threshold,
            _ => value >= threshold,
        }
    }

    /// True for p-values: drift when the value falls *below* the threshold.
    pub fn is_p_value(self) -> bool {
        matches!(
            self,
            Metric::KsP
                | Metric::ChiSquareP
                | Metric::EvidentlyKsP
                | Metric::EvidentlyChiSquareP
                | Metric::EvidentlyZP
        )
    }
}

/// How a column is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Numbers.
    Numeric,
    /// Labels.
    Categorical,
    /// Free text (strings with many distinct values).
    Text,
}

impl Kind {
    /// The default metric and threshold (docs/DRIFT.md, "Verdicts").
    pub fn default_rule(self) -> (Metric, f64) {
        match self {
            Kind::Numeric => (Metric::Psi, 0.25),
            Kind::Categorical | Kind::Text => (Metric::JensenShannon, 0.1),
        }
    }
}

impl Kind {
    /// Parses a kind a user may set: `numeric` or `categorical`.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "numeric" => Some(Kind::Numeric),
            "categorical" => Some(Kind::Categorical),
            _ => None,
        }
    }
}

/// Numeric columns whose reference values are integers with at most this
/// many distinct values are compared as categories (docs/DRIFT.md).
pub const LOW_CARDINALITY: usize = 10;

/// True when sorted values (of an integer column) are all integers with
/// at most [`LOW_CARDINALITY`] distinct values.
fn low_cardinality(sorted: &[f64]) -> bool {
    if sorted.is_empty() || sorted.iter().any(|x| x.fract() != 0.0) {
        return false;
    }
    let distinct = 1 + sorted.windows(2).filter(|w| w[0] != w[1]).count();
    distinct <= LOW_CARDINALITY
}

/// A per-column override of the metric, threshold or kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rule {
    /// The metric.
    pub metric: Option<Metric>,
    /// The threshold.
    pub threshold: Option<f64>,
    /// Compare as numbers or as categories, whatever the values.
    pub kind: Option<Kind>,
}

/// Settings of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Bins for numeric columns, frozen from the reference's quantiles.
    pub bins: usize,
    /// A table drifted when at least this share of its columns drifted.
    pub share: f64,
    /// A column's missing rate drifted when it moved by at least this much.
    pub missing: f64,
    /// Overrides by column name.
    pub rules: BTreeMap<String, Rule>,
    /// Whose defaults give each column's verdict where no rule does.
    pub preset: super::preset::Preset,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bins: 10,
            share: 0.5,
            missing: 0.1,
            rules: BTreeMap::new(),
            preset: super::preset::Preset::Folio,
        }
    }
}

/// Binning of a numeric comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bins {
    /// Bins used: repeated quantiles merge, and a bin below the reference's
    /// minimum is added when the lowest quantile is the minimum.
    pub count: usize,
    /// Interior edges; bin 0 is (−∞, e₀], the last is (e_last, +∞).
    pub edges: Vec<f64>,
    /// Where the edges came from.
    pub source: &'static str,
}

/// Two distributions side by side, for reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shares {
    /// Bin or category labels.
    pub labels: Vec<String>,
    /// Reference shares.
    pub reference: Vec<f64>,
    /// Current shares.
    pub current: Vec<f64>,
}

/// The missing-value rate on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missing {
    /// Reference rate.
    pub reference: f64,
    /// Current rate.
    pub current: f64,
    /// Two-proportion z statistic.
    pub z: f64,
    /// Its two-sided p-value.
    pub p_value: f64,
    /// The rate moved by at least the setting.
    pub drifted: bool,
}

/// One column's drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDrift {
    /// Column name.
    pub column: String,
    /// How it was compared.
    pub kind: Kind,
    /// Its type in the reference and in the current table.
    #[serde(serialize_with = "pair")]
    pub types: (String, String),
    /// Non-missing values on each side.
    #[serde(serialize_with = "pair")]
    pub n: (u64, u64),
    /// Missing values.
    pub missing: Missing,
    /// Every statistic computed (`null` when undefined).
    pub metrics: BTreeMap<&'static str, Option<f64>>,
    /// Binning, for numeric columns (and text lengths).
    pub bins: Option<Bins>,
    /// The distributions compared.
    pub shares: Shares,
    /// Categories new in the current table, with their current share.
    #[serde(serialize_with = "shares_of")]
    pub new_categories: Vec<(String, f64)>,
    /// Categories gone from the current table, with their reference share.
    #[serde(serialize_with = "shares_of")]
    pub vanished_categories: Vec<(String, f64)>,
    /// The metric the verdict uses.
    pub metric: Metric,
    /// Its value (`null` when undefined: no values on a side).
    pub value: Option<f64>,
    /// The threshold.
    pub threshold: f64,
    /// Whether the column drifted (by its metric, or its missing rate).
    pub drifted: bool,
    /// Why a figure is missing, when one is.
    pub note: Option<String>,
}

/// A (reference, current) pair as JSON names it: `{"reference": …,
/// "current": …}`, not a two-element array whose order a reader must know.
fn pair<S: serde::Serializer, T: Serialize>(v: &(T, T), s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("Pair", 2)?;
    st.serialize_field("reference", &v.0)?;
    st.serialize_field("current", &v.1)?;
    st.end()
}

/// Categories with a share, as JSON names them: `[{"category": …,
/// "share": …}]`.
fn shares_of<S: serde::Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::{SerializeSeq, SerializeStruct};
    struct One<'a>(&'a (String, f64));
    impl Serialize for One<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut st = s.serialize_struct("CategoryShare", 2)?;
            st.serialize_field("category", &self.0.0)?;
            st.serialize_field("share", &self.0.1)?;
            st.end()
        }
    }
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for x in v {
        seq.serialize_element(&One(x))?;
    }
    seq.end()
}

/// A column present on one side only, or whose type changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaNote {
    /// Column name.
    pub column: String,
    /// What changed.
    pub change: String,
}

/// A table's (or folder's) drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableDrift {
    /// Table (or folder) path.
    pub path: String,
    /// Rows (files) on each side.
    #[serde(serialize_with = "pair")]
    pub rows: (u64, u64),
    /// What was selected: rows of each side, columns.
    pub selection: super::report::Selection,
    /// The selection, a line each.
    pub selected: Vec<String>,
    /// Data columns compared.
    pub columns: Vec<ColumnDrift>,
    /// Metadata columns (mapped to the ledger) and the ledger's label and
    /// confidence, compared; they count toward the verdict only when the
    /// selection says so.
    pub metadata: Vec<ColumnDrift>,
    /// Columns the verdict counts.
    pub counted_columns: usize,
    /// Schema changes (not compared).
    pub schema: Vec<SchemaNote>,
    /// Key columns, not compared: they identify rows.
    pub key: Vec<String>,
    /// Counted columns that drifted.
    pub drifted_columns: usize,
    /// Their share of the columns counted.
    pub drifted_share: f64,
    /// Whether the table drifted (share ≥ the setting).
    pub drifted: bool,
    /// A message when nothing could be compared.
    pub note: Option<String>,
    /// Remarks on how columns were compared (a column read through the
    /// ledger, say).
    pub notes: Vec<String>,
}

impl TableDrift {
    /// Counts the drifted columns the verdict counts and sets the verdict.
    fn tally(&mut self, share: f64) {
        let counted: Vec<&ColumnDrift> = if self.selection.count_metadata {
            self.columns.iter().chain(&self.metadata).collect()
        } else {
            self.columns.iter().collect()
        };
        self.counted_columns = counted.len();
        self.drifted_columns = counted.iter().filter(|c| c.drifted).count();
        self.drifted_share = rate(self.drifted_columns as u64, self.counted_columns as u64);
        self.drifted = self.counted_columns > 0 && self.drifted_share >= share;
    }
}

fn rate(k: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { k as f64 / n as f64 }
}

/// Mean and population standard deviation, with compensated sums; a
/// constant sample has exactly its value as mean and 0 as deviation (not
/// a rounding residue that would make `wasserstein_norm` astronomic).
fn mean_sd(v: &[f64]) -> (f64, f64) {
    let Some(&first) = v.first() else {
        return (0.0, 0.0);
    };
    if v.iter().all(|x| *x == first) {
        return (first, 0.0);
    }
    let n = v.len() as f64;
    let mean = neumaier(v.iter().copied()) / n;
    let var = neumaier(v.iter().map(|x| (x - mean).powi(2))) / n;
    (mean, var.sqrt())
}

/// Neumaier's compensated sum.
fn neumaier(xs: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for x in xs {
        let t = sum + x;
        c += if sum.abs() >= x.abs() {
            (sum - t) + x
        } else {
            (x - t) + sum
        };
        sum = t;
    }
    sum + c
}

fn fmt_edge(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Numeric comparison over bins frozen from the reference.
fn numeric(
    r: &[f64],
    c: &[f64],
    bins: usize,
    m: &mut BTreeMap<&'static str, Option<f64>>,
) -> (Option<Bins>, Shares) {
    let edges = stats::quantile_edges(r, bins);
    let (cr, cc) = (stats::bin_counts(r, &edges), stats::bin_counts(c, &edges));
    let both = !r.is_empty() && !c.is_empty();
    let some = |v: f64| both.then_some(v);
    m.insert("psi", some(stats::psi(&cr, &cc)));
    m.insert("jensen_shannon", some(stats::jensen_shannon(&cr, &cc)));
    m.insert("kl", some(stats::kl(&cr, &cc)));
    m.insert("hellinger", some(stats::hellinger(&cr, &cc)));
    let (d, p) = stats::ks(r, c);
    m.insert("ks", some(d));
    m.insert("ks_p", some(p));
    let w = stats::wasserstein(r, c);
    m.insert("wasserstein", some(w));
    let (_, sd) = mean_sd(r);
    m.insert(
        "wasserstein_norm",
        both.then_some(w / sd).filter(|v| v.is_finite()),
    );
    let mean = |v: &[f64]| (!v.is_empty()).then(|| mean_sd(v).0);
    m.insert("mean_reference", mean(r));
    m.insert("mean_current", mean(c));
    let outside = match (r.first(), r.last()) {
        (Some(lo), Some(hi)) if !c.is_empty() => {
            Some(c.iter().filter(|x| *x < lo || *x > hi).count() as f64 / c.len() as f64)
        }
        _ => None,
    };
    m.insert("outside_reference_range", outside);
    let mut labels = Vec::new();
    // The bin below the reference's minimum (see `stats::quantile_edges`).
    let below_min = edges.len() >= 2 && edges[0] == edges[1].next_down();
    for i in 0..=edges.len() {
        if below_min && i < 2 {
            let op = if i == 0 { "<" } else { "=" };
            labels.push(format!("{op} {}", fmt_edge(edges[1])));
            continue;
        }
        labels.push(match (i.checked_sub(1).map(|j| edges[j]), edges.get(i)) {
            (None, Some(hi)) => format!("≤ {}", fmt_edge(*hi)),
            (Some(lo), Some(hi)) => format!("({}, {}]", fmt_edge(lo), fmt_edge(*hi)),
            (Some(lo), None) => format!("> {}", fmt_edge(lo)),
            (None, None) => "all".into(),
        });
    }
    (
        Some(Bins {
            count: edges.len() + 1,
            edges,
            source: "reference quantiles",
        }),
        Shares {
            labels,
            reference: cr.proportions(),
            current: cc.proportions(),
        },
    )
}

/// Categorical comparison over the union of categories.
#[allow(clippy::type_complexity)]
fn categorical(
    r: &BTreeMap<String, u64>,
    c: &BTreeMap<String, u64>,
    m: &mut BTreeMap<&'static str, Option<f64>>,
) -> (Shares, Vec<(String, f64)>, Vec<(String, f64)>) {
    let keys: BTreeSet<&String> = r.keys().chain(c.keys()).collect();
    // Largest reference share first, then largest current share, then name.
    let mut keys: Vec<&String> = keys.into_iter().collect();
    let get = |x: &BTreeMap<String, u64>, k: &String| x.get(k).copied().unwrap_or(0);
    keys.sort_by(|a, b| {
        get(r, b)
            .cmp(&get(r, a))
            .then(get(c, b).cmp(&get(c, a)))
            .then(a.cmp(b))
    });
    let cr = Counts(keys.iter().map(|k| get(r, k)).collect());
    let cc = Counts(keys.iter().map(|k| get(c, k)).collect());
    let both = cr.total() > 0 && cc.total() > 0;
    let some = |v: f64| both.then_some(v);
    m.insert("psi", some(stats::psi(&cr, &cc)));
    m.insert("jensen_shannon", some(stats::jensen_shannon(&cr, &cc)));
    m.insert("kl", some(stats::kl(&cr, &cc)));
    m.insert("hellinger", some(stats::hellinger(&cr, &cc)));
    m.insert("l_infinity", some(stats::l_infinity(&cr, &cc)));
    let (chi, dof, p) = stats::chi_square(&cr, &cc);
    m.insert("chi_square", some(chi));
    m.insert("chi_square_dof", some(dof as f64));
    m.insert("chi_square_p", some(p));
    let (pr, pc) = (cr.proportions(), cc.proportions());
    let mut new = Vec::new();
    let mut gone = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        if cr.0[i] == 0 && cc.0[i] > 0 {
            new.push(((*k).clone(), pc[i]));
        }
        if cc.0[i] == 0 && cr.0[i] > 0 {
            gone.push(((*k).clone(), pr[i]));
        }
    }
    (
        Shares {
            labels: keys.into_iter().cloned().collect(),
            reference: pr,
            current: pc,
        },
        new,
        gone,
    )
}

/// Token shares over the reference's 100 most frequent tokens plus
/// "(other tokens)".
fn token_counts(
    r: &BTreeMap<String, u64>,
    r_total: u64,
    c: &BTreeMap<String, u64>,
    c_total: u64,
) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut top: Vec<(&String, &u64)> = r.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    top.truncate(100);
    let mut rr = BTreeMap::new();
    let mut cc = BTreeMap::new();
    let (mut r_in, mut c_in) = (0, 0);
    for (t, n) in top {
        rr.insert(t.clone(), *n);
        let k = c.get(t).copied().unwrap_or(0);
        cc.insert(t.clone(), k);
        r_in += n;
        c_in += k;
    }
    rr.insert("(other tokens)".into(), r_total - r_in);
    cc.insert("(other tokens)".into(), c_total - c_in);
    (rr, cc)
}

/// Compares one column present on both sides.
pub fn compare_column(r: &ColumnProfile, c: &ColumnProfile, s: &Settings) -> ColumnDrift {
    let mut metrics = BTreeMap::new();
    let (mut bins, mut new_categories, mut vanished_categories) = (None, Vec::new(), Vec::new());
    let mut note = None;
    let mut kind_note = None;
    let rule = s.rules.get(&r.name).copied().unwrap_or_default();
    let (kind, shares, n) = match (&r.values, &c.values) {
        (Values::Numeric(a), Values::Numeric(b))
            if rule.kind == Some(Kind::Categorical)
                || (rule.kind.is_none()
                    && r.ty == crate::table::ColumnType::Integer
                    && low_cardinality(a)) =>
        {
            let counts = |v: &[f64]| -> BTreeMap<String, u64> {
                let mut m = BTreeMap::new();
                for x in v {
                    *m.entry(fmt_edge(*x)).or_default() += 1;
                }
                m
            };
            let (sh, new, gone) = categorical(&counts(a), &counts(b), &mut metrics);
            new_categories = new;
            vanished_categories = gone;
            if rule.kind.is_none() {
                kind_note = Some(format!(
                    "integers with at most {LOW_CARDINALITY} distinct values in the reference: compared as categories"
                ));
            }
            (Kind::Categorical, sh, (a.len() as u64, b.len() as u64))
        }
        (Values::Numeric(a), Values::Numeric(b)) => {
            let (bn, sh) = numeric(a, b, s.bins, &mut metrics);
            bins = bn;
            (Kind::Numeric, sh, (a.len() as u64, b.len() as u64))
        }
        (
            Values::Strings {
                counts: ca,
                distinct,
                lengths: la,
                tokens: ta,
                token_total: tta,
            },
            Values::Strings {
                counts: cb,
                lengths: lb,
                tokens: tb,
                token_total: ttb,
                ..
            },
        ) => {
            // Free text: a string column whose values are mostly distinct
            // (more than 20 distinct, and more than half the values).
            let non_missing = r.total - r.missing;
            let text = r.ty == crate::table::ColumnType::String
                && (ca.is_none() || (*distinct > 20 && 2 * *distinct > non_missing));
            let categorical_kind = !text && ca.is_some() && cb.is_some();
            let n = (r.total - r.missing, c.total - c.missing);
            match (categorical_kind, ca, cb) {
                (true, Some(a), Some(b)) => {
                    let (sh, new, gone) = categorical(a, b, &mut metrics);
                    new_categories = new;
                    vanished_categories = gone;
                    (Kind::Categorical, sh, n)
                }
                _ => {
                    // Text: length distribution as numeric, tokens as
                    // categories; the verdict uses the token divergence.
                    let mut lm = BTreeMap::new();
                    let (bn, _) = numeric(la, lb, s.bins, &mut lm);
                    bins = bn;
                    for (k, v) in lm {
                        let name: &'static str = match k {
                            "psi" => "length_psi",
                            "jensen_shannon" => "length_jensen_shannon",
                            "ks" => "length_ks",
                            "ks_p" => "length_ks_p",
                            "wasserstein" => "length_wasserstein",
                            "mean_reference" => "length_mean_reference",
                            "mean_current" => "length_mean_current",
                            _ => continue,
                        };
                        metrics.insert(name, v);
                    }
                    let (tr, tc) = token_counts(ta, *tta, tb, *ttb);
                    let (sh, _, _) = categorical(&tr, &tc, &mut metrics);
                    metrics.remove("chi_square");
                    metrics.remove("chi_square_dof");
                    metrics.remove("chi_square_p");
                    (Kind::Text, sh, n)
                }
            }
        }
        _ => {
            // Numbers on one side, strings on the other: compare as labels.
            let as_counts = |p: &ColumnProfile| -> BTreeMap<String, u64> {
                match &p.values {
                    Values::Numeric(v) => {
                        let mut m = BTreeMap::new();
                        for x in v {
                            *m.entry(fmt_edge(*x)).or_default() += 1;
                        }
                        m
                    }
                    Values::Strings { counts, .. } => counts.clone().unwrap_or_default(),
                }
            };
            let (sh, new, gone) = categorical(&as_counts(r), &as_counts(c), &mut metrics);
            new_categories = new;
            vanished_categories = gone;
            note = Some("the column's type changed: compared as categories".into());
            (
                Kind::Categorical,
                sh,
                (r.total - r.missing, c.total - c.missing),
            )
        }
    };
    let (z, p) = stats::two_proportion_z(r.missing, r.total, c.missing, c.total);
    let (mr, mc) = (rate(r.missing, r.total), rate(c.missing, c.total));
    let missing = Missing {
        reference: mr,
        current: mc,
        z,
        p_value: p,
        drifted: (mc - mr).abs() >= s.missing,
    };
    // A preset decides where no rule names the column's metric.
    let preset = match s.preset {
        super::preset::Preset::Folio => None,
        _ if rule.metric.is_some() => None,
        p => match super::preset::verdict(p, r, c) {
            Ok(v) => Some(v),
            Err(why) => {
                kind_note = Some(format!("{} preset: {why}; folio's rule applies", p.name()));
                None
            }
        },
    };
    if let Some(v) = &preset {
        metrics.insert(v.metric.name(), Some(v.value));
        if v.kind != kind {
            kind_note = Some(format!(
                "{} preset: tested as {}",
                s.preset.name(),
                format!("{:?}", v.kind).to_lowercase()
            ));
        }
    }
    let (dm, dt) = kind.default_rule();
    let (metric, threshold) = match &preset {
        Some(v) => (v.metric, rule.threshold.unwrap_or(v.threshold)),
        None => (rule.metric.unwrap_or(dm), rule.threshold.unwrap_or(dt)),
    };
    let value = metrics.get(metric.name()).copied().flatten();
    if value.is_none() && note.is_none() {
        note = Some(if n.0 == 0 || n.1 == 0 {
            "no values on one side: only the missing rate is compared".into()
        } else {
            format!("{} is not defined for this column", metric.name())
        });
    }
    let by_metric = value.is_some_and(|v| metric.crossed(v, threshold));
    // Neither preset tool counts a change of the missing rate as drift.
    let mut missing = missing;
    missing.drifted &= preset.is_none();
    let by_missing = missing.drifted;
    ColumnDrift {
        column: r.name.clone(),
        kind: preset.as_ref().map_or(kind, |v| v.kind),
        types: (r.ty.name().into(), c.ty.name().into()),
        n,
        drifted: by_metric || by_missing,
        missing,
        metrics,
        bins,
        shares,
        new_categories,
        vanished_categories,
        metric,
        value,
        threshold,
        note: note.or(kind_note),
    }
}

/// Compares two profiles of one table (either may be absent: the table is
/// new or gone), every column counting toward the verdict.
pub fn compare(path: &str, r: Option<&Profile>, c: Option<&Profile>, s: &Settings) -> TableDrift {
    compare_selected(path, r, c, s, &Default::default(), &|_| false)
}

/// [`compare`] of profiles already narrowed to `selection`, with the
/// columns `is_metadata` names reported apart.
pub fn compare_selected(
    path: &str,
    r: Option<&Profile>,
    c: Option<&Profile>,
    s: &Settings,
    selection: &super::report::Selection,
    is_metadata: &dyn Fn(&str) -> bool,
) -> TableDrift {
    let mut out = TableDrift {
        path: path.to_string(),
        rows: (r.map_or(0, |p| p.rows), c.map_or(0, |p| p.rows)),
        selection: selection.clone(),
        selected: selection.describe(),
        columns: Vec::new(),
        metadata: Vec::new(),
        counted_columns: 0,
        schema: Vec::new(),
        key: Vec::new(),
        drifted_columns: 0,
        drifted_share: 0.0,
        drifted: false,
        note: None,
        notes: Vec::new(),
    };
    let (Some(r), Some(c)) = (r, c) else {
        out.note = Some(match r {
            None => "the table is new in the current commit: nothing to compare".into(),
            Some(_) => "the table is gone from the current commit: nothing to compare".into(),
        });
        return out;
    };
    if r.rows == 0 || c.rows == 0 {
        out.note = Some(format!(
            "the table has no {}rows in the {} commit: nothing to compare",
            if selection.selects_rows() {
                "selected "
            } else {
                ""
            },
            if r.rows == 0 { "reference" } else { "current" }
        ));
        return out;
    }
    out.key = r.key.clone();
    for k in &c.key {
        if !out.key.contains(k) {
            out.key.push(k.clone());
        }
    }
    let is_key = |name: &str| out.key.iter().any(|k| k == name);
    let mut pairs = Vec::new();
    for rc in r.columns.iter().filter(|x| !is_key(&x.name)) {
        match c.columns.iter().find(|x| x.name == rc.name) {
            Some(cc) => {
                if rc.ty != cc.ty && !(is_numeric(rc.ty) && is_numeric(cc.ty)) {
                    out.schema.push(SchemaNote {
                        column: rc.name.clone(),
                        change: format!("type changed from {} to {}", rc.ty, cc.ty),
                    });
                }
                pairs.push((rc, cc));
            }
            None => out.schema.push(SchemaNote {
                column: rc.name.clone(),
                change: "only in the reference commit".into(),
            }),
        }
    }
    {
        use rayon::prelude::*;
        // Columns are independent: compared on every core, kept in order.
        let all: Vec<ColumnDrift> = pairs
            .par_iter()
            .map(|(rc, cc)| compare_column(rc, cc, s))
            .collect();
        (out.metadata, out.columns) = all.into_iter().partition(|c| is_metadata(&c.column));
    }
    for cc in c.columns.iter().filter(|x| !is_key(&x.name)) {
        if !r.columns.iter().any(|x| x.name == cc.name) {
            out.schema.push(SchemaNote {
                column: cc.name.clone(),
                change: "only in the current commit".into(),
            });
        }
    }
    out.tally(s.share);
    out
}

/// Where a drifted column's current values crowd: the bin or category
/// whose share grew most from the reference to the current side.
#[derive(Debug, Clone, PartialEq)]
pub struct HotSpot {
    /// The column.
    pub column: String,
    /// The bin or category label, as the report shows it.
    pub label: String,
    /// Its share in the reference and in the current side.
    pub shares: (f64, f64),
    /// How a cell is placed in it.
    place: Place,
}

#[derive(Debug, Clone, PartialEq)]
enum Place {
    /// Bin `index` of the numeric bins with these interior edges.
    Bin(usize, Vec<f64>),
    /// A category of numbers, labelled as the report formats them.
    Number(String),
    /// A category of text.
    Text(String),
}

impl ColumnDrift {
    /// The hot spot of a drifted numeric or categorical column (`None` for
    /// a stable or text column, or when no share grew).
    pub fn hot_spot(&self) -> Option<HotSpot> {
        if !self.drifted || self.kind == Kind::Text {
            return None;
        }
        let sh = &self.shares;
        let (i, grew) = sh
            .current
            .iter()
            .zip(&sh.reference)
            .map(|(c, r)| c - r)
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
        if grew <= 0.0 {
            return None;
        }
        let label = sh.labels.get(i)?.clone();
        let numeric_type = |t: &str| t == "integer" || t == "float";
        let place = match (&self.kind, &self.bins) {
            (Kind::Numeric, Some(b)) => Place::Bin(i, b.edges.clone()),
            (Kind::Categorical, _) if numeric_type(&self.types.0) => Place::Number(label.clone()),
            _ => Place::Text(label.clone()),
        };
        Some(HotSpot {
            column: self.column.clone(),
            label,
            shares: (sh.reference[i], sh.current[i]),
            place,
        })
    }
}

impl HotSpot {
    /// Whether a cell falls in the hot spot (missing cells never do).
    pub fn holds(&self, cell: crate::table::CellRef<'_>) -> bool {
        use super::profile::{is_missing, number, text};
        if is_missing(cell) {
            return false;
        }
        match &self.place {
            Place::Bin(i, edges) => number(cell).is_some_and(|v| {
                // Bin 0 is (−∞, e₀], bin k is (e_{k−1}, e_k], the last open.
                edges.partition_point(|e| *e < v) == *i
            }),
            Place::Number(label) => number(cell).is_some_and(|v| fmt_edge(v) == *label),
            Place::Text(label) => text(cell) == label,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::profile::ColumnBuilder;
    use super::*;
    use crate::table::{Cell, ColumnType};

    fn cat(name: &str, counts: &[(&str, u64)]) -> ColumnProfile {
        let mut b = ColumnBuilder::new(name, ColumnType::Categorical);
        for (v, n) in counts {
            b.add(&Cell::Text(v.to_string()), *n);
        }
        b.finish()
    }

    #[test]
    fn categorical_column_uses_the_issue_check_values() {
        let r = cat("label", &[("a", 50), ("b", 30), ("c", 20)]);
        let c = cat("label", &[("a", 30), ("b", 30), ("c", 40)]);
        let d = compare_column(&r, &c, &Settings::default());
        assert_eq!(d.kind, Kind::Categorical);
        let js = d.value.expect("defined");
        assert!((js - 0.0427376).abs() < 5e-8, "{js}");
        assert!(!d.drifted, "0.043 bits is under the 0.1 default");
        let strict = Settings {
            rules: BTreeMap::from([(
                "label".to_string(),
                Rule {
                    metric: Some(Metric::ChiSquareP),
                    threshold: Some(0.01),
                    kind: None,
                },
            )]),
            ..Settings::default()
        };
        let d = compare_column(&r, &c, &strict);
        assert!(d.drifted, "p = 0.0029 < 0.01");
    }

    #[test]
    fn new_and_vanished_categories_are_listed_with_shares() {
        let r = cat("k", &[("a", 3), ("b", 1)]);
        let c = cat("k", &[("a", 2), ("z", 2)]);
        let d = compare_column(&r, &c, &Settings::default());
        assert_eq!(d.new_categories, vec![("z".to_string(), 0.5)]);
        assert_eq!(d.vanished_categories, vec![("b".to_string(), 0.25)]);
    }

    fn num(name: &str, values: &[Option<f64>]) -> ColumnProfile {
        let mut b = ColumnBuilder::new(name, ColumnType::Float);
        for v in values {
            b.add(&v.map_or(Cell::Null, |x| Cell::Number(x.to_string())), 1);
        }
        b.finish()
    }

    #[test]
    fn edge_cases_single_value_all_null_and_empty_side() {
        let s = Settings::default();
        // A single repeated value on both sides: below it, it, above it;
        // no drift.
        let one = num("x", &[Some(3.0); 5]);
        let d = compare_column(&one, &one, &s);
        assert_eq!(d.bins.as_ref().map(|b| b.count), Some(3));
        assert_eq!(d.shares.labels, ["< 3", "= 3", "> 3"]);
        assert_eq!((d.value, d.drifted), (Some(0.0), false));
        assert_eq!(d.metrics["ks"], Some(0.0));
        assert_eq!(
            d.metrics["wasserstein_norm"], None,
            "sd 0: undefined, not infinite"
        );
        // All null on the current side: no figure, a note, and the
        // missing rate (0 → 1) drifts.
        let nulls = num("x", &[None; 4]);
        let d = compare_column(&one, &nulls, &s);
        assert_eq!(d.value, None);
        assert!(
            d.note
                .as_deref()
                .is_some_and(|n| n.contains("no values on one side"))
        );
        assert_eq!((d.missing.reference, d.missing.current), (0.0, 1.0));
        assert!(d.drifted);
        // Disjoint numbers: KS D = 1, every value outside the range.
        let far = num("x", &[Some(10.0), Some(11.0)]);
        let d = compare_column(&one, &far, &s);
        assert_eq!(d.metrics["ks"], Some(1.0));
        assert_eq!(d.metrics["outside_reference_range"], Some(1.0));
        assert!(d.drifted);
        // A constant reference and a current side below it: the bin below
        // the minimum holds every current value (PSI with the half-count
        // rule: 2 bins each (q - p) ln(q / p) with 0.5/5 and 0.5/2).
        let low = num("x", &[Some(1.0), Some(2.0)]);
        let d = compare_column(&one, &low, &s);
        let (p0, q1): (f64, f64) = (0.5 / 5.0, 0.5 / 2.0);
        let want = (1.0 - p0) * (1.0 / p0).ln() + (q1 - 1.0) * (q1 / 1.0).ln();
        assert!((d.value.expect("psi") - want).abs() < 1e-12, "{d:?}");
        assert!(d.drifted);
        // A constant float column has deviation 0 and its value as mean,
        // not a rounding residue.
        let c = num("c", &[Some(0.9); 200]);
        let d = compare_column(&c, &low, &s);
        assert_eq!(d.metrics["mean_reference"], Some(0.9));
        assert_eq!(d.metrics["wasserstein_norm"], None);
    }

    #[test]
    fn low_cardinality_is_a_property_of_integer_columns() {
        let s = Settings::default();
        let ints = |name: &str, v: &[i64]| {
            let mut b = ColumnBuilder::new(name, ColumnType::Integer);
            for x in v {
                b.add(&Cell::Number(x.to_string()), 1);
            }
            b.finish()
        };
        let may = ints("month", &[5; 40]);
        let aug = ints("month", &[8; 40]);
        let d = compare_column(&may, &aug, &s);
        assert_eq!(d.kind, Kind::Categorical);
        assert_eq!(d.new_categories, [("8".to_string(), 1.0)]);
        assert!(d.note.as_deref().is_some_and(|n| n.contains("categories")));
        // Eleven distinct integers: numeric.
        let wide = ints("n", &(0..11).collect::<Vec<_>>());
        assert_eq!(compare_column(&wide, &wide, &s).kind, Kind::Numeric);
        // Integral floats stay numeric: the rule is about integer columns.
        let f = num("f", &[Some(1.0), Some(2.0), Some(2.0)]);
        assert_eq!(compare_column(&f, &f, &s).kind, Kind::Numeric);
        // Configured kinds win either way.
        let numeric = Settings {
            rules: BTreeMap::from([(
                "month".to_string(),
                Rule {
                    kind: Some(Kind::Numeric),
                    ..Rule::default()
                },
            )]),
            ..Settings::default()
        };
        assert_eq!(compare_column(&may, &aug, &numeric).kind, Kind::Numeric);
    }

    #[test]
    fn an_empty_side_is_a_message_not_a_figure() {
        let s = Settings::default();
        let p = |rows| Profile {
            version: super::super::profile::PROFILE_VERSION,
            rows,
            key: Vec::new(),
            columns: vec![num("x", &[Some(1.0)])],
        };
        let t = compare("t.csv", Some(&p(1)), Some(&p(0)), &s);
        assert!(
            t.note
                .as_deref()
                .is_some_and(|n| n.contains("no rows in the current commit"))
        );
        assert!(t.columns.is_empty() && !t.drifted);
        let t = compare("t.csv", None, Some(&p(1)), &s);
        assert!(
            t.note
                .as_deref()
                .is_some_and(|n| n.contains("new in the current commit"))
        );
    }
}
