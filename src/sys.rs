//! The one seam. Every system call that creates or changes isolation is made
//! here and nowhere else, and every one is recorded as it is made: the call
//! with its arguments decoded the way `strace` prints them, then its result.
//! `--explain` renders exactly these records, so what a student reads is what
//! the kernel was asked, never a script written beside the code.
//!
//! Each recorded call is one raw `syscall(2)`, not a libc wrapper, so the
//! name printed is the name `strace -f` shows (glibc turns `mknod` into
//! `mknodat`, `fork` into `clone`, and so on).
//!
//! The few other calls that need `unsafe` (leaving a forked child, resetting
//! signal dispositions before exec) live at the bottom, unrecorded, because
//! they change no isolation.

use std::ffi::CString;
use std::fmt::{self, Write as _};

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::event::{Event, Outcome, StageId};

/// A system call, with everything needed both to make it and to print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "syscall", rename_all = "snake_case")]
pub enum Call {
    /// Fork-like `clone3`: no new stack, the child returns from the call.
    Clone3 {
        flags: u64,
        exit_signal: u64,
        cgroup_fd: Option<i32>,
    },
    /// Fork-like `clone`, for kernels older than 5.3 without `clone3`.
    Clone {
        flags: u64,
        exit_signal: u64,
    },
    Unshare {
        flags: u64,
    },
    Setns {
        fd: i32,
        nstype: u64,
    },
    Mount {
        source: Option<String>,
        target: String,
        fstype: Option<String>,
        flags: u64,
        data: Option<String>,
    },
    Umount2 {
        target: String,
        flags: i32,
    },
    PivotRoot {
        new_root: String,
        put_old: String,
    },
    Sethostname {
        name: String,
    },
    Setdomainname {
        name: String,
    },
    Mknodat {
        path: String,
        mode: u32,
        major: u32,
        minor: u32,
    },
    Mkdirat {
        path: String,
        mode: u32,
    },
    Symlinkat {
        target: String,
        linkpath: String,
    },
    Chdir {
        path: String,
    },
    /// Only in the rootfs lesson, to show why diyc does not use it.
    Chroot {
        path: String,
    },
    /// `rmdir`, made as the unlinkat(2) every architecture has.
    Rmdir {
        path: String,
    },
    /// One write(2) of `value` to an existing file: how cgroup limits are
    /// set. Shown the way a student would type it, `echo VALUE > PATH`.
    WriteFile {
        path: String,
        value: String,
    },
    /// A netlink request to the kernel's routing subsystem, shown as the
    /// `ip` command that would make the same one.
    Netlink {
        request: crate::netlink::Request,
    },
    /// A helper program run to completion (iptables, ldd); its outcome is
    /// the exit status. Made by `Sys::run_helper`.
    Command {
        argv: Vec<String>,
    },
    /// Drop one capability from the bounding set, for good.
    CapbsetDrop {
        cap: u32,
    },
    /// Clear the ambient capability set.
    AmbientClearAll,
    /// No exec may ever grant privileges again (setuid bits, file caps).
    NoNewPrivs,
    /// Set the effective, permitted and inheritable capability sets.
    Capset {
        effective: u64,
        permitted: u64,
        inheritable: u64,
    },
    /// Limit the open files of this process (and what it executes).
    PrlimitNofile {
        soft: u64,
        hard: u64,
    },
    /// Mark every descriptor from `first` up close-on-exec.
    CloseRangeCloexec {
        first: u32,
    },
    /// Mark one descriptor close-on-exec: the way to do it on kernels
    /// before 5.11, which lack CLOSE_RANGE_CLOEXEC.
    FcntlCloexec {
        fd: i32,
    },
    Execve {
        path: String,
        argv: Vec<String>,
        env: Vec<String>,
    },
}

/// The kernel's `struct clone_args` (linux/sched.h), up to `cgroup`.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct __user_cap_header_struct` and `__user_cap_data_struct`
/// (linux/capability.h), version 3: 64 capabilities in two halves.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Capability names, by number (linux/capability.h).
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

fn cap_name(cap: u32) -> String {
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

/// strace writes a multiple of 1024 above 1024 as `N*1024`.
fn rlim(value: u64) -> String {
    if value > 1024 && value % 1024 == 0 {
        format!("{}*1024", value / 1024)
    } else {
        value.to_string()
    }
}

fn cstr(s: &str) -> std::result::Result<CString, Errno> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

fn cstr_opt(s: &Option<String>) -> std::result::Result<Option<CString>, Errno> {
    s.as_deref().map(cstr).transpose()
}

fn opt_ptr(s: &Option<CString>) -> *const libc::c_char {
    s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

/// A NULL-terminated array of C strings that owns its storage.
struct CArgv {
    _owned: Vec<CString>,
    ptrs: Vec<*const libc::c_char>,
}

impl CArgv {
    fn new(items: &[String]) -> std::result::Result<Self, Errno> {
        let owned = items
            .iter()
            .map(|s| cstr(s))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut ptrs: Vec<_> = owned.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        Ok(CArgv {
            _owned: owned,
            ptrs,
        })
    }
}

impl Call {
    /// Shown as a shell command rather than a system call (it is an
    /// open and a write), so it is never mistaken for one strace shows.
    pub fn is_shell_form(&self) -> bool {
        matches!(
            self,
            Call::WriteFile { .. } | Call::Netlink { .. } | Call::Command { .. }
        )
    }

    /// Make the call. This is the only place in diyc where these system
    /// calls are made.
    fn perform(&self) -> std::result::Result<i64, Errno> {
        let ret: libc::c_long = match self {
            Call::WriteFile { path, value } => return write_file(path, value),
            // Made by `Sys`, which holds the netlink connection, and by
            // `Sys::run_helper`, which forks and waits.
            Call::Netlink { .. } | Call::Command { .. } => return Err(Errno::ENOTSUP),
            Call::Clone3 {
                flags,
                exit_signal,
                cgroup_fd,
            } => {
                let mut args = CloneArgs {
                    flags: *flags | cgroup_fd.map_or(0, |_| CLONE_INTO_CGROUP),
                    exit_signal: *exit_signal,
                    ..Default::default()
                };
                if let Some(fd) = cgroup_fd {
                    args.cgroup = *fd as u64;
                }
                // SAFETY: `args` is a valid clone_args of the size passed. With
                // no stack the child runs on a copy of this one, like fork;
                // callers only do this while the process has a single thread.
                unsafe {
                    libc::syscall(
                        libc::SYS_clone3,
                        &args as *const CloneArgs,
                        std::mem::size_of::<CloneArgs>(),
                    )
                }
            }
            Call::Clone { flags, exit_signal } => {
                // SAFETY: a NULL stack makes clone behave like fork (see Clone3);
                // the pointer arguments are all NULL.
                unsafe {
                    libc::syscall(
                        libc::SYS_clone,
                        *flags | *exit_signal,
                        0usize,
                        0usize,
                        0usize,
                        0usize,
                    )
                }
            }
            Call::Unshare { flags } => {
                // SAFETY: unshare takes only an integer.
                unsafe { libc::syscall(libc::SYS_unshare, *flags as libc::c_int) }
            }
            Call::Setns { fd, nstype } => {
                // SAFETY: integers only; a bad fd is reported as EBADF.
                unsafe { libc::syscall(libc::SYS_setns, *fd, *nstype as libc::c_int) }
            }
            Call::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => {
                let (source, fstype, data) =
                    (cstr_opt(source)?, cstr_opt(fstype)?, cstr_opt(data)?);
                let target = cstr(target)?;
                // SAFETY: every pointer is NULL or a NUL-terminated string that
                // outlives the call.
                unsafe {
                    libc::syscall(
                        libc::SYS_mount,
                        opt_ptr(&source),
                        target.as_ptr(),
                        opt_ptr(&fstype),
                        *flags as libc::c_ulong,
                        opt_ptr(&data),
                    )
                }
            }
            Call::Umount2 { target, flags } => {
                let target = cstr(target)?;
                // SAFETY: `target` is a NUL-terminated string alive for the call.
                unsafe { libc::syscall(libc::SYS_umount2, target.as_ptr(), *flags) }
            }
            Call::PivotRoot { new_root, put_old } => {
                let (new_root, put_old) = (cstr(new_root)?, cstr(put_old)?);
                // SAFETY: both are NUL-terminated strings alive for the call.
                unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) }
            }
            Call::Sethostname { name } => {
                // SAFETY: pointer and length describe `name`'s bytes.
                unsafe { libc::syscall(libc::SYS_sethostname, name.as_ptr(), name.len()) }
            }
            Call::Setdomainname { name } => {
                // SAFETY: pointer and length describe `name`'s bytes.
                unsafe { libc::syscall(libc::SYS_setdomainname, name.as_ptr(), name.len()) }
            }
            Call::Mknodat {
                path,
                mode,
                major,
                minor,
            } => {
                let path = cstr(path)?;
                let dev = libc::makedev(*major, *minor);
                // SAFETY: `path` is a NUL-terminated string alive for the call.
                unsafe {
                    libc::syscall(libc::SYS_mknodat, libc::AT_FDCWD, path.as_ptr(), *mode, dev)
                }
            }
            Call::Mkdirat { path, mode } => {
                let path = cstr(path)?;
                // SAFETY: `path` is a NUL-terminated string alive for the call.
                unsafe { libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, path.as_ptr(), *mode) }
            }
            Call::Symlinkat { target, linkpath } => {
                let (target, linkpath) = (cstr(target)?, cstr(linkpath)?);
                // SAFETY: both are NUL-terminated strings alive for the call.
                unsafe {
                    libc::syscall(
                        libc::SYS_symlinkat,
                        target.as_ptr(),
                        libc::AT_FDCWD,
                        linkpath.as_ptr(),
                    )
                }
            }
            Call::Chdir { path } => {
                let path = cstr(path)?;
                // SAFETY: `path` is a NUL-terminated string alive for the call.
                unsafe { libc::syscall(libc::SYS_chdir, path.as_ptr()) }
            }
            Call::Chroot { path } => {
                let path = cstr(path)?;
                // SAFETY: `path` is a NUL-terminated string alive for the call.
                unsafe { libc::syscall(libc::SYS_chroot, path.as_ptr()) }
            }
            Call::Rmdir { path } => {
                let path = cstr(path)?;
                // SAFETY: `path` is a NUL-terminated string alive for the call.
                unsafe {
                    libc::syscall(
                        libc::SYS_unlinkat,
                        libc::AT_FDCWD,
                        path.as_ptr(),
                        libc::AT_REMOVEDIR,
                    )
                }
            }
            Call::CapbsetDrop { cap } => {
                // SAFETY: prctl with integer arguments only.
                unsafe {
                    libc::syscall(
                        libc::SYS_prctl,
                        libc::PR_CAPBSET_DROP,
                        *cap as libc::c_ulong,
                    )
                }
            }
            Call::AmbientClearAll => {
                // SAFETY: prctl with integer arguments only.
                unsafe {
                    libc::syscall(
                        libc::SYS_prctl,
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                        0usize,
                        0usize,
                        0usize,
                    )
                }
            }
            Call::NoNewPrivs => {
                // SAFETY: prctl with integer arguments only.
                unsafe {
                    libc::syscall(
                        libc::SYS_prctl,
                        libc::PR_SET_NO_NEW_PRIVS,
                        1usize,
                        0usize,
                        0usize,
                        0usize,
                    )
                }
            }
            Call::Capset {
                effective,
                permitted,
                inheritable,
            } => {
                let header = CapHeader {
                    version: LINUX_CAPABILITY_VERSION_3,
                    pid: 0,
                };
                let half = |v: u64, i: usize| (v >> (32 * i)) as u32;
                let data: [CapData; 2] = std::array::from_fn(|i| CapData {
                    effective: half(*effective, i),
                    permitted: half(*permitted, i),
                    inheritable: half(*inheritable, i),
                });
                // SAFETY: a v3 header and the two data structs v3 reads.
                unsafe {
                    libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr())
                }
            }
            Call::PrlimitNofile { soft, hard } => {
                let limit = libc::rlimit64 {
                    rlim_cur: *soft,
                    rlim_max: *hard,
                };
                // SAFETY: a valid rlimit64 to read and no old value to write.
                unsafe {
                    libc::syscall(
                        libc::SYS_prlimit64,
                        0,
                        libc::RLIMIT_NOFILE,
                        &limit as *const libc::rlimit64,
                        std::ptr::null_mut::<libc::rlimit64>(),
                    )
                }
            }
            Call::CloseRangeCloexec { first } => {
                // SAFETY: integers only; no descriptor is closed, only marked.
                unsafe {
                    libc::syscall(
                        libc::SYS_close_range,
                        *first,
                        u32::MAX,
                        libc::CLOSE_RANGE_CLOEXEC,
                    )
                }
            }
            // SAFETY: F_SETFD on a descriptor number only changes its flags;
            // a number that is not open fails with EBADF.
            Call::FcntlCloexec { fd } => unsafe {
                libc::fcntl(*fd, libc::F_SETFD, libc::FD_CLOEXEC) as libc::c_long
            },
            Call::Execve { path, argv, env } => {
                let path = cstr(path)?;
                let (argv, env) = (CArgv::new(argv)?, CArgv::new(env)?);
                // SAFETY: path, argv and envp are NUL-terminated and the two
                // arrays end in NULL; on success this never returns.
                unsafe {
                    libc::syscall(
                        libc::SYS_execve,
                        path.as_ptr(),
                        argv.ptrs.as_ptr(),
                        env.ptrs.as_ptr(),
                    )
                }
            }
        };
        Errno::result(ret)
    }
}

/// A single write, since cgroup files take each value in one write(2).
fn write_file(path: &str, value: &str) -> std::result::Result<i64, Errno> {
    use std::io::Write;
    let errno = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(errno)?;
    let n = file.write(value.as_bytes()).map_err(errno)?;
    Ok(n as i64)
}

// ---- strace-style rendering -------------------------------------------------

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

const UMOUNT_FLAGS: &[(u64, &str)] = &[
    (libc::MNT_FORCE as u64, "MNT_FORCE"),
    (libc::MNT_DETACH as u64, "MNT_DETACH"),
    (libc::MNT_EXPIRE as u64, "MNT_EXPIRE"),
    (libc::UMOUNT_NOFOLLOW as u64, "UMOUNT_NOFOLLOW"),
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

pub fn clone_flag_names(flags: u64) -> String {
    flag_names(flags, CLONE_FLAGS)
}

pub fn mount_flag_names(flags: u64) -> String {
    flag_names(flags, MOUNT_FLAGS)
}

fn signal_name(sig: u64) -> String {
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

fn quote_opt(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "NULL".into(), quote)
}

fn quote_list(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", parts.join(", "))
}

/// strace prints numbers in hex except zero.
fn hex(n: u32) -> String {
    if n == 0 {
        "0".into()
    } else {
        format!("{n:#x}")
    }
}

fn file_type_name(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFCHR => "S_IFCHR",
        libc::S_IFBLK => "S_IFBLK",
        libc::S_IFIFO => "S_IFIFO",
        libc::S_IFSOCK => "S_IFSOCK",
        _ => "S_IFREG",
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Clone3 {
                flags,
                exit_signal,
                cgroup_fd,
            } => {
                let all = *flags | cgroup_fd.map_or(0, |_| CLONE_INTO_CGROUP);
                write!(
                    f,
                    "clone3({{flags={}, exit_signal={}, stack=NULL, stack_size=0",
                    clone_flag_names(all),
                    signal_name(*exit_signal)
                )?;
                if let Some(fd) = cgroup_fd {
                    write!(f, ", cgroup={fd}")?;
                }
                write!(f, "}}, {})", std::mem::size_of::<CloneArgs>())
            }
            Call::Clone { flags, exit_signal } => write!(
                f,
                "clone(child_stack=NULL, flags={}|{})",
                clone_flag_names(*flags),
                signal_name(*exit_signal)
            ),
            Call::Unshare { flags } => write!(f, "unshare({})", clone_flag_names(*flags)),
            Call::Setns { fd, nstype } => {
                write!(f, "setns({fd}, {})", clone_flag_names(*nstype))
            }
            Call::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => write!(
                f,
                "mount({}, {}, {}, {}, {})",
                quote_opt(source),
                quote(target),
                quote_opt(fstype),
                mount_flag_names(*flags),
                quote_opt(data)
            ),
            Call::Umount2 { target, flags } => write!(
                f,
                "umount2({}, {})",
                quote(target),
                flag_names(*flags as u64, UMOUNT_FLAGS)
            ),
            Call::PivotRoot { new_root, put_old } => {
                write!(f, "pivot_root({}, {})", quote(new_root), quote(put_old))
            }
            Call::Sethostname { name } => {
                write!(f, "sethostname({}, {})", quote(name), name.len())
            }
            Call::Setdomainname { name } => {
                write!(f, "setdomainname({}, {})", quote(name), name.len())
            }
            Call::Mknodat {
                path,
                mode,
                major,
                minor,
            } => write!(
                f,
                "mknodat(AT_FDCWD, {}, {}|0{:o}, makedev({}, {}))",
                quote(path),
                file_type_name(*mode),
                mode & 0o7777,
                hex(*major),
                hex(*minor)
            ),
            Call::Mkdirat { path, mode } => {
                write!(f, "mkdirat(AT_FDCWD, {}, 0{:o})", quote(path), mode)
            }
            Call::Symlinkat { target, linkpath } => write!(
                f,
                "symlinkat({}, AT_FDCWD, {})",
                quote(target),
                quote(linkpath)
            ),
            Call::Chdir { path } => write!(f, "chdir({})", quote(path)),
            Call::Chroot { path } => write!(f, "chroot({})", quote(path)),
            Call::Rmdir { path } => {
                write!(f, "unlinkat(AT_FDCWD, {}, AT_REMOVEDIR)", quote(path))
            }
            Call::WriteFile { path, value } => write!(f, "echo {value} > {path}"),
            Call::Netlink { request } => write!(f, "{}: {request}", request.message()),
            Call::Command { argv } => {
                let mut words = argv.iter();
                let program = words
                    .next()
                    .map_or("", |p| p.rsplit('/').next().unwrap_or(p));
                write!(f, "{program}")?;
                for word in words {
                    if word.is_empty() || word.contains([' ', '!', '*', '$', '"', '\'']) {
                        write!(f, " '{word}'")?;
                    } else {
                        write!(f, " {word}")?;
                    }
                }
                Ok(())
            }
            Call::CapbsetDrop { cap } => write!(f, "prctl(PR_CAPBSET_DROP, {})", cap_name(*cap)),
            Call::AmbientClearAll => {
                write!(
                    f,
                    "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)"
                )
            }
            Call::NoNewPrivs => write!(f, "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)"),
            Call::Capset {
                effective,
                permitted,
                inheritable,
            } => write!(
                f,
                "capset({{version=_LINUX_CAPABILITY_VERSION_3, pid=0}}, {{effective={}, permitted={}, inheritable={}}})",
                cap_set_names(*effective),
                cap_set_names(*permitted),
                cap_set_names(*inheritable)
            ),
            Call::PrlimitNofile { soft, hard } => write!(
                f,
                "prlimit64(0, RLIMIT_NOFILE, {{rlim_cur={}, rlim_max={}}}, NULL)",
                rlim(*soft),
                rlim(*hard)
            ),
            Call::CloseRangeCloexec { first } => {
                write!(f, "close_range({first}, {}, CLOSE_RANGE_CLOEXEC)", u32::MAX)
            }
            Call::FcntlCloexec { fd } => write!(f, "fcntl({fd}, F_SETFD, FD_CLOEXEC)"),
            Call::Execve { path, argv, env } => write!(
                f,
                "execve({}, {}, {})",
                quote(path),
                quote_list(argv),
                quote_list(env)
            ),
        }
    }
}

// ---- recording --------------------------------------------------------------

/// Where recorded events go: the explain renderer in diyc itself, the socket
/// to diyc in the container's first process, or nowhere.
pub trait Recorder {
    /// False when nobody will look, so callers skip building observations.
    fn enabled(&self) -> bool;
    fn record(&mut self, event: Event);
}

/// What a fork-like clone returned, in each of the two processes.
pub enum Forked {
    Parent { child: i32 },
    Child,
}

fn outcome_of(result: &std::result::Result<i64, Errno>) -> Outcome {
    match result {
        Ok(v) => Outcome::Ok(*v),
        Err(e) => Outcome::Err {
            errno: format!("{e:?}"),
            message: e.desc().to_string(),
        },
    }
}

/// The seam itself: makes calls and records them, tagged with the stage
/// that made them.
pub struct Sys<'r> {
    rec: &'r mut dyn Recorder,
    stage: StageId,
    pid: i32,
    /// Opened on first use, in whatever network namespace this process
    /// is in by then.
    netlink: Option<crate::netlink::Netlink>,
}

impl<'r> Sys<'r> {
    pub fn new(rec: &'r mut dyn Recorder, stage: StageId) -> Self {
        Sys {
            rec,
            stage,
            pid: std::process::id() as i32,
            netlink: None,
        }
    }

    pub fn explaining(&self) -> bool {
        self.rec.enabled()
    }

    /// Start a stage: later calls are recorded under it.
    pub fn stage(&mut self, stage: StageId) {
        self.stage = stage;
        if self.explaining() {
            self.rec.record(Event::Stage { stage });
        }
    }

    pub fn current_stage(&self) -> StageId {
        self.stage
    }

    /// Record anything that is not a system call (notes, observations).
    pub fn emit(&mut self, event: Event) {
        if self.explaining() {
            self.rec.record(event);
        }
    }

    pub fn note(&mut self, text: impl Into<String>) {
        if self.explaining() {
            let stage = self.stage;
            self.rec.record(Event::Note {
                stage,
                text: text.into(),
            });
        }
    }

    fn record_call(&mut self, call: Call, outcome: Outcome) {
        if self.explaining() {
            let text = call.to_string();
            let (stage, pid) = (self.stage, self.pid);
            self.rec.record(Event::Syscall {
                stage,
                pid,
                call,
                text,
                outcome,
            });
        }
    }

    /// Make one call and record it with its result.
    /// Close the netlink connection: it stays bound to the network
    /// namespace it was opened in, so a setns(2) to another needs a new one.
    pub fn forget_netlink(&mut self) {
        self.netlink = None;
    }

    /// This process's netlink connection, opened on first use.
    pub fn netlink(&mut self) -> Result<&crate::netlink::Netlink> {
        if self.netlink.is_none() {
            self.netlink = Some(crate::netlink::Netlink::connect()?);
        }
        self.netlink
            .as_ref()
            .ok_or_else(|| Error::failed("no netlink connection"))
    }

    pub fn call(&mut self, call: Call) -> Result<i64> {
        let result = match &call {
            Call::Netlink { request } => self.netlink()?.perform(request).map(|()| 0),
            other => other.perform(),
        };
        let outcome = outcome_of(&result);
        let result = result.map_err(|errno| Error::Syscall {
            call: call.to_string(),
            errno,
        });
        self.record_call(call, outcome);
        result
    }

    /// A fork-like clone into new namespaces: `clone3`, falling back to
    /// `clone` where the kernel lacks it. Only the parent records the call,
    /// with the child's pid as its result, as strace shows it.
    ///
    /// The caller must be single-threaded: the child is a copy of this
    /// process that must end in `exec` or `exit_now`.
    pub fn clone_process(&mut self, flags: u64, cgroup_fd: Option<i32>) -> Result<Forked> {
        let exit_signal = libc::SIGCHLD as u64;
        let mut call = Call::Clone3 {
            flags,
            exit_signal,
            cgroup_fd,
        };
        let mut result = call.perform();
        if result == Err(Errno::ENOSYS) && cgroup_fd.is_none() {
            self.record_call(call, outcome_of(&result));
            call = Call::Clone { flags, exit_signal };
            result = call.perform();
        }
        match result {
            Ok(0) => Ok(Forked::Child),
            Ok(child) => {
                self.record_call(call, Outcome::Ok(child));
                Ok(Forked::Parent {
                    child: child as i32,
                })
            }
            Err(errno) => {
                let text = call.to_string();
                self.record_call(call, outcome_of(&Err(errno)));
                Err(Error::Syscall { call: text, errno })
            }
        }
    }

    /// Replace this process. The call is recorded before it is made (a
    /// successful execve never returns to record anything); only a failure
    /// comes back, recorded and returned.
    pub fn execve(&mut self, path: &str, argv: &[String], env: &[String]) -> Error {
        let call = Call::Execve {
            path: path.to_string(),
            argv: argv.to_vec(),
            env: env.to_vec(),
        };
        self.record_call(call.clone(), Outcome::Pending);
        match call.perform() {
            Ok(_) => Error::failed("execve returned without an error"),
            Err(errno) => {
                let text = call.to_string();
                self.record_call(call, outcome_of(&Err(errno)));
                Error::Syscall { call: text, errno }
            }
        }
    }

    /// Run a helper program on the host and return what it printed, if
    /// it succeeded.
    pub fn capture(&mut self, argv: &[String]) -> Result<String> {
        let (code, output) = self.run_helper(argv)?;
        if code == 0 {
            Ok(output)
        } else {
            Err(Error::failed(format!(
                "{} failed with status {code}",
                argv.join(" ")
            )))
        }
    }

    /// Run a helper program on the host (iptables, ldd, busybox) and return
    /// its exit status and what it printed (stdout and stderr together).
    /// It is recorded as one event, the command line as a student would
    /// type it, under the helper's own pid: the clone and execve that
    /// start it are plumbing, not isolation. A failed execve is read from
    /// a close-on-exec pipe (closed unread: it worked).
    pub fn run_helper(&mut self, argv: &[String]) -> Result<(i32, String)> {
        use nix::fcntl::OFlag;
        use nix::unistd::{dup2_stderr, dup2_stdout, pipe2, read};
        use std::io::Read;

        let fail = |what: &str, e: Errno| Error::failed(format!("{what}: {}", e.desc()));
        let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| fail("pipe2", e))?;
        let (status_r, status_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| fail("pipe2", e))?;
        let exec = Call::Execve {
            path: argv.first().cloned().unwrap_or_default(),
            argv: argv.to_vec(),
            env: vec![
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin".into(),
                "LC_ALL=C".into(),
            ],
        };
        let fork = Call::Clone3 {
            flags: 0,
            exit_signal: libc::SIGCHLD as u64,
            cgroup_fd: None,
        };
        let child = match fork.perform() {
            Ok(0) => {
                drop((out_r, status_r));
                let errno = match dup2_stdout(&out_w).and_then(|()| dup2_stderr(&out_w)) {
                    Ok(()) => exec.perform().err().unwrap_or(Errno::EINVAL),
                    Err(e) => e,
                };
                let _ = nix::unistd::write(&status_w, &(errno as i32).to_ne_bytes());
                exit_now(127)
            }
            Ok(child) => child as i32,
            Err(errno) => {
                return Err(Error::Syscall {
                    call: fork.to_string(),
                    errno,
                });
            }
        };
        drop((out_w, status_w));
        let mut code = [0u8; 4];
        let exec_failed = match read(&status_r, &mut code) {
            Ok(4) => Some(Errno::from_raw(i32::from_ne_bytes(code))),
            _ => None,
        };
        let mut output = String::new();
        let read_result = std::fs::File::from(out_r).read_to_string(&mut output);
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
        let command = Call::Command {
            argv: argv.to_vec(),
        };
        let outcome = match (exec_failed, &status) {
            (Some(errno), _) => outcome_of(&Err(errno)),
            (None, Ok(nix::sys::wait::WaitStatus::Exited(_, code))) => {
                Outcome::Ok(i64::from(*code))
            }
            (None, _) => Outcome::Err {
                errno: "signal".into(),
                message: "killed by a signal".into(),
            },
        };
        let saved_pid = std::mem::replace(&mut self.pid, child);
        self.record_call(command, outcome);
        self.pid = saved_pid;
        if let Some(errno) = exec_failed {
            return Err(Error::Syscall {
                call: exec.to_string(),
                errno,
            });
        }
        read_result
            .map_err(|e| Error::failed(format!("reading the output of {}: {e}", argv.join(" "))))?;
        match status {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => Ok((code, output)),
            other => Err(Error::failed(format!(
                "{} failed: {other:?}",
                argv.join(" ")
            ))),
        }
    }

    pub fn mount(
        &mut self,
        source: Option<&str>,
        target: &str,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> Result<()> {
        self.call(Call::Mount {
            source: source.map(String::from),
            target: target.to_string(),
            fstype: fstype.map(String::from),
            flags,
            data: data.map(String::from),
        })
        .map(drop)
    }
}

// ---- unrecorded plumbing ----------------------------------------------------

/// End a forked child at once: no destructors, no atexit handlers, no
/// flushing of buffers that belong to the parent's copy of the process.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and never returns.
    unsafe { libc::_exit(code) }
}

/// Before exec, put back the default action of every signal diyc (or Rust's
/// runtime, which ignores SIGPIPE) may have changed, so the command starts
/// the way it would from a shell.
pub fn reset_signal_dispositions() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    for sig in Signal::iterator() {
        if matches!(sig, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL runs no code of ours in signal context.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
}

/// The cookie the kernel gives the calling thread's network namespace
/// (SO_NETNS_COOKIE, Linux 5.14): unlike the namespace's inode it is never
/// handed to another namespace until the next boot.
pub fn netns_cookie() -> Option<u64> {
    use std::os::fd::AsRawFd;
    // asm-generic value; libc exports it only in its raw uapi tree.
    const SO_NETNS_COOKIE: libc::c_int = 71;
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: the socket is open for the whole call, and cookie and len
    // point at a u64 and its size, which is what the kernel writes.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_flags_render_as_strace_joins_them() {
        assert_eq!(
            mount_flag_names(libc::MS_REC | libc::MS_PRIVATE),
            "MS_REC|MS_PRIVATE"
        );
        assert_eq!(mount_flag_names(0), "0");
        assert_eq!(mount_flag_names(1 << 40), "0x10000000000");
    }

    #[test]
    fn clone3_renders_like_strace() {
        let call = Call::Clone3 {
            flags: (libc::CLONE_NEWNS
                | libc::CLONE_NEWUTS
                | libc::CLONE_NEWIPC
                | libc::CLONE_NEWPID) as u64,
            exit_signal: libc::SIGCHLD as u64,
            cgroup_fd: None,
        };
        assert_eq!(
            call.to_string(),
            "clone3({flags=CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID, exit_signal=SIGCHLD, stack=NULL, stack_size=0}, 88)"
        );
    }

    #[test]
    fn mount_renders_nulls_and_quotes() {
        let call = Call::Mount {
            source: None,
            target: "/".into(),
            fstype: None,
            flags: libc::MS_REC | libc::MS_PRIVATE,
            data: None,
        };
        assert_eq!(
            call.to_string(),
            r#"mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)"#
        );
    }

    #[test]
    fn mknodat_decodes_type_mode_and_device() {
        let call = Call::Mknodat {
            path: "dev/null".into(),
            mode: libc::S_IFCHR | 0o666,
            major: 1,
            minor: 3,
        };
        assert_eq!(
            call.to_string(),
            r#"mknodat(AT_FDCWD, "dev/null", S_IFCHR|0666, makedev(0x1, 0x3))"#
        );
    }

    #[test]
    fn capability_calls_render_like_strace() {
        let capset = Call::Capset {
            effective: 0b11,
            permitted: 0b11,
            inheritable: 0b1,
        };
        assert_eq!(
            capset.to_string(),
            "capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHOWN|1<<CAP_DAC_OVERRIDE, permitted=1<<CAP_CHOWN|1<<CAP_DAC_OVERRIDE, inheritable=1<<CAP_CHOWN})"
        );
        assert_eq!(
            Call::CapbsetDrop { cap: 21 }.to_string(),
            "prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN)"
        );
        assert_eq!(
            Call::PrlimitNofile {
                soft: 1024,
                hard: 4096
            }
            .to_string(),
            "prlimit64(0, RLIMIT_NOFILE, {rlim_cur=1024, rlim_max=4*1024}, NULL)"
        );
        assert_eq!(
            Call::CloseRangeCloexec { first: 3 }.to_string(),
            "close_range(3, 4294967295, CLOSE_RANGE_CLOEXEC)"
        );
    }

    #[test]
    fn quote_escapes_like_strace() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
    }

    #[test]
    fn failed_call_is_recorded_with_its_errno() {
        struct Keep(Vec<Event>);
        impl Recorder for Keep {
            fn enabled(&self) -> bool {
                true
            }
            fn record(&mut self, event: Event) {
                self.0.push(event);
            }
        }
        let mut keep = Keep(Vec::new());
        let mut sys = Sys::new(&mut keep, StageId::Exec);
        let Err(err) = sys.call(Call::Chdir {
            path: "/nonexistent/diyc-test".into(),
        }) else {
            panic!("chdir into a missing directory succeeded");
        };
        assert!(
            err.to_string()
                .contains("chdir(\"/nonexistent/diyc-test\") failed")
        );
        match &keep.0[..] {
            [
                Event::Syscall {
                    outcome: Outcome::Err { errno, .. },
                    text,
                    ..
                },
            ] => {
                assert_eq!(errno, "ENOENT");
                assert_eq!(text, r#"chdir("/nonexistent/diyc-test")"#);
            }
            other => panic!("unexpected events {other:?}"),
        }
    }
}
