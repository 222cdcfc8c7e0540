//! The ledger as the repository reads and writes it: the batches of a
//! revision's history in ledger order, a branch's pending batches, views
//! as of a revision, the heads commits record, and the derived index.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Repo, RepoError};
use crate::id::{CommitId, ObjectId};
use crate::ledger::batch::{self, BatchBuilder, LogError};
use crate::ledger::index::LedgerIndex;
use crate::ledger::merkle::{self, Frontier};
use crate::ledger::query::{BatchSource, LedgerView, Part};
use crate::ledger::{Draft, Event, ExportedEvent};
use crate::lock::RepoLock;
use crate::refs::Head;
use crate::store::Store;

const PENDING_TAG: &[u8] = b"folio-pending 1\n";

impl BatchSource for Store {
    fn load(&self, id: &ObjectId) -> Result<Arc<Vec<u8>>, LogError> {
        Ok(Arc::new(self.get(id)?))
    }

    fn read_at(&self, id: &ObjectId, offset: u64, len: usize) -> Result<Option<Vec<u8>>, LogError> {
        Ok(self.read_range(id, offset, len)?)
    }

    fn tables(&self) -> Option<&dyn crate::ledger::rows::TableSource> {
        Some(self)
    }
}

impl crate::ledger::rows::TableSource for Store {
    fn manifest(
        &self,
        id: &ObjectId,
    ) -> Result<crate::table::manifest::Manifest, crate::table::TableError> {
        let bytes = self
            .get(id)
            .map_err(|e| crate::table::TableError::Corrupt(*id, e.to_string()))?;
        crate::table::manifest::Manifest::decode(*id, &bytes)
    }
}

/// The index terms of `Rows` events already known, by table (a commit
/// collects those of its own events on the walk that checks their rows).
pub(crate) type KnownWindows = std::collections::HashMap<String, crate::ledger::terms::RowsTerms>;

/// The index's view of the `Rows` events of a batch: their windows and
/// the terms of the row events in each, from `known` (each taken once) or
/// read from the store, spilling under `spill` (D95).
pub(crate) fn rows_windows<'a>(
    store: &'a Store,
    mut known: KnownWindows,
    spill: PathBuf,
) -> impl FnMut(&[u8]) -> crate::ledger::index::WindowsOf + 'a {
    move |enc| {
        let e = Event::decode(enc).map_err(|d| LogError::Chain {
            seq: 0,
            detail: d.to_string(),
        })?;
        let Some(r) = e.payload.rows() else {
            return Ok(crate::ledger::terms::RowsTerms {
                windows: Vec::new(),
                unique: crate::ledger::terms::TermRun::new(None),
            });
        };
        match known.remove(&r.table) {
            Some(t) => Ok(t),
            None => crate::ledger::rows::windows(store, r, Some(spill.clone())),
        }
    }
}

/// Nanoseconds since the epoch, to tell apart batches recorded apart.
pub(super) fn nonce() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Decodes a pending list: [`PENDING_TAG`], then per batch its id (32
/// bytes) and event count (u64 little-endian), then BLAKE3 of all that.
/// The error says what is wrong.
pub(crate) fn decode_pending(bytes: &[u8]) -> Result<Vec<(ObjectId, u64)>, &'static str> {
    let n = bytes.len();
    if n < PENDING_TAG.len() + 32
        || !bytes.starts_with(PENDING_TAG)
        || !(n - PENDING_TAG.len() - 32).is_multiple_of(40)
    {
        return Err("malformed");
    }
    if blake3::hash(&bytes[..n - 32]).as_bytes() != &bytes[n - 32..] {
        return Err("checksum does not match");
    }
    Ok(bytes[PENDING_TAG.len()..n - 32]
        .chunks(40)
        .map(|c| {
            let id = ObjectId::from_slice(&c[..32]).expect("32 bytes");
            (id, u64::from_le_bytes(c[32..].try_into().expect("8 bytes")))
        })
        .collect())
}

impl Repo {
    fn pending_dir(&self) -> PathBuf {
        self.dot.join("pending")
    }

    /// The file listing branch `b`'s pending batches (the name is hex, so
    /// any branch name maps to one plain file).
    fn pending_path(&self, b: &str) -> PathBuf {
        let hex: String = b.bytes().map(|x| format!("{x:02x}")).collect();
        self.pending_dir().join(hex)
    }

    /// The batches recorded on branch `b` since its last commit, in order
    /// (those its head commit already lists are dropped: a crash between
    /// moving the ref and clearing the list leaves them there).
    pub(crate) fn pending(&self, b: &str) -> Result<Vec<(ObjectId, u64)>, RepoError> {
        let path = self.pending_path(b);
        crate::fsutil::refuse_symlink(&path).map_err(RepoError::io(&path))?;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RepoError::io(&path)(e)),
        };
        let damaged = |detail: &str| LogError::Corrupt {
            path: path.clone(),
            offset: 0,
            detail: format!("{detail}: the pending ledger events of branch {b} cannot be read"),
        };
        let mut out = decode_pending(&bytes).map_err(damaged)?;
        if let Some(h) = self.refs.get(crate::refs::RefKind::Branch, b)? {
            let done: HashSet<ObjectId> = self.read_commit(h)?.events.iter().map(|e| e.0).collect();
            out.retain(|(id, _)| !done.contains(id));
        }
        Ok(out)
    }

    /// Replaces branch `b`'s pending list (removes it when empty).
    pub(crate) fn set_pending(&self, b: &str, list: &[(ObjectId, u64)]) -> Result<(), RepoError> {
        let path = self.pending_path(b);
        if list.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RepoError::io(&path)(e)),
                _ => Ok(()),
            };
        }
        let mut bytes = PENDING_TAG.to_vec();
        for (id, count) in list {
            bytes.extend_from_slice(id.as_bytes());
            bytes.extend_from_slice(&count.to_le_bytes());
        }
        let sum = blake3::hash(&bytes);
        bytes.extend_from_slice(sum.as_bytes());
        crate::fsutil::create_dir_durable(&self.pending_dir())
            .map_err(RepoError::io(&self.pending_dir()))?;
        crate::fsutil::write_atomic(&path, &bytes).map_err(RepoError::io(&path))
    }

    /// The branch events are recorded on now; a detached HEAD has none.
    pub(crate) fn recording_branch(&self) -> Result<String, RepoError> {
        match self.refs.head()? {
            Head::Branch(b) => Ok(b),
            Head::Detached(_) => Err(RepoError::DetachedHead),
        }
    }

    /// Records events without a commit: one batch, pending on the current
    /// branch until its next commit brings it; returns how many.
    pub(crate) fn record(
        &self,
        lock: &RepoLock,
        who: &super::Recorder,
        drafts: Vec<Draft>,
    ) -> Result<u64, RepoError> {
        if let Some(d) = drafts.first() {
            crate::ledger::values::text("the actor", &d.actor, crate::ledger::values::MAX_NAME)?;
        }
        let branch = self.recording_branch()?;
        let n = drafts.len() as u64;
        if let Some(preview) = &who.dry_run {
            preview.lock().expect("not poisoned").extend(drafts);
            return Ok(n);
        }
        if n == 0 {
            return Ok(0);
        }
        let mut b = BatchBuilder::new(self.head_commit()?, nonce());
        for d in drafts {
            b.push(&Event::from(d))?;
        }
        let built = b.finish()?;
        let writer = self.store.writer()?;
        let id = writer.put(&built.bytes)?;
        writer.finish()?;
        crate::failpoint::hit("ledger:batch-stored");
        let mut list = self.pending(&branch)?;
        list.push((id, n));
        self.set_pending(&branch, &list)?;
        // Derived: a batch the index lacks is read whole by readers.
        let _ = self.index_batch(lock, &id, &built.bytes, KnownWindows::new());
        Ok(n)
    }

    /// Adds a batch to the ledger index (under the lock); `known`: the
    /// windows of its `Rows` events already collected, by table.
    pub(crate) fn index_batch(
        &self,
        _lock: &RepoLock,
        id: &ObjectId,
        bytes: &[u8],
        known: KnownWindows,
    ) -> Result<(), RepoError> {
        Ok(LedgerIndex::open_rw(&self.index_dir())?.add_batch(
            id,
            bytes,
            &mut rows_windows(&self.store, known, self.tmp_dir()),
        )?)
    }

    /// The commits of `rev`'s history in ledger order: a commit's ledger
    /// extends its first parent's with the commits its other parents bring
    /// (parents before children, in parent order), then itself.
    pub(crate) fn ledger_order(&self, rev: CommitId) -> Result<Vec<CommitId>, RepoError> {
        // The first-parent chain, each commit with its other parents.
        let mut chain: Vec<(CommitId, Vec<CommitId>)> = Vec::new();
        let mut at = Some(rev);
        while let Some(x) = at {
            let parents = self.read_commit(x)?.parents;
            at = parents.first().copied();
            chain.push((x, parents.into_iter().skip(1).collect()));
        }
        let mut seen: HashSet<CommitId> = HashSet::new();
        let mut order = Vec::new();
        for (x, others) in chain.into_iter().rev() {
            for p in others {
                self.post_order(p, &mut seen, &mut order)?;
            }
            seen.insert(x);
            order.push(x);
        }
        Ok(order)
    }

    /// Appends, parents first, the commits reachable from `from` not yet
    /// seen (iteratively: histories are deep).
    pub(crate) fn post_order(
        &self,
        from: CommitId,
        seen: &mut HashSet<CommitId>,
        order: &mut Vec<CommitId>,
    ) -> Result<(), RepoError> {
        let mut stack: Vec<(CommitId, bool)> = vec![(from, false)];
        while let Some((c, expanded)) = stack.pop() {
            if seen.contains(&c) {
                continue;
            }
            if expanded {
                seen.insert(c);
                order.push(c);
                continue;
            }
            stack.push((c, true));
            let parents = self.read_commit(c)?.parents;
            for p in parents.into_iter().rev() {
                if !seen.contains(&p) {
                    stack.push((p, false));
                }
            }
        }
        Ok(())
    }

    /// The batches of `rev`'s ledger, placed.
    pub(crate) fn history_parts(&self, rev: Option<CommitId>) -> Result<Vec<Part>, RepoError> {
        let mut parts = Vec::new();
        let Some(rev) = rev else {
            return Ok(parts);
        };
        let mut start = 0;
        for c in self.ledger_order(rev)? {
            for (batch, count) in self.read_commit(c)?.events {
                parts.push(Part {
                    batch,
                    commit: Some(c),
                    start,
                    count,
                });
                start += count;
            }
        }
        Ok(parts)
    }

    /// The batches a merge of `theirs` into `ours` brings: those of the
    /// commits of theirs' history that ours' lacks, parents first (their
    /// positions are left at 0: only the order matters to the caller).
    pub(crate) fn brought_parts(
        &self,
        ours: CommitId,
        theirs: CommitId,
    ) -> Result<Vec<Part>, RepoError> {
        let mut seen = HashSet::new();
        self.post_order(ours, &mut seen, &mut Vec::new())?;
        let mut order = Vec::new();
        self.post_order(theirs, &mut seen, &mut order)?;
        let mut parts = Vec::new();
        for c in order {
            for (batch, count) in self.read_commit(c)?.events {
                parts.push(Part {
                    batch,
                    commit: Some(c),
                    start: 0,
                    count,
                });
            }
        }
        Ok(parts)
    }

    /// Appends pending batches to a view's parts.
    pub(super) fn with_pending(mut parts: Vec<Part>, pending: &[(ObjectId, u64)]) -> Vec<Part> {
        let mut start = parts.last().map_or(0, |p| p.start + p.count);
        for &(batch, count) in pending {
            parts.push(Part {
                batch,
                commit: None,
                start,
                count,
            });
            start += count;
        }
        parts
    }

    /// The ledger as readers see it now: HEAD's history and the events
    /// recorded on the current branch since.
    pub fn ledger_view(&self) -> Result<LedgerView<'_>, RepoError> {
        let parts = self.history_parts(self.head_commit()?)?;
        let pending = match self.refs.head()? {
            Head::Branch(b) => self.pending(&b)?,
            Head::Detached(_) => Vec::new(),
        };
        Ok(LedgerView::new(
            &self.store,
            &self.index_dir(),
            Self::with_pending(parts, &pending),
        ))
    }

    /// The ledger as of commit `rev`: the batches of its history.
    pub fn ledger_view_at(&self, rev: CommitId) -> Result<LedgerView<'_>, RepoError> {
        Ok(LedgerView::new(
            &self.store,
            &self.index_dir(),
            self.history_parts(Some(rev))?,
        ))
    }

    /// The ledger as of `rev`, or as readers see it now when absent
    /// ([`Repo::ledger_view`]).
    pub fn ledger_view_as_of(&self, rev: Option<CommitId>) -> Result<LedgerView<'_>, RepoError> {
        match rev {
            Some(r) => self.ledger_view_at(r),
            None => self.ledger_view(),
        }
    }

    /// Extends `f` with the event hashes of `parts`' batches.
    pub(crate) fn extend_frontier(
        &self,
        f: &mut Frontier,
        parts: &[Part],
    ) -> Result<(), RepoError> {
        for p in parts {
            let bytes = self.store.get(&p.batch).map_err(LogError::from)?;
            let (h, frames) = batch::parse(&p.batch, &bytes)?;
            if h.count != p.count {
                return Err(LogError::Batch {
                    id: p.batch,
                    offset: 0,
                    detail: format!("it holds {} events; its commit says {}", h.count, p.count),
                }
                .into());
            }
            for fr in &frames {
                let payload = batch::frame_payload(&p.batch, &bytes, fr)?;
                for enc in batch::split_frame(&p.batch, fr, &payload)? {
                    f.push(merkle::leaf(&merkle::Hash::of(enc)));
                }
            }
        }
        Ok(())
    }

    /// The Merkle frontier of commit `rev`'s ledger: from the cache, or
    /// from the nearest first-parent ancestor it caches, extended.
    pub(crate) fn ledger_frontier(&self, rev: Option<CommitId>) -> Result<Frontier, RepoError> {
        let Some(rev) = rev else {
            return Ok(Frontier::default());
        };
        let ix = LedgerIndex::open_ro(&self.index_dir());
        let cached = |c: &CommitId| ix.as_ref().and_then(|ix| ix.frontier(c).ok().flatten());
        if let Some(f) = cached(&rev) {
            return Ok(f);
        }
        let mut at = Some(rev);
        let mut base = Frontier::default();
        while let Some(c) = at {
            if let Some(f) = cached(&c) {
                base = f;
                break;
            }
            at = self.read_commit(c)?.parents.first().copied();
        }
        let parts = self.history_parts(Some(rev))?;
        let from = parts.partition_point(|p| p.start < base.size);
        self.extend_frontier(&mut base, &parts[from..])?;
        Ok(base)
    }

    /// Caches a commit's frontier (derived: failures are ignored).
    pub(crate) fn cache_frontier(&self, _lock: &RepoLock, c: CommitId, f: &Frontier) {
        if let Ok(ix) = LedgerIndex::open_rw(&self.index_dir()) {
            let _ = ix.put_frontier(&c, f);
        }
    }

    /// Indexes every batch the history of the refs and the pending lists
    /// reach (under the lock); returns how many batches it indexed.
    pub(crate) fn update_ledger_index(&self, _lock: &RepoLock) -> Result<u64, RepoError> {
        let ix = LedgerIndex::open_rw(&self.index_dir())?;
        let mut n = 0;
        for id in self.reachable_batches()? {
            if !ix.has_batch(&id)? {
                let bytes = self.store.get(&id).map_err(LogError::from)?;
                ix.add_batch(
                    &id,
                    &bytes,
                    &mut rows_windows(&self.store, KnownWindows::new(), self.tmp_dir()),
                )?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Every batch a ref's history or a branch's pending list names.
    pub(crate) fn reachable_batches(&self) -> Result<Vec<ObjectId>, RepoError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<CommitId> = Vec::new();
        for kind in [crate::refs::RefKind::Branch, crate::refs::RefKind::Tag] {
            for (_, c) in self.refs.list(kind)? {
                stack.push(c?);
            }
        }
        if let Head::Detached(c) = self.refs.head()? {
            stack.push(c);
        }
        while let Some(c) = stack.pop() {
            if !seen.insert(c) {
                continue;
            }
            let commit = self.read_commit(c)?;
            out.extend(commit.events.iter().map(|e| e.0));
            stack.extend(commit.parents);
        }
        for (b, _) in self.refs.list(crate::refs::RefKind::Branch)? {
            out.extend(self.pending(&b)?.into_iter().map(|e| e.0));
        }
        Ok(out)
    }

    /// Every event of the current view, in order, with its hashes and
    /// batch (for export); returns how many.
    pub fn export_ledger(&self, each: &mut dyn FnMut(ExportedEvent)) -> Result<u64, RepoError> {
        let view = self.ledger_view()?.with_voided().stored();
        view.each(&mut |e| {
            let batch = view.part_of(e.seq).map(|p| p.batch).expect("in the view");
            each(ExportedEvent::new(&e, &batch));
            Ok::<(), RepoError>(())
        })?;
        Ok(view.limit())
    }
}

impl Repo {
    /// Deletes branch `name`; returns the commit it pointed at. Refused
    /// while HEAD is on it, and — unless `force` — while it holds commits
    /// no other ref reaches or ledger events no commit brought yet.
    pub fn delete_branch(
        &self,
        _lock: &RepoLock,
        name: &str,
        force: bool,
    ) -> Result<CommitId, RepoError> {
        use crate::refs::RefKind;
        if self.refs.head()? == Head::Branch(name.to_string()) {
            return Err(RepoError::BranchInUse(name.to_string()));
        }
        let Some(tip) = self.refs.get(RefKind::Branch, name)? else {
            return Err(crate::refs::RefError::NotFound {
                kind: RefKind::Branch.noun(),
                name: name.to_string(),
            }
            .into());
        };
        if !force {
            let pending: u64 = self.pending(name)?.iter().map(|p| p.1).sum();
            let mut others: Vec<CommitId> = Vec::new();
            for kind in [RefKind::Branch, RefKind::Tag] {
                for (n, c) in self.refs.list(kind)? {
                    if !(kind == RefKind::Branch && n == name) {
                        others.push(c?);
                    }
                }
            }
            if let Head::Detached(c) = self.refs.head()? {
                others.push(c);
            }
            let mut reached = HashSet::new();
            let mut scratch = Vec::new();
            for c in others {
                self.post_order(c, &mut reached, &mut scratch)?;
            }
            if pending > 0 || !reached.contains(&tip) {
                return Err(RepoError::BranchHoldsWork {
                    name: name.to_string(),
                    unmerged: !reached.contains(&tip),
                    pending,
                });
            }
        }
        self.refs.delete(RefKind::Branch, name)?;
        self.set_pending(name, &[])?;
        Ok(tip)
    }
}

/// One event a dry run would record, named as a reader names it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PreviewLine {
    /// The example's locator, or `dataset:<path>`.
    pub subject: String,
    /// The event's kind.
    pub kind: &'static str,
    /// Its fields.
    pub payload: serde_json::Value,
}

impl Repo {
    /// The events a dry run collected, with each example's locator.
    pub fn describe_drafts(&self, drafts: &[Draft]) -> Result<Vec<PreviewLine>, RepoError> {
        use crate::ledger::index::Term;
        use crate::ledger::{Payload, Subject};
        let ids: HashSet<crate::ledger::ExampleId> = drafts
            .iter()
            .filter_map(|d| match d.subject {
                Subject::Example(x) => Some(x),
                Subject::Dataset(_) => None,
            })
            .collect();
        let want: Vec<(u64, u64)> = ids
            .iter()
            .map(|x| (Term::Example(x).key(), Term::Example(x).key()))
            .collect();
        let mut locators = std::collections::HashMap::new();
        self.ledger_view()?.read(&Some(want), &|_| true, &mut |e| {
            if let (Subject::Example(x), Payload::Added { locator, .. }) = (&e.subject, &e.payload)
                && ids.contains(x)
            {
                locators.insert(*x, locator.as_str().to_string());
            }
            Ok::<(), RepoError>(())
        })?;
        Ok(drafts
            .iter()
            .map(|d| PreviewLine {
                subject: match &d.subject {
                    Subject::Example(x) => {
                        locators.get(x).cloned().unwrap_or_else(|| x.to_string())
                    }
                    Subject::Dataset(p) => format!("dataset:{p}"),
                },
                kind: d.payload.kind().name(),
                payload: d.payload.to_json(),
            })
            .collect())
    }
}
