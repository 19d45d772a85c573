//! The child's last checks before the exec, made from inside the new
//! root: the working directory entered without leaving it, and a command
//! whose path does not lead out through one of /proc's links.

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::sys::{Call, Sys};

/// Enter the working directory `dir` as the container's root sees it:
/// symlinks in the image are followed as if its root were `/`, and a walk
/// through /proc's links is refused. Then check the result is inside.
pub(super) fn enter_workdir(sys: &mut Sys, dir: &str) -> Result<()> {
    let failed = |e: Error| match e.errno() {
        Some(Errno::ELOOP) => Error::Container(format!(
            "working directory {dir}: a symlink loop, or a /proc link that leads out of the container"
        )),
        Some(errno) => Error::Container(format!("working directory {dir}: {}", errno.desc())),
        None => e,
    };
    let path_only = libc::O_PATH | libc::O_CLOEXEC;
    let root = sys.call(Call::Openat {
        path: "/".into(),
        flags: path_only | libc::O_DIRECTORY,
        mode: 0,
    })? as i32;
    let opened = sys.call(Call::Openat2 {
        dir: root,
        path: dir.to_string(),
        flags: path_only | libc::O_DIRECTORY,
        // Never through one of /proc's links to another process's files
        // (its fds, its root, its binary), which lead outside the container.
        resolve: libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_IN_ROOT,
    });
    sys.call(Call::Close { fd: root })?;
    let fd = match opened {
        // openat2 came with Linux 5.6: there the descriptors closed at the
        // clone are what keeps a plain chdir inside.
        Err(e) if e.errno() == Some(Errno::ENOSYS) && before_openat2()? => {
            sys.call(Call::Chdir { path: dir.into() }).map_err(failed)?;
            return check_cwd(dir);
        }
        other => other.map_err(failed)? as i32,
    };
    let entered = sys.call(Call::Fchdir { fd });
    sys.call(Call::Close { fd })?;
    entered.map_err(failed)?;
    check_cwd(dir)
}

/// Whether this kernel is older than openat2 (Linux 5.6), the one case
/// where walking without it is right. A newer kernel answering ENOSYS
/// means a seccomp profile left openat2 out: refused, since the checks
/// would silently go.
fn before_openat2() -> Result<bool> {
    let version = crate::stages::hardening::profile::kernel_version();
    if version < (5, 6) {
        return Ok(true);
    }
    Err(Error::Container(
        "openat2 was refused (ENOSYS) on a kernel that has it: does the seccomp profile leave it out?".into(),
    ))
}

/// The kernel names a working directory outside the process's root
/// "(unreachable)..." rather than with a path from `/`.
fn check_cwd(dir: &str) -> Result<()> {
    match std::env::current_dir() {
        Ok(cwd) if cwd.is_absolute() => Ok(()),
        _ => Err(Error::Container(format!(
            "working directory {dir} is outside the container"
        ))),
    }
}

/// Refuse a command whose path leads out of the container through one
/// of /proc's links (an image whose /bin/sh points at /proc/self/exe).
pub(super) fn check_inside(sys: &mut Sys, path: &str) -> Result<()> {
    let opened = sys.call(Call::Openat2 {
        dir: libc::AT_FDCWD,
        path: path.to_string(),
        flags: libc::O_PATH | libc::O_CLOEXEC,
        resolve: libc::RESOLVE_NO_MAGICLINKS,
    });
    match opened {
        Ok(fd) => sys.call(Call::Close { fd: fd as i32 }).map(drop),
        Err(e) if e.errno() == Some(Errno::ELOOP) => Err(Error::Command {
            message: format!(
                "{path}: a symlink loop, or a /proc link that leads out of the container"
            ),
            code: 126,
        }),
        Err(e) if e.errno() == Some(Errno::ENOSYS) && before_openat2()? => Ok(()),
        Err(e) => Err(match e.errno() {
            Some(errno) => Error::Command {
                message: format!("cannot execute {path}: {}", errno.desc()),
                code: if errno == Errno::ENOENT { 127 } else { 126 },
            },
            None => e,
        }),
    }
}
