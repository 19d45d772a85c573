//! Renders recorded events for a person (coloured text) or a program (one
//! JSON object per line), on stderr so the container's own output on
//! stdout stays clean. Text is quiet unless `--verbose`: repeated calls
//! share a line, and a lesson folds the stages it is not about into one
//! line each (group.rs). JSON is always every event.

mod group;
pub mod times;

use std::io::{IsTerminal, Write};

use colored::Colorize;

use crate::event::{Event, Outcome, StageId};
use crate::sys::{Call, Recorder};

use group::{Folded, Group};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub struct Explainer {
    format: Option<Format>,
    verbose: bool,
    /// The stages shown in full; None shows every stage, and none folds
    /// the whole run into one line.
    focus: Option<Vec<StageId>>,
    /// The stage whose views the caller shows itself (a lesson's table).
    tabled: Option<StageId>,
    group: Group,
    folded: Option<Folded>,
    /// What it shows, kept here instead of printed (a lesson's handout).
    kept: Option<String>,
    /// Where it writes instead of stderr (`DIYC_EXPLAIN=FILE`).
    sink: Option<Box<dyn Write>>,
}

impl Explainer {
    pub fn new(format: Option<Format>) -> Self {
        if format == Some(Format::Text) {
            // no-color.org: only a non-empty NO_COLOR turns colour off.
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            colored::control::set_override(!no_color && std::io::stderr().is_terminal());
        }
        Explainer {
            format,
            verbose: false,
            focus: None,
            tabled: None,
            group: Group::default(),
            folded: None,
            kept: None,
            sink: None,
        }
    }

    /// Write to `sink` instead of stderr: an engine-driven run's
    /// explanation goes to a file, since its stderr is the engine's.
    pub fn writing_to(mut self, sink: Box<dyn Write>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Keep what it would print, for `take_kept`, instead of printing it.
    pub fn kept(mut self) -> Self {
        self.kept = Some(String::new());
        self
    }

    /// What it kept so far, everything pending shown first.
    pub fn take_kept(&mut self) -> String {
        self.flush();
        self.kept.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Every call on a line of its own, every stage in full.
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// Show only `stages` in full; the others one line each.
    pub fn focus(mut self, stages: Vec<StageId>) -> Self {
        self.focus = Some(stages);
        self
    }

    /// Leave out what `stage` shows of inside and host: the caller lays
    /// it out itself.
    pub fn tabled(mut self, stage: Option<StageId>) -> Self {
        self.tabled = stage;
        self
    }

    fn out(&mut self, text: &str) {
        match &mut self.kept {
            Some(kept) => kept.push_str(text),
            None if self.sink.is_some() => {
                if let Some(sink) = self.sink.as_mut() {
                    let _ = sink.write_all(text.as_bytes());
                }
            }
            None => {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(text.as_bytes());
            }
        }
    }

    fn folds(&self, event: &Event) -> bool {
        self.focus
            .as_ref()
            .is_some_and(|focus| !focus.contains(&event.stage()))
    }

    fn end_fold(&mut self) {
        if let Some(folded) = self.folded.take() {
            self.out(&folded.render());
        }
    }

    fn quiet(&mut self, event: Event) {
        if self.folds(&event) {
            if let Some(shown) = self.group.take() {
                self.out(&shown);
            }
            let stage = event.stage();
            let whole_run = self.focus.as_ref().is_some_and(Vec::is_empty);
            if whole_run {
                if let Some(folded) = self.folded.as_mut() {
                    folded.also(stage);
                }
            } else if self.folded.as_ref().is_some_and(|f| f.stage() != stage)
                || matches!(event, Event::Stage { .. })
            {
                self.end_fold();
            }
            if let Event::Syscall { call, outcome, .. } = &event {
                // A failure, and the exec that starts the command, are
                // what a reader must never miss.
                if !matches!(outcome, Outcome::Ok(_))
                    || matches!(call, Call::Execve { .. } | Call::Execveat { .. })
                {
                    self.end_fold();
                    self.out(&render_text(&event));
                    return;
                }
            }
            let headed = !whole_run && matches!(event, Event::Stage { .. });
            let folded = self
                .folded
                .get_or_insert_with(|| Folded::new(stage, headed));
            if let Event::Syscall {
                pid, text, call, ..
            } = &event
            {
                folded.count(*pid, call, text);
            }
            return;
        }
        self.end_fold();
        if matches!(&event, Event::State { stage, .. } if Some(*stage) == self.tabled) {
            return;
        }
        let (shown, passed) = self.group.push(event);
        if let Some(shown) = shown {
            self.out(&shown);
        }
        if let Some(event) = passed {
            self.out(&render_text(&event));
        }
    }
}

impl Drop for Explainer {
    fn drop(&mut self) {
        self.flush();
    }
}

impl Recorder for Explainer {
    fn enabled(&self) -> bool {
        self.format.is_some()
    }

    fn record(&mut self, event: Event) {
        match self.format {
            None => {}
            Some(Format::Json) => {
                self.out(&(serde_json::to_string(&event).unwrap_or_default() + "\n"));
            }
            Some(Format::Text) if self.verbose => self.out(&render_text(&event)),
            Some(Format::Text) => self.quiet(event),
        }
    }

    fn flush(&mut self) {
        if let Some(shown) = self.group.take() {
            self.out(&shown);
        }
        self.end_fold();
    }
}

pub fn render_text(event: &Event) -> String {
    match event {
        Event::Stage { stage, .. } => {
            let heading = stage.heading();
            let (title, why) = (heading.title, heading.why);
            format!(
                "\n{}\n  {}\n",
                format!("== {title}").bold().cyan(),
                why.dimmed()
            )
        }
        Event::Syscall {
            pid,
            text,
            outcome,
            call,
            ..
        } if call.is_shell_form() => {
            let result = match outcome {
                Outcome::Ok(code) if matches!(call, Call::Command { .. }) => {
                    let text = format!("# exit {code}");
                    if *code == 0 {
                        text.green()
                    } else {
                        text.yellow()
                    }
                }
                Outcome::Ok(_) => "# ok".green(),
                Outcome::Err { errno, message } => format!("# failed: {errno} ({message})").red(),
                Outcome::Pending => "".normal(),
            };
            format!("  [pid {pid}] {} {result}\n", text.bold())
        }
        Event::Syscall {
            pid, text, outcome, ..
        } => {
            let (name, args) = text.split_at(text.find('(').unwrap_or(0));
            let result = match outcome {
                Outcome::Ok(_) => outcome.to_string().green(),
                // An exec printed before it runs: no result yet, no error.
                Outcome::Pending => outcome.to_string().normal(),
                _ => outcome.to_string().red(),
            };
            format!("  [pid {pid}] {}{args} {result}\n", name.bold())
        }
        Event::State {
            inside,
            title,
            lines,
            ..
        } => {
            let who = if *inside { "inside" } else { "host" };
            let mut out = format!("  {} {title}\n", format!("{who}:").yellow().bold());
            for line in lines {
                out.push_str(&format!("    {line}\n"));
            }
            out
        }
        Event::Note { text, .. } => format!("  {} {}\n", "#".dimmed(), text.dimmed()),
    }
}

#[cfg(test)]
mod tests {
    use super::group::Group;
    use super::*;

    fn call(call: Call) -> Event {
        Event::Syscall {
            stage: StageId::Rootfs,
            pid: 7,
            text: call.to_string(),
            call,
            outcome: Outcome::Ok(0),
            at_us: 0,
            took_us: 0,
        }
    }

    /// What a run of events shows, grouped, without colour.
    fn shown(events: Vec<Event>) -> String {
        colored::control::set_override(false);
        let mut group = Group::default();
        let mut out = String::new();
        for event in events {
            let (before, passed) = group.push(event);
            out.extend(before);
            out.extend(passed.as_ref().map(render_text));
        }
        out.extend(group.take());
        out
    }

    #[test]
    fn repeats_share_a_line_that_names_each() {
        let dirs = ["null", "zero", "full"].map(|d| {
            call(Call::Mkdirat {
                path: format!("/r/dev/{d}"),
                mode: 0o755,
            })
        });
        let out = shown(dirs.to_vec());
        assert_eq!(
            out,
            "  [pid 7] 3 x mkdirat(AT_FDCWD, \"/r/dev/…\", 0755) = 0: null zero full\n"
        );
    }

    #[test]
    fn the_same_call_three_times_has_no_labels_and_no_colon() {
        let out = shown(vec![call(Call::Chdir { path: "/x".into() }); 3]);
        assert_eq!(out, "  [pid 7] 3 x chdir(\"/x\") = 0\n");
    }

    #[test]
    fn writes_that_differ_in_the_value_and_the_file_are_not_grouped() {
        let write = |path: &str, value: &str| {
            call(Call::WriteFile {
                path: path.into(),
                value: value.into(),
            })
        };
        let out = shown(vec![
            write("/c/a", "1"),
            write("/c/a", "2"),
            write("/c/b", "1"),
        ]);
        assert!(out.contains("echo 1 > /c/b"), "{out}");
        assert!(!out.contains(" x echo"), "{out}");
        let out = shown(vec![
            write("/c/a", "1"),
            write("/c/b", "1"),
            write("/c/c", "1"),
        ]);
        assert!(out.contains("3 x echo 1 > /c/…: a b c"), "{out}");
    }

    #[test]
    fn a_folded_stage_lists_processes_in_the_order_they_came() {
        colored::control::set_override(false);
        let mut folded = super::group::Folded::new(StageId::Rootfs, false);
        let chdir = Call::Chdir { path: "/".into() };
        folded.count(900, &chdir, &chdir.to_string());
        folded.count(30, &chdir, &chdir.to_string());
        let line = folded.render();
        assert!(line.find("[pid 900]") < line.find("[pid 30]"), "{line}");
    }
}
