//! Every change diyc makes to the host is pushed here as it is made, with
//! the action that reverses it. On the way out the actions run newest
//! first: all of them after a failure, only the `Always` ones after a
//! success (a container's directory outlives its run; its cgroup does not).

use crate::error::Result;
use crate::event::{Heading, StageId};
use crate::sys::{Quiet, Sys};
use crate::warnings;

/// What `--explain` prints above the clean-up.
pub const HEADING: Heading = Heading {
    title: "cleanup: the host as it was",
    why: "What the run changed on the host is undone, newest first.",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    OnFailure,
}

/// How to reverse one change, recording what it does through the seam.
type Action = Box<dyn FnOnce(&mut Sys) -> Result<()>>;

struct Step {
    what: String,
    when: When,
    action: Action,
}

#[derive(Default)]
pub struct Undo {
    steps: Vec<Step>,
}

impl Undo {
    pub fn new() -> Self {
        Undo::default()
    }

    pub fn push(
        &mut self,
        what: impl Into<String>,
        when: When,
        action: impl FnOnce(&mut Sys) -> Result<()> + 'static,
    ) {
        self.steps.push(Step {
            what: what.into(),
            when,
            action: Box::new(action),
        });
    }

    /// Make directory `path` (mode 0755) through the seam, its removal
    /// the next step back.
    pub fn mkdir(&mut self, sys: &mut Sys, path: &str) -> Result<()> {
        sys.call(crate::sys::Call::Mkdirat {
            path: path.to_string(),
            mode: 0o755,
        })?;
        let gone = path.to_string();
        self.push(format!("removing {path}"), When::Always, move |sys| {
            sys.call(crate::sys::Call::Rmdir { path: gone }).map(drop)
        });
        Ok(())
    }

    /// Keep every change: what was made now belongs to something that
    /// outlives this diyc (an engine's container, until `delete`).
    pub fn keep(&mut self) {
        self.steps.clear();
    }

    /// Run the steps that apply, newest first, recording what they do
    /// through `sys`. A step that fails is a warning for the user and the
    /// rest still run: one stuck cgroup must not keep the others from
    /// being cleaned up.
    pub fn finish(&mut self, sys: &mut Sys, success: bool) {
        if self
            .steps
            .iter()
            .all(|s| success && s.when == When::OnFailure)
        {
            self.steps.clear();
            return;
        }
        sys.stage(StageId::Cleanup);
        while let Some(step) = self.steps.pop() {
            if success && step.when == When::OnFailure {
                continue;
            }
            sys.note(step.what.clone());
            if let Err(e) = (step.action)(sys) {
                warnings::warn(format!("cleanup: {}: {e}", step.what));
            }
        }
    }
}

impl Drop for Undo {
    /// Anything not finished explicitly is a failure path, whose error
    /// the caller is already returning.
    fn drop(&mut self) {
        let mut quiet = Quiet;
        let mut sys = Sys::new(&mut quiet, StageId::Cleanup);
        self.finish(&mut sys, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn steps_run_newest_first_and_success_skips_failure_only_steps() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut undo = Undo::new();
        for (i, when) in [When::Always, When::OnFailure, When::Always]
            .into_iter()
            .enumerate()
        {
            let log = log.clone();
            undo.push(format!("step {i}"), when, move |_| {
                log.borrow_mut().push(i);
                Ok(())
            });
        }
        let mut quiet = Quiet;
        undo.finish(&mut Sys::new(&mut quiet, StageId::Cleanup), true);
        assert_eq!(*log.borrow(), vec![2, 0]);
    }

    #[test]
    fn dropping_runs_everything_even_after_a_failing_step() {
        let log = Rc::new(RefCell::new(Vec::new()));
        {
            let mut undo = Undo::new();
            let l = log.clone();
            undo.push("first", When::OnFailure, move |_| {
                l.borrow_mut().push("first");
                Ok(())
            });
            undo.push("second", When::Always, |_| {
                Err(crate::error::Error::Container("stuck".into()))
            });
        }
        assert_eq!(*log.borrow(), vec!["first"]);
        // The failure is said, though nobody finished the log by hand.
        assert!(
            crate::warnings::take()
                .iter()
                .any(|w| w == "diyc: cleanup: second: stuck")
        );
    }
}
