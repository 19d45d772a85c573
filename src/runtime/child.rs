//! The container's first process, from the clone to execve: it names
//! itself, waits for diyc's go-ahead, enters each stage in order (sending
//! its recorded calls to diyc, and stopping after each while diyc looks
//! at the host), then finds the command and executes it. Its end of the
//! setup socket closes on exec, which is how diyc knows the command runs.

use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::stat::{Mode, umask};

use super::channel::{Channel, ChildRecorder, ToChild, ToParent};
use super::inside::{check_inside, enter_workdir};
use super::{ExecSpec, Launch};
use crate::error::{Error, Result};
use crate::event::{Event, StageId};
use crate::fault;
use crate::signals::Signals;
use crate::stages::Stages;
use crate::sys::{self, Call, Sys};

pub(super) fn child_main(chan: &Channel, launch: &Launch, explain: bool, signals: &Signals) -> i32 {
    // Caught so that a bug can never unwind into diyc's own copy of main.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        child_setup(chan, launch, explain, signals)
    }));
    let (message, code) = match result {
        Ok(Ok(())) => return 0,
        Ok(Err(Error::Command { message, code })) => (message, code),
        Ok(Err(e)) => (e.to_string(), 125),
        Err(_) => ("the container's setup panicked".to_string(), 125),
    };
    if chan
        .send(&ToParent::Failed {
            message: message.clone(),
            code,
        })
        .is_err()
    {
        // diyc has handed the process to its engine and gone: the
        // container's own stderr, which the engine logs, is left to say it.
        eprintln!("diyc: {message}");
    }
    code
}

fn child_setup(chan: &Channel, launch: &Launch, explain: bool, signals: &Signals) -> Result<()> {
    let _ = nix::sys::prctl::set_name(c"diyc-init");
    // If diyc dies, so does the container: nothing is left running
    // unowned. An engine's container outlives diyc by design: the engine
    // waits for it.
    if !launch.handed_off() {
        let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    }
    // Until its command runs, this process is diyc's binary, and (for
    // `exec`) already in the container's PID namespace with the host's
    // root: not dumpable, no process of the container may open its
    // /proc/PID files (root, cwd, exe, fds) or ptrace it. The exec of the
    // command makes it dumpable again. In a user namespace of its own it
    // has no root of the host's to guard, and no other process shares its
    // new PID namespace; not dumpable, its /proc files would belong to
    // the host's root, out of reach of the user whose process it is, who
    // writes its maps and reads its namespaces from outside.
    let own_user_ns = launch.clone_flags() & libc::CLONE_NEWUSER as u64 != 0;
    if !own_user_ns && nix::sys::prctl::set_dumpable(false).is_err() {
        return Err(Error::Container(
            "cannot make the setup process private".into(),
        ));
    }
    // Device nodes and directories get exactly the modes asked for.
    umask(Mode::empty());
    let (host_pid, attached_before) = match chan.recv::<ToChild>()? {
        Some(ToChild::Go {
            pid,
            attached_before,
        }) => (pid, attached_before),
        _ => {
            return Err(Error::Container(
                "diyc went away before the container started".into(),
            ));
        }
    };
    let handed = std::cell::Cell::new(false);
    let mut rec = ChildRecorder {
        chan,
        explain,
        handed: &handed,
        file: launch.handoff.as_ref().and_then(|h| h.explain.as_ref()),
        host_pid,
    };
    let mut sys = Sys::new(&mut rec, StageId::Clone);
    let explain_fd = launch
        .handoff
        .as_ref()
        .and_then(|h| h.explain.as_ref())
        .map(AsRawFd::as_raw_fd);
    close_inherited(&mut sys, chan, &launch.stages, launch.gate(), explain_fd)?;
    for stage in launch.stages.iter().filter(|s| s.runs_inside()) {
        super::attach::wait_before(chan, stage.id(), attached_before)?;
        stage.enter(&mut sys)?;
        if let Some(master) = sys.take_terminal() {
            // diyc's end of the container's terminal; this copy closes.
            chan.send_fd(&ToParent::Terminal, master)?;
            sys.call(sys::Call::Close { fd: master })?;
        }
        if explain {
            let lines = stage.inside();
            stage_done(&mut sys, chan, stage.id(), lines)?;
        }
    }
    exec(&mut sys, chan, launch, explain, signals, &handed)
}

/// Close every descriptor the child has from diyc but the setup socket
/// and those a stage still uses. One left open on a directory (the
/// cgroup's, kept for CLONE_INTO_CGROUP) would be the host's, reachable
/// as /proc/self/fd/N from inside the new root: the class of
/// CVE-2024-21626. Done before any stage resolves a path.
fn close_inherited(
    sys: &mut Sys,
    chan: &Channel,
    stages: &Stages,
    gate: Option<i32>,
    explain: Option<i32>,
) -> Result<()> {
    let mut keep: Vec<u32> = stages
        .iter()
        .flat_map(|s| s.child_fds())
        .chain([chan.fd().as_raw_fd()])
        .chain(gate)
        .chain(explain)
        .filter_map(|fd| u32::try_from(fd).ok())
        .filter(|fd| *fd > 2)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    sys.note("in the new process: every descriptor from diyc is closed but the setup socket and the stages' own, so no file or directory of the host's reaches the container");
    let mut first = 3;
    for kept in keep.iter().copied().chain([u32::MAX]) {
        if first < kept {
            let last = if kept == u32::MAX { kept } else { kept - 1 };
            match sys.call(Call::CloseRange {
                first,
                last,
                cloexec: false,
            }) {
                // close_range came with Linux 5.9.
                Err(e) if e.errno() == Some(Errno::ENOSYS) => return close_one_by_one(sys, &keep),
                other => other.map(drop)?,
            }
        }
        first = kept.saturating_add(1);
    }
    Ok(())
}

fn close_one_by_one(sys: &mut Sys, keep: &[u32]) -> Result<()> {
    sys.note("this kernel has no close_range: closing each open descriptor instead");
    for fd in sys.open_descriptors_above(2) {
        if u32::try_from(fd).is_ok_and(|fd| !keep.contains(&fd)) {
            sys.call(Call::Close { fd })?;
        }
    }
    Ok(())
}

/// Show the inside view and wait until diyc has looked at the outside.
fn stage_done(sys: &mut Sys, chan: &Channel, stage: StageId, lines: Vec<String>) -> Result<()> {
    if !lines.is_empty() {
        sys.emit(Event::State {
            stage,
            inside: true,
            title: "what the process sees".into(),
            lines,
        });
    }
    chan.send(&ToParent::StageDone(stage))?;
    match chan.recv::<ToChild>()? {
        Some(ToChild::Continue) => Ok(()),
        _ => Err(Error::Container("stopped before the command ran".into())),
    }
}

fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// execvp's search, done before the one execve so that strace shows a
/// single call: the first executable file named `cmd` along PATH.
fn resolve(cmd: &str, path: &str) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    if cmd.contains('/') {
        return Ok(cmd.to_string());
    }
    let mut not_executable = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = format!("{dir}/{cmd}");
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
            not_executable.get_or_insert(candidate);
        }
    }
    Err(match not_executable {
        Some(found) => Error::Command {
            message: format!("{found}: permission denied"),
            code: 126,
        },
        None => Error::Command {
            message: format!("{cmd}: command not found (PATH={path})"),
            code: 127,
        },
    })
}

fn exec(
    sys: &mut Sys,
    chan: &Channel,
    launch: &Launch,
    explain: bool,
    signals: &Signals,
    handed: &std::cell::Cell<bool>,
) -> Result<()> {
    let spec: &ExecSpec = &launch.exec;
    sys.stage(StageId::Exec);
    if let Some(dir) = &spec.workdir {
        enter_workdir(sys, dir)?;
    }
    let cmd = spec.argv.first().map_or("", String::as_str);
    let path = resolve(cmd, env_value(&spec.env, "PATH").unwrap_or(""))?;
    check_inside(sys, &path)?;
    if explain {
        let cwd = std::env::current_dir().map_or_else(|_| "?".into(), |p| p.display().to_string());
        let lines = vec![
            format!("working directory: {cwd}"),
            format!("{cmd} found at {path}"),
            format!("environment: {}", spec.env.join(" ")),
        ];
        stage_done(sys, chan, StageId::Exec, lines)?;
    }
    fault::point("before-exec")?;
    match launch.gate() {
        Some(gate) => {
            chan.send(&ToParent::Waiting)?;
            handed.set(true);
            wait_for_start(sys, gate)?;
        }
        None => chan.send(&ToParent::Executing)?,
    }
    umask(Mode::from_bits_truncate(launch.umask()));
    sys::reset_signal_dispositions();
    signals.restore_mask();
    let err = super::trampoline::exec(sys, &path, &spec.argv, &spec.env);
    let (code, why) = match &err {
        Error::Syscall { errno, .. } => (
            if *errno == nix::errno::Errno::ENOENT {
                127
            } else {
                126
            },
            errno.desc().to_string(),
        ),
        other => (126, other.to_string()),
    };
    Err(Error::Command {
        message: format!("cannot execute {path}: {why}"),
        code,
    })
}

/// Block until `start` opens the gate for reading (the FIFO's open for
/// writing waits for a reader), then tell it the command is on its way.
/// The gate is reached through this process's own descriptor: its path
/// on the host is out of sight since pivot_root.
fn wait_for_start(sys: &mut Sys, gate: i32) -> Result<()> {
    let fd = sys.call(Call::Openat {
        path: format!("/proc/self/fd/{gate}"),
        flags: libc::O_WRONLY | libc::O_CLOEXEC,
        mode: 0,
    })? as i32;
    sys.call(Call::Write {
        fd,
        data: "0".into(),
    })?;
    sys.call(Call::Close { fd })?;
    sys.call(Call::Close { fd: gate }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_searches_path_like_execvp() {
        assert!(matches!(resolve("sh", "/nonexistent:/bin"), Ok(p) if p == "/bin/sh"));
        assert!(matches!(resolve("./x", "/bin"), Ok(p) if p == "./x"));
        assert!(matches!(
            resolve("diyc-no-such-command", "/bin:/usr/bin"),
            Err(Error::Command { code: 127, .. })
        ));
        assert!(matches!(
            resolve("passwd", "/etc"),
            Err(Error::Command { code: 126, .. })
        ));
    }

    #[test]
    fn later_environment_entries_win() {
        let env = vec!["PATH=/a".to_string(), "X=1".into(), "PATH=/b".into()];
        assert_eq!(env_value(&env, "PATH"), Some("/b"));
        assert_eq!(env_value(&env, "PAT"), None);
    }
}
