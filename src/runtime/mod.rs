//! One launch: stages composed into a running process. child.rs is the
//! container's side, supervise.rs diyc's, channel.rs the socket between
//! them; reclaim.rs cleans up after a launch whose diyc was killed. The
//! shape of every launch, whether `diyc run` (all stages, an image, a
//! clean environment) or `diyc nsexec` (the stages asked for, a host
//! command):
//!
//! 1. each stage prepares its host side (a cgroup, the bridge);
//! 2. diyc clones a child with every stage's namespace flag at once (into
//!    its cgroup, where the kernel can); the child names itself and waits
//!    on the setup socket;
//! 3. each stage attaches the child on the host side (cgroup membership on
//!    v1, its veth pair); diyc records the child as started and sends `Go`
//!    (unwatched, the veth pair is made after `Go`, see attach.rs);
//! 4. the child enters each stage in order, sending its recorded calls;
//!    when explaining, it stops after each stage so diyc can show the
//!    host's side of the same moment, then waits for `Continue`;
//! 5. the child executes the command; its end of the socket closes on exec,
//!    which is how diyc knows the command is running;
//! 6. diyc waits for the child, passing on Ctrl-C and SIGTERM, lets each
//!    stage have its say on how it ended (an OOM kill), and reports the
//!    exit status the way a shell would.

mod attach;
mod channel;
mod child;
mod inside;
pub mod process;
pub mod reclaim;
mod supervise;
mod terminal;
mod trampoline;

pub use process::Process;
pub use terminal::{Stream, Terminal};

use crate::error::{Error, Result};
use crate::event::{Event, Heading, StageId};
use crate::fault;
use crate::observe;
use crate::pause::Pauser;
use crate::signals::Signals;
use crate::stages::{Child, Stages};
use crate::sys::{self, Forked, Sys};
use crate::undo::Undo;

use channel::{Channel, ToChild};
use supervise::Supervisor;

/// What `--explain` prints above the clone.
pub const CLONE_HEADING: Heading = Heading {
    title: "clone: one system call makes the new namespaces",
    why: "Each CLONE_NEW* flag gives the new process its own copy of one kind of kernel resource.",
};

/// What `--explain` prints above the exec.
pub const EXEC_HEADING: Heading = Heading {
    title: "exec: the command replaces diyc's code in the prepared process",
    why: "The working directory is entered without leaving the root, then the command is executed through diyc's sealed trampoline, never as diyc's own binary.",
};

/// Looks at the host around each stage, for a lesson's before and after.
pub trait Watch {
    /// Before any stage prepares.
    fn start(&mut self);
    /// Lines to add to what the host sees once `stage` is done.
    fn after(&mut self, stage: StageId) -> Vec<String>;
}

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
    /// The stages to pause after; None pauses after every one.
    pause_after: Option<Vec<StageId>>,
    watch: Option<Box<dyn Watch>>,
    terminal: Terminal,
    /// Told once the command runs (a detached run's supervisor tells the
    /// diyc that started it).
    running: Option<Box<dyn FnMut()>>,
    /// An engine's container: someone else waits for it (the OCI runtime
    /// command line).
    handoff: Option<Handoff>,
}

/// For a container an engine runs (podman's conmon, containerd's shim):
/// the engine, not diyc, is the first process's parent once diyc exits,
/// so diyc returns as soon as the setup is done and leaves the process
/// running, with no tie to diyc (no parent-death signal).
#[derive(Default)]
pub struct Handoff {
    /// `create`: the start gate, a FIFO opened O_PATH. The process
    /// waits on it, set up but not yet executing, until `start` opens it
    /// for reading; diyc returns once the process waits there.
    pub gate: Option<std::os::fd::OwnedFd>,
    /// Where the master end of the container's terminal goes: a unix
    /// socket the engine listens on (runc's console socket).
    pub console: Option<std::path::PathBuf>,
    /// The command's umask, as the engine asks (022 when None).
    pub umask: Option<u32>,
    /// The explanation file: the process writes the end of its own
    /// explanation there (the start gate, the exec), after diyc has gone.
    pub explain: Option<std::fs::File>,
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
                    return Err(Error::Order {
                        stage: stage.id().name(),
                        needs: needed.name(),
                    });
                }
            }
        }
        Ok(Launch {
            stages,
            extra_flags,
            exec,
            pauser: Pauser::never(),
            pause_after: None,
            watch: None,
            terminal: Terminal::default(),
            running: None,
            handoff: None,
        })
    }

    /// Pause at the end of each stage (needs the child to report them,
    /// which it does when explaining).
    pub fn pause_with(mut self, pauser: Pauser) -> Self {
        self.pauser = pauser;
        self
    }

    /// Pause only after `stages`: a lesson stops where its own stage ends,
    /// not at every stage it builds on.
    pub fn pause_only_after(mut self, stages: Vec<StageId>) -> Self {
        self.pause_after = Some(stages);
        self
    }

    /// What a pause after `stage` says comes next: the next stage the
    /// child enters, or the command once the exec stage has looked.
    pub fn next_after(&self, stage: StageId) -> String {
        if stage == StageId::Exec {
            return "the command runs".into();
        }
        let next = self
            .stages
            .iter()
            .skip_while(|s| s.id() != stage)
            .skip(1)
            .find(|s| s.runs_inside())
            .map_or("exec", |s| s.id().name());
        format!("the {next} stage")
    }

    fn pauses_after(&self, stage: StageId) -> bool {
        self.pause_after.as_ref().is_none_or(|s| s.contains(&stage))
    }

    /// How the command meets the caller's terminal; the session stage
    /// makes the container's own terminal when `terminal.tty`.
    pub fn with_terminal(mut self, terminal: Terminal) -> Self {
        self.terminal = terminal;
        self
    }

    /// Call `running` once the command runs.
    pub fn when_running(mut self, running: Box<dyn FnMut()>) -> Self {
        self.running = Some(running);
        self
    }

    /// Leave the process to the caller's engine once it is set up.
    pub fn hand_off(mut self, handoff: Handoff) -> Self {
        self.handoff = Some(handoff);
        self
    }

    pub(crate) fn handed_off(&self) -> bool {
        self.handoff.is_some()
    }

    /// The umask the command starts with.
    fn umask(&self) -> u32 {
        self.handoff.as_ref().and_then(|h| h.umask).unwrap_or(0o022)
    }

    /// The start gate's descriptor, which the child keeps until `start`.
    fn gate(&self) -> Option<i32> {
        use std::os::fd::AsRawFd;
        let gate = self.handoff.as_ref()?.gate.as_ref()?;
        Some(gate.as_raw_fd())
    }

    /// Let `watch` look at the host around each stage.
    pub fn watch_with(mut self, watch: Box<dyn Watch>) -> Self {
        self.watch = Some(watch);
        self
    }

    /// The pauser back, with what the user chose (`c` runs to the end).
    pub fn take_pauser(&mut self) -> Pauser {
        std::mem::replace(&mut self.pauser, Pauser::never())
    }

    pub(crate) fn clone_flags(&self) -> u64 {
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
    // A dry seam makes no child: the pids it gives are made up, and
    // signalling or waiting for them would reach real processes.
    if sys.is_dry() {
        return Err(Error::invalid(
            "a launch needs the real seam, not the dry one",
        ));
    }
    signals.check()?;
    if let Some(watch) = launch.watch.as_mut() {
        watch.start();
    }
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
            let code = child::child_main(&theirs, launch, explain, signals);
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
        show_clone(sys, child, flags);
    }
    let deferred = attach::deferred(&launch.stages, explain);
    let placed = Child {
        pid: child,
        placed_by_clone,
    };
    let go = ToChild::Go {
        pid: child,
        attached_before: deferred.first().copied(),
    };
    if let Err(e) = attach::attach(sys, &mut launch.stages, &deferred, false, placed)
        .and_then(|()| started(child))
        .and_then(|()| ours.send(&go))
    {
        supervisor.kill_and_reap();
        return Err(e);
    }
    if !deferred.is_empty() {
        fault::hold("before-late-attach");
        if let Err(e) = attach::attach(sys, &mut launch.stages, &deferred, true, placed)
            .and_then(|()| ours.send(&ToChild::Attached))
        {
            supervisor.kill_and_reap();
            return Err(attach::reason(&ours, e));
        }
    }
    let streams = launch.stages.iter_mut().flat_map(|s| s.streams()).collect();
    supervisor.relay_pipes(streams);
    fault::hold("before-supervise");
    let mut exit = supervisor.run(sys, ours, launch, signals)?;
    if launch.handed_off() {
        return Ok(exit);
    }
    for stage in launch.stages.iter_mut() {
        exit.notes.extend(stage.finish(sys, exit.code));
    }
    Ok(exit)
}

/// A launch that keeps no records of its own (`nsexec`, `exec`): what
/// it changed on the host is undone as soon as it ends.
pub fn launch_alone(sys: &mut Sys, launch: &mut Launch, signals: &Signals) -> Result<Exit> {
    let mut undo = Undo::new();
    let result = self::launch(sys, launch, signals, &mut undo, &mut |_| Ok(()));
    undo.finish(sys, result.is_ok());
    result
}

fn into_cgroup_unsupported(errno: nix::errno::Errno) -> bool {
    use nix::errno::Errno;
    matches!(
        errno,
        Errno::E2BIG | Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP
    )
}

fn show_clone(sys: &mut Sys, child: i32, flags: u64) {
    let inner = observe::nspid(child).and_then(|v| v.last().copied());
    let mut lines = vec![match inner {
        Some(inner) if inner != child => format!(
            "the child is pid {child} on the host; inside its new PID namespace it is pid {inner}"
        ),
        _ => format!("the child is pid {child}, in the host's PID namespace"),
    }];
    let own_user = flags & libc::CLONE_NEWUSER as u64 != 0;
    let kinds: &[&str] = if own_user {
        &["user", "uts", "ipc", "mnt", "pid", "net"]
    } else {
        &["uts", "ipc", "mnt", "pid", "net"]
    };
    lines.extend(observe::ns_table(child, kinds));
    sys.emit(Event::State {
        stage: StageId::Clone,
        inside: false,
        title: "a new process in new namespaces".into(),
        lines,
    });
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
        let rootfs =
            || Box::new(Rootfs::in_memory("/l".into(), "/m".into(), 1 << 20)) as Box<dyn Stage>;
        assert!(Launch::new(vec![rootfs()], 0, exec()).is_err());
        assert!(Launch::new(vec![rootfs(), Box::new(Mount)], 0, exec()).is_err());
        assert!(Launch::new(vec![Box::new(Mount), rootfs()], 0, exec()).is_ok());
        assert!(Launch::new(vec![Box::new(Pid::new(true))], 0, exec()).is_err());
        assert!(Launch::new(vec![Box::new(Pid::new(false))], 0, exec()).is_ok());
    }
}
