//! How strace spells what a call carries: flags by name and joined with
//! `|`, strings quoted and escaped, numbers in its own bases.

use std::fmt::Write as _;

use super::call::CLONE_INTO_CGROUP;

/// strace writes a multiple of 1024 above 1024 as `N*1024`.
pub(super) fn rlim(value: u64) -> String {
    if value > 1024 && value % 1024 == 0 {
        format!("{}*1024", value / 1024)
    } else {
        value.to_string()
    }
}

const CLONE_FLAGS: &[(u64, &str)] = &[
    (0x0000_0080, "CLONE_NEWTIME"),
    (0x0000_0100, "CLONE_VM"),
    (0x0000_0200, "CLONE_FS"),
    (0x0000_0400, "CLONE_FILES"),
    (0x0000_0800, "CLONE_SIGHAND"),
    (0x0000_1000, "CLONE_PIDFD"),
    (0x0000_2000, "CLONE_PTRACE"),
    (0x0000_4000, "CLONE_VFORK"),
    (0x0000_8000, "CLONE_PARENT"),
    (0x0001_0000, "CLONE_THREAD"),
    (0x0002_0000, "CLONE_NEWNS"),
    (0x0004_0000, "CLONE_SYSVSEM"),
    (0x0008_0000, "CLONE_SETTLS"),
    (0x0010_0000, "CLONE_PARENT_SETTID"),
    (0x0020_0000, "CLONE_CHILD_CLEARTID"),
    (0x0040_0000, "CLONE_DETACHED"),
    (0x0080_0000, "CLONE_UNTRACED"),
    (0x0100_0000, "CLONE_CHILD_SETTID"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
    (0x8000_0000, "CLONE_IO"),
    (0x1_0000_0000, "CLONE_CLEAR_SIGHAND"),
    (CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"),
];

const MOUNT_FLAGS: &[(u64, &str)] = &[
    (libc::MS_RDONLY, "MS_RDONLY"),
    (libc::MS_NOSUID, "MS_NOSUID"),
    (libc::MS_NODEV, "MS_NODEV"),
    (libc::MS_NOEXEC, "MS_NOEXEC"),
    (libc::MS_SYNCHRONOUS, "MS_SYNCHRONOUS"),
    (libc::MS_REMOUNT, "MS_REMOUNT"),
    (libc::MS_MANDLOCK, "MS_MANDLOCK"),
    (libc::MS_DIRSYNC, "MS_DIRSYNC"),
    (libc::MS_NOATIME, "MS_NOATIME"),
    (libc::MS_NODIRATIME, "MS_NODIRATIME"),
    (libc::MS_BIND, "MS_BIND"),
    (libc::MS_MOVE, "MS_MOVE"),
    (libc::MS_REC, "MS_REC"),
    (libc::MS_SILENT, "MS_SILENT"),
    (libc::MS_POSIXACL, "MS_POSIXACL"),
    (libc::MS_UNBINDABLE, "MS_UNBINDABLE"),
    (libc::MS_PRIVATE, "MS_PRIVATE"),
    (libc::MS_SLAVE, "MS_SLAVE"),
    (libc::MS_SHARED, "MS_SHARED"),
    (libc::MS_RELATIME, "MS_RELATIME"),
    (libc::MS_STRICTATIME, "MS_STRICTATIME"),
    (libc::MS_LAZYTIME, "MS_LAZYTIME"),
];

pub(super) const UMOUNT_FLAGS: &[(u64, &str)] = &[
    (libc::MNT_FORCE as u64, "MNT_FORCE"),
    (libc::MNT_DETACH as u64, "MNT_DETACH"),
    (libc::MNT_EXPIRE as u64, "MNT_EXPIRE"),
    (libc::UMOUNT_NOFOLLOW as u64, "UMOUNT_NOFOLLOW"),
];

/// O_WRONLY and O_RDWR are values, not bits; O_RDONLY, which is 0, is
/// added by `open_flag_names`.
const OPEN_FLAGS: &[(u64, &str)] = &[
    (libc::O_WRONLY as u64, "O_WRONLY"),
    (libc::O_RDWR as u64, "O_RDWR"),
    (libc::O_CREAT as u64, "O_CREAT"),
    (libc::O_EXCL as u64, "O_EXCL"),
    (libc::O_NOCTTY as u64, "O_NOCTTY"),
    (libc::O_TRUNC as u64, "O_TRUNC"),
    (libc::O_APPEND as u64, "O_APPEND"),
    (libc::O_NOFOLLOW as u64, "O_NOFOLLOW"),
    (libc::O_CLOEXEC as u64, "O_CLOEXEC"),
    (libc::O_PATH as u64, "O_PATH"),
    // strace names O_DIRECTORY last.
    (libc::O_DIRECTORY as u64, "O_DIRECTORY"),
];

/// memfd_create's flags.
pub(super) const MEMFD_FLAGS: &[(u64, &str)] = &[
    (libc::MFD_CLOEXEC as u64, "MFD_CLOEXEC"),
    (libc::MFD_ALLOW_SEALING as u64, "MFD_ALLOW_SEALING"),
    (libc::MFD_EXEC as u64, "MFD_EXEC"),
];

/// openat2's `resolve` bits.
pub(super) const RESOLVE_FLAGS: &[(u64, &str)] = &[
    (libc::RESOLVE_NO_XDEV, "RESOLVE_NO_XDEV"),
    (libc::RESOLVE_NO_MAGICLINKS, "RESOLVE_NO_MAGICLINKS"),
    (libc::RESOLVE_NO_SYMLINKS, "RESOLVE_NO_SYMLINKS"),
    (libc::RESOLVE_BENEATH, "RESOLVE_BENEATH"),
    (libc::RESOLVE_IN_ROOT, "RESOLVE_IN_ROOT"),
];

/// `A|B|0x40` the way strace joins flags, `0` when none are set.
pub fn flag_names(value: u64, table: &[(u64, &str)]) -> String {
    let mut out = String::new();
    let mut rest = value;
    for (bit, name) in table {
        if rest & bit != 0 {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 || out.is_empty() {
        if !out.is_empty() {
            out.push('|');
        }
        let _ = write!(out, "{rest:#x}");
        if rest == 0 {
            out = "0".into();
        }
    }
    out
}

pub(super) fn open_flag_names(flags: i32) -> String {
    let named = flag_names(flags as u64, OPEN_FLAGS);
    match (flags & libc::O_ACCMODE, flags) {
        (0, 0) => "O_RDONLY".into(),
        (0, _) => format!("O_RDONLY|{named}"),
        _ => named,
    }
}

pub fn clone_flag_names(flags: u64) -> String {
    flag_names(flags, CLONE_FLAGS)
}

pub fn mount_flag_names(flags: u64) -> String {
    flag_names(flags, MOUNT_FLAGS)
}

pub(super) fn signal_name(sig: u64) -> String {
    i32::try_from(sig)
        .ok()
        .and_then(|s| nix::sys::signal::Signal::try_from(s).ok())
        .map_or_else(|| sig.to_string(), |s| s.as_str().to_string())
}

/// A C string as strace quotes it.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\{:o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Bytes as strace quotes them: printable ASCII as it is, the usual
/// escapes, octal for the rest (three digits where a digit follows), and
/// past `limit` bytes only `...`.
pub(super) fn quote_bytes(data: &[u8], limit: usize) -> String {
    let mut out = String::from("\"");
    let shown = &data[..data.len().min(limit)];
    for (i, b) in shown.iter().enumerate() {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            0x20..=0x7e => out.push(char::from(*b)),
            _ if data.get(i + 1).is_some_and(|n| (b'0'..=b'7').contains(n)) => {
                let _ = write!(out, "\\{b:03o}");
            }
            _ => {
                let _ = write!(out, "\\{b:o}");
            }
        }
    }
    out.push('"');
    if data.len() > limit {
        out.push_str("...");
    }
    out
}

pub(super) fn quote_opt(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "NULL".into(), quote)
}

pub(super) fn quote_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// strace prints numbers in hex except zero.
pub(super) fn hex(n: u32) -> String {
    if n == 0 {
        "0".into()
    } else {
        format!("{n:#x}")
    }
}

pub(super) fn file_type_name(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFCHR => "S_IFCHR",
        libc::S_IFBLK => "S_IFBLK",
        libc::S_IFIFO => "S_IFIFO",
        libc::S_IFSOCK => "S_IFSOCK",
        _ => "S_IFREG",
    }
}
