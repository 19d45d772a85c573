//! A program on a pseudo-terminal the test holds, for `run -it`.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};

/// A program on a pseudo-terminal the test holds: its stdin, stdout and
/// stderr are the slave; the test types into the master and reads it.
pub struct OnPty {
    pub child: Child,
    master: std::fs::File,
    pub seen: String,
}

impl OnPty {
    pub fn spawn(mut cmd: Command) -> OnPty {
        let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
        let slave: OwnedFd = pty.slave;
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
        cmd.stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave));
        let child = cmd.spawn().expect("it starts");
        // Only the program keeps the slave: its end closes the terminal.
        drop(cmd);
        drop(slave);
        OnPty {
            child,
            master: std::fs::File::from(pty.master),
            seen: String::new(),
        }
    }

    /// Read until `needle` appears; fails if the terminal closes first or
    /// nothing comes for a minute (only a guard: the text decides).
    pub fn expect(&mut self, needle: &str) {
        while !self.seen.contains(needle) {
            assert!(
                self.read_some(),
                "terminal closed before {needle:?}:\n{}",
                self.seen
            );
        }
    }

    fn read_some(&mut self) -> bool {
        let mut fds = [nix::poll::PollFd::new(
            self.master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        crate::common::terminal::poll_guarded(&mut fds, &self.seen);
        crate::common::terminal::read_into(&mut self.master, &mut self.seen)
    }

    pub fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).expect("typing");
    }

    /// Everything until the terminal closes, and the exit status.
    pub fn finish(&mut self) -> Option<i32> {
        while self.read_some() {}
        self.child.wait().expect("it exits").code()
    }
}

impl Drop for OnPty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
