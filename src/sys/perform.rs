//! Making each call: one raw `syscall(2)` per call, not a libc wrapper,
//! so the name recorded is the name `strace -f` shows (glibc turns `mknod`
//! into `mknodat`, `fork` into `clone`, and so on). This is the only
//! place diyc makes these system calls.

use std::ffi::CString;

use nix::errno::Errno;

use super::call::{CLONE_INTO_CGROUP, Call};

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

/// What clone3 is told the size of its arguments is, and strace shows.
pub(super) const CLONE_ARGS_SIZE: usize = std::mem::size_of::<CloneArgs>();

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
    /// Make the call. Netlink requests and helper programs are made by
    /// `Sys`, which holds the connection and forks the helper.
    pub(super) fn perform(&self) -> std::result::Result<i64, Errno> {
        let ret: libc::c_long = match self {
            Call::WriteFile { path, value } => return write_file(path, value),
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
                    libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, CLONE_ARGS_SIZE)
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
            Call::Unlink { path } => {
                let path = cstr(path)?;
                // SAFETY: `path` is a NUL-terminated string alive for the call.
                unsafe { libc::syscall(libc::SYS_unlinkat, libc::AT_FDCWD, path.as_ptr(), 0) }
            }
            Call::Openat { path, flags, mode } => {
                let path = cstr(path)?;
                // SAFETY: `path` is a NUL-terminated string alive for the call;
                // the descriptor returned is the caller's to close.
                unsafe {
                    libc::syscall(
                        libc::SYS_openat,
                        libc::AT_FDCWD,
                        path.as_ptr(),
                        *flags,
                        *mode,
                    )
                }
            }
            Call::Write { fd, data } => {
                // SAFETY: pointer and length describe `data`'s bytes; a bad fd
                // is reported as EBADF.
                unsafe { libc::syscall(libc::SYS_write, *fd, data.as_ptr(), data.len()) }
            }
            Call::Close { fd } => {
                // SAFETY: closes a descriptor this process opened through
                // `Openat`, which nothing else holds.
                unsafe { libc::syscall(libc::SYS_close, *fd) }
            }
            Call::Kill { pid, signal } => {
                // SAFETY: integers only; a pid that is gone is ESRCH.
                unsafe { libc::syscall(libc::SYS_kill, *pid, *signal) }
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
