//! The cgroups stage: limits the kernel enforces on the whole container,
//! and the kernel's own account of what it used.
//!
//! Unlike the namespace stages, all of it happens in diyc, on the host:
//! 1. before the clone, the container's cgroup is made (below the cgroup
//!    parent, `diyc` by default) and its limit files written;
//! 2. the child is put in it before it runs anything of the container:
//!    clone3 with CLONE_INTO_CGROUP on v2, or by writing its pid to
//!    `cgroup.procs` (every tree, on v1) while it still waits for `Go`;
//! 3. after it exits, the kernel's OOM record is read, whatever is left is
//!    killed and the directories are removed (an undo step, so it also
//!    happens when the run fails half way).

use std::os::fd::{AsRawFd, OwnedFd};

use crate::cgroups::{self, Host, Limits, Placement};
use crate::error::{Error, Result};
use crate::event::{Event, StageId};
use crate::stages::Stage;
use crate::sys::Sys;
use crate::undo::{Undo, When};

pub struct Cgroups {
    host: Host,
    placement: Placement,
    limits: Limits,
    /// The v2 directory, open for CLONE_INTO_CGROUP until the clone is done.
    dir: Option<OwnedFd>,
}

impl Cgroups {
    pub fn new(host: Host, placement: Placement, limits: Limits) -> Self {
        Cgroups {
            host,
            placement,
            limits,
            dir: None,
        }
    }

    fn show(&self, sys: &mut Sys, title: &str) {
        if sys.explaining() {
            sys.emit(Event::State {
                stage: StageId::Cgroups,
                inside: false,
                title: title.into(),
                lines: cgroups::report(&self.placement),
            });
        }
    }
}

impl Stage for Cgroups {
    fn id(&self) -> StageId {
        StageId::Cgroups
    }

    fn runs_inside(&self) -> bool {
        false
    }

    fn prepare(&mut self, sys: &mut Sys, undo: &mut Undo) -> Result<()> {
        sys.stage(StageId::Cgroups);
        sys.note(self.host.describe());
        // Pushed first: a half-made cgroup is removed as well.
        let placement = self.placement.clone();
        let dirs: Vec<String> = placement
            .dirs
            .iter()
            .map(|d| d.path.display().to_string())
            .collect();
        undo.push(
            format!("removing cgroup {}", dirs.join(" ")),
            When::Always,
            move |sys| cgroups::remove(sys, &placement),
        );
        cgroups::create(sys, &self.placement)?;
        cgroups::apply(sys, &self.placement, &self.limits)?;
        crate::fault::point("after-cgroup")?;
        if self.placement.version == cgroups::Version::V2 {
            let path = &self.placement.dirs[0].path;
            let dir = std::fs::File::open(path).map_err(|e| Error::Io {
                what: "opening",
                path: path.clone(),
                source: e,
            })?;
            self.dir = Some(dir.into());
        }
        Ok(())
    }

    fn cgroup_fd(&self) -> Option<i32> {
        self.dir.as_ref().map(AsRawFd::as_raw_fd)
    }

    fn attach(&mut self, sys: &mut Sys, child: i32, placed_by_clone: bool) -> Result<()> {
        self.dir = None;
        sys.stage(StageId::Cgroups);
        if placed_by_clone {
            sys.note("clone3 started the child inside its cgroup (CLONE_INTO_CGROUP)");
        } else {
            cgroups::join(sys, &self.placement, child)?;
        }
        self.show(sys, "the container's cgroup, with the child in it");
        Ok(())
    }

    fn finish(&mut self, sys: &mut Sys, code: i32) -> Option<String> {
        if sys.explaining() {
            sys.stage(StageId::Cgroups);
            self.show(sys, "the cgroup's own account, after the container exited");
        }
        let kills = cgroups::oom_kills(&self.placement).unwrap_or(0);
        let limit = self.limits.memory.map_or(String::new(), |l| {
            format!(": memory limit {}", cgroups::human(l))
        });
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
