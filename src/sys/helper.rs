//! Helper programs (iptables, ldd, busybox --list-full): started, waited
//! for, and recorded as one event each, the command line as a student
//! would type it, under the helper's own pid. The clone and execve that
//! start it are plumbing, not isolation, and are not shown apart.

use std::io::Read;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, dup2_stderr, dup2_stdout, pipe2, read};

use super::call::Call;
use super::plumbing::exit_now;
use super::{Backend, Sys, outcome_of};
use crate::error::{Error, Result};
use crate::event::Outcome;

/// The environment every helper gets: nothing of the caller's.
const HELPER_ENV: [&str; 2] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"];

/// Where a shell would find `name` on the caller's PATH (the usual
/// directories when there is none): how diyc finds the helpers that act
/// for the user, newuidmap and pasta, and doctor looks for them too.
pub fn on_path(name: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    // Only absolute directories: an empty entry or `.` would find a
    // helper in whatever directory diyc was started from.
    std::env::split_paths(&path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .and_then(|p| p.to_str().map(String::from))
}

/// A helper's last line of output, printable: its reason for failing.
fn last_line(output: &str) -> Option<String> {
    output
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(|l| {
            l.chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect()
        })
}

impl Sys<'_> {
    /// Run a helper program that must succeed, and return what it printed.
    pub fn capture(&mut self, argv: &[String]) -> Result<String> {
        match self.run_helper(argv)? {
            (0, output) => Ok(output),
            (code, output) => Err(Error::Helper {
                command: argv.join(" "),
                status: Some(code),
                said: last_line(&output),
            }),
        }
    }

    /// Run a helper program and return its exit status and what it printed
    /// (stdout and stderr together). A failed execve is read from a
    /// close-on-exec pipe, which closes unread when the exec worked.
    pub fn run_helper(&mut self, argv: &[String]) -> Result<(i32, String)> {
        let command = Call::Command {
            argv: argv.to_vec(),
        };
        self.begin();
        if let Backend::Dry(world) = &mut self.backend {
            let (code, output) = world.helper_answer(&command.to_string());
            let pid = world.new_pid();
            self.record_as(pid, command, Outcome::Ok(i64::from(code)));
            return Ok((code, output));
        }
        let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe2", e))?;
        let (status_r, status_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe2", e))?;
        let exec = Call::Execve {
            path: argv.first().cloned().unwrap_or_default(),
            argv: argv.to_vec(),
            env: HELPER_ENV.iter().map(|e| e.to_string()).collect(),
        };
        let fork = Call::Clone3 {
            flags: 0,
            exit_signal: libc::SIGCHLD as u64,
            cgroup_fd: None,
        };
        let diyc = std::process::id();
        let child = match fork.perform() {
            Ok(0) => {
                drop((out_r, status_r));
                // A helper must not outlive a diyc killed while it runs:
                // its half-done change would race the clean-up after it.
                let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
                if nix::unistd::getppid().as_raw() as u32 != diyc {
                    exit_now(127);
                }
                // As from a shell: diyc blocks the signals it reads from a
                // signalfd, and Rust's runtime ignores SIGPIPE; exec would
                // pass both on (pasta, for one, would never see SIGTERM).
                super::plumbing::reset_signal_dispositions();
                let _ = nix::sys::signal::sigprocmask(
                    nix::sys::signal::SigmaskHow::SIG_SETMASK,
                    Some(&nix::sys::signal::SigSet::empty()),
                    None,
                );
                let errno = match dup2_stdout(&out_w).and_then(|()| dup2_stderr(&out_w)) {
                    Ok(()) => exec.perform().err().unwrap_or(Errno::EINVAL),
                    Err(e) => e,
                };
                let _ = nix::unistd::write(&status_w, &(errno as i32).to_ne_bytes());
                exit_now(127)
            }
            Ok(child) => child as i32,
            Err(errno) => {
                return Err(Error::Syscall {
                    call: fork.to_string(),
                    errno,
                });
            }
        };
        drop((out_w, status_w));
        let mut code = [0u8; 4];
        let exec_failed = match read(&status_r, &mut code) {
            Ok(4) => Some(Errno::from_raw(i32::from_ne_bytes(code))),
            _ => None,
        };
        let mut output = String::new();
        let read_result = std::fs::File::from(out_r).read_to_string(&mut output);
        let status = waitpid(Pid::from_raw(child), None);
        let outcome = match (exec_failed, &status) {
            (Some(errno), _) => outcome_of(&Err(errno)),
            (None, Ok(WaitStatus::Exited(_, code))) => Outcome::Ok(i64::from(*code)),
            // As a shell reports it: 128 plus the signal.
            (None, Ok(WaitStatus::Signaled(_, sig, _))) => Outcome::Ok(128 + *sig as i64),
            (None, _) => Outcome::Err {
                errno: "ECHILD".into(),
                message: "the helper could not be waited for".into(),
            },
        };
        self.record_as(child, command, outcome);
        if let Some(errno) = exec_failed {
            return Err(Error::Syscall {
                call: exec.to_string(),
                errno,
            });
        }
        read_result.map_err(|source| Error::Os {
            what: "reading a helper's output".into(),
            source,
        })?;
        match status {
            Ok(WaitStatus::Exited(_, code)) => Ok((code, output)),
            _ => Err(Error::Helper {
                command: argv.join(" "),
                status: None,
                said: last_line(&output),
            }),
        }
    }
}
