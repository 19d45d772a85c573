//! The parts of a container the lessons build on, all from the one list
//! in src/stages/order.rs: the busybox image as an in-memory root, a
//! cgroup below the lessons' parent, a place on the bridge.

use std::net::Ipv4Addr;

use super::probes::{self, Probe};
use super::session::Session;
use crate::error::Result;
use crate::event::StageId;
use crate::stages::cgroups::{Cgroups, Host, Limits};
use crate::stages::iptables::Iptables;
use crate::stages::net::{EtcFiles, Net, etc};
use crate::stages::order::Plan;
use crate::stages::rootfs::{IN_MEMORY_DEFAULT, Rootfs};
use crate::stages::uts::Uts;
use crate::state::network;
use crate::sys::{Call, Quiet, Sys};
use crate::undo::{Undo, When};

/// What the lessons with an image show of the host: the mount table
/// around the root's stage.
pub const ROOT_WATCH: &[(StageId, Probe)] = &[(StageId::Rootfs, probes::mounts)];

/// The same and the links around the network's stage.
pub const NET_WATCH: &[(StageId, Probe)] = &[
    (StageId::Rootfs, probes::mounts),
    (StageId::Net, probes::links),
];

impl Session<'_> {
    /// A container called `name` on the busybox image, its writable layer
    /// in memory; entered with chroot instead of pivot_root when `chroot`.
    pub fn base(&mut self, undo: &mut Undo, name: &str, chroot: bool) -> Result<Plan> {
        let lower = self.busybox()?;
        let scratch = self.scratch(undo, name)?;
        let mut rootfs = Rootfs::in_memory(lower, scratch, IN_MEMORY_DEFAULT);
        if chroot {
            rootfs = rootfs.with_chroot();
        }
        let uts = Uts {
            hostname: name.into(),
            domainname: None,
        };
        Ok(Plan::base(uts, rootfs))
    }

    /// The same container with its writable layer on disk, beside its
    /// mount point, so the host can look at what the container wrote; the
    /// launch's clean-up removes it with everything in it. Returns the
    /// plan and the upper directory.
    pub fn base_on_disk(&mut self, undo: &mut Undo, name: &str) -> Result<(Plan, String)> {
        let lower = self.busybox()?;
        let merged = self.scratch(undo, name)?;
        let layer = format!("{}.layer", self.scratch_path(name)?);
        let (upper, work) = (format!("{layer}/upper"), format!("{layer}/work"));
        let mut shown = self.scaffolding();
        let mut sys = Sys::new(&mut shown, StageId::Rootfs);
        sys.note(format!(
            "the container's writable layer on disk, in {layer}, so the host can look at what it writes; removed at the end"
        ));
        // Pushed first: a half-made layer goes as well, and so does one
        // left by a diyc that was killed.
        let gone = layer.clone();
        undo.push(format!("removing {layer}"), When::Always, move |sys| {
            remove_tree(sys, &gone)
        });
        remove_tree(&mut sys, &layer)?;
        for dir in [&layer, &upper, &work] {
            sys.call(Call::Mkdirat {
                path: dir.clone(),
                mode: 0o755,
            })?;
        }
        let uts = Uts {
            hostname: name.into(),
            domainname: None,
        };
        let rootfs = Rootfs::on_disk(lower, upper.clone(), work, merged);
        Ok((Plan::base(uts, rootfs), upper))
    }

    pub fn cgroups(&self, name: &str, limits: Limits) -> Result<Cgroups> {
        let host = Host::detect()?;
        let placement = host.place(&self.opts.cgroup_parent, name, &limits)?;
        Ok(Cgroups::new(host, placement, limits))
    }

    /// A namespace of its own with only lo, for `plan`.
    pub fn island(&self, undo: &mut Undo, plan: &mut Plan, name: &str) -> Result<()> {
        plan.net = Some(Net::isolated(self.store.clone(), self.bridge.clone()));
        self.etc_files(undo, plan, &EtcFiles::new(name, None))
    }

    /// A veth pair onto the bridge for `plan`, with an address leased
    /// until the end of the launch.
    pub fn bridged(&self, undo: &mut Undo, plan: &mut Plan, name: &str) -> Result<Ipv4Addr> {
        crate::stages::net::preflight(
            &mut Sys::new(&mut Quiet, StageId::Net),
            self.store,
            &self.bridge,
        )?;
        self.store.create()?;
        let ip = network::lease(self.store, &self.bridge, name, None, &[])?;
        let store = self.store.clone();
        undo.push(format!("releasing {ip}"), When::Always, move |_| {
            network::release(&store, ip)
        });
        plan.net = Some(Net::bridged(
            self.store.clone(),
            self.bridge.clone(),
            name,
            ip,
        ));
        self.etc_files(undo, plan, &EtcFiles::new(name, Some(ip)))?;
        Ok(ip)
    }

    /// The lesson container's /etc files, written beside its mount point
    /// and bound into its root, removed at the end.
    fn etc_files(&self, undo: &mut Undo, plan: &mut Plan, files: &EtcFiles) -> Result<()> {
        let dir = format!("{}.etc", self.scratch_path(&files.hostname)?);
        let mut shown = self.scaffolding();
        let mut sys = Sys::new(&mut shown, StageId::Net);
        sys.note(format!(
            "the lesson container's /etc/hostname, /etc/hosts and /etc/resolv.conf, in {dir}, removed at the end"
        ));
        etc::write(&mut sys, &dir, files)?;
        let gone = dir.clone();
        undo.push(format!("removing {dir}"), When::Always, move |sys| {
            for name in etc::FILES {
                sys.call(Call::Unlink {
                    path: format!("{gone}/{name}"),
                })?;
            }
            sys.call(Call::Rmdir { path: gone }).map(drop)
        });
        plan.rootfs = plan.rootfs.take().map(|r| r.with_etc(&dir));
        Ok(())
    }

    /// NAT for the container at `ip`, with no published port.
    pub fn nat(&self, ip: Ipv4Addr) -> Iptables {
        Iptables {
            store: self.store.clone(),
            bridge: self.bridge.clone(),
            ip,
            ports: Vec::new(),
        }
    }
}

/// Remove `path` and everything below it through the seam, each removal
/// shown; nothing there is nothing to do. Symlinks are removed, never
/// followed.
pub(super) fn remove_tree(sys: &mut Sys, path: &str) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return sys
            .call(Call::Unlink {
                path: path.to_string(),
            })
            .map(drop);
    }
    // Overlayfs leaves its work/work directory with mode 000, which only
    // the host's root can still look into; without root, diyc owns it and
    // opens it up first.
    let rwx = nix::unistd::AccessFlags::R_OK
        | nix::unistd::AccessFlags::W_OK
        | nix::unistd::AccessFlags::X_OK;
    if nix::unistd::access(path, rwx).is_err() {
        if let Some(chmod) = ["/usr/bin/chmod", "/bin/chmod"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
        {
            sys.capture(&[chmod.into(), "u+rwx".into(), path.into()])?;
        }
    }
    for name in probes::names_in(path) {
        remove_tree(sys, &format!("{path}/{name}"))?;
    }
    sys.call(Call::Rmdir {
        path: path.to_string(),
    })
    .map(drop)
}
