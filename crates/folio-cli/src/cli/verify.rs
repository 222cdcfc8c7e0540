//! `folio verify`.

use super::{Ctx, Failure, Result, fmt_bytes, out, out_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    // Under the write lock, waited for: a writer is never seen half-done.
    let lock = repo.lock(true)?;
    let r = repo.verify(&lock, &ctx.progress())?;
    if a.json {
        out_json(&r)?;
    } else {
        let mut s = String::new();
        for p in &r.problems {
            s += &format!("problem: {}: {}\n", p.file.display(), p.detail);
        }
        s += &format!(
            "checked {}, {}, {} ({}), {}, {}: {}\n",
            super::count(r.commits, "commit"),
            super::count(r.trees, "tree"),
            super::count(r.blobs, "blob"),
            fmt_bytes(r.bytes),
            super::count(r.tables, "table"),
            super::count(r.events, "ledger event"),
            if r.problems.is_empty() {
                "no problems".to_string()
            } else {
                format!("{} problems", r.problems.len())
            }
        );
        if r.sealed > 0 {
            s += &format!(
                "{} encrypted and not opened: found, their age headers checked; to check their contents, set FOLIO_IDENTITY to a recipient's identity and give --purpose\n",
                super::count(r.sealed, "object")
            );
        }
        if r.purged > 0 {
            s += &format!(
                "{} purged on purpose (`folio purge --list`): erased, or stood in for by a redacted row chunk (checked); not damage\n",
                super::count(r.purged, "object")
            );
        }
        if r.not_fetched > 0 {
            s += &format!(
                "{} blobs not fetched: a remote holds them (`folio fetch --data PATH` or a checkout takes them); missing ones are listed as problems\n",
                r.not_fetched
            );
        }
        out(&s)?;
    }
    if r.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::silent(super::exit::DAMAGED))
    }
}
