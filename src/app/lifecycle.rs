//! The verbs for a container that runs on its own: `stop`, `kill`,
//! `start` and `logs`. Each checks every name before it acts on any, so
//! a typo changes nothing.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::signal::Signal;

use super::detach;
use super::run::Options;
use crate::error::{Error, IoContext, Result};
use crate::event::StageId;
use crate::observe;
use crate::runtime::{Process, reclaim};
use crate::stages::net::Bridge;
use crate::state::Store;
use crate::state::status::{self, Info, Status};
use crate::sys::{Quiet, Sys};

/// Every named container, which must be running for `what`.
fn running(
    sys: &mut Sys,
    store: &Store,
    names: &[String],
    what: &str,
) -> Result<Vec<(Info, Process)>> {
    reclaim::reclaim_dead(sys, store);
    let infos = status::named(store, names)?;
    infos
        .into_iter()
        .map(|info| {
            let id = info.running_pid(what)?;
            let process = Process::open(sys, id)?.ok_or_else(|| {
                Error::invalid(format!("container {} has just stopped", info.name()))
            })?;
            Ok((info, process))
        })
        .collect()
}

/// `diyc stop`: SIGTERM to each container's first process, SIGKILL if it
/// is still there after `grace`; then wait until its supervisor has
/// cleaned up, and say which signal ended it.
pub fn stop(store: &Store, names: &[String], grace: u64) -> Result<i32> {
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Cleanup);
    let targets = running(&mut sys, store, names, "stop")?;
    for (info, process) in targets {
        process.signal(&mut sys, Signal::SIGTERM)?;
        let by_term = process.wait(Some(Duration::from_secs(grace)))?;
        if !by_term {
            process.signal(&mut sys, Signal::SIGKILL)?;
            process.wait(None)?;
        }
        let after = info.when_released()?;
        let code = after.and_then(|a| a.state).and_then(|s| s.exit_code);
        let status = code.map_or(String::new(), |c| format!(" (exit status {c})"));
        if by_term {
            println!("{}: stopped by SIGTERM{status}", info.name());
        } else {
            println!(
                "{}: killed with SIGKILL, still running {grace}s after SIGTERM{status}",
                info.name()
            );
        }
    }
    Ok(0)
}

/// `diyc kill`: one signal to each container's first process. The kernel
/// drops signals a namespace's first process has no handler for (except
/// SIGKILL and SIGSTOP), so diyc says when that will happen.
pub fn kill(store: &Store, names: &[String], signal: &str) -> Result<i32> {
    let signal = parse_signal(signal)?;
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Cleanup);
    let targets = running(&mut sys, store, names, "kill")?;
    for (info, process) in targets {
        let unstoppable = matches!(signal, Signal::SIGKILL | Signal::SIGSTOP);
        if !unstoppable && !observe::handles_signal(process.pid, signal) {
            crate::warnings::warn(format!(
                "{}'s first process has no handler for {}: the kernel ignores it for a namespace's first process",
                info.name(),
                signal.as_str()
            ));
        }
        process.signal(&mut sys, signal)?;
        println!("{}", info.name());
    }
    Ok(0)
}

/// KILL, SIGKILL, kill or 9.
fn parse_signal(text: &str) -> Result<Signal> {
    let upper = text.to_ascii_uppercase();
    let named = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    text.parse::<i32>()
        .ok()
        .and_then(|n| Signal::try_from(n).ok())
        .or_else(|| named.parse().ok())
        .ok_or_else(|| {
            Error::invalid(format!(
                "unknown signal {text:?}: try TERM, KILL, HUP, INT or a number"
            ))
        })
}

/// `diyc start`: stopped containers run again, detached, as they were
/// first run, each in a supervisor of its own.
pub fn start(store: &Store, bridge: &Bridge, names: &[String]) -> Result<i32> {
    let mut quiet = Quiet;
    reclaim::reclaim_dead(&mut Sys::new(&mut quiet, StageId::Cleanup), store);
    let infos = status::named(store, names)?;
    let mut specs = Vec::new();
    for info in infos {
        if info.status == Status::Running {
            return Err(Error::invalid(format!(
                "container {} is already running",
                info.name()
            )));
        }
        let spec = info.config.spec.clone().ok_or_else(|| {
            Error::invalid(format!(
                "container {0} was made by an older diyc, which kept no record of how it ran: run it again with `diyc run --name {0} ...`",
                info.name()
            ))
        })?;
        specs.push((info.name().to_string(), spec));
    }
    for (name, spec) in specs {
        let options = Options {
            name: Some(name),
            rm: false,
            explain: None,
            verbose: false,
            step: false,
        };
        detach::run(store, bridge, spec, options)?;
    }
    Ok(0)
}

/// `diyc logs`: what a detached container wrote; with `-f`, more as it
/// comes, until the container's supervisor ends.
pub fn logs(store: &Store, name: &str, follow: bool) -> Result<i32> {
    let info = status::info(store, name)?;
    if !info.has_log() {
        return Err(Error::invalid(format!(
            "container {name} never ran detached (-d): its output went to the terminal that ran it"
        )));
    }
    let path = info.log_path();
    let supervisor = match (follow, &info.run) {
        (true, Some(run)) if info.status == Status::Running => run.owner,
        _ => None,
    };
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Cleanup);
    let supervisor = match supervisor {
        Some(id) => Process::open(&mut sys, id)?,
        None => None,
    };
    // Watched before the first read, so nothing written in between is missed.
    let watch = match &supervisor {
        Some(_) => Some(LogWatch::new(&path)?),
        None => None,
    };
    let mut log = std::fs::File::open(&path).ctx("opening", &path)?;
    let mut out = std::io::stdout().lock();
    copy_new(&mut log, &mut out, &path)?;
    if let (Some(supervisor), Some(watch)) = (supervisor, watch) {
        while watch.grew(supervisor.fd())? {
            copy_new(&mut log, &mut out, &path)?;
        }
        copy_new(&mut log, &mut out, &path)?;
    }
    Ok(0)
}

/// Whatever the log has past what was copied before.
fn copy_new(log: &mut std::fs::File, out: &mut impl Write, path: &std::path::Path) -> Result<()> {
    let mut buf = Vec::new();
    log.read_to_end(&mut buf).ctx("reading", path)?;
    // A reader that went away (`| head`) ends the copy, not the command.
    let _ = out.write_all(&buf).and_then(|()| out.flush());
    Ok(())
}

/// Wakes `logs -f` when the log grows or the supervisor ends.
struct LogWatch {
    inotify: Inotify,
}

impl LogWatch {
    fn new(path: &std::path::Path) -> Result<LogWatch> {
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .map_err(|e| Error::os("watching the log", e))?;
        inotify
            .add_watch(path, AddWatchFlags::IN_MODIFY)
            .map_err(|e| Error::os(format!("watching {}", path.display()), e))?;
        Ok(LogWatch { inotify })
    }

    /// True when the log grew; false once `supervisor` has ended.
    fn grew(&self, supervisor: BorrowedFd) -> Result<bool> {
        loop {
            let mut fds = [
                PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN),
                PollFd::new(supervisor, PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::os("following the log", e)),
            }
            if fds[1].any() == Some(true) {
                return Ok(false);
            }
            // The events say only that it grew; the file says by what.
            while let Ok(events) = self.inotify.read_events() {
                if events.is_empty() {
                    break;
                }
            }
            return Ok(true);
        }
    }
}
