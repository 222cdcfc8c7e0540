//! `init`, `commit`, `status`.

use crate::{Env, redact};

#[test]
fn init_twice_is_refused() {
    let e = Env::new();
    let err = e.fails(&["init"], 1);
    assert!(err.contains("already a folio repository"), "{err}");
}

#[test]
fn first_commit_and_clean_status() {
    let e = Env::new();
    e.write("data/a.txt", b"alpha\n");
    e.write("data/sub/b.txt", b"beta\n");
    e.write("labels.csv", b"id,label\n1,cat\n");
    let out = e.ok(&["commit", "data", "labels.csv", "-m", "first"]);
    insta::assert_snapshot!(redact(&out), @r"
    committed [SHORT]  first
      data: 2 added, 0 modified, 0 deleted
      labels.csv: 1 added, 0 modified, 0 deleted
      table labels.csv: 1 row, 2 columns, rows identified by content
      ledger: 3 events recorded (a changed table's rows: one event that names its row manifests)
      hashed 3 files (26 B), 0 unchanged from the stat cache
    ");
    let st = e.json(&["status", "--json"]);
    assert_eq!(st["branch"], "main");
    for d in st["datasets"].as_array().expect("datasets") {
        assert_eq!(d["added"].as_array().map(Vec::len), Some(0));
        assert_eq!(d["modified"].as_array().map(Vec::len), Some(0));
        assert_eq!(d["deleted"].as_array().map(Vec::len), Some(0));
    }
}

#[test]
fn status_lists_each_kind_of_change() {
    let e = Env::new();
    e.write("data/keep.txt", b"same\n");
    e.write("data/edit.txt", b"before\n");
    e.write("data/gone.txt", b"bye\n");
    e.ok(&["commit", "data", "-m", "first"]);
    e.write("data/edit.txt", b"after\n");
    e.write("data/new.txt", b"hello\n");
    std::fs::remove_file(e.p("data/gone.txt")).expect("rm");
    e.write("stray.txt", b"untracked\n");
    let out = e.ok(&["status"]);
    insta::assert_snapshot!(out, @r"
    On branch main

    data: 1 added, 1 modified, 1 deleted
      added     data/new.txt
      modified  data/edit.txt
      deleted   data/gone.txt

    Untracked (not in any dataset; add with `folio commit PATH`):
      stray.txt
    ");
}

#[test]
fn mode_change_is_a_modification() {
    use std::os::unix::fs::PermissionsExt;
    let e = Env::new();
    e.write("data/run.sh", b"#!/bin/sh\n");
    e.ok(&["commit", "data", "-m", "first"]);
    std::fs::set_permissions(e.p("data/run.sh"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let st = e.json(&["status", "--json"]);
    assert_eq!(st["datasets"][0]["modified"][0], "run.sh");
}

#[test]
fn commit_without_change_creates_nothing() {
    let e = Env::new();
    e.write("data/a.txt", b"a");
    e.ok(&["commit", "data", "-m", "first"]);
    let before = e.repo_state();
    let out = e.ok(&["commit", "-m", "again"]);
    assert!(out.starts_with("nothing to commit"), "{out}");
    assert_eq!(e.repo_state(), before);
    e.ok(&["commit", "--allow-empty", "-m", "empty"]);
    assert_eq!(e.json(&["log", "--json"]).as_array().map(Vec::len), Some(2));
}

#[test]
fn recommit_rehashes_only_changed_files() {
    let e = Env::new();
    for i in 0..20 {
        e.write(&format!("data/f{i}.txt"), format!("file {i}").as_bytes());
    }
    e.ok(&["commit", "data", "-m", "first"]);
    // Let the stat cache entries age past the racy window, then refresh it.
    std::thread::sleep(std::time::Duration::from_millis(20));
    e.ok(&["status"]);
    e.write("data/f3.txt", b"changed");
    let r = e.json(&["commit", "-m", "second", "--json"]);
    assert_eq!(r["hashed_files"], 1, "{r}");
    assert_eq!(r["cached_files"], 19, "{r}");
}

#[test]
fn folioignore_excludes_files() {
    let e = Env::new();
    e.write("data/a.txt", b"a");
    e.write("data/tmp.log", b"noise");
    e.write("data/.folioignore", b"*.log\n");
    e.write(".folioignore", b"cache/\n");
    e.write("data/cache/x.bin", b"x");
    let r = e.json(&["commit", "data", "-m", "first", "--json"]);
    let added: Vec<&str> = r["changes"]["data"]["added"]
        .as_array()
        .expect("added")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(added, [".folioignore", "a.txt"]);
}

#[test]
fn author_and_time_are_recorded() {
    let e = Env::new();
    e.write("data/a.txt", b"a");
    e.ok(&[
        "commit",
        "data",
        "-m",
        "first",
        "--author",
        "Grace <g@example.com>",
    ]);
    let log = e.json(&["log", "--json"]);
    assert_eq!(log[0]["author"], "Grace <g@example.com>");
    // 2026-01-15T10:00:00Z, computed with: date -u -d 2026-01-15T10:00:00Z +%s
    assert_eq!(log[0]["time"], 1768471200);
}

#[test]
fn deleted_dataset_is_dropped_on_commit() {
    let e = Env::new();
    e.write("a/x.txt", b"x");
    e.write("b/y.txt", b"y");
    e.ok(&["commit", "a", "b", "-m", "two datasets"]);
    std::fs::remove_dir_all(e.p("b")).expect("rm");
    let st = e.json(&["status", "--json"]);
    assert_eq!(st["datasets"][1]["missing"], true);
    e.ok(&["commit", "-m", "drop b"]);
    let show = e.json(&["show", "--json"]);
    let paths: Vec<&str> = show["datasets"]
        .as_array()
        .expect("datasets")
        .iter()
        .filter_map(|d| d["path"].as_str())
        .collect();
    assert_eq!(paths, ["a"]);
}

/// A Parquet fixture of folio-core (written by its testdata/parquet/make.py).
fn parquet_fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../folio-core/testdata/parquet")
        .join(name);
    std::fs::read(p).expect("fixture")
}

#[test]
fn parquet_tables_commit_diff_and_drift_and_damage_changes_nothing() {
    let e = Env::new();
    e.write("t.parquet", &parquet_fixture("same.parquet"));
    e.ok(&["commit", "t.parquet", "--key", "id", "-m", "one"]);
    let show = e.ok(&["show"]);
    assert!(
        show.contains("t.parquet (parquet, 40 rows, key id)"),
        "{show}"
    );
    assert!(
        show.contains("score: float") && show.contains("keep: boolean"),
        "{show}"
    );
    // make.py's next version: row 3 removed, row 7's score 3.75 -> 99.5,
    // row 41 added.
    e.write("t.parquet", &parquet_fixture("next.parquet"));
    e.ok(&["commit", "-m", "two"]);
    let diff = e.ok(&["diff", "HEAD~1", "HEAD"]);
    assert!(
        diff.contains("1 row added, 1 removed, 1 modified"),
        "{diff}"
    );
    assert!(diff.contains("score: 3.75 → 99.5"), "{diff}");
    e.ok(&["drift", "HEAD~1", "HEAD"]);
    // A damaged file: a clear error naming it, and nothing committed.
    let before = e.ok(&["log"]);
    let mut bad = parquet_fixture("next.parquet");
    let n = bad.len();
    bad.truncate(n / 2);
    e.write("t.parquet", &bad);
    let err = e.fails(&["commit", "-m", "three"], 1);
    assert!(
        err.contains("t.parquet") && err.contains("Parquet"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(e.ok(&["log"]), before);
    assert!(e.ok(&["verify"]).contains("no problems"));
}

/// The Parquet shards of make.py's `shards/SET` folder, written to `to`
/// (the folder emptied first).
fn put_shards(e: &Env, set: &str, to: &str) {
    let _ = std::fs::remove_dir_all(e.p(to));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../folio-core/testdata/parquet/shards")
        .join(set);
    for f in std::fs::read_dir(dir).expect("fixture folder") {
        let f = f.expect("entry").path();
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        e.write(&format!("{to}/{name}"), &std::fs::read(&f).expect("shard"));
    }
}

#[test]
fn sharded_parquet_tables_are_one_table_whose_rows_do_not_depend_on_shards() {
    let e = Env::new();
    // The 40 rows of same.csv, as two Parquet shards.
    put_shards(&e, "two", "d/data");
    e.write("c/same.csv", &parquet_fixture("same.csv"));
    e.ok(&[
        "commit",
        "d",
        "c",
        "--key",
        "d/data/train=id",
        "--key",
        "c/same.csv=id",
        "-m",
        "two shards",
    ]);
    let show = e.ok(&["show"]);
    assert!(
        show.contains("d/data/train (parquet, 40 rows, key id, 2 shards)"),
        "{show}"
    );
    let shown = e.json(&["show", "--json"]);
    let t = shown["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["path"] == "d/data/train")
        .expect("the sharded table");
    assert_eq!(
        t["shards"],
        serde_json::json!([
            "d/data/train-00000-of-00002.parquet",
            "d/data/train-00001-of-00002.parquet"
        ])
    );
    // The same rows as the CSV: the same row identities, so the same
    // export, row for row.
    let csv = e.ok(&["export", "HEAD", "c/same.csv", "--format", "csv"]);
    let sharded = e.ok(&["export", "HEAD", "d/data/train", "--format", "csv"]);
    assert_eq!(sharded, csv);
    let row = e.ok(&["lineage", "d/data/train:7"]);
    assert!(row.contains("locator:  d/data/train:7"), "{row}");
    // Shard files are not examples of their own: the rows are.
    let audit = e.json(&["audit", "--json"]);
    let unsourced: Vec<&str> = audit["without_source"]
        .as_array()
        .expect("without_source")
        .iter()
        .filter_map(|v| v.as_str())
        .filter(|l| l.starts_with("d/"))
        .collect();
    assert_eq!(unsourced.len(), 40, "{unsourced:?}");
    assert!(unsourced.contains(&"d/data/train:7"), "{unsourced:?}");
    assert!(
        !unsourced.iter().any(|l| l.ends_with(".parquet")),
        "{unsourced:?}"
    );
    // The same rows dealt to three shards in another order: no row
    // changes, only files.
    put_shards(&e, "n3", "d/data");
    e.ok(&["commit", "-m", "three shards"]);
    let diff = e.json(&["diff", "HEAD~1", "HEAD", "--json"]);
    assert_eq!(diff["files"]["added"].as_array().expect("added").len(), 3);
    assert!(
        diff["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .all(|t| t["path"] != "d/data/train"),
        "{diff}"
    );
    // A fourth shard adds its rows (the others renamed -of-00004).
    put_shards(&e, "n4", "d/data");
    e.ok(&["commit", "-m", "four shards"]);
    let diff = e.ok(&["diff", "HEAD~1", "HEAD"]);
    assert!(
        diff.contains("table d/data/train (modified, key id): 2 rows added, 0 removed, 0 modified"),
        "{diff}"
    );
    assert!(diff.contains("+ 41") && diff.contains("+ 42"), "{diff}");
    // `cat` of the table names its shards; a shard is a file.
    let err = e.fails(&["cat", "HEAD:d/data/train"], 1);
    assert!(
        err.contains("sharded table") && err.contains("train-00003-of-00004.parquet"),
        "{err}"
    );
    let (bytes, _) = e.ok_raw(&["cat", "HEAD:d/data/train-00003-of-00004.parquet"]);
    assert_eq!(
        bytes,
        std::fs::read(e.p("d/data/train-00003-of-00004.parquet")).expect("shard")
    );
    // A fresh checkout of the first version writes its two shards back.
    e.ok(&["checkout", "HEAD~2", "--force"]);
    assert!(e.p("d/data/train-00001-of-00002.parquet").exists());
    assert!(!e.p("d/data/train-00003-of-00004.parquet").exists());
    e.ok(&["checkout", "main"]);
    assert!(e.ok(&["verify"]).contains("no problems"));
}

#[test]
fn shards_declared_in_the_config_and_their_errors() {
    let e = Env::new();
    // Any files under a folder marked `shards = true` are one table.
    e.write("t/parts/a.csv", b"id,x\n1,a\n2,b\n");
    e.write("t/parts/more/b.csv", b"id,x\n3,c\n");
    e.write(
        ".folio/config.toml",
        format!(
            "{}\n[tables.\"t/parts\"]\nshards = true\nkey = [\"id\"]\n",
            std::fs::read_to_string(e.p(".folio/config.toml")).expect("config")
        )
        .as_bytes(),
    );
    e.ok(&["commit", "t", "-m", "parts"]);
    let show = e.ok(&["show"]);
    assert!(
        show.contains("t/parts (csv, 3 rows, key id, 2 shards)"),
        "{show}"
    );
    // A key in two shards: both files and lines named, nothing written.
    let before = e.repo_state();
    e.write("t/parts/c.csv", b"id,x\n9,z\n2,again\n");
    let err = e.fails(&["commit", "t", "-m", "dup"], 1);
    assert!(
        err.contains("duplicate key 2")
            && err.contains("t/parts/a.csv:3")
            && err.contains("t/parts/c.csv:3"),
        "{err}"
    );
    assert_eq!(e.repo_state(), before);
    // Shards of two formats: refused, naming both.
    std::fs::remove_file(e.p("t/parts/c.csv")).expect("rm");
    e.write("t/parts/c.jsonl", b"{\"id\":4,\"x\":\"d\"}\n");
    let err = e.fails(&["commit", "t", "-m", "mixed"], 1);
    assert!(
        err.contains("different formats") && err.contains("t/parts/c.jsonl"),
        "{err}"
    );
    assert_eq!(e.repo_state(), before);
    std::fs::remove_file(e.p("t/parts/c.jsonl")).expect("rm");
    // A shard changed while read is caught like any table file: here a
    // damaged shard is a clear error naming it.
    e.write("t/parts/a.csv", b"id,x\n1,a\n2\n");
    let err = e.fails(&["commit", "t", "-m", "ragged"], 1);
    assert!(err.contains("t/parts/a.csv:3"), "{err}");
    assert_eq!(e.repo_state(), before);
}

#[test]
fn keys_are_given_per_table_and_a_bare_key_only_for_one() {
    let e = Env::new();
    e.write("labels.csv", b"id,path,label\n1,a.png,cat\n2,b.png,dog\n");
    e.write("tab.csv", b"mean radius,texture,target\n1.5,2,0\n1.7,3,1\n");
    e.write("pairs.csv", b"a,b,v\n1,x,10\n1,y,20\n");
    // A bare key with three tables: refused, naming the tables and both
    // ways to say it; nothing committed.
    let err = e.fails(
        &[
            "commit",
            "labels.csv",
            "tab.csv",
            "pairs.csv",
            "--key",
            "id",
            "-m",
            "x",
        ],
        1,
    );
    assert!(
        err.contains("3 tables")
            && err.contains("--key labels.csv=id")
            && err.contains("[tables.\"labels.csv\"]"),
        "{err}"
    );
    let log = e.cmd(&["log"]).output().expect("log");
    assert!(
        String::from_utf8_lossy(&log.stderr).contains("no commits yet"),
        "{log:?}"
    );
    // Per table, a composite key after its table.
    e.ok(&[
        "commit",
        "labels.csv",
        "tab.csv",
        "pairs.csv",
        "--key",
        "labels.csv=id",
        "--key",
        "pairs.csv=a,b",
        "-m",
        "keyed",
    ]);
    let show = e.json(&["show", "HEAD", "--json"]);
    let key_of = |t: &str| {
        show["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|x| x["path"] == t)
            .unwrap_or_else(|| panic!("{t} in {show}"))["key"]
            .clone()
    };
    assert_eq!(key_of("labels.csv"), serde_json::json!(["id"]));
    assert_eq!(key_of("pairs.csv"), serde_json::json!(["a", "b"]));
    assert_eq!(key_of("tab.csv"), serde_json::json!([]));
    // A key for a table the commit does not read.
    e.write("labels.csv", b"id,path,label\n1,a.png,cat\n2,b.png,cow\n");
    let err = e.fails(
        &["commit", "labels.csv", "--key", "nope.csv=id", "-m", "x"],
        1,
    );
    assert!(
        err.contains("nope.csv") && err.contains("labels.csv"),
        "{err}"
    );
    // One table: a bare key is fine.
    e.ok(&["commit", "labels.csv", "--key", "id", "-m", "one table"]);
    let err = e.fails(&["commit", "labels.csv", "--key", "=id", "-m", "x"], 1);
    assert!(err.contains("TABLE=COLUMN"), "{err}");
}

#[test]
fn metadata_without_a_data_change_is_recorded_or_refused_never_dropped() {
    let e = Env::new();
    e.write("img/a.png", b"a");
    e.write("img/b.png", b"b");
    e.ok(&["commit", "img", "-m", "one"]);
    let head = e.ok(&["log", "--json"]);
    // Batch flags describe added examples: with nothing added, refused.
    let err = e.fails(&["commit", "--label", "dog", "-m", "x"], 1);
    assert!(
        err.contains("--label")
            && err.contains("folio annotate")
            && err.contains("nothing was committed"),
        "{err}"
    );
    let err = e.fails(
        &[
            "commit",
            "--source",
            "s3://y",
            "--cost",
            "1",
            "--currency",
            "EUR",
            "-m",
            "x",
        ],
        1,
    );
    assert!(err.contains("--source, --cost"), "{err}");
    // A sidecar's source for an example added earlier: refused, naming
    // the line.
    e.write("meta.csv", b"example,label,source\nimg/a.png,cat,s3://x\n");
    let err = e.fails(&["commit", "--meta", "meta.csv", "-m", "x"], 1);
    assert!(
        err.contains("meta.csv:2") && err.contains("img/a.png"),
        "{err}"
    );
    assert_eq!(e.ok(&["log", "--json"]), head, "nothing committed");
    // Labels of existing examples: a metadata-only commit.
    e.write("meta.csv", b"example,label,confidence\nimg/a.png,cat,0.8\n");
    let out = e.ok(&["commit", "--meta", "meta.csv", "-m", "labels"]);
    assert!(
        out.contains("committed") && out.contains("1 event"),
        "{out}"
    );
    let lineage = e.ok(&["lineage", "img/a.png"]);
    assert!(
        lineage.contains("label:    cat, confidence 0.8"),
        "{lineage}"
    );
}

#[test]
fn commit_dot_snapshots_each_top_level_entry_and_add_says_what_to_type() {
    let e = Env::new();
    e.write("img/a.png", b"a");
    e.write("t.csv", b"id,x\n1,2\n");
    e.write(".git/HEAD", b"ref: refs/heads/main\n");
    e.write(".folioignore", b"*.tmp\n");
    e.ok(&["commit", ".", "-m", "everything"]);
    let show = e.json(&["show", "HEAD", "--json"]);
    let mut names: Vec<&str> = show["datasets"]
        .as_array()
        .expect("datasets")
        .iter()
        .map(|d| d["path"].as_str().expect("path"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["img", "t.csv"], "hidden entries only when named");
    // Again from a subfolder, with a new top-level folder.
    e.write("audio/a.wav", b"w");
    e.write("img/b.png", b"b");
    let out = e
        .cmd(&["commit", "..", "-m", "more"])
        .current_dir(e.p("img"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    let show = e.json(&["show", "HEAD", "--json"]);
    assert_eq!(show["datasets"].as_array().map(Vec::len), Some(3), "{show}");
    let err = e.fails(&["add", "img"], 1);
    assert!(err.contains("folio commit img -m MESSAGE"), "{err}");
}
