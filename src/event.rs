//! What the seam records and `--explain` renders: one `Event` per system
//! call, stage boundary or observation. The same values travel from the
//! container's first process to diyc over a socket, so they serialize.

use serde::{Deserialize, Serialize};

use crate::sys::Call;

/// What `--explain` prints above a stage's calls: a title, and one line
/// of why. Each stage's is kept with its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heading {
    pub title: &'static str,
    pub why: &'static str,
}

/// The isolation stages, in the order a run goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageId {
    /// Making an image (the built-in busybox) before anything else.
    Image,
    /// The one clone that creates every namespace at once.
    Clone,
    /// A user namespace: the container's root is the user outside.
    User,
    Mount,
    Uts,
    Rootfs,
    Pid,
    Cgroups,
    Net,
    Iptables,
    /// A running container's namespaces, joined (`exec`).
    Join,
    /// A session, a keyring and a terminal of the container's own.
    Session,
    Hardening,
    /// The rootfs lesson's way out of a chroot, tried from inside.
    Escape,
    /// The rootfs lesson's writes, and where the overlay put them.
    Layers,
    Exec,
    /// Undoing what the run changed on the host, newest first.
    Cleanup,
}

impl StageId {
    pub fn name(self) -> &'static str {
        match self {
            StageId::Image => "image",
            StageId::Clone => "clone",
            StageId::User => "user",
            StageId::Mount => "mount",
            StageId::Uts => "uts",
            StageId::Rootfs => "rootfs",
            StageId::Pid => "pid",
            StageId::Cgroups => "cgroups",
            StageId::Net => "net",
            StageId::Iptables => "iptables",
            StageId::Join => "join",
            StageId::Session => "session",
            StageId::Hardening => "hardening",
            StageId::Escape => "escape",
            StageId::Layers => "layers",
            StageId::Exec => "exec",
            StageId::Cleanup => "cleanup",
        }
    }

    pub fn heading(self) -> &'static Heading {
        use crate::stages::{
            cgroups, hardening, iptables, join, mount, net, pid, rootfs, session, user, uts,
        };
        match self {
            StageId::Image => &crate::state::image::HEADING,
            StageId::Clone => &crate::runtime::CLONE_HEADING,
            StageId::User => &user::HEADING,
            StageId::Mount => &mount::HEADING,
            StageId::Uts => &uts::HEADING,
            StageId::Rootfs => &rootfs::HEADING,
            StageId::Pid => &pid::HEADING,
            StageId::Cgroups => &cgroups::HEADING,
            StageId::Net => &net::HEADING,
            StageId::Iptables => &iptables::HEADING,
            StageId::Join => &join::HEADING,
            StageId::Session => &session::HEADING,
            StageId::Hardening => &hardening::HEADING,
            StageId::Escape => &crate::learn::ESCAPE_HEADING,
            StageId::Layers => &crate::learn::LAYERS_HEADING,
            StageId::Exec => &crate::runtime::EXEC_HEADING,
            StageId::Cleanup => &crate::undo::HEADING,
        }
    }
}

/// The outcome of one system call as strace shows it: a return value, an
/// errno, or nothing yet (execve, whose success is only seen when the
/// close-on-exec channel closes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok(i64),
    Err { errno: String, message: String },
    Pending,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok(v) => write!(f, "= {v}"),
            Outcome::Err { errno, message } => write!(f, "= -1 {errno} ({message})"),
            Outcome::Pending => write!(f, "= ?"),
        }
    }
}

/// One thing worth showing. `pid` is always the host's view of the process
/// that made the call, so it matches `strace -f`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A stage begins: its title and why it exists. `at_us`: when, on the
    /// monotonic clock every process of a run shares (microseconds); 0 in
    /// an explanation written before diyc kept times.
    Stage {
        stage: StageId,
        #[serde(default)]
        at_us: u64,
    },
    /// A system call made through the seam. `text` is its strace-style line;
    /// `at_us` when it was made and `took_us` how long it took (a helper
    /// program: its whole run).
    Syscall {
        stage: StageId,
        pid: i32,
        call: Call,
        text: String,
        outcome: Outcome,
        #[serde(default)]
        at_us: u64,
        #[serde(default)]
        took_us: u64,
    },
    /// What the host (or the container, when `inside`) looks like after a stage.
    State {
        stage: StageId,
        inside: bool,
        title: String,
        lines: Vec<String>,
    },
    /// A sentence worth saying between calls.
    Note { stage: StageId, text: String },
}

impl Event {
    pub fn stage(&self) -> StageId {
        match self {
            Event::Stage { stage, .. }
            | Event::Syscall { stage, .. }
            | Event::State { stage, .. }
            | Event::Note { stage, .. } => *stage,
        }
    }
}
