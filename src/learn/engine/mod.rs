//! The hardening lesson's last part, what an engine asks for: podman
//! drives diyc once as its OCI runtime (podman.rs), and the lesson shows
//! what that run left to read (asked.rs): the runtime commands podman
//! gave, what its config.json asked for, and diyc's explanation of
//! `create`, stage by stage. Without podman, or without root, one
//! paragraph says what the part would show and how to install podman.

mod asked;
mod podman;

use super::Topic;
use super::draw;
use super::parts::remove_tree;
use super::probes;
use super::session::{Quit, Session};
use super::transcript;
use crate::error::{Error, Result};
use crate::event::{Event, StageId};
use crate::explain::{Explainer, Format};
use crate::stages::cgroups::Host;
use crate::state::Store;
use crate::sys::{Call, Recorder, Sys};
use crate::undo::{Undo, When};

use podman::{Paths, Ran};

/// The part's heading, and its section in lessons/hardening.md.
pub const HEADING: &str = "What an engine asks for";
/// The section said when podman cannot run here.
const WITHOUT: &str = "Without podman";

/// The stages of create's explanation shown in full: only a clean-up,
/// which a create that failed makes; every other stage is one line.
const FOCUS: [StageId; 1] = [StageId::Cleanup];

/// Lines are wrapped to fit 80 columns with a margin.
const COLUMNS: usize = draw::WIDTH - 2;

impl Session<'_> {
    /// The part, after its pause; Err(Quit) when stopped there.
    pub fn engine(&mut self) -> Result<std::result::Result<(), Quit>> {
        let text = self.text_of(Topic::Hardening);
        // The overview has nobody to wait for podman's run: the handout
        // keeps the text, `--step hardening` runs it.
        if self.overview {
            self.md(&format!("### {HEADING}"));
            self.md(text.section(HEADING));
            return Ok(Ok(()));
        }
        if let Err(q) = self.pause("what an engine asks for") {
            return Ok(Err(q));
        }
        self.part(HEADING, text.section(HEADING));
        match podman::find() {
            Ok(podman) => self.drive(&podman)?,
            Err(why) => self.prose(&format!("{why}\n\n{}", text.section(WITHOUT))),
        }
        Ok(Ok(()))
    }

    /// podman's run, what it asked for, and the check that it left nothing.
    fn drive(&mut self, podman: &str) -> Result<()> {
        self.busybox()?;
        let image = self.var("image");
        let parent = self.opts.cgroup_parent.clone();
        let paths = Paths::new(&self.scratch_path("lesson-engine")?);
        let args = podman::run_args(&paths, &parent).replace('"', "");
        let command = draw::wrap(
            &format!("podman {}", asked::short(&args, &paths.dir, None)),
            66,
        )
        .join(" \\\n        ");
        let intro = format!(
            "podman is at {podman}: the lesson runs it once, with diyc as its runtime. It runs in a mount and network namespace of its own, with a tmpfs over {covered}, which podman writes whatever its flags say; its store is on a tmpfs too, in D/engine, D being {dir}. All of it goes with the namespace. The image is diyc's busybox files, put in with podman import. After the flags that point podman at its directories:",
            covered = podman::COVERED.join(", "),
            dir = paths.dir,
        );
        let wrapper = "Its runtime is a wrapper the lesson wrote. It notes each command, keeps create's config.json (--rm removes the bundle with the container) and sets DIYC_EXPLAIN, the file where create writes what it does:";
        // One paragraph at a time: each is followed by the words it uses first.
        self.say(&format!("\n{}", wrapped(&intro)));
        self.say(&format!("\n    {command}"));
        self.say(&format!("\n{}", wrapped(wrapper)));
        self.say(&format!(
            "\n{}",
            indent(&asked::short(&podman::wrapper(&paths), &paths.dir, None))
        ));
        let store = self.store;
        let mut undo = Undo::new();
        let mut shown = self.scaffolding();
        let ran = {
            let mut sys = Sys::new(&mut shown, StageId::Hardening);
            let ran = prepare(&mut sys, &mut undo, &paths, store)
                .and_then(|()| podman::run(&mut sys, &paths, podman, &parent, &image));
            sys.flush();
            ran
        };
        drop(shown);
        let ran = match ran {
            Ok(ran) => ran,
            Err(e) => {
                self.tidy(undo);
                return Err(e);
            }
        };
        self.show_commands(&paths, &ran);
        self.show_config(&paths, &ran);
        self.show_explanation(&ran.explanation);
        self.tidy(undo);
        self.check_left(&paths, &ran)
    }

    /// The lesson's directory, and what else the run made, removed.
    fn tidy(&self, mut undo: Undo) {
        let mut shown = self.scaffolding();
        let mut sys = Sys::new(&mut shown, StageId::Cleanup);
        undo.finish(&mut sys, true);
        sys.flush();
    }

    fn show_commands(&mut self, paths: &Paths, ran: &Ran) {
        if ran.status != Some(0) {
            let last = ran
                .output
                .lines()
                .filter(|l| !l.starts_with("diyc-lesson:"))
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("(it said nothing)");
            let how = ran.status.map_or("before podman run".to_string(), |s| {
                format!("podman run ended with status {s}")
            });
            self.say(&format!("\n✗ the run did not work ({how}): {last}"));
        }
        let id = asked::container_id(&ran.commands);
        let short = id.as_deref().map_or(String::new(), |id| {
            format!(" (ID is the container's id, {}…)", &id[..id.len().min(12)])
        });
        let mut text = format!(
            "\n{}",
            wrapped(&format!(
                "podman called its runtime {} times{short}:",
                ran.commands.len()
            ))
        );
        for (n, line) in asked::shown(&ran.commands, &paths.dir, id.as_deref())
            .iter()
            .enumerate()
        {
            text.push_str(&hang(&format!("  {}. ", n + 1), line));
        }
        self.say(&text);
        let verbs: Vec<&str> = ran.commands.iter().filter_map(|c| asked::verb(c)).collect();
        let at = |verb: &str| verbs.iter().position(|v| *v == verb);
        let split = match (at("create"), at("start"), at("delete")) {
            (Some(c), Some(s), Some(d)) => c < s && s < d,
            _ => false,
        };
        self.say(&if split {
            "\n✓ podman called create, then start, then delete: the split above".to_string()
        } else {
            format!(
                "\n✗ podman did not call create, start and delete in that order: {}",
                verbs.join(", ")
            )
        });
    }

    fn show_config(&mut self, paths: &Paths, ran: &Ran) {
        let Some(config) = &ran.config else {
            self.say("\n✗ no config.json was kept: podman never called create");
            return;
        };
        let id = asked::container_id(&ran.commands);
        let bundle = asked::bundle(&ran.commands).unwrap_or_default();
        let mut text = format!(
            "\n{}",
            wrapped(&format!(
                "What podman's config.json asked for (from its bundle, {}):",
                asked::short(&bundle, &paths.dir, id.as_deref())
            ))
        );
        for (what, values) in asked::summary(config, id.as_deref()) {
            text.push_str(&hang("  - ", &format!("{what}: {values}")));
        }
        self.say(&text);
    }

    /// create's explanation as `diyc explain` shows it, folded as the
    /// lesson folds a launch; every event in JSON.
    fn show_explanation(&mut self, events: &[Event]) {
        if events.is_empty() {
            self.say("\n✗ create wrote no explanation");
            return;
        }
        self.say(
            "\nWhat diyc did for create, from the file DIYC_EXPLAIN named, as `diyc explain`\nshows it, each stage on one line (--verbose shows every call):",
        );
        let format = self.opts.explain.unwrap_or(Format::Text);
        let mut shown = Explainer::new(Some(format))
            .verbose(self.opts.verbose)
            .focus(FOCUS.to_vec());
        for event in events {
            shown.record(event.clone());
        }
        shown.flush();
        if self.opts.transcript.is_some() {
            let kept = Explainer::new(Some(Format::Text))
                .verbose(self.opts.verbose)
                .kept()
                .focus(FOCUS.to_vec());
            self.md(&transcript::calls(events, kept));
        }
    }

    /// Nothing of the run is left: no process of its namespace, no
    /// cgroup of its container, no mount or file of the lesson's.
    fn check_left(&mut self, paths: &Paths, ran: &Ran) -> Result<()> {
        let mut left = Vec::new();
        if std::path::Path::new(&paths.dir).exists() {
            left.push(paths.dir.clone());
        }
        let cgroup = ran
            .config
            .as_ref()
            .and_then(|c| c["linux"]["cgroupsPath"].as_str());
        if let Some(path) = cgroup {
            let dirs = Host::detect()?.parent_dirs(path);
            left.extend(
                dirs.iter()
                    .filter(|d| d.exists())
                    .map(|d| d.display().to_string()),
            );
        }
        left.extend(
            probes::mounts()
                .into_iter()
                .filter(|m| m.contains(&paths.dir))
                .map(|m| format!("the mount {m}")),
        );
        if !left.is_empty() {
            return Err(Error::Check(format!(
                "the engine's run was not undone: {} left",
                left.join(", ")
            )));
        }
        let mut done = vec!["no process of podman's is left in its namespace".to_string()];
        if !ran.ended.is_empty() {
            done[0].push_str(&format!(
                " (the lesson ended {} after waiting)",
                ran.ended.len()
            ));
        }
        done.push(match (cgroup, ran.cgroups_removed.is_empty()) {
            (Some(path), true) => format!("the container's cgroup, {path}, is gone"),
            (Some(path), false) => format!(
                "the container's cgroup, {path}, was still there after podman and is removed"
            ),
            (None, _) => "no cgroup was made".to_string(),
        });
        if !ran.left.is_empty() {
            done.push(format!(
                "podman still listed {} container(s), removed with podman rm",
                ran.left.len()
            ));
        }
        done.push(
            "podman's store, /run and the rest went with their tmpfs, and the lesson's directory is removed"
                .to_string(),
        );
        let id = asked::container_id(&ran.commands);
        self.undone(
            true,
            &asked::short(&done.join("; "), &paths.dir, id.as_deref()),
        )
    }
}

/// The lesson's directory and, when the host has none, the one podman
/// writes its cache into (covered by a tmpfs in the namespace, so it
/// stays empty): made through the seam, each removed at the end.
fn prepare(sys: &mut Sys, undo: &mut Undo, paths: &Paths, store: &Store) -> Result<()> {
    store.create()?;
    let lessons = std::path::Path::new(&paths.dir)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    sys.note(format!(
        "a directory for podman's run, {}, removed at the end",
        paths.dir
    ));
    let made_lessons = !sys.is_dir(&lessons);
    if made_lessons {
        sys.call(Call::Mkdirat {
            path: lessons.clone(),
            mode: 0o755,
        })?;
    }
    let gone = paths.dir.clone();
    undo.push(format!("removing {gone}"), When::Always, move |sys| {
        remove_tree(sys, &gone)?;
        if made_lessons {
            // Another lesson's directory may be there too: it stays.
            let _ = sys.call(Call::Rmdir { path: lessons });
        }
        Ok(())
    });
    // A lesson whose diyc was killed leaves its directory: made afresh.
    remove_tree(sys, &paths.dir)?;
    for dir in [&paths.dir, &paths.engine, &paths.out] {
        sys.call(Call::Mkdirat {
            path: dir.clone(),
            mode: 0o700,
        })?;
    }
    for dir in podman::COVERED {
        if !sys.is_dir(dir) {
            undo.mkdir(sys, dir)?;
        }
    }
    Ok(())
}

/// `text` as a list item after `lead`, its later lines under its first
/// word, each line within COLUMNS.
fn hang(lead: &str, text: &str) -> String {
    let room = COLUMNS.saturating_sub(lead.len());
    let pad = " ".repeat(lead.len());
    draw::wrap(text, room)
        .iter()
        .enumerate()
        .map(|(i, l)| format!("\n{}{l}", if i == 0 { lead } else { &pad }))
        .collect()
}

/// A paragraph wrapped within COLUMNS.
fn wrapped(text: &str) -> String {
    draw::wrap(text, COLUMNS).join("\n")
}

/// A block of text set in by four spaces.
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
