//! Sensitive data (D83): datasets stored encrypted to the configured
//! recipients, opened only with an identity, shared through remotes as
//! ciphertext; history, the ledger and `verify` readable without one.
//!
//! The keys are test-only fixtures (tests/cli/keys/README.md). The check
//! with the standard `age` tool runs when it is installed; `.ci/run`
//! installs it and sets FOLIO_REQUIRE_AGE so it cannot be skipped there.

use std::path::{Path, PathBuf};

use crate::{Env, walkdir};

/// A test key's path.
pub(crate) fn key(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli/keys")
        .join(name)
}

pub(crate) fn key_text(name: &str) -> String {
    std::fs::read_to_string(key(name))
        .expect("test key")
        .trim()
        .to_string()
}

/// A repository whose only recipient is alice, nothing encrypted yet:
/// the repository, its config's path and the config's text.
pub(crate) fn with_alice_as_recipient() -> (Env, std::path::PathBuf, String) {
    let e = Env::new();
    let config = e.p(".folio/config.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text += &format!(
        "\n[encryption]\nrecipients = [{:?}]\n",
        key_text("alice.pub")
    );
    std::fs::write(&config, &text).expect("write");
    (e, config, text)
}

/// Marks planted in the sensitive data; none may appear in any file of a
/// store or a remote.
pub(crate) const MARKS: [&str; 3] = ["SSN-MARK-0001", "SSN-MARK-0002", "NOTE-MARK-9"];

/// Files under `dir` holding a mark (raw or in a zstd frame), with the
/// mark.
pub(crate) fn plaintext_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for f in walkdir(dir) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        // Raw, or inside a zstd frame (packs compress records one by one).
        let frames = crate::purge::zstd_frames(&bytes);
        for m in MARKS {
            let m_b = m.as_bytes();
            if crate::purge::contains(&bytes, m_b)
                || frames.iter().any(|f| crate::purge::contains(f, m_b))
            {
                found.push(format!("{} holds {m}", f.display()));
            }
        }
    }
    found
}

/// A repository whose `people` dataset is encrypted to alice (age) and
/// bob (SSH), with a keyed table mapping a label column and a note.
pub(crate) fn sealed_repo() -> Env {
    let e = Env::new();
    let config = e.p(".folio/config.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text += &format!(
        "\n[encryption]\nrecipients = [{:?}, {:?}]\n\n[datasets.people]\nencrypt = true\n\n[tables.\"people/p.csv\"]\nkey = [\"id\"]\nmeta = {{ label = \"label\" }}\n",
        key_text("alice.pub"),
        key_text("bob_ed25519.pub"),
    );
    std::fs::write(&config, text).expect("write config");
    e.write(
        "people/p.csv",
        format!(
            "id,name,ssn,label\n1,ada,{},cat\n2,bob,{},dog\n",
            MARKS[0], MARKS[1]
        )
        .as_bytes(),
    );
    e.write("people/note.txt", format!("call {}\n", MARKS[2]).as_bytes());
    e.write("public/readme.txt", b"open data\n");
    e.ok(&["commit", "people", "public", "-m", "first"]);
    e
}

/// Whether the standard `age` tool is on PATH; when it is not, the
/// caller skips, unless FOLIO_REQUIRE_AGE (set by `.ci/run`) says it must
/// be there.
fn age_tool() -> bool {
    if std::process::Command::new("age")
        .arg("--version")
        .output()
        .is_ok()
    {
        return true;
    }
    assert!(
        std::env::var_os("FOLIO_REQUIRE_AGE").is_none(),
        "FOLIO_REQUIRE_AGE is set but no `age` is on PATH"
    );
    eprintln!("skipped: no `age` on PATH (set FOLIO_REQUIRE_AGE to require it)");
    false
}

/// Clones `url` into `into` with a test key as `FOLIO_IDENTITY`.
pub(crate) fn clone_with_key(e: &Env, url: &str, into: &Path, name: &str) -> std::process::Output {
    let into = into.display().to_string();
    e.cmd(&["clone", url, &into, "--purpose", "test"])
        .env("FOLIO_IDENTITY", key(name))
        .output()
        .expect("run folio")
}

/// Runs folio with `FOLIO_IDENTITY` set to a test key.
pub(crate) fn with_key(e: &Env, name: &str, args: &[&str]) -> std::process::Output {
    e.cmd(args)
        .args(["--purpose", "test"])
        .env("FOLIO_IDENTITY", key(name))
        .output()
        .expect("run folio")
}

#[test]
fn encrypted_datasets_hold_no_plaintext_and_open_only_with_a_recipients_identity() {
    let e = sealed_repo();
    assert_eq!(plaintext_in(&e.p(".folio")), Vec::<String>::new());

    // Without an identity, reading plaintext fails and says what to do.
    let err = e.fails(&["cat", "HEAD:people/note.txt"], 1);
    assert!(
        err.contains("encrypted") && err.contains("FOLIO_IDENTITY"),
        "{err}"
    );
    // export fails before writing anything.
    let out = e
        .cmd(&["export", "HEAD", "people/p.csv"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Data outside the encrypted dataset stays readable.
    assert_eq!(e.ok(&["cat", "HEAD:public/readme.txt"]), "open data\n");

    // Each recipient opens it: an age identity and an SSH key.
    for k in ["alice.txt", "bob_ed25519"] {
        let out = with_key(&e, k, &["cat", "HEAD:people/note.txt"]);
        assert!(
            out.status.success(),
            "{k}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("call {}\n", MARKS[2])
        );
        let out = with_key(&e, k, &["cat", "HEAD:people/p.csv"]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(MARKS[1]),
            "{k}"
        );
    }
    // An identity that is no recipient is refused as such.
    let out = with_key(&e, "carol.txt", &["cat", "HEAD:people/note.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("none of the identities"));
    // An identity file that does not exist is named.
    let out = e
        .cmd(&["cat", "HEAD:people/note.txt"])
        .env("FOLIO_IDENTITY", e.p("nowhere.txt"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere.txt"));
    // A key kept inside the working tree is refused (a commit would store it).
    std::fs::copy(key("alice.txt"), e.p("alice.txt")).expect("copy");
    let out = e
        .cmd(&["cat", "HEAD:public/readme.txt"])
        .env("FOLIO_IDENTITY", e.p("alice.txt"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inside the repository"));
    std::fs::remove_file(e.p("alice.txt")).expect("rm");

    // Checkout without an identity writes nothing of the encrypted data
    // and says why; with one, it restores every byte.
    let before = std::fs::read(e.p("people/p.csv")).expect("read");
    std::fs::remove_dir_all(e.p("people")).expect("rm");
    let err = e.fails(&["checkout", "-f", "HEAD"], 1);
    assert!(err.contains("FOLIO_IDENTITY"), "{err}");
    let out = with_key(&e, "alice.txt", &["checkout", "-f", "HEAD"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(e.p("people/p.csv")).expect("read"), before);
}

#[test]
fn history_ledger_and_verify_work_without_an_identity() {
    let e = sealed_repo();
    // A writer needs only the public keys: edit one row's secret cell and
    // commit, no identity given.
    e.write(
        "people/p.csv",
        format!(
            "id,name,ssn,label\n1,ada,{},cat\n2,bob,SSN-MARK-0003,dog\n3,cy,x,cat\n",
            MARKS[0]
        )
        .as_bytes(),
    );
    e.ok(&["commit", "people", "-m", "second"]);
    assert_eq!(plaintext_in(&e.p(".folio")), Vec::<String>::new());
    assert!(e.ok(&["log"]).contains("second"));

    // diff counts the row changes from the skeletons, and shows no cell.
    let d = e.json(&["diff", "HEAD~1", "HEAD", "--json"]);
    let t = &d["tables"][0];
    assert_eq!(t["path"], "people/p.csv");
    assert_eq!(
        (t["rows_added"].as_u64(), t["rows_modified"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(t["rows"].as_array().map(Vec::len), Some(0));
    assert!(!d.to_string().contains("SSN-MARK"));
    // With an identity the same diff names the cell.
    let out = with_key(&e, "alice.txt", &["diff", "HEAD~1", "HEAD"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ssn: SSN-MARK-0002 → SSN-MARK-0003"));

    // audit and lineage read the ledger, labels included.
    let a = e.json(&["audit", "--json"]);
    let people = a["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["dataset"] == "people")
        .expect("people group");
    // note.txt and three rows; the rows are annotated from the label column.
    assert_eq!(
        (people["examples"].as_u64(), people["annotated"].as_u64()),
        (Some(4), Some(3))
    );
    let l = e.json(&["lineage", "people/p.csv:3", "--json"]);
    assert_eq!(l["label"], "cat");
    assert!(l["added_in"].is_string());

    // verify finds every encrypted object, checks its header, and says it
    // did not open it; with an identity it re-hashes every one.
    let v = e.json(&["verify", "--json"]);
    assert!(v["sealed"].as_u64().unwrap_or(0) >= 3, "{v}");
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0));
    let out = with_key(&e, "alice.txt", &["verify", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["sealed"], 0);
}

#[test]
fn a_damaged_encrypted_object_is_damage_not_a_missing_key() {
    let e = sealed_repo();
    // A big file is stored loose, as a standard age file.
    let big: Vec<u8> = crate::noise(600 * 1024, 7);
    e.write("people/scan.bin", &big);
    e.ok(&["commit", "people", "-m", "scan"]);
    let id = blake3::hash(&big).to_hex().to_string();
    let loose = e.p(&format!(".folio/objects/{}/{}.age", &id[..2], &id[2..]));
    assert!(loose.exists(), "{} is stored loose", loose.display());
    assert_eq!(plaintext_in(&e.p(".folio")), Vec::<String>::new());
    let len = std::fs::metadata(&loose).expect("meta").len() as usize;
    crate::flip_byte(&loose, len - 100);
    let out = with_key(&e, "alice.txt", &["verify"]);
    assert_eq!(
        out.status.code(),
        Some(70),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = with_key(&e, "alice.txt", &["cat", "HEAD:people/scan.bin"]);
    assert_eq!(out.status.code(), Some(70));
}

#[test]
fn encrypted_objects_open_with_the_standard_age_tool() {
    if !age_tool() {
        return;
    }
    let e = sealed_repo();
    let big: Vec<u8> = crate::noise(700 * 1024, 11);
    e.write("people/scan.bin", &big);
    e.ok(&["commit", "people", "-m", "scan"]);
    let id = blake3::hash(&big).to_hex().to_string();
    let loose = e.p(&format!(".folio/objects/{}/{}.age", &id[..2], &id[2..]));
    let out = std::process::Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(key("alice.txt"))
        .arg(&loose)
        .output()
        .expect("run age");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(blake3::hash(&out.stdout).to_hex().to_string(), id);
}

#[test]
fn push_and_clone_carry_ciphertext_and_a_clone_opens_with_an_identity() {
    let e = sealed_repo();
    // A large file is stored loose, as `<id>.age`, here and on the remote.
    let big = crate::noise(600 * 1024, 9);
    e.write("people/scan.bin", &big);
    e.ok(&["commit", "people", "-m", "scan"]);
    let remote = tempfile::tempdir().expect("tempdir");
    let url = remote.path().display().to_string();
    e.ok(&["remote", "add", "origin", &url]);
    // Pushing needs no identity: ciphertext travels as it is.
    e.ok(&["push", "origin", "main"]);
    assert_eq!(plaintext_in(remote.path()), Vec::<String>::new());

    // Without an identity a full clone is refused, says what works, and
    // leaves nothing behind.
    let none = tempfile::tempdir().expect("tempdir");
    let at_none = none.path().join("none");
    let err = e.fails(&["clone", &url, &at_none.display().to_string()], 1);
    assert!(err.contains("--no-data"), "{err}");
    assert!(!at_none.exists());
    // A history-only clone fetches the encrypted contents a checkout needs,
    // loose ones included.
    let light = tempfile::tempdir().expect("tempdir");
    let at = light.path().join("light");
    let out = e
        .cmd(&["clone", &url, &at.display().to_string(), "--no-data"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = e
        .cmd(&[
            "-C",
            &at.display().to_string(),
            "checkout",
            "-f",
            "HEAD",
            "--purpose",
            "test",
        ])
        .env("FOLIO_IDENTITY", key("alice.txt"))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(at.join("people/scan.bin")).expect("read"),
        big
    );

    let dest = tempfile::tempdir().expect("tempdir");
    let into = dest.path().join("copy");
    let out = clone_with_key(&e, &url, &into, "bob_ed25519");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(into.join("people/p.csv")).expect("read"),
        std::fs::read(e.p("people/p.csv")).expect("read")
    );
    assert_eq!(plaintext_in(&into.join(".folio")), Vec::<String>::new());
}

#[test]
fn a_sensitive_class_is_encrypted_once_recipients_are_configured() {
    let e = Env::new();
    e.write("scans/a.txt", format!("{}\n", MARKS[2]).as_bytes());
    // No recipients: a pii commit is stored as before.
    e.ok(&["commit", "scans", "--sensitivity", "pii", "-m", "plain"]);
    assert!(!plaintext_in(&e.p(".folio")).is_empty());

    let (e, _, _) = with_alice_as_recipient();
    e.write("scans/a.txt", format!("{}\n", MARKS[2]).as_bytes());
    e.ok(&["commit", "scans", "--sensitivity", "pii", "-m", "sealed"]);
    assert_eq!(plaintext_in(&e.p(".folio")), Vec::<String>::new());

    // A recipient that is no key is refused, naming the value and the file.
    let e = Env::new();
    let mut text = std::fs::read_to_string(e.p(".folio/config.toml")).expect("config");
    text += "\n[encryption]\nrecipients = [\"age1notakey\"]\n";
    std::fs::write(e.p(".folio/config.toml"), text).expect("write");
    e.write("scans/a.txt", b"x\n");
    let err = e.fails(&["commit", "scans", "-m", "x"], 1);
    assert!(
        err.contains("age1notakey") && err.contains("config.toml"),
        "{err}"
    );
}

/// Downloads every object of `bucket` into `into` with boto3 (moto's own
/// client library); returns how many there are.
pub(crate) fn download_bucket(endpoint: &str, bucket: &str, into: &Path) -> usize {
    let script = r#"
import boto3, os, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
n = 0
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2]):
    for o in page.get("Contents", []):
        dest = os.path.join(sys.argv[3], o["Key"])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        s3.download_file(sys.argv[2], o["Key"], dest)
        n += 1
print(n)
"#;
    let out =
        std::process::Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
            .args(["-c", script, endpoint, bucket])
            .arg(into)
            .output()
            .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n: usize = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a count");
    assert_eq!(walkdir(into).len(), n);
    n
}

#[test]
fn an_s3_remote_holds_only_ciphertext() {
    use crate::remote::{make_bucket, s3, s3_endpoint};
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let e = sealed_repo();
    let bucket = format!("folio-sealed-{}", std::process::id());
    make_bucket(&endpoint, &bucket);
    let url = format!("s3://{bucket}/team");
    e.ok(&["remote", "add", "origin", &url]);
    let o = s3(&e, &endpoint, &["push", "origin", "main"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Every object of the bucket, downloaded and searched for the marks.
    let down = tempfile::tempdir().expect("tempdir");
    let n = download_bucket(&endpoint, &bucket, down.path());
    assert!(n >= 3, "the push stored objects ({n})");
    assert_eq!(plaintext_in(down.path()), Vec::<String>::new());
    // A clone from S3 opens with an identity.
    let c = Env::bare();
    let dest = c.p("w");
    let o = crate::remote::s3_cmd(
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
    .env("FOLIO_IDENTITY", key("alice.txt"))
    .output()
    .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(dest.join("people/note.txt")).expect("read"),
        format!("call {}\n", MARKS[2]).as_bytes()
    );
}

/// Seconds since the epoch of a UTC date, computed here from the civil
/// calendar (days from 1970-01-01), not with folio's date code.
fn day(y: i64, m: i64, d: i64) -> i64 {
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

#[test]
fn retention_lists_examples_due_by_source_dataset_and_licence_end() {
    let e = Env::new();
    let at = |t: &str, args: &[&str]| {
        let out = e.cmd(args).env("FOLIO_NOW", t).output().expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    e.write("images/cat/1.png", b"1");
    e.write("images/cat/2.png", b"2");
    at(
        "2026-01-31T12:00:00Z",
        &["commit", "images", "--source", "s3://cams/a", "-m", "one"],
    );
    e.write("vendor/x.txt", b"x");
    at(
        "2026-02-10T00:00:00Z",
        &[
            "commit",
            "vendor",
            "--source",
            "s3://vendor-a/batch1",
            "--license",
            "EVAL-ONLY",
            "--collected-at",
            "2025-03-01",
            "-m",
            "two",
        ],
    );
    std::fs::remove_file(e.p("images/cat/2.png")).expect("rm");
    at("2026-03-01T00:00:00Z", &["commit", "-m", "three"]);

    // No rules: nothing is due, and the output says how to add some.
    assert!(e.ok(&["retention", "check"]).contains("no rules"));

    let config = e.p(".folio/config.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text += "\n[retention.sources]\n\"s3://vendor-a\" = 12\n[retention.datasets]\n\"images\" = 1\n[retention.licenses]\n\"EVAL-ONLY\" = \"2026-12-31\"\n";
    std::fs::write(&config, text).expect("write");

    // Expected, by hand: vendor/x.txt collected 2025-03-01 + 12 months =
    // 2026-03-01 (its licence ends later); the images added 2026-01-31
    // 12:00 + 1 month = 2026-02-28 12:00 (clamped to February's end); the
    // removed one is still held by history.
    let r = e.json(&["retention", "check", "--as-of", "2026-03-01", "--json"]);
    assert_eq!(
        (r["examples"].as_u64(), r["covered"].as_u64()),
        (Some(3), Some(3))
    );
    let due: Vec<(String, i64, bool, String)> = r["due"]
        .as_array()
        .expect("due")
        .iter()
        .map(|i| {
            (
                i["locator"].as_str().expect("locator").to_string(),
                i["due"].as_i64().expect("due"),
                i["present"].as_bool().expect("present"),
                i["basis"].as_str().expect("basis").to_string(),
            )
        })
        .collect();
    let feb28 = day(2026, 2, 28) + 12 * 3600;
    assert_eq!(
        due,
        vec![
            (
                "images/cat/1.png".to_string(),
                feb28,
                true,
                "added".to_string()
            ),
            (
                "images/cat/2.png".to_string(),
                feb28,
                false,
                "added".to_string()
            ),
            (
                "vendor/x.txt".to_string(),
                day(2026, 3, 1),
                true,
                "collected_at".to_string()
            ),
        ]
    );
    assert_eq!(r["as_of"].as_i64(), Some(day(2026, 3, 1)));

    // A day earlier only the images are due; --within shows the rest coming.
    let r = e.json(&[
        "retention",
        "check",
        "--as-of",
        "2026-02-28T23:00:00Z",
        "--within",
        "1",
        "--json",
    ]);
    let flags: Vec<(bool,)> = r["due"]
        .as_array()
        .expect("due")
        .iter()
        .map(|i| (i["overdue"].as_bool().expect("overdue"),))
        .collect();
    assert_eq!(flags, vec![(true,), (true,), (false,)]);

    // As a gate: exit 1 when something is due, 0 before.
    e.fails(
        &["retention", "check", "--as-of", "2026-03-01", "--exit-code"],
        1,
    );
    e.ok(&["retention", "check", "--as-of", "2026-02-01", "--exit-code"]);
    // As of the commit before the removal, the second image is present.
    let r = e.json(&[
        "retention",
        "check",
        "--rev",
        "HEAD~1",
        "--as-of",
        "2026-03-01",
        "--json",
    ]);
    assert!(
        r["due"]
            .as_array()
            .expect("due")
            .iter()
            .all(|i| i["present"] == true)
    );

    // Bad rules are refused, naming the key and the file.
    let mut text = std::fs::read_to_string(&config).expect("config");
    text = text.replace("\"images\" = 1", "\"images\" = 0");
    std::fs::write(&config, &text).expect("write");
    let err = e.fails(&["retention", "check"], 1);
    assert!(
        err.contains("datasets.\"images\" = 0") && err.contains("config.toml"),
        "{err}"
    );
    text = text
        .replace("\"images\" = 0", "\"images\" = 1")
        .replace("2026-12-31", "2026-31-12");
    std::fs::write(&config, &text).expect("write");
    let err = e.fails(&["retention", "check"], 1);
    assert!(
        err.contains("EVAL-ONLY") && err.contains("YYYY-MM-DD"),
        "{err}"
    );
}

#[test]
fn reads_of_encrypted_data_need_a_purpose_are_recorded_and_follow_grants() {
    let e = sealed_repo();
    let read = |who: &str, extra: &[&str]| {
        let mut args = vec!["cat", "HEAD:people/note.txt"];
        args.extend_from_slice(extra);
        e.cmd(&args)
            .env("FOLIO_IDENTITY", key("alice.txt"))
            .env("FOLIO_AUTHOR", who)
            .output()
            .expect("run")
    };
    // No purpose: refused, nothing printed, nothing recorded.
    let out = read("Ann <ann@x>", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--purpose"));
    assert_eq!(
        e.json(&["audit", "--access", "--json"]),
        serde_json::json!([])
    );

    // With one: read, and recorded with who, why, what and the command.
    let out = read("Ann <ann@x>", &["--purpose", "debug model 7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = e.json(&["audit", "--access", "--json"]);
    let first = &log[0];
    assert_eq!(first["kind"], "read");
    assert_eq!(first["actor"], "Ann <ann@x>");
    assert_eq!(first["why"], "debug model 7");
    let note = blake3::hash(format!("call {}\n", MARKS[2]).as_bytes())
        .to_hex()
        .to_string();
    assert_eq!(first["objects"], serde_json::json!([note]));
    assert!(
        first["command"]
            .as_str()
            .expect("command")
            .contains("cat HEAD:people/note.txt")
    );
    // Reading data that is not encrypted records nothing.
    e.ok(&["cat", "HEAD:public/readme.txt"]);
    assert_eq!(
        e.json(&["audit", "--access", "--json"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // A configured default purpose serves reads that give none.
    e.ok(&["config", "set", "access.purpose", "nightly QA"]);
    assert!(read("Ann <ann@x>", &[]).status.success());
    let log = e.json(&["audit", "--access", "--json"]);
    assert_eq!(log[1]["why"], "nightly QA");
    e.ok(&["config", "unset", "access.purpose"]);
    // --since keeps the entries from a date on (FOLIO_NOW pins both).
    assert_eq!(
        e.json(&["audit", "--access", "--since", "2026-01-16", "--json"]),
        serde_json::json!([])
    );
    assert_eq!(
        e.json(&["audit", "--access", "--since", "2026-01-15", "--json"])
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // Once a grant is recorded, reads need one: Bob's does not cover Ann.
    e.ok(&[
        "grant",
        "Bob <bob@x>",
        "--until",
        "2026-06-01",
        "--reason",
        "ticket 12",
    ]);
    let out = read("Ann <ann@x>", &["--purpose", "again"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no grant"));
    assert!(
        read("Bob <bob@x>", &["--purpose", "audit sample"])
            .status
            .success()
    );
    // A grant ends at its date (FOLIO_NOW is 2026-01-15 in these tests).
    let late = e
        .cmd(&["cat", "HEAD:people/note.txt", "--purpose", "late"])
        .env("FOLIO_IDENTITY", key("alice.txt"))
        .env("FOLIO_AUTHOR", "Bob <bob@x>")
        .env("FOLIO_NOW", "2026-06-02T00:00:00Z")
        .output()
        .expect("run");
    assert_eq!(late.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&late.stderr).contains("ended"));
    // Revoked: refused at once.
    e.ok(&["revoke", "Bob <bob@x>", "--reason", "left the team"]);
    let out = read("Bob <bob@x>", &["--purpose", "one more"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked"));
    let kinds: Vec<String> = e
        .json(&["audit", "--access", "--json"])
        .as_array()
        .expect("log")
        .iter()
        .map(|x| x["kind"].as_str().expect("kind").to_string())
        .collect();
    assert_eq!(kinds, ["read", "read", "grant", "read", "revoke"]);
    // A grant must end in the future, and revoking needs a grant.
    e.fails(
        &[
            "grant",
            "Cy <cy@x>",
            "--until",
            "2025-01-01",
            "--reason",
            "x",
        ],
        1,
    );
    e.fails(&["revoke", "Cy <cy@x>", "--reason", "x"], 1);

    // The log is tamper-evident: an edited entry is damage to verify and
    // refuses the reads that consult it.
    e.ok(&["verify"]);
    let path = e.p(".folio/access");
    let text = std::fs::read_to_string(&path).expect("log");
    std::fs::write(&path, text.replacen("ticket 12", "ticket 13", 1)).expect("write");
    let v = e.cmd(&["verify"]).output().expect("run");
    assert_eq!(v.status.code(), Some(70));
    let said = String::from_utf8_lossy(&v.stdout);
    assert!(said.contains("access log was altered or damaged"), "{said}");
    let out = read("Bob <bob@x>", &["--purpose", "after tamper"]);
    assert_eq!(
        out.status.code(),
        Some(70),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_remote_object_forged_with_the_public_key_is_refused() {
    // Anyone holding a recipient (a public key) can write a valid age file:
    // what it decrypts to must still hash to the object's id.
    if !age_tool() {
        return;
    }
    let e = sealed_repo();
    let big = crate::noise(600 * 1024, 3);
    e.write("people/scan.bin", &big);
    e.ok(&["commit", "people", "-m", "scan"]);
    let remote = tempfile::tempdir().expect("tempdir");
    let url = remote.path().display().to_string();
    e.ok(&["remote", "add", "origin", &url]);
    e.ok(&["push", "origin", "main"]);
    let id = blake3::hash(&big).to_hex().to_string();
    let stored = remote
        .path()
        .join(format!("objects/{}/{}.age", &id[..2], &id[2..]));
    assert!(stored.exists(), "{} on the remote", stored.display());
    // Replace it with other bytes sealed to the same recipient.
    let forged_plain = e.p("forged.bin");
    std::fs::write(&forged_plain, crate::noise(600 * 1024, 4)).expect("write");
    let out = std::process::Command::new("age")
        .arg("-r")
        .arg(key_text("alice.pub"))
        .arg("-o")
        .arg(&stored)
        .arg(&forged_plain)
        .output()
        .expect("run age");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dest = tempfile::tempdir().expect("tempdir");
    let into = dest.path().join("copy");
    let out = clone_with_key(&e, &url, &into, "alice.txt");
    assert_eq!(
        out.status.code(),
        Some(70),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!into.exists(), "a refused clone leaves nothing behind");
}

#[test]
fn rows_of_an_encrypted_table_are_purged_with_an_identity_and_the_rest_stays_sealed() {
    let e = sealed_repo();
    // Purging what is not encrypted needs no identity, encrypted tables
    // beside it or not.
    e.ok(&["purge", "public/readme.txt", "--reason", "not ours"]);
    // Without an identity the rows kept could not be sealed again: refused.
    let state = e.repo_state();
    let err = e.fails(&["purge", "people/p.csv:1", "--reason", "erasure"], 1);
    assert!(err.contains("FOLIO_IDENTITY"), "{err}");
    assert_eq!(e.repo_state(), state, "nothing was written");
    let out = with_key(
        &e,
        "alice.txt",
        &[
            "purge",
            "people/p.csv:1",
            "people/note.txt",
            "--reason",
            "erasure",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing in the clear: not the purged row, not the one kept.
    assert_eq!(plaintext_in(&e.p(".folio")), Vec::<String>::new());
    // The kept row opens with the identity; the purged one is gone.
    let out = with_key(&e, "alice.txt", &["export", "HEAD", "people/p.csv"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.contains(MARKS[1]) && !csv.contains(MARKS[0]), "{csv}");
    // History, the ledger and verify still need no identity.
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().expect("list").len(), 0, "{v}");
    let l = e.ok(&["lineage", "people/p.csv:1"]);
    assert!(l.contains("purged"), "{l}");
}

#[test]
fn a_grant_for_some_classes_opens_only_data_of_those_classes() {
    let e = sealed_repo();
    e.ok(&["classify", "people/note.txt", "--sensitivity", "pii"]);
    e.ok(&[
        "grant",
        "Cy <cy@x>",
        "--until",
        "2026-06-01",
        "--reason",
        "DPO approval 7",
        "--class",
        "PII",
    ]);
    let read = |path: &str| {
        e.cmd(&["cat", path, "--purpose", "check"])
            .env("FOLIO_IDENTITY", key("alice.txt"))
            .env("FOLIO_AUTHOR", "Cy <cy@x>")
            .output()
            .expect("run")
    };
    // The note is pii: it opens.
    let ok = read("HEAD:people/note.txt");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains(MARKS[2]));
    // The table's rows are unclassified: refused, naming the class.
    let no = read("HEAD:people/p.csv");
    assert_eq!(no.status.code(), Some(1));
    let err = String::from_utf8_lossy(&no.stderr);
    assert!(err.contains("unclassified") && err.contains("pii"), "{err}");
    assert!(no.stdout.is_empty());
    // Every row classified pii: the table opens too.
    e.ok(&["classify", "people/p.csv:1", "--sensitivity", "pii"]);
    e.ok(&["classify", "people/p.csv:2", "--sensitivity", "pii"]);
    let ok = read("HEAD:people/p.csv");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // The access log says what the grant covers.
    let log = e.json(&["audit", "--access", "--json"]);
    let grant = log
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["kind"] == "grant")
        .expect("a grant");
    assert_eq!(grant["classes"], serde_json::json!(["pii"]));
    assert!(e.ok(&["audit", "--access"]).contains("(pii only)"));
    e.ok(&["verify"]);
}
