//! Which examples a commit adds and removes, as ledger events.

use std::collections::HashMap;

use super::{BuiltTable, InputProblem, Repo, RepoError, is_within};
use crate::ledger::rows;
use crate::ledger::values::{self, ValueError};
use crate::ledger::{Draft, ExampleId, Locator, Payload, Subject, TableRows};
use crate::object::TableRef;
use crate::snapshot::FileChanges;
use crate::table::manifest::{ChunkSource, Manifest, RowChangeKind};

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
    /// Where the index terms of a large table's rows spill (D95).
    pub spill: std::path::PathBuf,
}

/// Ledger metadata of one example, as text (validated when recorded).
pub use crate::config::MetaFields as Meta;

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
    /// The files (full paths) each dataset a table links to holds at the
    /// new commit.
    pub linked_files: &'a HashMap<String, std::collections::HashSet<String>>,
}

/// What a linked table's rows say of the files they name: by full file
/// path, the row's metadata and its locator.
type LinkedRows = HashMap<String, (Meta, Locator)>;

/// The file a linked row names: its `column` value as a path inside
/// `dataset` (a value starting with the dataset's path is taken as it is
/// when the dataset holds it), or what is wrong with it.
fn linked_file(
    dataset: &str,
    files: &std::collections::HashSet<String>,
    value: Option<&str>,
) -> Result<String, InputProblem> {
    let Some(v) = value.map(|v| v.trim_start_matches("./")) else {
        return Err(InputProblem::LinkPath(String::new()));
    };
    let bad = v.is_empty()
        || v.starts_with('/')
        || v.contains('\\')
        || v.split('/').any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        return Err(InputProblem::LinkPath(v.to_string()));
    }
    let inside = format!("{dataset}/{v}");
    if files.contains(&inside) {
        return Ok(inside);
    }
    if v.starts_with(&format!("{dataset}/")) && files.contains(v) {
        return Ok(v.to_string());
    }
    Err(InputProblem::LinkMissing {
        file: inside,
        dataset: dataset.to_string(),
    })
}

/// The text of column `column` in a stored row.
pub(super) fn link_value(body: &[u8], column: &str) -> Option<String> {
    let mut out = None;
    crate::table::visit_row(body, &mut |name, cell| {
        if name == column {
            out = cell.text().map(str::to_string);
        }
    });
    out
}

/// Whether a link column's `value` names `file` (a full path) of
/// `dataset`: as a path inside it, or with the dataset's path in front.
pub(super) fn links_to(dataset: &str, value: &str, file: &str) -> bool {
    let v = value.trim_start_matches("./");
    v == file || file.strip_prefix(dataset).and_then(|r| r.strip_prefix('/')) == Some(v)
}

/// The dataset a path belongs to.
fn dataset_of<'a>(datasets: &'a [String], path: &str) -> &'a str {
    datasets
        .iter()
        .find(|d| is_within(path, d))
        .map_or("", String::as_str)
}

/// Streams a commit's events to its sink, counting them; the first error
/// (of the sink, or of a value) is kept and ends the stream.
struct Emitter<'a, 'b> {
    ctx: &'a EventContext<'a>,
    sink: &'b mut dyn FnMut(Draft) -> Result<(), RepoError>,
    count: u64,
    failed: Option<RepoError>,
    /// The index windows of the `Rows` events written, by table.
    windows: super::ledger::KnownWindows,
}

impl Emitter<'_, '_> {
    fn push(&mut self, payload: Payload, subject: ExampleId) {
        self.push_about(payload, Subject::Example(subject));
    }

    fn push_about(&mut self, payload: Payload, subject: Subject) {
        if self.failed.is_some() {
            return;
        }
        let d = Draft {
            time: self.ctx.time,
            actor: self.ctx.actor.to_string(),
            commit: None,
            subject,
            payload,
        };
        match (self.sink)(d) {
            Ok(()) => self.count += 1,
            Err(e) => self.failed = Some(e),
        }
    }

    fn fail(&mut self, e: RepoError) {
        if self.failed.is_none() {
            self.failed = Some(e);
        }
    }

    /// Pushes the payloads of `meta` (with `old`, what changed), or keeps
    /// the error they raise, named by `at`.
    fn meta(&mut self, meta: &Meta, old: Option<&Meta>, id: ExampleId, at_: String) {
        match meta.payloads(old, &self.ctx.classes).map_err(at(at_)) {
            Ok(ps) => ps.into_iter().for_each(|p| self.push(p, id)),
            Err(e) => self.fail(e),
        }
    }

    /// An example's addition, then its metadata: `side` (a sidecar's) over
    /// `row` (mapped columns) over the commit's flags.
    fn added(&mut self, dataset: &str, locator: Locator, id: ExampleId, row: Meta, at_: String) {
        let side = self
            .ctx
            .sidecar
            .borrow_mut()
            .remove(locator.as_str())
            .map(|(_, m)| m);
        let meta = side.unwrap_or_default().or(&row).or(self.ctx.batch);
        let source = meta
            .source
            .clone()
            .or_else(|| self.ctx.source.map(str::to_string));
        let collected_at = collected(&meta)
            .map_err(at(at_.clone()))
            .unwrap_or_else(|e| {
                self.fail(e);
                None
            });
        self.push(
            Payload::Added {
                dataset: dataset.to_string(),
                locator,
                source,
                collected_at,
            },
            id,
        );
        self.meta(&meta, None, id, at_);
    }

    fn finish(self) -> Result<u64, RepoError> {
        self.failed.map_or(Ok(self.count), Err)
    }
}

/// One table's versions in a commit: the parent's manifest and the new
/// build (either absent when the table is new or gone).
type TableVersions<'a> = (&'a str, Option<&'a Manifest>, Option<&'a BuiltTable>);

impl CommitDelta<'_> {
    /// Every rebuilt table against its parent version, and tables that are
    /// gone.
    fn table_versions(&self) -> Vec<TableVersions<'_>> {
        let mut out: Vec<TableVersions<'_>> = Vec::new();
        for b in self.built.iter().filter(|b| b.chunks.is_some()) {
            out.push((&b.path, self.parent_manifests.get(&b.path), Some(b)));
        }
        for t in self.old_tables {
            let still = self.built.iter().any(|b| b.path == t.path);
            let in_scope = self.datasets.iter().any(|d| is_within(&t.path, d));
            if in_scope && !still {
                out.push((&t.path, self.parent_manifests.get(&t.path), None));
            }
        }
        out
    }

    /// The table files and the shards of sharded tables (D91), now and in
    /// the parent: their rows are the examples, not the files.
    fn table_files<'d>(&'d self) -> std::collections::HashSet<&'d str> {
        let mut out: std::collections::HashSet<&str> = Default::default();
        let mut add = |path: &'d str, m: Option<&'d Manifest>| {
            out.insert(path);
            out.extend(
                m.into_iter()
                    .flat_map(|m| m.shards.iter().map(|s| s.path.as_str())),
            );
        };
        for b in self.built {
            add(&b.path, Some(&b.manifest));
        }
        for t in self.old_tables {
            add(&t.path, self.parent_manifests.get(&t.path));
        }
        out
    }
}

impl Repo {
    /// Events for a commit: files added and removed (table files count as
    /// their rows), rows added, removed and re-described in every changed
    /// table, and sidecar metadata for examples the commit did not add.
    pub(crate) fn example_events(
        &self,
        ctx: &EventContext<'_>,
        delta: &CommitDelta<'_>,
        sink: &mut dyn FnMut(Draft) -> Result<(), RepoError>,
    ) -> Result<super::ledger::KnownWindows, RepoError> {
        let mut ev = Emitter {
            ctx,
            sink,
            count: 0,
            failed: None,
            windows: Default::default(),
        };
        let linked = self.linked_rows(ctx, delta)?;
        let mut added_files = std::collections::HashSet::new();
        let tables = delta.table_files();
        for (dataset, ch) in delta.changes {
            let described = FileMeta {
                links: &linked,
                folder_labels: ctx.config.labels_of(dataset),
            };
            file_events(
                &mut ev,
                &|p| tables.contains(p),
                dataset,
                ch,
                &described,
                &mut added_files,
            );
        }
        for (path, old, new) in delta.table_versions() {
            let dataset = dataset_of(delta.datasets, path);
            if let Some(link) = ctx.config.table(path).links {
                // A linked table's rows describe files: they are not
                // examples of their own (D76).
                let old_side = old.map(|m| (m, &self.store as &dyn ChunkSource));
                let over = new
                    .and_then(|b| b.chunks.as_ref())
                    .map(|c| c.over(&self.store));
                let new_side = new.map(|b| {
                    let src: &dyn ChunkSource = match &over {
                        Some(o) => o,
                        None => &self.store,
                    };
                    (&b.manifest, src)
                });
                link_events(
                    &mut ev,
                    path,
                    &link,
                    delta,
                    old_side,
                    new_side,
                    &added_files,
                )?;
                continue;
            }
            // The new chunks, and the skeletons of an encrypted table's.
            let mem: Option<WithSkeletons<'_>> = new.and_then(|b| {
                Some(WithSkeletons {
                    chunks: b.chunks.as_ref()?.over(&self.store),
                    skeletons: b
                        .skeletons
                        .iter()
                        .map(|(id, x)| (*id, x.as_slice()))
                        .collect(),
                })
            });
            // A sealed table's rows are compared as skeletons (D83): the
            // same walk the ledger makes later, and no identity needed.
            let skeletons = rows::skeletons_of(old.into_iter().chain(new.map(|b| &b.manifest)));
            let columns = rows::mapped_columns(&ev.ctx.config.table(path).meta);
            let skel_old = rows::Skeletal {
                src: &self.store,
                skeletons: &skeletons,
                columns: &columns,
            };
            let skel_new = mem.as_ref().map(|m| rows::Skeletal {
                src: m,
                skeletons: &skeletons,
                columns: &columns,
            });
            let sealed = !skeletons.is_empty();
            let old_side = old.map(|m| {
                let src: &dyn ChunkSource = if sealed { &skel_old } else { &self.store };
                (m, src)
            });
            let new_side = match (new, &mem, &skel_new) {
                (Some(b), Some(_), Some(s)) if sealed => Some((&b.manifest, s as &dyn ChunkSource)),
                (Some(b), Some(m), _) => Some((&b.manifest, m as &dyn ChunkSource)),
                _ => None,
            };
            // Rows named in a sidecar take per-row metadata: the table's
            // rows are then recorded one event each, as before D58.
            let sidecar_names_rows = ev
                .ctx
                .sidecar
                .borrow()
                .keys()
                .any(|l| Locator::is_row_of(l.as_bytes(), path));
            if sidecar_names_rows {
                self.row_events(&mut ev, dataset, path, old_side, new_side)?;
            } else {
                let old_id = delta
                    .old_tables
                    .iter()
                    .find(|t| t.path == path)
                    .map(|t| t.manifest.0);
                let new_id = new.map(|b| b.manifest.id().0);
                rows_event(
                    &mut ev,
                    dataset,
                    path,
                    (old_id, old_side),
                    (new_id, new_side),
                )?;
            }
        }
        self.sidecar_events(&mut ev)?;
        let windows = std::mem::take(&mut ev.windows);
        ev.finish()?;
        Ok(windows)
    }

    /// The rows of every linked table whose rows or linked files this
    /// commit changes, by the file each names; a row naming a file the
    /// dataset does not hold, or a file another row names, stops the
    /// commit naming the row.
    fn linked_rows(
        &self,
        ctx: &EventContext<'_>,
        delta: &CommitDelta<'_>,
    ) -> Result<LinkedRows, RepoError> {
        let mut out = LinkedRows::new();
        for (table, link) in ctx.config.links() {
            let dataset = link.dataset.trim_end_matches('/');
            let built = delta.built.iter().find(|b| b.path == table);
            let files_added = delta
                .changes
                .iter()
                .any(|(d, ch)| d == dataset && !ch.added.is_empty());
            let rows_changed = built.is_some_and(|b| b.chunks.is_some());
            if !rows_changed && !files_added {
                continue;
            }
            let manifest = match built {
                Some(b) => &b.manifest,
                None => match delta.parent_manifests.get(table) {
                    Some(m) => m,
                    None => continue,
                },
            };
            let over = built
                .and_then(|b| b.chunks.as_ref())
                .map(|c| c.over(&self.store));
            let src: &dyn ChunkSource = match &over {
                Some(o) => o,
                None => &self.store,
            };
            let empty = std::collections::HashSet::new();
            let files = delta.linked_files.get(dataset).unwrap_or(&empty);
            let cols = ctx.config.table(table).meta;
            let mut bad: Option<(Locator, String, InputProblem)> = None;
            rows::each_row_change(
                table,
                None,
                Some((manifest, src)),
                None,
                &mut |_, _| {},
                &mut |r| {
                    let Some(n) = r.new else { return };
                    if bad.is_some() {
                        return;
                    }
                    let value = link_value(&n.body, &link.column);
                    let file = match linked_file(dataset, files, value.as_deref()) {
                        Ok(f) => f,
                        Err(p) => {
                            bad = Some((r.locator, value.unwrap_or_default(), p));
                            return;
                        }
                    };
                    let meta = rows::row_meta(&cols, &n.body);
                    if let Some((_, other)) = out.get(&file) {
                        let p = InputProblem::LinkTwice {
                            file: file.clone(),
                            other: other.as_str().to_string(),
                        };
                        bad = Some((r.locator, value.unwrap_or_default(), p));
                        return;
                    }
                    out.insert(file, (meta, r.locator));
                },
            )?;
            if let Some((locator, value, problem)) = bad {
                // Every line holding the value: both rows of a file linked
                // twice.
                let file = match &problem {
                    InputProblem::LinkTwice { file, .. } => Some(file.clone()),
                    _ => None,
                };
                let lines = self.lines_of(table, &link.column, &|v| match &file {
                    Some(f) => links_to(dataset, v, f),
                    None => v == value,
                });
                let at = if lines.is_empty() {
                    format!("{table} row {locator}")
                } else {
                    let list: Vec<String> = lines.iter().map(|l| format!("{table}:{l}")).collect();
                    format!("{} (row {locator})", list.join(", "))
                };
                return Err(RepoError::Input { at, problem });
            }
        }
        Ok(out)
    }

    /// The lines of the working tree's `table` whose `column` `matches`
    /// (for an error about those rows); none when the file is not
    /// a text table or no line matches.
    fn lines_of(&self, table: &str, column: &str, matches: &dyn Fn(&str) -> bool) -> Vec<u64> {
        let abs = self.abs(table);
        let Some(format) = crate::table::Format::from_path(table) else {
            return Vec::new();
        };
        let rows = crate::table::read_text_rows(&abs, format).unwrap_or_default();
        rows.into_iter()
            .filter(|(_, row)| matches(row.get(column).map(String::as_str).unwrap_or("")))
            .map(|(line, _)| line)
            .collect()
    }

    /// The events of one table's rows: the parent's version against the
    /// new one.
    fn row_events(
        &self,
        ev: &mut Emitter<'_, '_>,
        dataset: &str,
        path: &str,
        old_side: Option<(&Manifest, &dyn ChunkSource)>,
        new_side: Option<(&Manifest, &dyn ChunkSource)>,
    ) -> Result<(), RepoError> {
        let cols = ev.ctx.config.table(path).meta;
        rows::each_row_change(path, old_side, new_side, None, &mut |_, _| {}, &mut |r| {
            let here = row_at(r.locator.as_str());
            match (r.kind, r.old, r.new) {
                (RowChangeKind::Removed, _, _) => {
                    ev.push(Payload::Removed { locator: r.locator }, r.id)
                }
                (RowChangeKind::Added, _, Some(n)) => {
                    let meta = rows::row_meta(&cols, &n.body);
                    ev.added(dataset, r.locator, r.id, meta, here)
                }
                (RowChangeKind::Modified, Some(o), Some(n)) if !cols.is_empty() => {
                    let before = rows::row_meta(&cols, &o.body);
                    ev.meta(&rows::row_meta(&cols, &n.body), Some(&before), r.id, here);
                }
                _ => {}
            }
        })?;
        Ok(())
    }

    /// Sidecar rows for examples this commit did not add: existing
    /// examples get their metadata recorded; unknown ones are an error.
    fn sidecar_events(&self, ev: &mut Emitter<'_, '_>) -> Result<(), RepoError> {
        let mut rest: Vec<(String, (u64, Meta))> = ev.ctx.sidecar.borrow_mut().drain().collect();
        if rest.is_empty() || ev.failed.is_some() {
            return Ok(());
        }
        let known = self.ledger_view()?.locators()?;
        rest.sort_by_key(|r| r.1.0);
        for (locator, (line, meta)) in rest {
            let at = || format!("{}:{line}", ev.ctx.sidecar_name);
            let Some(id) = known.get(&locator) else {
                return Err(RepoError::Input {
                    at: at(),
                    problem: InputProblem::NoMatch(locator),
                });
            };
            // No event records a source after the addition: refused, not
            // dropped.
            if meta.source.is_some() || meta.collected_at.is_some() {
                return Err(RepoError::Input {
                    at: at(),
                    problem: InputProblem::SourceOfExisting(locator),
                });
            }
            ev.meta(&meta, None, *id, locator);
        }
        Ok(())
    }
}

/// One manifest of a table version: its id and where its chunks are read.
type Side<'a> = (
    Option<crate::id::ObjectId>,
    Option<(&'a Manifest, &'a dyn ChunkSource)>,
);

/// A table's changed rows as one `Rows` event (D58), after checking every
/// added or changed row's metadata as the per-row events would have: a bad
/// value stops the commit, naming the row.
fn rows_event(
    ev: &mut Emitter<'_, '_>,
    dataset: &str,
    path: &str,
    old: Side<'_>,
    new: Side<'_>,
) -> Result<(), RepoError> {
    let r = TableRows {
        dataset: dataset.to_string(),
        table: path.to_string(),
        old: old.0,
        new: new.0,
        source: ev.ctx.source.map(str::to_string),
        meta: ev.ctx.batch.clone(),
        columns: ev.ctx.config.table(path).meta,
    };
    // The index's windows are collected on the same walk; rows are checked
    // (and their terms computed) on every core.
    let mut windows = rows::WindowTerms::new(Some(ev.ctx.spill.clone()));
    let mut changed = false;
    let mut bad: Option<RepoError> = None;
    let classes = ev.ctx.classes.as_slice();
    rows::each_row_change_par(
        path,
        old.1,
        new.1,
        None,
        &|row| rows::row_terms(&r, row, Some(classes)),
        &mut |w| match w {
            rows::Walked::Sync(a, b) => {
                windows.sync(a, b);
                true
            }
            rows::Walked::Row(_, Ok((unique, shared))) => {
                changed = true;
                windows.add_terms(unique, shared)
            }
            rows::Walked::Row(o, Err(e)) => {
                bad = Some(at(row_at(o.locator.as_str()))(e));
                false
            }
        },
    )?;
    if let Some(e) = bad {
        ev.fail(e);
    } else if changed {
        let terms = windows.finish().map_err(RepoError::from)?;
        ev.windows.insert(path.to_string(), terms);
        ev.push_about(
            Payload::Rows(Box::new(r)),
            Subject::Dataset(path.to_string()),
        );
    }
    Ok(())
}

/// The metadata of changed rows of a linked table, recorded on the files
/// they name (files this commit adds took theirs when added).
fn link_events(
    ev: &mut Emitter<'_, '_>,
    table: &str,
    link: &crate::config::LinkConfig,
    delta: &CommitDelta<'_>,
    old: Option<(&Manifest, &dyn ChunkSource)>,
    new: Option<(&Manifest, &dyn ChunkSource)>,
    added_files: &std::collections::HashSet<String>,
) -> Result<(), RepoError> {
    let dataset = link.dataset.trim_end_matches('/');
    let empty = std::collections::HashSet::new();
    let files = delta.linked_files.get(dataset).unwrap_or(&empty);
    let cols = ev.ctx.config.table(table).meta;
    rows::each_row_change(table, old, new, None, &mut |_, _| {}, &mut |r| {
        let Some(n) = r.new else { return };
        // Checked by `linked_rows`: every row names a file present.
        let Ok(file) = linked_file(dataset, files, link_value(&n.body, &link.column).as_deref())
        else {
            return;
        };
        if added_files.contains(&file) {
            return;
        }
        let before = r.old.and_then(|o| {
            let same = linked_file(dataset, files, link_value(&o.body, &link.column).as_deref())
                .is_ok_and(|f| f == file);
            same.then(|| rows::row_meta(&cols, &o.body))
        });
        let here = format!("row {} (its metadata columns)", r.locator);
        ev.meta(
            &rows::row_meta(&cols, &n.body),
            before.as_ref(),
            ExampleId::file(&file),
            here,
        );
    })?;
    Ok(())
}

/// What describes a folder dataset's files when they are added.
struct FileMeta<'a> {
    /// Rows of linked tables, by the file they name.
    links: &'a LinkedRows,
    /// Labels from the files' folders.
    folder_labels: Option<crate::config::LabelsFrom>,
}

impl FileMeta<'_> {
    /// The metadata of the file at `path` (a full path) of `dataset`: its
    /// linked row's, over its folder's label.
    fn of(&self, dataset: &str, path: &str) -> Meta {
        let mut meta = self
            .links
            .get(path)
            .map(|(m, _)| m.clone())
            .unwrap_or_default();
        if meta.label.is_none()
            && self.folder_labels == Some(crate::config::LabelsFrom::ParentFolder)
        {
            let rel = path
                .strip_prefix(dataset)
                .unwrap_or(path)
                .trim_start_matches('/');
            if let Some((folder, _)) = rel.rsplit_once('/') {
                let name = folder.rsplit('/').next().unwrap_or(folder);
                meta.label = Some(name.to_string());
            }
        }
        meta
    }
}

/// The events of one folder dataset's files (table files count as their
/// rows, not as files); the paths of files added go to `added`.
fn file_events(
    ev: &mut Emitter<'_, '_>,
    is_table: &dyn Fn(&str) -> bool,
    dataset: &str,
    ch: &FileChanges,
    described: &FileMeta<'_>,
    added: &mut std::collections::HashSet<String>,
) {
    let full = |rel: &str| {
        if rel.is_empty() {
            dataset.to_string()
        } else {
            format!("{dataset}/{rel}")
        }
    };
    // A `.folioignore` is versioned with its folder but is a rule, not an
    // example: no addition, cost or audit line for it.
    let is_rule = |rel: &str| rel.rsplit('/').next() == Some(crate::snapshot::IGNORE_FILE);
    for rel in ch.added.iter().filter(|p| !p.ends_with('/') && !is_rule(p)) {
        let path = full(rel);
        if !is_table(&path) {
            let id = ExampleId::file(&path);
            let meta = described.of(dataset, &path);
            let at_ = match described.links.get(&path) {
                Some((_, row)) => format!("row {row} (its metadata columns), linked to {path}"),
                None => path.clone(),
            };
            ev.added(dataset, Locator::file(&path), id, meta, at_);
            added.insert(path);
        }
    }
    for rel in ch
        .deleted
        .iter()
        .filter(|p| !p.ends_with('/') && !is_rule(p))
    {
        let path = full(rel);
        if !is_table(&path) {
            let locator = Locator::file(&path);
            ev.push(Payload::Removed { locator }, ExampleId::file(&path));
        }
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
        // `licence` is the same column as `license`.
        let get = |k: &str| {
            row.get(k)
                .or_else(|| (k == "license").then(|| row.get("licence")).flatten())
                .cloned()
        };
        if let Some(unknown) = row
            .keys()
            .find(|k| *k != "example" && *k != "licence" && !Meta::NAMES.contains(&k.as_str()))
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

/// The chunks a commit just built, and the skeletons of an encrypted
/// table's (read first).
struct WithSkeletons<'a> {
    chunks: crate::table::chunkset::Over<'a>,
    skeletons: HashMap<crate::id::ObjectId, &'a [u8]>,
}

impl ChunkSource for WithSkeletons<'_> {
    fn chunk(&self, id: &crate::id::ObjectId) -> Result<Vec<u8>, crate::table::TableError> {
        match self.skeletons.get(id) {
            Some(b) => Ok(b.to_vec()),
            None => self.chunks.chunk(id),
        }
    }
}
