//! Kill `folio commit` at arbitrary moments: the repository must always
//! verify, with HEAD at the old or the new commit.

use std::time::Duration;

use crate::Env;

#[test]
fn killed_commits_leave_a_sound_repository() {
    let e = Env::new();
    for i in 0..400 {
        e.write(
            &format!("data/d{}/f{i}.txt", i % 20),
            format!("first {i}").as_bytes(),
        );
    }
    e.ok(&["commit", "data", "-m", "base"]);
    let mut landed = 0;
    for (round, delay_ms) in [1u64, 3, 7, 15, 30].into_iter().enumerate() {
        let before = e.json(&["log", "-n", "1", "--json"])[0]["id"].clone();
        for i in 0..400 {
            e.write(
                &format!("data/d{}/f{i}.txt", i % 20),
                format!("round {round} {i}").as_bytes(),
            );
        }
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
            .current_dir(e.path())
            .env("FOLIO_AUTHOR", "T")
            .args(["commit", "-m", "interrupted"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        // The kill lands mid-operation only if the commit is still running.
        landed += usize::from(child.try_wait().expect("poll").is_none());
        let _ = child.kill();
        let _ = child.wait();
        let v = e.json(&["verify", "--json"]);
        assert_eq!(
            v["problems"].as_array().map(Vec::len),
            Some(0),
            "round {round}: {v}"
        );
        let head = &e.json(&["log", "-n", "1", "--json"])[0];
        assert!(
            head["id"] == before
                || (head["message"] == "interrupted" && head["parents"][0] == before),
            "round {round}: HEAD is either the old commit or a complete new one: {head}"
        );
        // The next writer is not blocked and finishes the job.
        e.ok(&[
            "commit",
            "--allow-empty",
            "-m",
            &format!("after round {round}"),
        ]);
    }
    assert!(landed >= 1, "no kill landed while a commit was running");
    e.ok(&["gc", "--prune"]);
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{v}");
}

/// Every file under `dir` whose name marks it as a leftover of an
/// interrupted write: a temporary file, or a pack without its index.
fn leftovers(dir: &std::path::Path) -> Vec<String> {
    crate::walkdir(dir)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.starts_with(".tmp-folio-"))
                || (p.extension().is_some_and(|x| x == "pack") && !p.with_extension("idx").exists())
        })
        .map(|p| p.display().to_string())
        .collect()
}

/// The crash matrix: each command stopped (aborted, as a power cut would)
/// at each write step it reaches. Afterwards: the process did abort (the
/// failpoint was reached); HEAD is the old commit or the complete new one;
/// every acknowledged commit and pending annotation is still there;
/// `verify` is clean, or (a ledger write stopped before it was journalled)
/// names the documented repair, which then makes it clean; the next writer
/// runs and leaves no temporary file or orphan pack under `.folio`.
#[test]
fn the_crash_matrix_leaves_a_sound_repository_at_every_write_step() {
    use std::os::unix::process::ExitStatusExt;
    let cases: &[(&str, &[&str])] = &[
        ("write-atomic:before-rename@1", &["commit", "-m", "new"]),
        ("write-atomic:before-rename@2", &["commit", "-m", "new"]),
        ("pack:data-persisted", &["commit", "-m", "new"]),
        ("commit:objects-stored", &["commit", "-m", "new"]),
        ("commit:head-moved", &["commit", "-m", "new"]),
        ("commit:before-index", &["commit", "-m", "new"]),
        ("oplog:before-append", &["commit", "-m", "new"]),
        (
            "ledger:batch-stored",
            &["annotate", "t.csv:2", "--label", "owl"],
        ),
        (
            "write-atomic:before-rename@1",
            &["annotate", "t.csv:2", "--label", "owl"],
        ),
        (
            "pack:data-persisted",
            &["annotate", "t.csv:2", "--label", "owl"],
        ),
        (
            "oplog:before-append",
            &["annotate", "t.csv:2", "--label", "owl"],
        ),
        ("checkout:file-written@1", &["checkout", "HEAD~1"]),
        ("checkout:file-written@2", &["checkout", "HEAD~1"]),
        ("write-atomic:before-rename@1", &["checkout", "HEAD~1"]),
        ("write-atomic:before-rename@1", &["branch", "side"]),
        ("write-atomic:before-rename@1", &["tag", "v1"]),
        ("gc:repacked", &["gc", "--prune"]),
        ("pack:data-persisted", &["gc", "--prune"]),
        ("oplog:before-append", &["branch", "-d", "old"]),
        // A merge writes the working tree, then commits with two parents.
        ("checkout:file-written@1", &["merge", "old"]),
        ("commit:objects-stored", &["merge", "old"]),
        ("commit:head-moved", &["merge", "old"]),
        ("oplog:before-append", &["merge", "old"]),
        // A push uploads everything, then moves the remote's branch.
        ("push:uploaded", &["push"]),
        ("pack:data-persisted", &["push"]),
    ];
    for (fp, args) in cases {
        let e = Env::new();
        e.write(
            ".folio/config.toml",
            b"[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\nlabel = \"label\"\n",
        );
        e.write("t.csv", b"id,label\n1,cat\n2,dog\n3,emu\n");
        for i in 0..6 {
            e.write(&format!("img/f{i}.txt"), format!("one {i}").as_bytes());
        }
        e.ok(&["commit", "t.csv", "img", "-m", "base"]);
        e.ok(&["branch", "old"]);
        // A commit whose objects gc can drop once its branch is gone.
        e.write("img/f0.txt", b"two 0");
        e.ok(&["commit", "-m", "second"]);
        e.ok(&["annotate", "t.csv:1", "--label", "lion"]);
        let before = e.json(&["log", "-n", "1", "--json"])[0]["id"].clone();
        // The change the commit cases record.
        e.write("img/f1.txt", b"two 1");
        e.write("t.csv", b"id,label\n1,cat\n2,dog\n3,yak\n4,elk\n");
        if ["gc", "checkout", "merge", "push"].contains(&args[0]) {
            e.ok(&["commit", "-m", "third"]);
            if args[0] == "gc" {
                e.ok(&["branch", "-d", "old"]);
            }
        }
        if args[0] == "merge" {
            // Work on the other branch to merge (the pending annotation
            // stays on main).
            e.ok(&["switch", "old"]);
            e.write("img/f5.txt", b"side 5");
            e.ok(&["commit", "-m", "side"]);
            e.ok(&["switch", "main"]);
        }
        let remote = tempfile::tempdir().expect("remote");
        if args[0] == "push" {
            e.ok(&[
                "remote",
                "add",
                "origin",
                &remote.path().display().to_string(),
            ]);
        }
        let merge_base = e.json(&["log", "-n", "1", "--json"])[0]["id"].clone();
        let acked = e
            .json(&["log", "--rev", "main", "--json"])
            .as_array()
            .map(Vec::len);
        let out = e
            .cmd(args)
            .env("FOLIO_FAILPOINT", fp)
            .output()
            .expect("run folio");
        assert_eq!(
            out.status.signal(),
            Some(6),
            "{fp} during {args:?}: the process must abort there; it ended {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let what = format!("{fp} during {args:?}");
        // HEAD: the old commit, or a complete new one on top of it.
        let head = &e.json(&["log", "-n", "1", "--json"])[0];
        if args[0] == "commit" {
            assert!(
                head["id"] == before || (head["message"] == "new" && head["parents"][0] == before),
                "{what}: HEAD {head}"
            );
        }
        if args[0] == "merge" {
            assert!(
                head["id"] == merge_base
                    || (head["parents"].as_array().map(Vec::len) == Some(2)
                        && head["parents"][0] == merge_base),
                "{what}: HEAD {head}"
            );
            // A merge stopped before its commit is still in progress: the
            // documented way out is to abort it (or continue it).
            if e.json(&["status", "--json"])["merge"].is_object() {
                e.ok(&["merge", "--abort"]);
            }
        }
        if args[0] == "push" {
            // The remote's branch did not move; pushing again completes it,
            // and a clone of the remote verifies.
            e.ok(&["push"]);
            let clone = tempfile::tempdir().expect("clone");
            let to = clone.path().join("c");
            e.ok(&[
                "clone",
                &remote.path().display().to_string(),
                &to.display().to_string(),
            ]);
            let v = e
                .cmd(&["verify", "--json"])
                .current_dir(&to)
                .output()
                .expect("verify the clone");
            assert!(v.status.success(), "{what}: the clone does not verify");
        }
        // Nothing acknowledged is lost.
        let log = e.json(&["log", "--rev", "main", "--json"]);
        assert!(
            log.as_array().map(Vec::len) >= acked,
            "{what}: commits lost: {log}"
        );
        let label = e.json(&["lineage", "t.csv:1", "--json"])["label"].clone();
        assert_eq!(label, "lion", "{what}: the pending annotation");
        // verify: clean, or it names the documented repair.
        let v = e.cmd(&["verify"]).output().expect("verify");
        if v.status.code() != Some(0) {
            let said = String::from_utf8_lossy(&v.stdout);
            assert!(
                said.contains("not in the operation log") && said.contains("folio commit"),
                "{what}: verify: {said}"
            );
            e.ok(&["commit", "--allow-empty", "-m", "repair"]);
        }
        // The next writer runs and cleans up after the crash.
        e.ok(&["commit", "--allow-empty", "-m", "next"]);
        assert_eq!(leftovers(&e.p(".folio")), Vec::<String>::new(), "{what}");
        let v = e.json(&["verify", "--json"]);
        assert_eq!(
            v["problems"].as_array().map(Vec::len),
            Some(0),
            "{what}: {v}"
        );
    }
}
