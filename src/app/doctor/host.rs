//! The host itself: the busybox the built-in image is made from, and
//! where diyc is running (a container, WSL2, a virtual machine), which
//! explains many of the other checks' answers.

use std::path::Path;

use super::{Check, Who, read};

pub fn checks(_who: &Who) -> Vec<Check> {
    vec![busybox(), container(), wsl(), vm()]
}

const BUSYBOX_BREAKS: &[&str] = &[
    "the built-in image: diyc run busybox",
    "every lesson (they run the built-in image)",
];

fn busybox() -> Check {
    let id = "image.busybox";
    use crate::state::busybox;
    match busybox::host_binary() {
        Ok(path) => Check::ok(id, path.display().to_string()),
        Err(e) => {
            let fix = match (std::env::var_os("DIYC_BUSYBOX"), busybox::install_hint()) {
                (Some(_), _) => "point DIYC_BUSYBOX at a busybox binary, or unset it".into(),
                (None, Ok(hint)) => hint,
                (None, Err(broken)) => broken.to_string(),
            };
            Check::fail(id, e.to_string())
                .breaks(BUSYBOX_BREAKS)
                .fix(fix)
        }
    }
}

/// Words in /proc/1/cgroup that a container runtime leaves there.
const RUNTIMES: [&str; 6] = [
    "docker",
    "kubepods",
    "containerd",
    "libpod",
    "lxc",
    "garden",
];

fn container() -> Check {
    let id = "host.container";
    let mut signs = Vec::new();
    for file in ["/.dockerenv", "/run/.containerenv"] {
        if Path::new(file).exists() {
            signs.push(file.to_string());
        }
    }
    if let Ok(environ) = std::fs::read("/proc/1/environ") {
        let named = environ
            .split(|b| *b == 0)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .find_map(|v| v.strip_prefix("container="));
        if let Some(name) = named {
            signs.push(format!("container={name} in /proc/1/environ"));
        }
    }
    let cgroup = read("/proc/1/cgroup").unwrap_or_default();
    if let Some(word) = RUNTIMES.iter().find(|w| cgroup.contains(*w)) {
        signs.push(format!("{word} in /proc/1/cgroup"));
    }
    if signs.is_empty() {
        Check::ok(id, "no sign of a container")
    } else {
        Check::info(
            id,
            format!(
                "inside a container ({}): what its runtime allows decides much of the above",
                signs.join(", ")
            ),
        )
    }
}

fn wsl() -> Check {
    let id = "host.wsl";
    let release = read("/proc/sys/kernel/osrelease").unwrap_or_default();
    if release.to_lowercase().contains("microsoft") || release.contains("WSL") {
        Check::info(
            id,
            format!(
                "WSL2 (kernel {release}): a real Linux kernel in a light VM; its cgroups and iptables are its distribution's"
            ),
        )
    } else {
        Check::ok(id, "not WSL")
    }
}

fn vm() -> Check {
    let id = "host.vm";
    let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
    let hypervisor = cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "hypervisor"));
    let kvm = Path::new("/dev/kvm").exists();
    match (hypervisor, kvm) {
        (false, _) => Check::ok(id, "no hypervisor flag in /proc/cpuinfo"),
        (true, true) => Check::info(id, "a virtual machine, with /dev/kvm"),
        (true, false) => Check::info(
            id,
            "a virtual machine without /dev/kvm: only the VM test suite (tests/vm/run) cares, and its qemu runs without KVM, slowly",
        ),
    }
}
