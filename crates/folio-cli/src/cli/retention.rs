//! `folio retention check`.

use super::{Ctx, Failure, Result, fmt_time, out, out_json};
use folio_core::retention::RetentionReport;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: RetentionCommand,
}

#[derive(clap::Subcommand, Debug)]
enum RetentionCommand {
    /// List the examples due for deletion under [retention]: kept longer
    /// than their source's or dataset's months, or under a licence that
    /// has ended
    Check(CheckArgs),
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// The commit whose ledger is checked (default: HEAD with every event
    /// recorded since)
    #[arg(long)]
    rev: Option<String>,
    /// The date to check at, YYYY-MM-DD or RFC 3339 (default: now, or
    /// FOLIO_NOW)
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// Also list what falls due within this many days after the date
    #[arg(long, value_name = "DAYS", default_value_t = 0)]
    within: u32,
    /// List at most N examples (default 20)
    #[arg(long, value_name = "N", conflicts_with = "all")]
    limit: Option<usize>,
    /// List every example
    #[arg(long)]
    all: bool,
    /// Exit 1 when an example is due by the date (a CI gate)
    #[arg(long)]
    exit_code: bool,
    /// Print the report as JSON (every example, whatever --limit says)
    #[arg(long)]
    json: bool,
    /// Purge the examples due by the date (`folio purge`): their content
    /// erased from every snapshot, with a record and `purged` events
    #[arg(long, conflicts_with = "rev")]
    apply: bool,
    /// With --apply: print what would be purged, and purge nothing
    #[arg(long, requires = "apply")]
    dry_run: bool,
    /// With --apply: why, recorded with the purge (default: the rules
    /// that made the examples due)
    #[arg(long, requires = "apply")]
    reason: Option<String>,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    match &a.command {
        RetentionCommand::Check(c) => check(ctx, c),
    }
}

fn check(ctx: &Ctx, a: &CheckArgs) -> Result {
    let repo = ctx.repo()?;
    let rev = a.rev.as_deref().map(|r| repo.resolve(r)).transpose()?;
    let as_of = match &a.as_of {
        Some(s) => super::access::date(s, "--as-of")?,
        None => super::commit::now()?,
    };
    let config = repo.config()?;
    let r = repo.retention(rev, as_of, a.within)?;
    let rules = config.retention.sources.len()
        + config.retention.datasets.len()
        + config.retention.licenses.len();
    if a.apply && rules == 0 {
        return Err(Failure::user(
            "--apply: no retention rules, so nothing can be due: add [retention] sources, datasets or licenses to .folio/config.toml (docs/GOVERNANCE.md)",
        ));
    }
    if a.apply {
        return apply(ctx, &repo, &r, a);
    }
    let overdue = r.due.iter().any(|i| i.overdue);
    if a.json {
        out_json(&r)?;
    } else {
        let limit = if a.all {
            usize::MAX
        } else {
            a.limit.unwrap_or(20)
        };
        out(&text(&r, rules, limit))?;
    }
    if a.exit_code && overdue {
        return Err(Failure::silent(super::exit::FIX));
    }
    Ok(())
}

fn day(t: i64) -> String {
    fmt_time(t).chars().take(10).collect()
}

fn text(r: &RetentionReport, rules: usize, limit: usize) -> String {
    let mut s = format!(
        "retention of {} at {}\n",
        &r.commit[..12.min(r.commit.len())],
        day(r.as_of)
    );
    if rules == 0 {
        s += "no rules: add [retention] sources, datasets or licenses to .folio/config.toml (docs/GOVERNANCE.md)\n";
        return s;
    }
    let due = r.due.iter().filter(|i| i.overdue).count();
    let upcoming = r.due.len() - due;
    s += &format!(
        "{} known, {} under a rule: {} due",
        super::count(r.examples, "example"),
        r.covered,
        due
    );
    if r.within_days > 0 {
        s += &format!(", {upcoming} more within {} days", r.within_days);
    }
    s += "\n";
    if r.due.is_empty() {
        return s;
    }
    s += "\n";
    for i in r.due.iter().take(limit) {
        let since = match (i.basis, i.since) {
            ("license", _) | (_, None) => String::new(),
            (b, Some(t)) => format!(
                ", {} {}",
                if b == "added" { "added" } else { "collected" },
                day(t)
            ),
        };
        s += &format!(
            "  {}  {:<8} {}{}  ({}{})\n",
            day(i.due),
            if i.overdue { "due" } else { "upcoming" },
            i.locator,
            if i.present {
                ""
            } else {
                " [removed; still in history]"
            },
            i.rule,
            since
        );
    }
    if r.due.len() > limit {
        s += &format!("  … {} more (use --all or --json)\n", r.due.len() - limit);
    }
    s
}

/// `retention check --apply`: purges what is due by the date (D86).
fn apply(ctx: &Ctx, repo: &folio_core::repo::Repo, r: &RetentionReport, a: &CheckArgs) -> Result {
    let due: Vec<&folio_core::retention::RetentionItem> =
        r.due.iter().filter(|i| i.overdue).collect();
    if due.is_empty() {
        return out(&format!(
            "nothing is due at {}: nothing to purge\n",
            day(r.as_of)
        ));
    }
    let mut ids = Vec::new();
    for i in &due {
        ids.push(repo.resolve_example(&i.example)?);
    }
    let mut rules: Vec<&str> = due.iter().map(|i| i.rule.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    let reason = a.reason.clone().unwrap_or_else(|| {
        format!(
            "retention: due by {} under {}",
            day(r.as_of),
            rules.join("; ")
        )
    });
    let lock = repo.lock(ctx.wait)?;
    let who = super::record::recorder(None, a.dry_run)?;
    let report = repo.purge(&lock, &ids, &reason, &who)?;
    drop(lock);
    if a.json {
        return out_json(&report);
    }
    let branch = match repo.head()? {
        folio_core::refs::Head::Branch(b) => b,
        folio_core::refs::Head::Detached(_) => "HEAD".into(),
    };
    out(&format!(
        "{} due at {} ({})\n{}",
        super::count(due.len() as u64, "example"),
        day(r.as_of),
        rules.join("; "),
        super::purge::text(&report, &branch)
    ))
}
