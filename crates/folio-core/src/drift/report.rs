//! A drift report between two commits, its options, and the definitions
//! every rendering of it shows (text footer, JSON, HTML): one source.

use serde::Serialize;

use super::{Settings, TableDrift};

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct DriftOptions {
    /// Tables or datasets to compare (all when empty).
    pub paths: Vec<String>,
    /// Columns to compare (all when empty).
    pub columns: Vec<String>,
    /// Bins, thresholds and per-column rules.
    pub settings: Settings,
}

impl DriftOptions {
    /// Whether a table or dataset at `path` is compared: every one when no
    /// path is given, else those inside (or around) a given path.
    pub fn wants(&self, path: &str) -> bool {
        use crate::object::is_within;
        self.paths.is_empty()
            || self
                .paths
                .iter()
                .any(|w| is_within(path, w) || is_within(w, path))
    }

    /// Keeps only the columns asked for (all when none is).
    pub fn keep_columns(&self, p: &mut super::Profile) {
        if !self.columns.is_empty() {
            p.columns.retain(|c| self.columns.contains(&c.name));
        }
    }
}

/// Drift between two commits.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    /// The reference commit.
    pub reference: crate::id::CommitId,
    /// The current commit.
    pub current: crate::id::CommitId,
    /// Per table, then per folder dataset.
    pub tables: Vec<TableDrift>,
    /// Whether any table or folder drifted.
    pub drifted: bool,
    /// Bins of numeric columns.
    pub bins: usize,
    /// Share of drifted columns at which a table drifts.
    pub share_threshold: f64,
    /// Change of missing rate at which a column drifts.
    pub missing_threshold: f64,
    /// Profiles computed by this run (the others came from the cache).
    pub profiles_computed: usize,
}

/// Names of the columns folio adds to a table from the ledger.
pub const LEDGER_LABEL: &str = "(ledger) label";
/// See [`LEDGER_LABEL`].
pub const LEDGER_CONFIDENCE: &str = "(ledger) confidence";

/// Every metric and rule, defined: the JSON output's `definitions` and the
/// HTML report's definition list (docs/DRIFT.md has the formulas).
pub const DEFINITIONS: [(&str, &str); 15] = [
    (
        "psi",
        "sum over bins of (q - p) * ln(q / p); natural log; zero-bin policy applied",
    ),
    (
        "kl",
        "KL(reference || current) = sum p * ln(p / q), nats; zero-bin policy applied",
    ),
    (
        "jensen_shannon",
        "Jensen-Shannon divergence in bits (0..1): 0.5 KL2(p||m) + 0.5 KL2(q||m), m = (p+q)/2; not the distance (its square root)",
    ),
    ("hellinger", "sqrt(0.5 * sum (sqrt p - sqrt q)^2), 0..1"),
    ("l_infinity", "max |p - q| over categories"),
    (
        "chi_square",
        "two-sample chi-square on the 2 x k contingency table, no continuity correction; chi_square_p from the chi-square distribution with k-1 degrees of freedom",
    ),
    (
        "ks",
        "two-sample Kolmogorov-Smirnov statistic D; ks_p from the asymptotic Kolmogorov distribution at sqrt(nm/(n+m)) D",
    ),
    (
        "wasserstein",
        "Wasserstein-1 distance between the empirical distributions, in the column's unit; wasserstein_norm divides by the reference's (population) standard deviation",
    ),
    (
        "outside_reference_range",
        "share of current values below the reference's minimum or above its maximum",
    ),
    (
        "zero_bin_policy",
        "a bin with no observations on one side gets half an observation (0.5 / n) on that side, no renormalisation; PSI and KL only",
    ),
    (
        "bins",
        "numeric columns: interior edges at the k/B quantiles of the reference (nearest rank), repeated edges merged; outer bins open",
    ),
    (
        "missing",
        "null, empty or NaN cells; two-proportion pooled z-test, two-sided p-value",
    ),
    (
        "text",
        "string columns with more than 20 distinct values, more than half of them distinct (or more than 10,000 distinct): length distribution (length_*) and Jensen-Shannon over the reference's 100 most frequent tokens plus the rest",
    ),
    ("key", "key columns identify rows and are not compared"),
    (
        "verdict",
        "a column drifts when its metric crosses its threshold (below it for p-values) or its missing rate moves by the missing threshold; a table drifts when the share of drifted columns reaches the share threshold",
    ),
];

impl DriftReport {
    /// The definitions as a JSON object.
    pub fn definitions_json() -> serde_json::Value {
        DEFINITIONS
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// What the report's numbers mean, in a few lines: the text footer and
    /// the HTML report's summary of definitions.
    pub fn footer(&self) -> String {
        format!(
            "psi and kl: natural log, an empty bin counts half an observation; jensen_shannon: divergence in bits (0..1);\n\
             numeric bins: {} from the reference's quantiles; a table drifts when {:.0}% of its columns drift;\n\
             a column drifts when its metric crosses its threshold or its missing rate moves by {:.0} points (docs/DRIFT.md)\n",
            self.bins,
            self.share_threshold * 100.0,
            self.missing_threshold * 100.0
        )
    }

    /// Columns compared, columns drifted, and the first `n` drifted as
    /// `TABLE:COLUMN`, with how many more there are.
    pub fn drifted_columns(&self, n: usize) -> (usize, usize, Vec<String>, usize) {
        let (cols, drifted) = self.tables.iter().fold((0, 0), |(c, d), t| {
            (c + t.columns.len(), d + t.drifted_columns)
        });
        let names: Vec<String> = self
            .tables
            .iter()
            .flat_map(|t| {
                t.columns
                    .iter()
                    .filter(|c| c.drifted)
                    .map(move |c| format!("{}:{}", t.path, c.column))
            })
            .collect();
        let more = names.len().saturating_sub(n);
        (cols, drifted, names.into_iter().take(n).collect(), more)
    }
}
