//! `diff` and tables at commit time.

use crate::{Env, redact};

const V1: &str = "id,label,score\n1,cat,0.5\n2,dog,0.7\n3,cat,0.9\n4,bird,0.1\n";
// Row 2 relabelled, row 4 removed, row 5 added (hand-checked expectations).
const V2: &str = "id,label,score\n1,cat,0.5\n2,cat,0.7\n3,cat,0.9\n5,dog,0.3\n";

fn two_versions() -> Env {
    let e = Env::new();
    e.write("data/labels.csv", V1.as_bytes());
    e.write("data/notes.txt", b"keep me");
    e.ok(&["commit", "data", "--key", "id", "-m", "v1"]);
    e.write("data/labels.csv", V2.as_bytes());
    std::fs::rename(e.p("data/notes.txt"), e.p("data/readme.txt")).expect("mv");
    e
}

#[test]
fn working_tree_diff_shows_rows_cells_and_renames() {
    let e = two_versions();
    let out = e.ok(&["diff"]);
    insta::assert_snapshot!(redact(&out), @r"
    diff [SHORT] → working tree
    files: 0 added, 0 removed, 1 modified, 1 renamed
      modified  data/labels.csv
      renamed   data/notes.txt → data/readme.txt

    table data/labels.csv (modified, key id): 1 row added, 1 removed, 1 modified
      ~ 2  label: dog → cat
      - 4  {id=4, label=bird, score=0.1}
      + 5  {id=5, label=dog, score=0.3}
    ");
}

#[test]
fn commit_to_commit_diff_json_and_exit_code() {
    let e = two_versions();
    e.ok(&["commit", "-m", "v2"]);
    let d = e.json(&["diff", "HEAD~1", "HEAD", "--json"]);
    let t = &d["tables"][0];
    assert_eq!(
        (
            t["rows_added"].as_u64(),
            t["rows_removed"].as_u64(),
            t["rows_modified"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(t["rows"][0]["cells"][0]["column"], "label");
    assert_eq!(t["rows"][0]["cells"][0]["old"], "dog");
    assert_eq!(t["rows"][0]["cells"][0]["new"], "cat");
    e.fails(&["diff", "HEAD~1", "HEAD", "--exit-code"], 1);
    e.ok(&["diff", "HEAD", "HEAD", "--exit-code"]);
    let stat = e.ok(&["diff", "HEAD~1", "HEAD", "--stat"]);
    assert!(!stat.contains("label: dog"), "{stat}");
    assert!(
        stat.contains("1 row added, 1 removed, 1 modified"),
        "{stat}"
    );
}

#[test]
fn limit_says_how_many_rows_were_left_out() {
    let e = Env::new();
    let mut a = String::from("id,v\n");
    let mut b = String::from("id,v\n");
    for i in 0..50 {
        a += &format!("{i},old\n");
        b += &format!("{i},new\n");
    }
    e.write("t.csv", a.as_bytes());
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "a"]);
    e.write("t.csv", b.as_bytes());
    let out = e.ok(&["diff", "--limit", "3"]);
    assert_eq!(out.matches("  ~ ").count(), 3, "{out}");
    assert!(out.contains("… 47 more changed rows"), "{out}");
}

#[test]
fn schema_changes_are_reported() {
    let e = Env::new();
    e.write("t.csv", b"id,a,b\n1,x,1\n");
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "a"]);
    e.write("t.csv", b"id,a,c\n1,1.5,z\n");
    let d = e.json(&["diff", "--json"]);
    let schema = d["tables"][0]["schema"].as_array().expect("schema").clone();
    let kinds: Vec<String> = schema
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["change"].as_str().unwrap_or(""),
                c["column"].as_str().unwrap_or("")
            )
        })
        .collect();
    // In the new table's column order, then the removed columns.
    assert_eq!(
        kinds,
        ["type_changed a", "column_added c", "column_removed b"]
    );
}

#[test]
fn same_rows_respelled_are_not_a_row_change() {
    let e = Env::new();
    e.write("t.csv", b"id,t\n1,x\n2,y\n");
    e.ok(&["commit", "t.csv", "-m", "a"]);
    // Other quoting, line endings and row order: the same examples.
    e.write("t.csv", b"\"id\",\"t\"\r\n2,\"y\"\r\n1,x\r\n");
    let d = e.json(&["diff", "--json"]);
    assert_eq!(d["files"]["modified"][0], "t.csv");
    assert_eq!(d["tables"].as_array().map(Vec::len), Some(0), "{d}");
}

#[test]
fn bad_rows_stop_the_commit_and_change_nothing() {
    let e = Env::new();
    e.write("data/t.csv", b"id,v\n1,a\n");
    e.ok(&["commit", "data", "--key", "id", "-m", "a"]);
    let before = e.repo_state();
    e.write("data/big.bin", &vec![7u8; 700_000]);
    e.write("data/t.csv", b"id,v\n1,a\n2,b,extra\n");
    let err = e.fails(&["commit", "-m", "bad"], 1);
    assert!(
        err.contains("data/t.csv:3: the row has 3 fields but the header has 2"),
        "{err}"
    );
    assert_eq!(
        e.repo_state(),
        before,
        "nothing written, not even the large blob"
    );

    e.write("data/t.csv", b"id,v\n1,a\n2,b\n1,c\n");
    let err = e.fails(&["commit", "-m", "dup"], 1);
    assert!(err.contains("duplicate key 1 on lines 2 and 4"), "{err}");
    assert_eq!(e.repo_state(), before);

    e.write("data/t.csv", b"id,v\n1,a\n2,b,extra\n3,c\n");
    let r = e.json(&["commit", "-m", "lenient", "--lenient", "--json"]);
    assert_eq!(r["tables"][0]["rows"], 2);
    assert_eq!(r["tables"][0]["rejected"][0][0], 3);
    let show = e.json(&["show", "--json"]);
    assert_eq!(show["tables"][0]["rejected"][0]["line"], 3);
}

#[test]
fn unknown_key_column_is_named() {
    let e = Env::new();
    e.write("t.jsonl", b"{\"a\": 1}\n");
    let err = e.fails(&["commit", "t.jsonl", "--key", "id", "-m", "x"], 1);
    assert!(
        err.contains("key column 'id' is not in the table (its columns: a)"),
        "{err}"
    );
}

#[test]
fn a_path_neither_side_has_is_an_error_and_options_after_dashes_apply() {
    let e = Env::new();
    e.write("img/a.png", b"a");
    e.ok(&["commit", "img", "-m", "one"]);
    let err = e.fails(&["diff", "--", "nosuch.csv"], 1);
    assert!(err.contains("nosuch.csv is in neither"), "{err}");
    let err = e.fails(&["diff", "HEAD", "HEAD", "--", "img/nope.png"], 1);
    assert!(err.contains("img/nope.png"), "{err}");
    for n in ["b", "c", "d"] {
        e.write(&format!("img/{n}.png"), n.as_bytes());
    }
    let out = e.ok(&["diff", "--", "img", "--limit", "1"]);
    assert!(out.contains("… 2 more added"), "{out}");
    let out = e.ok(&["diff", "--", "img", "--stat"]);
    assert!(
        !out.contains("img/b.png") && out.contains("3 added"),
        "{out}"
    );
    // A path that is gone from the working tree but in HEAD is fine.
    std::fs::remove_file(e.p("img/a.png")).expect("rm");
    let out = e.ok(&["diff", "--", "img/a.png"]);
    assert!(out.contains("removed"), "{out}");
}

#[test]
fn row_dumps_keep_column_order_and_wrap_whole_values() {
    let e = Env::new();
    e.write("t.csv", b"id,zeta,alpha,mid\n1,z,a,m\n");
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "one"]);
    let long = "x".repeat(70);
    e.write(
        "t.csv",
        format!("id,zeta,alpha,mid\n1,z2,a,m2\n2,{long},{long},end\n").as_bytes(),
    );
    let out = e.ok(&["diff"]);
    // File order, not alphabetical.
    assert!(out.contains("~ 1  zeta: z → z2; mid: m → m2"), "{out}");
    let added = out
        .split("+ 2  ")
        .nth(1)
        .unwrap_or_else(|| panic!("an added row in {out}"));
    let zeta = added.find("zeta=").expect("zeta");
    let alpha = added.find("alpha=").expect("alpha");
    let mid = added.find("mid=end").expect("mid, whole");
    assert!(zeta < alpha && alpha < mid, "{out}");
    // Wrapped between cells, every value whole: no cut, no ellipsis.
    assert!(
        added.contains(&format!("zeta={long},\n      alpha={long}")),
        "{out}"
    );
    assert!(!out.contains('…'), "{out}");
    let json = e.json(&["diff", "--json"]);
    assert_eq!(
        json["tables"][0]["columns"],
        serde_json::json!(["id", "zeta", "alpha", "mid"])
    );
}
