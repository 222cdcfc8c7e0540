//! `folio purge` (D86): the content of purged examples is in no file under
//! `.folio/` or a remote (a marker planted in them is grepped for), while
//! commit ids, proofs and `verify` keep working.

use crate::{Env, walkdir};

/// Planted in the content purged; found nowhere afterwards.
const MARKER: &[u8] = b"ZQXMARKERZQX";

/// Every file under `dir` whose bytes hold the marker (raw, or in any
/// zstd frame a pack or loose object holds it in).
fn holders(dir: &std::path::Path) -> Vec<String> {
    walkdir(dir)
        .into_iter()
        .filter(|p| {
            let b = std::fs::read(p).unwrap_or_default();
            contains(&b, MARKER) || zstd_frames(&b).iter().any(|f| contains(f, MARKER))
        })
        .map(|p| p.display().to_string())
        .collect()
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every zstd frame found in `b`, decoded (packs compress records one by
/// one: a marker inside a compressed record is not in the raw bytes).
pub(crate) fn zstd_frames(b: &[u8]) -> Vec<Vec<u8>> {
    use std::io::Read;
    let magic = [0x28, 0xb5, 0x2f, 0xfd];
    let mut out = Vec::new();
    for i in 0..b.len().saturating_sub(4) {
        if b[i..i + 4] == magic
            && let Ok(d) = zstd::stream::read::Decoder::new(&b[i..])
        {
            // One frame; what it decodes before any error counts.
            let mut frame = Vec::new();
            let _ = d.single_frame().read_to_end(&mut frame);
            out.push(frame);
        }
    }
    out
}

/// A table keyed by id with the marker in row 7's name, a file holding the
/// marker, history of three commits, and a branch that edits row 7 again.
fn project() -> Env {
    let e = Env::new();
    let table = |edit: &str| {
        let mut s = String::from("id,name,label\n");
        for i in 0..300 {
            let name = if i == 7 {
                format!("{}{edit}", String::from_utf8_lossy(MARKER))
            } else {
                format!("person{i}")
            };
            s += &format!("{i},{name},{}\n", if i % 2 == 0 { "a" } else { "b" });
        }
        s
    };
    e.write(
        ".folio/config.toml",
        b"[tables.\"people/people.csv\"]\nkey = [\"id\"]\n[tables.\"people/people.csv\".meta]\nlabel = \"label\"\n",
    );
    e.write("people/people.csv", table("").as_bytes());
    e.write("scans/a.txt", &[MARKER, b" scan of person 7"].concat());
    e.write("scans/b.txt", b"another scan");
    e.ok(&["commit", "people", "scans", "-m", "one"]);
    e.write("people/people.csv", table(" v2").as_bytes());
    e.ok(&["commit", "people", "-m", "two"]);
    e.ok(&["branch", "side"]);
    e.ok(&["switch", "side"]);
    e.write("people/people.csv", table(" side").as_bytes());
    e.ok(&["commit", "people", "-m", "side"]);
    e.ok(&["switch", "main"]);
    e
}

/// The project pushed (every branch) to a folder remote, and a clone of it.
fn pushed_and_cloned() -> (Env, tempfile::TempDir, String, Env) {
    let e = project();
    let remote = tempfile::tempdir().expect("remote");
    let url = remote.path().display().to_string();
    e.ok(&["remote", "add", "origin", &url]);
    e.ok(&["push", "--all"]);
    let other = Env::bare();
    e.cmd(&["clone", &url, &other.path().display().to_string()])
        .assert()
        .success();
    (e, remote, url, other)
}

/// Commit ids of every branch's history, oldest last.
fn history(e: &Env) -> Vec<String> {
    let mut out = Vec::new();
    for b in ["main", "side"] {
        for c in e.json(&["log", b, "--json"]).as_array().expect("list") {
            out.push(c["id"].as_str().expect("id").to_string());
        }
    }
    out
}

#[test]
fn a_purge_erases_files_and_rows_from_every_snapshot_and_keeps_ids_and_proofs() {
    let e = project();
    // Drift caches column profiles of both versions under .folio/profiles.
    e.ok(&["drift", "HEAD~1", "HEAD"]);
    let profiles = || walkdir(&e.p(".folio/profiles")).len();
    assert!(profiles() > 0, "profiles are cached before");
    assert!(
        !holders(&e.p(".folio")).is_empty(),
        "the marker is stored before"
    );
    let before = history(&e);
    // A dry run changes nothing.
    let state = e.repo_state();
    let dry = e.json(&[
        "purge",
        "people/people.csv:7",
        "scans/a.txt",
        "--dry-run",
        "--json",
    ]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["examples"].as_array().expect("list").len(), 2);
    assert_eq!(e.repo_state(), state, "a dry run writes nothing");
    // Without a reason: refused.
    e.fails(&["purge", "people/people.csv:7"], 2);
    let r = e.json(&[
        "purge",
        "people/people.csv:7",
        "scans/a.txt",
        "--reason",
        "Art. 17 request 41",
        "--json",
    ]);
    // Row 7 had three versions (main twice, side once), the file one.
    assert_eq!(r["rows"], 3, "{r}");
    assert_eq!(r["files"], 1);
    assert_eq!(r["commits"], 3);
    // The working tree still held both: said so.
    let wt: Vec<&str> = r["working_tree"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(wt, ["people/people.csv", "scans/a.txt"]);
    assert_eq!(holders(&e.p(".folio")), Vec::<String>::new());
    assert_eq!(profiles(), 0, "the purge clears the profile cache");
    assert!(r["caches_cleared"].as_u64().expect("n") > 0);
    // Ids unchanged; verify clean, counting the purged apart.
    assert_eq!(history(&e), before);
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().expect("list").len(), 0, "{v}");
    assert!(v["purged"].as_u64().expect("n") >= 4, "{v}");
    // The proof is not over while the working tree holds it.
    e.fails(
        &["purge", "--verify", "people/people.csv:7", "scans/a.txt"],
        1,
    );
    e.ok(&["restore", "people", "scans"]);
    assert!(
        !e.p("scans/a.txt").exists(),
        "restore removes a purged file"
    );
    let csv = std::fs::read_to_string(e.p("people/people.csv")).expect("csv");
    assert!(!csv.contains("ZQXMARKERZQX"));
    assert_eq!(csv.lines().count(), 300, "299 rows kept and the header");
    assert!(csv.contains("\n8,person8,a\n"));
    e.ok(&["purge", "--verify", "people/people.csv:7", "scans/a.txt"]);
    // Status says which changes only follow from the purge.
    let st = e.json(&["status", "--json"]);
    let purged: Vec<&str> = st["datasets"]
        .as_array()
        .expect("list")
        .iter()
        .flat_map(|d| d["purged"].as_array().expect("list").iter())
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(purged, ["people.csv", "a.txt"], "{st}");
    // Old snapshots: the rest written, the purged listed.
    let out = e.ok(&["checkout", "-f", "HEAD~1"]);
    assert!(
        out.contains("1 file purged, not written: scans/a.txt"),
        "{out}"
    );
    assert!(
        out.contains("rows were purged from people/people.csv"),
        "{out}"
    );
    assert!(e.p("scans/b.txt").exists());
    e.ok(&["switch", "-f", "main"]);
    // The ledger says so, and proofs still check: of a kept row, and of
    // the purged one (its evidence: the redacted chunk and the record).
    let l = e.ok(&["lineage", "people/people.csv:7"]);
    assert!(l.contains("purged"), "{l}");
    for ex in ["people/people.csv:8", "people/people.csv:7"] {
        std::fs::write(e.p("proof.json"), e.ok(&["prove", ex])).expect("proof");
        let ok = e.ok(&["verify-proof", "proof.json"]);
        assert!(ok.starts_with("valid:"), "{ok}");
    }
    // Diff of the versions that held row 7 shows it purged, not its cells.
    let d = e.ok(&["diff", "HEAD~1", "HEAD", "--", "people/people.csv"]);
    assert!(d.contains("~ 7  (purged; row hash"), "{d}");
    // `cat` of a purged version of the table writes the rows kept.
    let old = e.ok(&["cat", "HEAD~1:people/people.csv"]);
    assert_eq!(old.lines().count(), 300, "299 rows and the header");
    assert!(!old.contains("ZQXMARKERZQX"));
    // Export leaves it out and says so.
    let (rows, hint) = e.ok_raw(&["export", "HEAD", "people/people.csv"]);
    assert_eq!(String::from_utf8(rows).expect("utf-8").lines().count(), 300);
    assert!(hint.contains("1 row purged"), "{hint}");
    // gc keeps what the purge left in place.
    e.ok(&["gc", "--prune"]);
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().expect("list").len(), 0, "{v}");
    assert_eq!(holders(&e.p(".folio")), Vec::<String>::new());
}

#[test]
fn purged_content_is_never_committed_again() {
    let e = project();
    e.ok(&[
        "purge",
        "people/people.csv:7",
        "scans/a.txt",
        "--reason",
        "erasure",
    ]);
    let state = e.repo_state();
    // The working tree still holds both; touched, they are hashed again.
    let mut csv = std::fs::read_to_string(e.p("people/people.csv")).expect("csv");
    csv = csv.replace("person9,", "person9 edited,");
    e.write("people/people.csv", csv.as_bytes());
    let err = e.fails(&["commit", "people", "-m", "again"], 1);
    assert!(err.contains("row 7 was purged"), "{err}");
    e.write("scans/a.txt", &[MARKER, b" scan of person 7"].concat());
    let err = e.fails(&["commit", "scans", "-m", "again"], 1);
    assert!(err.contains("scans/a.txt holds content purged"), "{err}");
    // Nothing was stored: the same objects, refs and no marker.
    let now: Vec<String> = e
        .repo_state()
        .into_iter()
        .filter(|l| !l.contains("/oplog ") && !l.contains("/pending"))
        .collect();
    let was: Vec<String> = state
        .into_iter()
        .filter(|l| !l.contains("/oplog ") && !l.contains("/pending"))
        .collect();
    assert_eq!(now, was);
    assert_eq!(holders(&e.p(".folio")), Vec::<String>::new());
}

#[test]
fn push_carries_a_purge_to_the_remote_and_fetch_applies_it() {
    let (e, remote, url, other) = pushed_and_cloned();
    assert!(!holders(remote.path()).is_empty());
    e.ok(&[
        "purge",
        "people/people.csv:7",
        "scans/a.txt",
        "--reason",
        "erasure",
    ]);
    // The purge travels even when no branch moves.
    let p = e.json(&["push", "--json"]);
    assert_eq!(p["purges"].as_array().expect("list").len(), 1, "{p}");
    assert_eq!(holders(remote.path()), Vec::<String>::new());
    // A clone that has not fetched since pushes a branch of its own: the
    // remote's purge applies there first, and nothing purged goes back.
    other.write("scans/c.txt", b"a third scan");
    other.ok(&["branch", "late"]);
    other.ok(&["switch", "late"]);
    other.ok(&["commit", "scans", "-m", "late work"]);
    let out = other.ok(&["push", "origin", "late"]);
    assert!(
        out.contains("applied the remote's 1 purge here first"),
        "{out}"
    );
    assert_eq!(holders(remote.path()), Vec::<String>::new());
    assert_eq!(holders(&other.p(".folio")), Vec::<String>::new());
    other.ok(&["switch", "main"]);
    e.ok(&["restore", "people", "scans"]);
    e.ok(&["commit", "people", "scans", "-m", "after the purge"]);
    e.ok(&["push"]);
    // The other clone fetches: history moves on, its copies are gone.
    other.ok(&["fetch"]);
    assert_eq!(holders(&other.p(".folio")), Vec::<String>::new());
    other.ok(&["pull"]);
    let v = other.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().expect("list").len(), 0, "{v}");
    other.ok(&["purge", "--verify", "people/people.csv:7", "scans/a.txt"]);
    // A fresh clone of the remote verifies and holds none of it.
    let third = Env::bare();
    e.cmd(&["clone", &url, &third.path().display().to_string()])
        .assert()
        .success();
    let v = third.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().expect("list").len(), 0, "{v}");
    assert_eq!(holders(third.path()), Vec::<String>::new());
}

#[test]
fn purge_over_s3_leaves_no_copy_in_the_bucket() {
    let Some(endpoint) = crate::remote::s3_endpoint() else {
        return;
    };
    crate::remote::make_bucket(&endpoint, "purge-test");
    let e = project();
    let run = |args: &[&str]| {
        let out = crate::remote::s3(&e, &endpoint, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    run(&["remote", "add", "origin", "s3://purge-test/repo"]);
    run(&["push", "--all"]);
    e.ok(&[
        "purge",
        "people/people.csv:7",
        "scans/a.txt",
        "--reason",
        "erasure",
    ]);
    run(&["push"]);
    // Every object of the bucket, read through the S3 API.
    let list = std::process::Command::new("curl")
        .args(["-sf", &format!("{endpoint}/purge-test?list-type=2")])
        .output()
        .expect("curl");
    let listing = String::from_utf8_lossy(&list.stdout).into_owned();
    let keys: Vec<&str> = listing
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .collect();
    assert!(keys.iter().any(|k| k.contains("/purges/")), "{listing}");
    for k in keys {
        let body = std::process::Command::new("curl")
            .args(["-sf", &format!("{endpoint}/purge-test/{k}")])
            .output()
            .expect("curl")
            .stdout;
        assert!(
            !contains(&body, MARKER) && !zstd_frames(&body).iter().any(|f| contains(f, MARKER)),
            "{k} holds purged content"
        );
    }
}

#[test]
fn tampering_with_purges_is_caught_by_verify() {
    let e = project();
    e.ok(&["purge", "scans/a.txt", "--reason", "erasure"]);
    e.ok(&["verify"]);
    // A record slipped into the list that no `purged` event names.
    let list = std::fs::read_to_string(e.p(".folio/purges")).expect("list");
    let record = list.trim().to_string();
    let forged = format!("{list}{}\n", "ab".repeat(32));
    std::fs::write(e.p(".folio/purges"), forged).expect("write");
    let out = e.cmd(&["verify"]).output().expect("run");
    assert_eq!(out.status.code(), Some(70));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("purge record abababababab"), "{text}");
    std::fs::write(e.p(".folio/purges"), &list).expect("write");
    e.ok(&["verify"]);
    // The record's bytes damaged in its pack.
    let (pack, off) = crate::pack_record(&e, &record);
    crate::flip_byte(&pack, off as usize + 60);
    e.fails(&["verify"], 70);
}

#[test]
fn an_interrupted_purge_is_finished_by_gc_and_never_reads_erased_content() {
    let e = project();
    let out = e
        .cmd(&["purge", "scans/a.txt", "--reason", "erasure"])
        .env("FOLIO_FAILPOINT", "purge:recorded")
        .output()
        .expect("run");
    assert!(!out.status.success(), "the failpoint stops it");
    // The record is in force: the content is not served though a copy
    // remains, and verify names the leftover.
    let err = e.fails(&["cat", "HEAD:scans/a.txt"], 1);
    assert!(err.contains("was purged"), "{err}");
    let out = e.cmd(&["verify"]).output().expect("run");
    assert_eq!(out.status.code(), Some(70));
    assert!(String::from_utf8_lossy(&out.stdout).contains("gc --prune"));
    e.ok(&["gc", "--prune"]);
    // No copy left; (the interrupted command's ledger write, not yet
    // journalled, is reported until the next commit, as for any.)
    let v = e.cmd(&["verify", "--json"]).output().expect("run");
    let v: serde_json::Value = serde_json::from_slice(&v.stdout).expect("json");
    let problems = v["problems"].as_array().expect("list");
    assert!(
        problems
            .iter()
            .all(|p| !p["detail"].as_str().unwrap_or("").contains("purged object")),
        "{v}"
    );
    e.ok(&["restore", "scans"]);
    e.ok(&["purge", "--verify", "scans/a.txt"]);
}

#[test]
fn retention_apply_purges_what_is_due_and_nothing_else() {
    let e = project();
    e.ok(&["config", "set", "retention.datasets.scans", "1"]);
    // Added 2026-01-15 (the pinned clock): due 2026-02-15.
    let early = e.json(&["retention", "check", "--as-of", "2026-02-01", "--json"]);
    assert_eq!(early["due"].as_array().expect("list").len(), 0);
    let out = e.ok(&["retention", "check", "--as-of", "2026-02-01", "--apply"]);
    assert!(out.contains("nothing is due"), "{out}");
    let dry = e.ok(&[
        "retention",
        "check",
        "--as-of",
        "2026-03-01",
        "--apply",
        "--dry-run",
    ]);
    assert!(dry.contains("dry run: would purge 2 examples"), "{dry}");
    assert!(!holders(&e.p(".folio")).is_empty());
    let out = e.ok(&["retention", "check", "--as-of", "2026-03-01", "--apply"]);
    assert!(out.contains("purged 2 examples (2 files, 0 rows)"), "{out}");
    // The scans are gone from the store (proven once the working tree
    // lets go of them); the table's rows are kept.
    e.fails(&["purge", "--verify", "scans/a.txt", "scans/b.txt"], 1);
    e.ok(&["restore", "scans"]);
    e.ok(&["purge", "--verify", "scans/a.txt", "scans/b.txt"]);
    e.fails(&["cat", "HEAD:scans/b.txt"], 1);
    e.ok(&["cat", "HEAD:people/people.csv"]);
    let after = e.json(&["retention", "check", "--as-of", "2026-03-01", "--json"]);
    assert_eq!(after["due"].as_array().expect("list").len(), 0, "{after}");
    assert_eq!(after["purged"], 2);
    let l = e.json(&["purge", "--list", "--json"]);
    assert!(
        l[0]["reason"]
            .as_str()
            .expect("reason")
            .contains("datasets.\"scans\" = 1 months"),
        "{l}"
    );
    e.ok(&["verify"]);
}

#[test]
fn a_forged_purge_on_a_remote_is_refused_and_erases_nothing() {
    let (_e, remote, _, other) = pushed_and_cloned();
    let before = holders(&other.p(".folio")).len();
    // A record whose bytes do not hash to its name, then one that does but
    // is not a purge record: both refused as damage, nothing applied.
    let forged = b"folio-purge 1\n{\"actor\":\"x\"}";
    let named = blake3::hash(b"something else").to_hex().to_string();
    std::fs::create_dir_all(remote.path().join("purges")).expect("mkdir");
    std::fs::write(remote.path().join("purges").join(&named), forged).expect("write");
    let err = other.fails(&["fetch"], 70);
    assert!(err.contains("does not hash to its name"), "{err}");
    std::fs::remove_file(remote.path().join("purges").join(&named)).expect("rm");
    let named = blake3::hash(forged).to_hex().to_string();
    std::fs::write(remote.path().join("purges").join(&named), forged).expect("write");
    let err = other.fails(&["fetch"], 70);
    assert!(err.contains("purge record"), "{err}");
    assert!(!other.p(".folio/purges").exists());
    assert_eq!(holders(&other.p(".folio")).len(), before);
    other.ok(&["verify"]);
}

#[test]
fn a_copy_of_a_purged_file_under_another_path_is_purged_with_it_and_named() {
    let e = Env::new();
    let scan = [MARKER, b" the same scan"].concat();
    e.write("scans/a.txt", &scan);
    e.write("backup/a-copy.txt", &scan);
    e.write("backup/other.txt", b"unrelated");
    e.ok(&["commit", "scans", "backup", "-m", "one"]);
    let r = e.json(&["purge", "scans/a.txt", "--reason", "erasure", "--json"]);
    let mut named: Vec<&str> = r["examples"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|x| x["locator"].as_str())
        .collect();
    named.sort_unstable();
    assert_eq!(named, ["backup/a-copy.txt", "scans/a.txt"], "{r}");
    assert_eq!(holders(&e.p(".folio")), Vec::<String>::new());
    let l = e.ok(&["lineage", "backup/a-copy.txt"]);
    assert!(l.contains("purged:"), "{l}");
    e.ok(&["cat", "HEAD:backup/other.txt"]);
    e.ok(&["verify"]);
}

#[test]
fn bad_purge_requests_are_refused_naming_what_to_do_and_change_nothing() {
    let e = project();
    let state = e.repo_state();
    for (args, says) in [
        (
            &["purge", "nosuch.txt", "--reason", "x"][..],
            "no example matches 'nosuch.txt'",
        ),
        (
            &["purge", "--from", "missing.txt", "--reason", "x"][..],
            "missing.txt",
        ),
        (
            &["purge", "scans/a.txt", "--reason", " "][..],
            "needs a reason",
        ),
        (
            &["purge", "--where-label", "nosuch", "--reason", "x"][..],
            "no example of the ledger matches",
        ),
        (&["purge", "--verify", "scans/a.txt"][..], "never purged"),
        (&["retention", "check", "--apply"][..], "no retention rules"),
    ] {
        let err = e.fails(args, 1);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(e.repo_state(), state, "nothing written");
}
