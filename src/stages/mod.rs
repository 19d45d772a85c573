//! One room per isolation stage. A stage owns its heading and its why
//! (what `--explain` prints above its calls), says which namespace its
//! `clone` flag creates, does its work inside the new process (`enter`),
//! and can say what that process now sees (`inside`) and what the host
//! sees of it (`outside`). order.rs composes them into the one list a
//! container is made of, which `run`, `nsexec` and `learn` share; any
//! subset of it runs, which is how a stage runs alone.
//!
//! The namespace stages (uts, mount, pid, rootfs, hardening) change
//! nothing on the host: every mount they make lives in the container's own
//! mount namespace and vanishes with it. The stages that do change the
//! host (cgroups, net, iptables) work in diyc itself, before and after the
//! clone (`prepare`, `attach`, `finish`), and push how to undo each change
//! as they make it (see src/undo.rs).

pub mod cgroups;
pub mod hardening;
pub mod iptables;
pub mod join;
pub mod mount;
pub mod net;
pub mod order;
pub mod pid;
pub mod rootfs;
pub mod session;
pub mod user;
pub mod uts;

use crate::error::{Error, Result};
use crate::event::StageId;
use crate::sys::{Call, Kind, Sys};
use crate::undo::Undo;

/// The stages of one launch, in the order they run.
pub type Stages = Vec<Box<dyn Stage>>;

/// The child, as the host sees it once it exists.
#[derive(Debug, Clone, Copy)]
pub struct Child {
    pub pid: i32,
    /// Whether clone3 already started it inside its cgroup.
    pub placed_by_clone: bool,
}

/// Declared facts first, then what happens in diyc, then what happens in
/// the container's first process. Every method has a default, so a stage
/// writes only the ones it uses; nothing wraps a stage and forwards them.
pub trait Stage {
    fn id(&self) -> StageId;

    /// The namespace flag this stage adds to the one `clone`.
    fn clone_flags(&self) -> u64 {
        0
    }

    /// Stages that must have run before this one.
    fn requires(&self) -> &'static [StageId] {
        &[]
    }

    /// In diyc, before the clone: make what the child will be put into,
    /// pushing how to undo it.
    fn prepare(&mut self, sys: &mut Sys, undo: &mut Undo) -> Result<()> {
        let _ = (sys, undo);
        Ok(())
    }

    /// A cgroup directory for clone3's CLONE_INTO_CGROUP, if this stage
    /// has one open.
    fn cgroup_fd(&self) -> Option<i32> {
        None
    }

    /// In diyc, after the clone and before the child is let go.
    fn attach(&mut self, sys: &mut Sys, child: Child) -> Result<()> {
        let _ = (sys, child);
        Ok(())
    }

    /// Whether `attach` may run while the child enters the stages before
    /// this one (it then waits just before this stage): true only for
    /// host work the earlier stages do not need (runtime/attach.rs).
    fn attach_meanwhile(&self) -> bool {
        false
    }

    /// In diyc, once attached: the ends of the streams this stage made
    /// between diyc and the container, for the runtime to relay.
    fn streams(&mut self) -> Vec<crate::runtime::Stream> {
        Vec::new()
    }

    /// In diyc, once the child has exited with `code`: one line worth
    /// telling the user about how it ended (an OOM kill), if any.
    fn finish(&mut self, sys: &mut Sys, code: i32) -> Option<String> {
        let _ = (sys, code);
        None
    }

    /// False for stages that happen entirely in diyc (cgroups, iptables):
    /// the child skips them.
    fn runs_inside(&self) -> bool {
        true
    }

    /// The descriptors `enter` uses in the child. Every other one the
    /// child has from diyc is closed before the first stage runs, so no
    /// directory of the host's is left to reach through /proc/self/fd.
    fn child_fds(&self) -> Vec<i32> {
        Vec::new()
    }

    /// Inside the new namespaces, before the command is executed.
    fn enter(&self, sys: &mut Sys) -> Result<()> {
        let _ = sys;
        Ok(())
    }

    /// What the process sees from inside once `enter` is done. Only asked
    /// for when someone is watching (`--explain`).
    fn inside(&self) -> Vec<String> {
        Vec::new()
    }

    /// What the host sees of process `pid` once `enter` is done.
    fn outside(&self, pid: i32) -> Vec<String> {
        let _ = pid;
        Vec::new()
    }
}

/// Make sure `path` is a real directory, creating it (through the seam)
/// when the image lacks it. A symlink is refused: following one out of
/// the image while mounting or writing is how runtimes have been escaped.
pub(crate) fn ensure_dir(sys: &mut Sys, path: &str, mode: u32) -> Result<()> {
    match sys.kind(path) {
        Some(Kind::Dir) => Ok(()),
        Some(Kind::Symlink) => Err(Error::invalid(format!(
            "{path} is a symlink in the image; refusing to use it"
        ))),
        Some(_) => Err(Error::invalid(format!(
            "{path} in the image is not a directory"
        ))),
        None => sys
            .call(Call::Mkdirat {
                path: path.to_string(),
                mode,
            })
            .map(drop),
    }
}
