//! The UTS stage: a hostname of the container's own.
//!
//! `CLONE_NEWUTS` copies the host's hostname and NIS domain name into a new
//! namespace; `sethostname` then changes the copy. The host's name is
//! untouched, which `outside` shows by reading it again.

use crate::error::Result;
use crate::event::{Heading, StageId};
use crate::observe;
use crate::stages::Stage;
use crate::sys::{Call, Sys};

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "uts: a hostname of its own",
    why: "The new UTS namespace lets the container rename itself without renaming the host.",
};

pub struct Uts {
    pub hostname: String,
    /// The NIS domain name, the UTS namespace's other name (diyC set it
    /// to "diyc"); None leaves the copy of the host's.
    pub domainname: Option<String>,
}

impl Stage for Uts {
    fn id(&self) -> StageId {
        StageId::Uts
    }

    fn clone_flags(&self) -> u64 {
        libc::CLONE_NEWUTS as u64
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Uts);
        sys.call(Call::Sethostname {
            name: self.hostname.clone(),
        })?;
        if let Some(name) = &self.domainname {
            sys.call(Call::Setdomainname { name: name.clone() })?;
        }
        Ok(())
    }

    fn inside(&self) -> Vec<String> {
        let domain = nix::sys::utsname::uname()
            .map(|u| u.domainname().to_string_lossy().into_owned())
            .unwrap_or_default();
        vec![format!(
            "hostname: {}, domain name: {domain}",
            observe::hostname()
        )]
    }

    fn outside(&self, pid: i32) -> Vec<String> {
        vec![
            format!("host's hostname: {} (unchanged)", observe::hostname()),
            format!(
                "uts namespace: host {} / pid {pid} {}",
                observe::ns_inode(None, "uts").unwrap_or(0),
                observe::ns_inode(Some(pid), "uts").unwrap_or(0)
            ),
        ]
    }
}
