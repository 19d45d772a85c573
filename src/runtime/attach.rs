//! Step 3 of a launch, the host side of each stage once the child exists.
//! Most of it must come before the child is let go: its cgroup, the maps
//! of its user namespace. A bridged network's veth pair need only be
//! there when the child reaches its net stage, and making one is the
//! kernel's slowest network work (two devices, one moved into the new
//! namespace). So in a run nobody watches, diyc lets the child go first
//! and makes the pair while the child mounts its root; the child waits
//! for `Attached` just before that stage. An explained run keeps one
//! order, so that its story reads top to bottom.

use super::channel::{Channel, ToChild, ToParent, failure};
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::stages::{Child, Stages};
use crate::sys::Sys;

/// The stages whose attach waits until the child is let go.
pub(super) fn deferred(stages: &Stages, explain: bool) -> Vec<StageId> {
    if explain {
        return Vec::new();
    }
    stages
        .iter()
        // The child waits before the stage's enter, so it must have one.
        .filter(|s| s.attach_meanwhile() && s.runs_inside())
        .map(|s| s.id())
        .collect()
}

/// Attach every stage in `stages` that is (`late`) or is not in `deferred`.
pub(super) fn attach(
    sys: &mut Sys,
    stages: &mut Stages,
    deferred: &[StageId],
    late: bool,
    child: Child,
) -> Result<()> {
    stages
        .iter_mut()
        .filter(|s| deferred.contains(&s.id()) == late)
        .try_for_each(|stage| stage.attach(sys, child))
}

/// A late attach failed and the child is gone: if the child had failed
/// first (its own setup, while diyc worked), its reason is the one to
/// give, not the attach's that followed from it.
pub(super) fn reason(chan: &Channel, attach: Error) -> Error {
    while let Ok(Some(msg)) = chan.recv::<ToParent>() {
        if let ToParent::Failed { message, code } = msg {
            return failure(message, code);
        }
    }
    attach
}

/// In the child: wait before `stage` if diyc is still attaching it.
pub(super) fn wait_before(chan: &Channel, stage: StageId, late: Option<StageId>) -> Result<()> {
    if late != Some(stage) {
        return Ok(());
    }
    match chan.recv::<ToChild>()? {
        Some(ToChild::Attached) => Ok(()),
        _ => Err(Error::Container(
            "diyc went away before the container's network was attached".into(),
        )),
    }
}
