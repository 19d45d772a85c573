//! `--explain` shows the system calls diyc really makes: checked against
//! strace, and pinned down by a snapshot of the whole explanation.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::snapshot::{assert_json_events, snapshot_filters};
use common::strace::assert_strace_agrees;
use common::{Lab, text};

const RUN_MUST_SHOW: &[&str] = &[
    "clone3",
    "mount",
    "umount2",
    "pivot_root",
    "sethostname",
    "setsid",
    "keyctl",
    "seccomp",
    "close_range",
    "openat2",
    "fchdir",
    "memfd_create",
    "execveat",
];

fn strace_run(lab: &Lab, name: &str, more: &[&str]) {
    let mut args = vec!["run", "--rm", "--name", name, "--explain"];
    args.extend(more);
    args.extend(["-w", "/tmp", "busybox", "true"]);
    assert_strace_agrees(lab, name, &args, RUN_MUST_SHOW);
}

#[test]
fn strace_agrees_with_explain_on_a_first_run_that_builds_the_image() {
    require_root!();
    let lab = Lab::new();
    strace_run(&lab, "first", &[]);
}

#[test]
fn strace_agrees_with_explain_on_a_plain_run() {
    require_root!();
    let lab = Lab::new().with_busybox();
    strace_run(&lab, "plain", &[]);
}

/// With every call on a line of its own, each is compared whole, every
/// argument with strace's.
#[test]
fn strace_agrees_with_explain_verbose_call_by_call() {
    require_root!();
    let lab = Lab::new().with_busybox();
    strace_run(&lab, "verbose", &["--verbose"]);
}

#[test]
fn explain_output_matches_the_snapshot() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // Without --rm, so the writable layer is the on-disk one students keep.
    let out = lab.line("run --name snap --explain busybox true");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let filters = snapshot_filters(&lab);
    let filters: Vec<(&str, &str)> = filters
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!(text(&out.stderr));
    });
}

#[test]
fn explain_json_is_one_object_per_line_and_matches_the_schema() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let out = lab.line("run --rm --explain=json busybox true");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events = assert_json_events(&text(&out.stderr));
    let calls: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "syscall")
        .filter_map(|e| e["call"]["syscall"].as_str())
        .collect();
    // The cgroup is made before the clone and removed after the exit.
    assert_eq!(calls.first(), Some(&"mkdirat"));
    assert_eq!(calls.last(), Some(&"rmdir"));
    for call in ["clone3", "write_file", "pivot_root", "execveat"] {
        assert!(calls.contains(&call), "{call} missing from {calls:?}");
    }
    let stages: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "stage")
        .filter_map(|e| e["stage"].as_str())
        .collect();
    assert_eq!(
        stages,
        [
            "cgroups",
            "net",
            "iptables",
            "clone",
            "cgroups",
            "net",
            "cgroups",
            "mount",
            "uts",
            "rootfs",
            "pid",
            "net",
            "session",
            "hardening",
            "exec",
            "cgroups",
            "iptables",
            "cleanup"
        ]
    );
}

#[test]
fn the_schema_rejects_events_that_break_it() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../docs/explain.schema.json"))
            .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let good = serde_json::json!({
        "event": "syscall", "stage": "uts", "pid": 42,
        "call": {"syscall": "sethostname", "name": "box"},
        "text": "sethostname(\"box\", 3)", "outcome": {"ok": 0},
        "at_us": 5123400, "took_us": 3
    });
    assert!(validator.is_valid(&good));
    for bad in [
        serde_json::json!({"event": "syscall", "stage": "uts"}),
        serde_json::json!({"event": "stage", "stage": "teleport"}),
        // A call without its time, and a time before the clock's start.
        serde_json::json!({"event": "stage", "stage": "uts"}),
        serde_json::json!({"event": "syscall", "stage": "uts", "pid": 42,
            "call": {"syscall": "sethostname", "name": "box"},
            "text": "sethostname(\"box\", 3)", "outcome": {"ok": 0},
            "at_us": -1, "took_us": 3}),
        serde_json::json!({"event": "note", "stage": "uts", "text": "x", "extra": 1}),
        serde_json::json!({
            "event": "syscall", "stage": "uts", "pid": 42,
            "call": {"syscall": "sethostname"},
            "text": "sethostname()", "outcome": {"ok": 0}
        }),
    ] {
        assert!(!validator.is_valid(&bad), "accepted {bad}");
    }
}

#[test]
fn a_commands_output_comes_after_the_exec_that_made_it() {
    require_root!();
    let lab = Lab::new().with_image();
    // stdout and stderr on one pipe, as on a terminal: the order they
    // were written in is the order they are read in.
    for _ in 0..10 {
        use std::io::Read;
        let (mut read, write) = std::io::pipe().expect("a pipe");
        let mut cmd = lab.cmd(&[
            "run",
            "--rm",
            "--net",
            "none",
            "--explain",
            "busybox",
            "echo",
            "MARK",
        ]);
        cmd.stdin(std::process::Stdio::null())
            .stdout(write.try_clone().expect("the pipe twice"))
            .stderr(write);
        let mut child = cmd.spawn().expect("diyc runs");
        drop(cmd);
        let mut out = String::new();
        read.read_to_string(&mut out).expect("the output");
        assert!(child.wait().expect("diyc ends").success(), "{out}");
        let exec = out.find("execveat(").expect("the exec line");
        let mark = out.find("\nMARK").expect("the command's output");
        assert!(exec < mark, "MARK came before its exec:\n{out}");
    }
}
