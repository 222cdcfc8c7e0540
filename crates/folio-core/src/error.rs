//! What kind of failure an error is.
//!
//! Every module has its own error enum with the fields a message needs;
//! each says its [`ErrorKind`], so a caller (the command line's exit codes,
//! a future Python binding's exception classes) can act on the kind
//! without matching every variant of every module.

/// The kinds of failure, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request cannot be carried out as given: a bad value, path,
    /// revision, input row or setting. The message says what to change.
    Invalid,
    /// The repository's state refuses the request: uncommitted work would
    /// be lost, a name exists, there is nothing to do.
    Conflict,
    /// Another process holds the repository's lock: try again later.
    Locked,
    /// The operating system failed a read or write (disk full,
    /// permissions, a vanished file).
    Io,
    /// Stored data is damaged: an object, ref, ledger frame, manifest or
    /// index does not decode or does not match its hash.
    Damaged,
}

impl ErrorKind {
    /// The kind of an operating-system error: `InvalidData` is what folio
    /// raises for a symlink where it must write (damage); the rest is I/O.
    pub fn of_io(e: &std::io::Error) -> ErrorKind {
        if e.kind() == std::io::ErrorKind::InvalidData {
            ErrorKind::Damaged
        } else {
            ErrorKind::Io
        }
    }

    /// A short name, for JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Locked => "locked",
            ErrorKind::Io => "io",
            ErrorKind::Damaged => "damaged",
        }
    }
}
