//! Probes of host state that `--explain` shows after a stage: namespace
//! inodes, a process's pid in each namespace, mount tables. All of it is read
//! from /proc, the way a student could read it by hand.

use std::fs;

/// Whether this process is without the host's root: another user, or
/// root only of a user namespace of its own (its uid 0 maps elsewhere).
pub fn rootless() -> bool {
    let identity = ["0", "0", "4294967295"];
    !nix::unistd::geteuid().is_root()
        || fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|map| map.split_whitespace().ne(identity.iter().copied()))
}

/// A file of /proc, read as the kernel makes it: into one buffer, not
/// sized first (/proc says 0) and grown from 32 bytes as `read_to_string`
/// does, which took nine system calls for a 300-byte /proc/PID/stat that
/// every start, lease and `ps` line reads. Bytes that are not UTF-8 are
/// replaced, not refused: a process may give itself any name, and a name
/// must not make a running process look gone.
pub fn proc_file(path: &str) -> Option<String> {
    use std::io::Read;
    let mut file = fs::File::open(path).ok()?;
    let mut bytes = vec![0; 1024];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(len * 2, 0);
        }
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    bytes.truncate(len);
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// `/proc/self` or `/proc/PID`.
fn proc_dir(pid: Option<i32>) -> String {
    pid.map_or_else(|| "/proc/self".to_string(), |p| format!("/proc/{p}"))
}

/// The inode of a namespace: two processes share the namespace exactly
/// when these are equal.
pub fn ns_inode(pid: Option<i32>, ns: &str) -> Option<u64> {
    let link = fs::read_link(format!("{}/ns/{ns}", proc_dir(pid))).ok()?;
    let text = link.to_str()?;
    let start = text.find('[')? + 1;
    let end = text.find(']')?;
    text.get(start..end)?.parse().ok()
}

/// A table of namespaces: the host's inode, the process's, and whether it
/// is new.
pub fn ns_table(pid: i32, names: &[&str]) -> Vec<String> {
    let mut lines = vec![format!(
        "{:<8} {:<14} {:<14} verdict",
        "ns", "host", "container"
    )];
    for ns in names {
        let host = ns_inode(None, ns);
        let child = ns_inode(Some(pid), ns);
        let show = |v: Option<u64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
        let verdict = match (host, child) {
            (Some(h), Some(c)) if h != c => "new",
            (Some(_), Some(_)) => "shared with the host",
            _ => "unknown",
        };
        lines.push(format!(
            "{:<8} {:<14} {:<14} {verdict}",
            ns,
            show(host),
            show(child)
        ));
    }
    lines
}

/// The pids of a process in each PID namespace it belongs to, outermost
/// first (the `NSpid:` line of /proc/PID/status).
pub fn nspid(pid: i32) -> Option<Vec<i32>> {
    let status = proc_file(&format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line["NSpid:".len()..]
        .split_whitespace()
        .map(|p| p.parse().ok())
        .collect()
}

/// One line of /proc/PID/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub mount_point: String,
    pub options: String,
    /// Propagation tags such as `shared:1` or `master:3`; empty when private.
    pub tags: String,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

impl MountEntry {
    /// Propagation in the words of mount(8).
    pub fn propagation(&self) -> &'static str {
        if self.tags.contains("shared:") {
            "shared"
        } else if self.tags.contains("master:") {
            "slave"
        } else if self.tags.contains("unbindable") {
            "unbindable"
        } else {
            "private"
        }
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(byte) => {
                out.push(byte as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let right: Vec<&str> = right.splitn(3, ' ').collect();
            Some(MountEntry {
                mount_point: unescape(left.get(4)?),
                options: left.get(5)?.to_string(),
                tags: left.get(6..).unwrap_or_default().join(" "),
                fstype: right.first()?.to_string(),
                source: unescape(right.get(1)?),
                super_options: right.get(2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// The mount table of a process, or of diyc itself.
pub fn mountinfo(pid: Option<i32>) -> Vec<MountEntry> {
    fs::read_to_string(format!("{}/mountinfo", proc_dir(pid)))
        .map(|t| parse_mountinfo(&t))
        .unwrap_or_default()
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "?".to_string())
}

/// Does `pid` catch or ignore `sig`? From the SigCgt and SigIgn masks in
/// /proc/PID/status: a namespace's first process gets no signal it has no
/// handler for, but SIGKILL and SIGSTOP from outside.
pub fn handles_signal(pid: i32, sig: nix::sys::signal::Signal) -> bool {
    let Some(status) = proc_file(&format!("/proc/{pid}/status")) else {
        return true;
    };
    let bit = 1u64 << (sig as u32 - 1);
    status
        .lines()
        .filter(|l| l.starts_with("SigCgt:") || l.starts_with("SigIgn:"))
        .filter_map(|l| u64::from_str_radix(l[7..].trim(), 16).ok())
        .any(|mask| mask & bit != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_catches_nothing_by_default() {
        // The test harness installs no SIGQUIT handler.
        let me = std::process::id() as i32;
        assert!(!handles_signal(me, nix::sys::signal::Signal::SIGQUIT));
    }

    #[test]
    fn mountinfo_lines_parse_with_tags_and_escapes() {
        let text = "36 35 98:0 /mnt1 /mnt\\040x rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n\
                    40 36 0:5 / /proc rw - proc proc rw\n";
        let entries = parse_mountinfo(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].mount_point, "/mnt x");
        assert_eq!(entries[0].propagation(), "slave");
        assert_eq!(entries[0].fstype, "ext3");
        assert_eq!(entries[1].propagation(), "private");
        assert_eq!(entries[1].super_options, "rw");
    }

    #[test]
    fn own_namespaces_have_inodes() {
        assert!(ns_inode(None, "uts").is_some());
        assert_eq!(
            nspid(std::process::id() as i32).map(|v| !v.is_empty()),
            Some(true)
        );
    }
}
