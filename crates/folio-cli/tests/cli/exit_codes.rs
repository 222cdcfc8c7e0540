//! One test per exit code (README "Exit codes"; `folio --help` lists them).
//! The codes are decided in one place, `cli::exit`.

use std::fs;

use crate::Env;

/// A repository with two commits of a keyed table whose `label` column
/// changes completely between them.
fn two_commits() -> Env {
    let e = Env::new();
    let rows = |label: &str| {
        let mut t = String::from("id,label\n");
        for i in 0..200 {
            t += &format!("{i},{label}{}\n", i % 3);
        }
        t
    };
    e.write("t.csv", rows("cat").as_bytes());
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "one"]);
    e.write("t.csv", rows("dog").as_bytes());
    e.ok(&["commit", "-m", "two"]);
    e
}

#[test]
fn exit_0_success_and_help() {
    let e = Env::new();
    e.fails(&["status"], 0);
    let help = e.ok(&["--help"]);
    for code in ["0 ", "1 ", "2 ", "3 ", "70 ", "74 ", "75 "] {
        assert!(help.contains(&format!("  {code}")), "{code} in {help}");
    }
}

#[test]
fn exit_1_problems_to_fix_and_differences() {
    let e = two_commits();
    let err = e.fails(&["show", "nosuchrev"], 1);
    assert!(err.contains("unknown revision 'nosuchrev'"), "{err}");
    let err = e.fails(
        &["annotate", "t.csv:1", "--label", "x", "--confidence", "2"],
        1,
    );
    assert!(err.contains("confidence 2 is outside 0..1"), "{err}");
    e.fails(&["diff", "HEAD~1", "HEAD", "--exit-code"], 1);
    e.fails(&["diff", "HEAD", "HEAD", "--exit-code"], 0);
}

#[test]
fn exit_2_usage() {
    let e = Env::new();
    let err = e.fails(&["commit", "--no-such-flag"], 2);
    assert!(err.contains("--no-such-flag"), "{err}");
    e.fails(&["no-such-command"], 2);
}

#[test]
fn exit_3_drift_gate() {
    let e = two_commits();
    e.fails(&["drift", "HEAD~1", "HEAD", "--fail-on-drift"], 3);
    e.fails(&["drift", "HEAD", "HEAD", "--fail-on-drift"], 0);
}

#[test]
fn exit_70_damaged_ledger_and_verify() {
    let e = two_commits();
    // Flip a byte inside the stored bytes of an event batch, found through
    // its pack's index: every ledger reader must refuse, naming the pack.
    let first = e.ok(&["ledger", "export"]);
    let v: serde_json::Value =
        serde_json::from_str(first.lines().next().expect("an event")).expect("json");
    let id = v["batch"].as_str().expect("batch").to_string();
    let (pack, offset) = crate::pack_record(&e, &id);
    // Record: id 32 | encoding u8 | raw_len u64 | stored_len u32 | stored.
    crate::flip_byte(&pack, offset as usize + 45 + 20);
    fs::remove_dir_all(e.p(".folio/index")).expect("rm index");
    let name = pack
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    for args in [
        &["audit"][..],
        &["lineage", "t.csv:1"],
        &["ledger", "export"],
    ] {
        let err = e.fails(args, 70);
        assert!(err.contains(&name), "{args:?}: {err}");
    }
    e.fails(&["verify"], 70);
}

#[test]
fn exit_74_io_failure() {
    let e = two_commits();
    e.write("notadir", b"a file, not a folder");
    let err = e.fails(
        &["drift", "HEAD~1", "HEAD", "--html", "notadir/report.html"],
        74,
    );
    assert!(err.contains("notadir/report.html"), "{err}");
}

#[test]
fn exit_75_locked() {
    let e = two_commits();
    let _lock = folio_core::lock::RepoLock::acquire(&e.p(".folio/lock"), false).expect("lock");
    let err = e.fails(&["annotate", "t.csv:1", "--label", "x"], 75);
    assert!(err.contains("--wait"), "{err}");
}
