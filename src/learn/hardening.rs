//! The hardening lesson: what the container's root may no longer do, and
//! what it may do without the stage (src/stages/hardening/). The hardened
//! run also has its cgroup's device policy and its own session keyring,
//! so the lesson shows every part of what `diyc run` takes away.

use super::parts::ROOT_WATCH;
use super::probes;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::{Event, StageId};
use crate::stages::cgroups::{Limits, devices};
use crate::stages::hardening::Hardening;
use crate::stages::session::{Session as SessionStage, Stdio};
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../lessons/hardening.md");

/// Exit 0: all three refused; 3: all three allowed; 1: anything between.
/// A new user namespace is what the seccomp filter refuses here.
const TRY: &str = "m=refused; mount -t tmpfs none /mnt 2>/dev/null && m=allowed; echo \"mount: $m\"; \
                   s=refused; { echo x > /proc/sys/kernel/domainname; } 2>/dev/null && s=written; echo \"sysctl: $s\"; \
                   u=refused; unshare -U true 2>/dev/null && u=allowed; echo \"a new user namespace: $u\"; \
                   echo \"open descriptors of process 1, this shell:\"; ls /proc/1/fd; \
                   [ $m$s$u = refusedrefusedrefused ] && exit 0; [ $m$s$u = allowedwrittenallowed ] && exit 3; exit 1";

fn run(s: &mut Session, hardened: bool) -> Result<Observed> {
    let mut undo = Undo::new();
    let name = if hardened {
        "lesson-hardening"
    } else {
        "lesson-soft"
    };
    let mut plan = s.base(&mut undo, name, false)?;
    if hardened {
        let cgroups = s.cgroups(name, Limits::default())?;
        plan.cgroups = Some(cgroups.with_devices(devices::DEFAULT.to_vec()));
        plan.session = Some(SessionStage::new(false, Stdio::default(), StageId::Rootfs));
        plan.hardening = Some(Hardening::defaults(s.store)?);
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
    s.check(
        seen.saw(StageId::Hardening, true, "Seccomp: 2"),
        "a seccomp filter: the new user namespace was refused before it reached the kernel",
    )?;
    let device_policy = seen.events.iter().any(|e| match e {
        Event::Syscall { text, .. } => {
            text.contains("devices.deny") || text.contains("BPF_PROG_ATTACH")
        }
        _ => false,
    });
    s.check(
        device_policy,
        "the cgroup lets it use only its own devices (devices.deny, or a BPF program on v2)",
    )?;
    Ok((seen, StageId::Hardening))
}

/// Without the stage, root inside mounts and writes a kernel setting; both
/// stay in the container's own namespaces.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let mounts = probes::mounts();
    let domain = probes::domainname();
    let seen = run(s, false)?;
    s.effect(
        seen.code == 3,
        "without hardening, root in the container can mount, change kernel settings and make a user namespace",
    )?;
    s.undone(
        probes::mounts() == mounts && probes::domainname() == domain,
        "the host's mount table and domain name are as they were: those changes lived in the container's own namespaces",
    )?;
    Ok(seen)
}
