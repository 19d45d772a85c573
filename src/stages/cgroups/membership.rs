//! How a process gets into the container's cgroup once it exists:
//! clone3 places it (v2, see `runtime::launch`); on v1 it moves itself
//! through descriptors diyc opened; failing both, diyc writes its pid.

use super::control::{text, write};
use super::place::Placement;
use crate::error::Result;
use crate::sys::{Call, Sys};

/// Each v1 tree's `tasks` file, open for writing: the child, which has a
/// copy of each descriptor, moves itself in through them. diyc closes its
/// own copies at attach, through the seam; a launch that fails before
/// then drops them, and they are closed unrecorded (closing changes
/// nothing on the host). The child never drops its copy: it executes or
/// exits without unwinding.
#[derive(Default)]
pub struct Tasks {
    fds: Vec<i32>,
    /// diyc's copies are still open, and real (not the dry backend's).
    open_here: bool,
}

impl Tasks {
    pub fn open(sys: &mut Sys, placement: &Placement) -> Result<Tasks> {
        let mut tasks = Tasks {
            fds: Vec::new(),
            open_here: !sys.is_dry(),
        };
        for dir in &placement.dirs {
            let fd = sys.call(Call::Openat {
                path: text(&dir.path.join("tasks"))?,
                flags: libc::O_WRONLY | libc::O_CLOEXEC,
                mode: 0,
            })?;
            tasks.fds.push(fd as i32);
        }
        Ok(tasks)
    }

    pub fn fds(&self) -> &[i32] {
        &self.fds
    }

    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// In diyc, once the child has its copies. The numbers stay: the
    /// child was forked with this list, and a dry run enters with it
    /// after attaching.
    pub fn close_here(&mut self, sys: &mut Sys) -> Result<()> {
        self.open_here = false;
        let mut first = Ok(());
        for &fd in &self.fds {
            let closed = sys.call(Call::Close { fd }).map(drop);
            first = first.and(closed);
        }
        first
    }

    /// In the child: `0` is "the thread writing", and the child has one
    /// thread, so each write moves the whole process into that tree's
    /// cgroup. The descriptors are the host's and close right after.
    pub fn move_self(&self, sys: &mut Sys) -> Result<()> {
        for &fd in &self.fds {
            sys.call(Call::Write {
                fd,
                data: "0".into(),
            })?;
        }
        for &fd in &self.fds {
            sys.call(Call::Close { fd })?;
        }
        Ok(())
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        if self.open_here {
            for &fd in &self.fds {
                crate::sys::close_unrecorded(fd);
            }
        }
    }
}

/// Move process `pid` into the cgroup (every tree, on v1).
pub fn join(sys: &mut Sys, placement: &Placement, pid: i32) -> Result<()> {
    for dir in &placement.dirs {
        write(sys, &dir.path.join("cgroup.procs"), pid.to_string())?;
    }
    Ok(())
}
