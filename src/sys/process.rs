//! The calls that make or replace a process: clone3 (or clone) into new
//! namespaces, and execve. Each needs its record made around it rather
//! than after it: a child never returns to record, and a successful exec
//! never comes back at all.

use nix::errno::Errno;

use super::{Backend, Call, Forked, Sys, outcome_of};
use crate::error::{Error, Result};
use crate::event::Outcome;

impl Sys<'_> {
    /// A fork-like clone into new namespaces: `clone3`, falling back to
    /// `clone` where the kernel lacks it. Only the parent records the call,
    /// with the child's pid as its result, as strace shows it.
    ///
    /// The caller must be single-threaded: the child is a copy of this
    /// process that must end in `exec` or `exit_now`.
    pub fn clone_process(&mut self, flags: u64, cgroup_fd: Option<i32>) -> Result<Forked> {
        let exit_signal = libc::SIGCHLD as u64;
        let mut call = Call::Clone3 {
            flags,
            exit_signal,
            cgroup_fd,
        };
        self.begin();
        let mut result = self.fork(&call);
        if result == Err(Errno::ENOSYS) && cgroup_fd.is_none() {
            self.record_call(call, outcome_of(&result));
            call = Call::Clone { flags, exit_signal };
            self.begin();
            result = self.fork(&call);
        }
        match result {
            Ok(0) => Ok(Forked::Child),
            Ok(child) => {
                self.record_call(call, Outcome::Ok(child));
                Ok(Forked::Parent {
                    child: child as i32,
                })
            }
            Err(errno) => {
                let text = call.to_string();
                self.record_call(call, outcome_of(&Err(errno)));
                Err(Error::Syscall { call: text, errno })
            }
        }
    }

    /// A fork-like clone, or on the dry backend a made-up child's pid
    /// (never 0: nothing returns as the child).
    fn fork(&mut self, call: &Call) -> std::result::Result<i64, Errno> {
        match &mut self.backend {
            Backend::Dry(world) => world.fork(call),
            Backend::Real { .. } => call.perform(),
        }
    }

    /// Replace this process. The call is recorded before it is made (a
    /// successful execve never returns to record anything); only a failure
    /// comes back, recorded and returned. The dry backend makes nothing,
    /// so it always comes back.
    pub fn exec(&mut self, call: Call) -> Error {
        self.record_call(call.clone(), Outcome::Pending);
        self.begin();
        let errno = match self.perform(&call) {
            Ok(_) => Errno::EINVAL,
            Err(errno) => errno,
        };
        let text = call.to_string();
        self.record_call(call, outcome_of(&Err(errno)));
        Error::Syscall { call: text, errno }
    }
}
