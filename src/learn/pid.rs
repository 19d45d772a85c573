//! The pid lesson: the command becomes process 1, and a fresh /proc shows
//! only its namespace (src/stages/pid.rs).

use super::probes;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::stages::order::Plan;
use crate::stages::pid::Pid;
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../lessons/pid.md");

fn run(s: &mut Session, with_proc: bool) -> Result<Observed> {
    let plan = Plan {
        mount: true,
        pid: Some(Pid {
            mount_proc: with_proc,
        }),
        ..Plan::default()
    };
    // The shell, and the few it starts to count: the host has hundreds.
    let script = "n=$(ls /proc | grep -c '^[0-9]'); echo \"I am pid $$; /proc lists $n processes\"; [ $n -le 5 ]";
    let env = s.host_env();
    s.launch(
        plan.build(),
        &["sh", "-c", script],
        env,
        &[(StageId::Pid, probes::nothing)],
        Undo::new(),
    )
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let seen = run(s, true)?;
    s.check(
        seen.saw(StageId::Pid, true, "getpid() = 1") && seen.code == 0,
        "the command is pid 1 and /proc lists only the container's processes",
    )?;
    Ok((seen, StageId::Pid))
}

/// The same without a fresh /proc: the host's processes show through.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let mounts = probes::mounts();
    let seen = run(s, false)?;
    s.effect(
        seen.code != 0,
        "without a new /proc, ps and /proc show the host's processes",
    )?;
    s.undone(
        probes::mounts() == mounts,
        "the host's mount table is as it was",
    )?;
    Ok(seen)
}
