//! A bundle's linux.cgroupsPath, linux.resources and linux.sysctl, read
//! into what the cgroups and hardening stages take, each value checked.

use std::path::Path;

use crate::error::{Error, Result};
use crate::stages::cgroups::{Limits, devices::Device};

fn bad(text: impl Into<String>) -> Error {
    Error::invalid(text.into())
}

/// runc's reading of cgroupsPath: the last component is the container's
/// own cgroup, the rest its parent. Without one: /diyc-oci/ID.
pub(super) fn cgroup_of(path: Option<&Path>, id: &str) -> Result<Option<(String, String)>> {
    let Some(path) = path else {
        return Ok(Some(("/diyc-oci".into(), id.into())));
    };
    let text = path.to_str().unwrap_or_default();
    if text.contains(':') && !text.contains('/') {
        return Err(bad(format!(
            "linux.cgroupsPath {text:?}: a systemd slice:prefix:name path needs --systemd-cgroup, which diyc does not support"
        )));
    }
    let trimmed = text.trim_end_matches('/');
    let (parent, name) = match trimmed.rsplit_once('/') {
        Some(("", name)) => ("/".to_string(), name),
        Some((parent, name)) => (parent.to_string(), name),
        None => {
            return Err(bad(format!(
                "linux.cgroupsPath {text:?}: give it as PARENT/NAME"
            )));
        }
    };
    let parent = if parent == "/" {
        parent
    } else {
        crate::stages::cgroups::parse_parent(&parent)
            .map_err(|e| bad(format!("linux.cgroupsPath: {e}")))?
    };
    crate::state::validate_name("cgroup", name)
        .or_else(|_| crate::state::oci::validate_id(name))
        .map_err(|_| {
            bad(format!(
                "linux.cgroupsPath {text:?}: {name:?} is not a plain cgroup name"
            ))
        })?;
    Ok(Some((parent, name.to_string())))
}

pub(super) fn limits_of(resources: &oci_spec::runtime::LinuxResources) -> Result<Limits> {
    let mut limits = Limits::default();
    if let Some(memory) = resources.memory() {
        limits.memory = match memory.limit() {
            Some(n) if n > 0 => Some(n as u64),
            Some(-1) | None => None,
            Some(n) => return Err(bad(format!("linux.resources.memory.limit {n}: not a size"))),
        };
    }
    if let Some(cpu) = resources.cpu() {
        match (cpu.quota(), cpu.period()) {
            (Some(q), period) if q > 0 => {
                let period = period.unwrap_or(100_000).max(1);
                limits.cpus = Some(q as f64 / period as f64);
            }
            (Some(q), _) if q != -1 && q != 0 => {
                return Err(bad(format!("linux.resources.cpu.quota {q}: not a quota")));
            }
            _ => {}
        }
    }
    if let Some(pids) = resources.pids() {
        limits.pids = (pids.limit() > 0).then_some(pids.limit() as u64);
    }
    Ok(limits)
}

pub(super) fn devices_of(resources: &oci_spec::runtime::LinuxResources) -> Result<Vec<Device>> {
    let rules = resources.devices().clone().unwrap_or_default();
    let mut allowed = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        let everything = rule.major().is_none()
            && rule.minor().is_none()
            && rule.typ().is_none_or(|t| t.as_str() == "a");
        if !rule.allow() {
            if i == 0 && everything {
                continue;
            }
            return Err(bad(format!(
                "{field}: diyc denies every device but its own list; only a deny-all rule, first, is supported"
            )));
        }
        let kind = match rule.typ().map(|t| t.as_str().to_string()).as_deref() {
            Some("c") => 'c',
            Some("b") => 'b',
            _ => {
                return Err(bad(format!(
                    "{field}: allow rules must name a character or block device"
                )));
            }
        };
        let major = rule
            .major()
            .and_then(|m| u32::try_from(m).ok())
            .ok_or_else(|| bad(format!("{field}: the major number is missing")))?;
        let device = Device {
            kind,
            major,
            minor: rule.minor().and_then(|m| u32::try_from(m).ok()),
        };
        let access = rule.access().clone().unwrap_or_else(|| "rwm".into());
        let known = crate::stages::cgroups::devices::DEFAULT.iter().any(|d| {
            d.kind == device.kind
                && d.major == device.major
                && (d.minor.is_none() || d.minor == device.minor)
        });
        if !known && access != "rwm" {
            return Err(bad(format!(
                "{field}: {access:?} access alone is not supported for a device diyc does not make; allow rwm"
            )));
        }
        if !known {
            allowed.push(device);
        }
    }
    Ok(allowed)
}

/// Sysctls a container's own namespaces hold; any other would change
/// the host.
pub(super) fn sysctl_of(
    sysctl: Option<&std::collections::HashMap<String, String>>,
    own_net: bool,
    own_ipc: bool,
) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = sysctl
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.sort();
    for (key, _) in &out {
        let namespaced = key.starts_with("net.")
            || key.starts_with("fs.mqueue.")
            || matches!(
                key.as_str(),
                "kernel.msgmax"
                    | "kernel.msgmnb"
                    | "kernel.msgmni"
                    | "kernel.sem"
                    | "kernel.shmall"
                    | "kernel.shmmax"
                    | "kernel.shmmni"
                    | "kernel.shm_rmid_forced"
            );
        let plain = key.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if !namespaced || !plain {
            return Err(bad(format!(
                "linux.sysctl {key:?}: only settings a container's own namespaces hold (net.*, the IPC ones) may be set"
            )));
        }
        // Without a namespace of its own the setting is the host's.
        let (own, kind) = if key.starts_with("net.") {
            (own_net, "network")
        } else {
            (own_ipc, "IPC")
        };
        if !own {
            return Err(bad(format!(
                "linux.sysctl {key:?}: the container shares the host's {kind} namespace, so this would change the host's setting"
            )));
        }
    }
    Ok(out)
}
