//! One lesson, part by part: why the stage exists, the stage live with
//! every call, both views of it, what to look at, the same stage with its
//! key step left out, what to try by hand, and questions. And the end of
//! `--all`: every stage at once, as `diyc run` makes a container.

use std::fmt::Write as _;
use std::io::IsTerminal;

use super::Topic;
use super::parts::NET_WATCH;
use super::session::{Observed, Quit, Session};
use super::text::Text;
use crate::error::Result;
use crate::event::StageId;
use crate::stages::cgroups::Limits;
use crate::stages::hardening::Hardening;
use crate::undo::Undo;

impl Session<'_> {
    pub fn lesson(&mut self, topic: Topic) -> Result<std::result::Result<(), Quit>> {
        let text = Text::parse(topic.text());
        self.say(&format!("\n# {}", topic.title()));
        self.part("Why", text.section("Why"));
        self.part("What diyc does", text.section("What diyc does"));
        if let Err(q) = self.pause("the stage, live") {
            return Ok(Err(q));
        }
        self.say("\n## The stage, live");
        let (observed, stage) = (topic.live())(self)?;
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
        let broken = (topic.broken())(self)?;
        // For now, after the broken run (the pictures need both runs).
        for picture in
            super::draw::pictures(topic, &observed, &broken, super::draw::Style::detect())
        {
            self.say(&format!("\n{picture}"));
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
        self.launch(plan.build(), &argv, env, NET_WATCH, undo)
    }
}
