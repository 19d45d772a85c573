//! The mount lesson: a private mount table (src/stages/mount.rs).

use super::probes;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::stages::order::Plan;
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../lessons/mount.md");

fn alone() -> Plan {
    Plan {
        mount: true,
        ..Plan::default()
    }
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let before = probes::mounts();
    let script = "mount -t tmpfs diyc-lesson /tmp && grep diyc-lesson /proc/self/mountinfo";
    let env = s.host_env();
    let seen = s.launch(
        alone().build(),
        &["sh", "-c", script],
        env,
        &[(StageId::Mount, probes::mounts)],
        Undo::new(),
    )?;
    let after = probes::mounts();
    s.check(
        seen.code == 0 && !after.iter().any(|m| m.contains("diyc-lesson")) && after == before,
        "the tmpfs mounted inside never showed in the host's mount table",
    )?;
    Ok((seen, StageId::Mount))
}

/// Without private propagation, a mount made in a new mount namespace
/// appears in the one it was copied from. Shown in a throwaway mount
/// namespace that plays the host, made shared first.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let before = probes::mounts();
    let script = "mount --make-rshared / && \
                  unshare --mount --propagation shared mount -t tmpfs diyc-leak /tmp && \
                  grep -q diyc-leak /proc/self/mountinfo && \
                  echo 'a mount made in a namespace that kept shared propagation appeared in the (pretend) host'\"'\"'s table'";
    let env = s.host_env();
    let seen = s.launch(
        alone().build(),
        &["sh", "-c", script],
        env,
        &[],
        Undo::new(),
    )?;
    s.effect(
        seen.code == 0,
        "the mount leaked into the namespace it was copied from",
    )?;
    s.undone(
        probes::mounts() == before,
        "the real host's mount table is as it was",
    )?;
    Ok(seen)
}
