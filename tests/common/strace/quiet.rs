//! The quiet lines of `--explain`: repeats grouped (`[pid P] N x
//! name(...) = R: label label ...`) and stages folded (`== title ([pid P]
//! K calls: name n, ...)`). Each still names its calls by pid and name,
//! so strace can be held against them: every group's labels and every
//! folded count were made, and each traced call they stand for is
//! counted once.

use std::collections::{BTreeMap, BTreeSet};

use super::Traced;
use super::allowlist::{first_path, netlink_kind};

struct Group {
    pid: u32,
    name: String,
    /// The labels shown: some of the calls' differing parts.
    labels: Vec<String>,
    /// The call with `…` where the calls differ: each traced call it
    /// stands for has the other pieces, in order. For `echo V > PATH`,
    /// the path's.
    template: String,
    /// How many calls it stands for that no traced call has taken yet.
    left: usize,
}

/// `template` with its `k`-th `…` written as `label`.
fn placed_at(template: &str, k: usize, label: &str) -> String {
    let mut out = String::new();
    for (i, piece) in template.split('…').enumerate() {
        if i > 0 {
            out.push_str(if i == k + 1 { label } else { "…" });
        }
        out.push_str(piece);
    }
    out
}

/// Whether `text` is `template` with something in place of each `…`,
/// and nothing more.
fn fits(template: &str, text: &str) -> bool {
    let pieces: Vec<&str> = template.split('…').collect();
    let [first, middle @ .., last] = pieces.as_slice() else {
        return text == template;
    };
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[derive(Default)]
pub(super) struct Quiet {
    groups: Vec<Group>,
    /// What folded lines say each process made, by name: a budget each
    /// traced call it stands for takes one from.
    folded: BTreeMap<(u32, String), usize>,
    pub(super) programs: BTreeSet<u32>,
}

pub(super) fn parse(explain: &str) -> Quiet {
    let mut quiet = Quiet::default();
    let mut open_group = false;
    for line in explain.lines() {
        let trimmed = line.trim_start();
        if open_group && line.starts_with("       ") && !trimmed.starts_with('[') {
            if let Some(g) = quiet.groups.last_mut() {
                // `... and N more` is for the reader.
                let shown = trimmed.split(" … and ").next().unwrap_or("");
                g.labels
                    .extend(shown.split(' ').filter(|l| !l.is_empty()).map(String::from));
            }
            continue;
        }
        open_group = false;
        if let Some(group) = group_head(trimmed) {
            quiet.groups.push(group);
            open_group = true;
        } else if (trimmed.starts_with("== ") || trimmed.starts_with("·· ")) && line.ends_with(')')
        {
            quiet.fold(line);
        }
    }
    quiet
}

fn group_head(line: &str) -> Option<Group> {
    let rest = line.strip_prefix("[pid ")?;
    let (pid, rest) = rest.split_once("] ")?;
    let (count, rest) = rest.split_once(" x ")?;
    let count = count.parse::<usize>().ok()?;
    let shell = !rest.split(' ').next()?.contains('(');
    let name = if shell {
        rest.split(' ').next()?
    } else {
        rest.split('(').next()?
    };
    let (head, labels) = match rest.rsplit_once(": ") {
        Some((head, labels)) => (head, labels.split(' ').map(String::from).collect()),
        None => (rest.trim_end_matches(':'), Vec::new()),
    };
    let template = if shell {
        head.split_once("> ").map_or("", |(_, p)| p).to_string()
    } else {
        head.rsplit_once(" = ")
            .map_or(head, |(call, _)| call)
            .to_string()
    };
    Some(Group {
        pid: pid.parse().ok()?,
        name: name.to_string(),
        labels,
        template,
        left: count,
    })
}

impl Quiet {
    fn fold(&mut self, line: &str) {
        let Some((_, inner)) = line.rsplit_once(" (") else {
            return;
        };
        for segment in inner.trim_end_matches(')').split("; ") {
            if let Some(rest) = segment.strip_prefix("[pids ") {
                let Some((pids, _)) = rest.split_once(']') else {
                    continue;
                };
                for run in pids.split(',') {
                    let (first, last) = run.split_once('-').unwrap_or((run, run));
                    if let (Ok(first), Ok(last)) = (first.parse::<u32>(), last.parse::<u32>()) {
                        self.programs.extend(first..=last);
                    }
                }
                continue;
            }
            let Some(rest) = segment.strip_prefix("[pid ") else {
                continue;
            };
            let Some((pid, rest)) = rest.split_once("] ") else {
                continue;
            };
            let Ok(pid) = pid.parse::<u32>() else {
                continue;
            };
            let Some((_, names)) = rest.split_once(": ") else {
                continue;
            };
            for entry in names.split(", ") {
                if let Some((name, n)) = entry.rsplit_once(' ') {
                    let n: usize = n.parse().unwrap_or(0);
                    *self.folded.entry((pid, name.to_string())).or_default() += n;
                }
            }
        }
    }

    /// The traced call a shown name stands for: `echo` is an open of the
    /// file, a netlink request is a sendto.
    fn traced_name(shown: &str) -> &str {
        if shown == "echo" {
            "openat"
        } else if shown.starts_with("RTM_") {
            "sendto"
        } else {
            shown
        }
    }

    /// Every group and fold names calls that strace saw: each label in
    /// place of one of its group's `…` fits a call of that process, as
    /// many calls fit the group's template as it counts, and no process
    /// is said, by its groups, its folds and its lines in full
    /// (`explained`), to have made more calls of a name than it made.
    pub(super) fn assert_made(
        &self,
        traced: &BTreeMap<u32, Vec<Traced>>,
        explained: &[(u32, String)],
    ) {
        let by = |pid: u32| traced.get(&pid).into_iter().flatten();
        let subject = |g: &Group, t: &Traced| {
            if g.name == "echo" {
                first_path(&t.call).to_string()
            } else {
                t.call.clone()
            }
        };
        let mut claimed: BTreeMap<(u32, String), usize> = BTreeMap::new();
        for g in &self.groups {
            let name = Self::traced_name(&g.name);
            let fitting: Vec<&Traced> = by(g.pid)
                .filter(|t| t.name() == name && fits(&g.template, &subject(g, t)))
                .collect();
            assert!(
                fitting.len() >= g.left,
                "{} x {} grouped for {}, but {} calls fit {:?}",
                g.left,
                g.name,
                g.pid,
                fitting.len(),
                g.template
            );
            for label in &g.labels {
                let holes = g.template.matches('…').count();
                // A whole string argument is labelled without its quotes.
                let quoted = format!("\"{label}\"");
                let placed = (0..holes).any(|k| {
                    [label.as_str(), quoted.as_str()].iter().any(|l| {
                        let with = placed_at(&g.template, k, l);
                        fitting.iter().any(|t| fits(&with, &subject(g, t)))
                    })
                });
                // An echo group's label may be the value written instead.
                let written = g.name == "echo"
                    && by(g.pid).any(|t| t.name() == "write" && t.call.contains(label.as_str()));
                assert!(
                    placed || written,
                    "grouped but not in strace: {} {} {label}",
                    g.pid,
                    g.name
                );
            }
            *claimed.entry((g.pid, name.to_string())).or_default() += g.left;
        }
        for ((pid, shown), n) in &self.folded {
            *claimed
                .entry((*pid, Self::traced_name(shown).to_string()))
                .or_default() += n;
        }
        for (pid, call) in explained {
            let shown = if call.starts_with("echo ") {
                "echo"
            } else {
                call.split(['(', ':']).next().unwrap_or("")
            };
            *claimed
                .entry((*pid, Self::traced_name(shown).to_string()))
                .or_default() += 1;
        }
        for ((pid, name), n) in &claimed {
            if !self.groups.iter().any(|g| g.pid == *pid)
                && !self.folded.keys().any(|(p, _)| p == pid)
            {
                continue;
            }
            let made = by(*pid).filter(|t| t.name() == name).count();
            assert!(
                made >= *n,
                "{n} x {name} shown for {pid}, strace saw {made}"
            );
        }
    }

    /// Whether `t`, made by `pid`, is one of the calls a group or a fold
    /// stands for; a fold's count goes down by one.
    pub(super) fn covers(&mut self, pid: u32, t: &Traced) -> bool {
        let shell_path = first_path(&t.call).to_string();
        let group = self.groups.iter_mut().find(|g| {
            g.pid == pid
                && g.left > 0
                && if g.name == "echo" {
                    t.name() == "openat" && fits(&g.template, &shell_path)
                } else {
                    g.name == t.name() && fits(&g.template, &t.call)
                }
        });
        if let Some(g) = group {
            g.left -= 1;
            return true;
        }
        let mut names = vec![t.name().to_string()];
        match t.name() {
            "openat" => names.push("echo".into()),
            "sendto" => names.extend(netlink_kind(&t.call)),
            _ => {}
        }
        for name in names {
            if let Some(n) = self.folded.get_mut(&(pid, name)) {
                if *n > 0 {
                    *n -= 1;
                    return true;
                }
            }
        }
        false
    }

    /// Whether a call of this name is shown by a group or a fold.
    pub(super) fn shows(&self, name: &str) -> bool {
        self.groups.iter().any(|g| g.name == name) || self.folded.keys().any(|(_, n)| n == name)
    }
}
