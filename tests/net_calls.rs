//! What a run starts to reach its network, seen by strace: no helper
//! program once the bridge is set up, and for `--net none` one netlink
//! socket and no event loop.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::process::Stdio;

use common::{Lab, text};

#[test]
fn after_setup_a_run_without_ports_starts_no_ip_or_iptables() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let trace = lab.root().join("execs");
    let mut cmd = std::process::Command::new("strace");
    cmd.args(["-f", "-qq", "-e", "trace=execve", "-o"])
        .arg(&trace)
        .arg(common::DIYC)
        .arg("--root")
        .arg(lab.root())
        .args(["run", "--rm", "busybox", "true"])
        .env("DIYC_CGROUP_PARENT", &lab.cgroup_parent)
        .stdin(Stdio::null());
    let out = cmd.output().expect("strace");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let execs = std::fs::read_to_string(&trace).expect("trace");
    let programs: Vec<&str> = execs.lines().filter_map(|l| l.split('"').nth(1)).collect();
    assert!(
        !programs
            .iter()
            .any(|p| p.ends_with("/ip") || p.contains("iptables")),
        "{programs:?}"
    );
}

/// A run without a network makes one netlink request (lo up) over one
/// plain socket: no event loop, no wake-up descriptors, nothing in diyc.
#[test]
fn a_run_without_a_network_brings_lo_up_over_one_socket_and_no_event_loop() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let trace = lab.root().join("sockets");
    let out = std::process::Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=socket,epoll_create,epoll_create1,eventfd2",
        ])
        .arg("-o")
        .arg(&trace)
        .arg(common::DIYC)
        .arg("--root")
        .arg(lab.root())
        .args(["run", "--rm", "--net", "none", "busybox", "true"])
        .env("DIYC_CGROUP_PARENT", &lab.cgroup_parent)
        .stdin(Stdio::null())
        .output()
        .expect("strace");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let calls = std::fs::read_to_string(&trace).expect("trace");
    let netlink = calls.lines().filter(|l| l.contains("AF_NETLINK")).count();
    assert_eq!(netlink, 1, "{calls}");
    assert!(
        !calls
            .lines()
            .any(|l| l.contains("epoll_create") || l.contains("eventfd2")),
        "{calls}"
    );
}
