//! One lesson, part by part: why the stage exists, the stage live (its
//! own calls in full, the stages it builds on one line each), both views
//! of it, what to look at, the same stage with its key step left out
//! shown as a difference, pictures of what was seen, what to try by hand,
//! an exercise diyc checks, questions, and a summary. And the end of
//! `--all`: every stage at once, as `diyc run` makes a container.

use std::io::IsTerminal;

use super::Topic;
use super::draw;
use super::parts::NET_WATCH;
use super::session::{Observed, Quit, Session};
use super::text::Text;
use super::transcript;
use super::views;
use crate::error::Result;
use crate::event::StageId;
use crate::stages::cgroups::Limits;
use crate::stages::hardening::Hardening;
use crate::undo::Undo;

/// Differences shown before the rest is left to `--verbose`.
const DIFF_LINES: usize = 6;

impl Session<'_> {
    pub fn text_of(&self, topic: Topic) -> Text {
        Text::parse(topic.text(), &self.vars)
    }

    /// A lesson starts: its title, and a fresh set of words to explain
    /// (`--all` explains each word once for the whole course).
    pub fn title(&mut self, title: &str) {
        if !self.opts.all {
            self.words.clear();
        }
        self.md(&format!("## {title}"));
        let handout = self.show(&format!(
            "\n{}",
            colored::Colorize::bold(format!("# {title}").as_str())
        ));
        if !handout.is_empty() {
            self.md(&handout.join("  \n"));
        }
    }

    pub fn lesson(&mut self, topic: Topic) -> Result<std::result::Result<(), Quit>> {
        let (Some(live), Some(broken)) = (topic.live(), topic.broken()) else {
            return self.intro();
        };
        let text = self.text_of(topic);
        self.title(topic.title());
        self.focus = Some(topic.focus());
        self.pauses = Some(topic.focus());
        self.part("Why", text.section("Why"));
        self.part("What diyc does", text.section("What diyc does"));
        if let Err(q) = self.pause("the stage, live") {
            return Ok(Err(q));
        }
        self.heading("The stage, live");
        self.tabled = topic.stage();
        let live = live(self);
        self.tabled = None;
        let (live, stage) = live?;
        self.both_views(&live, stage);
        self.by_hand("What to look at", text.section("What to look at"));
        if let Err(q) = self.pause("what breaks without it") {
            return Ok(Err(q));
        }
        self.part(
            "What breaks without it",
            text.section("What breaks without it"),
        );
        self.say("\nThe same stage with its key step left out:");
        let focus = self.focus.replace(Vec::new());
        let broken = broken(self)?;
        self.focus = focus;
        self.difference(&live, &broken);
        self.pictures(topic, &live, &broken);
        // The last lesson ends with what a real engine asks of diyc.
        if topic == Topic::Hardening {
            if let Err(q) = self.engine()? {
                return Ok(Err(q));
            }
        }
        if let Err(q) = self.pause("try it yourself") {
            return Ok(Err(q));
        }
        // The user lesson's commands are the ones a user without root can type.
        let who = if topic == Topic::User {
            ""
        } else {
            "as root, "
        };
        let by_hand = format!(
            "In a terminal of your own, {who}not in the exercise shell:\n\n{}",
            text.section("Try it yourself")
        );
        self.by_hand("Try it yourself", &by_hand);
        self.exercise(topic.name())?;
        Ok(self.wrap_up(&text))
    }

    /// On a terminal, the exercise's shell, checked; otherwise its task,
    /// and how to do it later.
    pub fn exercise(&mut self, name: &str) -> Result<()> {
        let rootless = crate::observe::rootless();
        if self.pauser.enabled() && !rootless {
            let passed = super::exercise::run(self, name)?;
            self.exercises.1 += 1;
            self.exercises.0 += u32::from(passed);
            return Ok(());
        }
        let task = super::exercise::task(name, self)?;
        let sudo = self.var("sudo");
        let how = if rootless {
            format!(
                "The shell diyc opens for this and checks your work needs root: `{sudo}diyc learn --exercise {name}` opens it."
            )
        } else {
            format!(
                "On a terminal diyc opens a shell for this and checks your work; `{sudo}diyc learn --exercise {name}` opens it alone."
            )
        };
        self.by_hand("Exercise", &format!("{task}\n\n{how}"));
        Ok(())
    }

    pub fn var(&self, name: &str) -> String {
        self.vars
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Questions, then the summary.
    pub fn wrap_up(&mut self, text: &Text) -> std::result::Result<(), Quit> {
        self.questions(&text.questions)?;
        self.summary(&text.summary);
        Ok(())
    }

    pub fn summary(&mut self, points: &[String]) {
        if points.is_empty() {
            return;
        }
        let list: Vec<String> = points.iter().map(|p| format!("- {p}")).collect();
        self.part("Summary", &list.join("\n"));
    }

    fn both_views(&mut self, observed: &Observed, stage: StageId) {
        let inside = views::side(observed, stage, true);
        let outside = views::side(observed, stage, false);
        if !self.overview {
            self.heading("Both views");
            self.show(&format!("\n{}", views::table(&inside, &outside)));
        } else {
            self.md("### Both views");
        }
        let rows: Vec<Vec<String>> = (0..inside.len().max(outside.len()))
            .map(|i| {
                [&inside, &outside]
                    .map(|side| side.get(i).cloned().unwrap_or_default())
                    .to_vec()
            })
            .collect();
        self.md(&transcript::table(
            &["inside the container", "on the host"],
            &rows,
        ));
    }

    /// Pictures of what the two runs showed: drawn for this terminal, and
    /// in full for the handout.
    fn pictures(&mut self, topic: Topic, live: &Observed, broken: &Observed) {
        let pictures = draw::pictures(topic, live, broken, draw::Style::detect());
        if !pictures.is_empty() {
            self.heading("Pictures of what the runs showed");
        }
        // The overview draws the first; the handout has them all.
        let shown = if self.overview { 1 } else { pictures.len() };
        for picture in pictures.iter().take(shown) {
            self.show(&format!("\n{picture}"));
        }
        if pictures.len() > shown {
            let more = pictures.len() - shown;
            self.show(&format!(
                "\n({more} more in the handout, and in this lesson alone)"
            ));
        }
        if self.opts.transcript.is_some() {
            for picture in draw::pictures(topic, live, broken, draw::Style::Unicode) {
                self.md(&format!("```text\n{picture}\n```"));
            }
        }
    }

    /// The broken run as what changed against the working one.
    fn difference(&mut self, live: &Observed, broken: &Observed) {
        let focus = self.focus.clone().unwrap_or_default();
        let lines = views::difference(live, broken, &focus);
        let mut text = String::from(
            "\nThe run without the key step, against the working one (- only the working run, + only this one):",
        );
        if lines.is_empty() {
            text.push_str(
                "\n  (the stage made the same calls and saw the same: what differs is what the command could do, above)",
            );
        }
        for line in lines.iter().take(DIFF_LINES) {
            text.push_str(&format!("\n  {line}"));
        }
        if lines.len() > DIFF_LINES {
            text.push_str(&format!(
                "\n  ... and {} more (--verbose shows both runs whole)",
                lines.len() - DIFF_LINES
            ));
        }
        self.show(&text);
        self.md(&format!("```diff\n{}\n```", lines.join("\n")));
    }

    /// The end of `--all`: the stages put together as one container.
    /// `code`: how the whole container's command ended, when there was one.
    pub fn course_summary(&mut self, finished: &[Topic], code: Option<i32>) {
        let mut body = String::from(
            "A container is one ordinary process. diyc made it with one `clone3`, prepared it stage by stage, then let `execve` replace diyc's code with the command:\n",
        );
        for topic in finished.iter().filter(|t| **t != Topic::Intro) {
            let point = self
                .text_of(*topic)
                .summary
                .into_iter()
                .next()
                .unwrap_or_default();
            body.push_str(&format!("\n- **{}**: {point}", topic.name()));
        }
        body.push_str(&match code {
            Some(code) => format!(
                "\n\nThe whole container above had all of it at once; its command exited with status {code}, and everything it made was undone."
            ),
            None => format!(
                "\n\nWithout root the course ends here: the lessons that change the host's cgroups or network, and the whole container made of every stage, need root (`{}diyc learn --all`).",
                self.var("sudo")
            ),
        });
        let (right, asked) = self.score;
        if asked > 0 {
            body.push_str(&format!("\n\nYour score: {right} of {asked} questions."));
        }
        let (done, tried) = self.exercises;
        if tried > 0 {
            body.push_str(&format!(" Exercises done: {done} of {tried}."));
        }
        self.part("The whole course", &body);
    }

    /// `--all` ends here: every stage at once, as `diyc run` does.
    pub fn container(&mut self) -> Result<Observed> {
        let mut undo = Undo::new();
        let name = "lesson-all";
        let limits = Limits {
            memory: Some(64 << 20),
            ..Limits::default()
        };
        let cgroups = self.cgroups(name, limits)?;
        let mut plan = self.base(&mut undo, name, false)?;
        let ip = self.bridged(&mut undo, &mut plan, name)?;
        plan.cgroups = Some(cgroups);
        plan.iptables = Some(self.nat(ip));
        plan.hardening = Some(Hardening::defaults(self.store)?);
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
        self.launch(plan, &argv, env, NET_WATCH, undo)
    }
}
