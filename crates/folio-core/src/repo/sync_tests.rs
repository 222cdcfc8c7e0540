//! Fetch through a store that lies or fails: every fault must fail the
//! fetch with an error, and leave the local repository as it was.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::progress::NoProgress;
use crate::refs::RefKind;
use crate::remote::{Backend, FolderBackend, Listed, RemoteError, Version};
use crate::store::tests::noise;

/// The faults the wrapper injects.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Flip one bit in the Nth read that returns bytes.
    FlipBit(u64),
    /// Cut the Nth read in half.
    Truncate(u64),
    /// Fail the Nth read as a server error would (after the backend's own
    /// retries).
    ServerError(u64),
    /// Leave the Nth listing's last key out, as a listing that lags.
    ShortListing(u64),
}

/// A folder backend whose reads go wrong on cue.
struct Faulty {
    inner: FolderBackend,
    fault: Fault,
    reads: AtomicU64,
    lists: AtomicU64,
}

impl Faulty {
    fn spoil(&self, mut b: Vec<u8>) -> Result<Vec<u8>, RemoteError> {
        let n = self.reads.fetch_add(1, Ordering::SeqCst);
        match self.fault {
            Fault::FlipBit(k) if k == n && !b.is_empty() => {
                let at = b.len() / 2;
                b[at] ^= 0x10;
            }
            Fault::Truncate(k) if k == n => b.truncate(b.len() / 2),
            Fault::ServerError(k) if k == n => {
                return Err(RemoteError::Storage {
                    remote: "faulty".into(),
                    op: "read",
                    key: "?".into(),
                    detail: "503 Slow Down (after retries)".into(),
                });
            }
            _ => {}
        }
        Ok(b)
    }
}

impl Backend for Faulty {
    fn describe(&self) -> String {
        "faulty".into()
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        match self.inner.get(key)? {
            Some(b) => self.spoil(b).map(Some),
            None => Ok(None),
        }
    }
    fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Vec<u8>, RemoteError> {
        let b = self.inner.get_range(key, start, end)?;
        self.spoil(b)
    }
    fn get_to_file(&self, key: &str, dest: &mut fs::File) -> Result<u64, RemoteError> {
        use std::io::Write as _;
        let b = self.inner.get(key)?.unwrap_or_default();
        let b = self.spoil(b)?;
        dest.write_all(&b)
            .map_err(RemoteError::local(Path::new(key)))?;
        Ok(b.len() as u64)
    }
    fn exists(&self, key: &str) -> Result<bool, RemoteError> {
        self.inner.exists(key)
    }
    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<bool, RemoteError> {
        self.inner.put_new(key, bytes)
    }
    fn put_file(&self, key: &str, path: &Path) -> Result<(), RemoteError> {
        self.inner.put_file(key, path)
    }
    fn list(&self, prefix: &str) -> Result<Vec<Listed>, RemoteError> {
        let mut l = self.inner.list(prefix)?;
        let n = self.lists.fetch_add(1, Ordering::SeqCst);
        if matches!(self.fault, Fault::ShortListing(k) if k == n) {
            l.pop();
        }
        Ok(l)
    }
    fn read_ref(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, RemoteError> {
        self.inner.read_ref(key)
    }
    fn swap_ref(&self, key: &str, e: Option<&Version>, new: &[u8]) -> Result<bool, RemoteError> {
        self.inner.swap_ref(key, e, new)
    }
    fn delete(&self, key: &str) -> Result<(), RemoteError> {
        self.inner.delete(key)
    }
}

/// Every file under `.folio` that holds history (refs, packs, objects),
/// with its hash: what a failed fetch must not change.
fn state(dot: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dot.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dot).expect("inside").display().to_string();
            if rel.starts_with("remotes") || rel.starts_with("index") || rel == "lock" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let b = fs::read(&p).expect("read");
                out.push(format!("{rel} {}", blake3::hash(&b).to_hex()));
            }
        }
    }
    out.sort();
    out
}

fn commit_all(repo: &Repo, work: &Path, msg: &str) {
    let lock = repo.lock(false).expect("lock");
    let o = CommitOptions {
        paths: vec![work.join("d")],
        message: msg.into(),
        author: "T".into(),
        time: 0,
        allow_empty: false,
        tables: TableOptions::default(),
        source: None,
        meta: Meta::default(),
        meta_file: None,
    };
    repo.commit(&lock, &o, &NoProgress).expect("commit");
}

/// Adds the folder `remote` as `origin` of `repo` and connects to it.
fn add_origin(repo: &Repo, lock: &RepoLock, remote: &Path) -> (RemoteSpec, Connection) {
    let spec = RemoteSpec {
        url: remote.display().to_string(),
        endpoint: None,
        region: None,
        allow_http: false,
    };
    repo.add_remote(lock, "origin", spec.clone()).expect("add");
    let conn = repo
        .connect("origin", &RemoteEnv::default(), 2)
        .expect("connect");
    (spec, conn)
}

#[test]
fn every_injected_fault_fails_the_fetch_and_changes_nothing() {
    let origin = tempfile::tempdir().expect("tempdir");
    let remote = tempfile::tempdir().expect("tempdir");
    let work = origin.path();
    fs::create_dir(work.join("d")).expect("mkdir");
    for i in 0..40 {
        fs::write(
            work.join(format!("d/f{i}")),
            format!("file {i}\n").repeat(i + 1),
        )
        .expect("write");
    }
    let repo = Repo::init(work).expect("init");
    commit_all(&repo, work, "one");
    let lock = repo.lock(false).expect("lock");
    let (spec, conn) = add_origin(&repo, &lock, remote.path());
    let refs = [(RefKind::Branch, "main".to_string())];
    repo.push(&lock, &conn, &refs, 2, &NoProgress)
        .expect("push");
    drop(lock);

    // A second repository that fetches through faults.
    let other = tempfile::tempdir().expect("tempdir");
    let clone = Repo::init(other.path()).expect("init");
    let lock = clone.lock(false).expect("lock");
    clone.add_remote(&lock, "origin", spec).expect("add");
    let clean = state(clone.dot_dir());
    // How many reads a clean fetch makes: a fault in any of them must
    // fail the fetch.
    let counting = Faulty {
        inner: FolderBackend::open(remote.path()).expect("open"),
        fault: Fault::ServerError(u64::MAX),
        reads: AtomicU64::new(0),
        lists: AtomicU64::new(0),
    };
    let probe = tempfile::tempdir().expect("tempdir");
    let probe_repo = Repo::init(probe.path()).expect("init");
    let probe_lock = probe_repo.lock(false).expect("lock");
    let counting = std::sync::Arc::new(counting);
    struct Shared(std::sync::Arc<Faulty>);
    impl Backend for Shared {
        fn describe(&self) -> String {
            self.0.describe()
        }
        fn get(&self, k: &str) -> Result<Option<Vec<u8>>, RemoteError> {
            self.0.get(k)
        }
        fn get_range(&self, k: &str, a: u64, b: u64) -> Result<Vec<u8>, RemoteError> {
            self.0.get_range(k, a, b)
        }
        fn get_to_file(&self, k: &str, d: &mut fs::File) -> Result<u64, RemoteError> {
            self.0.get_to_file(k, d)
        }
        fn exists(&self, k: &str) -> Result<bool, RemoteError> {
            self.0.exists(k)
        }
        fn put_new(&self, k: &str, b: &[u8]) -> Result<bool, RemoteError> {
            self.0.put_new(k, b)
        }
        fn put_file(&self, k: &str, p: &Path) -> Result<(), RemoteError> {
            self.0.put_file(k, p)
        }
        fn list(&self, p: &str) -> Result<Vec<Listed>, RemoteError> {
            self.0.list(p)
        }
        fn read_ref(&self, k: &str) -> Result<Option<(Vec<u8>, Version)>, RemoteError> {
            self.0.read_ref(k)
        }
        fn swap_ref(&self, k: &str, e: Option<&Version>, n: &[u8]) -> Result<bool, RemoteError> {
            self.0.swap_ref(k, e, n)
        }
        fn delete(&self, k: &str) -> Result<(), RemoteError> {
            self.0.delete(k)
        }
    }
    let conn = Connection::new("origin", Box::new(Shared(counting.clone())));
    probe_repo
        .fetch(&probe_lock, &conn, &DataMode::All, &NoProgress)
        .expect("a clean fetch");
    let reads = counting.reads.load(Ordering::SeqCst);
    assert!(reads >= 3, "a fetch reads the marker, indexes and packs");
    let mut failed = 0;
    let faults: Vec<Fault> = (0..reads + 2)
        .flat_map(|n| [Fault::FlipBit(n), Fault::Truncate(n), Fault::ServerError(n)])
        .chain((0..6).map(Fault::ShortListing))
        .collect();
    for fault in faults {
        // Each fetch starts cold (no cached indexes), so reads come in the
        // order the probe counted.
        let cache = clone.dot_dir().join("remotes");
        if cache.exists() {
            fs::remove_dir_all(&cache).expect("rm cache");
        }
        let faulty = Faulty {
            inner: FolderBackend::open(remote.path()).expect("open"),
            fault,
            reads: AtomicU64::new(0),
            lists: AtomicU64::new(0),
        };
        let conn = Connection::new("origin", Box::new(faulty));
        match clone.fetch(&lock, &conn, &DataMode::All, &NoProgress) {
            Err(_) => {
                failed += 1;
                assert_eq!(
                    state(clone.dot_dir()),
                    clean,
                    "{fault:?} changed the repository"
                );
            }
            Ok(_) => {
                let hit = match fault {
                    Fault::FlipBit(n) | Fault::Truncate(n) | Fault::ServerError(n) => n < reads,
                    Fault::ShortListing(_) => false,
                };
                assert!(
                    !hit,
                    "{fault:?} hit a read the fetch needed, and the fetch succeeded"
                );
                // A fault past the last read, or a listing that lags, is
                // harmless: what landed must verify.
                let v = clone.verify(&lock, &NoProgress).expect("verify");
                assert!(v.problems.is_empty(), "{fault:?}: {:?}", v.problems);
                // Start again from nothing for the next fault.
                for (b, _) in clone.refs().list(RefKind::Remote).expect("list") {
                    clone.refs().delete(RefKind::Remote, &b).expect("delete");
                }
                let packs = clone.dot_dir().join("packs");
                for e in fs::read_dir(&packs).expect("packs").flatten() {
                    fs::remove_file(e.path()).expect("rm");
                }
                clone.store.reload_packs().expect("reload");
                assert_eq!(state(clone.dot_dir()), clean);
            }
        }
    }
    assert!(
        failed as u64 >= 3 * reads,
        "only {failed} faults failed the fetch"
    );
    // Without faults the fetch succeeds and verifies.
    let conn = clone
        .connect("origin", &RemoteEnv::default(), 2)
        .expect("connect");
    clone
        .fetch(&lock, &conn, &DataMode::All, &NoProgress)
        .expect("fetch");
    assert!(
        clone
            .verify(&lock, &NoProgress)
            .expect("verify")
            .problems
            .is_empty()
    );
}

/// A tree or event batch past the loose threshold is stored loose, not
/// packed: push must send it (as a large object) and fetch must take it,
/// or the remote's history is unreadable. Found pushing 100,000 files.
#[test]
fn large_history_objects_travel_as_large_objects() {
    let origin = tempfile::tempdir().expect("tempdir");
    let remote = tempfile::tempdir().expect("tempdir");
    let work = origin.path();
    fs::create_dir(work.join("d")).expect("mkdir");
    // Each tree entry holds at least its name and a 32-byte id: enough
    // entries make the tree alone larger than the threshold.
    let name = |i: usize| format!("an-example-with-a-long-name-{i:06}.txt");
    let n = crate::store::LOOSE_THRESHOLD as usize / (name(0).len() + 32) + 100;
    for i in 0..n {
        fs::write(work.join("d").join(name(i)), format!("{i}\n")).expect("write");
    }
    let repo = Repo::init(work).expect("init");
    commit_all(&repo, work, "many");
    let lock = repo.lock(false).expect("lock");
    let (_, conn) = add_origin(&repo, &lock, remote.path());
    let refs = [(RefKind::Branch, "main".to_string())];
    repo.push(&lock, &conn, &refs, 2, &NoProgress)
        .expect("push");
    let tip = repo
        .refs()
        .get(RefKind::Branch, "main")
        .expect("ref")
        .expect("main");
    let tree = repo.read_commit(tip).expect("commit").datasets[0].id;
    assert!(
        repo.store.loose_file(&tree).is_some(),
        "the test needs a tree stored loose ({n} entries)"
    );
    // Every file is tiny, so only history objects are large.
    let hex = tree.to_hex();
    let on_remote = ["", ".zst"].iter().any(|ext| {
        remote
            .path()
            .join("objects")
            .join(&hex[..2])
            .join(format!("{}{ext}", &hex[2..]))
            .exists()
    });
    assert!(
        on_remote,
        "the large tree is on the remote as a large object"
    );
    drop(lock);

    for mode in [DataMode::None, DataMode::All] {
        let other = tempfile::tempdir().expect("tempdir");
        let clone = Repo::init(other.path()).expect("init");
        let lock = clone.lock(false).expect("lock");
        let (_, conn) = add_origin(&clone, &lock, remote.path());
        clone
            .fetch(&lock, &conn, &mode, &NoProgress)
            .expect("fetch");
        assert_eq!(
            clone
                .refs()
                .get(RefKind::Remote, "origin/main")
                .expect("ref"),
            Some(tip)
        );
        let got = clone.store.get(&tree).expect("the tree was fetched");
        assert_eq!(crate::id::ObjectId::of(&got), tree);
        let v = clone.verify(&lock, &NoProgress).expect("verify");
        assert!(v.problems.is_empty(), "{mode:?}: {:?}", v.problems);
    }
}

/// Every key of a folder remote (temporary files included), sorted.
fn remote_keys(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).expect("inside").display().to_string();
                out.push(rel.replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

/// Commits new small, chunked and loose contents on main and pushes
/// them, then moves the remote's main back: what a push interrupted
/// before its ref moved leaves. Returns the keys that push added.
fn orphan_a_push(repo: &Repo, work: &Path, remote: &Path, conn: &Connection) -> Vec<String> {
    let before = remote_keys(remote);
    let old = fs::read(remote.join("refs/heads/main")).expect("remote main");
    fs::write(work.join("d/side-small.txt"), "only on side\n").expect("write");
    fs::write(
        work.join("d/side-chunked.csv"),
        (0..40_000)
            .map(|i| format!("{i},side row {i}\n"))
            .collect::<String>(),
    )
    .expect("write");
    fs::write(work.join("d/side-loose.bin"), noise(700_000)).expect("write");
    commit_all(repo, work, "side");
    let lock = repo.lock(false).expect("lock");
    repo.push(
        &lock,
        conn,
        &[(RefKind::Branch, "main".into())],
        2,
        &NoProgress,
    )
    .expect("push");
    fs::write(remote.join("refs/heads/main"), old).expect("move the remote's main back");
    remote_keys(remote)
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect()
}

/// A connection to the folder `remote` whose clock reads `hours` from now.
fn hours_on(remote: &Path, hours: i64) -> Connection {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    Connection::new(
        "origin",
        Box::new(FolderBackend::open(remote).expect("open")),
    )
    .with_clock(now + hours * 3600)
}

/// A repository (folder dataset `d`, filled by `fill`, committed) with a
/// folder remote as `origin`, and the two folders that hold them.
struct Origin {
    work: tempfile::TempDir,
    remote: tempfile::TempDir,
    repo: Repo,
    conn: Connection,
}

fn origin_with(fill: impl FnOnce(&Path)) -> Origin {
    let work = tempfile::tempdir().expect("tempdir");
    let remote = tempfile::tempdir().expect("tempdir");
    fs::create_dir(work.path().join("d")).expect("mkdir");
    fill(&work.path().join("d"));
    let repo = Repo::init(work.path()).expect("init");
    commit_all(&repo, work.path(), "one");
    let lock = repo.lock(false).expect("lock");
    let (_, conn) = add_origin(&repo, &lock, remote.path());
    drop(lock);
    Origin {
        work,
        remote,
        repo,
        conn,
    }
}

fn push_main(
    repo: &Repo,
    conn: &Connection,
    progress: &dyn crate::progress::Progress,
) -> PushReport {
    let lock = repo.lock(false).expect("lock");
    repo.push(
        &lock,
        conn,
        &[(RefKind::Branch, "main".into())],
        2,
        progress,
    )
    .expect("push")
}

/// A new repository that fetches everything from the folder `remote`,
/// and checks that it verifies with nothing left unfetched.
fn clone_verifies(remote: &Path, progress: &dyn crate::progress::Progress) -> FetchReport {
    let other = tempfile::tempdir().expect("tempdir");
    let clone = Repo::init(other.path()).expect("init");
    let lock = clone.lock(false).expect("lock");
    let (_, conn) = add_origin(&clone, &lock, remote);
    let fetched = clone
        .fetch(&lock, &conn, &DataMode::All, progress)
        .expect("fetch");
    let v = clone.verify(&lock, &NoProgress).expect("verify");
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!(v.not_fetched, 0);
    fetched
}

#[test]
fn remote_gc_removes_only_old_unreachable_keys() {
    let o = origin_with(|d| {
        for i in 0..30 {
            fs::write(d.join(format!("f{i}")), format!("file {i}\n")).expect("write");
        }
        fs::write(d.join("big.bin"), noise(600_000)).expect("write");
    });
    let (work, remote, repo, conn) = (o.work.path(), &o.remote, &o.repo, &o.conn);
    push_main(repo, conn, &NoProgress);
    let live = remote_keys(remote.path());
    let orphans = orphan_a_push(repo, work, remote.path(), conn);
    assert!(
        orphans.iter().any(|k| k.starts_with("objects/")) && orphans.len() >= 4,
        "the orphaned push left packs and a large object: {orphans:?}"
    );
    // An upload cut before its index, and a folder write cut short.
    fs::write(remote.path().join("packs/data/pack-0123.pack"), b"partial").expect("write");
    fs::write(
        remote.path().join("objects/.tmp-folio-interrupted"),
        b"partial",
    )
    .expect("write");
    let mut expected: Vec<String> = orphans.clone();
    expected.push("packs/data/pack-0123.pack".into());
    expected.sort();

    let lock = repo.lock(false).expect("lock");
    // Now: everything is within the grace period, nothing goes.
    let r = repo
        .gc_remote(&lock, conn, 7 * 86_400, true, &NoProgress)
        .expect("gc");
    assert!(r.removed.is_empty(), "{:?}", r.removed);
    assert_eq!(r.kept_recent as usize, expected.len() - count_idx(&orphans));
    assert_eq!(r.temporaries, 0);
    // Eight days on: a dry run lists the orphans and deletes nothing.
    let later = hours_on(remote.path(), 8 * 24);
    let keys_before = remote_keys(remote.path());
    let dry = repo
        .gc_remote(&lock, &later, 7 * 86_400, false, &NoProgress)
        .expect("dry run");
    let mut listed = dry.removed.clone();
    listed.sort();
    assert_eq!(listed, expected);
    assert_eq!(dry.temporaries, 1);
    assert_eq!(
        remote_keys(remote.path()),
        keys_before,
        "a dry run deletes nothing"
    );
    // Pruned: the remote holds exactly what main reaches.
    let r = repo
        .gc_remote(&lock, &later, 7 * 86_400, true, &NoProgress)
        .expect("gc");
    let mut removed = r.removed.clone();
    removed.sort();
    assert_eq!(removed, expected);
    assert_eq!(remote_keys(remote.path()), live);
    drop(lock);
    // And a fresh clone of it is whole.
    clone_verifies(remote.path(), &NoProgress);
}

/// Keys of `keys` that are pack indexes (a pack and its index are one
/// unit of gc).
fn count_idx(keys: &[String]) -> usize {
    keys.iter().filter(|k| k.ends_with(".idx")).count()
}

#[test]
fn a_push_uploads_again_what_only_an_old_orphan_holds() {
    // The orphans of an interrupted push hold exactly what main then
    // pushes. Recent orphans are relied on; two hours on they are past a
    // push's trust (a gc could remove them while the push is in flight),
    // so the push uploads their contents again.
    for hours in [0, 2] {
        let o = origin_with(|d| fs::write(d.join("base.txt"), "base\n").expect("write"));
        let (work, remote, repo, conn) = (o.work.path(), &o.remote, &o.repo, &o.conn);
        push_main(repo, conn, &NoProgress);
        orphan_a_push(repo, work, remote.path(), conn);
        let later = |hours: i64| hours_on(remote.path(), hours);
        let lock = repo.lock(false).expect("lock");
        let pushed = repo
            .push(
                &lock,
                &later(hours),
                &[(RefKind::Branch, "main".into())],
                2,
                &NoProgress,
            )
            .expect("push main");
        if hours == 0 {
            assert!(pushed.bytes < 100_000, "relied on: {} bytes", pushed.bytes);
            continue;
        }
        assert!(
            pushed.bytes > 700_000,
            "the contents went up again ({} bytes)",
            pushed.bytes
        );
        // A gc a week on keeps what main reaches, and main is whole.
        repo.gc_remote(&lock, &later(8 * 24), 7 * 86_400, true, &NoProgress)
            .expect("gc");
        drop(lock);
        clone_verifies(remote.path(), &NoProgress);
    }
}

/// Records each phase: its name, total, units advanced and objects.
#[derive(Default)]
struct Recorder {
    phases: std::sync::Mutex<Vec<(String, u64, u64, u64)>>,
}

impl crate::progress::Progress for Recorder {
    fn begin(&self, what: &str, total: u64) {
        self.phases
            .lock()
            .expect("lock")
            .push((what.to_string(), total, 0, 0));
    }
    fn advance(&self, n: u64) {
        if let Some(p) = self.phases.lock().expect("lock").last_mut() {
            p.2 += n;
        }
    }
    fn objects(&self, n: u64) {
        if let Some(p) = self.phases.lock().expect("lock").last_mut() {
            p.3 += n;
        }
    }
    fn end(&self) {}
}

#[test]
fn transfers_report_bytes_that_add_up_and_every_object() {
    let o = origin_with(|d| {
        for i in 0..50 {
            fs::write(d.join(format!("f{i}")), format!("file {i}\n")).expect("write");
        }
        fs::write(d.join("big.bin"), noise(700_000)).expect("write");
        let table: String = (0..40_000).map(|i| format!("{i},row {i}\n")).collect();
        fs::write(d.join("table.csv"), table).expect("write");
    });
    let rec = Recorder::default();
    let pushed = push_main(&o.repo, &o.conn, &rec);
    let check = |rec: &Recorder, objects: u64| {
        let phases = rec.phases.lock().expect("lock");
        assert!(!phases.is_empty());
        for (what, total, done, _) in phases.iter() {
            assert_eq!(done, total, "{what}: advanced {done} of {total}");
        }
        let moved: u64 = phases.iter().map(|p| p.3).sum();
        assert_eq!(moved, objects, "{phases:?}");
    };
    check(&rec, pushed.objects);
    let rec = Recorder::default();
    let fetched = clone_verifies(o.remote.path(), &rec);
    check(&rec, fetched.objects);
}
