//! Where this host mounts its control groups (where a container's cgroup
//! goes is place.rs).
//!
//! Two versions exist side by side on many hosts:
//! - v2 (unified): one tree, one directory per cgroup holding every
//!   controller's files; a controller reaches a cgroup only if each
//!   ancestor lists it in `cgroup.subtree_control`.
//! - v1: one tree per controller (or per group of controllers), each
//!   mounted on its own; a process is placed in every tree separately.
//!
//! diyc uses v2 when there is no v1 tree at all, or when the cgroup2 mount
//! offers every controller the limits ask for and at least one of memory,
//! cpu and pids; v1 otherwise (a "hybrid" host mounts both, with the
//! controllers on v1).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::limits::Limits;
use crate::error::Result;
use crate::observe;

/// Where a cgroup filesystem is missing, why it may be.
pub const NOT_MOUNTED: &str =
    "nothing at /sys/fs/cgroup; `ip netns exec` mounts a /sys of its own without it";

/// The controllers a container's cgroup uses where the host has them.
pub(super) const V2_CONTROLLERS: &[&str] = &["memory", "cpu", "pids"];
/// On v1, cpuacct counts CPU time, freezer stops everything for a kill,
/// and devices keeps the host's devices out of reach.
pub const V1_CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "pids", "freezer", "devices"];

/// How this host mounts cgroups.
#[derive(Debug, Clone)]
pub struct Host {
    pub(super) v2: Option<PathBuf>,
    pub(super) v2_controllers: Vec<String>,
    /// v1 trees: the controllers each carries and where it is mounted.
    pub(super) v1: Vec<(Vec<String>, PathBuf)>,
    /// diyc's own cgroup in each tree, by controller ("" for v2).
    pub(super) own: BTreeMap<String, String>,
}

impl Host {
    pub fn detect() -> Result<Host> {
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Ok(Host::from_tables(&mounts, &own, |p| {
            fs::read_to_string(p.join("cgroup.controllers")).unwrap_or_default()
        }))
    }

    /// The same from given text, as /proc/self/mountinfo and
    /// /proc/self/cgroup have it (and tests write it).
    pub fn from_tables(
        mountinfo: &str,
        proc_self_cgroup: &str,
        controllers_of: impl Fn(&Path) -> String,
    ) -> Host {
        let mut host = Host {
            v2: None,
            v2_controllers: Vec::new(),
            v1: Vec::new(),
            own: BTreeMap::new(),
        };
        for m in observe::parse_mountinfo(mountinfo) {
            match m.fstype.as_str() {
                "cgroup2" if host.v2.is_none() => {
                    let path = PathBuf::from(&m.mount_point);
                    host.v2_controllers = controllers_of(&path)
                        .split_whitespace()
                        .map(String::from)
                        .collect();
                    host.v2 = Some(path);
                }
                "cgroup" => {
                    let controllers: Vec<String> = m
                        .super_options
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o))
                        .map(String::from)
                        .collect();
                    if !controllers.is_empty() {
                        host.v1.push((controllers, PathBuf::from(&m.mount_point)));
                    }
                }
                _ => {}
            }
        }
        for line in proc_self_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, names, path) = (parts.next(), parts.next(), parts.next());
            if let (Some(names), Some(path)) = (names, path) {
                for name in names.split(',') {
                    host.own.insert(name.to_string(), path.to_string());
                }
            }
        }
        host
    }

    /// "unified", "hybrid" or "legacy", as the kernel documentation says.
    pub fn mode(&self) -> &'static str {
        match (&self.v2, self.v1.is_empty()) {
            (Some(_), true) => "unified",
            (Some(_), false) => "hybrid",
            (None, _) => "legacy",
        }
    }

    /// Whether a limit of `controller` could be set here, on v2 or v1.
    pub fn has_controller(&self, controller: &str) -> bool {
        (self.v2.is_some() && self.v2_controllers.iter().any(|c| c == controller))
            || self
                .v1
                .iter()
                .any(|(c, _)| c.iter().any(|have| have == controller))
    }

    /// v2 when it has every controller a limit asks for and at least one
    /// of diyc's (a hybrid host's cgroup2 mount usually has none), or when
    /// there is no v1 tree to fall back on at all.
    pub(super) fn v2_usable(&self, limits: &Limits) -> bool {
        let has = |c: &str| self.v2_controllers.iter().any(|have| have == c);
        self.v2.is_some()
            && (self.v1.is_empty()
                || (limits.required().iter().all(|c| has(c))
                    && V2_CONTROLLERS.iter().any(|c| has(c))))
    }

    /// What `--explain` says about the host before placing a cgroup.
    pub fn describe(&self) -> String {
        let v2 = self.v2.as_ref().map(|p| {
            format!(
                "cgroup2 at {} offers [{}]",
                p.display(),
                self.v2_controllers.join(" ")
            )
        });
        let v1: Vec<String> = self
            .v1
            .iter()
            .map(|(c, p)| format!("{} at {}", c.join(","), p.display()))
            .collect();
        let using = if self.v2_usable(&Limits::default()) {
            "v2"
        } else {
            "v1"
        };
        let mut parts = vec![format!("{} host", self.mode())];
        parts.extend(v2);
        if !v1.is_empty() {
            parts.push(format!("v1 trees: {}", v1.join("; ")));
        }
        format!("{}; diyc uses {using}", parts.join("; "))
    }

    /// The cgroup v2 mount, and diyc's own cgroup in it.
    pub(super) fn v2(&self) -> Option<(&Path, Option<&str>)> {
        Some((self.v2.as_deref()?, self.own.get("").map(String::as_str)))
    }

    /// Whether no cgroup filesystem is mounted at all (as under `ip netns
    /// exec`, which mounts a /sys of its own without one).
    pub fn none_mounted(&self) -> bool {
        self.v2.is_none() && self.v1.is_empty()
    }
}
