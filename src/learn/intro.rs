//! Lesson 0, what a container is: an ordinary process the kernel shows a
//! different world and gives a budget. It reads a system call line, then
//! puts the host and a container side by side (`hostname`, `ps`, `ls /`)
//! and ends with the way through the other lessons.

use super::parts::ROOT_WATCH;
use super::session::{Quit, Session};
use super::text::Text;
use super::views;
use crate::error::Result;
use crate::event::StageId;
use crate::observe;
use crate::undo::Undo;

pub const TITLE: &str = "intro: what a container is";
pub const TEXT: &str = include_str!("../../lessons/intro.md");

/// What `hostname`, `ps` and `ls /` would say on the host.
fn host_view() -> Vec<String> {
    let processes = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .count()
        })
        .unwrap_or(0);
    let names = super::probes::names_in("/");
    vec![
        format!("hostname: {}", observe::hostname()),
        format!("ps: {processes} processes"),
        format!("ls /: {}", names.join(" ")),
    ]
}

impl Session<'_> {
    pub fn intro(&mut self) -> Result<std::result::Result<(), Quit>> {
        let text = Text::parse(TEXT, &self.vars);
        self.title(TITLE);
        // Only the hostname call in full: the one the text reads.
        self.focus = Some(vec![StageId::Uts]);
        self.pauses = Some(Vec::new());
        self.part("What a container is", text.section("What a container is"));
        self.part(
            "Reading a system call",
            text.section("Reading a system call"),
        );
        if let Err(q) = self.pause("the host and a container, side by side") {
            return Ok(Err(q));
        }
        self.part("Side by side", text.section("Side by side"));
        let host = host_view();
        let mut undo = Undo::new();
        let name = "intro";
        let mut plan = self.base(&mut undo, name, false)?;
        self.island(&mut undo, &mut plan, name)?;
        let env = self.container_env(name);
        let script = "echo \"hostname: $(hostname)\"; ps; ls -C /";
        self.tabled = Some(StageId::Uts);
        let seen = self.launch(plan, &["sh", "-c", script], env, ROOT_WATCH, undo);
        self.tabled = None;
        let seen = seen?;
        let pick = |stage: StageId, prefix: &str| {
            seen.lines(stage, true)
                .into_iter()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_default()
        };
        // Its name only: the domain name is the uts lesson's.
        let hostname = pick(StageId::Uts, "hostname:");
        let container = vec![
            hostname.split(", domain").next().unwrap_or("").to_string(),
            {
                let n = pick(StageId::Pid, "processes in /proc:");
                let n = n.trim_start_matches("processes in /proc:").trim();
                let s = if n == "1" { "" } else { "es" };
                format!("ps: {n} process{s}, before the command started")
            },
            pick(StageId::Rootfs, "ls /:"),
        ];
        self.check(
            seen.code == 0 && container[0].starts_with(&format!("hostname: {name}")),
            "the same kernel, a different world: its own name, its own processes, its own /",
        )?;
        self.heading("The host and the container");
        self.show(&format!("\n{}", views::table(&container, &host)));
        self.md(&super::transcript::table(
            &["inside the container", "on the host"],
            &container
                .iter()
                .zip(&host)
                .map(|(c, h)| vec![c.clone(), h.clone()])
                .collect::<Vec<_>>(),
        ));
        self.part("Where to go next", text.section("Where to go next"));
        self.exercise("intro")?;
        Ok(self.wrap_up(&text))
    }
}
