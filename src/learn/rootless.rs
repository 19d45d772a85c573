//! Lessons without root. A lesson made only of namespaces runs as it
//! would with root, inside a user namespace of its own whose root is the
//! caller (src/stages/user.rs), as a rootless `diyc run` does. It is
//! given one here, where every lesson's launch is put together, so no
//! lesson has to remember it.

use crate::observe;
use crate::stages::order::Plan;
use crate::stages::pid::Pid;
use crate::stages::user::User;
use crate::stages::{Stage, Stages};

/// What a lesson launches: a plan's stages in their order, then the
/// lesson's own (the rootfs lesson's escape, the image lesson's look).
pub struct Built {
    plan: Plan,
    then: Stages,
}

impl From<Plan> for Built {
    fn from(plan: Plan) -> Built {
        Built {
            plan,
            then: Vec::new(),
        }
    }
}

impl Built {
    /// One more stage, after the plan's.
    pub fn then(mut self, stage: impl Stage + 'static) -> Built {
        self.then.push(Box::new(stage));
        self
    }

    /// The stages in order, and the namespaces that need no stage.
    /// Without root the plan gets a user namespace mapped to the caller,
    /// unless it has one of its own (the user lesson's).
    pub fn build(self) -> (Stages, u64) {
        let mut plan = self.plan;
        if plan.user.is_none() && observe::rootless() {
            plan.user = Some(User::for_caller());
        }
        if let Some(user) = &plan.user {
            let wide = user.map().is_wide();
            if plan.rootfs.is_some() {
                // The root of a user namespace may mount a procfs only
                // while the host's is in view: the rootfs stage does it
                // before pivot_root.
                plan.pid = plan.pid.map(|p| Pid {
                    mounted_by_rootfs: true,
                    ..p
                });
            }
            plan.rootfs = plan.rootfs.map(|r| r.in_user_namespace(wide));
        }
        let (mut stages, flags) = plan.build();
        stages.extend(self.then);
        (stages, flags)
    }
}
