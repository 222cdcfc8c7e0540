//! Parquet tables, read row by row through the `parquet` crate's record
//! API (no Arrow). Cells are the text a CSV of the same data holds, so the
//! same rows in CSV and Parquet have the same identities (docs/FORMAT.md,
//! "Parquet tables"):
//!
//! - integers and floats as decimal text (floats shortest round-trip),
//!   booleans `true`/`false`, strings as they are (an empty string is an
//!   empty string, distinct from null);
//! - decimals exactly (`12.30` for scale 2), dates `YYYY-MM-DD`, times and
//!   timestamps RFC 3339 with the unit's digits (`Z` when UTC-adjusted);
//! - binary as lowercase hex; lists, structs and maps as canonical JSON
//!   (sorted keys).
//!
//! Every column's type is checked against what the reader can convert
//! before a row is read: anything else is a clear error naming the file and
//! the column, never a panic.

use std::fs::File;

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as Physical};
use parquet::data_type::Decimal;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use parquet::schema::types::ColumnDescriptor;

use super::read::{RowSink, State, Work};
use super::{Cell, TableError};

/// How a top-level 64-bit integer column is shown, when its logical type
/// says more than the record reader does.
#[derive(Clone, Copy)]
enum Int64As {
    Plain,
    Timestamp { unit: Unit, utc: bool },
    Time(Unit),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Millis,
    Micros,
    Nanos,
}

fn unit(u: &TimeUnit) -> Unit {
    match u {
        TimeUnit::MILLIS => Unit::Millis,
        TimeUnit::MICROS => Unit::Micros,
        TimeUnit::NANOS => Unit::Nanos,
    }
}

thread_local! {
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True on a thread decoding a Parquet file: the `parquet` crate panics on
/// some damaged inputs (an assertion in its bit reader), which folio turns
/// into an error naming the file. A program's panic hook can stay quiet
/// while this is true.
pub fn decoding_untrusted() -> bool {
    GUARDED.with(std::cell::Cell::get)
}

/// Runs `f` (a call into the `parquet` crate) with its panics turned into
/// an error naming the file. Only the crate's own calls are guarded: a
/// panic in folio's code is a bug and stays one.
fn guarded<T>(path: &std::path::Path, f: impl FnOnce() -> T) -> Result<T, TableError> {
    GUARDED.with(|g| g.set(true));
    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(false));
    res.map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no detail".into());
        TableError::Unreadable {
            path: path.to_path_buf(),
            reason: format!(
                "damaged Parquet data: the reader stopped ({why}); re-export the file from its source"
            ),
        }
    })
}

/// BLAKE3 of everything `f` holds, read at offsets (its position is left
/// alone).
fn hash_handle(f: &File) -> std::io::Result<crate::id::ObjectId> {
    use std::os::unix::fs::FileExt;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut at = 0u64;
    loop {
        let n = f.read_at(&mut buf, at)?;
        if n == 0 {
            return Ok(h.finalize().into());
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
}

/// Files up to this size are parsed from memory: the page readers then
/// read a damaged header from a buffer, not a system call per byte (a
/// 4.8 KB fuzzed file took 23 s from the file, D80), and the bytes hashed
/// are exactly the bytes parsed.
const IN_MEMORY: u64 = 64 << 20;

/// Opens a Parquet file, refusing an encrypted one; its length.
fn open(st: &State<'_>) -> Result<(File, u64), TableError> {
    let file = File::open(st.path).map_err(|e| st.io(e))?;
    if is_encrypted(&file) {
        return Err(TableError::Unreadable {
            path: st.path.to_path_buf(),
            reason: "an encrypted Parquet file (its footer is encrypted): folio does not read Parquet encryption; decrypt it first (e.g. with pyarrow and its key)".into(),
        });
    }
    let len = file.metadata().map_err(|e| st.io(e))?.len();
    Ok((file, len))
}

/// A small file's bytes, checked against the hash expected.
fn in_memory(st: &State<'_>, mut file: File, len: u64) -> Result<bytes::Bytes, TableError> {
    use std::io::Read as _;
    let mut bytes = Vec::with_capacity(len as usize);
    file.read_to_end(&mut bytes).map_err(|e| st.io(e))?;
    if let Some(want) = st.expect
        && crate::id::ObjectId::of(&bytes) != want
    {
        return Err(TableError::Changed {
            path: st.path.to_path_buf(),
        });
    }
    Ok(bytes::Bytes::from(bytes))
}

/// Checks that the open file `f` holds the bytes expected (after parsing:
/// a rename over the path meanwhile does not change what it reads).
fn check_handle(st: &State<'_>, f: &File) -> Result<(), TableError> {
    if let Some(want) = st.expect {
        let got = hash_handle(f).map_err(|e| st.io(e))?;
        if got != want {
            return Err(TableError::Changed {
                path: st.path.to_path_buf(),
            });
        }
    }
    Ok(())
}

pub(super) fn read(st: &mut State<'_>, sink: &mut dyn RowSink) -> Result<(), TableError> {
    let path = st.path.to_path_buf();
    let (file, len) = open(st)?;
    if len <= IN_MEMORY {
        let bytes = in_memory(st, file, len)?;
        return parse(st, sink, &path, bytes);
    }
    // The same open file, to hash what was parsed.
    let same = file.try_clone().map_err(|e| st.io(e))?;
    parse(st, sink, &path, file)?;
    check_handle(st, &same)
}

/// The file's reader, its columns checked, and how each top-level field's
/// 64-bit integers read, in the order a row lists its fields (a
/// nanosecond timestamp has no converted type: the record reader sees a
/// number).
fn open_reader<R: parquet::file::reader::ChunkReader + 'static>(
    path: &std::path::Path,
    r: R,
) -> Result<(SerializedFileReader<R>, Vec<Int64As>), TableError> {
    let unreadable = |reason: String| TableError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let reader = guarded(path, || SerializedFileReader::new(r))?.map_err(|e| {
        unreadable(format!(
            "not a Parquet file folio can read ({e}); check it with `parquet-tools` or re-export it"
        ))
    })?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    for c in schema.columns() {
        check_column(c).map_err(|why| {
            unreadable(format!(
                "column '{}': {why}; cast it to a supported type before committing",
                c.path()
            ))
        })?;
    }
    let hows: Vec<Int64As> = schema
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| match f.get_basic_info().logical_type_ref() {
            Some(LogicalType::Timestamp(t)) if f.is_primitive() => Int64As::Timestamp {
                unit: unit(&t.unit),
                utc: t.is_adjusted_to_u_t_c,
            },
            Some(LogicalType::Time(t)) if f.is_primitive() => Int64As::Time(unit(&t.unit)),
            _ => Int64As::Plain,
        })
        .collect();
    Ok((reader, hows))
}

/// A row's cells (`column` numbers a column, given its name and place in
/// the row); the reason when a value cannot be read.
fn row_cells(
    row: &parquet::record::Row,
    hows: &[Int64As],
    cells: &mut Vec<Cell>,
    column: &mut dyn FnMut(&str, usize) -> usize,
) -> Option<String> {
    cells.clear();
    for (k, (name, field)) in row.get_column_iter().enumerate() {
        let at = column(name, k);
        if cells.len() <= at {
            cells.resize(at + 1, Cell::Null);
        }
        let how = hows.get(k).copied().unwrap_or(Int64As::Plain);
        match cell(field, how) {
            Ok(c) => cells[at] = c,
            Err(why) => return Some(format!("column '{name}': {why}")),
        }
    }
    None
}

/// Reads the rows of the Parquet file `r` holds.
fn parse<R: parquet::file::reader::ChunkReader + 'static>(
    st: &mut State<'_>,
    sink: &mut dyn RowSink,
    path: &std::path::Path,
    r: R,
) -> Result<(), TableError> {
    let unreadable = |reason: String| TableError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let (reader, hows) = open_reader(path, r)?;
    let mut rows = guarded(path, || reader.get_row_iter(None))?
        .map_err(|e| unreadable(format!("cannot read its rows ({e})")))?;
    let mut cells: Vec<Cell> = Vec::new();
    let mut line = 0u64;
    while let Some(row) = guarded(path, || rows.next())? {
        line += 1;
        let row = row.map_err(|e| unreadable(format!("row {line}: cannot be read ({e})")))?;
        match row_cells(&row, &hows, &mut cells, &mut |name, _| st.column(name)) {
            // Rejected (lenient) or an error: the row is not handed on.
            Some(reason) => st.reject(line, reason)?,
            None => st.accept(line, &cells, sink)?,
        }
    }
    Ok(())
}

/// A file read at offsets, so readers on several threads do not share a
/// position (a `File`'s clones do).
#[derive(Clone)]
struct At(std::sync::Arc<File>);

/// A reader of [`At`] from an offset.
struct AtRead {
    f: std::sync::Arc<File>,
    at: u64,
}

impl std::io::Read for AtRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.f.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

impl parquet::file::reader::Length for At {
    fn len(&self) -> u64 {
        self.0.metadata().map_or(0, |m| m.len())
    }
}

impl parquet::file::reader::ChunkReader for At {
    type T = std::io::BufReader<AtRead>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(std::io::BufReader::with_capacity(
            1 << 16,
            AtRead {
                f: std::sync::Arc::clone(&self.0),
                at: start,
            },
        ))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        use std::os::unix::fs::FileExt;
        let mut v = vec![0u8; length];
        self.0
            .read_exact_at(&mut v, start)
            .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))?;
        Ok(v.into())
    }
}

/// [`read`] on as many threads as `sinks`, by row group: each worker opens
/// its own reader on the same bytes (a small file's, in memory; a large
/// one's, read at offsets from the one open file) and takes the next row
/// group not taken. Rows are numbered as one thread numbers them (row
/// groups' row counts from the footer); the first bad row's error wins.
pub(super) fn read_parallel<'a, S: RowSink + Send>(
    st: &mut State<'a>,
    sinks: &mut [S],
) -> Result<Vec<Work<'a>>, TableError> {
    let path = st.path.to_path_buf();
    let (file, len) = open(st)?;
    if len <= IN_MEMORY {
        let bytes = in_memory(st, file, len)?;
        return parse_parallel(st, sinks, &path, bytes);
    }
    let f = std::sync::Arc::new(file);
    let works = parse_parallel(st, sinks, &path, At(std::sync::Arc::clone(&f)))?;
    check_handle(st, &f)?;
    Ok(works)
}

/// A guarded call's outcome as one result: the reader's own error said
/// by `said`.
fn flat<T>(
    r: Result<parquet::errors::Result<T>, TableError>,
    said: &dyn Fn(&dyn std::fmt::Display) -> TableError,
) -> Result<T, TableError> {
    r?.map_err(|e| said(&e))
}

fn parse_parallel<
    'a,
    S: RowSink + Send,
    R: parquet::file::reader::ChunkReader + Clone + 'static,
>(
    st: &State<'a>,
    sinks: &mut [S],
    path: &std::path::Path,
    r: R,
) -> Result<Vec<Work<'a>>, TableError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let unreadable = |reason: String| TableError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let (reader, hows) = open_reader(path, r.clone())?;
    // The line of each row group's first row, less one.
    let mut bases = Vec::new();
    let mut n = 0u64;
    for g in reader.metadata().row_groups() {
        bases.push(n);
        n += u64::try_from(g.num_rows()).unwrap_or(0);
    }
    drop(reader);
    let next = AtomicUsize::new(0);
    let failures = super::read::Failures::new();
    let fail = |line: u64, e: TableError| failures.fail(line, e);
    let works: Vec<Work<'a>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sinks
            .iter_mut()
            .map(|sink| {
                let (r, hows, bases, next, failures, fail, unreadable) = (
                    r.clone(),
                    &hows,
                    &bases,
                    &next,
                    &failures,
                    &fail,
                    &unreadable,
                );
                scope.spawn(move || {
                    let mut w = Work::new(st, &[]);
                    let reader = match open_reader(path, r) {
                        Ok((reader, _)) => reader,
                        Err(e) => {
                            fail(1, e);
                            return w;
                        }
                    };
                    let mut cells: Vec<Cell> = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&base) = bases.get(i) else { break };
                        if failures.past(base + 1) {
                            continue;
                        }
                        let cannot = |line: u64, e: &dyn std::fmt::Display| {
                            unreadable(format!("row {line}: cannot be read ({e})"))
                        };
                        let first = |e: &dyn std::fmt::Display| cannot(base + 1, e);
                        let group = match flat(guarded(path, || reader.get_row_group(i)), &first) {
                            Ok(g) => g,
                            Err(e) => {
                                fail(base + 1, e);
                                continue;
                            }
                        };
                        let mut rows =
                            match flat(guarded(path, || group.get_row_iter(None)), &first) {
                                Ok(it) => it,
                                Err(e) => {
                                    fail(base + 1, e);
                                    continue;
                                }
                            };
                        let mut line = base;
                        loop {
                            let row = match guarded(path, || rows.next()) {
                                Ok(Some(Ok(row))) => row,
                                Ok(None) => break,
                                Ok(Some(Err(e))) => {
                                    fail(line + 1, cannot(line + 1, &e));
                                    break;
                                }
                                Err(e) => {
                                    fail(line + 1, e);
                                    break;
                                }
                            };
                            line += 1;
                            let bad = row_cells(&row, hows, &mut cells, &mut |name, at| {
                                super::read::column_at(&mut w.st, &mut w.first_seen, name, line, at)
                            });
                            let done = match bad {
                                Some(reason) => w.st.reject(line, reason),
                                None => w.st.accept(line, &cells, &mut *sink),
                            };
                            if let Err(e) = done {
                                fail(line, e);
                                break;
                            }
                        }
                    }
                    w
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a parse worker panicked"))
            .collect()
    });
    failures.into_result()?;
    Ok(works)
}

/// True when the file ends with the magic of an encrypted footer.
fn is_encrypted(f: &File) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return false;
    };
    let mut tail = [0u8; 4];
    len >= 4 && f.read_exact_at(&mut tail, len - 4).is_ok() && &tail == b"PARE"
}

/// The (physical, converted) types the record reader converts; it panics
/// on others, so they are refused first.
fn check_column(c: &ColumnDescriptor) -> Result<(), String> {
    use ConvertedType as C;
    let conv = c.converted_type();
    let ok = match c.physical_type() {
        Physical::BOOLEAN | Physical::INT96 | Physical::FLOAT | Physical::DOUBLE => true,
        Physical::INT32 => matches!(
            conv,
            C::NONE
                | C::INT_8
                | C::INT_16
                | C::INT_32
                | C::UINT_8
                | C::UINT_16
                | C::UINT_32
                | C::DATE
                | C::TIME_MILLIS
                | C::DECIMAL
        ),
        Physical::INT64 => matches!(
            conv,
            C::NONE
                | C::INT_64
                | C::UINT_64
                | C::TIME_MICROS
                | C::TIMESTAMP_MILLIS
                | C::TIMESTAMP_MICROS
                | C::DECIMAL
        ),
        Physical::BYTE_ARRAY => matches!(
            conv,
            C::NONE | C::UTF8 | C::ENUM | C::JSON | C::BSON | C::DECIMAL
        ),
        Physical::FIXED_LEN_BYTE_ARRAY => matches!(conv, C::NONE | C::DECIMAL),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "physical type {} with converted type {} is not a type folio reads",
            c.physical_type(),
            conv
        ))
    }
}

/// One value as a cell.
fn cell(f: &Field, how: Int64As) -> Result<Cell, String> {
    Ok(match (f, how) {
        (Field::Null, _) => Cell::Null,
        (Field::Str(s), _) => Cell::Text(s.clone()),
        (Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_), _) => {
            Cell::Json(json(f)?.to_string())
        }
        // The unit and zone come from the column's logical type.
        (
            Field::Long(v) | Field::TimestampMillis(v) | Field::TimestampMicros(v),
            Int64As::Timestamp { unit, utc },
        ) => Cell::Text(timestamp(*v, unit, utc)?),
        (Field::Long(v), Int64As::Time(unit)) => Cell::Text(time_of_day(*v, unit)?),
        (other, _) => Cell::Text(scalar(other)?),
    })
}

/// A scalar as the text a CSV holds.
fn scalar(f: &Field) -> Result<String, String> {
    Ok(match f {
        Field::Bool(b) => b.to_string(),
        Field::Byte(v) => v.to_string(),
        Field::Short(v) => v.to_string(),
        Field::Int(v) => v.to_string(),
        Field::Long(v) => v.to_string(),
        Field::UByte(v) => v.to_string(),
        Field::UShort(v) => v.to_string(),
        Field::UInt(v) => v.to_string(),
        Field::ULong(v) => v.to_string(),
        Field::Float16(v) => f32::from(*v).to_string(),
        Field::Float(v) => v.to_string(),
        Field::Double(v) => v.to_string(),
        Field::Decimal(d) => decimal(d)?,
        Field::Str(s) => s.clone(),
        Field::Bytes(b) => hex(b.data()),
        Field::Date(days) => chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
            .ok_or_else(|| format!("date {days} (days since 1970) is out of range"))?
            .format("%Y-%m-%d")
            .to_string(),
        Field::TimeMillis(ms) => time_of_day(i64::from(*ms), Unit::Millis)?,
        Field::TimeMicros(us) => time_of_day(*us, Unit::Micros)?,
        Field::TimestampMillis(ms) => timestamp(*ms, Unit::Millis, true)?,
        Field::TimestampMicros(us) => timestamp(*us, Unit::Micros, true)?,
        Field::Null => String::new(),
        Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_) => json(f)?.to_string(),
    })
}

/// A decimal exactly: the unscaled big-endian integer, then the point.
fn decimal(d: &Decimal) -> Result<String, String> {
    let bytes = d.data();
    if bytes.is_empty() || bytes.len() > 16 {
        return Err(format!(
            "a decimal of {} bytes is beyond 38 digits",
            bytes.len()
        ));
    }
    let negative = bytes[0] & 0x80 != 0;
    let mut v: i128 = if negative { -1 } else { 0 };
    for b in bytes {
        v = (v << 8) | i128::from(*b);
    }
    let scale = d.scale();
    let digits = v.unsigned_abs().to_string();
    let sign = if v < 0 { "-" } else { "" };
    if scale <= 0 {
        let zeros = "0".repeat(scale.unsigned_abs() as usize);
        return Ok(format!(
            "{sign}{digits}{}",
            if v == 0 { "" } else { &zeros }
        ));
    }
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    Ok(format!("{sign}{int}.{frac}"))
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn split(v: i64, unit: Unit) -> (i64, u32, usize) {
    let per = match unit {
        Unit::Millis => 1_000,
        Unit::Micros => 1_000_000,
        Unit::Nanos => 1_000_000_000,
    };
    let digits = match unit {
        Unit::Millis => 3,
        Unit::Micros => 6,
        Unit::Nanos => 9,
    };
    let secs = v.div_euclid(per);
    let frac = v.rem_euclid(per);
    let nanos = (frac * (1_000_000_000 / per)) as u32;
    (secs, nanos, digits)
}

/// RFC 3339 with the unit's digits; `Z` when adjusted to UTC, no zone
/// (a local date-time) otherwise.
fn timestamp(v: i64, unit: Unit, utc: bool) -> Result<String, String> {
    let (secs, nanos, digits) = split(v, unit);
    let t = chrono::DateTime::from_timestamp(secs, nanos)
        .ok_or_else(|| format!("timestamp {v} is out of range"))?
        .naive_utc();
    let frac = format!("{:09}", nanos);
    Ok(format!(
        "{}.{}{}",
        t.format("%Y-%m-%dT%H:%M:%S"),
        &frac[..digits],
        if utc { "Z" } else { "" }
    ))
}

fn time_of_day(v: i64, unit: Unit) -> Result<String, String> {
    let (secs, nanos, digits) = split(v, unit);
    if !(0..86_400).contains(&secs) {
        return Err(format!("time of day {v} is out of range"));
    }
    let frac = format!("{:09}", nanos);
    Ok(format!(
        "{:02}:{:02}:{:02}.{}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        &frac[..digits]
    ))
}

/// A nested value as JSON (objects keep sorted keys: canonical).
fn json(f: &Field) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match f {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(_)
        | Field::Short(_)
        | Field::Int(_)
        | Field::Long(_)
        | Field::UByte(_)
        | Field::UShort(_)
        | Field::UInt(_)
        | Field::ULong(_) => serde_json::from_str(&scalar(f)?).map_err(|e| e.to_string())?,
        Field::Float16(_) | Field::Float(_) | Field::Double(_) => {
            let text = scalar(f)?;
            match text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Value::Number(n),
                None => Value::String(text), // NaN and infinities
            }
        }
        Field::Group(row) => {
            let mut m = serde_json::Map::new();
            for (k, v) in row.get_column_iter() {
                m.insert(k.clone(), json(v)?);
            }
            Value::Object(m)
        }
        Field::ListInternal(list) => {
            Value::Array(list.elements().iter().map(json).collect::<Result<_, _>>()?)
        }
        Field::MapInternal(map) => {
            // Keys as text, so any key type makes an object.
            let mut m = serde_json::Map::new();
            for (k, v) in map.entries() {
                let key = match k {
                    Field::Str(s) => s.clone(),
                    other => scalar(other)?,
                };
                m.insert(key, json(v)?);
            }
            Value::Object(m)
        }
        other => Value::String(scalar(other)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Format, TableError, read_table, read_text_rows};
    use std::collections::{BTreeSet, HashMap};
    use std::path::{Path, PathBuf};

    /// Fixtures and their expectations, written by testdata/parquet/make.py.
    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/parquet")
            .join(name)
    }

    #[test]
    fn every_type_reads_as_the_script_computed() {
        let rows = read_text_rows(&fixture("types.parquet"), Format::Parquet).expect("read");
        let expected: Vec<HashMap<String, String>> = serde_json::from_str(
            &std::fs::read_to_string(fixture("types.expected.json")).expect("expected"),
        )
        .expect("json");
        let got: Vec<HashMap<String, String>> = rows.into_iter().map(|r| r.1).collect();
        assert_eq!(got, expected);
    }

    /// Row identities by content, as a commit computes them.
    fn identities(path: &Path, format: Format) -> BTreeSet<[u8; 32]> {
        struct Ids(BTreeSet<[u8; 32]>);
        impl crate::table::RowSink for Ids {
            fn row(
                &mut self,
                _: u64,
                columns: &[String],
                cells: &[Cell],
            ) -> Result<(), TableError> {
                let mut pairs: Vec<(&str, &Cell)> = columns
                    .iter()
                    .map(String::as_str)
                    .zip(cells)
                    .filter(|(_, c)| **c != Cell::Null)
                    .collect();
                self.0
                    .insert(crate::table::row_hash(&crate::table::encode_row(
                        &mut pairs,
                    )));
                Ok(())
            }
        }
        let mut ids = Ids(BTreeSet::new());
        read_table(path, format, &Default::default(), false, &mut ids).expect("read");
        ids.0
    }

    #[test]
    fn the_same_rows_in_csv_and_parquet_are_the_same_examples() {
        let csv = identities(&fixture("same.csv"), Format::Csv);
        let parquet = identities(&fixture("same.parquet"), Format::Parquet);
        assert_eq!(csv.len(), 40);
        assert_eq!(csv, parquet);
    }

    #[test]
    fn damaged_and_encrypted_files_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = std::fs::read(fixture("types.parquet")).expect("read");
        let path = dir.path().join("t.parquet");
        // Encrypted footers end in PARE instead of PAR1.
        let mut enc = good.clone();
        let n = enc.len();
        enc[n - 4..].copy_from_slice(b"PARE");
        std::fs::write(&path, &enc).expect("write");
        let err = read_text_rows(&path, Format::Parquet).expect_err("encrypted");
        assert!(err.to_string().contains("encrypted"), "{err}");
        assert!(err.to_string().contains("t.parquet"), "{err}");
        // Truncated anywhere, or a byte flipped anywhere: an error or
        // (when the flip lands in unused bytes or a value) rows; never a
        // panic.
        for cut in (0..good.len()).step_by(97) {
            std::fs::write(&path, &good[..cut]).expect("write");
            assert!(
                read_text_rows(&path, Format::Parquet).is_err(),
                "cut at {cut}"
            );
        }
        for at in (0..good.len()).step_by(13) {
            let mut bad = good.clone();
            bad[at] ^= 0x5a;
            std::fs::write(&path, &bad).expect("write");
            if let Err(e) = read_text_rows(&path, Format::Parquet) {
                assert!(e.to_string().contains("t.parquet"), "{e}");
            }
        }
    }

    #[test]
    fn decimals_are_exact() {
        let d = |v: i64, scale: i32| decimal(&Decimal::from_i64(v, 18, scale)).expect("decimal");
        assert_eq!(d(1230, 2), "12.30");
        assert_eq!(d(-5, 3), "-0.005");
        assert_eq!(d(0, 2), "0.00");
        assert_eq!(d(7, 0), "7");
        assert_eq!(d(-120, 1), "-12.0");
    }

    #[test]
    fn times_keep_their_unit_and_zone() {
        // 2026-01-15T10:00:00.123456Z in microseconds, computed by hand:
        // 20,468 days * 86,400 s + 36,000 s.
        let us = (20_468i64 * 86_400 + 36_000) * 1_000_000 + 123_456;
        assert_eq!(
            timestamp(us, Unit::Micros, true).expect("ts"),
            "2026-01-15T10:00:00.123456Z"
        );
        assert_eq!(
            timestamp(us * 1000 + 789, Unit::Nanos, false).expect("ts"),
            "2026-01-15T10:00:00.123456789"
        );
        assert_eq!(
            timestamp(-1, Unit::Millis, true).expect("ts"),
            "1969-12-31T23:59:59.999Z"
        );
        assert_eq!(
            time_of_day(3_723_004, Unit::Millis).expect("t"),
            "01:02:03.004"
        );
        assert!(time_of_day(86_400_000, Unit::Millis).is_err());
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
    }
}
