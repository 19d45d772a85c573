//! The lessons' own looks at the host: its hostname, its mount table, its
//! links. A probe is taken before a launch and again when its stage ends,
//! and the difference is shown beside what the stage itself shows.

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
        .map(|l| {
            l.split_once(": ")
                .map_or(l.clone(), |(_, rest)| rest.to_string())
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
}
