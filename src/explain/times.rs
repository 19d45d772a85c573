//! Where a run's time went, from the times its events carry (`at_us`):
//! one phase from each stage's first event to the next stage's, in
//! whichever process made its calls, diyc on the host or the container's
//! first process. `diyc explain FILE --times` prints them; the startup
//! benchmark takes their medians (`--phases`).

use crate::event::{Event, Outcome, StageId};
use crate::sys::Call;

/// One stretch of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    /// The stage, with the process its calls came from: "rootfs
    /// (container)". The first phase, before any stage, is diyc's own
    /// start and its checks.
    pub name: String,
    pub us: u64,
}

/// The phases of one run. `started` is when diyc was started, if known
/// (else the first event); `ended` when it exited (else the last event).
/// A stage met twice (cgroups before the clone and after the exit) is
/// one phase, their sum, where it first came.
pub fn phases(events: &[Event], started: Option<u64>, ended: Option<u64>) -> Vec<Phase> {
    let diyc = events.iter().find_map(|e| match e {
        Event::Syscall { pid, .. } => Some(*pid),
        _ => None,
    });
    // The container's first process is the child the clone returned;
    // any other pid made a helper's call (iptables, say).
    let container = events.iter().find_map(|e| match e {
        Event::Syscall {
            call: Call::Clone3 { .. } | Call::Clone { .. },
            outcome: Outcome::Ok(child),
            ..
        } => i32::try_from(*child).ok(),
        _ => None,
    });
    let mut timed: Vec<(u64, StageId, Option<i32>)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Stage { stage, at_us } => Some((*at_us, *stage, None)),
            Event::Syscall {
                stage, pid, at_us, ..
            } => Some((*at_us, *stage, Some(*pid))),
            _ => None,
        })
        .collect();
    // An explanation from before diyc kept times has none to split.
    if timed.iter().all(|(at, _, _)| *at == 0) {
        return Vec::new();
    }
    // The container's events reach diyc a moment after they happen.
    timed.sort_by_key(|(at, _, _)| *at);
    // (start, stage, the process of its first call)
    let mut marks: Vec<(u64, StageId, Option<i32>)> = Vec::new();
    for (at, stage, pid) in timed {
        match marks.last_mut() {
            Some((_, s, p)) if *s == stage && (p.is_none() || pid.is_none() || *p == pid) => {
                *p = p.or(pid);
            }
            _ => marks.push((at, stage, pid)),
        }
    }
    let Some(first) = marks.first().map(|m| m.0) else {
        return Vec::new();
    };
    let mut out: Vec<Phase> = Vec::new();
    let mut add = |name: String, us: u64| match out.iter_mut().find(|p| p.name == name) {
        Some(p) => p.us += us,
        None => out.push(Phase { name, us }),
    };
    if let Some(started) = started {
        add(
            "start: diyc's own, and its checks".into(),
            first.saturating_sub(started),
        );
    }
    // Without diyc's exit, the run ends where its last call did.
    let last_call = events
        .iter()
        .filter_map(|e| match e {
            Event::Syscall { at_us, took_us, .. } => Some(at_us + took_us),
            _ => None,
        })
        .max()
        .unwrap_or(first);
    let end = ended.unwrap_or(last_call);
    for (k, (at, stage, pid)) in marks.iter().enumerate() {
        let until = marks.get(k + 1).map_or(end, |next| next.0);
        let side = match pid {
            Some(p) if Some(*p) == diyc => " (diyc)",
            Some(p) if Some(*p) == container => " (container)",
            Some(_) => " (a helper)",
            None => "",
        };
        add(format!("{}{side}", stage.name()), until.saturating_sub(*at));
    }
    out
}

/// The phases as lines of a table, with their total.
pub fn table(phases: &[Phase]) -> Vec<String> {
    let total: u64 = phases.iter().map(|p| p.us).sum();
    let mut lines: Vec<String> = phases
        .iter()
        .map(|p| format!("{:<40} {:>8.2} ms", p.name, p.us as f64 / 1000.0))
        .collect();
    lines.push(format!("{:<40} {:>8.2} ms", "total", total as f64 / 1000.0));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(stage: StageId, pid: i32, at_us: u64) -> Event {
        Event::Syscall {
            stage,
            pid,
            call: Call::Chdir { path: "/".into() },
            text: "chdir(\"/\")".into(),
            outcome: Outcome::Ok(0),
            at_us,
            took_us: 1,
        }
    }

    #[test]
    fn each_stage_lasts_until_the_next_and_a_stage_met_twice_is_summed() {
        let events = [
            Event::Stage {
                stage: StageId::Cgroups,
                at_us: 1_000,
            },
            call(StageId::Cgroups, 7, 1_100),
            Event::Syscall {
                stage: StageId::Clone,
                pid: 7,
                call: Call::Clone3 {
                    flags: 0,
                    exit_signal: 17,
                    cgroup_fd: None,
                },
                text: "clone3(...)".into(),
                outcome: Outcome::Ok(9),
                at_us: 1_500,
                took_us: 40,
            },
            // The container's calls, arriving after diyc's next one.
            call(StageId::Cgroups, 7, 4_000),
            call(StageId::Rootfs, 9, 2_000),
            call(StageId::Cleanup, 7, 4_500),
            // A helper's call, by a pid neither diyc's nor the child's.
            call(StageId::Iptables, 12, 4_700),
        ];
        let phases = phases(&events, Some(200), Some(5_000));
        let got: Vec<(&str, u64)> = phases.iter().map(|p| (p.name.as_str(), p.us)).collect();
        assert_eq!(
            got,
            [
                ("start: diyc's own, and its checks", 800),
                ("cgroups (diyc)", 500 + 500),
                ("clone (diyc)", 500),
                ("rootfs (container)", 2_000),
                ("cleanup (diyc)", 200),
                ("iptables (a helper)", 300),
            ]
        );
        assert_eq!(
            table(&phases).last().map(String::as_str),
            Some("total                                        4.80 ms")
        );
        // Without diyc's exit, the last phase ends with the last call.
        let open_ended = super::phases(&events, None, None);
        assert_eq!(
            open_ended.last().map(|p| (p.name.as_str(), p.us)),
            Some(("iptables (a helper)", 1))
        );
    }

    #[test]
    fn an_explanation_without_times_has_no_phases() {
        let events = [call(StageId::Uts, 7, 0), call(StageId::Rootfs, 9, 0)];
        assert!(phases(&events, None, None).is_empty());
    }
}
