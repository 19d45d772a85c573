//! The verbs that look at or act on a container an engine made: state,
//! kill, delete, pause and resume, ps, list, and features.

use std::path::Path;

use nix::sys::signal::Signal;
use serde::Serialize;

use crate::cli::oci::PsFormat;
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::runtime::Process;
use crate::stages::cgroups::{self, freeze};
use crate::state::oci::{self as records, Dir, Record};
use crate::sys::{Call, Quiet, Sys};

/// The OCI runtime spec this command line follows.
pub const SPEC_VERSION: &str = "1.0.2";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// Where the container is now, read from its process, its gate and its
/// cgroup's freezer.
pub fn status(dir: &Dir, record: &Record) -> Status {
    let alive = record
        .init
        .is_some_and(|p| p.alive() && !records::is_zombie(p.pid));
    if !alive {
        return Status::Stopped;
    }
    if dir.waiting() {
        return Status::Created;
    }
    let mut quiet = Quiet;
    let sys = Sys::new(&mut quiet, StageId::Cgroups);
    match &record.cgroup {
        Some(placement) if freeze::is_frozen(&sys, placement) => Status::Paused,
        _ => Status::Running,
    }
}

/// runc's state document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct State<'a> {
    oci_version: &'static str,
    id: &'a str,
    pid: i32,
    status: &'static str,
    bundle: &'a Path,
    rootfs: &'a Path,
    created: &'a str,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    annotations: &'a std::collections::BTreeMap<String, String>,
    owner: &'a str,
}

fn state_of<'a>(dir: &Dir, record: &'a Record) -> State<'a> {
    let status = status(dir, record);
    State {
        oci_version: SPEC_VERSION,
        id: &record.id,
        pid: match status {
            Status::Stopped => 0,
            _ => record.init.map_or(0, |p| p.pid),
        },
        status: status.name(),
        bundle: &record.bundle,
        rootfs: &record.rootfs,
        created: &record.created,
        annotations: &record.annotations,
        owner: &record.owner,
    }
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Error::encoding("writing the state", e))?;
    println!("{text}");
    Ok(())
}

pub fn state(root: &Path, id: &str) -> Result<()> {
    let dir = super::existing(root, id)?;
    let record = dir.record()?;
    print_json(&state_of(&dir, &record))
}

/// A signal by name (TERM, SIGTERM, term) or number.
fn parse_signal(text: &str) -> Result<Signal> {
    let bad = || Error::invalid(format!("unknown signal {text:?}"));
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

pub fn kill(root: &Path, id: &str, signal: &str, all: bool) -> Result<()> {
    let signal = parse_signal(signal)?;
    let dir = super::existing(root, id)?;
    let record = dir.record()?;
    if status(&dir, &record) == Status::Stopped {
        return Err(Error::invalid(format!("container {id} is not running")));
    }
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Cleanup);
    if all {
        if let Some(placement) = &record.cgroup {
            for pid in freeze::members(&sys, placement) {
                // One may end between the listing and the signal.
                let _ = sys.call(Call::Kill {
                    pid,
                    signal: signal as i32,
                });
            }
            return Ok(());
        }
    }
    let process = record
        .init
        .map(|init| Process::open(&mut sys, init))
        .transpose()?
        .flatten()
        .ok_or_else(|| Error::invalid(format!("container {id} is not running")))?;
    process.signal(&mut sys, signal)
}

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    records::validate_id(id)?;
    let Some(dir) = Dir::open(root, id)? else {
        // runc's: a forced delete of what is not there is done already.
        return if force {
            Ok(())
        } else {
            Err(Error::invalid(format!("container {id} does not exist")))
        };
    };
    let record = match dir.record() {
        Ok(record) => record,
        Err(_) if force => return dir.remove(),
        Err(e) => return Err(e),
    };
    let status = status(&dir, &record);
    if matches!(status, Status::Running | Status::Paused) && !force {
        return Err(Error::invalid(format!(
            "cannot delete container {id} that is not stopped: {}",
            status.name()
        )));
    }
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Cleanup);
    if let Some(placement) = &record.cgroup {
        if status == Status::Paused {
            freeze::set(&mut sys, placement, false)?;
        }
    }
    if let Some(init) = record.init {
        if let Some(process) = Process::open(&mut sys, init)? {
            process.signal(&mut sys, Signal::SIGKILL)?;
            process.wait(Some(std::time::Duration::from_secs(10)))?;
        }
    }
    if let Some(placement) = &record.cgroup {
        cgroups::remove(&mut sys, placement)?;
    }
    dir.remove()
}

pub fn pause(root: &Path, id: &str, frozen: bool) -> Result<()> {
    let dir = super::existing(root, id)?;
    let record = dir.record()?;
    let (want, verb) = if frozen {
        (Status::Running, "pause")
    } else {
        (Status::Paused, "resume")
    };
    let now = status(&dir, &record);
    if now != want {
        return Err(Error::invalid(format!(
            "cannot {verb} container {id}: it is {}",
            now.name()
        )));
    }
    let placement = record
        .cgroup
        .as_ref()
        .ok_or_else(|| Error::invalid(format!("container {id} has no cgroup to freeze")))?;
    let mut quiet = Quiet;
    freeze::set(
        &mut Sys::new(&mut quiet, StageId::Cgroups),
        placement,
        frozen,
    )
}

pub fn ps(root: &Path, id: &str, format: PsFormat) -> Result<()> {
    let dir = super::existing(root, id)?;
    let record = dir.record()?;
    let mut quiet = Quiet;
    let sys = Sys::new(&mut quiet, StageId::Cgroups);
    let pids = record
        .cgroup
        .as_ref()
        .map(|p| freeze::members(&sys, p))
        .unwrap_or_default();
    if format == PsFormat::Json {
        return print_json(&pids);
    }
    println!("{:>8}  CMD", "PID");
    for pid in pids {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .replace('\0', " ")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        println!("{pid:>8}  {cmd}");
    }
    Ok(())
}

pub fn list(root: &Path, format: PsFormat, quiet: bool) -> Result<()> {
    let mut found = Vec::new();
    for id in records::ids(root) {
        if let Some(dir) = Dir::open(root, &id)? {
            if let Ok(record) = dir.record() {
                found.push((status(&dir, &record), record));
            }
        }
    }
    if quiet {
        found.iter().for_each(|(_, r)| println!("{}", r.id));
        return Ok(());
    }
    if format == PsFormat::Json {
        let states: Vec<serde_json::Value> = found
            .iter()
            .map(|(status, r)| {
                serde_json::json!({"id": r.id, "status": status.name(), "bundle": r.bundle,
                    "pid": r.init.map_or(0, |p| p.pid), "created": r.created})
            })
            .collect();
        return print_json(&states);
    }
    println!("{:<20} {:>8} {:<8} BUNDLE", "ID", "PID", "STATUS");
    for (status, r) in &found {
        println!(
            "{:<20} {:>8} {:<8} {}",
            r.id,
            r.init.map_or(0, |p| p.pid),
            status.name(),
            r.bundle.display()
        );
    }
    Ok(())
}

/// The OCI features document: what a bundle may ask of this runtime.
pub fn features() -> Result<()> {
    let caps: Vec<&str> = crate::sys::CAPABILITIES.to_vec();
    let features = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": [],
        "mountOptions": super::mounts::options(),
        "linux": {
            "namespaces": ["mount", "pid", "network", "ipc", "uts", "cgroup"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_LOG"],
                "operators": ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
                    "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"],
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
        },
        "annotations": {
            "io.github.diyc.version": env!("CARGO_PKG_VERSION"),
            super::create::EXPLAIN_ANNOTATION: "a file for create's explanation, as JSON lines",
        },
    });
    print_json(&features)
}
