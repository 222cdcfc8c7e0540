//! `folio status`.

use super::{Ctx, Result, out, out_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the result as JSON (every path)
    #[arg(long)]
    json: bool,
    /// List at most N paths per dataset and section (default 20)
    #[arg(long, value_name = "N", conflicts_with = "all")]
    limit: Option<usize>,
    /// List every path
    #[arg(long)]
    all: bool,
}

/// Paths listed per dataset and section when neither --limit nor --all is
/// given (as `diff`).
const DEFAULT_LIMIT: usize = 20;

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    let st = repo.status(&ctx.progress())?;
    if a.json {
        return out_json(&st);
    }
    let mut s = match (&st.branch, &st.head) {
        (Some(b), Some(_)) => format!("On branch {b}\n"),
        (Some(b), None) => format!("On branch {b}, no commits yet\n"),
        (None, Some(h)) => format!("HEAD detached at {}\n", h.short(12)),
        (None, None) => "HEAD detached\n".to_string(),
    };
    if let Some(m) = &st.merge {
        s += &super::merge::conflict_report(m);
        s += "  (settle with `folio merge --ours PATH` / `--theirs PATH` or by editing, then `folio merge --continue`; or `folio merge --abort`)\n";
    }
    for d in &st.datasets {
        if d.missing {
            // A clone made with --no-data: the contents were never here.
            let absent = st.head.is_some_and(|h| {
                repo.absent_contents(&[h], std::slice::from_ref(&d.path))
                    .is_ok_and(|a| !a.is_empty())
            });
            if absent {
                s += &format!(
                    "\n{}: not fetched (its contents are on a remote: `folio checkout HEAD` writes them)\n",
                    d.path
                );
            } else {
                s += &format!("\n{}: deleted from the working tree\n", d.path);
            }
            continue;
        }
        if d.changes.is_empty() {
            s += &format!("\n{}: unchanged\n", d.path);
            continue;
        }
        s += &format!(
            "\n{}: {} added, {} modified, {} deleted\n",
            d.path,
            d.changes.added.len(),
            d.changes.modified.len(),
            d.changes.deleted.len()
        );
        for (tag, list) in [
            ("added", &d.changes.added),
            ("modified", &d.changes.modified),
            ("deleted", &d.changes.deleted),
        ] {
            let limit = if a.all {
                usize::MAX
            } else {
                a.limit.unwrap_or(DEFAULT_LIMIT)
            };
            for p in list.iter().take(limit) {
                let why = if d.purged.contains(p) {
                    "  (its committed content was purged; the next commit records this)"
                } else {
                    ""
                };
                s += &format!("  {tag:<9} {}{why}\n", super::visible(&join(&d.path, p)));
            }
            if list.len() > limit {
                s += &format!(
                    "  … {} more {tag} (--limit N or --all)\n",
                    list.len() - limit
                );
            }
        }
    }
    if !st.untracked.is_empty() {
        s += "\nUntracked (not in any dataset; add with `folio commit PATH`):\n";
        for u in &st.untracked {
            s += &format!("  {u}\n");
        }
    }
    if st.datasets.is_empty() && st.head.is_none() {
        s += "\nNothing tracked yet: `folio commit PATH -m MESSAGE` snapshots a folder or file.\n";
    }
    out(&s)
}

fn join(dataset: &str, rel: &str) -> String {
    if rel.is_empty() {
        dataset.to_string()
    } else {
        format!("{dataset}/{rel}")
    }
}
