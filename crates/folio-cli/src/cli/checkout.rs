//! `folio checkout` and `folio switch`.

use std::path::PathBuf;

use super::{Ctx, Failure, Result, fmt_bytes, out};
use folio_core::refs::{Head, RefKind};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The commit, branch or tag to materialise
    rev: String,
    /// Write into this new or empty folder instead of the working tree
    #[arg(long, value_name = "DIR")]
    to: Option<PathBuf>,
    /// Overwrite uncommitted changes in the working tree
    #[arg(short, long)]
    force: bool,
    /// Only these files or folders, written into the working tree as they
    /// are in REV; HEAD stays (`folio checkout v1 -- data/cats`). Files
    /// REV lacks under them are left; `folio restore` removes them
    #[arg(last = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct SwitchArgs {
    /// The branch to switch to
    branch: String,
    /// Overwrite uncommitted changes in the working tree
    #[arg(short, long)]
    force: bool,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    let id = repo.resolve(&a.rev)?;
    let bar = ctx.progress();
    if a.to.is_some() && !a.paths.is_empty() {
        return Err(Failure::user(
            "--to writes a whole revision; give paths or --to, not both",
        ));
    }
    if let Some(dir) = &a.to {
        let dir = if dir.is_absolute() {
            dir.clone()
        } else {
            ctx.cwd.join(dir)
        };
        let _lock = repo.lock(ctx.wait)?;
        super::remote::ensure_contents(ctx, &repo, &[id], &[])?;
        drop(_lock);
        let st = repo.checkout_to(id, &dir, &bar)?;
        return out(&format!(
            "wrote {} ({}) of {} into {}\n{}",
            super::count(st.written, "file"),
            fmt_bytes(st.bytes),
            id.0.short(12),
            dir.display(),
            purged_note(&st)
        ));
    }
    let lock = repo.lock(ctx.wait)?;
    if !a.paths.is_empty() {
        let mut paths = Vec::new();
        for p in &a.paths {
            paths.push(repo.dataset_path(&ctx.cwd.join(p))?);
        }
        // Only what these paths need is fetched.
        super::remote::ensure_contents(ctx, &repo, &[id], &paths)?;
        let st = repo.checkout_paths(&lock, id, &paths, a.force, &bar)?;
        return out(&format!(
            "checked out {} from {}: {} written ({}); HEAD unchanged\n{}",
            paths.join(", "),
            id.0.short(12),
            super::count(st.written, "file"),
            fmt_bytes(st.bytes),
            purged_note(&st)
        ));
    }
    // A branch name checks out the branch, and so does HEAD on a branch
    // (`checkout -f HEAD` discards changes and stays on it); anything else
    // detaches HEAD.
    let head = match (repo.refs().get(RefKind::Branch, &a.rev)?, repo.head()?) {
        (Some(_), _) => Head::Branch(a.rev.clone()),
        (None, Head::Branch(b)) if a.rev == "HEAD" => Head::Branch(b),
        _ => Head::Detached(id),
    };
    super::remote::ensure_contents(ctx, &repo, &[id], &[])?;
    let st = repo.checkout(&lock, id, head.clone(), a.force, &bar)?;
    let where_ = match head {
        Head::Branch(b) => format!("branch {b}"),
        Head::Detached(c) => format!("{} (detached HEAD)", c.0.short(12)),
    };
    out(&format!(
        "checked out {where_}: {} written ({}), {} removed\n{}",
        super::count(st.written, "file"),
        fmt_bytes(st.bytes),
        st.removed,
        purged_note(&st)
    ))
}

pub fn switch(ctx: &Ctx, a: &SwitchArgs) -> Result {
    let repo = ctx.repo()?;
    let Some(id) = repo.refs().get(RefKind::Branch, &a.branch)? else {
        return Err(Failure::user(format!(
            "no branch named '{}': create it with `folio branch {}`",
            a.branch, a.branch
        )));
    };
    let lock = repo.lock(ctx.wait)?;
    super::remote::ensure_contents(ctx, &repo, &[id], &[])?;
    let st = repo.checkout(
        &lock,
        id,
        Head::Branch(a.branch.clone()),
        a.force,
        &ctx.progress(),
    )?;
    out(&format!(
        "switched to branch {}: {} written, {} removed\n{}",
        a.branch,
        super::count(st.written, "file"),
        st.removed,
        purged_note(&st)
    ))
}

/// What a checkout could not write as it was: files a purge erased, and
/// tables written again from the rows a purge kept (D86).
fn purged_note(st: &folio_core::repo::CheckoutStats) -> String {
    let mut s = String::new();
    if !st.purged.is_empty() {
        s += &format!(
            "{} purged, not written: {} (`folio purge --list` says why)\n",
            super::count(st.purged.len() as u64, "file"),
            st.purged.join(", ")
        );
    }
    if !st.rebuilt.is_empty() {
        s += &format!(
            "rows were purged from {}: written from the rows kept, in row order (they differ from the committed file)\n",
            st.rebuilt.join(", ")
        );
    }
    s
}
