//! The net lesson: a network namespace joined to the host by a veth pair,
//! and the island a namespace is without one (src/stages/net/).

use super::parts::NET_WATCH;
use super::probes;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../lessons/net.md");

fn run(s: &mut Session, bridged: bool) -> Result<(Observed, Option<std::net::Ipv4Addr>)> {
    let mut undo = Undo::new();
    let name = if bridged {
        "lesson-net"
    } else {
        "lesson-island"
    };
    let mut plan = s.base(&mut undo, name, false)?;
    let ip = if bridged {
        Some(s.bridged(&mut undo, &mut plan, name)?)
    } else {
        s.island(&mut undo, &mut plan, name)?;
        None
    };
    let gateway = s.bridge.gateway();
    let script = format!(
        "ip -4 -o addr show; ping -c 1 -W 2 {gateway} >/dev/null && echo 'the bridge answered'"
    );
    let env = s.container_env(name);
    let seen = s.launch(plan.build(), &["sh", "-c", &script], env, NET_WATCH, undo)?;
    Ok((seen, ip))
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let (seen, ip) = run(s, true)?;
    let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
    let gateway = s.bridge.gateway();
    s.check(
        seen.code == 0 && seen.saw(StageId::Net, true, &ip),
        &format!("eth0 has {ip} inside and the bridge at {gateway} answers"),
    )?;
    Ok((seen, StageId::Net))
}

/// No veth pair: nothing reaches the bridge.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let before = probes::links();
    let (seen, _) = run(s, false)?;
    s.effect(
        seen.code != 0,
        "without a veth pair the namespace is an island: the bridge cannot be reached",
    )?;
    let gone = seen
        .child()
        .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
    s.undone(
        gone && probes::links() == before,
        "its network namespace went with its last process; the host's links are as they were",
    )?;
    Ok(seen)
}
