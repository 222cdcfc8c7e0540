//! `folio grant`, `folio revoke` and `folio audit --access` (D85).

use super::{Ctx, Failure, Result, fmt_time, out, out_json};
use folio_core::repo::AccessEntry;

#[derive(clap::Args, Debug)]
pub struct GrantArgs {
    /// Who may read encrypted data (as FOLIO_AUTHOR or git names them:
    /// `Name <email>`)
    actor: String,
    /// Until when, YYYY-MM-DD (midnight UTC) or RFC 3339
    #[arg(long, value_name = "DATE")]
    until: String,
    /// Why (recorded)
    #[arg(long)]
    reason: String,
    /// Only encrypted data whose examples are all of this sensitivity
    /// class (repeatable; `unclassified` for examples none was recorded
    /// for); without it, every class
    #[arg(long = "class", value_name = "CLASS")]
    classes: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RevokeArgs {
    /// Whose grant ends now
    actor: String,
    /// Why (recorded)
    #[arg(long)]
    reason: String,
}

/// A date (midnight UTC) or an RFC 3339 time, as seconds; `flag` names it.
pub fn date(s: &str, flag: &str) -> Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .ok_or_else(|| {
            Failure::user(format!(
                "{flag} '{s}' is not a date: write YYYY-MM-DD or an RFC 3339 time"
            ))
        })
}

fn nonempty(what: &str, v: &str, say: &str) -> Result {
    if v.trim().is_empty() {
        return Err(Failure::user(format!("{what} is empty: {say}")));
    }
    Ok(())
}

/// The actor and the reason, both required.
fn who_and_why(actor: &str, reason: &str) -> Result {
    nonempty("the actor", actor, "name who, as `Name <email>`")?;
    nonempty("--reason", reason, "say why (it is recorded)")
}

pub fn grant(ctx: &Ctx, a: &GrantArgs) -> Result {
    who_and_why(&a.actor, &a.reason)?;
    let until = date(&a.until, "--until")?;
    let now = super::commit::now()?;
    if until <= now {
        return Err(Failure::user(format!(
            "--until {} is not in the future: a grant must end after now",
            a.until
        )));
    }
    let mut classes: Vec<String> = a
        .classes
        .iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    classes.sort();
    classes.dedup();
    if let Some(bad) = classes.iter().find(|c| c.is_empty()) {
        return Err(Failure::user(format!(
            "--class '{bad}' is empty: name a sensitivity class (pii, confidential, …)"
        )));
    }
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let e = repo.record_access(
        &lock,
        now,
        &super::commit::author(None),
        "grant",
        &command(),
        &a.reason,
        Some(a.actor.trim()),
        Some(until),
        &[],
        &classes,
    )?;
    ctx.hint(&format!(
        "granted {} reads of {} until {} (access log #{}); once any grant is recorded, reads need one",
        a.actor.trim(),
        if classes.is_empty() {
            "encrypted data".to_string()
        } else {
            format!("encrypted {} data", classes.join(", "))
        },
        fmt_time(until),
        e.seq
    ));
    Ok(())
}

pub fn revoke(ctx: &Ctx, a: &RevokeArgs) -> Result {
    who_and_why(&a.actor, &a.reason)?;
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let entries = repo.access_entries()?;
    if !entries
        .iter()
        .any(|e| e.kind == "grant" && e.grantee.as_deref() == Some(a.actor.trim()))
    {
        return Err(Failure::user(format!(
            "{} holds no grant to revoke (`folio audit --access` lists them)",
            a.actor.trim()
        )));
    }
    let e = repo.record_access(
        &lock,
        super::commit::now()?,
        &super::commit::author(None),
        "revoke",
        &command(),
        &a.reason,
        Some(a.actor.trim()),
        None,
        &[],
        &[],
    )?;
    ctx.hint(&format!(
        "revoked {}'s reads of encrypted data (access log #{})",
        a.actor.trim(),
        e.seq
    ));
    Ok(())
}

fn command() -> String {
    std::iter::once("folio".to_string())
        .chain(std::env::args().skip(1))
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `audit --access`: the access log, from `since` on.
pub fn list(ctx: &Ctx, since: Option<&str>, json: bool) -> Result {
    let since = since.map(|s| date(s, "--since")).transpose()?;
    let repo = ctx.repo()?;
    let entries: Vec<AccessEntry> = repo
        .access_entries()?
        .into_iter()
        .filter(|e| since.is_none_or(|t| e.time >= t))
        .collect();
    if json {
        return out_json(&entries);
    }
    if entries.is_empty() {
        return out("no reads of encrypted data and no grants recorded\n");
    }
    let mut s = String::new();
    for e in &entries {
        let what = match e.kind.as_str() {
            "read" => format!(
                "read {} for {:?}: {}",
                super::count(e.objects.len() as u64, "encrypted object"),
                e.why,
                e.command
            ),
            "grant" => format!(
                "granted {}{} until {}: {}",
                e.grantee.as_deref().unwrap_or("?"),
                if e.classes.is_empty() {
                    String::new()
                } else {
                    format!(" ({} only)", e.classes.join(", "))
                },
                e.until.map(fmt_time).unwrap_or_default(),
                e.why
            ),
            _ => format!("revoked {}: {}", e.grantee.as_deref().unwrap_or("?"), e.why),
        };
        s += &format!(
            "#{:<4} {}  {}  {}\n",
            e.seq,
            fmt_time(e.time),
            e.actor,
            what
        );
    }
    out(&s)
}
