//! Every documented JSON output (docs/json/NAME.schema.json) checked
//! against the real output of its command, by an independent validator
//! (Python's `jsonschema`, draft 2020-12: tests/check_json_schemas.py).

use super::Env;

/// Runs each command with `--json` on a repository that exercises its
/// fields (annotators, costs, a linked table, a book policy) and checks
/// every output against its schema.
#[test]
fn every_json_output_matches_its_documented_schema() {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"labels.csv\"]\nkey = [\"id\"]\nlinks = { column = \"path\", dataset = \"images\" }\n[tables.\"labels.csv\".meta]\nlabel = \"label\"\nannotator = \"annotator\"\nconfidence = \"confidence\"\ncost = \"cost\"\n[tables.\"t.csv\".meta]\nsource = \"src\"\nlicense = \"lic\"\n",
    );
    e.write("images/cat/1.png", b"c1");
    e.write("images/dog/1.png", b"d1");
    e.write(
        "labels.csv",
        b"id,path,label,annotator,confidence,cost\n1,cat/1.png,cat,ann,0.9,0.10\n2,dog/1.png,dog,bob,0.4,0.20\n",
    );
    e.write("t.csv", b"id,x,src,lic\n1,0.5,s3://a,CC0\n2,1.5,,\n");
    let outputs = tempfile::tempdir().expect("tempdir");
    let save = |name: &str, args: &[&str]| {
        let out = e.ok(args);
        std::fs::write(outputs.path().join(format!("{name}.json")), out).expect("write");
    };
    save(
        "commit",
        &[
            "commit",
            "images",
            "labels.csv",
            "t.csv",
            "--key",
            "t.csv=id",
            "--currency",
            "EUR",
            "-m",
            "one",
            "--json",
        ],
    );
    e.ok(&[
        "annotate",
        "images/cat/1.png",
        "--label",
        "dog",
        "--annotator",
        "cy",
        "--confidence",
        "0.7",
    ]);
    e.ok(&[
        "book",
        "policy",
        "images",
        "--method",
        "straight-line",
        "--life",
        "12",
    ]);
    e.write("t.csv", b"id,x,src,lic\n1,0.5,s3://a,CC0\n3,2.5,s3://b,\n");
    save("commit.second", &["commit", "-m", "two", "--json"]);
    e.write("t.csv", b"id,x,src,lic\n1,0.7,s3://a,CC0\n3,2.5,s3://b,\n");
    save("status", &["status", "--json"]);
    e.ok(&["tag", "v1"]);
    e.ok(&[
        "tag",
        "v1-notes",
        "HEAD~1",
        "-m",
        "first release\n\naudited",
    ]);
    save("log", &["log", "--json"]);
    save("audit", &["audit", "--json"]);
    save("audit.rev", &["audit", "--rev", "HEAD~1", "--json"]);
    save("lineage", &["lineage", "images/cat/1.png", "--json"]);
    save("lineage.row", &["lineage", "t.csv:1", "--json"]);
    save("quality", &["quality", "--json"]);
    save(
        "quality.judged",
        &["quality", "--adjudicator", "cy", "--json"],
    );
    save("book-value", &["book", "value", "--json"]);
    save("book-portfolio", &["book", "portfolio", "--json"]);
    save("book-schedule", &["book", "schedule", "--json"]);
    e.ok(&[
        "book",
        "policy",
        "images",
        "--method",
        "declining-balance",
        "--factor",
        "1.5",
        "--life",
        "12",
        "--from",
        "2030-01",
    ]);
    save("book-policy", &["book", "policy", "--json"]);
    save(
        "book-impair",
        &[
            "book",
            "impair",
            "images",
            "--amount",
            "0.01",
            "--reason",
            "water damage",
            "--json",
        ],
    );
    save(
        "book-impair.proposal",
        &[
            "book",
            "impair",
            "images",
            "--from-drift",
            "HEAD~1",
            "HEAD",
            "--json",
        ],
    );
    save("config", &["config", "list", "--json"]);
    save("verify", &["verify", "--json"]);
    save("show", &["show", "HEAD", "--json"]);
    save("show.first", &["show", "HEAD~1", "--json"]);
    save("show.tag", &["show", "v1-notes", "--json"]);
    // Rows added, removed and modified, a new column, a renamed file.
    e.write(
        "t.csv",
        b"id,x,src,lic,note\n1,0.9,s3://a,CC0,n\n4,3.5,s3://c,,\n",
    );
    std::fs::rename(e.p("images/dog/1.png"), e.p("images/dog/2.png")).expect("rename");
    save("diff", &["diff", "--json"]);
    save("diff.commits", &["diff", "HEAD~1", "HEAD", "--json"]);
    e.ok(&["branch", "side"]);
    save("branch", &["branch", "--json"]);
    save("tag", &["tag", "--json"]);
    save("oplog", &["oplog", "--json"]);
    save("gc", &["gc", "--json"]);
    e.ok(&[
        "grant",
        "Ann <ann@x>",
        "--until",
        "2030-01-01",
        "--reason",
        "schema",
    ]);
    save("audit-access", &["audit", "--access", "--json"]);
    e.ok(&["config", "set", "retention.datasets.images", "6"]);
    save(
        "retention",
        &["retention", "check", "--as-of", "2030-01-01", "--json"],
    );
    save("drift", &["drift", "HEAD~1", "HEAD", "--json"]);
    save(
        "drift.added",
        &["drift", "HEAD~1", "HEAD", "--added", "--json"],
    );
    save(
        "drift-series",
        &["drift", "--series", "HEAD~1", "HEAD~1..HEAD", "--json"],
    );
    save("prove", &["prove", "t.csv:1"]);
    std::fs::write(e.p("proof.json"), e.ok(&["prove", "t.csv:1"])).expect("proof");
    save("verify-proof", &["verify-proof", "proof.json", "--json"]);
    let remote = tempfile::tempdir().expect("remote");
    e.ok(&[
        "remote",
        "add",
        "origin",
        &remote.path().display().to_string(),
    ]);
    save("push", &["push", "--json"]);
    save("push.again", &["push", "--json"]);
    save("gc-remote", &["gc", "--remote", "origin", "--json"]);
    // Merges: a merge commit, then nothing to do, then a fast-forward.
    e.ok(&["restore", "t.csv", "images"]);
    e.ok(&["switch", "side"]);
    e.write("images/cat/9.png", b"side");
    e.ok(&["commit", "images", "-m", "side"]);
    e.ok(&["switch", "main"]);
    e.write("images/cat/8.png", b"main");
    e.ok(&["commit", "images", "-m", "main"]);
    save("merge", &["merge", "side", "--json"]);
    save("merge.again", &["merge", "side", "--json"]);
    e.ok(&["switch", "side"]);
    save("merge.forward", &["merge", "main", "--json"]);
    // Purges: a dry run, a file and a row, the proof, the list.
    save(
        "purge.dry",
        &[
            "purge",
            "images/cat/1.png",
            "t.csv:2",
            "--dry-run",
            "--json",
        ],
    );
    save(
        "purge",
        &[
            "purge",
            "images/cat/1.png",
            "t.csv:2",
            "--reason",
            "schema",
            "--json",
        ],
    );
    e.ok(&["restore", "t.csv", "images"]);
    save(
        "purge-verify",
        &["purge", "--verify", "images/cat/1.png", "t.csv:2", "--json"],
    );
    save("purge-list", &["purge", "--list", "--json"]);
    // Reseals: recipients configured, a dataset to encrypt that was
    // committed in the clear.
    let config = e.p(".folio/config.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    let alice = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/cli/keys/alice.pub"
    ))
    .expect("key");
    text += &format!(
        "\n[encryption]\nrecipients = [{:?}]\n[datasets.images]\nencrypt = true\n",
        alice.trim()
    );
    std::fs::write(&config, text).expect("write config");
    save(
        "reseal.dry",
        &["reseal", "--clear-only", "--dry-run", "--json"],
    );
    save(
        "reseal",
        &["reseal", "--clear-only", "--reason", "schema", "--json"],
    );
    save("reseal-list", &["reseal", "--list", "--json"]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/check_json_schemas.py"
    );
    let run = std::process::Command::new("python3")
        .arg(script)
        .arg(outputs.path())
        .output()
        .expect("python3 runs (the schema check needs Python 3 with `jsonschema`)");
    assert!(
        run.status.success(),
        "outputs that do not match docs/json:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}
