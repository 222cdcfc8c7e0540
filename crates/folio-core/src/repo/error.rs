//! Errors of repository operations: the module errors they wrap, and the
//! few that belong to the repository itself.

use std::io;
use std::path::{Path, PathBuf};

use crate::error::ErrorKind;
use crate::id::{CommitId, ObjectId};
use crate::index::IndexError;
use crate::lock::LockError;
use crate::object::DecodeError;
use crate::refs::RefError;
use crate::snapshot::SnapshotError;
use crate::store::StoreError;

/// Errors of repository operations.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// No `.folio` folder here or above.
    #[error("not a folio repository (or any parent up to /): {}; run `folio init` there first", .0.display())]
    NotARepository(PathBuf),
    /// `init` where a repository exists.
    #[error("{} is already a folio repository", .0.display())]
    AlreadyExists(PathBuf),
    /// A path is not inside the working tree.
    #[error("{} is outside the repository at {}", path.display(), root.display())]
    PathOutside {
        /// The path given.
        path: PathBuf,
        /// The working tree root.
        root: PathBuf,
    },
    /// A dataset path does not exist and is not tracked.
    #[error("{}: no such file or folder, and it is not a tracked dataset", .0.display())]
    PathNotFound(PathBuf),
    /// A path that cannot be a dataset.
    #[error("{path}: {reason}")]
    BadDataset {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Nothing is tracked and no path was given.
    #[error(
        "nothing is tracked yet: name a folder or file to snapshot, e.g. `folio commit data -m \"first\"`"
    )]
    NothingTracked,
    /// The revision names no commit.
    #[error(
        "unknown revision '{0}': give a commit id (or a unique prefix of 4+ digits), a branch, a tag or HEAD, optionally followed by ~N"
    )]
    UnknownRevision(String),
    /// A prefix matches several commits.
    #[error("revision '{prefix}' is ambiguous; it matches:\n{}", candidates.join("\n"))]
    AmbiguousRevision {
        /// The prefix given.
        prefix: String,
        /// `id summary` of each match.
        candidates: Vec<String>,
    },
    /// A range whose start is not a first-parent ancestor of its end.
    #[error("{} is not a first-parent ancestor of {}: the range {range} is empty", ancestor.0.short(12), descendant.0.short(12))]
    NotAnAncestor {
        /// The range as given.
        range: String,
        /// Its start.
        ancestor: CommitId,
        /// Its end.
        descendant: CommitId,
    },
    /// HEAD names a branch with no commit.
    #[error("HEAD has no commit yet: run `folio commit` first")]
    NoCommits,
    /// Ledger events are recorded on a branch, and HEAD is detached.
    #[error(
        "HEAD is detached: ledger events belong to a branch; switch to one (`folio switch NAME`, or `folio branch NAME` then `folio switch NAME`) and record them there"
    )]
    DetachedHead,
    /// Contents to seal and no way to seal them (D83).
    #[error("{0}; nothing was written")]
    Seal(String),
    /// An annotated tag with a blank message.
    #[error("the tag message is empty: say why this commit is tagged (-m MSG)")]
    TagMessage,
    /// An operation the log does not hold.
    #[error("the operation log holds no operation {0} (`folio oplog` lists them)")]
    NoOperation(u64),
    /// A revert that cannot be made.
    #[error("{0}; nothing was written")]
    RevertRefused(String),
    /// A config key cannot be read or set as asked.
    #[error("{0}")]
    ConfigEdit(String),
    /// Metadata given for the examples a commit adds, when it adds none.
    #[error("{0}; nothing was committed")]
    MetaRefused(String),
    /// Key columns given on the command line that cannot apply as given.
    #[error("{0}; nothing was committed")]
    KeyRefused(String),
    /// An export that cannot be made as asked.
    #[error("{0}; nothing was written")]
    ExportRefused(String),
    /// A void that cannot be recorded.
    #[error("{0}; nothing was recorded")]
    VoidRefused(String),
    /// A purge that cannot be carried out (D86).
    #[error("{0}; nothing was purged")]
    PurgeRefused(String),
    /// Content a purge erased, offered again (D86); nothing was stored.
    #[error("{0}; nothing was committed")]
    PurgedContent(String),
    /// The same training recorded twice.
    #[error(
        "{0} is recorded already; void the earlier record first if it was wrong (`folio ledger void`)"
    )]
    AlreadyRecorded(String),
    /// A path outside every dataset.
    #[error("'{0}' is in no dataset of this commit or of HEAD")]
    NotInADataset(String),
    /// A merge is waiting for its conflicts.
    #[error(
        "a merge is in progress: resolve its conflicts (`folio status` lists them) and run `folio merge --continue`, or `folio merge --abort`"
    )]
    MergeInProgress,
    /// No merge is in progress.
    #[error("no merge is in progress")]
    NoMerge,
    /// A path the merge did not find in conflict.
    #[error("'{0}' is not in conflict in this merge (`folio status` lists the conflicts)")]
    NotConflicted(String),
    /// Conflicts left unresolved.
    #[error("these paths still conflict:\n{}\nedit them, or settle them with `folio merge --ours PATH` or `--theirs PATH`, then run `folio merge --continue`", .0.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Unresolved(Vec<String>),
    /// The branch moved during the merge.
    #[error("the branch moved since the merge started: `folio merge --abort` and merge again")]
    MergeMoved,
    /// The branch to delete is the current one.
    #[error("cannot delete branch '{0}': HEAD is on it; switch to another branch first")]
    BranchInUse(String),
    /// The branch to delete holds work nothing else holds.
    #[error("branch '{name}' holds {}{}{}: merge or commit it first, or delete with --force", if *unmerged { "commits no other branch or tag reaches" } else { "" }, if *unmerged && *pending > 0 { " and " } else { "" }, if *pending > 0 { format!("{pending} ledger events not yet committed") } else { String::new() })]
    BranchHoldsWork {
        /// The branch.
        name: String,
        /// Whether its commits are reachable only from it.
        unmerged: bool,
        /// Events recorded on it since its last commit.
        pending: u64,
    },
    /// The repository was written by an older folio; `folio upgrade` converts it.
    #[error("{}: this repository was written by folio 0.1 (format 1: one global ledger); run `folio upgrade` to convert it (docs/FORMAT.md, \"Migration\")", .0.display())]
    NeedsUpgrade(PathBuf),
    /// Checkout would overwrite work that is not committed.
    #[error("checkout would overwrite uncommitted changes in:\n{}\ncommit them first, or pass --force to discard them", paths.join("\n"))]
    UncommittedChanges {
        /// The paths at risk.
        paths: Vec<String>,
    },
    /// A path asked of a revision that does not hold it.
    #[error("{path} is not in {rev}: `folio show {rev}` lists its datasets")]
    NotInRevision {
        /// The path asked for.
        path: String,
        /// The revision (short id).
        rev: String,
    },
    /// A symlink where checkout must write a folder.
    #[error("{} is a symlink where folio must write a folder: checkout never writes through a symlink; remove it, or pass --force to replace the link (not its target)", .0.display())]
    SymlinkInTheWay(PathBuf),
    /// A checkout destination that is not empty.
    #[error("{} exists and is not empty: choose a new or empty folder", .0.display())]
    DestinationNotEmpty(PathBuf),
    /// A value to record, given on the command line, is refused.
    #[error(transparent)]
    Value(#[from] crate::ledger::values::ValueError),
    /// A value to record, read from a file or a table's columns, is refused.
    #[error("{at}: {source}")]
    ValueAt {
        /// Where the value was read: `FILE:LINE`, or a row and its columns.
        at: String,
        /// What is wrong with it.
        source: crate::ledger::values::ValueError,
    },
    /// A row of a metadata or annotation file is refused.
    #[error("{at}: {problem}")]
    Input {
        /// `FILE:LINE`, or the file alone.
        at: String,
        /// What is wrong.
        problem: InputProblem,
    },
    /// A selector names no example, or several.
    #[error(transparent)]
    Select(#[from] crate::ledger::query::SelectError),
    /// A proof cannot be made.
    #[error(transparent)]
    Proof(#[from] crate::ledger::proof::ProofError),
    /// A drift request or setting is refused.
    #[error(transparent)]
    Drift(#[from] crate::drift::DriftError),
    /// A book request, policy or amount is refused.
    #[error(transparent)]
    Book(#[from] crate::book::report::BookError),
    /// An object that should be a commit or tree is not.
    #[error("object {id} ({location}): {source}")]
    BadObject {
        /// The object id.
        id: ObjectId,
        /// Where it is stored.
        location: String,
        /// Why it does not decode.
        source: DecodeError,
    },
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening encrypted data failed (D83).
    #[error(transparent)]
    Crypt(#[from] crate::crypt::CryptError),
    /// Refs failed.
    #[error(transparent)]
    Ref(#[from] RefError),
    /// A remote request that cannot be carried out as given.
    #[error("{0}")]
    RemoteUse(String),
    /// A remote failed or sent something wrong.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// The lock is held or failed.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// Scanning failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A table could not be read.
    #[error(transparent)]
    Table(#[from] crate::table::TableError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The ledger failed or is damaged.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LogError),
    /// The ledger's derived index failed.
    #[error(transparent)]
    LedgerIndex(#[from] crate::ledger::index::LedgerIndexError),
}

/// What is wrong with a row of a metadata sidecar or an annotation file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputProblem {
    /// Not CSV, TSV or JSON Lines.
    #[error("use a .csv, .tsv or .jsonl file")]
    Format,
    /// A row without the `example` column.
    #[error("no 'example' value")]
    NoExample,
    /// An annotation row without a label.
    #[error("no 'label' value")]
    NoLabel,
    /// A column the file may not have.
    #[error("unknown column '{column}' (use example and any of {allowed})")]
    UnknownColumn {
        /// The column.
        column: String,
        /// The columns allowed, comma-separated.
        allowed: String,
    },
    /// The same example on two rows.
    #[error("'{0}' appears twice")]
    Repeated(String),
    /// A sidecar gives the source of an example an earlier commit added.
    #[error(
        "'{0}' was added by an earlier commit: its source and collected_at are recorded when it is added (give label, annotator, confidence, cost, license or sensitivity for it, or none of source and collected_at)"
    )]
    SourceOfExisting(String),
    /// A linked row's path is not a path inside its dataset.
    #[error(
        "its link column holds '{0}', not a path inside the dataset (a relative path such as cat/1.png, without '..')"
    )]
    LinkPath(String),
    /// A linked row names a file its dataset does not hold.
    #[error(
        "it links to '{file}', which dataset '{dataset}' does not hold at this commit (add the file, fix the row, or remove `links` from the table's settings)"
    )]
    LinkMissing {
        /// The file named.
        file: String,
        /// The dataset.
        dataset: String,
    },
    /// Two rows of a linked table name the same file.
    #[error(
        "it links to '{file}', which row {other} links to too: a file is one example, described by one row"
    )]
    LinkTwice {
        /// The file named.
        file: String,
        /// The other row.
        other: String,
    },
    /// A selector that matches no example.
    #[error("'{0}' matches no example (give a file path or TABLE:KEY of an example, or its id)")]
    NoMatch(String),
}

impl RepoError {
    /// Whether this failed only because encrypted data could not be opened
    /// here: no identity, no recipient's identity, or reading refused (no
    /// purpose or grant). Commands can then say what works without it.
    pub fn needs_identity(&self) -> bool {
        use crate::crypt::CryptError as C;
        let locked = |c: &C| matches!(c, C::Locked(_) | C::NotForYou(_) | C::Refused(..));
        match self {
            RepoError::Crypt(c) => locked(c),
            RepoError::Store(crate::store::StoreError::Crypt(c)) => locked(c),
            RepoError::Table(crate::table::TableError::Sealed(..)) => true,
            _ => false,
        }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> RepoError + '_ {
        move |source| RepoError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        use RepoError as E;
        match self {
            E::NotARepository(_)
            | E::PathOutside { .. }
            | E::PathNotFound(_)
            | E::BadDataset { .. }
            | E::NothingTracked
            | E::UnknownRevision(_)
            | E::AmbiguousRevision { .. }
            | E::NotAnAncestor { .. }
            | E::NoCommits
            | E::DetachedHead
            | E::NoOperation(_)
            | E::TagMessage
            | E::Seal(_)
            | E::RevertRefused(_)
            | E::ExportRefused(_)
            | E::KeyRefused(_)
            | E::MetaRefused(_)
            | E::ConfigEdit(_)
            | E::VoidRefused(_)
            | E::PurgeRefused(_)
            | E::PurgedContent(_)
            | E::AlreadyRecorded(_)
            | E::NotInADataset(_)
            | E::MergeInProgress
            | E::NoMerge
            | E::NotConflicted(_)
            | E::Unresolved(_)
            | E::MergeMoved
            | E::BranchInUse(_)
            | E::BranchHoldsWork { .. }
            | E::NeedsUpgrade(_)
            | E::Value(_)
            | E::ValueAt { .. }
            | E::Input { .. }
            | E::NotInRevision { .. }
            | E::RemoteUse(_) => ErrorKind::Invalid,
            E::AlreadyExists(_)
            | E::UncommittedChanges { .. }
            | E::DestinationNotEmpty(_)
            | E::SymlinkInTheWay(_) => ErrorKind::Conflict,
            E::BadObject { .. } => ErrorKind::Damaged,
            E::Io { source, .. } => ErrorKind::of_io(source),
            E::Select(e) => e.kind(),
            E::Proof(e) => e.kind(),
            E::Drift(e) => e.kind(),
            E::Book(e) => e.kind(),
            E::Store(e) => e.kind(),
            E::Crypt(e) => e.kind(),
            E::Ref(e) => e.kind(),
            E::Remote(e) => e.kind(),
            E::Lock(e) => e.kind(),
            E::Index(e) => e.kind(),
            E::Snapshot(e) => e.kind(),
            E::Table(e) => e.kind(),
            E::Config(e) => e.kind(),
            E::Ledger(e) => e.kind(),
            E::LedgerIndex(e) => e.kind(),
        }
    }
}
