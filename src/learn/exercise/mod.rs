//! A lesson's checked exercise: a task done by hand, with ordinary tools,
//! in a shell diyc opens, then graded by looking at the live state.
//!
//! - the exercise shell (shell.rs) is a pretend host: /bin/sh in new UTS,
//!   mount, network, IPC and PID namespaces, so nothing the student does
//!   reaches the real host's names, mounts or network, and whatever they
//!   leave running dies with it;
//! - `check` is diyc's own binary under another name (client.rs): typed
//!   in that shell, or in any shell started from it, it sends what only
//!   the inside can see over a unix socket (wire.rs);
//! - diyc (serve.rs) answers each `check` after reading the host's side
//!   of the process that asked (look.rs): its namespaces, capabilities,
//!   mounts, cgroup and root;
//! - each exercise's task, hints and check sit together, by kind:
//!   namespaces and capabilities (spaces.rs), processes' roots and cgroups
//!   (host.rs), links, addresses and rules (network.rs), layers stacked
//!   by hand (overlay.rs).
//!
//! Everything diyc makes for an exercise (its directory, the `check`
//! link, the socket, the cgroup parent) is undone through the undo list,
//! on every path.

mod client;
mod host;
mod look;
mod network;
mod overlay;
mod serve;
mod shell;
mod spaces;
mod wire;

use super::session::Session;
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::Format;
use crate::sys::Sys;
use crate::undo::Undo;

pub use client::check_main;
use look::Look;
use wire::{Verdict, Want};

/// The exercises, by the name of the lesson each ends: every lesson has one.
fn names() -> Vec<&'static str> {
    super::TOPICS.iter().map(|t| t.name()).collect()
}

/// One exercise: what the student is asked, what `check` must collect
/// inside, and how diyc grades it.
struct Exercise {
    name: &'static str,
    task: fn(&Setting) -> String,
    wants: &'static [Want],
    check: fn(&Look) -> Verdict,
}

fn find(name: &str) -> Result<&'static Exercise> {
    [
        &spaces::INTRO,
        &spaces::USER,
        &spaces::UTS,
        &spaces::PID,
        &spaces::MOUNT,
        &overlay::IMAGE,
        &host::ROOTFS,
        &host::CGROUPS,
        &network::NET,
        &network::IPTABLES,
        &spaces::HARDENING,
    ]
    .into_iter()
    .find(|e| e.name == name)
    .ok_or_else(|| Error::invalid(unknown(name)))
}

fn unknown(name: &str) -> String {
    format!(
        "no exercise called {name:?}; one of: {}",
        names().join(", ")
    )
}

/// `--exercise NAME`, checked while the command line is parsed.
pub fn parse_name(name: &str) -> std::result::Result<String, String> {
    if names().contains(&name) {
        Ok(name.to_string())
    } else {
        Err(unknown(name))
    }
}

/// This run's real paths, which the tasks name and the checks compare.
pub struct Setting {
    /// The busybox image's root directory (rootfs).
    image: Option<String>,
    /// The cgroup the student makes (cgroups).
    cgroup: Option<host::CgroupTask>,
}

impl Setting {
    fn of(session: &mut Session, name: &str) -> Result<Setting> {
        Ok(Setting {
            image: (name == "rootfs").then(|| session.busybox()).transpose()?,
            cgroup: (name == "cgroups")
                .then(|| host::CgroupTask::place(&session.opts.cgroup_parent))
                .transpose()?,
        })
    }
}

const LEAVING: &str = "Type `check` in that shell (or in a shell you start from it) to see how you are doing; `exit` (or Ctrl-D) leaves it.";

/// The task of lesson `lesson`'s exercise, with this run's paths: for a
/// handout, or a lesson with nobody at the keyboard.
pub fn task(lesson: &str, session: &mut Session) -> Result<String> {
    let exercise = find(lesson)?;
    let setting = Setting::of(session, exercise.name)?;
    Ok((exercise.task)(&setting))
}

/// How the exercise went: whether a check passed, and what the last one
/// that did not pass suggested.
#[derive(Default)]
struct Outcome {
    passed: bool,
    last_hint: Option<String>,
}

/// Lesson `lesson`'s exercise: the task, the exercise shell with `check`
/// answered until the student leaves it, the clean-up, the outcome.
/// True when a check passed.
pub fn run(session: &mut Session, lesson: &str) -> Result<bool> {
    let exercise = find(lesson)?;
    let setting = Setting::of(session, exercise.name)?;
    session.heading("Exercise");
    session.prose(&format!("{}\n\n{LEAVING}", (exercise.task)(&setting)));
    let mut undo = Undo::new();
    let mut shown = session.scaffolding();
    let mut sys = Sys::new(&mut shown, StageId::Clone);
    let outcome = attempt(&mut sys, session, exercise, &setting, &mut undo);
    undo.finish(&mut sys, outcome.is_ok());
    let outcome = outcome?;
    if outcome.passed {
        session.say("\n✓ exercise done");
    } else {
        let hint = outcome
            .last_hint
            .unwrap_or_else(|| "`check` was never typed in the exercise shell".into());
        session.say(&format!("\n✗ exercise not done yet: {hint}"));
    }
    Ok(outcome.passed)
}

fn attempt(
    sys: &mut Sys,
    session: &mut Session,
    exercise: &Exercise,
    setting: &Setting,
    undo: &mut Undo,
) -> Result<Outcome> {
    let place = shell::Workspace::make(sys, session.store, undo)?;
    if let Some(cgroup) = &setting.cgroup {
        cgroup.prepare(sys, undo)?;
    }
    session.say(&format!(
        "\nThe exercise shell is a pretend host: it has new UTS, mount, network, IPC and PID namespaces, so nothing done in it reaches this host's name, mounts or network, and whatever is left running in it ends with it.{}",
        if setting.cgroup.is_some() {
            " Cgroups are real: diyc removes the one you make when you leave."
        } else {
            ""
        }
    ));
    let format = session.opts.explain.unwrap_or(Format::Text);
    let spec = shell::Spec {
        env: place.env(),
        verbose: session.opts.verbose,
        read_only: setting.image.iter().cloned().collect(),
    };
    let shell = shell::Shell::start(sys, format, &spec, &session.signals)?;
    serve::serve(&place, shell, exercise, setting, &session.signals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_an_exercise_and_a_task() {
        let setting = Setting {
            image: Some("/IMAGE".into()),
            cgroup: Some(host::CgroupTask::example()),
        };
        for name in names() {
            let exercise = find(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            let task = (exercise.task)(&setting);
            assert!(!task.is_empty(), "{name}");
            assert!(task.lines().count() <= 6, "{name}: {task}");
        }
        assert!(find("nonsense").is_err());
        assert_eq!(
            parse_name("nonsense").err().as_deref(),
            Some(
                "no exercise called \"nonsense\"; one of: intro, user, uts, pid, mount, image, rootfs, cgroups, net, iptables, hardening"
            )
        );
    }
}
