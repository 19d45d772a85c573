//! What a lesson's launch produced, kept so the lesson can check what
//! happened and draw it: every event, the exit status, and what the
//! stages found worth saying.

use crate::event::{Event, StageId};
use crate::sys::Call;

/// What a lesson's run produced: its exit status, and the views it showed.
pub struct Observed {
    pub code: i32,
    pub notes: Vec<String>,
    pub events: Vec<Event>,
    /// What the lesson itself saw around the run, for its pictures: (what, value).
    pub extra: Vec<(String, String)>,
}

impl Observed {
    /// Every line the stage `stage` showed, inside (`true`) or outside.
    pub fn lines(&self, stage: StageId, inside: bool) -> Vec<String> {
        self.looks(stage, inside).into_iter().flatten().collect()
    }

    /// Each time the stage `stage` showed one side, in order.
    pub fn looks(&self, stage: StageId, inside: bool) -> Vec<Vec<String>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::State {
                    stage: s,
                    inside: i,
                    lines,
                    ..
                } if *s == stage && *i == inside => Some(lines.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn saw(&self, stage: StageId, inside: bool, needle: &str) -> bool {
        self.lines(stage, inside).iter().any(|l| l.contains(needle))
    }

    /// The pid of the launch's first process, as the clone returned it.
    pub fn child(&self) -> Option<i32> {
        self.events.iter().find_map(|e| match e {
            Event::Syscall {
                call: Call::Clone3 { .. } | Call::Clone { .. },
                outcome: crate::event::Outcome::Ok(pid),
                ..
            } if e.stage() == StageId::Clone => i32::try_from(*pid).ok(),
            _ => None,
        })
    }
}
