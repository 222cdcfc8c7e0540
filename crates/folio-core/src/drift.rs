//! Drift between two samples of a table (or folder): exact statistics with
//! their definitions (docs/DRIFT.md), column profiles computed once per
//! table version, and verdicts against documented thresholds.

pub mod compare;
pub mod html;
pub mod profile;
pub mod stats;

pub use compare::{ColumnDrift, Kind, Metric, Rule, Settings, TableDrift, compare};
pub use profile::{ColumnBuilder, ColumnProfile, Profile, Values};

/// Checks a bin count (2 to 1000).
pub fn check_bins(b: usize) -> Result<usize, String> {
    if (2..=1000).contains(&b) {
        Ok(b)
    } else {
        Err(format!("bins {b}: use 2 to 1000"))
    }
}

/// Checks a share or rate setting (0 < x ≤ 1).
pub fn check_unit(what: &str, x: f64) -> Result<f64, String> {
    if x > 0.0 && x <= 1.0 {
        Ok(x)
    } else {
        Err(format!("{what} {x}: use a number above 0 and at most 1"))
    }
}

/// Parses a metric name, listing the valid ones when it is unknown.
pub fn parse_metric(m: &str) -> Result<Metric, String> {
    Metric::parse(m).ok_or_else(|| {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        format!("unknown metric '{m}': use one of {}", names.join(", "))
    })
}
