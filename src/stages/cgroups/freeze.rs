//! Freezing a container's cgroup (`pause`) and thawing it (`resume`):
//! every process in it stops where it is, without a signal it could see,
//! and goes on later. On v2 `cgroup.freeze`; on v1 the freezer tree's
//! `freezer.state`.

use std::path::Path;

use super::control::{text, write};
use super::place::{Placement, Version};
use super::read::{dir_with, procs};
use crate::error::{Error, Result};
use crate::sys::Sys;

/// The file that freezes the cgroup, and what it reads when frozen.
fn control(placement: &Placement) -> Result<(std::path::PathBuf, &'static str, &'static str)> {
    match placement.version {
        Version::V2 => {
            let dir = &placement
                .dirs
                .first()
                .ok_or_else(|| Error::invalid("the container has no cgroup to freeze"))?
                .path;
            Ok((dir.join("cgroup.freeze"), "1", "0"))
        }
        Version::V1 => {
            let dir = dir_with(placement, "freezer").ok_or_else(|| {
                Error::invalid(
                    "this host has no freezer cgroup tree, so containers cannot be paused",
                )
            })?;
            Ok((dir.join("freezer.state"), "FROZEN", "THAWED"))
        }
    }
}

/// Freeze (`frozen`) or thaw the cgroup.
pub fn set(sys: &mut Sys, placement: &Placement, frozen: bool) -> Result<()> {
    let (file, on, off) = control(placement)?;
    write(sys, &file, if frozen { on } else { off })
}

/// Whether the cgroup is frozen (or freezing) now.
pub fn is_frozen(sys: &Sys, placement: &Placement) -> bool {
    let Ok((file, on, _)) = control(placement) else {
        return false;
    };
    let Ok(path) = text(&file) else {
        return false;
    };
    match sys.read_trim(&path).as_deref() {
        Some("FREEZING") => true,
        Some(state) => state == on,
        None => false,
    }
}

/// The processes in the container's cgroup, by their pids on the host.
pub fn members(sys: &Sys, placement: &Placement) -> Vec<i32> {
    placement
        .dirs
        .first()
        .map(|d| procs(sys, Path::new(&d.path)))
        .unwrap_or_default()
}
