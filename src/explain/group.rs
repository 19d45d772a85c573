//! The quiet text view: repeated calls shown as one line, and the stages a
//! lesson is not about shown as one line each. What it prints still names
//! every call by pid and name, so it can be held against strace; the JSON
//! view never goes through here.

use colored::Colorize;

use crate::event::{Event, Outcome, StageId};
use crate::sys::Call;

/// Fewer repeats than this are shown one by one.
const GROUP_FROM: usize = 3;
/// Labels beyond this width go on to the next line.
const WIDTH: usize = 78;

/// A call's strace text cut into its name and its top-level arguments;
/// the shell forms (`echo V > FILE`) into their words.
pub fn split(text: &str, shell: bool) -> (String, Vec<String>) {
    if shell {
        let mut words = text.split(' ').map(String::from);
        // `RTM_NEWLINK: ip link ...` is named by its message type.
        let name = words
            .next()
            .unwrap_or_default()
            .trim_end_matches(':')
            .to_string();
        return (name, words.collect());
    }
    let Some(open) = text.find('(') else {
        return (text.to_string(), Vec::new());
    };
    let body = text[open + 1..]
        .strip_suffix(')')
        .unwrap_or(&text[open + 1..]);
    let mut args = Vec::new();
    let (mut depth, mut quoted, mut escaped) = (0i32, false, false);
    let mut current = String::new();
    for c in body.chars() {
        if quoted {
            current.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        args.push(current.trim().to_string());
    }
    (text[..open].to_string(), args)
}

/// Calls that may share a line: the same call, by the same process in
/// the same stage, succeeding, with arguments of the same shape. Helper
/// programs and the exec are always shown whole.
fn key(event: &Event) -> Option<(i32, StageId, String, usize, bool)> {
    let Event::Syscall {
        stage,
        pid,
        call,
        text,
        outcome: Outcome::Ok(_),
        ..
    } = event
    else {
        return None;
    };
    if matches!(
        call,
        Call::Command { .. } | Call::Execve { .. } | Call::Netlink { .. }
    ) || text.starts_with("execve")
    {
        return None;
    }
    let shell = call.is_shell_form();
    let (name, args) = split(text, shell);
    Some((*pid, *stage, name, args.len(), shell))
}

fn text_of(event: &Event) -> &str {
    match event {
        Event::Syscall { text, .. } => text,
        _ => "",
    }
}

/// Repeated calls waiting to be shown.
#[derive(Default)]
pub struct Group {
    events: Vec<Event>,
}

impl Group {
    /// Take `event` into the group, or give back what must be shown
    /// first (the group so far) when it does not belong.
    pub fn push(&mut self, event: Event) -> (Option<String>, Option<Event>) {
        let Some(k) = key(&event) else {
            return (self.take(), Some(event));
        };
        // A file write groups only where one word differs, the same one
        // each time: the value written, or the file.
        let unlike = |first: &Event, others: &[Event]| {
            k.4 && {
                let words = |e: &Event| split(text_of(e), true).1;
                let base = words(first);
                let mut columns = std::collections::BTreeSet::new();
                for e in others.iter().chain([&event]) {
                    let w = words(e);
                    columns.extend((0..base.len().min(w.len())).filter(|&i| base[i] != w[i]));
                }
                columns.len() > 1
            }
        };
        if self
            .events
            .first()
            .is_some_and(|first| key(first) != Some(k.clone()) || unlike(first, &self.events[1..]))
        {
            let shown = self.take();
            self.events.push(event);
            return (shown, None);
        }
        self.events.push(event);
        (None, None)
    }

    /// The group as text: one line per call below GROUP_FROM, one in all
    /// from there.
    pub fn take(&mut self) -> Option<String> {
        let events = std::mem::take(&mut self.events);
        if events.is_empty() {
            return None;
        }
        if events.len() < GROUP_FROM {
            return Some(events.iter().map(super::render_text).collect());
        }
        Some(grouped(&events))
    }
}

fn grouped(events: &[Event]) -> String {
    let parts: Vec<(i32, &str, &Outcome, bool)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Syscall {
                pid,
                text,
                outcome,
                call,
                ..
            } => Some((*pid, text.as_str(), outcome, call.is_shell_form())),
            _ => None,
        })
        .collect();
    let (pid, _, outcome, shell) = parts[0];
    let split: Vec<(String, Vec<String>)> = parts.iter().map(|p| split(p.1, shell)).collect();
    let name = split[0].0.clone();
    let arity = split[0].1.len();
    let differs: Vec<bool> = (0..arity)
        .map(|i| split.iter().any(|(_, a)| a[i] != split[0].1[i]))
        .collect();
    let values = |i: usize| -> Vec<&str> { split.iter().map(|(_, a)| a[i].as_str()).collect() };
    // The labels name each call: the first argument that tells them all
    // apart (a path, a capability), else the first that differs.
    let distinct = |i: usize| {
        let v = values(i);
        v.iter().enumerate().all(|(j, x)| !v[..j].contains(x))
    };
    let label_at = (0..arity)
        .find(|&i| differs[i] && distinct(i))
        .or_else(|| (0..arity).find(|&i| differs[i]));
    let mut shown_args = Vec::new();
    let mut labels: Vec<String> = vec![String::new(); split.len()];
    for (i, &differ) in differs.iter().enumerate() {
        if !differ {
            shown_args.push(split[0].1[i].clone());
            continue;
        }
        let values = values(i);
        let prefix = common_dir(&values);
        let quote = if prefix.starts_with('"') { "\"" } else { "" };
        shown_args.push(format!("{prefix}…{quote}"));
        if label_at == Some(i) {
            for (label, value) in labels.iter_mut().zip(&values) {
                *label = value[prefix.len()..].trim_matches('"').to_string();
            }
        }
    }
    let call = if shell {
        format!("{name} {}", shown_args.join(" "))
    } else {
        format!("{name}({})", shown_args.join(", "))
    };
    let same_result = parts.iter().all(|p| p.2 == outcome);
    let result = if same_result {
        outcome.to_string()
    } else {
        "= …".to_string()
    };
    let result = if shell {
        String::new()
    } else {
        format!(" {}", result.green())
    };
    let colon = if labels.iter().all(String::is_empty) {
        ""
    } else {
        ":"
    };
    let head = format!(
        "  [pid {pid}] {} {}{result}{colon}",
        format!("{} x", events.len()).yellow(),
        call.bold()
    );
    wrap_labels(head, &labels)
}

/// The longest start that every value shares, up to and with its last
/// `/`, so the labels are whole names.
fn common_dir(values: &[&str]) -> String {
    let first = values[0];
    let mut len = first.len();
    for v in &values[1..] {
        len = len.min(
            first
                .char_indices()
                .zip(v.chars())
                .find(|((_, a), b)| a != b)
                .map_or(first.len().min(v.len()), |((i, _), _)| i),
        );
    }
    first[..len]
        .rfind('/')
        .map_or(String::new(), |slash| first[..=slash].to_string())
}

/// The labels after the head, and on one line more at most: the rest
/// are counted, not named.
fn wrap_labels(head: String, labels: &[String]) -> String {
    let mut out = head;
    if labels.iter().all(String::is_empty) {
        out.push('\n');
        return out;
    }
    let mut width = dialoguer::console::measure_text_width(&out);
    let mut lines = 1;
    for (i, label) in labels.iter().enumerate() {
        if width + 1 + label.len() > WIDTH {
            if lines == 2 {
                out.push_str(&format!(" … and {} more", labels.len() - i));
                break;
            }
            out.push_str("\n       ");
            width = 7;
            lines += 1;
        }
        out.push(' ');
        out.push_str(label);
        width += 1 + label.len();
    }
    out.push('\n');
    out
}

/// A stage the lesson is not about: its calls counted by process and
/// name, shown as one line when the stage's turn is over.
pub struct Folded {
    stage: StageId,
    headed: bool,
    /// Every stage the block took in, when it folds a whole run.
    stages: Vec<StageId>,
    /// By process, in the order they first came: pids may wrap around,
    /// and the line must read the same from run to run.
    counts: Vec<(i32, Vec<(String, usize)>)>,
    /// Helper programs, each a process of its own: their pids and names.
    programs: (Vec<i32>, Vec<(String, usize)>),
}

fn tally(names: &mut Vec<(String, usize)>, name: String) {
    match names.iter_mut().find(|(n, _)| *n == name) {
        Some((_, n)) => *n += 1,
        None => names.push((name, 1)),
    }
}

/// Pids as runs: `3617-3641,3650`.
fn runs(pids: &[i32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < pids.len() {
        let mut j = i;
        while j + 1 < pids.len() && pids[j + 1] == pids[j] + 1 {
            j += 1;
        }
        out.push(if j > i {
            format!("{}-{}", pids[i], pids[j])
        } else {
            pids[i].to_string()
        });
        i = j + 1;
    }
    out.join(",")
}

fn listed(names: &[(String, usize)]) -> String {
    let list: Vec<String> = names.iter().map(|(n, c)| format!("{n} {c}")).collect();
    list.join(", ")
}

impl Folded {
    pub fn new(stage: StageId, headed: bool) -> Self {
        Folded {
            stage,
            headed,
            stages: vec![stage],
            counts: Vec::new(),
            programs: (Vec::new(), Vec::new()),
        }
    }

    pub fn stage(&self) -> StageId {
        self.stage
    }

    /// Take in a stage of a run folded whole.
    pub fn also(&mut self, stage: StageId) {
        if !self.stages.contains(&stage) {
            self.stages.push(stage);
        }
        self.headed = false;
    }

    pub fn count(&mut self, pid: i32, call: &Call, text: &str) {
        let (name, _) = split(text, call.is_shell_form());
        if matches!(call, Call::Command { .. }) {
            self.programs.0.push(pid);
            tally(&mut self.programs.1, name);
        } else {
            match self.counts.iter_mut().find(|(p, _)| *p == pid) {
                Some((_, names)) => tally(names, name),
                None => self.counts.push((pid, vec![(name, 1)])),
            }
        }
    }

    pub fn render(&self) -> String {
        let mut calls: Vec<String> = self
            .counts
            .iter()
            .map(|(pid, names)| {
                let total: usize = names.iter().map(|(_, n)| n).sum();
                let s = if total == 1 { "" } else { "s" };
                format!("[pid {pid}] {total} call{s}: {}", listed(names))
            })
            .collect();
        let (pids, names) = &self.programs;
        if !pids.is_empty() {
            let s = if pids.len() == 1 { "" } else { "s" };
            calls.push(format!(
                "[pids {}] {} program{s}: {}",
                runs(pids),
                pids.len(),
                listed(names)
            ));
        }
        let calls = if calls.is_empty() {
            "no calls".to_string()
        } else {
            calls.join("; ")
        };
        let head = if self.headed {
            format!("== {}", self.stage.heading().title)
        } else {
            let names: Vec<&str> = self.stages.iter().map(|s| s.name()).collect();
            format!("·· {}", names.join(", "))
        };
        format!("{} {}\n", head.cyan(), format!("({calls})").dimmed())
    }
}
