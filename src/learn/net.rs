//! The net lesson: a network namespace joined to the host by a veth pair,
//! and the island a namespace is without one (src/stages/net/).

use super::draw::{self, Frame, Style, UNSEEN};
use super::parts::NET_WATCH;
use super::probes;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::sys::Request;
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
    let mut seen = s.launch(plan, &["sh", "-c", &script], env, NET_WATCH, undo)?;
    seen.note("gateway", gateway.to_string());
    seen.note("bridge", s.bridge.name.clone());
    if s.opts.lab {
        seen.note("lab", "yes");
    }
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

/// The container's interfaces, as it listed them: (name, address).
fn interfaces(seen: &Observed) -> Vec<(String, String)> {
    seen.lines(StageId::Net, true)
        .iter()
        .filter_map(|l| {
            let mut words = l.split_whitespace().skip(1);
            let name = words.next()?;
            let address = words.find(|w| w.contains('/')).unwrap_or("no address");
            Some((name.to_string(), address.to_string()))
        })
        .collect()
}

/// The host's box: the bridge with its address, and the host's end of
/// the pair when there is one.
fn host(seen: &Observed) -> Frame {
    // The bridge's address, from the host's links as the stage listed
    // them: `N: diyc0 UP 172.16.0.1/16`.
    let name = seen.extra("bridge").unwrap_or(UNSEEN);
    let bridge = seen
        .lines(StageId::Net, false)
        .iter()
        .find_map(|l| {
            let mut words = l.split_whitespace().skip(1);
            (words.next() == Some(name)).then_some(())?;
            words
                .find(|w| w.contains('/'))
                .map(|w| w.trim_end_matches(',').to_string())
        })
        .map_or_else(
            || format!("{name} (bridge) {UNSEEN}"),
            |address| format!("{name} (bridge) {address}"),
        );
    let title = if seen.extra("lab").is_some() {
        "the lab (the host's side)"
    } else {
        "the host"
    };
    let veth = seen.netlink().into_iter().find_map(|r| match r {
        Request::AddVeth(v) => Some(format!(
            "{}: on {}",
            v.name,
            v.master.as_deref().unwrap_or("no bridge")
        )),
        _ => None,
    });
    Frame::new(title)
        .line(bridge)
        .line(veth.unwrap_or_else(|| "no veth end for it".into()))
}

fn container(seen: &Observed) -> Frame {
    let pid = seen.child().map_or(UNSEEN.to_string(), |p| p.to_string());
    let mut frame = Frame::new(format!("the container, pid {pid}"));
    let found = interfaces(seen);
    if found.is_empty() {
        frame = frame.line(format!("interfaces: {UNSEEN}"));
    }
    // lo first, so eth0 sits on the row of the host's end of the pair.
    for (name, address) in found.iter().filter(|(n, _)| n == "lo") {
        frame = frame.line(format!("{name}: {address}, only itself"));
    }
    for (name, address) in found.iter().filter(|(n, _)| n != "lo") {
        frame = frame.line(format!("{name}: {address}"));
    }
    frame.line(format!(
        "ping {}: {}",
        seen.extra("gateway").unwrap_or(UNSEEN),
        if seen.code == 0 {
            "the bridge answered"
        } else {
            "no answer"
        }
    ))
}

pub fn pictures(live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    vec![
        draw::picture(
            "The network of this run: a veth pair from the bridge into the container",
            draw::pair(
                &host(live),
                &["", "veth pair", style.both_ways()],
                &container(live),
                style,
            ),
        ),
        draw::picture(
            "Without a veth pair: the container's namespace is an island",
            draw::pair(&host(broken), &["", "no cable"], &container(broken), style),
        ),
    ]
}
