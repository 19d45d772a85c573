//! The one list of stages a container is made of, in the order they run.
//! `run` takes all of it, `nsexec` the namespaces asked for, and each
//! lesson the part it teaches; all of them build their list here, so the
//! order is written once.
//!
//! The order is what the stages build on: the user namespace comes first,
//! so that every other namespace of the clone belongs to it; the cgroup exists before the
//! clone puts the child in it; nothing is mounted before the mount stage
//! makes the mount table private; /proc is mounted in the new root; the
//! network writes /etc in that root; the session's terminal comes from the
//! root's own devpts; hardening comes last, once nothing left needs the
//! powers it takes away.

use super::cgroups::Cgroups;
use super::hardening::Hardening;
use super::iptables::{self, Iptables};
use super::join::Join;
use super::mount::Mount;
use super::net::joined::Joined;
use super::net::usermode::UserMode;
use super::net::{self, Bridge, Net};
use super::pid::Pid;
use super::rootfs::Rootfs;
use super::session::Session;
use super::user::User;
use super::uts::Uts;
use super::{Stage, Stages};
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::state::Store;
use crate::state::network as records;
use crate::sys::Sys;

/// A container's stages, each one there or not.
#[derive(Default)]
pub struct Plan {
    /// A user namespace, for a container made without root.
    pub user: Option<User>,
    pub cgroups: Option<Cgroups>,
    pub mount: bool,
    pub uts: Option<Uts>,
    pub rootfs: Option<Rootfs>,
    pub pid: Option<Pid>,
    pub net: Option<Net>,
    /// Without root: pasta's network, in place of a bridge.
    pub usermode: Option<UserMode>,
    /// A network namespace an engine made, joined by its path.
    pub joined_net: Option<Joined>,
    pub iptables: Option<Iptables>,
    /// A running container's namespaces (`exec`).
    pub join: Option<Join>,
    pub session: Option<Session>,
    pub hardening: Option<Hardening>,
    /// An IPC namespace of its own, which needs no stage.
    pub ipc: bool,
}

impl Plan {
    /// What every container with an image has: a private mount table, a
    /// hostname, the image as its root, and process 1 with its own /proc.
    pub fn base(uts: Uts, rootfs: Rootfs) -> Plan {
        Plan {
            mount: true,
            uts: Some(uts),
            rootfs: Some(rootfs),
            pid: Some(Pid::new(true)),
            ipc: true,
            ..Plan::default()
        }
    }

    /// The stages in order, and the namespaces that need no stage. A user
    /// namespace changes how the rootfs and pid stages work: the root of a
    /// user namespace makes no device nodes and writes no trusted.*
    /// attributes, and may mount a procfs only while the host's is still
    /// in view, so the rootfs stage mounts it before pivot_root.
    pub fn build(mut self) -> (Stages, u64) {
        if let Some(user) = &self.user {
            let wide = user.map().is_wide();
            if self.rootfs.is_some() {
                self.pid = self.pid.map(|p| Pid {
                    mounted_by_rootfs: true,
                    ..p
                });
            }
            self.rootfs = self.rootfs.map(|r| r.in_user_namespace(wide));
        }
        let mut stages: Stages = Vec::new();
        let mut add = |stage: Option<Box<dyn Stage>>| stages.extend(stage);
        add(self.user.map(|s| Box::new(s) as _));
        add(self.cgroups.map(|s| Box::new(s) as _));
        add(self.mount.then(|| Box::new(Mount) as _));
        add(self.uts.map(|s| Box::new(s) as _));
        add(self.rootfs.map(|s| Box::new(s) as _));
        add(self.pid.map(|s| Box::new(s) as _));
        add(self.net.map(|s| Box::new(s) as _));
        add(self.usermode.map(|s| Box::new(s) as _));
        add(self.joined_net.map(|s| Box::new(s) as _));
        add(self.iptables.map(|s| Box::new(s) as _));
        add(self.join.map(|s| Box::new(s) as _));
        add(self.session.map(|s| Box::new(s) as _));
        add(self.hardening.map(|s| Box::new(s) as _));
        let extra = if self.ipc {
            libc::CLONE_NEWIPC as u64
        } else {
            0
        };
        (stages, extra)
    }
}

/// `diyc setup`: the bridge (the net stage's), then ip_forward and diyc's
/// rules (the iptables stage's), each under its own heading.
pub fn setup_network(sys: &mut Sys, store: &Store, bridge: &Bridge) -> Result<()> {
    store.create()?;
    let _lock = records::lock(store)?;
    sys.stage(StageId::Net);
    net::preflight(sys, store, bridge)?;
    net::setup_bridge(sys, store, bridge)?;
    sys.stage(StageId::Iptables);
    iptables::setup_rules(sys, store, bridge)
}

/// `diyc teardown`: setup undone, newest first. Refused while a container
/// still holds an address.
pub fn teardown_network(sys: &mut Sys, store: &Store) -> Result<()> {
    if !records::exists(store) {
        return Ok(());
    }
    let _lock = records::lock(store)?;
    if let Some(lease) = records::held_leases(store).first() {
        return Err(Error::invalid(format!(
            "container {} still uses the network ({}); stop it first",
            lease.container, lease.ip
        )));
    }
    iptables::teardown_rules(sys, store)?;
    net::teardown_bridge(sys, store)
}
