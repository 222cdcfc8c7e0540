//! Golden vectors: the archival formats against `tests/golden/formats/`,
//! written by `tests/golden/formats.py`, an implementation of
//! docs/FORMAT.md that shares no code with this crate. A change of any
//! byte of an event, an example id, a Merkle root, a ledger frame, a
//! checkpoint, a pack or its index fails here.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::id::{CommitId, ObjectId};
use crate::ledger::merkle::{self, Hash};
use crate::ledger::{Event, ExampleId, Locator, Payload, Subject};
use crate::store::Store;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/golden/formats")
        .join(name)
}

fn json(name: &str) -> Value {
    let text = fs::read_to_string(golden(name)).expect("golden file");
    serde_json::from_str(&text).expect("golden JSON")
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn opt(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hash(s: &str) -> Hash {
    Hash::from_hex(s).expect("64 hex digits")
}

#[test]
fn example_ids() {
    for e in json("example_ids.json").as_array().expect("list") {
        let id = match s(e, "kind") {
            "file" => ExampleId::file(s(e, "path")),
            _ => ExampleId::row(s(e, "path"), &unhex(s(e, "ident"))),
        };
        assert_eq!(id.to_hex(), s(e, "id"), "{e}");
    }
}

/// The event a golden entry describes, built from folio's types.
fn event_of(e: &Value) -> Event {
    let p = &e["payload"];
    let payload = match s(p, "kind") {
        "added" => Payload::Added {
            dataset: s(p, "dataset").into(),
            locator: Locator::from_stored(s(p, "locator").into()),
            source: opt(p, "source"),
            collected_at: opt(p, "collected_at"),
        },
        "removed" => Payload::Removed {
            locator: Locator::from_stored(s(p, "locator").into()),
        },
        "annotated" => Payload::Annotated {
            label: s(p, "label").into(),
            annotator: opt(p, "annotator"),
            confidence: p.get("confidence").and_then(Value::as_f64),
        },
        "valued" => Payload::Valued {
            acquisition: int(p, "acquisition"),
            labelling: int(p, "labelling"),
            fine: p.get("fine").and_then(Value::as_u64).unwrap_or(0) as u8,
            currency: s(p, "currency").into(),
            vendor: opt(p, "vendor"),
        },
        "reclassified" => Payload::Reclassified {
            sensitivity: s(p, "sensitivity").into(),
        },
        "trained" => Payload::Trained {
            model: s(p, "model").into(),
            run: s(p, "run").into(),
        },
        "licensed" => Payload::Licensed {
            license: s(p, "license").into(),
        },
        "impaired" => Payload::Impaired {
            amount: int(p, "amount"),
            currency: s(p, "currency").into(),
            reason: s(p, "reason").into(),
        },
        "purged" => Payload::Purged {
            record: ObjectId(hash(s(p, "record")).0),
            reason: s(p, "reason").into(),
        },
        "voided" => Payload::Voided {
            target: hash(s(p, "target")),
            reason: s(p, "reason").into(),
        },
        "rows_changed" => {
            let id = |k: &str| opt(p, k).map(|x| ObjectId(hash(&x).0));
            let meta = |k: &str| {
                crate::config::MetaFields::from_fn(|n| {
                    p.get(k)
                        .and_then(|m| m.get(n))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
            };
            Payload::Rows(Box::new(crate::ledger::event::TableRows {
                dataset: s(p, "dataset").into(),
                table: s(p, "table").into(),
                old: id("old"),
                new: id("new"),
                source: opt(p, "source"),
                meta: meta("meta"),
                columns: meta("columns"),
            }))
        }
        other => panic!("unknown kind {other}"),
    };
    Event {
        seq: 0,
        time: int(e, "time"),
        actor: s(e, "actor").into(),
        commit: opt(e, "commit").map(|c| CommitId(c.parse::<ObjectId>().expect("id"))),
        subject: match opt(e, "example") {
            Some(x) => Subject::Example(ExampleId(hash(&x).0)),
            None => Subject::Dataset(s(e, "dataset").into()),
        },
        payload,
    }
}

#[test]
fn events_encode_hash_and_decode() {
    let events = json("events.json");
    let list = events.as_array().expect("list");
    let kinds: std::collections::BTreeSet<&str> =
        list.iter().map(|e| s(&e["payload"], "kind")).collect();
    assert_eq!(
        kinds.len(),
        crate::ledger::EventKind::ALL.len(),
        "every kind"
    );
    for (k, e) in list.iter().enumerate() {
        let ev = event_of(e);
        let enc = ev.encode();
        assert_eq!(ObjectId(ev.hash().0).to_hex(), s(e, "hash"), "event {k}");
        assert_eq!(enc, unhex(s(e, "encoding")), "event {k}");
        assert_eq!(Event::decode(&enc).expect("decodes"), ev);
    }
}

#[test]
fn merkle_roots_and_paths() {
    let m = json("merkle.json");
    let leaves: Vec<Hash> = m["event_hashes"]
        .as_array()
        .expect("list")
        .iter()
        .map(|x| merkle::leaf(&hash(x.as_str().expect("hex"))))
        .collect();
    for r in m["roots"].as_array().expect("list") {
        let n = int(r, "size") as usize;
        assert_eq!(merkle::root(&leaves[..n]), hash(s(r, "root")), "size {n}");
        let mut f = merkle::Frontier::default();
        leaves[..n].iter().for_each(|l| f.push(*l));
        assert_eq!(f.root(), hash(s(r, "root")), "frontier of size {n}");
    }
    for p in m["paths"].as_array().expect("list") {
        let (n, i) = (int(p, "size") as usize, int(p, "index") as usize);
        let want: Vec<Hash> = p["path"]
            .as_array()
            .expect("list")
            .iter()
            .map(|x| hash(x.as_str().expect("hex")))
            .collect();
        assert_eq!(merkle::inclusion_path(&leaves[..n], i), want, "{n} {i}");
        let root = merkle::root(&leaves[..n]);
        assert!(merkle::verify_inclusion(
            &leaves[i], i as u64, n as u64, &want, &root
        ));
    }
}

#[test]
fn event_batch_reads_and_attests() {
    let bytes = fs::read(golden("batch.bin")).expect("batch");
    let events = json("events.json");
    let head = json("ledger.json");
    let id = ObjectId::of(&bytes);
    assert_eq!(id.to_hex(), s(&head, "batch"));
    let (h, frames) =
        crate::ledger::batch::parse(&id, &bytes).expect("folio reads the golden batch");
    assert_eq!(frames.len(), 2);
    assert_eq!(h.nonce, int(&head, "nonce") as u64);
    assert_eq!(
        h.base.map(|c| c.to_string()),
        Some(s(&head, "base").to_string())
    );
    let seen = crate::ledger::batch::events(&id, &bytes).expect("decodes");
    let want = events.as_array().expect("list");
    assert_eq!(seen.len(), want.len());
    assert_eq!(h.count, want.len() as u64);
    let mut f = crate::ledger::merkle::Frontier::default();
    for ((ev, hh), e) in seen.iter().zip(want) {
        assert_eq!(ev.encode(), unhex(s(e, "encoding")));
        assert_eq!(*hh, hash(s(e, "hash")));
        f.push(crate::ledger::merkle::leaf(hh));
    }
    assert_eq!(f.size, int(&head, "size") as u64);
    assert_eq!(f.root(), hash(s(&head, "root")));
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("list") {
        let e = e.expect("entry");
        fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

fn pack_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    out
}

#[test]
fn packs_read_and_write() {
    let packs = json("packs.json");
    // Reading: raw and zstd records written by the independent encoder.
    let d = tempfile::tempdir().expect("tempdir");
    Store::init(d.path()).expect("init");
    copy_dir(&golden("pack_read"), &d.path().join("packs"));
    let store = Store::open(d.path()).expect("open");
    for o in packs["read"]["objects"].as_array().expect("list") {
        let id: ObjectId = s(o, "id").parse().expect("id");
        assert_eq!(store.get(&id).expect("get"), unhex(s(o, "bytes")));
    }
    // Writing: the same objects in the same order give the same bytes.
    let d = tempfile::tempdir().expect("tempdir");
    Store::init(d.path()).expect("init");
    let store = Store::open(d.path()).expect("open");
    let w = store.writer().expect("writer");
    for o in packs["write"]["objects"].as_array().expect("list") {
        w.put(&unhex(s(o, "bytes"))).expect("put");
    }
    w.finish().expect("finish");
    let name = s(&packs["write"], "pack");
    for ext in ["pack", "idx"] {
        let ours = pack_files(&d.path().join("packs"), ext);
        assert_eq!(ours.len(), 1, "{ext}");
        let theirs = golden(&format!("pack_write/{name}.{ext}"));
        assert_eq!(ours[0].file_name(), theirs.file_name(), "{ext} name");
        assert_eq!(
            fs::read(&ours[0]).expect("read"),
            fs::read(&theirs).expect("read")
        );
    }
}
