//! Streaming readers: one row at a time, never the whole file.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use super::{Cell, ColumnType, Format, TableError};

/// Receives the rows of a table as they are read.
pub trait RowSink {
    /// One good row: `cells[i]` is the value of `columns[i]` (cells may be
    /// shorter than columns: the rest are null).
    fn row(&mut self, line: u64, columns: &[String], cells: &[Cell]) -> Result<(), TableError>;
}

/// What reading a table found besides its rows.
#[derive(Debug, Default, Clone)]
pub struct ReadSummary {
    /// Columns in order of first appearance, with inferred (or declared) types.
    pub columns: Vec<(String, ColumnType)>,
    /// Rows rejected in lenient mode: (line, reason).
    pub rejected: Vec<(u64, String)>,
}

/// Reads a table, checking declared types and inferring the others. A bad
/// row stops the read with an error naming the file, line and column, or,
/// when `lenient`, is recorded in the summary and skipped.
pub fn read_table(
    path: &Path,
    format: Format,
    declared: &BTreeMap<String, ColumnType>,
    lenient: bool,
    sink: &mut dyn RowSink,
) -> Result<ReadSummary, TableError> {
    read_table_checked(path, format, declared, lenient, sink, None)
}

/// [`read_table`], and, given `expect`, a check that the bytes parsed are
/// the bytes whose BLAKE3 is `expect` (the blob a commit snapshotted):
/// CSV and JSON Lines are hashed as they are parsed, from the same reads,
/// and read to their end; a Parquet file, read at random, is hashed
/// through the handle it was parsed from. A difference is
/// [`TableError::Changed`].
pub fn read_table_checked(
    path: &Path,
    format: Format,
    declared: &BTreeMap<String, ColumnType>,
    lenient: bool,
    sink: &mut dyn RowSink,
    expect: Option<crate::id::ObjectId>,
) -> Result<ReadSummary, TableError> {
    let mut st = State::new(path, declared, lenient, expect);
    match format {
        Format::Csv => read_csv(&mut st, b',', sink)?,
        Format::Tsv => read_csv(&mut st, b'\t', sink)?,
        Format::Jsonl => read_jsonl(&mut st, sink)?,
        Format::Parquet => super::parquet::read(&mut st, sink)?,
    }
    Ok(summary(st))
}

/// What a finished read found: columns with their types (declared ones
/// win), rejected lines.
fn summary(st: State<'_>) -> ReadSummary {
    let columns = st
        .columns
        .iter()
        .zip(&st.types)
        .map(|(c, t)| (c.clone(), st.declared.get(c).copied().unwrap_or(*t)))
        .collect();
    ReadSummary {
        columns,
        rejected: st.rejected,
    }
}

pub(super) struct State<'a> {
    pub(super) path: &'a Path,
    declared: &'a BTreeMap<String, ColumnType>,
    lenient: bool,
    columns: Vec<String>,
    types: Vec<ColumnType>,
    rejected: Vec<(u64, String)>,
    /// The BLAKE3 the bytes read must have, when checked.
    pub(super) expect: Option<crate::id::ObjectId>,
}

/// A file read through a BLAKE3 hasher: every byte the parser reads is
/// hashed as it passes.
pub(super) struct Hashing<R> {
    inner: R,
    hasher: Option<blake3::Hasher>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

impl<'a> State<'a> {
    /// A read of `path` starting: no column met yet.
    fn new(
        path: &'a Path,
        declared: &'a BTreeMap<String, ColumnType>,
        lenient: bool,
        expect: Option<crate::id::ObjectId>,
    ) -> State<'a> {
        State {
            path,
            declared,
            lenient,
            columns: Vec::new(),
            types: Vec::new(),
            rejected: Vec::new(),
            expect,
        }
    }
}

impl State<'_> {
    /// Opens the file, hashing what is read when a hash is expected.
    fn open(&self) -> Result<Hashing<File>, TableError> {
        let inner = File::open(self.path).map_err(|e| self.io(e))?;
        Ok(Hashing {
            inner,
            hasher: self.expect.map(|_| blake3::Hasher::new()),
        })
    }

    /// Reads what the parser left to the end, then checks the hash.
    fn check<R: Read>(&self, mut r: Hashing<R>) -> Result<(), TableError> {
        let Some(want) = self.expect else {
            return Ok(());
        };
        std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| self.io(e))?;
        let got: crate::id::ObjectId = r.hasher.take().expect("hashing").finalize().into();
        if got == want {
            Ok(())
        } else {
            Err(TableError::Changed {
                path: self.path.to_path_buf(),
            })
        }
    }

    pub(super) fn io(&self, source: std::io::Error) -> TableError {
        TableError::Io {
            path: self.path.to_path_buf(),
            source,
        }
    }

    /// A bad row: an error, or a rejection in lenient mode.
    pub(super) fn reject(&mut self, line: u64, reason: String) -> Result<(), TableError> {
        if self.lenient {
            self.rejected.push((line, reason));
            Ok(())
        } else {
            Err(TableError::bad(self.path, line, reason))
        }
    }

    /// Checks declared types, updates inferred ones, hands the row on.
    pub(super) fn accept(
        &mut self,
        line: u64,
        cells: &[Cell],
        sink: &mut dyn RowSink,
    ) -> Result<(), TableError> {
        for (i, c) in cells.iter().enumerate() {
            if let Some(ty) = self.declared.get(&self.columns[i])
                && !c.fits(*ty)
            {
                let reason = format!(
                    "column '{}': {:?} is not {} (the type declared in .folio/config.toml)",
                    self.columns[i],
                    c.display(),
                    ty
                );
                return self.reject(line, reason);
            }
        }
        for (i, c) in cells.iter().enumerate() {
            self.types[i] = self.types[i].join(c.infer());
        }
        sink.row(line, &self.columns, cells)
    }

    pub(super) fn column(&mut self, name: &str) -> usize {
        match self.columns.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                self.columns.push(name.to_string());
                self.types.push(ColumnType::Null);
                self.columns.len() - 1
            }
        }
    }
}

/// Counts the newlines a reader passes on, so a byte offset can be turned
/// into a line number (csv's own line count skips newlines inside quoted
/// fields).
struct LineCounter<R> {
    inner: R,
    /// Offset as csv counts it: csv does not count a leading UTF-8 BOM.
    offset: i64,
    newlines: Rc<RefCell<VecDeque<u64>>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.offset == 0 && buf[..n].starts_with(b"\xEF\xBB\xBF") {
            self.offset = -3;
        }
        let mut q = self.newlines.borrow_mut();
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                q.push_back((self.offset + i as i64).max(0) as u64);
            }
        }
        self.offset += n as i64;
        Ok(n)
    }
}

/// Line numbers of byte offsets that only move forward.
struct Lines {
    newlines: Rc<RefCell<VecDeque<u64>>>,
    passed: u64,
}

impl Lines {
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut q = self.newlines.borrow_mut();
        while q.front().is_some_and(|&o| o < byte) {
            q.pop_front();
            self.passed += 1;
        }
        self.passed + 1
    }
}

/// A CSV reader over the file, counting lines and hashing, past a header
/// that is checked and gives `st` its columns.
type CsvReader = csv::Reader<BufReader<LineCounter<Hashing<File>>>>;

fn csv_reader(st: &mut State<'_>, delimiter: u8) -> Result<(CsvReader, Lines), TableError> {
    let file = st.open()?;
    let newlines = Rc::new(RefCell::new(VecDeque::new()));
    let lines = Lines {
        newlines: Rc::clone(&newlines),
        passed: 0,
    };
    let counted = LineCounter {
        inner: file,
        offset: 0,
        newlines,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(BufReader::with_capacity(1 << 16, counted));
    let header = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(TableError::bad(
                st.path,
                1,
                format!("cannot read the header: {e}"),
            ));
        }
    };
    for (i, name) in header.iter().enumerate() {
        if name.is_empty() {
            let reason = format!("header column {} has no name", i + 1);
            return Err(TableError::bad(st.path, 1, reason));
        }
        if st.columns.iter().any(|c| c == name) {
            let reason = format!("column '{name}' appears twice in the header");
            return Err(TableError::bad(st.path, 1, reason));
        }
        st.column(name);
    }
    Ok((rdr, lines))
}

/// Why a record is bad (a reason for its line), or a read failure.
fn csv_error(st: &State<'_>, e: csv::Error) -> Result<String, TableError> {
    Ok(match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("field {} is not valid UTF-8", err.field() + 1)
        }
        csv::ErrorKind::Io(_) => {
            return Err(st.io(std::io::Error::other(e.to_string())));
        }
        _ => e.to_string(),
    })
}

fn read_csv(st: &mut State<'_>, delimiter: u8, sink: &mut dyn RowSink) -> Result<(), TableError> {
    let (mut rdr, mut lines) = csv_reader(st, delimiter)?;
    let mut record = csv::StringRecord::new();
    let mut cells: Vec<Cell> = Vec::with_capacity(st.columns.len());
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = lines.line_at(record.position().map_or(0, |p| p.byte()));
                cells.clear();
                cells.extend(record.iter().map(|f| {
                    if f.is_empty() {
                        Cell::Null
                    } else {
                        Cell::Text(f.to_string())
                    }
                }));
                st.accept(line, &cells, sink)?;
            }
            Err(e) => {
                let line = lines.line_at(e.position().map_or(0, |p| p.byte()));
                let reason = csv_error(st, e)?;
                st.reject(line, reason)?;
            }
        }
    }
    st.check(rdr.into_inner().into_inner().inner)
}

/// Rows a parallel read hands a worker at a time: fields stored flat (a
/// JSON Lines row is one field, its line).
#[derive(Default)]
struct Batch {
    /// Each row's line.
    lines: Vec<u64>,
    /// Each row's end in `bounds`.
    row_ends: Vec<usize>,
    /// Each field's end in `data`.
    bounds: Vec<usize>,
    data: Vec<u8>,
}

impl Batch {
    /// Adds a row of `fields`.
    fn push<'f>(&mut self, line: u64, fields: impl Iterator<Item = &'f [u8]>) {
        for f in fields {
            self.data.extend_from_slice(f);
            self.bounds.push(self.data.len());
        }
        self.row_ends.push(self.bounds.len());
        self.lines.push(line);
    }

    /// The fields of row `r`.
    fn row(&self, r: usize) -> impl Iterator<Item = &[u8]> {
        let from = if r == 0 { 0 } else { self.row_ends[r - 1] };
        let bounds = &self.bounds[from..self.row_ends[r]];
        let mut start = if from == 0 { 0 } else { self.bounds[from - 1] };
        bounds.iter().map(move |&e| {
            let f = &self.data[start..e];
            start = e;
            f
        })
    }
}

/// Rows in a batch before it is handed on (few in unit tests, so small
/// tables are spread over many batches and workers).
const BATCH_ROWS: usize = if cfg!(test) { 37 } else { 4096 };

/// One worker of a parallel read: its own columns (JSON Lines and Parquet
/// number them in the order it meets them), inferred types and rejected
/// lines.
pub(super) struct Work<'a> {
    pub(super) st: State<'a>,
    cells: Vec<Cell>,
    /// Where each of its columns was first met: line, place in the row.
    pub(super) first_seen: Vec<(u64, usize)>,
}

impl<'a> Work<'a> {
    /// A worker of the read `st` starts, knowing `columns` (a CSV header's:
    /// met at line 0, in order).
    pub(super) fn new(st: &State<'a>, columns: &[String]) -> Work<'a> {
        let mut fresh = State::new(st.path, st.declared, st.lenient, None);
        for c in columns {
            fresh.column(c);
        }
        Work {
            st: fresh,
            cells: Vec::with_capacity(columns.len()),
            first_seen: (0..columns.len()).map(|i| (0, i)).collect(),
        }
    }
}

/// The number of column `name` in `st`, noting in `first_seen` where a
/// new one was first met (line, place in the row).
pub(super) fn column_at(
    st: &mut State<'_>,
    first_seen: &mut Vec<(u64, usize)>,
    name: &str,
    line: u64,
    at: usize,
) -> usize {
    let before = st.columns.len();
    let i = st.column(name);
    if st.columns.len() > before {
        first_seen.push((line, at));
    }
    i
}

/// Gathers the workers' findings into `st`: columns in the order one
/// thread meets them (by first line, then place in the row), types joined
/// by name, rejected lines in line order.
fn merge_works(st: &mut State<'_>, works: Vec<Work<'_>>) {
    let mut seen: Vec<(u64, usize, String)> = Vec::new();
    for w in &works {
        for (name, &(l, at)) in w.st.columns.iter().zip(&w.first_seen) {
            match seen.iter_mut().find(|s| s.2 == *name) {
                Some(s) if (l, at) < (s.0, s.1) => (s.0, s.1) = (l, at),
                Some(_) => {}
                None => seen.push((l, at, name.clone())),
            }
        }
    }
    seen.sort();
    for (_, _, name) in &seen {
        st.column(name);
    }
    for w in works {
        for (name, t) in w.st.columns.iter().zip(w.st.types) {
            let i = st.column(name);
            st.types[i] = st.types[i].join(t);
        }
        st.rejected.extend(w.st.rejected);
    }
    st.rejected.sort_by_key(|r| r.0);
}

/// What a worker does with row `r` (at its line) of a batch.
type RowWork<'a, S> =
    dyn Fn(&mut Work<'a>, u64, &Batch, usize, &mut S) -> Result<(), TableError> + Sync;

/// The failures of a parallel read, each with its line: the first bad
/// line's error is the read's, as when reading on one thread.
pub(super) struct Failures {
    first_bad: std::sync::atomic::AtomicU64,
    errors: std::sync::Mutex<Vec<(u64, TableError)>>,
}

impl Failures {
    pub(super) fn new() -> Failures {
        Failures {
            first_bad: std::sync::atomic::AtomicU64::new(u64::MAX),
            errors: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Records a failure at `line`.
    pub(super) fn fail(&self, line: u64, e: TableError) {
        use std::sync::atomic::Ordering;
        self.first_bad.fetch_min(line, Ordering::SeqCst);
        self.errors.lock().expect("not poisoned").push((line, e));
    }

    /// Whether rows from `line` on cannot hold the first bad line (one
    /// before it is known).
    pub(super) fn past(&self, line: u64) -> bool {
        line > self.first_bad.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether any failure is known.
    fn any(&self) -> bool {
        self.past(u64::MAX)
    }

    /// The first bad line's error, if any.
    pub(super) fn into_result(self) -> Result<(), TableError> {
        let mut errors = self.errors.into_inner().expect("not poisoned");
        match (0..errors.len()).min_by_key(|&i| errors[i].0) {
            Some(i) => Err(errors.swap_remove(i).1),
            None => Ok(()),
        }
    }
}

/// How the reading thread hands rows on and hears of failures.
struct Feed<'f> {
    send: &'f mut dyn FnMut(Batch) -> bool,
    failures: &'f Failures,
}

impl Feed<'_> {
    /// Whether a bad line is known (no later row can matter).
    fn failed(&self) -> bool {
        self.failures.any()
    }
}

/// The parallel read's frame: `read`, on this thread, reads the file and
/// hands batches on; one worker per sink runs `row` on each row of the
/// batches it takes. A failure is recorded with its line; workers skip
/// batches that start after the earliest known one and the reader stops,
/// so every batch that could hold an earlier bad line is still worked
/// through: the error returned is the first bad line's, as when reading on
/// one thread. Returns the workers' states.
fn parallel<'a, S: RowSink + Send>(
    st: &mut State<'a>,
    sinks: &mut [S],
    read: &mut dyn FnMut(&mut State<'a>, &mut Feed<'_>) -> Result<(), TableError>,
    row: &RowWork<'a, S>,
) -> Result<Vec<Work<'a>>, TableError> {
    use std::sync::Mutex;
    let failures = Failures::new();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(sinks.len() * 2);
    let rx = Mutex::new(rx);
    let columns = st.columns.clone();
    let (works, read_result) = std::thread::scope(|scope| {
        let handles: Vec<_> = sinks
            .iter_mut()
            .map(|sink| {
                let (rx, failures) = (&rx, &failures);
                let mut w = Work::new(st, &columns);
                scope.spawn(move || {
                    loop {
                        let batch = match rx.lock().expect("not poisoned").recv() {
                            Ok(b) => b,
                            Err(_) => break,
                        };
                        // A batch wholly after a known bad line cannot
                        // hold the first one.
                        if batch.lines.first().is_none_or(|l| failures.past(*l)) {
                            continue;
                        }
                        for (r, &line) in batch.lines.iter().enumerate() {
                            if let Err(e) = row(&mut w, line, &batch, r, &mut *sink) {
                                failures.fail(line, e);
                                break;
                            }
                        }
                    }
                    w
                })
            })
            .collect();
        // The sender is dropped with `send` when the reading ends: the
        // workers then drain the channel and stop.
        let read_result = {
            let mut send = move |b: Batch| tx.send(b).is_ok();
            let mut feed = Feed {
                send: &mut send,
                failures: &failures,
            };
            read(st, &mut feed)
        };
        let works: Vec<Work<'a>> = handles
            .into_iter()
            .map(|h| h.join().expect("a parse worker panicked"))
            .collect();
        (works, read_result)
    });
    read_result?;
    failures.into_result()?;
    Ok(works)
}

/// Reads batches of `BATCH_ROWS` rows with `next` (which adds one row to
/// the batch, or says the file ended) and hands them on.
fn feed_batches(
    feed: &mut Feed<'_>,
    next: &mut dyn FnMut(&mut Batch, &Feed<'_>) -> Result<bool, TableError>,
) -> Result<(), TableError> {
    let mut batch = Batch::default();
    while !feed.failed() {
        if !next(&mut batch, feed)? {
            break;
        }
        if batch.lines.len() >= BATCH_ROWS && !(feed.send)(std::mem::take(&mut batch)) {
            return Ok(());
        }
    }
    if !batch.lines.is_empty() {
        (feed.send)(batch);
    }
    Ok(())
}

/// [`read_table_checked`] for a CSV, TSV or JSON Lines file, parsed on as
/// many threads as `sinks` (each row goes to one of them, in no particular
/// order; each row's line is its own). The calling thread reads and
/// splits the records (CSV: the csv crate, so quoting is read exactly as
/// the sequential reader reads it; JSON Lines: lines) and hashes the
/// bytes; the workers decode the fields, check declared types, infer types
/// and hand rows to their sink. The outcome is the sequential reader's:
/// the same columns in the same order, types, rejected lines (in line
/// order) and, on a bad row, the error of the first bad line.
pub fn read_parallel<S: RowSink + Send>(
    path: &Path,
    format: Format,
    declared: &BTreeMap<String, ColumnType>,
    lenient: bool,
    sinks: &mut [S],
    expect: Option<crate::id::ObjectId>,
) -> Result<ReadSummary, TableError> {
    let mut st = State::new(path, declared, lenient, expect);
    match format {
        Format::Csv | Format::Tsv => {
            let delimiter = if format == Format::Csv { b',' } else { b'\t' };
            let (mut rdr, mut lines) = csv_reader(&mut st, delimiter)?;
            let mut record = csv::ByteRecord::new();
            let works = parallel(
                &mut st,
                sinks,
                &mut |st, feed| {
                    feed_batches(feed, &mut |batch, feed| {
                        match rdr.read_byte_record(&mut record) {
                            Ok(false) => return Ok(false),
                            Ok(true) => {
                                let line = lines.line_at(record.position().map_or(0, |p| p.byte()));
                                batch.push(line, record.iter());
                            }
                            Err(e) => {
                                let line = lines.line_at(e.position().map_or(0, |p| p.byte()));
                                match csv_error(st, e).and_then(|reason| st.reject(line, reason)) {
                                    Ok(()) => {}
                                    Err(e) => feed.failures.fail(line, e),
                                }
                            }
                        }
                        Ok(true)
                    })
                },
                &|w, line, batch, r, sink| {
                    w.cells.clear();
                    for (i, f) in batch.row(r).enumerate() {
                        match std::str::from_utf8(f) {
                            Ok("") => w.cells.push(Cell::Null),
                            Ok(f) => w.cells.push(Cell::Text(f.to_string())),
                            Err(_) => {
                                return w
                                    .st
                                    .reject(line, format!("field {} is not valid UTF-8", i + 1));
                            }
                        }
                    }
                    let cells = std::mem::take(&mut w.cells);
                    let done = w.st.accept(line, &cells, sink);
                    w.cells = cells;
                    done
                },
            )?;
            merge_works(&mut st, works);
            st.check(rdr.into_inner().into_inner().inner)?;
        }
        Format::Jsonl => {
            let mut rdr = BufReader::with_capacity(1 << 16, st.open()?);
            let mut buf = Vec::new();
            let mut line = 0u64;
            let works = parallel(
                &mut st,
                sinks,
                &mut |st, feed| {
                    feed_batches(feed, &mut |batch, _| {
                        buf.clear();
                        let n = rdr.read_until(b'\n', &mut buf).map_err(|e| st.io(e))?;
                        if n == 0 {
                            return Ok(false);
                        }
                        line += 1;
                        let mut bytes = buf.as_slice();
                        if line == 1 {
                            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
                        }
                        batch.push(line, std::iter::once(bytes));
                        Ok(true)
                    })
                },
                &|w, line, batch, r, sink| {
                    let bytes = batch.row(r).next().unwrap_or_default();
                    let mut cells = std::mem::take(&mut w.cells);
                    cells.clear();
                    let done =
                        jsonl_row(&mut w.st, line, bytes, &mut cells, &mut |st, name, at| {
                            column_at(st, &mut w.first_seen, name, line, at)
                        })
                        .and_then(|row| match row {
                            Some(()) => w.st.accept(line, &cells, sink),
                            None => Ok(()),
                        });
                    w.cells = cells;
                    done
                },
            )?;
            merge_works(&mut st, works);
            st.check(rdr.into_inner())?;
        }
        Format::Parquet => {
            let works = super::parquet::read_parallel(&mut st, sinks)?;
            merge_works(&mut st, works);
        }
    }
    Ok(summary(st))
}

/// One JSON Lines row into `cells` (`column` numbers a column, given its
/// name and place in the row): `Some(())` for a row to accept, `None` for
/// a blank line or a rejected row.
fn jsonl_row(
    st: &mut State<'_>,
    line: u64,
    mut bytes: &[u8],
    cells: &mut Vec<Cell>,
    column: &mut dyn FnMut(&mut State<'_>, &str, usize) -> usize,
) -> Result<Option<()>, TableError> {
    while let Some((b'\n' | b'\r', rest)) = bytes.split_last() {
        bytes = rest;
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            st.reject(line, format!("invalid JSON: {e}"))?;
            return Ok(None);
        }
    };
    let serde_json::Value::Object(map) = value else {
        st.reject(line, "a JSON Lines row must be an object ({...})".into())?;
        return Ok(None);
    };
    cells.clear();
    for (at, (k, v)) in map.into_iter().enumerate() {
        let i = column(st, &k, at);
        if cells.len() <= i {
            cells.resize(i + 1, Cell::Null);
        }
        cells[i] = json_cell(v);
    }
    Ok(Some(()))
}

fn read_jsonl(st: &mut State<'_>, sink: &mut dyn RowSink) -> Result<(), TableError> {
    let file = st.open()?;
    let mut rdr = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::new();
    let mut cells: Vec<Cell> = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = rdr.read_until(b'\n', &mut buf).map_err(|e| st.io(e))?;
        if n == 0 {
            break;
        }
        line += 1;
        let mut bytes = buf.as_slice();
        if line == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        if jsonl_row(st, line, bytes, &mut cells, &mut |st, name, _| {
            st.column(name)
        })?
        .is_some()
        {
            st.accept(line, &cells, sink)?;
        }
    }
    st.check(rdr.into_inner())
}

fn json_cell(v: serde_json::Value) -> Cell {
    use serde_json::Value;
    match v {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Bool(b),
        Value::Number(n) => Cell::Number(n.to_string()),
        Value::String(s) => Cell::Text(s),
        // serde_json's default map is sorted: this is canonical JSON text.
        nested => Cell::Json(nested.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Collect(Vec<(u64, Vec<(String, Cell)>)>);

    impl RowSink for Collect {
        fn row(&mut self, line: u64, columns: &[String], cells: &[Cell]) -> Result<(), TableError> {
            let row = columns
                .iter()
                .zip(cells.iter().chain(std::iter::repeat(&Cell::Null)))
                .filter(|(_, c)| **c != Cell::Null)
                .map(|(n, c)| (n.clone(), c.clone()))
                .collect();
            self.0.push((line, row));
            Ok(())
        }
    }

    fn read(
        name: &str,
        content: &[u8],
        lenient: bool,
    ) -> Result<(ReadSummary, Collect), TableError> {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join(name);
        std::fs::write(&p, content).expect("write");
        let mut c = Collect(Vec::new());
        let fmt = Format::from_path(name).expect("format");
        let s = read_table(&p, fmt, &BTreeMap::new(), lenient, &mut c)?;
        Ok((s, c))
    }

    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    #[test]
    fn csv_with_bom_crlf_quotes_and_embedded_newlines() {
        let (s, c) = read(
            "t.csv",
            b"\xEF\xBB\xBFid,text\r\n1,\"a, \"\"quoted\"\"\r\nline\"\r\n2,plain\r\n",
            false,
        )
        .expect("reads");
        assert_eq!(
            s.columns[0].0, "id",
            "the BOM is not part of the first name"
        );
        assert_eq!(c.0.len(), 2);
        assert_eq!(c.0[0].1[1], ("text".into(), t("a, \"quoted\"\r\nline")));
        assert_eq!(c.0[1].0, 4, "row 2 starts on line 4");
        assert_eq!(s.columns[0].1, ColumnType::Integer);
    }

    #[test]
    fn tsv_and_long_lines() {
        let long = "x".repeat(1 << 20);
        let content = format!("a\tb\n1\t{long}\n");
        let (_, c) = read("t.tsv", content.as_bytes(), false).expect("reads");
        assert_eq!(c.0[0].1[1].1, t(&long));
    }

    #[test]
    fn empty_and_header_only_files() {
        let (s, c) = read("e.csv", b"", false).expect("empty");
        assert!(s.columns.is_empty() && c.0.is_empty());
        let (s, c) = read("h.csv", b"a,b\n", false).expect("header only");
        assert_eq!(s.columns.len(), 2);
        assert!(c.0.is_empty());
        assert_eq!(s.columns[0].1, ColumnType::Null);
    }

    #[test]
    fn ragged_csv_row_names_its_line() {
        let err = read("r.csv", b"a,b\n1,2\n3\n", false).expect_err("ragged");
        let msg = err.to_string();
        assert!(
            msg.contains("r.csv:3:") && msg.contains("1 fields but the header has 2"),
            "{msg}"
        );
        let (s, c) = read("r.csv", b"a,b\n1,2\n3\n4,5\n", true).expect("lenient");
        assert_eq!(c.0.len(), 2);
        assert_eq!(s.rejected.len(), 1);
        assert_eq!(s.rejected[0].0, 3);
    }

    #[test]
    fn jsonl_nested_nulls_and_bad_lines() {
        let (s, c) = read(
            "t.jsonl",
            b"{\"b\": {\"y\": 1, \"x\": [1,2]}, \"a\": null, \"e\": \"\"}\r\n\n{\"a\": 2.5}\n",
            false,
        )
        .expect("reads");
        assert_eq!(
            c.0[0].1[0],
            ("b".into(), Cell::Json("{\"x\":[1,2],\"y\":1}".into()))
        );
        assert_eq!(
            c.0[0].1[1],
            ("e".into(), t("")),
            "empty string kept, null dropped"
        );
        assert_eq!(c.0[1].0, 3);
        let a = s.columns.iter().find(|c| c.0 == "a").expect("a");
        assert_eq!(a.1, ColumnType::Float);
        let err = read("t.jsonl", b"{\"a\":1}\n{\"a\":\n", false).expect_err("bad");
        assert!(err.to_string().contains("t.jsonl:2: invalid JSON"), "{err}");
        let err = read("t.jsonl", b"[1,2]\n", false).expect_err("not an object");
        assert!(err.to_string().contains("must be an object"), "{err}");
    }

    #[test]
    fn declared_types_are_enforced() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("t.csv");
        std::fs::write(&p, b"id,n\n1,5\n2,x\n").expect("write");
        let decl = BTreeMap::from([("n".to_string(), ColumnType::Integer)]);
        let mut c = Collect(Vec::new());
        let err = read_table(&p, Format::Csv, &decl, false, &mut c).expect_err("bad type");
        let msg = err.to_string();
        assert!(
            msg.contains("t.csv:3: column 'n': \"x\" is not integer"),
            "{msg}"
        );
    }
}
