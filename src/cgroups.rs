//! Control groups: where the host mounts them, where a container's cgroup
//! goes, and the controller code that writes its limits. Every function
//! that writes takes the cgroup directory as a parameter, so the same code
//! runs on the real /sys/fs/cgroup and, in unit tests, on a temporary
//! directory laid out the way each version lays it out.
//!
//! Two versions exist side by side on many hosts:
//! - v2 (unified): one tree, one directory per cgroup holding every
//!   controller's files; a controller reaches a cgroup only if each
//!   ancestor lists it in `cgroup.subtree_control`.
//! - v1: one tree per controller (or per group of controllers), each
//!   mounted on its own; a process is placed in every tree separately.
//!
//! diyc uses v2 when the cgroup2 mount offers memory, cpu and pids, and v1
//! otherwise (a "hybrid" host mounts both, with the controllers on v1).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::observe;
use crate::sys::{Call, Sys};

/// The CFS period diyc uses: `--cpus 0.5` is 50 ms of CPU every 100 ms.
pub const CPU_PERIOD_US: u64 = 100_000;

/// The controllers a container's cgroup uses where the host has them.
const V2_CONTROLLERS: &[&str] = &["memory", "cpu", "pids"];
/// On v1, cpuacct counts CPU time and freezer stops everything for a kill.
const V1_CONTROLLERS: &[&str] = &["memory", "cpu", "cpuacct", "pids", "freezer"];

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub pids: Option<u64>,
}

impl Limits {
    pub fn cpu_quota_us(&self) -> Option<u64> {
        self.cpus.map(|c| (c * CPU_PERIOD_US as f64).round() as u64)
    }

    /// The controllers that must exist for these limits.
    fn required(&self) -> Vec<&'static str> {
        let mut needed = Vec::new();
        if self.memory.is_some() {
            needed.push("memory");
        }
        if self.cpus.is_some() {
            needed.push("cpu");
        }
        if self.pids.is_some() {
            needed.push("pids");
        }
        needed
    }
}

/// `--mem`: plain numbers are MiB (as diyC's `-m`); `k`, `m`, `g` and `t`
/// suffixes (optionally followed by `b` or `ib`) scale by 1024.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    if number.is_empty() {
        return Err(format!(
            "{text:?} is not a size: use MiB (64) or a unit (64m, 1g)"
        ));
    }
    if unit.starts_with('.') {
        return Err(format!(
            "{text:?}: use a whole number with a smaller unit (1536m, not 1.5g)"
        ));
    }
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" if unit.is_empty() => 20,
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("{text:?} has an unknown unit: use k, m, g or t")),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    let bytes = value
        .checked_mul(1u64 << shift)
        .filter(|b| *b <= i64::MAX as u64)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes == 0 {
        return Err("a memory limit of zero would stop anything from running".into());
    }
    Ok(bytes)
}

/// `--cpus`: a positive number of CPUs, fractions allowed, at least 0.01
/// (the kernel's smallest quota is 1 ms per period).
pub fn parse_cpus(text: &str) -> std::result::Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of CPUs (such as 0.5 or 2)"))?;
    if !value.is_finite() || value < 0.01 {
        return Err(format!("{text:?} CPUs: give at least 0.01"));
    }
    if value > 4096.0 {
        return Err(format!("{text:?} CPUs is more than any machine has"));
    }
    Ok(value)
}

/// `--pids`: a positive count of processes (threads count too).
pub fn parse_pids(text: &str) -> std::result::Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("a process limit of zero would stop the command itself".into()),
        Ok(n) if n <= i64::MAX as u64 => Ok(n),
        _ => Err(format!("{text:?} is not a positive number of processes")),
    }
}

/// `--cgroup-parent`: a path of plain names. Absolute means from the root
/// of each cgroup tree; relative means below diyc's own cgroup.
pub fn parse_parent(text: &str) -> std::result::Result<String, String> {
    let path = Path::new(text);
    let plain = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::RootDir));
    let names_ok = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | '@' | ':'));
    if text.trim_matches('/').is_empty() || !plain || !names_ok {
        return Err(format!(
            "{text:?} is not a cgroup path: use names of letters, digits and _ . - @ : separated by /"
        ));
    }
    Ok(text.to_string())
}

/// A size for people: whole MiB where it is one.
pub fn human(bytes: u64) -> String {
    if bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    V1,
    V2,
}

/// How this host mounts cgroups.
#[derive(Debug, Clone)]
pub struct Host {
    v2: Option<PathBuf>,
    v2_controllers: Vec<String>,
    /// v1 trees: the controllers each carries and where it is mounted.
    v1: Vec<(Vec<String>, PathBuf)>,
    /// diyc's own cgroup in each tree, by controller ("" for v2).
    own: BTreeMap<String, String>,
}

/// One directory of a container's cgroup: all of it on v2, one tree on v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dir {
    pub path: PathBuf,
    /// The controllers of this tree that diyc uses.
    pub controllers: Vec<String>,
    /// The root of the tree the directory is in: on v2 every level from
    /// here down to the parent must pass the controllers on.
    pub mount: PathBuf,
}

/// Where a container's cgroup is: recorded in run.json, so `diyc rm -f`
/// can find it after diyc itself was killed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub version: Version,
    pub dirs: Vec<Dir>,
}

impl Host {
    pub fn detect() -> Result<Host> {
        let mounts = observe::mountinfo(None);
        let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Ok(Host::from_tables(&mounts, &own, |p| {
            fs::read_to_string(p.join("cgroup.controllers")).unwrap_or_default()
        }))
    }

    /// The same from given tables, for tests.
    pub fn from_tables(
        mounts: &[observe::MountEntry],
        proc_self_cgroup: &str,
        controllers_of: impl Fn(&Path) -> String,
    ) -> Host {
        let mut host = Host {
            v2: None,
            v2_controllers: Vec::new(),
            v1: Vec::new(),
            own: BTreeMap::new(),
        };
        for m in mounts {
            match m.fstype.as_str() {
                "cgroup2" if host.v2.is_none() => {
                    let path = PathBuf::from(&m.mount_point);
                    host.v2_controllers = controllers_of(&path)
                        .split_whitespace()
                        .map(String::from)
                        .collect();
                    host.v2 = Some(path);
                }
                "cgroup" => {
                    let controllers: Vec<String> = m
                        .super_options
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o))
                        .map(String::from)
                        .collect();
                    if !controllers.is_empty() {
                        host.v1.push((controllers, PathBuf::from(&m.mount_point)));
                    }
                }
                _ => {}
            }
        }
        for line in proc_self_cgroup.lines() {
            let mut parts = line.splitn(3, ':');
            let (_, names, path) = (parts.next(), parts.next(), parts.next());
            if let (Some(names), Some(path)) = (names, path) {
                for name in names.split(',') {
                    host.own.insert(name.to_string(), path.to_string());
                }
            }
        }
        host
    }

    /// "unified", "hybrid" or "legacy", as the kernel documentation says.
    pub fn mode(&self) -> &'static str {
        match (&self.v2, self.v1.is_empty()) {
            (Some(_), true) => "unified",
            (Some(_), false) => "hybrid",
            (None, _) => "legacy",
        }
    }

    /// v2 when it has every controller a limit asks for and at least one
    /// of diyc's (a hybrid host's cgroup2 mount usually has none), or when
    /// there is no v1 tree to fall back on at all.
    fn v2_usable(&self, limits: &Limits) -> bool {
        let has = |c: &str| self.v2_controllers.iter().any(|have| have == c);
        self.v2.is_some()
            && (self.v1.is_empty()
                || (limits.required().iter().all(|c| has(c))
                    && V2_CONTROLLERS.iter().any(|c| has(c))))
    }

    /// What `--explain` says about the host before placing a cgroup.
    pub fn describe(&self) -> String {
        let v2 = self.v2.as_ref().map(|p| {
            format!(
                "cgroup2 at {} offers [{}]",
                p.display(),
                self.v2_controllers.join(" ")
            )
        });
        let v1: Vec<String> = self
            .v1
            .iter()
            .map(|(c, p)| format!("{} at {}", c.join(","), p.display()))
            .collect();
        let using = if self.v2_usable(&Limits::default()) {
            "v2"
        } else {
            "v1"
        };
        let mut parts = vec![format!("{} host", self.mode())];
        parts.extend(v2);
        if !v1.is_empty() {
            parts.push(format!("v1 trees: {}", v1.join("; ")));
        }
        format!("{}; diyc uses {using}", parts.join("; "))
    }

    /// `parent` in one tree: from its root when absolute, below diyc's
    /// own cgroup in that tree when relative.
    fn under(&self, parent: &str, mount: &Path, key: &str) -> PathBuf {
        let base = if parent.starts_with('/') {
            mount.to_path_buf()
        } else {
            let own = self.own.get(key).map_or("/", String::as_str);
            mount.join(own.trim_start_matches('/'))
        };
        base.join(parent.trim_start_matches('/'))
    }

    /// The directories `parent` names in every tree diyc would use: what a
    /// test or benchmark removes once its containers are gone.
    pub fn parent_dirs(&self, parent: &str) -> Vec<PathBuf> {
        match self
            .v2
            .as_ref()
            .filter(|_| self.v2_usable(&Limits::default()))
        {
            Some(mount) => vec![self.under(parent, mount, "")],
            None => self
                .v1
                .iter()
                .map(|(c, mount)| self.under(parent, mount, &c[0]))
                .collect(),
        }
    }

    /// Where the cgroup of container `name` goes under `parent`, on v2
    /// when it offers every controller diyc uses, on v1 otherwise.
    pub fn place(&self, parent: &str, name: &str, limits: &Limits) -> Result<Placement> {
        let under = |mount: &Path, key: &str| self.under(parent, mount, key);
        if let Some(mount) = self.v2.as_ref().filter(|_| self.v2_usable(limits)) {
            for needed in limits.required() {
                if !self.v2_controllers.iter().any(|have| have == needed) {
                    return Err(Error::invalid(format!(
                        "this host has no {needed} cgroup controller ({}), so that limit cannot be set",
                        self.describe()
                    )));
                }
            }
            return Ok(Placement {
                version: Version::V2,
                dirs: vec![Dir {
                    path: under(mount, "").join(name),
                    controllers: V2_CONTROLLERS
                        .iter()
                        .filter(|c| self.v2_controllers.iter().any(|have| have == *c))
                        .map(|c| c.to_string())
                        .collect(),
                    mount: mount.clone(),
                }],
            });
        }
        for needed in limits.required() {
            if !self
                .v1
                .iter()
                .any(|(c, _)| c.iter().any(|have| have == needed))
            {
                return Err(Error::invalid(format!(
                    "this host has no {needed} cgroup controller ({}), so that limit cannot be set",
                    self.describe()
                )));
            }
        }
        let dirs = self
            .v1
            .iter()
            .map(|(controllers, mount)| Dir {
                path: under(mount, &controllers[0]).join(name),
                controllers: controllers.clone(),
                mount: mount.clone(),
            })
            .collect();
        Ok(Placement {
            version: Version::V1,
            dirs,
        })
    }
}

fn read_trim(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn text(path: &Path) -> Result<String> {
    path.to_str()
        .map(String::from)
        .ok_or_else(|| Error::invalid(format!("{} is not valid UTF-8", path.display())))
}

fn write(sys: &mut Sys, path: &Path, value: impl Into<String>) -> Result<()> {
    sys.call(Call::WriteFile {
        path: text(path)?,
        value: value.into(),
    })
    .map(drop)
}

fn mkdir(sys: &mut Sys, path: &Path) -> Result<()> {
    sys.call(Call::Mkdirat {
        path: text(path)?,
        mode: 0o755,
    })
    .map(drop)
}

/// The processes in one cgroup directory.
pub fn procs(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// v2: make sure every level from the tree's root down to `parent` passes
/// the controllers on, creating the levels that do not exist yet.
fn v2_chain(sys: &mut Sys, dir: &Dir, parent: &Path) -> Result<()> {
    let relative = parent.strip_prefix(&dir.mount).unwrap_or(Path::new(""));
    let mut level = dir.mount.clone();
    let mut levels = vec![level.clone()];
    for part in relative.components() {
        level.push(part);
        levels.push(level.clone());
    }
    for level in levels {
        if !level.is_dir() {
            mkdir(sys, &level)?;
        }
        let enabled = read_trim(&level.join("cgroup.subtree_control")).unwrap_or_default();
        let missing: Vec<String> = dir
            .controllers
            .iter()
            .filter(|c| !enabled.split_whitespace().any(|e| e == c.as_str()))
            .map(|c| format!("+{c}"))
            .collect();
        if !missing.is_empty() {
            write(sys, &level.join("cgroup.subtree_control"), missing.join(" ")).map_err(|e| match e {
                Error::Syscall {
                    errno: nix::errno::Errno::EBUSY,
                    ..
                } => Error::failed(format!(
                    "{e}: cgroup v2 lets a cgroup with processes of its own pass no controllers on; choose a --cgroup-parent outside {}",
                    level.display()
                )),
                other => other,
            })?;
        }
    }
    Ok(())
}

/// Create the container's cgroup directories (and any missing parents).
/// A leftover directory of the same name with no processes (from a diyc
/// that was killed) is removed and made again.
pub fn create(sys: &mut Sys, placement: &Placement) -> Result<()> {
    for dir in &placement.dirs {
        let parent = dir.path.parent().unwrap_or(&dir.mount).to_path_buf();
        match placement.version {
            Version::V2 => v2_chain(sys, dir, &parent)?,
            Version::V1 => {
                let mut missing = Vec::new();
                let mut level = parent.as_path();
                while !level.is_dir() && level.starts_with(&dir.mount) {
                    missing.push(level.to_path_buf());
                    level = level.parent().unwrap_or(&dir.mount);
                }
                for level in missing.iter().rev() {
                    mkdir(sys, level)?;
                }
            }
        }
        if dir.path.is_dir() {
            if !procs(&dir.path).is_empty() {
                return Err(Error::invalid(format!(
                    "cgroup {} already holds processes: is a container of this name running from another --root?",
                    dir.path.display()
                )));
            }
            sys.note(format!("removing a leftover cgroup {}", dir.path.display()));
            sys.call(Call::Rmdir {
                path: text(&dir.path)?,
            })?;
        }
        mkdir(sys, &dir.path)?;
    }
    Ok(())
}

/// Write the limits into a v2 cgroup directory.
pub fn apply_v2(sys: &mut Sys, dir: &Path, limits: &Limits) -> Result<()> {
    if let Some(bytes) = limits.memory {
        write(sys, &dir.join("memory.max"), bytes.to_string())?;
        if dir.join("memory.swap.max").exists() {
            write(sys, &dir.join("memory.swap.max"), "0")?;
        } else {
            sys.note("no memory.swap.max (swap accounting is off): the limit covers RAM only");
        }
    }
    if let Some(quota) = limits.cpu_quota_us() {
        write(
            sys,
            &dir.join("cpu.max"),
            format!("{quota} {CPU_PERIOD_US}"),
        )?;
    }
    if let Some(pids) = limits.pids {
        write(sys, &dir.join("pids.max"), pids.to_string())?;
    }
    Ok(())
}

/// Write the limits of the controllers one v1 tree carries into its
/// directory.
pub fn apply_v1(sys: &mut Sys, dir: &Path, controllers: &[String], limits: &Limits) -> Result<()> {
    let has = |c: &str| controllers.iter().any(|have| have == c);
    if let (true, Some(bytes)) = (has("memory"), limits.memory) {
        write(sys, &dir.join("memory.limit_in_bytes"), bytes.to_string())?;
        // memsw is memory plus swap: equal to the limit means no swap.
        if dir.join("memory.memsw.limit_in_bytes").exists() {
            write(
                sys,
                &dir.join("memory.memsw.limit_in_bytes"),
                bytes.to_string(),
            )?;
        } else {
            sys.note("no memory.memsw.limit_in_bytes (swap accounting is off): the container may swap beyond its limit");
        }
    }
    if let (true, Some(quota)) = (has("cpu"), limits.cpu_quota_us()) {
        write(
            sys,
            &dir.join("cpu.cfs_period_us"),
            CPU_PERIOD_US.to_string(),
        )?;
        write(sys, &dir.join("cpu.cfs_quota_us"), quota.to_string())?;
    }
    if let (true, Some(pids)) = (has("pids"), limits.pids) {
        write(sys, &dir.join("pids.max"), pids.to_string())?;
    }
    Ok(())
}

/// Write the limits wherever they belong.
pub fn apply(sys: &mut Sys, placement: &Placement, limits: &Limits) -> Result<()> {
    for dir in &placement.dirs {
        match placement.version {
            Version::V2 => apply_v2(sys, &dir.path, limits)?,
            Version::V1 => apply_v1(sys, &dir.path, &dir.controllers, limits)?,
        }
    }
    Ok(())
}

/// Move process `pid` into the cgroup (every tree, on v1).
pub fn join(sys: &mut Sys, placement: &Placement, pid: i32) -> Result<()> {
    for dir in &placement.dirs {
        write(sys, &dir.path.join("cgroup.procs"), pid.to_string())?;
    }
    Ok(())
}

fn dir_with<'a>(placement: &'a Placement, controller: &str) -> Option<&'a Path> {
    placement
        .dirs
        .iter()
        .find(|d| d.controllers.iter().any(|c| c == controller))
        .map(|d| d.path.as_path())
}

/// A `key value` line of a flat-keyed cgroup file.
fn keyed(path: &Path, key: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// How many processes the kernel's OOM killer ended in this cgroup: its
/// own count, from memory.events (v2) or memory.oom_control (v1).
pub fn oom_kills(placement: &Placement) -> Option<u64> {
    let dir = dir_with(placement, "memory")?;
    match placement.version {
        Version::V2 => keyed(&dir.join("memory.events"), "oom_kill"),
        Version::V1 => keyed(&dir.join("memory.oom_control"), "oom_kill"),
    }
}

/// CPU time used, in microseconds: cpu.stat (v2) or cpuacct.usage (v1).
pub fn cpu_usage_us(placement: &Placement) -> Option<u64> {
    match placement.version {
        Version::V2 => keyed(&dir_with(placement, "cpu")?.join("cpu.stat"), "usage_usec"),
        Version::V1 => read_trim(&dir_with(placement, "cpuacct")?.join("cpuacct.usage"))?
            .parse::<u64>()
            .ok()
            .map(|ns| ns / 1000),
    }
}

/// The limit files and current usage, one line each, for `--explain`.
pub fn report(placement: &Placement) -> Vec<String> {
    let show = |dir: &Path, file: &str| read_trim(&dir.join(file)).map(|v| format!("{file} = {v}"));
    let files: &[&str] = match placement.version {
        Version::V2 => &[
            "memory.max",
            "memory.swap.max",
            "memory.current",
            "cpu.max",
            "pids.max",
            "pids.current",
        ],
        Version::V1 => &[
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.usage_in_bytes",
            "cpu.cfs_quota_us",
            "cpu.cfs_period_us",
            "cpuacct.usage",
            "pids.max",
            "pids.current",
        ],
    };
    let mut lines = Vec::new();
    for dir in &placement.dirs {
        let values: Vec<String> = files.iter().filter_map(|f| show(&dir.path, f)).collect();
        if values.is_empty() {
            continue;
        }
        lines.push(format!("{}:", dir.path.display()));
        lines.extend(values.into_iter().map(|v| format!("  {v}")));
    }
    lines
}

/// End whatever is left in the cgroup and remove its directories. On v2
/// `cgroup.kill` does it in one write; on v1 the freezer stops every
/// process first, so none can fork while the others are being killed.
pub fn remove(sys: &mut Sys, placement: &Placement) -> Result<()> {
    let leftovers = placement.dirs.iter().any(|d| !procs(&d.path).is_empty());
    if leftovers {
        kill_all(sys, placement)?;
    }
    let mut first_error = None;
    for dir in &placement.dirs {
        if !dir.path.is_dir() {
            continue;
        }
        if let Err(e) = rmdir_patiently(sys, &dir.path) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn kill_all(sys: &mut Sys, placement: &Placement) -> Result<()> {
    use nix::sys::signal::{Signal, kill};
    let sigkill = |pids: Vec<i32>| {
        for pid in pids {
            let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
    };
    match placement.version {
        Version::V2 => {
            let dir = &placement.dirs[0].path;
            if dir.join("cgroup.kill").exists() {
                write(sys, &dir.join("cgroup.kill"), "1")?;
            } else {
                sigkill(procs(dir));
            }
        }
        Version::V1 => match dir_with(placement, "freezer") {
            Some(freezer) => {
                write(sys, &freezer.join("freezer.state"), "FROZEN")?;
                // FREEZING until every task has stopped.
                for _ in 0..1000 {
                    if read_trim(&freezer.join("freezer.state")).as_deref() != Some("FREEZING") {
                        break;
                    }
                    std::thread::yield_now();
                }
                sigkill(procs(freezer));
                write(sys, &freezer.join("freezer.state"), "THAWED")?;
            }
            None => {
                for dir in &placement.dirs {
                    sigkill(procs(&dir.path));
                }
            }
        },
    }
    Ok(())
}

/// rmdir, retried while the kernel still reports the cgroup busy (its last
/// processes can take a moment to leave after being killed).
fn rmdir_patiently(sys: &mut Sys, path: &Path) -> Result<()> {
    let mut wait = std::time::Duration::from_micros(500);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let attempt = Call::Rmdir { path: text(path)? };
        match sys.call(attempt) {
            Ok(_) => return Ok(()),
            Err(Error::Syscall {
                errno: nix::errno::Errno::EBUSY,
                ..
            }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_millis(50));
            }
            Err(Error::Syscall {
                errno: nix::errno::Errno::ENOENT,
                ..
            }) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, StageId};
    use crate::sys::Recorder;

    struct Keep(Vec<Event>);
    impl Recorder for Keep {
        fn enabled(&self) -> bool {
            true
        }
        fn record(&mut self, event: Event) {
            self.0.push(event);
        }
    }

    fn writes(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Syscall { text, .. } if text.starts_with("echo ") => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    /// A directory holding empty files with the given names, as the kernel
    /// creates a cgroup's files.
    fn fake_cgroup(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        for f in files {
            let _ = fs::write(dir.path().join(f), "");
        }
        dir
    }

    fn content(dir: &Path, file: &str) -> String {
        fs::read_to_string(dir.join(file)).unwrap_or_default()
    }

    const LIMITS: Limits = Limits {
        memory: Some(16 << 20),
        cpus: Some(0.5),
        pids: Some(10),
    };

    #[test]
    fn v2_limits_land_in_the_v2_files() {
        let dir = fake_cgroup(&["memory.max", "memory.swap.max", "cpu.max", "pids.max"]);
        let mut keep = Keep(Vec::new());
        let mut sys = Sys::new(&mut keep, StageId::Cgroups);
        assert!(apply_v2(&mut sys, dir.path(), &LIMITS).is_ok());
        assert_eq!(content(dir.path(), "memory.max"), "16777216");
        assert_eq!(content(dir.path(), "memory.swap.max"), "0");
        assert_eq!(content(dir.path(), "cpu.max"), "50000 100000");
        assert_eq!(content(dir.path(), "pids.max"), "10");
        let shown = writes(&keep.0);
        assert!(
            shown
                .iter()
                .any(|w| w.starts_with("echo 16777216 > ") && w.ends_with("/memory.max"))
        );
    }

    #[test]
    fn v2_without_swap_accounting_says_so() {
        let dir = fake_cgroup(&["memory.max"]);
        let mut keep = Keep(Vec::new());
        let mut sys = Sys::new(&mut keep, StageId::Cgroups);
        let only_memory = Limits {
            memory: Some(64 << 20),
            ..Limits::default()
        };
        assert!(apply_v2(&mut sys, dir.path(), &only_memory).is_ok());
        assert!(!dir.path().join("memory.swap.max").exists());
        assert!(
            keep.0
                .iter()
                .any(|e| matches!(e, Event::Note { text, .. } if text.contains("memory.swap.max")))
        );
    }

    #[test]
    fn v1_limits_land_in_each_trees_files() {
        let memory = fake_cgroup(&["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]);
        let cpu = fake_cgroup(&["cpu.cfs_period_us", "cpu.cfs_quota_us"]);
        let pids = fake_cgroup(&["pids.max"]);
        let mut keep = Keep(Vec::new());
        let mut sys = Sys::new(&mut keep, StageId::Cgroups);
        for (dir, c) in [(&memory, "memory"), (&cpu, "cpu"), (&pids, "pids")] {
            assert!(apply_v1(&mut sys, dir.path(), &[c.to_string()], &LIMITS).is_ok());
        }
        assert_eq!(content(memory.path(), "memory.limit_in_bytes"), "16777216");
        assert_eq!(
            content(memory.path(), "memory.memsw.limit_in_bytes"),
            "16777216"
        );
        assert_eq!(content(cpu.path(), "cpu.cfs_period_us"), "100000");
        assert_eq!(content(cpu.path(), "cpu.cfs_quota_us"), "50000");
        assert_eq!(content(pids.path(), "pids.max"), "10");
        assert!(
            !memory.path().join("pids.max").exists(),
            "nothing written to another tree"
        );
    }

    #[test]
    fn v1_without_memsw_says_so() {
        let memory = fake_cgroup(&["memory.limit_in_bytes"]);
        let mut keep = Keep(Vec::new());
        let mut sys = Sys::new(&mut keep, StageId::Cgroups);
        assert!(apply_v1(&mut sys, memory.path(), &["memory".into()], &LIMITS).is_ok());
        assert!(
            keep.0
                .iter()
                .any(|e| matches!(e, Event::Note { text, .. } if text.contains("memsw")))
        );
    }

    #[test]
    fn oom_kills_and_cpu_usage_are_read_from_the_kernels_own_files() {
        let v2 = fake_cgroup(&[]);
        let _ = fs::write(
            v2.path().join("memory.events"),
            "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n",
        );
        let _ = fs::write(
            v2.path().join("cpu.stat"),
            "usage_usec 987654\nuser_usec 1\n",
        );
        let placement = Placement {
            version: Version::V2,
            dirs: vec![Dir {
                path: v2.path().to_path_buf(),
                controllers: vec!["memory".into(), "cpu".into(), "pids".into()],
                mount: PathBuf::from("/"),
            }],
        };
        assert_eq!(oom_kills(&placement), Some(1));
        assert_eq!(cpu_usage_us(&placement), Some(987654));

        let memory = fake_cgroup(&[]);
        let _ = fs::write(
            memory.path().join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        );
        let cpuacct = fake_cgroup(&[]);
        let _ = fs::write(cpuacct.path().join("cpuacct.usage"), "1500000000\n");
        let v1 = Placement {
            version: Version::V1,
            dirs: vec![
                Dir {
                    path: memory.path().to_path_buf(),
                    controllers: vec!["memory".into()],
                    mount: PathBuf::from("/"),
                },
                Dir {
                    path: cpuacct.path().to_path_buf(),
                    controllers: vec!["cpuacct".into()],
                    mount: PathBuf::from("/"),
                },
            ],
        };
        assert_eq!(oom_kills(&v1), Some(2));
        assert_eq!(cpu_usage_us(&v1), Some(1_500_000));
    }

    fn mount(point: &str, fstype: &str, super_options: &str) -> observe::MountEntry {
        observe::MountEntry {
            mount_point: point.into(),
            options: "rw".into(),
            tags: String::new(),
            fstype: fstype.into(),
            source: fstype.into(),
            super_options: super_options.into(),
        }
    }

    #[test]
    fn a_unified_host_is_placed_on_v2_under_the_parent() {
        let mounts = [mount("/sys/fs/cgroup", "cgroup2", "rw,nsdelegate")];
        let host = Host::from_tables(&mounts, "0::/user.slice/session-1.scope\n", |_| {
            "cpuset cpu io memory pids".into()
        });
        assert_eq!(host.mode(), "unified");
        let placed = host.place("diyc", "web", &LIMITS);
        let placed = placed.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(placed.version, Version::V2);
        assert_eq!(
            placed.dirs[0].path,
            PathBuf::from("/sys/fs/cgroup/user.slice/session-1.scope/diyc/web")
        );
        let absolute = host
            .place("/diyc", "web", &LIMITS)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            absolute.dirs[0].path,
            PathBuf::from("/sys/fs/cgroup/diyc/web")
        );
    }

    #[test]
    fn a_hybrid_host_without_v2_controllers_is_placed_on_v1_trees() {
        let mounts = [
            mount("/sys/fs/cgroup/memory", "cgroup", "rw,memory"),
            mount("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"),
            mount("/sys/fs/cgroup/pids", "cgroup", "rw,pids"),
            mount("/sys/fs/cgroup/unified", "cgroup2", "rw"),
        ];
        let own = "4:memory:/services/a\n3:cpu,cpuacct:/\n2:pids:/\n0::/\n";
        let host = Host::from_tables(&mounts, own, |_| "hugetlb".into());
        assert_eq!(host.mode(), "hybrid");
        let placed = host
            .place("diyc-test", "c1", &LIMITS)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(placed.version, Version::V1);
        let paths: Vec<PathBuf> = placed.dirs.iter().map(|d| d.path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/services/a/diyc-test/c1"),
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/diyc-test/c1"),
                PathBuf::from("/sys/fs/cgroup/pids/diyc-test/c1"),
            ]
        );
        assert!(host.describe().contains("diyc uses v1"));
    }

    #[test]
    fn a_unified_host_without_a_controller_still_uses_v2_for_the_rest() {
        let mounts = [mount("/sys/fs/cgroup", "cgroup2", "rw")];
        let host = Host::from_tables(&mounts, "0::/\n", |_| "memory pids".into());
        let plain = host.place("/diyc", "c", &Limits::default());
        let plain = plain.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plain.version, Version::V2);
        assert_eq!(plain.dirs[0].controllers, vec!["memory", "pids"]);
        let cpus = Limits {
            cpus: Some(1.0),
            ..Limits::default()
        };
        assert!(host.place("/diyc", "c", &cpus).is_err());
    }

    #[test]
    fn a_limit_without_its_controller_is_refused() {
        let mounts = [mount("/sys/fs/cgroup/memory", "cgroup", "rw,memory")];
        let host = Host::from_tables(&mounts, "", |_| String::new());
        assert_eq!(host.mode(), "legacy");
        assert!(host.place("diyc", "c", &LIMITS).is_err());
        let memory_only = Limits {
            memory: Some(1 << 20),
            ..Limits::default()
        };
        assert!(host.place("diyc", "c", &memory_only).is_ok());
    }

    #[test]
    fn sizes_parse_as_mib_or_with_units() {
        assert_eq!(parse_size("16"), Ok(16 << 20));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("4096b"), Ok(4096));
        for bad in [
            "0",
            "0m",
            "-5",
            "x",
            "",
            "12q",
            "1.5g",
            "99999999999999999999",
            "9999999999999t",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpus_and_pids_must_be_positive() {
        assert_eq!(parse_cpus("0.5"), Ok(0.5));
        assert_eq!(
            Limits {
                cpus: Some(0.5),
                ..Limits::default()
            }
            .cpu_quota_us(),
            Some(50_000)
        );
        for bad in ["0", "-1", "abc", "NaN", "inf", "0.001", "1e9"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_pids("10"), Ok(10));
        for bad in ["0", "-3", "x", "1.5", "99999999999999999999"] {
            assert!(parse_pids(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parents_are_plain_paths() {
        assert!(parse_parent("diyc").is_ok());
        assert!(parse_parent("/diyc/lab-1").is_ok());
        for bad in ["", "/", "../x", "a/../b", "a b", "x\ny"] {
            assert!(parse_parent(bad).is_err(), "{bad:?}");
        }
    }
}
