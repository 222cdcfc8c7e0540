//! `folio log`.

use super::{Ctx, Failure, Result, fmt_time, out, out_json};
use folio_core::repo::RepoError;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show at most N commits
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    max_count: Option<usize>,
    /// Start from this revision (default HEAD)
    #[arg(long, default_value = "HEAD")]
    rev: String,
    /// Only commits that changed this dataset or path
    path: Option<std::path::PathBuf>,
    /// Print the result as JSON (each commit's `refs` included)
    #[arg(long)]
    json: bool,
    /// Do not show the branches and tags that point at each commit
    #[arg(long)]
    no_decorate: bool,
}

/// The refs at each commit, as `git log --decorate` names them: `HEAD ->
/// main` for the checked-out branch, `HEAD` when detached, `tag: v1`, and
/// the other branches by name.
fn decorations(
    repo: &folio_core::repo::Repo,
) -> Result<std::collections::HashMap<folio_core::id::CommitId, Vec<String>>> {
    use folio_core::refs::{Head, RefKind};
    let mut at: std::collections::HashMap<folio_core::id::CommitId, Vec<String>> =
        Default::default();
    let head = repo.head()?;
    if let Head::Detached(id) = &head {
        at.entry(*id).or_default().push("HEAD".into());
    }
    for (name, id) in repo.refs().list(RefKind::Branch)? {
        let Ok(id) = id else { continue };
        let label = match &head {
            Head::Branch(b) if *b == name => format!("HEAD -> {name}"),
            _ => name,
        };
        let list = at.entry(id).or_default();
        if label.starts_with("HEAD") {
            list.insert(0, label);
        } else {
            list.push(label);
        }
    }
    for (name, id) in repo.refs().list(RefKind::Tag)? {
        if let Ok(id) = id {
            at.entry(id).or_default().push(format!("tag: {name}"));
        }
    }
    Ok(at)
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    let start = match repo.resolve(&a.rev) {
        Err(RepoError::NoCommits) if a.rev == "HEAD" => {
            if a.json {
                return out("[]\n");
            }
            ctx.hint("no commits yet");
            return Ok(());
        }
        r => r?,
    };
    let path = a
        .path
        .as_ref()
        .map(|p| {
            repo.dataset_path(&if p.is_absolute() {
                p.clone()
            } else {
                ctx.cwd.join(p)
            })
        })
        .transpose()?;
    let entries = repo.log(start, a.max_count, path.as_deref())?;
    let refs = decorations(&repo)?;
    let names = |id: &folio_core::id::CommitId| refs.get(id).cloned().unwrap_or_default();
    if a.json {
        let mut v = serde_json::to_value(&entries).map_err(|e| Failure::user(e.to_string()))?;
        if let Some(list) = v.as_array_mut() {
            for (item, e) in list.iter_mut().zip(&entries) {
                item["refs"] = serde_json::json!(names(&e.id));
            }
        }
        return out_json(&v);
    }
    let mut s = String::new();
    for e in &entries {
        let deco = names(&e.id);
        if deco.is_empty() || a.no_decorate {
            s += &format!("commit {}\n", e.id);
        } else {
            s += &format!("commit {} ({})\n", e.id, super::visible(&deco.join(", ")));
        }
        if e.parents.len() > 1 {
            let ps: Vec<String> = e.parents.iter().map(|p| p.short(12)).collect();
            s += &format!("Merge:  {}\n", ps.join(" "));
        }
        s += &format!("Author: {}\nDate:   {}\n\n", e.author, fmt_time(e.time));
        for l in e.message.lines() {
            s += &format!("    {l}\n");
        }
        s += "\n";
    }
    out(&s)
}
