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
