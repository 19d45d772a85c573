//! The user stage: root inside, an ordinary user outside.
//!
//! `CLONE_NEWUSER` gives the child a user namespace of its own, created
//! first, so every other namespace of the same clone belongs to it. In it
//! the child holds every capability, but only over what its namespaces
//! own: it may mount a tmpfs in its own mount namespace or name its own
//! UTS namespace, never load a module or read a file the user outside
//! could not. Until diyc writes the child's uid_map and gid_map, each of
//! its ids is the overflow id, `nobody`; the maps say which ids outside
//! the ids inside stand for.
//!
//! Without root, diyc maps the container's root to the caller, and ids
//! 1 and up to the caller's subordinate range (/etc/subuid, /etc/subgid)
//! through newuidmap and newgidmap, as podman does, so an image's files
//! of many owners keep their owners. Without a range or the helpers only
//! the caller's own id is mapped.

use nix::unistd::{Gid, Uid};

use crate::error::Result;
use crate::event::{Heading, StageId};
use crate::stages::{Child, Stage};
use crate::sys::{Call, IdMap, Range, Sys, map_text, on_path};

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "user: root inside is an ordinary user outside",
    why: "A user namespace maps ids: the container's root holds every capability, but only over what its own namespaces own.",
};

pub struct User {
    map: IdMap,
    /// Why only the caller's own id is mapped, when it is.
    narrow: Option<String>,
    /// False leaves the maps unwritten: the user lesson's look at a
    /// namespace where every id is the overflow id.
    write: bool,
    /// Made by the host's root for an id that is not its own: the child
    /// keeps root's ids (unmapped, so shown as nobody) until it takes the
    /// mapped ones itself, dropping root's groups first.
    become_root: bool,
}

impl User {
    /// The widest map the caller may have: its own ids as root, and its
    /// subordinate ranges as ids 1 and up, when newuidmap and newgidmap
    /// are there to write them.
    pub fn for_caller() -> User {
        let (uid, gid) = (Uid::current().as_raw(), Gid::current().as_raw());
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let name = super::hardening::user::name_of(&read("/etc/passwd"), uid)
            .unwrap_or_else(|| uid.to_string());
        let subuid = subordinate(&read("/etc/subuid"), &name, uid);
        let subgid = subordinate(&read("/etc/subgid"), &name, uid);
        let helpers = (on_path("newuidmap"), on_path("newgidmap"));
        let own = |id| {
            vec![Range {
                inside: 0,
                outside: id,
                count: 1,
            }]
        };
        let wide = |id, (start, count)| {
            vec![
                Range {
                    inside: 0,
                    outside: id,
                    count: 1,
                },
                Range {
                    inside: 1,
                    outside: start,
                    count,
                },
            ]
        };
        match (subuid, subgid, helpers) {
            (Some(u), Some(g), (Some(newuidmap), Some(newgidmap))) => User {
                map: IdMap {
                    uids: wide(uid, u),
                    gids: wide(gid, g),
                    helpers: Some((newuidmap, newgidmap)),
                },
                narrow: None,
                write: true,
                become_root: false,
            },
            (u, g, _) => {
                let why = if u.is_some() && g.is_some() {
                    "newuidmap and newgidmap are not installed (Debian's package uidmap)".into()
                } else {
                    format!("{name} has no range in /etc/subuid and /etc/subgid")
                };
                User {
                    map: IdMap {
                        uids: own(uid),
                        gids: own(gid),
                        helpers: None,
                    },
                    narrow: Some(format!(
                        "only your own user is mapped into the container, as its root, because {why}: files the image gives other owners show as nobody, and changing a file's owner fails (`diyc doctor` says how to add a range)"
                    )),
                    write: true,
                    become_root: false,
                }
            }
        }
    }

    /// Root inside as `uid`:`gid` outside, and no other id: how root
    /// shows a container root that is an ordinary user on the host. The
    /// caller must be the host's root, who may map ids not its own.
    pub fn single(uid: u32, gid: u32) -> User {
        let one = |id| {
            vec![Range {
                inside: 0,
                outside: id,
                count: 1,
            }]
        };
        User {
            map: IdMap {
                uids: one(uid),
                gids: one(gid),
                helpers: None,
            },
            narrow: None,
            write: true,
            become_root: true,
        }
    }

    /// A user namespace whose maps are never written, where every id is
    /// the overflow id (`nobody`).
    pub fn unmapped() -> User {
        User {
            map: IdMap {
                uids: Vec::new(),
                gids: Vec::new(),
                helpers: None,
            },
            narrow: None,
            write: false,
            become_root: false,
        }
    }

    pub fn map(&self) -> &IdMap {
        &self.map
    }

    /// One line on what a map of one id limits, when that is the map.
    pub fn note(&self) -> Option<&str> {
        self.narrow.as_deref()
    }
}

/// Whether this kernel lets the root of a user namespace mount what a
/// container's root is made of: overlayfs only from Linux 5.11.
pub fn check_kernel() -> Result<()> {
    let (major, minor) = crate::stages::hardening::profile::kernel_version();
    if (major, minor) >= (5, 11) {
        return Ok(());
    }
    Err(crate::error::Error::invalid(format!(
        "without root, diyc mounts the image's overlay from inside the container's user namespace, which Linux allows from 5.11 on; this kernel is {major}.{minor}: run diyc as root (sudo)"
    )))
}

/// The first range of subordinate ids for `name` (or its uid) in a file
/// laid out as /etc/subuid: `owner:start:count` per line.
fn subordinate(text: &str, name: &str, uid: u32) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let owner = fields.next()?;
        let start = fields.next()?.parse().ok()?;
        let count: u32 = fields.next()?.parse().ok()?;
        (count > 0 && (owner == name || owner == uid.to_string())).then_some((start, count))
    })
}

impl Stage for User {
    fn id(&self) -> StageId {
        StageId::User
    }

    fn clone_flags(&self) -> u64 {
        libc::CLONE_NEWUSER as u64
    }

    fn attach(&mut self, sys: &mut Sys, child: Child) -> Result<()> {
        sys.stage(StageId::User);
        if let Some(why) = &self.narrow {
            sys.note(why.clone());
        }
        if !self.write {
            sys.note("no uid_map or gid_map is written: every id inside is the overflow id, 65534");
            return Ok(());
        }
        if self.become_root {
            // The host's root may write a gid_map with setgroups still
            // allowed, which the child needs to drop root's own groups.
            sys.note("diyc is the host's root: it writes both maps itself, and setgroups stays allowed so the container's root can drop the host's groups");
            for (file, ranges) in [("uid_map", &self.map.uids), ("gid_map", &self.map.gids)] {
                sys.call(Call::WriteFile {
                    path: format!("/proc/{}/{file}", child.pid),
                    value: map_text(ranges),
                })?;
            }
            return Ok(());
        }
        sys.write_id_maps(child.pid, &self.map)
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        if !self.write {
            return Ok(());
        }
        sys.stage(StageId::User);
        if self.become_root {
            // Still the host's root underneath, which this namespace does
            // not map: uid 0 here is the mapped id, taken with root's
            // groups gone.
            return take_root(sys);
        }
        // The caller's own supplementary groups came along; where the map
        // lets setgroups be called, the container starts without them.
        if setgroups_allowed() {
            sys.call(Call::Setgroups { gids: Vec::new() })?;
        }
        Ok(())
    }

    fn inside(&self) -> Vec<String> {
        let read = |file: &str| {
            let joined = std::fs::read_to_string(format!("/proc/self/{file}"))
                .unwrap_or_default()
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(", ");
            if joined.is_empty() {
                "(empty)".to_string()
            } else {
                joined
            }
        };
        let (uid, gid) = (Uid::current().as_raw(), Gid::current().as_raw());
        let who = match uid {
            0 => ": root of this user namespace",
            OVERFLOW => ": the overflow id, nobody, since no map names this process's own id",
            _ => "",
        };
        let held = status_field("self", "CapEff");
        let count = held
            .as_deref()
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .map_or(0, u64::count_ones);
        vec![
            format!("uid {uid}, gid {gid}{who}"),
            format!(
                "CapEff {}: {count} capabilities, over what this user namespace owns",
                held.as_deref().unwrap_or("?")
            ),
            format!("uid_map (inside outside count): {}", read("uid_map")),
            format!("gid_map: {}", read("gid_map")),
            format!("setgroups: {}", read("setgroups")),
            // As the process itself reads it, beside the host's below.
            format!("user namespace: {}", inode(None)),
        ]
    }

    fn outside(&self, pid: i32) -> Vec<String> {
        let pid_text = pid.to_string();
        let first = |key| {
            status_field(&pid_text, key)
                .and_then(|v| v.split_whitespace().next().map(String::from))
                .unwrap_or_else(|| "?".into())
        };
        let (uid, gid) = (first("Uid"), first("Gid"));
        let what = if uid == "0" {
            "root's own ids: inside they show as nobody, but the kernel still checks a file against these"
        } else {
            "an ordinary user: the host gives it no capability of its own"
        };
        vec![
            format!("the host sees pid {pid} as uid {uid}, gid {gid}: {what}"),
            format!("the host's user namespace: {}", inode(None)),
        ]
    }
}

/// Whether this process's user namespace lets it call setgroups: not
/// where its maps were written by an unprivileged owner (`deny`).
fn setgroups_allowed() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|t| t.trim() == "allow")
}

/// In a user namespace that does not map this process's own ids (the
/// host's root, joining or making one), take its root: the ids it maps to
/// 0, without the groups this process came with where it may drop them.
pub fn take_root(sys: &mut Sys) -> Result<()> {
    if setgroups_allowed() {
        sys.call(Call::Setgroups { gids: Vec::new() })?;
    }
    sys.call(Call::Setresgid { gid: 0 })?;
    sys.call(Call::Setresuid { uid: 0 }).map(drop)
}

/// The inode of a process's user namespace (None: this one's), as text.
fn inode(pid: Option<i32>) -> String {
    crate::observe::ns_inode(pid, "user").map_or_else(|| "?".to_string(), |n| n.to_string())
}

/// The id the kernel shows for one a user namespace does not map.
const OVERFLOW: u32 = 65534;

/// One `Key:` field of /proc/PID/status (`self` for this process).
fn status_field(pid: &str, key: &str) -> Option<String> {
    crate::observe::proc_file(&format!("/proc/{pid}/status"))?
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_found_by_name_or_by_uid_and_empty_ones_are_skipped() {
        let text = "alice:100000:65536\nbob:0:0\n1001:300000:1000\nbob:200000:10\n";
        assert_eq!(subordinate(text, "alice", 1000), Some((100000, 65536)));
        assert_eq!(subordinate(text, "bob", 1002), Some((200000, 10)));
        assert_eq!(subordinate(text, "carol", 1001), Some((300000, 1000)));
        assert_eq!(subordinate(text, "dave", 1003), None);
        assert_eq!(subordinate("garbage\nx:y:z", "x", 1), None);
    }
}
