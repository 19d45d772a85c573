//! The lessons' own looks at the host: its hostname, its mount table, its
//! links. A probe is taken before a launch and again when its stage ends,
//! and the difference is shown beside what the stage itself shows.

use super::session::Session;
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::observe;
use crate::runtime::Watch;
use crate::stages::net;
use crate::sys::{Quiet, Sys};

/// One look at some part of the host, a line per thing seen.
pub type Probe = fn() -> Vec<String>;

pub fn hostname() -> Vec<String> {
    vec![format!("hostname: {}", observe::hostname())]
}

pub fn mounts() -> Vec<String> {
    observe::mountinfo(None)
        .into_iter()
        .map(|m| format!("{} {} {}", m.mount_point, m.fstype, m.source))
        .collect()
}

/// The mounts in `after` (lines of `mounts`) that `before` did not have
/// and that `ours` says the lesson could have made, given the mount
/// point, type and source. Everyone else's mounts come and go on a shared
/// machine: an experiment answers only for its own. Counted one by one,
/// so a second mount stacked on the same place counts too.
pub fn mounts_left(
    before: &[String],
    after: &[String],
    ours: &dyn Fn(&str, &str, &str) -> bool,
) -> Vec<String> {
    let mut unmatched: Vec<&String> = before.iter().collect();
    after
        .iter()
        .filter(|line| {
            let mut fields = line.splitn(3, ' ');
            let point = fields.next().unwrap_or("");
            let fstype = fields.next().unwrap_or("");
            let source = fields.next().unwrap_or("");
            ours(point, fstype, source)
        })
        .filter(|line| match unmatched.iter().position(|b| b == line) {
            Some(i) => {
                unmatched.swap_remove(i);
                false
            }
            None => true,
        })
        .cloned()
        .collect()
}

/// Whether `path` is `dir` or below it.
pub fn at_or_below(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/') || dir.ends_with('/'))
}

/// The lesson's failure when something of the experiment is left: what.
fn not_undone(left: &[String]) -> Error {
    Error::Check(format!(
        "the experiment was not undone: still on the host: {}",
        left.join("; ")
    ))
}

impl Session<'_> {
    /// The experiment is undone when nothing of what it could have left
    /// is still there; if something is, the lesson fails saying what.
    pub fn undone_unless(&mut self, left: &[String], what: &str) -> Result<()> {
        if left.is_empty() {
            return self.undone(true, what);
        }
        Err(not_undone(left))
    }

    /// The same for the experiment's own mounts (lines of `mounts`).
    pub fn undone_mounts(&mut self, left: &[String], what: &str) -> Result<()> {
        let left: Vec<String> = left.iter().map(|m| format!("the mount {m}")).collect();
        self.undone_unless(&left, what)
    }
}

/// The UTS namespace's other name, which a container's root could change
/// through /proc/sys/kernel/domainname.
pub fn domainname() -> Vec<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap_or_default();
    vec![format!("domain name: {}", name.trim())]
}

pub fn nothing() -> Vec<String> {
    Vec::new()
}

/// The links and their addresses, without the link numbers (which change
/// from run to run and say nothing about what changed).
pub fn links() -> Vec<String> {
    let mut quiet = Quiet;
    net::addresses(&mut Sys::new(&mut quiet, StageId::Net))
        .into_iter()
        .map(|l| match l.split_once(": ") {
            Some((number, rest)) if number.bytes().all(|b| b.is_ascii_digit()) => rest.to_string(),
            _ => l,
        })
        .collect()
}

/// The names of the veth pairs' ends in this network namespace.
pub fn veths() -> Vec<String> {
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Net);
    sys.links()
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l.kind.as_deref() == Some("veth"))
        .map(|l| l.name)
        .collect()
}

pub fn diff(before: &[String], after: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = before
        .iter()
        .filter(|l| !after.contains(l))
        .map(|l| format!("- {l}"))
        .collect();
    lines.extend(
        after
            .iter()
            .filter(|l| !before.contains(l))
            .map(|l| format!("+ {l}")),
    );
    if lines.is_empty() {
        lines.push("(no change on the host)".into());
    }
    lines
}

/// The probes of a launch's stages, with what each saw before it began.
pub struct BeforeAfter {
    probes: Vec<(StageId, Probe, Vec<String>)>,
}

impl BeforeAfter {
    pub fn new(watching: &[(StageId, Probe)]) -> Self {
        BeforeAfter {
            probes: watching.iter().map(|(s, p)| (*s, *p, Vec::new())).collect(),
        }
    }
}

impl Watch for BeforeAfter {
    fn start(&mut self) {
        for (_, probe, before) in &mut self.probes {
            *before = probe();
        }
    }

    fn after(&mut self, stage: StageId) -> Vec<String> {
        let Some((_, probe, before)) = self.probes.iter().find(|(s, _, _)| *s == stage) else {
            return Vec::new();
        };
        let mut lines = vec!["the host before and after:".to_string()];
        lines.extend(diff(before, &probe()).into_iter().map(|l| format!("  {l}")));
        lines
    }
}

/// The names in directory `path`, sorted; none when it cannot be read.
pub fn names_in(path: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_shown_as_plus_and_minus() {
        let before = vec!["a".to_string(), "b".to_string()];
        let after = vec!["b".to_string(), "c".to_string()];
        assert_eq!(diff(&before, &after), vec!["- a", "+ c"]);
        assert_eq!(diff(&before, &before), vec!["(no change on the host)"]);
    }

    fn lines(list: &[&str]) -> Vec<String> {
        list.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn someone_elses_mount_is_not_the_lessons_but_its_own_is() {
        let before = lines(&["/ ext4 /dev/vda1", "/proc proc proc", "/tmp tmpfs tmpfs"]);
        let proc_only = |point: &str, _: &str, _: &str| point == "/proc";
        // Another user's mount, made while the lesson ran.
        let mut after = before.clone();
        after.push("/mnt/theirs tmpfs tmpfs".into());
        assert!(mounts_left(&before, &after, &proc_only).is_empty());
        // A second procfs stacked on the host's /proc is the lesson's.
        after.push("/proc proc proc".into());
        assert_eq!(
            mounts_left(&before, &after, &proc_only),
            vec!["/proc proc proc"]
        );
        // And one of the lesson's that went away is no leftover.
        assert!(mounts_left(&before, &before[..2], &proc_only).is_empty());
    }

    #[test]
    fn a_failed_undoing_says_what_is_still_there() {
        let left = lines(&["the mount /proc proc proc"]);
        assert_eq!(
            not_undone(&left).to_string(),
            "the experiment was not undone: still on the host: the mount /proc proc proc"
        );
    }

    #[test]
    fn a_path_is_below_a_directory_only_at_a_slash() {
        assert!(at_or_below("/a/lessons", "/a/lessons"));
        assert!(at_or_below("/a/lessons/x/merged", "/a/lessons"));
        assert!(!at_or_below("/a/lessons-other", "/a/lessons"));
        assert!(at_or_below("/tmp", "/"));
    }
}
