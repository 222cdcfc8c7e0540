//! Hostile repositories and working trees: folio never writes outside its
//! folders, never through a symlink, never deletes untracked work without
//! --force, and never answers from damaged bytes.

use std::fs;
use std::os::unix::fs::symlink;

use crate::{Env, flip_byte};

/// A folder outside the repository, with a file that must survive.
fn outside() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().expect("tempdir");
    let victim = d.path().join("victim.txt");
    fs::write(&victim, b"keep me").expect("write");
    (d, victim)
}

#[test]
fn symlinks_inside_folio_are_damage_and_their_targets_untouched() {
    for inside in [".folio/lock", ".folio/index/index.redb"] {
        let e = Env::new();
        e.write("data/a.txt", b"a");
        e.ok(&["commit", "data", "-m", "one"]);
        let (_d, victim) = outside();
        let _ = fs::remove_file(e.p(inside));
        symlink(&victim, e.p(inside)).expect("symlink");
        e.write("data/b.txt", b"b");
        for args in [&["status"][..], &["commit", "-m", "two"], &["log"]] {
            let err = e.fails(args, 70);
            assert!(err.contains("symlink"), "{inside} {args:?}: {err}");
        }
        assert_eq!(fs::read(&victim).expect("read"), b"keep me", "{inside}");
    }
}

#[test]
fn checkout_never_writes_through_a_symlinked_folder() {
    let e = Env::new();
    e.write("data/sub/x.txt", b"v1");
    e.ok(&["commit", "data", "-m", "one"]);
    e.write("data/sub/x.txt", b"v2");
    e.ok(&["commit", "-m", "two"]);
    let (d, victim) = outside();
    fs::remove_dir_all(e.p("data/sub")).expect("rm");
    symlink(d.path(), e.p("data/sub")).expect("symlink");
    let err = e.fails(&["checkout", "HEAD~1"], 1);
    assert!(err.contains("data/sub"), "{err}");
    assert!(
        !d.path().join("x.txt").exists(),
        "nothing written through the link"
    );
    // --force replaces the link itself, never its target.
    e.ok(&["checkout", "HEAD~1", "--force"]);
    assert!(
        !fs::symlink_metadata(e.p("data/sub"))
            .expect("stat")
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(e.p("data/sub/x.txt")).expect("read"), b"v1");
    assert_eq!(fs::read(&victim).expect("read"), b"keep me");
    assert!(!d.path().join("x.txt").exists());
}

#[test]
fn untracked_work_under_a_folder_the_target_replaces_is_kept() {
    let e = Env::new();
    e.write("data/sub/a.txt", b"a");
    e.ok(&["commit", "data", "-m", "folder"]);
    e.ok(&["tag", "folder"]);
    fs::remove_dir_all(e.p("data/sub")).expect("rm");
    e.write("data/sub", b"now a file");
    e.ok(&["commit", "-m", "file"]);
    e.ok(&["tag", "file"]);
    e.ok(&["checkout", "folder"]);
    e.write("data/sub/notes.txt", b"my untracked notes");
    let err = e.fails(&["checkout", "file"], 1);
    assert!(err.contains("data/sub/notes.txt"), "{err}");
    assert_eq!(
        fs::read(e.p("data/sub/notes.txt")).expect("kept"),
        b"my untracked notes"
    );
    e.ok(&["checkout", "file", "--force"]);
    assert_eq!(fs::read(e.p("data/sub")).expect("read"), b"now a file");
}

#[test]
fn damaged_objects_are_never_checked_out() {
    let e = Env::new();
    // 600 kB of incompressible bytes: stored raw and loose.
    let big = crate::noise(600_000, 0x9e37_79b9_7f4a_7c15);
    e.write("data/big.bin", &big);
    e.write("data/small.txt", b"a small file, packed");
    e.ok(&["commit", "data", "-m", "one"]);
    let loose: Vec<_> = crate::walkdir(&e.p(".folio/objects"));
    assert_eq!(loose.len(), 1);
    flip_byte(&loose[0], 1000);
    let err = e.fails(&["checkout", "HEAD", "--to", "out"], 70);
    assert!(err.contains("does not match its id"), "{err}");
    assert!(
        !e.p("out/data/big.bin").exists(),
        "damaged bytes were written"
    );
    // In place, too: the working copy is left as it was.
    fs::remove_file(e.p("data/big.bin")).expect("rm");
    e.fails(&["checkout", "HEAD", "--force"], 70);
    assert!(!e.p("data/big.bin").exists());
}

#[test]
fn nested_repositories_are_never_tracked() {
    let e = Env::new();
    e.write("data/a.txt", b"a");
    e.write("data/nested/.folio/HEAD", b"not ours");
    e.write("data/nested/.FOLIO/x", b"not ours either");
    e.write("data/nested/b.txt", b"b");
    e.ok(&["commit", "data", "-m", "one"]);
    e.ok(&["checkout", "HEAD", "--to", "out"]);
    assert!(e.p("out/data/nested/b.txt").exists());
    assert!(!e.p("out/data/nested/.folio").exists());
    assert!(!e.p("out/data/nested/.FOLIO").exists());
    let err = e.fails(&["commit", "data/nested/.folio", "-m", "x"], 1);
    assert!(err.contains(".folio"), "{err}");
}

#[test]
fn damaged_drift_profiles_are_recomputed_not_trusted() {
    let e = Env::new();
    let rows = |shift: f64| {
        let mut t = String::from("id,x,c\n");
        for i in 0..300 {
            t += &format!(
                "{i},{},{}\n",
                i as f64 * 0.5 + shift,
                ["a", "b", "c"][i % 3]
            );
        }
        t
    };
    e.write("t.csv", rows(0.0).as_bytes());
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "one"]);
    e.write("t.csv", rows(20.0).as_bytes());
    e.ok(&["commit", "-m", "two"]);
    let figures = |v: serde_json::Value| v["tables"].clone();
    let before = figures(e.json(&["drift", "HEAD~1", "HEAD", "--json"]));
    let cache = crate::walkdir(&e.p(".folio/profiles"));
    assert!(!cache.is_empty());
    for (k, p) in cache.iter().enumerate() {
        let n = fs::metadata(p).expect("stat").len() as usize;
        flip_byte(p, (k * 7919) % (n - 32));
    }
    let v = e.json(&["drift", "HEAD~1", "HEAD", "--json"]);
    assert_eq!(
        figures(v.clone()),
        before,
        "a damaged cache changed the figures"
    );
    // Every damaged file was recomputed (both sides may share one).
    assert!(
        v["profiles_computed"].as_u64() >= Some(cache.len() as u64),
        "{v}"
    );
}

/// The pending list of branch `main` (its name in hex).
const PENDING_MAIN: &str = ".folio/pending/6d61696e";

/// Writes a pending list as folio does (tag, entries, BLAKE3 checksum):
/// a consistent rewrite, as someone editing `.folio` by hand would make.
fn write_pending(path: &std::path::Path, entries: &[[u8; 40]]) {
    let mut bytes = b"folio-pending 1\n".to_vec();
    for e in entries {
        bytes.extend_from_slice(e);
    }
    let sum = blake3::hash(&bytes);
    bytes.extend_from_slice(sum.as_bytes());
    fs::write(path, bytes).expect("write the pending list");
}

/// The entries (batch id, event count) of a pending list.
fn pending_entries(path: &std::path::Path) -> Vec<[u8; 40]> {
    let bytes = fs::read(path).expect("read the pending list");
    bytes[b"folio-pending 1\n".len()..bytes.len() - 32]
        .chunks(40)
        .map(|c| c.try_into().expect("40 bytes"))
        .collect()
}

#[test]
fn a_consistently_rewritten_pending_list_contradicts_the_operation_log() {
    let e = Env::new();
    e.write("t.csv", b"id,label\n1,cat\n2,dog\n");
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "one"]);
    e.ok(&["annotate", "t.csv:1", "--label", "lion"]);
    e.ok(&["annotate", "t.csv:2", "--label", "tiger"]);
    e.ok(&["verify"]);
    let list = e.p(PENDING_MAIN);
    let good = fs::read(&list).expect("read");
    let entries = pending_entries(&list);
    assert_eq!(entries.len(), 2, "two pending batches");
    // What `verify` reports (its problems go to stdout), with exit 70.
    let problems = || {
        let out = e.cmd(&["verify"]).output().expect("run folio");
        assert_eq!(out.status.code(), Some(70));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The second annotation dropped, the checksum recomputed.
    write_pending(&list, &entries[..1]);
    let err = problems();
    assert!(
        err.contains("neither pending nor in the branch's history"),
        "{err}"
    );
    fs::write(&list, &good).expect("restore");
    e.ok(&["verify"]);
    // A batch recorded on another branch, slipped into main's list.
    e.ok(&["branch", "other"]);
    e.ok(&["checkout", "other"]);
    e.ok(&["annotate", "t.csv:1", "--label", "puma"]);
    let theirs = pending_entries(&e.p(".folio/pending/6f74686572"));
    e.ok(&["checkout", "main"]);
    let mut forged = entries.clone();
    forged.extend(theirs);
    write_pending(&list, &forged);
    let err = problems();
    assert!(err.contains("not in the operation log"), "{err}");
    fs::write(&list, &good).expect("restore");
    e.ok(&["verify"]);
    // Committed, the batches are in history: the log's record holds.
    e.ok(&["commit", "--allow-empty", "-m", "two"]);
    e.ok(&["verify"]);
}

#[test]
fn a_damaged_pending_list_is_reported_never_dropped() {
    let e = Env::new();
    e.write("t.csv", b"id,label\n1,cat\n2,dog\n");
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "one"]);
    // A pending annotation: acknowledged, brought by no commit yet.
    e.ok(&["annotate", "t.csv:1", "--label", "lion"]);
    let list = e.p(PENDING_MAIN);
    let len = fs::metadata(&list).expect("stat").len() as usize;
    for at in [0, len / 2, len - 1] {
        let good = fs::read(&list).expect("read");
        flip_byte(&list, at);
        for args in [
            &["annotate", "t.csv:2", "--label", "cat"][..],
            &["audit"],
            &["commit", "-m", "two"],
            &["verify"],
        ] {
            let err = e.fails(args, 70);
            assert!(
                err.contains("pending") || args == ["verify"],
                "{args:?}: {err}"
            );
        }
        fs::write(&list, good).expect("restore");
    }
    assert_eq!(e.json(&["lineage", "t.csv:1", "--json"])["label"], "lion");
    // Cut short: refused too, and nothing is written over it.
    let good = fs::read(&list).expect("read");
    fs::write(&list, &good[..good.len() - 5]).expect("cut");
    for args in [
        &["annotate", "t.csv:2", "--label", "y"][..],
        &["commit", "--allow-empty", "-m", "two"],
        &["lineage", "t.csv:1"],
    ] {
        e.fails(args, 70);
    }
    assert_eq!(
        fs::read(&list).expect("read").len(),
        good.len() - 5,
        "nothing written"
    );
    // A symlink in its place is refused; its target is untouched.
    let (_d, victim) = outside();
    fs::remove_file(&list).expect("rm");
    symlink(&victim, &list).expect("symlink");
    let err = e.fails(&["annotate", "t.csv:2", "--label", "y"], 70);
    assert!(err.contains("symlink"), "{err}");
    assert_eq!(fs::read(&victim).expect("read"), b"keep me");
}

#[test]
fn folder_nesting_is_bounded() {
    let e = Env::new();
    let deep = |root: &str, n: usize| {
        let mut p = e.p(root);
        for _ in 0..n {
            p.push("d");
        }
        fs::create_dir_all(&p).expect("mkdir");
        fs::write(p.join("f.txt"), b"x").expect("write");
    };
    deep("ok", 200);
    e.ok(&["commit", "ok", "-m", "deep but within the limit"]);
    e.ok(&["status"]);
    e.ok(&["checkout", "HEAD", "--to", "out"]);
    e.ok(&["verify"]);
    deep("too", 300);
    let err = e.fails(&["commit", "too", "-m", "too deep"], 1);
    assert!(err.contains("deeper than 256"), "{err}");
}

#[test]
fn a_lost_branch_ref_is_damage_not_an_empty_history() {
    let e = Env::new();
    e.write("data/a.txt", b"a");
    e.ok(&["commit", "data", "-m", "one"]);
    let id = e.json(&["log", "--json"])[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    fs::remove_file(e.p(".folio/refs/heads/main")).expect("rm");
    for args in [&["log"][..], &["status"], &["verify"]] {
        e.fails(args, 70);
    }
    // The commit is still reachable by id; restoring the branch repairs it.
    e.ok(&["branch", "main", "--at", &id]);
    assert_eq!(e.json(&["log", "--json"])[0]["id"], id.as_str());
    e.ok(&["verify"]);
    // A fresh repository has no commits, and says so.
    let fresh = Env::new();
    let out = fresh.cmd(&["log"]).output().expect("run");
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no commits"),
        "{out:?}"
    );
}

#[test]
fn gc_never_prunes_a_damaged_store() {
    let e = Env::new();
    e.write("data/a.txt", b"first");
    e.ok(&["commit", "data", "-m", "one"]);
    e.write("data/b.txt", b"second");
    e.ok(&["commit", "data", "-m", "two"]);
    // Flip a byte of the first id in an index: its object is hidden.
    let idx = crate::walkdir(&e.p(".folio/packs"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|x| x == "idx"))
        .expect("an index");
    flip_byte(&idx, 16 + 5);
    let before = crate::walkdir(&e.p(".folio/packs"));
    e.fails(&["verify"], 70);
    let err = e.fails(&["gc", "--prune"], 70);
    assert!(
        err.contains("deletes nothing") || err.contains("missing"),
        "{err}"
    );
    assert_eq!(
        crate::walkdir(&e.p(".folio/packs")),
        before,
        "no pack was removed"
    );
}

#[test]
fn control_characters_are_refused_or_escaped() {
    let e = Env::new();
    e.write("t.csv", b"id,label\n1,cat\n");
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "one"]);
    for label in ["cat\nDate: forged", "\u{1b}[2Jcat", "a\u{7}b"] {
        let err = e.fails(&["annotate", "t.csv:1", "--label", label], 1);
        assert!(err.contains("control character"), "{err}");
    }
    let long = "x".repeat(2000);
    let err = e.fails(&["annotate", "t.csv:1", "--label", &long], 1);
    assert!(err.contains("at most 1024"), "{err}");
    let err = e.fails(
        &[
            "commit",
            "--allow-empty",
            "-m",
            "x",
            "--author",
            "A\nDate: 1970",
        ],
        1,
    );
    assert!(err.contains("control character"), "{err}");
    // A file name with a newline or an escape sequence is refused by name;
    // nothing is committed, and the error itself is escaped.
    for name in ["data/two\nlines.txt", "data/\u{1b}[31mred.txt"] {
        e.write(name, b"x");
        let err = e.fails(&["commit", "data", "-m", "two"], 1);
        assert!(err.contains("control character"), "{err}");
        assert!(!err.contains('\u{1b}'), "{err:?}");
        fs::remove_file(e.p(name)).expect("rm");
    }
}

#[test]
fn temporary_files_a_killed_checkout_left_are_removed_by_the_next_writer() {
    let e = Env::new();
    e.write("data/a.txt", b"a");
    e.ok(&["commit", "data", "-m", "one"]);
    // What a checkout killed mid-write leaves beside its destination.
    e.write("data/.tmp-folio-999999-0", b"half a file");
    e.write("data/sub/.tmp-folio-999999-1", b"half another");
    assert!(
        !e.ok(&["status"]).contains("tmp-folio"),
        "never shown as work"
    );
    e.ok(&["checkout", "HEAD", "--force"]);
    assert!(!e.p("data/.tmp-folio-999999-0").exists());
    assert!(!e.p("data/sub/.tmp-folio-999999-1").exists());
    e.write("data/.tmp-folio-999999-2", b"again");
    e.write("data/b.txt", b"b");
    e.ok(&["commit", "-m", "two"]);
    assert!(!e.p("data/.tmp-folio-999999-2").exists());
}

#[test]
fn checkout_to_a_folder_named_through_a_link_is_allowed() {
    let e = Env::new();
    e.write("t.csv", b"id,x\n1,a\n");
    e.write("data/a.txt", b"a");
    e.ok(&["commit", "t.csv", "data", "-m", "one"]);
    let real = tempfile::tempdir().expect("tempdir");
    symlink(real.path(), e.p("via-link")).expect("symlink");
    // The user chose this destination: a link to an empty folder is fine.
    e.ok(&["checkout", "HEAD", "--to", "via-link"]);
    assert_eq!(
        fs::read(real.path().join("t.csv")).expect("read"),
        b"id,x\n1,a\n"
    );
    assert_eq!(
        fs::read(real.path().join("data/a.txt")).expect("read"),
        b"a"
    );
}

/// A folder of the destination swapped for a symlink to an outside folder
/// while `checkout --to` runs (the race the issue found: 16 of 80 runs
/// wrote outside): every file is written relative to a folder opened
/// without following links, so the swap either stops the checkout (exit 1,
/// a link in the way; or 74, the folder gone between the swap's two steps)
/// or is too late to redirect anything — the outside folder stays empty
/// every time.
#[test]
fn a_folder_swapped_for_a_link_during_checkout_is_never_written_through() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let e = Env::new();
    for i in 0..400 {
        e.write(
            &format!("data/sub/f{i}.txt"),
            format!("file {i}").as_bytes(),
        );
    }
    e.ok(&["commit", "data", "-m", "one"]);
    let outside = tempfile::tempdir().expect("tempdir");
    let (mut stopped, mut done) = (0, 0);
    for round in 0..40 {
        let dest = e.p(&format!("out{round}"));
        let sub = dest.join("data/sub");
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                // Swap the folder for a link to the outside, over and over.
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    if fs::symlink_metadata(&sub).is_ok_and(|m| m.is_dir())
                        && fs::rename(&sub, dest.join(format!("data/moved{n}"))).is_ok()
                    {
                        let _ = symlink(outside.path(), &sub);
                        n += 1;
                    }
                    std::thread::yield_now();
                }
            });
            let out = e
                .cmd(&["checkout", "HEAD", "--to", &format!("out{round}")])
                .output()
                .expect("run folio");
            stop.store(true, Ordering::Relaxed);
            match out.status.code() {
                Some(0) => done += 1,
                // A link in the way (1), or the folder gone mid-swap (74).
                Some(1 | 74) => stopped += 1,
                other => panic!(
                    "round {round}: exit {other:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            }
        });
        let written: Vec<_> = fs::read_dir(outside.path())
            .expect("read")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert!(
            written.is_empty(),
            "round {round}: written outside: {written:?}"
        );
    }
    assert!(stopped + done == 40);
}
