//! Parquet out, through the `parquet` crate's column writers (no Arrow):
//! typed columns where every value reads back as the same text.

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
    let mut all: Vec<(String, Kind)> = columns.iter().cloned().zip(kinds.iter().copied()).collect();
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
    let mut w =
        SerializedFileWriter::new(Vec::new(), Arc::new(schema), Arc::new(props)).map_err(err)?;
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
