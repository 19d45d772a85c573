//! The trampoline's line: busybox `true` started the way diyc starts a
//! container's command (the trampoline written into a sealed memfd, then
//! executed from it, and it executes the command) against busybox `true`
//! executed directly. The difference is what the defence against
//! /proc/self/exe costs a run.

use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Contender, timed};

/// The program diyc carries, built by build.rs.
const TRAMPOLINE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/trampoline"));

/// Each round makes its memfd, as each diyc run does.
fn through_trampoline(busybox: &Path) -> Result<std::time::Duration, String> {
    let start = std::time::Instant::now();
    // SAFETY: memfd_create takes a C string and flags; without
    // MFD_CLOEXEC the descriptor reaches the child, which executes it.
    let raw = unsafe { libc::memfd_create(c"diyc-trampoline".as_ptr(), libc::MFD_ALLOW_SEALING) };
    if raw < 0 {
        return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a new descriptor, owned from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut file = std::fs::File::from(fd);
    file.write_all(TRAMPOLINE)
        .map_err(|e| format!("writing the trampoline: {e}"))?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on a descriptor this function owns.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(format!("sealing: {}", std::io::Error::last_os_error()));
    }
    let mut cmd = Command::new(format!("/proc/self/fd/{}", file.as_raw_fd()));
    cmd.arg0("diyc-trampoline").arg(busybox).arg("true");
    timed(&mut cmd)?;
    Ok(start.elapsed())
}

pub fn contenders(busybox: PathBuf) -> Vec<Contender<'static>> {
    let direct = busybox.clone();
    vec![
        Contender {
            label: "busybox true, direct",
            run: Box::new(move |_| timed(Command::new(&direct).arg("true"))),
            times: Vec::new(),
        },
        Contender {
            label: "busybox true, by the trampoline",
            run: Box::new(move |_| through_trampoline(&busybox)),
            times: Vec::new(),
        },
    ]
}
