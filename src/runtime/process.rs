//! A running container's process held by a pidfd: signalled, waited for
//! and joined without ever reaching another process that reused its pid.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use crate::error::{Error, Result};
use crate::state::container::ProcessId;
use crate::sys::{Call, Sys};

pub struct Process {
    fd: OwnedFd,
    pub pid: i32,
}

impl Process {
    /// The process `id` names, if it is still that one (the same pid and
    /// start time); None once it has ended.
    pub fn open(sys: &mut Sys, id: ProcessId) -> Result<Option<Process>> {
        let fd = match sys.pidfd(id.pid) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(Errno::ESRCH) => return Ok(None),
            Err(e) => return Err(e),
        };
        // Opened first, checked second: if it is ours now, the pidfd
        // holds on to it from here on.
        Ok(id.alive().then_some(Process { fd, pid: id.pid }))
    }

    /// Send `signal`; one that has already ended is no error.
    pub fn signal(&self, sys: &mut Sys, signal: Signal) -> Result<()> {
        let call = Call::PidfdSendSignal {
            fd: self.fd.as_raw_fd(),
            signal: signal as i32,
        };
        match sys.call(call) {
            Err(e) if e.errno() == Some(Errno::ESRCH) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Whether it ended within `timeout` (None: however long that takes).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let timeout = match timeout {
            None => PollTimeout::NONE,
            Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
        };
        loop {
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, timeout) {
                Ok(n) => return Ok(n > 0),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::os("waiting for the container's process", e)),
            }
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
