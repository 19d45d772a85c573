//! Pauses between the parts of a lesson and the stages of `run --step`,
//! answered with one key: Enter or space go on, `q` stops (everything made
//! so far is undone), `c` runs to the end without stopping again, `?` says
//! which keys do what. The same single keys answer a lesson's questions.
//! Only with a terminal on stdin: without one, or with `--no-pause`,
//! nothing ever waits. Ctrl-C at a pause stops too, and the signal stays
//! pending for whoever turns it into an exit.

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, raise};
use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices};

use crate::signals::{STOP, Signals};

pub struct Pauser {
    enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Go,
    Quit,
}

const KEYS: &str = "keys: Enter or space go on; q stops here and undoes what was made; \
                    c runs to the end without stopping; ? shows this";

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

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Wait before `next`.
    pub fn pause(&mut self, next: &str, signals: &Signals) -> Choice {
        if !self.enabled {
            return Choice::Go;
        }
        let prompt =
            format!("\n-- next: {next}. [Enter] go on, [q] stop, [c] run to the end, [?] keys: ");
        loop {
            let choice = match self.ask(&prompt, signals) {
                // A stop signal has ended the line already.
                None => return Choice::Quit,
                Some(b'q' | b'Q') => Choice::Quit,
                Some(b'c' | b'C') => {
                    self.enabled = false;
                    Choice::Go
                }
                Some(b'?') => {
                    say(&format!("\n{KEYS}"));
                    continue;
                }
                Some(b'\n' | b'\r' | b' ') => Choice::Go,
                Some(_) => {
                    say("\npress Enter or space to go on, q to stop, c to run to the end");
                    continue;
                }
            };
            // The key is read without its echo, so nothing has ended the
            // prompt's line: what comes next (a stage folded to one line)
            // would go on it.
            say("\n");
            return choice;
        }
    }

    /// One of `allowed`, or `q`, read as a single key after `prompt`; None
    /// when stopped (q, Ctrl-C, or the terminal gone).
    pub fn choose(&mut self, prompt: &str, allowed: &str, signals: &Signals) -> Option<char> {
        loop {
            let key = self.ask(prompt, signals)?;
            let key = char::from(key).to_ascii_lowercase();
            if key == 'q' {
                return None;
            }
            if allowed.contains(key) {
                say(&key.to_string());
                return Some(key);
            }
            say(&format!("\none of {allowed}, or q to stop"));
        }
    }

    /// Show `prompt` and read one key; None when a stop signal came. A
    /// terminal that is gone ends the pausing: nobody is left to ask.
    fn ask(&mut self, prompt: &str, signals: &Signals) -> Option<u8> {
        let mut err = std::io::stderr();
        let _ = write!(err, "{prompt}");
        let _ = err.flush();
        match read_key(signals) {
            Key::Byte(b) => Some(b),
            Key::Stopped => {
                let _ = writeln!(err);
                None
            }
            Key::Gone => {
                self.enabled = false;
                Some(b'\n')
            }
        }
    }
}

fn say(text: &str) {
    let _ = write!(std::io::stderr(), "{text}");
}

enum Key {
    Byte(u8),
    Stopped,
    Gone,
}

/// One byte from stdin with the terminal out of line mode (no Enter
/// needed, no echo), or a stop signal. diyc blocks SIGINT and reads it
/// from a signalfd, so the keyboard alone would leave Ctrl-C unanswered
/// until a key came. A signal read here is raised again, still blocked,
/// for the code that acts on it; the terminal gets its mode back first.
fn read_key(signals: &Signals) -> Key {
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(stdin.as_fd()).ok();
    if let Some(saved) = &saved {
        let mut keys = saved.clone();
        keys.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO);
        keys.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
        keys.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &keys);
    }
    let mut children_ended = false;
    let key = loop {
        let mut fds = [
            PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.fd(), PollFlags::POLLIN),
        ];
        if let Err(e) = poll(&mut fds, PollTimeout::NONE) {
            if e == nix::errno::Errno::EINTR {
                continue;
            }
            break Key::Gone;
        }
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            let mut byte = [0u8; 1];
            break match nix::unistd::read(stdin.as_fd(), &mut byte) {
                Ok(1) => Key::Byte(byte[0]),
                _ => Key::Gone,
            };
        }
        let Some(info) = signals.next() else {
            continue;
        };
        // A resized window (SIGWINCH) is no reason to stop.
        match Signal::try_from(info.ssi_signo as i32) {
            Ok(Signal::SIGCHLD) => children_ended = true,
            Ok(sig) if STOP.contains(&sig) => {
                let _ = raise(sig);
                break Key::Stopped;
            }
            Ok(_) | Err(_) => {}
        }
    };
    if let Some(saved) = &saved {
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, saved);
    }
    if children_ended {
        let _ = raise(Signal::SIGCHLD);
    }
    key
}
