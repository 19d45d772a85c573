//! The iptables lesson: what MASQUERADE does for a container talking to an
//! outside host, and what that host sees without it (src/stages/iptables/).

use super::outside::Outside;
use super::parts::NET_WATCH;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::stages::iptables;
use crate::sys::Sys;
use crate::undo::{Undo, When};

pub const TEXT: &str = include_str!("../../lessons/iptables.md");

/// The outside host, made at the first of the lesson's runs.
fn outside(s: &mut Session) -> Result<()> {
    if s.outside.is_some() {
        return Ok(());
    }
    let mut shown = s.scaffolding();
    let mut sys = Sys::new(&mut shown, StageId::Iptables);
    sys.note(if s.opts.lab {
        "the lab's outside host: a process holding a network namespace, a veth pair to it, a TCP port listening there"
    } else {
        "an outside host for the lesson: a process holding a network namespace of its own, joined to this host by a veth pair (vlab, 10.99.0.1/24) that goes with it at the end"
    });
    s.outside = Some(Outside::new(&mut sys)?);
    Ok(())
}

/// diyc's MASQUERADE rule, as `iptables` arguments after `op`.
fn masquerade(s: &Session, op: &str) -> Vec<String> {
    iptables::masquerade_rule(op, &s.bridge)
}

fn run(s: &mut Session, masquerade_on: bool) -> Result<Observed> {
    outside(s)?;
    let mut undo = Undo::new();
    let name = if masquerade_on {
        "lesson-nat"
    } else {
        "lesson-no-nat"
    };
    let mut plan = s.base(&mut undo, name, false)?;
    let ip = s.bridged(&mut undo, &mut plan, name)?;
    plan.iptables = Some(s.nat(ip));
    if !masquerade_on {
        let mut shown = s.scaffolding();
        let mut sys = Sys::new(&mut shown, StageId::Iptables);
        sys.stage(StageId::Iptables);
        sys.note("the experiment: diyc's MASQUERADE rule taken out for one run");
        let delete = masquerade(s, "-D");
        iptables::iptables(
            &mut sys,
            &delete.iter().map(String::as_str).collect::<Vec<_>>(),
        )?;
        // Put back by the run's own clean-up, however the run ends.
        let add = masquerade(s, "-A");
        undo.push(
            "putting diyc's MASQUERADE rule back",
            When::Always,
            move |sys| {
                let args: Vec<&str> = add.iter().map(String::as_str).collect();
                iptables::iptables(sys, &args).map(drop)
            },
        );
    }
    let script = "echo hello | nc -w 2 10.99.0.2 9000; echo \"nc ended with $?\"";
    let env = s.container_env(name);
    s.launch(plan.build(), &["sh", "-c", script], env, NET_WATCH, undo)
}

fn peer(s: &mut Session) -> Option<std::net::Ipv4Addr> {
    s.outside.as_mut().and_then(Outside::peer)
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let seen = run(s, true)?;
    let peer = peer(s);
    s.check(
        peer == Some(Outside::LAB),
        "the outside host saw this host's address, not the container's: MASQUERADE",
    )?;
    Ok((seen, StageId::Iptables))
}

/// The same run with the MASQUERADE rule taken out: the reply has no way
/// back to a private address.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let seen = run(s, false)?;
    let peer = peer(s);
    s.effect(
        peer.is_none(),
        "without MASQUERADE the outside host got a packet from 172.16.x.x and could not answer it",
    )?;
    let mut shown = s.scaffolding();
    let mut sys = Sys::new(&mut shown, StageId::Iptables);
    let check = masquerade(s, "-C");
    let back = iptables::iptables(
        &mut sys,
        &check.iter().map(String::as_str).collect::<Vec<_>>(),
    )? == 0;
    s.undone(back, "the MASQUERADE rule is back")?;
    Ok(seen)
}
