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
    /// Collect a remote instead: remove what none of its branches and
    /// tags reach (leftovers of interrupted pushes) once older than
    /// --grace
    #[arg(long, value_name = "NAME")]
    remote: Option<String>,
    /// With --remote: spare what was written within this period, so gc
    /// never races a push in flight; longer than your longest push
    /// (`90m`, `2d`, `1w`; at least 1h)
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = grace, requires = "remote")]
    grace: i64,
}

/// A grace period as seconds.
fn grace(v: &str) -> std::result::Result<i64, String> {
    let d = humantime::parse_duration(v)
        .map_err(|e| format!("{v:?} is not a duration ({e}); write e.g. 90m, 2d or 1w"))?;
    let secs = i64::try_from(d.as_secs()).map_err(|_| format!("{v:?} is too long"))?;
    if secs < folio_core::repo::GC_GRACE_MIN {
        return Err(format!(
            "{v:?} is too short: at least 1h, and longer than your longest push"
        ));
    }
    Ok(secs)
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    if let Some(name) = &a.remote {
        return remote(ctx, a, name);
    }
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

fn remote(ctx: &Ctx, a: &Args, name: &str) -> Result {
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let conn = super::remote::connect(ctx, &repo, name)?;
    let bar = ctx.progress();
    let r = repo.gc_remote(&lock, &conn, a.grace, a.prune, &bar)?;
    if a.json {
        return out_json(&r);
    }
    let verb = if a.prune { "removed" } else { "would remove" };
    let mut s = format!(
        "{}: {} reachable objects; {verb} {} keys ({}) written more than {} ago that nothing reaches\n",
        r.remote,
        r.reachable,
        r.removed.len(),
        fmt_bytes(r.removed_bytes),
        period(r.grace_secs),
    );
    for k in &r.removed {
        s += &format!("  {k}\n");
    }
    if r.kept_recent > 0 {
        s += &format!(
            "kept {} unreachable ({}) written within the grace period: a push may be in flight\n",
            r.kept_recent,
            fmt_bytes(r.kept_recent_bytes)
        );
    }
    if r.kept_mixed > 0 {
        s += &format!(
            "kept {} packs whole that hold reachable objects beside unreachable ones\n",
            r.kept_mixed
        );
    }
    if r.data_unresolved > 0 {
        s += &format!(
            "kept every unreachable file content: {} reachable contents are not fetched here, so their chunks cannot be told apart; run gc from a clone that has them (`folio fetch {name}`)\n",
            r.data_unresolved
        );
    }
    if r.temporaries > 0 {
        s += &format!("{verb} {} leftover temporary files\n", r.temporaries);
    }
    if !a.prune && !r.removed.is_empty() {
        s += &format!("run `folio gc --remote {name} --prune` to delete them\n");
    }
    out(&s)
}

/// A grace period in its largest whole unit (`7 days`, `90 minutes`).
fn period(secs: i64) -> String {
    let (n, unit) = match secs {
        s if s % 86_400 == 0 => (s / 86_400, "day"),
        s if s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    super::count(n as u64, unit)
}
