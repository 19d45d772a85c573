//! Networking. As root diyc makes a bridge and iptables rules and needs
//! the kernel to forward; without root a container's network is none,
//! the host's, or pasta's (the user-mode helper diyc runs) that
//! carries outbound traffic and published ports.

use super::{Check, Who, read};
use crate::event::StageId;
use crate::stages::iptables::require_iptables;
use crate::stages::net::usermode;
use crate::sys::on_path;
use crate::sys::{Quiet, Sys};

use crate::stages::iptables::IPTABLES_PATHS as IPTABLES;

const BRIDGE: &[&str] = &[
    "diyc run --net bridge (the default as root) and -p",
    "diyc setup",
    "diyc learn --step net and iptables",
];

const INSTALL_IPTABLES: &str =
    "`sudo apt-get install iptables` (Debian, Ubuntu) or `sudo dnf install iptables-nft` (Fedora)";

pub fn checks(who: &Who) -> Vec<Check> {
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Iptables);
    let iptables = IPTABLES
        .iter()
        .find(|p| sys.exists(p))
        .filter(|_| require_iptables(&sys).is_ok())
        .map(|p| p.to_string());
    vec![
        presence(who, iptables.as_deref()),
        backend(&mut sys, iptables.as_deref()),
        forward_policy(who, &mut sys, iptables.as_deref()),
        ip_forward(who),
        user_helper(who),
    ]
}

fn presence(who: &Who, found: Option<&str>) -> Check {
    let id = "net.iptables";
    if let Some(path) = found {
        return Check::ok(id, path);
    }
    let elsewhere = on_path("iptables").map_or(String::new(), |p| {
        format!("; the one on PATH, {p}, is not where diyc looks")
    });
    Check::fail(
        id,
        format!("no iptables in {}{elsewhere}", IPTABLES.join(", ")),
    )
    .breaks(BRIDGE)
    .fix(INSTALL_IPTABLES)
    .root_only(who)
}

fn backend(sys: &mut Sys, found: Option<&str>) -> Check {
    let id = "net.iptables_backend";
    let Some(path) = found else {
        return Check::info(id, "not checked: no iptables");
    };
    let version = match sys.run_helper(&[path.to_string(), "--version".into()]) {
        Ok((0, out)) => out.trim().to_string(),
        Ok((code, _)) => {
            return Check::info(id, format!("`{path} --version` failed with status {code}"));
        }
        Err(e) => return Check::info(id, format!("`{path} --version`: {e}")),
    };
    if version.contains("(nf_tables)") {
        Check::ok(id, version)
    } else if version.contains("(legacy)") {
        Check::info(
            id,
            format!(
                "legacy ({version}): diyc's rules go into the legacy tables, which a firewall that speaks nftables itself (nft, firewalld) does not see"
            ),
        )
    } else {
        Check::info(id, version)
    }
}

fn forward_policy(who: &Who, sys: &mut Sys, found: Option<&str>) -> Check {
    let id = "net.forward_policy";
    let Some(path) = found else {
        return Check::info(id, "not checked: no iptables");
    };
    if !who.root {
        return Check::info(id, "not read: reading iptables needs root");
    }
    // Only read: -S prints the chain's policy first, then its rules.
    let argv = [path, "-w", "-S", "FORWARD"].map(String::from);
    let first = match sys.run_helper(&argv) {
        Ok((0, out)) => out.lines().next().unwrap_or_default().to_string(),
        Ok((code, out)) => {
            return Check::warn(
                id,
                format!(
                    "`iptables -S FORWARD` failed with status {code}: {}",
                    out.trim()
                ),
            )
            .breaks(BRIDGE);
        }
        Err(e) => return Check::warn(id, format!("`iptables -S FORWARD`: {e}")).breaks(BRIDGE),
    };
    if first == "-P FORWARD DROP" {
        Check::info(
            id,
            "policy DROP (Docker sets it): diyc's jump goes first in FORWARD, so its bridge still forwards; other bridges (libvirt, LXD) need rules of their own",
        )
    } else {
        Check::ok(id, first)
    }
}

fn ip_forward(who: &Who) -> Check {
    let id = "net.ip_forward";
    let knob = "/proc/sys/net/ipv4/ip_forward";
    match read(knob).as_deref() {
        Some("1") => Check::ok(id, "net.ipv4.ip_forward = 1"),
        Some(v) if who.root => Check::warn(
            id,
            format!("net.ipv4.ip_forward = {v}: a bridged container reaches nothing past the host until diyc setup (or the first bridged run) turns it on"),
        )
        .breaks(&["outbound traffic and -p of diyc run --net bridge, until then"])
        .fix("`sudo diyc setup` (teardown puts it back as it was), or `sudo sysctl -w net.ipv4.ip_forward=1`"),
        Some(v) => Check::info(
            id,
            format!("net.ipv4.ip_forward = {v}: rootless networking (pasta) does not need it"),
        ),
        None => Check::info(id, format!("{knob} could not be read")),
    }
}

fn user_helper(who: &Who) -> Check {
    let id = "net.user_helper";
    // The one diyc runs: slirp4netns is not used.
    match usermode::find() {
        Some(found) => Check::ok(id, format!("pasta at {found}")),
        None => Check::warn(id, "no pasta on PATH")
            .breaks(&["outbound networking and -p without root: a rootless container gets --net none or --net host only"])
            .fix("`sudo apt-get install passt` (Debian, Ubuntu: it gives pasta) or `sudo dnf install passt` (Fedora)")
            .rootless_only(who),
    }
}
