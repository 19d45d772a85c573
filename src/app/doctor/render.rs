//! The report as a table: a line per check (its id, its verdict, what it
//! found) and below each problem what it breaks and the fix. On a
//! terminal the verdicts are coloured and long lines wrap to its width;
//! elsewhere it is plain text, with no control byte in it.

use std::io::Write;

use super::{Report, Verdict};
use crate::error::{Error, Result};

/// The terminal's width, or 80 when it cannot say.
pub fn width() -> usize {
    terminal_size::terminal_size().map_or(80, |(w, _)| usize::from(w.0).max(40))
}

fn paint(verdict: Verdict, color: bool) -> String {
    let word = format!("{:<7}", verdict.word());
    if !color {
        return word;
    }
    let code = match verdict {
        Verdict::Ok => "32",
        Verdict::Warn => "33",
        Verdict::Fail => "1;31",
        Verdict::Info => "36",
    };
    format!("\x1b[{code}m{word}\x1b[0m")
}

/// `text` in lines of at most `width` columns, broken between words; a
/// word longer than a line gets a line of its own.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().map_or(0, |l| l.chars().count());
        if line > 0 && line + 1 + word.chars().count() > width {
            lines.push(String::new());
        }
        if let Some(last) = lines.last_mut() {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// One cell of text after a left margin of `indent` columns: wrapped on a
/// terminal (`width`), one line elsewhere, each line after the first
/// indented again.
fn block(out: &mut String, first: &str, indent: usize, text: &str, width: Option<usize>) {
    let lines = match width {
        Some(w) => wrap(text, w.saturating_sub(indent).max(20)),
        None => vec![text.split_whitespace().collect::<Vec<_>>().join(" ")],
    };
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            out.push_str(first);
        } else {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(line);
        out.push('\n');
    }
}

/// The whole report as text. `width` is the terminal's (None: no
/// terminal, no wrapping).
pub fn table(report: &Report, width: Option<usize>, color: bool) -> String {
    let id_width = report
        .checks
        .iter()
        .map(|c| c.id.len())
        .chain(["check".len()])
        .max()
        .unwrap_or(5);
    let indent = id_width + 2 + 7 + 2;
    let mut out = String::new();
    let who = match (&report.user.name, report.user.root) {
        (_, true) => "root".to_string(),
        (Some(name), false) => format!("{name} (uid {}), without root", report.user.uid),
        (None, false) => format!("uid {}, without root", report.user.uid),
    };
    out.push_str(&format!("diyc {} doctor, for {who}\n\n", report.diyc));
    out.push_str(&format!("{:<id_width$}  verdict  found\n", "check"));
    for check in &report.checks {
        let first = format!("{:<id_width$}  {}  ", check.id, paint(check.verdict, color));
        block(&mut out, &first, indent, &check.found, width);
        let problem = matches!(check.verdict, Verdict::Warn | Verdict::Fail);
        if !problem {
            continue;
        }
        let margin = " ".repeat(indent);
        for what in &check.breaks {
            block(
                &mut out,
                &format!("{margin}breaks: "),
                indent + 8,
                what,
                width,
            );
        }
        if let Some(fix) = &check.fix {
            block(
                &mut out,
                &format!("{margin}fix:    "),
                indent + 8,
                fix,
                width,
            );
        }
    }
    let fails = report
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .count();
    let warns = report
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Warn)
        .count();
    out.push('\n');
    out.push_str(&match (fails, warns) {
        (0, 0) => "Everything diyc uses is here.\n".to_string(),
        (0, w) => format!("Nothing diyc needs is missing; {w} warning(s) above.\n"),
        (f, w) => format!("{f} check(s) failed, {w} warning(s): see breaks and fix above.\n"),
    });
    out
}

/// Write the report on stdout; a closed pipe is no error.
pub fn print(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Os {
            what: "writing the doctor's report".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_between_words_and_keeps_long_words_whole() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh ij", 4), ["abcdefgh", "ij"]);
    }
}
