//! What the kernel says of a container's cgroup: its processes, its OOM
//! kills, the CPU time it used, and its limit and usage files, read through
//! `Sys` (so the dry backend can answer too).

use std::path::Path;

use super::place::{Placement, Version};
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

/// The limit files, what the cgroup uses now and the most it ever used
/// (the peak, where the kernel keeps one: after a memory hog exits, its
/// usage is back near 0 but its peak is not), and its OOM kills, one line
/// each, for `--explain`. Sizes are in MiB or KiB, and "no limit" says
/// unlimited, however the kernel writes it.
pub fn report(sys: &Sys, placement: &Placement) -> Vec<String> {
    let files: &[(&str, &str)] = match placement.version {
        Version::V2 => &[
            ("memory.max", ""),
            ("memory.swap.max", ""),
            ("memory.peak", " (the most it used)"),
            ("memory.current", " (now)"),
            ("cpu.max", ""),
            ("pids.max", ""),
            ("pids.current", ""),
        ],
        Version::V1 => &[
            ("memory.limit_in_bytes", ""),
            ("memory.memsw.limit_in_bytes", ""),
            ("memory.max_usage_in_bytes", " (the most it used)"),
            ("memory.usage_in_bytes", " (now)"),
            ("cpu.cfs_quota_us", ""),
            ("cpu.cfs_period_us", ""),
            ("cpuacct.usage", ""),
            ("pids.max", ""),
            ("pids.current", ""),
        ],
    };
    let kills = match placement.version {
        Version::V2 => "memory.events",
        Version::V1 => "memory.oom_control",
    };
    let mut lines = Vec::new();
    for dir in &placement.dirs {
        let mut values: Vec<String> = files
            .iter()
            .filter_map(|(file, what)| {
                let raw = read_trim(sys, &dir.path.join(file))?;
                Some(format!("{file} = {}{what}", readable(file, &raw)))
            })
            .collect();
        if let Some(n) = keyed(sys, &dir.path.join(kills), "oom_kill") {
            values.push(format!("{kills}: oom_kill {n}"));
        }
        if values.is_empty() {
            continue;
        }
        lines.push(format!("{}:", dir.path.display()));
        lines.extend(values.into_iter().map(|v| format!("  {v}")));
    }
    lines
}

/// The largest memory limit v1 writes means none at all: it is the
/// kernel's page counter maximum (9223372036854771712 with 4 KiB pages).
const V1_UNLIMITED: u64 = 1 << 62;

/// A cgroup file's value as people read it: memory sizes in MiB or KiB,
/// "unlimited" for v2's `max` and v1's huge number, the rest as it is.
pub fn readable(file: &str, raw: &str) -> String {
    let memory = file.starts_with("memory.");
    match raw.parse::<u64>() {
        _ if raw == "max" => "unlimited".to_string(),
        Ok(n) if memory && n >= V1_UNLIMITED => "unlimited".to_string(),
        Ok(n) if memory => size(n),
        _ => raw.to_string(),
    }
}

/// A number of bytes as people read it: "32 MiB", "99.6 MiB", "648 KiB".
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    if bytes >= GIB && bytes % GIB == 0 {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= GIB {
        format!("{:.1} GiB", bytes as f64 / GIB as f64)
    } else if bytes % MIB == 0 && bytes > 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else if bytes >= KIB {
        format!("{} KiB", bytes.div_ceil(KIB))
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::StageId;
    use crate::stages::cgroups::place::Dir;
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

    #[test]
    fn the_report_shows_the_peak_in_mib_and_says_unlimited() {
        let v1 = World::new()
            .file("/m/c/memory.limit_in_bytes", "9223372036854771712\n")
            .file("/m/c/memory.max_usage_in_bytes", "105324544\n")
            .file("/m/c/memory.usage_in_bytes", "663552\n")
            .file(
                "/m/c/memory.oom_control",
                "oom_kill_disable 0\noom_kill 0\n",
            );
        let v2 = World::new()
            .file("/v2/c/memory.max", "33554432\n")
            .file("/v2/c/memory.swap.max", "max\n")
            .file("/v2/c/memory.peak", "33554432\n")
            .file("/v2/c/memory.current", "0\n")
            .file("/v2/c/memory.events", "oom 1\noom_kill 1\n");
        let mut quiet = Quiet;
        let sys = Sys::dry(&mut quiet, StageId::Cgroups, v1);
        let placement = Placement {
            version: Version::V1,
            dirs: vec![dir("/m/c", &["memory"])],
        };
        assert_eq!(
            report(&sys, &placement),
            vec![
                "/m/c:",
                "  memory.limit_in_bytes = unlimited",
                "  memory.max_usage_in_bytes = 100.4 MiB (the most it used)",
                "  memory.usage_in_bytes = 648 KiB (now)",
                "  memory.oom_control: oom_kill 0",
            ]
        );
        let mut quiet = Quiet;
        let sys = Sys::dry(&mut quiet, StageId::Cgroups, v2);
        let placement = Placement {
            version: Version::V2,
            dirs: vec![dir("/v2/c", &["memory"])],
        };
        assert_eq!(
            report(&sys, &placement),
            vec![
                "/v2/c:",
                "  memory.max = 32 MiB",
                "  memory.swap.max = unlimited",
                "  memory.peak = 32 MiB (the most it used)",
                "  memory.current = 0 bytes (now)",
                "  memory.events: oom_kill 1",
            ]
        );
    }

    #[test]
    fn sizes_read_as_mib_kib_or_bytes() {
        assert_eq!(size(32 << 20), "32 MiB");
        assert_eq!(size(104_857_600 + 524_288), "100.5 MiB");
        assert_eq!(size(663_552), "648 KiB");
        assert_eq!(size(0), "0 bytes");
        assert_eq!(size(2 << 30), "2 GiB");
        assert_eq!(readable("pids.max", "max"), "unlimited");
        assert_eq!(readable("cpu.cfs_quota_us", "-1"), "-1");
    }
}
