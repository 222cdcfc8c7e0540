//! Property: random operations on two branches, then a merge, give what
//! the same operations give applied to a plain in-memory model — for the
//! files, the table's rows and cells, and what the ledger says of them.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::progress::NoProgress;
use crate::refs::{Head, RefKind};

/// The model: files of the `img` folder and rows of `t.csv` (key → label,
/// note), with the row label mapped to the ledger.
#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    files: BTreeMap<String, String>,
    rows: BTreeMap<u32, (String, String)>,
}

/// One change a branch makes. Each side owns its own files, rows and
/// columns, so the two sides never conflict (the property is about clean
/// merges; conflicts have tests of their own).
#[derive(Debug, Clone)]
enum Op {
    WriteFile(u8, u8),
    DeleteFile(u8),
    AddRow(u8, u8),
    DeleteRow(u8),
    SetCell(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4, any::<u8>()).prop_map(|(f, v)| Op::WriteFile(f, v)),
        (0u8..4).prop_map(Op::DeleteFile),
        (0u8..4, any::<u8>()).prop_map(|(k, v)| Op::AddRow(k, v)),
        (0u8..4).prop_map(Op::DeleteRow),
        (0u8..6, any::<u8>()).prop_map(|(k, v)| Op::SetCell(k, v)),
    ]
}

impl Model {
    fn base() -> Model {
        let mut m = Model::default();
        for f in 0..6 {
            m.files
                .insert(format!("shared{f}.txt"), format!("base {f}"));
        }
        for k in 0..6 {
            m.rows.insert(k, (format!("l{k}"), format!("n{k}")));
        }
        m
    }

    /// Applies `op` as side `side` (0 or 1): side 0 owns files `a*`, rows
    /// 100.., base rows 0-2 (whole) and every base row's label; side 1 owns
    /// files `b*`, rows 200.., base rows 3-5 (whole) and every base row's
    /// note.
    fn apply(&mut self, side: u32, op: &Op) {
        let tag = if side == 0 { "a" } else { "b" };
        match *op {
            Op::WriteFile(f, v) => {
                self.files
                    .insert(format!("{tag}{f}.txt"), format!("{tag} {v}"));
            }
            Op::DeleteFile(f) => {
                self.files.remove(&format!("{tag}{f}.txt"));
            }
            Op::AddRow(k, v) => {
                let key = 100 * (side + 1) + u32::from(k);
                self.rows
                    .insert(key, (format!("{tag}{v}"), format!("{tag}note")));
            }
            Op::DeleteRow(k) => {
                // Only rows this side owns whole: its own additions.
                self.rows.remove(&(100 * (side + 1) + u32::from(k)));
            }
            Op::SetCell(k, v) => {
                if let Some(r) = self.rows.get_mut(&u32::from(k)) {
                    if side == 0 {
                        r.0 = format!("{tag}{v}");
                    } else {
                        r.1 = format!("{tag}{v}");
                    }
                }
            }
        }
    }

    fn write(&self, work: &Path) {
        let img = work.join("img");
        if img.exists() {
            fs::remove_dir_all(&img).expect("rm");
        }
        fs::create_dir_all(&img).expect("mkdir");
        for (name, body) in &self.files {
            fs::write(img.join(name), body).expect("write");
        }
        let mut t = String::from("id,label,note\n");
        for (k, (l, n)) in &self.rows {
            t += &format!("{k},{l},{n}\n");
        }
        fs::write(work.join("t.csv"), t).expect("write");
    }

    fn read(work: &Path) -> Model {
        let mut m = Model::default();
        for e in fs::read_dir(work.join("img")).expect("list").flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            m.files
                .insert(name, fs::read_to_string(e.path()).expect("read"));
        }
        let t = fs::read_to_string(work.join("t.csv")).expect("read");
        for line in t.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            m.rows
                .insert(f[0].parse().expect("key"), (f[1].into(), f[2].into()));
        }
        m
    }
}

fn commit(repo: &Repo, msg: &str) {
    let lock = repo.lock(false).expect("lock");
    let o = CommitOptions::made_for(vec![], msg.into(), "T".into(), 0);
    repo.commit(&lock, &o, &NoProgress).expect("commit");
}

fn switch(repo: &Repo, b: &str) {
    let lock = repo.lock(false).expect("lock");
    let id = repo
        .refs
        .get(RefKind::Branch, b)
        .expect("ref")
        .expect("branch");
    repo.checkout(&lock, id, Head::Branch(b.into()), false, &NoProgress)
        .expect("switch");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn merging_two_branches_equals_the_model(
        a in proptest::collection::vec(op(), 1..8),
        b in proptest::collection::vec(op(), 1..8),
    ) {
        let d = tempfile::tempdir().expect("tempdir");
        let work = d.path();
        let repo = Repo::init(work).expect("init");
        fs::write(
            repo.dot_dir().join("config.toml"),
            "[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\nlabel = \"label\"\n",
        )
        .expect("config");
        let base = Model::base();
        base.write(work);
        {
            let lock = repo.lock(false).expect("lock");
            let paths = vec![work.join("img"), work.join("t.csv")];
            let o = CommitOptions::made_for(paths, "base".into(), "T".into(), 0);
            repo.commit(&lock, &o, &NoProgress).expect("base commit");
            let head = repo.head_commit().expect("head").expect("a commit");
            repo.refs.create(RefKind::Branch, "side", head).expect("branch");
        }
        let (mut ma, mut mb, mut want) = (base.clone(), base.clone(), base.clone());
        for o in &a {
            ma.apply(0, o);
            want.apply(0, o);
        }
        ma.write(work);
        commit(&repo, "side a");
        switch(&repo, "side");
        for o in &b {
            mb.apply(1, o);
            want.apply(1, o);
        }
        mb.write(work);
        commit(&repo, "side b");
        switch(&repo, "main");
        let theirs = repo.refs.get(RefKind::Branch, "side").expect("ref").expect("side");
        let lock = repo.lock(false).expect("lock");
        let opts = MergeOptions { author: "T".into(), time: 0, message: None, prefer: None };
        let out = repo.merge(&lock, theirs, "side", &opts, &NoProgress).expect("merge");
        drop(lock);
        prop_assert!(!matches!(out, MergeOutcome::Conflicted { .. }), "{out:?}");
        // The data is the model's.
        prop_assert_eq!(Model::read(work), want.clone());
        // The ledger says the same: the rows present, with their labels.
        let states = repo.ledger_view().expect("view").states().expect("states");
        let mut present: BTreeMap<String, Option<String>> = BTreeMap::new();
        for st in states.values().filter(|s| s.present && s.dataset == "t.csv") {
            present.insert(st.locator.to_string(), st.label.clone());
        }
        let expect: BTreeMap<String, Option<String>> = want
            .rows
            .iter()
            .map(|(k, (l, _))| (format!("t.csv:{k}"), Some(l.clone())))
            .collect();
        prop_assert_eq!(present, expect);
        let files: Vec<String> = states
            .values()
            .filter(|s| s.present && s.dataset == "img")
            .map(|s| s.locator.to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let want_files: Vec<String> = want.files.keys().map(|f| format!("img/{f}")).collect();
        prop_assert_eq!(files, want_files);
        let v = repo.verify(&repo.lock(false).expect("lock"), &NoProgress).expect("verify");
        prop_assert!(v.problems.is_empty(), "{:?}", v.problems);
    }
}
