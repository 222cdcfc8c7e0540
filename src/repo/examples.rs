//! Which examples a commit adds and removes, as ledger events.

use std::collections::HashMap;

use super::{BuiltTable, Repo, RepoError, is_within};
use crate::ledger::{Draft, ExampleId, Payload, Subject};
use crate::object::TableRef;
use crate::snapshot::FileChanges;
use crate::table::display_key;
use crate::table::manifest::{self, ChunkSource, Manifest, RowChangeKind};

/// Who, when and from where, for a commit's events.
pub(crate) struct EventContext<'a> {
    pub actor: &'a str,
    pub time: i64,
    pub source: Option<&'a str>,
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

/// The locator of a row: `TABLE:KEY` for keyed tables, `TABLE#HASH` for
/// rows identified by content.
pub fn row_locator(table: &str, keyed: bool, ident: &[u8]) -> String {
    if keyed {
        format!("{table}:{}", display_key(ident))
    } else {
        let hex: String = ident.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("{table}#{hex}")
    }
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
                    push(
                        Payload::Added {
                            dataset: dataset.clone(),
                            locator: path.clone(),
                            source: ctx.source.map(str::to_string),
                        },
                        ExampleId::file(&path),
                    );
                }
            }
            for rel in ch.deleted.iter().filter(|p| !p.ends_with('/')) {
                let path = full(rel);
                if !is_table(&path) {
                    push(
                        Payload::Removed {
                            locator: path.clone(),
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
            manifest::diff_each(old_side, new_side, &mut |kind, x, y, _n| {
                let row = match kind {
                    RowChangeKind::Added => y.as_ref(),
                    RowChangeKind::Removed => x.as_ref(),
                    RowChangeKind::Modified => None,
                };
                let Some(row) = row else { return };
                let locator = row_locator(path, keyed, &row.ident);
                let id = ExampleId::row(path, &row.ident);
                let payload = if kind == RowChangeKind::Added {
                    Payload::Added {
                        dataset: dataset.clone(),
                        locator,
                        source: ctx.source.map(str::to_string),
                    }
                } else {
                    Payload::Removed { locator }
                };
                push(payload, id);
            })?;
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(count),
        }
    }
}
