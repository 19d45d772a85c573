//! The mount stage: a new mount namespace, then its propagation made
//! private.
//!
//! `CLONE_NEWNS` gives the process a copy of the host's mount table. On most
//! distributions `/` is a *shared* mount, so without the next step every
//! mount made in the copy would propagate straight back into the host's
//! table. `mount(NULL, "/", NULL, MS_REC|MS_PRIVATE, NULL)` cuts that link
//! for every mount below `/`, and only then is it safe to mount anything.

use crate::error::Result;
use crate::event::{Heading, StageId};
use crate::observe;
use crate::stages::Stage;
use crate::sys::Sys;

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "mount: a private mount table",
    why: "Mounts made from now on must not propagate back to the host's mount table.",
};

pub struct Mount;

fn root_entry(pid: Option<i32>) -> Option<observe::MountEntry> {
    observe::mountinfo(pid)
        .into_iter()
        .rev()
        .find(|m| m.mount_point == "/")
}

impl Stage for Mount {
    fn id(&self) -> StageId {
        StageId::Mount
    }

    fn clone_flags(&self) -> u64 {
        libc::CLONE_NEWNS as u64
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Mount);
        sys.mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None)
    }

    fn inside(&self) -> Vec<String> {
        let count = observe::mountinfo(None).len();
        let prop = root_entry(None).map_or("unknown", |m| m.propagation());
        vec![format!(
            "a copy of the host's mount table: {count} mounts; / is now {prop}"
        )]
    }

    fn outside(&self, pid: i32) -> Vec<String> {
        let host = match root_entry(None) {
            Some(m) if m.propagation() == "shared" => format!(
                "host's / is shared ({}): without this stage, mounts made in the copy would appear on the host",
                m.tags
            ),
            Some(m) => format!(
                "host's / is {} already; the container's copy is made private all the same, so it holds on hosts where / is shared (systemd makes it so)",
                m.propagation()
            ),
            None => "host's / was not found in its mountinfo".to_string(),
        };
        vec![host, {
            let mounts = observe::mountinfo(Some(pid));
            let shared = mounts
                .iter()
                .filter(|m| m.propagation() == "shared")
                .count();
            format!(
                "mount namespace of pid {pid}: {} mounts, {shared} of them still shared with anything",
                mounts.len()
            )
        }]
    }
}
