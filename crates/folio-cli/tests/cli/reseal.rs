//! `reseal` (D89): a recipient removed can open no copy of anything once
//! the repository is resealed and pushed, here, on the remote and in a
//! clone that fetches; content committed in the clear before encryption
//! was configured (or before a reclassification) is sealed and its
//! plaintext, chunks included, leaves the store; ids never change.

use crate::Env;
use crate::sensitive::{
    MARKS, key, key_text, plaintext_in, sealed_repo, with_alice_as_recipient, with_key,
};

/// Runs folio with `FOLIO_IDENTITY` set to a test key in another folder.
fn with_key_in(e: &Env, dir: &std::path::Path, name: &str, args: &[&str]) -> std::process::Output {
    let dir = dir.display().to_string();
    let mut all = vec!["-C", dir.as_str()];
    all.extend_from_slice(args);
    with_key(e, name, &all)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Every file of every commit of `dir`'s history that is encrypted: its
/// path at each commit.
const FILES: [&str; 3] = ["people/p.csv", "people/note.txt", "people/scan.bin"];

#[test]
fn a_removed_recipient_opens_nothing_after_reseal_here_on_the_remote_and_in_clones() {
    let e = sealed_repo();
    let big = crate::noise(600 * 1024, 3);
    e.write("people/scan.bin", &big);
    e.write(
        "people/note.txt",
        format!("call {} later\n", MARKS[2]).as_bytes(),
    );
    e.ok(&["commit", "people", "-m", "second"]);
    let remote = tempfile::tempdir().expect("tempdir");
    let url = remote.path().display().to_string();
    e.ok(&["remote", "add", "origin", &url]);
    e.ok(&["push", "origin", "main"]);
    // A clone made before the reseal, with bob's key.
    let early = tempfile::tempdir().expect("tempdir");
    let early_at = early.path().join("early");
    let out = crate::sensitive::clone_with_key(&e, &url, &early_at, "bob_ed25519");
    assert!(out.status.success(), "{}", stderr(&out));
    let commits_before = e.ok(&["log", "--json"]);
    // Before: bob opens every version.
    for rev in ["HEAD", "HEAD~1"] {
        for f in FILES
            .iter()
            .filter(|f| rev == "HEAD" || **f != "people/scan.bin")
        {
            let o = with_key(&e, "bob_ed25519", &["cat", &format!("{rev}:{f}")]);
            assert!(o.status.success(), "{rev}:{f}: {}", stderr(&o));
        }
    }

    // Bob leaves: his recipient is removed, then everything resealed.
    let config = e.p(".folio/config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let bob = key_text("bob_ed25519.pub");
    let without = text.replace(&format!(", {bob:?}"), "");
    assert_ne!(without, text, "bob's recipient is in the config");
    std::fs::write(&config, without).expect("write config");
    // Resealing what is sealed needs an identity (it is opened).
    let err = e.fails(&["reseal", "--reason", "bob left"], 1);
    assert!(err.contains("FOLIO_IDENTITY"), "{err}");
    let dry = with_key(&e, "alice.txt", &["reseal", "--dry-run", "--json"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let dry: serde_json::Value = serde_json::from_slice(&dry.stdout).expect("json");
    assert_eq!(dry["dry_run"], true);
    assert!(dry["record"].is_null());
    let sealed_count = dry["resealed"].as_u64().expect("count");
    assert!(sealed_count >= 4, "{dry}");
    // The dry run changed nothing: bob still opens.
    let o = with_key(&e, "bob_ed25519", &["cat", "HEAD:people/note.txt"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let o = with_key(
        &e,
        "alice.txt",
        &["reseal", "--reason", "bob left", "--json"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(r["resealed"].as_u64(), Some(sealed_count), "{r}");
    assert_eq!(r["sealed"], 0, "{r}");
    assert_eq!(r["recipients"], 1, "{r}");
    assert!(r["record"].is_string(), "{r}");
    // Ids are the plaintext's: history is unchanged and verifies.
    assert_eq!(e.ok(&["log", "--json"]), commits_before);
    let o = with_key(&e, "alice.txt", &["verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for rev in ["HEAD", "HEAD~1"] {
        for f in FILES
            .iter()
            .filter(|f| rev == "HEAD" || **f != "people/scan.bin")
        {
            let spec = format!("{rev}:{f}");
            let o = with_key(&e, "bob_ed25519", &["cat", &spec]);
            assert_eq!(o.status.code(), Some(1), "bob still opens {spec}");
            assert!(
                stderr(&o).contains("none of the identities"),
                "{}",
                stderr(&o)
            );
            let o = with_key(&e, "alice.txt", &["cat", &spec]);
            assert!(o.status.success(), "{spec}: {}", stderr(&o));
        }
    }
    let o = with_key(&e, "alice.txt", &["cat", "HEAD:people/scan.bin"]);
    assert_eq!(o.stdout, big);
    assert_eq!(plaintext_in(&e.p(".folio")), Vec::<String>::new());
    let list = e.ok(&["reseal", "--list"]);
    assert!(
        list.contains("bob left") && list.contains("1 recipient"),
        "{list}"
    );

    // Push replaces the remote's copies: a fresh clone with bob's key
    // opens nothing, with alice's everything.
    let pushed = e.ok(&["push", "origin", "main"]);
    assert!(pushed.contains("carried 1 reseal"), "{pushed}");
    assert_eq!(plaintext_in(remote.path()), Vec::<String>::new());
    let dest = tempfile::tempdir().expect("tempdir");
    let o = crate::sensitive::clone_with_key(&e, &url, &dest.path().join("bob"), "bob_ed25519");
    assert_eq!(o.status.code(), Some(1), "bob clones after the reseal");
    let o = crate::sensitive::clone_with_key(&e, &url, &dest.path().join("alice"), "alice.txt");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(dest.path().join("alice/people/scan.bin")).expect("read"),
        big
    );
    // Every object on the remote opens for alice and not for bob: a clone
    // with --no-data checks out every version with alice's key only.
    let light = dest.path().join("light");
    let o = e
        .cmd(&["clone", &url, &light.display().to_string(), "--no-data"])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    for rev in ["HEAD", "HEAD~1"] {
        for (who, ok) in [("alice.txt", true), ("bob_ed25519", false)] {
            let to = dest.path().join(format!("co-{who}-{}", rev.len()));
            let o = with_key_in(
                &e,
                &light,
                who,
                &["checkout", rev, "--to", &to.display().to_string()],
            );
            assert_eq!(o.status.success(), ok, "{who} {rev}: {}", stderr(&o));
        }
    }

    // The clone made before fetches: the remote's reseal replaces its
    // copies, so bob's key opens nothing there either.
    let o = e
        .cmd(&["-C", &early_at.display().to_string(), "fetch", "origin"])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", stderr(&o));
    let fetched = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        fetched.contains("applied the remote's 1 reseal"),
        "{fetched}"
    );
    for f in FILES {
        let o = with_key_in(&e, &early_at, "bob_ed25519", &["cat", &format!("HEAD:{f}")]);
        assert_eq!(o.status.code(), Some(1), "bob opens {f} in the early clone");
        let o = with_key_in(&e, &early_at, "alice.txt", &["cat", &format!("HEAD:{f}")]);
        assert!(o.status.success(), "{f}: {}", stderr(&o));
    }
    let o = with_key_in(&e, &early_at, "alice.txt", &["verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn content_committed_in_the_clear_is_sealed_and_its_plaintext_leaves_the_store() {
    let (e, config, text) = with_alice_as_recipient();
    // A small file, a large text file (stored in chunks) with a mark in
    // many chunks, a table, and a file of another dataset classified pii.
    e.write("people/note.txt", format!("call {}\n", MARKS[2]).as_bytes());
    let mut long = String::new();
    for i in 0..40_000 {
        long += &format!("line {i} {} {}\n", MARKS[0], i * 7919 % 10007);
    }
    e.write("people/log.txt", long.as_bytes());
    e.write("people/t.csv", b"id,x\n1,a\n2,b\n");
    e.write("public/open.txt", b"open data\n");
    e.write("public/form.txt", format!("form {}\n", MARKS[1]).as_bytes());
    e.ok(&["commit", "people", "public", "-m", "in the clear"]);
    e.write(
        "people/note.txt",
        format!("call {} again\n", MARKS[2]).as_bytes(),
    );
    e.ok(&["commit", "people", "-m", "second"]);
    let held = plaintext_in(&e.p(".folio"));
    for m in MARKS {
        assert!(
            held.iter().any(|h| h.contains(m)),
            "{m} is stored in the clear: {held:?}"
        );
    }
    let commits_before = e.ok(&["log", "--json"]);

    // Nothing configured to encrypt yet: nothing to seal.
    let r = e.json(&["reseal", "--clear-only", "--reason", "noop", "--json"]);
    assert_eq!(r["sealed"], 0, "{r}");
    assert!(r["record"].is_null(), "{r}");

    // people is now to be encrypted, and one public file classified pii.
    std::fs::write(
        &config,
        format!("{text}\n[datasets.people]\nencrypt = true\n"),
    )
    .expect("write");
    e.ok(&["classify", "public/form.txt", "--sensitivity", "pii"]);
    let dry = e.json(&["reseal", "--clear-only", "--dry-run", "--json"]);
    let paths: Vec<String> = dry["sealed_paths"]
        .as_array()
        .expect("paths")
        .iter()
        .map(|p| p.as_str().expect("path").to_string())
        .collect();
    assert_eq!(
        paths,
        ["people/log.txt", "people/note.txt", "public/form.txt"],
        "{dry}"
    );
    // Two versions of note.txt, one of log.txt, one of form.txt.
    assert_eq!(dry["sealed"], 4, "{dry}");
    assert_eq!(
        dry["tables_in_clear"],
        serde_json::json!(["people/t.csv"]),
        "{dry}"
    );
    assert_eq!(
        plaintext_in(&e.p(".folio")).len(),
        held.len(),
        "a dry run wrote"
    );

    // No identity is needed to seal what is in the clear.
    let r = e.json(&[
        "reseal",
        "--clear-only",
        "--reason",
        "reclassified",
        "--json",
    ]);
    assert_eq!(r["sealed"], 4, "{r}");
    assert!(r["chunks_erased"].as_u64().expect("count") > 1, "{r}");
    assert_eq!(plaintext_in(&e.p(".folio")), Vec::<String>::new());
    assert_eq!(e.ok(&["log", "--json"]), commits_before);
    e.ok(&["verify"]);
    // The contents open with the identity, unchanged; the open file and
    // the table stay readable without one.
    for (rev, f) in [
        ("HEAD", "people/log.txt"),
        ("HEAD~1", "people/note.txt"),
        ("HEAD", "public/form.txt"),
    ] {
        let o = with_key(&e, "alice.txt", &["cat", &format!("{rev}:{f}")]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = with_key(&e, "alice.txt", &["cat", "HEAD:people/log.txt"]);
    assert_eq!(o.stdout, long.as_bytes());
    let o = with_key(&e, "alice.txt", &["cat", "HEAD~1:people/note.txt"]);
    assert_eq!(o.stdout, format!("call {}\n", MARKS[2]).as_bytes());
    assert_eq!(e.ok(&["cat", "HEAD:public/open.txt"]), "open data\n");
    e.ok(&["cat", "HEAD:people/t.csv"]);
    let err = e.fails(&["cat", "HEAD:people/note.txt"], 1);
    assert!(err.contains("FOLIO_IDENTITY"), "{err}");
    let o = with_key(&e, "alice.txt", &["verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Running again finds nothing left.
    let r = e.json(&["reseal", "--clear-only", "--reason", "again", "--json"]);
    assert_eq!(r["sealed"], 0, "{r}");
}

#[test]
fn reseal_without_recipients_or_reason_is_refused_and_writes_nothing() {
    let e = Env::new();
    e.write("d/a.txt", b"a\n");
    e.ok(&["commit", "d", "-m", "a"]);
    let err = e.fails(&["reseal", "--reason", "x"], 1);
    assert!(
        err.contains("[encryption] recipients") && err.contains("nothing was written"),
        "{err}"
    );
    let e = sealed_repo();
    let err = e.fails(&["reseal"], 2);
    assert!(err.contains("--reason"), "{err}");
    let err = e.fails(&["reseal", "--clear-only", "--reason", " "], 1);
    assert!(err.contains("needs a reason"), "{err}");
    assert!(!e.p(".folio/reseals").exists());
}

#[test]
fn an_s3_remote_resealed_holds_no_plaintext_and_nothing_a_removed_recipient_opens() {
    use crate::remote::{make_bucket, s3, s3_cmd, s3_endpoint};
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let e = sealed_repo();
    e.write("people/scan.bin", &crate::noise(700 * 1024, 5));
    // A form committed in the clear, classified pii afterwards.
    e.write("public/form.txt", format!("form {}\n", MARKS[0]).as_bytes());
    e.ok(&["commit", "people", "public", "-m", "more"]);
    let bucket = format!("folio-reseal-{}", std::process::id());
    make_bucket(&endpoint, &bucket);
    let url = format!("s3://{bucket}/team");
    e.ok(&["remote", "add", "origin", &url]);
    let o = s3(&e, &endpoint, &["push", "origin", "main"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = tempfile::tempdir().expect("tempdir");
    crate::sensitive::download_bucket(&endpoint, &bucket, before.path());
    assert!(
        !plaintext_in(before.path()).is_empty(),
        "the form is in the clear"
    );

    let config = e.p(".folio/config.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    let bob = key_text("bob_ed25519.pub");
    std::fs::write(&config, text.replace(&format!(", {bob:?}"), "")).expect("write");
    e.ok(&["classify", "public/form.txt", "--sensitivity", "pii"]);
    let o = with_key(
        &e,
        "alice.txt",
        &["reseal", "--reason", "bob left; form is pii"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = s3(&e, &endpoint, &["push", "origin", "main"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after = tempfile::tempdir().expect("tempdir");
    crate::sensitive::download_bucket(&endpoint, &bucket, after.path());
    assert_eq!(plaintext_in(after.path()), Vec::<String>::new());
    for (who, ok) in [("bob_ed25519", false), ("alice.txt", true)] {
        let c = Env::bare();
        let dest = c.p("w");
        let o = s3_cmd(
            &c,
            &endpoint,
            &[
                "clone",
                &url,
                dest.to_str().expect("utf-8"),
                "--purpose",
                "test",
            ],
        )
        .env("FOLIO_IDENTITY", key(who))
        .output()
        .expect("run");
        assert_eq!(o.status.success(), ok, "{who}: {}", stderr(&o));
    }
}

#[test]
fn an_interrupted_reseal_is_finished_and_leaves_no_plaintext() {
    for (failpoint, finish) in [
        (
            "reseal:copied",
            vec!["reseal", "--clear-only", "--reason", "again"],
        ),
        ("reseal:recorded", vec!["gc", "--prune"]),
    ] {
        let (e, config, text) = with_alice_as_recipient();
        let mut long = String::new();
        for i in 0..30_000 {
            long += &format!("row {i} {} {}\n", MARKS[0], i * 31 % 997);
        }
        e.write("people/log.txt", long.as_bytes());
        e.write("people/note.txt", format!("{}\n", MARKS[2]).as_bytes());
        e.ok(&["commit", "people", "-m", "clear"]);
        std::fs::write(
            &config,
            format!("{text}[datasets.people]\nencrypt = true\n"),
        )
        .expect("write");
        let out = e
            .cmd(&["reseal", "--clear-only", "--reason", "r"])
            .env("FOLIO_FAILPOINT", failpoint)
            .output()
            .expect("run");
        // The failpoint aborts the process (no exit code: a signal).
        assert_eq!(out.status.code(), None, "{failpoint}: {}", stderr(&out));
        // Interrupted, the contents still read whole with the identity.
        let o = with_key(&e, "alice.txt", &["cat", "HEAD:people/log.txt"]);
        assert_eq!(o.stdout, long.as_bytes(), "{failpoint}: {}", stderr(&o));
        assert!(
            !plaintext_in(&e.p(".folio")).is_empty(),
            "{failpoint} left plaintext"
        );
        if failpoint == "reseal:copied" {
            // verify names the clear copies left beside sealed ones.
            let out = e.cmd(&["verify"]).output().expect("run");
            assert_eq!(out.status.code(), Some(70), "{failpoint}");
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            assert!(text.contains("sealed and also in the clear"), "{text}");
        }
        e.ok(&finish);
        assert_eq!(
            plaintext_in(&e.p(".folio")),
            Vec::<String>::new(),
            "{failpoint}"
        );
        let o = with_key(&e, "alice.txt", &["cat", "HEAD:people/log.txt"]);
        assert_eq!(o.stdout, long.as_bytes(), "{failpoint}: {}", stderr(&o));
        let o = with_key(&e, "alice.txt", &["verify"]);
        assert!(o.status.success(), "{failpoint}: {}", stderr(&o));
    }
}

#[test]
fn a_damaged_reseal_record_is_reported_by_verify_and_stops_push() {
    let e = sealed_repo();
    let o = with_key(&e, "alice.txt", &["reseal", "--reason", "rotate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = e.p(".folio/reseals");
    let rec = std::fs::read_dir(&dir)
        .expect("reseals")
        .next()
        .expect("a record")
        .expect("entry")
        .path();
    let mut bytes = std::fs::read(&rec).expect("read");
    let at = bytes.len() - 3;
    bytes[at] ^= 1;
    std::fs::write(&rec, bytes).expect("write");
    let out = e.cmd(&["verify"]).output().expect("run");
    assert_eq!(out.status.code(), Some(70));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("do not hash to its name"), "{text}");
    let remote = tempfile::tempdir().expect("tempdir");
    e.ok(&[
        "remote",
        "add",
        "origin",
        &remote.path().display().to_string(),
    ]);
    let err = e.fails(&["push", "origin", "main"], 70);
    assert!(err.contains("reseals"), "{err}");
}

/// Every file under `.folio/packs` and `.folio/objects`, with its bytes.
fn stored(e: &Env) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = ["packs", "objects"]
        .iter()
        .flat_map(|d| crate::walkdir(&e.p(&format!(".folio/{d}"))))
        .map(|p| {
            let b = std::fs::read(&p).expect("read");
            (p, b)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_reseal_that_cannot_open_an_object_changes_nothing() {
    let (e, config, text) = with_alice_as_recipient();
    // In the clear: a small file and a large one; sealed: a large file of
    // another dataset.
    e.write("people/note.txt", format!("{}\n", MARKS[2]).as_bytes());
    e.write("people/scan.bin", &crate::noise(700 * 1024, 8));
    e.ok(&["commit", "people", "-m", "clear"]);
    std::fs::write(
        &config,
        format!("{text}[datasets.people]\nencrypt = true\n[datasets.vault]\nencrypt = true\n"),
    )
    .expect("write");
    // Large, so it is opened after the small objects were sealed.
    e.write("vault/a.bin", &crate::noise(700 * 1024, 20));
    e.ok(&["commit", "vault", "-m", "sealed"]);
    let before = stored(&e);
    // Without an identity the sealed object does not open: refused, and
    // nothing of the files in the clear was sealed or removed either.
    let err = e.fails(&["reseal", "--reason", "rotate"], 1);
    assert!(err.contains("FOLIO_IDENTITY"), "{err}");
    assert!(stored(&e) == before, "a failed reseal changed the store");
    assert!(!e.p(".folio/reseals").exists());
    // With one, it all goes through.
    let o = with_key(&e, "alice.txt", &["reseal", "--reason", "rotate", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        (r["resealed"].as_u64(), r["sealed"].as_u64()),
        (Some(1), Some(2)),
        "{r}"
    );
}
