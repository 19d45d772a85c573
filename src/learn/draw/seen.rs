//! Reading a run's values back out of what it showed, for its pictures:
//! the calls it made, the lines each stage showed, and what the lesson
//! noted beside them. Nothing here makes a value up: what a run did not
//! show comes back as None, and the picture says so.

use crate::event::{Event, Outcome, StageId};
use crate::learn::session::Observed;
use crate::sys::{Call, Request};

/// What a picture shows where the run showed nothing.
pub const UNSEEN: &str = "(unseen)";

impl Observed {
    /// What the lesson noted as `key` beside the run.
    pub fn extra(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Note `value` as `key`, for the pictures.
    pub fn note(&mut self, key: &str, value: impl Into<String>) {
        self.extra.push((key.to_string(), value.into()));
    }

    /// Every call the run made, with the pid that made it (as the host
    /// numbers it) and how it ended.
    pub fn calls(&self) -> impl Iterator<Item = (StageId, i32, &Call, &Outcome)> {
        self.events.iter().filter_map(|e| match e {
            Event::Syscall {
                stage,
                pid,
                call,
                outcome,
                ..
            } => Some((*stage, *pid, call, outcome)),
            _ => None,
        })
    }

    /// The netlink requests the run made and the kernel accepted.
    pub fn netlink(&self) -> Vec<&Request> {
        self.calls()
            .filter_map(|(_, _, call, outcome)| match (call, outcome) {
                (Call::Netlink { request }, Outcome::Ok(_)) => Some(request),
                _ => None,
            })
            .collect()
    }

    /// diyc's own pid: the one that made the launch's clone.
    pub fn diyc_pid(&self) -> Option<i32> {
        self.calls().find_map(|(stage, pid, call, _)| {
            (stage == StageId::Clone && matches!(call, Call::Clone3 { .. } | Call::Clone { .. }))
                .then_some(pid)
        })
    }

    /// The namespace `ns`'s inode numbers, the host's and the container's,
    /// from the table the clone showed.
    pub fn ns_inodes(&self, ns: &str) -> Option<(u64, u64)> {
        self.lines(StageId::Clone, false).iter().find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(ns)).then_some(())?;
            let host = words.next()?.parse().ok()?;
            let container = words.next()?.parse().ok()?;
            Some((host, container))
        })
    }

    /// The rest of the first line `stage` showed that starts with `prefix`.
    pub fn after(&self, stage: StageId, inside: bool, prefix: &str) -> Option<String> {
        self.lines(stage, inside)
            .iter()
            .find_map(|l| l.trim_start().strip_prefix(prefix).map(str::to_string))
    }

    /// The lines of the state `stage` showed under `title`, the last time.
    pub fn state(&self, stage: StageId, title: &str) -> Option<&[String]> {
        self.events.iter().rev().find_map(|e| match e {
            Event::State {
                stage: s,
                title: t,
                lines,
                ..
            } if *s == stage && t == title => Some(lines.as_slice()),
            _ => None,
        })
    }

    /// The command the container's first process executed, as given
    /// (the trampoline diyc executes it through left out).
    pub fn command(&self) -> Option<Vec<String>> {
        self.calls().find_map(|(_, _, call, _)| match call {
            Call::Execveat { argv, .. } | Call::Execve { argv, .. } => {
                Some(if argv.first().is_some_and(|a| a == "diyc-trampoline") {
                    argv.iter().skip(2).cloned().collect()
                } else {
                    argv.clone()
                })
            }
            _ => None,
        })
    }

    /// The sentences the stage `stage` said between its calls.
    pub fn notes_of(&self, stage: StageId) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Note { stage: s, text } if *s == stage => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}
