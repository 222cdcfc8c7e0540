//! End-to-end tests of the `folio` binary, one module per command area.
//! All run hermetically: a cleared environment, a pinned clock and author.

// The tests prepare working trees and tamper with repositories on purpose.
#![allow(clippy::disallowed_methods)]

mod book;
mod branches;
mod browser;
mod checkout;
mod commit;
mod crash;
mod diff;
mod drift;
mod errors;
mod exit_codes;
mod export;
mod faults;
mod history;
mod hostile;
mod json_schemas;
mod ledger;
mod lock;
mod maintenance;
mod purge;
mod remote;
mod reseal;
mod sensitive;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The pack holding object `id` (hex) and the offset of its record, read
/// from the packs' indexes (docs/FORMAT.md, "Packs").
pub fn pack_record(e: &Env, id: &str) -> (std::path::PathBuf, u64) {
    for idx in walkdir(&e.p(".folio/packs")) {
        if idx.extension().is_none_or(|x| x != "idx") {
            continue;
        }
        let b = std::fs::read(&idx).expect("read");
        let n = u32::from_le_bytes(b[12..16].try_into().expect("4 bytes")) as usize;
        for k in 0..n {
            let at = 16 + k * 40;
            let hex: String = b[at..at + 32].iter().map(|x| format!("{x:02x}")).collect();
            if hex == id {
                let off = u64::from_le_bytes(b[at + 32..at + 40].try_into().expect("8 bytes"));
                return (idx.with_extension("pack"), off);
            }
        }
    }
    panic!("object {id} is in no pack")
}

/// Flips the lowest bit of the byte at `at` in the file, in place.
pub fn flip_byte(path: &Path, at: usize) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open");
    let mut b = [0u8];
    f.read_exact_at(&mut b, at as u64).expect("read");
    b[0] ^= 0x01;
    f.write_all_at(&b, at as u64).expect("write");
}

/// A temporary working folder with a repository in it.
pub struct Env {
    /// The folder, removed on drop.
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A new folder with `folio init` run in it.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Env {
        let e = Env::bare();
        e.ok(&["init"]);
        e
    }

    /// A new empty folder, no repository.
    pub fn bare() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the folder.
    pub fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file, creating its folders.
    pub fn write(&self, rel: &str, content: &[u8]) {
        let p = self.p(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    /// The folio command, hermetic, run in the folder.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_folio"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("FOLIO_NOW", "2026-01-15T10:00:00Z")
            .env("FOLIO_AUTHOR", "Test Author <test@example.com>")
            .current_dir(self.path())
            .args(args);
        c
    }

    /// Runs folio, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        String::from_utf8(self.ok_raw(args).0).expect("utf-8 stdout")
    }

    /// Runs folio, asserts success, returns stdout's bytes and stderr
    /// (hints such as "fetched …").
    pub fn ok_raw(&self, args: &[&str]) -> (Vec<u8>, String) {
        let out = self.cmd(args).output().expect("run folio");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "folio {args:?} failed: {stderr}");
        (out.stdout, stderr)
    }

    /// Runs folio, asserts the exit code, returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd(args).output().expect("run folio");
        assert_eq!(
            out.status.code(),
            Some(code),
            "folio {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).expect("utf-8 stderr")
    }

    /// Parses `--json` output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("valid JSON")
    }

    /// A snapshot of the repository's truth: refs, pack and object names.
    pub fn repo_state(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in walkdir(&self.p(".folio")) {
            let rel = e
                .strip_prefix(self.path())
                .expect("inside")
                .display()
                .to_string();
            if rel.contains("/index") || rel.ends_with("/lock") {
                continue;
            }
            let content = std::fs::read(&e).map(|b| blake3::hash(&b).to_hex().to_string());
            out.push(format!("{rel} {}", content.unwrap_or_default()));
        }
        out.sort();
        out
    }
}

/// Deterministic incompressible bytes (xorshift), so objects stay raw.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Every file under `dir`, recursively.
pub fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Replaces 64-digit ids and 12-digit short ids with placeholders.
pub fn redact(s: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() == 64 {
            out.push_str("[ID]");
        } else if run.len() == 12 && run.chars().any(|c| c.is_ascii_digit()) {
            out.push_str("[SHORT]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}
