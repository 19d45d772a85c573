//! The pid lesson: the command becomes process 1, and a fresh /proc shows
//! only its namespace (src/stages/pid.rs).

use super::draw::{self, Frame, Style, UNSEEN, WIDTH};
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
        pid: Some(Pid::new(with_proc)),
        ..Plan::default()
    };
    // The shell, and the few it starts to count: the host has hundreds.
    let script = "n=$(ls /proc | grep -c '^[0-9]'); echo \"I am pid $$; /proc lists $n processes\"; [ $n -le 5 ]";
    let env = s.host_env();
    s.launch(
        plan,
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

/// What the pid experiment could leave on the host: a procfs over the
/// host's own /proc. Nothing else mounted meanwhile is the lesson's.
fn left(before: &[String], after: &[String]) -> Vec<String> {
    probes::mounts_left(before, after, &|point, _, _| point == "/proc")
}

/// The same without a fresh /proc: the host's processes show through.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let before = probes::mounts();
    let seen = run(s, false)?;
    s.effect(
        seen.code != 0,
        "without a new /proc, ps and /proc show the host's processes",
    )?;
    s.undone_mounts(
        &left(&before, &probes::mounts()),
        "the host's mount table is as it was at /proc: nothing was mounted there",
    )?;
    Ok(seen)
}

/// One box per PID namespace, the container's inside the host's, with
/// each process's number in each.
fn tree(seen: &Observed, style: Style) -> Vec<String> {
    let show = |v: Option<String>| v.unwrap_or_else(|| UNSEEN.to_string());
    let (host_ns, container_ns) = seen
        .ns_inodes("pid")
        .map_or((None, None), |(h, c)| (Some(h), Some(c)));
    let child = seen.child();
    let name = seen
        .command()
        .and_then(|argv| argv.first().cloned())
        .unwrap_or_else(|| "the command".into());
    let nspid = seen
        .after(StageId::Pid, false, "host pid ")
        .and_then(|rest| {
            let (_, chain) = rest.split_once("(NSpid: ")?;
            Some(chain.trim_end_matches(')').to_string())
        });
    let inner_pid = nspid
        .as_deref()
        .and_then(|c| c.rsplit(' ').next())
        .map(str::to_string);
    let listed = seen.after(StageId::Pid, true, "processes in /proc: ");
    let inner = Frame::new(format!(
        "the container's PID namespace {}",
        show(container_ns.map(|n| n.to_string()))
    ))
    .line(format!(
        "{name}: host pid {}, pid {} here (NSpid: {})",
        show(child.map(|p| p.to_string())),
        show(inner_pid),
        show(nspid)
    ))
    .line(format!("/proc here lists: {}", show(listed)))
    .draw_exactly(WIDTH - 4, style);
    let mut arrow = draw::step_down(2, "clone3 with CLONE_NEWPID", style);
    arrow.push(String::new());
    Frame::new(format!(
        "the host's PID namespace {}",
        show(host_ns.map(|n| n.to_string()))
    ))
    .line(format!(
        "diyc: pid {}",
        show(seen.diyc_pid().map(|p| p.to_string()))
    ))
    .lines(arrow.into_iter().filter(|l| !l.is_empty()))
    .drawn(inner)
    .draw_exactly(WIDTH, style)
}

pub fn pictures(live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    let without = broken.after(StageId::Pid, true, "processes in /proc: ");
    vec![
        draw::picture(
            "The PID namespaces of this run: one process, a number in each",
            tree(live, style),
        ),
        draw::picture(
            "Without a fresh /proc: still pid 1, but /proc is the host's",
            Frame::new("the same process, no /proc of its own")
                .line(format!(
                    "getpid() = {}",
                    broken
                        .after(StageId::Pid, true, "getpid() = ")
                        .unwrap_or_else(|| UNSEEN.into())
                ))
                .line(format!(
                    "/proc lists: {} (the host's)",
                    without.unwrap_or_else(|| UNSEEN.into())
                ))
                .draw(WIDTH, style),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unrelated_mount_is_not_left_by_the_experiment() {
        let before = vec!["/ ext4 /dev/vda1".to_string(), "/proc proc proc".into()];
        let mut after = before.clone();
        after.push("/srv/someone tmpfs tmpfs".into());
        assert!(left(&before, &after).is_empty());
        after.push("/proc proc proc".into());
        assert_eq!(left(&before, &after), vec!["/proc proc proc"]);
    }
}
