//! `verify`, `gc`, `reindex`.

use std::fs;

use crate::{Env, flip_byte, noise};

fn with_data() -> Env {
    let e = Env::new();
    e.write("data/big.bin", &noise(600_000, 7));
    e.write("data/small.txt", b"small file");
    e.ok(&["commit", "data", "-m", "first"]);
    e
}

fn files_under(e: &Env, sub: &str, ext: Option<&str>) -> Vec<std::path::PathBuf> {
    crate::walkdir(&e.p(sub))
        .into_iter()
        .filter(|p| ext.is_none_or(|x| p.extension().is_some_and(|y| y == x)))
        .collect()
}

#[test]
fn verify_passes_on_a_sound_repository() {
    let e = with_data();
    let r = e.json(&["verify", "--json"]);
    assert_eq!(r["problems"].as_array().map(Vec::len), Some(0));
    assert_eq!(r["commits"], 1);
    assert_eq!(r["blobs"], 2);
}

#[test]
fn verify_catches_a_flipped_byte_in_a_loose_object() {
    let e = with_data();
    let loose = files_under(&e, ".folio/objects", None);
    assert_eq!(loose.len(), 1, "the 600 kB file is stored loose");
    flip_byte(&loose[0], 1000);
    let out = e.cmd(&["verify"]).output().expect("run");
    assert_eq!(out.status.code(), Some(70));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&loose[0].display().to_string()), "{text}");
    assert!(text.contains("re-hashes to"), "{text}");
}

#[test]
fn verify_catches_a_flipped_byte_in_a_pack() {
    let e = with_data();
    let packs = files_under(&e, ".folio/packs", Some("pack"));
    assert_eq!(packs.len(), 1);
    let len = fs::metadata(&packs[0]).expect("stat").len();
    // The last bytes of the pack are the commit, written last.
    flip_byte(&packs[0], (len - 3) as usize);
    let out = e.cmd(&["verify"]).output().expect("run");
    assert_eq!(out.status.code(), Some(70));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&packs[0].display().to_string()), "{text}");
    assert!(
        text.contains("commit") || text.contains("re-hashes"),
        "{text}"
    );
}

#[test]
fn verify_catches_a_damaged_ref() {
    let e = with_data();
    fs::write(e.p(".folio/refs/heads/main"), b"not an id\n").expect("write");
    let out = e.cmd(&["verify"]).output().expect("run");
    assert_eq!(out.status.code(), Some(70));
    assert!(String::from_utf8_lossy(&out.stdout).contains("refs/heads/main"));
}

#[test]
fn blob_ids_match_b3sum() {
    let e = with_data();
    let want = blake3::hash(&fs::read(e.p("data/small.txt")).expect("read"))
        .to_hex()
        .to_string();
    let show = e.json(&["show", "--json"]);
    let tree_id = show["datasets"][0]["id"].as_str().expect("id").to_string();
    // The tree lists the blob; look it up through the library.
    let repo = folio_core::repo::Repo::discover(e.path()).expect("open");
    let tree = repo.read_tree(tree_id.parse().expect("id")).expect("tree");
    let entry = tree
        .entries
        .iter()
        .find(|t| t.name == "small.txt")
        .expect("entry");
    assert_eq!(entry.id.to_string(), want);
}

#[test]
fn gc_finds_and_prunes_unreachable_objects() {
    let e = with_data();
    // The operation log keeps what deleted branches held for 90 days by
    // default; here, for none.
    no_retention(&e);
    e.ok(&["branch", "side"]);
    e.ok(&["switch", "side"]);
    e.write("data/extra.txt", b"only on side");
    e.ok(&["commit", "-m", "side work"]);
    e.ok(&["switch", "main"]);
    let r = e.json(&["gc", "--json"]);
    assert_eq!(r["unreachable"], 0);
    e.ok(&["branch", "-d", "side", "--force"]);
    let r = e.json(&["gc", "--json"]);
    // The side commit, its tree, the new blob and its event batch.
    assert_eq!(r["unreachable"], 4, "{r}");
    e.ok(&["gc", "--prune"]);
    assert_eq!(e.json(&["gc", "--json"])["unreachable"], 0);
    assert_eq!(files_under(&e, ".folio/packs", Some("pack")).len(), 1);
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{v}");
}

#[test]
fn index_is_derived() {
    let e = with_data();
    e.write("data/small.txt", b"edited");
    let before = e.json(&["status", "--json"]);
    fs::remove_dir_all(e.p(".folio/index")).expect("rm index");
    let after = e.json(&["status", "--json"]);
    assert_eq!(before["datasets"], after["datasets"]);
    e.ok(&["reindex"]);
    assert_eq!(
        e.json(&["status", "--json"])["datasets"],
        before["datasets"]
    );
}

#[test]
fn gc_keeps_manifests_and_chunks_of_reachable_tables() {
    let e = Env::new();
    no_retention(&e);
    let mut big = String::from("id,text\n");
    for i in 0..30_000 {
        big += &format!("{i},row number {i} with some text\n");
    }
    e.write("t.csv", big.as_bytes());
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "a"]);
    e.ok(&["branch", "side"]);
    e.ok(&["switch", "side"]);
    e.write(
        "t.csv",
        big.replace("row number 7 ", "row number seven ").as_bytes(),
    );
    e.ok(&["commit", "-m", "side"]);
    e.ok(&["switch", "main"]);
    e.ok(&["branch", "-d", "side", "--force"]);
    let r = e.json(&["gc", "--json"]);
    assert!(r["unreachable"].as_u64().unwrap_or(0) >= 3, "{r}");
    e.ok(&["gc", "--prune"]);
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{v}");
    assert_eq!(v["tables"], 1);
    assert_eq!(fs::read(e.p("t.csv")).expect("read"), big.as_bytes());
    e.ok(&["checkout", "HEAD", "--to", "copy"]);
    assert_eq!(fs::read(e.p("copy/t.csv")).expect("read"), big.as_bytes());
}

#[test]
fn verify_names_a_damaged_chunk() {
    let e = Env::new();
    let mut big = String::new();
    for i in 0..40_000 {
        big += &format!("line {i} of a large compressible text file\n");
    }
    e.write("data/log.txt", big.as_bytes());
    e.ok(&["commit", "data", "-m", "a"]);
    let packs = files_under(&e, ".folio/packs", Some("pack"));
    flip_byte(&packs[0], 5000);
    let out = e.cmd(&["verify"]).output().expect("run");
    assert_eq!(out.status.code(), Some(70));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&packs[0].display().to_string()), "{text}");
}

/// `[gc] oplog_days = 0`: the operation log keeps nothing from gc.
fn no_retention(e: &Env) {
    let mut cfg = fs::read_to_string(e.p(".folio/config.toml")).expect("config");
    cfg += "\n[gc]\noplog_days = 0\n";
    e.write(".folio/config.toml", cfg.as_bytes());
}

/// `gc --prune` removes the sorted runs a crashed table build left under
/// `.folio/tmp` (D90) once they are an hour old, and nothing younger.
#[test]
fn gc_prune_removes_stale_sorted_runs_and_keeps_young_ones() {
    let e = Env::new();
    e.write("d/a.txt", b"a\n");
    e.ok(&["commit", "d", "-m", "a"]);
    let tmp = e.p(".folio/tmp");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    let old = tmp.join(".tmp-folio-999-1");
    let young = tmp.join(".tmp-folio-999-2");
    std::fs::write(&old, b"run").expect("write");
    std::fs::write(&young, b"run").expect("write");
    let two_hours = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .expect("open")
        .set_modified(two_hours)
        .expect("set time");
    e.ok(&["gc", "--prune"]);
    assert!(!old.exists(), "a stale run stays");
    assert!(young.exists(), "a young run was removed");
}
