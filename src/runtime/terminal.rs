//! diyc's end of a container's terminal (`-t`): the master of the
//! pseudo-terminal the session stage made from the container's own devpts.
//! diyc relays the caller's stdin to it and its output to the caller's
//! stdout, passes window-size changes on, and, while the command runs,
//! puts the caller's terminal in raw mode, so Ctrl-C and every other key
//! reach the container's foreground program as on a terminal of its own.
//! The caller's settings come back however the relay ends.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::sys::termios::{self, SetArg, Termios};

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

pub(super) struct Relay {
    master: Option<File>,
    stdin: std::io::Stdin,
    input: bool,
    /// The command runs: until then the caller's keys are the pauses'.
    started: bool,
    raw: Option<Raw>,
}

impl Relay {
    /// The master end, sized like the caller's terminal (80x24 when the
    /// caller has none).
    pub(super) fn new(sys: &mut Sys, master: OwnedFd, input: bool) -> Relay {
        let relay = Relay {
            master: Some(File::from(master)),
            stdin: std::io::stdin(),
            input,
            started: false,
            raw: None,
        };
        relay.resize(sys);
        relay
    }

    /// The command runs: the caller's terminal goes raw, if it is one.
    /// Without input only its output processing stops: the container's
    /// terminal already turned each newline into CR LF, and Ctrl-C still
    /// reaches diyc, which passes it on.
    pub(super) fn start(&mut self) {
        self.started = true;
        if self.raw.is_some() {
            return;
        }
        let Ok(saved) = termios::tcgetattr(std::io::stdin()) else {
            return;
        };
        let mut raw = saved.clone();
        if self.input {
            termios::cfmakeraw(&mut raw);
        } else {
            raw.output_flags.remove(termios::OutputFlags::OPOST);
        }
        if termios::tcsetattr(std::io::stdin(), SetArg::TCSADRAIN, &raw).is_ok() {
            self.raw = Some(Raw { saved });
        }
    }

    /// Whether the container's side can still say something.
    pub(super) fn open(&self) -> bool {
        self.master.is_some()
    }

    pub(super) fn master_fd(&self) -> Option<BorrowedFd<'_>> {
        self.master.as_ref().map(AsFd::as_fd)
    }

    /// The caller's stdin, while it is relayed.
    pub(super) fn input_fd(&self) -> Option<BorrowedFd<'_>> {
        (self.started && self.input && self.master.is_some()).then(|| self.stdin.as_fd())
    }

    /// The container wrote: copy it to the caller. At the end (EIO once
    /// every slave descriptor is closed) the relay is over.
    pub(super) fn copy_output(&mut self) {
        let mut buf = [0u8; 8192];
        let Some(master) = self.master.as_mut() else {
            return;
        };
        match master.read(&mut buf) {
            Ok(n) if n > 0 => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            _ => self.end(),
        }
    }

    /// The caller typed: pass it on. At the end of stdin, the container's
    /// terminal gets its end-of-file character, as if typed, and stdin is
    /// read no more.
    pub(super) fn copy_input(&mut self) {
        let mut buf = [0u8; 4096];
        let read = self.stdin.lock().read(&mut buf);
        let Some(master) = self.master.as_mut() else {
            return;
        };
        match read {
            Ok(n) if n > 0 => {
                let _ = master.write_all(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            _ => {
                let _ = master.write_all(&[END_OF_FILE]);
                self.input = false;
            }
        }
    }

    /// Give the container's terminal the caller's size (SIGWINCH).
    pub(super) fn resize(&self, sys: &mut Sys) {
        use std::os::fd::AsRawFd;
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
        self.master = None;
        self.raw = None;
    }
}

/// The caller's terminal size, if stdout or stdin is a terminal.
fn caller_size() -> Option<(u16, u16)> {
    let size = terminal_size::terminal_size_of(std::io::stdout())
        .or_else(|| terminal_size::terminal_size_of(std::io::stdin()))?;
    Some((size.1.0, size.0.0))
}
