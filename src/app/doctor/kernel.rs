//! The system calls diyc leans on, each tried (src/sys/probe.rs); the
//! overlay filesystem every container's root is made of, and whether it
//! can be mounted inside a user namespace; and the terminal knob the
//! session stage is about.

use nix::errno::Errno;

use super::{Check, Who, errno_text, read};
use crate::stages::hardening::profile::kernel_version;
use crate::sys::probe::{self, Refused};

pub fn checks(who: &Who) -> Vec<Check> {
    vec![
        clone3(),
        clone_into_cgroup(),
        close_range(),
        openat2(),
        pidfd(),
        overlay(),
        overlay_in_user_namespace(who),
        tiocsti(),
    ]
}

fn version() -> String {
    let (major, minor) = kernel_version();
    format!("Linux {major}.{minor}")
}

fn refused(r: &Refused) -> String {
    format!("{} was refused: {}", r.step, errno_text(r.errno))
}

/// A call the kernel has but refused anyway: a seccomp filter (a
/// container's) is the usual reason.
const FILTERED: &str = "inside a container? its seccomp profile must allow the call (Docker's default does on recent versions)";

fn clone3() -> Check {
    let id = "kernel.clone3";
    match probe::clone3() {
        Ok(()) => Check::ok(id, "clone3 works"),
        Err(r) if r.errno == Errno::ENOSYS => Check::warn(
            id,
            format!("{}: {} is older than 5.3; diyc uses clone instead", refused(&r), version()),
        )
        .breaks(&["starting a container inside its cgroup (CLONE_INTO_CGROUP): the child is moved there after the clone"])
        .fix("a kernel of Linux 5.7 or later"),
        Err(r) => Check::fail(id, refused(&r))
            .breaks(&["diyc run (every container is started by clone3)"])
            .fix(FILTERED),
    }
}

fn clone_into_cgroup() -> Check {
    let id = "kernel.clone_into_cgroup";
    let Some((_, own)) = super::cgroups::own_cgroup2() else {
        return Check::info(
            id,
            "not tried: no cgroup v2 here, and v1 has no CLONE_INTO_CGROUP",
        );
    };
    let dir = own.display().to_string();
    match probe::clone_into_cgroup(&dir) {
        Ok(()) => Check::ok(id, format!("clone3 with CLONE_INTO_CGROUP works (into {dir})")),
        Err(r) if matches!(r.errno, Errno::E2BIG | Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {
            Check::warn(
                id,
                format!("{}: {} cannot start a process in a cgroup (Linux 5.7 can)", refused(&r), version()),
            )
            .breaks(&["nothing but speed: on cgroup v2 diyc moves the child into its cgroup after the clone"])
            .fix("a kernel of Linux 5.7 or later")
        }
        Err(r) if matches!(r.errno, Errno::EACCES | Errno::EPERM | Errno::EROFS) => Check::info(
            id,
            format!("not tried to the end: this user may not put a process in {dir}: {}", errno_text(r.errno)),
        ),
        Err(r) => Check::warn(id, refused(&r))
            .breaks(&["on cgroup v2 diyc moves the child into its cgroup after the clone instead"]),
    }
}

fn close_range() -> Check {
    let id = "kernel.close_range";
    match probe::close_range() {
        Ok(()) => Check::ok(id, "close_range works"),
        Err(r) if r.errno == Errno::ENOSYS => Check::warn(
            id,
            format!(
                "{}: {} is older than 5.9; diyc closes inherited descriptors one by one",
                refused(&r),
                version()
            ),
        )
        .fix("a kernel of Linux 5.9 or later"),
        Err(r) => Check::fail(id, refused(&r))
            .breaks(&[
                "diyc run (a container's first process closes what it inherited with close_range)",
            ])
            .fix(FILTERED),
    }
}

fn openat2() -> Check {
    let id = "kernel.openat2";
    match probe::openat2() {
        Ok(()) => Check::ok(id, "openat2 works"),
        Err(r) if r.errno == Errno::ENOSYS && kernel_version() < (5, 6) => Check::warn(
            id,
            format!("{}: {} is older than 5.6", refused(&r), version()),
        )
        .breaks(&["diyc run -v and --tmpfs (their targets are resolved inside the container's root by openat2)"])
        .fix("a kernel of Linux 5.6 or later"),
        Err(r) => Check::fail(id, format!("{} on {}, which has it", refused(&r), version()))
            .breaks(&["diyc run (diyc refuses to go on without the checks openat2 makes)"])
            .fix(FILTERED),
    }
}

fn pidfd() -> Check {
    let id = "kernel.pidfd";
    match probe::pidfd() {
        Ok(()) => Check::ok(id, "pidfd_open and pidfd_send_signal work"),
        Err(r) => {
            let fix = if r.errno == Errno::ENOSYS {
                "a kernel of Linux 5.3 or later"
            } else {
                FILTERED
            };
            Check::fail(id, format!("{} ({})", refused(&r), version()))
                .breaks(&["diyc exec, stop, kill and logs -f (they hold a container's process by a pidfd, so a reused pid is never signalled)"])
                .fix(fix)
        }
    }
}

fn overlay() -> Check {
    let id = "overlay.filesystem";
    let listed = read("/proc/filesystems").is_some_and(|t| {
        t.lines()
            .any(|l| l.split_whitespace().last() == Some("overlay"))
    });
    if listed {
        return Check::ok(id, "overlay is in /proc/filesystems");
    }
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let module = format!("/lib/modules/{release}/kernel/fs/overlayfs");
    if std::path::Path::new(&module).is_dir() {
        return Check::ok(
            id,
            format!("overlay is a module ({module}) not loaded yet: the first mount loads it"),
        );
    }
    Check::fail(id, "no overlay in /proc/filesystems, and no overlay module")
        .breaks(&[
            "diyc run (every container's root is an overlay of its image)",
            "diyc learn --step image and rootfs",
        ])
        .fix("a kernel with CONFIG_OVERLAY_FS (`sudo modprobe overlay` where it is a module)")
}

fn overlay_in_user_namespace(who: &Who) -> Check {
    let id = "overlay.userns";
    match probe::overlay_in_user_namespace() {
        Ok(()) => Check::ok(id, "overlayfs can be mounted inside a user namespace"),
        Err(r) if r.step.starts_with("unshare") => {
            Check::info(id, format!("not tried: {} (see ns.user)", refused(&r)))
        }
        Err(r) => {
            let fix = if kernel_version() < (5, 11) {
                "a kernel of Linux 5.11 or later, where overlayfs may be mounted in a user namespace"
            } else {
                "see the userns.* checks: something keeps this user's namespaces powerless"
            };
            Check::fail(id, format!("{} ({})", refused(&r), version()))
                .breaks(&["diyc run and the image and rootfs lessons without root (a rootless container's root is an overlay mounted in its user namespace)"])
                .fix(fix)
                .rootless_only(who)
        }
    }
}

fn tiocsti() -> Check {
    let id = "tty.legacy_tiocsti";
    match read("/proc/sys/dev/tty/legacy_tiocsti").as_deref() {
        None => Check::info(
            id,
            "no dev.tty.legacy_tiocsti (before Linux 6.2): a program handed a terminal can push input into it (TIOCSTI)",
        ),
        Some("0") => Check::info(
            id,
            "dev.tty.legacy_tiocsti = 0: the kernel refuses TIOCSTI without CAP_SYS_ADMIN, so the injection the session stage stops cannot be shown here (tests/session.rs)",
        ),
        Some(v) => Check::info(
            id,
            format!(
                "dev.tty.legacy_tiocsti = {v}: a program handed your terminal can push input into it; diyc gives a container a terminal of its own (-t), never yours"
            ),
        ),
    }
}
