//! Probes for `diyc doctor`: does this kernel, for this user, do what diyc
//! will ask of it? Each tries the thing itself, never a stand-in, and
//! changes nothing of the host: a call that makes nothing lasting (a
//! descriptor opened and closed, an empty range of descriptors closed), or
//! a forked child that makes its own namespaces, works in them and exits,
//! taking them along. Nothing is recorded: doctor explains no calls.

use std::io::Read;
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{AccessFlags, Pid, access, pipe2};

use super::call::Call;
use super::plumbing::exit_now;

/// Where a probe was refused: the step, as the report names it, and the
/// kernel's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub step: &'static str,
    pub errno: Errno,
}

pub type Answer = Result<(), Refused>;

fn refused(step: &'static str) -> impl Fn(Errno) -> Refused {
    move |errno| Refused { step, errno }
}

/// A child that is a copy of this process, by clone3, or by clone on a
/// kernel without it. Only the child sees Ok(0).
fn fork() -> Result<i64, Errno> {
    let exit_signal = libc::SIGCHLD as u64;
    let modern = Call::Clone3 {
        flags: 0,
        exit_signal,
        cgroup_fd: None,
    };
    match modern.perform() {
        Err(Errno::ENOSYS) => Call::Clone {
            flags: 0,
            exit_signal,
        }
        .perform(),
        other => other,
    }
}

/// Wait for a probe's child; true when it exited with status 0.
fn reaped(child: i64) -> bool {
    let pid = Pid::from_raw(child as i32);
    loop {
        match waitpid(pid, None) {
            Err(Errno::EINTR) => continue,
            Ok(WaitStatus::Exited(_, 0)) => return true,
            _ => return false,
        }
    }
}

/// Run `body` in a forked child, which may change its own namespaces
/// freely: they end with it. Its refusal comes back through a pipe, as
/// the step's index in `steps` and the errno. The caller must be
/// single-threaded, as diyc is while it probes.
fn in_child(
    steps: &'static [&'static str],
    body: impl FnOnce() -> Result<(), (usize, Errno)>,
) -> Answer {
    let whole = refused("starting the probe's child");
    let (read_end, write_end) = pipe2(OFlag::O_CLOEXEC).map_err(&whole)?;
    let child = fork().map_err(&whole)?;
    if child == 0 {
        drop(read_end);
        let code = match body() {
            Ok(()) => 0,
            Err((step, errno)) => {
                let mut message = [0u8; 8];
                message[..4].copy_from_slice(&(step as u32).to_ne_bytes());
                message[4..].copy_from_slice(&(errno as i32).to_ne_bytes());
                let _ = nix::unistd::write(&write_end, &message);
                1
            }
        };
        exit_now(code);
    }
    drop(write_end);
    let mut message = Vec::new();
    let read = std::fs::File::from(read_end).read_to_end(&mut message);
    let clean = reaped(child);
    match (read, message.get(..4), message.get(4..8)) {
        (Ok(_), Some(step), Some(errno)) => {
            let word = |b: &[u8]| <[u8; 4]>::try_from(b).map_or(0, i32::from_ne_bytes);
            let step = usize::try_from(word(step)).unwrap_or(usize::MAX);
            Err(Refused {
                step: steps.get(step).copied().unwrap_or("the probe"),
                errno: Errno::from_raw(word(errno)),
            })
        }
        (Ok(_), None, _) if clean => Ok(()),
        _ => Err(Refused {
            step: "the probe's child",
            errno: Errno::ECHILD,
        }),
    }
}

/// unshare(2) of `flags` in a child: can this process make these
/// namespaces? (With CLONE_NEWUSER among them the others are made inside
/// the new user namespace, as rootless diyc makes them.)
pub fn unshare(flags: u64) -> Answer {
    in_child(&["unshare"], || {
        Call::Unshare { flags }
            .perform()
            .map(drop)
            .map_err(|e| (0, e))
    })
}

const OVERLAY_STEPS: &[&str] = &[
    "unshare(CLONE_NEWUSER|CLONE_NEWNS)",
    "writing the user namespace's uid and gid maps",
    "making the child's mounts private",
    "mounting a tmpfs on /tmp in the child's mount namespace",
    "making the overlay's directories",
    "mounting overlayfs",
];

/// Mount a read-only overlay of two empty directories inside a new user
/// and mount namespace, the way rootless diyc mounts a container's root
/// (Linux 5.11 lets overlayfs be mounted there). The directories are on a
/// tmpfs of the child's own, so nothing of the host is written.
pub fn overlay_in_user_namespace() -> Answer {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    in_child(OVERLAY_STEPS, move || {
        let step = |n: usize| move |e: Errno| (n, e);
        let flags = (libc::CLONE_NEWUSER | libc::CLONE_NEWNS) as u64;
        Call::Unshare { flags }.perform().map_err(step(0))?;
        for (file, value) in [
            ("/proc/self/setgroups", "deny".to_string()),
            ("/proc/self/uid_map", format!("0 {uid} 1")),
            ("/proc/self/gid_map", format!("0 {gid} 1")),
        ] {
            let path = file.to_string();
            Call::WriteFile { path, value }.perform().map_err(step(1))?;
        }
        let mount = |source: Option<&str>, target: &str, fstype: Option<&str>, flags, data| {
            Call::Mount {
                source: source.map(String::from),
                target: target.to_string(),
                fstype: fstype.map(String::from),
                flags,
                data,
            }
            .perform()
        };
        let private = libc::MS_REC | libc::MS_PRIVATE;
        mount(None, "/", None, private, None).map_err(step(2))?;
        mount(Some("diyc-doctor"), "/tmp", Some("tmpfs"), 0, None).map_err(step(3))?;
        for dir in ["/tmp/lower1", "/tmp/lower2", "/tmp/merged"] {
            let path = dir.to_string();
            Call::Mkdirat { path, mode: 0o755 }
                .perform()
                .map_err(step(4))?;
        }
        let lower = Some("lowerdir=/tmp/lower1:/tmp/lower2".to_string());
        let read_only = libc::MS_RDONLY;
        mount(
            Some("overlay"),
            "/tmp/merged",
            Some("overlay"),
            read_only,
            lower,
        )
        .map(drop)
        .map_err(step(5))
    })
}

/// clone3 with CLONE_INTO_CGROUP into the cgroup v2 directory `dir`
/// (this process's own: the child lands where it already is, and exits).
pub fn clone_into_cgroup(dir: &str) -> Answer {
    let directory = std::fs::File::open(dir).map_err(|e| Refused {
        step: "opening the cgroup directory",
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })?;
    clone3_with(Some(directory.as_raw_fd()))
}

/// A plain clone3, as every container's first process is made.
pub fn clone3() -> Answer {
    clone3_with(None)
}

fn clone3_with(cgroup_fd: Option<i32>) -> Answer {
    let call = Call::Clone3 {
        flags: 0,
        exit_signal: libc::SIGCHLD as u64,
        cgroup_fd,
    };
    match call.perform() {
        Ok(0) => exit_now(0),
        Ok(child) if reaped(child) => Ok(()),
        Ok(_) => Err(refused("the probe's child")(Errno::ECHILD)),
        Err(errno) => Err(refused("clone3")(errno)),
    }
}

/// close_range(2) over descriptors no process can have open: the kernel
/// answers whether it knows the call, and closes nothing.
pub fn close_range() -> Answer {
    Call::CloseRange {
        first: u32::MAX - 1,
        last: u32::MAX,
        cloexec: false,
    }
    .perform()
    .map(drop)
    .map_err(refused("close_range"))
}

/// openat2(2) of `/` with the resolve flags diyc passes.
pub fn openat2() -> Answer {
    let fd = Call::Openat2 {
        dir: libc::AT_FDCWD,
        path: "/".into(),
        flags: libc::O_PATH | libc::O_CLOEXEC | libc::O_DIRECTORY,
        resolve: libc::RESOLVE_NO_MAGICLINKS,
    }
    .perform()
    .map_err(refused("openat2"))?;
    let _ = Call::Close { fd: fd as i32 }.perform();
    Ok(())
}

/// pidfd_open(2) of this process, and pidfd_send_signal(2) of signal 0
/// through it, which checks and sends nothing.
pub fn pidfd() -> Answer {
    let pid = std::process::id() as i32;
    let fd = Call::PidfdOpen { pid }
        .perform()
        .map_err(refused("pidfd_open"))? as i32;
    let sent = Call::PidfdSendSignal { fd, signal: 0 }.perform();
    let _ = Call::Close { fd }.perform();
    sent.map(drop).map_err(refused("pidfd_send_signal"))
}

/// Whether this user may write `path` (access(2), by the real ids).
pub fn writable(path: &str) -> bool {
    access(path, AccessFlags::W_OK).is_ok()
}

/// Whether `path` carries file capabilities (security.capability).
pub fn has_file_capabilities(path: &str) -> bool {
    matches!(xattr::get(path, "security.capability"), Ok(Some(v)) if !v.is_empty())
}
