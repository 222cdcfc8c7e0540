//! Reading the ledger: which examples a selector names.

use super::ExampleId;
use crate::error::ErrorKind;

/// Why a selector names no single example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// Neither an example nor a filter was given.
    #[error("give an example (id, path or TABLE:KEY) or at least one filter")]
    Nothing,
    /// The filters match no example present now.
    #[error("no example present now matches the filters; nothing was recorded")]
    NoFilterMatch,
    /// The selector matches no example.
    #[error(
        "no example matches '{0}': give an example id (or a prefix of 4+ digits), a file path, or TABLE:KEY for a row"
    )]
    NoMatch(String),
    /// The selector (an id prefix) matches several examples.
    #[error("'{selector}' matches several examples:\n{}", candidates.iter().map(|c| format!("  {}", c.short(16))).collect::<Vec<_>>().join("\n"))]
    Ambiguous {
        /// The selector.
        selector: String,
        /// The examples it matches.
        candidates: Vec<ExampleId>,
    },
}

impl SelectError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}
