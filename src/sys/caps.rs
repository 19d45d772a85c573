//! Capabilities by number and by name (linux/capability.h), and the sets
//! as strace prints them.

/// The capabilities this process may hand on: its permitted set, as
/// /proc/self/status shows it.
pub fn held_capabilities() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapPrm:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// Capability names, by number.
pub const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub(super) fn cap_name(cap: u32) -> String {
    CAPABILITIES
        .get(cap as usize)
        .map_or_else(|| cap.to_string(), |n| n.to_string())
}

/// A capability set as strace prints it: `1<<CAP_CHOWN|1<<CAP_KILL`.
pub fn cap_set_names(set: u64) -> String {
    let names: Vec<String> = (0..64u32)
        .filter(|c| set & (1 << c) != 0)
        .map(|c| format!("1<<{}", cap_name(c)))
        .collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

/// A capability by name: `NET_ADMIN`, `cap_net_admin` or `CAP_NET_ADMIN`.
pub fn parse_cap(text: &str) -> std::result::Result<u32, String> {
    let upper = text.trim().to_ascii_uppercase();
    let name = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    CAPABILITIES
        .iter()
        .position(|c| *c == name)
        .map(|i| i as u32)
        .ok_or_else(|| format!("unknown capability {text:?} (see capabilities(7))"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_parse_with_or_without_prefix() {
        assert_eq!(parse_cap("NET_ADMIN"), Ok(12));
        assert_eq!(parse_cap("cap_sys_admin"), Ok(21));
        assert!(parse_cap("CAP_FLY").is_err());
        assert_eq!(cap_set_names(0b101), "1<<CAP_CHOWN|1<<CAP_DAC_READ_SEARCH");
        assert_eq!(cap_set_names(0), "0");
    }
}
