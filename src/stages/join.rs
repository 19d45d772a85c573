//! The join stage, for `diyc exec`: a new process inside a running
//! container's namespaces, the runtime's side of what nsenter(1) does.
//!
//! 1. In diyc, before the clone: a pidfd names the container's first
//!    process (pidfd_open). `setns(pidfd, CLONE_NEWPID)` changes the PID
//!    namespace only for the children diyc makes from then on, which is
//!    how the next child is born inside the container's.
//! 2. Once that child exists, diyc's own children go back to diyc's PID
//!    namespace (setns on a descriptor of it, kept from step 1).
//! 3. The child joins every other namespace the container has at once:
//!    `setns(pidfd, CLONE_NEWNS|CLONE_NEWUTS|...)`. Joining the mount
//!    namespace makes the container's root its root and working
//!    directory. Kernels before 5.8 cannot setns through a pidfd; there it
//!    is one setns per /proc/PID/ns file.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;

use crate::error::{Error, IoContext, Result};
use crate::event::{Heading, StageId};
use crate::observe;
use crate::runtime::Process;
use crate::stages::{Child, Stage};
use crate::state::container::ProcessId;
use crate::sys::{Call, Sys};
use crate::undo::Undo;

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "join: the namespaces of a running container",
    why: "setns moves a process into namespaces that already exist; nothing new is made.",
};

/// The namespaces a container may have, their clone flags and /proc names.
const NAMESPACES: [(u64, &str); 7] = [
    (libc::CLONE_NEWUSER as u64, "user"),
    (libc::CLONE_NEWCGROUP as u64, "cgroup"),
    (libc::CLONE_NEWIPC as u64, "ipc"),
    (libc::CLONE_NEWUTS as u64, "uts"),
    (libc::CLONE_NEWNET as u64, "net"),
    (libc::CLONE_NEWTIME as u64, "time"),
    (libc::CLONE_NEWNS as u64, "mnt"),
];

pub struct Join {
    target: ProcessId,
    process: Option<Process>,
    /// diyc's own PID namespace, to go back to once the child is made.
    own_pid_ns: Option<OwnedFd>,
    /// diyc joined the container's user namespace first.
    in_user_ns: bool,
}

impl Join {
    /// The namespaces of `target`, the container's first process.
    pub fn new(target: ProcessId) -> Join {
        Join {
            target,
            process: None,
            own_pid_ns: None,
            in_user_ns: false,
        }
    }

    /// Whether the container's namespace `ns` is not diyc's.
    fn differs(&self, ns: &str) -> bool {
        observe::ns_inode(Some(self.target.pid), ns) != observe::ns_inode(None, ns)
    }

    /// The namespaces the container has apart from diyc's, as clone flags.
    fn differing(&self) -> u64 {
        NAMESPACES
            .iter()
            .filter(|(_, ns)| {
                observe::ns_inode(Some(self.target.pid), ns) != observe::ns_inode(None, ns)
            })
            .fold(0, |flags, (flag, _)| flags | flag)
    }

    fn pidfd(&self) -> Result<i32> {
        self.process
            .as_ref()
            .map(|p| p.fd().as_raw_fd())
            .ok_or_else(|| Error::invalid("the join stage was entered before it was prepared"))
    }
}

impl Stage for Join {
    fn id(&self) -> StageId {
        StageId::Join
    }

    fn prepare(&mut self, sys: &mut Sys, _undo: &mut Undo) -> Result<()> {
        sys.stage(StageId::Join);
        let process = Process::open(sys, self.target)?
            .ok_or_else(|| Error::invalid("the container stopped before exec could join it"))?;
        // Until its command runs, the container's first process is diyc's
        // own program, half way through making the container: its root
        // may still be the host's.
        if still_diyc(self.target.pid) {
            return Err(Error::invalid(
                "the container is still being set up; exec needs its command running",
            ));
        }
        let fd = process.fd().as_raw_fd();
        self.process = Some(process);
        if self.differs("user") {
            // A container made without root: its namespaces belong to its
            // user namespace, and only a member holds the capabilities to
            // join them. diyc may enter it because the same user made it.
            sys.call(Call::Setns {
                fd,
                nstype: libc::CLONE_NEWUSER as u64,
            })?;
            self.in_user_ns = true;
        }
        if self.differs("pid") {
            let own = File::open("/proc/thread-self/ns/pid").ctx(
                "opening diyc's own PID namespace",
                "/proc/thread-self/ns/pid",
            )?;
            self.own_pid_ns = Some(own.into());
            let nstype = libc::CLONE_NEWPID as u64;
            match sys.call(Call::Setns { fd, nstype }) {
                // Before Linux 5.8: through the namespace's own file.
                Err(e) if e.errno() == Some(Errno::EINVAL) => {
                    let path = format!("/proc/{}/ns/pid", self.target.pid);
                    let file = File::open(&path).ctx("opening", &path)?;
                    let fd = file.as_raw_fd();
                    sys.call(Call::Setns { fd, nstype })?;
                }
                other => other.map(drop)?,
            }
        }
        Ok(())
    }

    fn attach(&mut self, sys: &mut Sys, _child: Child) -> Result<()> {
        if self.in_user_ns {
            // Going back would need a capability over the host's PID
            // namespace, which the container's root does not have; diyc
            // makes no more children for this exec anyway.
            self.own_pid_ns = None;
            return Ok(());
        }
        if let Some(own) = self.own_pid_ns.take() {
            sys.stage(StageId::Join);
            sys.call(Call::Setns {
                fd: own.as_raw_fd(),
                nstype: libc::CLONE_NEWPID as u64,
            })?;
        }
        Ok(())
    }

    fn child_fds(&self) -> Vec<i32> {
        self.pidfd().into_iter().collect()
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Join);
        let nstype = self.differing();
        if nstype != 0 {
            let fd = self.pidfd()?;
            match sys.call(Call::Setns { fd, nstype }) {
                Err(e) if e.errno() == Some(Errno::EINVAL) => self.enter_one_by_one(sys, nstype)?,
                other => other.map(drop)?,
            }
        }
        if self.in_user_ns {
            // diyc's ids came along into the container's user namespace:
            // the host's root's would be unmapped there (nobody, yet
            // still root to the kernel), so the command takes the
            // container's root, which is the user who made it.
            crate::stages::user::take_root(sys)?;
        }
        Ok(())
    }

    fn inside(&self) -> Vec<String> {
        let cwd = std::env::current_dir().map_or_else(|_| "?".into(), |p| p.display().to_string());
        vec![
            format!("hostname: {}", observe::hostname()),
            format!(
                "pid {} in the container's PID namespace",
                std::process::id()
            ),
            format!("root and working directory: the container's ({cwd})"),
        ]
    }

    fn outside(&self, pid: i32) -> Vec<String> {
        let same = |ns: &str| {
            let (mine, theirs) = (
                observe::ns_inode(Some(pid), ns),
                observe::ns_inode(Some(self.target.pid), ns),
            );
            format!(
                "{ns:<4} {} (the container's: {})",
                mine.map_or("?".into(), |i| i.to_string()),
                if mine == theirs { "same" } else { "different" }
            )
        };
        ["uts", "ipc", "mnt", "pid", "net"].map(same).to_vec()
    }
}

/// Whether process `pid` still runs diyc's own binary (the same file as
/// this process's), that is, has not executed its command yet.
fn still_diyc(pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let id = |path: String| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    id(format!("/proc/{pid}/exe")).is_none_or(|theirs| Some(theirs) == id("/proc/self/exe".into()))
}

impl Join {
    /// Before Linux 5.8: one namespace at a time, through its /proc file.
    fn enter_one_by_one(&self, sys: &mut Sys, nstype: u64) -> Result<()> {
        sys.note("this kernel cannot setns through a pidfd: one namespace file at a time");
        for (flag, ns) in NAMESPACES.iter().filter(|(flag, _)| nstype & flag != 0) {
            let path = format!("/proc/{}/ns/{ns}", self.target.pid);
            let file = File::open(&path).ctx("opening", &path)?;
            sys.call(Call::Setns {
                fd: file.as_raw_fd(),
                nstype: *flag,
            })?;
        }
        Ok(())
    }
}
