//! What diyc-oci refuses, before anything is made: every field the table
//! in src/app/oci/fields.rs refuses, every value of a used field it
//! cannot honour, and the command line's own refusals. Each is one line
//! naming what was refused, exit status 1, and no state left.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
#[path = "oci/kit.rs"]
mod kit;

use diyc::oci_fields::{FIELDS, Treat};
use kit::Bundle;
use serde_json::{Value, json};

use common::text;

/// create must fail with one line holding `needle`, and leave nothing.
fn refused(b: &Bundle, needle: &str) {
    // stderr to a file: a create that wrongly succeeds leaves a process
    // holding its descriptors, which a pipe would wait for.
    let file = b.lab.root().join("create.err");
    let status = b
        .cmd(&["create", "--bundle"])
        .arg(&b.dir)
        .arg("r")
        .stdout(std::fs::File::create(&file).expect("file"))
        .stderr(std::fs::File::create(&file).expect("file"))
        .status()
        .expect("create");
    let err = std::fs::read_to_string(&file).expect("stderr");
    if status.success() {
        b.ok(&["delete", "--force", "r"]);
        panic!("{needle}: create was not refused");
    }
    assert_eq!(status.code(), Some(1), "{needle}: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    assert!(
        !b.state_root().join("r").exists(),
        "{needle}: state left behind"
    );
    for dir in b.lab.cgroup_parent_dirs() {
        assert!(
            !dir.exists(),
            "{needle}: a cgroup was made: {}",
            dir.display()
        );
    }
}

#[test]
fn every_field_the_table_refuses_is_refused_by_name() {
    let mut count = 0;
    for (path, treat) in FIELDS {
        let Treat::Refused(why) = treat else { continue };
        let mut b = Bundle::new("r", &["true"]);
        b.set(path, json!(1));
        refused(&b, &format!("{path}: {why}"));
        count += 1;
    }
    assert!(count > 20, "the table refuses {count} fields");
}

#[test]
fn an_unknown_field_is_refused_by_its_path() {
    let mut b = Bundle::new("r", &["true"]);
    b.set("linux.frobnicate", json!({"x": 1}));
    refused(
        &b,
        "config.json: linux.frobnicate: diyc does not know this field",
    );
}

#[test]
fn an_ignored_field_is_noted_in_the_log_only() {
    let mut b = Bundle::new("r", &["true"]);
    b.set("process.apparmorProfile", json!("docker-default"));
    b.set("process.oomScoreAdj", Value::Null);
    let log = b.lab.root().join("log.json");
    // Refused later for another reason, so that nothing is made.
    b.set("linux.namespaces", json!([{"type": "mount"}]));
    let out = b
        .cmd(&["--log"])
        .arg(&log)
        .args(["--log-format", "json", "create", "--bundle"])
        .arg(&b.dir)
        .arg("r")
        .output()
        .expect("create");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !text(&out.stderr).contains("apparmor"),
        "notes stay in the log"
    );
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let note = json!({"level": "warning", "msg": "process.apparmorProfile is ignored: diyc loads no AppArmor profile"});
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == note["level"] && l["msg"] == note["msg"]),
        "{lines:?}"
    );
    let last = lines.last().expect("the error");
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"]
            .as_str()
            .is_some_and(|m| m.contains("Pid namespace")),
        "{lines:?}"
    );
    assert!(
        last["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{lines:?}"
    );
}

/// Values of used fields that diyc cannot honour.
#[test]
fn values_diyc_cannot_honour_are_refused_naming_the_field() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("ociVersion", json!("2.0.0"), "ociVersion \"2.0.0\""),
        ("root.path", json!("nowhere"), "root.path"),
        (
            "process.args",
            json!([]),
            "process.args: the command is missing",
        ),
        (
            "process.cwd",
            json!("tmp"),
            "process.cwd \"tmp\": must be an absolute path",
        ),
        (
            "process.capabilities.effective",
            json!(["CAP_KILL"]),
            "process.capabilities.effective: diyc keeps one set",
        ),
        (
            "process.capabilities.bounding",
            json!(["CAP_NOSUCH"]),
            "CAP_NOSUCH",
        ),
        (
            "process.rlimits",
            json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]),
            "soft limit 10 is above its hard limit 5",
        ),
        (
            "process.terminal",
            json!(true),
            "process.terminal is true: a terminal needs --console-socket",
        ),
        (
            "linux.namespaces",
            json!([{"type": "pid"}, {"type": "mount"}, {"type": "ipc", "path": "/proc/1/ns/ipc"}]),
            "joining a Ipc namespace",
        ),
        (
            "linux.namespaces",
            json!([{"type": "pid"}, {"type": "mount"}, {"type": "user"}]),
            "a User namespace is not supported",
        ),
        (
            "linux.namespaces",
            json!([{"type": "mount"}]),
            "diyc needs a Pid namespace",
        ),
        (
            "linux.namespaces",
            json!([{"type": "pid"}, {"type": "mount"}, {"type": "pid"}]),
            "Pid is listed twice",
        ),
        ("hostname", json!("h"), ""),
        (
            "linux.rootfsPropagation",
            json!("shared"),
            "linux.rootfsPropagation \"shared\"",
        ),
        (
            "linux.cgroupsPath",
            json!("system.slice:diyc:x"),
            "needs --systemd-cgroup",
        ),
        ("linux.cgroupsPath", json!("../../x/y"), "linux.cgroupsPath"),
        (
            "linux.resources.devices",
            json!([{"allow": true, "type": "c", "major": 10, "minor": 200, "access": "r"}]),
            "\"r\" access alone",
        ),
        (
            "linux.resources.devices",
            json!([{"allow": false, "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 3}]),
            "linux.resources.devices[1]",
        ),
        (
            "linux.sysctl",
            json!({"kernel.panic": "1"}),
            "linux.sysctl \"kernel.panic\"",
        ),
        (
            "mounts",
            json!([{"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}]),
            "diyc needs a proc mount at /proc",
        ),
        (
            "mounts",
            json!([{"destination": "/x", "type": "ext4", "source": "/dev/sda"}]),
            "mounts[0] (ext4 at /x): this kind of mount is not supported",
        ),
        (
            "mounts",
            json!([{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}]),
            "tmpcopyup",
        ),
        (
            "mounts",
            json!([{"destination": "/proc/sys/x", "type": "bind", "source": "/tmp", "options": ["rbind"]}]),
            "nothing inside them",
        ),
        (
            "mounts",
            json!([{"destination": "/x", "type": "bind", "source": "rel", "options": ["bind"]}]),
            "a bind needs an absolute source",
        ),
        (
            "mounts",
            json!([{"destination": "/x/../y", "type": "tmpfs", "source": "tmpfs"}]),
            "mounts[0].destination",
        ),
        (
            "mounts",
            json!([{"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["weird"]}]),
            "option \"weird\" is not supported",
        ),
    ];
    for (path, value, needle) in cases {
        let mut b = Bundle::new("r", &["true"]);
        if path == "hostname" {
            b.set(
                "linux.namespaces",
                json!([{"type": "pid"}, {"type": "mount"}]),
            );
            refused(&b, "hostname: setting it needs a UTS namespace");
            continue;
        }
        b.set(path, value);
        refused(&b, needle);
    }
}

#[test]
fn the_command_line_refuses_what_diyc_does_not_do() {
    let b = Bundle::new("r", &["true"]);
    let out = b.oci(&["--systemd-cgroup", "state", "r"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--systemd-cgroup: diyc writes cgroups itself"));
    let out = b
        .cmd(&["create", "--preserve-fds", "2", "--bundle"])
        .arg(&b.dir)
        .arg("r")
        .output()
        .expect("create");
    assert!(
        text(&out.stderr).contains("--preserve-fds"),
        "{}",
        text(&out.stderr)
    );
    let out = b.oci(&["checkpoint", "r"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    let out = b.oci(&["state", "../x"]);
    assert!(
        text(&out.stderr).contains("is not a container id"),
        "{}",
        text(&out.stderr)
    );
    let out = b.oci(&["state", "nosuch"]);
    assert!(text(&out.stderr).contains("container nosuch does not exist"));
    let out = b
        .cmd(&[
            "create",
            "--console-socket",
            "/nonexistent.sock",
            "--bundle",
        ])
        .arg(&b.dir)
        .arg("r")
        .output()
        .expect("create");
    assert!(text(&out.stderr).contains("--console-socket is given but process.terminal is false"));
    assert!(!b.state_root().join("r").exists());
}

#[test]
fn features_is_the_oci_document() {
    let b = Bundle::new("f", &["true"]);
    let features: Value = serde_json::from_str(&b.ok(&["features"])).expect("json");
    assert_eq!(features["ociVersionMin"], "1.0.0");
    assert_eq!(features["ociVersionMax"], "1.0.2");
    assert_eq!(features["linux"]["cgroup"]["systemd"], false);
    assert!(
        features["mountOptions"]
            .as_array()
            .is_some_and(|o| o.contains(&json!("rbind")))
    );
    let version = b.ok(&["--version"]);
    assert!(version.contains("spec: 1.0.2"), "{version}");
}

/// A sysctl on a namespace the container shares with the host would
/// change the host: refused (the attack: `net.ipv4.ip_default_ttl` set
/// from a bundle with no network namespace of its own).
#[test]
fn a_sysctl_of_a_namespace_shared_with_the_host_is_refused() {
    let mut b = Bundle::new("r", &["true"]);
    b.set(
        "linux.namespaces",
        json!([{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]),
    );
    b.set("linux.sysctl", json!({"net.ipv4.ip_default_ttl": "33"}));
    refused(&b, "shares the host's network namespace");
    b.set(
        "linux.namespaces",
        json!([{"type": "pid"}, {"type": "mount"}, {"type": "network"}, {"type": "uts"}]),
    );
    b.set("linux.sysctl", json!({"kernel.shmmni": "77"}));
    refused(&b, "shares the host's IPC namespace");
}

/// The explanation annotation comes from whoever wrote the bundle: a
/// path in it must never be written (the attack: truncating a host file).
#[test]
fn an_explain_annotation_holding_a_path_is_refused_and_the_file_untouched() {
    let mut b = Bundle::new("r", &["true"]);
    let victim = b.lab.root().join("victim");
    std::fs::write(&victim, "keep\n").expect("victim");
    b.set(
        "annotations",
        json!({"diyc.explain": victim.to_str().expect("utf-8")}),
    );
    refused(&b, "annotation diyc.explain=");
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "keep\n");
}

#[test]
fn oci_after_diycs_own_options_is_refused_in_one_line() {
    let b = Bundle::new("r", &["true"]);
    let out = std::process::Command::new(common::DIYC)
        .arg("--root")
        .arg(b.state_root())
        .args(["oci", "state", "r"])
        .output()
        .expect("diyc");
    common::assert_one_line_error(&out, "`oci` comes first");
}
