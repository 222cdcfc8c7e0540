//! `checkout` and `switch`.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::Env;

fn setup() -> Env {
    let e = Env::new();
    e.write("data/a.txt", b"v1");
    e.write("data/sub/b.txt", b"bee");
    std::fs::create_dir_all(e.p("data/empty")).expect("mkdir");
    std::os::unix::fs::symlink("a.txt", e.p("data/link")).expect("symlink");
    fs::set_permissions(e.p("data/sub/b.txt"), fs::Permissions::from_mode(0o755)).expect("chmod");
    e.ok(&["commit", "data", "-m", "first"]);
    e.ok(&["tag", "v1"]);
    e.write("data/a.txt", b"v2");
    fs::remove_file(e.p("data/sub/b.txt")).expect("rm");
    e.write("data/c.txt", b"sea");
    e.ok(&["commit", "-m", "second"]);
    e
}

#[test]
fn checkout_to_reproduces_the_snapshot() {
    let e = setup();
    e.ok(&["checkout", "v1", "--to", "out"]);
    assert_eq!(fs::read(e.p("out/data/a.txt")).expect("a"), b"v1");
    let mode = fs::metadata(e.p("out/data/sub/b.txt"))
        .expect("b")
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111);
    assert_eq!(
        fs::read_link(e.p("out/data/link")).expect("link").to_str(),
        Some("a.txt")
    );
    assert!(e.p("out/data/empty").is_dir());
    assert!(!e.p("out/data/c.txt").exists());
    let err = e.fails(&["checkout", "v1", "--to", "out"], 1);
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn checkout_moves_the_working_tree_and_back() {
    let e = setup();
    e.ok(&["checkout", "v1"]);
    assert_eq!(fs::read(e.p("data/a.txt")).expect("a"), b"v1");
    assert!(e.p("data/sub/b.txt").exists());
    assert!(!e.p("data/c.txt").exists());
    let st = e.json(&["status", "--json"]);
    assert_eq!(st["branch"], serde_json::Value::Null);
    assert_eq!(
        st["datasets"][0]["modified"].as_array().map(Vec::len),
        Some(0)
    );
    e.ok(&["switch", "main"]);
    assert_eq!(fs::read(e.p("data/a.txt")).expect("a"), b"v2");
    assert!(!e.p("data/sub/b.txt").exists());
    assert_eq!(e.json(&["status", "--json"])["branch"], "main");
}

#[test]
fn checkout_refuses_to_overwrite_uncommitted_work() {
    let e = setup();
    e.write("data/a.txt", b"precious edit");
    let err = e.fails(&["checkout", "v1"], 1);
    assert!(err.contains("data/a.txt"), "{err}");
    assert_eq!(fs::read(e.p("data/a.txt")).expect("a"), b"precious edit");
    e.ok(&["checkout", "v1", "--force"]);
    assert_eq!(fs::read(e.p("data/a.txt")).expect("a"), b"v1");
}

#[test]
fn checkout_keeps_untracked_files() {
    let e = setup();
    e.write("data/notes.md", b"mine");
    e.ok(&["checkout", "v1"]);
    assert_eq!(fs::read(e.p("data/notes.md")).expect("notes"), b"mine");
}

#[test]
fn cat_prints_a_file_as_it_was_and_lists_folders() {
    let e = Env::new();
    e.write("data/a.txt", b"one\n");
    e.write("data/sub/b.bin", &[0u8, 255, 10, 13]);
    e.write("labels.csv", b"id,label\n1,cat\n");
    e.ok(&["commit", "data", "labels.csv", "-m", "first"]);
    e.write("data/a.txt", b"two\n");
    e.ok(&["commit", "-m", "second"]);
    // Old and new bytes, exactly, with nothing checked out.
    let raw = |spec: &str| e.ok_raw(&["cat", spec]).0;
    assert_eq!(raw("HEAD~1:data/a.txt"), b"one\n");
    assert_eq!(raw("HEAD:data/a.txt"), b"two\n");
    assert_eq!(raw("HEAD:data/sub/b.bin"), [0u8, 255, 10, 13]);
    assert_eq!(raw("HEAD:labels.csv"), b"id,label\n1,cat\n");
    assert_eq!(std::fs::read(e.p("data/a.txt")).expect("read"), b"two\n");
    // Folders list their entries; the root lists datasets.
    assert_eq!(e.ok(&["cat", "HEAD:data"]), "a.txt\nsub/\n");
    assert_eq!(e.ok(&["cat", "HEAD:"]), "data/\nlabels.csv\n");
    // Relative to the current folder with ./
    let out = e
        .cmd(&["cat", "HEAD~1:./a.txt"])
        .current_dir(e.p("data"))
        .output()
        .expect("run");
    assert_eq!(out.stdout, b"one\n");
    // What is not there, or no path at all, is a clear error.
    let err = e.fails(&["cat", "HEAD:data/nope.txt"], 1);
    assert!(err.contains("data/nope.txt is not in HEAD"), "{err}");
    let err = e.fails(&["cat", "HEAD"], 1);
    assert!(err.contains("REV:PATH"), "{err}");
    // A damaged object is an error (exit 70), never bytes with exit 0.
    let big = crate::noise(600_000, 0x2545_F491_4F6C_DD1D);
    e.write("data/big.bin", &big);
    e.ok(&["commit", "-m", "big"]);
    assert_eq!(raw("HEAD:data/big.bin"), big);
    let hex = blake3::hash(&big).to_hex().to_string();
    let loose = e.p(&format!(".folio/objects/{}/{}", &hex[..2], &hex[2..]));
    assert!(
        loose.exists(),
        "a large incompressible file is stored loose"
    );
    crate::flip_byte(&loose, 1000);
    let err = e.fails(&["cat", "HEAD:data/big.bin"], 70);
    assert!(
        err.contains("damaged") || err.contains("does not match"),
        "{err}"
    );
}
