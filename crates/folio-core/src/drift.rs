//! Drift between two samples of a table (or folder): exact statistics with
//! their definitions (docs/DRIFT.md), column profiles computed once per
//! table version, and verdicts against documented thresholds.

pub mod compare;
pub mod html;
pub mod preset;
pub mod profile;
pub mod report;
pub mod stats;

pub use compare::{ColumnDrift, Kind, Metric, Rule, Settings, TableDrift, compare};
pub use profile::{ColumnBuilder, ColumnProfile, Profile, Values};

/// Why drift settings or a drift request are refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriftError {
    /// A bin count out of range.
    #[error("bins {0}: use 2 to 1000")]
    Bins(usize),
    /// A share or rate out of range.
    #[error("{what} {value}: use a number above 0 and at most 1")]
    Unit {
        /// The setting.
        what: String,
        /// The value given.
        value: f64,
    },
    /// A metric folio does not compute.
    #[error("unknown metric '{0}': use one of {names}", names = Metric::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", "))]
    UnknownMetric(String),
    /// A threshold that is not a number.
    #[error("threshold {0} is not a number")]
    Threshold(f64),
    /// A setting of one column that is wrong.
    #[error("[drift.columns.\"{column}\"] {source}")]
    Column {
        /// The column.
        column: String,
        /// What is wrong.
        source: Box<DriftError>,
    },
    /// Nothing to compare.
    #[error("{}", nothing_to_compare(.0))]
    NothingToCompare(Vec<String>),
    /// A column named (by a flag or the config) that the tables compared
    /// do not have.
    #[error("{what}: no compared table has a column '{column}'; columns: {}", list(.known))]
    NoSuchColumn {
        /// The flag or setting that names it.
        what: String,
        /// The column.
        column: String,
        /// The columns there are.
        known: Vec<String>,
    },
    /// An exclusion pattern that matches no column.
    #[error("{what} '{pattern}' matches no column; columns: {}", list(.known))]
    ExcludesNothing {
        /// The flag or setting that gives it.
        what: String,
        /// The pattern.
        pattern: String,
        /// The columns there are.
        known: Vec<String>,
    },
    /// A glob that does not parse.
    #[error("exclusion pattern '{0}': {1}")]
    Pattern(String, String),
    /// A column kind folio does not know.
    #[error("unknown column kind '{0}': use numeric or categorical")]
    UnknownKind(String),
    /// A preset folio does not know.
    #[error("unknown preset '{0}': use folio, evidently or nannyml (docs/DRIFT.md, \"Presets\")")]
    UnknownPreset(String),
}

/// Parses a preset's name.
pub fn parse_preset(name: &str) -> Result<preset::Preset, DriftError> {
    preset::Preset::parse(name).ok_or_else(|| DriftError::UnknownPreset(name.to_string()))
}

/// `s` with `preset`'s rules: its verdicts, and its table share unless
/// `share_given` (a share the user set wins).
pub fn apply_preset(s: &mut Settings, preset: preset::Preset, share_given: bool) {
    s.preset = preset;
    if let (Some(share), false) = (preset.share(), share_given) {
        s.share = share;
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

fn nothing_to_compare(paths: &[String]) -> String {
    if paths.is_empty() {
        "neither commit has a table or a folder dataset to compare".into()
    } else {
        format!("no table or folder dataset matches {}", paths.join(", "))
    }
}

impl DriftError {
    /// What kind of failure this is.
    pub fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Invalid
    }
}

/// Checks a bin count (2 to 1000).
pub fn check_bins(b: usize) -> Result<usize, DriftError> {
    if (2..=1000).contains(&b) {
        Ok(b)
    } else {
        Err(DriftError::Bins(b))
    }
}

/// Checks a share or rate setting (0 < x ≤ 1).
pub fn check_unit(what: &str, x: f64) -> Result<f64, DriftError> {
    if x > 0.0 && x <= 1.0 {
        Ok(x)
    } else {
        Err(DriftError::Unit {
            what: what.to_string(),
            value: x,
        })
    }
}

/// Parses a metric name.
pub fn parse_metric(m: &str) -> Result<Metric, DriftError> {
    Metric::parse(m).ok_or_else(|| DriftError::UnknownMetric(m.to_string()))
}
