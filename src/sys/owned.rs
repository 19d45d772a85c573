//! Descriptors the seam opened that outlive the call that made them: a
//! container's terminal, kept for the runtime to hand to diyc, a pidfd,
//! which `exec` joins namespaces through and `stop` signals by, and a
//! listening unix socket (an exercise's `check` talks to diyc over one).

use std::os::fd::{FromRawFd, OwnedFd};

use super::syscall::SOCKADDR_UN_SIZE;
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

    /// A unix stream socket listening at `path`. Only the bind is
    /// recorded: it makes the socket file, the one change to the host
    /// (the caller removes it with `Call::Unlink`); the socket itself and
    /// listen(2) are this process's own descriptor and its state.
    pub fn listen_unix(&mut self, path: &str) -> Result<OwnedFd> {
        use nix::sys::socket::{AddressFamily, Backlog, SockFlag, SockType, listen, socket};
        use std::os::fd::AsRawFd;
        if path.len() >= SOCKADDR_UN_SIZE - 2 {
            return Err(Error::invalid(format!(
                "{path} is too long for a unix socket's name ({} bytes at most)",
                SOCKADDR_UN_SIZE - 3
            )));
        }
        if self.is_dry() {
            self.call(Call::Bind {
                fd: 3,
                path: path.to_string(),
            })?;
            return Err(Error::invalid("a listening socket needs the real seam"));
        }
        let socket = socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| Error::os("socket", e))?;
        self.call(Call::Bind {
            fd: socket.as_raw_fd(),
            path: path.to_string(),
        })?;
        listen(
            &socket,
            Backlog::new(8).map_err(|e| Error::os("listen", e))?,
        )
        .map_err(|e| Error::os(format!("listening on {path}"), e))?;
        Ok(socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::StageId;
    use crate::sys::{Journal, World};

    #[test]
    fn a_bind_reads_as_strace_prints_it() {
        let call = Call::Bind {
            fd: 4,
            path: "/var/lib/diyc/lessons/exercise/sock".into(),
        };
        assert_eq!(
            call.to_string(),
            r#"bind(4, {sa_family=AF_UNIX, sun_path="/var/lib/diyc/lessons/exercise/sock"}, 110)"#
        );
    }

    #[test]
    fn a_socket_name_too_long_for_the_kernel_is_refused_before_anything_is_made() {
        let mut journal = Journal::default();
        let mut sys = Sys::dry(&mut journal, StageId::Clone, World::new());
        assert!(sys.listen_unix(&format!("/{}", "x".repeat(120))).is_err());
        assert!(journal.calls().is_empty());
    }

    #[test]
    fn listening_records_the_bind_that_makes_the_socket_file() {
        let mut journal = Journal::default();
        let mut sys = Sys::dry(&mut journal, StageId::Clone, World::new());
        // The dry seam makes no socket to hand back.
        assert!(sys.listen_unix("/l/sock").is_err());
        assert_eq!(
            journal.calls(),
            [r#"bind(3, {sa_family=AF_UNIX, sun_path="/l/sock"}, 110)"#]
        );
    }
}
