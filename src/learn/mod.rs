//! `diyc learn`: lesson 0 (intro.rs, what a container is) and one lesson
//! per stage, each in the file named after its stage, beside the shared
//! machinery: the lesson's text (text.rs, markdown.rs, glossary.rs), the
//! session that says it and runs its launches (session.rs, lesson.rs,
//! prose.rs, quiz.rs, views.rs), the handout (transcript.rs), the parts
//! of a container the lessons build on (parts.rs), the looks at the host
//! before and after (probes.rs), and the iptables lesson's outside host
//! (outside.rs). The texts are lessons/NAME.md, built into the binary; a
//! stage lesson's title is its stage's heading.
//!
//! uts, pid and mount run host commands in new namespaces and need no
//! image; the other lessons use the built-in busybox image. With `--lab`
//! everything happens in a throwaway network namespace (and the iptables
//! lesson gets an "outside" host of its own there to talk to).

mod capture;
mod cgroups;
mod draw;
pub mod exercise;
mod glossary;
mod hardening;
mod intro;
mod iptables;
mod lesson;
mod markdown;
mod mount;
mod net;
mod outside;
mod parts;
mod pid;
mod probes;
mod prose;
mod quiz;
mod rootfs;
mod session;
mod text;
mod transcript;
mod uts;
mod views;

use std::io::IsTerminal;
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
use session::{Observed, Session};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Topic {
    Intro,
    Uts,
    Pid,
    Mount,
    Rootfs,
    Cgroups,
    Net,
    Iptables,
    Hardening,
}

pub const TOPICS: [Topic; 9] = [
    Topic::Intro,
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
    /// The stage the lesson is about; lesson 0 is about all of them.
    pub fn stage(self) -> Option<StageId> {
        Some(match self {
            Topic::Intro => return None,
            Topic::Uts => StageId::Uts,
            Topic::Pid => StageId::Pid,
            Topic::Mount => StageId::Mount,
            Topic::Rootfs => StageId::Rootfs,
            Topic::Cgroups => StageId::Cgroups,
            Topic::Net => StageId::Net,
            Topic::Iptables => StageId::Iptables,
            Topic::Hardening => StageId::Hardening,
        })
    }

    pub fn name(self) -> &'static str {
        self.stage().map_or("intro", StageId::name)
    }

    /// The stage's own heading, which is the lesson's title.
    pub fn title(self) -> &'static str {
        self.stage()
            .map_or(intro::TITLE, |stage| stage.heading().title)
    }

    /// The stages its launches show in full: its own, and the clone for
    /// the namespaces it makes.
    pub fn focus(self) -> Vec<StageId> {
        match self {
            Topic::Intro => Vec::new(),
            Topic::Uts | Topic::Pid | Topic::Mount => {
                vec![self.stage().unwrap_or(StageId::Clone), StageId::Clone]
            }
            Topic::Rootfs => vec![StageId::Rootfs, StageId::Escape],
            other => other.stage().into_iter().collect(),
        }
    }

    fn text(self) -> &'static str {
        match self {
            Topic::Intro => intro::TEXT,
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

    fn live(self) -> Option<Live> {
        Some(match self {
            Topic::Intro => return None,
            Topic::Uts => uts::live,
            Topic::Pid => pid::live,
            Topic::Mount => mount::live,
            Topic::Rootfs => rootfs::live,
            Topic::Cgroups => cgroups::live,
            Topic::Net => net::live,
            Topic::Iptables => iptables::live,
            Topic::Hardening => hardening::live,
        })
    }

    fn broken(self) -> Option<Broken> {
        Some(match self {
            Topic::Intro => return None,
            Topic::Uts => uts::broken,
            Topic::Pid => pid::broken,
            Topic::Mount => mount::broken,
            Topic::Rootfs => rootfs::broken,
            Topic::Cgroups => cgroups::broken,
            Topic::Net => net::broken,
            Topic::Iptables => iptables::broken,
            Topic::Hardening => hardening::broken,
        })
    }
}

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
    vec![
        ("sudo", sudo.into()),
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
        focus: None,
        tabled: None,
        words: Default::default(),
        terms: glossary::terms(),
        score: (0, 0),
        exercises: (0, 0),
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
    if on_host {
        session.say(&host_network_notice(bridge, had_setup));
    }
    let mut finished = Vec::new();
    let result = (|| -> Result<bool> {
        for topic in topics {
            if session.lesson(topic)?.is_err() {
                return Ok(true);
            }
            finished.push(topic);
        }
        if opts.all {
            session.title("All of it at once: a container");
            session.focus = None;
            let seen = session.container()?;
            session.course_summary(&finished, seen.code);
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

/// Without a stage: a menu on a terminal, a plain list otherwise. Both
/// start at lesson 0 and say what builds on what.
fn menu(store: &Store, bridge: &Bridge, opts: Options) -> Result<i32> {
    let mut entries: Vec<String> = TOPICS
        .iter()
        .map(|t| {
            let start = if *t == Topic::Intro {
                "  <- start here"
            } else {
                ""
            };
            format!("{:<10} {}{start}", t.name(), t.title())
        })
        .collect();
    entries.push(format!(
        "{:<10} every lesson in order, ending in a whole container",
        "all"
    ));
    let sudo = if nix::unistd::geteuid().is_root() {
        ""
    } else {
        "sudo "
    };
    println!("{ROUTE}\n");
    if !std::io::stdin().is_terminal() || opts.no_pause {
        for e in &entries {
            println!("{e}");
        }
        println!(
            "\nrun one with `{sudo}diyc learn --step NAME`, or all with `{sudo}diyc learn --all`; `diyc learn --glossary` explains the words"
        );
        return Ok(0);
    }
    let choice = dialoguer::Select::new()
        .with_prompt("Which lesson? (arrows move, Enter starts, q or Esc leaves)")
        .items(&entries)
        .default(0)
        .interact_opt()
        .map_err(|e| Error::Os {
            what: "the menu".into(),
            source: std::io::Error::other(e),
        })?;
    let (topic, all) = match choice {
        None => return Ok(0),
        Some(i) => (TOPICS.get(i).copied(), i == TOPICS.len()),
    };
    learn(store, bridge, Options { topic, all, ..opts })
}

/// What builds on what, for the menu.
const ROUTE: &str = "Start with intro. uts, pid and mount each give a process one namespace \
(no image needed); rootfs builds a root from an image on top of mount; cgroups give it a \
budget; net and then iptables connect it; hardening comes last.";

#[cfg(test)]
mod tests {
    use super::*;
    use text::Text;

    fn parts(topic: Topic) -> &'static [&'static str] {
        match topic {
            Topic::Intro => &[
                "What a container is",
                "Reading a system call",
                "Side by side",
                "The route",
            ],
            _ => &[
                "Why",
                "What diyc does",
                "What to look at",
                "What breaks without it",
                "Try it yourself",
            ],
        }
    }

    #[test]
    fn every_lesson_has_its_parts_a_summary_and_three_questions_it_taught() {
        for topic in TOPICS {
            let text = Text::parse(topic.text(), &[]);
            assert!(topic.title().starts_with(topic.name()), "{topic:?}");
            for part in parts(topic) {
                assert!(!text.section(part).is_empty(), "{topic:?}: {part}");
            }
            assert_eq!(text.summary.len(), 3, "{topic:?}: the summary");
            assert_eq!(text.questions.len(), 3, "{topic:?}: the questions");
            let taught: String = text
                .prose()
                .map(|(_, body)| body.replace('\n', " "))
                .collect::<Vec<_>>()
                .join(" ");
            for q in &text.questions {
                assert!(q.choices.len() >= 2, "{topic:?}: {}", q.text);
                let letters: Vec<char> = ('a'..).take(q.choices.len()).collect();
                assert!(letters.contains(&q.answer), "{topic:?}: {}", q.text);
                assert!(!q.why.is_empty(), "{topic:?}: {}", q.text);
                assert!(
                    !q.taught_by.is_empty() && taught.contains(&q.taught_by),
                    "{topic:?}: {:?} asks what the lesson never said ({:?})",
                    q.text,
                    q.taught_by
                );
            }
        }
    }

    #[test]
    fn no_lesson_hard_codes_a_path_or_sudo() {
        for topic in TOPICS {
            let raw = topic.text();
            for fixed in ["/var/lib/diyc", "/sys/fs/cgroup/memory/diyc", "sudo "] {
                let outside_placeholders = raw.replace("{{sudo}}", "");
                assert!(
                    !outside_placeholders.contains(fixed),
                    "{topic:?} hard-codes {fixed:?}"
                );
            }
            let text = substitute_all(raw);
            assert!(!text.contains("{{"), "{topic:?}: an unknown placeholder");
        }
    }

    fn substitute_all(raw: &str) -> String {
        let vars: Vec<(&'static str, String)> = [
            "sudo",
            "image",
            "root",
            "parent",
            "cgroup_dir",
            "memory_max",
            "cgroup_version",
        ]
        .into_iter()
        .map(|n| (n, "x".to_string()))
        .collect();
        text::substitute(raw, &vars)
    }

    #[test]
    fn every_glossary_word_is_used_by_some_lesson() {
        let terms = glossary::terms();
        for term in &terms {
            assert!(
                TOPICS
                    .iter()
                    .any(|t| glossary::first_use(t.text(), term).is_some()),
                "no lesson uses {:?}",
                term.name
            );
        }
    }
}
