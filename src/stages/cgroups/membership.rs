//! How a process gets into the container's cgroup once it exists:
//! clone3 places it (v2, see `runtime::launch`); on v1 it moves itself
//! through descriptors diyc opened; failing both, diyc writes its pid.

use super::control::{text, write};
use super::place::Placement;
use crate::error::Result;
use crate::sys::{Call, Sys};

/// Each v1 tree's `tasks` file, open for writing: the child, which has
/// a copy of each descriptor, moves itself in through them.
pub fn open_tasks(sys: &mut Sys, placement: &Placement) -> Result<Vec<i32>> {
    let mut fds = Vec::new();
    for dir in &placement.dirs {
        let opened = sys.call(Call::Openat {
            path: text(&dir.path.join("tasks"))?,
            flags: libc::O_WRONLY | libc::O_CLOEXEC,
            mode: 0,
        });
        match opened {
            Ok(fd) => fds.push(fd as i32),
            Err(e) => {
                for fd in fds {
                    let _ = sys.call(Call::Close { fd });
                }
                return Err(e);
            }
        }
    }
    Ok(fds)
}

/// In the child: `0` is "the thread writing", and the child has one
/// thread, so each write moves the whole process into that tree's
/// cgroup. The descriptors are the host's and close right after.
pub fn move_self(sys: &mut Sys, tasks: &[i32]) -> Result<()> {
    for &fd in tasks {
        sys.call(Call::Write {
            fd,
            data: "0".into(),
        })?;
    }
    for &fd in tasks {
        sys.call(Call::Close { fd })?;
    }
    Ok(())
}

/// Move process `pid` into the cgroup (every tree, on v1).
pub fn join(sys: &mut Sys, placement: &Placement, pid: i32) -> Result<()> {
    for dir in &placement.dirs {
        write(sys, &dir.path.join("cgroup.procs"), pid.to_string())?;
    }
    Ok(())
}
