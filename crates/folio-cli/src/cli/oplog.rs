//! `folio oplog` and `folio undo`, and the journal every command writes.

use folio_core::repo::{Operation, RefState};

use super::{Ctx, Failure, Result, out, out_json, visible};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Option<OplogCommand>,
    /// Show at most N operations (newest first)
    #[arg(short = 'n', long, value_name = "N")]
    limit: Option<usize>,
    /// Print as JSON
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand, Debug)]
enum OplogCommand {
    /// Return the refs and pending ledger events to the state before
    /// operation OP (or after it, with --after); the working tree is not
    /// touched
    Restore {
        /// The operation's number
        op: u64,
        /// The state after the operation instead of before it
        #[arg(long)]
        after: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct UndoArgs {}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    if let Some(OplogCommand::Restore { op, after }) = &a.command {
        let lock = repo.lock(ctx.wait)?;
        let s = repo.restore_operation(&lock, *op, *after)?;
        return out(&restored(&s, *op, *after));
    }
    let mut ops = repo.operations()?;
    ops.reverse();
    if let Some(n) = a.limit {
        ops.truncate(n);
    }
    if a.json {
        return out_json(&ops);
    }
    let mut s = String::new();
    for o in &ops {
        s += &format!(
            "op {:<5} {}  {}\n    {}\n",
            o.seq,
            super::fmt_time(o.time),
            visible(&o.actor),
            visible(&o.command)
        );
        for line in changes(o) {
            s += &format!("    {line}\n");
        }
    }
    if ops.is_empty() {
        s = "the operation log is empty\n".into();
    }
    out(&s)
}

pub fn undo(ctx: &Ctx, _: &UndoArgs) -> Result {
    let repo = ctx.repo()?;
    let lock = repo.lock(ctx.wait)?;
    let Some(last) = repo.operations()?.pop() else {
        return Err(Failure::user("the operation log is empty: nothing to undo"));
    };
    let s = repo.restore_operation(&lock, last.seq, false)?;
    out(&format!(
        "undid op {} ({}); {}",
        last.seq,
        visible(&last.command),
        restored(&s, last.seq, false)
    ))
}

fn restored(s: &RefState, op: u64, after: bool) -> String {
    format!(
        "refs restored to their state {} operation {op}: HEAD {}, {} branches, {} tags; the working tree is unchanged (`folio status` shows the difference, `folio checkout -f HEAD` makes it match)\n",
        if after { "after" } else { "before" },
        visible(&s.head),
        s.branches.len(),
        s.tags.len()
    )
}

/// What an operation changed, one line each.
fn changes(o: &Operation) -> Vec<String> {
    let mut out = Vec::new();
    if o.before.head != o.after.head {
        out.push(format!(
            "HEAD: {} -> {}",
            short(&o.before.head),
            short(&o.after.head)
        ));
    }
    for (what, b, a) in [
        ("branch", &o.before.branches, &o.after.branches),
        ("tag", &o.before.tags, &o.after.tags),
    ] {
        for (name, was) in b {
            match a.get(name) {
                None => out.push(format!(
                    "{what} {} deleted (was {})",
                    visible(name),
                    short(was)
                )),
                Some(now) if now != was => out.push(format!(
                    "{what} {}: {} -> {}",
                    visible(name),
                    short(was),
                    short(now)
                )),
                _ => {}
            }
        }
        for (name, now) in a.iter().filter(|(n, _)| !b.contains_key(*n)) {
            out.push(format!(
                "{what} {} created at {}",
                visible(name),
                short(now)
            ));
        }
    }
    for name in o.before.pending.keys().chain(o.after.pending.keys()) {
        let n = |s: &RefState| {
            s.pending
                .get(name)
                .map_or(0, |l| l.iter().map(|x| x.1).sum::<u64>())
        };
        let (b, a) = (n(&o.before), n(&o.after));
        if b != a
            && !out
                .iter()
                .any(|l| l.starts_with(&format!("pending on {name}")))
        {
            out.push(format!("pending on {}: {b} -> {a} events", visible(name)));
        }
    }
    out
}

fn short(s: &str) -> String {
    let (kind, rest) = s.split_once(':').unwrap_or(("", s));
    let id = if rest.len() == 64 { &rest[..12] } else { rest };
    if kind.is_empty() {
        id.to_string()
    } else {
        format!("{kind}:{id}")
    }
}
