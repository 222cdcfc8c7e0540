//! Bad input: clear errors that name what failed, and nothing changed.

use std::os::unix::ffi::OsStrExt;

use crate::Env;

#[test]
fn not_a_repository() {
    let e = Env::bare();
    let err = e.fails(&["status"], 1);
    assert!(err.contains("not a folio repository"), "{err}");
    assert!(err.contains("folio init"), "{err}");
}

#[test]
fn missing_and_outside_paths() {
    let e = Env::new();
    let err = e.fails(&["commit", "nope", "-m", "x"], 1);
    assert!(err.contains("nope: no such file or folder"), "{err}");
    let err = e.fails(&["commit", "/", "-m", "x"], 1);
    assert!(err.contains("outside the repository"), "{err}");
    let err = e.fails(&["commit", "-m", "x"], 1);
    assert!(err.contains("nothing is tracked yet"), "{err}");
    let err = e.fails(&["commit", ".folio", "-m", "x"], 1);
    assert!(err.contains(".folio"), "{err}");
}

#[test]
fn nested_datasets_are_refused() {
    let e = Env::new();
    e.write("data/sub/a.txt", b"a");
    e.ok(&["commit", "data", "-m", "first"]);
    let before = e.repo_state();
    let err = e.fails(&["commit", "data/sub", "-m", "nested"], 1);
    assert!(err.contains("overlaps the tracked dataset 'data'"), "{err}");
    assert_eq!(e.repo_state(), before);
}

#[test]
fn non_utf8_name_is_refused_and_nothing_is_written() {
    let e = Env::new();
    e.write("data/ok.txt", b"ok");
    e.ok(&["commit", "data", "-m", "first"]);
    let before = e.repo_state();
    let bad = e
        .p("data")
        .join(std::ffi::OsStr::from_bytes(b"bad\xffname"));
    std::fs::write(&bad, b"x").expect("write");
    e.write("data/ok.txt", b"changed");
    let err = e.fails(&["commit", "-m", "second"], 1);
    assert!(err.contains("not valid UTF-8"), "{err}");
    assert!(err.contains("bad"), "{err}");
    assert_eq!(
        e.repo_state(),
        before,
        "a failed commit must leave the repository as it was"
    );
}

#[test]
fn empty_message_and_bad_clock() {
    let e = Env::new();
    e.write("data/a.txt", b"a");
    let err = e.fails(&["commit", "data", "-m", " "], 1);
    assert!(err.contains("message is empty"), "{err}");
    let out = e
        .cmd(&["commit", "data", "-m", "x"])
        .env("FOLIO_NOW", "yesterday")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FOLIO_NOW=\"yesterday\""));
}

#[test]
fn usage_errors_exit_2() {
    let e = Env::new();
    e.fails(&["commit"], 2);
    e.fails(&["frobnicate"], 2);
}

#[test]
fn completions_for_each_shell_name_every_command() {
    let e = Env::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = e.ok(&["completions", shell]);
        for cmd in ["commit", "drift", "export", "annotate", "book"] {
            assert!(script.contains(cmd), "{shell} completes {cmd}");
        }
    }
    // The bash script parses.
    let script = e.ok(&["completions", "bash"]);
    e.write("folio.bash", script.as_bytes());
    let ok = std::process::Command::new("bash")
        .args(["-n", "folio.bash"])
        .current_dir(e.path())
        .status()
        .expect("bash");
    assert!(ok.success(), "bash -n");
    let err = e.fails(&["completions", "nushell"], 2);
    assert!(err.contains("bash") && err.contains("zsh"), "{err}");
}

#[test]
fn help_lists_exit_codes_environment_metrics_and_presets() {
    let e = Env::new();
    let help = e.ok(&["--help"]);
    for want in [
        "Exit codes:",
        "75",
        "Environment:",
        "FOLIO_AUTHOR",
        "FOLIO_NOW",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(help.contains(want), "folio --help names {want}");
    }
    let drift = e.ok(&["drift", "--help"]);
    for want in [
        "wasserstein_norm",
        "chi_square_p",
        "evidently",
        "nannyml",
        "--relabel-queue",
        "--added",
    ] {
        assert!(drift.contains(want), "drift --help names {want}");
    }
    // `book impair` has two forms; its usage shows both.
    let impair = e.ok(&["book", "impair", "--help"]);
    let usage: Vec<&str> = impair
        .lines()
        .skip_while(|l| !l.starts_with("Usage:"))
        .take(2)
        .collect();
    assert!(
        usage.len() == 2 && usage[0].contains("--amount") && usage[1].contains("--from-drift"),
        "{impair}"
    );
}

#[test]
fn config_is_read_and_edited_by_key_and_checked() {
    let e = Env::new();
    e.ok(&["config", "set", "drift.share", "0.4"]);
    e.ok(&["config", "set", "tables.\"labels.csv\".key", "[\"id\"]"]);
    e.ok(&["config", "set", "quality.adjudicator", "judge"]);
    assert_eq!(e.ok(&["config", "get", "drift.share"]), "0.4\n");
    assert_eq!(
        e.ok(&["config", "get", "quality.adjudicator"]),
        "\"judge\"\n"
    );
    let text = std::fs::read_to_string(e.p(".folio/config.toml")).expect("config");
    assert!(
        text.starts_with("# folio repository configuration"),
        "{text}"
    );
    assert!(text.contains("[tables.\"labels.csv\"]"), "{text}");
    // Invalid edits are refused and leave the file as it was.
    let err = e.fails(&["config", "set", "drift.share", "2"], 1);
    assert!(
        err.contains("share 2") && err.contains("unchanged"),
        "{err}"
    );
    let err = e.fails(&["config", "set", "drift.nosuch", "1"], 1);
    assert!(err.contains("nosuch") && err.contains("share"), "{err}");
    let err = e.fails(&["config", "set", "drift.preset", "evidentli"], 1);
    assert!(err.contains("evidentli"), "{err}");
    assert_eq!(
        std::fs::read_to_string(e.p(".folio/config.toml")).expect("config"),
        text,
        "unchanged"
    );
    // The settings take effect: the drift share is 0.4.
    let list = e.json(&["config", "list", "--json"]);
    assert_eq!(list["drift.share"], "0.4");
    e.ok(&["config", "unset", "drift.share"]);
    let err = e.fails(&["config", "get", "drift.share"], 1);
    assert!(err.contains("not set"), "{err}");
    let err = e.fails(&["config", "get", "drift"], 1);
    assert!(err.contains("section"), "{err}");
}

#[test]
fn man_pages_cover_every_visible_command() {
    let e = Env::bare();
    e.ok(&["man", "man"]);
    let help = e.ok(&["--help"]);
    // Every command `folio --help` lists has a page, and folio.1 lists them.
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 30, "{help}");
    for c in &commands {
        let page = std::fs::read_to_string(e.p(&format!("man/folio-{c}.1")))
            .unwrap_or_else(|_| panic!("a page for {c}"));
        assert!(page.contains(&format!(".TH folio-{c} 1")), "{c}");
    }
    let main = std::fs::read_to_string(e.p("man/folio.1")).expect("folio.1");
    assert!(
        main.contains(".TH folio 1") && main.contains("drift"),
        "folio.1"
    );
}

#[test]
fn global_options_have_their_heading_and_show_only_where_they_apply() {
    let e = Env::new();
    let help = |args: &[&str]| e.ok(args);
    let commit = help(&["commit", "--help"]);
    let global = commit
        .split("Global options:")
        .nth(1)
        .unwrap_or_else(|| panic!("no Global options heading: {commit}"));
    for flag in ["-C <DIR>", "--quiet", "--wait", "--jobs"] {
        assert!(
            global.contains(flag),
            "{flag} under Global options: {commit}"
        );
    }
    // A tag starts no worker threads; a proof check takes no lock and no
    // threads; a log takes no lock.
    assert!(!help(&["tag", "--help"]).contains("--jobs"));
    let proof = help(&["verify-proof", "--help"]);
    assert!(
        !proof.contains("--jobs") && !proof.contains("--wait"),
        "{proof}"
    );
    assert!(!help(&["log", "--help"]).contains("--wait"));
    // Where they apply they work after the command and before it; where
    // they do not, they are a usage error.
    e.write("d/a.txt", b"a");
    e.ok(&["commit", "d", "-m", "one", "-j", "1", "--wait"]);
    e.ok(&["--wait", "-j", "1", "status"]);
    e.ok(&[
        "book",
        "policy",
        "d",
        "--method",
        "straight-line",
        "--life",
        "12",
        "--wait",
    ]);
    let err = e.fails(&["log", "--wait"], 2);
    assert!(err.contains("--wait"), "{err}");
}
