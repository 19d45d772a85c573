//! `diyc doctor`: each check flipped where a test can flip it, without
//! changing the host (a namespace of the test's own, a user made for the
//! test, another PATH, a seccomp filter), and the report's shape: the
//! JSON schema, the exit status, the table without a terminal.
//!
//! The checks by family are in tests/doctor/; kit.rs runs doctor.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
#[path = "doctor/kit.rs"]
mod kit;

#[path = "doctor/host.rs"]
mod host;
#[path = "doctor/kernel.rs"]
mod kernel;
#[path = "doctor/namespaces.rs"]
mod namespaces;
#[path = "doctor/network.rs"]
mod network;
#[path = "doctor/rootless.rs"]
mod rootless;

use common::{Lab, text};
use kit::{Doctor, TestUser, schema};

#[test]
fn the_json_report_matches_the_schema_for_root_and_for_an_ordinary_user() {
    require_root!();
    let lab = Lab::new();
    // Doctor::run checks the schema, and `ok` against the exit status.
    let root = Doctor::new().run(&lab);
    assert_eq!(root.report["user"]["root"], true);
    assert_eq!(root.report["user"]["uid"], 0);
    assert_eq!(root.report["diyc"], env!("CARGO_PKG_VERSION"));
    let user = TestUser::new(false);
    let theirs = Doctor::new().by(&user).run(&lab);
    assert_eq!(theirs.report["user"]["root"], false);
    assert_eq!(theirs.report["user"]["uid"], user.uid);
    assert_eq!(theirs.report["user"]["name"], user.name.as_str());
}

#[test]
fn the_schema_rejects_reports_that_break_it() {
    let validator = schema();
    let check = |id: &str, verdict: &str| {
        serde_json::json!({
            "id": id, "verdict": verdict, "found": "something",
            "breaks": ["diyc run"], "fix": null
        })
    };
    let report = |checks: Vec<serde_json::Value>, ok: bool| {
        serde_json::json!({
            "diyc": "0.1.0", "user": {"uid": 0, "name": "root", "root": true},
            "checks": checks, "ok": ok
        })
    };
    let ids: Vec<String> =
        serde_json::from_str::<serde_json::Value>(include_str!("../docs/doctor.schema.json"))
            .ok()
            .and_then(|s| {
                s["$defs"]["check"]["properties"]["id"]["enum"]
                    .as_array()
                    .cloned()
            })
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
    let all = |verdict: &str| ids.iter().map(|id| check(id, verdict)).collect::<Vec<_>>();
    assert!(validator.is_valid(&report(all("ok"), true)));
    assert!(validator.is_valid(&report(all("fail"), false)));
    // ok must say whether a check failed.
    assert!(!validator.is_valid(&report(all("fail"), true)));
    assert!(!validator.is_valid(&report(all("warn"), false)));
    let mut unknown = all("ok");
    unknown[0]["id"] = "kernel.teleport".into();
    assert!(!validator.is_valid(&report(unknown, true)));
    let mut no_fix = all("ok");
    if let Some(c) = no_fix[0].as_object_mut() {
        c.remove("fix");
    }
    assert!(!validator.is_valid(&report(no_fix, true)));
    let mut silent_fail = all("ok");
    silent_fail[0] = check(&ids[0], "fail");
    silent_fail[0]["breaks"] = serde_json::json!([]);
    assert!(!validator.is_valid(&report(silent_fail, false)));
    assert!(!validator.is_valid(&report(all("ok")[1..].to_vec(), true)));
}

#[test]
fn the_exit_status_is_1_when_something_diyc_needs_is_missing_and_0_otherwise() {
    require_root!();
    let lab = Lab::new();
    let fine = Doctor::new().run(&lab);
    let failed: Vec<&serde_json::Value> = fine.report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["verdict"] == "fail")
        .collect();
    assert!(
        failed.is_empty(),
        "this host is missing something: {failed:#?}"
    );
    assert_eq!(fine.code(), Some(0));
    let warned = fine.report["checks"]
        .as_array()
        .is_some_and(|all| all.iter().any(|c| c["verdict"] == "warn"));
    // Under unshare --net ip_forward is 0: a warning, still status 0.
    let warning = Doctor::new().under(&["unshare", "--net"]).run(&lab);
    assert_eq!(warning.verdict("net.ip_forward"), "warn");
    assert_eq!(warning.code(), Some(0), "warned before too: {warned}");
    let missing = Doctor::new()
        .env("DIYC_BUSYBOX", "/nonexistent/busybox")
        .run(&lab);
    assert_eq!(missing.verdict("image.busybox"), "fail");
    assert_eq!(missing.code(), Some(1));
    assert_eq!(missing.report["ok"], false);
}

#[test]
fn the_table_has_no_control_bytes_without_a_terminal_and_fixes_under_problems() {
    require_root!();
    let lab = Lab::new();
    let ran = Doctor::new()
        .table()
        .env("DIYC_BUSYBOX", "/nonexistent/busybox")
        .run(&lab);
    assert_eq!(ran.code(), Some(1));
    let out = text(&ran.out.stdout);
    let control: Vec<char> = out
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(control.is_empty(), "control bytes {control:?} in:\n{out}");
    assert!(out.contains("check") && out.contains("verdict") && out.contains("found"));
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("image.busybox") && l.contains(" fail "))
        .unwrap_or_else(|| panic!("no failed image.busybox line in:\n{out}"));
    assert!(lines[at + 1].trim_start().starts_with("breaks: "), "{out}");
    assert!(
        lines[at + 1..]
            .iter()
            .take(4)
            .any(|l| l.contains("fix:") && l.contains("DIYC_BUSYBOX")),
        "{out}"
    );
    // A check that passed has no breaks or fix under it.
    let ok = lines
        .iter()
        .position(|l| l.starts_with("kernel.pidfd") && l.contains(" ok "))
        .unwrap_or_else(|| panic!("no kernel.pidfd ok line in:\n{out}"));
    assert!(!lines[ok + 1].trim_start().starts_with("breaks:"), "{out}");
}

/// `diyc doctor` with its stdout on a pseudo-terminal of the test's: all
/// it wrote there.
fn on_a_terminal(lab: &Lab, no_color: &str) -> String {
    use std::io::Read;
    let pty = nix::pty::openpty(None, None).unwrap_or_else(|e| panic!("a pseudo-terminal: {e}"));
    let slave = std::fs::File::from(pty.slave);
    let mut child = lab
        .cmd(&["doctor"])
        .env("NO_COLOR", no_color)
        .stdin(std::process::Stdio::null())
        .stdout(slave)
        .spawn()
        .unwrap_or_else(|e| panic!("doctor: {e}"));
    let mut master = std::fs::File::from(pty.master);
    let mut seen = Vec::new();
    // Once doctor has gone, the last slave is closed: EIO ends the read.
    let _ = master.read_to_end(&mut seen);
    let _ = child.wait();
    text(&seen)
}

#[test]
fn on_a_terminal_the_verdicts_are_coloured_unless_no_color_says_not() {
    require_root!();
    let lab = Lab::new();
    let coloured = on_a_terminal(&lab, "");
    assert!(coloured.contains("\x1b[32mok"), "{coloured:?}");
    let plain = on_a_terminal(&lab, "1");
    assert!(plain.contains("ok "), "{plain:?}");
    assert!(!plain.contains('\x1b'), "{plain:?}");
}
