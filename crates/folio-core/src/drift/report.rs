//! A drift report between two commits, its options, and the definitions
//! every rendering of it shows (text footer, JSON, HTML): one source.

use serde::Serialize;

use std::collections::BTreeMap;

use super::{DriftError, Settings, TableDrift};

/// Which rows of one side are compared: those whose latest source or
/// label (as the ledger records it at that side's commit) is the one given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RowFilter {
    /// Only examples from this source.
    pub source: Option<String>,
    /// Only examples whose latest label is this.
    pub label: Option<String>,
}

impl RowFilter {
    /// True when it keeps every row.
    pub fn is_empty(&self) -> bool {
        self.source.is_none() && self.label.is_none()
    }

    /// `source = S and label = L`, or `None` when it keeps every row.
    fn describe(&self) -> Option<String> {
        let parts: Vec<String> = [("source", &self.source), ("label", &self.label)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} = {v}")))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" and "))
    }

    /// `self`, with each field `over` sets replacing it.
    fn overlay(&self, over: &RowFilter) -> RowFilter {
        RowFilter {
            source: over.source.clone().or_else(|| self.source.clone()),
            label: over.label.clone().or_else(|| self.label.clone()),
        }
    }
}

/// What a comparison of one table (or folder) selects: rows on each side,
/// columns, and whether metadata columns count toward the verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Selection {
    /// Only the current side's rows whose content the reference does not
    /// hold: rows added, and the new version of rows changed.
    pub added: bool,
    /// Rows of the reference side.
    pub reference: RowFilter,
    /// Rows of the current side.
    pub current: RowFilter,
    /// Columns left out, as globs (`*`, `?`, `[...]`).
    pub exclude: Vec<String>,
    /// Columns compared (every one when empty).
    pub columns: Vec<String>,
    /// Metadata columns (mapped to the ledger) and the ledger's label and
    /// confidence count toward the verdict.
    pub count_metadata: bool,
}

impl Selection {
    /// True when some rows of a side are left out.
    pub fn selects_rows(&self) -> bool {
        self.added || !self.reference.is_empty() || !self.current.is_empty()
    }

    /// `self` (a table's configured selection), with what `over` (the
    /// flags) sets replacing it, and both exclusions.
    pub fn overlay(&self, over: &Selection) -> Selection {
        let mut exclude = self.exclude.clone();
        exclude.extend(over.exclude.iter().cloned());
        exclude.dedup();
        Selection {
            added: self.added || over.added,
            reference: self.reference.overlay(&over.reference),
            current: self.current.overlay(&over.current),
            exclude,
            columns: if over.columns.is_empty() {
                self.columns.clone()
            } else {
                over.columns.clone()
            },
            count_metadata: self.count_metadata || over.count_metadata,
        }
    }

    /// What the selection does, a line each, for every rendering.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.added {
            out.push("current: only rows added or changed since the reference".to_string());
        }
        match (self.reference.describe(), self.current.describe()) {
            (Some(r), Some(c)) if r == c => out.push(format!("both sides: rows where {r}")),
            (r, c) => {
                if let Some(r) = r {
                    out.push(format!("reference: rows where {r}"));
                }
                if let Some(c) = c {
                    out.push(format!("current: rows where {c}"));
                }
            }
        }
        if !self.columns.is_empty() {
            out.push(format!("columns: {}", self.columns.join(", ")));
        }
        if !self.exclude.is_empty() {
            out.push(format!("excluded columns: {}", self.exclude.join(", ")));
        }
        if self.count_metadata {
            out.push("metadata and label columns count toward the verdict".to_string());
        }
        out
    }

    /// The exclusion globs, compiled; an error names the bad pattern.
    pub fn exclusions(&self) -> Result<Vec<(String, globset::GlobMatcher)>, DriftError> {
        self.exclude
            .iter()
            .map(|p| {
                globset::Glob::new(p)
                    .map(|g| (p.clone(), g.compile_matcher()))
                    .map_err(|e| DriftError::Pattern(p.clone(), e.kind().to_string()))
            })
            .collect()
    }
}

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct DriftOptions {
    /// Tables or datasets to compare (all when empty).
    pub paths: Vec<String>,
    /// The selection the flags give, for every table.
    pub selection: Selection,
    /// Configured selections by table (or folder dataset) path.
    pub tables: BTreeMap<String, Selection>,
    /// Bins, thresholds and per-column rules.
    pub settings: Settings,
    /// Columns named by flags (or settings for every table), as (the flag
    /// or setting, the column): each must be a column of a compared table.
    pub named: Vec<(String, String)>,
    /// Exclusion patterns given likewise: each must match a column.
    pub patterns: Vec<(String, String)>,
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

    /// The selection of the table (or folder dataset) at `path`: its
    /// configured one, with the flags over it.
    pub fn selection_for(&self, path: &str) -> Selection {
        match self.tables.get(path) {
            Some(t) => t.overlay(&self.selection),
            None => Selection::default().overlay(&self.selection),
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
    /// Whose default tests decided the verdicts.
    pub preset: super::preset::Preset,
}

/// The columns of a folder dataset's profile.
pub const FILE_SIZE: &str = "file size (bytes)";
/// See [`FILE_SIZE`].
pub const FILE_TYPE: &str = "file type";

/// Names of the columns folio adds to a table from the ledger.
pub const LEDGER_LABEL: &str = "(ledger) label";
/// See [`LEDGER_LABEL`].
pub const LEDGER_CONFIDENCE: &str = "(ledger) confidence";

/// Every metric and rule, defined: the JSON output's `definitions` and the
/// HTML report's definition list (docs/DRIFT.md has the formulas).
pub const DEFINITIONS: [(&str, &str); 18] = [
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
        "two-sample Kolmogorov-Smirnov statistic D; ks_p exact (as scipy.stats.ks_2samp, method auto) when neither sample has more than 10,000 values, else from the limiting Kolmogorov distribution at sqrt(nm/(n+m)) D",
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
        "a bin with no observations on one side gets half an observation (0.5 / n) on that side, no renormalisation; a bin empty on both sides is left out; PSI and KL only",
    ),
    (
        "bins",
        "numeric columns: interior edges at the k/B quantiles of the reference (nearest rank), repeated edges merged; outer bins open; when the lowest edge is the reference's minimum, values below it get a bin of their own",
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
        "low_cardinality",
        "an integer column with at most 10 distinct values in the reference is categorical unless its kind is configured",
    ),
    (
        "metadata",
        "columns mapped to the ledger and the ledger's label and confidence: compared and shown apart, not counted toward the verdict unless count_metadata",
    ),
    (
        "selection",
        "added: current rows new or changed relative to the reference; where_source / where_label: examples whose latest source or label at that side's commit matches",
    ),
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
        if self.preset != super::preset::Preset::Folio {
            return format!(
                "preset {}: each column's verdict is the test {} uses by default (docs/DRIFT.md, \"Presets\"); a table drifts when {};\n\
                 every folio figure is still computed (--json)\n",
                self.preset.name(),
                match self.preset {
                    super::preset::Preset::Evidently => "Evidently 0.4",
                    _ => "NannyML 0.13",
                },
                if self.share_threshold <= f64::MIN_POSITIVE {
                    "any column drifts".to_string()
                } else {
                    format!("{:.0}% of its columns drift", self.share_threshold * 100.0)
                }
            );
        }
        format!(
            "psi and kl: natural log, an empty bin counts half an observation; jensen_shannon: divergence in bits (0..1);\n\
             numeric bins: {} from the reference's quantiles; a table drifts when {:.0}% of its columns drift;\n\
             a column drifts when its metric crosses its threshold or its missing rate moves by {:.0} points (docs/DRIFT.md)\n",
            self.bins,
            self.share_threshold * 100.0,
            self.missing_threshold * 100.0
        )
    }

    /// Columns counted, columns drifted, and the first `n` drifted as
    /// `TABLE:COLUMN`, with how many more there are.
    pub fn drifted_columns(&self, n: usize) -> (usize, usize, Vec<String>, usize) {
        let (cols, drifted) = self.tables.iter().fold((0, 0), |(c, d), t| {
            (c + t.counted_columns, d + t.drifted_columns)
        });
        let names: Vec<String> = self
            .tables
            .iter()
            .flat_map(|t| {
                let meta = if t.selection.count_metadata {
                    &t.metadata[..]
                } else {
                    &[]
                };
                t.columns
                    .iter()
                    .chain(meta)
                    .filter(|c| c.drifted)
                    .map(move |c| format!("{}:{}", t.path, c.column))
            })
            .collect();
        let more = names.len().saturating_sub(n);
        (cols, drifted, names.into_iter().take(n).collect(), more)
    }
}
