//! diyc's side while the container is set up and runs: it renders the
//! child's recorded events in order, shows the host's side of each stage
//! when it ends, pauses where asked, passes on Ctrl-C and SIGTERM, and
//! reaps the child.

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::channel::{Channel, ToChild, ToParent};
use super::terminal::{Foreground, Relay};
use super::{Exit, Launch};
use crate::error::{Error, Result};
use crate::event::{Event, Outcome, StageId};
use crate::observe;
use crate::pause::Choice;
use crate::signals::{STOP, Signals};
use crate::sys::Sys;

pub(super) struct Supervisor {
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
    /// The child said it is about to execve.
    executing: bool,
    /// The execve the child recorded just before making it; it shows with
    /// its result once the outcome is known.
    /// The container's terminal, with `-t`.
    terminal: Option<Relay>,
    /// The container left diyc's session and process group (the session
    /// stage), so a terminal's Ctrl-C reaches diyc alone.
    own_session: bool,
    /// An engine's container is set up and left to the engine.
    handed: bool,
}

impl Supervisor {
    pub(super) fn new(child: i32) -> Self {
        Supervisor {
            child,
            status: None,
            failure: None,
            interrupted: None,
            killed_for: None,
            stopped: None,
            running: false,
            executing: false,
            terminal: None,
            own_session: false,
            handed: false,
        }
    }

    /// Pipes a stage made in place of the caller's terminal.
    pub(super) fn relay_pipes(&mut self, streams: Vec<super::Stream>) {
        if let Some(relay) = Relay::pipes(streams) {
            self.terminal = Some(relay);
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child)
    }

    pub(super) fn kill_and_reap(&mut self) {
        let _ = kill(self.pid(), Signal::SIGKILL);
        let _ = waitpid(self.pid(), None);
    }

    pub(super) fn run(
        mut self,
        sys: &mut Sys,
        chan: Channel,
        launch: &mut Launch,
        signals: &Signals,
    ) -> Result<Exit> {
        let foreground = Foreground::save();
        self.own_session = launch.stages.iter().any(|s| s.id() == StageId::Session);
        let mut chan = Some(chan);
        let relaying = |s: &Self| s.terminal.as_ref().is_some_and(Relay::open);
        while !self.handed && (self.status.is_none() || chan.is_some() || relaying(&self)) {
            let ready = match self.wait(signals, chan.as_ref()) {
                Ok(ready) => ready,
                Err(e) => {
                    self.kill_and_reap();
                    return Err(e);
                }
            };
            let [sig_ready, chan_ready, relay_ready] = ready;
            // Messages first, and all that are already there: an execve
            // that closed the socket before a signal arrived means the
            // signal is for the running command, not for the setup; and
            // the caller's terminal goes raw before the command's first
            // output is shown.
            let mut ready = chan_ready;
            while ready {
                let Some(c) = &chan else { break };
                if !self.message(sys, c, launch, signals) {
                    chan = None;
                    self.setup_over(launch);
                    break;
                }
                if self.handed {
                    break;
                }
                ready = readable_now(c);
            }
            // Handed off, the process is the engine's: a signal that came
            // in the same round is not diyc's to act on.
            if self.handed {
                break;
            }
            if relay_ready {
                if let Some(relay) = self.terminal.as_mut() {
                    relay.copy_output();
                }
            }
            if sig_ready {
                if let Some(c) = chan.as_ref().filter(|c| readable_now(c)) {
                    if !self.message(sys, c, launch, signals) {
                        chan = None;
                        self.setup_over(launch);
                    }
                }
                self.signals(sys, signals);
            }
            // Typing after signals: a window resized before a key was
            // pressed has its new size by the time the key arrives, even
            // when the resize came after this round's poll (while its
            // output was being copied, say).
            if relay_ready {
                self.signals(sys, signals);
                if let Some(relay) = self.terminal.as_mut() {
                    relay.copy_input();
                }
            }
        }
        if let Some(relay) = self.terminal.as_mut() {
            relay.end();
        }
        foreground.restore();
        self.exit()
    }

    /// Wait until something is ready: [signals, the setup socket, the
    /// relay's streams].
    fn wait(&self, signals: &Signals, chan: Option<&Channel>) -> Result<[bool; 3]> {
        let relay = self
            .terminal
            .as_ref()
            .map(Relay::poll_list)
            .unwrap_or_default();
        loop {
            let mut fds = vec![PollFd::new(signals.fd(), PollFlags::POLLIN)];
            fds.extend(chan.map(|c| PollFd::new(c.fd(), PollFlags::POLLIN)));
            let first_relay = fds.len();
            fds.extend(relay.iter().map(|(fd, flags)| PollFd::new(*fd, *flags)));
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::os("waiting for the container", e)),
            }
            let ready = |fd: &PollFd| fd.any() == Some(true);
            return Ok([
                ready(&fds[0]),
                chan.is_some() && ready(&fds[1]),
                fds[first_relay..].iter().any(ready),
            ]);
        }
    }

    /// Handle one message; false once the child's end is closed.
    fn message(
        &mut self,
        sys: &mut Sys,
        chan: &Channel,
        launch: &mut Launch,
        signals: &Signals,
    ) -> bool {
        let (msg, fd) = match chan.recv_fd::<ToParent>() {
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
                if let Event::Syscall { pid, outcome, .. } = &mut event {
                    // The child sees itself as pid 1; show the host's view,
                    // as strace -f does.
                    *pid = self.child;
                    // The child waits for this line to be out before it
                    // executes, so the command's output comes after it.
                    if *outcome == Outcome::Pending {
                        sys.emit(event);
                        sys.flush();
                        return chan.send(&ToChild::Continue).is_ok();
                    }
                }
                sys.emit(event);
            }
            ToParent::StageDone(stage) => {
                let mut lines = launch
                    .stages
                    .iter()
                    .find(|s| s.id() == stage)
                    .map(|s| s.outside(self.child))
                    .unwrap_or_default();
                if let Some(watch) = launch.watch.as_mut() {
                    lines.extend(watch.after(stage));
                }
                if !lines.is_empty() {
                    sys.emit(Event::State {
                        stage,
                        inside: false,
                        title: "what the host sees".into(),
                        lines,
                    });
                }
                let next = launch.next_after(stage);
                let pausing = launch.pauses_after(stage) && launch.pauser.enabled();
                if pausing {
                    sys.flush();
                }
                let answer = if self.interrupted.is_some() {
                    ToChild::Stop
                } else if pausing && launch.pauser.pause(&next, signals) == Choice::Quit {
                    self.stopped = Some(next);
                    ToChild::Stop
                } else {
                    ToChild::Continue
                };
                if chan.send(&answer).is_err() {
                    return false;
                }
            }
            ToParent::Executing => self.executing = true,
            ToParent::Waiting => self.handed = self.failure.is_none(),
            ToParent::Terminal => match (fd, launch.handoff.as_ref()) {
                (Some(master), Some(handoff)) => {
                    if let Some(console) = &handoff.console {
                        // The engine relays the terminal from here on.
                        if let Err(e) = crate::sys::send_console(console, &master) {
                            self.failure.get_or_insert(e);
                            let _ = kill(self.pid(), Signal::SIGKILL);
                        }
                    }
                }
                (Some(master), None) => {
                    self.terminal = Some(Relay::terminal(sys, master, launch.terminal.input));
                }
                (None, _) => {}
            },
            ToParent::Failed { message, code } => {
                self.failure = Some(super::channel::failure(message, code));
            }
        }
        true
    }

    /// The child's end of the socket closed: it executed the command, or
    /// it died trying.
    fn setup_over(&mut self, launch: &mut Launch) {
        if self.failure.is_some() || self.interrupted.is_some() {
            return;
        }
        if !self.executing {
            self.failure = Some(Error::Container(
                "the container's first process ended during its setup".into(),
            ));
            return;
        }
        self.running = true;
        // A process an engine waits for (`exec --detach`) runs: diyc is done.
        self.handed = launch.handed_off();
        if let Some(running) = launch.running.as_mut() {
            running();
        }
        if let Some(relay) = self.terminal.as_mut() {
            relay.start();
        }
    }

    fn signals(&mut self, sys: &mut Sys, signals: &Signals) {
        while let Some(info) = signals.next() {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            if sig == Signal::SIGCHLD {
                self.reap();
            } else if sig == Signal::SIGWINCH {
                if let Some(relay) = &self.terminal {
                    relay.resize(sys);
                }
            } else if STOP.contains(&sig) {
                self.stop_signal(sig, info.ssi_code);
            }
        }
    }

    fn reap(&mut self) {
        // A handed-off process is the engine's to reap, even if it ended
        // before diyc got here: conmon learns an exec's status that way.
        if self.handed {
            return;
        }
        match waitpid(self.pid(), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => {}
            Ok(status) => self.status = Some(status),
        }
    }

    /// Ctrl-C, SIGTERM, SIGHUP or SIGQUIT. Before the command runs, diyc
    /// stops the setup. Once it runs, the signal is the container's. One
    /// sent by kill(1) to diyc is passed on to its first process. One from
    /// a terminal went to the terminal's foreground group: the container
    /// was in it unless it has a session of its own, and then it gets it
    /// in its own group. The kernel drops signals that a namespace's PID 1
    /// has no handler for, so in that case diyc carries out the default
    /// action itself.
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
        } else if self.own_session {
            // Its first process leads its session and its process group.
            let _ = kill(Pid::from_raw(-self.child), sig);
        }
        let init = observe::nspid(self.child).and_then(|p| p.last().copied()) == Some(1);
        if init && !observe::handles_signal(self.child, sig) {
            self.killed_for.get_or_insert(sig);
            let _ = kill(self.pid(), Signal::SIGKILL);
        }
    }

    fn exit(self) -> Result<Exit> {
        if self.handed {
            return Ok(Exit {
                code: 0,
                notes: Vec::new(),
            });
        }
        if let Some(sig) = self.interrupted {
            return Err(Error::Interrupted(sig));
        }
        if let Some(stage) = self.stopped {
            return Err(Error::Stopped(stage));
        }
        if let Some(err) = self.failure {
            return Err(err);
        }
        let code = match self.status {
            Some(WaitStatus::Exited(_, code)) => code,
            Some(WaitStatus::Signaled(_, sig, _)) => 128 + self.killed_for.unwrap_or(sig) as i32,
            other => {
                return Err(Error::Container(format!(
                    "the container ended oddly: {other:?}"
                )));
            }
        };
        let notes = self.killed_for.map(|sig| {
            format!(
                "the container's PID 1 had no handler for {}, which the kernel ignores for a namespace's init, so diyc killed it",
                sig.as_str()
            )
        });
        Ok(Exit {
            code,
            notes: notes.into_iter().collect(),
        })
    }
}

fn readable_now(chan: &Channel) -> bool {
    let mut fds = [PollFd::new(chan.fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
}
