//! `export`: the selected rows of a table as it is at a revision, as CSV,
//! TSV or JSON Lines, streamed chunk by chunk (memory bounded by one chunk,
//! whatever the table's size), optionally with the ledger's latest label
//! and confidence of each row as of that revision.

use std::io::Write;

use super::{Repo, RepoError};
use crate::id::CommitId;
use crate::ledger::{ExampleId, ExampleState, IdMap};
use crate::table::manifest::decode_chunk;
use crate::table::{CellRef, Format};

/// The column names `--with-ledger` adds.
pub const LEDGER_LABEL_COLUMN: &str = "ledger_label";
/// See [`LEDGER_LABEL_COLUMN`].
pub const LEDGER_CONFIDENCE_COLUMN: &str = "ledger_confidence";

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Output format (`None`: the table's own; JSON Lines for Parquet).
    pub format: Option<Format>,
    /// Columns, in this order (every column, in file order, when empty).
    pub columns: Vec<String>,
    /// Only examples whose latest source (at the revision) is this.
    pub where_source: Option<String>,
    /// Only examples whose latest label is this.
    pub where_label: Option<String>,
    /// Only examples of this dataset (a table in a folder dataset belongs
    /// to the folder).
    pub where_dataset: Option<String>,
    /// Only examples whose latest confidence is at least this.
    pub min_confidence: Option<f64>,
    /// Add the ledger's latest label and confidence as two columns.
    pub with_ledger: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportStats {
    /// The format written.
    pub format: Format,
    /// Rows written (repeated rows counted each time).
    pub rows: u64,
    /// Rows of the table version.
    pub of: u64,
    /// Columns written.
    pub columns: Vec<String>,
    /// True when the cells' types cannot survive the format (typed JSON
    /// values written as CSV text): committing the output would change
    /// the identities of unkeyed rows.
    pub types_flattened: bool,
    /// Rows left out because a purge erased them (D86).
    pub purged: u64,
}

impl Repo {
    /// Writes the rows of table `path` at commit `rev` that `opts` selects
    /// to `out`, in the manifest's order (by row identity). Cells are
    /// written so that committing the output as the same format gives the
    /// same row identities: text as text, JSON numbers, booleans and
    /// nested values as themselves in JSON Lines.
    pub fn export(
        &self,
        rev: CommitId,
        path: &str,
        opts: &ExportOptions,
        out: &mut dyn Write,
    ) -> Result<ExportStats, RepoError> {
        let commit = self.read_commit(rev)?;
        let Some(t) = commit.tables.iter().find(|t| t.path == path) else {
            let known: Vec<&str> = commit.tables.iter().map(|t| t.path.as_str()).collect();
            return Err(RepoError::ExportRefused(format!(
                "{path} is not a table of {}: its tables are {}",
                rev.short(12),
                if known.is_empty() {
                    "(none)".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let m = self.read_manifest(t.manifest)?;
        let format = opts.format.unwrap_or(m.format);
        let table_columns: Vec<&str> = m.columns.iter().map(|(n, _)| n.as_str()).collect();
        let columns: Vec<String> = if opts.columns.is_empty() {
            table_columns.iter().map(|s| s.to_string()).collect()
        } else {
            for c in &opts.columns {
                if !table_columns.contains(&c.as_str()) {
                    return Err(RepoError::ExportRefused(format!(
                        "{path} has no column '{c}': its columns are {}",
                        table_columns.join(", ")
                    )));
                }
            }
            opts.columns.clone()
        };
        let mut header = columns.clone();
        if opts.with_ledger {
            for extra in [LEDGER_LABEL_COLUMN, LEDGER_CONFIDENCE_COLUMN] {
                if columns.iter().any(|c| c == extra) {
                    return Err(RepoError::ExportRefused(format!(
                        "{path} has a column '{extra}' already: --with-ledger would repeat it; export --columns without it"
                    )));
                }
                header.push(extra.to_string());
            }
        }
        if let Some(d) = &opts.where_dataset
            && !commit.datasets.iter().any(|x| x.path == *d)
        {
            let known: Vec<&str> = commit.datasets.iter().map(|x| x.path.as_str()).collect();
            return Err(RepoError::ExportRefused(format!(
                "--where-dataset {d}: {} has no dataset {d}; its datasets are {}",
                rev.short(12),
                known.join(", ")
            )));
        }
        let filtered = opts.where_source.is_some()
            || opts.where_label.is_some()
            || opts.where_dataset.is_some()
            || opts.min_confidence.is_some();
        // What the rows need of the ledger, kept as each example's state is
        // folded (D94): whether it passes the filters, and its label and
        // confidence — only for the examples that pass, or every one when
        // the ledger's columns are asked for.
        let passes = |e: &ExampleState| {
            opts.where_source
                .as_ref()
                .is_none_or(|s| e.source.as_ref() == Some(s))
                && opts.where_dataset.as_ref().is_none_or(|d| e.dataset == *d)
                && opts
                    .where_label
                    .as_ref()
                    .is_none_or(|l| e.label.as_ref() == Some(l))
                && opts
                    .min_confidence
                    .is_none_or(|x| e.confidence.is_some_and(|c| c >= x))
        };
        type Kept = (bool, Option<String>, Option<f64>);
        let mut known: IdMap<Kept> = IdMap::default();
        if (filtered || opts.with_ledger) && commit.ledger.is_some() {
            let parts = self.ledger_view_at(rev)?.fold_states(
                &Vec::new,
                &|v: &mut Vec<(ExampleId, Kept)>, id, st| {
                    let pass = passes(&st);
                    if pass || opts.with_ledger {
                        v.push((id, (pass, st.label, st.confidence)));
                    }
                },
            )?;
            known.reserve(parts.iter().map(Vec::len).sum());
            known.extend(parts.into_iter().flatten());
        }
        let keep = |id: &ExampleId| -> bool { !filtered || known.get(id).is_some_and(|k| k.0) };
        let ledger_of = |id: &ExampleId| {
            let e = known.get(id);
            (
                e.and_then(|e| e.1.clone()),
                e.and_then(|e| e.2).map(|c| c.to_string()),
            )
        };
        let walk = Rows {
            repo: self,
            manifest: &m,
            path,
            columns: &columns,
            keep: &keep,
            purged: Default::default(),
        };
        let mut stats = ExportStats {
            format,
            rows: 0,
            of: m.rows,
            columns: header.clone(),
            types_flattened: false,
            purged: 0,
        };
        // Encrypted rows that will not open fail before a byte is written
        // (not after the header): one chunk tells (D83).
        if let Some(first) = m.chunks.first() {
            use crate::table::manifest::ChunkSource;
            if let Err(e @ crate::table::TableError::Sealed(..)) = self.store.chunk(&first.id.0) {
                return Err(e.into());
            }
        }
        let with = opts
            .with_ledger
            .then_some(&ledger_of as &dyn Fn(&ExampleId) -> Ledger);
        let (rows, flat) = write_rows(&walk, &m, format, &header, &columns, with, out)?;
        stats.rows = rows;
        stats.types_flattened = flat;
        stats.purged = walk.purged.into_inner();
        Ok(stats)
    }

    /// Writes a table version whose file a purge erased again from the
    /// rows kept (D86): every column, in file order, rows in identity
    /// order, in the table's own format. Returns the rows written.
    pub(crate) fn rebuild_table(
        &self,
        manifest: crate::id::ManifestId,
        path: &str,
        out: &mut dyn Write,
    ) -> Result<u64, RepoError> {
        let m = self.read_manifest(manifest)?;
        let columns: Vec<String> = m.columns.iter().map(|(n, _)| n.clone()).collect();
        let keep = |_: &ExampleId| true;
        let walk = Rows {
            repo: self,
            manifest: &m,
            path,
            columns: &columns,
            keep: &keep,
            purged: Default::default(),
        };
        Ok(write_rows(&walk, &m, m.format, &columns, &columns, None, out)?.0)
    }
}

/// Writes the rows of `walk` as `format` under `header` (the columns, and
/// the ledger's two when `ledger_of` is given); returns the rows written
/// and whether typed cells were flattened to text.
fn write_rows(
    walk: &Rows<'_>,
    m: &crate::table::manifest::Manifest,
    format: Format,
    header: &[String],
    columns: &[String],
    ledger_of: Option<&dyn Fn(&ExampleId) -> Ledger>,
    out: &mut dyn Write,
) -> Result<(u64, bool), RepoError> {
    if format == Format::Parquet {
        #[cfg(feature = "parquet")]
        return parquet_out::write(walk, m, columns, ledger_of, out);
        #[cfg(not(feature = "parquet"))]
        return Err(RepoError::ExportRefused(
            "this folio was built without the parquet feature: write csv or jsonl".into(),
        ));
    }
    let _ = m;
    let mut w = Writer::new(format, out);
    w.header(header)?;
    let (mut rows, mut flat) = (0, false);
    walk.each(&mut |id, cells, count| {
        let ledger = ledger_of.map(|f| f(id));
        for _ in 0..count {
            flat |= w.row(columns, cells, ledger.as_ref())?;
            rows += 1;
        }
        Ok(())
    })?;
    w.finish()?;
    Ok((rows, flat))
}

impl Repo {
    /// The format table `path` was read as at `rev` (`None`: no such
    /// table).
    pub fn table_format(&self, rev: CommitId, path: &str) -> Result<Option<Format>, RepoError> {
        let commit = self.read_commit(rev)?;
        match commit.tables.iter().find(|t| t.path == path) {
            Some(t) => Ok(Some(self.read_manifest(t.manifest)?.format)),
            None => Ok(None),
        }
    }
}

/// The ledger's latest label and confidence (as text) of one example.
type Ledger = (Option<String>, Option<String>);

/// What a walk calls with each kept row: its example id, its cells in the
/// walk's column order, and how many times it occurs.
type RowFn<'f> = dyn FnMut(&ExampleId, &[CellRef<'_>], u32) -> Result<(), RepoError> + 'f;

/// The selected rows of one table version, walked in identity order.
struct Rows<'a> {
    repo: &'a Repo,
    manifest: &'a crate::table::manifest::Manifest,
    path: &'a str,
    columns: &'a [String],
    keep: &'a (dyn Fn(&ExampleId) -> bool + Sync),
    /// Rows left out because a purge erased them (D86).
    purged: std::sync::atomic::AtomicU64,
}

impl Rows<'_> {
    fn index(&self) -> std::collections::HashMap<&str, usize> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect()
    }

    /// Calls `f` with each kept row of one chunk.
    fn chunk(
        &self,
        ch: &crate::table::manifest::ChunkRef,
        index: &std::collections::HashMap<&str, usize>,
        f: &mut RowFn<'_>,
    ) -> Result<(), RepoError> {
        let bytes = self.repo.store.get(&ch.id.0)?;
        for row in decode_chunk(ch.id.0, &bytes)? {
            if crate::table::manifest::is_skeletal(&row.body) {
                self.purged
                    .fetch_add(u64::from(row.count), std::sync::atomic::Ordering::Relaxed);
                continue;
            }
            let id = ExampleId::row(self.path, &row.ident);
            if !(self.keep)(&id) {
                continue;
            }
            let mut cells = vec![CellRef::Null; self.columns.len()];
            crate::table::visit_row(&row.body, &mut |name, cell| {
                if let Some(i) = index.get(name) {
                    cells[*i] = cell;
                }
            })
            .ok_or_else(|| {
                crate::table::TableError::Corrupt(ch.id.0, "a row does not decode".into())
            })?;
            f(&id, &cells, row.count)?;
        }
        Ok(())
    }

    /// Calls `f` with each kept row's example id, its cells in `columns`
    /// order, and how many times it occurs; one chunk in memory at a time.
    fn each(&self, f: &mut RowFn<'_>) -> Result<(), RepoError> {
        let index = self.index();
        for ch in &self.manifest.chunks {
            self.chunk(ch, &index, f)?;
        }
        Ok(())
    }

    /// Folds every kept row into a `T` per worker (chunks read on every
    /// core), then merges the workers' results.
    #[cfg(feature = "parquet")]
    fn fold<T: Send>(
        &self,
        fresh: &(dyn Fn() -> T + Sync),
        add: &(dyn Fn(&mut T, &[CellRef<'_>]) + Sync),
        merge: &(dyn Fn(T, T) -> T + Sync),
    ) -> Result<T, RepoError> {
        use rayon::prelude::*;
        let index = self.index();
        self.manifest
            .chunks
            .par_iter()
            .try_fold(fresh, |mut acc, ch| {
                self.chunk(ch, &index, &mut |_, cells, _| {
                    add(&mut acc, cells);
                    Ok(())
                })?;
                Ok::<T, RepoError>(acc)
            })
            .try_reduce(fresh, |a, b| Ok(merge(a, b)))
    }
}

/// Parquet out, through the `parquet` crate's column writers (no Arrow).
#[cfg(feature = "parquet")]
mod parquet_out;

/// Rows out, in one format.
enum Writer<'o> {
    Csv(Box<csv::Writer<&'o mut dyn Write>>),
    Jsonl(&'o mut dyn Write),
}

impl<'o> Writer<'o> {
    fn new(format: Format, out: &'o mut dyn Write) -> Self {
        match format {
            Format::Csv | Format::Tsv => Writer::Csv(Box::new(
                csv::WriterBuilder::new()
                    .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
                    .buffer_capacity(1 << 16)
                    .from_writer(out),
            )),
            _ => Writer::Jsonl(out),
        }
    }

    fn io(e: std::io::Error) -> RepoError {
        RepoError::Io {
            path: "(export output)".into(),
            source: e,
        }
    }

    fn finish(self) -> Result<(), RepoError> {
        match self {
            Writer::Csv(mut c) => c.flush().map_err(Self::io),
            Writer::Jsonl(o) => o.flush().map_err(Self::io),
        }
    }

    fn header(&mut self, names: &[String]) -> Result<(), RepoError> {
        if let Writer::Csv(c) = self {
            c.write_record(names).map_err(|e| Self::io(e.into()))?;
        }
        Ok(())
    }

    /// Writes one row; true when a cell's type cannot survive the format.
    fn row(
        &mut self,
        columns: &[String],
        cells: &[CellRef<'_>],
        ledger: Option<&(Option<String>, Option<String>)>,
    ) -> Result<bool, RepoError> {
        let mut flattened = false;
        match self {
            Writer::Csv(c) => {
                let mut fields: Vec<&str> = Vec::with_capacity(cells.len() + 2);
                for cell in cells {
                    fields.push(match cell {
                        CellRef::Null => "",
                        CellRef::Text(t) => {
                            // An empty text reads back as a missing cell.
                            flattened |= t.is_empty();
                            t
                        }
                        CellRef::Number(t) | CellRef::Json(t) => {
                            flattened = true;
                            t
                        }
                        CellRef::Bool(b) => {
                            flattened = true;
                            if *b { "true" } else { "false" }
                        }
                    });
                }
                if let Some((l, conf)) = ledger {
                    fields.push(l.as_deref().unwrap_or(""));
                    fields.push(conf.as_deref().unwrap_or(""));
                }
                c.write_record(&fields).map_err(|e| Self::io(e.into()))?;
            }
            Writer::Jsonl(out) => {
                // Built by hand so numbers keep their exact text and keys
                // their column order.
                let mut line = String::with_capacity(64 * cells.len());
                line.push('{');
                let mut first = true;
                let mut field = |name: &str, value: &str| {
                    if !first {
                        line.push_str(", ");
                    }
                    first = false;
                    line.push_str(&serde_json::to_string(name).unwrap_or_default());
                    line.push_str(": ");
                    line.push_str(value);
                };
                for (name, cell) in columns.iter().zip(cells) {
                    let v = match cell {
                        CellRef::Null => continue,
                        CellRef::Text(t) => serde_json::to_string(t).unwrap_or_default(),
                        CellRef::Number(t) | CellRef::Json(t) => t.to_string(),
                        CellRef::Bool(b) => b.to_string(),
                    };
                    field(name, &v);
                }
                if let Some((l, conf)) = ledger {
                    let l = l.as_ref().map_or("null".to_string(), |l| {
                        serde_json::to_string(l).unwrap_or_default()
                    });
                    field(LEDGER_LABEL_COLUMN, &l);
                    field(LEDGER_CONFIDENCE_COLUMN, conf.as_deref().unwrap_or("null"));
                }
                line.push_str("}\n");
                out.write_all(line.as_bytes()).map_err(Self::io)?;
            }
        }
        Ok(flattened)
    }
}
