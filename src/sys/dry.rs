//! The dry backend: the seam records every call as the real one would and
//! makes none of them. What a stage reads to decide its next call (does
//! this directory exist, what does this file hold, which links are there,
//! what did `iptables -C` answer) comes from a `World` the test describes,
//! so a stage's whole call sequence can be checked without root.

use std::collections::BTreeMap;

use nix::errno::Errno;

use super::call::Call;
use super::netlink::{Address, Link};

/// What a path is, as far as the stages care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    CharDevice { major: u32, minor: u32 },
    Other,
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    content: String,
}

/// A described machine: files, links, helper programs' answers, and the
/// calls that fail. Anything not described does not exist, and a helper
/// not described exits 0 with no output.
#[derive(Debug, Clone, Default)]
pub struct World {
    nodes: BTreeMap<String, Node>,
    /// Command-line prefix, exit status, output, and whether it answers
    /// only once.
    helpers: Vec<(String, i32, String, bool)>,
    links: Vec<Link>,
    addresses: Vec<Address>,
    failures: Vec<(String, Errno)>,
    next_pid: i32,
}

impl World {
    pub fn new() -> World {
        World {
            next_pid: 4242,
            ..World::default()
        }
    }

    fn put(mut self, path: &str, kind: Kind, content: &str) -> World {
        self.nodes.insert(
            path.to_string(),
            Node {
                kind,
                content: content.to_string(),
            },
        );
        self
    }

    pub fn dir(self, path: &str) -> World {
        self.put(path, Kind::Dir, "")
    }

    pub fn file(self, path: &str, content: &str) -> World {
        self.put(path, Kind::File, content)
    }

    pub fn symlink(self, path: &str) -> World {
        self.put(path, Kind::Symlink, "")
    }

    pub fn char_device(self, path: &str, major: u32, minor: u32) -> World {
        self.put(path, Kind::CharDevice { major, minor }, "")
    }

    /// A helper whose command line, as `--explain` shows it, starts with
    /// `prefix` exits with `code` after printing `output`.
    pub fn helper(mut self, prefix: &str, code: i32, output: &str) -> World {
        self.helpers
            .push((prefix.to_string(), code, output.to_string(), false));
        self
    }

    /// The same for the next such helper only: a rule that `iptables -C`
    /// finds once and not after it is deleted. Answers given once are
    /// looked at before the others.
    pub fn helper_once(mut self, prefix: &str, code: i32, output: &str) -> World {
        self.helpers
            .insert(0, (prefix.to_string(), code, output.to_string(), true));
        self
    }

    pub fn link(mut self, link: Link) -> World {
        self.links.push(link);
        self
    }

    /// The next call whose strace text starts with `prefix` fails once
    /// with `errno`.
    pub fn failing(mut self, prefix: &str, errno: Errno) -> World {
        self.failures.push((prefix.to_string(), errno));
        self
    }

    pub(super) fn kind(&self, path: &str) -> Option<Kind> {
        self.nodes.get(path).map(|n| n.kind)
    }

    pub(super) fn read(&self, path: &str) -> Option<String> {
        self.nodes
            .get(path)
            .filter(|n| n.kind == Kind::File)
            .map(|n| n.content.clone())
    }

    pub(super) fn links(&self) -> Vec<Link> {
        self.links.clone()
    }

    pub(super) fn addresses(&self) -> Vec<Address> {
        self.addresses.clone()
    }

    pub(super) fn helper_answer(&mut self, command_line: &str) -> (i32, String) {
        let Some(i) = self
            .helpers
            .iter()
            .position(|(prefix, ..)| command_line.starts_with(prefix.as_str()))
        else {
            return (0, String::new());
        };
        let (_, code, out, once) = self.helpers[i].clone();
        if once {
            self.helpers.remove(i);
        }
        (code, out)
    }

    /// A clone "made": it fails as described, or gives a new child's pid.
    pub(super) fn fork(&mut self, call: &Call) -> Result<i64, Errno> {
        self.take_failure(call)?;
        Ok(i64::from(self.new_pid()))
    }

    fn take_failure(&mut self, call: &Call) -> Result<(), Errno> {
        let text = call.to_string();
        match self
            .failures
            .iter()
            .position(|(prefix, _)| text.starts_with(prefix.as_str()))
        {
            Some(i) => Err(self.failures.remove(i).1),
            None => Ok(()),
        }
    }

    pub(super) fn new_pid(&mut self) -> i32 {
        self.next_pid += 1;
        self.next_pid
    }

    /// The call "made": its result, and what it changes in the world so
    /// the calls after it see what they would see on a real machine.
    pub(super) fn perform(&mut self, call: &Call) -> Result<i64, Errno> {
        self.take_failure(call)?;
        match call {
            Call::Mkdirat { path, .. } => {
                if self.nodes.contains_key(path) {
                    return Err(Errno::EEXIST);
                }
                self.nodes.insert(
                    path.clone(),
                    Node {
                        kind: Kind::Dir,
                        content: String::new(),
                    },
                );
            }
            Call::Rmdir { path } | Call::Unlink { path } => {
                self.nodes.remove(path).ok_or(Errno::ENOENT)?;
            }
            Call::WriteFile { path, value } => {
                self.nodes.insert(
                    path.clone(),
                    Node {
                        kind: Kind::File,
                        content: value.clone(),
                    },
                );
                return Ok(value.len() as i64);
            }
            Call::Openat { path, .. } => {
                self.nodes.entry(path.clone()).or_insert(Node {
                    kind: Kind::File,
                    content: String::new(),
                });
                return Ok(3);
            }
            Call::Write { data, .. } => return Ok(data.len() as i64),
            // A terminal's slave, opened beside its master.
            Call::PtyPeer { .. } => return Ok(4),
            _ => {}
        }
        Ok(0)
    }
}
