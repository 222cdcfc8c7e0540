//! The command line: parse, call the library, render, map errors to exit
//! codes. Only this layer reads the environment and prints.

mod access;
mod audit;
mod book;
mod branch;
mod cat;
mod checkout;
mod commit;
mod config;
mod diff;
mod drift;
mod export;
mod gc;
mod init;
mod ledger;
mod lineage;
mod log;
mod merge;
mod oplog;
mod progress;
mod prove;
mod purge;
mod quality;
mod record;
mod reindex;
mod remote;
mod reseal;
mod retention;
mod show;
mod status;
mod undo;
mod upgrade;
mod verify;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use folio_core::refs::RefError;
use folio_core::repo::{Repo, RepoError};

/// Version ML training datasets and keep a ledger of every example
#[derive(Parser, Debug)]
#[command(name = "folio", version, about, max_term_width = 100, after_help = EXIT_CODES)]
pub struct Cli {
    /// Run as if started in DIR
    #[arg(short = 'C', global = true, value_name = "DIR", help_heading = GLOBAL)]
    dir: Option<PathBuf>,
    /// Print only results: no progress bars or hints
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    quiet: bool,
    /// Wait for another folio process's lock instead of failing
    #[arg(long, help_heading = GLOBAL)]
    wait: bool,
    /// Worker threads for hashing and writing (default: one per core)
    #[arg(short, long, value_name = "N", help_heading = GLOBAL)]
    jobs: Option<usize>,
    /// Why you read encrypted data: recorded with who and when (`audit --access`)
    #[arg(long, value_name = "TEXT", help_heading = GLOBAL)]
    purpose: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create an empty repository in the current folder
    Init(init::Args),
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish
    /// (e.g. `folio completions bash > ~/.local/share/bash-completion/completions/folio`)
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Record a new snapshot of datasets
    Commit(commit::Args),
    /// Show what changed in tracked datasets since HEAD
    Status(status::Args),
    /// List commits, newest first
    Log(log::Args),
    /// Describe one commit: metadata, datasets, changes
    Show(show::Args),
    /// Print a file as it is at a revision (REV:PATH), or list a folder
    Cat(cat::Args),
    /// Write the selected rows of a table at a revision as CSV, TSV, JSON Lines or Parquet
    Export(export::Args),
    /// Read and edit .folio/config.toml by dotted key (list, get, set, unset)
    Config(config::Args),
    /// Write man pages (folio.1 and folio-COMMAND.1) into DIR (`make man`)
    #[command(hide = true)]
    Man {
        /// The folder to write them in (created if missing)
        dir: PathBuf,
    },
    /// (git's habit) folio has no staging area: says what to type instead
    #[command(hide = true)]
    Add {
        /// What git would add
        paths: Vec<PathBuf>,
    },
    /// Compare commits, or a commit and the working tree, down to rows and cells
    Diff(diff::Args),
    /// Measure distribution drift between two commits, column by column
    Drift(drift::Args),
    /// Materialise a snapshot in the working tree or another folder
    Checkout(checkout::Args),
    /// Point HEAD at a branch and update the working tree
    Switch(checkout::SwitchArgs),
    /// List, create or delete branches
    Branch(branch::BranchArgs),
    /// Join another branch into the current one (rows and cells merge three-way)
    Merge(merge::Args),
    /// Discard working-tree changes to files or folders (HEAD does not move)
    Restore(undo::RestoreArgs),
    /// Move the current branch to another commit
    Reset(undo::ResetArgs),
    /// Undo a commit with a new one (its changes reversed, its events voided)
    Revert(undo::RevertArgs),
    /// List the operations that moved refs or recorded ledger events, or
    /// return to the state before one
    Oplog(oplog::Args),
    /// Undo the last operation (refs and pending events; not the working tree)
    Undo(oplog::UndoArgs),
    /// List or create tags
    Tag(branch::TagArgs),
    /// Record a label for one example, or for every example a filter selects
    Annotate(record::AnnotateArgs),
    /// Record the cost basis of one example, or of every example a filter selects
    Value(record::ValueArgs),
    /// Record the sensitivity of one example, or of every example a filter selects
    Classify(record::ClassifyArgs),
    /// Record that a model was trained on a commit
    Trained(record::TrainedArgs),
    /// Show the whole story of one example: where it came from, every event
    Lineage(lineage::Args),
    /// Inventory the examples of a commit by source and dataset
    Audit(audit::Args),
    /// Measure label agreement and list the examples to relabel
    Quality(quality::Args),
    /// Which examples are due for deletion under the retention rules
    Retention(retention::Args),
    /// Erase examples' content from every snapshot, with a record and a proof
    Purge(purge::Args),
    /// Encrypt again what is stored: to the recipients configured now, and what was stored in the clear
    Reseal(reseal::Args),
    /// Allow someone to read encrypted data until a date (recorded)
    Grant(access::GrantArgs),
    /// End someone's grant to read encrypted data (recorded)
    Revoke(access::RevokeArgs),
    /// Work with the ledger itself
    Ledger(ledger::Args),
    /// Datasets as assets: policies, depreciation schedules, book value
    Book(book::Args),
    /// Print a Merkle proof that an example's events are in the ledger a commit attests
    Prove(prove::ProveArgs),
    /// Check a proof written by `folio prove`
    VerifyProof(prove::VerifyProofArgs),
    /// Re-hash every reachable object and check commits, trees, refs and the ledger
    Verify(verify::Args),
    /// Find objects no ref reaches, and delete them with --prune
    Gc(gc::Args),
    /// Rebuild the derived index from the working tree and the store
    Reindex(reindex::Args),
    /// Convert a repository written by folio 0.1 to the current format
    Upgrade(upgrade::Args),
    /// List, add or remove remotes (a folder or s3://bucket/prefix)
    Remote(remote::RemoteArgs),
    /// Upload commits, their ledger and contents, then move the remote's branch
    Push(remote::PushArgs),
    /// Download a remote's commits into remote-tracking branches (REMOTE/BRANCH)
    Fetch(remote::FetchArgs),
    /// Fetch, then fast-forward or merge the current branch
    Pull(remote::PullArgs),
    /// Make a new working copy of a remote
    Clone(remote::CloneArgs),
}

/// The heading of the options every command takes.
const GLOBAL: &str = "Global options";

/// Commands that never wait for the lock (they take none).
const NO_WAIT: &[&str] = &[
    "init",
    "completions",
    "status",
    "log",
    "show",
    "export",
    "diff",
    "drift",
    "lineage",
    "audit",
    "retention",
    "quality",
    "prove",
    "verify-proof",
    "man",
    "add",
];

/// Commands that may read the plaintext of encrypted data: they take
/// `--purpose` (D85).
const READS: &[&str] = &[
    "checkout",
    "switch",
    "cat",
    "export",
    "diff",
    "status",
    "drift",
    "merge",
    "restore",
    "reset",
    "revert",
    "verify",
    "clone",
    "pull",
    "commit",
    "annotate",
    "purge",
    "reseal",
    "retention",
];

/// Commands that start no worker threads.
const NO_JOBS: &[&str] = &[
    "init",
    "completions",
    "tag",
    "branch",
    "config",
    "remote",
    "oplog",
    "undo",
    "verify-proof",
    "trained",
    "grant",
    "revoke",
    "man",
    "add",
];

/// The command line. `-C` and `-q` are global; `--wait` and `-j` are
/// given (before the command, or after it) only to the commands they mean
/// something to, and their subcommands.
fn command() -> clap::Command {
    fn with(mut c: clap::Command, wait: bool, jobs: bool, purpose: bool) -> clap::Command {
        if purpose {
            c = c.arg(
                clap::Arg::new("purpose")
                    .long("purpose")
                    .value_name("TEXT")
                    .help("Why you read encrypted data: recorded with who and when (`audit --access`)")
                    .help_heading(GLOBAL),
            );
        }
        if wait {
            c = c.arg(
                clap::Arg::new("wait")
                    .long("wait")
                    .action(clap::ArgAction::SetTrue)
                    .help("Wait for another folio process's lock instead of failing")
                    .help_heading(GLOBAL),
            );
        }
        if jobs {
            c = c.arg(
                clap::Arg::new("jobs")
                    .short('j')
                    .long("jobs")
                    .value_name("N")
                    .value_parser(clap::value_parser!(usize))
                    .help("Worker threads for hashing and writing (default: one per core)")
                    .help_heading(GLOBAL),
            );
        }
        let subs: Vec<String> = c
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        for name in subs {
            c = c.mut_subcommand(&name, |s| with(s, wait, jobs, purpose));
        }
        c
    }
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        let wait = !NO_WAIT.contains(&name.as_str());
        let jobs = !NO_JOBS.contains(&name.as_str());
        let purpose = READS.contains(&name.as_str());
        cmd = cmd.mut_subcommand(&name, |s| with(s, wait, jobs, purpose));
    }
    cmd
}

/// `--wait`, `-j` and `--purpose` as given after the command (at any
/// depth).
fn late_options(m: &clap::ArgMatches) -> (bool, Option<usize>, Option<String>) {
    let (mut wait, mut jobs, mut purpose) = (false, None, None);
    let mut at = m.subcommand();
    while let Some((_, sub)) = at {
        wait |= matches!(sub.try_get_one::<bool>("wait"), Ok(Some(true)));
        if let Ok(Some(n)) = sub.try_get_one::<usize>("jobs") {
            jobs = Some(*n);
        }
        if let Ok(Some(p)) = sub.try_get_one::<String>("purpose") {
            purpose = Some(p.clone());
        }
        at = sub.subcommand();
    }
    (wait, jobs, purpose)
}

/// The exit codes, as `folio --help` lists them.
const EXIT_CODES: &str = "Exit codes:
  0   success
  1   a problem you can fix (the message says how); diff --exit-code: differences
  2   usage: the command line does not parse
  3   drift --fail-on-drift: the data drifted
  70  damaged repository data (verify found problems, or data did not decode)
  74  I/O failure (disk full, permissions)
  75  the repository is locked by another folio process (retry, or pass --wait)

Environment:
  FOLIO_AUTHOR           the author and actor of commits and events (default: git's
                         user.name and user.email, then $USER)
  FOLIO_NOW              the time of commits and events, RFC 3339 (reproducible runs)
  FOLIO_IDENTITY         a file of age identities (age-keygen) or an unencrypted SSH
                         private key: opens encrypted data ([encryption] in the config)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
  AWS_REGION (or AWS_DEFAULT_REGION), AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL),
  AWS_ALLOW_HTTP         credentials and endpoint of s3:// remotes, as the AWS tools read them
  FOLIO_FAILPOINT        for crash tests: abort at a named write step (docs/RELIABILITY.md)";

/// The identities of the file `FOLIO_IDENTITY` names, when set (D83):
/// the only place folio reads a private key.
fn identities(repo: &Repo) -> std::result::Result<Option<folio_core::crypt::Keys>, RepoError> {
    use folio_core::crypt::{CryptError, Keys};
    let Some(path) = std::env::var_os("FOLIO_IDENTITY").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let name = PathBuf::from(&path).display().to_string();
    // A private key inside the working tree is one `folio commit .` away
    // from being stored, and pushed, in the clear.
    if let (Ok(key), Ok(work)) = (
        std::fs::canonicalize(&path),
        std::fs::canonicalize(repo.work_dir()),
    ) && key.starts_with(&work)
    {
        return Err(RepoError::Crypt(CryptError::BadIdentity {
            source_name: format!("FOLIO_IDENTITY={name}"),
            detail: format!(
                "is inside the repository ({}): move it out (private keys never belong in the repository, where a commit would store it in the clear)",
                work.display()
            ),
        }));
    }
    let text = std::fs::read(&path).map_err(|e| {
        RepoError::Crypt(CryptError::BadIdentity {
            source_name: format!("FOLIO_IDENTITY={name}"),
            detail: format!("cannot be read ({e}): name an age identity file (age-keygen -o FILE) or an unencrypted SSH private key"),
        })
    })?;
    Ok(Some(Keys::parse(&text, &format!("FOLIO_IDENTITY={name}"))?))
}

/// What every command needs.
pub struct Ctx {
    cwd: PathBuf,
    quiet: bool,
    wait: bool,
    jobs: Option<usize>,
    /// What the operation log records of this command's writes (`None`:
    /// a command that moves no ref and records no event).
    journal: Option<folio_core::repo::Journal>,
    /// `--purpose`: why encrypted data is read.
    purpose: Option<String>,
    /// The read policies handed to repositories (their folder, the
    /// purpose in force), to record what they opened (D85).
    reads: std::sync::Mutex<
        Vec<(
            PathBuf,
            String,
            std::sync::Arc<folio_core::repo::ReadPolicy>,
        )>,
    >,
}

impl Ctx {
    fn repo(&self) -> Result<Repo> {
        let repo = Repo::discover(&self.cwd)?;
        if let Some(j) = &self.journal {
            repo.journal_as(j.clone());
        }
        self.with_identities(&repo)?;
        Ok(repo)
    }

    /// Hands `repo` the identities of the file `FOLIO_IDENTITY` names,
    /// when set (D83), under the read policy of this process: a purpose is
    /// required, and once grants are recorded a current one (D85).
    fn with_identities(&self, repo: &Repo) -> Result {
        let Some(keys) = identities(repo)? else {
            return Ok(());
        };
        let purpose = self
            .purpose
            .clone()
            .or(repo.config()?.access.purpose)
            .filter(|p| !p.trim().is_empty());
        let actor = commit::author(None);
        let (refused, limited) = match &purpose {
            None => (
                Some(
                    "give a purpose: --purpose TEXT (recorded with who and when; `folio audit --access` lists reads), or [access] purpose in .folio/config.toml".to_string(),
                ),
                None,
            ),
            Some(_) => match folio_core::repo::may_read(&repo.access_entries()?, &actor, commit::now()?) {
                Ok(classes) => (None, classes),
                Err(why) => (Some(why), None),
            },
        };
        // A grant for some classes: what each object holds decides.
        let classes = match limited {
            Some(allowed) => Some(folio_core::repo::ClassGate {
                allowed,
                of: repo.object_classes()?,
            }),
            None => None,
        };
        let policy = std::sync::Arc::new(folio_core::repo::ReadPolicy {
            refused,
            classes,
            ..Default::default()
        });
        repo.use_identities(std::sync::Arc::new(keys), policy.clone());
        if let Some(p) = purpose
            && let Ok(mut r) = self.reads.lock()
        {
            r.push((repo.work_dir().to_path_buf(), p, policy));
        }
        Ok(())
    }

    /// Records, in each repository read, the encrypted objects this
    /// command opened: who, when, why (D85).
    fn record_reads(&self, command: &str) -> Result {
        let reads = match self.reads.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(_) => return Ok(()),
        };
        for (work, purpose, policy) in reads {
            let ids: Vec<_> = match policy.opened.lock() {
                Ok(s) => s.iter().copied().collect(),
                Err(_) => continue,
            };
            if ids.is_empty() {
                continue;
            }
            let repo = Repo::discover(&work)?;
            let lock = repo.lock(true)?;
            let now = commit::now()?;
            repo.record_access(
                &lock,
                now,
                &commit::author(None),
                "read",
                command,
                &purpose,
                None,
                None,
                &ids,
                &[],
            )?;
        }
        Ok(())
    }

    fn progress(&self) -> progress::Bar {
        progress::Bar::new(!self.quiet && io::stderr().is_terminal())
    }

    /// Prints a hint on stderr unless quiet.
    fn hint(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{}", visible(msg));
        }
    }
}

/// Exit codes: the one place they are decided (README "Exit codes", D43).
pub mod exit {
    use folio_core::error::ErrorKind;

    /// A problem the user can fix (the message says how), or a finding
    /// documented as exit 1 (`diff --exit-code` found differences).
    pub const FIX: u8 = 1;
    /// The command line does not parse (clap's own code).
    pub const USAGE: u8 = 2;
    /// `drift --fail-on-drift`: the data drifted.
    pub const DRIFTED: u8 = 3;
    /// Stored data is damaged (`verify` found problems, or a command met
    /// data that does not decode or re-hash).
    pub const DAMAGED: u8 = 70;
    /// The operating system failed a read or write.
    pub const IO: u8 = 74;
    /// Another folio process holds the lock: try again, or pass --wait.
    pub const LOCKED: u8 = 75;

    /// The exit code of a library error's kind.
    pub fn of(kind: ErrorKind) -> u8 {
        match kind {
            ErrorKind::Invalid | ErrorKind::Conflict => FIX,
            ErrorKind::Locked => LOCKED,
            ErrorKind::Io => IO,
            ErrorKind::Damaged => DAMAGED,
        }
    }
}

/// A command's failure: the error and the exit code it maps to.
pub struct Failure {
    code: u8,
    message: String,
}

/// Library errors become failures through their kind.
macro_rules! failure_from {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure {
                    code: exit::of(e.kind()),
                    message: e.to_string(),
                }
            }
        }
    )*};
}

failure_from!(
    RepoError,
    RefError,
    folio_core::config::ConfigError,
    folio_core::drift::DriftError,
    folio_core::book::PolicyError,
    folio_core::book::report::BookError,
    folio_core::ledger::proof::ProofError,
    folio_core::ledger::values::ValueError,
);

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure {
            code: exit::IO,
            message: e.to_string(),
        }
    }
}

impl Failure {
    /// A problem with the command's input that the user can fix.
    fn user(message: impl Into<String>) -> Self {
        Failure {
            code: exit::FIX,
            message: message.into(),
        }
    }

    /// A failure that has already been reported on stdout or stderr.
    fn silent(code: u8) -> Self {
        Failure {
            code,
            message: String::new(),
        }
    }
}

type Result<T = ()> = std::result::Result<T, Failure>;

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let parsed = command().try_get_matches().and_then(|m| {
        let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&m)?;
        let (wait, jobs, purpose) = late_options(&m);
        cli.wait |= wait;
        cli.jobs = jobs.or(cli.jobs);
        cli.purpose = purpose.or(cli.purpose.take());
        Ok(cli)
    });
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version print to stdout and succeed.
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    if let Command::Man { dir } = &cli.command {
        return match man_pages(dir) {
            Ok(n) => {
                if !cli.quiet {
                    eprintln!("wrote {n} man pages to {}", dir.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {}: {e}", dir.display());
                ExitCode::from(exit::IO)
            }
        };
    }
    if let Command::Completions { shell } = &cli.command {
        let mut cmd = command();
        let mut script = Vec::new();
        clap_complete::generate(*shell, &mut cmd, "folio", &mut script);
        return match io::stdout().write_all(&script) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(exit::IO)
            }
        };
    }
    // A crash test stops the process at a named write step.
    if let Ok(spec) = std::env::var("FOLIO_FAILPOINT")
        && let Err(e) = folio_core::failpoint::arm(&spec)
    {
        eprintln!("error: FOLIO_FAILPOINT: {e}");
        return ExitCode::from(exit::USAGE);
    }
    // Workers walk and compare folder trees recursively, up to
    // MAX_DEPTH (256) levels: give them room (address space, not memory).
    let mut pool = rayon::ThreadPoolBuilder::new().stack_size(32 << 20);
    if let Some(n) = cli.jobs {
        pool = pool.num_threads(n.max(1));
    }
    let _ = pool.build_global();
    let cwd = match &cli.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    // Every command that may move a ref or record an event is journalled
    // (the others pay nothing for it: `lineage` stays one index lookup).
    let journalled = matches!(
        &cli.command,
        Command::Commit(_)
            | Command::Checkout(_)
            | Command::Switch(_)
            | Command::Branch(_)
            | Command::Tag(_)
            | Command::Annotate(_)
            | Command::Value(_)
            | Command::Classify(_)
            | Command::Trained(_)
            | Command::Ledger(_)
            | Command::Book(_)
            | Command::Merge(_)
            | Command::Reset(_)
            | Command::Revert(_)
            | Command::Oplog(_)
            | Command::Undo(_)
            | Command::Fetch(_)
            | Command::Pull(_)
            | Command::Purge(_)
            | Command::Reseal(_)
            | Command::Retention(_)
    );
    // Each write lock journals what moved while it was held, before it is
    // released (D75).
    let command_line = std::iter::once("folio".to_string())
        .chain(std::env::args().skip(1))
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ");
    let journal = journalled.then(|| folio_core::repo::Journal {
        command: command_line.clone(),
        actor: commit::author(None),
        time: commit::now().unwrap_or(0),
        failures: Default::default(),
    });
    let ctx = Ctx {
        cwd,
        quiet: cli.quiet,
        wait: cli.wait,
        jobs: cli.jobs,
        journal,
        purpose: cli.purpose.clone(),
        reads: Default::default(),
    };
    let result = match &cli.command {
        Command::Init(a) => init::run(&ctx, a),
        // Answered before any repository is opened.
        Command::Completions { .. } | Command::Man { .. } => Ok(()),
        Command::Commit(a) => commit::run(&ctx, a),
        Command::Status(a) => status::run(&ctx, a),
        Command::Log(a) => log::run(&ctx, a),
        Command::Show(a) => show::run(&ctx, a),
        Command::Cat(a) => cat::run(&ctx, a),
        Command::Export(a) => export::run(&ctx, a),
        Command::Config(a) => config::run(&ctx, a),
        Command::Add { paths } => {
            let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            let what = if list.is_empty() {
                "PATH".to_string()
            } else {
                list.join(" ")
            };
            Err(Failure::user(format!(
                "folio has no staging area: `folio commit {what} -m MESSAGE` snapshots it (`folio commit . -m MESSAGE` snapshots every top-level folder and file)"
            )))
        }
        Command::Diff(a) => diff::run(&ctx, a),
        Command::Drift(a) => drift::run(&ctx, a),
        Command::Checkout(a) => checkout::run(&ctx, a),
        Command::Switch(a) => checkout::switch(&ctx, a),
        Command::Branch(a) => branch::branch(&ctx, a),
        Command::Tag(a) => branch::tag(&ctx, a),
        Command::Annotate(a) => record::annotate(&ctx, a),
        Command::Value(a) => record::value(&ctx, a),
        Command::Classify(a) => record::classify(&ctx, a),
        Command::Trained(a) => record::trained(&ctx, a),
        Command::Lineage(a) => lineage::run(&ctx, a),
        Command::Audit(a) => audit::run(&ctx, a),
        Command::Retention(a) => retention::run(&ctx, a),
        Command::Purge(a) => purge::run(&ctx, a),
        Command::Reseal(a) => reseal::run(&ctx, a),
        Command::Grant(a) => access::grant(&ctx, a),
        Command::Revoke(a) => access::revoke(&ctx, a),
        Command::Quality(a) => quality::run(&ctx, a),
        Command::Ledger(a) => ledger::run(&ctx, a),
        Command::Book(a) => book::run(&ctx, a),
        Command::Prove(a) => prove::prove(&ctx, a),
        Command::VerifyProof(a) => prove::verify(&ctx, a),
        Command::Verify(a) => verify::run(&ctx, a),
        Command::Gc(a) => gc::run(&ctx, a),
        Command::Reindex(a) => reindex::run(&ctx, a),
        Command::Upgrade(a) => upgrade::run(&ctx, a),
        Command::Merge(a) => merge::run(&ctx, a),
        Command::Restore(a) => undo::restore(&ctx, a),
        Command::Reset(a) => undo::reset(&ctx, a),
        Command::Revert(a) => undo::revert(&ctx, a),
        Command::Oplog(a) => oplog::run(&ctx, a),
        Command::Undo(a) => oplog::undo(&ctx, a),
        Command::Remote(a) => remote::remote(&ctx, a),
        Command::Push(a) => remote::push(&ctx, a),
        Command::Fetch(a) => remote::fetch(&ctx, a),
        Command::Pull(a) => remote::pull(&ctx, a),
        Command::Clone(a) => remote::clone(&ctx, a),
    };
    // What was read of encrypted data is recorded, whether or not the
    // command then failed; a read that cannot be recorded fails it.
    let result = match (ctx.record_reads(&command_line), result) {
        (Err(e), Ok(())) => Err(Failure {
            code: e.code,
            message: format!(
                "encrypted data was read, and the access log could not record it: {}",
                e.message
            ),
        }),
        (_, r) => r,
    };
    // A journal entry that could not be written: the command's work is
    // done, so it succeeded, and says what is missing (D73).
    if let Some(j) = &ctx.journal
        && let Ok(failures) = j.failures.lock()
    {
        for f in failures.iter() {
            eprintln!(
                "warning: the command's work is done, but the operation log could not record it (`folio verify` names what the log lacks): {}",
                visible(f)
            );
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("error: {}", visible(&f.message));
            }
            ExitCode::from(f.code)
        }
    }
}

/// Writes to stdout, treating a closed pipe as a clean end.
pub fn out(text: &str) -> Result {
    let text = visible(text);
    let mut o = io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|_| o.flush()) {
        // A reader that stopped early (`| head`) is a clean end; the command
        // still finishes, and its operation is journalled.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(()),
    }
}

/// Text for a terminal: control characters other than newline and tab
/// (escape sequences, carriage returns, NUL) shown as `\u{..}`, so no
/// stored name or value can drive the terminal or overwrite a line.
pub fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if bad(c) {
            s += &format!("\\u{{{:x}}}", u32::from(c));
        } else {
            s.push(c);
        }
    }
    std::borrow::Cow::Owned(s)
}

/// Prints a value as pretty JSON.
pub fn out_json<T: serde::Serialize>(v: &T) -> Result {
    let s = serde_json::to_string_pretty(v).map_err(|e| Failure {
        code: exit::DAMAGED,
        message: e.to_string(),
    })?;
    out(&format!("{s}\n"))
}

/// `n` and a noun, plural unless `n` is 1: "1 event", "3 events".
/// Records kept by id (purges, reseals) as JSON: each as stored, with its
/// id as `record`.
pub fn records_json<T: serde::Serialize>(
    list: &[(folio_core::id::ObjectId, T)],
) -> Vec<serde_json::Value> {
    list.iter()
        .map(|(id, r)| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["record"] = serde_json::Value::String(id.to_hex());
            v
        })
        .collect()
}

pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n: u64 = n.into();
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}

/// A UTC time for humans.
pub fn fmt_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}

/// A byte count for humans.
pub fn fmt_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// How a table's rows are identified, for humans.
pub fn describe_key(key: &[String]) -> String {
    if key.is_empty() {
        "rows identified by content".to_string()
    } else {
        format!("key {}", key.join(","))
    }
}

/// Writes `folio.1` and a page per visible command (`folio-commit.1`, …)
/// into `dir`; how many were written.
fn man_pages(dir: &std::path::Path) -> io::Result<usize> {
    let cmd = command();
    std::fs::create_dir_all(dir)?;
    let mut n = 0;
    let mut write = |name: &str, c: clap::Command| -> io::Result<()> {
        let mut page = Vec::new();
        clap_mangen::Man::new(c).render(&mut page)?;
        folio_core::write_atomic(&dir.join(format!("{name}.1")), &page)?;
        n += 1;
        Ok(())
    };
    for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = format!("folio-{}", sub.get_name());
        let bin = format!("folio {}", sub.get_name());
        write(&name, sub.clone().display_name(name.clone()).bin_name(bin))?;
    }
    write("folio", cmd)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(super::count(1u64, "event"), "1 event");
        assert_eq!(super::count(0u64, "row"), "0 rows");
        assert_eq!(super::count(3u64, "entry"), "3 entries");
        assert_eq!(super::count(2u64, "day"), "2 days");
        assert_eq!(super::count(1u64, "ledger event"), "1 ledger event");
    }
}
