//! Library tests of whole repository operations.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::id::ObjectId;
use crate::progress::NoProgress;

fn opts(paths: Vec<PathBuf>, msg: &str) -> CommitOptions {
    CommitOptions {
        paths,
        message: msg.into(),
        author: "T".into(),
        time: 0,
        allow_empty: false,
        tables: TableOptions::default(),
        source: None,
        meta: Meta::default(),
        meta_file: None,
    }
}

/// What a folder holds, independently of folio: path → description.
fn describe(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            let m = fs::symlink_metadata(&p).expect("lstat");
            let desc = if m.file_type().is_symlink() {
                format!("link -> {}", fs::read_link(&p).expect("readlink").display())
            } else if m.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else {
                let exec = m.permissions().mode() & 0o100 != 0;
                format!("file exec={exec} {:?}", fs::read(&p).expect("read"))
            };
            out.insert(rel, desc);
        }
    }
    out
}

#[derive(Debug, Clone)]
enum Node {
    File(Vec<u8>, bool),
    Link(String),
    Dir(Vec<(String, Node)>),
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,6}(\\.txt)?",
        Just("é日本".to_string()),
        Just("with space".to_string()),
        Just("Ünïcødé-ñ".to_string()),
    ]
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        (
            proptest::collection::vec(any::<u8>(), 0..300),
            any::<bool>()
        )
            .prop_map(|(b, x)| Node::File(b, x)),
        "[a-z]{1,8}".prop_map(Node::Link),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        proptest::collection::vec((name(), inner), 0..5).prop_map(Node::Dir)
    })
}

fn materialise(at: &Path, n: &Node) {
    match n {
        Node::File(b, x) => {
            fs::write(at, b).expect("write");
            let mode = if *x { 0o755 } else { 0o644 };
            fs::set_permissions(at, fs::Permissions::from_mode(mode)).expect("chmod");
        }
        Node::Link(t) => std::os::unix::fs::symlink(t, at).expect("symlink"),
        Node::Dir(children) => {
            fs::create_dir_all(at).expect("mkdir");
            for (name, c) in children {
                let p = at.join(name);
                if fs::symlink_metadata(&p).is_err() {
                    materialise(&p, c);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn commit_then_checkout_reproduces_the_tree(children in proptest::collection::vec((name(), node()), 0..6)) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let work = tmp.path().join("work");
        fs::create_dir(&work).expect("mkdir");
        materialise(&work.join("data"), &Node::Dir(children));
        let repo = Repo::init(&work).expect("init");
        let lock = repo.lock(false).expect("lock");
        let out = repo.commit(&lock, &opts(vec![work.join("data")], "c"), &NoProgress).expect("commit");
        let id = out.commit.expect("a commit");
        let dest = tmp.path().join("out");
        repo.checkout_to(id, &dest, &NoProgress).expect("checkout");
        prop_assert_eq!(describe(&work.join("data")), describe(&dest.join("data")));
    }
}

#[test]
fn ambiguous_prefix_lists_candidates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = Repo::init(tmp.path()).expect("init");
    // Store commits until two share a 4-digit prefix (birthday bound: a
    // few hundred), all in one pack.
    let w = repo.store.writer().expect("writer");
    let mut seen: BTreeMap<String, ObjectId> = BTreeMap::new();
    let mut pair = None;
    for i in 0..5000 {
        let c = Commit {
            parents: vec![],
            datasets: vec![],
            tables: vec![],
            ledger: None,
            events: Vec::new(),
            author: "T".into(),
            time: i,
            message: format!("commit {i}"),
        };
        let id = w.put(&c.encode()).expect("put");
        let prefix = id.short(4);
        if let Some(other) = seen.insert(prefix.clone(), id) {
            pair = Some((prefix, other, id));
            break;
        }
    }
    w.finish().expect("finish");
    let (prefix, a, b) = pair.expect("a collision within 5000 commits");
    match repo.resolve(&prefix) {
        Err(RepoError::AmbiguousRevision { candidates, .. }) => {
            assert_eq!(candidates.len(), 2);
            let text = candidates.join("\n");
            assert!(
                text.contains(&a.short(12)) && text.contains(&b.short(12)),
                "{text}"
            );
        }
        other => panic!("expected ambiguity, got {other:?}"),
    }
    let longer = a.short(12);
    assert_eq!(repo.resolve(&longer).expect("unique").0, a);
}

#[test]
fn library_sees_its_own_new_commit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::create_dir(tmp.path().join("d")).expect("mkdir");
    fs::write(tmp.path().join("d/a"), b"a").expect("write");
    let repo = Repo::init(tmp.path()).expect("init");
    let lock = repo.lock(false).expect("lock");
    let id = repo
        .commit(&lock, &opts(vec![tmp.path().join("d")], "c"), &NoProgress)
        .expect("commit")
        .commit
        .expect("id");
    assert_eq!(repo.resolve("HEAD").expect("head"), id);
    assert_eq!(repo.show(id).expect("show").datasets[0].files, 1);
}

fn table_csv(rows: &BTreeMap<u32, (u8, i32)>) -> String {
    let mut s = String::from("id,label,value\n");
    for (k, (l, v)) in rows {
        s += &format!("{k},L{l},{v}\n");
    }
    s
}

fn commit_file(repo: &Repo, work: &Path, content: &str, key: &[&str], msg: &str) -> CommitId {
    fs::write(work.join("t.csv"), content).expect("write");
    let lock = repo.lock(false).expect("lock");
    let mut o = opts(vec![work.join("t.csv")], msg);
    o.tables.key = key.iter().map(|k| k.to_string()).collect();
    o.allow_empty = true;
    repo.commit(&lock, &o, &NoProgress)
        .expect("commit")
        .commit
        .expect("id")
}

fn table_rows() -> impl Strategy<Value = BTreeMap<u32, (u8, i32)>> {
    proptest::collection::btree_map(0u32..300, (0u8..3, -5i32..5), 0..200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn keyed_diff_matches_a_naive_diff(old in table_rows(), new in table_rows()) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = Repo::init(tmp.path()).expect("init");
        let a = commit_file(&repo, tmp.path(), &table_csv(&old), &["id"], "a");
        let b = commit_file(&repo, tmp.path(), &table_csv(&new), &["id"], "b");
        let d = repo.diff(DiffSide::Commit(a), DiffSide::Commit(b), &DiffOptions::default(), &NoProgress).expect("diff");
        let mut want: Vec<(String, &str)> = Vec::new();
        for (k, v) in &old {
            match new.get(k) {
                None => want.push((k.to_string(), "removed")),
                Some(w) if w != v => want.push((k.to_string(), "modified")),
                _ => {}
            }
        }
        for k in new.keys().filter(|k| !old.contains_key(k)) {
            want.push((k.to_string(), "added"));
        }
        want.sort();
        let mut got: Vec<(String, &str)> = d.tables.iter().flat_map(|t| t.rows.iter()).map(|r| {
            let kind = match r.change {
                crate::table::manifest::RowChangeKind::Added => "added",
                crate::table::manifest::RowChangeKind::Removed => "removed",
                crate::table::manifest::RowChangeKind::Modified => "modified",
            };
            (r.key.clone().expect("keyed"), kind)
        }).collect();
        got.sort();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn unkeyed_diff_matches_a_multiset_diff(
        old in proptest::collection::vec((0u8..4, 0i32..3), 0..120),
        new in proptest::collection::vec((0u8..4, 0i32..3), 0..120),
    ) {
        let csv = |rows: &[(u8, i32)]| {
            let mut s = String::from("label,value\n");
            for (l, v) in rows {
                s += &format!("L{l},{v}\n");
            }
            s
        };
        let tmp = tempfile::tempdir().expect("tempdir");
        let repo = Repo::init(tmp.path()).expect("init");
        let a = commit_file(&repo, tmp.path(), &csv(&old), &[], "a");
        let b = commit_file(&repo, tmp.path(), &csv(&new), &[], "b");
        let d = repo.diff(DiffSide::Commit(a), DiffSide::Commit(b), &DiffOptions::default(), &NoProgress).expect("diff");
        let count = |rows: &[(u8, i32)]| {
            let mut m: BTreeMap<(u8, i32), i64> = BTreeMap::new();
            for r in rows {
                *m.entry(*r).or_default() += 1;
            }
            m
        };
        let (co, cn) = (count(&old), count(&new));
        let mut a_add = 0i64;
        let mut a_rem = 0i64;
        for k in co.keys().chain(cn.keys().filter(|k| !co.contains_key(*k))) {
            let delta = cn.get(k).copied().unwrap_or(0) - co.get(k).copied().unwrap_or(0);
            if delta > 0 { a_add += delta } else { a_rem -= delta }
        }
        let (got_add, got_rem) = d.tables.first().map_or((0, 0), |t| (t.rows_added as i64, t.rows_removed as i64));
        prop_assert_eq!((got_add, got_rem), (a_add, a_rem));
    }
}

/// A large batch is stored loose and its frames are read in place; a
/// damaged frame read so is an error, never a wrong answer.
#[test]
fn frames_of_a_large_batch_are_read_in_place_and_checked() {
    use crate::ledger::batch::BatchBuilder;
    use crate::ledger::index::{LedgerIndex, Term};
    use crate::ledger::query::{LedgerView, Part};
    use crate::ledger::{Event, ExampleId, Locator, Payload, Subject};
    let d = tempfile::tempdir().expect("tempdir");
    crate::store::Store::init(d.path()).expect("init");
    let store = crate::store::Store::open(d.path()).expect("open");
    let mut b = BatchBuilder::new(None, 1);
    let n = 40_000u64;
    for i in 0..n {
        b.push(&Event {
            seq: 0,
            time: i as i64 * 7919 % 100_003,
            actor: format!("a{}", i % 13),
            commit: None,
            subject: Subject::Example(ExampleId::file(&format!("d/{i}"))),
            payload: Payload::Added {
                dataset: "d".into(),
                locator: Locator::file(&format!("d/{i}")),
                source: Some(format!("s{}", i * 31 % 977)),
                collected_at: None,
            },
        })
        .expect("push");
    }
    let built = b.finish().expect("finish");
    assert!(built.bytes.len() > 512 << 10, "large enough to be loose");
    let w = store.writer().expect("writer");
    let id = w.put(&built.bytes).expect("put");
    w.finish().expect("finish");
    assert!(
        store.read_range(&id, 0, 8).expect("read").is_some(),
        "stored loose, raw"
    );
    let ix_dir = d.path().join("index");
    LedgerIndex::open_rw(&ix_dir)
        .expect("index")
        .add_batch(
            &id,
            &built.bytes,
            &mut super::ledger::rows_windows(&store, Default::default(), d.path().join("tmp")),
        )
        .expect("indexed");
    let parts = vec![Part {
        batch: id,
        commit: None,
        start: 0,
        count: n,
    }];
    let target = ExampleId::file("d/31337");
    let want = Some(vec![(
        Term::Example(&target).key(),
        Term::Example(&target).key(),
    )]);
    let found = |view: &LedgerView<'_>| -> Result<Vec<u64>, RepoError> {
        let mut seqs = Vec::new();
        view.read(&want, &|_| true, &mut |e| {
            if e.subject == Subject::Example(target) {
                seqs.push(e.seq);
            }
            Ok::<(), RepoError>(())
        })?;
        Ok(seqs)
    };
    let view = LedgerView::new(&store, &ix_dir, parts.clone());
    assert_eq!(found(&view).expect("reads"), [31337]);
    // Flip a byte inside the frame that holds it.
    let path = match store.locate(&id) {
        Some(crate::store::Location::Loose(p)) => p,
        other => panic!("{other:?}"),
    };
    let frame = LedgerIndex::open_ro(&ix_dir)
        .expect("index")
        .frames_of(&[Term::Example(&target).key()])
        .expect("frames")[0]
        .1;
    let mut bytes = fs::read(&path).expect("read");
    bytes[frame.offset as usize + 40] ^= 1;
    fs::write(&path, &bytes).expect("write");
    let view = LedgerView::new(&store, &ix_dir, parts);
    assert!(
        found(&view).is_err(),
        "a damaged frame read in place is refused"
    );
}
