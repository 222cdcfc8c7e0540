//! The repository lock.

use std::time::Duration;

use crate::Env;

#[test]
fn second_writer_is_refused_then_waits() {
    let e = Env::new();
    e.write("data/a.txt", b"a");
    let lock = folio_core::lock::RepoLock::acquire(&e.p(".folio/lock"), false).expect("lock");
    let err = e.fails(&["commit", "data", "-m", "blocked"], 75);
    let expected = format!(
        "locked by another folio process (pid {})",
        std::process::id()
    );
    assert!(err.contains(&expected), "{err}");
    // Readers need no lock.
    e.ok(&["status"]);

    let mut waiting = std::process::Command::new(env!("CARGO_BIN_EXE_folio"));
    waiting
        .current_dir(e.path())
        .env("FOLIO_NOW", "2026-01-15T10:00:00Z")
        .env("FOLIO_AUTHOR", "T")
        .args(["commit", "data", "-m", "waited", "--wait"]);
    let mut child = waiting.spawn().expect("spawn");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("poll").is_none(),
        "commit must wait for the lock"
    );
    drop(lock);
    assert!(child.wait().expect("wait").success());
    assert_eq!(e.json(&["log", "--json"])[0]["message"], "waited");
}

#[test]
fn concurrent_writers_with_wait_all_succeed() {
    // Every process commits its own file, annotates, or repacks, waiting for
    // the lock: state read before the lock (the pack list a repack
    // replaces) must not make any of them fail.
    let e = Env::new();
    e.write("data/seed.txt", b"seed");
    e.ok(&["commit", "data", "-m", "seed"]);
    let n = 6;
    let mut children = Vec::new();
    for i in 0..n {
        e.write(&format!("data/f{i}.txt"), format!("file {i}").as_bytes());
        let args: Vec<String> = match i % 3 {
            0 | 1 => vec!["commit".into(), "-m".into(), format!("c{i}")],
            _ => vec!["gc".into(), "--prune".into()],
        };
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_folio"));
        c.current_dir(e.path())
            .env("FOLIO_NOW", "2026-01-15T10:00:00Z")
            .env("FOLIO_AUTHOR", "T")
            .arg("--wait")
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        children.push((args, c.spawn().expect("spawn")));
    }
    for (args, c) in children {
        let out = c.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{v}");
    // Every file reached a commit (the commits snapshot all of data/).
    let files = e.json(&["show", "--json"]);
    assert_eq!(files["datasets"][0]["files"], n + 1, "{files}");
}

/// The counter test: 8 writers commit, annotate and collect garbage on one
/// repository, waiting for the lock, while readers run `verify` and
/// `lineage` without it. No reader ever reports a problem a writer caused;
/// afterwards exactly the acknowledged commits and annotations are there.
#[test]
fn eight_writers_and_readers_keep_exactly_what_was_acknowledged() {
    use std::sync::atomic::{AtomicBool, Ordering};
    const WRITERS: usize = 8;
    const ROUNDS: usize = 3;
    let e = Env::new();
    let mut table = String::from("id,label\n");
    for i in 0..WRITERS {
        table += &format!("{i},seed\n");
        e.write(&format!("d{i}/seed.txt"), b"seed");
    }
    e.write("t.csv", table.as_bytes());
    let mut first = vec!["commit", "t.csv", "--key", "id", "-m", "seed"];
    let dirs: Vec<String> = (0..WRITERS).map(|i| format!("d{i}")).collect();
    first.extend(dirs.iter().map(String::as_str));
    e.ok(&first);
    let run = |args: &[String]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_folio"))
            .current_dir(e.path())
            .env("FOLIO_AUTHOR", "T")
            .args(args)
            .output()
            .expect("run folio")
    };
    let writing = AtomicBool::new(true);
    let (acked, reads) = std::thread::scope(|s| {
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let (run, writing) = (&run, &writing);
                s.spawn(move || {
                    let mut n = 0;
                    while writing.load(Ordering::Relaxed) {
                        let args: Vec<String> = if r == 0 {
                            vec!["verify".into()]
                        } else {
                            vec!["lineage".into(), "t.csv:0".into()]
                        };
                        let out = run(&args);
                        assert!(
                            out.status.success(),
                            "{args:?} while writers ran: {}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        );
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let writers: Vec<_> = (0..WRITERS)
            .map(|i| {
                let (run, e) = (&run, &e);
                s.spawn(move || {
                    // (commits acknowledged, the last label acknowledged, annotations acknowledged)
                    let (mut commits, mut label, mut notes) = (0, String::from("seed"), 0);
                    for round in 0..ROUNDS {
                        e.write(
                            &format!("d{i}/r{round}.txt"),
                            format!("{i} {round}").as_bytes(),
                        );
                        let c = run(&[
                            "--wait".into(),
                            "commit".into(),
                            format!("d{i}"),
                            "-m".into(),
                            format!("w{i} r{round}"),
                        ]);
                        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
                        commits += 1;
                        let want = format!("w{i}r{round}");
                        let a = run(&[
                            "--wait".into(),
                            "annotate".into(),
                            format!("t.csv:{i}"),
                            "--label".into(),
                            want.clone(),
                        ]);
                        assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
                        (label, notes) = (want, notes + 1);
                        if i % 4 == 0 {
                            let g = run(&["--wait".into(), "gc".into(), "--prune".into()]);
                            assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
                        }
                    }
                    (commits, label, notes)
                })
            })
            .collect();
        // Readers stop when the writers are done, even when one failed.
        let acked: Vec<_> = writers.into_iter().map(|w| w.join()).collect();
        writing.store(false, Ordering::Relaxed);
        let reads: usize = readers.into_iter().map(|r| r.join().expect("reader")).sum();
        let acked: Vec<(usize, String, usize)> =
            acked.into_iter().map(|w| w.expect("writer")).collect();
        (acked, reads)
    });
    assert!(reads > 0, "the readers ran");
    // Exactly the acknowledged commits: the seed and every writer's.
    let commits: usize = acked.iter().map(|a| a.0).sum();
    let log = e.json(&["log", "--json"]);
    assert_eq!(log.as_array().map(Vec::len), Some(1 + commits), "{log}");
    // Each row's label is its writer's last, and every annotation is kept.
    for (i, (_, label, _)) in acked.iter().enumerate() {
        assert_eq!(
            e.json(&["lineage", &format!("t.csv:{i}"), "--json"])["label"],
            label.as_str()
        );
    }
    let annotated = e
        .ok(&["ledger", "export"])
        .lines()
        .filter(|l| l.contains("\"kind\":\"annotated\""))
        .count();
    assert_eq!(annotated, acked.iter().map(|a| a.2).sum::<usize>());
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{v}");
}
