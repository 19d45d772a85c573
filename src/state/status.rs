//! What a container is doing now, read from its records and its lock:
//! what `ps`, `inspect`, `stop`, `kill`, `exec`, `logs` and `start` go by.
//! "running" only while a diyc holds its lock; a run.json whose diyc is
//! gone reads "dead" (the next diyc cleans up after it); otherwise
//! "exited" after a run, "created" before one.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Store;
use super::container::{self, Config, LOG_FILE, ProcessId, Run, State};
use super::files;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
    Dead,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

/// One container, as its records say now.
#[derive(Debug, Clone)]
pub struct Info {
    pub dir: PathBuf,
    pub config: Config,
    pub status: Status,
    /// The run in progress (or the dead one).
    pub run: Option<Run>,
    /// Its first process, while that is alive.
    pub init: Option<ProcessId>,
    /// How the last run ended.
    pub state: Option<State>,
}

impl Info {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether a run was ever detached: only then is there a log.
    pub fn has_log(&self) -> bool {
        self.dir.join(LOG_FILE).exists()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// The pid of its first process, if it runs; an error that says what
    /// it is instead, for the commands that need it running.
    pub fn running_pid(&self, what: &str) -> Result<ProcessId> {
        match (self.status, self.init) {
            (Status::Running, Some(init)) => Ok(init),
            (Status::Running, None) => Err(Error::invalid(format!(
                "container {} is still starting; {what} needs it running",
                self.name()
            ))),
            (status, _) => Err(Error::invalid(format!(
                "container {} is not running ({}); {what} needs it running",
                self.name(),
                status.name()
            ))),
        }
    }
}

impl Info {
    /// Once no diyc runs it any more (its supervisor has cleaned up after
    /// it), what its records say then: None when they went with it (a
    /// `--rm` container, or one removed meanwhile).
    pub fn when_released(&self) -> Result<Option<Info>> {
        match files::lock_wait(&self.dir) {
            Ok(lock) => drop(lock),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        }
        Ok(read(&self.dir))
    }
}

fn read(dir: &Path) -> Option<Info> {
    let config = container::config(dir).ok()?;
    let run = container::read_run(dir);
    let state = container::read_state(dir);
    let locked = files::is_locked(dir);
    let status = match (locked, &run, &state) {
        (true, _, _) => Status::Running,
        (false, Some(_), _) => Status::Dead,
        (false, None, Some(_)) => Status::Exited,
        (false, None, None) => Status::Created,
    };
    let init = if locked {
        container::read_init(dir).filter(ProcessId::alive)
    } else {
        None
    };
    Some(Info {
        dir: dir.to_path_buf(),
        config,
        status,
        run,
        init,
        state,
    })
}

/// The container called `name`, or the one line that says there is none.
pub fn info(store: &Store, name: &str) -> Result<Info> {
    super::validate_name("container", name)?;
    read(&store.containers_dir().join(name))
        .ok_or_else(|| Error::invalid(format!("no container named {name}")))
}

/// Each container named, in order: an error for the first unknown name,
/// so a command acts on none of them if any is wrong.
pub fn named(store: &Store, names: &[String]) -> Result<Vec<Info>> {
    names.iter().map(|name| info(store, name)).collect()
}

/// Every container, by name.
pub fn list(store: &Store) -> Vec<Info> {
    let Ok(entries) = fs::read_dir(store.containers_dir()) else {
        return Vec::new();
    };
    let mut rows: Vec<Info> = entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| read(&e.path()))
        .collect();
    rows.sort_by(|a, b| a.config.name.cmp(&b.config.name));
    rows
}
