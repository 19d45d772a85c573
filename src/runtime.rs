//! Composes stages into a running process. The shape of every launch,
//! whether `diyc run` (all stages, an image, a clean environment) or
//! `diyc nsexec` (the stages asked for, a host command):
//!
//! 1. each stage prepares its host side (a cgroup, the bridge);
//! 2. diyc clones a child with every stage's namespace flag at once (into
//!    its cgroup, where the kernel can); the child names itself and waits
//!    on the setup socket;
//! 3. each stage attaches the child on the host side (cgroup membership on
//!    v1, its veth pair); diyc records the child as started and sends `Go`;
//! 4. the child enters each stage in order, sending its recorded calls;
//!    when explaining, it stops after each stage so diyc can show the
//!    host's side of the same moment, then waits for `Continue`;
//! 5. the child executes the command; its end of the socket closes on exec,
//!    which is how diyc knows the command is running;
//! 6. diyc waits for the child, passing on Ctrl-C and SIGTERM, lets each
//!    stage have its say on how it ended (an OOM kill), and reports the
//!    exit status the way a shell would.

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::{Mode, umask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::channel::{Channel, ChildRecorder, ToChild, ToParent};
use crate::error::{Error, Result};
use crate::event::{Event, Outcome, StageId};
use crate::fault;
use crate::observe;
use crate::pause::{Choice, Pauser};
use crate::signals::{STOP, Signals};
use crate::stages::Stages;
use crate::sys::{self, Forked, Sys};
use crate::undo::Undo;

/// What the child executes once every stage is entered.
pub struct ExecSpec {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
}

pub struct Launch {
    stages: Stages,
    /// Namespaces that need no stage of their own (IPC, an empty network).
    extra_flags: u64,
    exec: ExecSpec,
    /// Asked at the end of each stage whether to go on (`run --step`, lessons).
    pauser: Pauser,
}

/// How a launched command ended, as diyc's own exit status.
pub struct Exit {
    pub code: i32,
    /// What a stage found worth saying about the end (an OOM kill).
    pub notes: Vec<String>,
}

impl Launch {
    /// Stages run in the order given; each must come after the stages it
    /// builds on (nothing may be mounted before the mount stage has made
    /// the mount table private, or it would appear on the host).
    pub fn new(stages: Stages, extra_flags: u64, exec: ExecSpec) -> Result<Launch> {
        for (i, stage) in stages.iter().enumerate() {
            for needed in stage.requires() {
                if !stages[..i].iter().any(|s| s.id() == *needed) {
                    return Err(Error::failed(format!(
                        "the {} stage needs the {} stage before it",
                        stage.id().name(),
                        needed.name()
                    )));
                }
            }
        }
        Ok(Launch {
            stages,
            extra_flags,
            exec,
            pauser: Pauser::never(),
        })
    }

    /// Pause at the end of each stage (needs the child to report them,
    /// which it does when explaining).
    pub fn pause_with(mut self, pauser: Pauser) -> Self {
        self.pauser = pauser;
        self
    }

    /// The pauser back, with what the user chose (`c` runs to the end).
    pub fn take_pauser(&mut self) -> Pauser {
        std::mem::replace(&mut self.pauser, Pauser::never())
    }

    fn clone_flags(&self) -> u64 {
        self.stages
            .iter()
            .fold(self.extra_flags, |flags, s| flags | s.clone_flags())
    }
}

/// Prepare the host side of each stage, clone, attach, let the child
/// through its stages, and wait for it. `started` runs in diyc once the
/// child exists, before it is released. Host changes go on `undo`.
pub fn launch(
    sys: &mut Sys,
    launch: &mut Launch,
    signals: &Signals,
    undo: &mut Undo,
    started: &mut dyn FnMut(i32) -> Result<()>,
) -> Result<Exit> {
    signals.check()?;
    for stage in launch.stages.iter_mut() {
        stage.prepare(sys, undo)?;
        signals.check()?;
    }
    let (ours, theirs) = Channel::pair()?;
    let explain = sys.explaining();
    sys.stage(StageId::Clone);
    let into = launch.stages.iter().find_map(|s| s.cgroup_fd());
    let flags = launch.clone_flags();
    let forked = match sys.clone_process(flags, into) {
        // Kernels before 5.7 know clone3 but not CLONE_INTO_CGROUP.
        Err(Error::Syscall { errno, .. }) if into.is_some() && into_cgroup_unsupported(errno) => {
            sys.note(
                "this kernel cannot clone into a cgroup; the child joins it before it is let go",
            );
            sys.clone_process(flags, None).map(|f| (f, false))
        }
        other => other.map(|f| (f, into.is_some())),
    };
    let (child, placed_by_clone) = match forked? {
        (Forked::Child, _) => {
            drop(ours);
            let code = child_main(&theirs, launch, explain, signals);
            sys::exit_now(code)
        }
        (Forked::Parent { child }, placed) => (child, placed),
    };
    drop(theirs);
    let mut supervisor = Supervisor::new(child);
    if let Err(e) = fault::point("after-clone") {
        supervisor.kill_and_reap();
        return Err(e);
    }
    if explain {
        show_clone(sys, child);
    }
    let attached = launch
        .stages
        .iter_mut()
        .try_for_each(|stage| stage.attach(sys, child, placed_by_clone));
    if let Err(e) = attached
        .and_then(|()| started(child))
        .and_then(|()| ours.send(&ToChild::Go))
    {
        supervisor.kill_and_reap();
        return Err(e);
    }
    let mut exit = supervisor.run(sys, ours, launch, signals)?;
    for stage in launch.stages.iter_mut() {
        exit.notes.extend(stage.finish(sys, exit.code));
    }
    Ok(exit)
}

fn into_cgroup_unsupported(errno: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(
        errno,
        Errno::E2BIG | Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP
    )
}

fn show_clone(sys: &mut Sys, child: i32) {
    let inner = observe::nspid(child).and_then(|v| v.last().copied());
    let mut lines = vec![match inner {
        Some(inner) if inner != child => format!(
            "the child is pid {child} on the host; inside its new PID namespace it is pid {inner}"
        ),
        _ => format!("the child is pid {child}, in the host's PID namespace"),
    }];
    lines.extend(observe::ns_table(
        child,
        &["uts", "ipc", "mnt", "pid", "net"],
    ));
    sys.emit(Event::State {
        stage: StageId::Clone,
        inside: false,
        title: "a new process in new namespaces".into(),
        lines,
    });
}

// ---- the child ----------------------------------------------------------------

fn child_main(chan: &Channel, launch: &Launch, explain: bool, signals: &Signals) -> i32 {
    // Caught so that a bug can never unwind into diyc's own copy of main.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        child_setup(chan, launch, explain, signals)
    }));
    let (message, code) = match result {
        Ok(Ok(())) => return 0,
        Ok(Err(Error::Command { message, code })) => (message, code),
        Ok(Err(e)) => (e.to_string(), 125),
        Err(_) => ("the container's setup panicked".to_string(), 125),
    };
    let _ = chan.send(&ToParent::Failed { message, code });
    code
}

fn child_setup(chan: &Channel, launch: &Launch, explain: bool, signals: &Signals) -> Result<()> {
    let _ = nix::sys::prctl::set_name(c"diyc-init");
    // If diyc dies, so does the container: nothing is left running unowned.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    // Device nodes and directories get exactly the modes asked for.
    umask(Mode::empty());
    match chan.recv::<ToChild>()? {
        Some(ToChild::Go) => {}
        _ => return Err(Error::failed("diyc went away before the container started")),
    }
    let mut rec = ChildRecorder { chan, explain };
    let mut sys = Sys::new(&mut rec, StageId::Clone);
    for stage in launch.stages.iter().filter(|s| s.runs_inside()) {
        stage.enter(&mut sys)?;
        if explain {
            let lines = stage.inside();
            stage_done(&mut sys, chan, stage.id(), lines)?;
        }
    }
    exec(&mut sys, chan, &launch.exec, explain, signals)
}

/// Show the inside view and wait until diyc has looked at the outside.
fn stage_done(sys: &mut Sys, chan: &Channel, stage: StageId, lines: Vec<String>) -> Result<()> {
    if !lines.is_empty() {
        sys.emit(Event::State {
            stage,
            inside: true,
            title: "what the process sees".into(),
            lines,
        });
    }
    chan.send(&ToParent::StageDone(stage))?;
    match chan.recv::<ToChild>()? {
        Some(ToChild::Continue) => Ok(()),
        _ => Err(Error::failed("stopped before the command ran")),
    }
}

fn env_value<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// execvp's search, done before the one execve so that strace shows a
/// single call: the first executable file named `cmd` along PATH.
fn resolve(cmd: &str, path: &str) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    if cmd.contains('/') {
        return Ok(cmd.to_string());
    }
    let mut not_executable = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = format!("{dir}/{cmd}");
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
            not_executable.get_or_insert(candidate);
        }
    }
    Err(match not_executable {
        Some(found) => Error::Command {
            message: format!("{found}: permission denied"),
            code: 126,
        },
        None => Error::Command {
            message: format!("{cmd}: command not found (PATH={path})"),
            code: 127,
        },
    })
}

fn exec(
    sys: &mut Sys,
    chan: &Channel,
    spec: &ExecSpec,
    explain: bool,
    signals: &Signals,
) -> Result<()> {
    sys.stage(StageId::Exec);
    if let Some(dir) = &spec.workdir {
        sys.call(sys::Call::Chdir { path: dir.clone() })
            .map_err(|e| Error::failed(format!("working directory {dir}: {e}")))?;
    }
    let cmd = spec.argv.first().map_or("", String::as_str);
    let path = resolve(cmd, env_value(&spec.env, "PATH").unwrap_or(""))?;
    if explain {
        let cwd = std::env::current_dir().map_or_else(|_| "?".into(), |p| p.display().to_string());
        let lines = vec![
            format!("working directory: {cwd}"),
            format!("{cmd} found at {path}"),
            format!("environment: {}", spec.env.join(" ")),
        ];
        stage_done(sys, chan, StageId::Exec, lines)?;
    }
    fault::point("before-exec")?;
    umask(Mode::from_bits_truncate(0o022));
    sys::reset_signal_dispositions();
    signals.restore_mask();
    let err = sys.execve(&path, &spec.argv, &spec.env);
    let (code, why) = match &err {
        Error::Syscall { errno, .. } => (
            if *errno == nix::errno::Errno::ENOENT {
                127
            } else {
                126
            },
            errno.desc().to_string(),
        ),
        other => (126, other.to_string()),
    };
    Err(Error::Command {
        message: format!("cannot execute {path}: {why}"),
        code,
    })
}

// ---- diyc's side -----------------------------------------------------------

struct Supervisor {
    child: i32,
    status: Option<WaitStatus>,
    failure: Option<Error>,
    /// A stop signal that arrived before the command ran.
    interrupted: Option<Signal>,
    /// A signal the container's PID 1 would have dropped, so diyc killed it.
    killed_for: Option<Signal>,
    /// The user chose to stop at a pause, before this stage.
    stopped: Option<String>,
    running: bool,
    /// The execve the child recorded just before making it; it shows with
    /// its result once the outcome is known.
    pending_exec: Option<Event>,
}

impl Supervisor {
    fn new(child: i32) -> Self {
        Supervisor {
            child,
            status: None,
            failure: None,
            interrupted: None,
            killed_for: None,
            stopped: None,
            running: false,
            pending_exec: None,
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child)
    }

    fn kill_and_reap(&mut self) {
        let _ = kill(self.pid(), Signal::SIGKILL);
        let _ = waitpid(self.pid(), None);
    }

    fn run(
        mut self,
        sys: &mut Sys,
        chan: Channel,
        launch: &mut Launch,
        signals: &Signals,
    ) -> Result<Exit> {
        let foreground = Foreground::save();
        let mut chan = Some(chan);
        while self.status.is_none() || chan.is_some() {
            let (sig_ready, chan_ready) = {
                let mut fds = vec![PollFd::new(signals.fd(), PollFlags::POLLIN)];
                if let Some(c) = &chan {
                    fds.push(PollFd::new(c.fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        self.kill_and_reap();
                        return Err(Error::failed(format!(
                            "waiting for the container: {}",
                            e.desc()
                        )));
                    }
                }
                (
                    fds[0].any() == Some(true),
                    fds.get(1).and_then(PollFd::any) == Some(true),
                )
            };
            // Messages first, and all that are already there: an execve
            // that closed the socket before a signal arrived means the
            // signal is for the running command, not for the setup.
            let mut ready = chan_ready;
            while ready {
                let Some(c) = &chan else { break };
                if !self.message(sys, c, launch, signals) {
                    chan = None;
                    self.setup_over(sys);
                    break;
                }
                ready = readable_now(c);
            }
            if sig_ready {
                if let Some(c) = chan.as_ref().filter(|c| readable_now(c)) {
                    if !self.message(sys, c, launch, signals) {
                        chan = None;
                        self.setup_over(sys);
                    }
                }
                self.signals(signals);
            }
        }
        foreground.restore();
        self.exit()
    }

    /// Handle one message; false once the child's end is closed.
    fn message(
        &mut self,
        sys: &mut Sys,
        chan: &Channel,
        launch: &mut Launch,
        signals: &Signals,
    ) -> bool {
        let msg = match chan.recv::<ToParent>() {
            Ok(Some(msg)) => msg,
            Ok(None) => return false,
            Err(e) => {
                // Without its messages diyc cannot tell how the setup went:
                // end it rather than guess that the command started.
                self.failure.get_or_insert(e);
                let _ = kill(self.pid(), Signal::SIGKILL);
                return false;
            }
        };
        match msg {
            ToParent::Event(mut event) => {
                if let Event::Syscall {
                    pid, outcome, call, ..
                } = &mut event
                {
                    // The child sees itself as pid 1; show the host's view,
                    // as strace -f does.
                    *pid = self.child;
                    if matches!(call, sys::Call::Execve { .. }) {
                        if *outcome == Outcome::Pending {
                            self.pending_exec = Some(event);
                            return true;
                        }
                        self.pending_exec = None;
                    }
                }
                sys.emit(event);
            }
            ToParent::StageDone(stage) => {
                let lines = launch
                    .stages
                    .iter()
                    .find(|s| s.id() == stage)
                    .map(|s| s.outside(self.child))
                    .unwrap_or_default();
                if !lines.is_empty() {
                    sys.emit(Event::State {
                        stage,
                        inside: false,
                        title: "what the host sees".into(),
                        lines,
                    });
                }
                let next = launch
                    .stages
                    .iter()
                    .skip_while(|s| s.id() != stage)
                    .skip(1)
                    .find(|s| s.runs_inside())
                    .map_or("exec", |s| s.id().name());
                let answer = if self.interrupted.is_some() {
                    ToChild::Stop
                } else if launch.pauser.pause(&format!("the {next} stage"), signals) == Choice::Quit
                {
                    self.stopped = Some(next.to_string());
                    ToChild::Stop
                } else {
                    ToChild::Continue
                };
                if chan.send(&answer).is_err() {
                    return false;
                }
            }
            ToParent::Failed { message, code } => {
                self.failure = Some(if code == 125 {
                    Error::failed(message)
                } else {
                    Error::Command { message, code }
                });
            }
        }
        true
    }

    /// The child's end of the socket closed: it executed the command, or
    /// it died trying.
    fn setup_over(&mut self, sys: &mut Sys) {
        if self.failure.is_some() || self.interrupted.is_some() {
            return;
        }
        self.running = true;
        if let Some(Event::Syscall {
            stage,
            pid,
            call,
            text,
            ..
        }) = self.pending_exec.take()
        {
            sys.emit(Event::Syscall {
                stage,
                pid,
                call,
                text,
                outcome: Outcome::Ok(0),
            });
        }
    }

    fn signals(&mut self, signals: &Signals) {
        while let Some(info) = signals.next() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            if sig == Signal::SIGCHLD {
                self.reap();
            } else if STOP.contains(&sig) {
                self.stop_signal(sig, info.ssi_code);
            }
        }
    }

    fn reap(&mut self) {
        match waitpid(self.pid(), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => {}
            Ok(status) => self.status = Some(status),
        }
    }

    /// Ctrl-C, SIGTERM, SIGHUP or SIGQUIT. Before the command runs, diyc
    /// stops the setup. Once it runs, the signal is the container's: a
    /// terminal already sent it to the whole foreground group; one sent by
    /// kill(1) to diyc is passed on. The kernel drops signals that a
    /// namespace's PID 1 has no handler for, so in that case diyc carries
    /// out the default action itself.
    fn stop_signal(&mut self, sig: Signal, code: i32) {
        if self.status.is_some() {
            return;
        }
        if !self.running {
            self.interrupted.get_or_insert(sig);
            let _ = kill(self.pid(), Signal::SIGKILL);
            return;
        }
        if code != libc::SI_KERNEL {
            let _ = kill(self.pid(), sig);
        }
        if !pid1_handles(self.child, sig) {
            eprintln!(
                "diyc: the container's PID 1 has no handler for {}, which the kernel ignores for a namespace's init; killing it",
                sig.as_str()
            );
            self.killed_for.get_or_insert(sig);
            let _ = kill(self.pid(), Signal::SIGKILL);
        }
    }

    fn exit(self) -> Result<Exit> {
        if let Some(sig) = self.interrupted {
            return Err(Error::Interrupted(sig));
        }
        if let Some(stage) = self.stopped {
            return Err(Error::Stopped(format!("the {stage} stage")));
        }
        if let Some(err) = self.failure {
            return Err(err);
        }
        let code = match self.status {
            Some(WaitStatus::Exited(_, code)) => code,
            Some(WaitStatus::Signaled(_, sig, _)) => 128 + self.killed_for.unwrap_or(sig) as i32,
            other => {
                return Err(Error::failed(format!(
                    "the container ended oddly: {other:?}"
                )));
            }
        };
        Ok(Exit {
            code,
            notes: Vec::new(),
        })
    }
}

fn readable_now(chan: &Channel) -> bool {
    let mut fds = [PollFd::new(chan.fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}

/// Does `pid` catch or ignore `sig`? From the SigCgt and SigIgn masks in
/// /proc/PID/status.
fn pid1_handles(pid: i32, sig: Signal) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true;
    };
    let bit = 1u64 << (sig as u32 - 1);
    status
        .lines()
        .filter(|l| l.starts_with("SigCgt:") || l.starts_with("SigIgn:"))
        .filter_map(|l| u64::from_str_radix(l[7..].trim(), 16).ok())
        .any(|mask| mask & bit != 0)
}

/// An interactive shell in the container may make itself the terminal's
/// foreground process group; when it is gone, give the terminal back to
/// diyc's group so the user's shell finds it where it left it.
struct Foreground(Option<Pid>);

impl Foreground {
    fn save() -> Self {
        let ours = nix::unistd::getpgrp();
        let fg = nix::unistd::tcgetpgrp(std::io::stdin()).ok();
        Foreground(fg.filter(|fg| *fg == ours))
    }

    fn restore(self) {
        let Some(ours) = self.0 else {
            return;
        };
        if nix::unistd::tcgetpgrp(std::io::stdin()).ok() == Some(ours) {
            return;
        }
        use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
        // A background group calling tcsetpgrp gets SIGTTOU unless it is blocked.
        let mut ttou = SigSet::empty();
        ttou.add(Signal::SIGTTOU);
        let mut old = SigSet::empty();
        let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old));
        let _ = nix::unistd::tcsetpgrp(std::io::stdin(), ours);
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::{Stage, mount::Mount, pid::Pid, rootfs::Rootfs};

    fn exec() -> ExecSpec {
        ExecSpec {
            argv: vec!["true".into()],
            env: Vec::new(),
            workdir: None,
        }
    }

    #[test]
    fn a_stage_that_mounts_needs_the_mount_stage_first() {
        let rootfs = || Box::new(Rootfs::in_memory("/l".into(), "/m".into())) as Box<dyn Stage>;
        assert!(Launch::new(vec![rootfs()], 0, exec()).is_err());
        assert!(Launch::new(vec![rootfs(), Box::new(Mount)], 0, exec()).is_err());
        assert!(Launch::new(vec![Box::new(Mount), rootfs()], 0, exec()).is_ok());
        assert!(Launch::new(vec![Box::new(Pid { mount_proc: true })], 0, exec()).is_err());
        assert!(Launch::new(vec![Box::new(Pid { mount_proc: false })], 0, exec()).is_ok());
    }

    #[test]
    fn resolve_searches_path_like_execvp() {
        assert!(matches!(resolve("sh", "/nonexistent:/bin"), Ok(p) if p == "/bin/sh"));
        assert!(matches!(resolve("./x", "/bin"), Ok(p) if p == "./x"));
        assert!(matches!(
            resolve("diyc-no-such-command", "/bin:/usr/bin"),
            Err(Error::Command { code: 127, .. })
        ));
        assert!(matches!(
            resolve("passwd", "/etc"),
            Err(Error::Command { code: 126, .. })
        ));
    }

    #[test]
    fn later_environment_entries_win() {
        let env = vec!["PATH=/a".to_string(), "X=1".into(), "PATH=/b".into()];
        assert_eq!(env_value(&env, "PATH"), Some("/b"));
        assert_eq!(env_value(&env, "PAT"), None);
    }

    #[test]
    fn own_process_catches_nothing_by_default() {
        // The test harness installs no SIGQUIT handler.
        assert!(!pid1_handles(std::process::id() as i32, Signal::SIGQUIT));
    }
}
