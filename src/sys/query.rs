//! What stages read to decide their next call: does a path exist and what
//! is it, what does a file hold, which links and addresses are there. The
//! real backend asks the kernel; the dry one answers from its world, so a
//! stage's call sequence can be checked without root. Reads change
//! nothing and are not recorded.

use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use nix::errno::Errno;

use super::dry::Kind;
use super::netlink::{Address, Link, Netlink};
use super::{Backend, Sys};
use crate::error::{Error, IoContext, Result};

impl Sys<'_> {
    /// The descriptors this process has open above `lowest`; none on the
    /// dry seam, whose process is not the one being set up.
    pub fn open_descriptors_above(&self, lowest: i32) -> Vec<i32> {
        if self.is_dry() {
            return Vec::new();
        }
        let listing: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .map(|dir| {
                dir.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        // The listing's own descriptor is closed by now; skip it if it shows.
        listing
            .into_iter()
            .filter(|fd| *fd > lowest && std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok())
            .collect()
    }

    /// What `path` is, without following a symlink there.
    pub fn kind(&self, path: &str) -> Option<Kind> {
        match &self.backend {
            Backend::Dry(world) => world.kind(path),
            Backend::Real { .. } => {
                let meta = std::fs::symlink_metadata(path).ok()?;
                let t = meta.file_type();
                Some(if t.is_dir() {
                    Kind::Dir
                } else if t.is_symlink() {
                    Kind::Symlink
                } else if t.is_file() {
                    Kind::File
                } else if t.is_char_device() {
                    let dev = meta.rdev();
                    Kind::CharDevice {
                        major: libc::major(dev),
                        minor: libc::minor(dev),
                    }
                } else {
                    Kind::Other
                })
            }
        }
    }

    pub fn exists(&self, path: &str) -> bool {
        self.kind(path).is_some()
    }

    pub fn is_dir(&self, path: &str) -> bool {
        self.kind(path) == Some(Kind::Dir)
    }

    /// A whole (small) file: a cgroup file, a sysctl.
    pub fn read(&self, path: &str) -> Option<String> {
        match &self.backend {
            Backend::Dry(world) => world.read(path),
            Backend::Real { .. } => std::fs::read_to_string(path).ok(),
        }
    }

    /// The same, trimmed.
    pub fn read_trim(&self, path: &str) -> Option<String> {
        self.read(path).map(|s| s.trim().to_string())
    }

    /// The path of open descriptor `fd` (a terminal's slave: /dev/pts/0
    /// for the first of a devpts). The dry backend opened nothing and
    /// answers with that first name.
    pub fn fd_path(&self, fd: i32) -> Option<String> {
        match &self.backend {
            Backend::Dry(_) => Some("/dev/pts/0".into()),
            Backend::Real { .. } => std::fs::read_link(format!("/proc/self/fd/{fd}"))
                .ok()
                .map(|p| p.display().to_string()),
        }
    }

    /// A directory, opened to be handed to the kernel (clone3's
    /// CLONE_INTO_CGROUP). The dry backend opens `/` in its place.
    pub fn open_dir(&self, path: &str) -> Result<OwnedFd> {
        let real = match &self.backend {
            Backend::Dry(_) => "/",
            Backend::Real { .. } => path,
        };
        std::fs::File::open(real)
            .map(OwnedFd::from)
            .ctx("opening", path)
    }

    fn connection(&mut self) -> Result<Option<&Netlink>> {
        match &mut self.backend {
            Backend::Dry(_) => Ok(None),
            Backend::Real { netlink } => {
                if netlink.is_none() {
                    *netlink = Some(Netlink::connect()?);
                }
                Ok(netlink.as_ref())
            }
        }
    }

    /// The link called `name` in this process's network namespace.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        if let Backend::Dry(world) = &self.backend {
            return Ok(world.links().into_iter().find(|l| l.name == name));
        }
        match self.connection()? {
            Some(conn) => conn
                .link(name)
                .map_err(|errno| Error::os(format!("looking up {name}"), errno)),
            None => Err(Error::os(format!("looking up {name}"), Errno::EIO)),
        }
    }

    /// Every link in this process's network namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        if let Backend::Dry(world) = &self.backend {
            return Ok(world.links());
        }
        match self.connection()? {
            Some(conn) => conn
                .links()
                .map_err(|errno| Error::os("listing links", errno)),
            None => Ok(Vec::new()),
        }
    }

    /// Every IPv4 address in this process's network namespace.
    pub fn addresses(&mut self) -> Result<Vec<Address>> {
        if let Backend::Dry(world) = &self.backend {
            return Ok(world.addresses());
        }
        match self.connection()? {
            Some(conn) => conn
                .addresses()
                .map_err(|errno| Error::os("listing addresses", errno)),
            None => Ok(Vec::new()),
        }
    }
}
