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
    // lineage says, per branch, whether it holds the example.
    let b = e.json(&["lineage", "img/b.txt", "--json"]);
    let where_: Vec<(String, bool)> = b["branches"]
        .as_array()
        .expect("branches")
        .iter()
        .map(|x| {
            (
                x["branch"].as_str().expect("name").to_string(),
                x["present"] == true,
            )
        })
        .collect();
    assert_eq!(where_, [("augment".to_string(), true)], "{b}");
    let a = e.json(&["lineage", "img/a.txt", "--json"]);
    assert_eq!(a["branches"].as_array().map(Vec::len), Some(2), "{a}");
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

/// A repository whose `main` and `side` branches both changed a keyed
/// table (with its label column mapped to the ledger) and a folder.
fn diverged(main_csv: &str, side_csv: &str) -> Env {
    let e = Env::new();
    e.write("img/a.txt", b"a");
    e.write("img/b.txt", b"b");
    e.write("t.csv", b"id,label,note\n1,cat,x\n2,dog,y\n3,cow,z\n");
    let mut cfg = fs::read_to_string(e.p(".folio/config.toml")).expect("config");
    cfg += "\n[tables.\"t.csv\".meta]\nlabel = \"label\"\n";
    e.write(".folio/config.toml", cfg.as_bytes());
    e.ok(&["commit", "img", "t.csv", "--key", "id", "-m", "base"]);
    e.ok(&["branch", "side"]);
    e.write("t.csv", main_csv.as_bytes());
    e.write("img/a.txt", b"a on main");
    e.ok(&["commit", "-m", "main work"]);
    e.ok(&["switch", "side"]);
    e.write("t.csv", side_csv.as_bytes());
    e.write("img/c.txt", b"c on side");
    e.ok(&["commit", "-m", "side work"]);
    e.ok(&["switch", "main"]);
    e
}

/// The ledger's latest label and presence of each row, from `audit`-free
/// lineage reads.
fn row_label(e: &Env, key: &str) -> serde_json::Value {
    e.json(&["lineage", &format!("t.csv:{key}"), "--json"])
}

#[test]
fn a_fast_forward_moves_the_branch_and_the_working_tree() {
    let e = Env::new();
    e.write("img/a.txt", b"a");
    e.ok(&["commit", "img", "-m", "one"]);
    e.ok(&["branch", "next"]);
    e.ok(&["switch", "next"]);
    e.write("img/b.txt", b"b");
    e.ok(&["commit", "-m", "two"]);
    e.ok(&["switch", "main"]);
    assert!(!e.p("img/b.txt").exists());
    let out = e.ok(&["merge", "next"]);
    assert!(out.contains("fast-forward"), "{out}");
    assert_eq!(fs::read(e.p("img/b.txt")).expect("read"), b"b");
    let log = e.json(&["log", "--json"]);
    assert_eq!(log.as_array().map(Vec::len), Some(2));
    assert!(e.ok(&["merge", "next"]).contains("already up to date"));
}

#[test]
fn edits_to_different_rows_cells_and_files_merge_cleanly() {
    let e = diverged(
        "id,label,note\n1,cat,X\n2,dog,y\n3,cow,z\n4,ant,w\n",
        "id,label,note\n1,lion,x\n2,dog,Y\n3,cow,z\n5,bee,v\n",
    );
    let out = e.ok(&["merge", "side", "-m", "join side"]);
    assert!(out.contains("merged side"), "{out}");
    // Cells from both sides in row 1 and 2; rows added on both sides.
    assert_eq!(
        fs::read_to_string(e.p("t.csv")).expect("read"),
        "id,label,note\n1,lion,X\n2,dog,Y\n3,cow,z\n4,ant,w\n5,bee,v\n"
    );
    assert_eq!(fs::read(e.p("img/a.txt")).expect("read"), b"a on main");
    assert_eq!(fs::read(e.p("img/c.txt")).expect("read"), b"c on side");
    let log = e.json(&["log", "--json"]);
    assert_eq!(log[0]["message"], "join side");
    assert_eq!(log[0]["parents"].as_array().map(Vec::len), Some(2));
    e.ok(&["verify"]);
    // The ledger follows: both branches' additions, the side's label.
    assert_eq!(row_label(&e, "1")["label"], "lion");
    assert_eq!(row_label(&e, "4")["label"], "ant");
    assert_eq!(row_label(&e, "5")["label"], "bee");
    assert!(e.ok(&["lineage", "img/c.txt"]).contains("img/c.txt"));
    let status = e.ok(&["status"]);
    assert!(!status.contains("merging"), "{status}");
    // The merge committed everything it wrote: the working tree is clean.
    let st = e.json(&["status", "--json"]);
    for d in st["datasets"].as_array().expect("datasets") {
        for k in ["added", "modified", "deleted"] {
            assert_eq!(d[k].as_array().map(Vec::len), Some(0), "{st}");
        }
    }
}

#[test]
fn conflicts_stop_the_merge_and_are_settled_then_continued() {
    let e = diverged(
        "id,label,note\n1,cat,x\n3,ox,z\n",
        "id,label,note\n1,cat,x\n2,wolf,y\n3,bull,z\n",
    );
    let before = e.json(&["log", "--json"]);
    let out = e.cmd(&["merge", "side"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("row 3 column label: base cow, ours ox, theirs bull"),
        "{text}"
    );
    assert!(text.contains("row 2 deleted on our side"), "{text}");
    // A label both sides changed is also reported from the ledger.
    assert!(text.contains("t.csv:3: ours ox, theirs bull"), "{text}");
    // Nothing committed; status and diff say a merge is in progress.
    assert_eq!(e.json(&["log", "--json"]), before);
    assert!(e.ok(&["status"]).contains("merging side"));
    assert_eq!(
        e.json(&["status", "--json"])["merge"]["conflicts"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let err = e.fails(&["commit", "-m", "not now"], 1);
    assert!(err.contains("merge is in progress"), "{err}");
    let err = e.fails(&["merge", "--continue"], 1);
    assert!(
        err.contains("still conflict") && err.contains("t.csv"),
        "{err}"
    );
    // Settle the table for theirs; the file is rewritten with their rows.
    e.ok(&["merge", "--theirs", "t.csv"]);
    assert_eq!(
        fs::read_to_string(e.p("t.csv")).expect("read"),
        "id,label,note\n1,cat,x\n2,wolf,y\n3,bull,z\n"
    );
    e.ok(&["merge", "--continue", "-m", "settled"]);
    let log = e.json(&["log", "--json"]);
    assert_eq!(log[0]["message"], "settled");
    e.ok(&["verify"]);
    // The merged ledger says what the merged data holds: row 2 is back,
    // labelled as the side labelled it.
    let two = row_label(&e, "2");
    assert_eq!(two["removed_in"], serde_json::Value::Null, "{two}");
    assert_eq!(two["label"], "wolf", "{two}");
    assert_eq!(row_label(&e, "3")["label"], "bull");
    // A proof against the merge commit checks independently.
    let proof = e.ok(&["prove", "t.csv:2", "--rev", "HEAD"]);
    assert!(independent_verify(&proof), "{proof}");
}

#[test]
fn a_conflict_settled_for_ours_keeps_ours_in_data_and_ledger() {
    let e = diverged(
        "id,label,note\n1,cat,x\n2,dog,y\n3,ox,z\n",
        "id,label,note\n1,cat,x\n2,dog,y\n3,bull,z\n",
    );
    e.fails(&["merge", "side"], 1);
    e.ok(&["merge", "--ours", "t.csv"]);
    e.ok(&["merge", "--continue"]);
    assert!(
        fs::read_to_string(e.p("t.csv"))
            .expect("read")
            .contains("3,ox,z")
    );
    // Theirs' label came later in the merged ledger; the merge restates ours.
    assert_eq!(row_label(&e, "3")["label"], "ox");
    e.ok(&["verify"]);
}

#[test]
fn a_merge_can_be_abandoned_or_settled_up_front() {
    let e = diverged(
        "id,label,note\n1,cat,x\n2,dog,y\n3,ox,z\n",
        "id,label,note\n1,cat,x\n2,dog,y\n3,bull,z\n",
    );
    let before = fs::read(e.p("t.csv")).expect("read");
    e.fails(&["merge", "side"], 1);
    e.ok(&["merge", "--abort"]);
    assert_eq!(fs::read(e.p("t.csv")).expect("read"), before);
    assert!(!e.ok(&["status"]).contains("merging"));
    // With --theirs, every conflict goes their way at once.
    let out = e.ok(&["merge", "side", "--theirs"]);
    assert!(out.contains("merged side"), "{out}");
    assert!(
        fs::read_to_string(e.p("t.csv"))
            .expect("read")
            .contains("3,bull,z")
    );
    assert_eq!(fs::read(e.p("img/c.txt")).expect("read"), b"c on side");
}

#[test]
fn a_merge_needs_a_clean_working_tree() {
    let e = diverged("id,label,note\n1,cat,x\n", "id,label,note\n2,dog,y\n");
    e.write("img/a.txt", b"uncommitted");
    let err = e.fails(&["merge", "side"], 1);
    assert!(err.contains("commit or restore"), "{err}");
    assert_eq!(fs::read(e.p("img/a.txt")).expect("read"), b"uncommitted");
}

/// Checks a `folio prove` proof with nothing of folio: BLAKE3 of the
/// commit's bytes is its id; its field 7 is (size, root); each event's
/// leaf `BLAKE3(0x00 || BLAKE3(encoding))` with its audit path reaches the
/// root by RFC 9162 §2.1.3.2.
fn independent_verify(proof: &str) -> bool {
    let p: serde_json::Value = serde_json::from_str(proof).expect("json");
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    };
    let commit = unhex(p["commit_encoding"].as_str().expect("encoding"));
    if blake3::hash(&commit).to_hex().as_str() != p["commit"].as_str().expect("id") {
        return false;
    }
    let tag = b"folio-commit 2\n";
    let mut r = &commit[tag.len()..];
    let mut head = None;
    while r.len() >= 5 {
        let t = r[0];
        let n = u32::from_le_bytes(r[1..5].try_into().expect("4")) as usize;
        if t == 7 {
            let size = u64::from_le_bytes(r[5..13].try_into().expect("8"));
            head = Some((size, r[13..45].to_vec()));
        }
        r = &r[5 + n..];
    }
    let Some((size, root)) = head else {
        return false;
    };
    let node = |a: &[u8], b: &[u8]| {
        let mut h = blake3::Hasher::new();
        h.update(&[1]);
        h.update(a);
        h.update(b);
        h.finalize().as_bytes().to_vec()
    };
    for ev in p["events"].as_array().expect("events") {
        let enc = unhex(ev["encoding"].as_str().expect("encoding"));
        let mut h = blake3::Hasher::new();
        h.update(&[0]);
        h.update(blake3::hash(&enc).as_bytes());
        let mut acc = h.finalize().as_bytes().to_vec();
        let (mut f, mut s) = (ev["seq"].as_u64().expect("seq"), size - 1);
        if f >= size {
            return false;
        }
        for sib in ev["path"].as_array().expect("path") {
            let sib = unhex(sib.as_str().expect("hex"));
            if s == 0 {
                return false;
            }
            if f & 1 == 1 || f == s {
                acc = node(&sib, &acc);
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            } else {
                acc = node(&acc, &sib);
            }
            f >>= 1;
            s >>= 1;
        }
        if s != 0 || acc != root {
            return false;
        }
    }
    true
}

#[test]
fn restore_and_reset_undo_without_losing_the_ledger() {
    let e = Env::new();
    e.write("img/a.txt", b"a");
    e.write("img/b.txt", b"b");
    e.ok(&["commit", "img", "-m", "one"]);
    e.write("img/a.txt", b"a2");
    e.ok(&["commit", "-m", "two"]);
    // Discard an edit and an added file; HEAD stays on the branch.
    e.write("img/a.txt", b"oops");
    e.write("img/new.txt", b"stray");
    let out = e.ok(&["restore", "img"]);
    assert!(out.contains("1 file written back, 1 removed"), "{out}");
    assert_eq!(fs::read(e.p("img/a.txt")).expect("read"), b"a2");
    assert!(!e.p("img/new.txt").exists());
    // From another commit, one file.
    e.ok(&["restore", "img/a.txt", "--source", "HEAD~1"]);
    assert_eq!(fs::read(e.p("img/a.txt")).expect("read"), b"a");
    e.ok(&["checkout", "-f", "HEAD"]);
    assert_eq!(fs::read(e.p("img/a.txt")).expect("read"), b"a2");
    assert!(
        e.ok(&["status"]).contains("On branch main"),
        "checkout -f HEAD stays on the branch"
    );
    // reset moves the branch; --hard moves the working tree too.
    e.ok(&["annotate", "img/b.txt", "--label", "bee"]);
    e.ok(&["reset", "HEAD~1"]);
    assert_eq!(e.json(&["log", "--json"]).as_array().map(Vec::len), Some(1));
    assert!(
        e.ok(&["status"]).contains("modified"),
        "the edit shows as a change"
    );
    e.ok(&["reset", "--hard", "HEAD"]);
    assert_eq!(fs::read(e.p("img/a.txt")).expect("read"), b"a");
    // The pending annotation stayed pending on the branch.
    assert_eq!(e.json(&["lineage", "img/b.txt", "--json"])["label"], "bee");
    e.ok(&["verify"]);
}

#[test]
fn voided_events_stay_in_the_ledger_and_count_for_nothing() {
    let e = Env::new();
    e.write("t.csv", b"id,label\n1,a\n2,b\n3,c\n");
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "one"]);
    // A mistaken bulk relabel, previewed first: nothing is recorded.
    let before = count_events(&e);
    let out = e.ok(&[
        "annotate",
        "--where-dataset",
        "t.csv",
        "--label",
        "7",
        "--dry-run",
    ]);
    assert!(out.contains("would record 3 events"), "{out}");
    assert!(out.contains("t.csv:2  annotated"), "{out}");
    assert_eq!(count_events(&e), before);
    e.ok(&["annotate", "--where-dataset", "t.csv", "--label", "7"]);
    e.ok(&["annotate", "t.csv:1", "--label", "good"]);
    assert_eq!(e.json(&["lineage", "t.csv:2", "--json"])["label"], "7");
    // Void the bulk batch by its id; the later label of row 1 survives.
    let export = e.ok(&["ledger", "export"]);
    let batch = export
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|v| v["kind"] == "annotated")
        .expect("an annotation")["batch"]
        .as_str()
        .expect("batch")
        .to_string();
    let out = e.ok(&[
        "ledger",
        "void",
        "--batch",
        &batch[..12],
        "--reason",
        "wrong label set",
    ]);
    assert!(out.contains("voided 3 events"), "{out}");
    let two = e.json(&["lineage", "t.csv:2", "--json"]);
    assert_eq!(two["label"], serde_json::Value::Null, "{two}");
    let marked: Vec<&serde_json::Value> = two["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|ev| ev["voided"] == "wrong label set")
        .collect();
    assert_eq!(marked.len(), 1, "{two}");
    assert_eq!(e.json(&["lineage", "t.csv:1", "--json"])["label"], "good");
    let audit = e.json(&["audit", "--json"]);
    assert_eq!(audit["groups"][0]["annotated"], 1, "{audit}");
    // Voiding twice, or a void, is refused; so is an event that is not there.
    let err = e.fails(
        &[
            "ledger",
            "void",
            "--batch",
            &batch[..12],
            "--reason",
            "again",
        ],
        1,
    );
    assert!(err.contains("void already"), "{err}");
    let err = e.fails(&["ledger", "void", "999", "--reason", "x"], 1);
    assert!(err.contains("no event #999"), "{err}");
    // A training recorded twice is refused; voided, it can be recorded again.
    e.ok(&["trained", "HEAD", "--model", "m", "--run", "r1"]);
    let err = e.fails(&["trained", "HEAD", "--model", "m", "--run", "r1"], 1);
    assert!(err.contains("recorded already"), "{err}");
    e.ok(&["commit", "-m", "bring the records"]);
    e.ok(&["verify"]);
}

fn count_events(e: &Env) -> usize {
    e.ok(&["ledger", "export"]).lines().count()
}

#[test]
fn revert_undoes_a_commit_and_voids_its_events() {
    let e = Env::new();
    e.write("img/a.txt", b"a");
    e.write("t.csv", b"id,label\n1,cat\n2,dog\n");
    e.ok(&["commit", "img", "t.csv", "--key", "id", "-m", "one"]);
    e.write("img/b.txt", b"b");
    e.write("t.csv", b"id,label\n1,cat\n3,cow\n");
    e.ok(&["commit", "-m", "two", "--source", "vendor-b"]);
    e.write("img/c.txt", b"c");
    e.ok(&["commit", "-m", "three"]);
    let out = e.ok(&["revert", "HEAD~1"]);
    assert!(out.contains("reverted"), "{out}");
    // Two's changes are undone; three's stay.
    assert!(!e.p("img/b.txt").exists());
    assert!(e.p("img/c.txt").exists());
    assert_eq!(
        fs::read_to_string(e.p("t.csv")).expect("read"),
        "id,label\n1,cat\n2,dog\n"
    );
    let log = e.json(&["log", "--json"]);
    assert_eq!(log.as_array().map(Vec::len), Some(4));
    assert!(
        log[0]["message"]
            .as_str()
            .expect("message")
            .starts_with("Revert \"two\"")
    );
    // Two's events are void; the ledger says what the data holds.
    let b = e.json(&["lineage", "img/b.txt", "--json"]);
    assert!(
        b["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|ev| ev["voided"].is_string()),
        "{b}"
    );
    assert_ne!(b["removed_in"], serde_json::Value::Null, "{b}");
    // A row two added: its addition is a row event of two's voided
    // rows_changed event, so it is marked void too and counts for nothing.
    let row = e.json(&["lineage", "t.csv:3", "--json"]);
    let kinds: Vec<(String, bool)> = row["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|ev| {
            (
                ev["kind"].as_str().expect("kind").to_string(),
                ev["voided"].is_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("example_added".to_string(), true),
            ("example_removed".to_string(), false)
        ],
        "{row}"
    );
    assert_eq!(row["added_in"], serde_json::Value::Null, "{row}");
    let audit = e.json(&["audit", "--json"]);
    assert_eq!(audited(&audit), [("img".into(), 2), ("t.csv".into(), 2)]);
    e.ok(&["verify"]);
    // A revert that conflicts with later work is refused, nothing written.
    e.write("t.csv", b"id,label\n1,cat\n2,wolf\n");
    e.ok(&["commit", "-m", "four"]);
    let before = fs::read(e.p("t.csv")).expect("read");
    let err = e.fails(&["revert", "HEAD~1"], 1);
    assert!(err.contains("conflicts with later changes"), "{err}");
    assert_eq!(fs::read(e.p("t.csv")).expect("read"), before);
}

#[test]
fn the_operation_log_records_undoes_and_keeps_deleted_work() {
    let e = Env::new();
    e.write("img/a.txt", b"a");
    e.ok(&["commit", "img", "-m", "one"]);
    e.ok(&["branch", "exp"]);
    e.ok(&["switch", "exp"]);
    e.write("img/b.txt", b"b");
    e.ok(&["commit", "-m", "two"]);
    let exp = e.json(&["log", "--json"])[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    e.ok(&["annotate", "img/a.txt", "--label", "x"]);
    e.ok(&["switch", "main"]);
    e.ok(&["branch", "-d", "exp", "--force"]);
    let ops = e.json(&["oplog", "--json"]);
    let commands: Vec<&str> = ops
        .as_array()
        .expect("ops")
        .iter()
        .map(|o| o["command"].as_str().expect("command"))
        .collect();
    assert_eq!(commands[0], "folio branch -d exp --force");
    assert_eq!(commands.len(), 7, "{commands:?}");
    assert_eq!(ops[0]["before"]["branches"]["exp"], exp.as_str());
    // What the deleted branch held survives gc and stays provable.
    e.ok(&["gc", "--prune"]);
    let proof = e.ok(&["prove", "img/b.txt", "--rev", &exp]);
    assert!(independent_verify(&proof));
    // Undo brings the branch back, with its pending annotation.
    let out = e.ok(&["undo"]);
    assert!(out.contains("undid op 7"), "{out}");
    e.ok(&["switch", "exp"]);
    assert_eq!(e.json(&["lineage", "img/a.txt", "--json"])["label"], "x");
    // Undoing the undo deletes it again; restoring an earlier state works.
    e.ok(&["switch", "main"]);
    e.ok(&["oplog", "restore", "2"]);
    assert_eq!(
        e.json(&["branch", "--json"]).as_array().map(Vec::len),
        Some(1)
    );
    // A commit is undone too: the branch moves back, the work stays.
    e.write("img/c.txt", b"c");
    e.ok(&["commit", "-m", "three"]);
    e.ok(&["undo"]);
    assert_eq!(e.json(&["log", "--json"]).as_array().map(Vec::len), Some(1));
    assert!(e.p("img/c.txt").exists());
    e.ok(&["verify"]);
    // Tampering with the journal is caught.
    let log = fs::read_to_string(e.p(".folio/oplog")).expect("read");
    // One entry's time changed: its hash no longer matches.
    let altered = log.replacen("\"time\":", "\"time\":1", 1);
    assert_ne!(altered, log);
    fs::write(e.p(".folio/oplog"), altered).expect("write");
    let out = e.cmd(&["verify"]).output().expect("run");
    assert_eq!(out.status.code(), Some(70));
    assert!(String::from_utf8_lossy(&out.stdout).contains("oplog"));
}
