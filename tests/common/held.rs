//! diyc held at one of its DIYC_HOLD points (src/fault.rs): stopped by
//! its own SIGSTOP, which the test sees through waitpid, while the child
//! it made does what a fast machine would rarely let it do first (end).

use std::process::{Child, Command, Output, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::wait_until;

pub struct Held {
    /// Taken by `go`; a test that fails before that leaves it to `drop`.
    diyc: Option<Child>,
    /// The one process diyc has made so far (0 before it made any).
    pub child: i32,
}

impl Held {
    /// Start `cmd` held at `step` and wait until it stops there, having
    /// made one process.
    pub fn at(cmd: Command, step: &str) -> Held {
        let mut held = Held::before_any_child(cmd, step);
        let pid = held.diyc.as_ref().map_or(0, Child::id);
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        held.child = children.trim().parse().expect("diyc has made one process");
        held
    }

    /// Start `cmd` held at `step`, a point before it makes any process, and
    /// wait until it stops there.
    pub fn before_any_child(mut cmd: Command, step: &str) -> Held {
        let diyc = cmd
            .env("DIYC_HOLD", step)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("diyc starts");
        let pid = Pid::from_raw(diyc.id() as i32);
        let stopped = waitpid(pid, Some(WaitPidFlag::WUNTRACED)).expect("diyc stops");
        assert_eq!(
            stopped,
            WaitStatus::Stopped(pid, Signal::SIGSTOP),
            "held at {step}"
        );
        Held {
            diyc: Some(diyc),
            child: 0,
        }
    }

    /// Wait until the child has ended (a zombie nobody has reaped yet).
    pub fn child_ended(self) -> Self {
        wait_until("diyc's child has ended", || {
            std::fs::read_to_string(format!("/proc/{}/stat", self.child))
                .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|s| s.starts_with(" Z")))
        });
        self
    }

    /// Let diyc go on, and wait for it to end.
    pub fn go(mut self) -> Output {
        let diyc = self.diyc.take().expect("diyc is held");
        kill(Pid::from_raw(diyc.id() as i32), Signal::SIGCONT).expect("diyc continues");
        diyc.wait_with_output().expect("diyc ends")
    }
}

/// A test that failed while diyc was held must not leave it stopped on
/// the machine: it is killed (its child with it, by the parent-death
/// signal) and continued so that it can die.
impl Drop for Held {
    fn drop(&mut self) {
        if let Some(mut diyc) = self.diyc.take() {
            let pid = Pid::from_raw(diyc.id() as i32);
            let _ = kill(pid, Signal::SIGKILL);
            let _ = kill(pid, Signal::SIGCONT);
            let _ = diyc.wait();
        }
    }
}
