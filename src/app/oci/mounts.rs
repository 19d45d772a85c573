//! A bundle's mounts, sorted into what the rootfs stage makes its own way
//! (/proc, /dev and the mounts inside it, /sys, /sys/fs/cgroup) and the
//! rest, made in the order given. Every destination is a plain absolute
//! path inside the root; the rootfs stage reaches it without following
//! any symlink.

use oci_spec::runtime::Mount;

use crate::error::{Error, Result};
use crate::stages::rootfs::UserMount;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mounts {
    pub proc: bool,
    pub dev: bool,
    pub sys: bool,
    pub cgroup: bool,
    pub rest: Vec<UserMount>,
}

/// Mount options and the flags they set; the propagation and atime
/// options change nothing a container can tell here and are accepted.
const FLAGS: &[(&str, u64)] = &[
    ("ro", libc::MS_RDONLY),
    ("nosuid", libc::MS_NOSUID),
    ("nodev", libc::MS_NODEV),
    ("noexec", libc::MS_NOEXEC),
    ("sync", libc::MS_SYNCHRONOUS),
    ("dirsync", libc::MS_DIRSYNC),
    ("strictatime", libc::MS_STRICTATIME),
    ("noatime", libc::MS_NOATIME),
    ("nodiratime", libc::MS_NODIRATIME),
];
const ACCEPTED: &[&str] = &[
    "rw",
    "suid",
    "dev",
    "exec",
    "async",
    "atime",
    "diratime",
    "relatime",
    "norelatime",
    "private",
    "rprivate",
    "bind",
    "rbind",
];

/// Every option a bundle's mount may carry, for `features`.
pub fn options() -> Vec<&'static str> {
    FLAGS
        .iter()
        .map(|(name, _)| *name)
        .chain(ACCEPTED.iter().copied())
        .collect()
}

pub fn sort(mounts: &[Mount]) -> Result<Mounts> {
    let mut out = Mounts::default();
    for (i, m) in mounts.iter().enumerate() {
        let dest = destination(m, i)?;
        let typ = m.typ().clone().unwrap_or_default();
        let options = m.options().clone().unwrap_or_default();
        let bind = typ == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        let field = |why: String| Error::invalid(format!("mounts[{i}] ({typ} at {dest}): {why}"));
        match (dest.as_str(), typ.as_str()) {
            ("/proc", "proc") => out.proc = true,
            ("/dev", "tmpfs") => out.dev = true,
            ("/sys", "sysfs") => out.sys = true,
            ("/sys/fs/cgroup", "cgroup" | "cgroup2") => out.cgroup = true,
            // diyc's /dev has its own devpts, shm and mqueue.
            ("/dev/pts", "devpts") | ("/dev/mqueue", "mqueue") | ("/dev/shm", "tmpfs")
                if out.dev => {}
            _ if bind => {
                inside_only(&dest).map_err(field)?;
                let source = m
                    .source()
                    .as_ref()
                    .and_then(|s| s.to_str())
                    .filter(|s| s.starts_with('/'))
                    .ok_or_else(|| field("a bind needs an absolute source".into()))?;
                let (flags, data) = flags_of(&options).map_err(field)?;
                if !data.is_empty() {
                    return Err(field(format!("option {data:?} does not apply to a bind")));
                }
                out.rest.push(UserMount::Spec {
                    source: source.to_string(),
                    inside: dest,
                    fstype: None,
                    flags,
                    data: String::new(),
                    recursive: options.iter().any(|o| o == "rbind"),
                });
            }
            (_, "tmpfs" | "mqueue" | "devpts") => {
                inside_only(&dest).map_err(field)?;
                let (flags, data) = flags_of(&options).map_err(field)?;
                out.rest.push(UserMount::Spec {
                    source: typ.clone(),
                    inside: dest,
                    fstype: Some(typ.clone()),
                    flags,
                    data,
                    recursive: false,
                });
            }
            _ => return Err(field("this kind of mount is not supported".into())),
        }
    }
    Ok(out)
}

fn destination(m: &Mount, i: usize) -> Result<String> {
    let text = m.destination().to_str().unwrap_or_default();
    let parts: Vec<&str> = text.split('/').filter(|p| !p.is_empty()).collect();
    if !text.starts_with('/') || parts.iter().any(|p| *p == "." || *p == "..") || parts.is_empty() {
        return Err(Error::invalid(format!(
            "mounts[{i}].destination {text:?}: must be an absolute path inside the root, not / and without . or .."
        )));
    }
    Ok(format!("/{}", parts.join("/")))
}

/// /proc and /sys are diyc's own: nothing is mounted into them but the
/// cgroup tree it mounts itself.
fn inside_only(dest: &str) -> std::result::Result<(), String> {
    if dest.starts_with("/proc") || dest.starts_with("/sys") {
        return Err("diyc mounts /proc and /sys itself and nothing inside them".into());
    }
    Ok(())
}

/// The flags the options ask for, and the rest as the filesystem's data.
fn flags_of(options: &[String]) -> std::result::Result<(u64, String), String> {
    let mut flags = 0;
    let mut data = Vec::new();
    for option in options {
        if let Some((_, flag)) = FLAGS.iter().find(|(name, _)| name == option) {
            flags |= flag;
        } else if ACCEPTED.contains(&option.as_str()) {
        } else if option == "tmpcopyup" {
            return Err(
                "tmpcopyup (copy the image's files into the tmpfs) is not supported".into(),
            );
        } else if matches!(
            option.split_once('=').map(|(k, _)| k),
            Some("size" | "mode" | "uid" | "gid" | "nr_inodes" | "newinstance" | "ptmxmode")
        ) || option == "newinstance"
        {
            data.push(option.clone());
        } else {
            return Err(format!("option {option:?} is not supported"));
        }
    }
    Ok((flags, data.join(",")))
}
