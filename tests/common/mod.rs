//! Shared by the integration tests, by concern: the one visible gate for
//! root-only tests and small helpers here; a test's own state root and the
//! host it must leave as found (lab.rs); a diyc in the background
//! (running.rs); diyc on a pseudo-terminal (terminal.rs); strace agreement
//! (strace.rs); snapshot filters and the JSON schema (snapshot.rs); the
//! dry backend's kit (dry.rs); containers run with -d (detached.rs); C helpers for a container's image
//! (helpers.rs).

#![allow(dead_code)]

use std::process::{Command, Output, Stdio};

pub mod archives;
pub mod detached;
pub mod dry;
pub mod handout;
pub mod held;
pub mod helpers;
pub mod lab;
pub mod lessons;
pub mod made;
pub mod podman;
pub mod running;
pub mod snapshot;
pub mod strace;
pub mod terminal;
pub mod user;

pub use lab::Lab;
pub use running::Running;

pub const DIYC: &str = env!("CARGO_BIN_EXE_diyc");

/// Every lesson, in the order `--all` runs them.
pub const LESSONS: [&str; 11] = [
    "intro",
    "user",
    "uts",
    "pid",
    "mount",
    "image",
    "rootfs",
    "cgroups",
    "net",
    "iptables",
    "hardening",
];

/// The parts every stage lesson shows, in this order.
pub const LESSON_PARTS: &[&str] = &[
    "» Why",
    "» What diyc does",
    "» The stage, live",
    "» Both views",
    "» What to look at",
    "» What breaks without it",
    "» Try it yourself",
    "» Questions",
    "\nAnswers:\n",
    "» Summary",
];

/// The letters of a lesson's answers, from its text.
pub fn answers(step: &str) -> Vec<char> {
    let file = format!("{}/lessons/{step}.md", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(file)
        .expect("the lesson")
        .lines()
        .filter_map(|l| l.strip_prefix("Answer: ")?.chars().next())
        .collect()
}

/// `learn --step STEP --no-pause`, every call shown, then `extra`.
pub fn verbose_lesson<'a>(step: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "learn",
        "--step",
        step,
        "--no-pause",
        "--explain",
        "--verbose",
    ];
    args.extend(extra);
    args
}

/// Root-only tests call this first. As non-root they are skipped with a
/// message on the terminal (written past the test harness's capture);
/// with CI=true a skip is a failure, so CI cannot pass by skipping.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("this test needs root and CI=true forbids skipping it");
            }
            $crate::common::say_skipped(module_path!(), line!());
            return;
        }
    };
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// One line on the real stderr, which libtest does not capture.
pub fn say_skipped(module: &str, line: u32) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped ({module}, line {line}): this test needs root (run `sudo cargo test`)"
    );
}

/// Wait for something the kernel finishes on its own after diyc has exited
/// (a veth pair goes with its container's network namespace, a moment
/// later). The condition decides; the short pause between checks only
/// keeps the loop from spinning. Fails after ten seconds.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "still not true after 10 s: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Run a command that must succeed; its stdout.
pub fn sh(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(out.status.success(), "{argv:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A failed diyc prints exactly one line on stderr.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "expected one line, got: {err}");
    assert!(err.starts_with("diyc: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
}
