//! `folio ledger export`.

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
