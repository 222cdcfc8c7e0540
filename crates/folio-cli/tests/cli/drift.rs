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
    assert_eq!(t["rows"], serde_json::json!({"reference": 2, "current": 4}));
    let types = t["columns"]
        .as_array()
        .expect("cols")
        .iter()
        .find(|c| c["column"] == "file type")
        .expect("types")
        .clone();
    assert_eq!(
        types["new_categories"],
        serde_json::json!([{"category": ".jpg", "share": 0.5}])
    );
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
    let t = &r["tables"][0];
    // label and conf hold what the ledger columns hold: compared once, as
    // metadata, and not toward the data verdict.
    assert_eq!(t["columns"], serde_json::json!([]), "{t}");
    assert!(t["notes"].to_string().contains("compared once"), "{t}");
    let cols = t["metadata"].as_array().expect("metadata");
    let names: Vec<&str> = cols
        .iter()
        .map(|c| c["column"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["(ledger) label", "(ledger) confidence"]);
    let col = |n: &str| {
        cols.iter()
            .find(|c| c["column"] == n)
            .unwrap_or_else(|| panic!("{n} in {r}"))
    };
    let l = col("(ledger) label");
    assert_eq!(
        l["new_categories"],
        serde_json::json!([{"category": "z", "share": 0.4}])
    );
    assert_eq!(
        l["vanished_categories"],
        serde_json::json!([{"category": "a", "share": 0.4}])
    );
    assert_eq!(l["drifted"], true);
    let c = col("(ledger) confidence");
    // 0.9 everywhere before, 0.4 on four rows after: below the reference's
    // minimum, in a bin of its own.
    assert_eq!(c["shares"]["labels"][0], "< 0.9");
    assert_eq!(c["shares"]["current"][0].as_f64(), Some(0.4));
    assert_eq!(c["drifted"], true, "{c}");
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
    let t = &r["tables"][0];
    let columns: Vec<&serde_json::Value> = t["columns"]
        .as_array()
        .expect("cols")
        .iter()
        .chain(t["metadata"].as_array().expect("metadata"))
        .collect();
    let sections: Vec<&str> = html.split("<section class=\"col").skip(1).collect();
    assert_eq!(sections.len(), columns.len());
    // The summary lists every column, worst first, each linking to its
    // section.
    let summary = &html[html.find("<table class=\"summary\"").expect("a summary")..];
    let summary = &summary[..summary.find("</table>").expect("closed")];
    assert_eq!(summary.matches("<tr class=").count(), columns.len());
    for (i, _) in columns.iter().enumerate() {
        assert!(summary.contains(&format!("href=\"#c{i}\"")), "link to c{i}");
        assert!(html.contains(&format!("id=\"c{i}\"")), "section c{i}");
    }
    let first_stable = summary
        .find("<tr class=\"stable\"")
        .unwrap_or(summary.len());
    assert!(
        summary
            .rfind("<tr class=\"drifted\"")
            .is_none_or(|d| d < first_stable),
        "drifted columns first"
    );
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

/// 400 reference rows from `inhouse` (size 0..99 four times, colour by
/// i % 3); the current commit keeps them and adds 50 rows from `vendor-b`
/// whose sizes all lie above the reference's range. Whole tables: the top
/// decile holds 90 of 450 rows against 40 of 400, PSI ≈ 0.08, stable; the
/// added rows alone: all 50 in the top decile, drifted.
fn vendor_batch() -> (Env, String) {
    let e = Env::new();
    let mut csv = String::from("id,size,colour\n");
    for i in 0..400 {
        csv += &format!("{i},{},{}\n", i % 100, ["red", "green", "blue"][i % 3]);
    }
    e.write("t.csv", csv.as_bytes());
    e.ok(&[
        "commit", "t.csv", "--key", "id", "--source", "inhouse", "-m", "ref",
    ]);
    let mut added = String::from("id,size,colour\n");
    for i in 400..450 {
        let row = format!("{i},{},{}\n", 150 + i % 50, ["red", "green", "blue"][i % 3]);
        csv += &row;
        added += &row;
    }
    e.write("t.csv", csv.as_bytes());
    e.ok(&[
        "commit",
        "t.csv",
        "--source",
        "vendor-b",
        "-m",
        "vendor batch",
    ]);
    (e, added)
}

fn table(r: &serde_json::Value) -> &serde_json::Value {
    &r["tables"][0]
}

#[test]
fn added_rows_and_sources_aim_the_comparison() {
    let (e, added) = vendor_batch();
    let whole = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    assert_eq!(
        table(&whole)["rows"],
        serde_json::json!({"reference": 400, "current": 450})
    );
    assert_eq!(table(&whole)["drifted"], false, "{whole}");
    let only = e.json(&["drift", "HEAD~1", "HEAD", "--added", "--json"]);
    let t = table(&only);
    assert_eq!(
        t["rows"],
        serde_json::json!({"reference": 400, "current": 50})
    );
    assert_eq!(t["drifted"], true, "{t}");
    assert_eq!(t["selection"]["added"], true);
    assert!(
        t["selected"].to_string().contains("added"),
        "the selection is stated: {t}"
    );
    // The oracle: a repository whose current commit holds only the added
    // rows gives the same figures, without any selection.
    let o = Env::new();
    let mut reference = String::from("id,size,colour\n");
    for i in 0..400 {
        reference += &format!("{i},{},{}\n", i % 100, ["red", "green", "blue"][i % 3]);
    }
    o.write("t.csv", reference.as_bytes());
    o.ok(&["commit", "t.csv", "--key", "id", "-m", "ref"]);
    o.write("t.csv", added.as_bytes());
    o.ok(&["commit", "t.csv", "-m", "batch only"]);
    let want = o.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    assert_eq!(
        table(&only)["columns"],
        table(&want)["columns"],
        "--added compares exactly the added rows"
    );
    // By source, as the ledger holds it at each side's commit.
    let vendor = e.json(&[
        "drift",
        "HEAD~1",
        "HEAD",
        "--cur-where-source",
        "vendor-b",
        "--json",
    ]);
    assert_eq!(
        table(&vendor)["rows"],
        serde_json::json!({"reference": 400, "current": 50})
    );
    assert_eq!(table(&vendor)["columns"], table(&want)["columns"]);
    assert_eq!(table(&vendor)["selection"]["current"]["source"], "vendor-b");
    let inhouse = e.json(&[
        "drift",
        "HEAD~1",
        "HEAD",
        "--where-source",
        "inhouse",
        "--json",
    ]);
    assert_eq!(
        table(&inhouse)["rows"],
        serde_json::json!({"reference": 400, "current": 400})
    );
    for c in table(&inhouse)["columns"].as_array().expect("cols") {
        assert_eq!(c["value"].as_f64(), Some(0.0), "same rows: {c}");
    }
    let text = e.ok(&["drift", "HEAD~1", "HEAD", "--where-source", "inhouse"]);
    assert!(
        text.contains("selected: both sides: rows where source = inhouse"),
        "{text}"
    );
    // The same selection from the config.
    e.write(
        ".folio/config.toml",
        b"[drift.tables.\"t.csv\"]\nadded = true\n",
    );
    let configured = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    assert_eq!(table(&configured)["columns"], table(&want)["columns"]);
}

#[test]
fn metadata_is_shown_apart_and_not_counted() {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\nannotator = \"annotator\"\nconfidence = \"conf\"\n",
    );
    let rows = |annotator: &str, conf: f64| {
        let mut csv = String::from("id,x,annotator,conf\n");
        for i in 0..200 {
            csv += &format!("{i},{},{annotator},{conf}\n", i % 50);
        }
        csv
    };
    e.write("t.csv", rows("ann1", 0.9).as_bytes());
    e.ok(&["commit", "t.csv", "-m", "one"]);
    e.write("t.csv", rows("ann2", 0.4).as_bytes());
    e.ok(&["commit", "t.csv", "-m", "reannotated"]);
    let r = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    let t = table(&r);
    let names = |k: &str| -> Vec<String> {
        t[k].as_array()
            .expect(k)
            .iter()
            .map(|c| c["column"].as_str().expect("name").to_string())
            .collect()
    };
    assert_eq!(names("columns"), ["x"], "data columns: {t}");
    let meta = names("metadata");
    assert!(meta.contains(&"annotator".to_string()), "{meta:?}");
    let confidences = meta.iter().filter(|n| n.contains("conf")).count();
    assert_eq!(confidences, 1, "confidence compared once: {meta:?}");
    assert!(
        t["metadata"]
            .as_array()
            .expect("meta")
            .iter()
            .all(|c| c["drifted"] == true),
        "annotator and confidence moved: {t}"
    );
    assert_eq!(t["drifted"], false, "x did not move: {t}");
    assert_eq!(t["drifted_columns"], 0);
    e.ok(&["drift", "HEAD~1", "HEAD", "--fail-on-drift"]);
    let text = e.ok(&["drift", "HEAD~1", "HEAD"]);
    assert!(
        text.contains("metadata and labels (not counted toward the verdict)"),
        "{text}"
    );
    let counted = e.json(&["drift", "HEAD~1", "HEAD", "--count-metadata", "--json"]);
    assert_eq!(table(&counted)["drifted"], true, "{counted}");
    assert_eq!(
        table(&counted)["drifted_columns"].as_u64(),
        Some(meta.len() as u64),
        "the metadata columns drifted, x did not"
    );
    // Excluding the metadata leaves the data.
    let ex = e.json(&["drift", "HEAD~1", "HEAD", "--exclude", "annot*", "--json"]);
    assert!(
        !table(&ex)["metadata"].to_string().contains("\"annotator\""),
        "{ex}"
    );
}

#[test]
fn low_cardinality_integers_are_categories() {
    let e = Env::new();
    let rows = |month: u32| {
        let mut csv = String::from("id,month,x\n");
        for i in 0..100 {
            csv += &format!("{i},{month},{}\n", i % 37);
        }
        csv
    };
    e.write("t.csv", rows(5).as_bytes());
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "may"]);
    e.write("t.csv", rows(8).as_bytes());
    e.ok(&["commit", "t.csv", "-m", "august"]);
    let r = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    let month = column(&r, "month");
    assert_eq!(month["kind"], "categorical", "{month}");
    assert_eq!(
        month["new_categories"],
        serde_json::json!([{"category": "8", "share": 1.0}])
    );
    assert_eq!(column(&r, "x")["kind"], "numeric", "37 distinct values");
    assert!(
        month["note"]
            .as_str()
            .is_some_and(|n| n.contains("as categories")),
        "the rule is stated: {month}"
    );
    e.write(
        ".folio/config.toml",
        b"[drift.columns.month]\nkind = \"numeric\"\n",
    );
    let r = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    assert_eq!(column(&r, "month")["kind"], "numeric");
    e.write(
        ".folio/config.toml",
        b"[drift.columns.month]\nkind = \"ordinal\"\n",
    );
    let err = e.fails(&["drift", "HEAD~1", "HEAD"], 1);
    assert!(
        err.contains("ordinal") && err.contains("numeric") && err.contains("categorical"),
        "{err}"
    );
}

#[test]
fn unknown_columns_and_patterns_are_refused_with_the_valid_names() {
    let e = two_versions();
    let err = e.fails(&["drift", "HEAD~1", "HEAD", "--metric", "nosuch=ks_p"], 1);
    assert!(
        err.contains("nosuch") && err.contains("label") && err.contains("grade"),
        "{err}"
    );
    let err = e.fails(&["drift", "HEAD~1", "HEAD", "--threshold", "nosuch=0.1"], 1);
    assert!(err.contains("nosuch") && err.contains("label"), "{err}");
    let err = e.fails(&["drift", "HEAD~1", "HEAD", "--exclude", "zz*"], 1);
    assert!(err.contains("zz*") && err.contains("label"), "{err}");
    let err = e.fails(&["drift", "HEAD~1", "HEAD", "--exclude", "a[b"], 1);
    assert!(err.contains("a[b"), "{err}");
    e.write(
        ".folio/config.toml",
        b"[drift.columns.nosuch]\nmetric = \"psi\"\n",
    );
    let err = e.fails(&["drift", "HEAD~1", "HEAD"], 1);
    assert!(err.contains("nosuch") && err.contains("label"), "{err}");
    // Naming a table narrows the check to it: no error for a rule elsewhere.
    let out = e.ok(&["drift", "HEAD~1", "HEAD", "t.csv"]);
    assert!(out.contains("t.csv"), "{out}");
}

#[test]
fn relabel_queue_round_trips_through_annotate() {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\nlabel = \"label\"\nconfidence = \"conf\"\n",
    );
    let mut csv = String::from("id,x,label,conf\n");
    for i in 0..100 {
        csv += &format!("{i},{},{},0.9\n", i % 50, ["cat", "dog"][i % 2]);
    }
    e.write("t.csv", csv.as_bytes());
    e.ok(&["commit", "t.csv", "-m", "ref"]);
    // 30 new rows far above the reference's range, each with its own
    // confidence: the queue must list exactly these, least confident first.
    let mut added: Vec<(usize, f64)> = Vec::new();
    for i in 100..130 {
        let conf = 0.3 + ((i * 7) % 30) as f64 / 100.0;
        csv += &format!("{i},{},cat,{conf}\n", 200 + i);
        added.push((i, conf));
    }
    e.write("t.csv", csv.as_bytes());
    e.ok(&["commit", "t.csv", "-m", "batch"]);
    let (_, hints) = e.ok_raw(&[
        "drift",
        "HEAD~1",
        "HEAD",
        "--added",
        "--relabel-queue",
        "queue.csv",
    ]);
    assert!(hints.contains("wrote 30 examples"), "{hints}");
    assert!(hints.contains("x in >"), "the hot spot is named: {hints}");
    let queue = std::fs::read_to_string(e.p("queue.csv")).expect("queue");
    let mut lines = queue.lines();
    assert_eq!(
        lines.next(),
        Some(
            "example,label,annotator,confidence,current_label,current_confidence,table,drifted,example_id"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    added.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let want: Vec<String> = added.iter().map(|(i, _)| format!("t.csv:{i}")).collect();
    let got: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(got, want, "the added rows, least confident first");
    for (r, (_, conf)) in rows.iter().zip(&added) {
        assert_eq!(r[4], "cat");
        let c: f64 = r[5].parse().expect("confidence");
        assert!((c - conf).abs() < 1e-12, "{r:?}");
    }
    // An unfilled queue is refused, naming the line.
    let err = e.fails(&["annotate", "--file", "queue.csv"], 1);
    assert!(err.contains("queue.csv:2"), "{err}");
    // Filled in: every row relabelled, back through annotate.
    let filled: String = queue
        .lines()
        .enumerate()
        .map(|(n, l)| {
            if n == 0 {
                format!("{l}\n")
            } else {
                let mut f: Vec<&str> = l.split(',').collect();
                f[1] = "dog";
                f[2] = "reviewer";
                format!("{}\n", f.join(","))
            }
        })
        .collect();
    e.write("queue.csv", filled.as_bytes());
    e.ok(&["annotate", "--file", "queue.csv"]);
    e.ok(&["commit", "--allow-empty", "-m", "relabelled"]);
    let r = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    let label = r["tables"][0]["metadata"]
        .as_array()
        .expect("metadata")
        .iter()
        .find(|c| c["column"] == "(ledger) label")
        .unwrap_or_else(|| panic!("ledger label in {r}"))
        .clone();
    // 130 rows: 50 + 30 cats before, 50 cats after the 30 were relabelled.
    let share = |side: &str, cat: &str| {
        let labels = label["shares"]["labels"].as_array().expect("labels");
        let i = labels.iter().position(|l| l == cat).expect("category");
        label["shares"][side][i].as_f64().expect("share")
    };
    assert!((share("reference", "cat") - 80.0 / 130.0).abs() < 1e-12);
    assert!((share("current", "cat") - 50.0 / 130.0).abs() < 1e-12);
}

/// `--preset evidently` and `--preset nannyml` against the figures the real
/// packages gave on the same tables (tests/golden/presets_expect.py, with
/// Evidently 0.4.40 and NannyML 0.13.1): every column's test, score and
/// verdict, and Evidently's dataset verdict.
#[test]
fn presets_match_evidently_and_nannyml() {
    let dir = format!("{}/../../tests/golden/presets", env!("CARGO_MANIFEST_DIR"));
    let exp: serde_json::Value =
        serde_json::from_slice(&fs::read(format!("{dir}/expected.json")).expect("expected"))
            .expect("json");
    let close = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() <= 1e-9 * want.abs() || (got - want).abs() <= 1e-12,
            "{what}: folio {got}, expected {want}"
        );
    };
    for size in ["small", "large"] {
        let e = Env::new();
        e.write(
            "t.csv",
            &fs::read(format!("{dir}/{size}_ref.csv")).expect("ref"),
        );
        e.ok(&["commit", "t.csv", "--key", "id", "-m", "reference"]);
        e.write(
            "t.csv",
            &fs::read(format!("{dir}/{size}_cur.csv")).expect("cur"),
        );
        e.ok(&["commit", "t.csv", "-m", "current"]);
        let ev = &exp[size]["evidently"];
        let r = e.json(&["drift", "HEAD~1", "HEAD", "--preset", "evidently", "--json"]);
        assert_eq!(r["preset"], "evidently");
        let tests = [
            ("K-S p_value", "evidently_ks_p"),
            ("chi-square p_value", "evidently_chi_square_p"),
            ("Z-test p_value", "evidently_z_p"),
            (
                "Wasserstein distance (normed)",
                "evidently_wasserstein_norm",
            ),
            (
                "Jensen-Shannon distance",
                "evidently_jensen_shannon_distance",
            ),
        ];
        for (name, want) in ev["columns"].as_object().expect("columns") {
            let c = column(&r, name);
            let metric = tests
                .iter()
                .find(|(t, _)| want["test"] == *t)
                .unwrap_or_else(|| panic!("test {}", want["test"]))
                .1;
            assert_eq!(c["metric"], metric, "{size} {name}");
            close(
                c["value"].as_f64().expect("value"),
                want["score"].as_f64().expect("score"),
                &format!("{size} {name} {metric}"),
            );
            assert_eq!(c["threshold"], want["threshold"], "{size} {name}");
            assert_eq!(c["drifted"], want["drifted"], "{size} {name}");
        }
        assert_eq!(r["drifted"], ev["dataset_drift"], "{size}");
        let share = r["tables"][0]["drifted_share"].as_f64().expect("share");
        close(share, ev["share"].as_f64().expect("share"), "share");
        let r = e.json(&["drift", "HEAD~1", "HEAD", "--preset", "nannyml", "--json"]);
        for (name, want) in exp[size]["nannyml"].as_object().expect("columns") {
            let c = column(&r, name);
            assert_eq!(c["metric"], "nannyml_jensen_shannon", "{size} {name}");
            close(
                c["value"].as_f64().expect("value"),
                want["value"].as_f64().expect("value"),
                &format!("{size} {name} nannyml"),
            );
            assert_eq!(c["drifted"], want["alert"], "{size} {name}");
        }
    }
    // An unknown preset lists the known ones.
    let e = two_versions();
    let err = e.fails(&["drift", "HEAD~1", "HEAD", "--preset", "evidentli"], 1);
    assert!(
        err.contains("evidentli") && err.contains("evidently") && err.contains("nannyml"),
        "{err}"
    );
}
