//! The ledger side of a merge: which examples the merged branch changed,
//! the labels both sides set differently, and the merge commit's own
//! events, which make the merged ledger say what the merged data holds.
//!
//! A merge commit's ledger is its first parent's, then the batches the
//! merged history brings, then its own batch. For an example only the
//! current branch changed, that ledger already agrees with the data (the
//! merge took ours). For one the merged branch changed, it says what the
//! last event about it says, which need not be what the merge kept (a
//! conflict settled for ours, a row the other side deleted, cells from
//! both sides): the merge commit records the difference — an addition, a
//! removal, or the metadata its mapped columns now hold.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::examples::{EventContext, Meta};
use super::merge::{LabelConflict, MergeState};
use super::{Repo, RepoError, is_within};
use crate::id::CommitId;
use crate::ledger::batch::BatchBuilder;
use crate::ledger::index::Term;
use crate::ledger::merkle;
use crate::ledger::query::LedgerView;
use crate::ledger::{Draft, Event, ExampleId, ExampleState, Locator, Payload, Subject};
use crate::object::{Commit, DatasetEntry, EntryKind, TableRef};
use crate::table::manifest::Manifest;

/// An example as the merged data holds it.
struct Held {
    dataset: String,
    locator: Locator,
    /// Its mapped metadata (rows of tables with mapped columns).
    meta: Option<Meta>,
}

/// Whether a payload says something `s` does not already say.
fn news(p: &Payload, s: &ExampleState) -> bool {
    match p {
        Payload::Annotated {
            label,
            annotator,
            confidence,
        } => {
            s.label.as_ref() != Some(label)
                || &s.annotator != annotator
                || s.confidence != *confidence
        }
        p @ Payload::Valued { .. } => {
            s.cost.as_ref().map(|(m, c)| (*m, c.as_str())) != p.cost_micros()
        }
        Payload::Licensed { license } => s.license.as_ref() != Some(license),
        Payload::Reclassified { sensitivity } => s.sensitivity.as_ref() != Some(sensitivity),
        _ => true,
    }
}

impl Repo {
    /// The merge commit's own events (see the module docs), encoded into
    /// its batch, with their hashes. `now` is what the merge commit holds.
    #[allow(clippy::type_complexity)]
    pub(crate) fn merge_corrections(
        &self,
        ctx: &EventContext<'_>,
        m: &MergeState,
        now: (&[DatasetEntry], &[TableRef]),
        ours: CommitId,
        nonce: u64,
        extra: &[Draft],
    ) -> Result<(Option<(Vec<u8>, u64)>, Vec<merkle::Hash>), RepoError> {
        let keep = self.changed_since_base(m)?;
        let mut out = BatchBuilder::new(Some(ours), nonce);
        let drafts = if keep.is_empty() {
            Vec::new()
        } else {
            self.corrections(ctx, m, now, ours, &keep)?
        };
        for (x, payload) in drafts {
            out.push(&Event::from(Draft {
                time: ctx.time,
                actor: ctx.actor.to_string(),
                commit: None,
                subject: Subject::Example(x),
                payload,
            }))?;
        }
        for d in extra {
            out.push(&Event::from(d.clone()))?;
        }
        let n = out.len();
        let built = out.finish()?;
        Ok(((n > 0).then_some((built.bytes, n)), built.hashes))
    }

    /// The events that make the merged ledger agree with the merged data
    /// on the examples of `keep`.
    fn corrections(
        &self,
        ctx: &EventContext<'_>,
        m: &MergeState,
        now: (&[DatasetEntry], &[TableRef]),
        ours: CommitId,
        keep: &HashSet<ExampleId>,
    ) -> Result<Vec<(ExampleId, Payload)>, RepoError> {
        // What the merged ledger says of them.
        let mut parts = self.history_parts(Some(ours))?;
        parts.extend(self.brought_parts(ours, m.theirs)?);
        let view = LedgerView::new(&self.store, &self.index_dir(), parts);
        let want: Vec<(u64, u64)> = keep
            .iter()
            .map(|x| (Term::Example(x).key(), Term::Example(x).key()))
            .collect();
        let mut states: HashMap<ExampleId, ExampleState> = HashMap::new();
        view.read(&Some(want), &|_| true, &mut |e| {
            if let Subject::Example(x) = e.subject
                && keep.contains(&x)
            {
                states.entry(x).or_default().apply(&e.payload);
            }
            Ok::<(), RepoError>(())
        })?;
        // What the merged data holds of them.
        let held = self.held(keep, now, m)?;
        let mut drafts: Vec<(ExampleId, Payload)> = Vec::new();
        let nobody = ExampleState::default();
        for x in keep {
            let s = states.get(x).unwrap_or(&nobody);
            match (held.get(x), s.present) {
                (None, true) => drafts.push((
                    *x,
                    Payload::Removed {
                        locator: s.locator.clone(),
                    },
                )),
                (None, false) => {}
                (Some(h), present) => {
                    if !present {
                        drafts.push((
                            *x,
                            Payload::Added {
                                dataset: h.dataset.clone(),
                                locator: h.locator.clone(),
                                source: s.source.clone(),
                                collected_at: s.collected_at.clone(),
                            },
                        ));
                    }
                    if let Some(meta) = &h.meta {
                        let at = format!("row {} (its metadata columns)", h.locator);
                        let ps = meta
                            .payloads(None, &ctx.classes)
                            .map_err(|source| RepoError::ValueAt { at, source })?;
                        let base = if present { s } else { &nobody };
                        drafts.extend(ps.into_iter().filter(|p| news(p, base)).map(|p| (*x, p)));
                    }
                }
            }
        }
        Ok(drafts)
    }

    /// The examples of `keep` the merged data holds, with their dataset,
    /// locator and mapped metadata.
    fn held(
        &self,
        keep: &HashSet<ExampleId>,
        now: (&[DatasetEntry], &[TableRef]),
        m: &MergeState,
    ) -> Result<HashMap<ExampleId, Held>, RepoError> {
        let (entries, tables) = now;
        let config = self.config()?;
        let mut out = HashMap::new();
        // Table files and the shards of sharded tables (D91).
        let mut table_files: HashSet<String> = HashSet::new();
        for t in tables {
            table_files.insert(t.path.clone());
            let m = self.read_manifest(t.manifest)?;
            table_files.extend(m.shards.into_iter().map(|s| s.path));
        }
        for d in entries {
            for (rel, e) in self.flatten_dataset(Some(d))? {
                if e.kind == EntryKind::Tree {
                    continue;
                }
                let path = super::join_path(&d.path, &rel);
                let id = ExampleId::file(&path);
                if keep.contains(&id) && !table_files.contains(&path) {
                    out.insert(
                        id,
                        Held {
                            dataset: d.path.clone(),
                            locator: Locator::file(&path),
                            meta: None,
                        },
                    );
                }
            }
        }
        let theirs = self.read_commit(m.theirs)?;
        let base = m.base.map(|b| self.read_commit(b)).transpose()?;
        let version = |c: Option<&Commit>, p: &str| {
            c.and_then(|c| c.tables.iter().find(|x| x.path == p).map(|x| x.manifest))
        };
        for t in tables {
            // Only tables the merged branch changed hold kept rows.
            if version(base.as_ref(), &t.path) == version(Some(&theirs), &t.path) {
                continue;
            }
            let man = self.read_manifest(t.manifest)?;
            let cols = config.table(&t.path).meta;
            let dataset = entries
                .iter()
                .find(|d| is_within(&t.path, &d.path))
                .map_or(String::new(), |d| d.path.clone());
            use rayon::prelude::*;
            let rows = self.manifest_rows(Some(&man))?;
            // Example ids hashed on every core; only the kept rows go on.
            let kept: Vec<(ExampleId, &crate::table::manifest::ChunkRow)> = rows
                .par_iter()
                .map(|r| (ExampleId::row(&t.path, &r.ident), r))
                .filter(|(id, _)| keep.contains(id))
                .collect();
            for (id, r) in kept {
                {
                    let meta =
                        (!cols.is_empty()).then(|| crate::ledger::rows::row_meta(&cols, &r.body));
                    out.insert(
                        id,
                        Held {
                            dataset: dataset.clone(),
                            locator: Locator::row(&t.path, !man.key.is_empty(), &r.ident),
                            meta,
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    /// What the merged branch changed since the merge base: the examples
    /// whose ledger state a merge takes from theirs.
    pub(crate) fn changed_since_base(
        &self,
        state: &MergeState,
    ) -> Result<HashSet<ExampleId>, RepoError> {
        let t = self.read_commit(state.theirs)?;
        let b = state.base.map(|c| self.read_commit(c)).transpose()?;
        let mut out = HashSet::new();
        let paths: BTreeSet<&String> = t
            .datasets
            .iter()
            .chain(b.iter().flat_map(|b| b.datasets.iter()))
            .map(|d| &d.path)
            .collect();
        for ds in paths {
            let eb = b
                .as_ref()
                .and_then(|b| b.datasets.iter().find(|d| &d.path == ds));
            let et = t.datasets.iter().find(|d| &d.path == ds);
            let ch = self.dataset_changes(eb, et)?;
            for rel in ch.added.iter().chain(&ch.deleted).chain(&ch.modified) {
                out.insert(ExampleId::file(&super::join_path(
                    ds,
                    rel.trim_end_matches('/'),
                )));
            }
        }
        let tables: BTreeSet<&String> = t
            .tables
            .iter()
            .chain(b.iter().flat_map(|b| b.tables.iter()))
            .map(|x| &x.path)
            .collect();
        for path in tables {
            let m = |c: Option<&Commit>| -> Result<Option<Manifest>, RepoError> {
                match c.and_then(|c| c.tables.iter().find(|x| &x.path == path)) {
                    Some(r) => Ok(Some(self.read_manifest(r.manifest)?)),
                    None => Ok(None),
                }
            };
            let (mb, mt) = (m(b.as_ref())?, m(Some(&t))?);
            if mb.as_ref().map(|x| x.id()) == mt.as_ref().map(|x| x.id()) {
                continue;
            }
            let src = &self.store as &dyn crate::table::manifest::ChunkSource;
            crate::table::manifest::diff_each(
                mb.as_ref().map(|x| (x, src)),
                mt.as_ref().map(|x| (x, src)),
                &mut |_, x, y, _| {
                    if let Some(r) = y.as_ref().or(x.as_ref()) {
                        out.insert(ExampleId::row(path, &r.ident));
                    }
                },
            )?;
        }
        Ok(out)
    }

    /// Examples both sides labelled differently since the merge base.
    pub(crate) fn label_conflicts(
        &self,
        base: Option<CommitId>,
        ours: CommitId,
        theirs: CommitId,
    ) -> Result<Vec<LabelConflict>, RepoError> {
        let mut shared = HashSet::new();
        if let Some(b) = base {
            self.post_order(b, &mut shared, &mut Vec::new())?;
        }
        let since = |tip: CommitId| -> Result<BTreeMap<ExampleId, (String, String)>, RepoError> {
            let parts: Vec<_> = self
                .history_parts(Some(tip))?
                .into_iter()
                .filter(|p| p.commit.is_none_or(|c| !shared.contains(&c)))
                .collect();
            let view = crate::ledger::query::LedgerView::new(&self.store, &self.index_dir(), parts);
            let mut out = BTreeMap::new();
            let mut locators: BTreeMap<ExampleId, String> = BTreeMap::new();
            view.each(&mut |e| {
                if let crate::ledger::Subject::Example(id) = e.subject {
                    match e.payload {
                        crate::ledger::Payload::Annotated { label, .. } => {
                            out.insert(id, (label, String::new()));
                        }
                        crate::ledger::Payload::Added { locator, .. } => {
                            locators.insert(id, locator.as_str().to_string());
                        }
                        _ => {}
                    }
                }
                Ok::<(), RepoError>(())
            })?;
            for (id, v) in out.iter_mut() {
                v.1 = locators.get(id).cloned().unwrap_or_else(|| id.short(12));
            }
            Ok(out)
        };
        let (mut o, t) = (since(ours)?, since(theirs)?);
        o.retain(|id, (lo, _)| t.get(id).is_some_and(|(lt, _)| lt != lo));
        // Examples added before the base: their locator is older.
        let view = self.ledger_view_at(ours)?;
        let want: Vec<(u64, u64)> = o
            .keys()
            .map(|x| (Term::Example(x).key(), Term::Example(x).key()))
            .collect();
        view.read(&Some(want), &|_| true, &mut |e| {
            if let (Subject::Example(x), Payload::Added { locator, .. }) = (&e.subject, &e.payload)
                && let Some(v) = o.get_mut(x)
            {
                v.1 = locator.as_str().to_string();
            }
            Ok::<(), RepoError>(())
        })?;
        Ok(o.iter()
            .filter_map(|(id, (lo, loc))| {
                let (lt, _) = t.get(id)?;
                (lo != lt).then(|| LabelConflict {
                    locator: loc.clone(),
                    ours: lo.clone(),
                    theirs: lt.clone(),
                })
            })
            .collect())
    }
}
