//! The session stage: the container's first process leaves every session,
//! process group and keyring of the caller's, and with `-t` gets a
//! terminal of its own.
//!
//! 1. `setsid` makes it the leader of a new session: `kill 0` inside now
//!    means the container's own group, and no terminal of the host's is
//!    its controlling terminal.
//! 2. `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)` gives it a new anonymous
//!    session keyring, so keys of the caller's session are out of reach.
//!    Keyrings have no namespace, though: root's user keyring inside is
//!    the host root's own. So a seccomp filter then refuses add_key,
//!    keyctl and request_key (EPERM), as docker's default profile does.
//! 3. With a terminal: a pseudo-terminal from the container's own devpts
//!    instance (the rootfs stage mounted it): the master is opened through
//!    `/dev/ptmx`, the slave unlocked and opened from it, made the
//!    session's controlling terminal and `/dev/console`, and put on stdin,
//!    stdout and stderr. The master goes to diyc, which relays the caller's
//!    terminal to it. Pushing input into this terminal (TIOCSTI) reaches
//!    the container's own shell, never the caller's. Without one, a
//!    caller's terminal on stdin that the container may not read (no
//!    `-i`) is swapped for /dev/null.

use crate::error::{Error, Result};
use crate::event::{Heading, StageId};
use crate::stages::{Stage, ensure_dir};
use crate::sys::{Call, Kind, Sys};

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "session: a session, a keyring and a terminal of its own",
    why: "Process groups, keyrings and terminals are shared through the session; the container starts one of its own.",
};

pub struct Session {
    /// A pseudo-terminal of the container's own (`-t`).
    pub terminal: bool,
    /// Stdin is the caller's terminal but not the container's to read
    /// (no `-i`): /dev/null instead.
    pub null_stdin: bool,
    /// The stage that gives the process the container's root, where its
    /// devpts is: rootfs for `run`, join for `exec`.
    pub root: StageId,
}

impl Stage for Session {
    fn id(&self) -> StageId {
        StageId::Session
    }

    fn requires(&self) -> &'static [StageId] {
        match (self.terminal || self.null_stdin, self.root) {
            (false, _) => &[],
            (true, StageId::Join) => &[StageId::Join],
            (true, _) => &[StageId::Rootfs],
        }
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Session);
        sys.call(Call::Setsid)?;
        sys.call(Call::JoinSessionKeyring)?;
        sys.call(keyring_filter()?)?;
        if self.terminal {
            terminal(sys)?;
        } else if self.null_stdin {
            let null = sys.call(Call::Openat {
                path: "/dev/null".into(),
                flags: libc::O_RDONLY | libc::O_CLOEXEC,
                mode: 0,
            })? as i32;
            sys.call(Call::Dup3 { old: null, new: 0 })?;
            sys.call(Call::Close { fd: null })?;
        }
        Ok(())
    }

    fn inside(&self) -> Vec<String> {
        let sid = nix::unistd::getsid(None).map_or(-1, |p| p.as_raw());
        let tty = std::fs::read_link("/proc/self/fd/0")
            .map_or_else(|_| "?".into(), |p| p.display().to_string());
        vec![
            format!("session {sid}, process group {}", nix::unistd::getpgrp()),
            format!("stdin: {tty}"),
        ]
    }
}

/// The system calls that reach keyrings.
const KEYRING_CALLS: [(i64, &str); 3] = [
    (libc::SYS_add_key, "add_key"),
    (libc::SYS_keyctl, "keyctl"),
    (libc::SYS_request_key, "request_key"),
];

/// A seccomp filter that answers every keyring call with EPERM; it holds
/// for the container's processes from here on, and is inherited by all.
fn keyring_filter() -> Result<Call> {
    let failed = |e: seccompiler::BackendError| {
        Error::Container(format!("building the keyring filter: {e}"))
    };
    let rules = KEYRING_CALLS
        .iter()
        .map(|(nr, _)| (*nr, Vec::new()))
        .collect();
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| Error::Container(format!("a seccomp filter for this machine: {e}")))?;
    let filter = seccompiler::SeccompFilter::new(
        rules,
        seccompiler::SeccompAction::Allow,
        seccompiler::SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(failed)?;
    let program: seccompiler::BpfProgram = filter.try_into().map_err(failed)?;
    Ok(Call::Seccomp {
        blocked: KEYRING_CALLS
            .iter()
            .map(|(_, name)| name.to_string())
            .collect(),
        program: program
            .iter()
            .map(|i| {
                u64::from(i.code)
                    | u64::from(i.jt) << 16
                    | u64::from(i.jf) << 24
                    | u64::from(i.k) << 32
            })
            .collect(),
    })
}

/// The container's own pseudo-terminal, as its stdin, stdout, stderr and
/// /dev/console; the master is kept for the runtime to hand to diyc.
fn terminal(sys: &mut Sys) -> Result<()> {
    let master = sys.call(Call::Openat {
        path: "/dev/ptmx".into(),
        flags: libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        mode: 0,
    })?;
    sys.keep_terminal(master);
    let master = master as i32;
    sys.call(Call::PtyUnlock { fd: master })?;
    let slave = sys.call(Call::PtyPeer { fd: master })? as i32;
    sys.call(Call::ControllingTty { fd: slave })?;
    // Its name in the container's devpts: /dev/pts/0 for the first.
    let name = sys
        .fd_path(slave)
        .ok_or_else(|| Error::Container("the new terminal has no name".into()))?;
    ensure_dir(sys, "/dev", 0o755)?;
    match sys.kind("/dev/console") {
        None => {
            let fd = sys.call(Call::Openat {
                path: "/dev/console".into(),
                flags: libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC,
                mode: 0o600,
            })?;
            sys.call(Call::Close { fd: fd as i32 })?;
        }
        Some(Kind::File | Kind::CharDevice { .. }) => {}
        Some(_) => return Err(Error::invalid("the container's /dev/console is not a file")),
    }
    sys.mount(Some(&name), "/dev/console", None, libc::MS_BIND, None)?;
    for std in 0..3 {
        sys.call(Call::Dup3 {
            old: slave,
            new: std,
        })?;
    }
    sys.call(Call::Close { fd: slave }).map(drop)
}
