//! `folio commit`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Ctx, Failure, Result, fmt_bytes, out, out_json};
use folio_core::id::CommitId;
use folio_core::repo::{CommitOptions, CommitOutcome, Meta, TableOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Datasets to snapshot (folders or files); default: every tracked one
    paths: Vec<PathBuf>,
    /// The commit message
    #[arg(short, long)]
    message: String,
    /// Author (default: $FOLIO_AUTHOR, then git's user.name and user.email)
    #[arg(long)]
    author: Option<String>,
    /// Record a commit even if nothing changed
    #[arg(long)]
    allow_empty: bool,
    /// Key column(s): TABLE=COLUMN[,COLUMN] for one table (repeatable), or
    /// COLUMN[,COLUMN] when the commit reads a single table
    #[arg(long, value_delimiter = ',', value_name = "[TABLE=]COLUMN")]
    key: Vec<String>,
    /// Commit the good rows of tables and record every rejected line
    #[arg(long)]
    lenient: bool,
    /// Where the examples this commit adds come from (URI), for the ledger
    #[arg(long, value_name = "URI")]
    source: Option<String>,
    /// Label of every example this commit adds
    #[arg(long)]
    label: Option<String>,
    /// Who labelled the examples this commit adds
    #[arg(long)]
    annotator: Option<String>,
    /// Their label confidence, 0 to 1
    #[arg(long, allow_hyphen_values = true)]
    confidence: Option<String>,
    /// The cost of each example this commit adds (decimal, in --currency)
    #[arg(long, allow_hyphen_values = true)]
    cost: Option<String>,
    /// When the examples this commit adds were collected (YYYY-MM-DD or RFC 3339)
    #[arg(long, value_name = "TIME")]
    collected_at: Option<String>,
    /// The labelling cost of each example this commit adds (decimal, in --currency)
    #[arg(long, allow_hyphen_values = true)]
    labelling_cost: Option<String>,
    /// Who was paid for the examples this commit adds
    #[arg(long)]
    vendor: Option<String>,
    /// ISO 4217 currency of --cost and --labelling-cost
    #[arg(long)]
    currency: Option<String>,
    /// License of the examples this commit adds (--licence also works)
    #[arg(long, visible_alias = "licence")]
    license: Option<String>,
    /// Sensitivity of the examples this commit adds: public, internal,
    /// confidential, pii (or the classes configured in [ledger] sensitivities)
    #[arg(long)]
    sensitivity: Option<String>,
    /// Per-example metadata: a CSV/TSV/JSONL file with a column `example`
    /// (file path or TABLE:KEY) and any of source, label, annotator,
    /// confidence, cost, currency, license, sensitivity
    #[arg(long, value_name = "FILE")]
    meta: Option<PathBuf>,
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    if a.message.trim().is_empty() {
        return Err(Failure::user(
            "the commit message is empty: give one with -m",
        ));
    }
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let opts = options(ctx, a)?;
    let bar = ctx.progress();
    let res = repo.commit(&lock, &opts, &bar)?;
    for s in &res.skipped {
        ctx.hint(&format!(
            "warning: skipped {s}: not a file, folder or symlink"
        ));
    }
    for t in &res.tables {
        for (line, reason) in &t.rejected {
            ctx.hint(&format!("warning: {}:{line}: rejected: {reason}", t.path));
        }
    }
    if a.json {
        return out_json(&json(&res));
    }
    match res.commit {
        // -q: the result alone, the new commit's id (for scripts).
        Some(id) if ctx.quiet => out(&format!("{id}\n")),
        Some(id) => out(&text(&res, id, &a.message)),
        None => out(
            "nothing to commit: the tracked datasets match HEAD (use --allow-empty to commit anyway)\n",
        ),
    }
}

/// Key columns by table path.
type TableKeys = BTreeMap<String, Vec<String>>;

/// `--key` values: `TABLE=COLUMN` starts a table's key (the columns after
/// it, up to the next `TABLE=`, complete a composite key); plain columns
/// before any `TABLE=` form the key of the one table read.
fn parse_keys(values: &[String]) -> Result<(Vec<String>, TableKeys)> {
    let mut bare = Vec::new();
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for v in values {
        match v.split_once('=') {
            Some((table, column)) => {
                let table = table.trim().trim_start_matches("./").trim_matches('/');
                if table.is_empty() || column.trim().is_empty() {
                    return Err(Failure::user(format!(
                        "--key {v}: write TABLE=COLUMN, e.g. --key labels.csv=id"
                    )));
                }
                tables
                    .entry(table.to_string())
                    .or_default()
                    .push(column.trim().to_string());
                current = Some(table.to_string());
            }
            None => match &current {
                Some(t) => tables
                    .entry(t.clone())
                    .or_default()
                    .push(v.trim().to_string()),
                None => bare.push(v.trim().to_string()),
            },
        }
    }
    Ok((bare, tables))
}

/// The library's options from the flags.
fn options(ctx: &Ctx, a: &Args) -> Result<CommitOptions> {
    let abs = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            ctx.cwd.join(p)
        }
    };
    let (bare_key, table_keys) = parse_keys(&a.key)?;
    Ok(CommitOptions {
        paths: a.paths.iter().map(abs).collect(),
        message: a.message.clone(),
        author: author(a.author.as_deref()),
        time: now()?,
        allow_empty: a.allow_empty,
        tables: TableOptions {
            key: bare_key,
            keys: table_keys,
            lenient: a.lenient,
        },
        source: a.source.clone(),
        meta: Meta {
            source: None,
            collected_at: a.collected_at.clone(),
            label: a.label.clone(),
            annotator: a.annotator.clone(),
            confidence: a.confidence.clone(),
            cost: a.cost.clone(),
            labelling_cost: a.labelling_cost.clone(),
            vendor: a.vendor.clone(),
            currency: a.currency.clone(),
            license: a.license.clone(),
            sensitivity: a.sensitivity.clone(),
        },
        meta_file: a.meta.as_ref().map(abs),
    })
}

fn json(res: &CommitOutcome) -> serde_json::Value {
    let changes: serde_json::Map<String, serde_json::Value> = res
        .changes
        .iter()
        .map(|(p, c)| (p.clone(), serde_json::to_value(c).unwrap_or_default()))
        .collect();
    serde_json::json!({
        "commit": res.commit,
        "changes": changes,
        "hashed_files": res.stats.hashed_files,
        "hashed_bytes": res.stats.hashed_bytes,
        "cached_files": res.stats.cached_files,
        "skipped": res.skipped,
        "tables": res.tables,
        "ledger_events": res.events,
    })
}

fn text(res: &CommitOutcome, id: CommitId, message: &str) -> String {
    let mut s = format!(
        "committed {}  {}\n",
        id.short(12),
        message.lines().next().unwrap_or("")
    );
    for (path, ch) in &res.changes {
        s += &format!(
            "  {path}: {} added, {} modified, {} deleted\n",
            ch.added.len(),
            ch.modified.len(),
            ch.deleted.len()
        );
    }
    for t in res.tables.iter().filter(|t| t.parsed) {
        let key = super::describe_key(&t.key);
        s += &format!(
            "  table {}: {}, {}, {key}",
            t.path,
            super::count(t.rows, "row"),
            super::count(t.columns as u64, "column")
        );
        if let Some(d) = &t.links {
            s += &format!(", its rows describe files of {d}");
        }
        if !t.rejected.is_empty() {
            s += &format!(", {} lines rejected (see `folio show`)", t.rejected.len());
        }
        s += "\n";
    }
    if res.events > 0 {
        let n = res.events;
        let plural = if n == 1 { "" } else { "s" };
        s += &format!("  ledger: {n} event{plural} recorded");
        if res.tables.iter().any(|t| t.parsed && t.links.is_none()) {
            // D58: a changed table's rows are one event naming its manifests.
            s += " (a changed table's rows: one event that names its row manifests)";
        }
        s += "\n";
    }
    s += &format!(
        "  hashed {} ({}), {} unchanged from the stat cache\n",
        super::count(res.stats.hashed_files, "file"),
        fmt_bytes(res.stats.hashed_bytes),
        res.stats.cached_files
    );
    s
}

/// The author: flag, then `FOLIO_AUTHOR`, then git's configuration, then
/// the login name.
pub(super) fn author(flag: Option<&str>) -> String {
    if let Some(a) = flag.filter(|a| !a.trim().is_empty()) {
        return a.to_string();
    }
    if let Ok(a) = std::env::var("FOLIO_AUTHOR")
        && !a.trim().is_empty()
    {
        return a;
    }
    let git = |key: &str| {
        std::process::Command::new("git")
            .args(["config", "--get", key])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    match (git("user.name"), git("user.email")) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (Some(n), None) => n,
        _ => std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
    }
}

/// Now, or `FOLIO_NOW` (RFC 3339 or Unix seconds) when set.
pub(super) fn now() -> Result<i64> {
    match std::env::var("FOLIO_NOW") {
        Ok(v) => parse_time(&v).ok_or_else(|| {
            Failure::user(format!(
                "FOLIO_NOW={v:?} is not a time: use RFC 3339 (2026-01-31T12:00:00Z) or Unix seconds"
            ))
        }),
        Err(_) => Ok(chrono::Utc::now().timestamp()),
    }
}

fn parse_time(v: &str) -> Option<i64> {
    v.trim().parse::<i64>().ok().or_else(|| {
        chrono::DateTime::parse_from_rfc3339(v.trim())
            .ok()
            .map(|d| d.timestamp())
    })
}
