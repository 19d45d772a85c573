//! The hardening lesson: what the container's root may no longer do, and
//! what it may do without the stage (src/stages/hardening/). The hardened
//! run also has its cgroup's device policy and its own session keyring,
//! so the lesson shows every part of what `diyc run` takes away.

use super::draw::{self, Frame, Style, UNSEEN, WIDTH};
use super::parts::ROOT_WATCH;
use super::probes;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::{Event, StageId};
use crate::stages::cgroups::{Limits, devices};
use crate::stages::hardening::Hardening;
use crate::stages::session::{Session as SessionStage, Stdio};
use crate::sys::{CAPABILITIES, Call};
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
    s.launch(plan, &["sh", "-c", TRY], env, ROOT_WATCH, undo)
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
    // Only what the experiment itself could leave: its tmpfs on /mnt
    // and its domain name.
    let mut left: Vec<String> =
        probes::mounts_left(&mounts, &probes::mounts(), &|point, _, _| point == "/mnt")
            .into_iter()
            .map(|m| format!("the mount {m}"))
            .collect();
    let now = probes::domainname();
    if now != domain {
        left.extend(now);
    }
    s.undone_unless(
        &left,
        "the host's mount table and domain name are as they were: those changes lived in the container's own namespaces",
    )?;
    Ok(seen)
}

/// Capability names without their CAP_ prefix.
fn cap(n: u32) -> String {
    CAPABILITIES.get(n as usize).map_or_else(
        || n.to_string(),
        |c| c.trim_start_matches("CAP_").to_string(),
    )
}

/// What the hardened run kept and what it took away, each from the run:
/// its calls, its notes, and what the process read of itself.
fn kept_and_lost(seen: &Observed) -> (Vec<String>, Vec<String>) {
    let dropped: Vec<String> = seen
        .calls()
        .filter_map(|(_, _, call, _)| match call {
            Call::CapbsetDrop { cap: n } => Some(cap(*n)),
            _ => None,
        })
        .collect();
    let kept: Vec<String> = seen
        .after(StageId::Hardening, true, "CapEff: ")
        .and_then(|l| l.split_once(" = ").map(|(_, names)| names.to_string()))
        .map(|names| names.split('|').map(str::to_string).collect())
        .unwrap_or_default();
    let (mut masked, mut read_only) = (Vec::new(), Vec::new());
    for (stage, _, call, _) in seen.calls() {
        if let (
            StageId::Hardening,
            Call::Mount {
                source,
                target,
                flags,
                ..
            },
        ) = (stage, call)
        {
            let remount = flags & libc::MS_REMOUNT != 0;
            if remount && flags & libc::MS_RDONLY != 0 {
                read_only.push(target.clone());
            } else if source.as_deref() == Some("/dev/null")
                || (flags & libc::MS_RDONLY != 0 && !remount)
            {
                masked.push(target.clone());
            }
        }
    }
    let seccomp = seen
        .notes_of(StageId::Hardening)
        .into_iter()
        .find_map(|n| n.strip_prefix("seccomp: "))
        .and_then(|n| n.split(", the rest").next())
        .map(str::to_string);
    let count = |list: &[String]| {
        if list.is_empty() {
            UNSEEN.to_string()
        } else {
            list.len().to_string()
        }
    };
    let left = vec![
        format!("{} capabilities: {}", count(&kept), kept.join(" ")),
        format!("system calls: {}", seccomp.unwrap_or_else(|| UNSEEN.into())),
    ];
    let status = |field: &str| {
        seen.after(StageId::Hardening, true, field)
            .unwrap_or_else(|| UNSEEN.into())
    };
    let right = vec![
        format!(
            "{} capabilities, dropped from the bounding set: {}",
            count(&dropped),
            dropped.join(" ")
        ),
        format!(
            "new privileges: NoNewPrivs {}, so setuid files grant nothing",
            status("NoNewPrivs: ")
        ),
        format!(
            "other system calls: Seccomp {}, a filter refuses them",
            status("Seccomp: ").split(' ').next().unwrap_or(UNSEEN)
        ),
        format!("masked ({}): {}", masked.len(), masked.join(" ")),
        format!("read-only ({}): {}", read_only.len(), read_only.join(" ")),
        if seen.code == 0 {
            "mount, sysctl, user ns: all refused".into()
        } else {
            format!("mount, sysctl, user ns: exit {}", seen.code)
        },
    ];
    (left, right)
}

pub fn pictures(live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    let (kept, lost) = kept_and_lost(live);
    let table = draw::columns(
        "what root in the container keeps",
        &kept,
        "what it lost",
        &lost,
        WIDTH,
        style,
    );
    let soft = match broken.code {
        3 => "mount: allowed; /proc/sys/kernel/domainname: written; a new user namespace: allowed",
        _ => "the three tries did not all succeed",
    };
    vec![
        draw::picture(
            "What the container's root kept in this run, and what hardening took",
            table.lines().map(str::to_string).collect(),
        ),
        draw::picture(
            "Without the hardening stage: root in the container keeps it all",
            Frame::new("the same tries, no hardening")
                .line(soft)
                .line(format!(
                    "(the run's exit status: {}; 3 says all three worked)",
                    broken.code
                ))
                .draw(WIDTH, style),
        ),
    ]
}
