//! `folio export`: rows of a table at a revision, selected by the ledger,
//! written so that committing the output gives the same row identities.

use crate::Env;

/// The row-level changes `diff` sees between HEAD and the working tree.
fn row_changes(e: &Env) -> serde_json::Value {
    e.json(&["diff", "--json"])["tables"].clone()
}

#[test]
fn exports_round_trip_row_identities_in_every_format() {
    let e = Env::new();
    // Quoting, embedded newlines, empty cells; an unkeyed table with a
    // repeated row; typed JSON values; a TSV.
    e.write(
        "t.csv",
        b"id,name,score,note\n1,\"a, b\",1.5,\n2,x,2,\"multi\nline\"\n3,y,,\"say \"\"hi\"\"\"\n",
    );
    e.write("u.csv", b"a,b\n1,2\n1,2\n3,\n");
    e.write(
        "j.jsonl",
        b"{\"id\": 1, \"v\": 1.50, \"ok\": true, \"tags\": [\"a\", {\"k\": 1}], \"s\": \"1\"}\n{\"id\": 2, \"v\": null, \"s\": \"\"}\n",
    );
    e.write("w.tsv", b"k\tv\nx\t1\ny\t\n");
    e.ok(&[
        "commit",
        "t.csv",
        "j.jsonl",
        "--key",
        "t.csv=id",
        "--key",
        "j.jsonl=id",
        "-m",
        "keyed",
    ]);
    e.ok(&["commit", "u.csv", "w.tsv", "-m", "unkeyed"]);
    for t in ["t.csv", "u.csv", "j.jsonl", "w.tsv"] {
        let out = e.ok(&["export", "HEAD", t]);
        assert!(!out.is_empty(), "{t}");
        e.write(t, out.as_bytes());
    }
    // u.csv comes out in identity order: its bytes changed, its rows did
    // not.
    assert_eq!(
        std::fs::read_to_string(e.p("u.csv")).expect("u"),
        "a,b\n3,\n1,2\n1,2\n"
    );
    assert_eq!(row_changes(&e), serde_json::json!([]), "no row changed");
    // -o writes the same bytes as stdout.
    let stdout = e.ok(&["export", "HEAD", "j.jsonl"]);
    e.ok(&["export", "HEAD", "j.jsonl", "-o", "copy.jsonl"]);
    assert_eq!(
        std::fs::read_to_string(e.p("copy.jsonl")).expect("copy"),
        stdout
    );
    // Typed JSON values as CSV text: written, and said.
    let (csv, hints) = e.ok_raw(&["export", "HEAD", "j.jsonl", "--format", "csv"]);
    assert!(
        String::from_utf8_lossy(&csv).starts_with("id,ok,s,tags,v\n1,true,1,"),
        "{}",
        String::from_utf8_lossy(&csv)
    );
    assert!(hints.contains("new identities"), "{hints}");
}

#[test]
fn the_ledger_selects_rows_as_of_the_revision() {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\nsource = \"src\"\nlabel = \"label\"\nconfidence = \"conf\"\n",
    );
    // Row i: source s{i%2}, label cat when i%3 == 0 else dog, confidence
    // i/10.
    let mut csv = String::from("id,x,src,label,conf\n");
    for i in 0..10 {
        let label = if i % 3 == 0 { "cat" } else { "dog" };
        csv += &format!("{i},{},s{},{label},{}\n", i * i, i % 2, i as f64 / 10.0);
    }
    e.write("t.csv", csv.as_bytes());
    e.ok(&["commit", "t.csv", "-m", "one"]);
    let ids = |out: &str| -> Vec<String> {
        out.lines()
            .skip(1)
            .map(|l| l.split(',').next().expect("id").to_string())
            .collect()
    };
    let want = |f: &dyn Fn(usize) -> bool| -> Vec<String> {
        (0..10).filter(|i| f(*i)).map(|i| i.to_string()).collect()
    };
    let out = e.ok(&["export", "HEAD", "t.csv", "--where-source", "s1"]);
    assert_eq!(ids(&out), want(&|i| i % 2 == 1));
    let out = e.ok(&["export", "HEAD", "t.csv", "--where-label", "cat"]);
    assert_eq!(ids(&out), want(&|i| i % 3 == 0));
    let out = e.ok(&["export", "HEAD", "t.csv", "--min-confidence", "0.5"]);
    assert_eq!(ids(&out), want(&|i| i >= 5));
    let out = e.ok(&[
        "export",
        "HEAD",
        "t.csv",
        "--where-label",
        "dog",
        "--where-source",
        "s0",
        "--columns",
        "x,id",
    ]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("x,id"));
    let rows: Vec<&str> = lines.collect();
    let expect: Vec<String> = (0..10)
        .filter(|i| i % 3 != 0 && i % 2 == 0)
        .map(|i| format!("{},{i}", i * i))
        .collect();
    assert_eq!(rows, expect);
    // Relabel row 4 and commit: HEAD sees it, HEAD~1 does not.
    e.ok(&[
        "annotate",
        "t.csv:4",
        "--label",
        "cat",
        "--confidence",
        "0.99",
    ]);
    e.ok(&["commit", "--allow-empty", "-m", "relabel"]);
    let now = e.ok(&["export", "HEAD", "t.csv", "--where-label", "cat"]);
    assert_eq!(ids(&now), want(&|i| i % 3 == 0 || i == 4));
    let then = e.ok(&["export", "HEAD~1", "t.csv", "--where-label", "cat"]);
    assert_eq!(ids(&then), want(&|i| i % 3 == 0));
    // The table is its own dataset: every row is of it.
    let all = e.ok(&["export", "HEAD", "t.csv", "--where-dataset", "t.csv"]);
    assert_eq!(ids(&all), want(&|_| true));
    let with = e.ok(&[
        "export",
        "HEAD",
        "t.csv",
        "--with-ledger",
        "--columns",
        "id,label",
    ]);
    let mut lines = with.lines();
    assert_eq!(
        lines.next(),
        Some("id,label,ledger_label,ledger_confidence")
    );
    let row4 = lines.find(|l| l.starts_with("4,")).expect("row 4");
    assert_eq!(
        row4, "4,dog,cat,0.99",
        "the file's label, the ledger's latest"
    );
    let json = e.ok(&[
        "export",
        "HEAD",
        "t.csv",
        "--with-ledger",
        "--format",
        "jsonl",
        "--columns",
        "id",
    ]);
    let first: serde_json::Value =
        serde_json::from_str(json.lines().next().expect("a row")).expect("json");
    assert_eq!(first["ledger_label"], "cat");
    assert_eq!(first["ledger_confidence"], 0.0);
}

#[test]
fn bad_requests_name_what_exists_and_write_nothing() {
    let e = Env::new();
    e.write("t.csv", b"id,a\n1,x\n");
    e.write("img/a.png", b"png");
    e.ok(&["commit", "t.csv", "img", "--key", "id", "-m", "one"]);
    let err = e.fails(&["export", "HEAD", "nope.csv"], 1);
    assert!(
        err.contains("nope.csv is not a table") && err.contains("t.csv"),
        "{err}"
    );
    let err = e.fails(&["export", "HEAD", "img"], 1);
    assert!(err.contains("img is not a table"), "{err}");
    let err = e.fails(&["export", "HEAD", "t.csv", "--columns", "a,zz"], 1);
    assert!(err.contains("'zz'") && err.contains("id, a"), "{err}");
    let err = e.fails(&["export", "HEAD", "t.csv", "--format", "xlsx"], 1);
    assert!(err.contains("'xlsx'") && err.contains("jsonl"), "{err}");
    let err = e.fails(&["export", "HEAD", "t.csv", "--min-confidence", "2"], 1);
    assert!(err.contains("between 0 and 1"), "{err}");
    let err = e.fails(
        &[
            "export",
            "HEAD",
            "t.csv",
            "--where-dataset",
            "imgs",
            "-o",
            "o.csv",
        ],
        1,
    );
    assert!(
        err.contains("no dataset imgs") && err.contains("img, t.csv"),
        "{err}"
    );
    assert!(!e.p("o.csv").exists(), "nothing written");
    let err = e.fails(
        &["export", "HEAD", "t.csv", "-o", "missing/dir/out.csv"],
        74,
    );
    assert!(err.contains("out.csv"), "{err}");
    assert!(!e.p("missing").exists(), "nothing written");
    e.write("l.csv", b"id,ledger_label\n1,x\n");
    e.ok(&["commit", "l.csv", "--key", "id", "-m", "two"]);
    let err = e.fails(
        &["export", "HEAD", "l.csv", "--with-ledger", "-o", "o.csv"],
        1,
    );
    assert!(err.contains("ledger_label"), "{err}");
    assert!(!e.p("o.csv").exists(), "nothing written");
}

#[test]
fn parquet_out_reads_back_with_the_same_identities_and_types() {
    let e = Env::new();
    // Canonical numbers become INT64 and DOUBLE; a float written "1.50"
    // keeps its text in a string column so its identity survives.
    e.write(
        "t.csv",
        b"id,n,x,flag,name,spelled\n1,10,1.5,true,\"a, b\",1.50\n2,-3,2,false,,2\n3,,0.25,true,z,3.0\n",
    );
    e.write("u.csv", b"a,b\n1,2\n1,2\n3,\n");
    e.ok(&["commit", "t.csv", "u.csv", "--key", "t.csv=id", "-m", "csv"]);
    for (table, out, key) in [
        ("t.csv", "t.parquet", Some("id")),
        ("u.csv", "u.parquet", None),
    ] {
        e.ok(&["export", "HEAD", table, "--format", "parquet", "-o", out]);
        let bytes = std::fs::read(e.p(out)).expect("parquet");
        assert!(
            bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
            "{out}"
        );
        let mut args = vec!["commit", out, "-m", "parquet"];
        if let Some(k) = key {
            args.extend(["--key", k]);
        }
        e.ok(&args);
        // Same identities, same cells: the exports are byte for byte equal.
        assert_eq!(
            e.ok(&["export", "HEAD", out, "--format", "csv"]),
            e.ok(&["export", "HEAD", table]),
            "{out}"
        );
    }
    let show = e.json(&["show", "HEAD~1", "--json"]);
    let cols = show["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["path"] == "t.parquet")
        .unwrap_or_else(|| panic!("t.parquet in {show}"))["columns"]
        .to_string();
    for want in ["\"n\"", "integer", "\"x\"", "float", "\"spelled\""] {
        assert!(cols.contains(want), "{want} in {cols}");
    }
    // Filters and the ledger columns work the same in Parquet.
    e.ok(&[
        "annotate",
        "t.csv:2",
        "--label",
        "neg",
        "--confidence",
        "0.5",
    ]);
    e.ok(&["commit", "--allow-empty", "-m", "label"]);
    e.ok(&[
        "export",
        "HEAD",
        "t.csv",
        "--where-label",
        "neg",
        "--with-ledger",
        "--format",
        "parquet",
        "-o",
        "sel.parquet",
    ]);
    e.ok(&["commit", "sel.parquet", "--key", "id", "-m", "selected"]);
    let csv = e.ok(&["export", "HEAD", "sel.parquet", "--format", "csv"]);
    assert_eq!(
        csv,
        "id,n,x,flag,name,spelled,ledger_label,ledger_confidence\n2,-3,2,false,,2,neg,0.5\n"
    );
}

#[test]
fn a_table_in_a_folder_dataset_is_selected_by_the_folder() {
    let e = Env::new();
    e.write("data/t.csv", b"id,v\n1,a\n2,b\n");
    e.write("other.csv", b"id,v\n9,z\n");
    e.ok(&["commit", "data", "other.csv", "-m", "one"]);
    // The rows of data/t.csv belong to the dataset data, not to other.csv.
    let out = e.ok(&["export", "HEAD", "data/t.csv", "--where-dataset", "data/"]);
    let mut rows: Vec<&str> = out.lines().skip(1).collect();
    rows.sort_unstable();
    assert_eq!(rows, ["1,a", "2,b"]);
    let out = e.ok(&[
        "export",
        "HEAD",
        "data/t.csv",
        "--where-dataset",
        "other.csv",
    ]);
    assert_eq!(out, "id,v\n", "the header alone");
}
