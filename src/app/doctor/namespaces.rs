//! The namespaces a container is made of, each tried for real by a child
//! that makes one and exits; then the knobs that decide whether an
//! ordinary user may make a user namespace at all, which rootless diyc
//! puts every container in.

use std::path::Path;

use nix::errno::Errno;

use super::{Check, ROOTLESS, Who, errno_text, read};
use crate::sys::clone_flag_names;
use crate::sys::probe::{self, Answer};

/// One kind of namespace: its name under /proc/self/ns (and in
/// user.max_*_namespaces), its clone flag, its kernel option and what
/// goes without it.
struct Kind {
    id: &'static str,
    name: &'static str,
    flag: i32,
    config: &'static str,
    breaks: &'static [&'static str],
}

const EVERY_RUN: &str = "diyc run (every container)";

const KINDS: [Kind; 6] = [
    Kind {
        id: "ns.uts",
        name: "uts",
        flag: libc::CLONE_NEWUTS,
        config: "CONFIG_UTS_NS",
        breaks: &[EVERY_RUN, "diyc learn --step uts"],
    },
    Kind {
        id: "ns.ipc",
        name: "ipc",
        flag: libc::CLONE_NEWIPC,
        config: "CONFIG_IPC_NS",
        breaks: &[EVERY_RUN],
    },
    Kind {
        id: "ns.mnt",
        name: "mnt",
        flag: libc::CLONE_NEWNS,
        config: "CONFIG_NAMESPACES",
        breaks: &[EVERY_RUN, "diyc learn --step mount, image and rootfs"],
    },
    Kind {
        id: "ns.pid",
        name: "pid",
        flag: libc::CLONE_NEWPID,
        config: "CONFIG_PID_NS",
        breaks: &[EVERY_RUN, "diyc exec", "diyc learn --step pid"],
    },
    Kind {
        id: "ns.net",
        name: "net",
        flag: libc::CLONE_NEWNET,
        config: "CONFIG_NET_NS",
        breaks: &[
            "diyc run --net bridge and --net none (only --net host is left)",
            "diyc learn --step net and iptables",
        ],
    },
    Kind {
        id: "ns.cgroup",
        name: "cgroup",
        flag: libc::CLONE_NEWCGROUP,
        config: "CONFIG_CGROUPS",
        breaks: &[EVERY_RUN, "diyc learn --step cgroups"],
    },
];

/// What goes without user namespaces, for this user.
fn without_user_namespaces(who: &Who) -> &'static [&'static str] {
    if who.root {
        &["diyc learn --step user"]
    } else {
        &[ROOTLESS, "diyc learn --step user"]
    }
}

pub fn checks(who: &Who) -> Vec<Check> {
    let user = probe::unshare(libc::CLONE_NEWUSER as u64);
    let mut checks = vec![user_namespace(who, &user)];
    for kind in &KINDS {
        checks.push(namespace(who, kind, &user));
    }
    checks.push(max_user_namespaces(who));
    checks.push(unprivileged_clone(who));
    checks.push(apparmor(who));
    checks
}

fn missing(id: &'static str, name: &str, config: &str) -> Option<Check> {
    let file = format!("/proc/self/ns/{name}");
    (!Path::new(&file).exists()).then(|| {
        Check::fail(
            id,
            format!("no {file}: this kernel has no {name} namespaces"),
        )
        .fix(format!("a kernel built with {config}=y"))
    })
}

/// How to get past a refused unshare, by the kernel's answer.
fn unrefuse(who: &Who, name: &str, errno: Errno) -> String {
    match errno {
        Errno::ENOSPC => format!(
            "the limit user.max_{name}_namespaces is reached: `sudo sysctl -w user.max_{name}_namespaces=15000`"
        ),
        _ if !who.root => "see the userns.* checks: something keeps this user's namespaces powerless".into(),
        _ => "inside a container? give it the right to make namespaces (e.g. `--privileged`, or a seccomp profile that allows unshare)".into(),
    }
}

fn user_namespace(who: &Who, answer: &Answer) -> Check {
    let id = "ns.user";
    if let Some(check) = missing(id, "user", "CONFIG_USER_NS") {
        return check.breaks(without_user_namespaces(who));
    }
    match answer {
        Ok(()) => Check::ok(id, "a new user namespace can be made"),
        Err(r) => Check::fail(
            id,
            format!(
                "unshare(CLONE_NEWUSER) was refused: {}",
                errno_text(r.errno)
            ),
        )
        .breaks(without_user_namespaces(who))
        .fix(unrefuse(who, "user", r.errno)),
    }
}

fn namespace(who: &Who, kind: &Kind, user: &Answer) -> Check {
    if let Some(check) = missing(kind.id, kind.name, kind.config) {
        return check.breaks(kind.breaks);
    }
    // An ordinary user makes the others inside a user namespace of its own.
    let flags = if who.root {
        kind.flag as u64
    } else {
        (kind.flag | libc::CLONE_NEWUSER) as u64
    };
    if !who.root && user.is_err() {
        return Check::info(
            kind.id,
            "not tried: this user cannot make the user namespace it would be made in (ns.user)",
        );
    }
    let inside = if who.root {
        ""
    } else {
        " inside a new user namespace"
    };
    match probe::unshare(flags) {
        Ok(()) => Check::ok(kind.id, format!("a new one can be made{inside}")),
        Err(r) => Check::fail(
            kind.id,
            format!(
                "unshare({}) was refused: {}",
                clone_flag_names(flags),
                errno_text(r.errno)
            ),
        )
        .breaks(kind.breaks)
        .fix(unrefuse(who, kind.name, r.errno)),
    }
}

fn max_user_namespaces(who: &Who) -> Check {
    let id = "userns.max";
    let knob = "/proc/sys/user/max_user_namespaces";
    match read(knob).and_then(|v| v.parse::<u64>().ok()) {
        None => Check::info(id, format!("{knob} could not be read")),
        Some(0) => Check::fail(id, "user.max_user_namespaces = 0: no user namespace can be made")
            .breaks(without_user_namespaces(who))
            .fix("`sudo sysctl -w user.max_user_namespaces=15000` (and a file in /etc/sysctl.d/ to keep it)"),
        Some(n) => Check::ok(id, format!("user.max_user_namespaces = {n}")),
    }
}

fn unprivileged_clone(who: &Who) -> Check {
    let id = "userns.unprivileged";
    let check = match read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() {
        None => Check::ok(
            id,
            "no kernel.unprivileged_userns_clone on this kernel: it does not hold users back that way",
        ),
        Some("0") => Check::fail(
            id,
            "kernel.unprivileged_userns_clone = 0: only root may make user namespaces",
        )
        .breaks(&[ROOTLESS])
        .fix("`sudo sysctl -w kernel.unprivileged_userns_clone=1` (and a file in /etc/sysctl.d/ to keep it)"),
        Some(v) => Check::ok(id, format!("kernel.unprivileged_userns_clone = {v}")),
    };
    check.rootless_only(who)
}

fn apparmor(who: &Who) -> Check {
    let id = "userns.apparmor";
    let check = match read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() {
        None => Check::ok(
            id,
            "no kernel.apparmor_restrict_unprivileged_userns: AppArmor does not hold user namespaces back here",
        ),
        Some("0") => Check::ok(id, "kernel.apparmor_restrict_unprivileged_userns = 0"),
        Some(v) => Check::fail(
            id,
            format!(
                "kernel.apparmor_restrict_unprivileged_userns = {v}: AppArmor gives an ordinary user's new user namespace no capabilities (Ubuntu 24.04), so nothing can be mounted in it"
            ),
        )
        .breaks(&[ROOTLESS])
        .fix("an AppArmor profile that lets diyc make user namespaces (docs/doctor.md shows one), or for every program: `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`"),
    };
    check.rootless_only(who)
}
