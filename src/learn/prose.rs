//! How a lesson's words reach the reader: each part under its heading,
//! its Markdown rendered for the terminal (kept as Markdown in the
//! handout), and after each paragraph the one-line meaning of every
//! glossary word it is the first to use. With `--present`, each part
//! starts on a clean screen, set in from the edges, for a projector.

use super::glossary;
use super::markdown;

use super::session::Session;

/// Clear the screen and go to its top.
const CLEAR: &str = "\x1b[2J\x1b[H";

impl Session<'_> {
    fn presenting(&self) -> bool {
        self.opts.present && self.pauser.enabled()
    }

    pub fn heading(&mut self, text: &str) {
        self.md(&format!("### {text}"));
        if self.presenting() {
            let rule = "=".repeat(text.chars().count() + 4);
            self.show(&format!(
                "{CLEAR}\n\n    {}\n    {rule}\n",
                markdown::heading(&text.to_uppercase())
            ));
        } else {
            self.show(&format!("\n{}", markdown::heading(text)));
        }
        self.after_heading = true;
    }

    /// The words `text` uses first, one line each, for the terminal and
    /// for the handout.
    pub fn words_in(&mut self, text: &str) -> (String, Vec<String>) {
        let terms = std::mem::take(&mut self.terms);
        let mark = match super::draw::Style::detect() {
            super::draw::Style::Unicode => "▸",
            super::draw::Style::Ascii => ">",
        };
        let margin = if self.presenting() { "    " } else { "" };
        let mut words = String::new();
        let mut handout = Vec::new();
        for t in glossary::new_in(text, &terms, &mut self.words) {
            let meaning = markdown::render(&t.meaning);
            let line = format!("{margin}  {mark} {}: {meaning}", t.name);
            // A terminal would break a long line anywhere: break it
            // between words instead. A pipe keeps it whole.
            let line = match terminal_size::terminal_size_of(std::io::stderr()) {
                Some((terminal_size::Width(w), _)) if w >= 40 => {
                    super::draw::wrap(&line, usize::from(w).saturating_sub(1)).join("\n")
                }
                _ => line,
            };
            words.push('\n');
            words.push_str(&line);
            handout.push(format!("> **{}**: {}", t.name, t.meaning));
        }
        self.terms = terms;
        (
            colored::Colorize::dimmed(words.as_str()).to_string(),
            handout,
        )
    }

    /// Markdown, rendered, each paragraph followed by the words it uses
    /// first.
    pub fn prose(&mut self, body: &str) {
        let margin = if self.presenting() { "    " } else { "" };
        for block in markdown::blocks(body) {
            self.md(block.trim_end());
            let mut shown = markdown::render(&block);
            if !margin.is_empty() {
                shown = shown
                    .lines()
                    .map(|l| format!("{margin}{l}"))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            // Commands use words too: `busybox` in a command line is as
            // new to a beginner as in a sentence.
            let handout = self.show(&format!("\n{shown}"));
            if !handout.is_empty() {
                self.md(&handout.join("  \n"));
            }
        }
    }

    /// A part of the lesson: its heading and its text.
    pub fn part(&mut self, heading: &str, body: &str) {
        self.heading(heading);
        self.prose(body);
    }

    /// A by-hand part: in the overview, for the handout only.
    pub fn by_hand(&mut self, heading: &str, body: &str) {
        if self.overview {
            self.md(&format!("### {heading}"));
            self.md(body);
        } else {
            self.part(heading, body);
        }
    }
}
