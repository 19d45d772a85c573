//! Containers on disk: `containers/NAME/` holds the writable layer (upper,
//! work), the mount point of the overlay, a config (which image) and a
//! state (running, exited with what). A `flock` on the directory is held
//! by the diyc that runs it, which is how two runs of one name are told
//! apart and how a container whose diyc died is recognised.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::files::{self, Lock, Staging};
use super::{Store, read_json, write_json};
use crate::error::{Error, IoContext, Result};
use crate::stages::cgroups::Placement;
use crate::stages::net::Port;

pub use super::spec::Spec;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub name: String,
    pub image: String,
    pub created: u64,
    /// How it was last run; none for a container made by an older diyc.
    #[serde(default)]
    pub spec: Option<Spec>,
}

/// How the last run ended (`state.json`, written when a run ends).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub command: Vec<String>,
    pub exit_code: Option<i32>,
    pub started: Option<u64>,
    pub finished: Option<u64>,
}

/// The run in progress (`run.json`): written before anything of the run is
/// made on the host, removed when the run ends. Left behind, it says what
/// a killed diyc left (its cgroup, its port rules) for `diyc rm -f`. The
/// container's first process is recorded apart (`init`), once it exists.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub command: Vec<String>,
    /// diyc's own pid and start time.
    pub owner: Option<ProcessId>,
    pub started: u64,
    /// Where its cgroup is, so it can be removed after diyc was killed.
    pub cgroup: Option<Placement>,
    /// Its place on the bridge, for the same reason.
    pub net: Option<NetRecord>,
    /// Run with `--rm`: a diyc that was killed leaves nothing to keep, so
    /// whoever cleans up after it removes the container too.
    #[serde(default)]
    pub remove: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetRecord {
    pub ip: std::net::Ipv4Addr,
    pub host_if: String,
    pub ports: Vec<Port>,
}

/// A pid with its start time, so a recycled pid is never mistaken for ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    pub start: u64,
}

impl ProcessId {
    pub fn of(pid: i32) -> Option<ProcessId> {
        start_time(pid).map(|start| ProcessId { pid, start })
    }

    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }

    /// SIGKILL this process if it is still the one recorded.
    pub fn kill(&self) {
        if self.alive() {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
        }
    }
}

/// Field 22 of /proc/PID/stat: when the process started, in clock ticks.
fn start_time(pid: i32) -> Option<u64> {
    let stat = crate::observe::proc_file(&format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(19)?.parse().ok()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A container directory whose lock this diyc holds.
pub struct Held {
    pub name: String,
    pub dir: PathBuf,
    /// True when this run made the container (so a failed start removes it).
    pub created: bool,
    _lock: Lock,
}

impl Held {
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Record the run in progress. A new file each run, never one
    /// replaced, so the filesystem has nothing to flush on the way.
    pub fn write_run(&self, run: &Run) -> Result<()> {
        write_json(&self.dir.join(RUN_FILE), run)
    }

    /// Record the container's first process, as the host sees it.
    pub fn write_init(&self, pid: i32) -> Result<()> {
        write_json(&self.dir.join(INIT_FILE), &ProcessId::of(pid))
    }

    pub fn clear_run(&self) -> Result<()> {
        for name in [INIT_FILE, RUN_FILE] {
            let path = self.dir.join(name);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).ctx("removing", path);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Where a detached run's output goes: appended to what earlier runs
    /// wrote, as `diyc logs` shows it.
    pub fn open_log(&self) -> Result<fs::File> {
        let path = self.dir.join(LOG_FILE);
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .ctx("opening", &path)
    }

    pub fn write_state(&self, state: &State) -> Result<()> {
        write_json(&self.dir.join(STATE_FILE), state)
    }

    /// The directories a run on disk mounts its overlay from.
    pub fn make_layer_dirs(&self) -> Result<()> {
        for dir in [self.upper(), self.work(), self.rootfs()] {
            if !dir.is_dir() {
                fs::create_dir(&dir).ctx("creating", &dir)?;
            }
        }
        Ok(())
    }
}

pub(crate) const CONFIG_FILE: &str = "config.json";
pub(crate) const RUN_FILE: &str = "run.json";
pub(crate) const LOG_FILE: &str = "log";
pub(crate) const INIT_FILE: &str = "init.json";
pub(crate) const STATE_FILE: &str = "state.json";

pub(crate) fn read_init(dir: &Path) -> Option<ProcessId> {
    read_json(&dir.join(INIT_FILE)).ok().flatten()
}

pub(crate) fn read_state(dir: &Path) -> Option<State> {
    read_json(&dir.join(STATE_FILE)).ok()
}

pub fn read_run(dir: &Path) -> Option<Run> {
    read_json(&dir.join(RUN_FILE)).ok()
}

pub fn config(dir: &Path) -> Result<Config> {
    read_json(&dir.join(CONFIG_FILE))
}

/// Take the container called `name` for a run of `image`: make it if it
/// does not exist, or lock the existing one. Of two runs racing on one
/// name, exactly one gets it; the other gets an error and has changed
/// nothing (its staging directory is gone again).
pub fn acquire(store: &Store, name: &str, spec: &Spec) -> Result<Held> {
    let image = spec.image.as_str();
    let dir = store.containers_dir().join(name);
    loop {
        if dir.exists() {
            let lock = match files::try_lock(&dir) {
                // Removed since it was seen: made anew, round the loop.
                Err(e) if e.is_not_found() => continue,
                other => other?,
            };
            let lock = lock.ok_or_else(|| {
                let owner = read_run(&dir)
                    .and_then(|r| r.owner)
                    .map_or(String::new(), |o| format!(" (diyc pid {})", o.pid));
                Error::invalid(format!("container {name} is already running{owner}"))
            })?;
            let config = config(&dir)?;
            if config.image != image {
                return Err(Error::invalid(format!(
                    "the name {name} is taken by a container of image {}; choose another name or `diyc rm {name}`",
                    config.image
                )));
            }
            if config.spec.as_ref() != Some(spec) {
                let spec = Some(spec.clone());
                write_json(&dir.join(CONFIG_FILE), &Config { spec, ..config })?;
            }
            return Ok(Held {
                name: name.to_string(),
                dir,
                created: false,
                _lock: lock,
            });
        }
        let staging = Staging::new(&store.containers_dir(), "new", name)?;
        let config = Config {
            name: name.to_string(),
            image: image.to_string(),
            created: now(),
            spec: Some(spec.clone()),
        };
        write_json(&staging.path().join(CONFIG_FILE), &config)?;
        if let Some(lock) = staging.publish(&dir)? {
            return Ok(Held {
                name: name.to_string(),
                dir,
                created: true,
                _lock: lock,
            });
        }
        // Somebody else published this name first: go round and meet them.
    }
}

/// The container `name` for `diyc rm`: its directory, locked. A running
/// one is refused unless `force`, which kills its first process and waits
/// for the lock, which its diyc gives up once it has cleaned up.
/// None when there is no such container.
pub fn take_for_removal(store: &Store, name: &str, force: bool) -> Result<Option<(PathBuf, Lock)>> {
    let dir = store.containers_dir().join(name);
    if !dir.exists() {
        return Ok(None);
    }
    let lock = match files::try_lock(&dir) {
        // Removed since it was seen.
        Err(e) if e.is_not_found() => return Ok(None),
        other => other?,
    };
    let lock = match lock {
        Some(lock) => lock,
        None if !force => {
            return Err(Error::invalid(format!(
                "container {name} is running; stop it first or use `diyc rm -f {name}`"
            )));
        }
        None => {
            // The container's end is its diyc's to clean up after, as on
            // any other exit; before there is a container, diyc goes.
            match (read_init(&dir).filter(ProcessId::alive), read_run(&dir)) {
                (Some(init), _) => init.kill(),
                (None, Some(run)) => run.owner.iter().for_each(ProcessId::kill),
                (None, None) => {}
            }
            match files::lock_wait(&dir) {
                // Its diyc removed it (a `--rm` run) before letting go.
                Err(e) if e.is_not_found() => return Ok(None),
                other => other?,
            }
        }
    };
    Ok(Some((dir, lock)))
}

/// The containers whose diyc was killed mid-run: a run.json is still there
/// though nobody holds their lock. Each comes locked, for its clean-up.
pub fn dead_runs(store: &Store) -> Vec<(PathBuf, Run, Lock)> {
    let Ok(entries) = fs::read_dir(store.containers_dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| dead_run(e.path()))
        .collect()
}

/// The container at `dir`, locked, if a run.json is there though nobody
/// holds its lock.
pub fn dead_run(dir: PathBuf) -> Option<(PathBuf, Run, Lock)> {
    if !dir.join(RUN_FILE).exists() {
        return None;
    }
    let lock = files::try_lock(&dir).ok().flatten()?;
    let run = read_run(&dir)?;
    Some((dir, run, lock))
}

/// Close the record of a run whose diyc died, once what it made on the
/// host is undone: what is known of how it ended is that it started and
/// nobody saw it stop.
pub fn close_dead_run(dir: &Path, run: Run) -> Result<()> {
    write_json(
        &dir.join(STATE_FILE),
        &State {
            command: run.command,
            exit_code: None,
            started: Some(run.started),
            finished: Some(now()),
        },
    )?;
    for name in [INIT_FILE, RUN_FILE] {
        let _ = fs::remove_file(dir.join(name));
    }
    Ok(())
}

/// A fresh name like `calm-otter-42`, not yet used in this store.
pub fn generate_name(store: &Store) -> String {
    const ADJ: &[&str] = &[
        "brave", "calm", "eager", "fuzzy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
        "nimble", "proud", "quiet", "rapid", "sunny", "tidy", "vivid", "witty", "young", "zesty",
    ];
    const NOUN: &[&str] = &[
        "otter", "falcon", "lynx", "heron", "badger", "koala", "panda", "raven", "tapir", "yak",
        "gecko", "ibis", "lemur", "marten", "newt", "orca", "puffin", "quail", "seal", "wren",
    ];
    loop {
        let name = format!(
            "{}-{}-{}",
            ADJ[fastrand::usize(..ADJ.len())],
            NOUN[fastrand::usize(..NOUN.len())],
            fastrand::u16(..1000)
        );
        if !store.containers_dir().join(&name).exists() {
            return name;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_start_time_is_readable_and_stable() {
        let me = std::process::id() as i32;
        let id = ProcessId::of(me);
        assert!(id.is_some_and(|id| id.alive()));
    }

    #[test]
    fn a_recycled_pid_is_not_ours() {
        let me = std::process::id() as i32;
        if let Some(start) = start_time(me) {
            let other = ProcessId {
                pid: me,
                start: start + 1,
            };
            assert!(!other.alive());
        }
    }
}
