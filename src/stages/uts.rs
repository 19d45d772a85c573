//! The UTS stage: a hostname of the container's own.
//!
//! `CLONE_NEWUTS` copies the host's hostname and NIS domain name into a new
//! namespace; `sethostname` then changes the copy. The host's name is
//! untouched, which `outside` shows by reading it again.

use crate::error::Result;
use crate::event::StageId;
use crate::observe;
use crate::stages::Stage;
use crate::sys::{Call, Sys};

pub struct Uts {
    /// None keeps the copied hostname (nsexec without -u).
    pub hostname: Option<String>,
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
        match &self.hostname {
            Some(name) => sys.call(Call::Sethostname { name: name.clone() }).map(drop),
            None => {
                sys.note("no hostname given: the namespace keeps its copy of the host's");
                Ok(())
            }
        }
    }

    fn inside(&self) -> Vec<String> {
        vec![format!("hostname: {}", observe::hostname())]
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
