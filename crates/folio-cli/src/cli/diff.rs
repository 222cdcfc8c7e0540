//! `folio diff`.

use std::path::PathBuf;

use super::{Ctx, Failure, Result, out, out_json};
use folio_core::repo::{Diff, DiffOptions, DiffSide, RepoError, RowReport};
use folio_core::table::manifest::{RowChangeKind, SchemaChange};

/// Rows and paths shown per section when no --limit is given.
const DEFAULT_LIMIT: usize = 20;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// [REV_A [REV_B]] [PATH...]: no revision compares HEAD with the
    /// working tree, one compares it with the working tree, two compare them
    args: Vec<String>,
    /// Paths to compare (after --)
    #[arg(last = true)]
    paths: Vec<PathBuf>,
    /// Counts only
    #[arg(long)]
    stat: bool,
    /// Print everything as JSON (every changed row unless --limit is given)
    #[arg(long)]
    json: bool,
    /// Exit with 1 when there are differences
    #[arg(long)]
    exit_code: bool,
    /// Show at most N paths and N rows per table (default 20)
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    // Options written after `--` (`diff -- data --limit 5`) are options,
    // not paths.
    let mut parsed = Args {
        paths: Vec::new(),
        ..a.clone()
    };
    let mut rest = a.paths.iter();
    while let Some(p) = rest.next() {
        match p.to_str() {
            Some("--stat") => parsed.stat = true,
            Some("--json") => parsed.json = true,
            Some("--exit-code") => parsed.exit_code = true,
            Some("--limit") => {
                let n = rest
                    .next()
                    .and_then(|n| n.to_str()?.parse().ok())
                    .ok_or_else(|| {
                        Failure::user("--limit needs a number of paths and rows, e.g. --limit 50")
                    })?;
                parsed.limit = Some(n);
            }
            Some(flag) if flag.starts_with("--limit=") => {
                let n = flag["--limit=".len()..].parse().map_err(|_| {
                    Failure::user("--limit needs a number of paths and rows, e.g. --limit=50")
                })?;
                parsed.limit = Some(n);
            }
            _ => parsed.paths.push(p.clone()),
        }
    }
    let a = &parsed;
    let repo = ctx.repo()?;
    if let Some(m) = repo.merge_state()? {
        ctx.hint(&format!(
            "a merge of {} is in progress: the working tree holds its result, with ours where {} paths conflict (`folio status` lists them)",
            super::visible(&m.theirs_name),
            m.conflicts.len()
        ));
    }
    let mut revs = Vec::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    for arg in &a.args {
        if paths.is_empty() && revs.len() < 2 {
            match repo.resolve(arg) {
                Ok(id) => {
                    revs.push(id);
                    continue;
                }
                Err(e @ (RepoError::UnknownRevision(_) | RepoError::NoCommits)) => {
                    let p = ctx.cwd.join(arg);
                    if std::fs::symlink_metadata(&p).is_err() {
                        return Err(Failure::user(format!(
                            "{e}\n(to compare a path that no longer exists, put it after --: folio diff REV -- PATH)"
                        )));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        paths.push(ctx.cwd.join(arg));
    }
    paths.extend(a.paths.iter().map(|p| ctx.cwd.join(p)));
    let (from, to) = match revs.as_slice() {
        [] => (DiffSide::Commit(repo.resolve("HEAD")?), DiffSide::WorkTree),
        [x] => (DiffSide::Commit(*x), DiffSide::WorkTree),
        [x, y] => (DiffSide::Commit(*x), DiffSide::Commit(*y)),
        _ => unreachable!("at most two revisions are taken"),
    };
    let opts = DiffOptions {
        paths: paths
            .iter()
            .map(|p| repo.dataset_path(p))
            .collect::<std::result::Result<_, _>>()?,
        limit: if a.json {
            a.limit
        } else {
            Some(a.limit.unwrap_or(DEFAULT_LIMIT))
        },
        tables: Default::default(),
    };
    // A path neither side has is a typo, not "no differences".
    for p in &opts.paths {
        let held = |side: &DiffSide| -> Result<bool> {
            Ok(match side {
                DiffSide::Commit(id) => repo.path_at(*id, p)?.is_some(),
                DiffSide::WorkTree => std::fs::symlink_metadata(repo.abs(p)).is_ok(),
            })
        };
        if !held(&from)? && !held(&to)? {
            return Err(Failure::user(format!(
                "{p} is in neither {} nor {}: check the path (`folio show` lists datasets)",
                from.short(),
                to.short()
            )));
        }
    }
    let d = repo.diff(from, to, &opts, &ctx.progress())?;
    if a.json {
        out_json(&d)?;
    } else {
        out(&render(&d, a.stat, a.limit.unwrap_or(DEFAULT_LIMIT)))?;
    }
    if a.exit_code && !d.is_empty() {
        return Err(Failure::silent(super::exit::FIX));
    }
    Ok(())
}

fn list(s: &mut String, tag: &str, items: &[String], limit: usize) {
    for p in items.iter().take(limit) {
        s.push_str(&format!("  {tag:<9} {p}\n"));
    }
    if items.len() > limit {
        s.push_str(&format!(
            "  … {} more {tag} (use --limit N or --json)\n",
            items.len() - limit
        ));
    }
}

/// The human form of a diff.
pub fn render(d: &Diff, stat: bool, limit: usize) -> String {
    let mut s = format!("diff {} → {}\n", d.from.short(), d.to.short());
    if d.is_empty() {
        s += "no differences\n";
        return s;
    }
    let f = &d.files;
    s += &format!(
        "files: {} added, {} removed, {} modified, {} renamed\n",
        f.added.len(),
        f.removed.len(),
        f.modified.len(),
        f.renamed.len()
    );
    if !stat {
        list(&mut s, "added", &f.added, limit);
        list(&mut s, "removed", &f.removed, limit);
        list(&mut s, "modified", &f.modified, limit);
        let renames: Vec<String> = f
            .renamed
            .iter()
            .map(|r| format!("{} → {}", r.from, r.to))
            .collect();
        list(&mut s, "renamed", &renames, limit);
    }
    for t in &d.tables {
        let key = super::describe_key(&t.key);
        s += &format!(
            "\ntable {} ({}, {key}): {} added, {} removed, {} modified\n",
            t.path,
            t.status,
            super::count(t.rows_added, "row"),
            t.rows_removed,
            t.rows_modified
        );
        if let Some(n) = &t.note {
            s += &format!("  note: {n}\n");
        }
        for c in &t.schema {
            s += &format!("  schema: {}\n", schema_line(c));
        }
        if stat {
            continue;
        }
        for r in &t.rows {
            s += &row_line(r, &t.columns);
        }
        if t.omitted > 0 {
            s += &format!(
                "  … {} more changed rows (use --limit N or --json)\n",
                t.omitted
            );
        }
    }
    s
}

fn schema_line(c: &SchemaChange) -> String {
    match c {
        SchemaChange::ColumnAdded { column, ty } => format!("column '{column}' added ({ty})"),
        SchemaChange::ColumnRemoved { column, ty } => {
            format!("column '{column}' removed (was {ty})")
        }
        SchemaChange::TypeChanged { column, old, new } => {
            format!("column '{column}' changed type: {old} → {new}")
        }
    }
}

/// Position of a column in the table's file order (unknown ones last).
fn position(columns: &[String], name: &str) -> usize {
    columns.iter().position(|c| c == name).unwrap_or(usize::MAX)
}

/// Text wider than this wraps onto indented continuation lines.
const WRAP: usize = 100;

/// `parts` joined by `sep`, wrapped at [`WRAP`] characters between parts
/// (never inside one), continuation lines indented by `indent` spaces.
fn wrapped(parts: &[String], sep: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut width = 0;
    for (i, p) in parts.iter().enumerate() {
        let w = p.chars().count();
        if i > 0 {
            if width + sep.len() + w > WRAP {
                out.push_str(sep.trim_end());
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                width = 0;
            } else {
                out.push_str(sep);
                width += sep.len();
            }
        }
        out.push_str(p);
        width += w;
    }
    out
}

fn row_line(r: &RowReport, columns: &[String]) -> String {
    let mark = match r.change {
        RowChangeKind::Added => '+',
        RowChangeKind::Removed => '-',
        RowChangeKind::Modified => '~',
    };
    let who = r
        .key
        .as_deref()
        .map(|k| format!("{k}  "))
        .unwrap_or_default();
    let times = if r.count > 1 {
        format!(" (×{})", r.count)
    } else {
        String::new()
    };
    let hash_cell = folio_core::table::manifest::SKELETON_HASH_CELL;
    let purged_change = r.cells.iter().find(|c| c.column == hash_cell);
    let body = if let Some(c) = purged_change {
        // Both versions purged (D86): only their hashes remain.
        let short = |x: &Option<String>| {
            x.as_deref()
                .map_or("-".to_string(), |t| t.chars().take(12).collect())
        };
        format!("(purged; row hash {} → {})", short(&c.old), short(&c.new))
    } else if r.change == RowChangeKind::Modified {
        let mut cells: Vec<_> = r.cells.iter().collect();
        cells.sort_by_key(|c| position(columns, &c.column));
        let parts: Vec<String> = cells
            .iter()
            .map(|c| {
                let v = |x: &Option<String>| -> String {
                    x.as_deref()
                        .map_or("null".into(), |t| super::visible(t).into_owned())
                };
                format!(
                    "{}: {} → {}",
                    super::visible(&c.column),
                    v(&c.old),
                    v(&c.new)
                )
            })
            .collect();
        wrapped(&parts, "; ", 6)
    } else if let Some(hash) = r
        .row
        .as_ref()
        .and_then(|row| row.get(folio_core::table::manifest::SKELETON_HASH_CELL))
    {
        // A purged row (D86): its values are gone, its hash is not.
        format!("(purged; row hash {})", &hash[..12.min(hash.len())])
    } else {
        let row = r.row.clone().unwrap_or_default();
        let mut cells: Vec<(&String, &String)> = row.iter().collect();
        cells.sort_by_key(|(k, _)| position(columns, k));
        let parts: Vec<String> = cells
            .iter()
            .map(|(k, v)| format!("{}={}", super::visible(k), super::visible(v)))
            .collect();
        format!("{{{}}}", wrapped(&parts, ", ", 6))
    };
    format!("  {mark} {who}{body}{times}\n")
}
