//! `diyc learn` as a command: all lessons in a row, the explanation
//! checked against strace and the JSON schema, the transcript, the list
//! without a terminal, bad input, and a lesson whose diyc is killed.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::process::Stdio;

use common::snapshot::assert_json_events;
use common::strace::assert_strace_agrees;
use common::{LESSON_PARTS, LESSONS, Lab, text};

#[test]
fn all_lessons_in_a_row_end_in_a_container_and_leave_the_host_as_it_was() {
    require_root!();
    // The image is a cache diyc keeps: made first, it is part of "before".
    let lab = Lab::new().with_image();
    let before = lab.host_state();
    let out = lab.run(&["learn", "--all", "--no-pause"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let mut from = 0;
    for step in LESSONS {
        let title = format!("\n# {step}: ");
        let at = err[from..]
            .find(&title)
            .unwrap_or_else(|| panic!("lesson {step} missing or out of order"));
        from += at + title.len();
    }
    assert!(err[from..].contains("# All of it at once: a container"));
    assert!(
        text(&out.stdout).contains("a whole container: lesson-all, pid 1, 172.16.0."),
        "{}",
        text(&out.stdout)
    );
    assert!(err.contains("Built, one stage at a time: uts, pid, mount, rootfs, cgroups, net, iptables, hardening; then a whole container (exit 0)"));
    assert_eq!(
        lab.host_state(),
        before,
        "learn --all left something behind"
    );
}

#[test]
fn strace_agrees_with_learn() {
    require_root!();
    let lab = Lab::new().with_image();
    for (step, must_show) in [
        ("uts", &["clone3", "sethostname", "execveat"][..]),
        ("rootfs", &["pivot_root", "umount2", "chroot", "chdir"][..]),
        ("iptables", &["setns", "unshare", "clone3"][..]),
    ] {
        let mut args = vec!["learn", "--step", step, "--no-pause"];
        if step == "iptables" {
            args.push("--lab");
        }
        assert_strace_agrees(&lab, step, &args, must_show);
    }
}

#[test]
fn learn_json_is_one_schema_event_per_line() {
    require_root!();
    let lab = Lab::new().with_image();
    let out = lab.line("learn --step hardening --no-pause --explain=json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events = assert_json_events(&text(&out.stderr));
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["event"].as_str()).collect();
    for kind in ["lesson", "stage", "syscall", "state", "note"] {
        assert!(kinds.contains(kind), "no {kind} event");
    }
}

#[test]
fn the_transcript_is_the_lesson_as_markdown() {
    require_root!();
    let lab = Lab::new();
    let handout = lab.root().join("uts.md");
    let handout_arg = handout.to_str().expect("utf-8");
    let out = lab.run(&[
        "learn",
        "--step",
        "uts",
        "--no-pause",
        "--transcript",
        handout_arg,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(&handout).expect("the transcript");
    assert!(
        md.starts_with("\n# uts: ") || md.starts_with("# uts: "),
        "{md}"
    );
    for part in LESSON_PARTS {
        assert!(md.contains(part), "{part} missing from the transcript");
    }
    assert!(md.contains("### uts: a hostname of its own"), "{md}");
    assert!(md.contains("    [pid "), "no calls in the transcript");
}

#[test]
fn learn_without_a_step_lists_the_lessons_when_there_is_no_terminal() {
    let lab = Lab::new();
    let out = lab.run(&["learn"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list = text(&out.stdout);
    for step in LESSONS {
        assert!(
            list.lines().any(|l| l.starts_with(step)),
            "{step} not listed: {list}"
        );
    }
}

#[test]
fn an_unknown_step_is_one_line_and_status_125() {
    let lab = Lab::new();
    let out = lab.run(&["learn", "--step", "teleport"]);
    common::assert_one_line_error(&out, "teleport");
}

#[test]
fn the_outside_host_goes_when_diyc_is_killed() {
    require_root!();
    use std::io::BufRead;
    let lab = Lab::new().with_image();
    let mut child = lab
        .cmd(&["learn", "--step", "iptables", "--no-pause"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("diyc starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    // The first call after the outside host is made is the lesson's run.
    let mut made = false;
    for line in lines.by_ref() {
        let line = line.expect("a line");
        made |= line.contains("an outside host for the lesson");
        if made && line.contains("RTM_SETLINK: ip link set vlab up") {
            break;
        }
    }
    assert!(made, "the outside host was never made");
    assert!(common::sh(&["ip", "-o", "link"]).contains("vlab"));
    child.kill().expect("SIGKILL");
    child.wait().expect("diyc ends");
    common::wait_until("the outside host's veth pair is gone", || {
        !common::sh(&["ip", "-o", "link"]).contains("vlab")
    });
}
