//! Each call as strace prints it, so `--explain` and `strace -f` can be
//! read side by side: flags by name, strings quoted and escaped, numbers in
//! strace's own bases.

use std::fmt::{self, Write as _};

use super::call::{CLONE_INTO_CGROUP, Call};
use super::caps::{cap_name, cap_set_names};
use super::perform::CLONE_ARGS_SIZE;

/// strace writes a multiple of 1024 above 1024 as `N*1024`.
fn rlim(value: u64) -> String {
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

const UMOUNT_FLAGS: &[(u64, &str)] = &[
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
    (libc::O_TRUNC as u64, "O_TRUNC"),
    (libc::O_APPEND as u64, "O_APPEND"),
    (libc::O_DIRECTORY as u64, "O_DIRECTORY"),
    (libc::O_NOFOLLOW as u64, "O_NOFOLLOW"),
    (libc::O_CLOEXEC as u64, "O_CLOEXEC"),
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

fn open_flag_names(flags: i32) -> String {
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
                write!(f, "}}, {})", CLONE_ARGS_SIZE)
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
            Call::Unlink { path } => write!(f, "unlinkat(AT_FDCWD, {}, 0)", quote(path)),
            Call::Openat { path, flags, mode } => {
                write!(
                    f,
                    "openat(AT_FDCWD, {}, {}",
                    quote(path),
                    open_flag_names(*flags)
                )?;
                if flags & libc::O_CREAT != 0 {
                    write!(f, ", 0{mode:o}")?;
                }
                write!(f, ")")
            }
            Call::Write { fd, data } => write!(f, "write({fd}, {}, {})", quote(data), data.len()),
            Call::Close { fd } => write!(f, "close({fd})"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::call::Call;

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
}
