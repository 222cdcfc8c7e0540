//! `folio init`.

use super::{Ctx, Result, out};
use folio_core::repo::Repo;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(ctx: &Ctx, _: &Args) -> Result {
    std::fs::create_dir_all(&ctx.cwd)?;
    let repo = Repo::init(&ctx.cwd)?;
    out(&format!(
        "Initialised empty folio repository in {}\n",
        repo.dot_dir().display()
    ))
}
