//! The events a `Rows` event stands for (D58): a commit records the rows
//! it added to, removed from or re-described in a table as one event naming
//! the table's old and new row manifests, and readers expand it here into
//! the events one per row would have been: an addition (with its source
//! and collection time) and the metadata its mapped columns hold, a
//! removal, or the metadata a changed row's columns changed.
//!
//! The expansion is a function of the event and the two manifests alone
//! (content-addressed, so it cannot change under the event), and it is the
//! same code the commit ran to check every row's values, so a value that
//! expands here was accepted there.

use super::batch::LogError;
use super::terms::{RowsTerms, TermRun};
use super::{ExampleId, Locator, Payload, TableRows};
use crate::config::MetaFields;
use crate::id::ObjectId;
use crate::table::TableError;
use crate::table::manifest::{self, ChunkRef, ChunkRow, ChunkSource, Manifest, RowChangeKind};

/// Where manifests and their chunks are read from.
pub trait TableSource: ChunkSource + Sync {
    /// The row manifest with this id.
    fn manifest(&self, id: &ObjectId) -> Result<Manifest, TableError>;
}

/// A stretch of a `Rows` event's diff: old chunks `old.0..old.1` against
/// new chunks `new.0..new.1`, which diff alone exactly as inside the whole
/// (see [`manifest::diff_chunks`]). The index points an example at
/// the window that holds its row, so a lookup reads a few chunks.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Window {
    /// Old chunk numbers, half-open.
    pub old: (u32, u32),
    /// New chunk numbers, half-open.
    pub new: (u32, u32),
}

/// One row's change, as the expansion sees it.
pub struct RowEvent<'r> {
    /// What happened to the row.
    pub kind: RowChangeKind,
    /// The example.
    pub id: ExampleId,
    /// Its locator.
    pub locator: Locator,
    /// The old row, when there is one.
    pub old: Option<&'r ChunkRow>,
    /// The new row, when there is one.
    pub new: Option<&'r ChunkRow>,
}

/// The metadata of a row: the values of its mapped columns.
pub fn row_meta(columns: &MetaFields, body: &[u8]) -> MetaFields {
    let mut meta = MetaFields::default();
    if columns.is_empty() {
        return meta;
    }
    // The mapped columns' values, read in place (a row that does not
    // decode has none); fields matched by position, not by name.
    let mapped = columns.fields();
    let mut found: [Option<&str>; 11] = [None; 11];
    let whole = crate::table::visit_row(body, &mut |name, cell| {
        let Some(text) = cell.text() else { return };
        for (i, c) in mapped.iter().enumerate() {
            if c.as_deref() == Some(name) && found[i].is_none() {
                found[i] = Some(text);
            }
        }
    });
    if whole.is_some() {
        for (field, value) in meta.fields_mut().into_iter().zip(found) {
            *field = value.map(str::to_string);
        }
    }
    meta
}

/// The chunks of a window's side: `r` of `chunks` (all of them without a
/// window), or an error naming the table when the window overruns.
fn stretch(m: &Manifest, r: Option<(u32, u32)>) -> Result<&[ChunkRef], TableError> {
    match r {
        None => Ok(&m.chunks),
        Some((a, b)) => m.chunks.get(a as usize..b as usize).ok_or_else(|| {
            TableError::Corrupt(m.blob, "a ledger window past the table's manifest".into())
        }),
    }
}

/// One side of a diff: the chunks of `r` (all: `None`) of a manifest, or
/// none when the version is absent.
fn side<'m>(
    v: Option<(&'m Manifest, &'m dyn ChunkSource)>,
    r: Option<(u32, u32)>,
    none: &'m dyn ChunkSource,
) -> Result<manifest::Chunked<'m>, TableError> {
    match v {
        Some((m, s)) => Ok((stretch(m, r)?, s)),
        None => Ok((&[][..], none)),
    }
}

/// Walks the changed rows of a table between two manifests (either absent),
/// giving each with its example and locator; with `window`, only that
/// stretch of the diff. `sync` hears the walk's meeting points, in chunk
/// numbers of the whole manifests (see [`manifest::diff_chunks`]).
pub fn each_row_change(
    table: &str,
    old: Option<(&Manifest, &dyn ChunkSource)>,
    new: Option<(&Manifest, &dyn ChunkSource)>,
    window: Option<&Window>,
    sync: &mut dyn FnMut(usize, usize),
    each: &mut dyn FnMut(RowEvent<'_>),
) -> Result<(), TableError> {
    let keyed = new.or(old).is_some_and(|(m, _)| !m.key.is_empty());
    let none: std::collections::HashMap<ObjectId, Vec<u8>> = Default::default();
    let old = side(old, window.map(|w| w.old), &none)?;
    let new = side(new, window.map(|w| w.new), &none)?;
    let base = window.map_or((0, 0), |w| (w.old.0 as usize, w.new.0 as usize));
    manifest::diff_chunks(
        old,
        new,
        &mut |a, b| sync(base.0 + a, base.1 + b),
        &mut |kind, x, y, _n| {
            let row = if kind == RowChangeKind::Removed {
                x.as_ref()
            } else {
                y.as_ref()
            };
            let Some(row) = row else { return };
            each(RowEvent {
                kind,
                id: ExampleId::row(table, &row.ident),
                locator: Locator::row(table, keyed, &row.ident),
                old: x.as_ref(),
                new: y.as_ref(),
            });
        },
    )?;
    Ok(())
}

/// Rows computed on at once, on every core, by [`each_row_change_par`].
const ROW_BATCH: usize = 8192;

/// A changed row copied out of a walk, to be worked on by another core.
pub struct OwnedRow {
    /// What happened to the row.
    pub kind: RowChangeKind,
    /// The example.
    pub id: ExampleId,
    /// Its locator.
    pub locator: Locator,
    old: Option<ChunkRow>,
    new: Option<ChunkRow>,
}

impl OwnedRow {
    /// The row's change as a walk gives it.
    pub fn event(&self) -> RowEvent<'_> {
        RowEvent {
            kind: self.kind,
            id: self.id,
            locator: self.locator.clone(),
            old: self.old.as_ref(),
            new: self.new.as_ref(),
        }
    }
}

/// What a parallel walk gives, in walk order.
pub enum Walked<T> {
    /// A meeting point of the walks (see [`each_row_change`]).
    Sync(usize, usize),
    /// A changed row and what `f` computed of it.
    Row(OwnedRow, T),
}

/// Like [`each_row_change`], computing `f` of each changed row on every
/// core, [`ROW_BATCH`] rows at a time, and giving `each` the meeting points
/// and the rows with their results in walk order; `each` returns `false`
/// to stop (the rows after are neither computed nor given).
pub fn each_row_change_par<T: Send>(
    table: &str,
    old: Option<(&Manifest, &dyn ChunkSource)>,
    new: Option<(&Manifest, &dyn ChunkSource)>,
    window: Option<&Window>,
    f: &(dyn Fn(&RowEvent<'_>) -> T + Sync),
    each: &mut dyn FnMut(Walked<T>) -> bool,
) -> Result<(), TableError> {
    /// A changed row as the walk gives it (owned: no copy); its example
    /// and locator are derived on the workers.
    enum Held {
        Sync(usize, usize),
        Row(RowChangeKind, Option<ChunkRow>, Option<ChunkRow>),
    }
    struct Batch<'e, T> {
        table: &'e str,
        keyed: bool,
        items: Vec<Held>,
        going: bool,
        f: &'e (dyn Fn(&RowEvent<'_>) -> T + Sync),
        each: &'e mut dyn FnMut(Walked<T>) -> bool,
    }
    impl<T: Send> Batch<'_, T> {
        fn push(&mut self, h: Held) {
            if self.going {
                self.items.push(h);
                if self.items.len() >= ROW_BATCH {
                    self.flush();
                }
            }
        }
        fn flush(&mut self) {
            use rayon::prelude::*;
            let items = std::mem::take(&mut self.items);
            if !self.going {
                return;
            }
            let (f, table, keyed) = (self.f, self.table, self.keyed);
            let done: Vec<Walked<T>> = items
                .into_par_iter()
                .map(|h| match h {
                    Held::Sync(a, b) => Walked::Sync(a, b),
                    Held::Row(kind, old, new) => {
                        let row = if kind == RowChangeKind::Removed {
                            old.as_ref()
                        } else {
                            new.as_ref()
                        };
                        let ident = &row.expect("a changed row has its side").ident;
                        let o = OwnedRow {
                            kind,
                            id: ExampleId::row(table, ident),
                            locator: Locator::row(table, keyed, ident),
                            old,
                            new,
                        };
                        let t = f(&o.event());
                        Walked::Row(o, t)
                    }
                })
                .collect();
            for w in done {
                if !(self.each)(w) {
                    self.going = false;
                    return;
                }
            }
        }
    }
    let keyed = new.or(old).is_some_and(|(m, _)| !m.key.is_empty());
    let batch = std::cell::RefCell::new(Batch {
        table,
        keyed,
        items: Vec::with_capacity(ROW_BATCH),
        going: true,
        f,
        each,
    });
    let none: std::collections::HashMap<ObjectId, Vec<u8>> = Default::default();
    let old = side(old, window.map(|w| w.old), &none)?;
    let new = side(new, window.map(|w| w.new), &none)?;
    let base = window.map_or((0, 0), |w| (w.old.0 as usize, w.new.0 as usize));
    manifest::diff_chunks(
        old,
        new,
        &mut |a, b| batch.borrow_mut().push(Held::Sync(base.0 + a, base.1 + b)),
        &mut |kind, x, y, _n| {
            let present = if kind == RowChangeKind::Removed {
                x.is_some()
            } else {
                y.is_some()
            };
            if present {
                batch.borrow_mut().push(Held::Row(kind, x, y));
            }
        },
    )?;
    batch.into_inner().flush();
    Ok(())
}

/// The payloads one row's change records (the commit's rule): a removal;
/// an addition, then the metadata of its columns over the commit's flags;
/// or, for a changed row, the metadata its columns changed. `classes`
/// checks sensitivities (`None`: any, lower-cased, as a recorded event was
/// already checked).
pub fn row_payloads(
    r: &TableRows,
    ev: &RowEvent<'_>,
    classes: Option<&[String]>,
) -> Result<Vec<Payload>, super::values::ValueError> {
    match ev.kind {
        RowChangeKind::Removed => Ok(vec![Payload::Removed {
            locator: ev.locator.clone(),
        }]),
        RowChangeKind::Added => {
            let meta = ev
                .new
                .map(|n| row_meta(&r.columns, &n.body))
                .unwrap_or_default()
                .or_from(&r.meta);
            let collected_at = meta
                .collected_at
                .as_deref()
                .map(super::values::collected_at)
                .transpose()?;
            let mut out = vec![Payload::Added {
                dataset: r.dataset.clone(),
                locator: ev.locator.clone(),
                source: meta.source.clone().or_else(|| r.source.clone()),
                collected_at,
            }];
            out.extend(meta.payloads_in(None, classes)?);
            Ok(out)
        }
        RowChangeKind::Modified if !r.columns.is_empty() => {
            let (Some(o), Some(n)) = (ev.old, ev.new) else {
                return Ok(Vec::new());
            };
            let before = row_meta(&r.columns, &o.body);
            row_meta(&r.columns, &n.body).payloads_in(Some(&before), classes)
        }
        RowChangeKind::Modified => Ok(Vec::new()),
    }
}

/// A window is closed at the first meeting point after it holds this many
/// row events: windows of a few hundred rows keep a lookup's expansion
/// small and the index's frame list short (a first commit meets at every
/// chunk, about every 16 rows).
const WINDOW_ROWS: usize = 256;

/// A row's index terms: of its example, and shared with other rows.
pub type RowTerms = (Vec<u64>, Vec<u64>);

/// The index terms of the events one row's change records (see
/// [`row_payloads`], which checks them; `classes` as there).
pub fn row_terms(
    r: &TableRows,
    ev: &RowEvent<'_>,
    classes: Option<&[String]>,
) -> Result<RowTerms, super::values::ValueError> {
    let (mut unique, mut shared) = (Vec::new(), Vec::new());
    for p in &row_payloads(r, ev, classes)? {
        super::index::payload_terms(&ev.id, p, &mut unique, &mut shared);
    }
    Ok((unique, shared))
}

/// Collects, during a walk of a `Rows` event's rows, its windows and the
/// index terms of the row events in each (see
/// [`super::index::payload_terms`]): feed it the walk's meeting points and
/// each row's payloads. The terms of single examples go to a
/// [`TermRun`], which spills past its budget (D95).
pub struct WindowTerms {
    start: (u32, u32),
    last: (u32, u32),
    rows: usize,
    shared: Vec<u64>,
    done: Vec<(Window, Vec<u64>)>,
    unique: TermRun,
    failed: Option<LogError>,
}

impl WindowTerms {
    /// Collects terms, spilling them under `dir` past the default budget
    /// (held in memory without a folder).
    pub fn new(dir: Option<std::path::PathBuf>) -> WindowTerms {
        WindowTerms {
            start: (0, 0),
            last: (0, 0),
            rows: 0,
            shared: Vec::new(),
            done: Vec::new(),
            unique: TermRun::new(dir),
            failed: None,
        }
    }

    /// A meeting point of the walk: the open window ends here once it
    /// holds enough rows (the union of stretches between meeting points
    /// diffs alone exactly as they do).
    pub fn sync(&mut self, a: usize, b: usize) {
        self.last = (a as u32, b as u32);
        if self.rows == 0 {
            self.start = self.last;
        } else if self.rows >= WINDOW_ROWS {
            self.close();
        }
    }

    fn close(&mut self) {
        if self.rows > 0 {
            let mut shared = std::mem::take(&mut self.shared);
            shared.sort_unstable();
            shared.dedup();
            let window = Window {
                old: (self.start.0, self.last.0),
                new: (self.start.1, self.last.1),
            };
            self.done.push((window, shared));
        }
        self.rows = 0;
        self.start = self.last;
    }

    /// The terms of one row's events, computed apart (no terms: the row
    /// records nothing). Returns false once writing a spilled run failed.
    pub fn add_terms(&mut self, unique: Vec<u64>, shared: Vec<u64>) -> bool {
        if unique.is_empty() && shared.is_empty() {
            return true;
        }
        self.rows += 1;
        // The open window is the next one `close` keeps.
        let w = self.done.len() as u32;
        for t in unique {
            if let Err(e) = self.unique.push(t, w) {
                self.failed = Some(e);
                return false;
            }
        }
        self.shared.extend(shared);
        true
    }

    /// The windows that hold row events, with their terms (the walk's last
    /// meeting point, at the ends, closes the last one).
    pub fn finish(mut self) -> Result<RowsTerms, LogError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.close();
        Ok(RowsTerms {
            windows: self.done,
            unique: self.unique,
        })
    }
}

/// A `Rows` event's manifests, read from `src`, and how a failure to read
/// them (or a row of them) is reported; with the skeletons their chunks
/// name (a sealed table's rows are read through them, D83), found once.
struct Loaded<'a> {
    src: &'a dyn TableSource,
    r: &'a TableRows,
    old: Option<Manifest>,
    new: Option<Manifest>,
    skeletons: std::collections::HashMap<ObjectId, ObjectId>,
    columns: Vec<String>,
}

impl<'a> Loaded<'a> {
    fn new(src: &'a dyn TableSource, r: &'a TableRows) -> Result<Loaded<'a>, LogError> {
        let load = |id: Option<ObjectId>| {
            id.map(|m| src.manifest(&m))
                .transpose()
                .map_err(|e| damaged(r, e.to_string()))
        };
        let (old, new) = (load(r.old)?, load(r.new)?);
        let skeletons = skeletons_of(old.iter().chain(new.iter()));
        Ok(Loaded {
            src,
            r,
            old,
            new,
            skeletons,
            columns: mapped_columns(&r.columns),
        })
    }

    /// `f` given where the rows' chunks are read: through their skeletons
    /// when the table is sealed.
    fn reading<R>(&self, f: impl FnOnce(&(dyn ChunkSource + Sync)) -> R) -> R {
        if self.skeletons.is_empty() {
            return f(self.src);
        }
        f(&Skeletal {
            src: self.src,
            skeletons: &self.skeletons,
            columns: &self.columns,
        })
    }

    /// Walks the rows of `window` (all of them: `None`), `f` computed of
    /// each on every core, `each` given them in order.
    fn walk_par<T: Send>(
        &self,
        window: Option<&Window>,
        f: &(dyn Fn(&RowEvent<'_>) -> T + Sync),
        each: &mut dyn FnMut(Walked<T>) -> bool,
    ) -> Result<(), LogError> {
        self.reading(|src| {
            let src: &dyn ChunkSource = src;
            let old = self.old.as_ref().map(|m| (m, src));
            let new = self.new.as_ref().map(|m| (m, src));
            each_row_change_par(&self.r.table, old, new, window, f, each)
        })
        .map_err(|e| damaged(self.r, e.to_string()))
    }

    /// The rows of chunk `c` of a version that adds the whole table (no
    /// old version), each with its example and payloads: what the walk
    /// gives each row of it, computed apart from the other chunks.
    fn added_chunk(&self, c: &ChunkRef) -> Result<Vec<(ExampleId, Vec<Payload>)>, LogError> {
        let r = self.r;
        let keyed = self.new.as_ref().is_some_and(|m| !m.key.is_empty());
        let bytes = self
            .reading(|chunks| chunks.chunk(&c.id.0))
            .map_err(|e| damaged(r, e.to_string()))?;
        let rows = manifest::decode_chunk(c.id.0, &bytes).map_err(|e| damaged(r, e.to_string()))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let ev = RowEvent {
                kind: RowChangeKind::Added,
                id: ExampleId::row(&r.table, &row.ident),
                locator: Locator::row(&r.table, keyed, &row.ident),
                old: None,
                new: Some(row),
            };
            let ps = row_payloads(r, &ev, None)
                .map_err(|e| damaged(r, format!("row {}: {e}", ev.locator)))?;
            out.push((ev.id, ps));
        }
        Ok(out)
    }

    /// For a version that adds the whole table: the rows of `windows`
    /// (all: `None`), in order, given to `each` — their chunks read and
    /// their payloads computed on every core, a stretch of chunks at a
    /// time. `None` when the event has an old version (walk it instead).
    fn added_in_order(
        &self,
        windows: Option<&[Window]>,
        each: &mut dyn FnMut(ExampleId, Payload),
    ) -> Option<Result<(), LogError>> {
        use rayon::prelude::*;
        if self.old.is_some() {
            return None;
        }
        let m = self.new.as_ref()?;
        let mut picked: Vec<&ChunkRef> = Vec::new();
        match windows {
            None => picked.extend(&m.chunks),
            Some(ws) => {
                for w in ws {
                    match stretch(m, Some(w.new)) {
                        Ok(cs) => picked.extend(cs),
                        Err(e) => return Some(Err(damaged(self.r, e.to_string()))),
                    }
                }
            }
        }
        for stretch in picked.chunks(ADDED_STRETCH) {
            let done: Vec<_> = stretch.par_iter().map(|c| self.added_chunk(c)).collect();
            for rows in done {
                match rows {
                    Ok(rows) => rows
                        .into_iter()
                        .for_each(|(id, ps)| ps.into_iter().for_each(|p| each(id, p))),
                    Err(e) => return Some(Err(e)),
                }
            }
        }
        Some(Ok(()))
    }
}

/// Chunks read at once, on every core, by [`Loaded::added_in_order`].
const ADDED_STRETCH: usize = 512;

/// The skeletons the chunks of `manifests` name: chunk → skeleton.
pub fn skeletons_of<'m>(
    manifests: impl IntoIterator<Item = &'m Manifest>,
) -> std::collections::HashMap<ObjectId, ObjectId> {
    manifests
        .into_iter()
        .flat_map(|m| &m.chunks)
        .filter_map(|c| Some((c.id.0, c.skeleton?.0)))
        .collect()
}

/// The columns a table's skeletons keep: those its metadata maps.
pub fn mapped_columns(columns: &MetaFields) -> Vec<String> {
    MetaFields::NAMES
        .iter()
        .filter_map(|f| columns.field(f).clone())
        .collect()
}

/// Chunks as skeletons (D83): a sealed chunk read as its stored skeleton,
/// a plain one reduced to the same form (keeping `columns`), so the two
/// sides of a walk compare row for row whether or not they are sealed, and
/// no identity is needed.
pub struct Skeletal<'a> {
    /// Where chunks and skeletons are read.
    pub src: &'a (dyn ChunkSource + Sync),
    /// Chunk → its skeleton.
    pub skeletons: &'a std::collections::HashMap<ObjectId, ObjectId>,
    /// The mapped columns the skeletons keep.
    pub columns: &'a [String],
}

impl ChunkSource for Skeletal<'_> {
    fn chunk(&self, id: &ObjectId) -> Result<Vec<u8>, TableError> {
        if let Some(s) = self.skeletons.get(id)
            && let Ok(b) = self.src.chunk(s)
        {
            return Ok(b);
        }
        let b = self.src.chunk(id)?;
        if b.starts_with(manifest::CHUNK_TAG) {
            Ok(manifest::skeleton(*id, &b, self.columns)?.1)
        } else {
            Ok(b)
        }
    }
}

fn damaged(r: &TableRows, detail: String) -> LogError {
    LogError::Rows {
        table: r.table.clone(),
        detail,
    }
}

/// Expands a `Rows` event, or (`windows`) stretches of it: gives `each`
/// every row event it stands for, in identity order. The manifests are
/// read once.
pub fn expand(
    src: &dyn TableSource,
    r: &TableRows,
    windows: Option<&[Window]>,
    each: &mut dyn FnMut(ExampleId, Payload),
) -> Result<(), LogError> {
    let loaded = Loaded::new(src, r)?;
    if let Some(done) = loaded.added_in_order(windows, each) {
        return done;
    }
    let mut failed = None;
    let payloads = |ev: &RowEvent<'_>| row_payloads(r, ev, None);
    let mut one = |w: Walked<Result<Vec<Payload>, super::values::ValueError>>| match w {
        _ if failed.is_some() => false,
        Walked::Sync(..) => true,
        Walked::Row(o, Ok(ps)) => {
            ps.into_iter().for_each(|p| each(o.id, p));
            true
        }
        Walked::Row(o, Err(e)) => {
            failed = Some(damaged(r, format!("row {}: {e}", o.locator)));
            false
        }
    };
    match windows {
        None => loaded.walk_par(None, &payloads, &mut one)?,
        Some(ws) => {
            for w in ws {
                loaded.walk_par(Some(w), &payloads, &mut one)?;
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Expands a `Rows` event that adds a whole table (it names no old
/// version; `None` otherwise) on every core, a run of chunks at a time:
/// `each` is given every row's example and payloads, on the worker that
/// read it, into that worker's accumulator (made by `init`); the
/// accumulators are returned, in no promised order.
pub fn expand_added_par<A: Send>(
    src: &dyn TableSource,
    r: &TableRows,
    init: &(dyn Fn() -> A + Sync),
    each: &(dyn Fn(&mut A, ExampleId, Vec<Payload>) + Sync),
) -> Result<Option<Vec<A>>, LogError> {
    use rayon::prelude::*;
    if r.old.is_some() {
        return Ok(None);
    }
    let loaded = Loaded::new(src, r)?;
    let Some(m) = &loaded.new else {
        return Ok(Some(Vec::new()));
    };
    m.chunks
        .par_iter()
        .with_min_len(16)
        .try_fold(init, |mut acc, c| {
            for (id, ps) in loaded.added_chunk(c)? {
                each(&mut acc, id, ps);
            }
            Ok(acc)
        })
        .collect::<Result<Vec<A>, LogError>>()
        .map(Some)
}

/// The windows of a `Rows` event that hold row events, each with the index
/// terms of its events, read from `src` (the commit that writes the event
/// collects them on its own walk instead).
pub fn windows(
    src: &dyn TableSource,
    r: &TableRows,
    spill: Option<std::path::PathBuf>,
) -> Result<RowsTerms, LogError> {
    let loaded = Loaded::new(src, r)?;
    let mut collected = WindowTerms::new(spill);
    let mut failed = None;
    loaded.walk_par(None, &|ev| row_terms(r, ev, None), &mut |w| match w {
        Walked::Sync(a, b) => {
            collected.sync(a, b);
            true
        }
        Walked::Row(_, Ok((unique, shared))) => collected.add_terms(unique, shared),
        Walked::Row(o, Err(e)) => {
            failed = Some(damaged(r, format!("row {}: {e}", o.locator)));
            false
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => collected.finish(),
    }
}
