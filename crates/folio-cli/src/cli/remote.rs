//! `folio remote`, `push`, `fetch`, `pull` and `clone`.
//!
//! This layer reads the AWS_* environment (the library never does) and
//! hands it to the library as a `RemoteEnv`.

use std::path::{Path, PathBuf};

use super::{Ctx, Failure, Result, fmt_bytes, out, out_json};
use folio_core::id::{CommitId, ObjectId};
use folio_core::refs::{Head, RefKind};
use folio_core::remote::Location;
use folio_core::repo::{
    Connection, DataMode, MergeOptions, MergeOutcome, RemoteEnv, RemoteSpec, Repo,
};

/// Concurrent transfers when --jobs is not given.
const DEFAULT_JOBS: usize = 8;

#[derive(clap::Args, Debug)]
pub struct RemoteArgs {
    #[command(subcommand)]
    cmd: Option<RemoteCmd>,
    /// List with URLs and settings
    #[arg(short, long)]
    verbose: bool,
}

#[derive(clap::Subcommand, Debug)]
enum RemoteCmd {
    /// Add a remote: a folder (a path or file:///path) or s3://BUCKET/PREFIX
    Add {
        /// Its name (`origin`)
        name: String,
        /// Where it is
        url: String,
        /// S3: the endpoint of an S3-compatible store (http://host:port)
        #[arg(long)]
        endpoint: Option<String>,
        /// S3: the region
        #[arg(long)]
        region: Option<String>,
        /// S3: allow plain HTTP to the endpoint
        #[arg(long)]
        allow_http: bool,
    },
    /// Remove a remote and its remote-tracking branches
    Remove {
        /// Its name
        name: String,
    },
    /// List remotes (the default)
    List {
        /// With URLs and settings
        #[arg(short, long)]
        verbose: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// The remote (default: origin, or the only one)
    remote: Option<String>,
    /// The branch to push (default: the current branch)
    branch: Option<String>,
    /// Push every tag
    #[arg(long, conflicts_with = "all")]
    tags: bool,
    /// Push every branch and tag
    #[arg(long)]
    all: bool,
    /// Print the outcome as JSON
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct FetchArgs {
    /// The remote (default: origin, or the only one)
    remote: Option<String>,
    /// Take history only, no file contents (they are fetched on demand)
    #[arg(long, conflicts_with = "data")]
    no_data: bool,
    /// Take file contents only for these paths (datasets or paths in them)
    #[arg(long, value_name = "PATH", num_args = 1..)]
    data: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// The remote (default: origin, or the only one)
    remote: Option<String>,
    /// The author of a merge commit (default $FOLIO_AUTHOR, else user@host)
    #[arg(long)]
    author: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct CloneArgs {
    /// The remote: a folder (a path or file:///path) or s3://BUCKET/PREFIX
    url: String,
    /// The new working folder (default: the URL's last part)
    #[arg(value_name = "DIR")]
    directory: Option<PathBuf>,
    /// History, ledger, trees and manifests only: file contents are
    /// fetched when a command needs them
    #[arg(long)]
    no_data: bool,
    /// The branch to check out (default: main, else the first)
    #[arg(short, long)]
    branch: Option<String>,
    /// S3: the endpoint of an S3-compatible store (http://host:port)
    #[arg(long)]
    endpoint: Option<String>,
    /// S3: the region
    #[arg(long)]
    region: Option<String>,
    /// S3: allow plain HTTP to the endpoint
    #[arg(long)]
    allow_http: bool,
}

/// The AWS_* environment, as the AWS tools read it.
pub fn env() -> RemoteEnv {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    RemoteEnv {
        endpoint: var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")),
        region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
        allow_http: var("AWS_ALLOW_HTTP").is_some_and(|v| v == "true" || v == "1"),
        access_key_id: var("AWS_ACCESS_KEY_ID"),
        secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
        session_token: var("AWS_SESSION_TOKEN"),
    }
}

fn jobs(ctx: &Ctx) -> usize {
    ctx.jobs.unwrap_or(DEFAULT_JOBS).max(1)
}

/// The remote a command means: the one named, else `origin`, else the
/// only one.
fn pick(repo: &Repo, given: Option<&str>) -> Result<String> {
    if let Some(n) = given {
        repo.remote(n)?;
        return Ok(n.to_string());
    }
    let all = repo.remotes()?;
    if all.contains_key("origin") {
        return Ok("origin".into());
    }
    match all.len() {
        1 => Ok(all.keys().next().cloned().unwrap_or_default()),
        0 => Err(Failure::user(
            "no remote: add one with `folio remote add origin URL`",
        )),
        _ => Err(Failure::user(format!(
            "several remotes and none is origin: name one ({})",
            all.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
    }
}

pub fn remote(ctx: &Ctx, a: &RemoteArgs) -> Result {
    let repo = ctx.repo()?;
    match &a.cmd {
        Some(RemoteCmd::Add {
            name,
            url,
            endpoint,
            region,
            allow_http,
        }) => {
            let lock = repo.lock(ctx.wait)?;
            let url = absolute_url(url, &ctx.cwd);
            repo.add_remote(
                &lock,
                name,
                RemoteSpec {
                    url: url.clone(),
                    endpoint: endpoint.clone(),
                    region: region.clone(),
                    allow_http: *allow_http,
                },
            )?;
            out(&format!("added remote {name} at {url}\n"))
        }
        Some(RemoteCmd::Remove { name }) => {
            let lock = repo.lock(ctx.wait)?;
            repo.remove_remote(&lock, name)?;
            out(&format!(
                "removed remote {name} and its remote-tracking branches\n"
            ))
        }
        Some(RemoteCmd::List { verbose }) => list(&repo, *verbose || a.verbose),
        None => list(&repo, a.verbose),
    }
}

/// A plain relative path becomes absolute, so the setting works from
/// anywhere (a clone's origin, too).
fn absolute_url(url: &str, cwd: &Path) -> String {
    if url.contains("://") || Path::new(url).is_absolute() {
        return url.to_string();
    }
    // Lexically normalised: the folder may not exist until the first push.
    let mut p = PathBuf::new();
    for c in cwd.join(url).components() {
        match c {
            std::path::Component::ParentDir => {
                p.pop();
            }
            std::path::Component::CurDir => {}
            c => p.push(c),
        }
    }
    p.display().to_string()
}

fn list(repo: &Repo, verbose: bool) -> Result {
    let mut text = String::new();
    for (name, spec) in repo.remotes()? {
        if !verbose {
            text.push_str(&format!("{name}\n"));
            continue;
        }
        let mut extra = Vec::new();
        if let Some(e) = &spec.endpoint {
            extra.push(format!("endpoint={e}"));
        }
        if let Some(r) = &spec.region {
            extra.push(format!("region={r}"));
        }
        if spec.allow_http {
            extra.push("allow_http".into());
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        text.push_str(&format!("{name}\t{}{extra}\n", spec.url));
    }
    out(&text)
}

pub(super) fn connect(ctx: &Ctx, repo: &Repo, name: &str) -> Result<Connection> {
    Ok(repo
        .connect(name, &env(), jobs(ctx))?
        .with_clock(super::commit::now()?))
}

pub fn push(ctx: &Ctx, a: &PushArgs) -> Result {
    let repo = ctx.repo()?;
    let name = pick(&repo, a.remote.as_deref())?;
    let mut refs: Vec<(RefKind, String)> = Vec::new();
    if a.all || a.tags {
        let kinds: &[RefKind] = if a.all {
            &[RefKind::Branch, RefKind::Tag]
        } else {
            &[RefKind::Tag]
        };
        for k in kinds {
            for (n, v) in repo.refs().list(*k)? {
                v?;
                refs.push((*k, n));
            }
        }
    } else {
        let branch = match &a.branch {
            Some(b) => b.clone(),
            None => match repo.head()? {
                Head::Branch(b) => b,
                Head::Detached(_) => {
                    return Err(Failure::user(
                        "HEAD is detached: name the branch to push (`folio push origin BRANCH`)",
                    ));
                }
            },
        };
        refs.push((RefKind::Branch, branch));
    }
    let lock = repo.lock(ctx.wait)?;
    let conn = connect(ctx, &repo, &name)?;
    let bar = ctx.progress();
    let r = repo.push(&lock, &conn, &refs, jobs(ctx), &bar)?;
    if a.json {
        out_json(&serde_json::json!({
            "remote": name,
            "updated": r.updated.iter().map(|u| serde_json::json!({
                "kind": u.kind.noun(), "name": u.name,
                "old": u.old.map(|c| c.to_string()), "new": u.new.to_string(),
            })).collect::<Vec<_>>(),
            "up_to_date": r.up_to_date,
            "rejected": r.rejected.iter().map(|(n, why)| serde_json::json!({"name": n, "reason": why})).collect::<Vec<_>>(),
            "objects": r.objects, "bytes": r.bytes, "writes": r.writes,
            "purges": r.purges.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "purged_copies": r.purged_copies,
            "reseals": r.reseals.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "applied_reseals": r.applied_reseals.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        }))?;
    } else {
        let mut text = format!("to {} ({name})\n", conn.describe());
        for u in &r.updated {
            let from = u.old.map_or("(new)".to_string(), |o| o.short(12));
            text.push_str(&format!(
                "  {} {}: {from} -> {}\n",
                u.kind.noun(),
                u.name,
                u.new.short(12)
            ));
        }
        for n in &r.up_to_date {
            text.push_str(&format!("  {n}: up to date\n"));
        }
        for (n, why) in &r.rejected {
            text.push_str(&format!("  {n}: {why}\n"));
        }
        if !r.applied_purges.is_empty() {
            text.push_str(&format!(
                "  applied the remote's {} here first (`folio purge --list`)\n",
                super::count(r.applied_purges.len() as u64, "purge")
            ));
        }
        if !r.purges.is_empty() {
            text.push_str(&format!(
                "  carried {}: {} of purged content deleted from the remote\n",
                super::count(r.purges.len() as u64, "purge"),
                super::count(r.purged_copies, "copy")
            ));
        }
        if !r.applied_reseals.is_empty() {
            text.push_str(&format!(
                "  applied the remote's {} here first (`folio reseal --list`)\n",
                super::count(r.applied_reseals.len() as u64, "reseal")
            ));
        }
        if !r.reseals.is_empty() {
            text.push_str(&format!(
                "  carried {}: the remote's copies replaced by the ones sealed here\n",
                super::count(r.reseals.len() as u64, "reseal")
            ));
        }
        text.push_str(&format!(
            "uploaded {} objects, {} in {} writes\n",
            r.objects,
            fmt_bytes(r.bytes),
            r.writes
        ));
        out(&text)?;
    }
    if r.rejected.is_empty() {
        Ok(())
    } else {
        Err(Failure::user(format!(
            "{} of {} refs rejected: the remote moved; run `folio pull {name}`, then push again",
            r.rejected.len(),
            refs.len()
        )))
    }
}

fn data_mode(no_data: bool, paths: &[String], repo: &Repo, cwd: &Path) -> Result<DataMode> {
    if no_data {
        return Ok(DataMode::None);
    }
    if paths.is_empty() {
        return Ok(DataMode::All);
    }
    let mut out = Vec::new();
    for p in paths {
        out.push(repo.dataset_path(&cwd.join(p))?);
    }
    Ok(DataMode::Paths(out))
}

pub fn fetch(ctx: &Ctx, a: &FetchArgs) -> Result {
    let repo = ctx.repo()?;
    let name = pick(&repo, a.remote.as_deref())?;
    let mode = data_mode(a.no_data, &a.data, &repo, &ctx.cwd)?;
    let lock = repo.lock(ctx.wait)?;
    let conn = connect(ctx, &repo, &name)?;
    let bar = ctx.progress();
    let r = repo.fetch(&lock, &conn, &mode, &bar)?;
    out(&fetch_text(&conn, &r))
}

fn fetch_text(conn: &Connection, r: &folio_core::repo::FetchReport) -> String {
    let mut text = format!("from {} ({})\n", conn.describe(), conn.name);
    for (n, old, new) in &r.updated {
        let from = old.map_or("(new)".to_string(), |o| o.short(12));
        text.push_str(&format!("  {n}: {from} -> {}\n", new.short(12)));
    }
    for n in &r.pruned {
        text.push_str(&format!("  {n}: gone from the remote, removed\n"));
    }
    for t in &r.tags {
        text.push_str(&format!("  new tag {t}\n"));
    }
    if !r.purges.is_empty() {
        text.push_str(&format!(
            "  applied the remote's {} ({}): {} of purged content removed here (`folio purge --list`)\n",
            super::count(r.purges.len() as u64, "purge"),
            r.purges.iter().map(|p| p.short(12)).collect::<Vec<_>>().join(", "),
            super::count(r.purged_copies, "copy")
        ));
    }
    if !r.reseals.is_empty() {
        text.push_str(&format!(
            "  applied the remote's {} ({}): copies here replaced by the remote's sealed ones (`folio reseal --list`)\n",
            super::count(r.reseals.len() as u64, "reseal"),
            r.reseals.iter().map(|p| p.short(12)).collect::<Vec<_>>().join(", ")
        ));
    }
    if r.updated.is_empty()
        && r.pruned.is_empty()
        && r.tags.is_empty()
        && r.purges.is_empty()
        && r.reseals.is_empty()
    {
        text.push_str("  up to date\n");
    }
    text.push_str(&format!(
        "took {} objects, {}",
        r.objects,
        fmt_bytes(r.bytes)
    ));
    if r.deferred > 0 {
        text.push_str(&format!(
            "; {} file contents left on the remote (fetched when needed)",
            r.deferred
        ));
    }
    text.push('\n');
    text
}

pub fn pull(ctx: &Ctx, a: &PullArgs) -> Result {
    let repo = ctx.repo()?;
    let name = pick(&repo, a.remote.as_deref())?;
    let Head::Branch(branch) = repo.head()? else {
        return Err(Failure::user(
            "HEAD is detached: switch to a branch to pull into",
        ));
    };
    let lock = repo.lock(ctx.wait)?;
    let conn = connect(ctx, &repo, &name)?;
    let bar = ctx.progress();
    let r = repo.fetch(&lock, &conn, &DataMode::All, &bar)?;
    let mut text = fetch_text(&conn, &r);
    let tracking = format!("{name}/{branch}");
    let Some(theirs) = repo.refs().get(RefKind::Remote, &tracking)? else {
        text.push_str(&format!(
            "{name} has no branch {branch}: nothing to merge\n"
        ));
        return out(&text);
    };
    if repo.head_commit()?.is_none() {
        repo.checkout(&lock, theirs, Head::Branch(branch.clone()), false, &bar)?;
        repo.refs().set(RefKind::Branch, &branch, theirs)?;
        text.push_str(&format!("{branch} starts at {}\n", theirs.short(12)));
        return out(&text);
    }
    let opts = MergeOptions {
        author: super::commit::author(a.author.as_deref()),
        time: super::commit::now()?,
        message: Some(format!("Merge {tracking} into {branch}")),
        prefer: None,
    };
    match repo.merge(&lock, theirs, &tracking, &opts, &bar)? {
        MergeOutcome::UpToDate => {
            text.push_str(&format!("{branch} is up to date with {tracking}\n"))
        }
        MergeOutcome::FastForward { to } => {
            text.push_str(&format!("fast-forward {branch} to {}\n", to.short(12)))
        }
        MergeOutcome::Merged {
            commit, changed, ..
        } => text.push_str(&format!(
            "merged {tracking} into {branch}: commit {} ({} paths changed)\n",
            commit.short(12),
            changed.len()
        )),
        MergeOutcome::Conflicted { state, .. } => {
            text.push_str(&format!(
                "merging {tracking} into {branch} stopped on {} conflicts: settle them with `folio merge --ours PATH` or `--theirs PATH`, then `folio merge --continue`\n",
                state.conflicts.len()
            ));
            out(&text)?;
            return Err(Failure::silent(super::exit::FIX));
        }
    }
    out(&text)
}

pub fn clone(ctx: &Ctx, a: &CloneArgs) -> Result {
    let url = absolute_url(&a.url, &ctx.cwd);
    Location::parse(&url, &ctx.cwd).map_err(|e| Failure::user(e.to_string()))?;
    let dir = match &a.directory {
        Some(d) => ctx.cwd.join(d),
        None => {
            let last = url.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            if last.is_empty() {
                return Err(Failure::user(
                    "name the folder to clone into: `folio clone URL DIR`",
                ));
            }
            ctx.cwd.join(last)
        }
    };
    let created = !dir.exists();
    if !created && std::fs::read_dir(&dir)?.next().is_some() {
        return Err(Failure::user(format!(
            "{} exists and is not empty: clone into a new folder",
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir)?;
    let res = clone_into(ctx, a, &url, &dir);
    if res.is_err() {
        // Nothing half-made is left behind.
        if created {
            let _ = std::fs::remove_dir_all(&dir);
        } else if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.filter_map(|e| e.ok()) {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
    res
}

fn clone_into(ctx: &Ctx, a: &CloneArgs, url: &str, dir: &Path) -> Result {
    let repo = Repo::init(dir)?;
    ctx.with_identities(&repo)?;
    let lock = repo.lock(ctx.wait)?;
    repo.add_remote(
        &lock,
        "origin",
        RemoteSpec {
            url: url.to_string(),
            endpoint: a.endpoint.clone(),
            region: a.region.clone(),
            allow_http: a.allow_http,
        },
    )?;
    let conn = connect(ctx, &repo, "origin")?;
    let bar = ctx.progress();
    let mode = if a.no_data {
        DataMode::None
    } else {
        DataMode::All
    };
    let r = repo.fetch(&lock, &conn, &mode, &bar)?;
    let mut text = format!("cloned {} into {}\n", conn.describe(), dir.display());
    let branches: Vec<String> = repo
        .refs()
        .list(RefKind::Remote)?
        .into_iter()
        .filter_map(|(n, _)| n.strip_prefix("origin/").map(str::to_string))
        .collect();
    let branch = match &a.branch {
        Some(b) if branches.contains(b) => b.clone(),
        Some(b) => {
            return Err(Failure::user(format!(
                "the remote has no branch {b} (it has: {})",
                branches.join(", ")
            )));
        }
        None if branches.iter().any(|b| b == "main") => "main".into(),
        None => match branches.first() {
            Some(b) => b.clone(),
            None => {
                text.push_str("the remote has no branches yet: an empty repository\n");
                return out(&text);
            }
        },
    };
    let tip = repo
        .refs()
        .get(RefKind::Remote, &format!("origin/{branch}"))?
        .ok_or_else(|| Failure::user("the remote branch vanished"))?;
    repo.refs().set(RefKind::Branch, &branch, tip)?;
    if a.no_data {
        repo.refs().set_head(&Head::Branch(branch.clone()))?;
        text.push_str(&format!(
            "on branch {branch} at {}: history and ledger only ({} file contents left on the remote; `folio checkout {branch}` or `folio fetch --data PATH` takes them)\n",
            tip.short(12),
            r.deferred
        ));
    } else {
        let st = repo
            .checkout(&lock, tip, Head::Branch(branch.clone()), true, &bar)
            .map_err(|e| {
                if e.needs_identity() {
                    Failure::user(format!(
                        "{e}\n(a clone checks out encrypted contents: give FOLIO_IDENTITY and --purpose, or clone with --no-data — history, ledger, audit and lineage need no identity)"
                    ))
                } else {
                    e.into()
                }
            })?;
        text.push_str(&format!(
            "on branch {branch} at {}: {} ({}) taken, {} written\n",
            tip.short(12),
            super::count(r.objects, "object"),
            fmt_bytes(r.bytes),
            super::count(st.written, "file")
        ));
    }
    out(&text)
}

/// Fetches, from the remote that has them, file contents `tips` need
/// under `paths` that this repository lacks (a clone made with
/// --no-data). Says what it took on stderr.
pub fn ensure_contents(ctx: &Ctx, repo: &Repo, tips: &[CommitId], paths: &[String]) -> Result {
    let absent = repo.absent_contents(tips, paths)?;
    if absent.is_empty() {
        return Ok(());
    }
    let ids: Vec<ObjectId> = absent.iter().map(|a| a.0).collect();
    let Some(name) = repo.remote_holding(&ids[0])? else {
        return Err(Failure::user(format!(
            "the contents of {} are not in this repository and no remote is known to hold them; add the remote they came from and run `folio fetch`",
            absent[0].1
        )));
    };
    let conn = connect(ctx, repo, &name)?;
    let bar = ctx.progress();
    let bytes = repo.fetch_objects(&conn, &ids, &bar)?;
    ctx.hint(&format!(
        "fetched {} file contents ({}) from {name}",
        ids.len(),
        fmt_bytes(bytes)
    ));
    Ok(())
}
