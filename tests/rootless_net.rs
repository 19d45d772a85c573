//! diyc without root on the network: pasta (Debian's passt) carries a
//! container's connections to an outside host and publishes its ports,
//! all as an ordinary user of the test's own, in the lab's network
//! namespace, never the host's; without pasta, -p is refused and a run
//! says it has no network.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

use common::user::{TestUser, readable};
use common::{Lab, Running, sh, text};
use diyc::Outside;
use diyc::event::StageId;
use diyc::sys::{Quiet, Sys};

/// The lab's route out, which pasta copies into the container.
fn outside_with_a_default_route() -> Outside {
    let mut quiet = Quiet;
    let outside = Outside::new(&mut Sys::new(&mut quiet, StageId::Net)).expect("outside host");
    sh(&["ip", "route", "add", "default", "via", "10.99.0.2"]);
    outside
}

/// pasta opens /dev/net/tun from inside the container's user namespace,
/// where the host's root owns the node and only its bits for others
/// count. Most systems make it 0666; a host without udev keeps the
/// kernel's 0600, which no user may open, and pasta fails there for
/// every rootless engine alike. The test's own thread then gets a mount
/// namespace with a tmpfs on /dev/net holding a node of the same device
/// open to all, which every command it starts inherits: the host's /dev
/// is left as it is, and the namespace goes with the thread.
fn tun_open_to_users() {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod, stat};
    let tun = "/dev/net/tun";
    // Without the node at all pasta fails as it would for anyone, and
    // says so.
    let Ok(node) = stat(tun) else {
        return;
    };
    if node.st_mode & 0o006 == 0o006 {
        return;
    }
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("a mount namespace");
    let none: Option<&str> = None;
    let flags = nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE;
    nix::mount::mount(none, "/", none, flags, none).expect("a private mount table");
    let tmpfs = nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NOEXEC;
    nix::mount::mount(
        Some("tmpfs"),
        "/dev/net",
        Some("tmpfs"),
        tmpfs,
        Some("mode=755"),
    )
    .expect("a tmpfs on /dev/net");
    mknod(tun, SFlag::S_IFCHR, Mode::empty(), makedev(10, 200)).expect("a tun node");
    std::fs::set_permissions(tun, std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .expect("the node open to all");
}

#[test]
fn pasta_carries_a_containers_traffic_to_an_outside_host_without_root() {
    require_root!();
    let _lab = Lab::new();
    tun_open_to_users();
    let user = TestUser::new(true);
    let mut outside = outside_with_a_default_route();
    let out = user.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo hi | nc -w 5 10.99.0.2 9000 && echo sent",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().last(), Some("sent"));
    // pasta's own socket on the lab host made the connection.
    assert_eq!(
        outside.peer().map(|ip| ip.to_string()).as_deref(),
        Some("10.99.0.1")
    );
    user.assert_nothing_left();
}

#[test]
fn a_published_port_without_root_reaches_the_container() {
    require_root!();
    let _lab = Lab::new();
    tun_open_to_users();
    let user = TestUser::new(true);
    let _outside = outside_with_a_default_route();
    let script = "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html \
                  && httpd -p 80 -h /www && echo serving && read x";
    let mut cmd = user.diyc(&[
        "run", "--rm", "-i", "--name", "pub", "-p", "8090:80", "busybox", "sh", "-c", script,
    ]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut web = Running::new(cmd.spawn().expect("diyc"));
    web.wait_for_line("serving");
    let mut conn = TcpStream::connect("10.99.0.1:8090").expect("the published port");
    conn.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("request");
    let mut response = String::new();
    conn.read_to_string(&mut response).expect("response");
    assert!(response.ends_with("hello-from-pub\n"), "{response}");
    web.send("done\n");
    assert_eq!(web.finish().status.code(), Some(0));
    user.assert_nothing_left();
}

#[test]
fn without_pasta_a_published_port_is_refused_and_a_run_says_it_has_no_network() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    // A PATH with newuidmap and newgidmap but no pasta.
    let bin = tempfile::tempdir().expect("tempdir");
    for helper in ["newuidmap", "newgidmap"] {
        std::os::unix::fs::symlink(format!("/usr/bin/{helper}"), bin.path().join(helper))
            .expect("link");
    }
    readable(bin.path());
    let path = bin.path().to_str().expect("utf-8");
    let published = user
        .diyc(&["run", "--rm", "-p", "8092:80", "busybox", "true"])
        .env("PATH", path)
        .output()
        .expect("diyc");
    common::assert_one_line_error(
        &published,
        "-p: without root, a container reaches the network through pasta",
    );
    assert!(
        text(&published.stderr).contains("passt"),
        "names the package"
    );
    let plain = user
        .diyc(&["run", "--rm", "busybox", "ls", "/sys/class/net"])
        .env("PATH", path)
        .output()
        .expect("diyc");
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain.stderr));
    assert_eq!(text(&plain.stdout), "lo\n", "no network but lo");
    assert!(text(&plain.stderr).contains("this container has no network (--net none)"));
    user.assert_nothing_left();
}

#[test]
fn net_host_without_root_is_the_hosts_own_network() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    // The lab's namespace stands for the host's: it gets one more link
    // than lo, so the two views can be told from an empty namespace.
    sh(&[
        "ip",
        "link",
        "add",
        "hostlink0",
        "type",
        "veth",
        "peer",
        "name",
        "hostlink1",
    ]);
    let links = |out: &str| -> Vec<String> {
        out.lines()
            .filter_map(|l| l.split(':').nth(1).map(|n| n.trim().to_string()))
            .collect()
    };
    let here = links(&sh(&["ip", "-o", "link", "show"]));
    let inside = user.ok(&[
        "run", "--rm", "--net", "host", "busybox", "ip", "-o", "link", "show",
    ]);
    assert_eq!(
        links(&inside),
        here,
        "the container sees the lab host's links"
    );
    assert!(here.iter().any(|l| l.starts_with("hostlink0")), "{here:?}");
    // The host's /sys is bound in, and with it every tree mounted below
    // it (the host's cgroups): each one read-only.
    let mounts = user.ok(&[
        "run",
        "--rm",
        "--net",
        "host",
        "busybox",
        "cat",
        "/proc/self/mountinfo",
    ]);
    let below: Vec<(&str, &str)> = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((*f.get(4)?, *f.get(5)?))
        })
        .filter(|(point, _)| point.starts_with("/sys/fs/cgroup") || *point == "/sys")
        .collect();
    assert!(below.len() > 1, "{mounts}");
    for (point, options) in below {
        assert!(options.starts_with("ro,"), "{point} is {options}");
    }
    user.assert_nothing_left();
}

#[test]
fn a_privileged_host_port_without_root_is_refused_before_anything_is_made() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    let out = user.run(&["run", "--rm", "-p", "80:80", "busybox", "true"]);
    common::assert_one_line_error(&out, "-p 80:80: without root a host port below");
    assert!(text(&out.stderr).contains("ip_unprivileged_port_start"));
    // Refused before the busybox image was even made.
    assert!(!user.state_root().join("images/busybox").exists());
    user.assert_nothing_left();
}
