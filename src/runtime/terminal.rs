//! diyc's end of a container's standard streams, when they are not simply
//! the caller's: the master of the container's own pseudo-terminal (`-t`),
//! or pipes in place of the caller's terminal (without `-t`, so no
//! descriptor of that terminal ever reaches the container). diyc copies
//! the container's output to its own stdout and stderr and, with `-i`, its
//! own stdin to the container, never blocking on either side: a container
//! that stops reading cannot stop diyc from draining its output or from
//! hearing a signal. With a terminal it also passes window-size changes
//! on and, while the command runs, puts the caller's terminal in raw mode,
//! so every key, Ctrl-C included, reaches the container's foreground
//! program. The caller's settings come back however the relay ends.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::PollFlags;
use nix::sys::signal::Signal;
use nix::sys::termios::{self, SetArg, Termios};
use nix::unistd::Pid;

use crate::event::StageId;
use crate::sys::{Call, Sys};

/// How a launch's command meets the caller's terminal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Terminal {
    /// A pseudo-terminal of the container's own (`-t`).
    pub tty: bool,
    /// The caller's stdin relayed to it (`-i`).
    pub input: bool,
}

/// One of the ends a stage made for the relay: the read end of a pipe the
/// container writes its stdout or stderr to, or the write end of the pipe
/// that is its stdin.
pub enum Stream {
    Output { from: OwnedFd, stderr: bool },
    Input { to: OwnedFd },
}

/// Ctrl-D, a new terminal's end-of-file character (VEOF).
const END_OF_FILE: u8 = 0x04;

/// The caller's terminal settings, put back when dropped.
struct Raw {
    saved: Termios,
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSADRAIN, &self.saved);
    }
}

struct Feed {
    from: File,
    stderr: bool,
}

/// Where the caller's typing goes, and what is still to be written there.
struct Input {
    to: File,
    pending: Vec<u8>,
    /// The caller's stdin has ended: nothing more is read from it.
    ended: bool,
    /// A terminal takes Ctrl-D at the end; a pipe is closed.
    terminal: bool,
}

pub(super) struct Relay {
    feeds: Vec<Feed>,
    input: Option<Input>,
    /// The container's terminal, for its size; None for pipes.
    master: Option<File>,
    /// The command runs: until then the caller's keys are the pauses'.
    started: bool,
    raw: Option<Raw>,
    stdin: std::io::Stdin,
}

fn nonblocking(fd: OwnedFd) -> File {
    let file = File::from(fd);
    let flags = fcntl(&file, FcntlArg::F_GETFL).map_or(OFlag::empty(), OFlag::from_bits_truncate);
    let _ = fcntl(&file, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK));
    file
}

impl Relay {
    /// The container's terminal, sized like the caller's (80x24 when the
    /// caller has none); with `input`, what the caller types goes to it.
    pub(super) fn terminal(sys: &mut Sys, master: OwnedFd, input: bool) -> Relay {
        let copy = master.try_clone().ok().map(nonblocking);
        let master = nonblocking(master);
        let relay = Relay {
            feeds: copy
                .map(|from| Feed {
                    from,
                    stderr: false,
                })
                .into_iter()
                .collect(),
            input: master.try_clone().ok().filter(|_| input).map(|to| Input {
                to,
                pending: Vec::new(),
                ended: false,
                terminal: true,
            }),
            master: Some(master),
            started: false,
            raw: None,
            stdin: std::io::stdin(),
        };
        relay.resize(sys);
        relay
    }

    /// Pipes in place of the caller's terminal; None when there are none.
    pub(super) fn pipes(streams: Vec<Stream>) -> Option<Relay> {
        if streams.is_empty() {
            return None;
        }
        let mut relay = Relay {
            feeds: Vec::new(),
            input: None,
            master: None,
            started: false,
            raw: None,
            stdin: std::io::stdin(),
        };
        for stream in streams {
            match stream {
                Stream::Output { from, stderr } => relay.feeds.push(Feed {
                    from: nonblocking(from),
                    stderr,
                }),
                Stream::Input { to } => {
                    relay.input = Some(Input {
                        to: nonblocking(to),
                        pending: Vec::new(),
                        ended: false,
                        terminal: false,
                    });
                }
            }
        }
        Some(relay)
    }

    /// The command runs. On a terminal of its own, the caller's terminal
    /// goes raw; without input only its output processing stops, since
    /// the container's terminal already turned each newline into CR LF,
    /// and Ctrl-C still reaches diyc, which passes it on.
    pub(super) fn start(&mut self) {
        self.started = true;
        if self.raw.is_some() || self.master.is_none() {
            return;
        }
        let Ok(saved) = termios::tcgetattr(std::io::stdin()) else {
            return;
        };
        let mut raw = saved.clone();
        if self.input.is_some() {
            termios::cfmakeraw(&mut raw);
        } else {
            raw.output_flags.remove(termios::OutputFlags::OPOST);
        }
        if termios::tcsetattr(std::io::stdin(), SetArg::TCSADRAIN, &raw).is_ok() {
            self.raw = Some(Raw { saved });
        }
    }

    /// Whether the container can still say something.
    pub(super) fn open(&self) -> bool {
        !self.feeds.is_empty()
    }

    /// What to wait for: each output, the caller's stdin while there is
    /// room for more, and the container's side while typing waits for it.
    pub(super) fn poll_list(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        let mut list: Vec<_> = self
            .feeds
            .iter()
            .map(|f| (f.from.as_fd(), PollFlags::POLLIN))
            .collect();
        if let Some(input) = &self.input {
            if !input.pending.is_empty() {
                list.push((input.to.as_fd(), PollFlags::POLLOUT));
            } else if self.started && !input.ended {
                list.push((self.stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        list
    }

    /// Copy what the container wrote; an output at its end (EOF, or EIO
    /// once every slave descriptor is closed) is dropped.
    pub(super) fn copy_output(&mut self) {
        let mut buf = [0u8; 16384];
        self.feeds.retain_mut(|feed| {
            loop {
                match feed.from.read(&mut buf) {
                    Ok(n) if n > 0 => {
                        let _ = if feed.stderr {
                            let mut err = std::io::stderr().lock();
                            err.write_all(&buf[..n]).and_then(|()| err.flush())
                        } else {
                            let mut out = std::io::stdout().lock();
                            out.write_all(&buf[..n]).and_then(|()| out.flush())
                        };
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                    _ => return false,
                }
            }
        });
    }

    /// Read what the caller typed, if there is room, and write what the
    /// container's side takes of it. At the end of the caller's stdin a
    /// terminal gets its end-of-file character, as if typed; a pipe is
    /// closed once everything before has gone through.
    pub(super) fn copy_input(&mut self) {
        let started = self.started;
        let Some(input) = self.input.as_mut() else {
            return;
        };
        if started && !input.ended && input.pending.is_empty() && stdin_ready() {
            let mut buf = [0u8; 4096];
            match std::io::stdin().lock().read(&mut buf) {
                Ok(n) if n > 0 => input.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                _ => {
                    input.ended = true;
                    if input.terminal {
                        input.pending.push(END_OF_FILE);
                    }
                }
            }
        }
        while !input.pending.is_empty() {
            match input.to.write(&input.pending) {
                Ok(n) if n > 0 => {
                    input.pending.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                // The container's side is gone: nothing more to type into.
                _ => {
                    self.input = None;
                    return;
                }
            }
        }
        if input.ended && !input.terminal {
            self.input = None;
        }
    }

    /// Give the container's terminal the caller's size (SIGWINCH).
    pub(super) fn resize(&self, sys: &mut Sys) {
        let Some(master) = &self.master else {
            return;
        };
        let (rows, cols) = caller_size().unwrap_or((24, 80));
        let stage = sys.current_stage();
        sys.continue_stage(StageId::Session);
        let _ = sys.call(Call::WindowSize {
            fd: master.as_raw_fd(),
            rows,
            cols,
        });
        sys.continue_stage(stage);
    }

    /// The caller's terminal as it was, and no more relaying.
    pub(super) fn end(&mut self) {
        self.feeds.clear();
        self.input = None;
        self.master = None;
        self.raw = None;
    }
}

/// Whether a read of stdin would not block: it is polled only when there
/// is room, so a call can come while it has nothing.
fn stdin_ready() -> bool {
    use nix::poll::{PollFd, PollTimeout, poll};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

/// The caller's terminal size, if stdout or stdin is a terminal.
fn caller_size() -> Option<(u16, u16)> {
    let size = terminal_size::terminal_size_of(std::io::stdout())
        .or_else(|| terminal_size::terminal_size_of(std::io::stdin()))?;
    Some((size.1.0, size.0.0))
}

/// An interactive shell in the container may make itself the terminal's
/// foreground process group; when it is gone, give the terminal back to
/// diyc's group so the user's shell finds it where it left it.
pub(super) struct Foreground(Option<Pid>);

impl Foreground {
    pub(super) fn save() -> Self {
        let ours = nix::unistd::getpgrp();
        let fg = nix::unistd::tcgetpgrp(std::io::stdin()).ok();
        Foreground(fg.filter(|fg| *fg == ours))
    }

    pub(super) fn restore(self) {
        let Some(ours) = self.0 else {
            return;
        };
        if nix::unistd::tcgetpgrp(std::io::stdin()).ok() == Some(ours) {
            return;
        }
        use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
        // A background group calling tcsetpgrp gets SIGTTOU unless it is blocked.
        let mut ttou = SigSet::empty();
        ttou.add(Signal::SIGTTOU);
        let mut old = SigSet::empty();
        let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old));
        let _ = nix::unistd::tcsetpgrp(std::io::stdin(), ours);
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
}
