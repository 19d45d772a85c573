//! What a run asks of the kernel to reach its network: no helper program
//! once the bridge is set up, and for `--net none` one netlink socket and
//! no event loop, and the leases read once (all seen by strace); a veth
//! pair made as it is used.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::process::Stdio;

use common::{Lab, sh, text};

/// `diyc run --rm ARGS` under `strace -f -e TRACE`: what strace wrote.
fn traced_run(lab: &Lab, trace: &str, args: &[&str]) -> String {
    let file = lab.root().join("trace");
    let out = std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", trace, "-o"])
        .arg(&file)
        .arg(common::DIYC)
        .arg("--root")
        .arg(lab.root())
        .args(["run", "--rm"])
        .args(args)
        .env("DIYC_CGROUP_PARENT", &lab.cgroup_parent)
        .stdin(Stdio::null())
        .output()
        .expect("strace");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::read_to_string(&file).expect("trace")
}

#[test]
fn after_setup_a_run_without_ports_starts_no_ip_or_iptables() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let execs = traced_run(&lab, "trace=execve", &["busybox", "true"]);
    let programs: Vec<&str> = execs.lines().filter_map(|l| l.split('"').nth(1)).collect();
    assert!(
        !programs
            .iter()
            .any(|p| p.ends_with("/ip") || p.contains("iptables")),
        "{programs:?}"
    );
}

/// A run without a network makes one netlink request (lo up) over one
/// plain socket, the container's: no event loop, no wake-up descriptors.
#[test]
fn a_run_without_a_network_brings_lo_up_over_one_socket_and_no_event_loop() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let calls = traced_run(
        &lab,
        "trace=socket,epoll_create,epoll_create1,eventfd2",
        &["--net", "none", "busybox", "true"],
    );
    let netlink = calls.lines().filter(|l| l.contains("AF_NETLINK")).count();
    assert_eq!(netlink, 1, "{calls}");
    assert!(
        !calls
            .lines()
            .any(|l| l.contains("epoll_create") || l.contains("eventfd2")),
        "{calls}"
    );
}

/// Both ends of a container's veth pair are made with the one queue each
/// way they use, rather than one per CPU that the kernel then cuts back
/// (waiting for an RCU grace period) on every bridged start. On a machine
/// with one possible CPU the two are the same, and this cannot tell.
#[test]
fn both_ends_of_a_veth_pair_are_made_with_one_queue_each_way() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let running = lab.start_sleeper("queues", true);
    let init = lab.init_pid("queues");
    let host = sh(&["ip", "-d", "-o", "link", "show", "type", "veth"]);
    let pid = init.to_string();
    let inside = sh(&[
        "nsenter", "-n", "-t", &pid, "ip", "-d", "-o", "link", "show", "eth0",
    ]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(init),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    running.finish();
    for end in [host, inside] {
        assert_eq!(end.lines().count(), 1, "{end}");
        assert!(end.contains(" numtxqueues 1 numrxqueues 1 "), "{end}");
    }
}

/// A bridged run lists the address leases once, when it takes its own:
/// that is also when the addresses of owners that are gone are taken
/// back, so the sweep for dead runs before it leaves them alone.
#[test]
fn a_bridged_run_reads_the_leases_once() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let opens = traced_run(&lab, "trace=openat", &["busybox", "true"]);
    let listings = opens
        .lines()
        .filter(|l| l.contains("/net/leases\"") && l.contains("O_DIRECTORY"))
        .count();
    assert_eq!(listings, 1, "{opens}");
}
