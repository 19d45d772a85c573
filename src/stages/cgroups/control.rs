//! The cgroup writes, all through the seam: making a container's cgroup
//! directories, writing its limits, putting its first process in, and
//! killing what is left and removing it all at the end. Every function
//! takes the directories from a `Placement` and reads through `Sys`, so the
//! same code is checked on the dry backend without root.

use std::path::Path;

use nix::errno::Errno;

use super::limits::{CPU_PERIOD_US, Limits};
use super::place::{Dir, Placement, Version};
use super::read::procs;
use crate::error::{Error, Result};
use crate::sys::{Call, Sys};

pub(super) fn text(path: &Path) -> Result<String> {
    path.to_str()
        .map(String::from)
        .ok_or_else(|| Error::invalid(format!("{} is not valid UTF-8", path.display())))
}

pub(super) fn write(sys: &mut Sys, path: &Path, value: impl Into<String>) -> Result<()> {
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
        if !sys.is_dir(&text(&level)?) {
            mkdir(sys, &level)?;
        }
        let enabled = sys
            .read(&text(&level.join("cgroup.subtree_control"))?)
            .unwrap_or_default();
        let missing: Vec<String> = dir
            .controllers
            .iter()
            .filter(|c| !enabled.split_whitespace().any(|e| e == c.as_str()))
            .map(|c| format!("+{c}"))
            .collect();
        if !missing.is_empty() {
            write(sys, &level.join("cgroup.subtree_control"), missing.join(" ")).map_err(|e| match e {
                Error::Syscall {
                    errno: Errno::EBUSY,
                    ..
                } => Error::invalid(format!(
                    "{e}: cgroup v2 lets a cgroup with processes of its own pass no controllers on; choose a --cgroup-parent outside {}",
                    level.display()
                )),
                other => other,
            })?;
        }
    }
    Ok(())
}

/// Refuse a cgroup that holds processes already: someone else's (another
/// --root's container, or a cgroupsPath naming a host service's). Checked
/// before anything is made or pushed on the undo log, whose removal would
/// kill those processes.
pub fn check_unused(sys: &Sys, placement: &Placement) -> Result<()> {
    for dir in &placement.dirs {
        if sys.is_dir(&text(&dir.path)?) && !procs(sys, &dir.path).is_empty() {
            return Err(Error::invalid(format!(
                "cgroup {} already holds processes: is a container of this name running from another --root?",
                dir.path.display()
            )));
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
                while !sys.is_dir(&text(level)?) && level.starts_with(&dir.mount) {
                    missing.push(level.to_path_buf());
                    level = level.parent().unwrap_or(&dir.mount);
                }
                for level in missing.iter().rev() {
                    mkdir(sys, level)?;
                }
            }
        }
        if sys.is_dir(&text(&dir.path)?) {
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
        if sys.exists(&text(&dir.join("memory.swap.max"))?) {
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
        if sys.exists(&text(&dir.join("memory.memsw.limit_in_bytes"))?) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, StageId};
    use crate::sys::{Journal, World};

    use crate::stages::cgroups::limits::EVERY_LIMIT as LIMITS;

    fn writes(journal: &Journal) -> Vec<String> {
        journal
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("echo "))
            .collect()
    }

    fn noted(journal: &Journal, needle: &str) -> bool {
        journal
            .events
            .iter()
            .any(|e| matches!(e, Event::Note { text, .. } if text.contains(needle)))
    }

    #[test]
    fn v2_limits_land_in_the_v2_files() {
        let mut journal = Journal::default();
        let world = World::new().file("/cg/c/memory.swap.max", "max");
        let mut sys = Sys::dry(&mut journal, StageId::Cgroups, world);
        assert!(apply_v2(&mut sys, Path::new("/cg/c"), &LIMITS).is_ok());
        assert_eq!(
            writes(&journal),
            [
                "echo 16777216 > /cg/c/memory.max",
                "echo 0 > /cg/c/memory.swap.max",
                "echo 50000 100000 > /cg/c/cpu.max",
                "echo 10 > /cg/c/pids.max",
            ]
        );
    }

    #[test]
    fn v2_without_swap_accounting_says_so() {
        let mut journal = Journal::default();
        let mut sys = Sys::dry(&mut journal, StageId::Cgroups, World::new());
        let only_memory = Limits {
            memory: Some(64 << 20),
            ..Limits::default()
        };
        assert!(apply_v2(&mut sys, Path::new("/cg/c"), &only_memory).is_ok());
        assert_eq!(writes(&journal), ["echo 67108864 > /cg/c/memory.max"]);
        assert!(noted(&journal, "memory.swap.max"));
    }

    #[test]
    fn v1_limits_land_in_each_trees_files() {
        let mut journal = Journal::default();
        let world = World::new().file("/m/c/memory.memsw.limit_in_bytes", "");
        let mut sys = Sys::dry(&mut journal, StageId::Cgroups, world);
        for (dir, c) in [("/m/c", "memory"), ("/cpu/c", "cpu"), ("/p/c", "pids")] {
            assert!(apply_v1(&mut sys, Path::new(dir), &[c.to_string()], &LIMITS).is_ok());
        }
        assert_eq!(
            writes(&journal),
            [
                "echo 16777216 > /m/c/memory.limit_in_bytes",
                "echo 16777216 > /m/c/memory.memsw.limit_in_bytes",
                "echo 100000 > /cpu/c/cpu.cfs_period_us",
                "echo 50000 > /cpu/c/cpu.cfs_quota_us",
                "echo 10 > /p/c/pids.max",
            ]
        );
    }

    #[test]
    fn v1_without_memsw_says_so() {
        let mut journal = Journal::default();
        let mut sys = Sys::dry(&mut journal, StageId::Cgroups, World::new());
        assert!(apply_v1(&mut sys, Path::new("/m/c"), &["memory".into()], &LIMITS).is_ok());
        assert!(noted(&journal, "memsw"));
    }
}
