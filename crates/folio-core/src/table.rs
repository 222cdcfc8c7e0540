//! Tables as datasets of examples: streaming CSV, TSV and JSON Lines
//! readers, schema inference, canonical row encoding and row identity.
//!
//! Each row is an example. Its *identity* is the value of the table's key
//! columns when it has a key, otherwise the hash of its canonical content.
//! Its *content hash* is the BLAKE3 hash of its canonical encoding
//! (docs/FORMAT.md), which does not depend on quoting, JSON key order or
//! line endings.

pub mod chunkset;
pub mod manifest;
pub mod merge;
#[cfg(feature = "parquet")]
mod parquet;
pub mod spill;
#[cfg(not(feature = "parquet"))]
mod parquet {
    //! Built without the `parquet` feature: Parquet tables are refused.

    /// Never: nothing decodes Parquet.
    pub fn decoding_untrusted() -> bool {
        false
    }
    use super::TableError;
    use super::read::{RowSink, State};

    fn unsupported(st: &State<'_>) -> TableError {
        TableError::Unreadable {
            path: st.path.to_path_buf(),
            reason: "this folio was built without Parquet support (cargo feature `parquet`)".into(),
        }
    }

    pub(super) fn read(st: &mut State<'_>, _sink: &mut dyn RowSink) -> Result<(), TableError> {
        Err(unsupported(st))
    }

    pub(super) fn read_parallel<'a, S: RowSink + Send>(
        st: &mut State<'a>,
        _sinks: &mut [S],
    ) -> Result<Vec<super::read::Work<'a>>, TableError> {
        Err(unsupported(st))
    }
}
mod read;

use crate::error::ErrorKind;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use parquet::decoding_untrusted;
pub use read::{RowSink, read_parallel, read_table, read_table_checked};

/// One row as text: its line, and column → value (null cells left out).
pub type TextRow = (u64, std::collections::HashMap<String, String>);

/// The rows of a small table as text. For metadata and annotation files,
/// which are read whole.
pub fn read_text_rows(path: &Path, format: Format) -> Result<Vec<TextRow>, TableError> {
    struct Rows(Vec<TextRow>);
    impl RowSink for Rows {
        fn row(&mut self, line: u64, columns: &[String], cells: &[Cell]) -> Result<(), TableError> {
            let map = columns
                .iter()
                .zip(cells)
                .filter(|(_, c)| **c != Cell::Null)
                .map(|(n, c)| (n.clone(), c.display()))
                .collect();
            self.0.push((line, map));
            Ok(())
        }
    }
    let mut rows = Rows(Vec::new());
    read_table(path, format, &Default::default(), false, &mut rows)?;
    Ok(rows.0)
}

/// A table file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// Tab-separated values with a header row.
    Tsv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet (read; docs/FORMAT.md, "Parquet tables").
    Parquet,
}

impl Format {
    /// The format a file name's extension implies, if any.
    pub fn from_path(path: &str) -> Option<Format> {
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "tsv" | "tab" => Some(Format::Tsv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            Format::Csv => 1,
            Format::Tsv => 2,
            Format::Jsonl => 3,
            Format::Parquet => 4,
        }
    }

    fn from_code(c: u8) -> Option<Format> {
        match c {
            1 => Some(Format::Csv),
            2 => Some(Format::Tsv),
            3 => Some(Format::Jsonl),
            4 => Some(Format::Parquet),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

/// A column's type, inferred from the data or declared in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Every value is null.
    Null,
    /// Whole numbers that fit in 64 bits.
    Integer,
    /// Numbers.
    Float,
    /// `true` / `false`.
    Boolean,
    /// Text (and nested JSON, kept as canonical JSON text).
    String,
    /// Declared: values are category labels, whatever they look like.
    Categorical,
}

impl ColumnType {
    fn code(self) -> u8 {
        match self {
            ColumnType::Null => 0,
            ColumnType::Integer => 1,
            ColumnType::Float => 2,
            ColumnType::Boolean => 3,
            ColumnType::String => 4,
            ColumnType::Categorical => 5,
        }
    }

    fn from_code(c: u8) -> Option<ColumnType> {
        Some(match c {
            0 => ColumnType::Null,
            1 => ColumnType::Integer,
            2 => ColumnType::Float,
            3 => ColumnType::Boolean,
            4 => ColumnType::String,
            5 => ColumnType::Categorical,
            _ => return None,
        })
    }

    /// The narrowest type that holds values of both.
    pub fn join(self, other: ColumnType) -> ColumnType {
        use ColumnType::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Null, x) | (x, Null) => x,
            (Integer, Float) | (Float, Integer) => Float,
            _ => String,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Null => "null",
            ColumnType::Integer => "integer",
            ColumnType::Float => "float",
            ColumnType::Boolean => "boolean",
            ColumnType::String => "string",
            ColumnType::Categorical => "categorical",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One cell value. CSV and TSV cells are text (an empty cell is null);
/// JSON values keep their JSON type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Missing or null.
    Null,
    /// Text.
    Text(String),
    /// A JSON number, as its canonical JSON text.
    Number(String),
    /// A JSON boolean.
    Bool(bool),
    /// A nested JSON array or object, as canonical JSON text (sorted keys).
    Json(String),
}

impl Cell {
    fn tag(&self) -> u8 {
        match self {
            Cell::Null => 0,
            Cell::Text(_) => 1,
            Cell::Number(_) => 2,
            Cell::Bool(_) => 3,
            Cell::Json(_) => 4,
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Cell::Null => b"",
            Cell::Text(s) | Cell::Number(s) | Cell::Json(s) => s.as_bytes(),
            Cell::Bool(true) => b"true",
            Cell::Bool(false) => b"false",
        }
    }

    /// The type this one value suggests.
    pub fn infer(&self) -> ColumnType {
        match self {
            Cell::Null => ColumnType::Null,
            Cell::Bool(_) => ColumnType::Boolean,
            Cell::Number(n) => {
                if n.parse::<i64>().is_ok() {
                    ColumnType::Integer
                } else {
                    ColumnType::Float
                }
            }
            Cell::Json(_) => ColumnType::String,
            Cell::Text(t) => {
                if t.parse::<i64>().is_ok() {
                    ColumnType::Integer
                } else if t.parse::<f64>().is_ok() {
                    ColumnType::Float
                } else if t == "true" || t == "false" {
                    ColumnType::Boolean
                } else {
                    ColumnType::String
                }
            }
        }
    }

    /// True when the value fits a declared type.
    pub fn fits(&self, ty: ColumnType) -> bool {
        match (self, ty) {
            (Cell::Null, _) => true,
            (_, ColumnType::String | ColumnType::Categorical) => true,
            (_, ColumnType::Null) => false,
            (c, ColumnType::Float) => matches!(c.infer(), ColumnType::Integer | ColumnType::Float),
            (c, t) => c.infer() == t,
        }
    }

    /// The value as text, for display (`null` for null).
    pub fn display(&self) -> String {
        match self {
            Cell::Null => "null".into(),
            Cell::Text(s) => s.clone(),
            other => String::from_utf8_lossy(other.bytes()).into_owned(),
        }
    }
}

/// Errors reading a table. Every one names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A row cannot be parsed or breaks a declared type.
    #[error("{}:{line}: {reason}", path.display())]
    BadRow {
        /// The file.
        path: PathBuf,
        /// 1-based line where the row starts.
        line: u64,
        /// What is wrong (with the column, where one is to blame).
        reason: String,
    },
    /// Two rows share a key.
    #[error("{}: duplicate key {key} on lines {first} and {second}: keys must be unique (fix the data, or choose another key)", path.display())]
    DuplicateKey {
        /// The file.
        path: PathBuf,
        /// The key, displayed.
        key: String,
        /// Line of the first row with it.
        first: u64,
        /// Line of the second.
        second: u64,
    },
    /// Two rows in different shards of one table share a key (D91).
    #[error("duplicate key {key} in {}:{} and {}:{}: keys must be unique across the shards of a table (fix the data, or choose another key)", first.0.display(), first.1, second.0.display(), second.1)]
    DuplicateKeyAcross {
        /// The key, displayed.
        key: String,
        /// The file and line of the first row with it.
        first: (PathBuf, u64),
        /// The file and line of the second.
        second: (PathBuf, u64),
    },
    /// A key column the rows do not have.
    #[error("{}: key column '{column}' is not in the table (its columns: {columns})", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: String,
        /// The columns the table has.
        columns: String,
    },
    /// A file folio cannot read as a table (a damaged Parquet file, or a
    /// feature folio does not read).
    #[error("{}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A stored table object is damaged.
    #[error("table object {0}: malformed ({1})")]
    Corrupt(crate::id::ObjectId, String),
    /// A stored row chunk is encrypted and no identity opens it (D83).
    #[error("{1}")]
    Sealed(crate::id::ObjectId, String),
    /// The file's bytes as parsed are not the bytes the commit hashed: it
    /// changed while it was being committed.
    #[error("{}: the file changed while it was being committed (its bytes no longer hash to what was snapshotted): nothing was written; commit again once it is no longer being written", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
}

impl TableError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            TableError::Io { .. } => ErrorKind::Io,
            TableError::BadRow { .. }
            | TableError::DuplicateKey { .. }
            | TableError::DuplicateKeyAcross { .. }
            | TableError::UnknownKey { .. }
            | TableError::Unreadable { .. }
            | TableError::Changed { .. } => ErrorKind::Invalid,
            TableError::Corrupt(..) => ErrorKind::Damaged,
            TableError::Sealed(..) => ErrorKind::Invalid,
        }
    }
}

impl TableError {
    fn bad(path: &Path, line: u64, reason: impl Into<String>) -> Self {
        TableError::BadRow {
            path: path.to_path_buf(),
            line,
            reason: reason.into(),
        }
    }
}

/// First line of the bytes a row's content hash covers.
pub const ROW_TAG: &[u8] = b"folio-row 1\n";

/// Canonical encoding of a row: its non-null cells sorted by column name.
/// `cells` are (column name, value) pairs in any order.
pub fn encode_row(cells: &mut [(&str, &Cell)]) -> Vec<u8> {
    cells.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let n = cells.iter().filter(|c| *c.1 != Cell::Null).count();
    let mut out = Vec::with_capacity(8 + cells.len() * 16);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for (name, cell) in cells.iter().filter(|c| *c.1 != Cell::Null) {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        encode_cell(&mut out, cell);
    }
    out
}

fn encode_cell(out: &mut Vec<u8>, cell: &Cell) {
    out.push(cell.tag());
    let b = cell.bytes();
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// The content hash of an encoded row.
pub fn row_hash(body: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(ROW_TAG);
    h.update(body);
    *h.finalize().as_bytes()
}

/// Encodes key values (in key-column order) as a row identity.
pub fn encode_key(values: &[&Cell]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        encode_cell(&mut out, v);
    }
    out
}

/// Decodes an encoded row into (column, value) pairs.
pub fn decode_row(body: &[u8]) -> Option<Vec<(String, Cell)>> {
    let mut r = body;
    let n = take_u32(&mut r)?;
    // A cell takes at least 9 bytes: a forged count reserves no more.
    let mut out = Vec::with_capacity((n as usize).min(r.len() / 9));
    for _ in 0..n {
        let len = take_u32(&mut r)? as usize;
        let name = String::from_utf8(take(&mut r, len)?.to_vec()).ok()?;
        out.push((name, take_cell(&mut r)?));
    }
    r.is_empty().then_some(out)
}

/// Decodes a key identity into its values.
pub fn decode_key(ident: &[u8]) -> Option<Vec<Cell>> {
    let mut r = ident;
    let mut out = Vec::new();
    while !r.is_empty() {
        out.push(take_cell(&mut r)?);
    }
    Some(out)
}

/// A key identity for display: its values joined by `,` (`?` when it
/// does not decode).
pub fn display_key(ident: &[u8]) -> String {
    let mut s = String::new();
    write_key(ident, &mut s);
    s
}

/// Appends [`display_key`] of `ident` to `out`, read in place.
pub fn write_key(ident: &[u8], out: &mut String) {
    let start = out.len();
    let mut r = ident;
    let mut first = true;
    while !r.is_empty() {
        let Some(c) = take_cell_ref(&mut r) else {
            out.truncate(start);
            out.push('?');
            return;
        };
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(match c {
            CellRef::Null => "null",
            CellRef::Text(t) | CellRef::Number(t) | CellRef::Json(t) => t,
            CellRef::Bool(true) => "true",
            CellRef::Bool(false) => "false",
        });
    }
}

fn take<'a>(r: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if r.len() < n {
        return None;
    }
    let (a, b) = r.split_at(n);
    *r = b;
    Some(a)
}

fn take_u32(r: &mut &[u8]) -> Option<u32> {
    take(r, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

/// A cell borrowed from an encoded row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellRef<'a> {
    /// Missing or null.
    Null,
    /// Text.
    Text(&'a str),
    /// A JSON number's text.
    Number(&'a str),
    /// A JSON boolean.
    Bool(bool),
    /// Nested JSON text.
    Json(&'a str),
}

impl<'a> CellRef<'a> {
    /// The cell as the text a CSV of it holds (`true`/`false` for a
    /// boolean); `None` when null.
    pub fn text(self) -> Option<&'a str> {
        match self {
            CellRef::Null => None,
            CellRef::Text(t) | CellRef::Number(t) | CellRef::Json(t) => Some(t),
            CellRef::Bool(b) => Some(if b { "true" } else { "false" }),
        }
    }
}

impl Cell {
    /// The cell, borrowed.
    pub fn as_ref(&self) -> CellRef<'_> {
        match self {
            Cell::Null => CellRef::Null,
            Cell::Text(t) => CellRef::Text(t),
            Cell::Number(t) => CellRef::Number(t),
            Cell::Bool(b) => CellRef::Bool(*b),
            Cell::Json(t) => CellRef::Json(t),
        }
    }
}

/// Gives `f` each (column, value) of an encoded row without allocating;
/// `None` when the row does not decode.
pub fn visit_row<'a>(body: &'a [u8], f: &mut dyn FnMut(&'a str, CellRef<'a>)) -> Option<()> {
    let mut r = body;
    let n = take_u32(&mut r)?;
    for _ in 0..n {
        let len = take_u32(&mut r)? as usize;
        let name = std::str::from_utf8(take(&mut r, len)?).ok()?;
        let tag = *take(&mut r, 1)?.first()?;
        let len = take_u32(&mut r)? as usize;
        let text = std::str::from_utf8(take(&mut r, len)?).ok()?;
        let cell = match tag {
            0 => CellRef::Null,
            1 => CellRef::Text(text),
            2 => CellRef::Number(text),
            3 => CellRef::Bool(text == "true"),
            4 => CellRef::Json(text),
            _ => return None,
        };
        f(name, cell);
    }
    r.is_empty().then_some(())
}

fn take_cell(r: &mut &[u8]) -> Option<Cell> {
    Some(match take_cell_ref(r)? {
        CellRef::Null => Cell::Null,
        CellRef::Text(t) => Cell::Text(t.to_string()),
        CellRef::Number(t) => Cell::Number(t.to_string()),
        CellRef::Bool(b) => Cell::Bool(b),
        CellRef::Json(t) => Cell::Json(t.to_string()),
    })
}

/// One encoded cell, borrowed.
fn take_cell_ref<'a>(r: &mut &'a [u8]) -> Option<CellRef<'a>> {
    let tag = *take(r, 1)?.first()?;
    let len = take_u32(r)? as usize;
    let text = std::str::from_utf8(take(r, len)?).ok()?;
    Some(match tag {
        0 => CellRef::Null,
        1 => CellRef::Text(text),
        2 => CellRef::Number(text),
        3 => CellRef::Bool(text == "true"),
        4 => CellRef::Json(text),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_lattice() {
        use ColumnType::*;
        assert_eq!(Null.join(Integer), Integer);
        assert_eq!(Integer.join(Float), Float);
        assert_eq!(Integer.join(Boolean), String);
        assert_eq!(Boolean.join(Boolean), Boolean);
    }

    #[test]
    fn canonical_row_ignores_cell_order_and_nulls() {
        let a = Cell::Text("1".into());
        let b = Cell::Text("x".into());
        let n = Cell::Null;
        let r1 = encode_row(&mut [("a", &a), ("b", &b)]);
        let r2 = encode_row(&mut [("b", &b), ("a", &a), ("c", &n)]);
        assert_eq!(r1, r2);
        let e = Cell::Text(String::new());
        let r3 = encode_row(&mut [("a", &a), ("b", &b), ("c", &e)]);
        assert_ne!(r1, r3, "an empty string is not a null");
        assert_eq!(
            decode_row(&r1),
            Some(vec![("a".into(), a.clone()), ("b".into(), b.clone())])
        );
    }

    #[test]
    fn cells_fit_declared_types() {
        assert!(Cell::Text("12".into()).fits(ColumnType::Integer));
        assert!(Cell::Text("1.5".into()).fits(ColumnType::Float));
        assert!(!Cell::Text("abc".into()).fits(ColumnType::Integer));
        assert!(Cell::Text("abc".into()).fits(ColumnType::Categorical));
        assert!(Cell::Null.fits(ColumnType::Integer));
    }
}
