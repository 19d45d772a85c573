//! What a lesson's command printed, kept for the handout: while a launch
//! runs, diyc's stdout (which the container inherits) is a pipe; after
//! it, stdout is put back and what came through is passed on to it and
//! written into the handout. The pipe is large and never blocks the
//! container: the lessons' commands print a few lines.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::fcntl::{FcntlArg, OFlag, fcntl};

use crate::error::{Error, Result};
use crate::sys::{Call, Sys};

/// Room for what a lesson's command prints.
const ROOM: i32 = 1 << 20;

pub struct Captured {
    saved: OwnedFd,
    read: std::fs::File,
}

impl Captured {
    /// From now on fd 1 is the pipe.
    pub fn start(sys: &mut Sys) -> Result<Captured> {
        let _ = std::io::stdout().flush();
        let saved = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::Os {
                what: "keeping stdout".into(),
                source: e,
            })?;
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
            .map_err(|e| Error::os("a pipe for the command's output", e))?;
        let _ = fcntl(&write, FcntlArg::F_SETPIPE_SZ(ROOM));
        sys.call(Call::Dup3 {
            old: write.as_raw_fd(),
            new: 1,
        })?;
        Ok(Captured {
            saved,
            read: std::fs::File::from(read),
        })
    }

    /// stdout back as it was; what the command printed, passed on.
    pub fn finish(mut self, sys: &mut Sys) -> Result<String> {
        sys.call(Call::Dup3 {
            old: self.saved.as_raw_fd(),
            new: 1,
        })?;
        let mut out = Vec::new();
        let _ = self.read.read_to_end(&mut out);
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(&out);
        let _ = stdout.flush();
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}
