//! THE ALLOWLIST of the strace comparison: the calls of the traced
//! families that diyc makes and deliberately does not show, because they
//! change nothing of the host or of isolation, and what tells them apart.

use std::collections::BTreeMap;

use super::Traced;

/// Whether an openat writes (the file family) rather than reads.
pub(super) fn opens_for_writing(call: &str) -> bool {
    ["O_WRONLY", "O_RDWR", "O_CREAT"]
        .iter()
        .any(|f| call.contains(f))
}

/// The first quoted argument of a call: the path of a file call.
pub(super) fn first_path(call: &str) -> &str {
    call.split('"').nth(1).unwrap_or("")
}

/// The path a file call changes: a symlink's is its last argument, and
/// a path relative to a directory descriptor is joined to that directory.
pub(super) fn changed_path(t: &Traced, fds: &Fds) -> String {
    let path = if t.name() == "symlinkat" {
        t.call.rsplit('"').nth(1).unwrap_or("")
    } else {
        first_path(&t.call)
    };
    match fds.dirs.get(fd_of(&t.call)) {
        Some(dir) if !path.starts_with('/') => format!("{dir}/{path}"),
        _ => path.to_string(),
    }
}

/// The descriptors of one process that tell its calls apart.
#[derive(Default)]
pub(super) struct Fds {
    /// Files the seam opened for writing: true for an `echo V > P`, whose
    /// write and close are that one line.
    pub(super) files: BTreeMap<String, bool>,
    /// Directories opened to be read or walked, and their paths.
    pub(super) dirs: BTreeMap<String, String>,
}

/// THE ALLOWLIST: calls of the traced families that diyc makes and
/// deliberately does not show, because they change nothing of the host or
/// of isolation. Returns why, or None when the call must be explained.
pub(super) fn plumbing(t: &Traced, state_root: &str, fds: &Fds) -> Option<&'static str> {
    let call = t.call.as_str();
    let in_state = |path: &str| {
        path.starts_with(state_root) && !path.starts_with(&format!("{state_root}/lessons"))
    };
    match t.name() {
        // diyc's own records, written by the state wall: not the host's
        // (and the OCI command line's start gate, a FIFO among them).
        "openat" | "mkdirat" | "mknodat" | "unlinkat" | "renameat2" | "rename" | "symlinkat"
            if in_state(&changed_path(t, fds)) =>
        {
            Some("diyc's own state files")
        }
        // Reading is not changing.
        "openat" if !opens_for_writing(call) => Some("a read"),
        // stdout and stderr, the setup socket, pipes, netlink sockets:
        // only writes to a file the seam opened belong to the file family.
        "write" | "close" if !fds.files.contains_key(fd_of(call)) => {
            Some("not a file the seam opened")
        }
        // The write and close of an `echo V > P`, shown as that one line.
        "write" | "close" if fds.files.get(fd_of(call)) == Some(&true) => Some("part of an echo"),
        // Socket messages that are not netlink requests (the setup
        // socket), and netlink queries, which read.
        "sendto" => match netlink_kind(call) {
            None => Some("the setup socket"),
            Some(kind) if kind.starts_with("RTM_GET") => Some("a netlink query"),
            Some(_) => None,
        },
        // A thread of diyc's own (the importer unpacks layers side by
        // side): the same process, in the same namespaces.
        "clone" | "clone3" if call.contains("CLONE_THREAD") => Some("a thread of diyc's own"),
        // A process naming itself, and asking to die with diyc.
        "prctl"
            if ["PR_SET_NAME", "PR_SET_PDEATHSIG", "PR_SET_DUMPABLE"]
                .iter()
                .any(|p| call.contains(p)) =>
        {
            Some("the process's own name, parent-death signal and privacy")
        }
        // libseccomp asking which filter features the kernel has, while
        // diyc compiles the filter: questions, and probes that fail and so
        // load nothing.
        "seccomp" if t.result.starts_with('-') || call.contains("SECCOMP_GET_") => {
            Some("libseccomp probing the kernel")
        }
        // Reading a limit (Rust's runtime asks for its stack size).
        "prlimit64" if call.contains(", NULL, {") => Some("a read of a limit"),
        // Descriptor flags other than close-on-exec (O_NONBLOCK and such).
        "fcntl" if !call.contains("F_SETFD, FD_CLOEXEC") => Some("descriptor flags"),
        // Whether stdin and stdout are terminals, and the caller's size.
        "ioctl"
            if ["TCGETS", "TIOCGWINSZ", "TIOCGPGRP"]
                .iter()
                .any(|r| call.contains(r)) =>
        {
            Some("a read of a terminal's settings")
        }
        // The caller's own terminal: raw while the command runs, put back
        // after, and given back to diyc's process group.
        "ioctl" if ["TCSETS", "TIOCSPGRP"].iter().any(|r| call.contains(r)) => {
            Some("the caller's terminal")
        }
        // std's directory walks (remove_dir_all) mark their own descriptors.
        "fcntl" if fds.dirs.contains_key(fd_of(call)) => Some("a directory being walked"),
        _ => None,
    }
}

/// The rtnetlink message type of a sendto, by name. strace names it only
/// for a socket of its own network namespace; in a container's it prints
/// the number, which the kernel's uapi (linux/rtnetlink.h) names.
pub(super) fn netlink_kind(call: &str) -> Option<String> {
    let raw = call.split("nlmsg_type=").nth(1)?.split([',', ' ']).next()?;
    if raw.starts_with("RTM_") {
        return Some(raw.to_string());
    }
    let number = u32::from_str_radix(raw.strip_prefix("0x")?, 16).ok()?;
    let name = match number {
        16 => "RTM_NEWLINK",
        17 => "RTM_DELLINK",
        18 => "RTM_GETLINK",
        19 => "RTM_SETLINK",
        20 => "RTM_NEWADDR",
        21 => "RTM_DELADDR",
        22 => "RTM_GETADDR",
        24 => "RTM_NEWROUTE",
        25 => "RTM_DELROUTE",
        26 => "RTM_GETROUTE",
        _ => return None,
    };
    Some(name.to_string())
}

pub(super) fn fd_of(call: &str) -> &str {
    // `close(4)` has no comma: the number ends at the parenthesis.
    call.split(['(', ',', ')']).nth(1).unwrap_or("").trim()
}
