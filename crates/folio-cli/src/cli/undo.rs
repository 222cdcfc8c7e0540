//! `folio restore` and `folio reset`.

use std::path::PathBuf;

use super::{Ctx, Result, out};

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// Files or folders inside datasets to restore
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The commit to restore them from (default HEAD)
    #[arg(long, short, value_name = "REV", default_value = "HEAD")]
    source: String,
}

#[derive(clap::Args, Debug)]
pub struct ResetArgs {
    /// Where the current branch moves
    rev: String,
    /// Also make the working tree match it (discards uncommitted changes)
    #[arg(long)]
    hard: bool,
}

pub fn restore(ctx: &Ctx, a: &RestoreArgs) -> Result {
    let repo = ctx.repo()?;
    let source = repo.resolve(&a.source)?;
    let lock = repo.lock(ctx.wait)?;
    let mut paths = Vec::new();
    for p in &a.paths {
        paths.push(repo.dataset_path(&ctx.cwd.join(p))?);
    }
    // Contents a partial clone has not fetched come from the remote.
    super::remote::ensure_contents(ctx, &repo, &[source], &paths)?;
    let st = repo.restore(&lock, &paths, source, &ctx.progress())?;
    out(&format!(
        "restored from {}: {} written back, {} removed\n",
        source.short(12),
        super::count(st.written, "file"),
        st.removed
    ))
}

pub fn reset(ctx: &Ctx, a: &ResetArgs) -> Result {
    let repo = ctx.repo()?;
    let target = repo.resolve(&a.rev)?;
    let lock = repo.lock(ctx.wait)?;
    let was = repo.reset(&lock, target, a.hard, &ctx.progress())?;
    out(&format!(
        "branch moved to {} (was {}){}\n",
        target.short(12),
        was.map_or("nothing".into(), |w| w.short(12)),
        if a.hard {
            "; the working tree matches it"
        } else {
            "; the working tree is unchanged (`folio status` shows the difference)"
        }
    ))
}

#[derive(clap::Args, Debug)]
pub struct RevertArgs {
    /// The commit to undo
    rev: String,
    /// The message (default: Revert "MESSAGE")
    #[arg(short, long)]
    message: Option<String>,
    /// The author (default $FOLIO_AUTHOR, else user@host)
    #[arg(long)]
    author: Option<String>,
}

pub fn revert(ctx: &Ctx, a: &RevertArgs) -> Result {
    let repo = ctx.repo()?;
    let rev = repo.resolve(&a.rev)?;
    let lock = repo.lock(ctx.wait)?;
    let opts = folio_core::repo::MergeOptions {
        author: super::commit::author(a.author.as_deref()),
        time: super::commit::now()?,
        message: a.message.clone(),
        prefer: None,
    };
    let res = repo.revert(&lock, rev, &opts, &ctx.progress())?;
    let id = res.commit.expect("a revert always commits");
    out(&format!(
        "reverted {}: commit {} ({} ledger events: the undo and the voids of {}'s own)\n",
        rev.short(12),
        id.short(12),
        res.events,
        rev.short(12)
    ))
}
