//! What passes between diyc and an engine that drives it (the OCI
//! runtime command line): the container's terminal sent over the
//! engine's console socket, and the start gate between `create` and
//! `start`. Descriptors moved between processes, not changes to the
//! host or to isolation, so they are not recorded.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    self, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
};

use crate::error::{Error, Result};

/// Connect to the engine's console socket at `path` and send `master`,
/// the terminal's master end, with SCM_RIGHTS. The payload names the
/// device it came from, as runc's does; engines read only the descriptor.
pub fn send_console(path: &Path, master: &OwnedFd) -> Result<()> {
    let failed = |e| Error::os(format!("sending the terminal to {}", path.display()), e);
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(failed)?;
    let addr = UnixAddr::new(path).map_err(failed)?;
    socket::connect(sock.as_raw_fd(), &addr).map_err(failed)?;
    let fds = [master.as_raw_fd()];
    let payload = [std::io::IoSlice::new(b"/dev/ptmx")];
    socket::sendmsg::<()>(
        sock.as_raw_fd(),
        &payload,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(drop)
    .map_err(failed)
}

/// The start gate at `path`, opened O_PATH: a descriptor the container's
/// first process keeps and later opens for writing, which needs no path
/// of the host's once its root has changed.
pub fn open_gate(path: &Path) -> Result<OwnedFd> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Error::os(format!("opening the start gate {}", path.display()), e))
}

/// Open the gate at `path` for reading, which lets the waiting process
/// (named by `pidfd`) through, and read the byte it writes. Opened
/// without blocking and then polled beside the pidfd, so a process that
/// died waiting is an error rather than a hang.
pub fn release_gate(path: &Path, pidfd: std::os::fd::BorrowedFd) -> Result<()> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    let failed = |e| Error::os(format!("opening the start gate {}", path.display()), e);
    let gate = open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(failed)?;
    loop {
        let mut fds = [
            PollFd::new(gate.as_fd(), PollFlags::POLLIN),
            PollFd::new(pidfd, PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(failed(e)),
            Ok(_) => {}
        }
        let mut byte = [0u8; 1];
        // A writer came and went (POLLHUP) or wrote (POLLIN): read to see which.
        if fds[0].any() == Some(true) {
            return match nix::unistd::read(&gate, &mut byte) {
                Ok(1) => Ok(()),
                Ok(_) | Err(nix::errno::Errno::EAGAIN) => Err(Error::Container(
                    "the container's first process left the start gate without starting".into(),
                )),
                Err(e) => Err(failed(e)),
            };
        }
        if fds[1].any() == Some(true) {
            return Err(Error::Container(
                "the container's first process ended before it was started".into(),
            ));
        }
    }
}
