//! The lessons' pictures: boxes, trees, arrows and two columns side by
//! side, drawn in the terminal from what a run just showed. Everything
//! fits a width given in columns (80 for a picture), with box-drawing
//! characters where the terminal can show them and plain ASCII
//! (`+-|>`) where it cannot. seen.rs reads the values out of a run.

mod frame;
mod seen;
mod wrap;

pub use frame::{Frame, beside, pair, step_down, tree};
pub use seen::UNSEEN;
pub use wrap::{columns, wrap};

use std::io::IsTerminal;

use super::Topic;
use super::session::Observed;

/// How wide a picture may be: the narrowest terminal a class projects.
pub const WIDTH: usize = 80;

/// Which characters a picture is drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Unicode,
    Ascii,
}

struct Glyphs {
    across: char,
    down: char,
    top_left: char,
    top_right: char,
    bottom_left: char,
    bottom_right: char,
    /// The crossing of a column rule and a row rule.
    cross: char,
    branch: &'static str,
    last_branch: &'static str,
    trunk: &'static str,
    arrow: &'static str,
    arrow_down: &'static str,
    both_ways: &'static str,
    cut: &'static str,
}

const UNICODE: Glyphs = Glyphs {
    across: '─',
    down: '│',
    top_left: '┌',
    top_right: '┐',
    bottom_left: '└',
    bottom_right: '┘',
    cross: '┼',
    branch: "├─ ",
    last_branch: "└─ ",
    trunk: "│  ",
    arrow: "──▶",
    arrow_down: "▼",
    both_ways: "◀──▶",
    cut: "─╳─",
};

const ASCII: Glyphs = Glyphs {
    across: '-',
    down: '|',
    top_left: '+',
    top_right: '+',
    bottom_left: '+',
    bottom_right: '+',
    cross: '+',
    branch: "+- ",
    last_branch: "+- ",
    trunk: "|  ",
    arrow: "-->",
    arrow_down: "v",
    both_ways: "<-->",
    cut: "-/-",
};

impl Style {
    /// Box-drawing characters only where they will show: stderr (where
    /// the lesson is said) is a terminal, the locale is UTF-8 and the
    /// terminal is not `dumb`.
    pub fn detect() -> Style {
        Style::choose(std::io::stderr().is_terminal(), |name| {
            std::env::var(name).ok()
        })
    }

    /// The choice `detect` makes, given whether stderr is a terminal and
    /// a way to read the environment.
    pub fn choose(terminal: bool, var: impl Fn(&str) -> Option<String>) -> Style {
        // The first of these that is set decides, as in setlocale(3).
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|name| var(name).filter(|v| !v.is_empty()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        let utf8 = locale.contains("utf-8") || locale.contains("utf8");
        let dumb = var("TERM").is_some_and(|t| t == "dumb");
        if terminal && utf8 && !dumb {
            Style::Unicode
        } else {
            Style::Ascii
        }
    }

    fn glyphs(self) -> &'static Glyphs {
        match self {
            Style::Unicode => &UNICODE,
            Style::Ascii => &ASCII,
        }
    }

    /// An arrow pointing right, three columns wide.
    pub fn arrow(self) -> &'static str {
        self.glyphs().arrow
    }

    /// An arrow pointing down, one column wide.
    pub fn arrow_down(self) -> &'static str {
        self.glyphs().arrow_down
    }

    /// A link that goes both ways, four columns wide.
    pub fn both_ways(self) -> &'static str {
        self.glyphs().both_ways
    }

    /// A link that is cut, three columns wide.
    pub fn cut(self) -> &'static str {
        self.glyphs().cut
    }

    /// The vertical line of a box, for a flow drawn between boxes.
    pub fn down(self) -> char {
        self.glyphs().down
    }
}

/// How many columns `text` takes: one per character, which holds for
/// every character the pictures use.
pub fn width(text: &str) -> usize {
    text.chars().count()
}

pub(super) fn pad(text: &str, to: usize) -> String {
    format!("{text}{}", " ".repeat(to.saturating_sub(width(text))))
}

/// A picture: its caption, one line, then its lines.
pub fn picture(caption: &str, lines: Vec<String>) -> String {
    let mut out = caption.to_string();
    for line in lines {
        out.push('\n');
        out.push_str(line.trim_end());
    }
    out
}

/// The pictures of `topic`'s lesson, from its live run and its run with
/// the key step left out.
pub fn pictures(topic: Topic, live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    use super::{cgroups, hardening, image, iptables, mount, net, pid, rootfs, user, uts};
    let draw = match topic {
        // Lesson 0 draws its own side by side.
        Topic::Intro => return Vec::new(),
        Topic::User => user::pictures,
        Topic::Uts => uts::pictures,
        Topic::Pid => pid::pictures,
        Topic::Mount => mount::pictures,
        Topic::Image => image::pictures,
        Topic::Rootfs => rootfs::pictures,
        Topic::Cgroups => cgroups::pictures,
        Topic::Net => net::pictures,
        Topic::Iptables => iptables::pictures,
        Topic::Hardening => hardening::pictures,
    };
    draw(live, broken, style)
}

#[cfg(test)]
mod tests;
