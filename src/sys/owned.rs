//! Descriptors the seam opened that outlive the call that made them: a
//! container's terminal, kept for the runtime to hand to diyc, and a
//! pidfd, which `exec` joins namespaces through and `stop` signals by.

use std::os::fd::{FromRawFd, OwnedFd};

use super::{Backend, Call, Sys};
use crate::error::{Error, Result};

impl Sys<'_> {
    /// Keep the master end of the terminal `Openat` made, for the runtime.
    pub fn keep_terminal(&mut self, master: i64) {
        self.terminal = i32::try_from(master).ok();
    }

    /// The terminal's master end, once: the descriptor the seam opened.
    /// The dry backend opened nothing, so it has none.
    pub fn take_terminal(&mut self) -> Option<i32> {
        let fd = self.terminal.take()?;
        (!self.is_dry()).then_some(fd)
    }

    /// A pidfd for `pid`: it names that process and no other, even once
    /// the pid is reused.
    pub fn pidfd(&mut self, pid: i32) -> Result<OwnedFd> {
        let fd = self.call(Call::PidfdOpen { pid })?;
        match self.backend {
            Backend::Dry(_) => Err(Error::invalid("a pidfd needs the real seam")),
            // SAFETY: `fd` is the descriptor pidfd_open just returned in
            // this process; nothing else owns it.
            Backend::Real { .. } => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        }
    }
}
