//! The iptables lesson: what MASQUERADE does for a container talking to an
//! outside host, and what that host sees without it (src/stages/iptables/).

use super::draw::{self, Frame, Style, UNSEEN, WIDTH};
use super::outside::Outside;
use super::parts::NET_WATCH;
use super::probes;
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
    let mut sys = Sys::new(&mut shown, StageId::Net);
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
    let script = format!("echo hello | nc -w 2 {OUTSIDE} {PORT}; echo \"nc ended with $?\"");
    let env = s.container_env(name);
    let mut seen = s.launch(plan, &["sh", "-c", &script], env, NET_WATCH, undo)?;
    seen.note("container", ip.to_string());
    // The link the packet leaves by, toward the outside host, as it is now.
    let toward = probes::links()
        .into_iter()
        .find(|l| l.starts_with("vlab "))
        .unwrap_or_default();
    seen.note("leaves by", toward);
    let peer = peer(s);
    seen.note(
        "outside saw",
        peer.map_or("no connection".to_string(), |p| p.to_string()),
    );
    Ok(seen)
}

/// The outside host the container talks to (src/learn/outside.rs).
const OUTSIDE: &str = "10.99.0.2";
const PORT: u16 = 9000;

fn peer(s: &mut Session) -> Option<std::net::Ipv4Addr> {
    s.outside.as_mut().and_then(Outside::peer)
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let seen = run(s, true)?;
    let peer = seen.extra("outside saw").map(str::to_string);
    s.check(
        peer == Some(Outside::LAB.to_string()),
        "the outside host saw this host's address, not the container's: MASQUERADE",
    )?;
    Ok((seen, StageId::Iptables))
}

/// The same run with the MASQUERADE rule taken out: the reply has no way
/// back to a private address.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let seen = run(s, false)?;
    s.effect(
        seen.extra("outside saw") == Some("no connection"),
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

/// The MASQUERADE line of DIYC-POSTROUTING after the run, if there was
/// one: (packets, source, out).
fn masquerade_seen(seen: &Observed) -> Option<(String, String, String)> {
    let lines = seen.state(
        StageId::Iptables,
        "the same counters after the container exited",
    )?;
    lines.iter().find_map(|l| {
        let fields: Vec<&str> = l.strip_prefix("nat:")?.split_whitespace().collect();
        (fields.get(2) == Some(&"MASQUERADE")).then(|| {
            let at = |i: usize| fields.get(i).map_or(UNSEEN.to_string(), |f| f.to_string());
            (at(0), at(7), at(6))
        })
    })
}

/// A box for one hop of the packet's way, and the step down to the next.
fn hop(out: &mut Vec<String>, title: String, lines: Vec<String>, next: Option<&str>, style: Style) {
    out.extend(Frame::new(title).lines(lines).draw(WIDTH, style));
    if let Some(label) = next {
        out.extend(draw::step_down(4, label, style));
    }
}

/// The packet's way from the container to the outside host.
fn path(seen: &Observed, style: Style) -> Vec<String> {
    let container = seen.extra("container").unwrap_or(UNSEEN);
    let eth0 = seen
        .lines(StageId::Net, true)
        .iter()
        .find(|l| l.contains(" eth0 "))
        .and_then(|l| {
            l.split_whitespace()
                .find(|w| w.contains('/'))
                .map(str::to_string)
        })
        .unwrap_or_else(|| UNSEEN.into());
    let gateway = seen
        .netlink()
        .into_iter()
        .find_map(|r| match r {
            crate::sys::Request::AddDefaultRoute { gateway } => Some(gateway.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| UNSEEN.into());
    let bridge = seen
        .after(StageId::Net, false, "bridge ")
        .and_then(|rest| rest.split_once(',').map(|(b, _)| b.replace(" at ", ", ")))
        .unwrap_or_else(|| UNSEEN.into());
    let leaves = seen.extra("leaves by").filter(|l| !l.is_empty());
    let lab_address = leaves.and_then(|l| l.split_whitespace().find(|w| w.contains('/')));
    let lab = lab_address.map(|a| a.split('/').next().unwrap_or(a).to_string());
    let link = leaves.and_then(|l| l.split_whitespace().next());
    let masq = masquerade_seen(seen);
    let source_out = match (&masq, &lab) {
        (Some(_), Some(lab)) => lab.clone(),
        (Some(_), None) => UNSEEN.to_string(),
        (None, _) => container.to_string(),
    };
    let saw = seen.extra("outside saw").unwrap_or(UNSEEN);
    let mut out = Vec::new();
    hop(
        &mut out,
        "the container".into(),
        vec![format!(
            "eth0 {eth0} sends to {OUTSIDE}:{PORT}, from {container}"
        )],
        Some(&format!("its default route: via {gateway}")),
        style,
    );
    hop(
        &mut out,
        format!("the bridge {bridge}"),
        vec!["the host forwards it out of the bridge".into()],
        Some("on its way out: nat POSTROUTING, then DIYC-POSTROUTING"),
        style,
    );
    let rule = match &masq {
        Some((packets, source, out_link)) => vec![
            format!(
                "MASQUERADE for {source} going out {}: {packets} {}",
                match out_link.strip_prefix('!') {
                    Some(not) => format!("of any link but {not}"),
                    None => format!("of {out_link}"),
                },
                if packets == "1" { "packet" } else { "packets" }
            ),
            format!("the source {container} {} {source_out}", style.arrow()),
        ],
        None => vec![
            "no MASQUERADE rule: taken out for this run".into(),
            format!("the source stays {container}"),
        ],
    };
    hop(
        &mut out,
        "DIYC-POSTROUTING".into(),
        rule,
        Some(&match (link, lab_address) {
            (Some(link), Some(address)) => {
                format!("leaves by {link} ({address}), from {source_out}")
            }
            _ => format!("leaves from {source_out}"),
        }),
        style,
    );
    hop(
        &mut out,
        format!("the outside host, {OUTSIDE}:{PORT}"),
        vec![if saw == "no connection" {
            format!("saw no connection: it has no way back to {container}")
        } else {
            format!("saw a connection from {saw}")
        }],
        None,
        style,
    );
    out
}

pub fn pictures(live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    vec![
        draw::picture(
            "One packet of this run, from the container to the outside host, with NAT",
            path(live, style),
        ),
        draw::picture(
            "Without MASQUERADE: the packet leaves with the container's own address",
            path(broken, style),
        ),
    ]
}
