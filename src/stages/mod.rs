//! One module per isolation stage. A stage says which namespace its `clone`
//! flag creates, does its work inside the new process (`enter`), and can say
//! what that process now sees (`inside`) and what the host sees of it
//! (`outside`). The runtime composes any subset of stages, which is how
//! `diyc run` (all of them) and `diyc nsexec` (the ones asked for) share one
//! code path, and how a stage can run alone.
//!
//! The namespace stages change nothing on the host: every mount they make
//! lives in the container's own mount namespace and vanishes with it. The
//! stages that do change the host (cgroups, net, iptables) work in diyc
//! itself, before and after the clone (`prepare`, `attach`, `finish`), and
//! push how to undo each change as they make it (see src/undo.rs).

pub mod cgroups;
pub mod hardening;
pub mod iptables;
pub mod mount;
pub mod net;
pub mod pid;
pub mod rootfs;
pub mod uts;

use crate::error::Result;
use crate::event::StageId;
use crate::sys::Sys;
use crate::undo::Undo;

/// The stages of one launch, in the order they run.
pub type Stages = Vec<Box<dyn Stage>>;

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
    /// `placed_by_clone` says whether clone3 already put it in its cgroup.
    fn attach(&mut self, sys: &mut Sys, child: i32, placed_by_clone: bool) -> Result<()> {
        let _ = (sys, child, placed_by_clone);
        Ok(())
    }

    /// In diyc, once the child has exited with `code`: one line worth
    /// telling the user about how it ended (an OOM kill), if any.
    fn finish(&mut self, sys: &mut Sys, code: i32) -> Option<String> {
        let _ = (sys, code);
        None
    }

    /// False for stages that happen entirely in diyc (cgroups): the child
    /// skips them.
    fn runs_inside(&self) -> bool {
        true
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

/// The heading and the one-line why that `--explain` prints for a stage.
/// Each stage's full lesson is in lessons/STAGE.md.
pub fn heading(stage: StageId) -> (&'static str, &'static str) {
    match stage {
        StageId::Image => (
            "image: the files the container will see",
            "An image is just a directory tree; the built-in one is made from the host's own busybox.",
        ),
        StageId::Clone => (
            "clone: one system call makes the new namespaces",
            "Each CLONE_NEW* flag gives the new process its own copy of one kind of kernel resource.",
        ),
        StageId::Mount => (
            "mount: a private mount table",
            "Mounts made from now on must not propagate back to the host's mount table.",
        ),
        StageId::Uts => (
            "uts: a hostname of its own",
            "The new UTS namespace lets the container rename itself without renaming the host.",
        ),
        StageId::Rootfs => (
            "rootfs: an overlay of the image becomes /",
            "The image stays read-only below; writes land in the container's own upper directory.",
        ),
        StageId::Pid => (
            "pid: the command becomes process 1",
            "The first process of a new PID namespace is pid 1 there; /proc must be mounted anew to show it.",
        ),
        StageId::Cgroups => (
            "cgroups: limits the kernel enforces",
            "A cgroup of its own caps the container's memory, CPU time and number of processes, and counts what it uses.",
        ),
        StageId::Net => (
            "net: a network namespace of its own (bridged: a veth pair to the host)",
            "The container gets its own interfaces; one end of a virtual cable sits on diyc's bridge.",
        ),
        StageId::Iptables => (
            "iptables: NAT to the outside, DNAT for published ports",
            "diyc's own chains rewrite addresses so the container can reach out and be reached.",
        ),
        StageId::Hardening => (
            "hardening: what the container's root may no longer do",
            "Capabilities cut to a few, no new privileges, the machine's own files in /proc and /sys out of reach.",
        ),
        StageId::Cleanup => (
            "cleanup: the host as it was",
            "What the run changed on the host is undone, newest first.",
        ),
        StageId::Exec => (
            "exec: the command replaces diyc's code in the prepared process",
            "The working directory and environment are set, then execve.",
        ),
    }
}

/// Make sure `path` is a real directory, creating it (through the seam)
/// when the image lacks it. A symlink is refused: following one out of
/// the image while mounting is how runtimes have been escaped.
pub(crate) fn ensure_dir(sys: &mut Sys, path: &str, mode: u32) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(meta) if meta.file_type().is_symlink() => Err(crate::error::Error::invalid(format!(
            "{path} is a symlink in the image; refusing to mount over it"
        ))),
        Ok(_) => Err(crate::error::Error::invalid(format!(
            "{path} in the image is not a directory"
        ))),
        Err(_) => sys
            .call(crate::sys::Call::Mkdirat {
                path: path.to_string(),
                mode,
            })
            .map(drop),
    }
}
