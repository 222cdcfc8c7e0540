//! Remotes: clone, push, fetch and pull through a folder remote (always)
//! and an S3 remote (moto, started by `.ci/run`; see `s3_endpoint`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use super::{Env, flip_byte, walkdir};

/// `folio ARGS` in `e`'s folder as a plain process, for running several
/// at once (hermetic like `Env::cmd`).
fn process(e: &Env, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_folio"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", e.path())
        .env("FOLIO_NOW", "2026-01-15T10:00:00Z")
        .env("FOLIO_AUTHOR", "Test Author <test@example.com>")
        .current_dir(e.path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Every entry under `root` (not `.folio`): path → kind, mode bits,
/// contents or link target. What "byte for byte" means for a checkout.
fn tree_of(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).expect("inside").display().to_string();
            // The repository itself, and the folder remote the tests keep
            // beside the data.
            if rel == ".folio" || rel == "remote" {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).expect("meta");
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&p).expect("link");
                out.push(format!("link {rel} -> {}", t.display()));
            } else if m.is_dir() {
                out.push(format!("dir {rel}"));
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read");
                out.push(format!(
                    "file {rel} {:o} {}",
                    m.permissions().mode() & 0o111,
                    blake3::hash(&bytes).to_hex()
                ));
            }
        }
    }
    out.sort();
    out
}

/// A repository with the shapes a round trip must keep: an executable,
/// a symlink, an empty folder, a large incompressible file (stored
/// loose), a large table (stored in chunks) and a labelled row.
fn project() -> Env {
    let e = Env::new();
    e.write("data/a.txt", b"alpha\n");
    e.write("data/sub/deep/b.txt", b"beta\n");
    e.write("data/run.sh", b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(e.p("data/run.sh"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    std::os::unix::fs::symlink("a.txt", e.p("data/link")).expect("symlink");
    std::fs::create_dir_all(e.p("data/empty")).expect("mkdir");
    // 1 MiB, incompressible and deterministic.
    let big = super::noise(1 << 20, 0x9E37_79B9_7F4A_7C15);
    e.write("data/big.bin", &big);
    let mut csv = String::from("id,label,score\n");
    for i in 0..30_000 {
        csv.push_str(&format!("{i},{},{}\n", ["cat", "dog"][i % 2], i % 97));
    }
    e.write("t.csv", csv.as_bytes());
    e.ok(&["commit", "data", "t.csv", "--key", "id", "-m", "first"]);
    e.ok(&[
        "annotate",
        "t.csv:7",
        "--label",
        "tiger",
        "--annotator",
        "ann",
    ]);
    e.write("data/a.txt", b"alpha 2\n");
    e.ok(&["commit", "-m", "second"]);
    e
}

fn remote_of(e: &Env) -> String {
    e.p("remote").display().to_string()
}

/// Clones `url` into a new folder and returns it.
fn clone(from: &Env, url: &str, extra: &[&str]) -> Env {
    let c = Env::bare();
    let dir = c.path().display().to_string();
    let mut args = vec!["clone", url, dir.as_str()];
    args.extend_from_slice(extra);
    from.ok(&args);
    c
}

#[test]
fn folder_round_trip_is_byte_for_byte_with_the_same_ledger() {
    let a = project();
    let url = remote_of(&a);
    a.ok(&["remote", "add", "origin", &url]);
    let pushed = a.ok(&["push"]);
    assert!(pushed.contains("branch main: (new) -> "), "{pushed}");
    assert!(a.ok(&["push"]).contains("main: up to date"));
    let b = clone(&a, &url, &[]);
    assert_eq!(
        tree_of(a.path()),
        tree_of(b.path()),
        "the clone's files differ"
    );
    assert!(b.ok(&["verify"]).contains("no problems"));
    for cmd in [
        &["lineage", "t.csv:7"][..],
        &["audit"],
        &["log"],
        &["prove", "t.csv:7"],
    ] {
        assert_eq!(a.ok(cmd), b.ok(cmd), "folio {cmd:?} differs after clone");
    }
    // Remote-tracking branches are revisions.
    assert_eq!(b.ok(&["log", "origin/main"]), a.ok(&["log", "main"]));
    assert_eq!(b.ok(&["remote", "-v"]).trim(), format!("origin\t{url}"));
}

#[test]
fn push_pull_round_trip_and_a_stale_push_is_rejected() {
    let a = project();
    let url = remote_of(&a);
    a.ok(&["remote", "add", "origin", &url]);
    a.ok(&["push"]);
    let b = clone(&a, &url, &[]);
    b.write("data/from_b.txt", b"b\n");
    b.ok(&["commit", "-m", "from b"]);
    b.ok(&["push"]);
    a.write("data/from_a.txt", b"a\n");
    a.ok(&["commit", "-m", "from a"]);
    let before = a.ok(&["log"]);
    let err = a.cmd(&["push"]).output().expect("run");
    assert_eq!(err.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&err.stdout)
            .contains("rejected: the remote branch moved; pull and push again"),
        "{}",
        String::from_utf8_lossy(&err.stdout)
    );
    assert_eq!(
        a.ok(&["log"]),
        before,
        "a rejected push changes nothing here"
    );
    a.ok(&["pull"]);
    assert!(a.p("data/from_b.txt").exists());
    a.ok(&["push"]);
    b.ok(&["pull"]);
    assert_eq!(tree_of(a.path()), tree_of(b.path()));
    assert!(b.ok(&["verify"]).contains("no problems"));
}

#[test]
fn of_eight_concurrent_pushes_exactly_one_wins_and_the_rest_converge() {
    let a = project();
    let url = remote_of(&a);
    a.ok(&["remote", "add", "origin", &url]);
    a.ok(&["push"]);
    let clones: Vec<Env> = (0..8).map(|_| clone(&a, &url, &[])).collect();
    for (i, c) in clones.iter().enumerate() {
        c.write(&format!("data/c{i}.txt"), format!("{i}\n").as_bytes());
        c.ok(&["commit", "-m", &format!("clone {i}")]);
    }
    let children: Vec<_> = clones
        .iter()
        .map(|c| process(c, &["push"]).spawn().expect("spawn"))
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|ch| ch.wait_with_output().expect("wait"))
        .collect();
    let winners = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(winners, 1, "exactly one push wins");
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stdout).contains("the remote branch moved"));
    }
    // The losers pull and push in turn; nothing is lost.
    for (c, o) in clones.iter().zip(&outs) {
        if !o.status.success() {
            c.ok(&["pull"]);
            c.ok(&["push"]);
        }
    }
    let last = clone(&a, &url, &[]);
    for i in 0..8 {
        assert!(
            last.p(&format!("data/c{i}.txt")).exists(),
            "clone {i}'s commit was lost"
        );
    }
    assert!(last.ok(&["verify"]).contains("no problems"));
}

/// The repository's refs, packs and objects: `repo_state` without
/// `.folio/remotes/`, the cache of what the remote lists (its pack
/// indexes, checksummed), which a fetch refreshes before it takes anything.
fn history_state(e: &Env) -> Vec<String> {
    let mut s = e.repo_state();
    s.retain(|l| !l.starts_with(".folio/remotes/"));
    s
}

/// Asserts the repository's history state is `clean`, naming what differs.
fn same_history(e: &Env, clean: &[String]) {
    let now = history_state(e);
    let added: Vec<_> = now.iter().filter(|l| !clean.contains(l)).collect();
    let gone: Vec<_> = clean.iter().filter(|l| !now.contains(l)).collect();
    assert!(
        added.is_empty() && gone.is_empty(),
        "a failed fetch changed the repository: added {added:?}, gone {gone:?}"
    );
}

/// The pack files under a folder remote's `packs/KIND/`.
fn packs(remote: &Path, kind: &str) -> Vec<std::path::PathBuf> {
    walkdir(&remote.join("packs").join(kind))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "pack"))
        .collect()
}

#[test]
fn a_damaged_or_lying_remote_fails_closed() {
    let a = project();
    let url = remote_of(&a);
    a.ok(&["remote", "add", "origin", &url]);
    a.ok(&["push"]);
    let b = clone(&a, &url, &[]);
    let clean = history_state(&b);

    // A flipped bit in a pack of history: clone and fetch refuse, exit 70.
    a.write("data/new.txt", b"new\n");
    a.ok(&["commit", "-m", "third"]);
    let before: std::collections::HashSet<_> = packs(&a.p("remote"), "meta").into_iter().collect();
    a.ok(&["push"]);
    let new_meta: Vec<_> = packs(&a.p("remote"), "meta")
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(new_meta.len(), 1);
    let len = std::fs::metadata(&new_meta[0]).expect("meta").len() as usize;
    flip_byte(&new_meta[0], len - 3);
    let err = b.fails(&["fetch"], 70);
    assert!(err.contains("do not hash"), "{err}");
    same_history(&b, &clean);
    assert!(b.ok(&["verify"]).contains("no problems"));
    let c = Env::bare();
    let dest = c.p("c");
    c.fails(&["clone", &url, dest.to_str().expect("utf-8")], 70);
    assert!(!dest.exists(), "a failed clone leaves nothing behind");
    flip_byte(&new_meta[0], len - 3);

    // A truncated data pack.
    let data = packs(&a.p("remote"), "data");
    let victim = data
        .iter()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a data pack");
    let saved = std::fs::read(victim).expect("read");
    std::fs::write(victim, &saved[..saved.len() / 2]).expect("truncate");
    let err = c.fails(&["clone", &url, dest.to_str().expect("utf-8")], 70);
    assert!(err.contains("remote"), "{err}");
    std::fs::write(victim, &saved).expect("restore");

    // A ref naming a commit the remote does not hold.
    std::fs::write(
        a.p("remote/refs/heads/evil"),
        format!("{}\n", "ab".repeat(32)),
    )
    .expect("write");
    let err = b.fails(&["fetch"], 70);
    assert!(err.contains("missing"), "{err}");
    same_history(&b, &clean);
    std::fs::remove_file(a.p("remote/refs/heads/evil")).expect("rm");

    // A ref name that climbs out of refs/.
    std::fs::write(a.p("remote/refs/heads/.hidden"), "x\n").expect("write");
    let err = b.fails(&["fetch"], 70);
    assert!(err.contains("not a ref name"), "{err}");
    std::fs::remove_file(a.p("remote/refs/heads/.hidden")).expect("rm");

    // With the remote repaired, the same fetch succeeds.
    b.ok(&["fetch"]);
    b.ok(&["pull"]);
    assert!(b.p("data/new.txt").exists());
    assert!(b.ok(&["verify"]).contains("no problems"));
}

#[test]
fn a_no_data_clone_answers_from_history_and_fetches_contents_on_demand() {
    let a = project();
    let url = remote_of(&a);
    a.ok(&["remote", "add", "origin", &url]);
    a.ok(&["push"]);
    let b = clone(&a, &url, &["--no-data"]);
    assert!(!b.p("data").exists() && !b.p("t.csv").exists());
    let status = b.ok(&["status"]);
    assert!(status.contains("data: not fetched"), "{status}");
    let v = b.ok(&["verify"]);
    assert!(
        v.contains("no problems") && v.contains("not fetched"),
        "{v}"
    );
    for cmd in [
        &["lineage", "t.csv:7"][..],
        &["audit"],
        &["log"],
        &["drift", "HEAD~1", "HEAD"],
        &["diff", "HEAD~1", "HEAD", "--stat"],
    ] {
        assert_eq!(
            a.ok(cmd),
            b.ok(cmd),
            "folio {cmd:?} differs in a --no-data clone"
        );
    }
    // Materialising an old version elsewhere takes only what it needs.
    let (_, hint) = b.ok_raw(&["checkout", "HEAD~1", "--to", "v1"]);
    assert!(hint.contains("fetched"), "{hint}");
    assert_eq!(
        std::fs::read(b.p("v1/data/a.txt")).expect("read"),
        b"alpha\n"
    );
    b.ok(&["checkout", "main"]);
    assert_eq!(tree_of(a.path()), {
        let mut t = tree_of(b.path());
        t.retain(|l| !l.contains(" v1"));
        t
    });
    assert!(b.ok(&["verify"]).contains("no problems"));
}

#[test]
fn remote_settings_are_checked_and_hold_no_secrets() {
    let a = Env::new();
    let err = a.fails(&["remote", "add", "x", "gs://bucket/p"], 1);
    assert!(err.contains("s3://"), "{err}");
    a.fails(&["remote", "add", "a/b", "/tmp/x"], 1);
    a.ok(&[
        "remote",
        "add",
        "s3r",
        "s3://my-bucket/team",
        "--endpoint",
        "http://127.0.0.1:9",
        "--allow-http",
    ]);
    let err = a.fails(&["remote", "add", "s3r", "/tmp/y"], 1);
    assert!(err.contains("exists"), "{err}");
    let listed = a
        .cmd(&["remote", "-v"])
        .env("AWS_SECRET_ACCESS_KEY", "sekrit-value-123")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains("s3://my-bucket/team (endpoint=http://127.0.0.1:9, allow_http)"),
        "{text}"
    );
    let config = std::fs::read_to_string(a.p(".folio/remotes.toml")).expect("read");
    assert!(!config.contains("sekrit"));
    a.ok(&["remote", "remove", "s3r"]);
    assert_eq!(a.ok(&["remote"]), "");
}

/// The S3 endpoint of the moto server `.ci/run` starts
/// (`FOLIO_TEST_S3_ENDPOINT`). Without it the S3 tests fail when
/// `FOLIO_REQUIRE_S3` is set (CI) and are skipped, saying so, elsewhere.
pub(crate) fn s3_endpoint() -> Option<String> {
    match std::env::var("FOLIO_TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            assert!(
                std::env::var("FOLIO_REQUIRE_S3").is_err(),
                "FOLIO_REQUIRE_S3 is set but FOLIO_TEST_S3_ENDPOINT is not: start moto (see .ci/run)"
            );
            eprintln!("skipping: no S3 test server (set FOLIO_TEST_S3_ENDPOINT; .ci/run does)");
            None
        }
    }
}

/// A fresh bucket on the test server, by a plain S3 PUT.
pub(crate) fn make_bucket(endpoint: &str, name: &str) {
    let status = std::process::Command::new("curl")
        .args(["-sf", "-X", "PUT", &format!("{endpoint}/{name}")])
        .status()
        .expect("curl");
    assert!(
        status.success(),
        "cannot create bucket {name} at {endpoint}"
    );
}

pub(crate) fn s3(e: &Env, endpoint: &str, args: &[&str]) -> std::process::Output {
    s3_cmd(e, endpoint, args).output().expect("run folio")
}

/// The folio command with the test server's credentials and endpoint.
pub(crate) fn s3_cmd(e: &Env, endpoint: &str, args: &[&str]) -> assert_cmd::Command {
    let mut c = e.cmd(args);
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ALLOW_HTTP", "true");
    c
}

#[test]
fn s3_round_trip_and_concurrent_pushes() {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let bucket = format!("folio-{}", std::process::id());
    make_bucket(&endpoint, &bucket);
    let url = format!("s3://{bucket}/team/vision");
    let a = project();
    a.ok(&["remote", "add", "origin", &url]);
    let o = s3(&a, &endpoint, &["push"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c = Env::bare();
    let dest = c.p("w");
    let o = s3(
        &c,
        &endpoint,
        &["clone", &url, dest.to_str().expect("utf-8")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(tree_of(a.path()), tree_of(&dest));
    let b = Env { dir: c.dir };
    let inner = |e: &Env, args: &[&str]| {
        let mut full = vec!["-C", "w"];
        full.extend_from_slice(args);
        s3(e, &endpoint, &full)
    };
    assert!(inner(&b, &["verify"]).status.success());
    // Four clones race to push: exactly one wins (If-Match on the ref).
    let racers: Vec<Env> = (0..4)
        .map(|i| {
            let r = Env::bare();
            let d = r.p("w");
            assert!(
                s3(&r, &endpoint, &["clone", &url, d.to_str().expect("utf-8")])
                    .status
                    .success()
            );
            r.write(&format!("w/data/r{i}.txt"), b"r\n");
            assert!(
                s3(&r, &endpoint, &["-C", "w", "commit", "-m", "race"])
                    .status
                    .success()
            );
            r
        })
        .collect();
    let children: Vec<_> = racers
        .iter()
        .map(|r| {
            process(r, &["-C", "w", "push"])
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .env("AWS_ENDPOINT_URL", &endpoint)
                .env("AWS_ALLOW_HTTP", "true")
                .spawn()
                .expect("spawn")
        })
        .collect();
    let outs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    assert_eq!(
        outs.iter().filter(|o| o.status.success()).count(),
        1,
        "exactly one S3 push wins"
    );
    for (r, o) in racers.iter().zip(&outs) {
        if !o.status.success() {
            assert!(String::from_utf8_lossy(&o.stdout).contains("the remote branch moved"));
            assert!(s3(r, &endpoint, &["-C", "w", "pull"]).status.success());
            assert!(s3(r, &endpoint, &["-C", "w", "push"]).status.success());
        }
    }
    assert!(inner(&b, &["pull"]).status.success());
    for i in 0..4 {
        assert!(b.p(&format!("w/data/r{i}.txt")).exists());
    }
    // A no-data clone from S3 fetches on checkout.
    let n = Env::bare();
    let d = n.p("w");
    assert!(
        s3(
            &n,
            &endpoint,
            &["clone", "--no-data", &url, d.to_str().expect("utf-8")]
        )
        .status
        .success()
    );
    assert!(!d.join("data").exists());
    assert!(
        s3(&n, &endpoint, &["-C", "w", "checkout", "main"])
            .status
            .success()
    );
    assert_eq!(tree_of(&d), tree_of(&b.p("w")));
}

#[test]
fn pushes_killed_at_any_moment_leave_every_ref_old_or_new() {
    let a = Env::new();
    for i in 0..300 {
        a.write(
            &format!("data/d{}/f{i}.txt", i % 10),
            format!("v0 {i}").as_bytes(),
        );
    }
    a.ok(&["commit", "data", "-m", "base"]);
    let url = remote_of(&a);
    a.ok(&["remote", "add", "origin", &url]);
    a.ok(&["push"]);
    let observer = clone(&a, &url, &[]);
    let ref_file = a.p("remote/refs/heads/main");
    let mut landed = 0;
    for round in 0..50u64 {
        let old = std::fs::read_to_string(&ref_file).expect("remote ref");
        for i in (round as usize * 7..300).step_by(13) {
            a.write(
                &format!("data/d{}/f{i}.txt", i % 10),
                format!("v{round} {i}").as_bytes(),
            );
        }
        a.ok(&["commit", "-m", &format!("round {round}")]);
        let new = format!(
            "{}\n",
            a.json(&["log", "-n", "1", "--json"])[0]["id"]
                .as_str()
                .expect("id")
        );
        let mut child = process(&a, &["push"]).spawn().expect("spawn");
        std::thread::sleep(std::time::Duration::from_micros(round * 700 % 25_000));
        landed += usize::from(child.try_wait().expect("poll").is_none());
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read_to_string(&ref_file).expect("remote ref");
        assert!(
            now == old || now == new,
            "round {round}: the remote ref is {now:?}, neither old nor new"
        );
        // Whatever the remote's refs name is complete: a fetch checks it all.
        observer.ok(&["fetch"]);
        if round % 10 == 9 {
            assert!(observer.ok(&["verify"]).contains("no problems"));
        }
        // The next push finishes the job.
        a.ok(&["push"]);
    }
    assert!(
        landed >= 10,
        "only {landed} of 50 kills landed while a push ran"
    );
    let fresh = clone(&a, &url, &[]);
    assert!(fresh.ok(&["verify"]).contains("no problems"));
    assert_eq!(tree_of(a.path()), tree_of(fresh.path()));
}

/// Seconds since the epoch, `days` from now (the clock `FOLIO_NOW` sets).
fn days_on(days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    (now + days * 86_400).to_string()
}

#[test]
fn remote_gc_removes_what_an_interrupted_push_left_once_it_is_old() {
    let a = project();
    let url = remote_of(&a);
    a.ok(&["remote", "add", "origin", &url]);
    a.ok(&["push"]);
    let listing = || {
        let mut l = walkdir(&a.p("remote"));
        l.sort();
        l
    };
    let kept = listing();
    // A push whose ref never moved (killed before its compare-and-swap).
    let ref_file = a.p("remote/refs/heads/main");
    let old = std::fs::read(&ref_file).expect("ref");
    a.write("data/late.bin", &vec![7u8; 3 << 20]);
    a.write("data/late.txt", b"late\n");
    a.ok(&["commit", "-m", "late"]);
    a.ok(&["push"]);
    std::fs::write(&ref_file, &old).expect("move the ref back");
    let orphans: Vec<_> = listing()
        .into_iter()
        .filter(|k| !kept.contains(k))
        .collect();
    assert!(!orphans.is_empty());
    let gc = |args: &[&str], days: i64| {
        let mut all = vec!["gc", "--remote", "origin"];
        all.extend_from_slice(args);
        let out = a
            .cmd(&all)
            .env("FOLIO_NOW", days_on(days))
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    // Today it may be a push in flight: kept.
    let today = gc(&["--prune"], 0);
    assert!(
        today.contains("removed 0 keys") && today.contains("a push may be in flight"),
        "{today}"
    );
    // Eight days on, past the default week: listed, then removed.
    let dry = gc(&[], 8);
    assert!(
        dry.contains("would remove") && dry.contains("--prune"),
        "{dry}"
    );
    assert_eq!(listing().len(), kept.len() + orphans.len());
    let pruned = gc(&["--prune", "--json"], 8);
    let r: serde_json::Value = serde_json::from_str(&pruned).expect("json");
    assert_eq!(
        r["removed"].as_array().expect("removed").len(),
        orphans.len(),
        "{pruned}"
    );
    assert_eq!(listing(), kept);
    let fresh = clone(&a, &url, &[]);
    assert!(fresh.ok(&["verify"]).contains("no problems"));
    // A grace period shorter than an hour could race any push.
    let err = a.fails(&["gc", "--remote", "origin", "--grace", "10m"], 2);
    assert!(err.contains("at least 1h"), "{err}");
    let err = a.fails(&["gc", "--grace", "2d"], 2);
    assert!(err.contains("--remote"), "{err}");
    // A clone without contents cannot tell chunks apart: it removes no
    // file contents, and says so.
    a.ok(&["push"]);
    let b = clone(&a, &url, &["--no-data"]);
    let out = b
        .cmd(&["gc", "--remote", "origin", "--prune"])
        .env("FOLIO_NOW", days_on(8))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("not fetched here"),
        "{text}"
    );
}

#[test]
fn checkout_of_paths_fetches_only_what_they_need_and_keeps_uncommitted_work() {
    let a = project();
    let url = remote_of(&a);
    a.ok(&["remote", "add", "origin", &url]);
    a.ok(&["push"]);
    let b = clone(&a, &url, &["--no-data"]);
    let head = b.ok(&["log", "-n", "1"]);
    // One folder of an old version: fetched, written, nothing else.
    let (_, hint) = b.ok_raw(&["checkout", "HEAD~1", "--", "data/sub", "data/a.txt"]);
    assert!(hint.contains("fetched 2 file contents"), "{hint}");
    assert_eq!(
        std::fs::read(b.p("data/sub/deep/b.txt")).expect("read"),
        b"beta\n"
    );
    assert_eq!(std::fs::read(b.p("data/a.txt")).expect("read"), b"alpha\n");
    assert!(!b.p("data/big.bin").exists() && !b.p("t.csv").exists());
    assert_eq!(b.ok(&["log", "-n", "1"]), head, "HEAD does not move");
    // A plain fetch completes the partial clone, with no new commits.
    assert!(b.p(".folio/remotes/partial").exists());
    let fetched = b.ok(&["fetch"]);
    assert!(!fetched.contains("took 0 objects"), "{fetched}");
    let v = b.ok(&["verify"]);
    assert!(
        v.contains("no problems") && !v.contains("not fetched"),
        "{v}"
    );
    assert!(!b.p(".folio/remotes/partial").exists());
    assert!(b.ok(&["fetch"]).contains("took 0 objects"));
    // The full clone: an uncommitted edit is not overwritten without -f;
    // a file REV lacks under the path stays (`restore` would remove it).
    a.write("data/a.txt", b"mine\n");
    a.write("data/new.txt", b"new\n");
    let err = a.fails(&["checkout", "HEAD~1", "--", "data"], 1);
    assert!(
        err.contains("data/a.txt") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(a.p("data/a.txt")).expect("read"), b"mine\n");
    a.ok(&["checkout", "HEAD~1", "--force", "--", "data"]);
    assert_eq!(std::fs::read(a.p("data/a.txt")).expect("read"), b"alpha\n");
    assert!(a.p("data/new.txt").exists());
    // Restoring HEAD's committed version needs no force.
    a.ok(&["checkout", "HEAD", "--", "data/a.txt"]);
    assert_eq!(
        std::fs::read(a.p("data/a.txt")).expect("read"),
        b"alpha 2\n"
    );
    let err = a.fails(&["checkout", "HEAD", "--", "nowhere"], 1);
    assert!(err.contains("nowhere"), "{err}");
    let err = a.fails(&["checkout", "HEAD", "--to", "x", "--", "data"], 1);
    assert!(err.contains("not both"), "{err}");
}

#[test]
fn annotated_tags_travel_with_push_and_fetch_and_survive_remote_gc() {
    let a = project();
    let url = remote_of(&a);
    a.ok(&["remote", "add", "origin", &url]);
    a.ok(&["push"]);
    // A tag alone: its object is the one new thing the push uploads.
    a.ok(&[
        "tag",
        "v1",
        "HEAD~1",
        "-m",
        "Release 1\n\nSigned off by finance.",
    ]);
    a.ok(&["tag", "light"]);
    let pushed = a.ok(&["push", "--tags"]);
    assert!(
        pushed.contains("v1") && pushed.contains("light"),
        "{pushed}"
    );
    let remote_ref = std::fs::read_to_string(a.p("remote/refs/tags/v1")).expect("ref");
    assert_eq!(remote_ref.split_whitespace().count(), 2, "{remote_ref}");
    assert!(a.ok(&["push", "--tags"]).contains("up to date"));
    // Past the grace period, a remote gc keeps the tag object.
    let out = a
        .cmd(&["gc", "--remote", "origin", "--prune"])
        .env("FOLIO_NOW", days_on(8))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = clone(&a, &url, &[]);
    assert_eq!(b.json(&["tag", "--json"]), a.json(&["tag", "--json"]));
    assert!(b.ok(&["show", "v1"]).contains("Signed off by finance."));
    assert!(b.ok(&["verify"]).contains("no problems"));
    // The same name with another message, here: tags do not move.
    b.ok(&["tag", "-d", "v1"]);
    b.ok(&["tag", "v1", "HEAD~1", "-m", "Release 1 (rewritten)"]);
    let out = b.cmd(&["push", "--tags"]).output().expect("push");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("with another message; tags do not move"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(a.p("remote/refs/tags/v1")).expect("ref"),
        remote_ref,
        "the remote's tag is unchanged"
    );
    // A remote whose tag names an object that names another tag is
    // refused on fetch, and no tag is made from it.
    let c = clone(&a, &url, &[]);
    let object = remote_ref.split_whitespace().nth(1).expect("object");
    let head = a.json(&["show", "HEAD", "--json"])["id"]
        .as_str()
        .expect("id")
        .to_string();
    std::fs::write(a.p("remote/refs/tags/v2"), format!("{head} {object}\n")).expect("forge");
    let out = c.cmd(&["fetch"]).output().expect("fetch");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("it names tag \"v1\""), "{err}");
    assert!(
        c.json(&["tag", "--json"])
            .as_array()
            .is_some_and(|t| t.len() == 2)
    );
}
