//! `folio reseal`: encrypt again what is stored — every sealed object to
//! the recipients configured now, and what history holds in the clear that
//! the configuration now says to encrypt (D89).

use super::record::recorder;
use super::{Ctx, Result, fmt_bytes, fmt_time, out, out_json};
use folio_core::repo::{ResealOptions, ResealReport};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Why (a recipient added or removed, a reclassification): recorded in
    /// the reseal record
    #[arg(long, required_unless_present_any = ["list", "dry_run"])]
    reason: Option<String>,
    /// Print what would be sealed, and change nothing
    #[arg(long)]
    dry_run: bool,
    /// Seal only what is stored in the clear (needs no identity); objects
    /// stored sealed keep their recipients
    #[arg(long)]
    clear_only: bool,
    /// List the reseals recorded
    #[arg(long, conflicts_with_all = ["reason", "dry_run", "clear_only"])]
    list: bool,
    /// Who reseals (default: as for commit)
    #[arg(long)]
    author: Option<String>,
    /// Print the report as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    if a.list {
        let list = repo.reseals()?;
        if a.json {
            return out_json(&super::records_json(&list));
        }
        if list.is_empty() {
            return out("no reseals recorded\n");
        }
        let mut s = String::new();
        for (id, r) in &list {
            s += &format!(
                "{}  {}  {}  {} to {}: {}\n",
                id.short(12),
                fmt_time(r.time),
                super::visible(&r.actor),
                super::count((r.resealed.len() + r.sealed.len()) as u64, "object"),
                super::count(r.recipients.len() as u64, "recipient"),
                super::visible(&r.reason)
            );
        }
        return out(&s);
    }
    let lock = repo.lock(ctx.wait)?;
    let who = recorder(a.author.as_deref(), a.dry_run)?;
    let reason = a.reason.as_deref().unwrap_or("(dry run)");
    let opts = ResealOptions {
        clear_only: a.clear_only,
    };
    let report = repo.reseal(&lock, reason, opts, &who)?;
    drop(lock);
    if a.json {
        return out_json(&report);
    }
    out(&text(&report))
}

fn text(r: &ResealReport) -> String {
    let mut s = String::new();
    let verb = if r.dry_run { "would seal" } else { "sealed" };
    if r.resealed + r.sealed == 0 {
        s += "nothing to seal: no object is stored sealed, and nothing stored in the clear is to be encrypted\n";
    } else {
        s += &format!(
            "{}{verb} {} to the {} configured: {} stored sealed again, {} stored in the clear{}\n",
            if r.dry_run { "dry run: " } else { "" },
            super::count(r.resealed + r.sealed, "object"),
            super::count(r.recipients, "recipient"),
            r.resealed,
            r.sealed,
            if r.dry_run {
                String::new()
            } else {
                format!(" ({})", fmt_bytes(r.bytes))
            }
        );
    }
    if !r.sealed_paths.is_empty() {
        s += &format!(
            "files stored in the clear {}:\n",
            if r.dry_run {
                "to be sealed"
            } else {
                "now sealed"
            }
        );
        for p in r.sealed_paths.iter().take(20) {
            s += &format!("  {}\n", super::visible(p));
        }
        if r.sealed_paths.len() > 20 {
            s += &format!(
                "  … and {} more (--json lists all)\n",
                r.sealed_paths.len() - 20
            );
        }
    }
    if let Some(rec) = r.record {
        s += &format!(
            "{} removed ({} rewritten), {} erased; record {} (`folio reseal --list`); `folio push` replaces the remotes' copies\n",
            super::count(r.removed, "old copy"),
            super::count(r.packs_rewritten, "pack"),
            super::count(r.chunks_erased, "plaintext chunk"),
            rec.short(12)
        );
    }
    if !r.tables_in_clear.is_empty() {
        s += &format!(
            "warning: the rows of {} were committed in the clear and stay so (sealing them would change the commits' ids): {}; `folio purge` erases rows that must not stay\n",
            super::count(r.tables_in_clear.len() as u64, "table"),
            r.tables_in_clear
                .iter()
                .map(|t| super::visible(t))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    s
}
