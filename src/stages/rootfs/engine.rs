//! An engine's root (the OCI command line): a directory podman or the
//! containerd shim assembled, which the stage binds onto itself instead
//! of stacking layers, and the bundle's own mounts made in it.

use super::mounts::{UserMount, kept_flags};
use super::{Parts, Rootfs};
use crate::error::Result;
use crate::sys::Sys;

impl Rootfs {
    /// A root an engine assembled at `path` (podman's overlay, the
    /// shim's snapshot): mounts are made in it and it becomes `/`, with
    /// the parts the bundle lists.
    pub fn engine(path: String, parts: Parts, mounts: Vec<UserMount>, read_only: bool) -> Self {
        Rootfs {
            engine_root: true,
            parts,
            mounts,
            read_only,
            ..Rootfs::on_disk(String::new(), String::new(), String::new(), path)
        }
    }

    /// The writable layer on a tmpfs of at most `size` bytes mounted at
    /// `mount_point` inside the container's mount namespace.
    pub fn in_memory(lower: String, mount_point: String, size: u64) -> Self {
        Rootfs {
            scratch: Some((mount_point.clone(), size)),
            ..Rootfs::on_disk(
                lower,
                format!("{mount_point}/upper"),
                format!("{mount_point}/work"),
                format!("{mount_point}/merged"),
            )
        }
    }

    /// One of a bundle's mounts. A bind takes its flags in a remount of
    /// its own (the kernel ignores them on the bind itself).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn spec_mount(
        &self,
        sys: &mut Sys,
        inside: &str,
        dir: bool,
        source: &str,
        fstype: &Option<String>,
        flags: u64,
        data: &str,
        recursive: bool,
    ) -> Result<()> {
        let data = (!data.is_empty()).then_some(data);
        let Some(fstype) = fstype else {
            let rec = if recursive { libc::MS_REC } else { 0 };
            self.at_target(sys, inside, dir, &mut |sys, target| {
                sys.mount(Some(source), target, None, libc::MS_BIND | rec, None)
            })?;
            if flags == 0 {
                return Ok(());
            }
            return self.at_target(sys, inside, dir, &mut |sys, target| {
                let again = libc::MS_BIND | libc::MS_REMOUNT | flags as libc::c_ulong;
                sys.mount(None, target, None, again | kept_flags(target), None)
            });
        };
        self.at_target(sys, inside, true, &mut |sys, target| {
            sys.mount(
                Some(source),
                target,
                Some(fstype),
                flags as libc::c_ulong,
                data,
            )
        })
    }
}
