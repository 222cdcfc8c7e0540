//! Drift between two samples of a column: exact statistics with their
//! definitions (docs/DRIFT.md).

pub mod stats;
