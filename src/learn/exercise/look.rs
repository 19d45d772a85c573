//! What diyc reads of a process from the host's side, the way a grader
//! would by hand: /proc/PID/ns, status, mountinfo, cgroup and root, and
//! the address and route tables of the exercise shell's network
//! namespace (/proc/PID/net). Nothing here changes anything.
//!
//! The process looked at is `check` itself. It was started from the shell
//! it was typed in, so it has that shell's namespaces, root, cgroup and
//! capabilities (and where a shell runs `sh -c check` by executing it,
//! it is that shell).

use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;

use super::Setting;
use super::wire::View;
use crate::observe::{self, MountEntry};

/// Every kind of namespace /proc/PID/ns names.
pub const NAMESPACES: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

pub struct Look<'a> {
    /// `check`'s process, by its pid on the host (from SO_PEERCRED).
    pub client: i32,
    /// The exercise shell, by its pid on the host.
    pub shell: i32,
    /// What `check` said it sees.
    pub view: &'a View,
    pub setting: &'a Setting,
}

impl Look<'_> {
    /// Whether `check` is in the exercise shell's namespace of kind `ns`.
    pub fn shares(&self, ns: &str) -> bool {
        let theirs = observe::ns_inode(Some(self.client), ns);
        theirs.is_some() && theirs == observe::ns_inode(Some(self.shell), ns)
    }

    /// The kinds of namespace `check` does not share with the exercise
    /// shell.
    pub fn new_namespaces(&self) -> Vec<&'static str> {
        NAMESPACES
            .into_iter()
            .filter(|ns| observe::ns_inode(Some(self.client), ns).is_some() && !self.shares(ns))
            .collect()
    }

    /// A capability set of `check`'s (`CapEff`, `CapBnd`), from its status.
    pub fn capabilities(&self, set: &str) -> Option<u64> {
        status_field(self.client, set).and_then(|v| u64::from_str_radix(&v, 16).ok())
    }

    pub fn uid(&self) -> Option<u32> {
        status_field(self.client, "Uid")?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// `check`'s pid in each PID namespace it is in, the host's first.
    pub fn nspid(&self) -> Vec<i32> {
        observe::nspid(self.client).unwrap_or_default()
    }

    /// What is mounted on `path`, as `check` and as the exercise shell
    /// see it.
    pub fn mounted_on(&self, path: &str) -> (Option<MountEntry>, Option<MountEntry>) {
        let on = |pid| {
            observe::mountinfo(Some(pid))
                .into_iter()
                .rfind(|m| m.mount_point == path)
        };
        (on(self.client), on(self.shell))
    }

    /// `check`'s cgroup in the tree carrying `controller`, or the v2 one
    /// for "": the path below that tree's root.
    pub fn cgroup(&self, controller: &str) -> Option<String> {
        let table = std::fs::read_to_string(format!("/proc/{}/cgroup", self.client)).ok()?;
        table.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, names, path) = (parts.next()?, parts.next()?, parts.next()?);
            let matches = if controller.is_empty() {
                names.is_empty()
            } else {
                names.split(',').any(|n| n == controller)
            };
            matches.then(|| path.to_string())
        })
    }
}

/// One `Key:` line of /proc/PID/status, without the key.
fn status_field(pid: i32, key: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// A process's parent, from /proc/PID/stat (the field after the
/// command's name, which may itself hold spaces and parentheses).
pub fn parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` is `ancestor` or was started, however deep, from it.
pub fn descends_from(pid: i32, ancestor: i32) -> bool {
    let mut at = pid;
    for _ in 0..4096 {
        if at == ancestor {
            return true;
        }
        match parent(at) {
            Some(p) if p > 0 && p != at => at = p,
            _ => return false,
        }
    }
    false
}

/// Every process below `ancestor`, by host pid.
pub fn processes_below(ancestor: i32) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|p| *p != ancestor && descends_from(*p, ancestor))
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

/// The device and inode of a directory: two paths name the same
/// directory exactly when these are equal (bind mounts included).
pub fn identity(path: &str) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// A process's root directory, as its `/` is.
pub fn root_of(pid: i32) -> Option<(u64, u64)> {
    identity(&format!("/proc/{pid}/root/"))
}

/// Where a process's root is, as the host names it.
pub fn root_path(pid: i32) -> String {
    std::fs::read_link(format!("/proc/{pid}/root"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "?".into())
}

pub fn command(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The addresses of process `pid`'s network namespace, from the kernel's
/// table of local routes (/proc/PID/net/fib_trie).
pub fn local_addresses(pid: i32) -> Vec<Ipv4Addr> {
    parse_local(&std::fs::read_to_string(format!("/proc/{pid}/net/fib_trie")).unwrap_or_default())
}

/// An address appears in fib_trie as `/32 host LOCAL` below its own line.
fn parse_local(trie: &str) -> Vec<Ipv4Addr> {
    let mut last = None;
    let mut found = Vec::new();
    for line in trie.lines().map(str::trim) {
        if let Some(ip) = line.strip_prefix("|-- ") {
            last = ip.parse::<Ipv4Addr>().ok();
        } else if line.contains("host LOCAL") {
            if let Some(ip) = last.filter(|ip| !found.contains(ip)) {
                found.push(ip);
            }
        }
    }
    found
}

/// The routes of process `pid`'s network namespace (/proc/PID/net/route):
/// link, destination and prefix length. A link's subnet is there only
/// while the link is up.
pub fn routes(pid: i32) -> Vec<(String, Ipv4Addr, u32)> {
    parse_routes(&std::fs::read_to_string(format!("/proc/{pid}/net/route")).unwrap_or_default())
}

fn parse_routes(table: &str) -> Vec<(String, Ipv4Addr, u32)> {
    // The addresses are printed as the number their bytes make in the
    // kernel's memory, network order read as this machine's.
    let ip = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes);
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let dest = ip(fields.get(1)?)?;
            let mask = ip(fields.get(7)?)?;
            let prefix = u32::from_ne_bytes(mask).count_ones();
            Some((fields[0].to_string(), Ipv4Addr::from(dest), prefix))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_descends_from_itself_and_from_pid_1() {
        let me = std::process::id() as i32;
        assert!(descends_from(me, me));
        assert!(descends_from(me, 1));
        assert!(parent(me).is_some_and(|p| p > 0));
        assert!(!descends_from(1, me));
    }

    #[test]
    fn local_addresses_are_the_host_local_entries_of_fib_trie() {
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.9.0\n        /24 link UNICAST\n     |-- 10.0.9.1\n        /32 host LOCAL\nLocal:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.9.1\n        /32 host LOCAL\n     |-- 10.0.9.255\n        /32 link BROADCAST\n";
        assert_eq!(parse_local(trie), [Ipv4Addr::new(10, 0, 9, 1)]);
    }

    #[test]
    fn routes_read_as_link_subnet_and_prefix() {
        let net = Ipv4Addr::new(10, 0, 9, 0);
        let mask = Ipv4Addr::new(255, 255, 255, 0);
        let hex = |ip: Ipv4Addr| format!("{:08X}", u32::from_ne_bytes(ip.octets()));
        let table = format!(
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\nhere\t{}\t00000000\t0001\t0\t0\t0\t{}\t0\t0\t0\n",
            hex(net),
            hex(mask)
        );
        assert_eq!(parse_routes(&table), [("here".to_string(), net, 24)]);
    }
}
