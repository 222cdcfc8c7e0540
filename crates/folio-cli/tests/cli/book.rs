//! The book: schedules against tests/golden/book_expect.py (exact rational
//! arithmetic in Python), reports, disposals, book value and bad input.

use std::fs;

use crate::Env;
use folio_core::book::{Convention, Method, charges};

#[test]
fn every_method_and_convention_matches_the_independent_schedules() {
    let path = format!(
        "{}/../../tests/golden/book/expected.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let cases: Vec<serde_json::Value> =
        serde_json::from_slice(&fs::read(path).expect("expected.json")).expect("json");
    assert!(cases.len() >= 10);
    for c in &cases {
        let method = match c["method"].as_str().expect("method") {
            "straight-line" => Method::StraightLine,
            "sum-of-years-digits" => Method::SumOfYearsDigits,
            "declining-balance" => Method::DecliningBalance {
                factor: c["factor"].as_f64().expect("factor"),
            },
            m => panic!("{m}"),
        };
        let conv = Convention::parse(c["convention"].as_str().expect("conv")).expect("convention");
        let (cost, residual) = (
            c["cost"].as_i64().expect("cost"),
            c["residual"].as_i64().expect("res"),
        );
        let got = charges(
            cost,
            residual,
            c["life"].as_u64().expect("life") as u32,
            &method,
            conv,
            &|_| 0,
            0,
        );
        let want: Vec<i64> = serde_json::from_value(c["charges"].clone()).expect("charges");
        assert_eq!(got, want, "{c}");
        assert_eq!(got.iter().sum::<i64>(), cost - residual);
    }
}

/// A repository whose table carries a cost per row: 120,000.00 EUR placed
/// in service in January 2026 (40,000 + 80,000), and row 1 removed in April.
fn booked() -> Env {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\ncost = \"cost\"\nsource = \"src\"\n",
    );
    e.write(
        "t.csv",
        b"id,cost,src\n1,40000.00,s3://a\n2,80000.00,s3://b\n",
    );
    e.cmd(&["commit", "t.csv", "--currency", "EUR", "-m", "one"])
        .env("FOLIO_NOW", "2026-01-15T10:00:00Z")
        .assert()
        .success();
    e.ok(&[
        "book",
        "policy",
        "t.csv",
        "--method",
        "straight-line",
        "--life",
        "18",
    ]);
    e.write("t.csv", b"id,cost,src\n2,80000.00,s3://b\n");
    e.cmd(&["commit", "-m", "drop row 1"])
        .env("FOLIO_NOW", "2026-04-02T10:00:00Z")
        .assert()
        .success();
    e
}

#[test]
fn schedules_tie_out_and_disposals_derecognise_the_carrying_amount() {
    let e = booked();
    let s = e.json(&["book", "schedule", "--json"]);
    let rows = s["rows"].as_array().expect("rows");
    for r in rows {
        let v = |k: &str| r[k].as_i64().expect(k);
        assert_eq!(
            v("opening_minor") + v("additions_minor")
                - v("depreciation_minor")
                - v("impairment_minor")
                - v("disposals_minor"),
            v("closing_minor"),
            "{r}"
        );
    }
    // Row 1 (40,000.00) depreciates January to March at 40,000 / 18 a
    // month, 6,666.67 in all; its carrying amount 33,333.33 leaves in April.
    let april = rows
        .iter()
        .find(|r| r["period"] == "2026-04")
        .expect("april");
    assert_eq!(april["disposals_minor"], 4_000_000 - 666_667);
    let dep: i64 = rows
        .iter()
        .map(|r| r["depreciation_minor"].as_i64().expect("dep"))
        .sum();
    assert_eq!(dep, 8_000_000 + 666_667);
    assert_eq!(rows.last().expect("last")["closing_minor"], 0);
    // By source: one key per source; by tranche: commit and source.
    let by_source = e.json(&[
        "book", "schedule", "--by", "source", "--period", "year", "--json",
    ]);
    let keys: std::collections::BTreeSet<String> = by_source["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["key"].as_str().expect("key").to_string())
        .collect();
    assert_eq!(keys.into_iter().collect::<Vec<_>>(), ["s3://a", "s3://b"]);
    // CSV: amounts in minor units, one line per row and per total.
    let csv = e.ok(&["book", "schedule", "--period", "quarter", "--csv"]);
    assert!(
        csv.starts_with("key,period,currency,opening_minor"),
        "{csv}"
    );
    assert!(csv.contains("t.csv,2026-Q1,EUR,0,12000000,"), "{csv}");
}

#[test]
fn book_value_of_a_snapshot_at_a_date() {
    let e = booked();
    // At the end of March 2026 each example is 3/18 depreciated; HEAD~1
    // holds both (120,000.00 → 100,000.00), HEAD only row 2 (80,000.00 →
    // 66,666.67).
    let v = e.json(&["book", "value", "HEAD~1", "--as-of", "2026-03-31", "--json"]);
    assert_eq!(
        (v["cost_minor"].as_i64(), v["carrying_minor"].as_i64()),
        (Some(12_000_000), Some(10_000_000)),
        "{v}"
    );
    let v = e.json(&["book", "value", "HEAD", "--as-of", "2026-03", "--json"]);
    assert_eq!(
        (v["cost_minor"].as_i64(), v["carrying_minor"].as_i64()),
        (Some(8_000_000), Some(6_666_667)),
        "{v}"
    );
    let out = e.ok(&["book", "value", "--as-of", "2027-12"]);
    assert!(
        out.contains(": 0.00 EUR (cost 80000.00 EUR)"),
        "fully depreciated: {out}"
    );
    // Without --as-of, the month of FOLIO_NOW (the harness sets it to
    // 2026-01-15): January's charge only, 80,000 / 18 = 4,444.44.
    let v = e.json(&["book", "value", "--json"]);
    let want = e.json(&["book", "value", "--as-of", "2026-01", "--json"]);
    assert_eq!(v["carrying_minor"], want["carrying_minor"], "{v}");
    assert_eq!(
        v["carrying_minor"].as_i64(),
        Some(8_000_000 - 444_444),
        "{v}"
    );
}

#[test]
fn bad_policies_dates_and_currencies_are_refused_and_nothing_is_written() {
    let e = booked();
    let config = fs::read(e.p(".folio/config.toml")).expect("config");
    for (args, want) in [
        (vec!["--method", "linear"], "unknown method 'linear'"),
        (vec!["--life", "0"], "useful life of 0 months"),
        (vec!["--residual", "1.5"], "residual 1.5"),
        (
            vec!["--convention", "half-year"],
            "unknown convention 'half-year'",
        ),
        (vec!["--currency", "EURO"], "unknown currency 'EURO'"),
    ] {
        let mut cmd = vec!["book", "policy", "t.csv"];
        cmd.extend(args);
        let err = e.fails(&cmd, 1);
        assert!(err.contains(want), "{err}");
        assert_eq!(
            fs::read(e.p(".folio/config.toml")).expect("config"),
            config,
            "nothing written"
        );
    }
    let err = e.fails(&["book", "schedule", "--from", "2026-13"], 1);
    assert!(err.contains("'2026-13' is not a date"), "{err}");
    let err = e.fails(&["book", "value", "--as-of", "yesterday"], 1);
    assert!(err.contains("'yesterday' is not a date"), "{err}");
    // Dollars next to euros: never added.
    e.write("u.csv", b"id,cost,src\n1,10.00,s3://c\n");
    let cfg = String::from_utf8(config).expect("utf8")
        + "[tables.\"u.csv\"]\nkey = [\"id\"]\n[tables.\"u.csv\".meta]\ncost = \"cost\"\n";
    fs::write(e.p(".folio/config.toml"), cfg).expect("config");
    e.ok(&["commit", "u.csv", "--currency", "USD", "-m", "dollars"]);
    e.ok(&[
        "book",
        "policy",
        "u.csv",
        "--method",
        "sum-of-years-digits",
        "--life",
        "12",
    ]);
    let err = e.fails(&["book", "schedule"], 1);
    assert!(
        err.contains("EUR") && err.contains("USD") && err.contains("give --dataset"),
        "{err}"
    );
    // `book value` has no --dataset: its message does not offer one.
    let err = e.fails(&["book", "value"], 1);
    assert!(
        err.contains("book value")
            && !err.contains("give --dataset")
            && err.contains("folio book schedule --dataset"),
        "{err}"
    );
    e.ok(&["book", "schedule", "--dataset", "u.csv"]);
    // A dataset without a policy.
    e.write("w.csv", b"id,cost,src\n1,1.00,x\n");
    let cfg = fs::read_to_string(e.p(".folio/config.toml")).expect("config")
        + "[tables.\"w.csv\"]\nkey = [\"id\"]\n[tables.\"w.csv\".meta]\ncost = \"cost\"\n";
    fs::write(e.p(".folio/config.toml"), cfg).expect("config");
    e.ok(&["commit", "w.csv", "--currency", "USD", "-m", "w"]);
    let err = e.fails(&["book", "schedule", "--dataset", "w.csv"], 1);
    assert!(err.contains("w.csv has no book policy"), "{err}");
}

#[test]
fn schedule_report_snapshot() {
    let e = booked();
    let out = e.ok(&["book", "schedule", "--period", "quarter", "--by", "tranche"]);
    insta::assert_snapshot!("book_schedule_quarter_tranche", crate::redact(&out));
    let policy = e.ok(&["book", "policy"]);
    insta::assert_snapshot!("book_policy", policy);
    let portfolio = e.ok(&["book", "portfolio", "--as-of", "2026-06"]);
    insta::assert_snapshot!("book_portfolio", portfolio);
}

#[test]
fn impairment_is_recorded_in_the_ledger_and_recomputes_later_charges() {
    let e = booked();
    let events = || e.ok(&["ledger", "export"]).lines().count();
    let before = events();
    // At the end of June 2026 row 2 (80,000.00, straight-line over 18
    // months) carries 80,000 × 12/18 = 53,333.33.
    let err = e
        .cmd(&[
            "book", "impair", "t.csv", "--amount", "60000", "--reason", "r",
        ])
        .env("FOLIO_NOW", "2026-06-20T00:00:00Z")
        .output()
        .expect("run");
    assert_eq!(err.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&err.stderr)
            .contains("exceeds the carrying amount of t.csv, 53333.33 EUR")
    );
    let err = e.fails(
        &["book", "impair", "t.csv", "--amount", "-5", "--reason", "r"],
        1,
    );
    assert!(err.contains("amount"), "{err}");
    assert_eq!(events(), before, "nothing recorded");
    // t.csv holds only metadata (cost, source): its drift is not the data
    // drifting, so by default there is nothing to impair.
    let out = e
        .cmd(&["book", "impair", "t.csv", "--from-drift", "HEAD~1", "HEAD"])
        .env("FOLIO_NOW", "2026-06-20T00:00:00Z")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("nothing to impair") && text.contains("0 of 0 columns"),
        "{out:?}"
    );
    // Configured to count metadata: a proposal, shown, not recorded.
    let config = fs::read_to_string(e.p(".folio/config.toml")).expect("config");
    fs::write(
        e.p(".folio/config.toml"),
        config + "[drift]\ncount_metadata = true\n",
    )
    .expect("config");
    let out = e
        .cmd(&["book", "impair", "t.csv", "--from-drift", "HEAD~1", "HEAD"])
        .env("FOLIO_NOW", "2026-06-20T00:00:00Z")
        .output()
        .expect("run");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("add --apply"),
        "{out:?}"
    );
    assert_eq!(events(), before);
    e.cmd(&[
        "book",
        "impair",
        "t.csv",
        "--amount",
        "13333.33",
        "--reason",
        "licence narrowed",
    ])
    .env("FOLIO_NOW", "2026-06-20T00:00:00Z")
    .assert()
    .success();
    assert_eq!(events(), before + 1);
    let export = e.ok(&["ledger", "export"]);
    assert!(
        export
            .lines()
            .last()
            .expect("event")
            .contains("\"kind\":\"impaired\"")
    );
    // 40,000.00 left over the 12 remaining months: 3,333.33 a month.
    let s = e.json(&[
        "book", "schedule", "--from", "2026-06", "--to", "2027-06", "--json",
    ]);
    let rows = s["rows"].as_array().expect("rows");
    assert_eq!(rows[0]["impairment_minor"], 1_333_333);
    assert_eq!(rows[0]["closing_minor"], 4_000_000);
    let later: i64 = rows[1..]
        .iter()
        .map(|r| r["depreciation_minor"].as_i64().expect("dep"))
        .sum();
    assert_eq!(later, 4_000_000);
    assert_eq!(rows[1]["depreciation_minor"], 333_333);
    assert_eq!(rows.last().expect("last")["closing_minor"], 0);
    // verify still checks the whole ledger, impairment included.
    e.ok(&["verify"]);
}

#[test]
fn portfolio_balance_sheet_and_html_pages() {
    let e = booked();
    // End of June 2026: row 2 (source s3://b) carries 80,000 × 12/18.
    let p = e.json(&["book", "portfolio", "--as-of", "2026-06", "--json"]);
    assert_eq!(
        (p["cost_minor"].as_i64(), p["carrying_minor"].as_i64()),
        (Some(8_000_000), Some(5_333_333)),
        "{p}"
    );
    let rows = p["rows"].as_array().expect("rows");
    let ds: Vec<&serde_json::Value> = rows.iter().filter(|r| r["kind"] == "dataset").collect();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0]["name"], "t.csv");
    assert_eq!(ds[0]["accumulated_minor"], 8_000_000 - 5_333_333);
    assert_eq!(ds[0]["share"], 1.0);
    assert_eq!(ds[0]["sensitivity"]["unclassified"], 1);
    assert!(
        ds[0]["drift"].is_string(),
        "a verdict from HEAD~1 to HEAD: {p}"
    );
    let src: Vec<&str> = rows
        .iter()
        .filter(|r| r["kind"] == "source")
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(src, ["s3://b"], "s3://a left the book in April");
    let csv = e.ok(&["book", "portfolio", "--as-of", "2026-06", "--csv"]);
    assert!(
        csv.starts_with("kind,name,currency,cost_minor,accumulated_minor,carrying_minor,share"),
        "{csv}"
    );
    // HTML: self-contained, a chart point per month, a table row per row.
    e.ok(&[
        "book",
        "portfolio",
        "--as-of",
        "2026-06",
        "--html",
        "p.html",
    ]);
    let html = fs::read_to_string(e.p("p.html")).expect("html");
    assert!(html.contains("<svg") && html.contains("<polyline") && !html.contains("<script"));
    assert_eq!(html.matches("<circle").count(), 6, "January to June");
    assert_eq!(html.matches("<tr>").count(), 1 + rows.len());
    e.ok(&["book", "schedule", "--html", "s.html"]);
    let html = fs::read_to_string(e.p("s.html")).expect("html");
    let s = e.json(&["book", "schedule", "--json"]);
    let n =
        s["rows"].as_array().expect("rows").len() + s["totals"].as_array().expect("totals").len();
    assert_eq!(html.matches("<tr>").count(), 1 + n);
    assert_eq!(
        html.matches("<circle").count(),
        s["totals"].as_array().expect("totals").len()
    );
}

#[test]
fn a_change_of_estimate_is_prospective() {
    let e = booked();
    let before = e.json(&["book", "schedule", "--to", "2026-06", "--json"]);
    // Row 2 (80,000.00): 6 months at 80,000/18, then the carrying amount
    // 53,333.33 over the 24 − 6 = 18 months left: 2,962.96 a month.
    e.ok(&[
        "book", "policy", "t.csv", "--life", "24", "--from", "2026-07",
    ]);
    let out = e.ok(&["book", "policy", "t.csv"]);
    assert!(
        out.contains("from 2026-07: straight-line, 24 months"),
        "{out}"
    );
    let after = e.json(&["book", "schedule", "--json"]);
    let rows = after["rows"].as_array().expect("rows");
    // The past is unchanged.
    for (a, b) in before["rows"].as_array().expect("rows").iter().zip(rows) {
        assert_eq!(a, b);
    }
    let july = rows
        .iter()
        .find(|r| r["period"] == "2026-07")
        .expect("july");
    assert_eq!(july["opening_minor"], 5_333_333);
    assert_eq!(july["depreciation_minor"], 296_296);
    assert_eq!(after["to"], "2027-12");
    let later: i64 = rows
        .iter()
        .filter(|r| r["period"].as_str() >= Some("2026-07"))
        .map(|r| r["depreciation_minor"].as_i64().expect("dep"))
        .sum();
    assert_eq!(later, 5_333_333);
    // The convention is fixed once the dataset is on the book.
    let err = e.fails(&["book", "policy", "t.csv", "--convention", "mid-month"], 1);
    assert!(err.contains("cannot change"), "{err}");
    // Without --from, a change applies from this month.
    e.cmd(&["book", "policy", "t.csv", "--life", "30"])
        .env("FOLIO_NOW", "2026-09-05T00:00:00Z")
        .assert()
        .success();
    let out = e.ok(&["book", "policy", "t.csv"]);
    assert!(
        out.contains("from 2026-09: straight-line, 30 months"),
        "{out}"
    );
}

/// A repository whose t.csv carries a cost per row (EUR), committed at
/// `now`.
fn costed(csv: &[u8], now: &str) -> Env {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\ncost = \"cost\"\n",
    );
    e.write("t.csv", csv);
    e.cmd(&["commit", "t.csv", "--currency", "EUR", "-m", "costed rows"])
        .env("FOLIO_NOW", now)
        .assert()
        .success();
    e
}

#[test]
fn examples_booked_from_a_later_month_are_not_yet_booked_not_costless() {
    let e = costed(b"id,cost\n1,100.00\n2,50.00\n", "2026-03-10T00:00:00Z");
    e.write("img/a.png", b"a");
    e.cmd(&["commit", "img", "-m", "no cost"])
        .env("FOLIO_NOW", "2026-03-11T00:00:00Z")
        .assert()
        .success();
    e.ok(&[
        "book",
        "policy",
        "t.csv",
        "--method",
        "straight-line",
        "--life",
        "12",
    ]);
    let v = e.json(&["book", "value", "--as-of", "2026-02", "--json"]);
    assert_eq!(v["not_yet_booked"], 2, "{v}");
    assert_eq!(v["without_cost"], 1, "the image has no cost: {v}");
    let out = e.ok(&["book", "value", "--as-of", "2026-02"]);
    assert!(
        out.contains("2 examples present not yet booked at the end of 2026-02")
            && out.contains("1 example present with no cost basis"),
        "{out}"
    );
    // From March on they are on the book: 150.00 over 12 months, 12.50 a
    // month; at the end of May three months are charged.
    let v = e.json(&["book", "value", "--as-of", "2026-05", "--json"]);
    assert_eq!(
        (v["cost_minor"].as_i64(), v["carrying_minor"].as_i64()),
        (Some(15_000), Some(11_250))
    );
    assert_eq!(v["not_yet_booked"], 0);
}

#[test]
fn a_units_of_use_schedule_ends_at_the_last_run() {
    let e = costed(b"id,cost\n1,100.00\n", "2026-01-10T00:00:00Z");
    e.ok(&[
        "book",
        "policy",
        "t.csv",
        "--method",
        "units-of-use",
        "--expected-runs",
        "4",
        "--life",
        "60",
    ]);
    for (month, run) in [
        ("2026-02-15T00:00:00Z", "r1"),
        ("2026-04-15T00:00:00Z", "r2"),
    ] {
        e.cmd(&["trained", "HEAD", "--model", "m", "--run", run])
            .env("FOLIO_NOW", month)
            .assert()
            .success();
    }
    let s = e.json(&["book", "schedule", "--json"]);
    let rows = s["rows"].as_array().expect("rows");
    let periods: Vec<&str> = rows
        .iter()
        .map(|r| r["period"].as_str().expect("p"))
        .collect();
    assert_eq!(periods, ["2026-01", "2026-02", "2026-03", "2026-04"], "{s}");
    // Two of four expected runs: 25.00 each, in February and April.
    let dep: Vec<i64> = rows
        .iter()
        .map(|r| r["depreciation_minor"].as_i64().expect("d"))
        .collect();
    assert_eq!(dep, [0, 2_500, 0, 2_500]);
    // --to still reaches further.
    let s = e.json(&["book", "schedule", "--to", "2026-06", "--json"]);
    assert_eq!(s["rows"].as_array().map(Vec::len), Some(6));
}

#[test]
fn money_in_json_says_its_unit_and_absent_values_are_null() {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\ncost = \"cost\"\n",
    );
    // No source recorded: the source row and the lot say null.
    e.write("t.csv", b"id,cost\n1,18.00\n2,36.00\n");
    e.ok(&["commit", "t.csv", "--currency", "EUR", "-m", "one"]);
    e.ok(&[
        "book",
        "policy",
        "t.csv",
        "--method",
        "straight-line",
        "--life",
        "18",
    ]);
    // By hand: 54.00 EUR over 18 months from January 2026 (FOLIO_NOW):
    // at the end of March, 3 charges of 3.00: carrying 45.00.
    let v = e.json(&["book", "value", "--as-of", "2026-03", "--json"]);
    assert_eq!(
        (v["cost_minor"].as_i64(), v["carrying_minor"].as_i64()),
        (Some(5400), Some(4500)),
        "{v}"
    );
    assert_eq!(v["datasets"]["t.csv"]["cost_minor"], 5400, "{v}");
    assert_eq!(v["datasets"]["t.csv"]["carrying_minor"], 4500, "{v}");
    assert!(
        v.get("cost").is_none() && v.get("carrying").is_none(),
        "{v}"
    );
    let p = e.json(&["book", "portfolio", "--as-of", "2026-03", "--json"]);
    let source = p["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["kind"] == "source")
        .unwrap_or_else(|| panic!("a source row in {p}"))
        .clone();
    assert!(source["name"].is_null(), "{source}");
    assert_eq!(source["carrying_minor"], 4500, "{source}");
    let history = p["history"].as_array().expect("history");
    assert_eq!(history[0]["month"], "2026-01", "{p}");
    assert_eq!(history[0]["carrying_minor"], 5100, "{p}");
    assert!(!p.to_string().contains("(none)"), "{p}");
    let s = e.json(&["book", "schedule", "--to", "2026-02", "--json"]);
    assert_eq!(s["rows"][0]["depreciation_minor"], 300, "{s}");
}

#[test]
fn costs_finer_than_the_minor_unit_are_exact_and_rounded_where_booked() {
    // Seven rows costed i × 0.0013 EUR (labelling per item, fractions of a
    // cent); amounts below in ten-thousandths of a euro, computed here.
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\ncost = \"cost\"\n",
    );
    let rows = |ids: std::ops::RangeInclusive<i64>| {
        let mut s = String::from("id,cost\n");
        for i in ids {
            s += &format!("{i},0.{:04}\n", 13 * i);
        }
        s
    };
    e.write("t.csv", rows(1..=7).as_bytes());
    e.cmd(&["commit", "t.csv", "--currency", "EUR", "-m", "one"])
        .env("FOLIO_NOW", "2026-01-15T10:00:00Z")
        .assert()
        .success();
    let total: i64 = (1..=7).map(|i| 13 * i).sum();
    assert_eq!(total, 364);
    // Recorded exactly: per example and in the audit's total.
    assert_eq!(e.json(&["lineage", "t.csv:1", "--json"])["cost"], "0.0013");
    let audit = e.json(&["audit", "--json"]);
    assert_eq!(
        audit["groups"][0]["cost"]["EUR"],
        format!("0.{total:04}"),
        "{audit}"
    );
    assert!(
        e.ok(&["lineage", "t.csv:7"])
            .contains("cost:     0.0091 EUR")
    );
    // Booked: rounded to the cent once per lot part, half away from zero.
    let cents = |tenk: i64| (tenk + 50) / 100;
    e.ok(&[
        "book",
        "policy",
        "t.csv",
        "--method",
        "straight-line",
        "--life",
        "18",
    ]);
    e.write("t.csv", rows(4..=7).as_bytes());
    e.cmd(&["commit", "-m", "drop rows 1-3"])
        .env("FOLIO_NOW", "2026-04-02T10:00:00Z")
        .assert()
        .success();
    let gone: i64 = (1..=3).map(|i| 13 * i).sum();
    let held = total - gone;
    let v = e.json(&["book", "value", "HEAD~1", "--as-of", "2026-01", "--json"]);
    assert_eq!(v["cost_minor"], cents(held) + cents(gone), "{v}");
    let v = e.json(&["book", "value", "HEAD", "--as-of", "2026-04", "--json"]);
    assert_eq!(v["cost_minor"], cents(held), "{v}");
    let s = e.json(&["book", "schedule", "--json"]);
    let additions: i64 = s["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["additions_minor"].as_i64().expect("additions"))
        .sum();
    assert_eq!(additions, cents(held) + cents(gone), "{s}");
    // Finer than MAX_FINE (6 decimals below the cent): refused, naming it.
    let err = e.fails(
        &[
            "value",
            "t.csv:4",
            "--cost",
            "0.000000001",
            "--currency",
            "EUR",
        ],
        1,
    );
    assert!(
        err.contains("0.000000001 has more than 8 decimals"),
        "{err}"
    );
    assert_eq!(
        e.json(&["lineage", "t.csv:4", "--json"])["cost"],
        "0.0052",
        "nothing recorded"
    );
}
