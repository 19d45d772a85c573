//! diyc's side while the exercise shell runs. Single-threaded, it waits on
//! two things at once: the socket `check` connects to, and the signalfd.
//! A `check` gets its verdict at once; the shell's SIGCHLD ends the
//! exercise; Ctrl-C and Ctrl-\ from the terminal belong to the student's
//! programs, not to diyc, and are drained; SIGTERM and SIGHUP end the
//! shell (and its PID namespace with it) and then diyc's clean-up runs.

use std::io::BufReader;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use super::look::{self, Look};
use super::shell::{Shell, Workspace};
use super::wire::{self, Ask, Verdict, View};
use super::{Exercise, Outcome, Setting};
use crate::error::{Error, Result};
use crate::signals::Signals;

/// A `check` that says nothing for this long is given up on.
const PATIENCE: Duration = Duration::from_secs(30);

pub fn serve(
    place: &Workspace,
    mut shell: Shell,
    exercise: &Exercise,
    setting: &Setting,
    signals: &Signals,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    loop {
        let (signalled, asked) = {
            let mut fds = [
                PollFd::new(signals.fd(), PollFlags::POLLIN),
                PollFd::new(place.listener.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::os("waiting for the exercise shell", e)),
            }
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), ready(&fds[1]))
        };
        if asked {
            if let Ok((stream, _)) = place.listener.accept() {
                let verdict = answer(stream, shell.pid, exercise, setting);
                if verdict.passed() {
                    outcome.passed = true;
                } else if verdict.hint.is_some() {
                    outcome.last_hint = verdict.hint;
                }
            }
        }
        if signalled {
            while let Some(info) = signals.next() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(sig @ (Signal::SIGTERM | Signal::SIGHUP)) => {
                        shell.kill();
                        return Err(Error::Interrupted(sig));
                    }
                    // The shell's, or anything else's: the shell is asked.
                    Ok(Signal::SIGCHLD) => {}
                    // Ctrl-C, Ctrl-\ and a resize: the student's programs'.
                    _ => {}
                }
            }
            if shell.ended()? {
                return Ok(outcome);
            }
        }
    }
}

/// One `check`: what it should collect, what it saw, and diyc's verdict,
/// which is also what it prints. A `check` that goes silent or was not
/// started from this exercise's shell gets no grade.
fn answer(stream: UnixStream, shell: i32, exercise: &Exercise, setting: &Setting) -> Verdict {
    let mut verdict = Verdict::default();
    let talked = (|| -> Result<()> {
        let os = |source| Error::Os {
            what: "the exercise's socket".into(),
            source,
        };
        stream.set_read_timeout(Some(PATIENCE)).map_err(os)?;
        stream.set_write_timeout(Some(PATIENCE)).map_err(os)?;
        let client = getsockopt(&stream, PeerCredentials)
            .map_err(|e| Error::os("asking who connected", e))?
            .pid();
        let mut writer = stream.try_clone().map_err(os)?;
        if !look::descends_from(client, shell) {
            verdict.bad(
                "this `check` was not started from the exercise shell",
                "type check in the shell diyc opened for the exercise",
            );
            return wire::send(&mut writer, &verdict);
        }
        wire::send(
            &mut writer,
            &Ask {
                wants: exercise.wants.to_vec(),
            },
        )?;
        let view: View = wire::receive(&mut BufReader::new(&stream))?;
        verdict = (exercise.check)(&Look {
            client,
            shell,
            view: &view,
            setting,
        });
        wire::send(&mut writer, &verdict)
    })();
    match talked {
        Ok(()) => verdict,
        // Not the student's doing: no grade either way.
        Err(_) => Verdict::default(),
    }
}
