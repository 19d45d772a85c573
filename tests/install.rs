//! `scripts/install`, the README's one command that puts diyc on PATH:
//! the binary runs from where it lands, `man diyc` finds its page, and
//! bash completes diyc's commands from the installed completions.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::path::Path;
use std::process::Command;

use common::text;

/// Install into a staging directory of the test's, as a packager would.
fn installed() -> tempfile::TempDir {
    let dest = tempfile::tempdir().expect("a staging directory");
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install"))
        .env("DESTDIR", dest.path())
        .env("DIYC_BIN", common::DIYC)
        .output()
        .expect("scripts/install runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    dest
}

fn at(dest: &Path, rel: &str) -> std::path::PathBuf {
    dest.join("usr/local").join(rel)
}

#[test]
fn the_installed_diyc_runs_and_says_what_it_is() {
    let dest = installed();
    let out = Command::new(at(dest.path(), "bin/diyc"))
        .arg("--help")
        .output()
        .expect("the installed diyc runs");
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("diyc builds containers out of kernel features"));
}

#[test]
fn the_installed_diyc_oci_link_speaks_the_oci_command_line() {
    let dest = installed();
    let link = at(dest.path(), "bin/diyc-oci");
    assert_eq!(
        std::fs::read_link(&link).expect("a link").to_str(),
        Some("diyc")
    );
    let out = Command::new(&link)
        .arg("--version")
        .output()
        .expect("diyc-oci runs");
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("spec: 1.0.2"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn man_finds_diyc_and_each_command_s_page() {
    let dest = installed();
    for (page, says) in [("diyc", "diyc-run(1)"), ("diyc-image", "import")] {
        let out = Command::new("man")
            .env("MANPATH", at(dest.path(), "share/man"))
            .env("MANWIDTH", "80")
            .args(["-P", "cat", page])
            .output()
            .expect("man runs (man-db)");
        assert!(out.status.success(), "man {page}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(says),
            "man {page}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn bash_completes_diyc_s_commands_and_their_subcommands() {
    let dest = installed();
    let script = at(dest.path(), "share/bash-completion/completions/diyc");
    let complete = |words: &str, cword: usize| {
        let line = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
             _diyc diyc \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
             echo \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash")
            .args(["-c", &line])
            .output()
            .expect("bash");
        text(&out.stdout).trim().to_string()
    };
    assert_eq!(complete("diyc im", 1), "image");
    assert_eq!(complete("diyc image im", 2), "import");
    for shell in [
        "share/zsh/site-functions/_diyc",
        "share/fish/vendor_completions.d/diyc.fish",
    ] {
        let made = std::fs::read_to_string(at(dest.path(), shell)).expect(shell);
        assert!(made.contains("learn"), "{shell} lists the commands");
    }
}
