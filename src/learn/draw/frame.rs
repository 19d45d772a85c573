//! Boxes, boxes side by side, trees and the steps of a flow.

use super::{Style, WIDTH, pad, width, wrap};

/// A box with a title in its top border, holding lines of text (wrapped
/// to fit) and pictures already drawn (boxes inside the box).
pub struct Frame {
    title: String,
    rows: Vec<Row>,
}

enum Row {
    Text(String),
    Drawn(Vec<String>),
}

impl Frame {
    pub fn new(title: impl Into<String>) -> Frame {
        Frame {
            title: title.into(),
            rows: Vec::new(),
        }
    }

    pub fn line(mut self, text: impl Into<String>) -> Frame {
        self.rows.push(Row::Text(text.into()));
        self
    }

    pub fn lines<S: Into<String>>(mut self, texts: impl IntoIterator<Item = S>) -> Frame {
        self.rows
            .extend(texts.into_iter().map(|t| Row::Text(t.into())));
        self
    }

    /// Lines drawn already, kept as they are: a box inside this one.
    pub fn drawn(mut self, lines: Vec<String>) -> Frame {
        self.rows.push(Row::Drawn(lines));
        self
    }

    /// The width it takes when nothing is wrapped, borders included.
    pub fn natural(&self) -> usize {
        let content = self
            .rows
            .iter()
            .map(|r| match r {
                Row::Text(t) => width(t),
                Row::Drawn(lines) => lines.iter().map(|l| width(l)).max().unwrap_or(0),
            })
            .max()
            .unwrap_or(0);
        (content + 4).max(width(&self.title) + 6)
    }

    /// Drawn at its natural width, or at `max` columns if that is less.
    pub fn draw(&self, max: usize, style: Style) -> Vec<String> {
        self.draw_exactly(self.natural().min(max), style)
    }

    /// Drawn exactly `outer` columns wide, borders included.
    pub fn draw_exactly(&self, outer: usize, style: Style) -> Vec<String> {
        let g = style.glyphs();
        let outer = outer.max(6);
        let inner = outer - 4;
        // A title too long for the border goes inside, wrapped like the
        // rest: a pid or a path in it must never be cut.
        let inside_title = width(&self.title) + 6 > outer;
        let title = if inside_title {
            ""
        } else {
            self.title.as_str()
        };
        let across = |n: usize| g.across.to_string().repeat(n);
        let mut out = vec![if title.is_empty() {
            format!("{}{}{}", g.top_left, across(outer - 2), g.top_right)
        } else {
            format!(
                "{}{} {title} {}{}",
                g.top_left,
                g.across,
                across(outer - 5 - width(title)),
                g.top_right
            )
        }];
        if inside_title {
            for l in wrap(&self.title, inner) {
                out.push(format!("{} {} {}", g.down, pad(&l, inner), g.down));
            }
        }
        for row in &self.rows {
            let lines = match row {
                Row::Text(t) => wrap(t, inner),
                Row::Drawn(lines) => lines.clone(),
            };
            for l in lines {
                out.push(format!("{} {} {}", g.down, pad(&l, inner), g.down));
            }
        }
        out.push(format!(
            "{}{}{}",
            g.bottom_left,
            across(outer - 2),
            g.bottom_right
        ));
        out
    }
}

/// Two pictures side by side, `link` between them: `link[i]` is drawn on
/// row `i`, every link padded to the widest. The right side's lines are
/// not padded, so no line ends in spaces.
pub fn beside(left: &[String], link: &[String], right: &[String]) -> Vec<String> {
    let left_width = left.iter().map(|l| width(l)).max().unwrap_or(0);
    let link_width = link.iter().map(|l| width(l)).max().unwrap_or(0);
    let rows = left.len().max(right.len()).max(link.len());
    (0..rows)
        .map(|i| {
            let line = format!(
                "{}{}{}",
                pad(left.get(i).map_or("", String::as_str), left_width),
                pad(link.get(i).map_or("", String::as_str), link_width),
                right.get(i).map_or("", String::as_str)
            );
            line.trim_end().to_string()
        })
        .collect()
}

/// Two boxes of the same width side by side, `link` between them (one
/// entry per row, from the top border down), the whole at most WIDTH.
pub fn pair(left: &Frame, link: &[&str], right: &Frame, style: Style) -> Vec<String> {
    let link_width = link.iter().map(|l| width(l)).max().unwrap_or(0) + 2;
    let each = left
        .natural()
        .max(right.natural())
        .min((WIDTH - link_width) / 2);
    let link: Vec<String> = link
        .iter()
        .map(|l| format!(" {} ", pad(l, link_width - 2)))
        .collect();
    beside(
        &left.draw_exactly(each, style),
        &link,
        &right.draw_exactly(each, style),
    )
}

/// A tree of labels, each with its depth (0 for a root): the usual
/// branches, so a reader sees which label hangs below which. A label too
/// long for the width left of its branch goes on under itself.
pub fn tree(items: &[(usize, String)], style: Style) -> Vec<String> {
    let g = style.glyphs();
    let mut out = Vec::new();
    for (i, (depth, label)) in items.iter().enumerate() {
        let mut prefix = String::new();
        for level in 1..*depth {
            prefix.push_str(if more_at(items, i, level) {
                g.trunk
            } else {
                "   "
            });
        }
        let (first, rest) = match depth {
            0 => (String::new(), String::new()),
            _ if more_at(items, i, *depth) => (
                format!("{prefix}{}", g.branch),
                format!("{prefix}{}", g.trunk),
            ),
            _ => (format!("{prefix}{}", g.last_branch), format!("{prefix}   ")),
        };
        let lines = wrap(label, WIDTH.saturating_sub(width(&first)).max(8));
        for (n, line) in lines.into_iter().enumerate() {
            out.push(format!("{}{line}", if n == 0 { &first } else { &rest }));
        }
    }
    out
}

/// Whether another item at `depth` follows item `i` before the tree
/// climbs above that depth.
fn more_at(items: &[(usize, String)], i: usize, depth: usize) -> bool {
    items[i + 1..]
        .iter()
        .take_while(|(d, _)| *d >= depth)
        .any(|(d, _)| *d == depth)
}

/// A step down a flow: the vertical line with `label` beside it, then
/// the arrow, indented by `at` columns.
pub fn step_down(at: usize, label: &str, style: Style) -> Vec<String> {
    let lead = " ".repeat(at);
    let mut lines: Vec<String> = wrap(label, WIDTH.saturating_sub(at + 3))
        .into_iter()
        .map(|l| format!("{lead}{}  {l}", style.down()))
        .collect();
    lines.push(format!("{lead}{}", style.arrow_down()));
    lines
}
