//! Where a container's cgroup goes on this host: below the cgroup parent,
//! on v2 when it offers what the limits need, in every v1 tree otherwise;
//! and how the container sees its own cgroup at /sys/fs/cgroup. Without
//! root the place is a delegated subtree's (delegated.rs).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::host::{Host, NOT_MOUNTED, V2_CONTROLLERS};
use super::limits::Limits;
use crate::error::{Error, Result};

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
