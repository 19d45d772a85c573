//! The cgroups stage: limits the kernel enforces on the whole container,
//! and the kernel's own account of what it used.
//!
//! Unlike the namespace stages, all of it happens in diyc, on the host:
//! 1. before the clone, the container's cgroup is made (below the cgroup
//!    parent, `diyc` by default) and its limit files written;
//! 2. the child is put in it before it runs anything of the container:
//!    clone3 with CLONE_INTO_CGROUP on v2; on v1 the child moves itself,
//!    writing `0` to each tree's `tasks` file, opened by diyc before the
//!    clone. Moving a thread that moves itself takes no lock over every
//!    process on the machine; writing a pid to `cgroup.procs` takes one
//!    and waits out an RCU grace period first, milliseconds each run;
//! 3. after it exits, the kernel's OOM record is read, whatever is left is
//!    killed and the directories are removed (an undo step, so it also
//!    happens when the run fails half way).

mod control;
pub mod delegated;
pub mod devices;
pub mod freeze;
mod host;
mod limits;
mod membership;
mod place;
mod read;
mod remove;

use std::os::fd::{AsRawFd, OwnedFd};

use crate::error::Result;
use crate::event::{Event, Heading, StageId};
use crate::stages::{Child, Stage};
use crate::sys::Sys;
use crate::undo::{Undo, When};

pub use host::{Host, NOT_MOUNTED, V1_CONTROLLERS};
pub use limits::{DEFAULT_PIDS, Limits, human, parse_cpus, parse_parent, parse_pids, parse_size};
pub use place::{CgroupFs, Placement, Version};
pub use read::{cpu_usage_us, readable, size};
pub use remove::remove;

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "cgroups: limits the kernel enforces",
    why: "A cgroup of its own caps the container's memory, CPU time and number of processes, and counts what it uses.",
};

pub struct Cgroups {
    host: Host,
    placement: Placement,
    limits: Limits,
    /// The v2 directory, open for CLONE_INTO_CGROUP until the clone is done.
    dir: Option<OwnedFd>,
    /// On v1, each tree's `tasks` file, opened through the seam for the
    /// child to write itself into; diyc's copies close at `attach`.
    tasks: membership::Tasks,
    /// The cgroup is a running container's, joined (`exec`): made, limited
    /// and removed by the run that owns it.
    joined: bool,
    /// The only devices the container may open or make; None: any.
    devices: Option<Vec<devices::Device>>,
}

impl Cgroups {
    pub fn new(host: Host, placement: Placement, limits: Limits) -> Self {
        Cgroups {
            host,
            placement,
            limits,
            dir: None,
            tasks: membership::Tasks::default(),
            joined: false,
            devices: None,
        }
    }

    /// Let the container use only `allowed` of the host's devices.
    pub fn with_devices(mut self, allowed: Vec<devices::Device>) -> Self {
        self.devices = Some(allowed);
        self
    }

    /// The cgroup of a running container, for a process that joins it.
    pub fn join(host: Host, placement: Placement) -> Self {
        Cgroups {
            joined: true,
            ..Cgroups::new(host, placement, Limits::default())
        }
    }

    /// The cgroup's directories, one per tree.
    pub fn dirs(&self) -> Vec<String> {
        self.placement
            .dirs
            .iter()
            .map(|d| d.path.display().to_string())
            .collect()
    }

    fn open_for_clone(&mut self, sys: &mut Sys) -> Result<()> {
        match (self.placement.version, self.placement.dirs.first()) {
            (Version::V2, Some(dir)) => {
                self.dir = Some(sys.open_dir(&control::text(&dir.path)?)?);
            }
            (Version::V1, _) => self.tasks = membership::Tasks::open(sys, &self.placement)?,
            (Version::V2, None) => {}
        }
        Ok(())
    }

    fn show(&self, sys: &mut Sys, title: &str) {
        if sys.explaining() {
            sys.emit(Event::State {
                stage: StageId::Cgroups,
                inside: false,
                title: title.into(),
                lines: read::report(sys, &self.placement),
            });
        }
    }
}

impl Stage for Cgroups {
    fn id(&self) -> StageId {
        StageId::Cgroups
    }

    /// Inside, the one step of the child's own: a cgroup namespace,
    /// made once the child is in its cgroup, so that cgroup is the root
    /// of everything it sees (/proc/self/cgroup says `/`, and the
    /// /sys/fs/cgroup the rootfs stage mounts shows only its own).
    fn enter(&self, sys: &mut Sys) -> Result<()> {
        if self.tasks.is_empty() && self.joined {
            return Ok(());
        }
        sys.stage(StageId::Cgroups);
        self.tasks.move_self(sys)?;
        if self.joined {
            // The join stage enters the container's cgroup namespace.
            return Ok(());
        }
        sys.call(crate::sys::Call::Unshare {
            flags: libc::CLONE_NEWCGROUP as u64,
        })
        .map(drop)
    }

    /// Where the child moved itself: its cgroup in each tree, as the
    /// host names it, which is what the cgroup namespace hides inside.
    fn outside(&self, pid: i32) -> Vec<String> {
        if self.tasks.is_empty() {
            return Vec::new();
        }
        let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        // Only the trees diyc placed it in: `ID:CONTROLLERS:PATH`.
        let placed = |line: &str| {
            line.split(':').nth(1).is_some_and(|controllers| {
                controllers.split(',').any(|c| {
                    self.placement
                        .dirs
                        .iter()
                        .any(|d| d.controllers.iter().any(|p| p == c))
                })
            })
        };
        theirs
            .lines()
            .filter(|l| placed(l))
            .map(|l| format!("/proc/{pid}/cgroup: {l}"))
            .collect()
    }

    fn inside(&self) -> Vec<String> {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let lines: Vec<&str> = own.lines().collect();
        if lines.iter().all(|l| l.ends_with(":/")) {
            vec![format!(
                "/proc/self/cgroup: `/` in each of its {} lines, a cgroup namespace of its own",
                lines.len()
            )]
        } else {
            lines
                .iter()
                .map(|l| format!("/proc/self/cgroup: {l}"))
                .collect()
        }
    }

    fn prepare(&mut self, sys: &mut Sys, undo: &mut Undo) -> Result<()> {
        sys.stage(StageId::Cgroups);
        sys.note(self.host.describe());
        if self.joined {
            return self.open_for_clone(sys);
        }
        control::check_unused(sys, &self.placement)?;
        // Pushed first: a half-made cgroup is removed as well.
        let placement = self.placement.clone();
        let dirs = self.dirs();
        undo.push(
            format!("removing cgroup {}", dirs.join(" ")),
            When::Always,
            move |sys| remove::remove(sys, &placement),
        );
        control::create(sys, &self.placement)?;
        control::apply(sys, &self.placement, &self.limits)?;
        crate::fault::point("after-cgroup")?;
        self.open_for_clone(sys)?;
        if let Some(allowed) = &self.devices {
            devices::restrict(sys, &self.placement, self.cgroup_fd(), allowed)?;
        }
        Ok(())
    }

    fn cgroup_fd(&self) -> Option<i32> {
        self.dir.as_ref().map(AsRawFd::as_raw_fd)
    }

    fn child_fds(&self) -> Vec<i32> {
        self.tasks.fds().to_vec()
    }

    fn attach(&mut self, sys: &mut Sys, child: Child) -> Result<()> {
        self.dir = None;
        sys.stage(StageId::Cgroups);
        if child.placed_by_clone {
            sys.note("clone3 started the child inside its cgroup (CLONE_INTO_CGROUP)");
        } else if !self.tasks.is_empty() {
            // The child's copies are its own; diyc's are not needed.
            self.tasks.close_here(sys)?;
            sys.note(
                "the child writes itself into each tree's tasks file as its first step in this stage",
            );
            self.show(sys, "the container's cgroup, before the child moves in");
            return Ok(());
        } else {
            membership::join(sys, &self.placement, child.pid)?;
        }
        self.show(sys, "the container's cgroup, with the child in it");
        Ok(())
    }

    fn finish(&mut self, sys: &mut Sys, code: i32) -> Option<String> {
        if self.joined {
            // The container's own run reports on its cgroup.
            return None;
        }
        if sys.explaining() {
            sys.stage(StageId::Cgroups);
            self.show(sys, "the cgroup's own account, after the container exited");
        }
        let kills = read::oom_kills(sys, &self.placement).unwrap_or(0);
        let limit = self
            .limits
            .memory
            .map_or(String::new(), |l| format!(": memory limit {}", human(l)));
        match (kills, code) {
            (0, _) => None,
            // Its first process got SIGKILL: the OOM killer ended the container.
            (_, 137) => Some(format!("killed by the kernel's OOM killer{limit}")),
            (n, _) => Some(format!(
                "the kernel's OOM killer ended {n} process{} in the container{limit}",
                if n == 1 { "" } else { "es" }
            )),
        }
    }
}
