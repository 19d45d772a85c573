//! `create` and `start`. create reads the bundle, makes the container
//! through the same stages as `diyc run`, and leaves its first process
//! waiting at the start gate, a FIFO in the container's state directory;
//! the engine's subreaper (conmon, the shim) becomes its parent as diyc
//! exits. What create changed on the host (the cgroup) stays, recorded
//! in state.json, until `delete`. start opens the gate, and the command
//! runs.

use std::path::Path;

use super::Log;
use super::config::{self, Config, Net};
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::{Explainer, Format};
use crate::runtime::{self, ExecSpec, Handoff, Launch, Process, Terminal};
use crate::signals::Signals;
use crate::stages::cgroups::{Cgroups, Host, devices};
use crate::stages::hardening::{self, Hardening, Paths};
use crate::stages::net::joined::Joined;
use crate::stages::order::Plan;
use crate::stages::pid::Pid;
use crate::stages::rootfs::{self, Parts, Rootfs};
use crate::stages::session::{Session, Stdio};
use crate::stages::uts::Uts;
use crate::state::container::ProcessId;
use crate::state::oci::{self as records, Dir, Record};
use crate::sys::{Quiet, Sys};
use crate::undo::Undo;

pub struct Request<'a> {
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console: Option<&'a Path>,
    pub id: &'a str,
}

/// The annotation that asks for an explanation file, like DIYC_EXPLAIN.
pub const EXPLAIN_ANNOTATION: &str = "diyc.explain";

pub fn create(log: &Log, root: &Path, req: Request) -> Result<()> {
    records::validate_id(req.id)?;
    let bundle = std::fs::canonicalize(req.bundle).map_err(|e| {
        Error::invalid(format!(
            "bundle {}: {}",
            req.bundle.display(),
            crate::error::io_reason(&e)
        ))
    })?;
    let config = config::load(&bundle, req.id, &|note| log.note(note))?;
    match (config.process.terminal, req.console) {
        (true, None) => {
            return Err(Error::invalid(
                "process.terminal is true: a terminal needs --console-socket to be sent to",
            ));
        }
        (false, Some(_)) => {
            return Err(Error::invalid(
                "--console-socket is given but process.terminal is false",
            ));
        }
        _ => {}
    }
    rootfs::check_mount_points(&config.root)?;
    let explain = explain_path(root, &config)?;
    let host = Host::detect()?;
    let placement = match &config.cgroup {
        Some((parent, name)) => Some(host.place(parent, name, &config.limits)?),
        None => None,
    };
    let hardening = hardening_of(&config)?;
    let signals = Signals::block()?;

    let dir = Dir::make(root, req.id)?;
    let mut record = Record {
        id: req.id.to_string(),
        init: None,
        bundle,
        rootfs: config.root.clone(),
        created: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
        annotations: config.annotations.clone(),
        owner: String::new(),
        cgroup: placement.clone(),
    };
    let made = (|| {
        dir.write(&record)?;
        let gate = crate::sys::open_gate(&dir.make_gate()?)?;
        let file = explain.as_deref().map(records::explain_file).transpose()?;
        // One open file shared by diyc and the container's process, so the
        // process's own lines follow diyc's.
        let theirs = file
            .as_ref()
            .map(|f| {
                f.try_clone().map_err(|e| Error::Os {
                    what: "sharing the explanation file".into(),
                    source: e,
                })
            })
            .transpose()?;
        let mut explainer = match file {
            Some(file) => Explainer::new(Some(Format::Json)).writing_to(Box::new(file)),
            None => Explainer::new(None),
        };
        let mut sys = Sys::new(&mut explainer, StageId::Cgroups);
        let mut launch = launch_of(&config, host, placement, hardening)?.hand_off(Handoff {
            gate: Some(gate),
            console: req.console.map(Path::to_path_buf),
            umask: config.process.umask,
            explain: theirs,
        });
        let mut undo = Undo::new();
        let launched = runtime::launch(&mut sys, &mut launch, &signals, &mut undo, &mut |child| {
            record.init = ProcessId::of(child);
            dir.write(&record)
        });
        let pid = record.init.map(|p| p.pid);
        let written = match (&launched, req.pid_file, pid) {
            (Ok(_), Some(file), Some(pid)) => records::write_pid_file(file, pid),
            _ => Ok(()),
        };
        if let Err(e) = launched.and(written) {
            if let Some(init) = record.init {
                init.kill();
            }
            undo.finish(&mut sys, false);
            return Err(e);
        }
        // The cgroup and the rest are the container's until `delete`.
        undo.keep();
        Ok(())
    })();
    if made.is_err() {
        let _ = dir.remove();
    }
    made
}

/// Where the explanation goes: DIYC_EXPLAIN, a path the caller chose, or
/// the annotation, which whoever wrote the bundle chose (an image's
/// author, a pod's): so only a name, for a file in the runtime's own
/// directory, `ROOT/.explain/NAME.json`, never a path of the host's.
fn explain_path(root: &Path, config: &Config) -> Result<Option<std::path::PathBuf>> {
    if let Some(path) = std::env::var_os("DIYC_EXPLAIN") {
        return Ok(Some(path.into()));
    }
    let Some(name) = config.annotations.get(EXPLAIN_ANNOTATION) else {
        return Ok(None);
    };
    records::validate_id(name).map_err(|_| {
        Error::invalid(format!(
            "annotation {EXPLAIN_ANNOTATION}={name:?}: give a name (letters, digits, _ + - .); the explanation goes to {}/.explain/NAME.json",
            root.display()
        ))
    })?;
    records::explain_dir(root).map(|dir| Some(dir.join(format!("{name}.json"))))
}

/// The stages of the bundle's container, in the one order.
fn launch_of(
    config: &Config,
    host: Host,
    placement: Option<crate::stages::cgroups::Placement>,
    hardening: Hardening,
) -> Result<Launch> {
    let parts = Parts {
        dev: config.mounts.dev,
        sys: config.mounts.sys,
        proc: config.mounts.proc,
    };
    let root = config
        .root
        .to_str()
        .ok_or_else(|| Error::invalid("root.path is not UTF-8"))?
        .to_string();
    let mut rootfs = Rootfs::engine(root, parts, config.mounts.rest.clone(), config.readonly);
    let mut plan = Plan {
        mount: true,
        ipc: config.ipc,
        // The bundle's /proc is mounted with its other mounts, before
        // pivot_root.
        pid: Some(Pid {
            mount_proc: true,
            mounted_by_rootfs: true,
        }),
        session: Some(Session::new(
            config.process.terminal,
            Stdio::default(),
            StageId::Rootfs,
        )),
        hardening: Some(hardening),
        ..Plan::default()
    };
    if let Some(placement) = placement {
        if config.mounts.cgroup {
            rootfs = rootfs.with_cgroupfs(host.inside_mounts(&placement));
        }
        let mut allowed = devices::DEFAULT.to_vec();
        allowed.extend(config.devices.iter().copied());
        plan.cgroups = Some(Cgroups::new(host, placement, config.limits).with_devices(allowed));
    }
    plan.rootfs = Some(rootfs);
    plan.uts = config.hostname.clone().map(|hostname| Uts {
        hostname,
        domainname: config.domainname.clone(),
    });
    if let Net::Join(path) = &config.net {
        let path = path
            .to_str()
            .ok_or_else(|| Error::invalid("the network namespace's path is not UTF-8"))?;
        plan.joined_net = Some(Joined {
            path: path.to_string(),
        });
    }
    let (stages, mut flags) = plan.build();
    if config.uts && config.hostname.is_none() {
        flags |= libc::CLONE_NEWUTS as u64;
    }
    if config.net == Net::New {
        // A new, empty network namespace, as runc leaves it: the engine
        // (netavark, a CNI plugin) or nobody configures it.
        flags |= libc::CLONE_NEWNET as u64;
    }
    let exec = ExecSpec {
        argv: config.process.args.clone(),
        env: config.process.env.clone(),
        workdir: Some(config.process.cwd.clone()),
    };
    Ok(Launch::new(stages, flags, exec)?.with_terminal(Terminal {
        tty: config.process.terminal,
        input: false,
    }))
}

/// What the process may do: its capabilities, user, limits, filter and
/// the paths it may not reach, as the bundle says.
pub(super) fn hardening_of(config: &Config) -> Result<Hardening> {
    let mut hardening = process_hardening(&config.process, config.seccomp.as_deref(), true)?;
    hardening.paths = Some(Paths {
        masked: config.masked.clone().unwrap_or_default(),
        read_only: config.readonly_paths.clone().unwrap_or_default(),
    });
    hardening.sysctl = config.sysctl.clone();
    Ok(hardening)
}

/// The process's own part: shared with `exec`, whose process joins a
/// container (`mask_paths` false) under the container's filter.
pub(super) fn process_hardening(
    process: &config::Proc,
    seccomp: Option<&str>,
    mask_paths: bool,
) -> Result<Hardening> {
    let choice = match seccomp {
        Some(json) => hardening::profile::Choice::Profile {
            path: "config.json's linux.seccomp".into(),
            json: json.to_string(),
        },
        None => hardening::profile::Choice::Unconfined,
    };
    let user = (process.uid != 0 || process.gid != 0 || !process.groups.is_empty()).then(|| {
        hardening::user::User {
            uid: process.uid,
            gid: process.gid,
            groups: process.groups.clone(),
            home: None,
        }
    });
    Ok(Hardening {
        caps: process.caps,
        mask_paths,
        seccomp: hardening::seccomp::compile(&choice, process.caps, None)?,
        user,
        paths: None,
        sysctl: Vec::new(),
        rlimits: Some(process.rlimits.clone()),
    })
}

/// `start`: let a created container's process through its gate.
pub fn start(root: &Path, id: &str) -> Result<()> {
    let dir = super::existing(root, id)?;
    let record = dir.record()?;
    let status = super::verbs::status(&dir, &record);
    if status != super::verbs::Status::Created {
        return Err(Error::invalid(format!(
            "cannot start a container that is {}",
            status.name()
        )));
    }
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Exec);
    let init = record
        .init
        .ok_or_else(|| Error::invalid(format!("container {id} has no process")))?;
    let process = Process::open(&mut sys, init)?
        .ok_or_else(|| Error::invalid(format!("container {id}'s process has ended")))?;
    crate::sys::release_gate(&dir.gate(), process.fd())?;
    dir.remove_gate()
}
