//! `folio log`.

use super::{Ctx, Result, fmt_time, out, out_json};
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
    /// Print the result as JSON
    #[arg(long)]
    json: bool,
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
    if a.json {
        return out_json(&entries);
    }
    let mut s = String::new();
    for e in &entries {
        s += &format!("commit {}\n", e.id);
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
