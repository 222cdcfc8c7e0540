//! Entry points for fuzzing the decoders and readers of untrusted bytes:
//! every object kind a repository or a remote can hand folio, the ledger's
//! batches and events, pack files and indexes, drift profiles, proofs, the
//! config, and the table readers. Each takes arbitrary bytes and must
//! return (an error is fine) without panicking, overflowing the stack or
//! allocating without bound. The cargo-fuzz targets in `fuzz/` call these,
//! and `tests` below replays every corpus and crash input kept under
//! `fuzz/corpus/` and `fuzz/artifacts/` (docs/RELIABILITY.md).
//!
//! Compiled for tests and with the `fuzzing` feature only; not part of the
//! public API.

use std::path::Path;

use crate::id::ObjectId;

/// A fuzz target: arbitrary bytes in, nothing out, never a panic.
pub type Target = fn(&[u8]);

/// The targets, by name (the names of `fuzz/fuzz_targets/*.rs`).
pub const TARGETS: &[(&str, Target)] = &[
    ("commit", commit),
    ("tree", tree),
    ("manifest", manifest),
    ("chunk", chunk),
    ("chunk_list", chunk_list),
    ("event", event),
    ("batch", batch),
    ("pack_index", pack_index),
    ("pack_record", pack_record),
    ("profile", profile),
    ("proof", proof),
    ("config", config),
    ("csv", csv),
    ("jsonl", jsonl),
    ("parquet", parquet),
    ("pending", pending),
    ("oplog", oplog),
];

/// A branch's pending list (what a checkpoint of pending events was in
/// format 1: the list of batches recorded since the branch's last commit).
pub fn pending(data: &[u8]) {
    let _ = crate::repo::ledger_pending_for_fuzzing(data);
}

/// The operation log (its lines and their chain).
pub fn oplog(data: &[u8]) {
    let _ = crate::repo::oplog_for_fuzzing(data);
}

/// A commit object, or an annotated tag's: a tag that decodes has exactly
/// one encoding, the input.
pub fn commit(data: &[u8]) {
    let _ = crate::object::Commit::decode(data);
    if let Ok(t) = crate::object::Tag::decode(data) {
        assert_eq!(
            t.encode(),
            data,
            "a tag object decoded from a non-canonical form"
        );
    }
}

/// A tree object.
pub fn tree(data: &[u8]) {
    let _ = crate::object::Tree::decode(data);
}

/// A table's row manifest.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = crate::table::manifest::Manifest::decode(ObjectId::of(data), data) {
        // What a decoded manifest is used for must hold too.
        let _ = m.encode();
    }
}

/// A chunk of rows (plain, a skeleton, or redacted by a purge), and
/// every row and key in it; and a purge record.
pub fn chunk(data: &[u8]) {
    // A redacted chunk names the chunk it stands for: checked as such.
    if let Some(orig) = data
        .strip_prefix(crate::table::manifest::REDACTED_TAG)
        .and_then(|r| r.get(..32))
        .and_then(ObjectId::from_slice)
    {
        let _ = crate::purge::check_redacted(&orig, data);
        let _ =
            crate::table::manifest::redact(orig, data, &|i| i.len() % 2 == 0, &["label".into()]);
    }
    if let Ok(r) = crate::purge::PurgeRecord::decode(data) {
        let _ = r.encode();
    }
    if let Ok(rows) = crate::table::manifest::decode_chunk(ObjectId::of(data), data) {
        for r in rows {
            let _ = crate::table::manifest::content_hash_of(&r.body);
            let _ = crate::table::decode_row(&r.body);
            let _ = crate::table::decode_key(&r.ident);
            let _ = crate::table::display_key(&r.ident);
            let _ = crate::ledger::rows::row_meta(
                &crate::config::MetaFields {
                    label: Some("label".into()),
                    confidence: Some("c".into()),
                    ..Default::default()
                },
                &r.body,
            );
        }
    }
}

/// A large file's list of content-defined chunks.
pub fn chunk_list(data: &[u8]) {
    let _ = crate::store::decode_chunk_list(data);
}

/// One encoded ledger event.
pub fn event(data: &[u8]) {
    if let Ok(e) = crate::ledger::Event::decode(data) {
        let _ = e.encode();
        let _ = crate::ledger::Peek::new(data);
    }
    let _ = crate::ledger::Event::decode_v1(data);
}

/// An event batch: its header, every frame's payload and every event.
pub fn batch(data: &[u8]) {
    let id = ObjectId::of(data);
    let Ok((_, frames)) = crate::ledger::batch::parse(&id, data) else {
        return;
    };
    for f in &frames {
        let Ok(payload) = crate::ledger::batch::frame_payload(&id, data, f) else {
            continue;
        };
        let Ok(events) = crate::ledger::batch::split_frame(&id, f, &payload) else {
            continue;
        };
        for enc in events {
            let _ = crate::ledger::batch::peek_in(&id, f, enc);
            let _ = crate::ledger::batch::decode_in(&id, f, enc);
        }
    }
}

/// A pack's index file.
pub fn pack_index(data: &[u8]) {
    let _ = crate::store::parse_index(data);
}

/// A record of a pack file (as a remote serves it).
pub fn pack_record(data: &[u8]) {
    let mut rest = data;
    // A pack holds records one after another: parse them in turn.
    for _ in 0..64 {
        match crate::store::parse_record(rest, &ObjectId::of(rest)) {
            Ok((_, n)) if n > 0 && n <= rest.len() => rest = &rest[n..],
            _ => break,
        }
    }
}

/// A cached drift profile.
pub fn profile(data: &[u8]) {
    let _ = crate::drift::profile::Profile::decode(data);
}

/// An inclusion proof (JSON), checked.
pub fn proof(data: &[u8]) {
    if let Ok(p) = serde_json::from_slice::<crate::ledger::proof::Proof>(data) {
        let _ = crate::ledger::proof::verify(&p);
    }
}

/// `.folio/config.toml`.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::Config::parse("config.toml".into(), text);
    }
}

// The input goes to a scratch file in a temporary folder, never under a
// repository's `.folio`.
#[allow(clippy::disallowed_methods)]
fn read(data: &[u8], name: &str, format: crate::table::Format) {
    thread_local! {
        static DIR: tempfile::TempDir = tempfile::tempdir().expect("a temporary folder");
    }
    struct Nothing;
    impl crate::table::RowSink for Nothing {
        fn row(
            &mut self,
            _line: u64,
            _columns: &[String],
            _cells: &[crate::table::Cell],
        ) -> Result<(), crate::table::TableError> {
            Ok(())
        }
    }
    DIR.with(|d| {
        let path = d.path().join(name);
        if std::fs::write(&path, data).is_err() {
            return;
        }
        for lenient in [false, true] {
            let _ =
                crate::table::read_table(&path, format, &Default::default(), lenient, &mut Nothing);
        }
        // The whole commit path of a table: rows hashed, sorted, chunked.
        let settings = crate::table::manifest::TableSettings {
            format,
            key: Vec::new(),
            declared: Default::default(),
            lenient: true,
        };
        let _ = crate::table::manifest::build(Path::new(&path), ObjectId::of(data), &settings);
    });
}

/// A CSV table.
pub fn csv(data: &[u8]) {
    read(data, "t.csv", crate::table::Format::Csv);
}

/// A JSON Lines table.
pub fn jsonl(data: &[u8]) {
    read(data, "t.jsonl", crate::table::Format::Jsonl);
}

/// A Parquet table (an error without the `parquet` feature).
pub fn parquet(data: &[u8]) {
    read(data, "t.parquet", crate::table::Format::Parquet);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every input kept under `fuzz/corpus/TARGET/` and
    /// `fuzz/artifacts/TARGET/` (the crashes fuzzing found, fixed since)
    /// goes through its target again; a panic fails the test.
    #[test]
    fn every_corpus_and_crash_input_replays_without_a_panic() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let mut replayed = 0usize;
        for (name, target) in TARGETS {
            for sub in ["corpus", "artifacts"] {
                let dir = root.join(sub).join(name);
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for e in entries {
                    let path = e.expect("a corpus entry").path();
                    let data = std::fs::read(&path).expect("a corpus file");
                    let caught = std::panic::catch_unwind(|| target(&data));
                    assert!(caught.is_ok(), "{name}: {} panics", path.display());
                    replayed += 1;
                }
            }
        }
        // The seeds alone hold more than one input per target.
        assert!(replayed > TARGETS.len(), "only {replayed} inputs found");
    }

    /// Writes the seed corpora: every object a small repository made of the
    /// fixtures holds (by kind), its pack files and indexes, the events of
    /// its batches, a proof, a profile, its config, and the fixture tables.
    /// Run by `make fuzz-seeds`; the seeds are committed.
    #[test]
    #[ignore = "writes fuzz/corpus: make fuzz-seeds"]
    fn write_fuzz_seeds() {
        use crate::progress::NoProgress;
        use crate::repo::{CommitOptions, Repo};
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let d = tempfile::tempdir().expect("tempdir");
        let w = d.path();
        for f in ["reviews.csv", "sensors.jsonl"] {
            std::fs::copy(root.join("fixtures").join(f), w.join(f)).expect("fixture");
        }
        std::fs::create_dir_all(w.join("images/cat")).expect("mkdir");
        std::fs::write(w.join("images/cat/a.png"), b"\x89PNG a").expect("write");
        std::fs::write(w.join("images/cat/b.png"), b"\x89PNG b").expect("write");
        let repo = Repo::init(w).expect("init");
        let config = "[tables.\"reviews.csv\"]\nkey = [\"id\"]\n[tables.\"reviews.csv\".meta]\nlabel = \"label\"\nannotator = \"annotator\"\nconfidence = \"confidence\"\nsource = \"source\"\n[tables.\"sensors.jsonl\"]\nkey = [\"id\"]\n";
        std::fs::write(w.join(".folio/config.toml"), config).expect("config");
        let lock = repo.lock(false).expect("lock");
        let commit = |msg: &str| {
            let opts = CommitOptions {
                paths: ["reviews.csv", "sensors.jsonl", "images"]
                    .iter()
                    .map(|p| w.join(p))
                    .collect(),
                message: msg.into(),
                author: "seed".into(),
                time: 0,
                allow_empty: false,
                tables: Default::default(),
                source: Some("s3://seed".into()),
                meta: Default::default(),
                meta_file: None,
            };
            let before = repo.ref_state().expect("state");
            repo.commit(&lock, &opts, &NoProgress).expect("commit");
            repo.record_operation(&lock, &before, &format!("commit -m {msg}"), "seed", 0)
                .expect("journal");
        };
        commit("one");
        let text = std::fs::read_to_string(w.join("reviews.csv")).expect("read");
        std::fs::write(
            w.join("reviews.csv"),
            text.replacen("negative", "positive", 3),
        )
        .expect("edit");
        std::fs::remove_file(w.join("images/cat/b.png")).expect("rm");
        commit("two");
        let before = repo.ref_state().expect("state");
        let list = [(ObjectId::of(b"one"), 3), (ObjectId::of(b"two"), 1)];
        repo.set_pending("main", &list).expect("pending");
        repo.record_operation(&lock, &before, "annotate", "seed", 1)
            .expect("journal");
        drop(lock);
        let out = root.join("fuzz/corpus");
        let put = |target: &str, data: &[u8]| {
            let dir = out.join(target);
            std::fs::create_dir_all(&dir).expect("mkdir");
            let name = format!("seed-{}", ObjectId::of(data).short(16));
            std::fs::write(dir.join(name), data).expect("write seed");
        };
        let store = crate::store::Store::open(&w.join(".folio")).expect("store");
        let mut ids: Vec<ObjectId> = store.loose_ids().expect("loose").into_iter().collect();
        for pack in store.packs() {
            ids.extend(pack.entries().map(|(id, _)| id));
        }
        for id in ids {
            let bytes = store.get(&id).expect("object");
            let kind = if bytes.starts_with(crate::object::COMMIT_TAG) {
                "commit"
            } else if bytes.starts_with(crate::object::TREE_TAG) {
                "tree"
            } else if bytes.starts_with(crate::table::manifest::TABLE_TAG) {
                "manifest"
            } else if bytes.starts_with(crate::table::manifest::CHUNK_TAG) {
                "chunk"
            } else if bytes.starts_with(crate::store::CHUNKS_TAG) {
                "chunk_list"
            } else if bytes.starts_with(crate::ledger::batch::BATCH_TAG) {
                let (_, frames) = crate::ledger::batch::parse(&id, &bytes).expect("batch");
                for f in &frames {
                    let payload =
                        crate::ledger::batch::frame_payload(&id, &bytes, f).expect("frame");
                    for enc in crate::ledger::batch::split_frame(&id, f, &payload).expect("split") {
                        put("event", enc);
                    }
                }
                "batch"
            } else {
                continue;
            };
            put(kind, &bytes);
        }
        for idx in crate::store::list_pack_indexes(&w.join(".folio/packs")).expect("packs") {
            put("pack_index", &std::fs::read(&idx).expect("idx"));
            let pack = std::fs::read(idx.with_extension("pack")).expect("pack");
            // Records start after the 12-byte header (magic, version).
            put("pack_record", &pack[12..]);
        }
        let head = repo.head_commit().expect("head").expect("a commit");
        let proof = repo.prove("reviews.csv:1", head).expect("proof");
        put("proof", &serde_json::to_vec_pretty(&proof).expect("json"));
        let mut b = crate::drift::profile::ColumnBuilder::new("x", crate::table::ColumnType::Float);
        for i in 0..50 {
            b.add(&crate::table::Cell::Number(format!("{}", i * 7 % 13)), 1);
        }
        let mut s =
            crate::drift::profile::ColumnBuilder::new("t", crate::table::ColumnType::String);
        s.add(&crate::table::Cell::Text("good day".into()), 2);
        let profile = crate::drift::profile::Profile {
            version: crate::drift::profile::PROFILE_VERSION,
            rows: 50,
            key: vec!["id".into()],
            columns: vec![b.finish(), s.finish()],
        };
        put("profile", &profile.encode());
        put(
            "chunk_list",
            &crate::store::encode_chunk_list(&[(ObjectId::of(b"a"), 5), (ObjectId::of(b"b"), 7)]),
        );
        put("config", config.as_bytes());
        for f in std::fs::read_dir(w.join(".folio/pending")).expect("pending") {
            put(
                "pending",
                &std::fs::read(f.expect("entry").path()).expect("pending"),
            );
        }
        put(
            "oplog",
            &std::fs::read(w.join(".folio/oplog")).expect("oplog"),
        );
        put(
            "csv",
            &std::fs::read(root.join("fixtures/reviews.csv")).expect("csv"),
        );
        put("csv", b"a,b\n1,\"x\ny\"\n2,\n");
        put(
            "jsonl",
            &std::fs::read(root.join("fixtures/sensors.jsonl")).expect("jsonl"),
        );
        put("jsonl", b"{\"a\": [1, {\"b\": null}], \"c\": 1.5e3}\n");
        for f in
            std::fs::read_dir(root.join("crates/folio-core/testdata/parquet")).expect("parquet")
        {
            put(
                "parquet",
                &std::fs::read(f.expect("entry").path()).expect("parquet"),
            );
        }
    }
}
