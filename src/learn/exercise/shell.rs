//! The exercise's workspace and its shell. The workspace is a directory,
//! `<state root>/lessons/exercise/PID/` (diyc's pid), holding `check` (a
//! symlink to diyc's own binary) and the socket diyc listens on. The shell
//! is /bin/sh in new UTS, mount, network, IPC and PID namespaces, a
//! pretend host: its mount
//! table is private, with a /proc and a /sys of its own (and the host's
//! cgroup trees, which are real), its network has only `lo`, and when it
//! exits the kernel ends everything left in its PID namespace.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;

use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, pipe2, read};

use super::wire::SOCKET_ENV;
use crate::error::{Error, Result};
use crate::event::{Event, StageId};
use crate::explain::{Explainer, Format};
use crate::learn::session::HOST_TOOLS_PATH;
use crate::signals::Signals;
use crate::state::Store;
use crate::sys::{self, Call, Forked, Recorder, Request, Sys};
use crate::undo::{Undo, When};

/// Where `check` lives and where diyc listens for it.
pub struct Workspace {
    dir: String,
    socket: String,
    pub listener: UnixListener,
}

fn text(path: &std::path::Path) -> Result<String> {
    path.to_str()
        .map(String::from)
        .ok_or_else(|| Error::invalid(format!("{} is not valid UTF-8", path.display())))
}

impl Workspace {
    /// Make the directory, the `check` link and the socket, each through
    /// the seam and each undone at the end. The directory is this diyc's
    /// own, by its pid, so two exercises at once never meet.
    pub fn make(sys: &mut Sys, store: &Store, undo: &mut Undo) -> Result<Workspace> {
        store.create()?;
        let lessons = text(&store.root().join("lessons"))?;
        let base = format!("{lessons}/exercise");
        let dir = format!("{base}/{}", std::process::id());
        let (check, socket) = (format!("{dir}/check"), format!("{dir}/sock"));
        let binary = std::fs::read_link("/proc/self/exe").map_err(|source| Error::Io {
            what: "reading",
            path: "/proc/self/exe".into(),
            source,
        })?;
        let binary = text(&binary)?;
        sys.note(format!(
            "the exercise's workspace, {dir}: `check` (diyc's own binary under that name) and the socket it reaches diyc through; removed at the end"
        ));
        for shared in [lessons, base.clone()] {
            if !sys.is_dir(&shared) {
                sys.call(Call::Mkdirat {
                    path: shared.clone(),
                    mode: 0o755,
                })?;
            }
            // Whoever made it: once empty, it goes.
            undo.push(format!("removing {shared}"), When::Always, move |sys| {
                let empty = std::fs::read_dir(&shared).is_ok_and(|mut d| d.next().is_none());
                if empty {
                    sys.call(Call::Rmdir { path: shared })?;
                }
                Ok(())
            });
        }
        reclaim(sys, &base)?;
        undo.mkdir(sys, &dir)?;
        sys.call(Call::Symlinkat {
            target: binary,
            linkpath: check.clone(),
        })?;
        undo.push(format!("removing {check}"), When::Always, move |sys| {
            sys.call(Call::Unlink { path: check }).map(drop)
        });
        let listener = UnixListener::from(sys.listen_unix(&socket)?);
        let gone = socket.clone();
        undo.push(format!("removing {socket}"), When::Always, move |sys| {
            sys.call(Call::Unlink { path: gone }).map(drop)
        });
        Ok(Workspace {
            dir,
            socket,
            listener,
        })
    }

    /// The exercise shell's environment: `check` first on its PATH, and
    /// where to reach diyc, both inherited by every shell started from it.
    pub fn env(&self) -> Vec<String> {
        let mut env = vec![
            format!("PATH={}:{HOST_TOOLS_PATH}", self.dir),
            format!("{SOCKET_ENV}={}", self.socket),
            "HOME=/root".into(),
            "PS1=exercise# ".into(),
        ];
        env.extend(std::env::var("TERM").ok().map(|t| format!("TERM={t}")));
        env
    }
}

/// Remove the workspaces diycs that were killed during an exercise left:
/// those whose diyc is gone.
fn reclaim(sys: &mut Sys, base: &str) -> Result<()> {
    let entries = std::fs::read_dir(base).map(|d| d.flatten().collect::<Vec<_>>());
    for entry in entries.unwrap_or_default() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A pid diyc has again after being killed is stale too.
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        if alive && pid != std::process::id() {
            continue;
        }
        let dir = format!("{base}/{pid}");
        sys.note(format!("removing {dir}, left by a diyc that was killed"));
        for file in ["check", "sock"] {
            let path = format!("{dir}/{file}");
            if sys.exists(&path) {
                sys.call(Call::Unlink { path })?;
            }
        }
        sys.call(Call::Rmdir { path: dir })?;
    }
    Ok(())
}

/// How the shell is started.
pub struct Spec {
    pub env: Vec<String>,
    /// `--verbose`: the shell's own set-up calls one by one.
    pub verbose: bool,
    /// Directories bound read-only onto themselves in the shell's mount
    /// table: the image a student chroots into stays as it was.
    pub read_only: Vec<String>,
}

/// The running exercise shell. Dropped before it was reaped, it is
/// killed and reaped, and with it its whole PID namespace.
pub struct Shell {
    pub pid: i32,
    /// Its setup's error, if it failed before the exec (close-on-exec: it
    /// closes unwritten when the shell starts).
    failure: OwnedFd,
    reaped: bool,
    /// diyc's process group when it had the terminal; given back after.
    foreground: Option<Pid>,
}

const FLAGS: i32 = libc::CLONE_NEWUTS
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWPID;

impl Shell {
    pub fn start(sys: &mut Sys, format: Format, spec: &Spec, signals: &Signals) -> Result<Shell> {
        let (go_r, go_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe2", e))?;
        let (fail_r, fail_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("pipe2", e))?;
        let ours = nix::unistd::getpgrp();
        let foreground = nix::unistd::tcgetpgrp(std::io::stdin())
            .ok()
            .filter(|fg| *fg == ours);
        sys.note("the exercise shell: /bin/sh in new UTS, mount, network, IPC and PID namespaces");
        match sys.clone_process(FLAGS as u64, None)? {
            Forked::Child => {
                drop((go_w, fail_r));
                // Never back into diyc's own code: a copy of its undo list
                // and its terminal are in this process too.
                let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    child(go_r, format, spec, signals)
                }))
                .unwrap_or_else(|_| Error::Container("the exercise shell's setup panicked".into()));
                let _ = nix::unistd::write(&fail_w, failure.to_string().as_bytes());
                sys::exit_now(125)
            }
            Forked::Parent { child } => {
                drop((go_r, fail_w));
                let shell = Shell {
                    pid: child,
                    failure: fail_r,
                    reaped: false,
                    foreground,
                };
                nix::unistd::write(&go_w, &child.to_ne_bytes())
                    .map_err(|e| Error::os("starting the exercise shell", e))?;
                Ok(shell)
            }
        }
    }

    /// Whether the shell has ended (reaping it if so). Its setup's error,
    /// when it never got as far as the shell.
    pub fn ended(&mut self) -> Result<bool> {
        if self.reaped {
            return Ok(true);
        }
        match waitpid(Pid::from_raw(self.pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(false),
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_) => {}
            Ok(_) => return Ok(false),
        }
        self.reaped = true;
        self.give_back_terminal();
        let mut message = [0u8; 512];
        match read(&self.failure, &mut message) {
            Ok(n) if n > 0 => Err(Error::Container(
                String::from_utf8_lossy(&message[..n]).into_owned(),
            )),
            _ => Ok(true),
        }
    }

    /// End the shell now (SIGTERM or SIGHUP to diyc), and its namespace with it.
    pub fn kill(&mut self) {
        if !self.reaped {
            let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(self.pid), None);
            self.reaped = true;
            self.give_back_terminal();
        }
    }

    /// An interactive shell takes the terminal for its own process group;
    /// diyc takes it back once the shell is gone.
    fn give_back_terminal(&mut self) {
        let Some(ours) = self.foreground.take() else {
            return;
        };
        if nix::unistd::tcgetpgrp(std::io::stdin()).ok() != Some(ours) {
            take_terminal(ours);
        }
    }
}

/// Make process group `group` the terminal's foreground.
fn take_terminal(group: Pid) {
    // A background group calling tcsetpgrp gets SIGTTOU unless it is blocked.
    let mut ttou = SigSet::empty();
    ttou.add(Signal::SIGTTOU);
    let mut old = SigSet::empty();
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old));
    let _ = nix::unistd::tcsetpgrp(std::io::stdin(), group);
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
}

impl Drop for Shell {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The shell's calls, shown with its pid on the host (inside its PID
/// namespace it is pid 1), as `strace -f` shows them.
struct HostPid {
    explainer: Explainer,
    pid: i32,
}

impl Recorder for HostPid {
    fn enabled(&self) -> bool {
        self.explainer.enabled()
    }
    fn record(&mut self, mut event: Event) {
        if let Event::Syscall { pid, .. } = &mut event {
            *pid = self.pid;
        }
        self.explainer.record(event);
    }
}

/// The shell's side, from the clone to the exec; returns only on failure.
fn child(go: OwnedFd, format: Format, spec: &Spec, signals: &Signals) -> Error {
    // If diyc dies, so does the shell, and its PID namespace with it.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let mut pid = [0u8; 4];
    if read(&go, &mut pid) != Ok(4) {
        return Error::Container("diyc went away before the exercise shell started".into());
    }
    let mut recorder = HostPid {
        explainer: Explainer::new(Some(format)).verbose(spec.verbose),
        pid: i32::from_ne_bytes(pid),
    };
    let mut sys = Sys::new(&mut recorder, StageId::Clone);
    if let Err(e) = setup(&mut sys, spec) {
        return e;
    }
    // diyc's process group is not in the shell's PID namespace: the
    // shell gets a group of its own, in the terminal's foreground, or an
    // interactive sh could not give the terminal back when it exits.
    if nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
        let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
        take_terminal(nix::unistd::getpgrp());
    }
    signals.restore_mask();
    sys::reset_signal_dispositions();
    sys.exec(Call::Execve {
        path: "/bin/sh".into(),
        argv: vec!["sh".into()],
        env: spec.env.clone(),
    })
}

/// The pretend host's own mount table and network.
fn setup(sys: &mut Sys, spec: &Spec) -> Result<()> {
    let hidden = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    sys.note("its mount table private, then a /proc and a /sys of its own namespaces");
    sys.mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None)?;
    sys.mount(Some("proc"), "/proc", Some("proc"), hidden, None)?;
    // A new /sys would hide the cgroup trees below it, which are real:
    // held open first, bound back after.
    let cgroups = "/sys/fs/cgroup";
    let held = if sys.is_dir(cgroups) {
        Some(sys.call(Call::Openat {
            path: cgroups.into(),
            flags: libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            mode: 0,
        })?)
    } else {
        None
    };
    sys.mount(Some("sysfs"), "/sys", Some("sysfs"), hidden, None)?;
    if let Some(fd) = held {
        let source = format!("/proc/self/fd/{fd}");
        sys.mount(
            Some(&source),
            cgroups,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )?;
        sys.call(Call::Close { fd: fd as i32 })?;
    }
    for dir in &spec.read_only {
        sys.note(format!("{dir}, read-only in this shell's mount table"));
        sys.mount(Some(dir), dir, None, libc::MS_BIND, None)?;
        sys.mount(
            None,
            dir,
            None,
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
            None,
        )?;
    }
    sys.call(Call::Netlink {
        request: Request::SetUp { name: "lo".into() },
    })?;
    Ok(())
}
