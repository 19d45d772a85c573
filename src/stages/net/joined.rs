//! A network namespace that already exists, named by a path (podman's
//! `/run/netns/netns-...`, made and wired by netavark before the
//! container): the OCI command line's `{"type": "network", "path": ...}`.
//! diyc joins it itself, before the clone, so the child is born in it:
//! its sysfs and its links are that namespace's from the start. Nothing
//! is made, so nothing is undone.

use crate::error::Result;
use crate::event::StageId;
use crate::observe;
use crate::stages::Stage;
use crate::sys::{Call, Sys};
use crate::undo::Undo;

pub struct Joined {
    pub path: String,
}

impl Stage for Joined {
    fn id(&self) -> StageId {
        StageId::Net
    }

    fn prepare(&mut self, sys: &mut Sys, _undo: &mut Undo) -> Result<()> {
        sys.stage(StageId::Net);
        sys.note(format!(
            "the engine made this network namespace ({}); diyc joins it before the clone, so the child starts in it",
            self.path
        ));
        let fd = sys.call(Call::Openat {
            path: self.path.clone(),
            flags: libc::O_RDONLY | libc::O_CLOEXEC,
            mode: 0,
        })? as i32;
        let joined = sys.call(Call::Setns {
            fd,
            nstype: libc::CLONE_NEWNET as u64,
        });
        sys.call(Call::Close { fd })?;
        joined.map(drop)
    }

    fn runs_inside(&self) -> bool {
        false
    }

    fn outside(&self, pid: i32) -> Vec<String> {
        vec![format!(
            "pid {pid}'s network namespace: {}",
            observe::ns_inode(Some(pid), "net").map_or("?".into(), |i| format!("net:[{i}]"))
        )]
    }
}
