//! Text in lines of a given width, broken at spaces, and two lists side
//! by side in columns.

use super::{Style, pad, width};

/// `text` in lines of at most `max` columns, broken at spaces. A word
/// longer than a line (a long path) is broken after a `/`, `,` or `=`
/// inside it, so no name in it is cut; only a single name longer than
/// the whole line is cut, as the last resort. Continuation lines keep
/// the first line's indentation.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let indent = width(text) - width(text.trim_start());
    let indent = if indent * 2 > max { 0 } else { indent };
    let lead = " ".repeat(indent);
    let room = max - indent;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace().flat_map(|w| pieces(w, room)) {
        if line.is_empty() {
            line = word;
        } else if width(&line) + 1 + width(&word) <= room {
            line.push(' ');
            line.push_str(&word);
        } else {
            lines.push(format!("{lead}{line}"));
            line = word;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(format!("{lead}{line}"));
    }
    lines
}

/// A word as pieces of at most `room` columns, broken after separators.
fn pieces(word: &str, room: usize) -> Vec<String> {
    if width(word) <= room {
        return vec![word.to_string()];
    }
    let mut out = Vec::new();
    let mut piece = String::new();
    // A piece ends after a separator; a run without one is cut at `room`.
    let mut parts: Vec<String> = Vec::new();
    let mut part = String::new();
    for c in word.chars() {
        part.push(c);
        if matches!(c, '/' | ',' | '=') {
            parts.push(std::mem::take(&mut part));
        }
    }
    if !part.is_empty() {
        parts.push(part);
    }
    for part in parts {
        if width(&piece) + width(&part) <= room {
            piece.push_str(&part);
            continue;
        }
        if !piece.is_empty() {
            out.push(std::mem::take(&mut piece));
        }
        let mut chars: Vec<char> = part.chars().collect();
        while chars.len() > room {
            out.push(chars.drain(..room).collect());
        }
        piece = chars.into_iter().collect();
    }
    if !piece.is_empty() {
        out.push(piece);
    }
    out
}

/// Two lists side by side within `width` columns, each under its title,
/// a rule between: the lines of one row stay beside each other, and a
/// line too long for its column is wrapped at word boundaries.
pub fn columns(
    left_title: &str,
    left: &[String],
    right_title: &str,
    right: &[String],
    width: usize,
    style: Style,
) -> String {
    let g = style.glyphs();
    let gap = 3;
    let room = width.saturating_sub(gap).max(2);
    let widest = |title: &str, lines: &[String]| {
        lines
            .iter()
            .map(|l| self::width(l))
            .chain([self::width(title)])
            .max()
            .unwrap_or(0)
    };
    let (l_natural, r_natural) = (widest(left_title, left), widest(right_title, right));
    // Both sides keep their natural widths when they fit; otherwise a
    // side narrower than half keeps its own and the other wraps, and two
    // wide sides get half each.
    let half = room / 2;
    let left_width = if l_natural + r_natural <= room || l_natural <= half {
        l_natural
    } else if r_natural <= half {
        room - r_natural
    } else {
        half
    }
    .max(1);
    let right_width = room.saturating_sub(left_width).max(1);
    let sep = format!(" {} ", g.down);
    let mut out = Vec::new();
    let row = |out: &mut Vec<String>, l: &str, r: &str| {
        let (ls, rs) = (wrap(l, left_width), wrap(r, right_width));
        for i in 0..ls.len().max(rs.len()) {
            let line = format!(
                "{}{sep}{}",
                pad(ls.get(i).map_or("", String::as_str), left_width),
                rs.get(i).map_or("", String::as_str)
            );
            out.push(line.trim_end().to_string());
        }
    };
    row(&mut out, left_title, right_title);
    out.push(format!(
        "{}{}{}{}{}",
        g.across.to_string().repeat(left_width),
        g.across,
        g.cross,
        g.across,
        g.across.to_string().repeat(right_width.min(r_natural))
    ));
    for i in 0..left.len().max(right.len()) {
        row(
            &mut out,
            left.get(i).map_or("", String::as_str),
            right.get(i).map_or("", String::as_str),
        );
    }
    out.join("\n")
}
