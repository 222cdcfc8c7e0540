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
