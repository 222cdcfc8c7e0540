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
