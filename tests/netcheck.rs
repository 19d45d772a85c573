//! What a bridged run needs from the host is checked before anything is
//! made (iptables, a free bridge name and subnet), and setup and teardown
//! keep one record per network namespace, so teardown in each puts that
//! one back.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{Lab, assert_one_line_error, sh, text};

fn ip_forward() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        .expect("ip_forward")
        .trim()
        .to_string()
}

fn has_link(name: &str) -> bool {
    sh(&["ip", "-o", "link"]).contains(&format!(": {name}:"))
}

#[test]
fn a_bridged_run_without_iptables_changes_nothing() {
    require_root!();
    let lab = Lab::new().with_image();
    let before = lab.host_state();
    // A mount namespace of the test's own, where /usr/sbin (and so
    // /sbin) is an empty tmpfs: no iptables.
    let out = lab.output_under(
        &["unshare", "--mount", "--propagation", "private"],
        "mount -t tmpfs none /usr/sbin",
        &["run", "--rm", "busybox", "true"],
    );
    assert_one_line_error(&out, "iptables is not installed");
    assert!(!has_link("diyc0"), "the bridge was made");
    assert_eq!(ip_forward(), "0");
    assert_eq!(lab.host_state(), before);
}

#[test]
fn a_subnet_another_link_uses_is_refused_before_anything_is_made() {
    require_root!();
    let lab = Lab::new().with_image();
    sh(&["ip", "link", "add", "dum0", "type", "bridge"]);
    sh(&["ip", "addr", "add", "172.16.5.1/24", "dev", "dum0"]);
    let before = lab.host_state();
    let out = lab.run(&["run", "--rm", "busybox", "true"]);
    assert_one_line_error(&out, "already used here by dum0 (172.16.5.1/24)");
    assert_eq!(lab.host_state(), before);
    let other = lab.run(&["run", "--rm", "--subnet", "10.77.0.0/16", "busybox", "true"]);
    assert_eq!(other.status.code(), Some(0), "{}", text(&other.stderr));
}

#[test]
fn teardown_in_each_namespace_restores_that_namespace() {
    require_root!();
    let lab = Lab::new().with_image();
    lab.ok(&["setup"]);
    assert!(has_link("diyc0"));
    // The same store set up from a second namespace, gone when it exits.
    let other = lab.output_under(&["unshare", "--net"], "ip link set lo up", &["setup"]);
    assert_eq!(other.status.code(), Some(0), "{}", text(&other.stderr));
    lab.ok(&["teardown"]);
    assert!(!has_link("diyc0"), "this namespace's bridge is left");
    assert_eq!(ip_forward(), "0", "this namespace's ip_forward is left on");
}
