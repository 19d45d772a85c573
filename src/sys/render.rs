//! Each call as strace prints it, so `--explain` and `strace -f` can be
//! read side by side: a system call from its one definition in syscall.rs,
//! the shell-form calls as a student would type them.

use std::fmt;

use super::call::Call;

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(syscall) = self.syscall() {
            let texts: Vec<&str> = syscall
                .args
                .iter()
                .filter_map(|a| a.text.as_deref())
                .collect();
            return write!(f, "{}({})", syscall.name, texts.join(", "));
        }
        match self {
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
            other => write!(f, "{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::spell::{mount_flag_names, quote};

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
        // A whiteout has no permission bits, which strace writes 000.
        let whiteout = Call::Mknodat {
            path: "etc/gone".into(),
            mode: libc::S_IFCHR,
            major: 0,
            minor: 0,
        };
        assert_eq!(
            whiteout.to_string(),
            r#"mknodat(AT_FDCWD, "etc/gone", S_IFCHR|000, makedev(0, 0))"#
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
            Call::CloseRange {
                first: 3,
                last: u32::MAX,
                cloexec: true
            }
            .to_string(),
            "close_range(3, 4294967295, CLOSE_RANGE_CLOEXEC)"
        );
        // strace's own rendering of these 40 bytes, with its default -s 32.
        let mut data = vec![0x7f, b'E', b'L', b'F', 2, 1, 1];
        data.extend([0; 9]);
        data.extend([
            2, 0, b'>', 0, 1, 0, 0, 0, b'1', b'2', 0x80, 0xff, b'"', b'\\', 9, 10,
        ]);
        data.extend([0; 8]);
        assert_eq!(
            Call::WriteBytes { fd: 3, data }.to_string(),
            r#"write(3, "\177ELF\2\1\1\0\0\0\0\0\0\0\0\0\2\0>\0\1\0\0\00012\200\377\"\\\t\n"..., 40)"#
        );
    }

    #[test]
    fn quote_escapes_like_strace() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
    }

    #[test]
    fn file_calls_render_like_strace() {
        let open = Call::Openat {
            path: "/etc/hosts".into(),
            flags: libc::O_WRONLY
                | libc::O_CREAT
                | libc::O_TRUNC
                | libc::O_NOFOLLOW
                | libc::O_CLOEXEC,
            mode: 0o644,
        };
        assert_eq!(
            open.to_string(),
            r#"openat(AT_FDCWD, "/etc/hosts", O_WRONLY|O_CREAT|O_TRUNC|O_NOFOLLOW|O_CLOEXEC, 0644)"#
        );
        let read = Call::Openat {
            path: "/x".into(),
            flags: libc::O_CLOEXEC,
            mode: 0,
        };
        assert_eq!(
            read.to_string(),
            r#"openat(AT_FDCWD, "/x", O_RDONLY|O_CLOEXEC)"#
        );
        let write = Call::Write {
            fd: 5,
            data: "a\tb\n".into(),
        };
        assert_eq!(write.to_string(), r#"write(5, "a\tb\n", 4)"#);
        assert_eq!(Call::Close { fd: 5 }.to_string(), "close(5)");
        assert_eq!(
            Call::Unlink { path: "/f".into() }.to_string(),
            r#"unlinkat(AT_FDCWD, "/f", 0)"#
        );
        assert_eq!(
            Call::Kill {
                pid: 42,
                signal: libc::SIGKILL
            }
            .to_string(),
            "kill(42, SIGKILL)"
        );
    }
}
