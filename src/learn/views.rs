//! Two ways a lesson lays out what a run showed: both views of a stage
//! side by side (inside the container, on the host), and the run with its
//! key step left out as a difference from the working one.

use super::draw;
use super::session::Observed;
use crate::event::{Event, StageId};

/// What `stage` showed last on one side: a stage that looks twice (a
/// cgroup before and after the run) is drawn as it ended, not twice.
pub fn side(observed: &Observed, stage: StageId, inside: bool) -> Vec<String> {
    let last = observed.looks(stage, inside).pop();
    let mut lines: Vec<String> = Vec::new();
    for line in last.unwrap_or_default() {
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    lines
}

/// Lines a side of the table shows on the terminal; the handout has all.
const SIDE: usize = 10;

/// At most SIDE lines of `lines`: the start and the end (where a stage
/// says what it found), the middle counted.
fn at_most(lines: &[String]) -> Vec<String> {
    if lines.len() <= SIDE {
        return lines.to_vec();
    }
    let (head, tail) = (SIDE - 5, 4);
    let mut kept = lines[..head].to_vec();
    kept.push(format!(
        "... {} lines more (in the handout)",
        lines.len() - head - tail
    ));
    kept.extend_from_slice(&lines[lines.len() - tail..]);
    kept
}

/// Both views side by side within 80 columns, words never cut.
pub fn table(inside: &[String], outside: &[String]) -> String {
    draw::columns(
        "inside the container",
        &at_most(inside),
        "on the host",
        &at_most(outside),
        draw::WIDTH,
        draw::Style::detect(),
    )
}

/// The container's name in a run, as its sethostname gave it.
fn name_of(observed: &Observed) -> Option<String> {
    observed.events.iter().find_map(|e| match e {
        Event::Syscall { text, .. } if text.starts_with("sethostname(\"") => {
            text.split('"').nth(1).map(String::from)
        }
        _ => None,
    })
}

/// What a run showed of `stages`, its container's name written NAME so
/// two runs compare (a line is shown as it was, never with NAME).
fn shown(observed: &Observed, stages: &[StageId]) -> Vec<String> {
    let name = name_of(observed).filter(|n| n.len() > 3);
    let named = |l: String| match &name {
        Some(n) => l.replace(n.as_str(), "NAME"),
        None => l,
    };
    shown_as_is(observed, stages)
        .into_iter()
        .map(named)
        .collect()
}

fn shown_as_is(observed: &Observed, stages: &[StageId]) -> Vec<String> {
    let mut lines = Vec::new();
    for event in &observed.events {
        if !stages.contains(&event.stage()) {
            continue;
        }
        match event {
            Event::Syscall { text, .. } => lines.push(text.clone()),
            Event::State { lines: l, .. } => lines.extend(l.iter().map(|l| l.trim().to_string())),
            Event::Stage { .. } | Event::Note { .. } => {}
        }
    }
    lines
}

/// The broken run against the working one, for `stages`: `-` for what
/// only the working run did or saw, `+` for what only the broken one did,
/// each line as its run showed it.
pub fn difference(live: &Observed, broken: &Observed, stages: &[StageId]) -> Vec<String> {
    let (shown_a, shown_b) = (shown_as_is(live, stages), shown_as_is(broken, stages));
    let (named_a, named_b) = (shown(live, stages), shown(broken, stages));
    // Pids and inode numbers differ from run to run: not a difference.
    let numbers = |l: &String| {
        let mut out = String::new();
        for c in l.chars() {
            if !(c.is_ascii_digit() && out.ends_with('#')) {
                out.push(if c.is_ascii_digit() { '#' } else { c });
            }
        }
        out
    };
    let (a, b): (Vec<String>, Vec<String>) = (
        named_a.iter().map(numbers).collect(),
        named_b.iter().map(numbers).collect(),
    );
    // The longest common subsequence, from the end.
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {}", shown_b[j]));
            j += 1;
        } else {
            out.push(format!("- {}", shown_a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_views_never_cut_a_word_and_show_each_line_once() {
        let long = "a copy of the host's mount table: 20 mounts; / is now private";
        let table = table(&[long.into()], &["host".into()]);
        assert!(table.contains("private"), "{table}");
        assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
        let mut twice = observed(&["the host before"]);
        twice.events.extend(observed(&["the host after"]).events);
        assert_eq!(side(&twice, StageId::Uts, true), ["the host after"]);
    }

    fn observed(texts: &[&str]) -> Observed {
        Observed {
            code: 0,
            notes: Vec::new(),
            extra: Vec::new(),
            events: texts
                .iter()
                .map(|t| Event::Note {
                    stage: StageId::Uts,
                    text: t.to_string(),
                })
                .chain(texts.iter().map(|t| Event::State {
                    stage: StageId::Uts,
                    inside: true,
                    title: String::new(),
                    lines: vec![t.to_string()],
                }))
                .collect(),
        }
    }

    #[test]
    fn the_difference_compares_without_the_container_names_but_shows_them() {
        let run = |name: &str, line: &str| {
            let mut seen = observed(&[line]);
            seen.events.push(Event::Syscall {
                stage: StageId::Uts,
                pid: 1,
                text: format!("sethostname(\"{name}\", 10)"),
                call: crate::sys::Call::Chdir { path: "/".into() },
                outcome: crate::event::Outcome::Ok(0),
                at_us: 0,
                took_us: 0,
            });
            seen
        };
        let live = run("lesson-one", "/x/lesson-one: same");
        let broken = run("lesson-two", "/x/lesson-two.dir: only here");
        let lines = difference(&live, &broken, &[StageId::Uts]);
        assert!(
            lines.contains(&"+ /x/lesson-two.dir: only here".to_string()),
            "{lines:?}"
        );
        assert!(lines.iter().all(|l| !l.contains("NAME")), "{lines:?}");
        assert!(
            !lines.iter().any(|l| l.contains("sethostname")),
            "{lines:?}"
        );
    }

    #[test]
    fn the_difference_shows_only_what_changed() {
        let live = observed(&["same", "sethostname(\"a\")", "end"]);
        let broken = observed(&["same", "renamed the host", "end"]);
        assert_eq!(
            difference(&live, &broken, &[StageId::Uts]),
            ["+ renamed the host", "- sethostname(\"a\")"]
        );
    }
}
