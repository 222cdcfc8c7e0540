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
use super::{ExampleId, Locator, Payload};
use crate::config::MetaFields;
use crate::id::ObjectId;
use crate::table::TableError;
use crate::table::manifest::{self, ChunkRow, ChunkSource, Manifest, RowChangeKind};

/// Where manifests and their chunks are read from.
pub trait TableSource: ChunkSource + Sync {
    /// The row manifest with this id.
    fn manifest(&self, id: &ObjectId) -> Result<Manifest, TableError>;
}

/// A stretch of a `Rows` event's diff: old chunks `old.0..old.1` against
/// new chunks `new.0..new.1`, which diff alone exactly as inside the whole
/// (see [`manifest::diff_each_synced`]). The index points an example at
/// the window that holds its row, so a lookup reads a few chunks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Window {
    /// Old chunk numbers, half-open.
    pub old: (u32, u32),
    /// New chunk numbers, half-open.
    pub new: (u32, u32),
}

/// The fields of a `Rows` payload, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RowsRef<'a> {
    /// The table's dataset.
    pub dataset: &'a str,
    /// The table's path.
    pub table: &'a str,
    /// The parent's manifest.
    pub old: Option<ObjectId>,
    /// The new manifest.
    pub new: Option<ObjectId>,
    /// The commit's `--source`.
    pub source: Option<&'a str>,
    /// The commit's metadata flags.
    pub meta: &'a MetaFields,
    /// The metadata columns.
    pub columns: &'a MetaFields,
}

impl<'a> RowsRef<'a> {
    /// The fields of `p`, when it is a `Rows` payload.
    pub fn of(p: &'a Payload) -> Option<RowsRef<'a>> {
        match p {
            Payload::Rows {
                dataset,
                table,
                old,
                new,
                source,
                meta,
                columns,
            } => Some(RowsRef {
                dataset,
                table,
                old: *old,
                new: *new,
                source: source.as_deref(),
                meta,
                columns,
            }),
            _ => None,
        }
    }
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
    if columns.is_empty() {
        return MetaFields::default();
    }
    let row: std::collections::HashMap<String, crate::table::Cell> = crate::table::decode_row(body)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let get = |c: &Option<String>| {
        c.as_ref()
            .and_then(|c| row.get(c))
            .filter(|v| **v != crate::table::Cell::Null)
            .map(crate::table::Cell::display)
    };
    MetaFields::from_fn(|f| get(columns.field(f)))
}

/// Walks the changed rows of a table between two manifests (either absent),
/// giving each with its example and locator; with `window`, only that
/// stretch of the diff. `sync` hears the walk's meeting points (see
/// [`manifest::diff_each_synced`]).
pub fn each_row_change(
    table: &str,
    old: Option<(&Manifest, &dyn ChunkSource)>,
    new: Option<(&Manifest, &dyn ChunkSource)>,
    window: Option<&Window>,
    sync: &mut dyn FnMut(usize, usize),
    each: &mut dyn FnMut(RowEvent<'_>),
) -> Result<(), TableError> {
    let keyed = new.or(old).is_some_and(|(m, _)| !m.key.is_empty());
    let slice = |m: &Manifest, r: (u32, u32)| -> Result<Manifest, TableError> {
        let chunks = m.chunks.get(r.0 as usize..r.1 as usize).ok_or_else(|| {
            TableError::Corrupt(m.blob, "a ledger window past the manifest".into())
        })?;
        Ok(Manifest {
            chunks: chunks.to_vec(),
            ..m.clone()
        })
    };
    let (old_w, new_w) = match window {
        Some(w) => (
            old.map(|(m, _)| slice(m, w.old)).transpose()?,
            new.map(|(m, _)| slice(m, w.new)).transpose()?,
        ),
        None => (None, None),
    };
    let old = match (&old_w, old) {
        (Some(m), Some((_, s))) => Some((m, s)),
        (_, o) => o,
    };
    let new = match (&new_w, new) {
        (Some(m), Some((_, s))) => Some((m, s)),
        (_, n) => n,
    };
    manifest::diff_each_synced(old, new, sync, &mut |kind, x, y, _n| {
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
    })?;
    Ok(())
}

/// The payloads one row's change records (the commit's rule): a removal;
/// an addition, then the metadata of `meta` (the row's columns over the
/// commit's flags); or, for a changed row, the metadata its columns
/// changed. `classes` checks sensitivities (`None`: any, lower-cased, as a
/// recorded event was already checked).
pub fn row_payloads(
    r: &RowsRef<'_>,
    ev: &RowEvent<'_>,
    meta: Option<&MetaFields>,
    classes: Option<&[String]>,
) -> Result<Vec<Payload>, super::values::ValueError> {
    match ev.kind {
        RowChangeKind::Removed => Ok(vec![Payload::Removed {
            locator: ev.locator.clone(),
        }]),
        RowChangeKind::Added => {
            let own;
            let meta = match meta {
                Some(m) => m,
                None => {
                    own = ev
                        .new
                        .map(|n| row_meta(r.columns, &n.body))
                        .unwrap_or_default()
                        .or(r.meta);
                    &own
                }
            };
            let collected_at = meta
                .collected_at
                .as_deref()
                .map(super::values::collected_at)
                .transpose()?;
            let mut out = vec![Payload::Added {
                dataset: r.dataset.to_string(),
                locator: ev.locator.clone(),
                source: meta.source.clone().or_else(|| r.source.map(str::to_string)),
                collected_at,
            }];
            out.extend(meta.payloads_in(None, classes)?);
            Ok(out)
        }
        RowChangeKind::Modified if !r.columns.is_empty() => {
            let (Some(o), Some(n)) = (ev.old, ev.new) else {
                return Ok(Vec::new());
            };
            let before = row_meta(r.columns, &o.body);
            row_meta(r.columns, &n.body).payloads_in(Some(&before), classes)
        }
        RowChangeKind::Modified => Ok(Vec::new()),
    }
}

/// Expands a `Rows` event (or one window of it): gives `each` every row
/// event it stands for, in identity order.
pub fn expand(
    src: &dyn TableSource,
    r: &RowsRef<'_>,
    window: Option<&Window>,
    each: &mut dyn FnMut(ExampleId, Payload),
) -> Result<(), LogError> {
    let damaged = |detail: String| LogError::Rows {
        table: r.table.to_string(),
        detail,
    };
    let load = |id: Option<ObjectId>| {
        id.map(|m| src.manifest(&m))
            .transpose()
            .map_err(|e| damaged(e.to_string()))
    };
    let (old, new) = (load(r.old)?, load(r.new)?);
    let mut failed = None;
    each_row_change(
        r.table,
        old.as_ref().map(|m| (m, src as &dyn ChunkSource)),
        new.as_ref().map(|m| (m, src as &dyn ChunkSource)),
        window,
        &mut |_, _| {},
        &mut |ev| {
            if failed.is_some() {
                return;
            }
            match row_payloads(r, &ev, None, None) {
                Ok(ps) => ps.into_iter().for_each(|p| each(ev.id, p)),
                Err(e) => failed = Some(damaged(format!("row {}: {e}", ev.locator))),
            }
        },
    )
    .map_err(|e| damaged(e.to_string()))?;
    failed.map_or(Ok(()), Err)
}

/// The windows of a `Rows` event that hold row events, each with the index
/// terms of its events (see [`super::index::payload_terms`]).
pub fn windows(
    src: &dyn TableSource,
    r: &RowsRef<'_>,
) -> Result<Vec<(Window, Vec<u64>)>, LogError> {
    let damaged = |detail: String| LogError::Rows {
        table: r.table.to_string(),
        detail,
    };
    let load = |id: Option<ObjectId>| {
        id.map(|m| src.manifest(&m))
            .transpose()
            .map_err(|e| damaged(e.to_string()))
    };
    let (old, new) = (load(r.old)?, load(r.new)?);
    let out = std::cell::RefCell::new(Vec::new());
    let open: std::cell::RefCell<((u32, u32), Vec<u64>)> = Default::default();
    let failed = std::cell::RefCell::new(None);
    each_row_change(
        r.table,
        old.as_ref().map(|m| (m, src as &dyn ChunkSource)),
        new.as_ref().map(|m| (m, src as &dyn ChunkSource)),
        None,
        &mut |a, b| {
            let (a, b) = (a as u32, b as u32);
            let mut o = open.borrow_mut();
            let start = o.0;
            let terms = std::mem::take(&mut o.1);
            if !terms.is_empty() {
                let w = Window {
                    old: (start.0, a),
                    new: (start.1, b),
                };
                out.borrow_mut().push((w, terms));
            }
            o.0 = (a, b);
        },
        &mut |ev| match row_payloads(r, &ev, None, None) {
            Ok(ps) => {
                let mut o = open.borrow_mut();
                for p in &ps {
                    super::index::payload_terms(&ev.id, p, &mut o.1);
                }
            }
            Err(e) => {
                failed
                    .borrow_mut()
                    .get_or_insert_with(|| damaged(format!("row {}: {e}", ev.locator)));
            }
        },
    )
    .map_err(|e| damaged(e.to_string()))?;
    if let Some(e) = failed.into_inner() {
        return Err(e);
    }
    Ok(out.into_inner())
}
