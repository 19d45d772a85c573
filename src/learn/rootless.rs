//! Lessons without root. A lesson made only of namespaces runs as it
//! would with root, inside a user namespace of its own whose root is the
//! caller (src/stages/user.rs), as a rootless `diyc run` does. It is
//! given one here, where every lesson's launch is put together, so no
//! lesson has to remember it. The lessons that change the host's own
//! cgroups or network refuse, each saying what it needs root for.

use super::{Options, Topic};
use crate::error::{Error, Result};
use crate::observe;
use crate::stages::order::Plan;
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
        let (mut stages, flags) = plan.build();
        stages.extend(self.then);
        (stages, flags)
    }
}

/// Why lesson `topic` cannot run without root, if it cannot.
pub fn needs_root(topic: Topic) -> Option<&'static str> {
    match topic {
        Topic::Cgroups => Some(
            "it makes cgroups with a memory limit in the host's cgroup tree, which only the host's root may write to",
        ),
        Topic::Net => Some("it makes a bridge and a veth pair on the host's side"),
        Topic::Iptables => Some(
            "it adds NAT rules to the host's iptables and joins an outside host to it by a veth pair",
        ),
        Topic::Hardening => Some(
            "it gives the container a cgroup with a device policy, and its experiment writes a kernel setting that no user namespace may change",
        ),
        Topic::Image => Some(
            "its importer gives each file the owner its layer names, root among them, and marks an opaque directory with a trusted.overlay attribute, both of which need the host's root",
        ),
        Topic::Intro | Topic::User | Topic::Uts | Topic::Pid | Topic::Mount | Topic::Rootfs => None,
    }
}

/// Without root: refuse, in one line saying why, what needs the host's
/// root (a lesson of the host's cgroups or network, the exercise shell,
/// a lab network namespace); `--all` goes on without those lessons.
pub fn refuse(opts: &Options) -> Result<()> {
    if let Some(why) = opts.topic.filter(|_| !opts.all).and_then(needs_root) {
        let name = opts.topic.map_or("", Topic::name);
        return Err(Error::invalid(format!(
            "the {name} lesson needs root: {why} (try `sudo diyc learn --step {name}`)"
        )));
    }
    if let Some(name) = &opts.exercise {
        return Err(Error::invalid(format!(
            "the exercise shell needs root: it is a pretend host made of new namespaces outside any user namespace (try `sudo diyc learn --exercise {name}`)"
        )));
    }
    if opts.lab {
        return Err(Error::invalid(
            "--lab needs root: it is for the net and iptables lessons, which set up a network (try `sudo diyc learn --lab ...`)",
        ));
    }
    Ok(())
}

/// What `--all` without root says before its first lesson.
pub fn all_notice(skipped: &[String]) -> String {
    let list: Vec<String> = skipped.iter().map(|s| format!("- {s}")).collect();
    format!(
        "Without root, the course runs the lessons a user namespace allows, each inside one of its own, and leaves out these, which need the host's root:\n\n{}\n\n`sudo diyc learn --all` runs them too.",
        list.join("\n")
    )
}

/// What `--all` without root leaves out, one line each, for its notice.
pub fn skipped(topics: &[Topic]) -> Vec<String> {
    topics
        .iter()
        .filter_map(|t| needs_root(*t).map(|why| format!("{}: {why}", t.name())))
        .collect()
}
