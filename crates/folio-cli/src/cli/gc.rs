//! `folio gc`.

use super::{Ctx, Result, fmt_bytes, out, out_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Delete the unreachable objects (default: only report them)
    #[arg(long)]
    prune: bool,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let r = repo.gc(&lock, a.prune, super::commit::now()?)?;
    if a.json {
        return out_json(&r);
    }
    let verb = if a.prune { "removed" } else { "would remove" };
    let mut s = format!(
        "{} reachable objects; {verb} {} unreachable ({})\n",
        r.reachable,
        r.unreachable,
        fmt_bytes(r.unreachable_bytes)
    );
    if a.prune && r.stale_files > 0 {
        s += &format!("removed {} leftover temporary files\n", r.stale_files);
    }
    if !a.prune && r.unreachable > 0 {
        s += "run `folio gc --prune` to delete them\n";
    }
    out(&s)
}
