//! The records of containers an engine drives through the OCI runtime
//! command line, one directory per container id under the runtime's
//! `--root` (not diyc's store: engines keep their own images and roots).
//! A directory holds `state.json`, what `state` reports and `delete`
//! cleans up after, and while the container waits between `create` and
//! `start`, `exec.fifo`, the start gate. A lock on the directory keeps
//! two commands on one container from crossing.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{Lock, lock_new, lock_wait, remove_dir};
use super::{read_json, write_json};
use crate::error::{Error, IoContext, Result};
use crate::stages::cgroups::Placement;
use crate::state::container::ProcessId;

/// The runtime's state root when `--root` is not given: under /run, so a
/// reboot forgets containers whose processes it ended; without root, the
/// user's own runtime directory.
pub fn default_root() -> Result<PathBuf> {
    if !crate::observe::rootless() {
        return Ok(PathBuf::from("/run/diyc-oci"));
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map(|dir| dir.join("diyc-oci"))
        .ok_or_else(|| Error::invalid("without root the runtime keeps its state in $XDG_RUNTIME_DIR: set it, or give --root"))
}

/// What `create` recorded about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// The container's first process, once it exists.
    pub init: Option<ProcessId>,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339, as runc writes it.
    pub created: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub owner: String,
    /// Its cgroup, which `delete` removes.
    pub cgroup: Option<Placement>,
}

/// A container's directory under the runtime's root.
pub struct Dir {
    pub path: PathBuf,
    _lock: Lock,
}

/// An id is one path component: letters, digits and `_ + - .`, not
/// starting with `.`, as runc accepts.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{id:?} is not a container id: use letters, digits and _ + - . (not starting with .)"
        )))
    }
}

fn dir_of(root: &Path, id: &str) -> Result<PathBuf> {
    validate_id(id)?;
    Ok(root.join(id))
}

impl Dir {
    /// Make the directory of a new container `id`; refused if one exists.
    pub fn make(root: &Path, id: &str) -> Result<Dir> {
        let path = dir_of(root, id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(root)
            .ctx("making", root)?;
        match fs::DirBuilder::new().mode(0o711).create(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::invalid(format!("container {id} already exists")));
            }
            other => other.ctx("making", &path)?,
        }
        let lock = lock_new(&path)?;
        Ok(Dir { path, _lock: lock })
    }

    /// The directory of container `id`, locked; None if there is none.
    pub fn open(root: &Path, id: &str) -> Result<Option<Dir>> {
        let path = dir_of(root, id)?;
        if !path.is_dir() {
            return Ok(None);
        }
        let lock = match lock_wait(&path) {
            Err(e) if e.is_not_found() => return Ok(None),
            other => other?,
        };
        // Deleted while this one waited for the lock.
        if !path.join("state.json").exists() && !path.join("exec.fifo").exists() {
            return Ok(None);
        }
        Ok(Some(Dir { path, _lock: lock }))
    }

    pub fn record(&self) -> Result<Record> {
        read_json(&self.path.join("state.json"))
    }

    pub fn write(&self, record: &Record) -> Result<()> {
        write_json(&self.path.join("state.json"), record)
    }

    /// The start gate, a FIFO anyone may write (the container's process
    /// may run as any user by then) and only root reads.
    pub fn make_gate(&self) -> Result<PathBuf> {
        let gate = self.gate();
        nix::unistd::mkfifo(&gate, nix::sys::stat::Mode::from_bits_truncate(0o622))
            .map_err(|e| Error::os(format!("making {}", gate.display()), e))?;
        // mkfifo's mode passes through the umask.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&gate, fs::Permissions::from_mode(0o622))
            .ctx("setting the mode of", &gate)?;
        Ok(gate)
    }

    pub fn gate(&self) -> PathBuf {
        self.path.join("exec.fifo")
    }

    /// Whether the container still waits at its start gate.
    pub fn waiting(&self) -> bool {
        self.gate().exists()
    }

    /// The gate is passed: the container runs.
    pub fn remove_gate(&self) -> Result<()> {
        match fs::remove_file(self.gate()) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other.ctx("removing", self.gate()),
        }
    }

    /// Forget the container.
    pub fn remove(self) -> Result<()> {
        remove_dir(&self.path)
    }
}

/// The ids of every container under `root`.
pub fn ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = fs::read_dir(root)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|id| validate_id(id).is_ok())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Whether `id`'s process has exited and waits only to be reaped (a
/// zombie keeps its pid and start time).
pub fn is_zombie(pid: i32) -> bool {
    let Some(stat) = crate::observe::proc_file(&format!("/proc/{pid}/stat")) else {
        return true;
    };
    stat.rfind(')')
        .and_then(|i| {
            stat[i + 1..]
                .split_whitespace()
                .next()
                .map(|s| s == "Z" || s == "X")
        })
        .unwrap_or(true)
}

/// The pid file an engine asked for: the digits alone, as runc writes
/// them, put in place whole.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    super::write_atomic(path, pid.to_string().as_bytes())
}

/// Add one line to the log an engine asked for (`--log FILE`), which it
/// reads back for the error of a failed command.
pub fn append_log(path: &Path, line: &str) -> Result<()> {
    use std::io::Write;
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ctx("opening the log", path)?;
    file.write_all(format!("{line}\n").as_bytes())
        .ctx("writing the log", path)
}

/// The file an engine-driven run writes its explanation to
/// (`DIYC_EXPLAIN=FILE`), made afresh.
pub fn explain_file(path: &Path) -> Result<fs::File> {
    fs::File::create(path).ctx("making the explanation file", path)
}

/// `ROOT/.explain` (a name no container id can take), where explanations an annotation asked for go; made
/// if missing, and only root's to read.
pub fn explain_dir(root: &Path) -> Result<PathBuf> {
    let dir = root.join(".explain");
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .ctx("making", &dir)?;
    Ok(dir)
}
