//! `log`, `show`, revisions, branches and tags.

use crate::{Env, redact};

fn three_commits() -> Env {
    let e = Env::new();
    e.write("data/a.txt", b"one");
    e.ok(&["commit", "data", "-m", "first"]);
    e.write("data/a.txt", b"two");
    e.ok(&["commit", "-m", "second"]);
    e.write("other/b.txt", b"b");
    e.ok(&["commit", "other", "-m", "third"]);
    e
}

#[test]
fn log_lists_newest_first_and_limits() {
    let e = three_commits();
    let log = e.json(&["log", "--json"]);
    let msgs: Vec<&str> = log
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["message"].as_str())
        .collect();
    assert_eq!(msgs, ["third", "second", "first"]);
    assert_eq!(
        e.json(&["log", "-n", "1", "--json"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let only_data = e.json(&["log", "data", "--json"]);
    assert_eq!(only_data.as_array().map(Vec::len), Some(2));
    let one_file = e.json(&["log", "other/b.txt", "--json"]);
    assert_eq!(one_file[0]["message"], "third");
}

#[test]
fn revisions_resolve() {
    let e = three_commits();
    let log = e.json(&["log", "--json"]);
    let first = log[2]["id"].as_str().expect("id").to_string();
    for rev in ["HEAD~2", "main~2", "HEAD~1~1", &first, &first[..8]] {
        let show = e.json(&["show", rev, "--json"]);
        assert_eq!(show["id"], first.as_str(), "{rev}");
    }
    let err = e.fails(&["show", "HEAD~3"], 1);
    assert!(err.contains("unknown revision"), "{err}");
    let err = e.fails(&["show", "nope"], 1);
    assert!(err.contains("unknown revision 'nope'"), "{err}");
}

#[test]
fn show_reports_counts_and_changes() {
    let e = three_commits();
    let out = e.ok(&["show", "HEAD~1"]);
    insta::assert_snapshot!(redact(&out), @r"
    commit [ID]
    Parent: [ID]
    Author: Test Author <test@example.com>
    Date:   2026-01-15 10:00:00 UTC

        second

    Datasets:
      data                           folder            1 files          3 B  [SHORT]

    Changes against the parent:
      data: 0 added, 1 modified, 0 deleted
    ");
}

#[test]
fn branches_and_tags() {
    let e = three_commits();
    e.ok(&["branch", "exp", "--at", "HEAD~1"]);
    e.ok(&["tag", "v1", "HEAD~2"]);
    let branches = e.json(&["branch", "--json"]);
    assert_eq!(branches.as_array().map(Vec::len), Some(2));
    assert_eq!(branches[1]["name"], "main");
    assert_eq!(branches[1]["current"], true);
    let v1 = e.json(&["show", "v1", "--json"]);
    assert_eq!(v1["message"], "first");
    let exp = e.json(&["show", "exp", "--json"]);
    assert_eq!(exp["message"], "second");
    let err = e.fails(&["branch", "exp"], 1);
    assert!(err.contains("already exists"), "{err}");
    let err = e.fails(&["branch", "bad..name"], 1);
    assert!(err.contains("not a valid name"), "{err}");
    let err = e.fails(&["branch", "-d", "main"], 1);
    assert!(err.contains("HEAD is on it"), "{err}");
    e.ok(&["branch", "-d", "exp"]);
    assert_eq!(
        e.json(&["branch", "--json"]).as_array().map(Vec::len),
        Some(1)
    );
}

#[test]
fn log_shows_the_branches_and_tags_at_each_commit() {
    let e = Env::new();
    e.write("img/a.png", b"a");
    e.ok(&["commit", "img", "-m", "one"]);
    e.write("img/b.png", b"b");
    e.ok(&["commit", "img", "-m", "two"]);
    e.ok(&["tag", "v1", "HEAD~1"]);
    e.ok(&["branch", "feature"]);
    let out = e.ok(&["log"]);
    let heads: Vec<&str> = out.lines().filter(|l| l.starts_with("commit ")).collect();
    assert_eq!(heads.len(), 2, "{out}");
    assert!(heads[0].ends_with(" (HEAD -> main, feature)"), "{out}");
    assert!(heads[1].ends_with(" (tag: v1)"), "{out}");
    let plain = e.ok(&["log", "--no-decorate"]);
    assert!(!plain.contains("HEAD ->"), "{plain}");
    let json = e.json(&["log", "--json"]);
    assert_eq!(
        json[0]["refs"],
        serde_json::json!(["HEAD -> main", "feature"])
    );
    assert_eq!(json[1]["refs"], serde_json::json!(["tag: v1"]));
    // Detached: HEAD alone.
    e.ok(&["checkout", "v1"]);
    let out = e.ok(&["log", "-n", "1"]);
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.ends_with("(HEAD, tag: v1)")),
        "{out}"
    );
}

#[test]
fn status_lists_at_most_limit_paths_and_quiet_init_says_nothing() {
    let e = Env::bare();
    let (stdout, stderr) = e.ok_raw(&["-q", "init"]);
    assert!(stdout.is_empty() && stderr.is_empty(), "-q init is silent");
    e.write("img/0.png", b"0");
    // -q commit prints its result alone: the new commit's id.
    let (stdout, stderr) = e.ok_raw(&["-q", "commit", "img", "-m", "one"]);
    let id = String::from_utf8(stdout).expect("utf-8");
    assert_eq!(
        id.trim_end(),
        e.json(&["show", "HEAD", "--json"])["id"]
            .as_str()
            .expect("id"),
        "{stderr}"
    );
    assert!(stderr.is_empty(), "{stderr}");
    for i in 1..=25 {
        e.write(&format!("img/{i:02}.png"), i.to_string().as_bytes());
    }
    let listed = |out: &str| out.lines().filter(|l| l.starts_with("  added")).count();
    let out = e.ok(&["status"]);
    assert_eq!(listed(&out), 20, "{out}");
    assert!(out.contains("… 5 more added"), "{out}");
    let out = e.ok(&["status", "--limit", "3"]);
    assert_eq!(listed(&out), 3, "{out}");
    assert!(out.contains("… 22 more added"), "{out}");
    let out = e.ok(&["status", "--all"]);
    assert_eq!(listed(&out), 25, "{out}");
    let json = e.json(&["status", "--json"]);
    assert_eq!(
        json["datasets"][0]["added"].as_array().map(Vec::len),
        Some(25),
        "JSON lists every path"
    );
}

#[test]
fn log_and_show_json_give_the_ledger_head_proofs_check_against() {
    let e = Env::new();
    e.write("img/a.png", b"a");
    e.write("img/b.png", b"b");
    e.ok(&["commit", "img", "-m", "one"]);
    let log = e.json(&["log", "--json"]);
    let head = &log[0]["ledger"];
    let proof = e.json(&["prove", "img/a.png"]);
    assert_eq!(head["events"], proof["size"], "{head} {proof}");
    assert_eq!(head["root"], proof["root"]);
    let show = e.json(&["show", "HEAD", "--json"]);
    assert_eq!(show["ledger"], *head);
}

#[test]
fn annotated_tags_record_who_when_and_why() {
    let e = three_commits();
    let first = e.json(&["show", "HEAD~2", "--json"])["id"]
        .as_str()
        .expect("id")
        .to_string();
    e.cmd(&[
        "tag",
        "v1",
        "HEAD~2",
        "-m",
        "Release 1\n\nAudited by finance.",
        "--author",
        "Grace <grace@example.com>",
    ])
    .env("FOLIO_NOW", "2026-03-01T09:30:00Z")
    .assert()
    .success();
    e.ok(&["tag", "light"]);
    // The list: annotated or not, with the first line of the message.
    let list = e.ok(&["tag"]);
    assert!(list.contains("v1 "), "{list}");
    assert!(
        list.lines()
            .any(|l| l.contains(&first[..12]) && l.ends_with("Release 1")),
        "{list}"
    );
    assert!(!list.contains("Audited"), "{list}");
    assert!(e.ok(&["tag", "-n"]).contains("Audited by finance."));
    let tags = e.json(&["tag", "--json"]);
    let v1 = tags
        .as_array()
        .expect("tags")
        .iter()
        .find(|t| t["name"] == "v1")
        .expect("v1")
        .clone();
    assert_eq!(v1["annotated"], true, "{v1}");
    assert_eq!(v1["commit"], first.as_str());
    assert_eq!(v1["tagger"], "Grace <grace@example.com>");
    // 2026-03-01T09:30:00Z, counted here: 56 years of days to 2026-01-01
    // (14 of them leap), then January and February.
    let days = 56 * 365 + 14 + 31 + 28;
    assert_eq!(v1["time"], days * 86_400 + 9 * 3600 + 30 * 60, "{v1}");
    assert_eq!(v1["message"], "Release 1\n\nAudited by finance.");
    let light = tags[0].clone();
    assert_eq!(
        (&light["name"], &light["annotated"], &light["message"]),
        (&"light".into(), &false.into(), &serde_json::Value::Null)
    );
    // `show` of the tag names the tagger and the message, then the commit.
    let shown = e.ok(&["show", "v1"]);
    assert!(
        shown.starts_with("tag v1\nTagger: Grace <grace@example.com>\nDate:   2026-03-01 09:30:00 UTC\n\n    Release 1\n"),
        "{shown}"
    );
    assert!(shown.contains(&format!("commit {first}")), "{shown}");
    assert_eq!(
        e.json(&["show", "v1", "--json"])["tag"]["tagger"],
        "Grace <grace@example.com>"
    );
    assert!(e.json(&["show", "light", "--json"])["tag"].is_null());
    // A blank message is refused; nothing is written.
    let err = e.fails(&["tag", "v2", "-m", "  "], 1);
    assert!(err.contains("the tag message is empty"), "{err}");
    assert_eq!(e.json(&["tag", "--json"]).as_array().map(Vec::len), Some(2));
    // The tag object survives gc, verify checks it, and undo brings a
    // deleted annotated tag back with its message.
    e.ok(&["gc", "--prune"]);
    assert!(e.ok(&["verify"]).contains("no problems"));
    e.ok(&["tag", "-d", "v1"]);
    e.ok(&["undo"]);
    assert_eq!(
        e.json(&["show", "v1", "--json"])["tag"]["message"],
        "Release 1\n\nAudited by finance."
    );
    // A tag file pointing its object at another commit is damage.
    let text = std::fs::read_to_string(e.p(".folio/refs/tags/v1")).expect("ref");
    let object = text.split_whitespace().nth(1).expect("object").to_string();
    let head = e.json(&["show", "HEAD", "--json"])["id"]
        .as_str()
        .expect("id")
        .to_string();
    std::fs::write(e.p(".folio/refs/tags/v1"), format!("{head} {object}\n")).expect("write");
    let out = e.cmd(&["verify"]).output().expect("verify");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(70), "{text}");
    assert!(
        text.contains("refs/tags/v1: its tag object") && text.contains("it names tag \"v1\" at"),
        "{text}"
    );
    // gc refuses to run on it rather than guess.
    e.fails(&["gc"], 70);
}
