//! `diyc learn`: lesson 0 (intro.rs, what a container is) and one lesson
//! per stage, each in the file named after its stage, beside the shared
//! machinery: the lesson's text (text.rs, markdown.rs, glossary.rs), the
//! session that says it and runs its launches (session.rs, lesson.rs,
//! prose.rs, quiz.rs, views.rs), the handout (transcript.rs), the parts
//! of a container the lessons build on (parts.rs), the looks at the host
//! before and after (probes.rs), the iptables lesson's outside host
//! (outside.rs), and podman driving diyc for the hardening lesson's last
//! part (engine/). The texts are lessons/NAME.md, built into the binary; a
//! stage lesson's title is its stage's heading.
//!
//! uts, pid and mount run host commands in new namespaces and need no
//! image; the image lesson makes one of two layers on top of the
//! built-in busybox image, which the other lessons use. With `--lab`
//! everything happens in a throwaway network namespace (and the iptables
//! lesson gets an "outside" host of its own there to talk to).

mod capture;
mod cgroups;
mod draw;
mod engine;
pub mod exercise;
mod glossary;
mod hardening;
mod image;
mod intro;
mod iptables;
mod lesson;
mod markdown;
mod menu;
mod mount;
mod net;
mod observed;
mod outside;
mod parts;
mod pid;
mod probes;
mod prose;
mod quiz;
mod rootfs;
mod rootless;
mod session;
mod text;
mod topic;
mod transcript;
mod user;
mod uts;
mod views;

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::{Explainer, Format};
use crate::pause::Pauser;
use crate::signals::Signals;
use crate::stages::cgroups::Host;
use crate::stages::net::Bridge;
use crate::stages::order;
use crate::state::{self, Store, network};
use crate::sys::{Call, Request, Sys};
use crate::warnings;

pub use outside::Outside;
pub use rootfs::{ESCAPE_HEADING, LAYERS_HEADING};
use session::Session;
pub use topic::{TOPICS, Topic};

pub struct Options {
    pub topic: Option<Topic>,
    pub all: bool,
    pub lab: bool,
    pub no_pause: bool,
    pub explain: Option<Format>,
    pub verbose: bool,
    pub transcript: Option<PathBuf>,
    pub cgroup_parent: String,
    /// Only this lesson's exercise (`--exercise NAME`).
    pub exercise: Option<String>,
    /// One part per screen, for a projector.
    pub present: bool,
    /// `--glossary [TERM]`: Some(None) lists every word.
    pub glossary: Option<Option<String>>,
}

/// What `{{name}}` stands for in the lessons' texts on this machine.
fn vars(store: &Store, parent: &str) -> Vec<(&'static str, String)> {
    let root = store.root().display().to_string();
    let dirs = Host::detect()
        .map(|h| h.parent_dirs(parent))
        .unwrap_or_default();
    // One v2 directory, or one per v1 tree: the memory tree's is the one.
    let v1 = dirs.len() > 1;
    let memory = dirs
        .iter()
        .find(|d| d.components().any(|c| c.as_os_str() == "memory"))
        .or(dirs.first())
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let sudo = if nix::unistd::geteuid().is_root() {
        ""
    } else {
        "sudo "
    };
    // The lesson's own state root, when it is not the default, so that a
    // command copied from the text finds what the lesson made.
    let diyc = if root == crate::state::DEFAULT_ROOT {
        format!("{sudo}diyc")
    } else {
        format!("{sudo}diyc --root {root}")
    };
    vec![
        ("sudo", sudo.into()),
        ("diyc", diyc),
        ("image", format!("{root}/images/busybox/rootfs")),
        ("root", root),
        ("parent", parent.into()),
        ("cgroup_dir", memory),
        (
            "memory_max",
            if v1 {
                "memory.limit_in_bytes"
            } else {
                "memory.max"
            }
            .into(),
        ),
        ("cgroup_version", if v1 { "v1" } else { "v2" }.into()),
    ]
}

/// `diyc learn`.
pub fn learn(store: &Store, bridge: &Bridge, opts: Options) -> Result<i32> {
    if let Some(term) = &opts.glossary {
        return glossary::print(term.as_deref());
    }
    if opts.topic.is_none() && !opts.all && opts.exercise.is_none() {
        return menu::menu(store, bridge, opts);
    }
    let rootless = crate::observe::rootless();
    if rootless {
        rootless::refuse(&opts)?;
    }
    let signals = Signals::block()?;
    // A lab keeps its network's records apart from the host's.
    let lab = opts.lab.then(|| store.for_lab()).transpose()?;
    let store = lab.as_ref().map_or(store, |(lab_store, _)| lab_store);
    if opts.explain == Some(Format::Json) {
        warnings::as_json();
    }
    if opts.lab {
        // A network namespace of the lesson's own: whatever the net and
        // iptables lessons build goes when diyc exits.
        let mut shown = Explainer::new(Some(opts.explain.unwrap_or(Format::Text)));
        let mut sys = Sys::new(&mut shown, StageId::Net);
        sys.note("the lab: a network namespace of the lesson's own, gone when diyc exits");
        sys.call(Call::Unshare {
            flags: libc::CLONE_NEWNET as u64,
        })?;
        sys.call(Call::Netlink {
            request: Request::SetUp { name: "lo".into() },
        })?;
    }
    let mut session = Session {
        outside: None,
        store,
        bridge: bridge.clone(),
        opts: &opts,
        signals,
        pauser: Pauser::new(opts.no_pause),
        transcript: String::new(),
        focus: None,
        pauses: None,
        tabled: None,
        words: Default::default(),
        terms: glossary::terms(),
        score: (0, 0),
        exercises: (0, 0),
        overview: false,
        after_heading: false,
        vars: vars(store, &opts.cgroup_parent),
    };
    if let Some(name) = &opts.exercise {
        let passed = exercise::run(&mut session, name)?;
        if let Some(path) = &opts.transcript {
            state::write_user_file(path, session.transcript.as_bytes())?;
        }
        return Ok(if passed { 0 } else { 1 });
    }
    let topics: Vec<Topic> = if opts.all {
        TOPICS.to_vec()
    } else {
        opts.topic.into_iter().collect()
    };
    // Without root, --all is the lessons that need none.
    let skipped = rootless.then(|| rootless::skipped(&topics));
    let topics: Vec<Topic> = topics
        .into_iter()
        .filter(|t| !rootless || rootless::needs_root(*t).is_none())
        .collect();
    let had_setup = network::any_record(store);
    let on_host = !opts.lab
        && topics
            .iter()
            .any(|t| matches!(t, Topic::Net | Topic::Iptables));
    if opts.transcript.is_some() {
        let names: Vec<&str> = topics.iter().map(|t| t.name()).collect();
        let cgroups = session.vars.iter().find(|(n, _)| *n == "cgroup_version");
        let cgroups = cgroups.map_or("", |(_, v)| v.as_str()).to_string();
        session.md(&transcript::title(&names.join(", "), &cgroups));
    }
    session.overview = opts.all && !session.pauser.enabled();
    if session.overview {
        session.say("\nThe course's overview: nobody is at the keyboard, so each lesson shows why, what diyc does, the run, what breaks and its first picture. The rest (the other pictures, both views, what to look at, what to try by hand, the exercises and questions) is in each `diyc learn --step NAME`, and all of it is in the handout `--transcript FILE` writes.");
    }
    if on_host {
        session.say(&host_network_notice(bridge, had_setup));
    }
    if let Some(skipped) = skipped.filter(|s| !s.is_empty()) {
        // Its words belong to the lessons it leaves out: they explain
        // them, not this list.
        let terms = std::mem::take(&mut session.terms);
        session.prose(&rootless::all_notice(&skipped));
        session.terms = terms;
    }
    let mut finished = Vec::new();
    let result = (|| -> Result<bool> {
        for topic in topics {
            if session.lesson(topic)?.is_err() {
                return Ok(true);
            }
            finished.push(topic);
        }
        if opts.all && rootless {
            session.course_summary(&finished, None);
        } else if opts.all {
            session.title("All of it at once: a container");
            // Every stage again, one line each, and the command.
            session.focus = Some(vec![StageId::Exec]);
            session.pauses = None;
            let seen = session.container()?;
            session.course_summary(&finished, Some(seen.code));
        }
        Ok(false)
    })();
    // q at a pause inside a stage ends the launch the same way.
    let result = match result {
        Err(Error::Stopped(_)) => Ok(true),
        other => other,
    };
    // The lab's outside host goes first: its veth end is in the lab.
    session.outside = None;
    // Without --lab the net lessons used the host's network, as `diyc run`
    // would: what they set up goes again at the end, however they ended.
    let teardown = if !opts.lab && !had_setup && network::any_record(store) {
        let mut explainer = session.scaffolding();
        let mut sys = Sys::new(&mut explainer, StageId::Cleanup);
        sys.stage(StageId::Cleanup);
        order::teardown_network(&mut sys, store)
    } else {
        Ok(())
    };
    let stopped = result?;
    teardown?;
    if on_host {
        let left = network::any_record(store);
        session.say(&match (had_setup, left) {
            (false, false) => format!(
                "\n✓ undone: the lesson's network on this host (the bridge {}, forwarding, diyc's rules) is gone again",
                bridge.name
            ),
            (true, _) => format!(
                "\nThe bridge {} and diyc's rules were set up before the lesson and stay as they were; `diyc teardown` removes them.",
                bridge.name
            ),
            (false, true) => format!(
                "\n✗ diyc's network on this host is still set up; `diyc teardown` removes it (the bridge {} and diyc's rules)",
                bridge.name
            ),
        });
    }
    if let Some(path) = &opts.transcript {
        state::write_user_file(path, session.transcript.as_bytes())?;
    }
    if stopped {
        session.say("\nStopped. What the lesson made is undone.");
    }
    // A Ctrl-C that ended a pause is still pending: it decides the status.
    session.signals.check()?;
    Ok(0)
}

/// Said before the network lessons run on the host's own network.
fn host_network_notice(bridge: &Bridge, had_setup: bool) -> String {
    if had_setup {
        format!(
            "\nThe network lessons use this host's network. diyc's network is already set up here (the bridge {}, forwarding, diyc's rules): the lessons use it and leave it as it is.",
            bridge.name
        )
    } else {
        format!(
            "\nThe network lessons use this host's network: they set up the bridge {}, turn on forwarding and add diyc's rules, and take all of it down again at the end. With --lab they happen in a throwaway network namespace instead.",
            bridge.name
        )
    }
}
