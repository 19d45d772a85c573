//! The net and iptables stages, end to end. Each test runs in a network
//! namespace of its own (Lab::new moves the test's thread into one): the
//! "lab host" whose bridge and rules diyc sets up. An "outside" host, the
//! iptables lesson's own, is a second namespace joined to it by a veth
//! pair, 10.99.0.1 (lab) to 10.99.0.2 (outside). No packet leaves
//! namespaces the test made.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;

use common::{Lab, Running, assert_one_line_error, sh, text, wait_until};
use diyc::Outside;
use diyc::event::StageId;
use diyc::sys::{Quiet, Sys};
use nix::sched::{CloneFlags, setns};

/// The outside host of the iptables lesson, joined to the lab's namespace
/// (10.99.0.1 here, 10.99.0.2 there), answering on port 9000.
fn outside() -> Outside {
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Net);
    Outside::new(&mut sys).expect("the outside host")
}

/// Run `f` with this thread in `outside`'s network namespace: the
/// sockets it opens belong there.
fn from_outside<T>(outside: &Outside, f: impl FnOnce() -> T) -> T {
    let lab = File::open("/proc/thread-self/ns/net").expect("lab namespace");
    let there = File::open(format!("/proc/{}/ns/net", outside.pid())).expect("outside namespace");
    setns(there.as_fd(), CloneFlags::CLONE_NEWNET).expect("setns outside");
    let result = f();
    setns(lab.as_fd(), CloneFlags::CLONE_NEWNET).expect("setns back");
    result
}

/// GET / from `addr` (IP:PORT), from this thread's namespace: the body.
fn fetch(addr: &str) -> String {
    let mut conn = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("request");
    let mut response = String::new();
    conn.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{addr}: {head}"
    );
    body.to_string()
}

fn nat_packets(chain: &str) -> u64 {
    sh(&["iptables", "-w", "-t", "nat", "-n", "-v", "-x", "-L", chain])
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// A container that serves a page on port 80 and waits for a line.
fn web_server(lab: &Lab, name: &str, ip: &str, extra: &[&str]) -> Running {
    let script = "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html \
                  && httpd -p 80 -h /www && echo serving && read x";
    let mut args = vec!["run", "--rm", "--name", name, "--ip", ip];
    args.extend_from_slice(extra);
    args.extend(["busybox", "sh", "-c", script]);
    let mut running = lab.spawn(&args);
    running.wait_for_line("serving");
    running
}

#[test]
fn containers_reach_each_other_the_host_and_the_outside_through_nat() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let mut outside = outside();

    let web = web_server(&lab, "web", "172.16.0.20", &["-p", "8080:80"]);
    // Container to container, across the bridge.
    let ping = lab.line("run --rm busybox ping -c 1 -W 5 172.16.0.20");
    assert_eq!(ping.status.code(), Some(0), "{}", text(&ping.stdout));
    // The lab host to the container, directly and through the published
    // port on the host's own address.
    assert_eq!(fetch("172.16.0.20:80"), "hello-from-web\n");
    assert_eq!(fetch("10.99.0.1:8080"), "hello-from-web\n");
    // The outside host to the published port.
    assert_eq!(
        from_outside(&outside, || fetch("10.99.0.1:8080")),
        "hello-from-web\n"
    );

    // A container to the outside host, which sees the lab host's address.
    let before = nat_packets("DIYC-POSTROUTING");
    let client = lab.run_sh("run --rm busybox", "echo hi | nc -w 2 10.99.0.2 9000");
    assert_eq!(client.status.code(), Some(0), "{}", text(&client.stderr));
    assert_eq!(
        outside.peer().map(|ip| ip.to_string()).as_deref(),
        Some("10.99.0.1"),
        "MASQUERADE replaced the source"
    );
    assert!(
        nat_packets("DIYC-POSTROUTING") > before,
        "the NAT rule's counters moved"
    );

    let mut web = web;
    web.send("done\n");
    assert_eq!(web.finish().status.code(), Some(0));
}

#[test]
fn publish_all_puts_each_port_the_image_exposes_on_a_free_host_port() {
    require_root!();
    let lab = Lab::new();
    let dir = tempfile::tempdir().expect("tempdir");
    // Its config exposes 80/tcp.
    let layout = common::made::oci_layout(dir.path());
    lab.ok(&[
        "image",
        "import",
        "exposing",
        layout.to_str().expect("utf-8"),
    ]);
    let _outside = outside();
    let script = "busybox mkdir -p /www && echo hello-from-$(busybox hostname) > /www/index.html \
                  && busybox httpd -p 80 -h /www && echo serving && read x";
    let mut web = lab.spawn(&[
        "run", "--rm", "--name", "exposed", "-P", "exposing", "sh", "-c", script,
    ]);
    web.wait_for_line("serving");
    let inspect: serde_json::Value =
        serde_json::from_str(&lab.ok(&["inspect", "exposed"])).expect("JSON");
    let published = &inspect[0]["config"]["publish"];
    assert_eq!(published[0]["container"], 80, "{published}");
    let host = published[0]["host"].as_u64().expect("a host port");
    assert_ne!(host, 80, "a free port of the kernel's choosing");
    assert_eq!(fetch(&format!("10.99.0.1:{host}")), "hello-from-exposed\n");
    web.send("done\n");
    let out = web.finish();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains(&format!("port 80/tcp is published on host port {host}")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn twenty_containers_at_once_get_twenty_addresses_and_leave_nothing() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // Each one says its address and then waits, so all twenty hold theirs
    // at the same time.
    let script = "ip -4 -o addr show eth0; read x; exit 0";
    let mut runs: Vec<_> = (0..20)
        .map(|i| {
            let port = format!("{}:80", 8100 + i);
            lab.spawn(&["run", "--rm", "-p", &port, "busybox", "sh", "-c", script])
        })
        .collect();
    let mut addresses = BTreeSet::new();
    for run in &mut runs {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut run.stdout, &mut line).expect("its address");
        let addr = line
            .split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        addresses.insert(addr);
    }
    for run in runs {
        let out = run.finish();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    assert_eq!(addresses.len(), 20, "{addresses:?}");
    wait_until("no veth is left", || veths().is_empty());
    let leases = std::fs::read_dir(lab.root().join("net/leases"))
        .expect("leases")
        .count();
    assert_eq!(leases, 0, "every address was released");
    assert!(
        !sh(&["iptables-save", "-t", "nat"]).contains("--to-destination"),
        "no DNAT rule is left"
    );
}

/// The veth pairs' ends in this namespace. A container's goes with its
/// network namespace, which the kernel tears down a moment after it exits.
fn veths() -> String {
    sh(&["ip", "-o", "link", "show", "type", "veth"])
}

fn strip_counters(save: &str) -> String {
    save.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| match l.split_once(" [") {
            Some((chain, _)) if l.starts_with(':') => chain.to_string(),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn setup_twice_adds_each_rule_once_and_teardown_restores_the_host() {
    require_root!();
    let lab = Lab::new();
    // A host with a rule of its own, which diyc must leave alone; its nat
    // table does not exist yet, and must not exist after teardown either.
    sh(&[
        "iptables", "-w", "-A", "FORWARD", "-i", "lo", "-j", "ACCEPT",
    ]);
    let saved = strip_counters(&sh(&["iptables-save"]));
    let links = sh(&["ip", "-o", "link"]);
    let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("ip_forward");
    assert_eq!(forward.trim(), "0");

    lab.ok(&["setup"]);
    lab.ok(&["setup"]);
    let rules = sh(&["iptables-save"]);
    for rule in [
        "-A FORWARD -j DIYC-FORWARD",
        "-A POSTROUTING -j DIYC-POSTROUTING",
        "-A PREROUTING -m addrtype --dst-type LOCAL -j DIYC-DNAT",
        // Loopback is left out: a DNAT'd 127.0.0.1 source cannot leave lo.
        "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DIYC-DNAT",
        "-A DIYC-POSTROUTING -s 172.16.0.0/16 ! -o diyc0 -j MASQUERADE",
        "-A DIYC-FORWARD -i diyc0 -j ACCEPT",
    ] {
        assert_eq!(
            rules.lines().filter(|l| *l == rule).count(),
            1,
            "{rule} in\n{rules}"
        );
    }
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .expect("ip_forward")
            .trim(),
        "1"
    );

    lab.ok(&["teardown"]);
    assert_eq!(strip_counters(&sh(&["iptables-save"])), saved);
    assert_eq!(sh(&["ip", "-o", "link"]), links);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").expect("ip_forward"),
        forward
    );
    // Teardown of nothing is fine too.
    lab.ok(&["net-clean"]);
}

#[test]
fn a_link_called_like_the_bridge_that_is_not_one_is_refused() {
    require_root!();
    let lab = Lab::new();
    sh(&[
        "ip",
        "link",
        "add",
        "diyc0",
        "type",
        "veth",
        "peer",
        "name",
        "diyc0-peer",
    ]);
    assert_one_line_error(&lab.run(&["setup"]), "diyc0 exists and is not a bridge");
    sh(&["ip", "link", "del", "diyc0"]);
}

#[test]
fn bad_addresses_are_refused_and_create_nothing() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let mut holder = lab.spawn(&[
        "run",
        "--rm",
        "--name",
        "holder",
        "--ip",
        "172.16.0.9",
        "busybox",
        "cat",
    ]);
    holder.send("ping\n");
    holder.wait_for_line("ping");
    for (ip, needle) in [
        ("10.0.0.5", "outside the subnet"),
        ("172.16.0.1", "is the gateway"),
        ("172.16.0.0", "network or broadcast"),
        ("172.16.255.255", "network or broadcast"),
        ("172.16.0.300", "not an IPv4 address"),
        ("172.16.0.9", "taken by container holder"),
    ] {
        let out = lab.run(&[
            "run", "--rm", "--name", "intruder", "--ip", ip, "busybox", "true",
        ]);
        assert_one_line_error(&out, needle);
        assert!(!lab.container_dir("intruder").exists());
    }
    assert_one_line_error(
        &lab.line("run --rm --net none --ip 172.16.0.5 busybox true"),
        "--ip, -p and -P need --net bridge",
    );
    assert_one_line_error(
        &lab.line("run --rm -p 80 busybox true"),
        "HOSTPORT:CONTAINERPORT",
    );
    let holder = holder.finish();
    assert_eq!(holder.status.code(), Some(0));
    wait_until("no veth is left", || veths().is_empty());
}

#[test]
fn none_has_only_loopback_and_host_shares_the_hosts_network() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let none = lab.ok(&[
        "run", "--rm", "--net", "none", "busybox", "ip", "-o", "link",
    ]);
    let names: Vec<&str> = none.lines().filter_map(|l| l.split(": ").nth(1)).collect();
    assert_eq!(names, ["lo"]);
    assert!(none.contains("UP"), "lo is up: {none}");
    let host = lab.ok(&[
        "run",
        "--rm",
        "--net",
        "host",
        "busybox",
        "readlink",
        "/proc/1/ns/net",
    ]);
    let ours = std::fs::read_link("/proc/thread-self/ns/net").expect("own namespace");
    assert_eq!(host.trim(), ours.to_string_lossy());
}

#[test]
fn the_container_gets_its_own_hosts_and_resolv_conf() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // A symlink in the image's place must be replaced, not written through.
    let etc = lab.image_rootfs("busybox").join("etc");
    let victim = lab.root().join("victim");
    std::fs::write(&victim, "untouched\n").expect("victim");
    std::os::unix::fs::symlink(&victim, etc.join("resolv.conf")).expect("symlink");
    let hosts = lab.ok(&[
        "run",
        "--rm",
        "--name",
        "named",
        "--ip",
        "172.16.0.44",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.contains("172.16.0.44\tnamed"), "{hosts}");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "untouched\n"
    );
    let _ = std::fs::remove_file(etc.join("resolv.conf"));
}

#[test]
fn parallel_first_runs_make_one_bridge_and_each_rule_once() {
    require_root!();
    let lab = Lab::new();
    // The image first, on a network of its own, so the runs below are the
    // first bridged ones of this lab.
    lab.ok(&["run", "--rm", "--net", "none", "busybox", "true"]);
    let runs: Vec<_> = (0..8)
        .map(|_| lab.spawn(&["run", "--rm", "busybox", "true"]))
        .collect();
    for run in runs {
        let out = run.finish();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let bridges = sh(&["ip", "-o", "link", "show", "type", "bridge"]);
    assert_eq!(bridges.lines().count(), 1, "{bridges}");
    let rules = sh(&["iptables-save"]);
    for rule in [
        "-A FORWARD -j DIYC-FORWARD",
        "-A POSTROUTING -j DIYC-POSTROUTING",
        "-A DIYC-POSTROUTING -s 172.16.0.0/16 ! -o diyc0 -j MASQUERADE",
        "-A DIYC-FORWARD -i diyc0 -j ACCEPT",
    ] {
        assert_eq!(
            rules.lines().filter(|l| *l == rule).count(),
            1,
            "{rule} in\n{rules}"
        );
    }
}
