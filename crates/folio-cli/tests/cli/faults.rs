//! A full disk: a small tmpfs mounted over a test's folder (where the test
//! may mount one: root on Linux; skipped with a message elsewhere).

use crate::{Env, noise};

/// A tmpfs of `size` mounted over the folder, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Option<Tmpfs> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the disk but for about `leave` bytes, with a file outside any
/// dataset; returns its path.
fn fill(e: &Env, leave: u64, name: &str) -> std::path::PathBuf {
    let path = e.p(name);
    let mut f = std::fs::File::create(&path).expect("filler");
    let chunk = vec![7u8; 64 << 10];
    use std::io::Write as _;
    loop {
        let free = fs_free(e.path());
        if free <= leave + chunk.len() as u64 {
            let _ = f.write_all(&chunk[..free.saturating_sub(leave) as usize]);
            break;
        }
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    let _ = f.sync_all();
    path
}

fn fs_free(dir: &std::path::Path) -> u64 {
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir)
        .output()
        .expect("df");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("a number of free bytes")
}

#[test]
fn a_full_disk_is_exit_74_naming_the_path_and_nothing_acknowledged_is_lost() {
    let e = Env::bare();
    let Some(_mnt) = Tmpfs::mount(e.path(), "4m") else {
        eprintln!("skipped: this test mounts a 4 MiB tmpfs, which needs root on Linux");
        return;
    };
    e.ok(&["init"]);
    e.write("t.csv", b"id,label\n1,cat\n2,dog\n");
    e.write("data/a.bin", &noise(100_000, 1));
    e.ok(&["commit", "t.csv", "data", "--key", "t.csv=id", "-m", "one"]);
    e.ok(&["annotate", "t.csv:1", "--label", "lion"]);
    let acked = e.json(&["log", "--json"])[0]["id"].clone();
    // A new file the store has no room for.
    e.write("data/b.bin", &noise(900_000, 2));
    let filler = fill(&e, 200_000, "filler-1.bin");
    let err = e.fails(&["commit", "-m", "two"], 74);
    assert!(
        err.contains(".folio") && err.to_lowercase().contains("no space"),
        "{err}"
    );
    // A ledger write with no room at all.
    let tight = fill(&e, 0, "filler-2.bin");
    let err = e.fails(&["annotate", "t.csv:2", "--label", "owl"], 74);
    assert!(err.contains(".folio"), "{err}");
    // Nothing acknowledged is lost, nothing half-written is read.
    std::fs::remove_file(&tight).expect("free some");
    assert_eq!(e.json(&["log", "--json"])[0]["id"], acked);
    assert_eq!(e.json(&["lineage", "t.csv:1", "--json"])["label"], "lion");
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{v}");
    // With room again, the same commit goes through.
    std::fs::remove_file(&filler).expect("free");
    e.ok(&["commit", "-m", "two"]);
    let v = e.json(&["verify", "--json"]);
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{v}");
}

/// A command whose work is done succeeds even when its journal line
/// cannot be written, and says so; `verify` then names the gap.
#[test]
fn a_completed_command_succeeds_when_only_its_journal_fails() {
    let e = Env::new();
    e.write("t.csv", b"id,label\n1,cat\n");
    e.ok(&["commit", "t.csv", "--key", "id", "-m", "one"]);
    // The journal cannot be appended to: a folder stands in its place.
    std::fs::remove_file(e.p(".folio/oplog")).expect("rm oplog");
    std::fs::create_dir(e.p(".folio/oplog")).expect("mkdir");
    let out = e
        .cmd(&["annotate", "t.csv:1", "--label", "lion"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "the annotation is recorded");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning") && err.contains("operation log could not record it"),
        "{err}"
    );
    assert_eq!(e.json(&["lineage", "t.csv:1", "--json"])["label"], "lion");
    e.fails(&["verify"], 70);
}
