//! `folio merge`.

use folio_core::repo::{MergeOptions, MergeOutcome, MergeState};
use folio_core::table::merge::Side;

use super::commit::{author, now};
use super::{Ctx, Failure, Result, out, out_json, visible};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The branch or commit to merge into the current branch; during a
    /// merge, with --ours or --theirs: the conflicted paths to settle
    #[arg(value_name = "REV|PATH")]
    args: Vec<String>,
    /// The merge commit's message (default "Merge REV into BRANCH")
    #[arg(short, long)]
    message: Option<String>,
    /// Settle conflicts for the current branch's side (every conflict when
    /// starting a merge; the given paths during one)
    #[arg(long, conflicts_with = "theirs")]
    ours: bool,
    /// Settle conflicts for the merged branch's side
    #[arg(long)]
    theirs: bool,
    /// Commit a merge whose conflicts are resolved
    #[arg(long = "continue", conflicts_with_all = ["abort", "ours", "theirs"])]
    cont: bool,
    /// Abandon the merge and restore the branch's commit in the working tree
    #[arg(long, conflicts_with_all = ["ours", "theirs"])]
    abort: bool,
    /// The author (default $FOLIO_AUTHOR, else user@host)
    #[arg(long)]
    author: Option<String>,
    /// Print the outcome as JSON
    #[arg(long)]
    json: bool,
}

fn side(a: &Args) -> Option<Side> {
    match (a.ours, a.theirs) {
        (true, _) => Some(Side::Ours),
        (_, true) => Some(Side::Theirs),
        _ => None,
    }
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let bar = ctx.progress();
    let opts = MergeOptions {
        author: author(a.author.as_deref()),
        time: now()?,
        message: a.message.clone(),
        prefer: side(a),
    };
    if a.abort {
        let to = repo.merge_abort(&lock, &bar)?;
        return out(&format!(
            "merge abandoned: the working tree is back at {}\n",
            to.short(12)
        ));
    }
    if a.cont {
        let id = repo.merge_continue(&lock, &opts, &bar)?;
        return out(&format!("committed merge {}\n", id.short(12)));
    }
    if repo.merge_state()?.is_some() {
        let Some(s) = side(a) else {
            return Err(Failure::user(
                "a merge is in progress: settle paths with --ours PATH or --theirs PATH, then --continue (or --abort)",
            ));
        };
        if a.args.is_empty() {
            return Err(Failure::user("give the conflicted paths to settle"));
        }
        let paths: Vec<String> = a.args.iter().map(|p| absolute(ctx, p)).collect();
        let state = repo.merge_resolve(&lock, &paths, s)?;
        let left = open(&state);
        return out(&format!(
            "settled {} for {}; {}\n",
            a.args
                .iter()
                .map(|p| visible(p).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
            if s == Side::Ours { "ours" } else { "theirs" },
            if left == 0 {
                "run `folio merge --continue` to commit".to_string()
            } else {
                format!("{left} conflicted paths left")
            }
        ));
    }
    let [rev] = a.args.as_slice() else {
        return Err(Failure::user("give one branch or commit to merge"));
    };
    let theirs = match repo.resolve(rev) {
        Ok(id) => id,
        Err(e) if side(a).is_some() => {
            return Err(Failure::user(format!(
                "no merge is in progress (settling a path needs one), and {e}"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let outcome = repo.merge(&lock, theirs, rev, &opts, &bar)?;
    if a.json {
        out_json(&outcome)?;
        return match outcome {
            MergeOutcome::Conflicted { .. } => {
                Err(Failure::user("the merge stopped with conflicts"))
            }
            _ => Ok(()),
        };
    }
    match outcome {
        MergeOutcome::UpToDate => out(&format!(
            "already up to date: {} is in this branch's history\n",
            visible(rev)
        )),
        MergeOutcome::FastForward { to } => out(&format!("fast-forward to {}\n", to.short(12))),
        MergeOutcome::Merged {
            commit,
            changed,
            labels,
        } => {
            let mut s = format!(
                "merged {} : commit {} ({} paths changed in the working tree)\n",
                visible(rev),
                commit.short(12),
                changed.len()
            );
            s += &label_report(&labels);
            out(&s)
        }
        MergeOutcome::Conflicted { state, labels } => {
            let mut s = conflict_report(&state);
            s += &label_report(&labels);
            s += "nothing was committed: edit the files, or settle them with `folio merge --ours PATH` / `--theirs PATH`, then `folio merge --continue` (or `folio merge --abort`)\n";
            out(&s)?;
            Err(Failure::user("the merge stopped with conflicts"))
        }
    }
}

/// A path as the library wants it: relative to the working tree's root
/// when given relative to the current folder.
fn absolute(ctx: &Ctx, p: &str) -> String {
    let abs = ctx.cwd.join(p);
    abs.to_string_lossy().into_owned()
}

fn open(s: &MergeState) -> usize {
    s.conflicts
        .iter()
        .filter(|c| !s.resolved.contains(&c.path))
        .count()
}

/// The conflicts of a merge in progress, one path at a time.
pub fn conflict_report(s: &MergeState) -> String {
    let mut out = format!(
        "merging {} ({}) into {}: {} conflicted paths\n",
        visible(&s.theirs_name),
        s.theirs.short(12),
        s.ours.short(12),
        open(s)
    );
    let v = |x: &Option<String>| {
        x.as_deref()
            .map_or("(absent)".to_string(), |x| visible(x).into_owned())
    };
    for c in &s.conflicts {
        let state = if s.resolved.contains(&c.path) {
            " (settled)"
        } else {
            ""
        };
        if let Some([b, o, t]) = &c.file {
            out += &format!(
                "  {}{state}: changed on both sides (base {}, ours {}, theirs {})\n",
                visible(&c.path),
                v(b),
                v(o),
                v(t)
            );
        }
        for r in &c.rows {
            match &r.column {
                Some(col) => {
                    out += &format!(
                        "  {}{state}: row {} column {}: base {}, ours {}, theirs {}\n",
                        visible(&c.path),
                        visible(&r.key),
                        visible(col),
                        v(&r.base),
                        v(&r.ours),
                        v(&r.theirs)
                    )
                }
                None => {
                    out += &format!(
                        "  {}{state}: row {} deleted on {} side and changed on the other\n",
                        visible(&c.path),
                        visible(&r.key),
                        if r.ours.is_none() { "our" } else { "their" }
                    )
                }
            }
        }
    }
    out
}

fn label_report(labels: &[folio_core::repo::LabelConflict]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let n = labels.len();
    let mut s = format!(
        "{n} {} labelled differently on each side (the merged ledger's latest is theirs; record the right one with `folio annotate`):\n",
        if n == 1 {
            "example was"
        } else {
            "examples were"
        }
    );
    for l in labels {
        s += &format!(
            "  {}: ours {}, theirs {}\n",
            visible(&l.locator),
            visible(&l.ours),
            visible(&l.theirs)
        );
    }
    s
}
