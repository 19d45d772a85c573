//! The rootfs stage: the image becomes the container's `/`.
//!
//! 1. An overlay mount stacks a per-container writable *upper* directory on
//!    the read-only image (*lower*); the kernel copies a file up the first
//!    time it is written, so the image is never changed. A container that
//!    is removed at exit (`--rm`) gets its upper directory on a tmpfs made
//!    inside its own mount namespace instead: its writes never reach the
//!    disk, and vanish with the namespace.
//! 2. A small tmpfs becomes /dev with only the harmless devices, a devpts
//!    instance of the container's own and /dev/shm, never the host's
//!    devtmpfs with its disks.
//! 3. sysfs is mounted read-only at /sys.
//! 4. `pivot_root(".", ".")` makes the overlay the root of the mount
//!    namespace and stacks the old root on top of it; detaching that old
//!    root (`umount2(".", MNT_DETACH)`) removes every path back to the
//!    host's files. Unlike `chroot`, nothing is left to climb out through,
//!    and no directory for the old root is left behind in the image.

mod checks;
mod dev;
mod engine;
mod mounts;

pub use checks::{MOST_LAYERS, check_mount_points, lowerdir, room_for_the_rest};
pub use mounts::UserMount;

use crate::error::Result;
use crate::event::{Heading, StageId};
use crate::observe;
use crate::stages::Stage;
use crate::stages::cgroups::devices::Passed;
use crate::stages::cgroups::{CgroupFs, human};
use crate::stages::net::{EtcFiles, etc};
use crate::sys::{Call, Sys};

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "rootfs: an overlay of the image becomes /",
    why: "The image stays read-only below; writes land in the container's own upper directory.",
};

pub struct Rootfs {
    lower: String,
    upper: String,
    work: String,
    /// Where the overlay is mounted before it becomes `/`.
    merged: String,
    /// A directory to mount a tmpfs on first, holding upper, work and
    /// merged, for a writable layer that lives in memory, and its size.
    scratch: Option<(String, u64)>,
    /// chroot into the overlay instead of pivot_root: only the rootfs
    /// lesson does this, to show what goes wrong.
    chroot_only: bool,
    /// Files of the container's own, bound over the image's before
    /// pivot_root: (the file on the host, its path inside).
    binds: Vec<(String, String)>,
    /// The etc files this stage writes itself before binding them, and
    /// into which directory: a `--rm` container's go on its tmpfs.
    etc_written: Option<(String, EtcFiles)>,
    /// The host's devices passed in with `--device`, made in /dev.
    devices: Vec<Passed>,
    /// `-v` and `--tmpfs`, in the order given, and `--read-only`.
    mounts: Vec<UserMount>,
    read_only: bool,
    /// The container's own cgroup, read-only at /sys/fs/cgroup.
    cgroupfs: Option<CgroupFs>,
    /// Made inside a user namespace (without root), and whether it maps
    /// more ids than the caller's own.
    user_ns: Option<bool>,
    /// An engine's root (the OCI command line), already assembled: bound
    /// onto itself rather than stacked from layers.
    engine_root: bool,
    /// Which of /dev, /sys and /proc (before pivot_root) this stage makes.
    parts: Parts,
}

/// The filesystems the stage makes itself: /dev (with its devpts, shm
/// and mqueue), a read-only /sys, and /proc before pivot_root (which the
/// pid stage otherwise mounts after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    pub dev: bool,
    pub sys: bool,
    pub proc: bool,
}

/// How much a `--rm` container without `--mem` may write into its
/// writable layer, which is memory: 1 GiB.
pub const IN_MEMORY_DEFAULT: u64 = 1 << 30;

impl Rootfs {
    /// The writable layer in the container's own directories, kept
    /// between runs.
    pub fn on_disk(lower: String, upper: String, work: String, merged: String) -> Self {
        Rootfs {
            lower,
            upper,
            work,
            merged,
            scratch: None,
            chroot_only: false,
            binds: Vec::new(),
            etc_written: None,
            devices: Vec::new(),
            mounts: Vec::new(),
            read_only: false,
            cgroupfs: None,
            user_ns: None,
            engine_root: false,
            parts: Parts {
                dev: true,
                sys: true,
                proc: false,
            },
        }
    }

    /// Bind the container's /etc/hostname, /etc/hosts and /etc/resolv.conf
    /// from `dir` on the host (net/etc.rs writes them there).
    pub fn with_etc(mut self, dir: &str) -> Self {
        self.binds = etc::FILES
            .iter()
            .map(|name| (format!("{dir}/{name}"), format!("/etc/{name}")))
            .collect();
        self
    }

    /// The same files, written by this stage into `dir` before they are
    /// bound. For a layer in memory `dir` is its tmpfs: a file made there
    /// costs microseconds, one made on an ext4 disk a fifth of a
    /// millisecond, and these three would only be deleted at exit.
    pub fn with_etc_written(self, dir: &str, files: EtcFiles) -> Self {
        Rootfs {
            etc_written: Some((dir.to_string(), files)),
            ..self.with_etc(dir)
        }
    }

    /// Whether the writable layer is on a tmpfs of the container's own.
    pub fn is_in_memory(&self) -> bool {
        self.scratch.is_some()
    }

    /// Make the host's devices `passed` in the container's /dev.
    pub fn with_devices(mut self, passed: Vec<Passed>) -> Self {
        self.devices = passed;
        self
    }

    /// The mounts asked for on the command line, and whether the root
    /// itself is read-only.
    pub fn with_mounts(mut self, mounts: Vec<UserMount>, read_only: bool) -> Self {
        self.mounts = mounts;
        self.read_only = read_only;
        self
    }

    /// Mount the container's cgroup (the root of its cgroup namespace)
    /// read-only at /sys/fs/cgroup.
    pub fn with_cgroupfs(mut self, cgroupfs: CgroupFs) -> Self {
        self.cgroupfs = Some(cgroupfs);
        self
    }

    /// Made by the root of a user namespace, which the kernel lets mount
    /// an overlay, a tmpfs or a devpts, but not make device nodes or mount
    /// a sysfs of a network namespace it does not own. `wide`: the map has
    /// more ids than the caller's own (the tty group among them).
    pub fn in_user_namespace(mut self, wide: bool) -> Self {
        self.user_ns = Some(wide);
        self.parts.proc = true;
        self
    }

    /// The same, but entered with chroot(2) rather than pivot_root(2).
    pub fn with_chroot(mut self) -> Self {
        self.chroot_only = true;
        self
    }

    fn scratch(&self, sys: &mut Sys, mount_point: &str, size: u64) -> Result<()> {
        sys.note(format!(
            "removed at exit (--rm): the writable layer lives in memory, never on disk, and holds at most {}",
            human(size)
        ));
        let options = format!("mode=755,size={}k", size.div_ceil(1024));
        sys.mount(
            Some("tmpfs"),
            mount_point,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV,
            Some(&options),
        )?;
        for dir in [&self.upper, &self.work, &self.merged] {
            sys.call(Call::Mkdirat {
                path: dir.clone(),
                mode: 0o755,
            })?;
        }
        Ok(())
    }

    pub fn overlay_options(&self) -> String {
        // Without root, overlayfs keeps its marks (an opaque directory) in
        // user.overlay.* attributes, which only root could not have made
        // in trusted.overlay.*; the image was imported the same way.
        let user = if self.user_ns.is_some() {
            ",userxattr"
        } else {
            ""
        };
        format!(
            "lowerdir={},upperdir={},workdir={}{user}",
            self.lower, self.upper, self.work
        )
    }
}

impl Stage for Rootfs {
    fn id(&self) -> StageId {
        StageId::Rootfs
    }

    fn requires(&self) -> &'static [StageId] {
        &[StageId::Mount]
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Rootfs);
        if let Some((mount_point, size)) = &self.scratch {
            self.scratch(sys, mount_point, *size)?;
        }
        if self.engine_root {
            sys.note("the engine assembled this root: bound onto itself, so that it is a mount pivot_root can use");
            sys.mount(
                Some(&self.merged),
                &self.merged,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )?;
        } else {
            sys.mount(
                Some("overlay"),
                &self.merged,
                Some("overlay"),
                0,
                Some(&self.overlay_options()),
            )?;
        }
        if self.parts.dev {
            self.dev(sys)?;
        }
        if self.parts.sys {
            self.sysfs(sys)?;
        }
        if self.parts.proc {
            // The kernel lets the root of a user namespace mount a procfs
            // only where a full one is still in view: the host's, until
            // pivot_root below hides it. A bundle lists /proc with the
            // rest of its mounts, all made here.
            crate::stages::pid::mount_proc(sys, &format!("{}/proc", self.merged))?;
        }
        self.cgroup_fs(sys)?;
        self.bind_files(sys)?;
        self.user_mounts(sys)?;
        sys.call(Call::Chdir {
            path: self.merged.clone(),
        })?;
        if self.chroot_only {
            sys.note(
                "chroot instead of pivot_root: the old root is still there, only out of sight",
            );
            sys.call(Call::Chroot { path: ".".into() })?;
            sys.call(Call::Chdir { path: "/".into() })?;
            return crate::fault::point("after-mount");
        }
        sys.call(Call::PivotRoot {
            new_root: ".".into(),
            put_old: ".".into(),
        })?;
        sys.call(Call::Umount2 {
            target: ".".into(),
            flags: libc::MNT_DETACH,
        })?;
        sys.call(Call::Chdir { path: "/".into() })?;
        crate::fault::point("after-mount")
    }

    fn inside(&self) -> Vec<String> {
        let list = |dir: &str| {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map(|d| {
                    d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            names.join(" ")
        };
        vec![
            format!("ls /: {}", list("/")),
            format!("ls /dev: {}", list("/dev")),
        ]
    }

    fn outside(&self, pid: i32) -> Vec<String> {
        let mut lines = if self.engine_root {
            vec![format!("root (assembled by the engine): {}", self.merged)]
        } else {
            self.layer_lines()
        };
        lines.push(format!(
            "mounts of pid {pid}, read from /proc/{pid}/mountinfo:"
        ));
        for m in observe::mountinfo(Some(pid)) {
            lines.push(format!(
                "  {:<10} {:<8} {}",
                m.mount_point, m.fstype, m.options
            ));
        }
        let on_host = observe::mountinfo(None)
            .iter()
            .any(|m| m.mount_point == self.merged);
        lines.push(format!(
            "host's mount table: {} at {}",
            if on_host { "a mount" } else { "no mount" },
            self.merged
        ));
        lines
    }
}

impl Rootfs {
    fn layer_lines(&self) -> Vec<String> {
        vec![
            format!("lower (the image, read-only): {}", self.lower),
            format!(
                "upper (this container's writes{}): {}",
                if self.scratch.is_some() {
                    ", on a tmpfs only it can see"
                } else {
                    ""
                },
                self.upper
            ),
            format!("work (overlayfs scratch space): {}", self.work),
        ]
    }
}
