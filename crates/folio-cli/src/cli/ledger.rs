//! `folio ledger export` and `folio ledger void`.

use std::io::Write;

use super::{Ctx, Failure, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: LedgerCommand,
}

#[derive(clap::Subcommand, Debug)]
enum LedgerCommand {
    /// Write every event with its hashes, one JSON object a line
    Export(ExportArgs),
    /// Declare events void: they stay in the ledger and in lineage, and no
    /// view counts them
    Void(VoidArgs),
}

#[derive(clap::Args, Debug)]
struct VoidArgs {
    /// Events by their number in this branch's ledger (`ledger export`,
    /// `lineage` show them)
    #[arg(conflicts_with_all = ["commit", "batch"], required_unless_present_any = ["commit", "batch"])]
    seq: Vec<u64>,
    /// Every event a commit brought
    #[arg(long, value_name = "REV", conflicts_with = "batch")]
    commit: Option<String>,
    /// Every event of one batch (its id or 8+ leading hex digits)
    #[arg(long, value_name = "ID")]
    batch: Option<String>,
    /// Why (recorded with each void)
    #[arg(long)]
    reason: String,
    /// Print the voids that would be recorded, and record nothing
    #[arg(long)]
    dry_run: bool,
    /// Who records the voids (default: as for commit)
    #[arg(long)]
    author: Option<String>,
}

#[derive(clap::Args, Debug)]
struct ExportArgs {
    /// Output format
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl"])]
    format: String,
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    match &a.command {
        LedgerCommand::Void(v) => {
            let target = match (&v.commit, &v.batch) {
                (Some(c), _) => folio_core::repo::VoidTarget::Commit(repo.resolve(c)?),
                (_, Some(b)) => folio_core::repo::VoidTarget::Batch(b.clone()),
                _ => folio_core::repo::VoidTarget::Seqs(v.seq.clone()),
            };
            let lock = repo.lock(ctx.wait)?;
            let who = super::record::recorder(v.author.as_deref(), v.dry_run)?;
            let done = repo.void(&lock, &target, &v.reason, &who)?;
            if super::record::previewed(&repo, &who)? {
                return Ok(());
            }
            let mut s = format!("voided {}:\n", super::count(done.len() as u64, "event"));
            for e in &done {
                s += &format!("  #{} {} {}\n", e.seq, e.kind, super::visible(&e.subject));
            }
            super::out(&s)
        }
        LedgerCommand::Export(_) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let mut err: Option<std::io::Error> = None;
            repo.export_ledger(&mut |e| {
                if err.is_some() {
                    return;
                }
                let line = serde_json::to_string(&e).unwrap_or_default();
                if let Err(e) = writeln!(out, "{line}") {
                    err = Some(e);
                }
            })?;
            match err.map_or_else(|| out.flush(), Err) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(Failure::from(e)),
                Ok(()) => Ok(()),
            }
        }
    }
}
