//! Pauses between the parts of a lesson and the stages of `run --step`:
//! Enter goes on, `q` stops (everything made so far is undone), `c` runs to
//! the end without stopping again. Only with a terminal on stdin: without
//! one, or with `--no-pause`, nothing ever waits. Ctrl-C at a pause stops
//! too, and the signal stays pending for whoever turns it into an exit.

use std::io::{BufRead, IsTerminal, Write};
use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, raise};

use crate::signals::Signals;

pub struct Pauser {
    enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Go,
    Quit,
}

impl Pauser {
    /// Pausing if stdin is a terminal and nobody said `--no-pause`.
    pub fn new(no_pause: bool) -> Self {
        Pauser {
            enabled: !no_pause && std::io::stdin().is_terminal(),
        }
    }

    pub fn never() -> Self {
        Pauser { enabled: false }
    }

    /// Wait for a line on stdin, or a stop signal (false). diyc blocks
    /// SIGINT and reads it from a signalfd, so the keyboard alone would
    /// leave Ctrl-C unanswered until the pause ended. A signal read here
    /// is raised again, still blocked, for the code that acts on it.
    fn wait_for_line(signals: &Signals) -> bool {
        let stdin = std::io::stdin();
        let mut children_ended = false;
        let line = loop {
            let mut fds = [
                PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
                PollFd::new(signals.fd(), PollFlags::POLLIN),
            ];
            if let Err(e) = poll(&mut fds, PollTimeout::NONE) {
                if e == nix::errno::Errno::EINTR {
                    continue;
                }
                break true;
            }
            if fds[0].revents().is_some_and(|r| !r.is_empty()) {
                break true;
            }
            let Some(info) = signals.next() else {
                continue;
            };
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => children_ended = true,
                Ok(sig) => {
                    let _ = raise(sig);
                    break false;
                }
                Err(_) => {}
            }
        };
        if children_ended {
            let _ = raise(Signal::SIGCHLD);
        }
        line
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Wait before `next`.
    pub fn pause(&mut self, next: &str, signals: &Signals) -> Choice {
        if !self.enabled {
            return Choice::Go;
        }
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\n-- next: {next}. [Enter] go on, [q] stop, [c] run to the end: "
        );
        let _ = err.flush();
        if !Self::wait_for_line(signals) {
            let _ = writeln!(err);
            return Choice::Quit;
        }
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
            // The terminal is gone: nobody is left to ask.
            self.enabled = false;
            return Choice::Go;
        }
        match line.trim() {
            "q" | "Q" => Choice::Quit,
            "c" | "C" => {
                self.enabled = false;
                Choice::Go
            }
            _ => Choice::Go,
        }
    }
}
