//! `diyc learn`: one lesson per stage, each in the file named after its
//! stage, beside the shared machinery: the lesson's text (text.rs), the
//! session that says it and runs its launches (session.rs, lesson.rs), the
//! parts of a container the lessons build on (parts.rs), the looks at the
//! host before and after (probes.rs), and the iptables lesson's outside
//! host (outside.rs). The texts are lessons/STAGE.md, built into the
//! binary; a lesson's title is its stage's heading.
//!
//! uts, pid and mount run host commands in new namespaces and need no
//! image; the other lessons use the built-in busybox image. With `--lab`
//! everything happens in a throwaway network namespace (and the iptables
//! lesson gets an "outside" host of its own there to talk to).

mod cgroups;
mod draw;
mod hardening;
mod iptables;
mod lesson;
mod mount;
mod net;
mod outside;
mod parts;
mod pid;
mod probes;
mod rootfs;
mod session;
mod text;
mod uts;

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::{Explainer, Format};
use crate::pause::Pauser;
use crate::signals::Signals;
use crate::stages::net::Bridge;
use crate::stages::order;
use crate::state::{self, Store, network};
use crate::sys::{Call, Request, Sys};
use crate::warnings;

pub use outside::Outside;
pub use rootfs::{ESCAPE_HEADING, LAYERS_HEADING};
use session::{Observed, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Topic {
    Uts,
    Pid,
    Mount,
    Rootfs,
    Cgroups,
    Net,
    Iptables,
    Hardening,
}

pub const TOPICS: [Topic; 8] = [
    Topic::Uts,
    Topic::Pid,
    Topic::Mount,
    Topic::Rootfs,
    Topic::Cgroups,
    Topic::Net,
    Topic::Iptables,
    Topic::Hardening,
];

/// A lesson's live run, and the run with the stage's key step left out.
type Live = fn(&mut Session) -> Result<(Observed, StageId)>;
type Broken = fn(&mut Session) -> Result<Observed>;

impl Topic {
    pub fn stage(self) -> StageId {
        match self {
            Topic::Uts => StageId::Uts,
            Topic::Pid => StageId::Pid,
            Topic::Mount => StageId::Mount,
            Topic::Rootfs => StageId::Rootfs,
            Topic::Cgroups => StageId::Cgroups,
            Topic::Net => StageId::Net,
            Topic::Iptables => StageId::Iptables,
            Topic::Hardening => StageId::Hardening,
        }
    }

    pub fn name(self) -> &'static str {
        self.stage().name()
    }

    /// The stage's own heading, which is the lesson's title.
    pub fn title(self) -> &'static str {
        self.stage().heading().title
    }

    fn text(self) -> &'static str {
        match self {
            Topic::Uts => uts::TEXT,
            Topic::Pid => pid::TEXT,
            Topic::Mount => mount::TEXT,
            Topic::Rootfs => rootfs::TEXT,
            Topic::Cgroups => cgroups::TEXT,
            Topic::Net => net::TEXT,
            Topic::Iptables => iptables::TEXT,
            Topic::Hardening => hardening::TEXT,
        }
    }

    fn live(self) -> Live {
        match self {
            Topic::Uts => uts::live,
            Topic::Pid => pid::live,
            Topic::Mount => mount::live,
            Topic::Rootfs => rootfs::live,
            Topic::Cgroups => cgroups::live,
            Topic::Net => net::live,
            Topic::Iptables => iptables::live,
            Topic::Hardening => hardening::live,
        }
    }

    fn broken(self) -> Broken {
        match self {
            Topic::Uts => uts::broken,
            Topic::Pid => pid::broken,
            Topic::Mount => mount::broken,
            Topic::Rootfs => rootfs::broken,
            Topic::Cgroups => cgroups::broken,
            Topic::Net => net::broken,
            Topic::Iptables => iptables::broken,
            Topic::Hardening => hardening::broken,
        }
    }
}

pub struct Options {
    pub topic: Option<Topic>,
    pub all: bool,
    pub lab: bool,
    pub no_pause: bool,
    pub explain: Option<Format>,
    pub transcript: Option<PathBuf>,
    pub cgroup_parent: String,
}

/// `diyc learn`.
pub fn learn(store: &Store, bridge: &Bridge, opts: Options) -> Result<i32> {
    if opts.topic.is_none() && !opts.all {
        return menu(store, bridge, opts);
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::invalid(
            "diyc learn needs root: try `sudo diyc learn ...`",
        ));
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
    };
    let topics: Vec<Topic> = if opts.all {
        TOPICS.to_vec()
    } else {
        opts.topic.into_iter().collect()
    };
    let had_setup = network::any_record(store);
    let mut finished = Vec::new();
    let result = (|| -> Result<bool> {
        for topic in topics {
            if session.lesson(topic)?.is_err() {
                return Ok(true);
            }
            finished.push(topic);
        }
        if opts.all {
            session.say("\n# All of it at once: a container");
            let seen = session.container()?;
            session.say(&format!(
                "\nBuilt, one stage at a time: {}; then a whole container (exit {}). Everything it made is undone.",
                finished.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "),
                seen.code
            ));
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
    if let Some(path) = &opts.transcript {
        state::write_user_file(path, session.transcript.as_bytes())?;
    }
    if stopped {
        session.say("\nStopped. Everything the lesson made is undone.");
    }
    // A Ctrl-C that ended a pause is still pending: it decides the status.
    session.signals.check()?;
    Ok(0)
}

/// Without a stage: a menu on a terminal, a plain list otherwise.
fn menu(store: &Store, bridge: &Bridge, opts: Options) -> Result<i32> {
    let entries: Vec<String> = TOPICS
        .iter()
        .map(|t| format!("{:<10} {}", t.name(), t.title()))
        .collect();
    if !std::io::stdin().is_terminal() || opts.no_pause {
        for e in &entries {
            println!("{e}");
        }
        println!(
            "\nrun one with `sudo diyc learn --step NAME`, or all with `sudo diyc learn --all`"
        );
        return Ok(0);
    }
    let choice = dialoguer::Select::new()
        .with_prompt("Which lesson?")
        .items(&entries)
        .default(0)
        .interact_opt()
        .map_err(|e| Error::Os {
            what: "the menu".into(),
            source: std::io::Error::other(e),
        })?;
    match choice {
        Some(i) => learn(
            store,
            bridge,
            Options {
                topic: Some(TOPICS[i]),
                ..opts
            },
        ),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use text::Text;

    #[test]
    fn every_lesson_has_its_parts_and_questions() {
        for topic in TOPICS {
            let text = Text::parse(topic.text());
            assert!(topic.title().starts_with(topic.name()), "{topic:?}");
            for part in [
                "Why",
                "What diyc does",
                "What to look at",
                "What breaks without it",
                "Try it yourself",
            ] {
                assert!(!text.section(part).is_empty(), "{topic:?}: {part}");
            }
            assert!(text.questions.len() >= 2, "{topic:?}");
            assert!(
                text.questions
                    .iter()
                    .all(|(q, a)| !q.is_empty() && !a.is_empty()),
                "{topic:?}"
            );
        }
    }
}
