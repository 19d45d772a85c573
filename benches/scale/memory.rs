//! Reading what the containers cost from /proc and /sys: the memory of
//! diyc's supervisors (one per detached container, the parent of its
//! first process), the kernel's own memory, and what is left at the end.

use std::path::Path;

/// The memory of the supervisor processes, in KiB each.
pub struct Own {
    /// Pages only that process has: what one more container adds.
    private: Vec<u64>,
    /// Its share of every page it maps (shared ones divided).
    pss: Vec<u64>,
    rss: Vec<u64>,
}

/// The supervisors of the containers `diyc ps` listed (its lines, without
/// the header; the fourth column is the container's pid).
pub fn supervisors(ps_lines: &[String]) -> Own {
    let mut own = Own {
        private: Vec::new(),
        pss: Vec::new(),
        rss: Vec::new(),
    };
    for line in ps_lines {
        let Some(pid) = line
            .split_whitespace()
            .nth(3)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(parent) = status_field(pid, "PPid:") else {
            continue;
        };
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{parent}/smaps_rollup")) else {
            continue;
        };
        let kib = |key: &str| {
            rollup
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        own.private
            .push(kib("Private_Clean:") + kib("Private_Dirty:"));
        own.pss.push(kib("Pss:"));
        own.rss.push(kib("Rss:"));
    }
    own
}

fn status_field(pid: u32, key: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .parse()
        .ok()
}

impl Own {
    pub fn report(&self, count: usize) {
        let median = |v: &[u64]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0)
        };
        println!(
            "  diyc's own memory per container:   {:>8} KiB private, {} KiB PSS, {} KiB RSS (median of {} supervisors for {count} containers)  target <= 1024 KiB",
            median(&self.private),
            median(&self.pss),
            median(&self.rss),
            self.private.len()
        );
    }
}

/// The kernel's own memory, in KiB: slab, kernel stacks, page tables and
/// per-cpu allocations, from /proc/meminfo.
pub fn kernel_kib() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |key: &str| {
        info.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some(field("Slab:")? + field("KernelStack:")? + field("PageTables:")? + field("Percpu:")?)
}

/// Directories left below the cgroup parent, in every tree.
pub fn cgroups_below(parent: &str) -> usize {
    let Ok(host) = diyc::stages::cgroups::Host::detect() else {
        return 0;
    };
    host.parent_dirs(parent)
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .count()
}

/// The processes running this binary on this state root (supervisors
/// left behind), not another benchmark's or test's.
pub fn processes_of(bin: &str, root: &Path) -> Vec<u32> {
    let want = Path::new(bin).canonicalize().ok();
    let root = root.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok() == want)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|line| line.split(|b| *b == 0).any(|arg| arg == root))
        })
        .collect()
}
