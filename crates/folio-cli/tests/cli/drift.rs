//! `folio drift`: figures checked against tests/golden/drift_expect.py
//! (scipy and the documented formulas), verdicts, CI exit codes, reports.

use std::fs;

use crate::Env;

fn golden(name: &str) -> Vec<u8> {
    fs::read(format!(
        "{}/../../tests/golden/drift/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("golden file")
}

fn expected() -> serde_json::Value {
    serde_json::from_slice(&golden("expected.json")).expect("expected.json")
}

/// A repository with the reference table committed, then the current one.
fn two_versions() -> Env {
    let e = Env::new();
    e.write("t.csv", &golden("ref.csv"));
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "reference"]);
    e.write("t.csv", &golden("cur.csv"));
    e.ok(&["commit", "t.csv", "-m", "current"]);
    e
}

fn column<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["tables"][0]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .find(|c| c["column"] == name)
        .unwrap_or_else(|| panic!("no column {name} in {report}"))
}

fn close(got: &serde_json::Value, want: &serde_json::Value, what: &str) {
    let (g, w) = (got.as_f64().expect(what), want.as_f64().expect(what));
    assert!(
        (g - w).abs() <= 1e-9 * w.abs().max(1e-3),
        "{what}: folio {g}, expected {w}"
    );
}

#[test]
fn figures_match_scipy_and_the_documented_formulas() {
    let e = two_versions();
    let r = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    let exp = expected();
    let label = column(&r, "label");
    assert_eq!(label["kind"], "categorical");
    for m in [
        "psi",
        "kl",
        "jensen_shannon",
        "hellinger",
        "l_infinity",
        "chi_square",
        "chi_square_p",
        "chi_square_dof",
    ] {
        close(
            &label["metrics"][m],
            &exp["label"][m],
            &format!("label {m}"),
        );
    }
    let x = column(&r, "x");
    assert_eq!(x["kind"], "numeric");
    for m in [
        "psi",
        "kl",
        "jensen_shannon",
        "hellinger",
        "ks",
        "ks_p",
        "wasserstein",
        "wasserstein_norm",
    ] {
        close(&x["metrics"][m], &exp["x"][m], &format!("x {m}"));
    }
    assert_eq!(x["bins"]["edges"], exp["x_edges"]);
    assert_eq!(x["bins"]["source"], "reference quantiles");
    let note = column(&r, "note");
    for k in ["reference", "current", "z", "p_value"] {
        close(
            &note["missing"][k],
            &exp["note_missing"][k],
            &format!("note missing {k}"),
        );
    }
    assert_eq!(
        note["missing"]["drifted"], true,
        "12% → 36.5% missing crosses 10 points"
    );
    assert_eq!(note["drifted"], true);
    let grade = column(&r, "grade");
    assert_eq!(grade["new_categories"], exp["grade_new"]);
    assert_eq!(grade["vanished_categories"], exp["grade_vanished"]);
    // The key identifies rows: not compared.
    assert_eq!(r["tables"][0]["key"], serde_json::json!(["id"]));
    assert!(
        r["tables"][0]["columns"]
            .as_array()
            .expect("cols")
            .iter()
            .all(|c| c["column"] != "id")
    );
    assert!(
        r["definitions"]["jensen_shannon"]
            .as_str()
            .expect("def")
            .contains("bits")
    );
}

#[test]
fn verdicts_thresholds_and_the_ci_gate() {
    let e = two_versions();
    // Defaults: x PSI 0.204 < 0.25; label JS 0.043 < 0.1; note drifts by
    // its missing rate; grade JS is large. 2 of 4 columns: share 0.5.
    let r = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    let t = &r["tables"][0];
    assert_eq!(
        (t["drifted_columns"].as_u64(), t["drifted"].as_bool()),
        (Some(2), Some(true)),
        "{t}"
    );
    let out = e
        .cmd(&["drift", "HEAD~1", "HEAD", "--fail-on-drift"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DRIFTED") && text.contains("jensen_shannon"),
        "{text}"
    );
    // A stricter share, and overrides from the command line and the config.
    assert_eq!(
        e.json(&["drift", "HEAD~1", "HEAD", "--json", "--share", "0.75"])["drifted"],
        false
    );
    let r = e.json(&[
        "drift",
        "HEAD~1",
        "HEAD",
        "--json",
        "--metric",
        "x=ks_p",
        "--threshold",
        "x=0.01",
    ]);
    let x = column(&r, "x");
    assert_eq!(
        (x["metric"].as_str(), x["drifted"].as_bool()),
        (Some("ks_p"), Some(true)),
        "p 0.0076 < 0.01"
    );
    fs::write(
        e.p(".folio/config.toml"),
        "[drift]\nbins = 4\n[drift.columns.label]\nmetric = \"chi_square_p\"\nthreshold = 0.001\n",
    )
    .expect("config");
    let r = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    assert_eq!(column(&r, "x")["bins"]["count"], 4);
    assert_eq!(column(&r, "label")["drifted"], true, "p 8.6e-6 < 0.001");
    // Identical commits: zero drift, exit 0 even with the gate.
    fs::write(e.p(".folio/config.toml"), "").expect("config");
    e.ok(&["drift", "HEAD", "HEAD", "--fail-on-drift"]);
    let same = e.json(&["drift", "HEAD", "HEAD", "--json"]);
    for c in same["tables"][0]["columns"].as_array().expect("cols") {
        assert_eq!(c["value"].as_f64(), Some(0.0), "{c}");
    }
}

#[test]
fn bad_settings_schema_changes_and_empty_tables_are_explained() {
    let e = two_versions();
    let err = e.fails(&["drift", "HEAD~1", "HEAD", "--metric", "x=psy"], 1);
    assert!(
        err.contains("unknown metric 'psy'") && err.contains("jensen_shannon"),
        "{err}"
    );
    let err = e.fails(&["drift", "HEAD~1", "HEAD", "--bins", "1"], 1);
    assert!(err.contains("bins 1"), "{err}");
    let err = e.fails(&["drift", "HEAD~1", "HEAD", "--column", "nope"], 1);
    assert!(err.contains("'nope'"), "{err}");
    fs::write(e.p(".folio/config.toml"), "[drift]\nshare = 2\n").expect("config");
    let err = e.fails(&["drift", "HEAD~1", "HEAD"], 1);
    assert!(err.contains("share 2"), "{err}");
    fs::write(e.p(".folio/config.toml"), "").expect("config");
    // A column that appears: a schema change, not a crash.
    e.write("t.csv", b"id,label,extra\n1,a,z\n2,b,y\n");
    e.ok(&["commit", "-m", "narrow"]);
    let r = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    let schema = r["tables"][0]["schema"].to_string();
    assert!(
        schema.contains("extra") && schema.contains("only in the current commit"),
        "{schema}"
    );
    assert!(
        schema.contains("\"x\"") && schema.contains("only in the reference commit"),
        "{schema}"
    );
    // An empty table: a message, no figures.
    e.write("t.csv", b"id,label\n");
    e.ok(&["commit", "-m", "empty"]);
    let out = e.ok(&["drift", "HEAD~1", "HEAD"]);
    assert!(out.contains("no rows in the current commit"), "{out}");
}

#[test]
fn html_report_series_and_folders() {
    let e = two_versions();
    e.ok(&["drift", "HEAD~1", "HEAD", "--html", "report.html"]);
    let html = fs::read_to_string(e.p("report.html")).expect("html");
    assert!(
        html.starts_with("<!doctype html>") && html.contains("<svg"),
        "an inline chart"
    );
    // The only URL is the SVG namespace name, which is never fetched.
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(
        urls,
        html.matches("http://www.w3.org/2000/svg").count(),
        "self-contained"
    );
    assert!(
        !html.contains("<script") && !html.contains(" src="),
        "self-contained"
    );
    assert!(html.contains("label") && html.contains("drifted"));
    // Series: each commit after the reference, oldest first.
    e.write("t.csv", &golden("ref.csv"));
    e.ok(&["commit", "-m", "back"]);
    let out = e.ok(&["drift", "--series", "HEAD~2", "HEAD~2..HEAD"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("DRIFTED") && lines[0].ends_with("current"),
        "{out}"
    );
    assert!(
        lines[1].contains("stable") && lines[1].ends_with("back"),
        "{out}"
    );
    // Folders: file sizes and types.
    e.write("img/a.png", &[0u8; 100]);
    e.write("img/b.png", &[0u8; 120]);
    e.ok(&["commit", "img", "-m", "images"]);
    e.write("img/c.jpg", &[0u8; 5000]);
    e.write("img/d.jpg", &[0u8; 7000]);
    e.ok(&["commit", "img", "-m", "more images"]);
    let r = e.json(&["drift", "HEAD~1", "HEAD", "img", "--json"]);
    let t = &r["tables"][0];
    assert_eq!(t["path"], "img/");
    assert_eq!(t["rows"], serde_json::json!([2, 4]));
    let types = t["columns"]
        .as_array()
        .expect("cols")
        .iter()
        .find(|c| c["column"] == "file type")
        .expect("types")
        .clone();
    assert_eq!(types["new_categories"], serde_json::json!([[".jpg", 0.5]]));
}

#[test]
fn labels_and_confidence_from_the_ledger_drift_too() {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\nlabel = \"label\"\nconfidence = \"conf\"\n",
    );
    // 10 rows: 4 labelled a, 6 labelled b.
    let mut csv = String::from("id,label,conf\n");
    for i in 0..10 {
        csv += &format!("{i},{},0.9\n", if i < 4 { "a" } else { "b" });
    }
    e.write("t.csv", csv.as_bytes());
    e.ok(&["commit", "t.csv", "-m", "one"]);
    // Relabel in the ledger only; the next commit attests it.
    e.ok(&[
        "annotate",
        "--where-label",
        "a",
        "--label",
        "z",
        "--confidence",
        "0.4",
    ]);
    e.ok(&["commit", "--allow-empty", "-m", "relabelled"]);
    let r = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    let cols = r["tables"][0]["columns"].as_array().expect("cols");
    let col = |n: &str| {
        cols.iter()
            .find(|c| c["column"] == n)
            .unwrap_or_else(|| panic!("{n} in {r}"))
    };
    // The file did not change: its own label column did not drift.
    assert_eq!(col("label")["value"].as_f64(), Some(0.0));
    let l = col("(ledger) label");
    assert_eq!(l["new_categories"], serde_json::json!([["z", 0.4]]));
    assert_eq!(l["vanished_categories"], serde_json::json!([["a", 0.4]]));
    assert_eq!(l["drifted"], true);
    let c = col("(ledger) confidence");
    let before = c["metrics"]["mean_reference"].as_f64().expect("mean");
    assert!((before - 0.9).abs() < 1e-12, "{before}");
    let mean = c["metrics"]["mean_current"].as_f64().expect("mean");
    assert!(
        (mean - (4.0 * 0.4 + 6.0 * 0.9) / 10.0).abs() < 1e-12,
        "{mean}"
    );
}

#[test]
fn terminal_and_json_output_snapshots() {
    let e = two_versions();
    let out = e.ok(&["drift", "HEAD~1", "HEAD"]);
    insta::assert_snapshot!("drift_terminal", crate::redact(&out));
    let r = e.json(&[
        "drift", "HEAD~1", "HEAD", "--json", "--column", "label", "--column", "grade",
    ]);
    let text = serde_json::to_string_pretty(&r["tables"]).expect("json");
    insta::assert_snapshot!("drift_json_label_grade", text);
}

#[test]
fn html_has_a_chart_per_column() {
    let e = two_versions();
    e.ok(&["drift", "HEAD~1", "HEAD", "--html", "r.html"]);
    let html = fs::read_to_string(e.p("r.html")).expect("html");
    let r = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    let columns = r["tables"][0]["columns"].as_array().expect("cols");
    let sections: Vec<&str> = html.split("<section class=\"col").skip(1).collect();
    assert_eq!(sections.len(), columns.len());
    for (sec, col) in sections.iter().zip(columns) {
        let name = col["column"].as_str().expect("name");
        assert!(sec.contains(&format!("<h3>{name} ")), "section for {name}");
        let svg = &sec[sec.find("<svg").expect("an svg")..sec.find("</svg>").expect("closed")];
        let bars = col["shares"]["labels"]
            .as_array()
            .expect("labels")
            .len()
            .min(30);
        assert_eq!(
            svg.matches("<rect").count(),
            2 * bars,
            "two bars per bin or category in {name}"
        );
        let verdict = if col["drifted"] == true {
            "drifted"
        } else {
            "stable"
        };
        assert!(
            sec.starts_with(&format!(" {verdict}\"")),
            "{name}: {verdict}"
        );
    }
    // Balanced tags of the structure the page is built from.
    for tag in ["section", "svg", "table", "h2", "h3", "p"] {
        let open =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        assert_eq!(
            open,
            html.matches(&format!("</{tag}>")).count(),
            "<{tag}> balanced"
        );
    }
}
