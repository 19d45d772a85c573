//! diyc never lets a signal kill it halfway through a change to the host.
//! At start-up it blocks the signals that would (Ctrl-C, SIGTERM, SIGHUP,
//! SIGQUIT) and SIGCHLD, and reads them from a signalfd at the points where
//! it can act on them: abort and undo during setup, pass them on to the
//! container once it runs.

use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd, siginfo};

use crate::error::{Error, Result};

pub const STOP: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

pub struct Signals {
    fd: SignalFd,
    /// The mask diyc started with; the container gets it back before exec.
    original: SigSet,
}

impl Signals {
    pub fn block() -> Result<Signals> {
        let mut set = SigSet::empty();
        for sig in STOP {
            set.add(sig);
        }
        set.add(Signal::SIGCHLD);
        // A terminal resized: passed on to a container's own terminal.
        set.add(Signal::SIGWINCH);
        let mut original = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut original))
            .map_err(|e| Error::os("blocking signals", e))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| Error::os("creating a signalfd", e))?;
        Ok(Signals { fd, original })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The next pending signal, without waiting.
    pub fn next(&self) -> Option<siginfo> {
        self.fd.read_signal().ok().flatten()
    }

    /// An error if a stop signal arrived: called between setup steps.
    /// SIGCHLD is dropped here; whoever waits for a child uses waitpid.
    pub fn check(&self) -> Result<()> {
        while let Some(info) = self.next() {
            if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                if STOP.contains(&sig) {
                    return Err(Error::Interrupted(sig));
                }
            }
        }
        Ok(())
    }

    /// Restore the original mask: the last thing before exec in a child.
    pub fn restore_mask(&self) {
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.original), None);
    }
}
