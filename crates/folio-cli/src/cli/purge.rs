//! `folio purge`: erase examples' content from every snapshot, with a
//! record and a proof (D86).

use super::record::{FilterArgs, recorder};
use super::{Ctx, Failure, Result, fmt_time, out, out_json};
use folio_core::repo::{PurgeCheck, PurgeReport};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Examples to purge: an example id (or unique prefix), a file path,
    /// or TABLE:KEY for a row; or select with --where-… filters (present
    /// and removed examples alike)
    selectors: Vec<String>,
    /// Read more selectors from FILE, one a line (blank lines and lines
    /// starting with `#` skipped): a request's list of examples
    #[arg(long, value_name = "FILE")]
    from: Option<std::path::PathBuf>,
    #[command(flatten)]
    filters: FilterArgs,
    /// Why (the request or ticket it answers): recorded in the ledger and
    /// the purge record
    #[arg(long, required_unless_present_any = ["verify", "list", "dry_run"])]
    reason: Option<String>,
    /// Print what would be erased, and erase nothing
    #[arg(long)]
    dry_run: bool,
    /// Prove the selected examples' content gone: no snapshot, stored
    /// object, pack, cache or working-tree file holds it (exit 1 if one does)
    #[arg(long, conflicts_with_all = ["reason", "dry_run", "list"])]
    verify: bool,
    /// List the purges recorded
    #[arg(long, conflicts_with_all = ["reason", "dry_run"])]
    list: bool,
    /// Who purges (default: as for commit)
    #[arg(long)]
    author: Option<String>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    if a.list {
        let purges = repo.purges()?;
        if a.json {
            return out_json(&super::records_json(&purges));
        }
        if purges.is_empty() {
            return out("no purges recorded\n");
        }
        let mut s = String::new();
        for (id, r) in &purges {
            s += &format!(
                "{}  {}  {}  {}: {}\n",
                id.short(12),
                fmt_time(r.time),
                super::visible(&r.actor),
                super::count(r.examples.len() as u64, "example"),
                super::visible(&r.reason)
            );
        }
        return out(&s);
    }
    let mut selectors = a.selectors.clone();
    if let Some(file) = &a.from {
        let path = ctx.cwd.join(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::user(format!("--from {}: {e}", path.display())))?;
        selectors.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    let lock = repo.lock(ctx.wait)?;
    let examples = repo.purge_selection(&selectors, &a.filters.filter())?;
    if a.verify {
        let check = repo.purge_check(&examples)?;
        if a.json {
            out_json(&check)?;
        } else {
            out(&check_text(&check))?;
        }
        return if check.holders.is_empty() {
            Ok(())
        } else {
            Err(Failure::silent(super::exit::FIX))
        };
    }
    let who = recorder(a.author.as_deref(), a.dry_run)?;
    let reason = a.reason.as_deref().unwrap_or("(dry run)");
    let report = repo.purge(&lock, &examples, reason, &who)?;
    drop(lock);
    if a.json {
        return out_json(&report);
    }
    let branch = match repo.head()? {
        folio_core::refs::Head::Branch(b) => b,
        folio_core::refs::Head::Detached(_) => "HEAD".into(),
    };
    out(&text(&report, &branch))
}

fn check_text(c: &PurgeCheck) -> String {
    let records: Vec<String> = c.records.iter().map(|r| r.short(12)).collect();
    let mut s = String::new();
    if c.holders.is_empty() {
        s += &format!(
            "purge verified: {} by {} ({}); {} erased absent from every pack and object folder; no snapshot, cache or working-tree file holds their content\n",
            super::count(c.examples, "example"),
            super::count(c.records.len() as u64, "purge record"),
            if records.is_empty() {
                "-".to_string()
            } else {
                records.join(", ")
            },
            super::count(c.objects, "object"),
        );
        return s;
    }
    s += &format!(
        "NOT purged: {} still held for {}:\n",
        super::count(c.holders.len() as u64, "copy"),
        super::count(c.examples, "example")
    );
    for h in &c.holders {
        s += &format!("  {}\n", super::visible(h));
    }
    s += "run `folio purge` on them again (or `folio gc --prune` for leftover copies)\n";
    s
}

pub(super) fn text(r: &PurgeReport, branch: &str) -> String {
    let files = r.examples.iter().filter(|e| e.kind == "file").count() as u64;
    let rows = r.examples.len() as u64 - files;
    let mut s = format!(
        "{} {} ({}, {}) from {}{}\n",
        if r.dry_run {
            "dry run: would purge"
        } else {
            "purged"
        },
        super::count(r.examples.len() as u64, "example"),
        super::count(files, "file"),
        super::count(rows, "row"),
        super::count(r.commits, "commit"),
        r.record
            .map(|id| format!(" — purge record {}", id.short(12)))
            .unwrap_or_default()
    );
    for e in &r.examples {
        s += &format!("  {}\n", super::visible(&e.locator));
    }
    s += &format!(
        "{} {} and {}{}; {} redacted ({})\n",
        if r.dry_run { "would erase" } else { "erased" },
        super::count(r.files, "file version"),
        super::count(r.table_files, "table file version"),
        if r.tables.is_empty() {
            String::new()
        } else {
            format!(
                " ({}: checkout writes them again from the rows kept)",
                r.tables.join(", ")
            )
        },
        super::count(r.chunks, "row chunk"),
        super::count(r.rows, "row version")
    );
    if !r.not_held.is_empty() {
        s += &format!(
            "{} selected but held by no snapshot (purged before, or never committed)\n",
            super::count(r.not_held.len() as u64, "example")
        );
    }
    if r.dry_run {
        s += "nothing was purged\n";
    } else {
        s += &format!(
            "removed {}, rewrote {}, cleared {}; recorded {} (pending on {branch} until its next commit)\n",
            super::count(r.removed, "stored copy"),
            super::count(r.packs_rewritten, "pack"),
            super::count(r.caches_cleared, "cached profile"),
            super::count(r.examples.len() as u64, "`purged` event"),
        );
    }
    if !r.working_tree.is_empty() {
        s += &format!(
            "the working tree still holds purged content: {} — `folio restore PATH` writes it without (a table from its rows kept), or delete it\n",
            r.working_tree.join(", ")
        );
    }
    s
}
