//! Renders recorded events for a person (coloured text) or a program (one
//! JSON object per line), on stderr so the container's own output on
//! stdout stays clean.

use std::io::{IsTerminal, Write};

use colored::Colorize;

use crate::event::{Event, Outcome};
use crate::sys::{Call, Recorder};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub struct Explainer {
    format: Option<Format>,
}

impl Explainer {
    pub fn new(format: Option<Format>) -> Self {
        if format == Some(Format::Text) {
            // no-color.org: only a non-empty NO_COLOR turns colour off.
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            colored::control::set_override(!no_color && std::io::stderr().is_terminal());
        }
        Explainer { format }
    }

    fn write(&self, event: &Event) {
        let out = match self.format {
            None => return,
            Some(Format::Json) => serde_json::to_string(event).unwrap_or_default() + "\n",
            Some(Format::Text) => render_text(event),
        };
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(out.as_bytes());
    }
}

impl Recorder for Explainer {
    fn enabled(&self) -> bool {
        self.format.is_some()
    }

    fn record(&mut self, event: Event) {
        self.write(&event);
    }
}

pub fn render_text(event: &Event) -> String {
    match event {
        Event::Stage { stage } => {
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
