//! `exec --process FILE ID`: another process in a running container,
//! made as `diyc exec` makes one: the container's cgroup and namespaces
//! joined (the join stage), a session of its own, and the process's
//! capabilities and user under the container's seccomp filter. With
//! `--detach` it is left to the engine, which waits for it.

use std::path::Path;

use super::config;
use super::create::process_hardening;
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::Explainer;
use crate::runtime::{self, ExecSpec, Handoff, Launch, Terminal};
use crate::signals::Signals;
use crate::stages::cgroups::{Cgroups, Host};
use crate::stages::join::Join;
use crate::stages::order::Plan;
use crate::stages::session::{Session, Stdio};
use crate::state::oci as records;
use crate::sys::Sys;
use crate::undo::Undo;

pub struct Request<'a> {
    pub process: &'a Path,
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
    pub console: Option<&'a Path>,
    pub tty: bool,
    pub id: &'a str,
}

pub fn exec(root: &Path, req: Request) -> Result<i32> {
    let text = std::fs::read_to_string(req.process).map_err(|e| {
        Error::invalid(format!(
            "--process {}: {}",
            req.process.display(),
            crate::error::io_reason(&e)
        ))
    })?;
    let process: oci_spec::runtime::Process = serde_json::from_str(&text)
        .map_err(|e| Error::invalid(format!("--process {}: {e}", req.process.display())))?;
    let process = config::proc_of(&process)?;
    let terminal = req.tty || process.terminal;
    if terminal && (req.console.is_none() || !req.detach) {
        return Err(Error::invalid(
            "a terminal for exec needs --console-socket and --detach: the engine relays it",
        ));
    }
    let dir = super::existing(root, req.id)?;
    let record = dir.record()?;
    if super::verbs::status(&dir, &record) != super::verbs::Status::Running {
        return Err(Error::invalid(format!(
            "cannot exec in container {}: it is not running",
            req.id
        )));
    }
    let init = record
        .init
        .ok_or_else(|| Error::invalid(format!("container {} has no process", req.id)))?;
    // The filter the container's own process runs under.
    let seccomp = config::load(&record.bundle, req.id, &|_| {})?.seccomp;
    let hardening = process_hardening(&process, seccomp.as_deref(), false)?;
    let signals = Signals::block()?;
    let cgroups = match &record.cgroup {
        Some(placement) => Some(Cgroups::join(Host::detect()?, placement.clone())),
        None => None,
    };
    drop(dir);
    let plan = Plan {
        cgroups,
        join: Some(Join::new(init)),
        session: Some(Session::new(terminal, Stdio::default(), StageId::Join)),
        hardening: Some(hardening),
        ..Plan::default()
    };
    let (stages, flags) = plan.build();
    let exec = ExecSpec {
        argv: process.args.clone(),
        env: process.env.clone(),
        workdir: Some(process.cwd.clone()),
    };
    let mut launch = Launch::new(stages, flags, exec)?.with_terminal(Terminal {
        tty: terminal,
        input: false,
    });
    let handoff = Handoff {
        gate: None,
        console: req.console.map(Path::to_path_buf),
        umask: process.umask,
        explain: None,
    };
    if req.detach {
        launch = launch.hand_off(handoff);
    }
    let mut explainer = Explainer::new(None);
    let mut sys = Sys::new(&mut explainer, StageId::Join);
    let mut undo = Undo::new();
    let mut pid = None;
    let result = runtime::launch(&mut sys, &mut launch, &signals, &mut undo, &mut |child| {
        pid = Some(child);
        Ok(())
    });
    undo.finish(&mut sys, result.is_ok());
    let exit = result?;
    if let (Some(file), Some(pid)) = (req.pid_file, pid) {
        records::write_pid_file(file, pid)?;
    }
    Ok(exit.code)
}
