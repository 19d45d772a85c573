//! A bundle's config.json read into what diyc's stages take. Parsed with
//! oci-spec; fields.rs decides first which fields may appear at all, and
//! this file refuses the values of used fields that diyc cannot honour,
//! each with one line naming the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Mount, Process, Spec};

use super::check;
use super::mounts::{self, Mounts};
use super::resources::{cgroup_of, devices_of, limits_of, sysctl_of};
use crate::error::{Error, Result};
use crate::stages::cgroups::{Limits, devices::Device};
use crate::sys::parse_cap;

/// The process to run: a bundle's `process`, or `exec --process`'s file.
#[derive(Debug, Clone, PartialEq)]
pub struct Proc {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    pub caps: u64,
    pub terminal: bool,
    /// (resource, soft, hard)
    pub rlimits: Vec<(u32, u64, u64)>,
}

/// A network namespace: the host's, a new one, or one to join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Net {
    Host,
    New,
    Join(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    pub readonly: bool,
    pub process: Proc,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub uts: bool,
    pub ipc: bool,
    pub net: Net,
    pub mounts: Mounts,
    /// linux.cgroupsPath as (parent, name).
    pub cgroup: Option<(String, String)>,
    pub limits: Limits,
    /// Devices allowed beyond diyc's own list.
    pub devices: Vec<Device>,
    /// linux.seccomp, as JSON in the profile format diyc compiles.
    pub seccomp: Option<String>,
    pub masked: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    pub sysctl: Vec<(String, String)>,
    pub annotations: BTreeMap<String, String>,
}

fn bad(text: impl Into<String>) -> Error {
    Error::invalid(text.into())
}

/// Read `bundle`/config.json, telling `note` of each field ignored.
/// Nothing is changed on the host.
pub fn load(bundle: &Path, id: &str, note: &dyn Fn(&str)) -> Result<Config> {
    let file = bundle.join("config.json");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        bad(format!(
            "{}: {}",
            file.display(),
            crate::error::io_reason(&e)
        ))
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("{}: {e}", file.display())))?;
    let notes = check::check(&value).map_err(|e| bad(format!("config.json: {e}")))?;
    notes.iter().for_each(|n| note(n));
    let spec: Spec =
        serde_json::from_value(value).map_err(|e| bad(format!("{}: {e}", file.display())))?;
    from_spec(&spec, bundle, id)
}

fn from_spec(spec: &Spec, bundle: &Path, id: &str) -> Result<Config> {
    if !spec.version().starts_with("1.") {
        return Err(bad(format!(
            "ociVersion {:?}: diyc reads version 1 of the runtime spec",
            spec.version()
        )));
    }
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| bad("config.json: root.path is missing"))?;
    let root_path = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let root_path = std::fs::canonicalize(&root_path).map_err(|e| {
        bad(format!(
            "root.path {}: {}",
            root_path.display(),
            crate::error::io_reason(&e)
        ))
    })?;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| bad("config.json: process is missing"))?;
    let linux = spec.linux().clone().unwrap_or_default();
    let mut kinds = Vec::new();
    let mut net = Net::Host;
    for ns in linux.namespaces().iter().flatten() {
        let typ = ns.typ();
        if kinds.contains(&typ) {
            return Err(bad(format!("linux.namespaces: {typ:?} is listed twice")));
        }
        kinds.push(typ);
        match (typ, ns.path()) {
            (LinuxNamespaceType::Network, Some(path)) => net = Net::Join(path.clone()),
            (LinuxNamespaceType::Network, None) => net = Net::New,
            (_, Some(path)) => {
                return Err(bad(format!(
                    "linux.namespaces: joining a {typ:?} namespace ({}) is not supported; only a network namespace may be joined",
                    path.display()
                )));
            }
            (LinuxNamespaceType::User | LinuxNamespaceType::Time, None) => {
                return Err(bad(format!(
                    "linux.namespaces: a {typ:?} namespace is not supported through the OCI command line"
                )));
            }
            _ => {}
        }
    }
    for needed in [LinuxNamespaceType::Mount, LinuxNamespaceType::Pid] {
        if !kinds.contains(&needed) {
            return Err(bad(format!(
                "linux.namespaces: diyc needs a {needed:?} namespace of the container's own"
            )));
        }
    }
    let uts = kinds.contains(&LinuxNamespaceType::Uts);
    if !uts && (spec.hostname().is_some() || spec.domainname().is_some()) {
        return Err(bad(
            "hostname: setting it needs a UTS namespace in linux.namespaces",
        ));
    }
    if let Some(prop) = linux.rootfs_propagation() {
        if !matches!(prop.as_str(), "private" | "rprivate") {
            return Err(bad(format!(
                "linux.rootfsPropagation {prop:?}: diyc makes every mount private"
            )));
        }
    }
    let resources = linux.resources().clone().unwrap_or_default();
    let sysctl = sysctl_of(
        linux.sysctl().as_ref(),
        net != Net::Host,
        kinds.contains(&LinuxNamespaceType::Ipc),
    )?;
    let mounts = mounts::sort(spec.mounts().as_deref().unwrap_or(&[] as &[Mount]))?;
    if !mounts.proc {
        // The start gate is reached through /proc/self/fd: without the
        // container's own procfs it would be whatever the image put there.
        return Err(bad(
            "mounts: diyc needs a proc mount at /proc (the container's own procfs)",
        ));
    }
    Ok(Config {
        root: root_path,
        readonly: root.readonly().unwrap_or(false),
        process: proc_of(process)?,
        hostname: spec.hostname().clone(),
        domainname: spec.domainname().clone(),
        uts,
        ipc: kinds.contains(&LinuxNamespaceType::Ipc),
        net,
        mounts,
        cgroup: cgroup_of(linux.cgroups_path().as_deref(), id)?,
        limits: limits_of(&resources)?,
        devices: devices_of(&resources)?,
        seccomp: match linux.seccomp() {
            Some(seccomp) => Some(
                serde_json::to_string(seccomp).map_err(|e| bad(format!("linux.seccomp: {e}")))?,
            ),
            None => None,
        },
        masked: linux.masked_paths().clone(),
        readonly_paths: linux.readonly_paths().clone(),
        sysctl,
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    })
}

/// The `process` object, from a bundle or from `exec --process`.
pub fn proc_of(process: &Process) -> Result<Proc> {
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(bad("process.args: the command is missing"));
    }
    let cwd = process.cwd().to_str().unwrap_or_default().to_string();
    if !cwd.starts_with('/') {
        return Err(bad(format!(
            "process.cwd {cwd:?}: must be an absolute path"
        )));
    }
    let user = process.user();
    let caps = match process.capabilities() {
        None => 0,
        Some(caps) => {
            let set = |s: &Option<oci_spec::runtime::Capabilities>| -> Result<u64> {
                let mut bits = 0u64;
                for cap in s.iter().flatten() {
                    let name = serde_json::to_value(cap)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default();
                    let bit =
                        parse_cap(&name).map_err(|e| bad(format!("process.capabilities: {e}")))?;
                    bits |= 1 << bit;
                }
                Ok(bits)
            };
            let bounding = set(caps.bounding())?;
            for (field, other) in [
                ("effective", caps.effective()),
                ("permitted", caps.permitted()),
            ] {
                if other.is_some() && set(other)? != bounding {
                    return Err(bad(format!(
                        "process.capabilities.{field}: diyc keeps one set, so it must list the same capabilities as bounding"
                    )));
                }
            }
            bounding
        }
    };
    let mut rlimits = Vec::new();
    for limit in process.rlimits().iter().flatten() {
        let name = serde_json::to_value(limit.typ())
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let resource = rlimit_number(&name).ok_or_else(|| {
            bad(format!(
                "process.rlimits: {name} is not a Linux resource limit"
            ))
        })?;
        if limit.soft() > limit.hard() {
            return Err(bad(format!(
                "process.rlimits: {name}'s soft limit {} is above its hard limit {}",
                limit.soft(),
                limit.hard()
            )));
        }
        rlimits.push((resource, limit.soft(), limit.hard()));
    }
    Ok(Proc {
        args,
        env: process.env().clone().unwrap_or_default(),
        cwd,
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        caps,
        terminal: process.terminal().unwrap_or(false),
        rlimits,
    })
}

fn rlimit_number(name: &str) -> Option<u32> {
    crate::sys::RLIMITS
        .iter()
        .position(|n| *n == name)
        .map(|i| i as u32)
}
