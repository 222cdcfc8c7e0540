//! The operation log: an append-only, hash-chained local journal of every
//! change to the refs and the pending ledger events — who, when, which
//! command, the state before and after — so any of them can be undone
//! (`oplog restore`, `undo`) and what a deleted branch held stays on
//! record (jj's operation log is the anchor).
//!
//! `.folio/oplog` holds one JSON object a line (docs/FORMAT.md): `seq`,
//! `time`, `actor`, `command`, `before` and `after` (each: `head`,
//! `branches`, `tags`, `pending`), `prev` (the previous line's `hash`,
//! zeros for the first) and `hash`: BLAKE3 of the line as written with
//! `hash` empty. A line cut short at the end is a torn append and is
//! ignored; any other damage is an error naming the line.

use std::collections::{BTreeMap, HashSet};

use super::{Repo, RepoError};
use crate::id::{CommitId, ObjectId};
use crate::lock::RepoLock;
use crate::refs::{Head, RefKind};

/// The refs and pending ledger batches at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RefState {
    /// `branch:NAME` or `commit:ID`.
    pub head: String,
    /// Branch → commit id.
    pub branches: BTreeMap<String, String>,
    /// Tag → commit id; for an annotated tag, `COMMIT TAGOBJECT`.
    pub tags: BTreeMap<String, String>,
    /// Branch → its pending batches (id, event count).
    pub pending: BTreeMap<String, Vec<(String, u64)>>,
}

/// One entry of the operation log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Operation {
    /// Its number, from 1.
    pub seq: u64,
    /// Seconds since the epoch, UTC.
    pub time: i64,
    /// Who ran it.
    pub actor: String,
    /// The command, as given.
    pub command: String,
    /// The state before.
    pub before: RefState,
    /// The state after.
    pub after: RefState,
    /// The previous entry's hash (zeros for the first).
    pub prev: String,
    /// BLAKE3 of this entry's line written with `hash` empty.
    pub hash: String,
}

use super::chain::{Chained, ZERO, line_hash};

impl Chained for Operation {
    fn seq(&self) -> u64 {
        self.seq
    }
    fn prev(&self) -> &str {
        &self.prev
    }
    fn hash(&self) -> &str {
        &self.hash
    }
    fn with_hash(&self, h: String) -> Self {
        Operation {
            hash: h,
            ..self.clone()
        }
    }
}

/// The entries of an operation log's bytes, their chain checked; the
/// error names the line (from 1) and what is wrong with it. A last line
/// without its newline that does not parse is a torn append: ignored.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn parse_operations(text: &[u8]) -> Result<Vec<Operation>, (usize, &'static str)> {
    super::chain::parse(text)
}

impl RefState {
    /// Every commit, tag object and batch id the state names.
    fn ids(&self) -> impl Iterator<Item = &str> {
        self.branches
            .values()
            .map(String::as_str)
            // An annotated tag: `COMMIT TAGOBJECT`.
            .chain(self.tags.values().flat_map(|v| v.split(' ')))
            .chain(self.head.strip_prefix("commit:"))
            .chain(self.pending.values().flatten().map(|p| p.0.as_str()))
    }
}

impl Repo {
    fn oplog_path(&self) -> std::path::PathBuf {
        self.dot.join("oplog")
    }

    /// The refs and pending batches now.
    pub fn ref_state(&self) -> Result<RefState, RepoError> {
        let mut s = RefState {
            head: match self.refs.head()? {
                Head::Branch(b) => format!("branch:{b}"),
                Head::Detached(c) => format!("commit:{c}"),
            },
            ..Default::default()
        };
        for (name, c) in self.refs.list(RefKind::Branch)? {
            s.branches.insert(name.clone(), c?.to_string());
            let p = self.pending(&name)?;
            if !p.is_empty() {
                let list = p.iter().map(|(id, n)| (id.to_string(), *n)).collect();
                s.pending.insert(name, list);
            }
        }
        for (name, v) in self.refs.list_tags()? {
            s.tags.insert(
                name,
                match v? {
                    (c, None) => c.to_string(),
                    (c, Some(t)) => format!("{c} {t}"),
                },
            );
        }
        Ok(s)
    }

    /// Every entry of the operation log, oldest first, its chain checked.
    pub fn operations(&self) -> Result<Vec<Operation>, RepoError> {
        super::chain::read(&self.oplog_path(), "operation log")
    }

    /// Appends an entry when the state moved since `before`; returns it.
    pub fn record_operation(
        &self,
        _lock: &RepoLock,
        before: &RefState,
        command: &str,
        actor: &str,
        time: i64,
    ) -> Result<Option<Operation>, RepoError> {
        let after = self.ref_state()?;
        if after == *before {
            return Ok(None);
        }
        let ops = self.operations()?;
        let mut op = Operation {
            seq: ops.len() as u64 + 1,
            time,
            actor: actor.to_string(),
            command: command.to_string(),
            before: before.clone(),
            after,
            prev: ops.last().map_or(ZERO.to_string(), |o| o.hash.clone()),
            hash: String::new(),
        };
        op.hash = line_hash(&op);
        crate::failpoint::hit("oplog:before-append");
        super::chain::append(&self.oplog_path(), &op)?;
        Ok(Some(op))
    }

    /// Returns the refs and pending batches to the state before (or, with
    /// `after`, after) operation `seq`; the working tree is not touched.
    /// Returns that state.
    pub fn restore_operation(
        &self,
        _lock: &RepoLock,
        seq: u64,
        after: bool,
    ) -> Result<RefState, RepoError> {
        if self.merge_state()?.is_some() {
            return Err(RepoError::MergeInProgress);
        }
        let ops = self.operations()?;
        let op = ops
            .iter()
            .find(|o| o.seq == seq)
            .ok_or(RepoError::NoOperation(seq))?;
        let target = if after { &op.after } else { &op.before };
        let id = |s: &str| -> Result<CommitId, RepoError> {
            let c = CommitId(
                s.parse::<ObjectId>()
                    .map_err(|_| RepoError::NoOperation(seq))?,
            );
            self.read_commit(c)?; // still in the store
            Ok(c)
        };
        let now = self.ref_state()?;
        for (kind, want, have) in [
            (RefKind::Branch, &target.branches, &now.branches),
            (RefKind::Tag, &target.tags, &now.tags),
        ] {
            for (name, v) in want {
                match v.split_once(' ') {
                    Some((c, t)) if kind == RefKind::Tag => {
                        let (c, t) = (
                            id(c)?,
                            t.parse::<ObjectId>()
                                .map_err(|_| RepoError::NoOperation(seq))?,
                        );
                        self.read_tag(name, c, t)?; // still in the store
                        self.refs.set_tag(name, (c, Some(t)))?;
                    }
                    _ => self.refs.set(kind, name, id(v)?)?,
                }
            }
            for name in have.keys().filter(|n| !want.contains_key(*n)) {
                self.refs.delete(kind, name)?;
            }
        }
        for b in now.branches.keys().chain(target.branches.keys()) {
            let list: Vec<(ObjectId, u64)> = target
                .pending
                .get(b)
                .map(|l| {
                    l.iter()
                        .filter_map(|(i, n)| Some((i.parse().ok()?, *n)))
                        .collect()
                })
                .unwrap_or_default();
            self.set_pending(b, &list)?;
        }
        let head = match (
            target.head.strip_prefix("branch:"),
            target.head.strip_prefix("commit:"),
        ) {
            (Some(b), _) => Head::Branch(b.to_string()),
            (_, Some(c)) => Head::Detached(id(c)?),
            _ => return Err(RepoError::NoOperation(seq)),
        };
        self.refs.set_head(&head)?;
        Ok(target.clone())
    }

    /// Commits and batches the operation log names in entries younger than
    /// `days` (gc keeps them: a deleted branch stays provable).
    pub(crate) fn oplog_keeps(&self, days: u32, now: i64) -> Result<HashSet<ObjectId>, RepoError> {
        let mut out = HashSet::new();
        if days == 0 {
            return Ok(out);
        }
        let since = now - i64::from(days) * 86_400;
        for op in self.operations()?.iter().filter(|o| o.time >= since) {
            for s in op.before.ids().chain(op.after.ids()) {
                if let Ok(id) = s.parse::<ObjectId>() {
                    out.insert(id);
                }
            }
        }
        Ok(out)
    }
}
