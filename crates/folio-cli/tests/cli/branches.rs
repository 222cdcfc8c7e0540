//! The ledger follows history: what a branch records is invisible from
//! another branch; every answer is as of a revision; format-1 repositories
//! are converted by `folio upgrade`.

use std::fs;

use crate::Env;

/// The examples `audit --json` counts, by dataset.
fn audited(v: &serde_json::Value) -> Vec<(String, u64)> {
    let mut out: std::collections::BTreeMap<String, u64> = Default::default();
    for g in v["groups"].as_array().expect("groups") {
        *out.entry(g["dataset"].as_str().expect("dataset").to_string())
            .or_default() += g["examples"].as_u64().expect("count");
    }
    out.into_iter().collect()
}

fn two_branches() -> Env {
    let e = Env::new();
    e.write("img/a.txt", b"a");
    e.write("t.csv", b"id,label\n1,cat\n2,dog\n");
    e.ok(&["commit", "img", "t.csv", "--key", "id", "-m", "base"]);
    e.ok(&["branch", "augment"]);
    e.ok(&["switch", "augment"]);
    e.write("img/b.txt", b"only on augment");
    e.ok(&["commit", "-m", "augment adds b"]);
    e.ok(&["annotate", "img/a.txt", "--label", "augmented"]);
    e.ok(&["switch", "main"]);
    e
}

#[test]
fn a_branch_sees_nothing_another_branch_recorded() {
    let e = two_branches();
    // On main: neither augment's file nor its (pending) annotation.
    let main = e.json(&["audit", "--json"]);
    assert_eq!(audited(&main), [("img".into(), 1), ("t.csv".into(), 2)]);
    assert_eq!(e.json(&["audit", "--rev", "HEAD", "--json"]), main);
    let err = e.fails(&["lineage", "img/b.txt"], 1);
    assert!(err.contains("no example matches"), "{err}");
    let a = e.json(&["lineage", "img/a.txt", "--json"]);
    assert_eq!(a["label"], serde_json::Value::Null, "{a}");
    // Annotations on main stay on main.
    e.ok(&["annotate", "img/a.txt", "--label", "main-label"]);
    assert_eq!(
        e.json(&["lineage", "img/a.txt", "--json"])["label"],
        "main-label"
    );
    // On augment: its file, its own pending annotation, not main's.
    e.ok(&["switch", "augment"]);
    let aug = e.json(&["audit", "--json"]);
    assert_eq!(audited(&aug), [("img".into(), 2), ("t.csv".into(), 2)]);
    assert_eq!(
        e.json(&["lineage", "img/a.txt", "--json"])["label"],
        "augmented"
    );
    // As of main's head, from augment: main's committed view.
    let at_main = e.json(&["audit", "--rev", "main", "--json"]);
    assert_eq!(audited(&at_main), [("img".into(), 1), ("t.csv".into(), 2)]);
    // Deleting the branch and collecting garbage leaves main untouched.
    e.ok(&["switch", "main"]);
    let err = e.fails(&["branch", "-d", "augment"], 1);
    assert!(
        err.contains("no other branch") && err.contains("1 ledger events"),
        "{err}"
    );
    e.ok(&["branch", "-d", "augment", "--force"]);
    e.ok(&["gc", "--prune"]);
    assert_eq!(audited(&e.json(&["audit", "--json"])), audited(&main));
    e.ok(&["verify"]);
}

#[test]
fn pending_events_are_brought_by_the_next_commit_of_their_branch() {
    let e = two_branches();
    e.ok(&["annotate", "t.csv:1", "--label", "lion"]);
    let before = e.json(&["lineage", "t.csv:1", "--json"]);
    assert_eq!(before["label"], "lion");
    let base = e.json(&["log", "--json"])[0]["id"].clone();
    // As of HEAD (committed only), the annotation is not there yet.
    let committed = e.json(&["audit", "--rev", "HEAD", "--json"]);
    let now = e.json(&["audit", "--json"]);
    assert_ne!(committed, now);
    // A commit with no data change brings it.
    let out = e.ok(&["commit", "-m", "label row 1"]);
    assert!(out.contains("committed"), "{out}");
    assert_eq!(
        e.json(&["audit", "--rev", "HEAD", "--json"])["groups"],
        e.json(&["audit", "--json"])["groups"]
    );
    let l = e.json(&["lineage", "t.csv:1", "--json"]);
    let annotated: Vec<&serde_json::Value> = l["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|ev| ev["kind"] == "annotated")
        .collect();
    assert_eq!(annotated.len(), 1);
    // It names the commit it was recorded on; the new commit brings it.
    assert_eq!(annotated[0]["commit"], base, "{l}");
    // Nothing pending any more: another commit has nothing to do.
    let out = e.ok(&["commit", "-m", "nothing"]);
    assert!(out.contains("nothing to commit"), "{out}");
    e.ok(&["verify"]);
}

#[test]
fn events_need_a_branch() {
    let e = two_branches();
    let head = e.json(&["log", "--json"])[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    e.ok(&["checkout", &head]);
    let err = e.fails(&["annotate", "img/a.txt", "--label", "x"], 1);
    assert!(err.contains("HEAD is detached"), "{err}");
}

#[test]
fn a_proof_against_each_branch_checks_independently() {
    let e = two_branches();
    e.ok(&["switch", "augment"]);
    e.ok(&["commit", "-m", "bring the annotation"]);
    for rev in ["main", "augment"] {
        let proof = e.ok(&["prove", "img/a.txt", "--rev", rev]);
        e.write("p.json", proof.as_bytes());
        let v = e.json(&["verify-proof", "p.json", "--json"]);
        let want = if rev == "main" { 1 } else { 2 };
        assert_eq!(v["events"], want, "{rev}: {v}");
    }
}

/// Unpacks the repository folio 0.1 wrote (tests/fixtures/make-legacy-v1.sh).
fn legacy() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().expect("tempdir");
    let tar = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/legacy-v1.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&tar)
        .arg("-C")
        .arg(d.path())
        .status()
        .expect("tar");
    assert!(status.success());
    let repo = d.path().join("repo");
    (d, repo)
}

fn folio(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("folio"))
        .args(args)
        .current_dir(dir)
        .env("FOLIO_AUTHOR", "Test <t@example.com>")
        .output()
        .expect("run")
}

#[test]
fn a_format_1_repository_is_refused_then_upgraded() {
    let (_d, repo) = legacy();
    for args in [
        &["log"][..],
        &["audit"],
        &["status"],
        &["annotate", "images/a.txt", "--label", "x"],
    ] {
        let out = folio(&repo, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("folio upgrade"), "{args:?}: {err}");
    }
    let out = folio(&repo, &["upgrade"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("3 commits rewritten"), "{text}");
    assert!(repo.join(".folio/ledger-v1/checkpoint").exists());
    let map = fs::read_to_string(repo.join(".folio/upgrade-map")).expect("map");
    assert_eq!(map.lines().filter(|l| !l.starts_with('#')).count(), 3);
    assert!(folio(&repo, &["verify"]).status.success());
    // History and data are as they were; the side branch's row is no
    // longer counted on main, and the pending events stayed pending on it.
    let log = folio(&repo, &["log", "--json"]);
    let log: serde_json::Value = serde_json::from_slice(&log.stdout).expect("json");
    let messages: Vec<&str> = log
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["message"].as_str().expect("message"))
        .collect();
    assert_eq!(messages, ["second on main", "first"]);
    let audit: serde_json::Value =
        serde_json::from_slice(&folio(&repo, &["audit", "--json"]).stdout).expect("json");
    assert_eq!(
        audited(&audit),
        [("images".into(), 3), ("reviews.csv".into(), 3)]
    );
    let a: serde_json::Value =
        serde_json::from_slice(&folio(&repo, &["lineage", "images/a.txt", "--json"]).stdout)
            .expect("json");
    assert_eq!(a["label"], "cat", "{a}");
    assert_eq!(a["models"].as_array().map(Vec::len), Some(1), "{a}");
    let side: serde_json::Value =
        serde_json::from_slice(&folio(&repo, &["audit", "--rev", "side", "--json"]).stdout)
            .expect("json");
    assert_eq!(
        audited(&side),
        [("images".into(), 2), ("reviews.csv".into(), 4)]
    );
    // Running it again has nothing to do.
    let again = folio(&repo, &["upgrade"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to do"));
}
