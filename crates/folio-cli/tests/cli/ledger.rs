//! The ledger: events on commit, lineage, export, and tamper evidence.

use std::fs;

use crate::Env;

fn with_history() -> Env {
    let e = Env::new();
    e.write("data/a.txt", b"a");
    e.write("data/b.txt", b"b");
    e.write("t.csv", b"id,label\n1,cat\n2,dog\n3,cat\n");
    e.ok(&[
        "commit",
        "data",
        "t.csv",
        "--key",
        "id",
        "--source",
        "s3://vendor/batch1",
        "-m",
        "one",
    ]);
    fs::remove_file(e.p("data/b.txt")).expect("rm");
    e.write("t.csv", b"id,label\n1,cat\n3,bird\n4,dog\n");
    e.ok(&["commit", "-m", "two"]);
    e
}

#[test]
fn audit_text_lists_the_first_twenty_missing_and_counts_them_all() {
    let e = Env::new();
    // 30 rows; keys divisible by 3 get a label from a mapped column, none a source
    // or a licence; 5 files with a source.
    let mut csv = String::from("id,label\n");
    for i in 0..30 {
        csv += &format!("{i},{}\n", if i % 3 == 0 { "cat" } else { "" });
    }
    e.write("t.csv", csv.as_bytes());
    for i in 0..5 {
        e.write(&format!("img/{i}.png"), format!("png {i}").as_bytes());
    }
    e.write(
        ".folio/config.toml",
        b"[tables.\"t.csv\"]\nkey = [\"id\"]\n[tables.\"t.csv\".meta]\nlabel = \"label\"\n",
    );
    e.ok(&["commit", "t.csv", "-m", "rows"]);
    e.ok(&["commit", "img", "--source", "cam", "-m", "files"]);
    // What the lists must hold, computed here: locators sorted as text.
    let mut rows: Vec<String> = (0..30).map(|i| format!("t.csv:{i}")).collect();
    let files: Vec<String> = (0..5).map(|i| format!("img/{i}.png")).collect();
    rows.sort();
    let mut unlabelled: Vec<String> = (0..30)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("t.csv:{i}"))
        .chain(files.iter().cloned())
        .collect();
    unlabelled.sort();
    let mut unlicensed: Vec<String> = rows.iter().chain(&files).cloned().collect();
    unlicensed.sort();

    let text = e.ok(&["audit"]);
    for (title, want) in [
        ("without a recorded source", &rows),
        ("without an annotation", &unlabelled),
        ("without a license", &unlicensed),
    ] {
        let head = format!("{} examples {title}:", want.len());
        let at = text.find(&head).unwrap_or_else(|| panic!("{head}\n{text}"));
        let listed: Vec<&str> = text[at + head.len()..]
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("  ") && !l.contains("more (use --json)"))
            .map(str::trim)
            .collect();
        let first: Vec<&str> = want.iter().take(20).map(String::as_str).collect();
        assert_eq!(listed, first, "{title}: {text}");
        let after = text[at..].lines().nth(21).map(str::trim);
        if want.len() > 20 {
            let more = format!("… {} more (use --json)", want.len() - 20);
            assert_eq!(after, Some(more.as_str()), "{title}: {text}");
        } else {
            assert!(after.is_none_or(|l| !l.contains("more")), "{title}: {text}");
        }
    }
    // JSON lists every one, with the counts.
    let j = e.json(&["audit", "--json"]);
    let list = |k: &str| -> Vec<String> {
        j[k].as_array()
            .expect("a list")
            .iter()
            .map(|x| x.as_str().expect("a locator").to_string())
            .collect()
    };
    assert_eq!(list("without_source"), rows);
    assert_eq!(list("without_annotation"), unlabelled);
    assert_eq!(list("without_license"), unlicensed);
    assert_eq!(j["missing"]["source"], 30);
    assert_eq!(j["missing"]["annotation"], unlabelled.len());
    assert_eq!(j["missing"]["license"], 35);
}

/// An exact decimal amount of a two-decimal currency (JSON `"1.25"`) in
/// cents, read digit by digit: `None` when it is not one.
fn cents(v: &serde_json::Value) -> Option<i64> {
    let (whole, frac) = v.as_str()?.split_once('.')?;
    (frac.len() == 2).then_some(())?;
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Writes an object as a loose file of the store; returns its id.
fn put_loose(e: &Env, bytes: &[u8]) -> String {
    let id = blake3::hash(bytes).to_hex().to_string();
    let dir = e.p(&format!(".folio/objects/{}", &id[..2]));
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join(&id[2..]), bytes).expect("write");
    id
}

/// HEAD's commit, decoded (its bytes come with any proof against it).
fn head_commit(e: &Env) -> folio_core::object::Commit {
    let proof: serde_json::Value =
        serde_json::from_str(&e.ok(&["prove", "t.csv:3", "--rev", "HEAD"])).expect("json");
    let bytes = unhex(proof["commit_encoding"].as_str().expect("encoding"));
    folio_core::object::Commit::decode(&bytes).expect("decodes")
}

/// The encodings of the events HEAD's own batches hold, in order.
fn head_events(e: &Env, c: &folio_core::object::Commit) -> Vec<Vec<u8>> {
    let own: Vec<String> = c.events.iter().map(|(b, _)| b.to_string()).collect();
    e.ok(&["ledger", "export"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|v| own.iter().any(|b| v["batch"] == b.as_str()))
        .map(|v| unhex(v["encoding"].as_str().expect("encoding")))
        .collect()
}

/// Points main at a forged copy of `c` whose own events are `events`
/// (counted as `count`), keeping the ledger head `c` records.
fn forge(e: &Env, c: &folio_core::object::Commit, events: &[Vec<u8>], count: u64) {
    let mut b = folio_core::ledger::batch::BatchBuilder::new(c.parents.first().copied(), 1);
    for enc in events {
        b.push_encoded(enc).expect("push");
    }
    let batch = put_loose(e, &b.finish().expect("finish").bytes);
    let mut forged = c.clone();
    forged.events = vec![(batch.parse().expect("id"), count)];
    let id = put_loose(e, &forged.encode());
    fs::write(e.p(".folio/refs/heads/main"), format!("{id}\n")).expect("ref");
}

/// How many events the current view of the ledger holds.
fn count(e: &Env) -> usize {
    e.ok(&["ledger", "export"]).lines().count()
}

fn verify_problems(e: &Env) -> String {
    let out = e.cmd(&["verify"]).output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(70),
        "verify must fail with exit 70 (damaged data)"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn commits_record_examples_added_and_removed() {
    let e = with_history();
    // Commit one: 2 files + 3 rows; commit two: b.txt removed, row 2
    // removed, row 4 added (row 3 modified is not an addition).
    let export = e.ok(&["ledger", "export"]);
    let kinds: Vec<String> = export
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json")["kind"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    // Files one event each; the table's rows one `rows_changed` event a
    // commit, naming its two row manifests (D58).
    assert_eq!(kinds.iter().filter(|k| *k == "example_added").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "example_removed").count(), 1);
    assert_eq!(kinds.iter().filter(|k| *k == "rows_changed").count(), 2);
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["events"], 5);
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{v}");
    // Read as of each commit, the rows are examples like the files: rows
    // 1-3 then 1, 3, 4 present (3 changed, not re-added).
    for (rev, present) in [("HEAD~1", ["1", "2", "3"]), ("HEAD", ["1", "3", "4"])] {
        let audit = e.json(&["audit", "--rev", rev, "--json"]);
        // No example has a licence: the list names every present one.
        let rows: Vec<String> = audit["without_license"]
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|x| x.as_str())
            .filter(|l| l.starts_with("t.csv:"))
            .map(|l| l["t.csv:".len()..].to_string())
            .collect();
        let mut rows = rows;
        rows.sort();
        assert_eq!(rows, present, "{rev}: {audit}");
    }
}

#[test]
fn lineage_of_a_row_and_a_file() {
    let e = with_history();
    let log = e.json(&["log", "--json"]);
    let (two, one) = (log[0]["id"].clone(), log[1]["id"].clone());
    let row = e.json(&["lineage", "t.csv:2", "--json"]);
    assert_eq!(row["source"], "s3://vendor/batch1");
    assert_eq!(row["added_in"], one);
    assert_eq!(row["removed_in"], two);
    let file = e.json(&["lineage", "data/a.txt", "--json"]);
    assert_eq!(file["added_in"], one);
    assert_eq!(file["removed_in"], serde_json::Value::Null);
    let by_id = e.json(&[
        "lineage",
        &file["example"].as_str().expect("id")[..10],
        "--json",
    ]);
    assert_eq!(by_id["locator"], "data/a.txt");
    let err = e.fails(&["lineage", "nope.txt"], 1);
    assert!(err.contains("no example matches 'nope.txt'"), "{err}");
}

#[test]
fn export_can_be_rechecked_without_folio() {
    let e = with_history();
    let c = head_commit(&e);
    let batches: Vec<String> = {
        let one = e.json(&["log", "--json"])[1]["id"]
            .as_str()
            .expect("id")
            .to_string();
        let proof: serde_json::Value =
            serde_json::from_str(&e.ok(&["prove", "t.csv:1", "--rev", &one])).expect("json");
        let first = folio_core::object::Commit::decode(&unhex(
            proof["commit_encoding"].as_str().expect("encoding"),
        ))
        .expect("decodes");
        first
            .events
            .iter()
            .chain(&c.events)
            .map(|(b, _)| b.to_string())
            .collect()
    };
    let mut leaves = Vec::new();
    for line in e.ok(&["ledger", "export"]).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let bytes = unhex(v["encoding"].as_str().expect("encoding"));
        let hash = blake3::hash(&bytes);
        assert_eq!(hash.to_hex().to_string(), v["hash"].as_str().expect("hash"));
        assert!(batches.iter().any(|b| v["batch"] == b.as_str()), "{v}");
        leaves.push(folio_core::ledger::merkle::leaf(
            &folio_core::ledger::merkle::Hash(*hash.as_bytes()),
        ));
    }
    let (size, root) = c.ledger.expect("a head");
    assert_eq!(leaves.len() as u64, size);
    assert_eq!(folio_core::ledger::merkle::root(&leaves), root);
}

#[test]
fn edited_deleted_swapped_cut_and_forged_events_contradict_the_commit() {
    let e = with_history();
    let c = head_commit(&e);
    let main = fs::read(e.p(".folio/refs/heads/main")).expect("ref");
    let original = head_events(&e, &c);
    assert_eq!(original.len(), 2, "b.txt removed; the table's rows changed");
    let n = original.len() as u64;
    let mut edited = original.clone();
    let at = edited[1].len() - 3; // inside the locator
    edited[1][at] ^= 1;
    let mut swapped = original.clone();
    swapped.swap(0, 1);
    let mut forged_source = original.clone();
    forged_source[1] = {
        let mut ev = folio_core::ledger::Event::decode(&original[1]).expect("decodes");
        match &mut ev.payload {
            folio_core::ledger::Payload::Rows(r) => r.source = Some("s3://somewhere-else".into()),
            other => panic!("expected the table's rows event, got {other:?}"),
        }
        ev.encode()
    };
    for (what, events, count) in [
        ("edited", edited, n),
        ("swapped", swapped, n),
        ("deleted", original[..2].to_vec(), n - 1),
        ("forged source", forged_source, n),
        ("miscounted", original.clone(), n + 1),
    ] {
        forge(&e, &c, &events, count);
        let problems = verify_problems(&e);
        assert!(
            problems.contains("is not the root") || problems.contains("holds"),
            "{what}: {problems}"
        );
    }
    fs::write(e.p(".folio/refs/heads/main"), main).expect("restore");
    e.ok(&["verify"]);
}

#[test]
fn proofs_verify_and_any_altered_value_fails() {
    let e = with_history();
    let proof = e.ok(&["prove", "t.csv:2", "--rev", "HEAD"]);
    e.write("proof.json", proof.as_bytes());
    let ok = e.json(&["verify-proof", "proof.json", "--json"]);
    assert_eq!(ok["events"], 2, "added and removed: {ok}");
    // Against the first commit only the addition is attested.
    let first = e.ok(&["prove", "t.csv:2", "--rev", "HEAD~1"]);
    e.write("first.json", first.as_bytes());
    assert_eq!(
        e.json(&["verify-proof", "first.json", "--json"])["events"],
        1
    );
    // Change each hex digit of every value in turn (a sample of positions
    // in each field): every change must be caught.
    let v: serde_json::Value = serde_json::from_str(&proof).expect("json");
    let mut fields: Vec<String> = vec![
        v["commit"].as_str().expect("commit").into(),
        v["commit_encoding"].as_str().expect("enc").into(),
        v["root"].as_str().expect("root").into(),
        v["example"].as_str().expect("example").into(),
    ];
    for ev in v["events"].as_array().expect("events") {
        fields.push(ev["encoding"].as_str().expect("encoding").into());
        // A row's events are its table's rows event, with the manifest and
        // chunk that show the row is one of it.
        for k in ["manifest", "chunk", "ident"] {
            if let Some(x) = ev["rows"][k].as_str() {
                fields.push(x.into());
            }
        }
        for p in ev["path"].as_array().expect("path") {
            fields.push(p.as_str().expect("hash").into());
        }
    }
    let mut tried = 0;
    for f in &fields {
        for pos in (0..f.len()).step_by((f.len() / 7).max(1)) {
            let mut g = f.clone().into_bytes();
            g[pos] = if g[pos] == b'0' { b'1' } else { b'0' };
            let altered = proof.replacen(f.as_str(), std::str::from_utf8(&g).expect("utf8"), 1);
            e.write("bad.json", altered.as_bytes());
            let err = e.fails(&["verify-proof", "bad.json"], 70);
            assert!(
                err.contains("invalid proof") || err.contains("not a folio proof"),
                "{err}"
            );
            tried += 1;
        }
    }
    assert!(tried > 50, "{tried}");
    let bumped = proof.replacen(
        &format!("\"size\": {}", v["size"]),
        &format!("\"size\": {}", v["size"].as_u64().unwrap_or(0) + 1),
        1,
    );
    e.write("bad.json", bumped.as_bytes());
    e.fails(&["verify-proof", "bad.json"], 70);
}

#[test]
fn annotations_values_classes_and_models_tell_the_story() {
    let e = with_history();
    e.ok(&[
        "annotate",
        "t.csv:3",
        "--label",
        "bird",
        "--confidence",
        "0.8",
        "--annotator",
        "zed",
    ]);
    e.ok(&[
        "value",
        "t.csv:3",
        "--cost",
        "1.20",
        "--labelling-cost",
        "0.05",
        "--currency",
        "eur",
        "--vendor",
        "acme",
    ]);
    e.ok(&["classify", "t.csv:3", "--sensitivity", "PII"]);
    e.ok(&["trained", "HEAD", "--model", "resnet", "--run", "r7"]);
    let l = e.json(&["lineage", "t.csv:3", "--json"]);
    assert_eq!(l["label"], "bird");
    assert_eq!(l["annotator"], "zed");
    assert_eq!(l["confidence"], 0.8);
    // 1.20 + 0.05 EUR = 125 cents, computed by hand.
    assert_eq!(cents(&l["cost"]), Some(125), "{l}");
    assert_eq!(l["currency"], "EUR");
    assert_eq!(l["sensitivity"], "pii");
    assert_eq!(l["models"].as_array().map(Vec::len), Some(1), "{l}");
    // Row 2 was removed before the training commit: the model never saw it.
    let gone = e.json(&["lineage", "t.csv:2", "--json"]);
    assert_eq!(gone["models"].as_array().map(Vec::len), Some(0), "{gone}");
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{v}");
}

#[test]
fn invalid_metadata_is_refused_and_records_nothing() {
    let e = with_history();
    let before = count(&e);
    for (args, msg) in [
        (
            vec!["annotate", "t.csv:3", "--label", "x", "--confidence", "1.5"],
            "confidence 1.5 is outside 0..1",
        ),
        (
            vec!["value", "t.csv:3", "--cost", "3", "--currency", "EUX"],
            "unknown currency 'EUX'",
        ),
        (
            vec!["value", "t.csv:3", "--cost", "-3", "--currency", "EUR"],
            "negative",
        ),
        (
            vec![
                "value",
                "t.csv:3",
                "--cost",
                "1.234567891",
                "--currency",
                "EUR",
            ],
            "1.234567891 has more than 8 decimals",
        ),
        (
            vec!["classify", "t.csv:3", "--sensitivity", "secret"],
            "unknown sensitivity 'secret'",
        ),
        (
            vec!["annotate", "t.csv:99", "--label", "x"],
            "no example matches 't.csv:99'",
        ),
    ] {
        let err = e.fails(&args, 1);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    assert_eq!(count(&e), before, "nothing was recorded");
}

#[test]
fn audit_inventories_sources_sensitivity_annotations_and_cost() {
    let e = with_history();
    e.write("extra/x.txt", b"x");
    e.ok(&["commit", "extra", "-m", "no source"]);
    e.ok(&[
        "annotate",
        "t.csv:1",
        "--label",
        "cat",
        "--confidence",
        "0.9",
        "--annotator",
        "ann",
    ]);
    e.ok(&[
        "annotate",
        "t.csv:3",
        "--label",
        "bird",
        "--confidence",
        "0.5",
        "--annotator",
        "bob",
    ]);
    e.ok(&["value", "t.csv:1", "--cost", "2.50", "--currency", "EUR"]);
    e.ok(&["value", "t.csv:3", "--cost", "1", "--currency", "EUR"]);
    e.ok(&["classify", "t.csv:3", "--sensitivity", "pii"]);
    let r = e.json(&["audit", "--json"]);
    let groups = r["groups"].as_array().expect("groups");
    // Present now: data/a.txt and rows 1 and 3 from s3://vendor/batch1
    // (commit one); row 4 (commit two) and extra/x.txt with no source.
    // Expected values worked out by hand.
    let vendor = groups
        .iter()
        .find(|g| g["source"] == "s3://vendor/batch1" && g["dataset"] == "t.csv")
        .expect("table group");
    assert_eq!(vendor["examples"], 2);
    assert_eq!(vendor["annotated"], 2);
    assert_eq!(vendor["mean_confidence"], 0.7);
    assert_eq!(vendor["min_confidence"], 0.5);
    assert_eq!(cents(&vendor["cost"]["EUR"]), Some(350), "{vendor}");
    assert_eq!(vendor["sensitivity"]["pii"], 1);
    assert_eq!(vendor["sensitivity"]["unclassified"], 1);
    assert_eq!(
        r["without_source"],
        serde_json::json!(["extra/x.txt", "t.csv:4"])
    );
    let only_pii = e.json(&["audit", "--sensitivity", "pii", "--json"]);
    assert_eq!(only_pii["groups"].as_array().map(Vec::len), Some(1));
    // As the commit attests it, the later labels do not count yet.
    let attested = e.json(&["audit", "--rev", "HEAD", "--json"]);
    let g = attested["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["dataset"] == "t.csv")
        .cloned()
        .expect("group");
    assert_eq!(g["annotated"], 0);
    let csv = e.ok(&["audit", "--csv"]);
    assert!(csv.starts_with("source,dataset,examples,"), "{csv}");
    assert!(csv.contains("s3://vendor/batch1,t.csv,2,2,"), "{csv}");
}

#[test]
fn metadata_columns_and_batch_flags_feed_the_ledger_at_commit() {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"r.csv\"]\nkey = [\"id\"]\n[tables.\"r.csv\".meta]\nlabel = \"label\"\nannotator = \"who\"\nconfidence = \"conf\"\nsource = \"origin\"\n",
    );
    e.write(
        "r.csv",
        b"id,label,who,conf,origin\n1,cat,ann,0.9,s3://a\n2,dog,bob,0.4,s3://b\n",
    );
    e.write("files/x.txt", b"x");
    e.ok(&[
        "commit",
        "r.csv",
        "files",
        "--cost",
        "0.10",
        "--currency",
        "USD",
        "--sensitivity",
        "internal",
        "--license",
        "CC-BY-4.0",
        "-m",
        "one",
    ]);
    let one = e.json(&["lineage", "r.csv:1", "--json"]);
    assert_eq!(
        (
            one["label"].as_str(),
            one["annotator"].as_str(),
            one["source"].as_str()
        ),
        (Some("cat"), Some("ann"), Some("s3://a"))
    );
    assert_eq!(one["confidence"], 0.9);
    assert_eq!(cents(&one["cost"]), Some(10), "{one}");
    assert_eq!(one["license"], "CC-BY-4.0");
    let file = e.json(&["lineage", "files/x.txt", "--json"]);
    assert_eq!(file["sensitivity"], "internal");
    assert_eq!(file["label"], serde_json::Value::Null);
    // Relabelling row 2 in the file records an annotation at the next commit.
    e.write(
        "r.csv",
        b"id,label,who,conf,origin\n1,cat,ann,0.9,s3://a\n2,cat,cy,0.8,s3://b\n",
    );
    let r = e.json(&["commit", "-m", "relabel", "--json"]);
    assert_eq!(r["ledger_events"], 1, "{r}");
    let two = e.json(&["lineage", "r.csv:2", "--json"]);
    assert_eq!(
        (two["label"].as_str(), two["annotator"].as_str()),
        (Some("cat"), Some("cy"))
    );
    // A bad value names the row and stops the commit; nothing is recorded.
    let before = count(&e);
    e.write(
        "r.csv",
        b"id,label,who,conf,origin\n1,cat,ann,0.9,s3://a\n2,cat,cy,1.7,s3://b\n",
    );
    let err = e.fails(&["commit", "-m", "bad"], 1);
    assert!(
        err.contains("row r.csv:2 (its metadata columns): confidence 1.7 is outside 0..1"),
        "{err}"
    );
    assert_eq!(count(&e), before);
    let err = e.fails(&["commit", "-m", "bad flags", "--cost", "5"], 1);
    assert!(err.contains("has no currency"), "{err}");
}

#[test]
fn quality_measures_agreement_and_lists_what_to_relabel() {
    let e = with_history();
    // Row 1: ann, bob, cy say cat, cat, dog. Row 3: ann and bob agree (bird)
    // but the latest confidence is 0.3. data/a.txt: one annotator only.
    for (who, label) in [("ann", "cat"), ("bob", "cat"), ("cy", "dog")] {
        e.ok(&[
            "annotate",
            "t.csv:1",
            "--label",
            label,
            "--annotator",
            who,
            "--confidence",
            "0.9",
        ]);
    }
    e.ok(&[
        "annotate",
        "t.csv:3",
        "--label",
        "bird",
        "--annotator",
        "ann",
        "--confidence",
        "0.9",
    ]);
    e.ok(&[
        "annotate",
        "t.csv:3",
        "--label",
        "bird",
        "--annotator",
        "bob",
        "--confidence",
        "0.3",
    ]);
    e.ok(&[
        "annotate",
        "data/a.txt",
        "--label",
        "x",
        "--annotator",
        "ann",
    ]);
    let q = e.json(&["quality", "--json"]);
    let row1 = q["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .find(|x| x["locator"] == "t.csv:1")
        .cloned()
        .expect("row 1");
    // Shares 2/3, 1/3: H = 0.9182958 bits, over log2 3 = 1.5849625 bits.
    let want = 0.9182958 / 1.5849625;
    assert!(
        (row1["entropy"].as_f64().expect("entropy") - want).abs() < 1e-6,
        "{row1}"
    );
    let cy = q["annotators"]
        .as_array()
        .expect("annotators")
        .iter()
        .find(|a| a["annotator"] == "cy")
        .cloned()
        .expect("cy");
    assert_eq!(
        (cy["agreed"].as_u64(), cy["compared"].as_u64()),
        (Some(0), Some(1))
    );
    let ann = q["annotators"]
        .as_array()
        .expect("annotators")
        .iter()
        .find(|a| a["annotator"] == "ann")
        .cloned()
        .expect("ann");
    assert_eq!(
        (ann["agreed"].as_u64(), ann["compared"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(q["relabel"], serde_json::json!(["t.csv:1", "t.csv:3"]));
    e.fails(&["quality", "--min-confidence", "2"], 1);
}

#[test]
fn annotations_from_a_file_all_or_nothing() {
    let e = with_history();
    e.write("labels.csv", b"example,label,annotator,confidence\nt.csv:1,cat,ann,0.9\nt.csv:3,bird,bob,0.7\ndata/a.txt,doc,ann,\n");
    let out = e.ok(&["annotate", "--file", "labels.csv"]);
    assert!(out.contains("recorded 3 annotations"), "{out}");
    assert_eq!(e.json(&["lineage", "t.csv:3", "--json"])["label"], "bird");
    assert_eq!(e.json(&["lineage", "data/a.txt", "--json"])["label"], "doc");
    let before = count(&e);
    e.write("bad.jsonl", b"{\"example\": \"t.csv:1\", \"label\": \"dog\"}\n{\"example\": \"t.csv:77\", \"label\": \"dog\"}\n");
    let err = e.fails(&["annotate", "--file", "bad.jsonl"], 1);
    assert!(
        err.contains("bad.jsonl:2: 't.csv:77' matches no example"),
        "{err}"
    );
    e.write("bad.csv", b"example,label,confidence\nt.csv:1,dog,2\n");
    let err = e.fails(&["annotate", "--file", "bad.csv"], 1);
    assert!(
        err.contains("bad.csv:2: confidence 2 is outside 0..1"),
        "{err}"
    );
    assert_eq!(count(&e), before, "nothing was recorded");
}

#[test]
fn sidecar_metadata_is_per_example_and_checked() {
    let e = Env::new();
    e.write("imgs/a.png", b"a");
    e.write("imgs/b.png", b"b");
    e.write(
        "side.csv",
        b"example,label,annotator,confidence,source,license\nimgs/a.png,cat,ann,0.8,s3://x,CC0\n",
    );
    e.ok(&[
        "commit",
        "imgs",
        "--meta",
        "side.csv",
        "--license",
        "proprietary",
        "-m",
        "one",
    ]);
    let a = e.json(&["lineage", "imgs/a.png", "--json"]);
    assert_eq!(
        (a["label"].as_str(), a["license"].as_str()),
        (Some("cat"), Some("CC0")),
        "{a}"
    );
    let b = e.json(&["lineage", "imgs/b.png", "--json"]);
    assert_eq!(
        (b["label"].as_str(), b["license"].as_str()),
        (None, Some("proprietary")),
        "{b}"
    );
    // A later sidecar can update an existing example; an unknown one is refused.
    e.write("imgs/c.png", b"c");
    e.write(
        "side2.jsonl",
        b"{\"example\": \"imgs/b.png\", \"label\": \"dog\"}\n",
    );
    e.ok(&["commit", "--meta", "side2.jsonl", "-m", "two"]);
    assert_eq!(e.json(&["lineage", "imgs/b.png", "--json"])["label"], "dog");
    let before = count(&e);
    e.write("imgs/d.png", b"d");
    e.write("side3.csv", b"example,label\nimgs/zzz.png,cat\n");
    let err = e.fails(&["commit", "--meta", "side3.csv", "-m", "three"], 1);
    assert!(
        err.contains("side3.csv:2: 'imgs/zzz.png' matches no example"),
        "{err}"
    );
    e.write("side4.csv", b"example,confidence,label\nimgs/d.png,7,cat\n");
    let err = e.fails(&["commit", "--meta", "side4.csv", "-m", "four"], 1);
    assert!(
        err.contains("side4.csv:2: confidence 7 is outside 0..1"),
        "{err}"
    );
    assert_eq!(count(&e), before, "nothing was recorded");
}

/// Answers of the queries the ledger index serves.
fn index_answers(e: &Env) -> Vec<serde_json::Value> {
    vec![
        e.json(&["lineage", "t.csv:3", "--json"]),
        e.json(&["lineage", "data/a.txt", "--json"]),
        e.json(&["audit", "--source", "s3://vendor/batch1", "--json"]),
        e.json(&["audit", "--json"]),
    ]
}

#[test]
fn the_ledger_index_answers_as_the_ledger_does() {
    let e = with_history();
    e.ok(&[
        "annotate",
        "t.csv:3",
        "--label",
        "owl",
        "--annotator",
        "ann",
    ]);
    e.ok(&["trained", "HEAD", "--model", "m1", "--run", "r1"]);
    let index = e.p(".folio/index/ledger.redb");
    assert!(index.exists(), "commits and records keep the index");
    let with_index = index_answers(&e);
    // The events each query must see, read from the export independently.
    let lineage = &with_index[0];
    let labels: Vec<&str> = lineage["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|ev| ev["kind"] == "annotated")
        .map(|ev| ev["payload"]["label"].as_str().expect("label"))
        .collect();
    assert_eq!(labels, ["owl"], "{lineage}");
    assert_eq!(
        lineage["models"].as_array().map(Vec::len),
        Some(1),
        "{lineage}"
    );
    // Without the index: every frame is read, the answers are the same.
    fs::remove_file(&index).expect("rm index");
    assert_eq!(index_answers(&e), with_index);
    // Rebuilt from the ledger alone: the same again.
    let out = e.ok(&["reindex"]);
    assert!(out.contains("ledger event batches"), "{out}");
    assert!(index.exists());
    assert_eq!(index_answers(&e), with_index);
    // An index left behind by a crash (saved before the last record):
    // the events past it are still read.
    let behind = fs::read(&index).expect("read index");
    e.ok(&[
        "annotate",
        "t.csv:3",
        "--label",
        "hawk",
        "--annotator",
        "bo",
    ]);
    fs::write(&index, behind).expect("restore stale index");
    let l = e.json(&["lineage", "t.csv:3", "--json"]);
    assert_eq!(l["label"], "hawk", "{l}");
    // Without the index, the same answer.
    let l = e.json(&["lineage", "t.csv:3", "--json"]);
    fs::remove_file(&index).expect("rm index");
    assert_eq!(e.json(&["lineage", "t.csv:3", "--json"]), l);
    assert!(l["events"].as_array().is_some_and(|v| !v.is_empty()), "{l}");
}

#[test]
fn filters_select_the_examples_an_event_is_recorded_for() {
    let e = with_history();
    // Present now, from the history above: data/a.txt, t.csv rows 1 and 3
    // carry source s3://vendor/batch1; row 4 (commit two) has none.
    e.ok(&[
        "annotate",
        "t.csv:1",
        "--label",
        "cat",
        "--annotator",
        "ann",
        "--confidence",
        "0.3",
    ]);
    e.ok(&[
        "annotate",
        "t.csv:3",
        "--label",
        "bird",
        "--annotator",
        "bo",
        "--confidence",
        "0.9",
    ]);
    let out = e.ok(&[
        "annotate",
        "--max-confidence",
        "0.5",
        "--label",
        "cat?",
        "--annotator",
        "rev",
    ]);
    assert!(out.contains("annotated 1 examples"), "{out}");
    assert_eq!(e.json(&["lineage", "t.csv:1", "--json"])["label"], "cat?");
    assert_eq!(e.json(&["lineage", "t.csv:3", "--json"])["label"], "bird");
    let out = e.ok(&[
        "classify",
        "--where-source",
        "s3://vendor/batch1",
        "--sensitivity",
        "pii",
    ]);
    assert!(out.contains("classified 3 examples as pii"), "{out}");
    let audit = e.json(&["audit", "--sensitivity", "pii", "--json"]);
    let n: u64 = audit["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["examples"].as_u64().expect("count"))
        .sum();
    assert_eq!(n, 3, "{audit}");
    let out = e.ok(&[
        "value",
        "--where-annotator",
        "bo",
        "--cost",
        "2.50",
        "--currency",
        "eur",
    ]);
    assert!(out.contains("valued 1 examples at 2.50 EUR each"), "{out}");
    assert_eq!(
        cents(&e.json(&["lineage", "t.csv:3", "--json"])["cost"]),
        Some(250)
    );
    // No match, or a selector and filters together: refused, nothing recorded.
    let before = count(&e);
    let err = e.fails(
        &[
            "classify",
            "--where-label",
            "zebra",
            "--sensitivity",
            "public",
        ],
        1,
    );
    assert!(err.contains("no example present now matches"), "{err}");
    let err = e.fails(
        &[
            "classify",
            "t.csv:1",
            "--where-label",
            "cat",
            "--sensitivity",
            "public",
        ],
        1,
    );
    assert!(err.contains("not both"), "{err}");
    let err = e.fails(&["classify", "--sensitivity", "public"], 1);
    assert!(err.contains("at least one filter"), "{err}");
    assert_eq!(count(&e), before);
}

#[test]
fn labelling_cost_vendor_and_configured_sensitivities() {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[ledger]\nsensitivities = [\"open\", \"restricted\"]\n[tables.\"r.csv\"]\nkey = [\"id\"]\n[tables.\"r.csv\".meta]\ncost = \"buy\"\nlabelling_cost = \"tag\"\nvendor = \"who\"\nsensitivity = \"class\"\n",
    );
    e.write(
        "r.csv",
        b"id,buy,tag,who,class\n1,1.20,0.35,acme,open\n2,,0.50,labelco,restricted\n",
    );
    e.ok(&["commit", "r.csv", "--currency", "EUR", "-m", "one"]);
    // Cost basis = acquisition + labelling, in cents: 120 + 35 and 0 + 50.
    let one = e.json(&["lineage", "r.csv:1", "--json"]);
    assert_eq!(
        (cents(&one["cost"]), one["sensitivity"].as_str()),
        (Some(155), Some("open")),
        "{one}"
    );
    let valued = one["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|ev| ev["kind"] == "valued")
        .expect("a valued event")
        .clone();
    assert_eq!(
        cents(&valued["payload"]["acquisition"]),
        Some(120),
        "{valued}"
    );
    assert_eq!(cents(&valued["payload"]["labelling"]), Some(35), "{valued}");
    assert_eq!(valued["payload"]["vendor"], "acme", "{valued}");
    assert_eq!(
        cents(&e.json(&["lineage", "r.csv:2", "--json"])["cost"]),
        Some(50)
    );
    // Only the configured classes are accepted, anywhere.
    e.ok(&["classify", "r.csv:2", "--sensitivity", "open"]);
    let err = e.fails(&["classify", "r.csv:2", "--sensitivity", "pii"], 1);
    assert!(
        err.contains("unknown sensitivity 'pii': use one of open, restricted"),
        "{err}"
    );
    e.write(
        "r.csv",
        b"id,buy,tag,who,class\n1,1.20,0.35,acme,open\n3,1,0,x,secret\n",
    );
    let err = e.fails(&["commit", "r.csv", "--currency", "EUR", "-m", "bad"], 1);
    assert!(
        err.contains("row r.csv:3") && err.contains("unknown sensitivity 'secret'"),
        "{err}"
    );
    // A sidecar column folio does not know is refused, naming it.
    e.write("side.csv", b"example,labeling_cost\nr.csv:1,0.10\n");
    let err = e.fails(
        &[
            "commit",
            "r.csv",
            "--meta",
            "side.csv",
            "--currency",
            "EUR",
            "-m",
            "bad",
        ],
        1,
    );
    assert!(
        err.contains("side.csv:2: unknown column 'labeling_cost'"),
        "{err}"
    );
    // A bad configured set is a configuration error naming the class.
    e.write(
        ".folio/config.toml",
        b"[ledger]\nsensitivities = [\"Open\"]\n",
    );
    let err = e.fails(&["classify", "r.csv:1", "--sensitivity", "open"], 1);
    assert!(err.contains("'Open'"), "{err}");
}

#[test]
fn collection_time_and_file_sources_come_from_columns_sidecars_and_flags() {
    let e = Env::new();
    e.write(
        ".folio/config.toml",
        b"[tables.\"r.csv\"]\nkey = [\"id\"]\n[tables.\"r.csv\".meta]\ncollected_at = \"when\"\n",
    );
    e.write("r.csv", b"id,when\n1,2025-12-24\n2,\n");
    e.write("img/a.png", b"a");
    e.write("img/b.png", b"b");
    e.write("side.jsonl", b"{\"example\":\"img/a.png\",\"source\":\"cam://front\",\"collected_at\":\"2025-11-02T08:00:00Z\"}\n");
    e.ok(&[
        "commit",
        "r.csv",
        "img",
        "--meta",
        "side.jsonl",
        "--collected-at",
        "2026-01-01",
        "--source",
        "s3://batch",
        "-m",
        "one",
    ]);
    let row = |k: &str| e.json(&["lineage", k, "--json"]);
    // Column, then flag where the column is empty; sidecar, then flags.
    assert_eq!(row("r.csv:1")["collected_at"], "2025-12-24");
    assert_eq!(row("r.csv:2")["collected_at"], "2026-01-01");
    let a = row("img/a.png");
    assert_eq!(
        (a["collected_at"].as_str(), a["source"].as_str()),
        (Some("2025-11-02T08:00:00Z"), Some("cam://front")),
        "{a}"
    );
    let b = row("img/b.png");
    assert_eq!(
        (b["collected_at"].as_str(), b["source"].as_str()),
        (Some("2026-01-01"), Some("s3://batch")),
        "{b}"
    );
    // A time that does not parse names where it came from.
    e.write("r.csv", b"id,when\n1,2025-12-24\n3,yesterday\n");
    let err = e.fails(&["commit", "r.csv", "-m", "bad"], 1);
    assert!(
        err.contains("row r.csv:3") && err.contains("collected_at 'yesterday'"),
        "{err}"
    );
}

#[test]
fn a_batch_cost_is_split_over_the_selected_examples() {
    let e = with_history();
    // t.csv holds rows 1, 3 and 4 now: 100.00 EUR split 33.34 + 33.33 + 33.33.
    let out = e.ok(&[
        "value",
        "--where-dataset",
        "t.csv",
        "--cost",
        "100.00",
        "--currency",
        "eur",
        "--batch",
    ]);
    assert!(
        out.contains("valued 3 examples at 100.00 EUR in all"),
        "{out}"
    );
    let mut costs: Vec<i64> = ["t.csv:1", "t.csv:3", "t.csv:4"]
        .iter()
        .map(|k| cents(&e.json(&["lineage", k, "--json"])["cost"]).expect("cost"))
        .collect();
    costs.sort_unstable();
    assert_eq!(costs, [3333, 3333, 3334]);
}

#[test]
fn an_adjudicator_settles_labels_and_annotators_are_measured_against_it() {
    let e = Env::new();
    e.write("t.csv", b"id,x\n1,a\n2,b\n3,c\n4,d\n");
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "rows"]);
    let label = |row: u32, who: &str, l: &str| {
        e.ok(&[
            "annotate",
            &format!("t.csv:{row}"),
            "--label",
            l,
            "--annotator",
            who,
            "--confidence",
            "0.9",
        ]);
    };
    label(1, "ann1", "cat");
    label(1, "ann2", "cat");
    label(1, "ann3", "dog");
    label(1, "judge", "dog");
    label(2, "ann1", "dog");
    label(2, "ann2", "cat");
    label(2, "judge", "cat");
    for who in ["ann1", "ann2", "ann3"] {
        label(3, who, "cat");
    }
    label(4, "ann1", "cat");
    label(4, "ann1", "dog"); // replaces ann1's first label
    label(4, "ann2", "dog");
    // By hand. References: 1 dog (ruling), 2 cat (ruling), 3 cat and
    // 4 dog (majorities). ann1: 1 ✗ 2 ✗ 3 ✓ 4 ✓; ann2: 1 ✗ 2 ✓ 3 ✓ 4 ✓;
    // ann3: 1 ✓ 3 ✓.
    let r = e.json(&["quality", "--adjudicator", "judge", "--json"]);
    let agreement = |who: &str| {
        let a = r["annotators"]
            .as_array()
            .expect("annotators")
            .iter()
            .find(|a| a["annotator"] == who)
            .unwrap_or_else(|| panic!("{who} in {r}"));
        (a["agreed"].as_u64(), a["compared"].as_u64())
    };
    assert_eq!(agreement("ann1"), (Some(2), Some(4)));
    assert_eq!(agreement("ann2"), (Some(3), Some(4)));
    assert_eq!(agreement("ann3"), (Some(2), Some(2)));
    assert!(
        r["annotators"]
            .as_array()
            .expect("a")
            .iter()
            .all(|a| a["annotator"] != "judge"),
        "the adjudicator is not scored"
    );
    // Worst first: row 2 (cat 1, dog 1: agreement 0), row 1 (cat 2, dog 1:
    // 1 − H(2/3, 1/3)/log2 3), then the unanimous rows by locator.
    let order: Vec<&str> = r["examples"]
        .as_array()
        .expect("examples")
        .iter()
        .map(|x| x["locator"].as_str().expect("locator"))
        .collect();
    assert_eq!(order, ["t.csv:2", "t.csv:1", "t.csv:3", "t.csv:4"]);
    let h = -(2.0f64 / 3.0 * (2.0f64 / 3.0).log2() + 1.0 / 3.0 * (1.0f64 / 3.0).log2());
    let a1 = r["examples"][1]["agreement"].as_f64().expect("agreement");
    assert!((a1 - (1.0 - h / 3f64.log2())).abs() < 1e-12, "{a1}");
    assert_eq!(r["examples"][1]["reference"], "dog");
    assert_eq!(r["examples"][1]["adjudicated"], true);
    // Settled examples are not to relabel.
    assert_eq!(r["relabel"], serde_json::json!([]));
    let text = e.ok(&["quality", "--adjudicator", "judge"]);
    assert!(text.contains("cat 2, dog 1  → dog (adjudicated)"), "{text}");
    assert!(!text.contains("-0.000"), "{text}");
    // Without a ruling the judge is one more annotator: row 1 ties 2–2
    // (H = 1 bit over log2 4 = 2: agreement 0.5, no majority), row 2 is
    // cat 2, dog 1 (agreement 1 − H(2/3, 1/3)/log2 3, majority cat).
    let r = e.json(&["quality", "--json"]);
    let row = |loc: &str| {
        r["examples"]
            .as_array()
            .expect("examples")
            .iter()
            .find(|x| x["locator"] == loc)
            .unwrap_or_else(|| panic!("{loc} in {r}"))
            .clone()
    };
    assert_eq!(row("t.csv:1")["agreement"].as_f64(), Some(0.5));
    assert_eq!(row("t.csv:1")["reference"], serde_json::Value::Null);
    let a2 = row("t.csv:2")["agreement"].as_f64().expect("agreement");
    assert!((a2 - (1.0 - h / 3f64.log2())).abs() < 1e-12, "{a2}");
    assert_eq!(r["examples"][0]["locator"], "t.csv:2", "worst first");
    assert!(r["relabel"].to_string().contains("t.csv:1"), "{r}");
    // An empty adjudicator is refused, from the flag and from the config.
    let err = e.fails(&["quality", "--adjudicator", " "], 1);
    assert!(err.contains("--adjudicator is empty"), "{err}");
    let err = e.fails(&["config", "set", "quality.adjudicator", "\"\""], 1);
    assert!(err.contains("adjudicator is empty"), "{err}");
    // The same ruling from the config.
    e.write(
        ".folio/config.toml",
        b"[quality]\nadjudicator = \"judge\"\n",
    );
    let cfg = e.json(&["quality", "--json"]);
    assert_eq!(cfg["adjudicator"], "judge");
    assert_eq!(cfg["relabel"], serde_json::json!([]));
}

#[test]
fn audit_json_says_null_for_what_was_never_recorded() {
    let e = Env::new();
    e.write("img/a.png", b"a");
    e.write("img/b.png", b"b");
    e.ok(&["commit", "img", "-m", "no source"]);
    e.write("lic/c.png", b"c");
    e.ok(&[
        "commit",
        "lic",
        "--source",
        "s3://x",
        "--license",
        "CC-BY-4.0",
        "-m",
        "sourced",
    ]);
    let r = e.json(&["audit", "--json"]);
    let groups = r["groups"].as_array().expect("groups");
    let none = groups
        .iter()
        .find(|g| g["dataset"] == "img")
        .unwrap_or_else(|| panic!("img in {r}"));
    assert_eq!(none["source"], serde_json::Value::Null, "{none}");
    assert_eq!(none["unlicensed"], 2);
    assert_eq!(none["licenses"], serde_json::json!({}));
    let some = groups.iter().find(|g| g["dataset"] == "lic").expect("lic");
    assert_eq!(some["source"], "s3://x");
    assert_eq!(some["licenses"], serde_json::json!({"CC-BY-4.0": 1}));
    assert_eq!(some["unlicensed"], 0);
    assert!(!r.to_string().contains("(none)"), "{r}");
    let text = e.ok(&["audit"]);
    assert!(
        text.contains("source (none)  dataset img") && text.contains("licenses: (none) 2"),
        "{text}"
    );
}

#[test]
fn a_linked_row_describes_its_file_and_folders_give_labels() {
    let e = Env::new();
    for f in [
        "cat/1.png",
        "cat/2.png",
        "cat/3.png",
        "dog/1.png",
        "dog/2.png",
    ] {
        e.write(&format!("images/{f}"), f.as_bytes());
    }
    e.write("images/loose.png", b"no folder");
    // Row 2 names its file with the dataset's path in front: accepted too.
    e.write(
        "labels.csv",
        b"id,path,label,annotator,confidence,cost\n1,cat/1.png,dog,ann,0.4,0.10\n2,images/dog/2.png,dog,bob,0.9,0.20\n",
    );
    let config = "[tables.\"labels.csv\"]\nkey = [\"id\"]\nlinks = { column = \"path\", dataset = \"images\" }\n[tables.\"labels.csv\".meta]\nlabel = \"label\"\nannotator = \"annotator\"\nconfidence = \"confidence\"\ncost = \"cost\"\n[datasets.\"images\"]\nlabels = \"parent-folder\"\n";
    e.write(".folio/config.toml", config.as_bytes());
    e.ok(&[
        "commit",
        "images",
        "labels.csv",
        "-m",
        "one",
        "--currency",
        "USD",
    ]);
    // By hand: six images; every one in a class folder is labelled (cat/1
    // by its row, the others by their folder), loose.png is not; the rows
    // are descriptions, not examples; costs 0.10 + 0.20 USD.
    let a = e.json(&["audit", "--json"]);
    let groups = a["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{a}");
    assert_eq!(groups[0]["dataset"], "images");
    assert_eq!(groups[0]["examples"], 6);
    assert_eq!(groups[0]["annotated"], 5);
    assert_eq!(groups[0]["cost"]["USD"], "0.30", "{groups:?}");
    assert_eq!(
        a["without_annotation"],
        serde_json::json!(["images/loose.png"])
    );
    let l = e.json(&["lineage", "images/cat/1.png", "--json"]);
    assert_eq!(l["label"], "dog");
    assert_eq!(l["annotator"], "ann");
    assert_eq!(l["described_by"], serde_json::json!(["labels.csv:1"]));
    let text = e.ok(&["lineage", "images/cat/1.png"]);
    assert!(text.contains("described by: row labels.csv:1"), "{text}");
    assert_eq!(
        e.json(&["lineage", "images/cat/2.png", "--json"])["label"],
        "cat"
    );
    assert_eq!(
        e.json(&["lineage", "images/dog/2.png", "--json"])["annotator"],
        "bob"
    );
    // A changed row relabels its file at the next commit.
    e.write(
        "labels.csv",
        b"id,path,label,annotator,confidence,cost\n1,cat/1.png,cat,carol,0.95,0.10\n2,images/dog/2.png,dog,bob,0.9,0.20\n",
    );
    e.ok(&["commit", "labels.csv", "-m", "relabel"]);
    let l = e.json(&["lineage", "images/cat/1.png", "--json"]);
    assert_eq!(
        (&l["label"], &l["annotator"]),
        (&"cat".into(), &"carol".into())
    );
    // A file added later takes the row that already names it.
    e.write(
        "labels.csv",
        b"id,path,label,annotator,confidence,cost\n1,cat/1.png,cat,carol,0.95,0.10\n2,images/dog/2.png,dog,bob,0.9,0.20\n3,cat/new.png,dog,dan,0.7,0.05\n",
    );
    let err = e.fails(&["commit", "labels.csv", "-m", "early"], 1);
    assert!(err.contains("labels.csv:4"), "{err}");
    assert!(err.contains("images/cat/new.png"), "{err}");
    e.write("images/cat/new.png", b"new");
    e.ok(&[
        "commit",
        "images",
        "labels.csv",
        "-m",
        "both",
        "--currency",
        "USD",
    ]);
    let l = e.json(&["lineage", "images/cat/new.png", "--json"]);
    assert_eq!(
        (&l["label"], &l["annotator"]),
        (&"dog".into(), &"dan".into())
    );
    // Drift of the folder compares the ledger's labels of its files. By
    // hand: the first commit labels cat 2 (cat/2, cat/3), dog 3 (cat/1 by
    // its row, dog/1, dog/2), loose.png none; now cat 3, dog 3 (new.png
    // by its row), loose.png none. Jensen-Shannon in bits over the labels
    // given, computed here from those counts.
    let js = |p: [f64; 2], q: [f64; 2]| {
        let kl =
            |a: [f64; 2], m: [f64; 2]| -> f64 { (0..2).map(|i| a[i] * (a[i] / m[i]).log2()).sum() };
        let m = [(p[0] + q[0]) / 2.0, (p[1] + q[1]) / 2.0];
        0.5 * kl(p, m) + 0.5 * kl(q, m)
    };
    let want = js([2.0 / 5.0, 3.0 / 5.0], [3.0 / 6.0, 3.0 / 6.0]);
    let d = e.json(&["drift", "HEAD~2", "HEAD", "--json", "--", "images"]);
    let label = d["tables"][0]["metadata"]
        .as_array()
        .expect("metadata columns")
        .iter()
        .find(|c| c["column"] == "(ledger) label")
        .unwrap_or_else(|| panic!("no label column in {d}"))
        .clone();
    let got = label["value"].as_f64().expect("a value");
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    assert_eq!(label["missing"]["reference"].as_f64(), Some(1.0 / 6.0));
    assert_eq!(label["missing"]["current"].as_f64(), Some(1.0 / 7.0));
    // As of the first commit: cat/1.png was the row's dog at 0.4, one
    // annotator, to relabel (below 0.5); now ann and carol disagree on it.
    let l = e.json(&["lineage", "images/cat/1.png", "--rev", "HEAD~2", "--json"]);
    assert_eq!(
        (&l["label"], &l["confidence"]),
        (&"dog".into(), &0.4.into())
    );
    let q = |args: &[&str]| -> (Vec<String>, Vec<String>) {
        let q = e.json(args);
        let names = |v: &serde_json::Value, f: &dyn Fn(&serde_json::Value) -> Option<String>| {
            v.as_array().expect("a list").iter().filter_map(f).collect()
        };
        (
            names(&q["relabel"], &|x| x.as_str().map(str::to_string)),
            names(&q["examples"], &|x| {
                x["locator"].as_str().map(str::to_string)
            }),
        )
    };
    let cat1 = "images/cat/1.png".to_string();
    let (relabel, contested) = q(&["quality", "--rev", "HEAD~2", "--json"]);
    assert!(relabel.contains(&cat1) && !contested.contains(&cat1));
    let (relabel, contested) = q(&["quality", "--json"]);
    assert!(relabel.contains(&cat1) && contested.contains(&cat1));
    // A file named by two rows: both lines, nothing committed.
    let before = e.ok(&["log"]);
    e.write(
        "labels.csv",
        b"id,path,label,annotator,confidence,cost\n1,cat/1.png,cat,carol,0.95,0.10\n2,images/dog/2.png,dog,bob,0.9,0.20\n3,cat/new.png,dog,dan,0.7,0.05\n4,./cat/1.png,cat,eve,0.5,0.01\n",
    );
    let err = e.fails(&["commit", "labels.csv", "-m", "twice"], 1);
    assert!(err.contains("labels.csv:2, labels.csv:5"), "{err}");
    assert!(err.contains("images/cat/1.png"), "{err}");
    assert_eq!(e.ok(&["log"]), before);
    e.ok(&["verify"]);
    // A link setting without metadata columns is refused, naming it.
    e.write(
        ".folio/config.toml",
        b"[tables.\"labels.csv\"]\nlinks = { column = \"path\", dataset = \"images\" }\n",
    );
    let err = e.fails(&["commit", "labels.csv", "-m", "x"], 1);
    assert!(err.contains("[tables.\"labels.csv\"] links"), "{err}");
}
