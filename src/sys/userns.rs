//! User namespaces: writing a namespace's id maps, and moving diyc itself
//! into a new one (a rootless `image import` or `rm`, which must own files
//! the way the image says). Which ids to map is the user stage's choice
//! (src/stages/user.rs); this is only how the kernel is told.
//!
//! A process in a new user namespace is `nobody` until someone writes its
//! maps. The owner may write one line mapping its own id; a wider map
//! needs the setuid helpers newuidmap and newgidmap, which check
//! /etc/subuid and /etc/subgid. A setuid program started from inside the
//! new namespace gains nothing (root outside is not mapped in it), so
//! diyc starts them from outside: from itself for a container, from a
//! child forked beforehand when diyc moves itself.

use nix::fcntl::OFlag;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2, read, write};

use super::Sys;
use super::call::Call;
use super::plumbing::exit_now;
use crate::error::{Error, Result};

/// `count` ids from `outside` appear as `inside`, `inside + 1`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The ids a user namespace maps, and how they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMap {
    pub uids: Vec<Range>,
    pub gids: Vec<Range>,
    /// newuidmap and newgidmap, for a map wider than the caller's own ids;
    /// None when the caller writes one line of its own.
    pub helpers: Option<(String, String)>,
}

impl IdMap {
    /// The ids outside that id 0 inside stands for: (uid, gid).
    pub fn root_outside(&self) -> Option<(u32, u32)> {
        let root = |ranges: &[Range]| ranges.iter().find(|r| r.inside == 0).map(|r| r.outside);
        Some((root(&self.uids)?, root(&self.gids)?))
    }

    /// Whether more than one id is mapped: files of other owners can be
    /// made and kept.
    pub fn is_wide(&self) -> bool {
        self.uids.iter().map(|r| u64::from(r.count)).sum::<u64>() > 1
    }
}

/// A map as /proc/PID/uid_map takes it: one `inside outside count` per line.
pub fn map_text(ranges: &[Range]) -> String {
    ranges
        .iter()
        .map(|r| format!("{} {} {}", r.inside, r.outside, r.count))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The helper's arguments after the pid: the same triples, flat.
fn helper_args(ranges: &[Range]) -> impl Iterator<Item = String> + '_ {
    ranges
        .iter()
        .flat_map(|r| [r.inside, r.outside, r.count].map(|n| n.to_string()))
}

impl Sys<'_> {
    /// Write the maps of process `pid`'s new user namespace, from outside it.
    pub fn write_id_maps(&mut self, pid: i32, map: &IdMap) -> Result<()> {
        match &map.helpers {
            Some((newuidmap, newgidmap)) => {
                for (helper, ranges) in [(newuidmap, &map.uids), (newgidmap, &map.gids)] {
                    let argv: Vec<String> = [helper.clone(), pid.to_string()]
                        .into_iter()
                        .chain(helper_args(ranges))
                        .collect();
                    self.capture(&argv)?;
                }
                Ok(())
            }
            None => {
                // Without setgroups denied, an unprivileged owner may not
                // write a gid map: dropping a group with setgroups could
                // otherwise grant what a negative group permission denies.
                let proc = format!("/proc/{pid}");
                for (file, value) in [
                    ("setgroups", "deny".to_string()),
                    ("uid_map", map_text(&map.uids)),
                    ("gid_map", map_text(&map.gids)),
                ] {
                    self.call(Call::WriteFile {
                        path: format!("{proc}/{file}"),
                        value,
                    })?;
                }
                Ok(())
            }
        }
    }

    /// Move this process into a new user namespace mapped by `map`, as
    /// its root. The process must have one thread, as unshare(2) requires.
    pub fn enter_user_namespace(&mut self, map: &IdMap) -> Result<()> {
        if map.helpers.is_none() {
            self.call(Call::Unshare {
                flags: libc::CLONE_NEWUSER as u64,
            })?;
            let pid = std::process::id() as i32;
            return self.write_id_maps(pid, map);
        }
        let pid = std::process::id() as i32;
        let (go_r, go_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe2", e))?;
        let (why_r, why_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe2", e))?;
        let fork = Call::Clone3 {
            flags: 0,
            exit_signal: libc::SIGCHLD as u64,
            cgroup_fd: None,
        };
        let mapper = match fork.perform() {
            Ok(0) => {
                drop((go_w, why_r));
                let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
                // The byte says diyc has unshared; end of file says it
                // gave up, and there is nothing to map.
                let mut byte = [0u8; 1];
                if !matches!(read(&go_r, &mut byte), Ok(1)) {
                    exit_now(1);
                }
                match self.write_id_maps(pid, map) {
                    Ok(()) => exit_now(0),
                    Err(e) => {
                        let _ = write(&why_w, e.to_string().as_bytes());
                        exit_now(1)
                    }
                }
            }
            Ok(child) => Pid::from_raw(child as i32),
            Err(errno) => {
                return Err(Error::Syscall {
                    call: fork.to_string(),
                    errno,
                });
            }
        };
        drop((go_r, why_w));
        let unshared = self.call(Call::Unshare {
            flags: libc::CLONE_NEWUSER as u64,
        });
        if unshared.is_ok() {
            let _ = write(&go_w, b"u");
        }
        drop(go_w);
        let status = waitpid(mapper, None);
        unshared?;
        let mut why = String::new();
        let _ = std::io::Read::read_to_string(&mut std::fs::File::from(why_r), &mut why);
        match status {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            _ => Err(Error::invalid(format!(
                "diyc's own user namespace could not be mapped ({}); `diyc doctor` checks /etc/subuid, /etc/subgid and the helpers",
                if why.is_empty() {
                    "the mapping child ended"
                } else {
                    why.trim()
                }
            ))),
        }
    }
}
