//! What a container was asked to run with (`diyc run`'s options, checked),
//! kept in its config: `diyc start` runs it again the same way, `diyc
//! exec` gives a new command the same environment and capabilities, and
//! `diyc inspect` shows it.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::stages::cgroups::devices::Passed;
use crate::stages::hardening::profile::Choice;
use crate::stages::net::{NetMode, Port};
use crate::stages::rootfs::UserMount;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub image: String,
    pub command: Vec<String>,
    /// None: the container's name.
    pub hostname: Option<String>,
    /// The `-e KEY=VALUE`s, on top of the defaults.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub net: NetMode,
    /// Asked for with `--ip`; otherwise the next free one each run.
    pub ip: Option<Ipv4Addr>,
    pub publish: Vec<Port>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub pids: Option<u64>,
    pub cgroup_parent: String,
    /// A terminal of its own.
    pub tty: bool,
    /// Its stdin kept open.
    pub interactive: bool,
    /// Its seccomp profile (`--security-opt seccomp=...`).
    #[serde(default)]
    pub seccomp: Choice,
    /// The host's devices passed in (`--device`).
    #[serde(default)]
    pub devices: Vec<Passed>,
    /// `-v` and `--tmpfs`, in the order given.
    #[serde(default)]
    pub mounts: Vec<UserMount>,
    /// `--read-only`: the root itself may not be written.
    #[serde(default)]
    pub read_only: bool,
    /// `--user`, as given: looked up in the container's files each run.
    #[serde(default)]
    pub user: Option<String>,
}
