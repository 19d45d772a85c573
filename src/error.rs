//! Errors carry what failed and on what, so `main` can print one line and
//! choose the exit status without any caller logging along the way. Each
//! variant is a kind of failure a caller, a test or the exit status tells
//! apart; the context is added once, where the failure is first known.

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

    /// A call made through the seam failed; `call` is its strace line.
    #[error("{call} failed: {}", errno.desc())]
    Syscall { call: String, errno: Errno },

    /// A file diyc reads or keeps could not be used.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Plumbing the kernel refused: a socket, a pipe, a signalfd.
    #[error("{what}: {source}")]
    Os {
        what: String,
        #[source]
        source: io::Error,
    },

    /// A helper program (iptables, ldd) did not succeed.
    #[error("{command} {}{}", status.map_or("was killed by a signal".to_string(), |s| format!("failed with status {s}")), said.as_deref().map_or(String::new(), |s| format!(": {s}")))]
    Helper {
        command: String,
        status: Option<i32>,
        /// The last line it printed: its own reason.
        said: Option<String>,
    },

    /// One of diyc's own records could not be written or read back.
    #[error("{what}: {source}")]
    Encoding {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    /// The container's first process failed before the command ran, or
    /// ended in a way diyc cannot account for.
    #[error("{0}")]
    Container(String),

    /// A lesson's check found that what it shows did not happen.
    #[error("{0}")]
    Check(String),

    /// A stage was put before a stage it builds on.
    #[error("the {stage} stage needs the {needs} stage before it")]
    Order {
        stage: &'static str,
        needs: &'static str,
    },

    /// `DIYC_FAULT` asked for a failure at this step (tests only).
    #[error("injected fault at {0} (DIYC_FAULT)")]
    Fault(&'static str),

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

    pub fn os(what: impl Into<String>, errno: Errno) -> Self {
        Error::Os {
            what: what.into(),
            source: io::Error::from(errno),
        }
    }

    pub fn encoding(what: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Encoding {
            what: what.into(),
            source,
        }
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

    /// A file or directory that is not there (or no longer).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// The errno of a failed seam call, for callers that handle some.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Syscall { errno, .. } => Some(*errno),
            _ => None,
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

/// An I/O error's reason alone, without the "(os error N)" std adds.
pub fn io_reason(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => Errno::from_raw(n).desc().to_lowercase(),
        None => e.to_string(),
    }
}
