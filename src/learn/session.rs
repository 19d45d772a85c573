//! A lesson session: the prose it says, the pauses between parts, and the
//! launches its lessons make, each with every call shown and a copy of
//! every event kept so the lesson can check what happened.

use std::io::Write as _;

use super::Options;
use super::capture::Captured;
use super::glossary;
pub use super::observed::Observed;
use super::outside::Outside;
use super::probes::{self, BeforeAfter, Probe};
use super::rootless::Built;
use crate::error::{Error, Result};
use crate::event::{Event, StageId};
use crate::explain::{Explainer, Format};
use crate::pause::{Choice, Pauser};
use crate::runtime::{self, ExecSpec, Exit, Launch};
use crate::signals::Signals;
use crate::stages::net::Bridge;
use crate::state::{Store, image};
use crate::sys::{Call, Recorder, Sys};
use crate::undo::{Undo, When};

/// The explainer, keeping a copy of every event so a lesson can check
/// what happened.
pub(super) struct Capture {
    explainer: Explainer,
    pub events: Vec<Event>,
}

impl Recorder for Capture {
    fn enabled(&self) -> bool {
        true
    }
    fn record(&mut self, event: Event) {
        self.explainer.record(event.clone());
        self.events.push(event);
    }
    fn flush(&mut self) {
        self.explainer.flush();
    }
}

/// The lesson was stopped at a pause.
pub struct Quit;

pub const HOST_TOOLS_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct Session<'a> {
    /// The iptables lesson's outside host, made once.
    pub outside: Option<Outside>,
    pub store: &'a Store,
    pub bridge: Bridge,
    pub opts: &'a Options,
    pub signals: Signals,
    pub pauser: Pauser,
    /// The handout, as Markdown (`--transcript`).
    pub transcript: String,
    /// The stages the current lesson is about: shown in full, and the
    /// only ones a launch pauses after. Empty folds every stage; None
    /// shows them all.
    pub focus: Option<Vec<StageId>>,
    /// The stages a launch pauses after (the lesson's own, in both its
    /// runs); None pauses after every one.
    pub pauses: Option<Vec<StageId>>,
    /// The stage whose views the lesson lays out in a table after the
    /// live run, so its trace leaves them out.
    pub tabled: Option<StageId>,
    /// The words already explained, and the glossary they come from.
    pub words: std::collections::BTreeSet<String>,
    pub terms: Vec<glossary::Term>,
    /// Questions answered right, and asked, on a terminal.
    pub score: (u32, u32),
    /// Exercises passed, and opened.
    pub exercises: (u32, u32),
    /// `--all` with nobody at the keyboard: the course's overview, which
    /// leaves the by-hand parts (both views, what to look at and try, the
    /// exercises and questions) to the handout and to `--step`.
    pub overview: bool,
    /// A heading was the last thing shown.
    pub after_heading: bool,
    /// What `{{name}}` in a lesson's text stands for in this run.
    pub vars: Vec<(&'static str, String)>,
}

impl Session<'_> {
    fn text_mode(&self) -> bool {
        self.opts.explain != Some(Format::Json)
    }

    /// Said on the terminal and kept in the handout, with the words it
    /// is the first to use.
    pub fn say(&mut self, text: &str) {
        self.md(text);
        let handout = self.show(text);
        if !handout.is_empty() {
            self.md(&handout.join("  \n"));
        }
    }

    /// Prose goes to stderr with the explanation, so the two stay in
    /// order, followed by the words it is the first to use (a table or a
    /// picture uses words too); as JSON, one `lesson` event, without
    /// colour.
    /// Returns the words as the handout writes them.
    pub fn show(&mut self, text: &str) -> Vec<String> {
        let (words, handout) = self.words_in(&dialoguer::console::strip_ansi_codes(text));
        let text = &format!("{text}{words}");
        // A heading's first paragraph follows it without a gap.
        let text = match std::mem::take(&mut self.after_heading) {
            true => text.strip_prefix('\n').unwrap_or(text),
            false => text,
        };
        let mut err = std::io::stderr().lock();
        if self.text_mode() {
            let _ = writeln!(err, "{text}");
        } else {
            let plain = dialoguer::console::strip_ansi_codes(text);
            let line = serde_json::json!({"event": "lesson", "text": plain});
            let _ = writeln!(err, "{line}");
        }
        handout
    }

    /// Kept in the handout only.
    pub fn md(&mut self, markdown: &str) {
        if self.opts.transcript.is_some() {
            self.transcript.push_str(markdown);
            self.transcript.push_str("\n\n");
        }
    }

    pub fn pause(&mut self, next: &str) -> std::result::Result<(), Quit> {
        match self.pauser.pause(next, &self.signals) {
            Choice::Go => Ok(()),
            Choice::Quit => Err(Quit),
        }
    }

    /// The explainer for the lesson's own set-up calls: nothing diyc
    /// does goes unseen, but inside a lesson they are not its stage, so
    /// they fold to a line (`--verbose` shows each).
    pub fn scaffolding(&self) -> Explainer {
        let explainer = self.explainer();
        match &self.focus {
            Some(_) => explainer.focus(Vec::new()),
            None => explainer,
        }
    }

    /// The explainer of a launch, keeping what it saw.
    pub(super) fn capture(&self) -> Capture {
        Capture {
            explainer: self.explainer().tabled(self.tabled),
            events: Vec::new(),
        }
    }

    /// The explainer that writes a launch into the handout: as the
    /// screen shows it, kept as text.
    fn handout_explainer(&self) -> Explainer {
        let explainer = Explainer::new(Some(Format::Text))
            .verbose(self.opts.verbose)
            .tabled(self.tabled)
            .kept();
        match &self.focus {
            Some(focus) => explainer.focus(focus.clone()),
            None => explainer,
        }
    }

    /// The explainer for a launch: the lesson's stages in full, the
    /// others folded.
    fn explainer(&self) -> Explainer {
        let explainer = Explainer::new(Some(self.opts.explain.unwrap_or(Format::Text)))
            .verbose(self.opts.verbose);
        match &self.focus {
            Some(focus) => explainer.focus(focus.clone()),
            None => explainer,
        }
    }

    pub fn busybox(&mut self) -> Result<String> {
        let mut shown = self.scaffolding();
        let mut sys = Sys::new(&mut shown, StageId::Image);
        let lowers = image::ensure(self.store, image::BUILTIN, &mut sys, &self.signals)?;
        crate::stages::rootfs::lowerdir(&lowers, 0)
    }

    fn lessons_dir(&self) -> Result<String> {
        self.store
            .root()
            .join("lessons")
            .to_str()
            .map(String::from)
            .ok_or_else(|| Error::invalid("the state root is not UTF-8"))
    }

    /// Where lesson container `name`'s scratch mount point is.
    pub fn scratch_path(&self, name: &str) -> Result<String> {
        Ok(format!("{}/{name}", self.lessons_dir()?))
    }

    /// A scratch mount point for an in-memory root, made and removed
    /// through the seam (the removal is one of the launch's undo steps).
    pub fn scratch(&self, undo: &mut Undo, name: &str) -> Result<String> {
        let dir = self.scratch_path(name)?;
        let parent = self.lessons_dir()?;
        self.store.create()?;
        let mut shown = self.scaffolding();
        let mut sys = Sys::new(&mut shown, StageId::Rootfs);
        sys.note(format!(
            "a mount point for the lesson's root, {dir}, removed at the end"
        ));
        let made_parent = !sys.is_dir(&parent);
        if made_parent {
            sys.call(Call::Mkdirat {
                path: parent.clone(),
                mode: 0o755,
            })?;
        }
        // A lesson whose diyc was killed leaves its mount point: reused.
        if !sys.is_dir(&dir) {
            sys.call(Call::Mkdirat {
                path: dir.clone(),
                mode: 0o755,
            })?;
        }
        let gone = dir.clone();
        undo.push(format!("removing {dir}"), When::Always, move |sys| {
            sys.call(Call::Rmdir { path: gone })?;
            if made_parent {
                // Another lesson's mount point may be there too: it stays.
                let _ = sys.call(Call::Rmdir { path: parent });
            }
            Ok(())
        });
        Ok(dir)
    }

    /// Run one lesson launch with every call shown, pausing at stage ends
    /// when a terminal is there, and showing how the host changed for the
    /// stages in `watching`. `undo` already holds what the caller made.
    pub fn launch(
        &mut self,
        plan: impl Into<Built>,
        argv: &[&str],
        env: Vec<String>,
        watching: &[(StageId, Probe)],
        undo: Undo,
    ) -> Result<Observed> {
        let capture = self.capture();
        self.launch_after(capture, plan, argv, env, watching, undo)
    }

    /// A launch whose `capture` already holds what was made for it (the
    /// image lesson's import): those events come first, in what the
    /// lesson saw and in the handout.
    pub(super) fn launch_after(
        &mut self,
        mut capture: Capture,
        plan: impl Into<Built>,
        argv: &[&str],
        env: Vec<String>,
        watching: &[(StageId, Probe)],
        mut undo: Undo,
    ) -> Result<Observed> {
        let veths_before = probes::veths();
        let (stages, extra_flags) = plan.into().build();
        let launch = Launch::new(
            stages,
            extra_flags,
            ExecSpec {
                argv: argv.iter().map(|a| a.to_string()).collect(),
                env,
                workdir: None,
            },
        )?;
        // The handout keeps what the command printed; an interactive
        // shell keeps the terminal. Each of these calls is shown where it
        // is made, with an explainer of its own.
        let captured = if self.opts.transcript.is_some() && argv != ["sh"] {
            Some(Captured::start(&mut Sys::new(
                &mut self.scaffolding(),
                StageId::Exec,
            ))?)
        } else {
            None
        };
        let pauser = std::mem::replace(&mut self.pauser, Pauser::never());
        let mut launch = launch
            .pause_with(pauser)
            .watch_with(Box::new(BeforeAfter::new(watching)));
        if let Some(stages) = &self.pauses {
            launch = launch.pause_only_after(stages.clone());
        }
        let result = {
            let mut sys = Sys::new(&mut capture, StageId::Clone);
            let result =
                runtime::launch(&mut sys, &mut launch, &self.signals, &mut undo, &mut |_| {
                    Ok(())
                });
            undo.finish(&mut sys, result.is_ok());
            sys.flush();
            result
        };
        self.pauser = launch.take_pauser();
        // The kernel deletes a container's veth pair a moment after its
        // namespace goes; the next run's before-and-after must not show it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while probes::veths().iter().any(|v| !veths_before.contains(v))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        if let Some(captured) = captured {
            let mut output =
                captured.finish(&mut Sys::new(&mut self.scaffolding(), StageId::Exec))?;
            if !output.is_empty() && !output.ends_with('\n') {
                output.push('\n');
            }
            self.md(&super::transcript::calls(
                &capture.events,
                self.handout_explainer(),
            ));
            self.md(&format!(
                "What the command printed:\n\n````text\n{}````",
                output
            ));
        }
        let exit = match result {
            Ok(exit) => exit,
            Err(Error::Command { code, .. }) => Exit {
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
            extra: Vec::new(),
        })
    }

    pub fn host_env(&self) -> Vec<String> {
        vec![format!("PATH={HOST_TOOLS_PATH}"), "LC_ALL=C".into()]
    }

    pub fn container_env(&self, hostname: &str) -> Vec<String> {
        vec![
            format!("PATH={HOST_TOOLS_PATH}"),
            "HOME=/root".into(),
            format!("HOSTNAME={hostname}"),
        ]
    }

    /// The lesson's isolation check: it holds, or the lesson fails.
    pub fn check(&mut self, holds: bool, what: &str) -> Result<()> {
        self.verdict(holds, "✓ ", what, "isolation check failed")
    }

    /// The experiment showed what breaks without the stage's key step.
    pub fn effect(&mut self, shown: bool, what: &str) -> Result<()> {
        self.verdict(
            shown,
            "✗ what breaks: ",
            what,
            "the experiment did not show its effect",
        )
    }

    /// What the experiment changed is gone again.
    pub fn undone(&mut self, holds: bool, what: &str) -> Result<()> {
        self.verdict(holds, "✓ undone: ", what, "the experiment was not undone")
    }

    fn verdict(&mut self, holds: bool, mark: &str, what: &str, failed: &str) -> Result<()> {
        if holds {
            let gap = if mark.starts_with("✓ undone") {
                ""
            } else {
                "\n"
            };
            self.say(&format!("{gap}{mark}{what}"));
            Ok(())
        } else {
            Err(Error::Check(format!("{failed}: {what}")))
        }
    }
}
