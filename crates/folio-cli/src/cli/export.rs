//! `folio export REV TABLE`: the selected rows of a table at a revision, as
//! CSV, TSV, JSON Lines or Parquet, to a file or stdout.

use std::io::{self, Write};
use std::path::PathBuf;

use super::{Ctx, Failure, Result};
use folio_core::repo::ExportOptions;
use folio_core::table::Format;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The revision: a commit, branch or tag
    #[arg(value_name = "REV")]
    rev: String,
    /// The table, as a path from the repository's root (or ./relative)
    #[arg(value_name = "TABLE")]
    table: String,
    /// Output format: csv, tsv, jsonl or parquet (default: the table's own)
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Only these columns, in this order (comma-separated)
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    columns: Vec<String>,
    /// Only examples whose latest source (as of REV) is this
    #[arg(long, value_name = "SOURCE")]
    where_source: Option<String>,
    /// Only examples whose latest label (as of REV) is this
    #[arg(long, value_name = "LABEL")]
    where_label: Option<String>,
    /// Only examples of this dataset (as of REV)
    #[arg(long, value_name = "DATASET")]
    where_dataset: Option<String>,
    /// Only examples whose latest confidence is at least X
    #[arg(long, value_name = "X")]
    min_confidence: Option<f64>,
    /// Add the ledger's latest label and confidence (as of REV) as the
    /// columns ledger_label and ledger_confidence
    #[arg(long)]
    with_ledger: bool,
    /// Write to FILE (atomically) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

fn format(name: &str) -> Result<Format> {
    match name {
        "csv" => Ok(Format::Csv),
        "tsv" => Ok(Format::Tsv),
        "jsonl" => Ok(Format::Jsonl),
        "parquet" => Ok(Format::Parquet),
        other => Err(Failure::user(format!(
            "unknown export format '{other}': use csv, tsv, jsonl or parquet"
        ))),
    }
}

pub fn run(ctx: &Ctx, a: &Args) -> Result {
    let repo = ctx.repo()?;
    let rev = repo.resolve(&a.rev)?;
    let table = if a.table.starts_with("./") || a.table.starts_with("../") {
        repo.dataset_path(&ctx.cwd.join(&a.table))?
    } else {
        a.table.trim_matches('/').to_string()
    };
    if let Some(x) = a.min_confidence
        && !(0.0..=1.0).contains(&x)
    {
        return Err(Failure::user(format!(
            "--min-confidence {x}: a confidence is between 0 and 1"
        )));
    }
    let opts = ExportOptions {
        format: a.format.as_deref().map(format).transpose()?,
        columns: a.columns.clone(),
        where_source: a.where_source.clone(),
        where_label: a.where_label.clone(),
        where_dataset: a
            .where_dataset
            .as_deref()
            .map(|d| d.trim_matches('/').to_string()),
        min_confidence: a.min_confidence,
        with_ledger: a.with_ledger,
    };
    let stats = match &a.output {
        Some(file) => {
            // Streamed into a temporary file beside the destination, then
            // renamed: a failed export leaves no half-written file.
            let path = ctx.cwd.join(file);
            let named = |e: io::Error| {
                Failure::from(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
            };
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = folio_core::TempFile::new_in(dir).map_err(named)?;
            let stats = {
                let mut w = io::BufWriter::with_capacity(1 << 16, &mut tmp);
                let stats = repo.export(rev, &table, &opts, &mut w)?;
                w.flush().map_err(named)?;
                stats
            };
            tmp.persist(&path).map_err(named)?;
            stats
        }
        None => {
            use std::io::IsTerminal;
            if output_format(&repo, rev, &table, &opts)? == Format::Parquet
                && io::stdout().is_terminal()
            {
                return Err(Failure::user(
                    "Parquet is binary: write it with -o FILE or redirect stdout (or --format csv to read it here)",
                ));
            }
            let stdout = io::stdout();
            let mut w = io::BufWriter::with_capacity(1 << 16, stdout.lock());
            match repo.export(rev, &table, &opts, &mut w) {
                Ok(s) => {
                    let _ = w.flush();
                    s
                }
                Err(e) if super::cat::is_broken_pipe(&e) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    };
    ctx.hint(&format!(
        "exported {} of {} of {table} at {} as {}{}",
        stats.rows,
        super::count(stats.of, "row"),
        rev.short(12),
        stats.format.name(),
        a.output
            .as_ref()
            .map(|f| format!(" to {}", f.display()))
            .unwrap_or_default()
    ));
    if stats.purged > 0 {
        ctx.hint(&format!(
            "note: {} purged (their values are erased; `folio purge --list` says why)",
            super::count(stats.purged, "row")
        ));
    }
    if stats.types_flattened {
        ctx.hint(
            "note: some cells were typed JSON values (numbers, booleans, nested) or empty texts, which this format stores as text: committed back, unkeyed rows get new identities (export as jsonl to keep them)",
        );
    }
    Ok(())
}

/// The format an export will write: the one asked for, else the table's.
fn output_format(
    repo: &folio_core::repo::Repo,
    rev: folio_core::id::CommitId,
    table: &str,
    opts: &ExportOptions,
) -> Result<Format> {
    if let Some(f) = opts.format {
        return Ok(f);
    }
    Ok(repo.table_format(rev, table)?.unwrap_or(Format::Csv))
}
