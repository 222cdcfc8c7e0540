//! `folio init`.

use super::{Ctx, Result};
use folio_core::repo::Repo;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(ctx: &Ctx, _: &Args) -> Result {
    std::fs::create_dir_all(&ctx.cwd)?;
    let repo = Repo::init(&ctx.cwd)?;
    // What init says is a hint: -q leaves it out.
    ctx.hint(&format!(
        "Initialised empty folio repository in {}",
        repo.dot_dir().display()
    ));
    Ok(())
}
