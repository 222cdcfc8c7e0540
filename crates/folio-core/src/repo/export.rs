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
        let filtered = opts.where_source.is_some()
            || opts.where_label.is_some()
            || opts.min_confidence.is_some();
        let states: IdMap<ExampleState> = if filtered || opts.with_ledger {
            match commit.ledger {
                Some(_) => self.ledger_view_at(rev)?.states()?,
                None => IdMap::default(),
            }
        } else {
            IdMap::default()
        };
        let keep = |id: &ExampleId| -> bool {
            if !filtered {
                return true;
            }
            let Some(e) = states.get(id) else {
                return false;
            };
            opts.where_source
                .as_ref()
                .is_none_or(|s| e.source.as_ref() == Some(s))
                && opts
                    .where_label
                    .as_ref()
                    .is_none_or(|l| e.label.as_ref() == Some(l))
                && opts
                    .min_confidence
                    .is_none_or(|x| e.confidence.is_some_and(|c| c >= x))
        };
        let ledger_of = |id: &ExampleId| {
            let e = states.get(id);
            (
                e.and_then(|e| e.label.clone()),
                e.and_then(|e| e.confidence).map(|c| c.to_string()),
            )
        };
        let walk = Rows {
            repo: self,
            manifest: &m,
            path,
            columns: &columns,
            keep: &keep,
        };
        let mut stats = ExportStats {
            format,
            rows: 0,
            of: m.rows,
            columns: header.clone(),
            types_flattened: false,
        };
        if format == Format::Parquet {
            #[cfg(feature = "parquet")]
            {
                let with = opts
                    .with_ledger
                    .then_some(&ledger_of as &dyn Fn(&ExampleId) -> Ledger);
                let (rows, flat) = parquet_out::write(&walk, &m, &columns, with, out)?;
                stats.rows = rows;
                stats.types_flattened = flat;
                return Ok(stats);
            }
            #[cfg(not(feature = "parquet"))]
            return Err(RepoError::ExportRefused(
                "this folio was built without the parquet feature: export as csv or jsonl".into(),
            ));
        }
        let mut w = Writer::new(format, out);
        w.header(&header)?;
        walk.each(&mut |id, cells, count| {
            let ledger = opts.with_ledger.then(|| ledger_of(id));
            for _ in 0..count {
                stats.types_flattened |= w.row(&columns, cells, ledger.as_ref())?;
                stats.rows += 1;
            }
            Ok(())
        })?;
        w.finish()?;
        Ok(stats)
    }
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
#[cfg(feature = "parquet")]
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
mod parquet_out {
    use std::io::Write;
    use std::sync::Arc;

    use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
    use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;

    use super::{Ledger, RepoError, Rows};
    use crate::ledger::ExampleId;
    use crate::table::manifest::Manifest;
    use crate::table::{CellRef, ColumnType};

    /// Rows per row group.
    const ROW_GROUP: usize = 128 * 1024;

    /// How a column is stored.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Kind {
        Int64,
        Double,
        Bool,
        Utf8,
    }

    /// One row group's values of a column, with definition levels. Texts
    /// are one buffer and their end offsets: one allocation per row group,
    /// sliced into values when the group is written.
    enum Values {
        Int64(Vec<i64>),
        Double(Vec<f64>),
        Bool(Vec<bool>),
        Utf8(Vec<u8>, Vec<usize>),
    }

    fn err(e: impl std::fmt::Display) -> RepoError {
        RepoError::ExportRefused(format!("writing Parquet: {e}"))
    }

    fn io(e: std::io::Error) -> RepoError {
        RepoError::Io {
            path: "(export output)".into(),
            source: e,
        }
    }

    /// The text a cell reads back as from Parquet (folio's reader gives
    /// every value as text), and whether its JSON type is lost.
    fn text<'c>(c: &CellRef<'c>) -> (&'c str, bool) {
        match *c {
            CellRef::Text(t) => (t, false),
            CellRef::Number(t) | CellRef::Json(t) => (t, true),
            CellRef::Bool(true) => ("true", true),
            CellRef::Bool(false) => ("false", true),
            CellRef::Null => ("", false),
        }
    }

    /// Whether a value stored as `kind` reads back as the same text.
    fn fits(kind: Kind, t: &str) -> bool {
        match kind {
            Kind::Int64 => t.parse::<i64>().is_ok_and(|v| v.to_string() == t),
            Kind::Double => t.parse::<f64>().is_ok_and(|v| v.to_string() == t),
            Kind::Bool => t == "true" || t == "false",
            Kind::Utf8 => true,
        }
    }

    /// Writes the rows as Parquet to `out`, a row group at a time; the
    /// rows written and whether a typed JSON cell became text.
    pub(super) fn write(
        rows: &Rows<'_>,
        m: &Manifest,
        columns: &[String],
        ledger: Option<&dyn Fn(&ExampleId) -> Ledger>,
        out: &mut dyn Write,
    ) -> Result<(u64, bool), RepoError> {
        // Pass 1: the narrowest type each column round-trips in exactly.
        let kinds: Vec<Kind> = columns
            .iter()
            .map(
                |c| match m.columns.iter().find(|(n, _)| n == c).map(|x| x.1) {
                    Some(ColumnType::Integer) => Kind::Int64,
                    Some(ColumnType::Float) => Kind::Double,
                    Some(ColumnType::Boolean) => Kind::Bool,
                    _ => Kind::Utf8,
                },
            )
            .collect();
        // Read on every core: a column's kind only ever widens to text, so
        // the workers' results merge by widening.
        let start = (kinds.clone(), false);
        let (kinds, flattened) = rows.fold(
            &|| start.clone(),
            &|(kinds, flat), cells| {
                for (k, c) in kinds.iter_mut().zip(cells) {
                    if *c == CellRef::Null {
                        continue;
                    }
                    let (t, lost) = text(c);
                    *flat |= lost;
                    if *k != Kind::Utf8 && !fits(*k, t) {
                        *k = Kind::Utf8;
                    }
                }
            },
            &|(a, fa), (b, fb)| {
                let kinds = a
                    .into_iter()
                    .zip(b)
                    .map(|(x, y)| if x == y { x } else { Kind::Utf8 })
                    .collect();
                (kinds, fa || fb)
            },
        )?;
        let mut fields = Vec::with_capacity(columns.len() + 2);
        let mut all: Vec<(String, Kind)> =
            columns.iter().cloned().zip(kinds.iter().copied()).collect();
        if ledger.is_some() {
            all.push((super::LEDGER_LABEL_COLUMN.into(), Kind::Utf8));
            all.push((super::LEDGER_CONFIDENCE_COLUMN.into(), Kind::Double));
        }
        for (name, kind) in &all {
            let physical = match kind {
                Kind::Int64 => Physical::INT64,
                Kind::Double => Physical::DOUBLE,
                Kind::Bool => Physical::BOOLEAN,
                Kind::Utf8 => Physical::BYTE_ARRAY,
            };
            let t = Type::primitive_type_builder(name, physical)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type((*kind == Kind::Utf8).then_some(LogicalType::String))
                .build()
                .map_err(err)?;
            fields.push(Arc::new(t));
        }
        let schema = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .map_err(err)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("folio {}", env!("CARGO_PKG_VERSION")))
            .build();
        let mut w = SerializedFileWriter::new(Vec::new(), Arc::new(schema), Arc::new(props))
            .map_err(err)?;
        // Pass 2: a row group at a time, each written out as it closes.
        let fresh = |all: &[(String, Kind)]| -> Vec<(Values, Vec<i16>)> {
            all.iter()
                .map(|(_, k)| {
                    let v = match k {
                        Kind::Int64 => Values::Int64(Vec::new()),
                        Kind::Double => Values::Double(Vec::new()),
                        Kind::Bool => Values::Bool(Vec::new()),
                        Kind::Utf8 => Values::Utf8(Vec::new(), Vec::new()),
                    };
                    (v, Vec::new())
                })
                .collect()
        };
        let mut group = fresh(&all);
        let mut in_group = 0usize;
        let mut written = 0u64;
        let flush = |group: &mut Vec<(Values, Vec<i16>)>,
                     w: &mut SerializedFileWriter<Vec<u8>>,
                     out: &mut dyn Write|
         -> Result<(), RepoError> {
            let mut rg = w.next_row_group().map_err(err)?;
            let mut cols = group.iter_mut();
            while let Some(mut col) = rg.next_column().map_err(err)? {
                let (values, defs) = cols.next().ok_or_else(|| err("a column too many"))?;
                let defs = Some(defs.as_slice());
                match values {
                    Values::Int64(v) => col.typed::<Int64Type>().write_batch(v, defs, None),
                    Values::Double(v) => col.typed::<DoubleType>().write_batch(v, defs, None),
                    Values::Bool(v) => col.typed::<BoolType>().write_batch(v, defs, None),
                    Values::Utf8(buf, ends) => {
                        let all = bytes::Bytes::from(std::mem::take(buf));
                        let mut at = 0;
                        let v: Vec<ByteArray> = ends
                            .iter()
                            .map(|&end| {
                                let b = ByteArray::from(all.slice(at..end));
                                at = end;
                                b
                            })
                            .collect();
                        col.typed::<ByteArrayType>().write_batch(&v, defs, None)
                    }
                }
                .map_err(err)?;
                col.close().map_err(err)?;
            }
            rg.close().map_err(err)?;
            w.flush().map_err(io)?;
            let bytes = w.inner_mut();
            out.write_all(bytes).map_err(io)?;
            bytes.clear();
            for (v, d) in group.iter_mut() {
                d.clear();
                match v {
                    Values::Int64(x) => x.clear(),
                    Values::Double(x) => x.clear(),
                    Values::Bool(x) => x.clear(),
                    Values::Utf8(x, ends) => {
                        x.clear();
                        ends.clear();
                    }
                }
            }
            Ok(())
        };
        let push = |slot: &mut (Values, Vec<i16>), cell: &CellRef<'_>| -> Result<(), RepoError> {
            if *cell == CellRef::Null {
                slot.1.push(0);
                return Ok(());
            }
            slot.1.push(1);
            let (t, _) = text(cell);
            let bad = || err(format!("'{t}' does not fit its column's type"));
            match &mut slot.0 {
                Values::Int64(v) => v.push(t.parse().map_err(|_| bad())?),
                Values::Double(v) => v.push(t.parse().map_err(|_| bad())?),
                Values::Bool(v) => v.push(t == "true"),
                Values::Utf8(buf, ends) => {
                    buf.extend_from_slice(t.as_bytes());
                    ends.push(buf.len());
                }
            }
            Ok(())
        };
        rows.each(&mut |id, cells, count| {
            let extra = ledger.map(|l| l(id));
            for _ in 0..count {
                for (slot, cell) in group.iter_mut().zip(cells) {
                    push(slot, cell)?;
                }
                if let Some((label, conf)) = &extra {
                    let n = cells.len();
                    let label = label.as_deref().map_or(CellRef::Null, CellRef::Text);
                    let conf = conf.as_deref().map_or(CellRef::Null, CellRef::Text);
                    push(&mut group[n], &label)?;
                    push(&mut group[n + 1], &conf)?;
                }
                in_group += 1;
                written += 1;
                if in_group == ROW_GROUP {
                    flush(&mut group, &mut w, out)?;
                    in_group = 0;
                }
            }
            Ok(())
        })?;
        if in_group > 0 || written == 0 {
            flush(&mut group, &mut w, out)?;
        }
        let tail = w.into_inner().map_err(err)?;
        out.write_all(&tail).map_err(io)?;
        Ok((written, flattened))
    }
}

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
