//! `diyc learn`: one lesson per stage. Each lesson tells why the stage
//! exists (from lessons/STAGE.md, built into the binary), runs the stage
//! for real with every call shown, checks that its isolation holds,
//! shows both sides of it, runs the same stage with its key step left out
//! to show what breaks, and ends with commands to try and questions.
//!
//! uts, pid and mount run host commands in new namespaces and need no
//! image; the other lessons use the built-in busybox image. With `--lab`
//! everything happens in a throwaway network namespace (and the iptables
//! lesson gets an "outside" host of its own there to talk to).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd};
use std::path::PathBuf;

use crate::cgroups::{self, Limits};
use crate::error::{Error, IoContext, Result};
use crate::event::{Event, StageId};
use crate::explain::{Explainer, Format};
use crate::image;
use crate::netlink::Request;
use crate::network::{self, Bridge};
use crate::observe;
use crate::pause::{Choice, Pauser};
use crate::runtime::{self, ExecSpec, Launch};
use crate::signals::Signals;
use crate::stages::cgroups::Cgroups;
use crate::stages::hardening::{Hardening, capability_set};
use crate::stages::iptables::Iptables;
use crate::stages::{Stage, Stages, mount::Mount, net::Net, pid::Pid, rootfs::Rootfs, uts::Uts};
use crate::store::Store;
use crate::sys::{Call, Forked, Recorder, Sys};
use crate::undo::{Undo, When};

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

impl Topic {
    pub fn name(self) -> &'static str {
        match self {
            Topic::Uts => "uts",
            Topic::Pid => "pid",
            Topic::Mount => "mount",
            Topic::Rootfs => "rootfs",
            Topic::Cgroups => "cgroups",
            Topic::Net => "net",
            Topic::Iptables => "iptables",
            Topic::Hardening => "hardening",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Topic::Uts => include_str!("../lessons/uts.md"),
            Topic::Pid => include_str!("../lessons/pid.md"),
            Topic::Mount => include_str!("../lessons/mount.md"),
            Topic::Rootfs => include_str!("../lessons/rootfs.md"),
            Topic::Cgroups => include_str!("../lessons/cgroups.md"),
            Topic::Net => include_str!("../lessons/net.md"),
            Topic::Iptables => include_str!("../lessons/iptables.md"),
            Topic::Hardening => include_str!("../lessons/hardening.md"),
        }
    }
}

/// A lesson's text: the title, its sections, and questions with answers.
pub struct Text {
    pub title: String,
    sections: Vec<(String, String)>,
    pub questions: Vec<(String, String)>,
}

impl Text {
    pub fn parse(markdown: &str) -> Text {
        let mut title = String::new();
        let mut sections: Vec<(String, String)> = Vec::new();
        // A shell comment in a fenced block looks like a heading.
        let mut fenced = false;
        for line in markdown.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            if fenced || line.trim_start().starts_with("```") {
                if let Some((_, body)) = sections.last_mut() {
                    body.push_str(line);
                    body.push('\n');
                }
            } else if let Some(t) = line.strip_prefix("# ") {
                title = t.trim().to_string();
            } else if let Some(h) = line.strip_prefix("## ") {
                sections.push((h.trim().to_string(), String::new()));
            } else if let Some((_, body)) = sections.last_mut() {
                body.push_str(line);
                body.push('\n');
            }
        }
        let questions = sections
            .iter()
            .find(|(h, _)| h == "Questions")
            .map(|(_, body)| parse_questions(body))
            .unwrap_or_default();
        Text {
            title,
            sections,
            questions,
        }
    }

    pub fn section(&self, heading: &str) -> &str {
        self.sections
            .iter()
            .find(|(h, _)| h == heading)
            .map_or("", |(_, b)| b.trim())
    }
}

/// "1. Question ...\n\nAnswer: ..." pairs.
fn parse_questions(body: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let (mut question, mut answer) = (String::new(), None::<String>);
    for line in body.lines() {
        let numbered = line
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if numbered {
            if let Some(a) = answer.take() {
                pairs.push((question.trim().to_string(), a.trim().to_string()));
            }
            question = line.split_once(". ").map_or("", |(_, q)| q).to_string();
        } else if let Some(a) = line.strip_prefix("Answer:") {
            answer = Some(a.trim().to_string());
        } else if let Some(a) = answer.as_mut() {
            a.push('\n');
            a.push_str(line);
        } else {
            question.push('\n');
            question.push_str(line.trim());
        }
    }
    if let Some(a) = answer {
        pairs.push((question.trim().to_string(), a.trim().to_string()));
    }
    pairs
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

/// The explainer, keeping a copy of every event so a lesson can check
/// what happened.
struct Capture {
    explainer: Explainer,
    events: Vec<Event>,
}

impl Recorder for Capture {
    fn enabled(&self) -> bool {
        true
    }
    fn record(&mut self, event: Event) {
        self.explainer.record(event.clone());
        self.events.push(event);
    }
}

/// What a lesson's run produced: its exit status, and the views it showed.
struct Observed {
    code: i32,
    notes: Vec<String>,
    events: Vec<Event>,
}

impl Observed {
    /// Every line the stage `stage` showed, inside (`true`) or outside.
    fn lines(&self, stage: StageId, inside: bool) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::State {
                    stage: s,
                    inside: i,
                    lines,
                    ..
                } if *s == stage && *i == inside => Some(lines.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn saw(&self, stage: StageId, inside: bool, needle: &str) -> bool {
        self.lines(stage, inside).iter().any(|l| l.contains(needle))
    }
}

/// A stage wrapped so the host's state is probed before the run and at
/// the end of the stage, and the difference shown.
struct Watched {
    inner: Box<dyn Stage>,
    probe: fn() -> Vec<String>,
    before: Vec<String>,
}

fn diff(before: &[String], after: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = before
        .iter()
        .filter(|l| !after.contains(l))
        .map(|l| format!("- {l}"))
        .collect();
    lines.extend(
        after
            .iter()
            .filter(|l| !before.contains(l))
            .map(|l| format!("+ {l}")),
    );
    if lines.is_empty() {
        lines.push("(no change on the host)".into());
    }
    lines
}

impl Stage for Watched {
    fn id(&self) -> StageId {
        self.inner.id()
    }
    fn clone_flags(&self) -> u64 {
        self.inner.clone_flags()
    }
    fn requires(&self) -> &'static [StageId] {
        self.inner.requires()
    }
    fn prepare(&mut self, sys: &mut Sys, undo: &mut Undo) -> Result<()> {
        self.before = (self.probe)();
        self.inner.prepare(sys, undo)
    }
    fn cgroup_fd(&self) -> Option<i32> {
        self.inner.cgroup_fd()
    }
    fn attach(&mut self, sys: &mut Sys, child: i32, placed_by_clone: bool) -> Result<()> {
        self.inner.attach(sys, child, placed_by_clone)?;
        if !self.inner.runs_inside() {
            sys.emit(Event::State {
                stage: self.id(),
                inside: false,
                title: "the host before and after".into(),
                lines: diff(&self.before, &(self.probe)()),
            });
        }
        Ok(())
    }
    fn finish(&mut self, sys: &mut Sys, code: i32) -> Option<String> {
        self.inner.finish(sys, code)
    }
    fn runs_inside(&self) -> bool {
        self.inner.runs_inside()
    }
    fn enter(&self, sys: &mut Sys) -> Result<()> {
        self.inner.enter(sys)
    }
    fn inside(&self) -> Vec<String> {
        self.inner.inside()
    }
    fn outside(&self, pid: i32) -> Vec<String> {
        let mut lines = self.inner.outside(pid);
        lines.push("the host before and after:".into());
        lines.extend(
            diff(&self.before, &(self.probe)())
                .into_iter()
                .map(|l| format!("  {l}")),
        );
        lines
    }
}

fn watched(inner: impl Stage + 'static, probe: fn() -> Vec<String>) -> Box<dyn Stage> {
    Box::new(Watched {
        inner: Box::new(inner),
        probe,
        before: Vec::new(),
    })
}

// ---- host probes -----------------------------------------------------------------

fn probe_hostname() -> Vec<String> {
    vec![format!("hostname: {}", observe::hostname())]
}

fn probe_mounts() -> Vec<String> {
    observe::mountinfo(None)
        .into_iter()
        .map(|m| format!("{} {} {}", m.mount_point, m.fstype, m.source))
        .collect()
}

fn probe_nothing() -> Vec<String> {
    Vec::new()
}

/// The lesson's own look at the network, through a netlink connection
/// that records nothing.
fn with_netlink(look: impl FnOnce(&mut Sys) -> Vec<String>) -> Vec<String> {
    let mut quiet = Explainer::new(None);
    let mut sys = Sys::new(&mut quiet, StageId::Net);
    look(&mut sys)
}

/// The links and their addresses, without the link numbers (which change
/// from run to run and say nothing about what changed).
fn probe_links() -> Vec<String> {
    with_netlink(|sys| {
        crate::stages::net::addresses(sys)
            .into_iter()
            .map(|l| {
                l.split_once(": ")
                    .map_or(l.clone(), |(_, rest)| rest.to_string())
            })
            .collect()
    })
}

fn veths() -> Vec<String> {
    with_netlink(|sys| {
        let Ok(nl) = sys.netlink() else {
            return Vec::new();
        };
        nl.links()
            .into_iter()
            .filter(|l| l.kind.as_deref() == Some("veth"))
            .map(|l| l.name)
            .collect()
    })
}

// ---- the session -------------------------------------------------------------------

struct Session<'a> {
    /// The iptables lesson's outside host, made once (with --lab).
    outside: Option<Outside>,
    store: &'a Store,
    bridge: Bridge,
    opts: &'a Options,
    signals: Signals,
    pauser: Pauser,
    transcript: String,
    text_mode: bool,
}

/// The lesson was stopped at a pause.
struct Quit;

const HOST_TOOLS_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Session<'_> {
    /// Prose goes to stderr with the explanation, so the two stay in
    /// order; the transcript keeps both.
    fn say(&mut self, text: &str) {
        self.transcript.push_str(text);
        self.transcript.push('\n');
        if self.text_mode {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{text}");
        } else {
            let line = serde_json::json!({"event": "lesson", "text": text});
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }

    fn part(&mut self, heading: &str, body: &str) {
        self.say(&format!("\n## {heading}\n\n{body}"));
    }

    fn pause(&mut self, next: &str) -> std::result::Result<(), Quit> {
        match self.pauser.pause(next, &self.signals) {
            Choice::Go => Ok(()),
            Choice::Quit => Err(Quit),
        }
    }

    /// The explainer for the lesson's own set-up calls: shown like the
    /// stage's, so nothing diyc does goes unseen.
    fn scaffolding(&self) -> Explainer {
        Explainer::new(Some(self.opts.explain.unwrap_or(Format::Text)))
    }

    fn busybox(&mut self) -> Result<String> {
        let mut shown = self.scaffolding();
        let mut sys = Sys::new(&mut shown, StageId::Image);
        let root = image::ensure(self.store, image::BUILTIN, &mut sys, &self.signals)?;
        root.to_str()
            .map(String::from)
            .ok_or_else(|| Error::invalid("the image path is not UTF-8"))
    }

    /// A scratch mount point for an in-memory root, removed afterwards.
    fn scratch(&self, undo: &mut Undo, name: &str) -> Result<String> {
        let dir = self.store.root().join("lessons").join(name);
        std::fs::create_dir_all(&dir).ctx("creating", &dir)?;
        let gone = dir.clone();
        undo.push(
            format!("removing {}", dir.display()),
            When::Always,
            move |_| {
                std::fs::remove_dir(&gone).ctx("removing", &gone)?;
                if let Some(parent) = gone.parent() {
                    let _ = std::fs::remove_dir(parent);
                }
                Ok(())
            },
        );
        dir.to_str()
            .map(String::from)
            .ok_or_else(|| Error::invalid("the state root is not UTF-8"))
    }

    /// Run one lesson launch with every call shown, pausing at stage ends
    /// when a terminal is there. `undo` already holds what the caller made.
    fn launch(
        &mut self,
        stages: Stages,
        extra_flags: u64,
        argv: &[&str],
        env: Vec<String>,
        mut undo: Undo,
    ) -> Result<Observed> {
        let format = self.opts.explain.unwrap_or(Format::Text);
        let mut capture = Capture {
            explainer: Explainer::new(Some(format)),
            events: Vec::new(),
        };
        let veths_before = veths();
        let pauser = std::mem::replace(&mut self.pauser, Pauser::never());
        let mut launch = Launch::new(
            stages,
            extra_flags,
            ExecSpec {
                argv: argv.iter().map(|a| a.to_string()).collect(),
                env,
                workdir: None,
            },
        )?
        .pause_with(pauser);
        let result = {
            let mut sys = Sys::new(&mut capture, StageId::Clone);
            let result =
                runtime::launch(&mut sys, &mut launch, &self.signals, &mut undo, &mut |_| {
                    Ok(())
                });
            undo.finish(&mut sys, result.is_ok());
            result
        };
        self.pauser = launch.take_pauser();
        // The kernel deletes a container's veth pair a moment after its
        // namespace goes; the next run's before-and-after must not show it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while veths().iter().any(|v| !veths_before.contains(v))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        for event in &capture.events {
            if self.opts.transcript.is_some() {
                self.transcript.push_str(&render_for_transcript(event));
            }
        }
        let exit = match result {
            Ok(exit) => exit,
            Err(Error::Command { code, .. }) => runtime::Exit {
                code,
                notes: Vec::new(),
            },
            Err(e) => return Err(e),
        };
        for note in &exit.notes {
            self.say(&format!("diyc: {note}"));
        }
        Ok(Observed {
            code: exit.code,
            notes: exit.notes,
            events: capture.events,
        })
    }

    fn host_env(&self) -> Vec<String> {
        vec![format!("PATH={HOST_TOOLS_PATH}"), "LC_ALL=C".into()]
    }

    fn container_env(&self, hostname: &str) -> Vec<String> {
        vec![
            format!("PATH={HOST_TOOLS_PATH}"),
            "HOME=/root".into(),
            format!("HOSTNAME={hostname}"),
        ]
    }

    fn check(&mut self, holds: bool, what: &str) -> Result<()> {
        if holds {
            self.say(&format!("\n✓ {what}"));
            Ok(())
        } else {
            Err(Error::failed(format!("isolation check failed: {what}")))
        }
    }

    fn both_views(&mut self, observed: &Observed, stage: StageId) {
        let inside = observed.lines(stage, true);
        let outside = observed.lines(stage, false);
        let width = inside
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(24, 60);
        let mut table = format!("{:<width$} | {}\n", "inside the container", "on the host");
        let _ = writeln!(table, "{}-+-{}", "-".repeat(width), "-".repeat(24));
        for i in 0..inside.len().max(outside.len()) {
            let left: String = inside
                .get(i)
                .map_or("", String::as_str)
                .chars()
                .take(width)
                .collect();
            let right = outside.get(i).map_or("", String::as_str);
            let _ = writeln!(table, "{left:<width$} | {right}");
        }
        self.part("Both views", &table);
    }

    // ---- the lessons -------------------------------------------------------------

    fn lesson(&mut self, topic: Topic) -> Result<std::result::Result<(), Quit>> {
        let text = Text::parse(topic.source());
        self.say(&format!("\n# {}", text.title));
        self.part("Why", text.section("Why"));
        self.part("What diyc does", text.section("What diyc does"));
        if let Err(q) = self.pause("the stage, live") {
            return Ok(Err(q));
        }
        self.say("\n## The stage, live");
        let (observed, stage) = match topic {
            Topic::Uts => self.uts()?,
            Topic::Pid => self.pid(true)?,
            Topic::Mount => self.mount()?,
            Topic::Rootfs => self.rootfs(false)?,
            Topic::Cgroups => self.cgroups(true)?,
            Topic::Net => self.net(true)?,
            Topic::Iptables => self.iptables(true)?,
            Topic::Hardening => self.hardening(true)?,
        };
        self.both_views(&observed, stage);
        self.part("What to look at", text.section("What to look at"));
        if let Err(q) = self.pause("what breaks without it") {
            return Ok(Err(q));
        }
        self.part(
            "What breaks without it",
            text.section("What breaks without it"),
        );
        self.say("\nThe same stage with its key step left out:");
        match topic {
            Topic::Uts => self.uts_broken()?,
            Topic::Pid => {
                self.pid(false)?;
            }
            Topic::Mount => self.mount_broken()?,
            Topic::Rootfs => {
                self.rootfs(true)?;
            }
            Topic::Cgroups => {
                self.cgroups(false)?;
            }
            Topic::Net => {
                self.net(false)?;
            }
            Topic::Iptables => {
                self.iptables(false)?;
            }
            Topic::Hardening => {
                self.hardening(false)?;
            }
        }
        if let Err(q) = self.pause("try it yourself") {
            return Ok(Err(q));
        }
        self.part("Try it yourself", text.section("Try it yourself"));
        self.say("\n## Questions");
        for (question, answer) in &text.questions {
            self.say(&format!("\nQ: {question}"));
            if self.pauser.enabled() {
                if let Err(q) = self.pause("the answer") {
                    return Ok(Err(q));
                }
            }
            self.say(&format!("A: {answer}"));
        }
        Ok(Ok(()))
    }

    fn uts(&mut self) -> Result<(Observed, StageId)> {
        let host = observe::hostname();
        let stages = vec![watched(
            Uts {
                hostname: "diyc-lesson".into(),
                domainname: None,
            },
            probe_hostname,
        )];
        let env = self.host_env();
        let seen = self.launch(stages, 0, &["hostname"], env, Undo::new())?;
        self.check(
            seen.saw(StageId::Uts, true, "hostname: diyc-lesson") && observe::hostname() == host,
            &format!("inside, the hostname is diyc-lesson; the host is still {host}"),
        )?;
        Ok((seen, StageId::Uts))
    }

    /// Without its own UTS namespace, a process renames whoever shares it.
    /// Shown inside a throwaway namespace that plays the host, so the real
    /// host keeps its name.
    fn uts_broken(&mut self) -> Result<()> {
        let host = observe::hostname();
        let stages = vec![watched(
            Uts {
                hostname: "pretend-host".into(),
                domainname: None,
            },
            probe_hostname,
        )];
        let script = "echo \"the (pretend) host is $(hostname)\"; \
                      sh -c 'hostname renamed-by-a-guest'; \
                      echo \"a process sharing its UTS namespace ran hostname: the host is now $(hostname)\"; \
                      [ \"$(hostname)\" = renamed-by-a-guest ]";
        let env = self.host_env();
        let seen = self.launch(stages, 0, &["sh", "-c", script], env, Undo::new())?;
        self.effect(
            seen.code == 0,
            "the shared hostname changed for everyone in the namespace",
        )?;
        self.undone(
            observe::hostname() == host,
            &format!("the real host is still {host}"),
        )
    }

    fn effect(&mut self, shown: bool, what: &str) -> Result<()> {
        if shown {
            self.say(&format!("\n✗ what breaks: {what}"));
            Ok(())
        } else {
            Err(Error::failed(format!(
                "the experiment did not show its effect: {what}"
            )))
        }
    }

    fn undone(&mut self, holds: bool, what: &str) -> Result<()> {
        if holds {
            self.say(&format!("✓ undone: {what}"));
            Ok(())
        } else {
            Err(Error::failed(format!(
                "the experiment was not undone: {what}"
            )))
        }
    }

    fn pid(&mut self, with_proc: bool) -> Result<(Observed, StageId)> {
        let stages: Stages = vec![
            Box::new(Mount),
            watched(
                Pid {
                    mount_proc: with_proc,
                },
                probe_nothing,
            ),
        ];
        // The shell, and the few it starts to count: the host has hundreds.
        let script = "n=$(ls /proc | grep -c '^[0-9]'); echo \"I am pid $$; /proc lists $n processes\"; [ $n -le 5 ]";
        let env = self.host_env();
        let mounts = probe_mounts();
        let seen = self.launch(stages, 0, &["sh", "-c", script], env, Undo::new())?;
        if with_proc {
            self.check(
                seen.saw(StageId::Pid, true, "getpid() = 1") && seen.code == 0,
                "the command is pid 1 and /proc lists only the container's processes",
            )?;
        } else {
            self.effect(
                seen.code != 0,
                "without a new /proc, ps and /proc show the host's processes",
            )?;
            self.undone(
                probe_mounts() == mounts,
                "the host's mount table is as it was",
            )?;
        }
        Ok((seen, StageId::Pid))
    }

    fn mount(&mut self) -> Result<(Observed, StageId)> {
        let before = probe_mounts();
        let stages = vec![watched(Mount, probe_mounts)];
        let script = "mount -t tmpfs diyc-lesson /tmp && grep diyc-lesson /proc/self/mountinfo";
        let env = self.host_env();
        let seen = self.launch(stages, 0, &["sh", "-c", script], env, Undo::new())?;
        self.check(
            seen.code == 0
                && !probe_mounts().iter().any(|m| m.contains("diyc-lesson"))
                && probe_mounts() == before,
            "the tmpfs mounted inside never showed in the host's mount table",
        )?;
        Ok((seen, StageId::Mount))
    }

    /// Without private propagation, a mount made in a new mount namespace
    /// appears in the one it was copied from. Shown in a throwaway mount
    /// namespace that plays the host, made shared first.
    fn mount_broken(&mut self) -> Result<()> {
        let before = probe_mounts();
        let stages: Stages = vec![Box::new(Mount)];
        let script = "mount --make-rshared / && \
                      unshare --mount --propagation shared mount -t tmpfs diyc-leak /tmp && \
                      grep -q diyc-leak /proc/self/mountinfo && \
                      echo 'a mount made in a namespace that kept shared propagation appeared in the (pretend) host'\"'\"'s table'";
        let env = self.host_env();
        let seen = self.launch(stages, 0, &["sh", "-c", script], env, Undo::new())?;
        self.effect(
            seen.code == 0,
            "the mount leaked into the namespace it was copied from",
        )?;
        self.undone(
            probe_mounts() == before,
            "the real host's mount table is as it was",
        )
    }

    fn rootfs_stages(&mut self, undo: &mut Undo, name: &str, chroot: bool) -> Result<Stages> {
        let lower = self.busybox()?;
        let scratch = self.scratch(undo, name)?;
        let mut rootfs = Rootfs::in_memory(lower, scratch);
        if chroot {
            rootfs = rootfs.with_chroot();
        }
        Ok(vec![
            Box::new(Mount),
            Box::new(Uts {
                hostname: name.into(),
                domainname: None,
            }),
            watched(rootfs, probe_mounts),
            Box::new(Pid { mount_proc: true }),
        ])
    }

    /// The classic way out of a chroot, tried from inside: make a
    /// directory, chroot into it while the working directory stays
    /// outside, climb, and chroot to what is found there. It reaches the
    /// host's root only when the container was entered with chroot.
    fn rootfs(&mut self, chroot: bool) -> Result<(Observed, StageId)> {
        let mut undo = Undo::new();
        let name = if chroot {
            "lesson-chroot"
        } else {
            "lesson-rootfs"
        };
        let mut stages = self.rootfs_stages(&mut undo, name, chroot)?;
        stages.push(Box::new(Escape {
            host_root: root_identity("/"),
            result: Default::default(),
        }));
        let env = self.container_env(name);
        let before = probe_mounts();
        let seen = self.launch(stages, libc::CLONE_NEWIPC as u64, &["ls", "/"], env, undo)?;
        let escaped = seen.saw(StageId::Rootfs, true, "ESCAPED");
        if chroot {
            self.effect(
                escaped,
                "from inside a chroot, a root process climbed out to the host's files",
            )?;
            self.undone(
                probe_mounts() == before,
                "the host's mount table is as it was",
            )?;
        } else {
            self.check(
                !escaped && seen.saw(StageId::Rootfs, false, "host's mount table: no mount"),
                "the way out of a chroot leads nowhere after pivot_root, and the overlay never showed on the host",
            )?;
        }
        Ok((seen, StageId::Rootfs))
    }

    fn cgroup_stage(&self, name: &str, limits: Limits) -> Result<Box<dyn Stage>> {
        let host = cgroups::Host::detect()?;
        let placement = host.place(&self.opts.cgroup_parent, name, &limits)?;
        Ok(Box::new(Cgroups::new(host, placement, limits)))
    }

    fn cgroups(&mut self, limited: bool) -> Result<(Observed, StageId)> {
        let mut undo = Undo::new();
        let name = if limited {
            "lesson-cgroups"
        } else {
            "lesson-unlimited"
        };
        let limits = Limits {
            memory: limited.then_some(32 << 20),
            ..Limits::default()
        };
        let mut stages = vec![self.cgroup_stage(name, limits)?];
        stages.extend(self.rootfs_stages(&mut undo, name, false)?);
        let env = self.container_env(name);
        // A memory hog that stops by itself at 100 MiB.
        let hog = "head -c 100m /dev/zero | tail > /dev/null && echo 'the hog took its 100 MiB'";
        let seen = self.launch(
            stages,
            libc::CLONE_NEWIPC as u64,
            &["sh", "-c", hog],
            env,
            undo,
        )?;
        if limited {
            self.check(
                seen.code == 137 || seen.notes.iter().any(|n| n.contains("OOM killer")),
                "the kernel's OOM killer stopped the hog at the 32 MiB limit",
            )?;
        } else {
            self.effect(
                seen.code == 0,
                "with no limit the hog took all 100 MiB it asked for",
            )?;
            self.undone(true, "its cgroup was removed with the container")?;
        }
        Ok((seen, StageId::Cgroups))
    }

    fn net_stages(
        &mut self,
        undo: &mut Undo,
        name: &str,
        bridged: bool,
    ) -> Result<(Stages, Option<Ipv4Addr>)> {
        let mut stages = self.rootfs_stages(undo, name, false)?;
        if !bridged {
            stages.push(watched(
                Net::isolated(self.store.clone(), self.bridge.clone(), name.into(), true),
                probe_links,
            ));
            return Ok((stages, None));
        }
        self.store.create()?;
        let ip = network::lease(self.store, &self.bridge, name, None, &[])?;
        let store = self.store.clone();
        undo.push(format!("releasing {ip}"), When::Always, move |_| {
            network::release(&store, ip)
        });
        stages.push(watched(
            Net::bridged(
                self.store.clone(),
                self.bridge.clone(),
                name.into(),
                name,
                ip,
            ),
            probe_links,
        ));
        Ok((stages, Some(ip)))
    }

    fn net(&mut self, bridged: bool) -> Result<(Observed, StageId)> {
        let mut undo = Undo::new();
        let name = if bridged {
            "lesson-net"
        } else {
            "lesson-island"
        };
        let (stages, ip) = self.net_stages(&mut undo, name, bridged)?;
        let gateway = self.bridge.gateway().to_string();
        let script = format!(
            "ip -4 -o addr show; ping -c 1 -W 2 {gateway} >/dev/null && echo 'the bridge answered'"
        );
        let env = self.container_env(name);
        let seen = self.launch(
            stages,
            libc::CLONE_NEWIPC as u64,
            &["sh", "-c", &script],
            env,
            undo,
        )?;
        match ip {
            Some(ip) => self.check(
                seen.code == 0 && seen.saw(StageId::Net, true, &ip.to_string()),
                &format!("eth0 has {ip} inside and the bridge at {gateway} answers"),
            )?,
            None => {
                self.effect(
                    seen.code != 0,
                    "without a veth pair the namespace is an island: the bridge cannot be reached",
                )?;
                self.undone(true, "its network namespace went with it")?;
            }
        }
        Ok((seen, StageId::Net))
    }

    fn iptables(&mut self, masquerade: bool) -> Result<(Observed, StageId)> {
        if self.outside.is_none() {
            let mut shown = self.scaffolding();
            let mut sys = Sys::new(&mut shown, StageId::Iptables);
            sys.note(if self.opts.lab {
                "the lab's outside host: a process holding a network namespace, a veth pair to it, a TCP port listening there"
            } else {
                "an outside host for the lesson: a process holding a network namespace of its own, joined to this host by a veth pair (vlab, 10.99.0.1/24) that goes with it at the end"
            });
            self.outside = Some(Outside::new(&mut sys)?);
        }
        let mut undo = Undo::new();
        let name = if masquerade {
            "lesson-nat"
        } else {
            "lesson-no-nat"
        };
        let (mut stages, ip) = self.net_stages(&mut undo, name, true)?;
        stages.push(Box::new(Iptables {
            ip: ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            ports: Vec::new(),
        }));
        let env = self.container_env(name);
        let bridge = self.bridge.clone();
        let masquerade_rule = move |op: &str| -> Vec<String> {
            ["-t", "nat", op, network::NAT_CHAIN, "-s"]
                .into_iter()
                .map(String::from)
                .chain([
                    bridge.subnet(),
                    "!".into(),
                    "-o".into(),
                    bridge.name.clone(),
                    "-j".into(),
                    "MASQUERADE".into(),
                ])
                .collect()
        };
        if !masquerade {
            let mut shown = self.scaffolding();
            let mut sys = Sys::new(&mut shown, StageId::Iptables);
            sys.stage(StageId::Iptables);
            sys.note("the experiment: diyc's MASQUERADE rule taken out for one run");
            let delete = masquerade_rule("-D");
            network::iptables(
                &mut sys,
                &delete.iter().map(String::as_str).collect::<Vec<_>>(),
            )?;
            // Put back by the run's own clean-up, however the run ends.
            let add = masquerade_rule("-A");
            undo.push(
                "putting diyc's MASQUERADE rule back",
                When::Always,
                move |sys| {
                    let args: Vec<&str> = add.iter().map(String::as_str).collect();
                    network::iptables(sys, &args).map(drop)
                },
            );
        }
        let script = "echo hello | nc -w 2 10.99.0.2 9000; echo \"nc ended with $?\"";
        let seen = self.launch(
            stages,
            libc::CLONE_NEWIPC as u64,
            &["sh", "-c", script],
            env,
            undo,
        )?;
        let peer = self.outside.as_ref().and_then(Outside::peer);
        if masquerade {
            self.check(
                peer == Some(Outside::LAB),
                "the outside host saw this host's address, not the container's: MASQUERADE",
            )?;
        } else {
            self.effect(
                peer.is_none(),
                "without MASQUERADE the outside host got a packet from 172.16.x.x and could not answer it",
            )?;
            let mut shown = self.scaffolding();
            let mut sys = Sys::new(&mut shown, StageId::Iptables);
            let check = masquerade_rule("-C");
            let back = network::iptables(
                &mut sys,
                &check.iter().map(String::as_str).collect::<Vec<_>>(),
            )? == 0;
            self.undone(back, "the MASQUERADE rule is back")?;
        }
        Ok((seen, StageId::Iptables))
    }

    fn hardening(&mut self, hardened: bool) -> Result<(Observed, StageId)> {
        let mut undo = Undo::new();
        let name = if hardened {
            "lesson-hardening"
        } else {
            "lesson-soft"
        };
        let mut stages = self.rootfs_stages(&mut undo, name, false)?;
        if hardened {
            let caps = capability_set(&[], &[]).map_err(Error::invalid)?;
            stages.push(Box::new(Hardening { caps }));
        }
        // Exit 0: both refused; 3: both allowed; 1: anything between.
        let script = "m=refused; mount -t tmpfs none /mnt 2>/dev/null && m=allowed; echo \"mount: $m\"; \
                      s=refused; { echo x > /proc/sys/kernel/domainname; } 2>/dev/null && s=written; echo \"sysctl: $s\"; \
                      [ $m$s = refusedrefused ] && exit 0; [ $m$s = allowedwritten ] && exit 3; exit 1";
        let env = self.container_env(name);
        let seen = self.launch(
            stages,
            libc::CLONE_NEWIPC as u64,
            &["sh", "-c", script],
            env,
            undo,
        )?;
        if hardened {
            self.check(
                seen.code == 0
                    && seen.saw(StageId::Hardening, true, "NoNewPrivs: 1")
                    && seen.saw(StageId::Hardening, true, "/proc/sys: mounted read-only"),
                "no SYS_ADMIN (mount refused), no_new_privs set, /proc/sys read-only",
            )?;
        } else {
            self.effect(
                seen.code == 3,
                "without hardening, root in the container can mount and change kernel settings",
            )?;
            self.undone(
                true,
                "those changes lived in the container's own namespaces and went with it",
            )?;
        }
        Ok((seen, StageId::Hardening))
    }

    /// `--all` ends here: every stage at once, as `diyc run` does.
    fn container(&mut self) -> Result<Observed> {
        let mut undo = Undo::new();
        let name = "lesson-all";
        let (mut stages, ip) = self.net_stages(&mut undo, name, true)?;
        stages.insert(
            0,
            self.cgroup_stage(
                name,
                Limits {
                    memory: Some(64 << 20),
                    ..Limits::default()
                },
            )?,
        );
        stages.push(Box::new(Iptables {
            ip: ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
            ports: Vec::new(),
        }));
        let caps = capability_set(&[], &[]).map_err(Error::invalid)?;
        stages.push(Box::new(Hardening { caps }));
        let env = self.container_env(name);
        let interactive = std::io::stdin().is_terminal() && !self.opts.no_pause;
        let argv: Vec<&str> = if interactive {
            vec!["sh"]
        } else {
            vec![
                "sh",
                "-c",
                "echo \"a whole container: $(hostname), pid $$, $(ip -4 -o addr show eth0 | awk '{print $4}')\"",
            ]
        };
        self.launch(stages, libc::CLONE_NEWIPC as u64, &argv, env, undo)
    }
}

/// The device and inode of the host's `/`: a directory that is the host's
/// root wherever it is seen from, so an escape is told by identity, not by
/// what some file happens to hold.
fn root_identity(path: &str) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| {
        (
            std::os::unix::fs::MetadataExt::dev(&m),
            std::os::unix::fs::MetadataExt::ino(&m),
        )
    })
}

/// The rootfs lesson's escape attempt, made from inside (see `rootfs`).
struct Escape {
    host_root: Option<(u64, u64)>,
    result: std::cell::RefCell<String>,
}

impl Stage for Escape {
    fn id(&self) -> StageId {
        StageId::Rootfs
    }
    fn requires(&self) -> &'static [StageId] {
        &[StageId::Rootfs]
    }
    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.note("trying the way out of a chroot: mkdir, chroot into it, climb from outside it, chroot there");
        let _ = sys.call(Call::Mkdirat {
            path: "/lesson-escape".into(),
            mode: 0o700,
        });
        sys.call(Call::Chroot {
            path: "/lesson-escape".into(),
        })?;
        for _ in 0..16 {
            sys.call(Call::Chdir { path: "..".into() })?;
        }
        sys.call(Call::Chroot { path: ".".into() })?;
        let here = root_identity("/");
        *self.result.borrow_mut() = if here.is_some() && here == self.host_root {
            let what = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            format!(
                "ESCAPED: / here is the host's own root (its /etc/hostname says {})",
                what.trim()
            )
        } else {
            "stayed inside: climbing stops at the container's own root".into()
        };
        Ok(())
    }
    fn inside(&self) -> Vec<String> {
        vec![self.result.borrow().clone()]
    }
}

/// The iptables lesson's outside host: a process in a network namespace of
/// its own, joined to the lab by a veth pair (10.99.0.1 on the lab's side,
/// 10.99.0.2 on its), with a TCP port diyc listens on from inside it.
struct Outside {
    child: i32,
    listener: std::os::fd::OwnedFd,
    answerer: Option<std::thread::JoinHandle<()>>,
    peers: std::sync::Arc<std::sync::Mutex<Vec<Ipv4Addr>>>,
}

impl Outside {
    const LAB: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);

    fn new(sys: &mut Sys) -> Result<Outside> {
        // On a real host the lesson's little network must not collide
        // with one that is already there.
        let taken = sys
            .netlink()?
            .addresses()
            .into_iter()
            .any(|(_, ip, _)| ip.octets()[..3] == Self::LAB.octets()[..3])
            || sys.netlink()?.link("vlab").ok().flatten().is_some();
        if taken {
            return Err(Error::failed(
                "this host already uses 10.99.0.0/24 or a link called vlab, which the lesson's outside host needs: try `diyc learn --step iptables --lab`",
            ));
        }
        let diyc = std::process::id();
        let child = match sys.clone_process(libc::CLONE_NEWNET as u64, None)? {
            Forked::Child => {
                // Holds the namespace until diyc kills it (SIGKILL: its
                // other signals are blocked, as diyc's are), or until diyc
                // dies, however it dies: the veth pair must not outlive it.
                let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
                if nix::unistd::getppid().as_raw() as u32 != diyc {
                    crate::sys::exit_now(0);
                }
                loop {
                    nix::unistd::pause();
                }
            }
            Forked::Parent { child } => child,
        };
        // Killed (and its namespace gone) however the rest goes.
        let guard = Holder(child);
        let nl = |sys: &mut Sys, request| sys.call(Call::Netlink { request }).map(drop);
        nl(
            sys,
            Request::AddVeth {
                name: "vlab".into(),
                master: None,
                peer: "vout".into(),
                peer_netns: child,
            },
        )?;
        nl(
            sys,
            Request::AddAddress {
                dev: "vlab".into(),
                address: Self::LAB,
                prefix: 24,
            },
        )?;
        nl(
            sys,
            Request::SetUp {
                name: "vlab".into(),
            },
        )?;
        let ours = std::fs::File::open("/proc/self/ns/net").ctx("opening", "/proc/self/ns/net")?;
        let theirs_path = format!("/proc/{child}/ns/net");
        let theirs = std::fs::File::open(&theirs_path).ctx("opening", &theirs_path)?;
        sys.call(Call::Setns {
            fd: theirs.as_raw_fd(),
            nstype: libc::CLONE_NEWNET as u64,
        })?;
        let inside = (|| -> Result<TcpListener> {
            // A netlink socket is bound to the namespace it was opened in.
            sys.forget_netlink();
            let there = &mut *sys;
            nl(there, Request::SetUp { name: "lo".into() })?;
            nl(
                there,
                Request::AddAddress {
                    dev: "vout".into(),
                    address: Ipv4Addr::new(10, 99, 0, 2),
                    prefix: 24,
                },
            )?;
            nl(
                there,
                Request::SetUp {
                    name: "vout".into(),
                },
            )?;
            TcpListener::bind("10.99.0.2:9000")
                .map_err(|e| Error::failed(format!("listening outside: {e}")))
        })();
        sys.forget_netlink();
        sys.call(Call::Setns {
            fd: ours.as_raw_fd(),
            nstype: libc::CLONE_NEWNET as u64,
        })?;
        let listener = inside?;
        let waker = listener
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::failed(format!("listening outside: {e}")))?;
        // Answered from a thread, as a real server would be, while diyc waits
        // for the container: each connection is noted and closed at once, so
        // the container's `nc` sees the end and exits.
        let peers = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&peers);
        let answerer = std::thread::spawn(move || {
            while let Ok((stream, addr)) = listener.accept() {
                if let (SocketAddr::V4(addr), Ok(mut peers)) = (addr, seen.lock()) {
                    peers.push(*addr.ip());
                }
                drop(stream);
            }
        });
        std::mem::forget(guard);
        Ok(Outside {
            child,
            listener: waker,
            answerer: Some(answerer),
            peers,
        })
    }

    /// Who connected last, if anyone did.
    fn peer(&self) -> Option<Ipv4Addr> {
        self.peers.lock().ok().and_then(|mut peers| peers.pop())
    }
}

/// Kills the outside host's process when dropped.
struct Holder(i32);

impl Drop for Holder {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(pid, None);
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        // shutdown(2) on a listening socket wakes a blocked accept(2) with
        // an error, which ends the answering thread.
        let _ =
            nix::sys::socket::shutdown(self.listener.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        if let Some(answerer) = self.answerer.take() {
            let _ = answerer.join();
        }
        drop(Holder(self.child));
    }
}

/// The transcript shows each event as `--explain` does, without colour,
/// indented into a Markdown code block; stages become headings.
fn render_for_transcript(event: &Event) -> String {
    if let Event::Stage { stage } = event {
        let (title, why) = crate::stages::heading(*stage);
        return format!("\n### {title}\n\n{why}\n\n");
    }
    let plain =
        dialoguer::console::strip_ansi_codes(&crate::explain::render_text(event)).into_owned();
    plain.lines().map(|l| format!("  {l}\n")).collect()
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
    let text_mode = opts.explain != Some(Format::Json);
    let mut session = Session {
        outside: None,
        store,
        bridge: bridge.clone(),
        opts: &opts,
        signals,
        pauser: Pauser::new(opts.no_pause),
        transcript: String::new(),
        text_mode,
    };
    let topics: Vec<Topic> = if opts.all {
        TOPICS.to_vec()
    } else {
        opts.topic.into_iter().collect()
    };
    let had_setup = store.root().join("net/setup.json").exists();
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
    let teardown = if !opts.lab && !had_setup && store.root().join("net/setup.json").exists() {
        let mut explainer = Explainer::new(Some(opts.explain.unwrap_or(Format::Text)));
        let mut sys = Sys::new(&mut explainer, StageId::Cleanup);
        sys.stage(StageId::Cleanup);
        network::teardown(&mut sys, store, bridge)
    } else {
        Ok(())
    };
    let stopped = result?;
    teardown?;
    if let Some(path) = &opts.transcript {
        std::fs::write(path, &session.transcript).ctx("writing the transcript", path)?;
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
        .map(|t| format!("{:<10} {}", t.name(), Text::parse(t.source()).title))
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
        .map_err(|e| Error::failed(format!("the menu: {e}")))?;
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

    #[test]
    fn every_lesson_has_its_parts_and_questions() {
        for topic in TOPICS {
            let text = Text::parse(topic.source());
            assert!(!text.title.is_empty(), "{topic:?}");
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

    #[test]
    fn differences_are_shown_as_plus_and_minus() {
        let before = vec!["a".to_string(), "b".to_string()];
        let after = vec!["b".to_string(), "c".to_string()];
        assert_eq!(diff(&before, &after), vec!["- a", "+ c"]);
        assert_eq!(diff(&before, &before), vec!["(no change on the host)"]);
    }
}
