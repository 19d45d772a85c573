//! The uts lesson: a hostname of the container's own (src/stages/uts.rs).

use super::draw::{self, Frame, Style, UNSEEN, WIDTH};
use super::probes;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::observe;
use crate::stages::order::Plan;
use crate::stages::uts::Uts;
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../lessons/uts.md");

fn alone(hostname: &str) -> Plan {
    Plan {
        uts: Some(Uts {
            hostname: hostname.into(),
            domainname: None,
        }),
        ..Plan::default()
    }
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let host = observe::hostname();
    let env = s.host_env();
    let seen = s.launch(
        alone("diyc-lesson"),
        &["hostname"],
        env,
        &[(StageId::Uts, probes::hostname)],
        Undo::new(),
    )?;
    s.check(
        seen.saw(StageId::Uts, true, "hostname: diyc-lesson") && observe::hostname() == host,
        &format!("inside, the hostname is diyc-lesson; the host is still {host}"),
    )?;
    Ok((seen, StageId::Uts))
}

/// Without its own UTS namespace, a process renames whoever shares it.
/// Shown inside a throwaway namespace that plays the host, so the real
/// host keeps its name.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let host = observe::hostname();
    let script = "echo \"the (pretend) host is $(hostname)\"; \
                  sh -c 'hostname renamed-by-a-guest'; \
                  echo \"a process sharing its UTS namespace ran hostname: the host is now $(hostname)\"; \
                  [ \"$(hostname)\" = renamed-by-a-guest ]";
    let env = s.host_env();
    let mut seen = s.launch(
        alone("pretend-host"),
        &["sh", "-c", script],
        env,
        &[(StageId::Uts, probes::hostname)],
        Undo::new(),
    )?;
    s.effect(
        seen.code == 0,
        "the shared hostname changed for everyone in the namespace",
    )?;
    let now = observe::hostname();
    seen.note("host's hostname after", now.clone());
    s.undone(now == host, &format!("the real host is still {host}"))?;
    Ok(seen)
}

/// The name a launch's sethostname gave, as the trace shows it.
fn named(seen: &Observed) -> Option<String> {
    seen.calls().find_map(|(_, _, call, _)| match call {
        crate::sys::Call::Sethostname { name } => Some(name.clone()),
        _ => None,
    })
}

/// Two boxes, the host's UTS namespace and the container's, each with
/// its name and inode number as this run saw them.
pub fn pictures(live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    let inodes = live.ns_inodes("uts");
    let inode = |n: Option<u64>| n.map_or(UNSEEN.to_string(), |n| n.to_string());
    let host_name = live
        .after(StageId::Uts, false, "host's hostname: ")
        .map(|n| n.trim_end_matches(" (unchanged)").to_string());
    let pid = live.child().map_or(UNSEEN.to_string(), |p| p.to_string());
    let half = (WIDTH - 6) / 2;
    let host = Frame::new("the host")
        .line(format!(
            "hostname: {}",
            host_name.unwrap_or_else(|| UNSEEN.into())
        ))
        .line(format!("UTS namespace: {}", inode(inodes.map(|i| i.0))))
        .draw_exactly(half, style);
    let container = Frame::new(format!("the container, pid {pid}"))
        .line(format!(
            "hostname: {}",
            named(live).unwrap_or_else(|| UNSEEN.into())
        ))
        .line(format!("UTS namespace: {}", inode(inodes.map(|i| i.1))))
        .draw_exactly(half, style);
    let link = vec![String::new(), "  ".into(), "  ".into()];
    let mut pictures = vec![draw::picture(
        "The UTS namespaces of this run: two names, one in each",
        draw::beside(&host, &link, &container),
    )];
    let shared = broken.ns_inodes("uts").map(|i| i.1);
    pictures.push(draw::picture(
        "Without a namespace of its own: whoever shares one renames it for all",
        Frame::new(format!(
            "one UTS namespace, {}, playing the host",
            inode(shared)
        ))
        .line(format!(
            "hostname: {} {} renamed-by-a-guest{}",
            named(broken).unwrap_or_else(|| UNSEEN.into()),
            style.arrow(),
            if broken.code == 0 {
                ""
            } else {
                " (the rename was not seen)"
            }
        ))
        .line("renamed by a process that shares the namespace: everyone in it sees the new name")
        .line(format!(
            "the real host's hostname: {}",
            broken.extra("host's hostname after").unwrap_or(UNSEEN)
        ))
        .draw(WIDTH, style),
    ));
    pictures
}
