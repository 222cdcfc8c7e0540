//! `folio reindex`.

use super::{Ctx, Result, out};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(ctx: &Ctx, _: &Args) -> Result {
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let (files, batches) = repo.reindex(&lock, &ctx.progress())?;
    out(&format!(
        "rebuilt the index: {files} files in the stat cache, {batches} ledger event batches\n"
    ))
}
