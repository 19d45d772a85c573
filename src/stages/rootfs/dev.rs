//! The container's /dev: a small tmpfs of its own with only the harmless
//! devices (and those passed with `--device`), a devpts instance of its
//! own, /dev/shm and /dev/mqueue, never the host's devtmpfs with its disks.

use super::Rootfs;
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

impl Rootfs {
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
            sys.call(Call::Mknodat {
                path: format!("{dev}/{name}"),
                mode: libc::S_IFCHR | 0o666,
                major: *major,
                minor: *minor,
            })?;
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
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
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
            sys.call(Call::Mknodat {
                path,
                mode: kind | device.mode,
                major: device.major,
                minor: device.minor,
            })?;
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
