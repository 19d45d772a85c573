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
//!    the host root's own. So the hardening stage's seccomp filter
//!    refuses add_key, keyctl and request_key (EPERM), as docker's
//!    default profile does, in every system call table.
//! 3. With a terminal: a pseudo-terminal from the container's own devpts
//!    instance (the rootfs stage mounted it): the master is opened through
//!    `/dev/ptmx`, the slave unlocked and opened from it, made the
//!    session's controlling terminal and `/dev/console`, and put on stdin,
//!    stdout and stderr. The master goes to diyc, which relays the caller's
//!    terminal to it. Pushing input into this terminal (TIOCSTI) reaches
//!    the container's own shell, never the caller's.
//! 4. Without one, no descriptor of the caller's terminal reaches the
//!    container either: each of stdin, stdout and stderr that is a
//!    terminal becomes a pipe diyc relays (made in diyc before the clone,
//!    put in place with dup3), or, for stdin without `-i`, /dev/null.

use std::os::fd::{AsRawFd, OwnedFd};

use crate::error::{Error, Result};
use crate::event::{Heading, StageId};
use crate::runtime::Stream;
use crate::stages::{Child, Stage, ensure_dir};
use crate::sys::{Call, Kind, Sys};
use crate::undo::Undo;

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "session: a session, a keyring and a terminal of its own",
    why: "Process groups, keyrings and terminals are shared through the session; the container starts one of its own.",
};

pub struct Session {
    /// A pseudo-terminal of the container's own (`-t`).
    terminal: bool,
    stdio: Stdio,
    /// The stage that gives the process the container's root, where its
    /// devpts is: rootfs for `run`, join for `exec`.
    root: StageId,
    /// The container's ends of the pipes, as (descriptor, stream number);
    /// diyc's copies are closed once the child has its own.
    theirs: Vec<(OwnedFd, i32)>,
    /// diyc's ends, for the runtime's relay.
    ours: Vec<Stream>,
}

/// Without a terminal of its own: which of the caller's streams are a
/// terminal, and so must not be handed over as they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stdio {
    pub stdin: Stdin,
    pub stdout_pipe: bool,
    pub stderr_pipe: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stdin {
    /// Passed as it is (not a terminal).
    #[default]
    Keep,
    /// A terminal the container may not read (no `-i`).
    Null,
    /// A terminal the container reads through a pipe diyc feeds (`-i`).
    Pipe,
}

impl Stdio {
    /// The caller's stdin, stdout and stderr as they are now; `input`
    /// says whether the container may read stdin.
    pub fn of_caller(input: bool) -> Stdio {
        let tty = |fd: std::os::fd::BorrowedFd| nix::unistd::isatty(fd).unwrap_or(false);
        use std::os::fd::AsFd;
        let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
        Stdio {
            stdin: match (tty(stdin.as_fd()), input) {
                (false, _) => Stdin::Keep,
                (true, false) => Stdin::Null,
                (true, true) => Stdin::Pipe,
            },
            stdout_pipe: tty(stdout.as_fd()),
            stderr_pipe: tty(stderr.as_fd()),
        }
    }
}

impl Session {
    /// With `terminal`, the container's own; otherwise `stdio` says which
    /// of the caller's streams to replace.
    pub fn new(terminal: bool, stdio: Stdio, root: StageId) -> Session {
        Session {
            terminal,
            stdio: if terminal { Stdio::default() } else { stdio },
            root,
            theirs: Vec::new(),
            ours: Vec::new(),
        }
    }

    /// A pipe for stream `number`: the container's end is the write end
    /// for output, the read end for stdin.
    fn pipe(&mut self, number: i32) -> Result<()> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::os("making a pipe for the container's output", e))?;
        if number == 0 {
            self.theirs.push((read, 0));
            self.ours.push(Stream::Input { to: write });
        } else {
            self.theirs.push((write, number));
            self.ours.push(Stream::Output {
                from: read,
                stderr: number == 2,
            });
        }
        Ok(())
    }
}

impl Stage for Session {
    fn id(&self) -> StageId {
        StageId::Session
    }

    fn requires(&self) -> &'static [StageId] {
        match (self.terminal || self.stdio.stdin == Stdin::Null, self.root) {
            (false, _) => &[],
            (true, StageId::Join) => &[StageId::Join],
            (true, _) => &[StageId::Rootfs],
        }
    }

    /// The pipes, in diyc: plumbing between diyc and the container that
    /// changes nothing on the host.
    fn prepare(&mut self, _sys: &mut Sys, _undo: &mut Undo) -> Result<()> {
        if self.stdio.stdin == Stdin::Pipe {
            self.pipe(0)?;
        }
        if self.stdio.stdout_pipe {
            self.pipe(1)?;
        }
        if self.stdio.stderr_pipe {
            self.pipe(2)?;
        }
        Ok(())
    }

    fn attach(&mut self, _sys: &mut Sys, _child: Child) -> Result<()> {
        // The child has its copies; with diyc's gone, a pipe ends when
        // the container's side is done with it.
        self.theirs.clear();
        Ok(())
    }

    fn streams(&mut self) -> Vec<Stream> {
        std::mem::take(&mut self.ours)
    }

    fn child_fds(&self) -> Vec<i32> {
        self.theirs.iter().map(|(fd, _)| fd.as_raw_fd()).collect()
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Session);
        sys.call(Call::Setsid)?;
        sys.call(Call::JoinSessionKeyring)?;
        for (fd, number) in &self.theirs {
            sys.call(Call::Dup3 {
                old: fd.as_raw_fd(),
                new: *number,
            })?;
        }
        if self.terminal {
            terminal(sys, self.root != StageId::Join)?;
        } else if self.stdio.stdin == Stdin::Null {
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

/// The container's own pseudo-terminal, as its stdin, stdout and stderr,
/// and for its first process also /dev/console (a process joining it
/// later leaves the container's console alone); the master is kept for
/// the runtime to hand to diyc.
fn terminal(sys: &mut Sys, console: bool) -> Result<()> {
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
    if console {
        bind_console(sys, slave)?;
    }
    for std in 0..3 {
        sys.call(Call::Dup3 {
            old: slave,
            new: std,
        })?;
    }
    sys.call(Call::Close { fd: slave }).map(drop)
}

/// /dev/console, a file bind-mounted over by the new terminal's slave.
fn bind_console(sys: &mut Sys, slave: i32) -> Result<()> {
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
    Ok(())
}
