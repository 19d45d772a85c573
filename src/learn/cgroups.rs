//! The cgroups lesson: a memory limit the kernel enforces, and what a
//! container takes without one (src/stages/cgroups/).

use super::parts::ROOT_WATCH;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::stages::cgroups::Limits;
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../lessons/cgroups.md");

/// A memory hog that stops by itself at 100 MiB.
const HOG: &str = "head -c 100m /dev/zero | tail > /dev/null && echo 'the hog took its 100 MiB'";

/// The hog in a container with `memory` as its limit; the cgroup's
/// directories, for checking they are gone afterwards.
fn run(s: &mut Session, name: &str, memory: Option<u64>) -> Result<(Observed, Vec<String>)> {
    let mut undo = Undo::new();
    let limits = Limits {
        memory,
        ..Limits::default()
    };
    let cgroups = s.cgroups(name, limits)?;
    let dirs = cgroups.dirs();
    let mut plan = s.base(&mut undo, name, false)?;
    plan.cgroups = Some(cgroups);
    let env = s.container_env(name);
    let seen = s.launch(plan.build(), &["sh", "-c", HOG], env, ROOT_WATCH, undo)?;
    Ok((seen, dirs))
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let (seen, _) = run(s, "lesson-cgroups", Some(32 << 20))?;
    s.check(
        seen.code == 137 || seen.notes.iter().any(|n| n.contains("OOM killer")),
        "the kernel's OOM killer stopped the hog at the 32 MiB limit",
    )?;
    Ok((seen, StageId::Cgroups))
}

/// No limit: the hog takes all it asks for.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let (seen, dirs) = run(s, "lesson-unlimited", None)?;
    s.effect(
        seen.code == 0,
        "with no limit the hog took all 100 MiB it asked for",
    )?;
    s.undone(
        dirs.iter().all(|d| !std::path::Path::new(d).exists()),
        "its cgroup was removed with the container",
    )?;
    Ok(seen)
}
