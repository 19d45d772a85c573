//! Where this host mounts its control groups, and where a container's
//! cgroup goes.
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

use serde::{Deserialize, Serialize};

use super::limits::Limits;
use crate::error::{Error, Result};
use crate::observe;

/// Where a cgroup filesystem is missing, why it may be.
pub const NOT_MOUNTED: &str =
    "nothing at /sys/fs/cgroup; `ip netns exec` mounts a /sys of its own without it";

/// The controllers a container's cgroup uses where the host has them.
pub(super) const V2_CONTROLLERS: &[&str] = &["memory", "cpu", "pids"];
/// On v1, cpuacct counts CPU time, freezer stops everything for a kill,
/// and devices keeps the host's devices out of reach.
const V1_CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "pids", "freezer", "devices"];

/// The container's own /sys/fs/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupFs {
    V2,
    /// (name under /sys/fs/cgroup, the controllers as mount options).
    V1(Vec<(String, String)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    V1,
    V2,
}

/// How this host mounts cgroups.
#[derive(Debug, Clone)]
pub struct Host {
    v2: Option<PathBuf>,
    v2_controllers: Vec<String>,
    /// v1 trees: the controllers each carries and where it is mounted.
    v1: Vec<(Vec<String>, PathBuf)>,
    /// diyc's own cgroup in each tree, by controller ("" for v2).
    own: BTreeMap<String, String>,
}

/// One directory of a container's cgroup: all of it on v2, one tree on v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dir {
    pub path: PathBuf,
    /// The controllers of this tree that diyc uses.
    pub controllers: Vec<String>,
    /// The root of the tree the directory is in: on v2 every level from
    /// here down to the parent must pass the controllers on.
    pub mount: PathBuf,
}

/// Where a container's cgroup is: recorded in run.json, so `diyc rm -f`
/// can find it after diyc itself was killed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub version: Version,
    pub dirs: Vec<Dir>,
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
    fn v2_usable(&self, limits: &Limits) -> bool {
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

    /// `parent` in one tree: from its root when absolute, below diyc's
    /// own cgroup in that tree when relative.
    pub(super) fn under(&self, parent: &str, mount: &Path, key: &str) -> PathBuf {
        let base = if parent.starts_with('/') {
            mount.to_path_buf()
        } else {
            let own = self.own.get(key).map_or("/", String::as_str);
            mount.join(own.trim_start_matches('/'))
        };
        base.join(parent.trim_start_matches('/'))
    }

    /// The cgroup v2 mount, and diyc's own cgroup in it.
    pub(super) fn v2(&self) -> Option<(&Path, Option<&str>)> {
        Some((self.v2.as_deref()?, self.own.get("").map(String::as_str)))
    }

    /// The directories `parent` names in every tree diyc would use: what a
    /// test or benchmark removes once its containers are gone.
    pub fn parent_dirs(&self, parent: &str) -> Vec<PathBuf> {
        match self
            .v2
            .as_ref()
            .filter(|_| self.v2_usable(&Limits::default()))
        {
            Some(mount) => vec![self.under(parent, mount, "")],
            None => self
                .v1
                .iter()
                .map(|(c, mount)| self.under(parent, mount, &c[0]))
                .collect(),
        }
    }

    /// How the container's /sys/fs/cgroup is mounted for `placement`: the
    /// v2 tree, or on v1 each tree it is in, by the name of its mount and
    /// every controller it carries (the mount options).
    pub fn inside_mounts(&self, placement: &Placement) -> CgroupFs {
        match placement.version {
            Version::V2 => CgroupFs::V2,
            Version::V1 => CgroupFs::V1(
                placement
                    .dirs
                    .iter()
                    .filter_map(|d| {
                        let (controllers, mount) = self.v1.iter().find(|(_, m)| *m == d.mount)?;
                        let name = mount.file_name()?.to_str()?.to_string();
                        Some((name, controllers.join(",")))
                    })
                    .collect(),
            ),
        }
    }

    /// Whether no cgroup filesystem is mounted at all (as under `ip netns
    /// exec`, which mounts a /sys of its own without one).
    pub fn none_mounted(&self) -> bool {
        self.v2.is_none() && self.v1.is_empty()
    }

    /// Where the cgroup of container `name` goes under `parent`, on v2
    /// when it offers every controller diyc uses, on v1 otherwise.
    pub fn place(&self, parent: &str, name: &str, limits: &Limits) -> Result<Placement> {
        if self.none_mounted() && !limits.required().is_empty() {
            return Err(Error::invalid(format!(
                "no cgroup filesystem is mounted here ({NOT_MOUNTED}), so the limits cannot be set"
            )));
        }
        let under = |mount: &Path, key: &str| self.under(parent, mount, key);
        if let Some(mount) = self.v2.as_ref().filter(|_| self.v2_usable(limits)) {
            for needed in limits.required() {
                if !self.v2_controllers.iter().any(|have| have == needed) {
                    return Err(Error::invalid(format!(
                        "this host has no {needed} cgroup controller ({}), so that limit cannot be set",
                        self.describe()
                    )));
                }
            }
            return Ok(Placement {
                version: Version::V2,
                dirs: vec![Dir {
                    path: under(mount, "").join(name),
                    controllers: V2_CONTROLLERS
                        .iter()
                        .filter(|c| self.v2_controllers.iter().any(|have| have == *c))
                        .map(|c| c.to_string())
                        .collect(),
                    mount: mount.clone(),
                }],
            });
        }
        for needed in limits.required() {
            if !self
                .v1
                .iter()
                .any(|(c, _)| c.iter().any(|have| have == needed))
            {
                return Err(Error::invalid(format!(
                    "this host has no {needed} cgroup controller ({}), so that limit cannot be set",
                    self.describe()
                )));
            }
        }
        let dirs = self
            .v1
            .iter()
            .map(|(controllers, mount)| Dir {
                path: under(mount, &controllers[0]).join(name),
                controllers: controllers.clone(),
                mount: mount.clone(),
            })
            .collect();
        Ok(Placement {
            version: Version::V1,
            dirs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::stages::cgroups::limits::EVERY_LIMIT as LIMITS;

    /// A mountinfo line of a cgroup filesystem.
    fn mount(point: &str, fstype: &str, super_options: &str) -> String {
        format!("30 25 0:26 / {point} rw,nosuid - {fstype} {fstype} {super_options}\n")
    }

    #[test]
    fn a_unified_host_is_placed_on_v2_under_the_parent() {
        let mounts = mount("/sys/fs/cgroup", "cgroup2", "rw,nsdelegate");
        let host = Host::from_tables(&mounts, "0::/user.slice/session-1.scope\n", |_| {
            "cpuset cpu io memory pids".into()
        });
        assert_eq!(host.mode(), "unified");
        let placed = host.place("diyc", "web", &LIMITS);
        let placed = placed.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(placed.version, Version::V2);
        assert_eq!(
            placed.dirs[0].path,
            PathBuf::from("/sys/fs/cgroup/user.slice/session-1.scope/diyc/web")
        );
        let absolute = host
            .place("/diyc", "web", &LIMITS)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            absolute.dirs[0].path,
            PathBuf::from("/sys/fs/cgroup/diyc/web")
        );
    }

    #[test]
    fn a_hybrid_host_without_v2_controllers_is_placed_on_v1_trees() {
        let mounts = [
            mount("/sys/fs/cgroup/memory", "cgroup", "rw,memory"),
            mount("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
            mount("/sys/fs/cgroup/pids", "cgroup", "rw,pids"),
            mount("/sys/fs/cgroup/unified", "cgroup2", "rw"),
        ]
        .concat();
        let own = "4:memory:/services/a\n3:cpu,cpuacct:/\n2:pids:/\n0::/\n";
        let host = Host::from_tables(&mounts, own, |_| "hugetlb".into());
        assert_eq!(host.mode(), "hybrid");
        let placed = host
            .place("diyc-test", "c1", &LIMITS)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(placed.version, Version::V1);
        let paths: Vec<PathBuf> = placed.dirs.iter().map(|d| d.path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/services/a/diyc-test/c1"),
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/diyc-test/c1"),
                PathBuf::from("/sys/fs/cgroup/pids/diyc-test/c1"),
            ]
        );
        assert!(host.describe().contains("diyc uses v1"));
    }

    #[test]
    fn a_unified_host_without_a_controller_still_uses_v2_for_the_rest() {
        let mounts = mount("/sys/fs/cgroup", "cgroup2", "rw");
        let host = Host::from_tables(&mounts, "0::/\n", |_| "memory pids".into());
        let plain = host.place("/diyc", "c", &Limits::default());
        let plain = plain.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.version, Version::V2);
        assert_eq!(plain.dirs[0].controllers, vec!["memory", "pids"]);
        let cpus = Limits {
            cpus: Some(1.0),
            ..Limits::default()
        };
        assert!(host.place("/diyc", "c", &cpus).is_err());
    }

    #[test]
    fn a_limit_without_its_controller_is_refused() {
        let mounts = mount("/sys/fs/cgroup/memory", "cgroup", "rw,memory");
        let host = Host::from_tables(&mounts, "", |_| String::new());
        assert_eq!(host.mode(), "legacy");
        assert!(host.place("diyc", "c", &LIMITS).is_err());
        let memory_only = Limits {
            memory: Some(1 << 20),
            ..Limits::default()
        };
        assert!(host.place("diyc", "c", &memory_only).is_ok());
    }
}
