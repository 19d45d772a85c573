//! The hardening lesson: what the container's root may no longer do, and
//! what it may do without the stage (src/stages/hardening.rs).

use super::parts::ROOT_WATCH;
use super::probes;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::stages::hardening::Hardening;
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../lessons/hardening.md");

/// Exit 0: both refused; 3: both allowed; 1: anything between.
const TRY: &str = "m=refused; mount -t tmpfs none /mnt 2>/dev/null && m=allowed; echo \"mount: $m\"; \
                   s=refused; { echo x > /proc/sys/kernel/domainname; } 2>/dev/null && s=written; echo \"sysctl: $s\"; \
                   [ $m$s = refusedrefused ] && exit 0; [ $m$s = allowedwritten ] && exit 3; exit 1";

fn run(s: &mut Session, hardened: bool) -> Result<Observed> {
    let mut undo = Undo::new();
    let name = if hardened {
        "lesson-hardening"
    } else {
        "lesson-soft"
    };
    let mut plan = s.base(&mut undo, name, false)?;
    if hardened {
        plan.hardening = Some(Hardening::defaults()?);
    }
    let env = s.container_env(name);
    s.launch(plan.build(), &["sh", "-c", TRY], env, ROOT_WATCH, undo)
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let seen = run(s, true)?;
    s.check(
        seen.code == 0
            && seen.saw(StageId::Hardening, true, "NoNewPrivs: 1")
            && seen.saw(StageId::Hardening, true, "/proc/sys: mounted read-only"),
        "no SYS_ADMIN (mount refused), no_new_privs set, /proc/sys read-only",
    )?;
    Ok((seen, StageId::Hardening))
}

/// Without the stage, root inside mounts and writes a kernel setting; both
/// stay in the container's own namespaces.
pub fn broken(s: &mut Session) -> Result<()> {
    let mounts = probes::mounts();
    let domain = probes::domainname();
    let seen = run(s, false)?;
    s.effect(
        seen.code == 3,
        "without hardening, root in the container can mount and change kernel settings",
    )?;
    s.undone(
        probes::mounts() == mounts && probes::domainname() == domain,
        "the host's mount table and domain name are as they were: those changes lived in the container's own namespaces",
    )
}
