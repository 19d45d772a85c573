//! The container's /dev: a small tmpfs of its own with only the harmless
//! devices (and those passed with `--device`), a devpts instance of its
//! own, /dev/shm and /dev/mqueue, never the host's devtmpfs with its disks.

use super::Rootfs;
use super::mounts::{kept_flags, mount_point_file};
use crate::error::Result;
use crate::stages::ensure_dir;
use crate::sys::{Call, Sys};

/// The character devices a container gets: (name, major, minor).
const DEVICES: &[(&str, u32, u32)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

const LINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "fd"),
    ("/proc/self/fd/0", "stdin"),
    ("/proc/self/fd/1", "stdout"),
    ("/proc/self/fd/2", "stderr"),
    ("pts/ptmx", "ptmx"),
];

/// A device node for the container's /dev, and the host's node it is.
struct Node {
    host: String,
    mode: u32,
    major: u32,
    minor: u32,
}

impl Rootfs {
    /// Make `node` at `path`: with mknod as root; in a user namespace,
    /// where the kernel makes no device nodes, by binding the host's own
    /// node over an empty file, so it stays the host's device with the
    /// host's permissions.
    fn node(&self, sys: &mut Sys, path: &str, node: &Node) -> Result<()> {
        if self.user_ns.is_none() {
            return sys
                .call(Call::Mknodat {
                    path: path.to_string(),
                    mode: node.mode,
                    major: node.major,
                    minor: node.minor,
                })
                .map(drop);
        }
        mount_point_file(sys, path)?;
        sys.mount(Some(&node.host), path, None, libc::MS_BIND, None)
    }

    /// sysfs read-only at /sys. The kernel lets the root of a user
    /// namespace mount one only for a network namespace it owns; with the
    /// host's network (`--net host`) the host's /sys is bound instead.
    pub(super) fn sysfs(&self, sys: &mut Sys) -> Result<()> {
        let sysfs = format!("{}/sys", self.merged);
        ensure_dir(sys, &sysfs, 0o555)?;
        let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        match sys.mount(Some("sysfs"), &sysfs, Some("sysfs"), flags, None) {
            Err(e) if self.user_ns.is_some() && e.errno() == Some(nix::errno::Errno::EPERM) => {
                sys.note("this user namespace does not own the network namespace: the host's /sys is bound, read-only");
                // With every mount below it: the kernel binds a tree a user
                // namespace may not see under alone only whole. Each is
                // then made read-only, the host's cgroup trees among them.
                sys.mount(
                    Some("/sys"),
                    &sysfs,
                    None,
                    libc::MS_BIND | libc::MS_REC,
                    None,
                )?;
                let below = format!("{sysfs}/");
                let points: Vec<String> = crate::observe::mountinfo(None)
                    .into_iter()
                    .map(|m| m.mount_point)
                    .filter(|p| *p == sysfs || p.starts_with(&below))
                    .collect();
                for point in points {
                    let again =
                        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | kept_flags(&point);
                    sys.mount(None, &point, None, again, None)?;
                }
                Ok(())
            }
            other => other,
        }
    }

    pub(super) fn dev(&self, sys: &mut Sys) -> Result<()> {
        let dev = format!("{}/dev", self.merged);
        ensure_dir(sys, &dev, 0o755)?;
        sys.mount(
            Some("tmpfs"),
            &dev,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_STRICTATIME,
            Some("mode=755,size=65536k"),
        )?;
        for (name, major, minor) in DEVICES {
            let node = Node {
                host: format!("/dev/{name}"),
                mode: libc::S_IFCHR | 0o666,
                major: *major,
                minor: *minor,
            };
            self.node(sys, &format!("{dev}/{name}"), &node)?;
        }
        let pts = format!("{dev}/pts");
        sys.call(Call::Mkdirat {
            path: pts.clone(),
            mode: 0o755,
        })?;
        sys.mount(
            Some("devpts"),
            &pts,
            Some("devpts"),
            libc::MS_NOSUID | libc::MS_NOEXEC,
            Some(if self.user_ns == Some(false) {
                // Group 5 (tty) is not mapped: only the caller's own ids are.
                "newinstance,ptmxmode=0666,mode=0620"
            } else {
                "newinstance,ptmxmode=0666,mode=0620,gid=5"
            }),
        )?;
        let shm = format!("{dev}/shm");
        sys.call(Call::Mkdirat {
            path: shm.clone(),
            mode: 0o1777,
        })?;
        sys.mount(
            Some("shm"),
            &shm,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            Some("mode=1777,size=65536k"),
        )?;
        // POSIX message queues: the container's IPC namespace's own.
        let mqueue = format!("{dev}/mqueue");
        sys.call(Call::Mkdirat {
            path: mqueue.clone(),
            mode: 0o1777,
        })?;
        sys.mount(
            Some("mqueue"),
            &mqueue,
            Some("mqueue"),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            None,
        )?;
        for device in &self.devices {
            let path = format!("{}{}", self.merged, device.inside);
            // Directories on the way (/dev/net for /dev/net/tun).
            let mut at = dev.clone();
            let inner = device.inside.trim_start_matches("/dev/");
            for part in inner
                .split('/')
                .rev()
                .skip(1)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                at = format!("{at}/{part}");
                ensure_dir(sys, &at, 0o755)?;
            }
            let kind = if device.kind == 'b' {
                libc::S_IFBLK
            } else {
                libc::S_IFCHR
            };
            let node = Node {
                host: device.host.clone(),
                mode: kind | device.mode,
                major: device.major,
                minor: device.minor,
            };
            self.node(sys, &path, &node)?;
        }
        for (target, name) in LINKS {
            sys.call(Call::Symlinkat {
                target: target.to_string(),
                linkpath: format!("{dev}/{name}"),
            })?;
        }
        Ok(())
    }
}
