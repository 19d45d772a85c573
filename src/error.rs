//! Errors carry what failed and on what, so `main` can print one line and
//! choose the exit status without any caller logging along the way.

use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::Signal;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something diyc will not do; nothing was changed.
    #[error("{0}")]
    Invalid(String),

    /// A system call made through the seam failed; `call` is its strace line.
    #[error("{call} failed: {}", errno.desc())]
    Syscall { call: String, errno: Errno },

    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{0}")]
    Failed(String),

    /// The command could not be started: not found (127) or not
    /// executable (126), as a shell reports it.
    #[error("{message}")]
    Command { message: String, code: i32 },

    /// The user stopped at a pause; everything made so far was undone.
    #[error("stopped before {0}; everything made so far is undone")]
    Stopped(String),

    /// A signal asked diyc to stop before the container was running.
    #[error("interrupted by {}", .0.as_str())]
    Interrupted(Signal),
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }

    pub fn failed(msg: impl Into<String>) -> Self {
        Error::Failed(msg.into())
    }

    /// 128+N for a signal, as a shell reports it; 125 for everything diyc
    /// itself failed at, so it never collides with the command's own status.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Interrupted(sig) => 128 + *sig as i32,
            Error::Command { code, .. } => *code,
            Error::Stopped(_) => 0,
            _ => 125,
        }
    }
}

/// Attach the path an I/O error was about: `.ctx("reading", path)`.
pub trait IoContext<T> {
    fn ctx(self, what: &'static str, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, what: &'static str, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|source| Error::Io {
            what,
            path: path.as_ref().to_path_buf(),
            source,
        })
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn ctx(self, what: &'static str, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|errno| Error::Io {
            what,
            path: path.as_ref().to_path_buf(),
            source: io::Error::from(errno),
        })
    }
}
