//! The few other calls that need `unsafe`: leaving a forked child,
//! resetting signal dispositions before exec, reading a network
//! namespace's cookie, and running a piece of diyc's own work at idle
//! priority. They change nothing of the host or of isolation, so they are
//! not recorded.

/// Run `work` with the calling thread at idle priority (SCHED_IDLE), then
/// put its policy back: for clean-up that is nobody's wait, so that it
/// takes no CPU another process wants. Only as root: without it a thread
/// may lower itself but, under the default RLIMIT_NICE, never come back.
/// When the policy cannot be changed, `work` runs as it is.
pub fn at_idle_priority<T>(work: impl FnOnce() -> T) -> T {
    // SAFETY: sched_getscheduler(0) reads the calling thread's policy.
    let policy = unsafe { libc::sched_getscheduler(0) };
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: param is a valid, writable sched_param for the call to fill.
    let known = policy >= 0
        && nix::unistd::geteuid().is_root()
        && unsafe { libc::sched_getparam(0, &mut param) } == 0;
    let idle = libc::sched_param { sched_priority: 0 };
    // SAFETY: a valid policy and a sched_param that lives across the call.
    let lowered = known && unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &idle) } == 0;
    let result = work();
    if lowered {
        // SAFETY: the policy and parameters read above, put back as they were.
        unsafe { libc::sched_setscheduler(0, policy, &param) };
    }
    result
}

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

/// One message from a SOCK_SEQPACKET socket, with the descriptor passed
/// along with it (SCM_RIGHTS), if any, now owned by this process. The
/// length is the message's whole length, even past `buf` (MSG_TRUNC).
pub fn recv_message(
    socket: std::os::fd::BorrowedFd,
    buf: &mut [u8],
) -> nix::Result<(usize, Option<std::os::fd::OwnedFd>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_TRUNC | MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let raw = msg
        .cmsgs()
        .ok()
        .into_iter()
        .flatten()
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        });
    // SAFETY: a descriptor the kernel just installed in this process with
    // the message; nothing else knows of it.
    let fd = raw.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
    Ok((msg.bytes, fd))
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

/// The monotonic clock in microseconds. Every process of a run reads the
/// same one (diyc, the container's first process, the benchmark), so the
/// times of their events line up; 0 if it cannot be read.
pub fn monotonic_us() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| {
            let secs = u64::try_from(t.tv_sec()).unwrap_or(0);
            let nanos = u64::try_from(t.tv_nsec()).unwrap_or(0);
            secs * 1_000_000 + nanos / 1000
        })
        .unwrap_or(0)
}

/// Close a descriptor a failed launch leaves, without a record: nothing
/// on the host changes by closing a file.
pub fn close_unrecorded(fd: i32) {
    let _ = nix::unistd::close(fd);
}

#[cfg(test)]
mod tests {
    fn policy() -> i32 {
        // SAFETY: sched_getscheduler(0) reads the calling thread's policy.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn the_work_alone_runs_at_idle_priority() {
        let before = policy();
        let during = super::at_idle_priority(policy);
        if nix::unistd::geteuid().is_root() {
            assert_eq!(during, libc::SCHED_IDLE);
        } else {
            assert_eq!(during, before);
        }
        assert_eq!(policy(), before);
    }
}
