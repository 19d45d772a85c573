//! The uts lesson: a hostname of the container's own (src/stages/uts.rs).

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
        alone("diyc-lesson").build(),
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
    let seen = s.launch(
        alone("pretend-host").build(),
        &["sh", "-c", script],
        env,
        &[(StageId::Uts, probes::hostname)],
        Undo::new(),
    )?;
    s.effect(
        seen.code == 0,
        "the shared hostname changed for everyone in the namespace",
    )?;
    s.undone(
        observe::hostname() == host,
        &format!("the real host is still {host}"),
    )?;
    Ok(seen)
}
