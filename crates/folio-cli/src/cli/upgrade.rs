//! `folio upgrade`.

use folio_core::repo::Repo;

use super::{Ctx, Result, out};

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(ctx: &Ctx, _: &Args) -> Result {
    let repo = Repo::discover_any(&ctx.cwd)?;
    let lock = repo.lock(ctx.wait)?;
    let r = repo.upgrade(&lock)?;
    if !r.converted {
        return out("the repository is already in the current format (2); nothing to do\n");
    }
    let mut text = format!(
        "converted to format 2: {} rewritten, {} carried over ({} pending on the current branch)\n",
        super::count(r.commits, "commit"),
        super::count(r.events, "ledger event"),
        r.pending
    );
    text.push_str("commit ids changed (old -> new, also in .folio/upgrade-map):\n");
    for (o, n) in &r.map {
        text.push_str(&format!("  {} -> {}\n", o.short(12), n.short(12)));
    }
    text.push_str("the format-1 ledger is kept in .folio/ledger-v1/\n");
    out(&text)
}
