//! Removing a container's cgroup once it has ended: usually one rmdir
//! per directory, and only for a busy one the search for what keeps it
//! (processes left, which are ended first; cgroups made inside).

use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::control::{text, write};
use super::place::{Dir, Placement, Version};
use super::read::{dir_with, procs};
use crate::error::{Error, Result};
use crate::sys::{Call, Sys};

/// End whatever is left in the cgroup and remove its directories. On v2
/// `cgroup.kill` does it in one write; on v1 the freezer stops every
/// process first, so none can fork while the others are being killed.
pub fn remove(sys: &mut Sys, placement: &Placement) -> Result<()> {
    // Unwatched, the usual case (the container has ended and every
    // directory is empty) is one rmdir each, with nothing read first; only
    // a busy one sends diyc looking. An explained run looks first, so what
    // a student sees of the removal never starts with the kernel refusing.
    let mut first_error = None;
    if !sys.explaining() {
        let mut any_busy = false;
        for dir in &placement.dirs {
            match rmdir(sys, &dir.path) {
                Ok(()) => {}
                Err(e) if busy(&e) => any_busy = true,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if !any_busy {
            return first_error.map_or(Ok(()), Err);
        }
    }
    if let Err(e) = remove_busy(sys, placement) {
        first_error.get_or_insert(e);
    }
    first_error.map_or(Ok(()), Err)
}

/// Whatever keeps a directory: processes, ended first, and cgroups made
/// inside, removed first.
fn remove_busy(sys: &mut Sys, placement: &Placement) -> Result<()> {
    let left: Vec<&Dir> = placement
        .dirs
        .iter()
        .filter(|d| text(&d.path).is_ok_and(|p| sys.is_dir(&p)))
        .collect();
    if left.iter().any(|d| !procs_within(sys, &d.path).is_empty()) {
        kill_all(sys, placement)?;
    }
    let mut first_error = None;
    for dir in left {
        if let Err(e) = rmdir_patiently(sys, &dir.path) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn kill_all(sys: &mut Sys, placement: &Placement) -> Result<()> {
    // A process may exit between the listing and the kill: ESRCH is fine.
    let sigkill = |sys: &mut Sys, pids: Vec<i32>| {
        for pid in pids {
            let _ = sys.call(Call::Kill {
                pid,
                signal: libc::SIGKILL,
            });
        }
    };
    match placement.version {
        Version::V2 => {
            let dir = &placement.dirs[0].path;
            if sys.exists(&text(&dir.join("cgroup.kill"))?) {
                write(sys, &dir.join("cgroup.kill"), "1")?;
            } else {
                let pids = procs_within(sys, dir);
                sigkill(sys, pids);
            }
        }
        // The freezer's directory may be gone already (it was empty).
        Version::V1 => {
            match dir_with(placement, "freezer").filter(|f| text(f).is_ok_and(|p| sys.is_dir(&p))) {
                Some(freezer) => {
                    write(sys, &freezer.join("freezer.state"), "FROZEN")?;
                    // FREEZING until every task has stopped.
                    for _ in 0..1000 {
                        if sys
                            .read_trim(&text(&freezer.join("freezer.state"))?)
                            .as_deref()
                            != Some("FREEZING")
                        {
                            break;
                        }
                        std::thread::yield_now();
                    }
                    let pids = procs_within(sys, freezer);
                    sigkill(sys, pids);
                    write(sys, &freezer.join("freezer.state"), "THAWED")?;
                }
                None => {
                    for dir in &placement.dirs {
                        let pids = procs_within(sys, &dir.path);
                        sigkill(sys, pids);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The processes in a cgroup and in every cgroup made inside it: a
/// container may have moved some into one of its own.
fn procs_within(sys: &Sys, dir: &Path) -> Vec<i32> {
    let mut pids = procs(sys, dir);
    for below in dirs_below(dir) {
        pids.extend(procs_within(sys, &below));
    }
    pids
}

/// The cgroups made directly inside `dir`, in order.
fn dirs_below(dir: &Path) -> Vec<PathBuf> {
    let mut below: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    below.sort();
    below
}

/// rmdir, retried while the kernel still reports the cgroup busy (its last
/// processes can take a moment to leave after being killed).
fn rmdir_patiently(sys: &mut Sys, path: &Path) -> Result<()> {
    // A cgroup made inside this one (by the container, or by a student in
    // an exercise) keeps it busy however long one waits: it goes first.
    for child in dirs_below(path) {
        rmdir_patiently(sys, &child)?;
    }
    let mut wait = std::time::Duration::from_micros(500);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match rmdir(sys, path) {
            Err(e) if busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// One rmdir; a directory already gone counts as removed.
fn rmdir(sys: &mut Sys, path: &Path) -> Result<()> {
    match sys.call(Call::Rmdir { path: text(path)? }) {
        Err(Error::Syscall {
            errno: Errno::ENOENT,
            ..
        }) => Ok(()),
        other => other.map(drop),
    }
}

fn busy(e: &Error) -> bool {
    matches!(
        e,
        Error::Syscall {
            errno: Errno::EBUSY,
            ..
        }
    )
}
