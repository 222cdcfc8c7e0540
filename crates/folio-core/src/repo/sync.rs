//! Sharing through remotes: `remote add/remove/list`, `push`, `fetch`,
//! and the pieces `clone` and `pull` are made of (docs/REMOTES.md).
//!
//! What the two sides have is learnt without listing objects: a remote
//! ref moves only after everything it reaches is uploaded, so the commits
//! a remote ref reaches are complete there; and every object in a remote
//! pack is named in that pack's index, which is small, listed once per
//! pack (`packs/` has one entry per push, not per object) and cached under
//! `.folio/remotes/NAME/`. Large objects, stored one per key, are checked
//! one by one before upload.
//!
//! What a remote sends is trusted for nothing: packs land in a quarantine
//! folder under `.folio/`, every record is decoded and hashed against its
//! id, every commit, tree, manifest and ledger batch the new refs reach is
//! decoded and must be present, and only then are the packs moved into
//! the store and the remote-tracking refs set.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::{Repo, RepoError};
use crate::fsutil;
use crate::id::{CommitId, ObjectId};
use crate::lock::RepoLock;
use crate::object::{Commit, EntryKind, Tree};
use crate::progress::Progress;
use crate::refs::{RefKind, validate_name};
use crate::remote::{self, Backend, Location, MARKER, RemoteError, S3Settings, Version};
use crate::store::{Encoding, PackWriter, Store, parse_index, parse_record};

mod gc;
mod purges;
mod reseals;
pub use gc::RemoteGcReport;

/// Data packs are cut at this size, so uploads run in parallel and a
/// partial fetch reads ranges of a bounded file.
const DATA_PACK_MAX: u64 = 256 << 20;
/// Below this, data is not split across packs.
const DATA_PACK_MIN: u64 = 32 << 20;
/// Gaps between wanted records smaller than this are read through.
const RANGE_GAP: u64 = 64 << 10;
/// A push relies on an object the remote already holds only if the
/// remote's branches reach it, or it was written less than this many
/// seconds ago; otherwise it uploads it again (which makes it new). A
/// remote gc never removes what is younger than its grace period, at
/// least [`GC_GRACE_MIN`], so what a push relies on outlives the push.
const TRUST_RECENT: i64 = 30 * 60;
/// The shortest grace period a remote gc accepts, in seconds.
pub const GC_GRACE_MIN: i64 = 60 * 60;

/// A configured remote, as `.folio/remotes.toml` holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteSpec {
    /// `file:///path`, a path, or `s3://bucket/prefix`.
    pub url: String,
    /// S3 endpoint for S3-compatible stores (`http://127.0.0.1:9000`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// S3 region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Allow plain HTTP to the endpoint.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_http: bool,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RemotesFile {
    #[serde(default)]
    remote: BTreeMap<String, RemoteSpec>,
}

/// Credentials and defaults the caller read from the environment
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION`, `AWS_ENDPOINT_URL`); a remote's own settings win.
pub type RemoteEnv = S3Settings;

/// An open connection to a remote.
pub struct Connection {
    /// The remote's name (`origin`).
    pub name: String,
    backend: Box<dyn Backend>,
    /// How many transfers run at once.
    jobs: usize,
    /// The time, seconds since the epoch (a remote's gc grace period and
    /// a push's trust in recent objects count from it).
    now: i64,
}

impl Connection {
    /// Wraps a backend (tests use this to inject faults).
    pub fn new(name: &str, backend: Box<dyn Backend>) -> Connection {
        Connection {
            name: name.to_string(),
            backend,
            jobs: 4,
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        }
    }

    /// Takes `now` as the time (tests).
    pub fn with_clock(mut self, now: i64) -> Connection {
        self.now = now;
        self
    }

    /// Runs at most `jobs` transfers at once.
    pub fn with_jobs(mut self, jobs: usize) -> Connection {
        self.jobs = jobs.max(1);
        self
    }

    /// The remote as shown to users.
    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    fn damaged(&self, detail: String) -> RemoteError {
        RemoteError::Damaged {
            remote: self.backend.describe(),
            detail,
        }
    }
}

/// Checks a remote's name: a ref-name part without `/`.
pub fn validate_remote_name(name: &str) -> Result<(), RepoError> {
    if name.contains('/') || validate_name(name).is_err() {
        return Err(RepoError::RemoteUse(format!(
            "{name:?} is not a remote name: use letters, digits, '-', '_' and '.' (no '/')"
        )));
    }
    Ok(())
}

/// One ref a push moved, or would have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    /// Branch or tag.
    pub kind: RefKind,
    /// Its name.
    pub name: String,
    /// Where the remote had it (`None`: new there).
    pub old: Option<CommitId>,
    /// Where it is now.
    pub new: CommitId,
}

/// What a push did.
#[derive(Debug, Clone, Default)]
pub struct PushReport {
    /// Refs moved on the remote.
    pub updated: Vec<RefUpdate>,
    /// Refs the remote already had at the pushed commit.
    pub up_to_date: Vec<String>,
    /// Refs refused: name and why.
    pub rejected: Vec<(String, String)>,
    /// Objects uploaded.
    pub objects: u64,
    /// Bytes uploaded (packs, indexes and large objects).
    pub bytes: u64,
    /// Requests made that wrote something.
    pub writes: u64,
    /// Purges carried to the remote (their records, D86).
    pub purges: Vec<ObjectId>,
    /// Copies of purged objects deleted on the remote.
    pub purged_copies: u64,
    /// The remote's purges applied here first (D86).
    pub applied_purges: Vec<ObjectId>,
    /// Reseal records carried to the remote (its copies replaced, D89).
    pub reseals: Vec<ObjectId>,
    /// The remote's reseals applied here first (D89).
    pub applied_reseals: Vec<ObjectId>,
}

/// What a fetch did.
#[derive(Debug, Clone, Default)]
pub struct FetchReport {
    /// Remote-tracking refs (`origin/main`) set or moved: name, old, new.
    pub updated: Vec<(String, Option<CommitId>, CommitId)>,
    /// Remote-tracking refs removed (the branch is gone from the remote).
    pub pruned: Vec<String>,
    /// Tags created locally.
    pub tags: Vec<String>,
    /// Objects taken.
    pub objects: u64,
    /// Bytes read from the remote.
    pub bytes: u64,
    /// File contents left on the remote (fetched on demand).
    pub deferred: u64,
    /// The remote's purges applied here (their records, D86).
    pub purges: Vec<ObjectId>,
    /// Local copies of purged objects removed.
    pub purged_copies: u64,
    /// The remote's reseals applied here: our copies of what they sealed
    /// replaced by the remote's (D89).
    pub reseals: Vec<ObjectId>,
}

/// Which file contents a fetch takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataMode {
    /// Everything the fetched commits reach.
    All,
    /// None: history, trees, manifests and the ledger only.
    None,
    /// What these paths (datasets or paths inside them) need, at each
    /// fetched branch tip.
    Paths(Vec<String>),
}

/// A remote's branches (`false`) and tags (`true`) by name, with their
/// commits and versions.
/// A remote's refs: (is a tag, name) → commit, version for
/// compare-and-swap, and an annotated tag's object.
type RemoteRefs = BTreeMap<(bool, String), (CommitId, Version, Option<ObjectId>)>;

/// One pack on a remote, from its index.
struct RemotePack {
    key: String,
    entries: Vec<(ObjectId, u64)>,
    /// When its pack or index was last written (the later), seconds
    /// since the epoch.
    modified: i64,
    /// Bytes of the pack and its index.
    size: u64,
}

/// A large object on a remote, stored one per key.
struct RemoteLoose {
    key: String,
    modified: i64,
    size: u64,
}

/// What a remote's packs hold: id → (pack, record start, record end).
#[derive(Default)]
struct RemoteIndex {
    packs: Vec<RemotePack>,
    at: HashMap<ObjectId, (usize, u64, u64)>,
    /// Large objects stored one per key.
    loose: HashMap<ObjectId, RemoteLoose>,
    /// Pack files without an index (interrupted uploads).
    strays: Vec<remote::Listed>,
}

impl RemoteIndex {
    fn has(&self, id: &ObjectId) -> bool {
        self.at.contains_key(id) || self.loose.contains_key(id)
    }

    /// When the newest copy of `id` on the remote was written.
    fn modified(&self, id: &ObjectId) -> Option<i64> {
        let packed = self.at.get(id).map(|(p, _, _)| self.packs[*p].modified);
        let loose = self.loose.get(id).map(|l| l.modified);
        packed.max(loose)
    }
}

/// Reads either of two stores (the quarantine first).
struct Sources<'a> {
    local: &'a Store,
    extra: Option<&'a Store>,
    /// The local store's loose objects, listed once, when the caller
    /// holds the lock and asks about many objects (a stat per question
    /// and encoding costs seconds over 100,000 files).
    local_loose: Option<HashSet<ObjectId>>,
}

impl Sources<'_> {
    fn contains(&self, id: &ObjectId) -> bool {
        // A quarantine holds packs only (its large objects wait apart).
        let in_extra = |s: &Store| match self.local_loose {
            Some(_) => s.in_a_pack(id),
            None => s.contains(id),
        };
        self.extra.is_some_and(in_extra) || self.has_locally(id)
    }

    /// Whether the local store holds `id`.
    fn has_locally(&self, id: &ObjectId) -> bool {
        match &self.local_loose {
            Some(loose) => self.local.in_a_pack(id) || loose.contains(id),
            None => self.local.contains(id),
        }
    }

    fn get(&self, id: &ObjectId) -> Option<Vec<u8>> {
        if let Some(s) = self.extra
            && s.contains(id)
        {
            return s.get(id).ok();
        }
        self.local.get(id).ok()
    }

    fn record(&self, id: &ObjectId) -> Option<crate::store::Record> {
        if let Some(s) = self.extra
            && let Ok(Some(r)) = s.packed_record(id)
        {
            return Some(r);
        }
        self.local.packed_record(id).ok().flatten()
    }
}

/// Whether a push may rely on the remote's copy of an object.
type Trusted<'a> = &'a (dyn Fn(&ObjectId) -> bool + Sync);

/// Fetches an object neither store holds (a large history object still
/// on the remote), or `None`.
type Fill<'a> = &'a dyn Fn(&ObjectId) -> Result<Option<Vec<u8>>, RepoError>;

/// The objects some commits reach, split into history (meta) and file
/// contents (data).
#[derive(Default)]
struct Closure {
    commits: Vec<CommitId>,
    meta: Vec<ObjectId>,
    data: Vec<ObjectId>,
    /// Data id → the first path that needs it (for messages).
    paths: HashMap<ObjectId, String>,
}

fn ref_key(kind: RefKind, name: &str) -> String {
    match kind {
        RefKind::Tag => format!("refs/tags/{name}"),
        _ => format!("refs/heads/{name}"),
    }
}

impl Repo {
    fn remotes_path(&self) -> PathBuf {
        self.dot.join("remotes.toml")
    }

    fn read_remotes(&self) -> Result<RemotesFile, RepoError> {
        let p = self.remotes_path();
        match fs::read_to_string(&p) {
            Ok(t) => toml::from_str(&t).map_err(|e| {
                let line = e.span().map_or(0, |s| t[..s.start].lines().count().max(1));
                RepoError::RemoteUse(format!(
                    "{}:{line}: {}; fix the file, or remove the remote and add it again",
                    p.display(),
                    e.message()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RemotesFile::default()),
            Err(e) => Err(RepoError::io(&p)(e)),
        }
    }

    fn write_remotes(&self, f: &RemotesFile) -> Result<(), RepoError> {
        let p = self.remotes_path();
        let mut text = String::from(
            "# Remotes of this repository, written by `folio remote`.\n# Credentials never go here: folio reads them from AWS_* variables.\n",
        );
        text.push_str(&toml::to_string(f).map_err(|e| RepoError::RemoteUse(e.to_string()))?);
        fsutil::write_atomic(&p, text.as_bytes()).map_err(RepoError::io(&p))
    }

    /// The configured remotes, by name.
    pub fn remotes(&self) -> Result<BTreeMap<String, RemoteSpec>, RepoError> {
        Ok(self.read_remotes()?.remote)
    }

    /// One configured remote.
    pub fn remote(&self, name: &str) -> Result<RemoteSpec, RepoError> {
        self.remotes()?.remove(name).ok_or_else(|| {
            RepoError::RemoteUse(format!(
                "no remote named {name:?}: add one with `folio remote add {name} URL` (see `folio remote -v`)"
            ))
        })
    }

    /// Adds a remote.
    pub fn add_remote(
        &self,
        _lock: &RepoLock,
        name: &str,
        spec: RemoteSpec,
    ) -> Result<(), RepoError> {
        validate_remote_name(name)?;
        Location::parse(&spec.url, &self.work)?;
        let mut f = self.read_remotes()?;
        if f.remote.contains_key(name) {
            return Err(RepoError::RemoteUse(format!(
                "remote {name:?} exists (at {}); remove it first or pick another name",
                f.remote[name].url
            )));
        }
        f.remote.insert(name.to_string(), spec);
        self.write_remotes(&f)
    }

    /// Removes a remote, its remote-tracking refs and its cached indexes.
    pub fn remove_remote(&self, _lock: &RepoLock, name: &str) -> Result<(), RepoError> {
        let mut f = self.read_remotes()?;
        if f.remote.remove(name).is_none() {
            return Err(RepoError::RemoteUse(format!("no remote named {name:?}")));
        }
        for (r, _) in self.refs.list(RefKind::Remote)? {
            if r.split_once('/').is_some_and(|(n, _)| n == name) {
                self.refs.delete(RefKind::Remote, &r)?;
            }
        }
        let cache = self.remote_cache(name);
        if cache.exists() {
            fs::remove_dir_all(&cache).map_err(RepoError::io(&cache))?;
        }
        self.write_remotes(&f)
    }

    fn remote_cache(&self, name: &str) -> PathBuf {
        self.dot.join("remotes").join(name)
    }

    /// Opens a connection to the remote `name`; `env` holds what the
    /// caller read from the environment.
    pub fn connect(
        &self,
        name: &str,
        env: &RemoteEnv,
        jobs: usize,
    ) -> Result<Connection, RepoError> {
        let spec = self.remote(name)?;
        let location = Location::parse(&spec.url, &self.work)?;
        let settings = S3Settings {
            endpoint: spec.endpoint.clone().or_else(|| env.endpoint.clone()),
            region: spec.region.clone().or_else(|| env.region.clone()),
            allow_http: spec.allow_http || env.allow_http,
            ..env.clone()
        };
        Ok(Connection::new(name, remote::open(&location, &settings, jobs)?).with_jobs(jobs))
    }

    /// The branches and tags of a remote, with their versions.
    fn remote_refs(&self, conn: &Connection) -> Result<RemoteRefs, RepoError> {
        let mut out = BTreeMap::new();
        for (prefix, tag) in [("refs/heads/", false), ("refs/tags/", true)] {
            for l in conn.backend.list(prefix)? {
                let name = l.key.strip_prefix(prefix).unwrap_or(&l.key).to_string();
                if validate_name(&name).is_err() {
                    return Err(conn
                        .damaged(format!("{} is not a ref name folio writes", l.key))
                        .into());
                }
                let Some((bytes, v)) = conn.backend.read_ref(&l.key)? else {
                    continue; // deleted since the listing
                };
                let text = String::from_utf8_lossy(&bytes);
                let bad = || {
                    conn.damaged(format!(
                        "{} holds {:?}, not a commit id{}",
                        l.key,
                        text.trim_end(),
                        if tag { " (and a tag object id)" } else { "" }
                    ))
                };
                let (commit, object) = match text.trim_end().split_once(' ') {
                    None => (text.trim_end(), None),
                    Some((c, t)) if tag => (c, Some(t.parse::<ObjectId>().map_err(|_| bad())?)),
                    Some(_) => return Err(bad().into()),
                };
                let id: ObjectId = commit.parse().map_err(|_| bad())?;
                out.insert((tag, name), (CommitId(id), v, object));
            }
        }
        Ok(out)
    }

    /// Reads the remote's pack indexes, from the cache where it has them.
    fn remote_index(&self, conn: &Connection) -> Result<RemoteIndex, RepoError> {
        let cache = self.remote_cache(&conn.name).join("packs");
        fsutil::create_dir_durable(&cache).map_err(RepoError::io(&cache))?;
        let listed = conn.backend.list("packs/")?;
        let sizes: HashMap<&str, &remote::Listed> =
            listed.iter().map(|l| (l.key.as_str(), l)).collect();
        let mut idx = RemoteIndex::default();
        let mut keep = HashSet::new();
        for l in &listed {
            let Some(stem) = l.key.strip_suffix(".idx") else {
                if let Some(stem) = l.key.strip_suffix(".pack")
                    && !sizes.contains_key(format!("{stem}.idx").as_str())
                {
                    idx.strays.push(l.clone());
                }
                continue;
            };
            let pack_key = format!("{stem}.pack");
            let Some(pack) = sizes.get(pack_key.as_str()) else {
                return Err(conn.damaged(format!("{} has no {pack_key}", l.key)).into());
            };
            let pack_size = pack.size;
            let file = l.key.replace('/', "_");
            keep.insert(file.clone());
            let cached = cache.join(&file);
            // The cache holds only indexes that parsed; one that no longer
            // does (a damaged disk) is read from the remote again.
            let cached_entries = fs::read(&cached).ok().and_then(|b| parse_index(&b).ok());
            let mut entries = match cached_entries {
                Some(e) => e,
                None => {
                    let b = conn
                        .backend
                        .get(&l.key)?
                        .ok_or_else(|| conn.damaged(format!("{} vanished while listed", l.key)))?;
                    let e = parse_index(&b).map_err(|e| conn.damaged(format!("{}: {e}", l.key)))?;
                    fsutil::write_atomic(&cached, &b).map_err(RepoError::io(&cached))?;
                    e
                }
            };
            let n = idx.packs.len();
            entries.sort_by_key(|e| e.1);
            for (i, (id, off)) in entries.iter().enumerate() {
                let end = entries.get(i + 1).map_or(pack_size, |e| e.1);
                if end <= *off || end > pack_size {
                    return Err(conn
                        .damaged(format!(
                            "{}: record {} lies outside the pack",
                            l.key,
                            id.short(12)
                        ))
                        .into());
                }
                idx.at.insert(*id, (n, *off, end));
            }
            idx.packs.push(RemotePack {
                key: pack_key,
                entries,
                modified: pack.modified.max(l.modified),
                size: pack.size + l.size,
            });
        }
        // Large objects: one listing (each is at least 512 KiB, so there
        // are few), cached as a list of ids for `remote_holding`.
        let mut loose_list = String::new();
        for l in conn.backend.list("objects/")? {
            let name = l.key.trim_start_matches("objects/").replace('/', "");
            let hex = crate::store::loose_stem(&name);
            // A key that is not an object id is not folio's: left alone.
            if let Ok(id) = hex.parse::<ObjectId>() {
                loose_list.push_str(hex);
                loose_list.push('\n');
                idx.loose.insert(
                    id,
                    RemoteLoose {
                        key: l.key,
                        modified: l.modified,
                        size: l.size,
                    },
                );
            }
        }
        keep.insert("loose.list".to_string());
        let list_path = cache.join("loose.list");
        fsutil::write_atomic(&list_path, loose_list.as_bytes())
            .map_err(RepoError::io(&list_path))?;
        // Forget indexes of packs the remote no longer has.
        if let Ok(rd) = fs::read_dir(&cache) {
            for e in rd.filter_map(Result::ok) {
                let name = e.file_name().to_string_lossy().into_owned();
                if !keep.contains(&name) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(idx)
    }

    /// Commits reachable from `tips` that this repository holds.
    fn known_history(&self, tips: impl IntoIterator<Item = CommitId>) -> HashSet<CommitId> {
        let mut seen = HashSet::new();
        let mut stack: Vec<CommitId> = tips.into_iter().collect();
        while let Some(c) = stack.pop() {
            if !self.store.contains(&c.0) || !seen.insert(c) {
                continue;
            }
            if let Ok(commit) = self.read_commit(c) {
                stack.extend(commit.parents);
            }
        }
        seen
    }

    /// The objects `tips` reach beyond `stop` (commits complete on the
    /// other side) and `known` (objects the other side has), read from
    /// `src`. Every history object must be present and decode; file
    /// contents are listed, not read.
    #[allow(clippy::too_many_arguments)]
    fn closure(
        &self,
        src: &Sources<'_>,
        tips: &[CommitId],
        stop: &HashSet<CommitId>,
        known: &dyn Fn(&ObjectId) -> bool,
        missing: &dyn Fn(String) -> RepoError,
        fill: Fill<'_>,
        history: bool,
    ) -> Result<Closure, RepoError> {
        let mut out = Closure::default();
        let mut seen: HashSet<ObjectId> = HashSet::new();
        let mut commits: Vec<CommitId> = tips.to_vec();
        // What purges erased does not travel: a redacted row chunk stands
        // in for its chunk, with the purge record that pairs them (D86).
        let purged = self.store.purged();
        let erased = |id: &ObjectId| purged.erased.contains_key(id);
        let mut trees: Vec<(ObjectId, String)> = Vec::new();
        // What neither store holds may be a large object `fill` fetches.
        let need = |id: &ObjectId, what: &str| -> Result<Vec<u8>, RepoError> {
            if let Some(b) = src.get(id) {
                return Ok(b);
            }
            fill(id)?.ok_or_else(|| missing(format!("{what} {} is missing", id.short(12))))
        };
        while let Some(c) = commits.pop() {
            if stop.contains(&c) || !seen.insert(c.0) {
                continue;
            }
            let bytes = need(&c.0, "commit")?;
            let commit = Commit::decode(&bytes)
                .map_err(|e| missing(format!("commit {} does not decode: {e}", c.0.short(12))))?;
            if commit.id() != c {
                return Err(missing(format!(
                    "commit {} is not canonical",
                    c.0.short(12)
                )));
            }
            out.commits.push(c);
            if !known(&c.0) {
                out.meta.push(c.0);
            }
            if history {
                commits.extend(commit.parents.iter().copied());
            }
            for (b, _) in &commit.events {
                if seen.insert(*b) && !known(b) {
                    let bytes = need(b, "ledger batch")?;
                    crate::ledger::batch::parse(b, &bytes).map_err(|e| {
                        missing(format!("ledger batch {} does not decode: {e}", b.short(12)))
                    })?;
                    out.meta.push(*b);
                }
            }
            for t in &commit.tables {
                let m = t.manifest.0;
                if !seen.insert(m) || known(&m) {
                    continue;
                }
                let bytes = need(&m, "table manifest")?;
                let man = crate::table::manifest::Manifest::decode(m, &bytes).map_err(|e| {
                    missing(format!("manifest {} does not decode: {e}", m.short(12)))
                })?;
                out.meta.push(m);
                for ch in &man.chunks {
                    // A sealed chunk is contents (listed, not read); its
                    // skeleton is the history (D83).
                    if ch.skeleton.is_some()
                        && seen.insert(ch.id.0)
                        && !known(&ch.id.0)
                        && !erased(&ch.id.0)
                    {
                        out.data.push(ch.id.0);
                        out.paths.insert(ch.id.0, t.path.clone());
                    }
                    let mut cid = ch.skeleton.map_or(ch.id.0, |s| s.0);
                    if let Some((r, record)) = purged.redacted.get(&cid) {
                        if seen.insert(*record) && !known(record) {
                            need(record, "purge record")?;
                            out.meta.push(*record);
                        }
                        cid = *r;
                    }
                    if seen.insert(cid) && !known(&cid) {
                        let bytes = need(&cid, "row chunk")?;
                        crate::table::manifest::decode_chunk(cid, &bytes).map_err(|e| {
                            missing(format!("row chunk {} does not decode: {e}", cid.short(12)))
                        })?;
                        out.meta.push(cid);
                    }
                }
                for (blob, shard) in man.blobs() {
                    if seen.insert(blob) && !known(&blob) && !erased(&blob) {
                        out.data.push(blob);
                        out.paths.insert(blob, shard.unwrap_or(&t.path).to_string());
                    }
                }
            }
            for d in &commit.datasets {
                if d.kind == EntryKind::Tree {
                    trees.push((d.id, d.path.clone()));
                } else if seen.insert(d.id) && !known(&d.id) && !erased(&d.id) {
                    out.data.push(d.id);
                    out.paths.insert(d.id, d.path.clone());
                }
            }
        }
        while let Some((t, path)) = trees.pop() {
            if !seen.insert(t) || known(&t) {
                continue;
            }
            let bytes = need(&t, "tree")?;
            let tree = Tree::decode(&bytes).map_err(|e| {
                missing(format!(
                    "tree {} ({path}) does not decode: {e}",
                    t.short(12)
                ))
            })?;
            if ObjectId::of(&tree.encode()) != t {
                return Err(missing(format!(
                    "tree {} ({path}) is not canonical",
                    t.short(12)
                )));
            }
            out.meta.push(t);
            for e in tree.entries {
                let p = format!("{path}/{}", e.name);
                if e.kind == EntryKind::Tree {
                    trees.push((e.id, p));
                } else if seen.insert(e.id) && !known(&e.id) && !erased(&e.id) {
                    out.data.push(e.id);
                    out.paths.insert(e.id, p);
                }
            }
        }
        Ok(out)
    }

    /// Everything `tips` reach (not their ancestors): commits, history
    /// objects, file contents and the chunks of chunked contents this
    /// repository holds. What cannot be read is left out.
    fn reached_by(&self, tips: &[CommitId]) -> HashSet<ObjectId> {
        let src = Sources {
            local: &self.store,
            extra: None,
            local_loose: None,
        };
        let Ok(c) = self.closure(
            &src,
            tips,
            &HashSet::new(),
            &|_| false,
            &|d| RepoError::RemoteUse(d),
            &|_| Ok(None),
            false,
        ) else {
            return HashSet::new();
        };
        let mut out: HashSet<ObjectId> = c.commits.iter().map(|c| c.0).collect();
        out.extend(c.meta);
        for id in c.data {
            if let Ok(Some(chunks)) = self.store.chunk_ids(&id) {
                out.extend(chunks);
            }
            out.insert(id);
        }
        out
    }

    fn is_ancestor(&self, old: CommitId, new: CommitId) -> bool {
        self.known_history([new]).contains(&old)
    }

    /// Pushes branches and tags to a remote: uploads what it lacks (file
    /// contents and large objects first, history last), then moves each
    /// ref by compare-and-swap. A ref that moved on the remote since this
    /// repository last saw it is rejected, and nothing of it is lost.
    pub fn push(
        &self,
        _lock: &RepoLock,
        conn: &Connection,
        refs: &[(RefKind, String)],
        jobs: usize,
        progress: &dyn Progress,
    ) -> Result<PushReport, RepoError> {
        let mut report = PushReport::default();
        self.ensure_marker(conn, true)?;
        let remote_refs = self.remote_refs(conn)?;
        // Each ref to move: kind, name, new commit, and where the remote
        // has it (with the version its compare-and-swap expects).
        // An annotated tag's object travels with it.
        type Plan = (
            RefKind,
            String,
            CommitId,
            Option<ObjectId>,
            Option<(CommitId, Version, Option<ObjectId>)>,
        );
        let mut plans: Vec<Plan> = Vec::new();
        for (kind, name) in refs {
            let (local, object) = match kind {
                RefKind::Tag => self.refs.get_tag(name)?,
                _ => self.refs.get(*kind, name)?.map(|c| (c, None)),
            }
            .ok_or_else(|| {
                RepoError::RemoteUse(format!("no {} named {name:?} to push", kind.noun()))
            })?;
            if let Some(t) = object {
                self.read_tag(name, local, t)?;
            }
            let remote = remote_refs
                .get(&(*kind == RefKind::Tag, name.clone()))
                .cloned();
            match &remote {
                Some((id, _, o)) if *id == local && *o == object => {
                    report.up_to_date.push(name.clone())
                }
                Some((id, _, o)) if *kind == RefKind::Tag => report.rejected.push((
                    name.clone(),
                    format!(
                        "the remote has tag {name} at {}{}; tags do not move",
                        id.short(12),
                        match (o, object) {
                            (None, Some(_)) => " (lightweight)",
                            (Some(_), None) => " (annotated)",
                            (Some(_), Some(_)) if *id == local => " with another message",
                            _ => "",
                        }
                    ),
                )),
                Some((id, _, _)) if !self.is_ancestor(*id, local) => report.rejected.push((
                    name.clone(),
                    "rejected: the remote branch moved; pull and push again".into(),
                )),
                _ => plans.push((*kind, name.clone(), local, object, remote)),
            }
        }
        // Purges travel whether or not a ref moves: the remote's first
        // (so nothing it erased is uploaded again from here), then ours.
        let stats = Stats::default();
        report.applied_purges = self.fetch_purges(conn)?.records;
        let carried = self.push_purges(conn, &stats, progress)?;
        report.purges = carried.records;
        report.purged_copies = carried.removed;
        // Reseals likewise: the remote's applied here, then ours carried.
        report.applied_reseals = self.fetch_reseals(conn)?.records;
        report.reseals = self.push_reseals(conn, jobs, &stats, progress)?.records;
        if plans.is_empty() {
            report.writes = stats.writes.load(Ordering::Relaxed);
            report.bytes = stats.bytes.load(Ordering::Relaxed);
            report.objects = stats.objects.load(Ordering::Relaxed);
            return Ok(report);
        }
        let index = self.remote_index(conn)?;
        let stop = self.known_history(remote_refs.values().map(|(c, _, _)| *c));
        let tips: Vec<CommitId> = plans.iter().map(|p| p.2).collect();
        let tag_objects: Vec<ObjectId> = plans.iter().filter_map(|p| p.3).collect();
        let src = Sources {
            local: &self.store,
            extra: None,
            local_loose: None,
        };
        // What the remote holds and this push may rely on without
        // uploading it again: what its branches reach (they only move
        // forward, so it stays reachable) or what was written recently
        // (a remote gc spares it). An old object nothing reaches may be
        // the leftover of an interrupted push, which a gc running now
        // could remove: it is uploaded again.
        let reached: std::sync::OnceLock<HashSet<ObjectId>> = std::sync::OnceLock::new();
        let remote_tips: Vec<CommitId> = remote_refs
            .values()
            .map(|(c, _, _)| *c)
            .filter(|c| stop.contains(c))
            .collect();
        let trusted = |id: &ObjectId| -> bool {
            index.has(id)
                && (index.modified(id).unwrap_or(0) >= conn.now - TRUST_RECENT
                    || reached
                        .get_or_init(|| self.reached_by(&remote_tips))
                        .contains(id))
        };
        let closure = self.closure(
            &src,
            &tips,
            &stop,
            &trusted,
            &|d| {
                RepoError::RemoteUse(format!(
                    "cannot push: {d} in this repository; run `folio verify`"
                ))
            },
            &|_| Ok(None),
            true,
        )?;
        // File contents first: a history object on the remote implies the
        // contents it reaches are there.
        self.upload_data(conn, &trusted, &closure, jobs, &stats, progress)?;
        // History: large objects (a big tree or event batch) one per key,
        // the rest in one pack.
        let mut meta = Vec::with_capacity(closure.meta.len());
        let mut loose = Vec::new();
        let tag_objects: Vec<ObjectId> = tag_objects.into_iter().filter(|t| !trusted(t)).collect();
        for id in closure.meta.iter().chain(&tag_objects) {
            match self.store.loose_file(id) {
                Some((path, enc)) => loose.push((*id, path, enc)),
                None => {
                    let len = self
                        .store
                        .packed_record(id)?
                        .map_or(0, |r| r.data.len() as u64);
                    meta.push((*id, len));
                }
            }
        }
        self.upload_loose(conn, &trusted, loose, jobs, &stats, progress)?;
        self.upload_packs(conn, "packs/meta", &[meta], &trusted, &stats, progress)?;
        crate::failpoint::hit("push:uploaded");
        for (kind, name, new, object, old) in plans {
            let key = ref_key(kind, &name);
            let text = match object {
                Some(t) => format!("{new} {t}\n"),
                None => format!("{new}\n"),
            };
            let won = conn
                .backend
                .swap_ref(&key, old.as_ref().map(|o| &o.1), text.as_bytes())?;
            stats.writes.fetch_add(1, Ordering::Relaxed);
            if !won {
                report.rejected.push((
                    name.clone(),
                    "rejected: the remote branch moved; pull and push again".into(),
                ));
                continue;
            }
            if kind == RefKind::Branch {
                self.refs
                    .set(RefKind::Remote, &format!("{}/{name}", conn.name), new)?;
            }
            report.updated.push(RefUpdate {
                kind,
                name,
                old: old.map(|o| o.0),
                new,
            });
        }
        report.objects = stats.objects.load(Ordering::Relaxed);
        report.bytes = stats.bytes.load(Ordering::Relaxed);
        report.writes = stats.writes.load(Ordering::Relaxed);
        Ok(report)
    }

    /// Checks (or, when `create`, writes) the remote's marker.
    fn ensure_marker(&self, conn: &Connection, create: bool) -> Result<(), RepoError> {
        if create && conn.backend.put_new("folio-remote", MARKER)? {
            return Ok(());
        }
        match conn.backend.get("folio-remote")? {
            Some(b) if b.starts_with(MARKER) => Ok(()),
            Some(_) => Err(conn
                .damaged("its folio-remote marker is not format 1".into())
                .into()),
            None => Err(RepoError::RemoteUse(format!(
                "{} is not a folio remote (it has no folio-remote marker): push to it first, or check the URL",
                conn.describe()
            ))),
        }
    }

    /// Uploads the file contents of `closure` the remote lacks: small
    /// ones packed (in parallel packs of at most 256 MiB), large ones one
    /// per key.
    fn upload_data(
        &self,
        conn: &Connection,
        trusted: Trusted<'_>,
        closure: &Closure,
        jobs: usize,
        stats: &Stats,
        progress: &dyn Progress,
    ) -> Result<(), RepoError> {
        let mut packed: Vec<(ObjectId, u64)> = Vec::new();
        let mut loose: Vec<(ObjectId, PathBuf, Encoding)> = Vec::new();
        let mut seen = HashSet::new();
        let mut queue: Vec<ObjectId> = closure.data.clone();
        while let Some(id) = queue.pop() {
            if trusted(&id) || !seen.insert(id) {
                continue;
            }
            if let Some((path, enc)) = self.store.loose_file(&id) {
                loose.push((id, path, enc));
                continue;
            }
            match self.store.packed_record(&id)? {
                Some(rec) => {
                    if rec.encoding == Encoding::Chunked
                        && let Some(list) = crate::store::decode_chunk_list(&rec.data)
                    {
                        queue.extend(list.into_iter().map(|c| c.0));
                    }
                    packed.push((id, rec.data.len() as u64));
                }
                None => {
                    let path = closure.paths.get(&id).map_or("a chunk", String::as_str);
                    return Err(RepoError::RemoteUse(format!(
                        "cannot push: the contents of {path} ({}) are not fetched here; run `folio fetch --data {path}` first",
                        id.short(12)
                    )));
                }
            }
        }
        self.upload_loose(conn, trusted, loose, jobs, stats, progress)?;
        // Small objects: cut into packs of bounded size, one per worker.
        let total: u64 = packed.iter().map(|s| s.1).sum();
        // One pack per worker, each at least 32 MiB, at most 256 MiB.
        let target = (total / jobs.max(1) as u64).clamp(DATA_PACK_MIN, DATA_PACK_MAX);
        let mut groups: Vec<Vec<(ObjectId, u64)>> = vec![Vec::new()];
        let mut size = 0u64;
        for (id, len) in packed {
            let last = groups.last_mut().expect("one group");
            if !last.is_empty() && size + len > target {
                groups.push(Vec::new());
                size = 0;
            }
            size += len;
            groups.last_mut().expect("one group").push((id, len));
        }
        self.upload_packs(conn, "packs/data", &groups, trusted, stats, progress)
    }

    /// Uploads objects stored loose here (large ones) one per key, in
    /// parallel, skipping those the remote has.
    fn upload_loose(
        &self,
        conn: &Connection,
        trusted: Trusted<'_>,
        loose: Vec<(ObjectId, PathBuf, Encoding)>,
        jobs: usize,
        stats: &Stats,
        progress: &dyn Progress,
    ) -> Result<(), RepoError> {
        if loose.is_empty() {
            return Ok(());
        }
        let todo = Mutex::new(loose);
        let failed: Mutex<Option<RepoError>> = Mutex::new(None);
        let total: u64 = todo
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|(_, p, _)| fs::metadata(p).ok().map(|m| m.len()))
            .sum();
        progress.begin("uploading large objects", total);
        std::thread::scope(|s| {
            for _ in 0..jobs.max(1) {
                s.spawn(|| {
                    loop {
                        let next = todo.lock().unwrap_or_else(|e| e.into_inner()).pop();
                        let Some((id, path, enc)) = next else { break };
                        let key = format!("objects/{}", Store::loose_name(&id, enc));
                        let res = (|| -> Result<(), RepoError> {
                            let len = fs::metadata(&path).map_err(RepoError::io(&path))?.len();
                            if !trusted(&id) {
                                conn.backend.put_file(&key, &path)?;
                                stats.add(1, len);
                                stats.writes.fetch_add(1, Ordering::Relaxed);
                                progress.objects(1);
                            }
                            progress.advance(len);
                            Ok(())
                        })();
                        if let Err(e) = res {
                            *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                            break;
                        }
                    }
                });
            }
        });
        progress.end();
        if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        Ok(())
    }

    /// Writes each group as one pack under `prefix` (pack first, then its
    /// index, which makes it visible), groups in parallel.
    fn upload_packs(
        &self,
        conn: &Connection,
        prefix: &str,
        groups: &[Vec<(ObjectId, u64)>],
        trusted: Trusted<'_>,
        stats: &Stats,
        progress: &dyn Progress,
    ) -> Result<(), RepoError> {
        let groups: Vec<&Vec<(ObjectId, u64)>> = groups.iter().filter(|g| !g.is_empty()).collect();
        if groups.is_empty() {
            return Ok(());
        }
        let staging = self.dot.join(format!(
            "{}push-{}",
            fsutil::TEMP_PREFIX,
            std::process::id()
        ));
        fsutil::create_dir_durable(&staging).map_err(RepoError::io(&staging))?;
        // Bytes of records (a pack adds a few per record), advanced as
        // each pack is uploaded.
        let total: u64 = groups.iter().flat_map(|g| g.iter()).map(|r| r.1).sum();
        let what = if prefix.ends_with("meta") {
            "uploading history"
        } else {
            "uploading file contents"
        };
        progress.begin(what, total);
        let results: Vec<Result<(), RepoError>> = std::thread::scope(|s| {
            let handles: Vec<_> = groups
                .iter()
                .map(|g| {
                    let staging = &staging;
                    s.spawn(move || -> Result<(), RepoError> {
                        let mut w = PackWriter::new(staging)?;
                        let (mut n, mut done) = (0u64, 0u64);
                        for (id, len) in g.iter() {
                            done += len;
                            if trusted(id) {
                                continue;
                            }
                            let rec = self
                                .store
                                .packed_record(id)?
                                .ok_or(crate::store::StoreError::Missing(*id))?;
                            w.add(*id, rec.encoding, rec.raw_len, &rec.data)?;
                            n += 1;
                        }
                        let Some(idx) = w.finish()? else {
                            progress.advance(done);
                            return Ok(());
                        };
                        let pack = idx.with_extension("pack");
                        let name = pack
                            .file_stem()
                            .and_then(|s| s.to_str())
                            .unwrap_or_default()
                            .to_string();
                        let bytes = fs::metadata(&pack).map_or(0, |m| m.len())
                            + fs::metadata(&idx).map_or(0, |m| m.len());
                        conn.backend
                            .put_file(&format!("{prefix}/{name}.pack"), &pack)?;
                        conn.backend
                            .put_file(&format!("{prefix}/{name}.idx"), &idx)?;
                        let _ = fs::remove_file(&pack);
                        let _ = fs::remove_file(&idx);
                        progress.advance(done);
                        progress.objects(n);
                        stats.add(n, bytes);
                        stats.writes.fetch_add(1, Ordering::Relaxed);
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(RepoError::RemoteUse("an upload thread panicked".into()))
                    })
                })
                .collect()
        });
        progress.end();
        let _ = fs::remove_dir_all(&staging);
        results.into_iter().collect()
    }

    /// Fetches a remote's branches and tags: history, ledger and (per
    /// `mode`) file contents, checked in quarantine, then the
    /// remote-tracking refs `NAME/BRANCH` and new tags.
    pub fn fetch(
        &self,
        _lock: &RepoLock,
        conn: &Connection,
        mode: &DataMode,
        progress: &dyn Progress,
    ) -> Result<FetchReport, RepoError> {
        self.ensure_marker(conn, false)?;
        // The remote's purges first: what they erased is absent there, and
        // stood in for by what they name (D86).
        let applied = self.fetch_purges(conn)?;
        let resealed = self.fetch_reseals(conn)?;
        let remote_refs = self.remote_refs(conn)?;
        let index = self.remote_index(conn)?;
        let q = Quarantine::new(self)?;
        let stats = Stats::default();
        // History: when a remote ref names a commit this side lacks, every
        // meta pack holding something this side lacks.
        let behind = remote_refs.values().any(|(c, _, t)| {
            !self.store.contains(&c.0) || t.is_some_and(|t| !self.store.contains(&t))
        });
        let meta_packs: Vec<usize> = index
            .packs
            .iter()
            .enumerate()
            .filter(|(_, p)| behind && p.key.starts_with("packs/meta/"))
            .filter(|(_, p)| p.entries.iter().any(|(id, _)| !self.store.contains(id)))
            .map(|(i, _)| i)
            .collect();
        progress.begin(
            "fetching history",
            meta_packs.iter().map(|i| index.packs[*i].size).sum(),
        );
        for i in meta_packs {
            q.take_pack(conn, &index.packs[i], &stats)?;
            progress.advance(index.packs[i].size);
            progress.objects(index.packs[i].entries.len() as u64);
        }
        progress.end();
        let qstore = q.store()?;
        let src = Sources {
            local: &self.store,
            extra: Some(&qstore),
            local_loose: Some(self.store.loose_ids()?),
        };
        let tips: Vec<CommitId> = remote_refs.values().map(|(c, _, _)| *c).collect();
        let stop = self.known_history(tips.iter().copied());
        let damaged = |d: String| {
            RepoError::Remote(conn.damaged(format!(
                "the remote's refs reach objects it does not hold: {d}"
            )))
        };
        // Large history objects (a big tree or event batch) are stored
        // one per key, like large file contents; each is taken once.
        let fill = |id: &ObjectId| -> Result<Option<Vec<u8>>, RepoError> {
            if let Ok(b) = q.read_loose(id) {
                return Ok(Some(b));
            }
            if !index.loose.contains_key(id) {
                return Ok(None);
            }
            q.take_loose(conn, id, &stats)?;
            q.read_loose(id).map(Some)
        };
        // History: everything new is present and decodes.
        let new = self.closure(
            &src,
            &tips,
            &stop,
            &|id| src.has_locally(id),
            &damaged,
            &fill,
            true,
        )?;
        // File contents, per mode: what the new commits need; and in a
        // repository that left contents on a remote before (a `--no-data`
        // clone, `fetch --data`), everything the tips hold that is not
        // here, so a plain fetch completes it.
        let partial_mark = self.dot.join("remotes").join("partial");
        let (absent, paths_of) = if partial_mark.exists() {
            let at_tips = self.closure(
                &src,
                &tips,
                &HashSet::new(),
                &|_| false,
                &damaged,
                &fill,
                false,
            )?;
            let absent: Vec<ObjectId> = at_tips
                .data
                .iter()
                .filter(|id| !src.contains(id))
                .copied()
                .collect();
            (absent, at_tips.paths)
        } else {
            (new.data, new.paths)
        };
        let wanted: Vec<ObjectId> = match mode {
            DataMode::All => absent.clone(),
            DataMode::None => Vec::new(),
            DataMode::Paths(paths) => absent
                .iter()
                .filter(|id| {
                    paths_of
                        .get(id)
                        .is_some_and(|p| paths.iter().any(|w| crate::object::is_within(p, w)))
                })
                .copied()
                .collect(),
        };
        let deferred = absent.len() - wanted.len();
        self.take_data(
            conn,
            &index,
            &q,
            &src,
            &wanted,
            matches!(mode, DataMode::All),
            &stats,
            progress,
        )?;
        // Everything checked: move it in, then the refs. A repository
        // that leaves contents on the remote is marked partial (before its
        // refs can name them), and unmarked once a fetch leaves none.
        q.install(&self.store)?;
        // A remote not yet purged may send what a purge here erased: its
        // copies go at once (D86).
        if !self.store.purged().is_empty() {
            self.erase_purged()?;
        }
        if deferred > 0 {
            fsutil::create_dir_durable(&self.dot.join("remotes"))
                .map_err(RepoError::io(&self.dot))?;
            fsutil::write_atomic(&partial_mark, b"contents were left on a remote\n")
                .map_err(RepoError::io(&partial_mark))?;
        } else if matches!(mode, DataMode::All) && partial_mark.exists() {
            fs::remove_file(&partial_mark).map_err(RepoError::io(&partial_mark))?;
        }
        let mut report = FetchReport {
            objects: stats.objects.load(Ordering::Relaxed),
            bytes: stats.bytes.load(Ordering::Relaxed),
            deferred: deferred as u64,
            purges: applied.records,
            purged_copies: applied.removed,
            reseals: resealed.records,
            ..FetchReport::default()
        };
        let prefix = format!("{}/", conn.name);
        let mut present = HashSet::new();
        for ((tag, name), (id, _, object)) in &remote_refs {
            if *tag {
                if self.refs.get(RefKind::Tag, name)?.is_none() {
                    if let Some(t) = object {
                        self.read_tag(name, *id, *t)?;
                    }
                    self.refs.set_tag(name, (*id, *object))?;
                    report.tags.push(name.clone());
                }
                continue;
            }
            let tracking = format!("{prefix}{name}");
            present.insert(tracking.clone());
            let old = self.refs.get(RefKind::Remote, &tracking)?;
            if old != Some(*id) {
                self.refs.set(RefKind::Remote, &tracking, *id)?;
                report.updated.push((tracking, old, *id));
            }
        }
        for (r, _) in self.refs.list(RefKind::Remote)? {
            if r.starts_with(&prefix) && !present.contains(&r) {
                self.refs.delete(RefKind::Remote, &r)?;
                report.pruned.push(r);
            }
        }
        Ok(report)
    }

    /// Takes file contents `wanted` from the remote into the quarantine:
    /// whole data packs when most of a pack is wanted (or `whole`),
    /// ranged reads of the records otherwise; large objects one by one.
    #[allow(clippy::too_many_arguments)]
    fn take_data(
        &self,
        conn: &Connection,
        index: &RemoteIndex,
        q: &Quarantine,
        src: &Sources<'_>,
        wanted: &[ObjectId],
        whole: bool,
        stats: &Stats,
        progress: &dyn Progress,
    ) -> Result<(), RepoError> {
        let mut queue: Vec<ObjectId> = wanted
            .iter()
            .filter(|id| !src.contains(id))
            .copied()
            .collect();
        let mut done: HashSet<ObjectId> = HashSet::new();
        let mut round = 0;
        while !queue.is_empty() {
            let mut by_pack: BTreeMap<usize, Vec<ObjectId>> = BTreeMap::new();
            let mut loose = Vec::new();
            for id in queue.drain(..) {
                if !done.insert(id) || src.contains(&id) {
                    continue;
                }
                match index.at.get(&id) {
                    Some((p, _, _)) => by_pack.entry(*p).or_default().push(id),
                    None if index.loose.contains_key(&id) => loose.push(id),
                    None => {
                        return Err(conn
                            .damaged(format!(
                                "object {} is named by its history but the remote does not hold it",
                                id.short(12)
                            ))
                            .into());
                    }
                }
            }
            let mut chunk_lists: Vec<ObjectId> = Vec::new();
            let work: Vec<(usize, Vec<ObjectId>)> = by_pack.into_iter().collect();
            let span = |id: &ObjectId| index.at.get(id).map_or(0, |a| a.2 - a.1);
            let bytes: u64 = work.iter().flat_map(|w| w.1.iter()).map(span).sum::<u64>()
                + loose
                    .iter()
                    .filter_map(|id| index.loose.get(id))
                    .map(|l| l.size)
                    .sum::<u64>();
            round += 1;
            if round > 1 {
                progress.end();
            }
            progress.begin(
                if round == 1 {
                    "fetching file contents"
                } else {
                    "fetching chunks"
                },
                bytes,
            );
            for (_, ids) in &work {
                chunk_lists.extend(ids.iter().copied());
            }
            // Packs in parallel: each is downloaded and checked on its own.
            let next = AtomicUsize::new(0);
            let failed: Mutex<Option<RepoError>> = Mutex::new(None);
            std::thread::scope(|s| {
                for _ in 0..conn.jobs.min(work.len()) {
                    s.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((p, ids)) = work.get(i) else { break };
                            if failed.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                                break;
                            }
                            let pack = &index.packs[*p];
                            let span = |id: &ObjectId| index.at[id].2 - index.at[id].1;
                            let wanted_bytes: u64 = ids.iter().map(span).sum();
                            let pack_bytes: u64 = pack.entries.iter().map(|(id, _)| span(id)).sum();
                            let res = if whole || wanted_bytes * 2 >= pack_bytes {
                                q.take_pack(conn, pack, stats)
                            } else {
                                q.take_records(conn, pack, index, ids, stats)
                            };
                            if let Err(e) = res {
                                *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                                break;
                            }
                            progress.advance(ids.iter().map(span).sum());
                            progress.objects(ids.len() as u64);
                        }
                    });
                }
            });
            if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
                return Err(e);
            }
            for id in loose {
                q.take_loose(conn, &id, stats)?;
                progress.advance(index.loose.get(&id).map_or(0, |l| l.size));
                progress.objects(1);
            }
            // A chunked file's chunks are objects of their own.
            let qstore = q.store()?;
            for id in chunk_lists {
                if let Ok(Some(rec)) = qstore.packed_record(&id)
                    && rec.encoding == Encoding::Chunked
                {
                    let list = crate::store::decode_chunk_list(&rec.data).ok_or_else(|| {
                        conn.damaged(format!("object {}: a malformed chunk list", id.short(12)))
                    })?;
                    queue.extend(list.into_iter().map(|c| c.0).filter(|c| !done.contains(c)));
                    q.chunked.lock().unwrap_or_else(|e| e.into_inner()).push(id);
                }
            }
        }
        progress.end();
        // Chunked files hash as the concatenation of their chunks.
        let qstore = q.store()?;
        let both = Sources {
            local: &self.store,
            extra: Some(&qstore),
            local_loose: None,
        };
        for id in q.chunked.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let rec = both
                .record(id)
                .ok_or_else(|| conn.damaged(format!("object {} vanished", id.short(12))))?;
            let list = crate::store::decode_chunk_list(&rec.data).unwrap_or_default();
            let mut h = blake3::Hasher::new();
            let mut len = 0u64;
            for (c, _) in list {
                let b = both.get(&c).ok_or_else(|| {
                    conn.damaged(format!(
                        "chunk {} of {} is missing",
                        c.short(12),
                        id.short(12)
                    ))
                })?;
                len += b.len() as u64;
                h.update(&b);
            }
            if ObjectId::from(h.finalize()) != *id || len != rec.raw_len {
                return Err(conn
                    .damaged(format!(
                        "object {}: its chunks do not hash to its id",
                        id.short(12)
                    ))
                    .into());
            }
        }
        Ok(())
    }

    /// Fetches file contents this repository lacks from remote `conn`
    /// (on demand: a checkout of a path whose contents were not fetched).
    pub fn fetch_objects(
        &self,
        conn: &Connection,
        ids: &[ObjectId],
        progress: &dyn Progress,
    ) -> Result<u64, RepoError> {
        let index = self.remote_index(conn)?;
        let q = Quarantine::new(self)?;
        let stats = Stats::default();
        let src = Sources {
            local: &self.store,
            extra: None,
            local_loose: Some(self.store.loose_ids()?),
        };
        self.take_data(conn, &index, &q, &src, ids, false, &stats, progress)?;
        q.install(&self.store)?;
        // A remote not yet purged may send what a purge here erased: its
        // copies go at once (D86).
        if !self.store.purged().is_empty() {
            self.erase_purged()?;
        }
        Ok(stats.bytes.load(Ordering::Relaxed))
    }

    /// File contents that commits `tips` reach and this repository lacks
    /// (with the first path of each), restricted to `paths` when given.
    pub fn absent_contents(
        &self,
        tips: &[CommitId],
        paths: &[String],
    ) -> Result<Vec<(ObjectId, String)>, RepoError> {
        if !paths.is_empty() {
            return self.absent_under(tips, paths);
        }
        let src = Sources {
            local: &self.store,
            extra: None,
            local_loose: Some(self.store.loose_ids()?),
        };
        let c = self.closure(
            &src,
            tips,
            &HashSet::new(),
            &|_| false,
            &|d| RepoError::RemoteUse(format!("{d} in this repository; run `folio verify`")),
            &|_| Ok(None),
            false,
        )?;
        let mut out: Vec<(ObjectId, String)> = c
            .data
            .into_iter()
            .filter(|id| !src.has_locally(id) && self.store.purge_record_of(id).is_none())
            .filter_map(|id| c.paths.get(&id).map(|p| (id, p.clone())))
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// The absent contents under `paths` at `tips`, each with a path that
    /// needs it (a content shared with a path outside is still found).
    fn absent_under(
        &self,
        tips: &[CommitId],
        paths: &[String],
    ) -> Result<Vec<(ObjectId, String)>, RepoError> {
        use crate::object::is_within;
        let here = Sources {
            local: &self.store,
            extra: None,
            local_loose: Some(self.store.loose_ids()?),
        };
        let mut out: BTreeMap<ObjectId, String> = BTreeMap::new();
        for tip in tips {
            for d in self.read_commit(*tip)?.datasets {
                if !paths
                    .iter()
                    .any(|p| is_within(p, &d.path) || is_within(&d.path, p))
                {
                    continue;
                }
                for (rel, e) in self.flatten_dataset(Some(&d))? {
                    let full = super::join_path(&d.path, &rel);
                    if e.kind != EntryKind::Tree
                        && paths.iter().any(|p| is_within(&full, p))
                        && !here.has_locally(&e.id)
                        && self.store.purge_record_of(&e.id).is_none()
                    {
                        out.entry(e.id).or_insert(full);
                    }
                }
            }
        }
        let mut out: Vec<(ObjectId, String)> = out.into_iter().collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// Every object some remote's cached indexes list: file contents that
    /// are not fetched here but can be.
    pub fn fetchable(&self) -> Result<HashSet<ObjectId>, RepoError> {
        let mut out = HashSet::new();
        for name in self.remotes()?.keys() {
            let cache = self.remote_cache(name).join("packs");
            let Ok(rd) = fs::read_dir(&cache) else {
                continue;
            };
            for e in rd.filter_map(Result::ok) {
                if e.file_name() == "loose.list" {
                    if let Ok(t) = fs::read_to_string(e.path()) {
                        out.extend(t.lines().filter_map(|l| l.parse::<ObjectId>().ok()));
                    }
                } else if let Ok(b) = fs::read(e.path())
                    && let Ok(entries) = parse_index(&b)
                {
                    out.extend(entries.into_iter().map(|x| x.0));
                }
            }
        }
        Ok(out)
    }

    /// The remote whose cached pack indexes list `id` (where contents
    /// not fetched would come from).
    pub fn remote_holding(&self, id: &ObjectId) -> Result<Option<String>, RepoError> {
        for name in self.remotes()?.keys() {
            let cache = self.remote_cache(name).join("packs");
            let Ok(rd) = fs::read_dir(&cache) else {
                continue;
            };
            for e in rd.filter_map(Result::ok) {
                if e.file_name() == "loose.list" {
                    let hex = id.to_hex();
                    if fs::read_to_string(e.path())
                        .is_ok_and(|t| t.lines().any(|l| l == hex.as_str()))
                    {
                        return Ok(Some(name.clone()));
                    }
                    continue;
                }
                if let Ok(b) = fs::read(e.path())
                    && let Ok(entries) = parse_index(&b)
                    && entries.binary_search_by(|x| x.0.cmp(id)).is_ok()
                {
                    return Ok(Some(name.clone()));
                }
            }
        }
        Ok(None)
    }
}

/// Counters of a transfer.
#[derive(Default)]
struct Stats {
    objects: AtomicU64,
    bytes: AtomicU64,
    writes: AtomicU64,
}

impl Stats {
    fn add(&self, objects: u64, bytes: u64) {
        self.objects.fetch_add(objects, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// A folder under `.folio/` that fetched objects land in until every one
/// is checked; removed (with anything left in it) when dropped.
struct Quarantine {
    dir: PathBuf,
    chunked: Mutex<Vec<ObjectId>>,
    loose: Mutex<Vec<(ObjectId, PathBuf, Encoding)>>,
}

impl Drop for Quarantine {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Quarantine {
    fn new(repo: &Repo) -> Result<Quarantine, RepoError> {
        let dir = repo.dot.join(format!(
            "{}fetch-{}",
            fsutil::TEMP_PREFIX,
            std::process::id()
        ));
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(RepoError::io(&dir))?;
        }
        for d in [dir.join("packs"), dir.join("objects"), dir.join("incoming")] {
            fsutil::create_dir_durable(&d).map_err(RepoError::io(&d))?;
        }
        Ok(Quarantine {
            dir,
            chunked: Mutex::new(Vec::new()),
            loose: Mutex::new(Vec::new()),
        })
    }

    fn store(&self) -> Result<Store, RepoError> {
        Ok(Store::open(&self.dir)?)
    }

    /// Downloads a whole pack and its index, and checks every record.
    fn take_pack(
        &self,
        conn: &Connection,
        pack: &RemotePack,
        stats: &Stats,
    ) -> Result<(), RepoError> {
        let name = pack.key.rsplit('/').next().unwrap_or_default().to_string();
        let hash = name
            .strip_prefix("pack-")
            .and_then(|s| s.strip_suffix(".pack"))
            .filter(|h| h.parse::<ObjectId>().is_ok())
            .ok_or_else(|| conn.damaged(format!("{} is not a pack name folio writes", pack.key)))?;
        let dest = self.dir.join("packs").join(format!("pack-{hash}.pack"));
        if dest.exists() {
            return Ok(());
        }
        // Under its own name in `incoming` (a folder remote on the same
        // file system hard-links it: packs never change).
        let part = self.dir.join("incoming").join(format!("pack-{hash}.part"));
        let n = conn.backend.get_to_path(&pack.key, &part)?;
        stats.bytes.fetch_add(n, Ordering::Relaxed);
        // The pack must hash to its name; each record to its id.
        let mut h = blake3::Hasher::new();
        h.update_reader(fs::File::open(&part).map_err(RepoError::io(&part))?)
            .map_err(RepoError::io(&part))?;
        if h.finalize().to_hex().as_str() != hash {
            return Err(conn
                .damaged(format!("{}: its bytes do not hash to its name", pack.key))
                .into());
        }
        let idx_key = pack.key.replace(".pack", ".idx");
        let idx_bytes = conn
            .backend
            .get(&idx_key)?
            .ok_or_else(|| conn.damaged(format!("{idx_key} vanished")))?;
        parse_index(&idx_bytes).map_err(|e| conn.damaged(format!("{idx_key}: {e}")))?;
        fsutil::rename_durable(&part, &dest).map_err(RepoError::io(&dest))?;
        let idx_path = dest.with_extension("idx");
        fsutil::write_atomic(&idx_path, &idx_bytes).map_err(RepoError::io(&idx_path))?;
        let opened = crate::store::Pack::open(&idx_path)?;
        for (id, off) in opened.entries() {
            let rec = opened
                .read_record(off, &id)
                .map_err(|e| conn.damaged(format!("{}: {e}", pack.key)))?;
            check_record(conn, &pack.key, &id, &rec)?;
            if rec.encoding == Encoding::Chunked {
                self.chunked
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(id);
            }
            stats.objects.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Reads chosen records of a pack by ranges (adjacent ones merged) and
    /// writes them, checked, into a quarantine pack of their own.
    fn take_records(
        &self,
        conn: &Connection,
        pack: &RemotePack,
        index: &RemoteIndex,
        ids: &[ObjectId],
        stats: &Stats,
    ) -> Result<(), RepoError> {
        let mut spans: Vec<(u64, u64, ObjectId)> = ids
            .iter()
            .map(|id| (index.at[id].1, index.at[id].2, *id))
            .collect();
        spans.sort();
        let mut w = PackWriter::new(&self.dir.join("packs"))?;
        let mut i = 0;
        while i < spans.len() {
            let start = spans[i].0;
            let mut j = i;
            while j + 1 < spans.len() && spans[j + 1].0 <= spans[j].1 + RANGE_GAP {
                j += 1;
            }
            let end = spans[j].1;
            let bytes = conn.backend.get_range(&pack.key, start, end)?;
            stats.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            for (s, e, id) in &spans[i..=j] {
                let slice = &bytes[(s - start) as usize..(e - start) as usize];
                let (rec, _) = parse_record(slice, id)
                    .map_err(|d| conn.damaged(format!("{} at {s}: {d}", pack.key)))?;
                check_record(conn, &pack.key, id, &rec)?;
                w.add(*id, rec.encoding, rec.raw_len, &rec.data)?;
                stats.objects.fetch_add(1, Ordering::Relaxed);
            }
            i = j + 1;
        }
        w.finish()?;
        Ok(())
    }

    /// The bytes of a large object `take_loose` took.
    fn read_loose(&self, id: &ObjectId) -> Result<Vec<u8>, RepoError> {
        let found = self
            .loose
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|l| l.0 == *id)
            .map(|l| (l.1.clone(), l.2));
        let Some((path, enc)) = found else {
            return Err(RepoError::RemoteUse(format!(
                "object {} was not taken",
                id.short(12)
            )));
        };
        let bytes = fs::read(&path).map_err(RepoError::io(&path))?;
        match enc {
            Encoding::Zstd => zstd::decode_all(&bytes[..]).map_err(RepoError::io(&path)),
            // History is never sealed: a sealed object is file contents.
            Encoding::Age => Err(RepoError::RemoteUse(format!(
                "object {} is sealed: it is file contents, not history",
                id.short(12)
            ))),
            _ => Ok(bytes),
        }
    }

    /// Downloads a large object and checks it against its id.
    fn take_loose(&self, conn: &Connection, id: &ObjectId, stats: &Stats) -> Result<(), RepoError> {
        let incoming = self.dir.join("incoming");
        for enc in crate::store::LOOSE_ENCODINGS {
            let key = format!("objects/{}", Store::loose_name(id, enc));
            if !conn.backend.exists(&key)? {
                continue;
            }
            let mut tmp = fsutil::TempFile::new_in(&incoming).map_err(RepoError::io(&incoming))?;
            let n = conn.backend.get_to_file(&key, tmp.file())?;
            stats.add(1, n);
            let mut f = fs::File::open(tmp.path()).map_err(RepoError::io(tmp.path()))?;
            let mut h = blake3::Hasher::new();
            let res = match enc {
                Encoding::Zstd => zstd::Decoder::new(f)
                    .and_then(|mut d| std::io::copy(&mut d, &mut HashSink(&mut h))),
                // Sealed (D83): hashed when opened; here, an age stream.
                Encoding::Age => {
                    let mut head = vec![0u8; AGE_MAGIC.len()];
                    std::io::Read::read_exact(&mut f, &mut head).and_then(|_| {
                        if head == AGE_MAGIC {
                            Ok(0)
                        } else {
                            Err(std::io::Error::other("not an age stream"))
                        }
                    })
                }
                _ => std::io::copy(&mut std::io::BufReader::new(f), &mut HashSink(&mut h)),
            };
            if res.is_err() || (enc != Encoding::Age && ObjectId::from(h.finalize()) != *id) {
                return Err(conn
                    .damaged(format!("{key}: its bytes do not hash to its name"))
                    .into());
            }
            let name = Store::loose_name(id, enc);
            let dest = incoming.join(name.replace('/', ""));
            tmp.persist(&dest).map_err(RepoError::io(&dest))?;
            self.loose
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((*id, dest, enc));
            return Ok(());
        }
        Err(conn
            .damaged(format!(
                "object {} is named by its history but the remote does not hold it",
                id.short(12)
            ))
            .into())
    }

    /// Moves everything checked into `store`.
    fn install(&self, store: &Store) -> Result<(), RepoError> {
        for idx in crate::store::list_pack_indexes(&self.dir.join("packs"))? {
            store.install_pack(&idx)?;
        }
        for (id, path, enc) in self
            .loose
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            store.install_loose(&id, &path, enc)?;
        }
        Ok(())
    }
}

/// Checks one fetched record: a whole object must hash to its id; a
/// chunk list must decode (its chunks are checked once present).
fn check_record(
    conn: &Connection,
    key: &str,
    id: &ObjectId,
    rec: &crate::store::Record,
) -> Result<(), RepoError> {
    let bad = |d: &str| -> RepoError {
        conn.damaged(format!("{key}: object {}: {d}", id.short(12)))
            .into()
    };
    let bytes = match rec.encoding {
        Encoding::Chunked => {
            return crate::store::decode_chunk_list(&rec.data)
                .map(|_| ())
                .ok_or_else(|| bad("a malformed chunk list"));
        }
        _ if rec.raw_len >= crate::store::LOOSE_THRESHOLD => {
            return Err(bad("a packed object larger than folio packs"));
        }
        // Sealed (D83): its plaintext is hashed whenever it is opened;
        // here it must at least be an age stream.
        Encoding::Age => {
            return if rec.data.starts_with(AGE_MAGIC) {
                Ok(())
            } else {
                Err(bad("a sealed object that is not in the age format"))
            };
        }
        Encoding::Raw => rec.data.clone(),
        Encoding::Zstd => crate::store::decompress(&rec.data, rec.raw_len as usize)
            .map_err(|e| bad(&format!("does not decompress: {e}")))?,
    };
    if bytes.len() as u64 != rec.raw_len || ObjectId::of(&bytes) != *id {
        return Err(bad("its bytes do not hash to its id"));
    }
    Ok(())
}

/// How every age stream starts.
const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";

struct HashSink<'a>(&'a mut blake3::Hasher);

impl std::io::Write for HashSink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
