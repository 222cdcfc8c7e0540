//! The repository: where the working tree, the store, the refs and the
//! index meet. Commands are methods on [`Repo`], spread over the
//! submodules by topic.

mod access;
mod annotate;
mod audit;
mod book;
mod chain;
mod checkout;
mod commit;
mod diff;
mod drift;
mod error;
mod examples;
mod export;
mod gc;
mod history;
mod ledger;
mod lineage;
mod merge;
mod merge_ledger;
mod oplog;
mod proof;
mod purge;
mod quality;
mod relabel;
mod reseal;
mod revision;
mod settings;
mod status;
mod sync;
#[cfg(test)]
mod sync_tests;
mod tables;
mod tag;
mod undo;
mod upgrade;
mod verify;
mod void;

/// [`ledger::decode_pending`], for the fuzz target.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn ledger_pending_for_fuzzing(data: &[u8]) -> bool {
    ledger::decode_pending(data).is_ok()
}

/// [`oplog::parse_operations`], for the fuzz target.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn oplog_for_fuzzing(data: &[u8]) -> bool {
    oplog::parse_operations(data).is_ok()
}

use std::path::{Component, Path, PathBuf};

pub use access::{AccessEntry, ClassGate, ReadPolicy, UNCLASSIFIED, may_read};
pub use annotate::{
    Annotation, ExampleFilter, Preview, Recorder, SENSITIVITIES, Selector, Valuation,
};
pub use checkout::CheckoutStats;
pub use commit::{CommitOptions, CommitOutcome, TableSummary};
pub use diff::{Diff, DiffOptions, DiffSide, FileDiff, Rename, RowReport, TableDiff};
pub use error::{InputProblem, RepoError};
pub use examples::Meta;
pub use export::{ExportOptions, ExportStats, LEDGER_CONFIDENCE_COLUMN, LEDGER_LABEL_COLUMN};
pub use gc::GcReport;
pub use history::{ColumnInfo, CommitInfo, DatasetInfo, LogEntry, PathAt, RejectedLine, TableInfo};
pub use ledger::PreviewLine;
pub use merge::{Conflict, LabelConflict, MergeOptions, MergeOutcome, MergeState};
pub use oplog::{Operation, RefState};
pub use purge::{PurgeCheck, PurgeItem, PurgeReport};
pub use relabel::{QueueEntry, RelabelQueue};
pub use reseal::{ResealOptions, ResealRecord, ResealReport};
pub use status::{DatasetStatus, Status};
pub use sync::{
    Connection, DataMode, FetchReport, GC_GRACE_MIN, PushReport, RefUpdate, RemoteEnv,
    RemoteGcReport, RemoteSpec, validate_remote_name,
};
pub use tables::{BuiltTable, TableFile, TableOptions};
pub use tag::{TagInfo, TagNote};
pub use undo::RestoreStats;
pub use upgrade::UpgradeReport;
pub use verify::{Problem, VerifyReport};
pub use void::{VoidTarget, VoidedEvent};

use crate::fsutil;
use crate::id::CommitId;
use crate::index::Index;
use crate::lock::RepoLock;
use crate::object::Commit;
use crate::refs::{Head, Refs};
use crate::store::Store;

/// Name of the repository folder.
pub const DOT_FOLIO: &str = ".folio";
/// The branch `init` creates.
pub const DEFAULT_BRANCH: &str = "main";

/// An open repository.
pub struct Repo {
    work: PathBuf,
    dot: PathBuf,
    store: Store,
    refs: Refs,
    journal: std::sync::Mutex<Option<Journal>>,
}

/// What the operation log records of the writes made through a [`Repo`]:
/// the command, who ran it and when. Set by the embedding program with
/// [`Repo::journal_as`]; each write lock, when released, appends one entry
/// if the refs or pending events moved — under the lock, so no reader sees
/// a change before its record (D75).
#[derive(Debug, Clone, Default)]
pub struct Journal {
    /// The command, as given.
    pub command: String,
    /// Who ran it.
    pub actor: String,
    /// When, seconds since the epoch.
    pub time: i64,
    /// Entries that could not be written (the change was made): for the
    /// program to report.
    pub failures: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// The write lock of a repository (see [`Repo::lock`]): the file lock, and
/// the state to journal against when it is released.
pub struct WriteLock<'r> {
    repo: &'r Repo,
    lock: RepoLock,
    before: Option<oplog::RefState>,
}

impl std::ops::Deref for WriteLock<'_> {
    type Target = RepoLock;
    fn deref(&self) -> &RepoLock {
        &self.lock
    }
}

impl Drop for WriteLock<'_> {
    fn drop(&mut self) {
        let Some(before) = self.before.take() else {
            return;
        };
        let journal = self.repo.journal.lock().ok().and_then(|j| j.clone());
        if let Some(j) = journal
            && let Err(e) = self
                .repo
                .record_operation(&self.lock, &before, &j.command, &j.actor, j.time)
            && let Ok(mut f) = j.failures.lock()
        {
            f.push(e.to_string());
        }
    }
}

impl Repo {
    /// Creates a repository in `dir` (which must exist).
    pub fn init(dir: &Path) -> Result<Repo, RepoError> {
        let work = dir.canonicalize().map_err(RepoError::io(dir))?;
        let dot = work.join(DOT_FOLIO);
        if dot.exists() {
            return Err(RepoError::AlreadyExists(work));
        }
        // Build in a temporary folder and rename it into place, so a failed
        // init leaves nothing behind.
        let tmp = work.join(format!(
            "{}init-{}",
            fsutil::TEMP_PREFIX,
            std::process::id()
        ));
        let build = || -> Result<(), RepoError> {
            fsutil::create_dir_durable(&tmp).map_err(RepoError::io(&tmp))?;
            Store::init(&tmp)?;
            Refs::new(&tmp).init(DEFAULT_BRANCH)?;
            fsutil::write_atomic(&tmp.join("config.toml"), CONFIG_TEMPLATE.as_bytes())
                .map_err(RepoError::io(&tmp))?;
            fsutil::rename_durable(&tmp, &dot).map_err(RepoError::io(&dot))
        };
        if let Err(e) = build() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        Repo::open_at(&work)
    }

    /// Opens the repository whose working tree contains `start`.
    pub fn discover(start: &Path) -> Result<Repo, RepoError> {
        Repo::open_at(&Repo::discover_work(start)?)
    }

    /// The working tree that contains `start`.
    fn discover_work(start: &Path) -> Result<PathBuf, RepoError> {
        let start = start.canonicalize().map_err(RepoError::io(start))?;
        let mut dir = start.as_path();
        loop {
            if dir.join(DOT_FOLIO).join("HEAD").is_file() {
                return Ok(dir.to_path_buf());
            }
            match dir.parent() {
                Some(p) => dir = p,
                None => return Err(RepoError::NotARepository(start.clone())),
            }
        }
    }

    fn open_at(work: &Path) -> Result<Repo, RepoError> {
        let repo = Repo::open_any(work)?;
        if repo.needs_upgrade() {
            return Err(RepoError::NeedsUpgrade(repo.dot.clone()));
        }
        Ok(repo)
    }

    /// Opens the repository whose working tree contains `start`, in any
    /// format (for `folio upgrade`).
    pub fn discover_any(start: &Path) -> Result<Repo, RepoError> {
        let work = Repo::discover_work(start)?;
        Repo::open_any(&work)
    }

    fn open_any(work: &Path) -> Result<Repo, RepoError> {
        let dot = work.join(DOT_FOLIO);
        refuse_links(&dot)?;
        let repo = Repo {
            work: work.to_path_buf(),
            store: Store::open(&dot)?,
            refs: Refs::new(&dot),
            dot,
            journal: std::sync::Mutex::new(None),
        };
        repo.load_purges();
        Ok(repo)
    }

    /// The working tree root.
    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// The `.folio` folder.
    pub fn dot_dir(&self) -> &Path {
        &self.dot
    }

    /// The refs.
    pub fn refs(&self) -> &Refs {
        &self.refs
    }

    /// Journals every write made through this handle from now on (see
    /// [`Journal`]).
    pub fn journal_as(&self, journal: Journal) {
        if let Ok(mut j) = self.journal.lock() {
            *j = Some(journal);
        }
    }

    /// Gives the private identities that open sealed objects (D83). The
    /// library never looks for them itself: the embedding program reads
    /// them (the CLI, from the file `FOLIO_IDENTITY` names). Every object
    /// they open is noted in `policy`, which may refuse them all (D85).
    pub fn use_identities(
        &self,
        keys: std::sync::Arc<crate::crypt::Keys>,
        policy: std::sync::Arc<ReadPolicy>,
    ) {
        self.store.set_keys(keys, policy);
    }

    /// Takes the write lock (waiting for it when `wait`). Released, it
    /// journals what moved while it was held (see [`Repo::journal_as`]).
    pub fn lock(&self, wait: bool) -> Result<WriteLock<'_>, RepoError> {
        let lock = RepoLock::acquire(&self.dot.join("lock"), wait)?;
        // State read before the lock may be stale (another writer held it,
        // perhaps repacking): read the pack list again under the lock.
        self.store.reload_packs()?;
        self.remove_leftovers()?;
        let journalled = self.journal.lock().is_ok_and(|j| j.is_some());
        // A state that cannot be read (damage) is not journalled against.
        let before = journalled.then(|| self.ref_state().ok()).flatten();
        Ok(WriteLock {
            repo: self,
            lock,
            before,
        })
    }

    /// Removes what an interrupted writer left (temporary files, a pack
    /// without its index) in the folders only writers write, under the
    /// lock: every writer starts clean.
    fn remove_leftovers(&self) -> Result<(), RepoError> {
        self.store.remove_stale_files()?;
        let mut dirs = vec![self.dot.join("pending"), self.dot.join("index")];
        let mut refs = vec![self.dot.join("refs")];
        while let Some(d) = refs.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    refs.push(e.path());
                }
            }
            dirs.push(d);
        }
        for d in dirs {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let is_temp = e
                    .file_name()
                    .to_string_lossy()
                    .starts_with(crate::fsutil::TEMP_PREFIX);
                if is_temp && e.file_type().is_ok_and(|t| t.is_file()) {
                    let p = e.path();
                    std::fs::remove_file(&p).map_err(RepoError::io(&p))?;
                }
            }
        }
        Ok(())
    }

    fn index_dir(&self) -> PathBuf {
        self.dot.join("index")
    }

    /// Where large builds spill sorted runs (`.folio/tmp`; what a crash
    /// leaves there, `gc` removes).
    fn tmp_dir(&self) -> PathBuf {
        self.dot.join("tmp")
    }

    fn open_index_rw(&self, _lock: &RepoLock) -> Result<Index, RepoError> {
        Ok(Index::open_rw(&self.index_dir())?)
    }

    /// Reads HEAD.
    pub fn head(&self) -> Result<Head, RepoError> {
        Ok(self.refs.head()?)
    }

    /// The commit HEAD points at, if any.
    ///
    /// A branch with no commit is legitimate only in a repository that
    /// has none: when HEAD names a branch whose ref is missing while other
    /// refs exist or the store holds a commit, the ref was lost (or a first
    /// commit was killed before its ref moved), and answering "no commits
    /// yet" would hide it. Only this rare case reads the store's objects.
    pub fn head_commit(&self) -> Result<Option<CommitId>, RepoError> {
        let id = self.refs.head_commit()?;
        if id.is_none()
            && let Head::Branch(b) = self.refs.head()?
            && (self.refs.list(crate::refs::RefKind::Branch)?.len()
                + self.refs.list(crate::refs::RefKind::Tag)?.len()
                > 0
                // Commits fetched into a new repository are reached by
                // remote-tracking refs: its branch is unborn, not lost.
                || (self.refs.list(crate::refs::RefKind::Remote)?.is_empty()
                    && self.store.holds_a_commit()))
        {
            return Err(crate::refs::RefError::Corrupt {
                path: self.refs.ref_path(crate::refs::RefKind::Branch, &b),
                detail: format!(
                    "HEAD names branch {b}, which is missing, but the repository holds commits: the ref was deleted or lost; restore it (`folio branch` lists the others, `folio log REV` finds commits)"
                ),
            }
            .into());
        }
        Ok(id)
    }

    /// The datasets of HEAD's commit (none before the first commit).
    pub(crate) fn head_datasets(&self) -> Result<Vec<crate::object::DatasetEntry>, RepoError> {
        Ok(match self.head_commit()? {
            Some(h) => self.read_commit(h)?.datasets,
            None => Vec::new(),
        })
    }

    /// Reads and decodes a tree (a folder of a snapshot).
    pub fn read_tree(&self, id: crate::id::TreeId) -> Result<crate::object::Tree, RepoError> {
        Ok(crate::snapshot::read_tree(&self.store, id.0)?)
    }

    /// Reads and decodes a commit.
    pub fn read_commit(&self, id: CommitId) -> Result<Commit, RepoError> {
        let bytes = self.store.get(&id.0)?;
        Commit::decode(&bytes).map_err(|source| RepoError::BadObject {
            id: id.0,
            location: self
                .store
                .locate(&id.0)
                .map(|l| l.to_string())
                .unwrap_or_default(),
            source,
        })
    }

    /// Turns a user-given path (absolute, or relative to the working tree)
    /// into a dataset path relative to the working tree (`/`-separated, no
    /// `.` or `..`).
    pub fn dataset_path(&self, given: &Path) -> Result<String, RepoError> {
        let abs = if given.is_absolute() {
            given.to_path_buf()
        } else {
            // Relative to the working tree: the library does not read the
            // process's current folder (the CLI passes absolute paths).
            self.work.join(given)
        };
        let abs = normalize(&abs);
        let rel = abs
            .strip_prefix(&self.work)
            .map_err(|_| RepoError::PathOutside {
                path: given.to_path_buf(),
                root: self.work.clone(),
            })?;
        let mut parts = Vec::new();
        for c in rel.components() {
            let s = c
                .as_os_str()
                .to_str()
                .ok_or_else(|| RepoError::BadDataset {
                    path: rel.to_string_lossy().into_owned(),
                    reason: "the name is not valid UTF-8".into(),
                })?;
            parts.push(s);
        }
        let path = parts.join("/");
        if path.is_empty() {
            return Err(RepoError::BadDataset {
                path: ".".into(),
                reason:
                    "the whole working tree cannot be a dataset: name a folder or file inside it"
                        .into(),
            });
        }
        if parts.iter().any(|p| crate::object::is_reserved(p)) {
            return Err(RepoError::BadDataset {
                path,
                reason: "names a .folio folder (in some spelling): folio never tracks its own folder or a nested repository's".into(),
            });
        }
        Ok(path)
    }

    /// The absolute working-tree path of a dataset.
    pub fn abs(&self, dataset: &str) -> PathBuf {
        self.work.join(dataset)
    }

    /// The ledger folder.
    pub fn ledger_dir(&self) -> PathBuf {
        self.dot.join("ledger")
    }

    fn repo_ignore(&self) -> PathBuf {
        self.work.join(crate::snapshot::IGNORE_FILE)
    }
}

/// Refuses a repository whose `.folio`, or any of its files and folders
/// folio reads or writes in place, is a symlink: a repository handed to us
/// could otherwise point reads and writes outside it. Objects are checked
/// when read (their bytes must hash to their id) and replaced by rename.
fn refuse_links(dot: &Path) -> Result<(), RepoError> {
    let mut paths = vec![dot.to_path_buf()];
    for name in [
        "HEAD",
        "config.toml",
        "lock",
        "refs",
        "refs/heads",
        "refs/tags",
        "objects",
        "packs",
        "ledger",
        "index",
        "profiles",
    ] {
        paths.push(dot.join(name));
    }
    if let Ok(rd) = std::fs::read_dir(dot.join("ledger")) {
        paths.extend(rd.filter_map(Result::ok).map(|e| e.path()));
    }
    if let Ok(rd) = std::fs::read_dir(dot.join("index")) {
        paths.extend(rd.filter_map(Result::ok).map(|e| e.path()));
    }
    for p in paths {
        fsutil::refuse_symlink(&p).map_err(RepoError::io(&p))?;
    }
    Ok(())
}

/// Resolves `.` and `..` lexically, without touching the file system
/// except to canonicalize the longest existing prefix (so symlinked
/// temporary folders compare equal).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    let mut existing = out.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(n), Some(parent)) => {
                rest.push(n);
                existing = parent.to_path_buf();
            }
            _ => return out,
        }
    }
    let mut base = existing.canonicalize().unwrap_or(existing);
    for n in rest.into_iter().rev() {
        base.push(n);
    }
    base
}

const CONFIG_TEMPLATE: &str = "# folio repository configuration\n";

use crate::object::is_within;

/// A path of the working tree from a dataset and a path inside it (`""`:
/// the dataset itself).
pub(crate) fn join_path(dataset: &str, rel: &str) -> String {
    if rel.is_empty() {
        dataset.to_string()
    } else {
        format!("{dataset}/{rel}")
    }
}

#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod rows_tests;
#[cfg(test)]
mod tests;
