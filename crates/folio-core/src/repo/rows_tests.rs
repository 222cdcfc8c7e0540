//! Rows recorded by reference (D58): what a view reads from a `Rows` event
//! equals what the rows say, computed here from the generated table alone;
//! reads narrowed through the index give exactly the full read's events.

use std::collections::BTreeMap;
use std::fs;

use super::*;
use crate::ledger::index::Term;
use crate::ledger::{ExampleId, Subject};
use crate::progress::NoProgress;

/// One generated row: id → (label, annotator, confidence, sensitivity).
type Rows = BTreeMap<u64, (String, String, String, String)>;

fn row(i: u64, relabel: bool) -> (String, String, String, String) {
    let labels = ["cat", "dog", "bird"];
    let label = labels[((i + u64::from(relabel)) % 3) as usize].to_string();
    let who = ["ann", "bob"][(i % 2) as usize].to_string();
    let conf = format!("0.{}", 10 + i % 90);
    let sens = ["public", "PII"][usize::from(i.is_multiple_of(5))].to_string();
    (label, who, conf, sens)
}

fn write_csv(path: &std::path::Path, rows: &Rows) {
    let mut s = String::from("id,label,who,conf,sens,x\n");
    for (i, (l, w, c, z)) in rows {
        s += &format!("{i},{l},{w},{c},{z},{}\n", i * 7);
    }
    fs::write(path, s).expect("write");
}

fn commit(repo: &Repo, msg: &str, source: Option<&str>) -> CommitId {
    let lock = repo.lock(false).expect("lock");
    let opts = CommitOptions {
        paths: vec![repo.work_dir().join("t.csv")],
        message: msg.into(),
        author: "T".into(),
        time: 0,
        allow_empty: false,
        tables: TableOptions::default(),
        source: source.map(str::to_string),
        meta: Meta::default(),
        meta_file: None,
    };
    repo.commit(&lock, &opts, &NoProgress)
        .expect("commit")
        .commit
        .expect("a commit")
}

/// What the view says of t.csv's present rows: id → fields, source.
fn present(view: &crate::ledger::query::LedgerView<'_>) -> BTreeMap<u64, (Rows, Option<String>)> {
    let mut out: BTreeMap<u64, (Rows, Option<String>)> = BTreeMap::new();
    for st in view.states().expect("states").values() {
        let Some(key) = st.locator.as_str().strip_prefix("t.csv:") else {
            continue;
        };
        if !st.present {
            continue;
        }
        let i: u64 = key.parse().expect("an integer key");
        let mut one = Rows::new();
        one.insert(
            i,
            (
                st.label.clone().unwrap_or_default(),
                st.annotator.clone().unwrap_or_default(),
                st.confidence.map(|c| format!("{c}")).unwrap_or_default(),
                st.sensitivity.clone().unwrap_or_default(),
            ),
        );
        out.insert(i, (one, st.source.clone()));
    }
    out
}

/// The expectation for `rows`: confidences as numbers print, sensitivities
/// lower-cased, the source of each row's first commit.
fn expected(
    rows: &Rows,
    source: &BTreeMap<u64, Option<String>>,
) -> BTreeMap<u64, (Rows, Option<String>)> {
    rows.iter()
        .map(|(i, (l, w, c, z))| {
            let c: f64 = c.parse().expect("a number");
            let mut one = Rows::new();
            one.insert(*i, (l.clone(), w.clone(), format!("{c}"), z.to_lowercase()));
            (*i, (one, source[i].clone()))
        })
        .collect()
}

#[test]
fn rows_by_reference_read_as_the_rows_say() {
    let d = tempfile::tempdir().expect("tempdir");
    let repo = Repo::init(d.path()).expect("init");
    let mut cfg = fs::read_to_string(d.path().join(".folio/config.toml")).expect("config");
    cfg += "\n[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\nlabel = \"label\"\nannotator = \"who\"\nconfidence = \"conf\"\nsensitivity = \"sens\"\n";
    fs::write(d.path().join(".folio/config.toml"), cfg).expect("config");

    let n = 3000;
    let v1: Rows = (0..n).map(|i| (i, row(i, false))).collect();
    write_csv(&d.path().join("t.csv"), &v1);
    let one = commit(&repo, "one", Some("s3://first"));
    let mut src: BTreeMap<u64, Option<String>> = (0..n)
        .map(|i| (i, Some("s3://first".to_string())))
        .collect();

    // The commit's own batch holds one event for the whole table.
    let c1 = repo.read_commit(one).expect("commit");
    assert_eq!(c1.events.iter().map(|b| b.1).sum::<u64>(), 1);
    assert_eq!(
        present(&repo.ledger_view().expect("view")),
        expected(&v1, &src)
    );

    // Remove every 7th row, relabel every 5th, add 100.
    let mut v2 = Rows::new();
    for i in 0..n + 100 {
        if i < n && i % 7 == 0 {
            continue;
        }
        v2.insert(i, row(i, i % 5 == 0));
        src.entry(i).or_insert_with(|| Some("s3://second".into()));
    }
    write_csv(&d.path().join("t.csv"), &v2);
    let two = commit(&repo, "two", Some("s3://second"));
    assert_eq!(
        present(&repo.ledger_view().expect("view")),
        expected(&v2, &src)
    );
    // As of the first commit, the first version still.
    assert_eq!(
        present(&repo.ledger_view_at(one).expect("view")),
        expected(&v1, &src)
    );

    // Narrowed reads (through the index, and with no index) give exactly
    // the events a full read gives for the example.
    let sample: Vec<u64> = vec![0, 1, 5, 7, 10, 35, 2999, n, n + 99];
    let latest = repo.ledger_view_at(two).expect("view");
    let id_of = |i: u64| -> ExampleId {
        latest
            .resolve::<RepoError>(&format!("t.csv:{i}"))
            .expect("a row of the table")
    };
    let events_of = |rev: CommitId, x: ExampleId, narrowed: bool| {
        let view = repo.ledger_view_at(rev).expect("view");
        let t = Term::Example(&x).key();
        let want = narrowed.then(|| vec![(t, t)]);
        let mut out = Vec::new();
        view.read(&want, &|_| true, &mut |e| {
            if e.subject == Subject::Example(x) {
                out.push((e.seq, e.payload.clone()));
            }
            Ok::<(), RepoError>(())
        })
        .expect("read");
        out
    };
    for rev in [one, two] {
        for i in &sample {
            let x = id_of(*i);
            let full = events_of(rev, x, false);
            assert_eq!(events_of(rev, x, true), full, "row {i} as of {rev}");
            let in_v2 = v2.contains_key(i);
            if rev == two && (!in_v2 || *i < n) {
                assert!(!full.is_empty(), "row {i} has events");
            }
        }
    }
    // The commit indexed its rows by window (collected on its own walk):
    // a row's term names a window, not the whole frame.
    let windowed = |x: &ExampleId| {
        crate::ledger::index::LedgerIndex::open_ro(&d.path().join(".folio/index"))
            .expect("an index")
            .frames_of(&[Term::Example(x).key()])
            .expect("frames")
            .iter()
            .any(|f| f.2.is_some())
    };
    assert!(windowed(&id_of(7)));
    fs::remove_dir_all(d.path().join(".folio/index")).expect("drop the index");
    for i in &sample {
        let x = id_of(*i);
        assert_eq!(
            events_of(two, x, true),
            events_of(two, x, false),
            "row {i}, no index"
        );
    }
    // Rebuilt from the store alone, the windows give the same answers.
    let lock = repo.lock(false).expect("lock");
    repo.update_ledger_index(&lock).expect("reindex");
    drop(lock);
    assert!(windowed(&id_of(7)));
    for i in &sample {
        let x = id_of(*i);
        assert_eq!(
            events_of(two, x, true),
            events_of(two, x, false),
            "row {i}, rebuilt index"
        );
    }
    // Lineage by locator: row 7 added by the first commit, removed by the second.
    let l = repo.lineage("t.csv:7").expect("lineage");
    assert_eq!(l.added_in, Some(one));
    assert_eq!(l.removed_in, Some(two));
}

/// What the view says of every example by the plain fold: every event of
/// the view, `Rows` events expanded, applied in ledger order — the
/// definition [`crate::ledger::query::LedgerView::states`] computes
/// without holding every event.
pub(super) fn plain_states(
    view: &crate::ledger::query::LedgerView<'_>,
) -> crate::ledger::IdMap<crate::ledger::ExampleState> {
    let mut states: crate::ledger::IdMap<crate::ledger::ExampleState> = Default::default();
    view.each(&mut |e| {
        if let Subject::Example(id) = &e.subject {
            states.entry(*id).or_default().apply(&e.payload);
        }
        Ok::<(), RepoError>(())
    })
    .expect("read");
    states
}

/// A step of the random history below.
#[derive(Debug, Clone)]
enum Step {
    /// Commit a version: rows of ids whose bit is set, relabelled where
    /// the second mask says so, with or without a source.
    Commit(u64, u64, bool),
    /// Label one row (by key) with the ledger, between commits.
    Annotate(u8, u8),
    /// Classify one row.
    Classify(u8),
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (any::<u64>(), any::<u64>(), any::<bool>()).prop_map(|(a, b, s)| Step::Commit(a, b, s)),
        2 => (0u8..64, 0u8..3).prop_map(|(k, l)| Step::Annotate(k, l)),
        1 => (0u8..64).prop_map(Step::Classify),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]
    /// A random history of table versions and per-example events: the
    /// states a view folds (a table's first `Rows` event streamed, the
    /// rest gathered) are the plain fold's, at every commit and now.
    #[test]
    fn folded_states_equal_the_plain_fold(steps in proptest::collection::vec(step(), 1..9)) {
        let d = tempfile::tempdir().expect("tempdir");
        let repo = Repo::init(d.path()).expect("init");
        let mut cfg = fs::read_to_string(d.path().join(".folio/config.toml")).expect("config");
        cfg += "\n[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\nlabel = \"label\"\nannotator = \"who\"\nconfidence = \"conf\"\nsensitivity = \"sens\"\n";
        fs::write(d.path().join(".folio/config.toml"), cfg).expect("config");
        let mut commits = Vec::new();
        let mut present: Vec<u64> = Vec::new();
        for s in &steps {
            match s {
                Step::Commit(mask, relabel, sourced) => {
                    let rows: Rows = (0..64)
                        .filter(|i| mask >> i & 1 == 1)
                        .map(|i| (i, row(i, relabel >> i & 1 == 1)))
                        .collect();
                    write_csv(&d.path().join("t.csv"), &rows);
                    let lock = repo.lock(false).expect("lock");
                    let opts = CommitOptions {
                        paths: vec![repo.work_dir().join("t.csv")],
                        message: "v".into(),
                        author: "T".into(),
                        time: 0,
                        allow_empty: true,
                        tables: TableOptions::default(),
                        source: sourced.then(|| format!("s3://v{}", commits.len())),
                        meta: Meta::default(),
                        meta_file: None,
                    };
                    if let Some(c) = repo.commit(&lock, &opts, &NoProgress).expect("commit").commit {
                        commits.push(c);
                    }
                    present = rows.keys().copied().collect();
                }
                Step::Annotate(..) | Step::Classify(..) if present.is_empty() => {}
                Step::Annotate(k, l) => {
                    let key = present[*k as usize % present.len()];
                    let lock = repo.lock(false).expect("lock");
                    let who = Recorder { actor: "T".into(), time: 0, dry_run: None };
                    let a = Annotation {
                        label: ["x", "y", "z"][*l as usize].into(),
                        annotator: Some("rev".into()),
                        confidence: Some(0.5),
                    };
                    repo.annotate(&lock, &Selector::One(format!("t.csv:{key}")), &a, &who)
                        .expect("annotate");
                }
                Step::Classify(k) => {
                    let key = present[*k as usize % present.len()];
                    let lock = repo.lock(false).expect("lock");
                    let who = Recorder { actor: "T".into(), time: 0, dry_run: None };
                    repo.classify(&lock, &Selector::One(format!("t.csv:{key}")), "confidential", &who)
                        .expect("classify");
                }
            }
        }
        let now = repo.ledger_view().expect("view");
        proptest::prop_assert_eq!(now.states().expect("states"), plain_states(&now));
        for c in &commits {
            let then = repo.ledger_view_at(*c).expect("view");
            proptest::prop_assert_eq!(then.states().expect("states"), plain_states(&then));
        }
    }
}
