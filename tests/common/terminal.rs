//! diyc on a pseudo-terminal the test opened, as a student's would be:
//! its stdin, stdout and stderr on the slave, the test at the master,
//! reading what appears and typing keys.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Stdio};

use super::Lab;

/// diyc with its stdin, stdout and stderr on a pseudo-terminal, as a
/// student's would be.
pub struct OnTerminal {
    pub child: Child,
    master: std::fs::File,
    seen: String,
    /// How much of `seen` earlier expects returned.
    pos: usize,
}

impl OnTerminal {
    pub fn start(lab: &Lab, args: &[&str]) -> OnTerminal {
        Self::spawn(lab, args, false)
    }

    /// The same, with the terminal as the controlling terminal of a new
    /// session, as a terminal emulator starts a shell.
    pub fn session(lab: &Lab, args: &[&str]) -> OnTerminal {
        Self::spawn(lab, args, true)
    }

    fn spawn(lab: &Lab, args: &[&str], controlling: bool) -> OnTerminal {
        let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
        let slave: OwnedFd = pty.slave;
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
        let mut cmd = lab.cmd(args);
        cmd.stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave));
        if controlling {
            // SAFETY: setsid and ioctl are async-signal-safe; they make the
            // pty the controlling terminal of the new session.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                    nix::unistd::setsid().map_err(std::io::Error::from)?;
                    if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().expect("diyc starts");
        drop(cmd);
        drop(slave);
        OnTerminal {
            child,
            master: std::fs::File::from(pty.master),
            seen: String::new(),
            pos: 0,
        }
    }

    /// Read until `needle` has appeared after what earlier calls
    /// returned, and return the text up to it; fails if the terminal
    /// closes first or nothing comes for a minute.
    pub fn expect(&mut self, needle: &str) -> String {
        let pos = self.pos;
        self.expect_or_end(needle)
            .unwrap_or_else(|| panic!("terminal closed before {needle:?}:\n{}", &self.seen[pos..]))
    }

    /// The same, or None once the terminal has closed without it.
    pub fn expect_or_end(&mut self, needle: &str) -> Option<String> {
        loop {
            if let Some(at) = self.seen[self.pos..].find(needle) {
                let upto = self.pos + at + needle.len();
                let chunk = self.seen[self.pos..upto].to_string();
                self.pos = upto;
                return Some(chunk);
            }
            if !self.read_some() {
                return None;
            }
        }
    }

    fn read_some(&mut self) -> bool {
        let mut fds = [nix::poll::PollFd::new(
            self.master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ready =
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(60_000u16)).expect("poll");
        assert!(
            ready > 0,
            "nothing on the terminal for a minute:\n{}",
            self.seen
        );
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                true
            }
        }
    }

    pub fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).expect("typing");
    }

    /// What the terminal has shown so far.
    pub fn seen(&self) -> &str {
        &self.seen
    }

    /// The rest, until the terminal closes, and the exit status.
    pub fn finish(mut self) -> (String, Option<i32>) {
        while self.read_some() {}
        let status = self.child.wait().expect("diyc exits");
        (self.seen.split_off(self.pos), status.code())
    }
}
