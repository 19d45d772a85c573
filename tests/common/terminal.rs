//! diyc on a pseudo-terminal the test opened, as a student's would be:
//! its stdin, stdout and stderr on the slave, the test at the master,
//! reading what appears and typing keys.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Child, Stdio};

use super::Lab;

/// diyc with its stdin, stdout and stderr on a pseudo-terminal, as a
/// student's would be.
pub struct OnTerminal {
    pub child: Child,
    master: std::fs::File,
    /// The test's own copy of the slave, to look at its input queue.
    slave: OwnedFd,
    /// The terminal's settings before diyc started.
    pub initial: nix::sys::termios::Termios,
    /// A pidfd for diyc: readable once it has exited, which is how its
    /// end is seen while the test still holds the terminal open.
    exited: OwnedFd,
    seen: String,
    /// How much of `seen` earlier expects returned.
    pos: usize,
}

impl OnTerminal {
    pub fn start(lab: &Lab, args: &[&str]) -> OnTerminal {
        Self::spawn(lab, args, false, &[])
    }

    /// The same, with a terminal type, as a terminal emulator sets it:
    /// without TERM, programs take the terminal for a dumb one.
    pub fn start_as(lab: &Lab, term: &str, args: &[&str]) -> OnTerminal {
        Self::spawn(lab, args, false, &[("TERM", term)])
    }

    /// The same, with the terminal as the controlling terminal of a new
    /// session, as a terminal emulator starts a shell.
    pub fn session(lab: &Lab, args: &[&str]) -> OnTerminal {
        Self::spawn(lab, args, true, &[])
    }

    fn spawn(lab: &Lab, args: &[&str], controlling: bool, env: &[(&str, &str)]) -> OnTerminal {
        let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
        let slave: OwnedFd = pty.slave;
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
        let mut cmd = lab.cmd(args);
        cmd.envs(env.iter().copied());
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
        let initial = nix::sys::termios::tcgetattr(&slave).expect("the terminal's settings");
        let child = cmd.spawn().expect("diyc starts");
        drop(cmd);
        // SAFETY: pidfd_open takes a pid and flags and returns a new
        // descriptor, which the OwnedFd below owns.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id(), 0) };
        assert!(fd >= 0, "a pidfd for diyc");
        // SAFETY: a descriptor just returned to this process, owned once.
        let exited = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
        OnTerminal {
            child,
            exited,
            slave,
            initial,
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

    /// More of what diyc wrote; false once it has exited and all it
    /// wrote is read.
    fn read_some(&mut self) -> bool {
        let mut fds = [
            nix::poll::PollFd::new(self.master.as_fd(), nix::poll::PollFlags::POLLIN),
            nix::poll::PollFd::new(self.exited.as_fd(), nix::poll::PollFlags::POLLIN),
        ];
        poll_guarded(&mut fds, &self.seen);
        if fds[0].any() != Some(true) {
            return false;
        }
        read_into(&mut self.master, &mut self.seen)
    }

    pub fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).expect("typing");
    }

    /// What the terminal has shown so far.
    pub fn seen(&self) -> &str {
        &self.seen
    }

    /// The rest, until diyc has exited and its output is read, and the
    /// exit status. (The test holds a slave too, so the terminal never
    /// closes by itself: diyc's end is its exit.)
    pub fn finish(&mut self) -> (String, Option<i32>) {
        while self.read_some() {}
        let status = self.child.wait().expect("diyc exits");
        (self.seen.split_off(self.pos), status.code())
    }

    /// The terminal's settings, as the program on it would read them.
    pub fn settings(&self) -> nix::sys::termios::Termios {
        nix::sys::termios::tcgetattr(&self.slave).expect("the terminal's settings")
    }

    /// A new window size, as a terminal emulator sets it: the kernel
    /// tells the foreground process group with SIGWINCH.
    pub fn resize(&self, rows: u16, cols: u16) {
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer given.
        let rc = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        assert_eq!(rc, 0, "resizing the terminal");
    }

    /// Whatever is waiting in the terminal's input queue, to be read by
    /// the next program on it: what someone typed, or pushed with TIOCSTI.
    pub fn pending_input(&self) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int to the pointer given.
        let rc = unsafe { libc::ioctl(self.slave.as_raw_fd(), libc::FIONREAD, &mut n) };
        assert_eq!(rc, 0, "reading the input queue's length");
        n as usize
    }
}

impl Drop for OnTerminal {
    /// A test that failed half way must not leave diyc (and its container)
    /// running: SIGTERM, as a user's Ctrl-C would, and wait.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

/// One read of what a terminal's master has, added to `seen`; false once
/// it is closed.
pub fn read_into(master: &mut std::fs::File, seen: &mut String) -> bool {
    let mut buf = [0u8; 4096];
    match master.read(&mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            true
        }
    }
}

/// Wait until one of `fds` is ready; fails if nothing comes for a minute
/// (only a guard: what appears decides), showing what was `seen`.
pub fn poll_guarded(fds: &mut [nix::poll::PollFd], seen: &str) {
    let ready = nix::poll::poll(fds, nix::poll::PollTimeout::from(60_000u16)).expect("poll");
    assert!(ready > 0, "nothing on the terminal for a minute:\n{seen}");
}
