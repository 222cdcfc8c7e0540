//! Which examples a commit adds and removes, as ledger events.

use std::collections::HashMap;

use super::{BuiltTable, InputProblem, Repo, RepoError, is_within};
use crate::ledger::values::{self, ValueError};
use crate::ledger::{Draft, ExampleId, Locator, Payload, Subject};
use crate::object::TableRef;
use crate::snapshot::FileChanges;
use crate::table::manifest::{self, ChunkSource, Manifest, RowChangeKind};

/// Who, when and from where, for a commit's events.
pub(crate) struct EventContext<'a> {
    pub actor: &'a str,
    pub time: i64,
    pub source: Option<&'a str>,
    /// Metadata for every example the commit adds (flags on `commit`).
    pub batch: &'a Meta,
    /// Per-example metadata from a sidecar file, by locator (with the line
    /// it came from); entries are taken as their examples are met.
    pub sidecar: &'a std::cell::RefCell<HashMap<String, (u64, Meta)>>,
    /// The sidecar file's name, for messages.
    pub sidecar_name: &'a str,
    /// The repository configuration (metadata columns of tables).
    pub config: &'a crate::config::Config,
    /// The sensitivity classes allowed.
    pub classes: Vec<String>,
}

/// Ledger metadata of one example, as text (validated when recorded).
pub use crate::config::MetaFields as Meta;

impl Meta {
    /// The values of a row's mapped columns.
    fn from_row(cols: &Meta, body: &[u8]) -> Meta {
        let row: HashMap<String, crate::table::Cell> = crate::table::decode_row(body)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let get = |c: &Option<String>| {
            c.as_ref()
                .and_then(|c| row.get(c))
                .filter(|v| **v != crate::table::Cell::Null)
                .map(crate::table::Cell::display)
        };
        Meta::from_fn(|f| get(cols.field(f)))
    }
}

/// Where a value was read, for an error about it.
fn at(place: impl std::fmt::Display) -> impl Fn(ValueError) -> RepoError {
    move |source| RepoError::ValueAt {
        at: place.to_string(),
        source,
    }
}

/// A row, in an error about the metadata its columns map.
fn row_at(locator: &str) -> String {
    format!("row {locator} (its metadata columns)")
}

/// The checked collection time of `meta`, if it has one.
fn collected(meta: &Meta) -> Result<Option<String>, ValueError> {
    meta.collected_at
        .as_deref()
        .map(values::collected_at)
        .transpose()
}

/// What a commit changed, as the commit computed it.
#[derive(Clone, Copy)]
pub(crate) struct CommitDelta<'a> {
    /// Dataset paths snapshotted.
    pub datasets: &'a [String],
    /// File changes per snapshotted dataset.
    pub changes: &'a [(String, FileChanges)],
    /// The parent's tables.
    pub old_tables: &'a [TableRef],
    /// Their manifests.
    pub parent_manifests: &'a HashMap<String, Manifest>,
    /// The tables of the snapshotted datasets, as built or reused.
    pub built: &'a [BuiltTable],
}

/// The dataset a path belongs to.
fn dataset_of<'a>(datasets: &'a [String], path: &str) -> &'a str {
    datasets
        .iter()
        .find(|d| is_within(path, d))
        .map_or("", String::as_str)
}

impl Repo {
    /// Events for a commit: files added and removed (table files count as
    /// their rows), and rows added and removed in every changed table.
    pub(crate) fn example_events(
        &self,
        ctx: &EventContext<'_>,
        delta: &CommitDelta<'_>,
        sink: &mut dyn FnMut(Draft) -> Result<(), RepoError>,
    ) -> Result<u64, RepoError> {
        let CommitDelta {
            datasets,
            changes,
            old_tables,
            parent_manifests,
            built,
        } = *delta;
        let mut count = 0u64;
        let mut failed: Option<RepoError> = None;
        let is_table =
            |p: &str| built.iter().any(|b| b.path == p) || old_tables.iter().any(|t| t.path == p);
        let mut push = |payload: Payload, subject: ExampleId| {
            if failed.is_some() {
                return;
            }
            let d = Draft {
                time: ctx.time,
                actor: ctx.actor.to_string(),
                commit: None,
                subject: Subject::Example(subject),
                payload,
            };
            match sink(d) {
                Ok(()) => count += 1,
                Err(e) => failed = Some(e),
            }
        };
        for (dataset, ch) in changes {
            let full = |rel: &str| {
                if rel.is_empty() {
                    dataset.clone()
                } else {
                    format!("{dataset}/{rel}")
                }
            };
            for rel in ch.added.iter().filter(|p| !p.ends_with('/')) {
                let path = full(rel);
                if !is_table(&path) {
                    let id = ExampleId::file(&path);
                    let side = ctx.sidecar.borrow_mut().remove(&path).map(|(_, m)| m);
                    let meta = side.unwrap_or_default().or(ctx.batch);
                    push(
                        Payload::Added {
                            dataset: dataset.clone(),
                            locator: Locator::file(&path),
                            source: meta
                                .source
                                .clone()
                                .or_else(|| ctx.source.map(str::to_string)),
                            collected_at: collected(&meta).map_err(at(&path))?,
                        },
                        id,
                    );
                    for p in meta.payloads(None, &ctx.classes).map_err(at(&path))? {
                        push(p, id);
                    }
                }
            }
            for rel in ch.deleted.iter().filter(|p| !p.ends_with('/')) {
                let path = full(rel);
                if !is_table(&path) {
                    push(
                        Payload::Removed {
                            locator: Locator::file(&path),
                        },
                        ExampleId::file(&path),
                    );
                }
            }
        }
        // Rows: every rebuilt table against its parent version, and tables
        // that are gone.
        let mut table_versions: Vec<(&str, Option<&Manifest>, Option<&BuiltTable>)> = Vec::new();
        for b in built.iter().filter(|b| b.chunks.is_some()) {
            table_versions.push((&b.path, parent_manifests.get(&b.path), Some(b)));
        }
        for t in old_tables {
            let still = built.iter().any(|b| b.path == t.path);
            let in_scope = datasets.iter().any(|d| is_within(&t.path, d));
            if in_scope && !still {
                table_versions.push((&t.path, parent_manifests.get(&t.path), None));
            }
        }
        for (path, old, new) in table_versions {
            let dataset = dataset_of(datasets, path).to_string();
            let mem: Option<HashMap<crate::id::ObjectId, &[u8]>> = new
                .and_then(|b| b.chunks.as_ref())
                .map(|c| c.iter().map(|(id, b)| (*id, b.as_slice())).collect());
            let old_side = old.map(|m| (m, &self.store as &dyn ChunkSource));
            let new_side = match (new, &mem) {
                (Some(b), Some(m)) => Some((&b.manifest, m as &dyn ChunkSource)),
                _ => None,
            };
            let keyed = new.map_or_else(
                || old.is_some_and(|m| !m.key.is_empty()),
                |b| !b.manifest.key.is_empty(),
            );
            let cols = ctx.config.table(path).meta;
            let mut meta_err: Option<RepoError> = None;
            manifest::diff_each(old_side, new_side, &mut |kind, x, y, _n| {
                let row = if kind == RowChangeKind::Removed {
                    x.as_ref()
                } else {
                    y.as_ref()
                };
                let Some(row) = row else { return };
                let locator = Locator::row(path, keyed, &row.ident);
                let id = ExampleId::row(path, &row.ident);
                let result = match kind {
                    RowChangeKind::Removed => {
                        push(Payload::Removed { locator }, id);
                        Ok(())
                    }
                    RowChangeKind::Added => {
                        let side = ctx
                            .sidecar
                            .borrow_mut()
                            .remove(locator.as_str())
                            .map(|(_, m)| m);
                        let meta = side
                            .unwrap_or_default()
                            .or(&Meta::from_row(&cols, &row.body))
                            .or(ctx.batch);
                        let source = meta
                            .source
                            .clone()
                            .or_else(|| ctx.source.map(str::to_string));
                        let collected_at =
                            match collected(&meta).map_err(at(row_at(locator.as_str()))) {
                                Ok(t) => t,
                                Err(e) => {
                                    if meta_err.is_none() {
                                        meta_err = Some(e);
                                    }
                                    None
                                }
                            };
                        push(
                            Payload::Added {
                                dataset: dataset.clone(),
                                locator: locator.clone(),
                                source,
                                collected_at,
                            },
                            id,
                        );
                        meta.payloads(None, &ctx.classes)
                            .map_err(at(row_at(locator.as_str())))
                            .map(|ps| ps.into_iter().for_each(|p| push(p, id)))
                    }
                    RowChangeKind::Modified if !cols.is_empty() => {
                        let old_meta = x.as_ref().map(|o| Meta::from_row(&cols, &o.body));
                        Meta::from_row(&cols, &row.body)
                            .payloads(old_meta.as_ref(), &ctx.classes)
                            .map_err(at(row_at(locator.as_str())))
                            .map(|ps| ps.into_iter().for_each(|p| push(p, id)))
                    }
                    RowChangeKind::Modified => Ok(()),
                };
                if let Err(e) = result
                    && meta_err.is_none()
                {
                    meta_err = Some(e);
                }
            })?;
            if let Some(e) = meta_err {
                return Err(e);
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        // Sidecar rows for examples this commit did not add: existing
        // examples get their metadata recorded; unknown ones are an error.
        let rest: Vec<(String, (u64, Meta))> = ctx.sidecar.borrow_mut().drain().collect();
        if !rest.is_empty() {
            let known = self.ledger_view()?.locators()?;
            let mut rest = rest;
            rest.sort_by_key(|r| r.1.0);
            for (locator, (line, meta)) in rest {
                let Some(id) = known.get(&locator) else {
                    return Err(RepoError::Input {
                        at: format!("{}:{line}", ctx.sidecar_name),
                        problem: InputProblem::NoMatch(locator),
                    });
                };
                for p in meta.payloads(None, &ctx.classes).map_err(at(&locator))? {
                    let d = Draft {
                        time: ctx.time,
                        actor: ctx.actor.to_string(),
                        commit: None,
                        subject: Subject::Example(*id),
                        payload: p,
                    };
                    sink(d)?;
                    count += 1;
                }
            }
        }
        Ok(count)
    }
}

/// Reads a sidecar metadata file: CSV, TSV or JSONL with a column
/// `example` (a file path or `TABLE:KEY`) and any of source, label,
/// annotator, confidence, cost, currency, license, sensitivity. Values are
/// checked here, so a bad one stops the commit before anything is written.
pub fn read_sidecar(
    path: &std::path::Path,
    classes: &[String],
) -> Result<HashMap<String, (u64, Meta)>, RepoError> {
    let name = path.to_string_lossy().into_owned();
    let format = crate::table::Format::from_path(&name).ok_or_else(|| RepoError::Input {
        at: name.clone(),
        problem: InputProblem::Format,
    })?;
    let mut out = HashMap::new();
    for (line, row) in crate::table::read_text_rows(path, format)? {
        let here = format!("{name}:{line}");
        let bad = |problem| RepoError::Input {
            at: here.clone(),
            problem,
        };
        let example = row
            .get("example")
            .cloned()
            .ok_or_else(|| bad(InputProblem::NoExample))?;
        let get = |k: &str| row.get(k).cloned();
        if let Some(unknown) = row
            .keys()
            .find(|k| *k != "example" && !Meta::NAMES.contains(&k.as_str()))
        {
            return Err(bad(InputProblem::UnknownColumn {
                column: unknown.clone(),
                allowed: Meta::NAMES.join(", "),
            }));
        }
        let meta = Meta::from_fn(get);
        meta.payloads(None, classes).map_err(at(&here))?;
        if out.insert(example.clone(), (line, meta)).is_some() {
            return Err(bad(InputProblem::Repeated(example)));
        }
    }
    Ok(out)
}
