//! What the kernel says of a container's cgroup: its processes, its OOM
//! kills, the CPU time it used, and its limit and usage files, read through
//! `Sys` (so the dry backend can answer too).

use std::path::Path;

use super::host::{Placement, Version};
use crate::sys::Sys;

fn read_trim(sys: &Sys, path: &Path) -> Option<String> {
    sys.read_trim(&path.to_string_lossy())
}

/// The processes in one cgroup directory.
pub fn procs(sys: &Sys, dir: &Path) -> Vec<i32> {
    sys.read(&dir.join("cgroup.procs").to_string_lossy())
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

pub(super) fn dir_with<'a>(placement: &'a Placement, controller: &str) -> Option<&'a Path> {
    placement
        .dirs
        .iter()
        .find(|d| d.controllers.iter().any(|c| c == controller))
        .map(|d| d.path.as_path())
}

/// A `key value` line of a flat-keyed cgroup file.
fn keyed(sys: &Sys, path: &Path, key: &str) -> Option<u64> {
    sys.read(&path.to_string_lossy())?.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// How many processes the kernel's OOM killer ended in this cgroup: its
/// own count, from memory.events (v2) or memory.oom_control (v1).
pub fn oom_kills(sys: &Sys, placement: &Placement) -> Option<u64> {
    let dir = dir_with(placement, "memory")?;
    match placement.version {
        Version::V2 => keyed(sys, &dir.join("memory.events"), "oom_kill"),
        Version::V1 => keyed(sys, &dir.join("memory.oom_control"), "oom_kill"),
    }
}

/// CPU time used, in microseconds: cpu.stat (v2) or cpuacct.usage (v1).
pub fn cpu_usage_us(sys: &Sys, placement: &Placement) -> Option<u64> {
    match placement.version {
        Version::V2 => keyed(
            sys,
            &dir_with(placement, "cpu")?.join("cpu.stat"),
            "usage_usec",
        ),
        Version::V1 => read_trim(sys, &dir_with(placement, "cpuacct")?.join("cpuacct.usage"))?
            .parse::<u64>()
            .ok()
            .map(|ns| ns / 1000),
    }
}

/// The limit files and current usage, one line each, for `--explain`.
pub fn report(sys: &Sys, placement: &Placement) -> Vec<String> {
    let show =
        |dir: &Path, file: &str| read_trim(sys, &dir.join(file)).map(|v| format!("{file} = {v}"));
    let files: &[&str] = match placement.version {
        Version::V2 => &[
            "memory.max",
            "memory.swap.max",
            "memory.current",
            "cpu.max",
            "pids.max",
            "pids.current",
        ],
        Version::V1 => &[
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.usage_in_bytes",
            "cpu.cfs_quota_us",
            "cpu.cfs_period_us",
            "cpuacct.usage",
            "pids.max",
            "pids.current",
        ],
    };
    let mut lines = Vec::new();
    for dir in &placement.dirs {
        let values: Vec<String> = files.iter().filter_map(|f| show(&dir.path, f)).collect();
        if values.is_empty() {
            continue;
        }
        lines.push(format!("{}:", dir.path.display()));
        lines.extend(values.into_iter().map(|v| format!("  {v}")));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::StageId;
    use crate::stages::cgroups::host::Dir;
    use crate::sys::{Quiet, World};
    use std::path::PathBuf;

    fn dir(path: &str, controllers: &[&str]) -> Dir {
        Dir {
            path: PathBuf::from(path),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            mount: PathBuf::from("/"),
        }
    }

    #[test]
    fn oom_kills_and_cpu_usage_are_read_from_the_kernels_own_files() {
        let world = World::new()
            .file(
                "/v2/c/memory.events",
                "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n",
            )
            .file("/v2/c/cpu.stat", "usage_usec 987654\nuser_usec 1\n")
            .file(
                "/m/c/memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            )
            .file("/a/c/cpuacct.usage", "1500000000\n");
        let mut quiet = Quiet;
        let sys = Sys::dry(&mut quiet, StageId::Cgroups, world);
        let v2 = Placement {
            version: Version::V2,
            dirs: vec![dir("/v2/c", &["memory", "cpu", "pids"])],
        };
        assert_eq!(oom_kills(&sys, &v2), Some(1));
        assert_eq!(cpu_usage_us(&sys, &v2), Some(987654));
        let v1 = Placement {
            version: Version::V1,
            dirs: vec![dir("/m/c", &["memory"]), dir("/a/c", &["cpuacct"])],
        };
        assert_eq!(oom_kills(&sys, &v1), Some(2));
        assert_eq!(cpu_usage_us(&sys, &v1), Some(1_500_000));
    }
}
