//! The mounts of the container's own on top of the image, made before
//! pivot_root while the host's paths are still reachable: its /etc files,
//! `-v HOST:CONTAINER[:ro]`, `--tmpfs PATH` and `--read-only`. Every
//! target is inside the new root, and no symlink in the image decides
//! where a mount lands: a mount follows a symlink, so one pointing out of
//! the root (or at /proc/self/...) would put the host's files, or a
//! writable layer, somewhere the image chose.

use serde::{Deserialize, Serialize};

use super::Rootfs;
use crate::error::{Error, Result};
use crate::stages::cgroups::CgroupFs;
use crate::stages::ensure_dir;
use crate::stages::net::etc;
use crate::sys::{Call, Kind, Sys};

/// One mount asked for on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserMount {
    /// `-v HOST:CONTAINER[:ro]`: a directory or file of the host's.
    Bind {
        host: String,
        inside: String,
        read_only: bool,
    },
    /// `--tmpfs PATH[:OPTIONS]`: a fresh tmpfs, at most `size` bytes.
    Tmpfs {
        inside: String,
        size: u64,
        mode: u32,
    },
    /// A mount of a bundle's config.json (the OCI command line): a bind
    /// of `source` when `fstype` is None (remounted with `flags` if any),
    /// otherwise a filesystem mounted with `flags` and `data`.
    Spec {
        source: String,
        inside: String,
        fstype: Option<String>,
        flags: u64,
        data: String,
        recursive: bool,
    },
}

/// A --tmpfs without `size=`: 64 MiB, like /dev/shm.
pub const TMPFS_DEFAULT: u64 = 64 << 20;

impl UserMount {
    /// `-v HOST:CONTAINER[:ro|:rw]`, with the host's side made absolute
    /// and required to exist.
    pub fn volume(text: &str) -> Result<UserMount> {
        let bad = |why: &str| Error::invalid(format!("-v {text}: {why}"));
        let mut parts = text.split(':');
        let (Some(host), Some(inside)) = (parts.next(), parts.next()) else {
            return Err(bad("give it as HOST:CONTAINER[:ro]"));
        };
        let read_only = match parts.next() {
            None | Some("rw") => false,
            Some("ro") => true,
            Some(other) => return Err(bad(&format!("unknown option {other:?} (ro or rw)"))),
        };
        if parts.next().is_some() {
            return Err(bad("give it as HOST:CONTAINER[:ro]"));
        }
        let host = std::fs::canonicalize(host)
            .map_err(|e| bad(&format!("{host}: {e}")))?
            .to_str()
            .map(String::from)
            .ok_or_else(|| bad("the host path is not UTF-8"))?;
        Ok(UserMount::Bind {
            host,
            inside: check_inside(inside).map_err(|why| bad(&why))?,
            read_only,
        })
    }

    /// `--tmpfs PATH[:size=SIZE,mode=MODE]`.
    pub fn tmpfs(text: &str) -> Result<UserMount> {
        let bad = |why: &str| Error::invalid(format!("--tmpfs {text}: {why}"));
        let (inside, options) = text.split_once(':').unwrap_or((text, ""));
        let (mut size, mut mode) = (TMPFS_DEFAULT, 0o1777);
        for option in options.split(',').filter(|o| !o.is_empty()) {
            match option.split_once('=') {
                Some(("size", v)) => {
                    size = crate::stages::cgroups::parse_size(v).map_err(|e| bad(&e))?
                }
                Some(("mode", v)) => {
                    mode = u32::from_str_radix(v, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| bad(&format!("mode {v:?} is not an octal mode")))?;
                }
                _ => {
                    return Err(bad(&format!(
                        "unknown option {option:?} (size=SIZE, mode=MODE)"
                    )));
                }
            }
        }
        Ok(UserMount::Tmpfs {
            inside: check_inside(inside).map_err(|why| bad(&why))?,
            size,
            mode,
        })
    }

    /// Where it goes inside the container.
    pub fn target(&self) -> &str {
        match self {
            UserMount::Bind { inside, .. }
            | UserMount::Tmpfs { inside, .. }
            | UserMount::Spec { inside, .. } => inside,
        }
    }
}

/// A remount of a bind replaces its flags: the nosuid, nodev and noexec
/// the host's mount has are asked for again, or the read-only bind would
/// lose them (the kernel refuses a remount that drops them anyway).
pub(super) fn kept_flags(target: &str) -> libc::c_ulong {
    use nix::sys::statvfs::{FsFlags, statvfs};
    let Ok(stat) = statvfs(target) else {
        return 0;
    };
    [
        (FsFlags::ST_NOSUID, libc::MS_NOSUID),
        (FsFlags::ST_NODEV, libc::MS_NODEV),
        (FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
    ]
    .iter()
    .filter(|(has, _)| stat.flags().contains(*has))
    .fold(0, |all, (_, flag)| all | flag)
}

/// A path inside the container to mount on: absolute, plain, not `/`
/// and not in /proc or /sys, which diyc mounts and masks itself.
fn check_inside(path: &str) -> std::result::Result<String, String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if !path.starts_with('/') || parts.is_empty() || parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(format!(
            "{path:?} must be an absolute path inside the container, not / and without . or .."
        ));
    }
    if matches!(parts[0], "proc" | "sys") {
        return Err(format!(
            "{path} is in /{}, which diyc mounts itself",
            parts[0]
        ));
    }
    Ok(format!("/{}", parts.join("/")))
}

impl Rootfs {
    /// Bind each file over the image's. The mount covers whatever the
    /// image has there without opening it (a FIFO planted at /etc/hosts
    /// would block an open for writing); a symlink is removed first, since
    /// a mount follows it, and a missing file is made to mount on.
    pub(super) fn bind_files(&self, sys: &mut Sys) -> Result<()> {
        if self.binds.is_empty() {
            return Ok(());
        }
        match &self.etc_written {
            Some((dir, files)) => {
                let on = match &self.scratch {
                    Some((mount_point, _)) if mount_point == dir => "its tmpfs at ",
                    _ => "",
                };
                sys.note(format!("the container's own /etc/hostname, /etc/hosts and /etc/resolv.conf, written on {on}{dir} and bound over the image's"));
                etc::write(sys, dir, files)?;
            }
            None => sys.note("the container's own /etc/hostname, /etc/hosts and /etc/resolv.conf, bound from its directory over the image's"),
        }
        ensure_dir(sys, &format!("{}/etc", self.merged), 0o755)?;
        for (source, inside) in &self.binds {
            let target = format!("{}{inside}", self.merged);
            match sys.kind(&target) {
                Some(Kind::Dir) => {
                    return Err(Error::invalid(format!(
                        "the image's {inside} is a directory; refusing to mount a file over it"
                    )));
                }
                Some(Kind::Symlink) => {
                    sys.call(Call::Unlink {
                        path: target.clone(),
                    })?;
                    mount_point_file(sys, &target)?;
                }
                None => mount_point_file(sys, &target)?,
                Some(_) => {}
            }
            sys.mount(Some(source), &target, None, libc::MS_BIND, None)?;
        }
        Ok(())
    }

    /// /sys/fs/cgroup as the container's cgroup namespace shows it: its
    /// own cgroup as the root, read-only. On v1 each tree the container
    /// is in is mounted on a small tmpfs, which is then made read-only too.
    pub(super) fn cgroup_fs(&self, sys: &mut Sys) -> Result<()> {
        let Some(cgroupfs) = &self.cgroupfs else {
            return Ok(());
        };
        let at = format!("{}/sys/fs/cgroup", self.merged);
        let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        match cgroupfs {
            CgroupFs::V2 => sys.mount(Some("cgroup2"), &at, Some("cgroup2"), flags, None),
            CgroupFs::V1(trees) => {
                let open = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
                sys.mount(
                    Some("tmpfs"),
                    &at,
                    Some("tmpfs"),
                    open,
                    Some("mode=755,size=64k"),
                )?;
                for (name, controllers) in trees {
                    let dir = format!("{at}/{name}");
                    sys.call(Call::Mkdirat {
                        path: dir.clone(),
                        mode: 0o755,
                    })?;
                    sys.mount(
                        Some("cgroup"),
                        &dir,
                        Some("cgroup"),
                        flags,
                        Some(controllers),
                    )?;
                }
                let again = libc::MS_REMOUNT | flags;
                sys.mount(None, &at, None, again, Some("mode=755,size=64k"))
            }
        }
    }

    /// `-v` and `--tmpfs` in the order given, then `--read-only`.
    pub(super) fn user_mounts(&self, sys: &mut Sys) -> Result<()> {
        for mount in &self.mounts {
            let dir = match mount {
                UserMount::Bind { host, .. }
                | UserMount::Spec {
                    source: host,
                    fstype: None,
                    ..
                } => std::path::Path::new(host).is_dir(),
                UserMount::Tmpfs { .. } | UserMount::Spec { .. } => true,
            };
            self.make_target(sys, mount.target(), dir)?;
            match mount {
                UserMount::Bind {
                    host, read_only, ..
                } => {
                    self.at_target(sys, mount.target(), dir, &mut |sys, target| {
                        sys.mount(Some(host), target, None, libc::MS_BIND | libc::MS_REC, None)
                    })?;
                    if *read_only {
                        // The target again: now the bind's own root.
                        self.at_target(sys, mount.target(), dir, &mut |sys, target| {
                            let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
                            sys.mount(None, target, None, flags | kept_flags(target), None)
                        })?;
                    }
                }
                UserMount::Spec {
                    source,
                    fstype,
                    flags,
                    data,
                    recursive,
                    ..
                } => self.spec_mount(
                    sys,
                    mount.target(),
                    dir,
                    source,
                    fstype,
                    *flags,
                    data,
                    *recursive,
                )?,
                UserMount::Tmpfs { size, mode, .. } => {
                    let options = format!("mode={mode:o},size={}k", size.div_ceil(1024));
                    self.at_target(sys, mount.target(), true, &mut |sys, target| {
                        let flags = libc::MS_NOSUID | libc::MS_NODEV;
                        sys.mount(Some("tmpfs"), target, Some("tmpfs"), flags, Some(&options))
                    })?;
                }
            }
        }
        if self.read_only {
            sys.note("--read-only: the root is remounted read-only; /dev, /dev/shm and the mounts above stay writable");
            // With the flags the root's mount has (an engine's nodev).
            let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
            sys.mount(
                None,
                &self.merged,
                None,
                flags | kept_flags(&self.merged),
                None,
            )?;
        }
        Ok(())
    }

    /// Make the mount point `inside` where the image lacks it: every
    /// directory on the way must be a real one (a symlink is refused),
    /// and the last is a directory, or a file for a file's bind.
    pub(super) fn make_target(&self, sys: &mut Sys, inside: &str, dir: bool) -> Result<()> {
        let mut at = self.merged.clone();
        let parts: Vec<&str> = inside.split('/').filter(|p| !p.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            at = format!("{at}/{part}");
            if i + 1 < parts.len() || dir {
                ensure_dir(sys, &at, 0o755)?;
            } else {
                match sys.kind(&at) {
                    None => mount_point_file(sys, &at)?,
                    Some(Kind::Symlink) => {
                        return Err(Error::invalid(format!(
                            "{inside} is a symlink in the image; refusing to mount on it"
                        )));
                    }
                    Some(Kind::Dir) => {
                        return Err(Error::invalid(format!(
                            "{inside} is a directory in the image; a file cannot be mounted on it"
                        )));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Run `mount` on the target `inside` as the kernel resolves it from
    /// the new root with no symlink allowed on the way: opened with
    /// openat2 and reached through its descriptor, /proc/self/fd/N, so
    /// nothing can change between the check and the mount.
    pub(super) fn at_target(
        &self,
        sys: &mut Sys,
        inside: &str,
        dir: bool,
        mount: &mut dyn FnMut(&mut Sys, &str) -> Result<()>,
    ) -> Result<()> {
        let path_only = libc::O_PATH | libc::O_CLOEXEC;
        let root = sys.call(Call::Openat {
            path: self.merged.clone(),
            flags: path_only | libc::O_DIRECTORY,
            mode: 0,
        })? as i32;
        let opened = sys.call(Call::Openat2 {
            dir: root,
            path: inside.trim_start_matches('/').to_string(),
            flags: path_only | if dir { libc::O_DIRECTORY } else { 0 },
            resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_SYMLINKS,
        });
        sys.call(Call::Close { fd: root })?;
        let fd = opened.map_err(|e| match e.errno() {
            Some(nix::errno::Errno::ELOOP) => Error::invalid(format!(
                "{inside}: a symlink on the way in the image; refusing to mount there"
            )),
            _ => e,
        })? as i32;
        let mounted = mount(sys, &format!("/proc/self/fd/{fd}"));
        sys.call(Call::Close { fd })?;
        mounted
    }
}

/// An empty file to mount on, where there was nothing.
pub(super) fn mount_point_file(sys: &mut Sys, path: &str) -> Result<()> {
    let fd = sys.call(Call::Openat {
        path: path.to_string(),
        flags: libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        mode: 0o644,
    })? as i32;
    sys.call(Call::Close { fd }).map(drop)
}
