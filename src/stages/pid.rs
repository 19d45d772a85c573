//! The PID stage: the command becomes process 1 of a new PID namespace,
//! and a fresh /proc shows only that namespace.
//!
//! `CLONE_NEWPID` is already in effect when the child starts: it is pid 1
//! inside and keeps an ordinary pid on the host. But /proc is a view of
//! the PID namespace of whoever mounted it, so tools like `ps` still list
//! the host's processes until a new procfs is mounted from inside. That
//! mount needs the mount stage first, or it would cover the host's /proc.

use crate::error::Result;
use crate::event::{Heading, StageId};
use crate::observe;
use crate::stages::{Stage, ensure_dir};
use crate::sys::Sys;

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "pid: the command becomes process 1",
    why: "The first process of a new PID namespace is pid 1 there; /proc must be mounted anew to show it.",
};

pub struct Pid {
    /// False when there is no private mount namespace to mount it in.
    pub mount_proc: bool,
    /// The rootfs stage mounted it already: in a user namespace the kernel
    /// mounts a procfs only while the host's is still in view.
    pub mounted_by_rootfs: bool,
}

impl Pid {
    /// A fresh /proc, mounted here (`mount_proc`) or not at all.
    pub fn new(mount_proc: bool) -> Pid {
        Pid {
            mount_proc,
            mounted_by_rootfs: false,
        }
    }
}

/// A procfs at `at`: a view of the PID namespace of the process mounting it.
pub fn mount_proc(sys: &mut Sys, at: &str) -> Result<()> {
    ensure_dir(sys, at, 0o555)?;
    sys.mount(
        Some("proc"),
        at,
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )
}

impl Stage for Pid {
    fn id(&self) -> StageId {
        StageId::Pid
    }

    fn clone_flags(&self) -> u64 {
        libc::CLONE_NEWPID as u64
    }

    fn requires(&self) -> &'static [StageId] {
        if self.mount_proc {
            &[StageId::Mount]
        } else {
            &[]
        }
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Pid);
        if !self.mount_proc {
            // Said of what is true in every launch without it: `nsexec -p`
            // has no mount namespace, the pid lesson's experiment has one
            // but leaves /proc alone.
            sys.note(
                "no fresh /proc is mounted, so /proc is still the host's: ps will list host processes",
            );
            return Ok(());
        }
        if self.mounted_by_rootfs {
            sys.note(
                "the fresh /proc was mounted by the rootfs stage, before pivot_root hid the host's",
            );
            return Ok(());
        }
        mount_proc(sys, "/proc")
    }

    fn inside(&self) -> Vec<String> {
        let mut pids: Vec<u32> = std::fs::read_dir("/proc")
            .map(|dir| {
                dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        pids.sort_unstable();
        let shown: Vec<String> = pids.iter().take(8).map(u32::to_string).collect();
        vec![
            format!("getpid() = {}", std::process::id()),
            format!(
                "processes in /proc: {}{}",
                shown.join(" "),
                if pids.len() > 8 { " ..." } else { "" }
            ),
        ]
    }

    fn outside(&self, pid: i32) -> Vec<String> {
        let chain = observe::nspid(pid)
            .map(|v| v.iter().map(i32::to_string).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        vec![format!(
            "host pid {pid} is pid {} inside (NSpid: {chain})",
            chain.rsplit(' ').next().unwrap_or("?")
        )]
    }
}
