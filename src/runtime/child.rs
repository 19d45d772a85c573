//! The container's first process, from the clone to execve: it names
//! itself, waits for diyc's go-ahead, enters each stage in order (sending
//! its recorded calls to diyc, and stopping after each while diyc looks
//! at the host), then finds the command and executes it. Its end of the
//! setup socket closes on exec, which is how diyc knows the command runs.

use nix::sys::signal::Signal;
use nix::sys::stat::{Mode, umask};

use super::channel::{Channel, ChildRecorder, ToChild, ToParent};
use super::{ExecSpec, Launch};
use crate::error::{Error, Result};
use crate::event::{Event, StageId};
use crate::fault;
use crate::signals::Signals;
use crate::sys::{self, Sys};

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
    let _ = chan.send(&ToParent::Failed { message, code });
    code
}

fn child_setup(chan: &Channel, launch: &Launch, explain: bool, signals: &Signals) -> Result<()> {
    let _ = nix::sys::prctl::set_name(c"diyc-init");
    // If diyc dies, so does the container: nothing is left running unowned.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    // Device nodes and directories get exactly the modes asked for.
    umask(Mode::empty());
    match chan.recv::<ToChild>()? {
        Some(ToChild::Go) => {}
        _ => {
            return Err(Error::Container(
                "diyc went away before the container started".into(),
            ));
        }
    }
    let mut rec = ChildRecorder { chan, explain };
    let mut sys = Sys::new(&mut rec, StageId::Clone);
    for stage in launch.stages.iter().filter(|s| s.runs_inside()) {
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
    exec(&mut sys, chan, &launch.exec, explain, signals)
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
    spec: &ExecSpec,
    explain: bool,
    signals: &Signals,
) -> Result<()> {
    sys.stage(StageId::Exec);
    if let Some(dir) = &spec.workdir {
        sys.call(sys::Call::Chdir { path: dir.clone() })
            .map_err(|e| match e.errno() {
                Some(errno) => {
                    Error::Container(format!("working directory {dir}: {}", errno.desc()))
                }
                None => e,
            })?;
    }
    let cmd = spec.argv.first().map_or("", String::as_str);
    let path = resolve(cmd, env_value(&spec.env, "PATH").unwrap_or(""))?;
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
    chan.send(&ToParent::Executing)?;
    umask(Mode::from_bits_truncate(0o022));
    sys::reset_signal_dispositions();
    signals.restore_mask();
    let err = sys.execve(&path, &spec.argv, &spec.env);
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
