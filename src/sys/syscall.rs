//! Each call, once: the system call it is, and each argument both as the
//! kernel is passed it and as strace prints it. perform.rs passes the
//! values; render.rs prints the texts; so what `--explain` shows cannot
//! drift from what is made. (Calls that are not one system call, the
//! shell-form ones, have no entry here.)

use super::args::{Syscall, Value, arg, at_fdcwd, hidden, int, num, path, sc};
use super::call::{CLONE_INTO_CGROUP, Call};
use super::spell::{
    MEMFD_FLAGS, RESOLVE_FLAGS, UMOUNT_FLAGS, clone_flag_names, file_type_name, flag_names, hex,
    mount_flag_names, open_flag_names, quote, quote_bytes, quote_list, quote_opt, signal_name,
};

/// The kernel's `struct clone_args` (linux/sched.h), up to `cgroup`:
/// flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
/// tls, set_tid, set_tid_size, cgroup.
const CLONE_ARGS_WORDS: usize = 11;
pub(super) const CLONE_ARGS_SIZE: usize = CLONE_ARGS_WORDS * 8;

/// The size of `struct sockaddr_un`: a family and 108 bytes of path.
pub(super) const SOCKADDR_UN_SIZE: usize = std::mem::size_of::<libc::sockaddr_un>();

/// linux/keyctl.h.
const KEYCTL_JOIN_SESSION_KEYRING: i64 = 1;

impl Call {
    /// The system call this is, or None for a shell-form call (several
    /// calls, a netlink message, a program).
    pub(super) fn syscall(&self) -> Option<Syscall> {
        self.process()
            .or_else(|| self.namespace())
            .or_else(|| self.mount())
            .or_else(|| self.file())
            .or_else(|| self.terminal())
            .or_else(|| self.privilege())
    }

    /// Processes: made, replaced, signalled.
    fn process(&self) -> Option<Syscall> {
        match self {
            Call::Clone3 {
                flags,
                exit_signal,
                cgroup_fd,
            } => {
                let all = *flags | cgroup_fd.map_or(0, |_| CLONE_INTO_CGROUP);
                let mut words = [0u64; CLONE_ARGS_WORDS];
                (words[0], words[4]) = (all, *exit_signal);
                let mut text = format!(
                    "{{flags={}, exit_signal={}, stack=NULL, stack_size=0",
                    clone_flag_names(all),
                    signal_name(*exit_signal)
                );
                if let Some(fd) = cgroup_fd {
                    words[10] = *fd as u64;
                    text.push_str(&format!(", cgroup={fd}"));
                }
                text.push('}');
                let args = vec![
                    arg(Value::Words64(words.to_vec()), text),
                    num(CLONE_ARGS_SIZE as i64),
                ];
                sc("clone3", libc::SYS_clone3, args)
            }
            // With a NULL stack, clone behaves like fork.
            Call::Clone { flags, exit_signal } => {
                let text = format!(
                    "flags={}|{}",
                    clone_flag_names(*flags),
                    signal_name(*exit_signal)
                );
                let args = vec![
                    arg(Value::Nothing, "child_stack=NULL"),
                    int((*flags | *exit_signal) as i64, text),
                    hidden(0),
                    hidden(0),
                    hidden(0),
                    hidden(0),
                ];
                sc("clone", libc::SYS_clone, args)
            }
            Call::Kill { pid, signal } => sc(
                "kill",
                libc::SYS_kill,
                vec![
                    num((*pid).into()),
                    int((*signal).into(), signal_name(*signal as u64)),
                ],
            ),
            Call::PidfdOpen { pid } => sc(
                "pidfd_open",
                libc::SYS_pidfd_open,
                vec![num((*pid).into()), num(0)],
            ),
            Call::PidfdSendSignal { fd, signal } => sc(
                "pidfd_send_signal",
                libc::SYS_pidfd_send_signal,
                vec![
                    num((*fd).into()),
                    int((*signal).into(), signal_name(*signal as u64)),
                    arg(Value::OptStr(None), "NULL"),
                    num(0),
                ],
            ),
            Call::Setsid => sc("setsid", libc::SYS_setsid, vec![]),
            Call::JoinSessionKeyring => sc(
                "keyctl",
                libc::SYS_keyctl,
                vec![
                    int(KEYCTL_JOIN_SESSION_KEYRING, "KEYCTL_JOIN_SESSION_KEYRING"),
                    arg(Value::OptStr(None), "NULL"),
                ],
            ),
            Call::Execve { path: p, argv, env } => sc(
                "execve",
                libc::SYS_execve,
                vec![
                    path(p),
                    arg(Value::List(argv.clone()), quote_list(argv)),
                    arg(Value::List(env.clone()), quote_list(env)),
                ],
            ),
            Call::Execveat { fd, argv, env } => sc(
                "execveat",
                libc::SYS_execveat,
                vec![
                    num((*fd).into()),
                    path(""),
                    arg(Value::List(argv.clone()), quote_list(argv)),
                    arg(Value::List(env.clone()), quote_list(env)),
                    int(libc::AT_EMPTY_PATH.into(), "AT_EMPTY_PATH"),
                ],
            ),
            Call::MemfdCreate { name, flags } => sc(
                "memfd_create",
                libc::SYS_memfd_create,
                vec![
                    path(name),
                    int((*flags).into(), flag_names((*flags).into(), MEMFD_FLAGS)),
                ],
            ),
            Call::SealForGood { fd } => {
                let seals = libc::F_SEAL_SEAL
                    | libc::F_SEAL_SHRINK
                    | libc::F_SEAL_GROW
                    | libc::F_SEAL_WRITE;
                sc(
                    "fcntl",
                    libc::SYS_fcntl,
                    vec![
                        num((*fd).into()),
                        int(libc::F_ADD_SEALS.into(), "F_ADD_SEALS"),
                        int(
                            seals.into(),
                            "F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE",
                        ),
                    ],
                )
            }
            _ => None,
        }
    }

    /// Namespaces and the names the UTS namespace holds.
    fn namespace(&self) -> Option<Syscall> {
        match self {
            Call::Unshare { flags } => sc(
                "unshare",
                libc::SYS_unshare,
                vec![int(*flags as i64, clone_flag_names(*flags))],
            ),
            Call::Setns { fd, nstype } => sc(
                "setns",
                libc::SYS_setns,
                vec![
                    num((*fd).into()),
                    int(*nstype as i64, clone_flag_names(*nstype)),
                ],
            ),
            Call::Sethostname { name } => sc(
                "sethostname",
                libc::SYS_sethostname,
                vec![path(name), num(name.len() as i64)],
            ),
            Call::Setdomainname { name } => sc(
                "setdomainname",
                libc::SYS_setdomainname,
                vec![path(name), num(name.len() as i64)],
            ),
            _ => None,
        }
    }

    /// The mount table and the root.
    fn mount(&self) -> Option<Syscall> {
        match self {
            Call::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => {
                let opt = |s: &Option<String>| arg(Value::OptStr(s.clone()), quote_opt(s));
                let args = vec![
                    opt(source),
                    path(target),
                    opt(fstype),
                    int(*flags as i64, mount_flag_names(*flags)),
                    opt(data),
                ];
                sc("mount", libc::SYS_mount, args)
            }
            Call::Umount2 { target, flags } => {
                let shown = flag_names(*flags as u64, UMOUNT_FLAGS);
                sc(
                    "umount2",
                    libc::SYS_umount2,
                    vec![path(target), int((*flags).into(), shown)],
                )
            }
            Call::PivotRoot { new_root, put_old } => sc(
                "pivot_root",
                libc::SYS_pivot_root,
                vec![path(new_root), path(put_old)],
            ),
            Call::Chroot { path: p } => sc("chroot", libc::SYS_chroot, vec![path(p)]),
            _ => None,
        }
    }

    /// Files, directories and device nodes.
    fn file(&self) -> Option<Syscall> {
        match self {
            Call::Mknodat {
                path: p,
                mode,
                major,
                minor,
            } => {
                // strace's "%#03o": a whiteout's bare 0 is "000".
                let perm = format!("0{:o}", mode & 0o7777);
                let kind = format!("{}|{perm:0>3}", file_type_name(*mode));
                let dev = libc::makedev(*major, *minor);
                let args = vec![
                    at_fdcwd(),
                    path(p),
                    int((*mode).into(), kind),
                    int(
                        dev as i64,
                        format!("makedev({}, {})", hex(*major), hex(*minor)),
                    ),
                ];
                sc("mknodat", libc::SYS_mknodat, args)
            }
            Call::Mkdirat { path: p, mode } => sc(
                "mkdirat",
                libc::SYS_mkdirat,
                vec![
                    at_fdcwd(),
                    path(p),
                    int((*mode).into(), format!("0{mode:o}")),
                ],
            ),
            Call::Symlinkat { target, linkpath } => sc(
                "symlinkat",
                libc::SYS_symlinkat,
                vec![path(target), at_fdcwd(), path(linkpath)],
            ),
            Call::Chdir { path: p } => sc("chdir", libc::SYS_chdir, vec![path(p)]),
            Call::Fchdir { fd } => sc("fchdir", libc::SYS_fchdir, vec![num((*fd).into())]),
            Call::Openat2 {
                dir,
                path: p,
                flags,
                resolve,
            } => {
                let how = format!(
                    "{{flags={}, resolve={}}}",
                    open_flag_names(*flags),
                    flag_names(*resolve, RESOLVE_FLAGS)
                );
                let dir = if *dir == libc::AT_FDCWD {
                    at_fdcwd()
                } else {
                    num((*dir).into())
                };
                // struct open_how: flags, mode, resolve.
                let words = vec![*flags as u64, 0, *resolve];
                sc(
                    "openat2",
                    libc::SYS_openat2,
                    vec![dir, path(p), arg(Value::Words64(words), how), num(24)],
                )
            }
            Call::Rmdir { path: p } => sc(
                "unlinkat",
                libc::SYS_unlinkat,
                vec![
                    at_fdcwd(),
                    path(p),
                    int(libc::AT_REMOVEDIR.into(), "AT_REMOVEDIR"),
                ],
            ),
            Call::Unlink { path: p } => sc(
                "unlinkat",
                libc::SYS_unlinkat,
                vec![at_fdcwd(), path(p), num(0)],
            ),
            Call::Lsetxattr {
                path: p,
                name,
                value,
            } => sc(
                "lsetxattr",
                libc::SYS_lsetxattr,
                vec![
                    path(p),
                    path(name),
                    arg(Value::Bytes(value.clone()), quote_bytes(value, 32)),
                    num(value.len() as i64),
                    num(0),
                ],
            ),
            Call::Openat {
                path: p,
                flags,
                mode,
            } => {
                // strace shows the mode only where O_CREAT makes it count.
                let mode = if flags & libc::O_CREAT != 0 {
                    int((*mode).into(), format!("0{mode:o}"))
                } else {
                    hidden((*mode).into())
                };
                let flags = int((*flags).into(), open_flag_names(*flags));
                sc(
                    "openat",
                    libc::SYS_openat,
                    vec![at_fdcwd(), path(p), flags, mode],
                )
            }
            Call::Write { fd, data } => sc(
                "write",
                libc::SYS_write,
                vec![
                    num((*fd).into()),
                    arg(Value::Bytes(data.as_bytes().to_vec()), quote(data)),
                    num(data.len() as i64),
                ],
            ),
            Call::WriteBytes { fd, data } => sc(
                "write",
                libc::SYS_write,
                vec![
                    num((*fd).into()),
                    arg(Value::Bytes(data.clone()), quote_bytes(data, 32)),
                    num(data.len() as i64),
                ],
            ),
            Call::Close { fd } => sc("close", libc::SYS_close, vec![num((*fd).into())]),
            Call::Bind { fd, path: p } => {
                // struct sockaddr_un: the family, then the path, NUL-padded;
                // Sys::listen_unix refuses a path that does not fit.
                let mut addr = vec![0u8; SOCKADDR_UN_SIZE];
                addr[..2].copy_from_slice(&(libc::AF_UNIX as u16).to_ne_bytes());
                for (to, from) in addr[2..SOCKADDR_UN_SIZE - 1].iter_mut().zip(p.bytes()) {
                    *to = from;
                }
                let shown = format!("{{sa_family=AF_UNIX, sun_path={}}}", quote(p));
                sc(
                    "bind",
                    libc::SYS_bind,
                    vec![
                        num((*fd).into()),
                        arg(Value::Bytes(addr), shown),
                        num(SOCKADDR_UN_SIZE as i64),
                    ],
                )
            }
            _ => None,
        }
    }
}
