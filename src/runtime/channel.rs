//! The socket between diyc and the container's first process while it is
//! being set up. The child sends its recorded events and reports the end of
//! each stage; diyc answers with go-aheads. Both ends are close-on-exec, so
//! the child's end closing tells diyc that execve succeeded.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::event::{Event, Outcome, StageId};
use crate::sys::{self, Recorder};

#[derive(Debug, Serialize, Deserialize)]
pub enum ToParent {
    Event(Event),
    /// The stage is done; the child waits for `Continue` before going on,
    /// so what diyc observes on the host is the state right after it.
    StageDone(StageId),
    /// The master end of the container's terminal comes with this one.
    Terminal,
    /// Set up: the execve comes next. A socket that closes without this
    /// one first is a child that died during its setup.
    Executing,
    /// Set up, and waiting at the start gate (`create`): diyc's part is done.
    Waiting,
    /// Setup failed; the child exits with `code` after sending this.
    Failed {
        message: String,
        code: i32,
    },
}

/// The error a child's `Failed` stands for: 125 is diyc's own code, any
/// other the command's.
pub fn failure(message: String, code: i32) -> Error {
    if code == 125 {
        Error::Container(message)
    } else {
        Error::Command { message, code }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub enum ToChild {
    /// The host side is ready: start entering the stages. `pid` is the
    /// child's pid on the host, which its own lines of an explanation
    /// show once diyc is no longer there to put it in.
    Go {
        pid: i32,
        /// A stage diyc attaches meanwhile: wait for `Attached` before it.
        attached_before: Option<StageId>,
    },
    /// The stages attached meanwhile are ready.
    Attached,
    Continue,
    /// Stop here: diyc is giving up on this setup (a signal arrived).
    Stop,
}

/// One end of a SOCK_SEQPACKET pair: message boundaries are kept, so each
/// recv is exactly one message.
pub struct Channel {
    fd: OwnedFd,
    buf: std::cell::RefCell<Vec<u8>>,
}

const MAX_MESSAGE: usize = 256 * 1024;

impl Channel {
    pub fn pair() -> Result<(Channel, Channel)> {
        let (a, b) = socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::os("creating the setup socket pair", e))?;
        Ok((Channel::new(a), Channel::new(b)))
    }

    fn new(fd: OwnedFd) -> Self {
        Channel {
            fd,
            buf: Default::default(),
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn send<T: Serialize>(&self, msg: &T) -> Result<()> {
        let bytes =
            serde_json::to_vec(msg).map_err(|e| Error::encoding("encoding a setup message", e))?;
        socket::send(self.fd.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)
            .map(drop)
            .map_err(|e| Error::os("sending a setup message", e))
    }

    /// A message with a descriptor passed along (SCM_RIGHTS): the
    /// terminal's master end, from the child to diyc.
    pub fn send_fd<T: Serialize>(&self, msg: &T, fd: RawFd) -> Result<()> {
        let bytes =
            serde_json::to_vec(msg).map_err(|e| Error::encoding("encoding a setup message", e))?;
        let fds = [fd];
        let cmsg = [socket::ControlMessage::ScmRights(&fds)];
        let iov = [std::io::IoSlice::new(&bytes)];
        socket::sendmsg::<()>(
            self.fd.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map(drop)
        .map_err(|e| Error::os("sending a setup message", e))
    }

    /// The next message, or None once the other end is closed.
    pub fn recv<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        Ok(self.recv_fd()?.map(|(msg, _)| msg))
    }

    /// The next message and the descriptor that came with it, if any.
    pub fn recv_fd<T: DeserializeOwned>(&self) -> Result<Option<(T, Option<OwnedFd>)>> {
        let mut buf = self.buf.borrow_mut();
        if buf.is_empty() {
            // Zeroed by the allocator (fresh pages from the kernel), not
            // written: a process that reads a few short messages touches
            // only the pages they land in.
            *buf = vec![0; MAX_MESSAGE];
        }
        // The whole length of a message that did not fit is reported, so it
        // is an error rather than half a message.
        let (n, fd) = sys::recv_message(self.fd.as_fd(), &mut buf)
            .map_err(|e| Error::os("reading a setup message", e))?;
        if n == 0 {
            return Ok(None);
        }
        if n > buf.len() {
            return Err(Error::Container(format!(
                "a setup message of {n} bytes is too large"
            )));
        }
        serde_json::from_slice(&buf[..n])
            .map(|msg| Some((msg, fd)))
            .map_err(|e| Error::encoding("decoding a setup message", e))
    }
}

/// The recorder inside the child: every event goes to diyc, which renders
/// it in order with its own.
pub struct ChildRecorder<'c> {
    pub chan: &'c Channel,
    pub explain: bool,
    /// Set once diyc has handed the process to an engine and gone: the
    /// rest of the explanation goes straight to `file`, the explanation
    /// file diyc wrote the beginning of (`DIYC_EXPLAIN`).
    pub handed: &'c std::cell::Cell<bool>,
    pub file: Option<&'c std::fs::File>,
    pub host_pid: i32,
}

impl Recorder for ChildRecorder<'_> {
    fn enabled(&self) -> bool {
        self.explain
    }

    fn record(&mut self, event: Event) {
        if !self.explain {
            return;
        }
        if self.handed.get() {
            let mut event = event;
            if let Event::Syscall { pid, .. } = &mut event {
                // As strace -f and diyc's own lines show it.
                *pid = self.host_pid;
            }
            if let Some(mut file) = self.file {
                use std::io::Write;
                let line = serde_json::to_string(&event).unwrap_or_default();
                let _ = file.write_all(format!("{line}\n").as_bytes());
            }
            return;
        }
        // An event too large for the socket (a huge argument list) is
        // replaced by a note, so the explanation says something is missing.
        // The setup itself goes on; a dead parent is noticed at the next
        // wait for its answer.
        let stage = event.stage();
        // An exec's line: diyc prints it, then lets the exec go on, so the
        // command's first output cannot come before it.
        let exec = matches!(
            event,
            Event::Syscall {
                outcome: Outcome::Pending,
                ..
            }
        );
        if self.chan.send(&ToParent::Event(event)).is_err() {
            let note = Event::Note {
                stage,
                text: "an event too large for the setup socket was left out here".into(),
            };
            let _ = self.chan.send(&ToParent::Event(note));
        } else if exec {
            let _ = self.chan.recv::<ToChild>();
        }
    }
}
