//! A diyc started in the background, for tests that talk to the
//! container while it runs.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Output};

/// A diyc started in the background. Dropped before it was finished (a
/// failing test), it is sent SIGTERM and waited for, so its container is
/// cleaned up before the lab checks the host.
pub struct Running {
    child: Option<Child>,
    pub stdin: Option<ChildStdin>,
    pub stdout: BufReader<ChildStdout>,
}

impl Running {
    /// A started diyc whose stdin and stdout are pipes.
    pub fn new(mut child: Child) -> Running {
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Running {
            child: Some(child),
            stdin,
            stdout,
        }
    }

    /// Block until the container prints `line`: the synchronisation point
    /// tests use instead of sleeping.
    pub fn wait_for_line(&mut self, line: &str) {
        let mut buf = String::new();
        loop {
            buf.clear();
            let n = self
                .stdout
                .read_line(&mut buf)
                .expect("reading the container");
            assert!(n > 0, "the container ended before printing {line:?}");
            if buf.trim_end() == line {
                return;
            }
        }
    }

    pub fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(text.as_bytes())
            .expect("writing to the container");
        stdin.flush().expect("flush");
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("still running")
    }

    pub fn pid(&mut self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child().id() as i32)
    }

    /// SIGKILL diyc itself and reap it (its cleanup does not run).
    pub fn kill_diyc(&mut self) {
        self.child().kill().expect("SIGKILL diyc");
        self.child().wait().expect("reaped");
    }

    /// Whether diyc has exited (reaped if so).
    pub fn exited(&mut self) -> bool {
        matches!(self.child().try_wait(), Ok(Some(_)))
    }

    /// Wait for diyc to exit, leaving stdin as it is.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child().wait().expect("diyc exits")
    }

    pub fn finish(mut self) -> Output {
        self.close_stdin();
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stdout, &mut rest);
        let child = self.child.take().expect("still running");
        let mut out = child.wait_with_output().expect("diyc exits");
        out.stdout = rest.into_bytes();
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(None) = child.try_wait() {
                let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                self.stdin.take();
                let _ = child.wait();
            }
        }
    }
}
