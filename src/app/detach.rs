//! `run -d` and `start`: a container that outlives the diyc that started
//! it. That diyc makes a supervisor of the container's own, as conmon is
//! for podman: a copy of itself in a session of its own, away from every
//! terminal, which runs the container exactly as `diyc run` does. It holds
//! the container's lock, writes the container's output (and its own
//! messages) to containers/NAME/log, and undoes what the run made when the
//! container ends. The diyc that started it waits on a pipe until the
//! command runs or its setup failed, prints the name and returns.
//!
//! Nothing is left unowned. The container's first process dies with its
//! supervisor (PR_SET_PDEATHSIG). What a killed supervisor leaves (a
//! cgroup, an address, port rules) is in the run.json it wrote before
//! making any of it, and the next diyc undoes it; after a reboot too.

use std::cell::RefCell;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;

use super::run::{Options, run_spec};
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::stages::net::Bridge;
use crate::state::Store;
use crate::state::container::{self, Held, Spec};
use crate::sys::{self, Call, Forked, Quiet, Sys};

/// The detached run's side of the pipe to the diyc that started it.
pub struct Notice {
    pipe: Rc<RefCell<Option<File>>>,
}

impl Notice {
    /// From now on the supervisor's output, and so the container's, goes
    /// to the container's log.
    pub fn log_to(&self, held: &Held) -> Result<()> {
        let log = held.open_log()?;
        let _ = std::io::stdout().flush();
        let mut quiet = Quiet;
        let mut sys = Sys::new(&mut quiet, StageId::Clone);
        for fd in [1, 2] {
            sys.call(Call::Dup3 {
                old: log.as_raw_fd(),
                new: fd,
            })?;
        }
        Ok(())
    }

    /// Tells the diyc that started it that the command runs.
    pub fn running(&self) -> Box<dyn FnMut()> {
        let pipe = Rc::clone(&self.pipe);
        Box::new(move || {
            if let Some(mut pipe) = pipe.borrow_mut().take() {
                let _ = pipe.write_all(b"running\n");
            }
        })
    }

    /// Tells it why the container did not start, unless it already runs.
    fn failed(&self, error: &Error) {
        if let Some(mut pipe) = self.pipe.borrow_mut().take() {
            let text = error.to_string().replace('\n', " ");
            let _ = writeln!(pipe, "failed {} {text}", error.exit_code());
        }
    }
}

/// `run -d`: the container `spec` describes, started by a supervisor of
/// its own. Returns (in the diyc that was asked) once the command runs.
pub fn run(store: &Store, bridge: &Bridge, spec: Spec, mut options: Options) -> Result<i32> {
    let name = options
        .name
        .get_or_insert_with(|| container::generate_name(store))
        .clone();
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::os("making a pipe to the container's supervisor", e))?;
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Clone);
    // The copy must not write out what this diyc still has buffered.
    let _ = std::io::stdout().flush();
    match sys.clone_process(0, None)? {
        Forked::Child => {
            drop(read);
            let notice = Notice {
                pipe: Rc::new(RefCell::new(Some(File::from(write)))),
            };
            let keep = notice.pipe.borrow().as_ref().map_or(-1, |p| p.as_raw_fd());
            let result = leave_caller(&mut sys, keep)
                .and_then(|()| run_spec(store, bridge, &spec, &options, Some(&notice)));
            if let Err(e) = &result {
                notice.failed(e);
            }
            drop(notice);
            let code = super::finish(result);
            let _ = std::io::stdout().flush();
            sys::exit_now(code)
        }
        Forked::Parent { .. } => {
            drop(write);
            let mut line = String::new();
            let _ = BufReader::new(File::from(read)).read_line(&mut line);
            started(&name, line.trim_end())
        }
    }
}

/// What the supervisor said: the command runs, or why it does not.
fn started(name: &str, said: &str) -> Result<i32> {
    if said == "running" {
        println!("{name}");
        return Ok(0);
    }
    let failure = said.strip_prefix("failed ").and_then(|rest| {
        let (code, message) = rest.split_once(' ')?;
        Some((code.parse::<i32>().ok()?, message.to_string()))
    });
    Err(match failure {
        Some((125, message)) => Error::Container(message),
        Some((code, message)) => Error::Command { message, code },
        None => Error::Container(format!(
            "the supervisor of container {name} ended before the container ran; see `diyc logs {name}`"
        )),
    })
}

/// The supervisor leaves the caller's session (a terminal's hang-up or
/// Ctrl-C no longer reaches it), its terminal and its working directory.
fn leave_caller(sys: &mut Sys, keep: i32) -> Result<()> {
    sys.call(Call::Setsid)?;
    let null = sys.call(Call::Openat {
        path: "/dev/null".into(),
        flags: libc::O_RDWR | libc::O_CLOEXEC,
        mode: 0,
    })? as i32;
    for fd in 0..3 {
        sys.call(Call::Dup3 { old: null, new: fd })?;
    }
    sys.call(Call::Close { fd: null })?;
    // Whatever else the caller left open (a pipe it waits on for its
    // end, say) is not the supervisor's to keep for the container's life.
    for fd in inherited(keep) {
        match sys.call(Call::Close { fd }) {
            Err(e) if e.errno() == Some(nix::errno::Errno::EBADF) => {}
            other => other.map(drop)?,
        }
    }
    sys.call(Call::Chdir { path: "/".into() }).map(drop)
}

/// Descriptors above 2 but `keep`, listed before any is closed (the
/// listing's own is among them, and is closed by then).
fn inherited(keep: i32) -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && *fd != keep)
        .collect()
}
