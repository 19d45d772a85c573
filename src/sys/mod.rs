//! THE KERNEL WALL. Every system call that creates or changes isolation,
//! every cgroup write, netlink request and helper program goes through
//! `Sys` and nowhere else, and every one is recorded as it is made: the
//! call with its arguments decoded the way `strace` prints them, then its
//! result. `--explain` renders exactly these records, so what a student
//! reads is what the kernel was asked, never a script written beside the
//! code. clippy.toml refuses the same calls anywhere outside this folder
//! and src/state/.
//!
//! - call.rs: the calls, as plain data;
//! - syscall.rs: each call once, by family: its system call, and every
//!   argument as passed and as printed (args.rs has the pieces);
//! - perform.rs: making them, through the one syscall(2);
//! - render.rs: printing them as strace does (spell.rs: its words);
//! - caps.rs: capabilities by name;
//! - netlink.rs: the netlink connection, private to the seam;
//! - helper.rs: helper programs;
//! - userns.rs: user namespaces' id maps, and diyc moving into one;
//! - query.rs: what stages read to decide their next call;
//! - record.rs: where records go (Recorder, Journal, Quiet);
//! - dry.rs: the dry backend, which records without making anything;
//! - plumbing.rs: unrecorded calls that change nothing;
//! - probe.rs: what `diyc doctor` tries, unrecorded, changing nothing.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod args;
mod call;
mod caps;
mod dry;
mod handoff;
mod helper;
mod netlink;
mod owned;
mod perform;
mod plumbing;
mod privilege;
pub mod probe;
mod process;
mod query;
mod record;
mod render;
mod spell;
mod syscall;
mod userns;

pub use call::Call;
pub use caps::{CAPABILITIES, cap_set_names, held_capabilities, parse_cap};
pub use dry::{Kind, World};
pub use handoff::{open_gate, release_gate, send_console};
pub use helper::on_path;
pub use netlink::{Address, Link, Request, Veth};
pub use plumbing::{
    at_idle_priority, close_unrecorded, exit_now, monotonic_us, netns_cookie, recv_message,
    reset_signal_dispositions,
};
pub use privilege::RLIMITS;
pub use record::{Journal, Quiet, Recorder};
pub use spell::clone_flag_names;
pub use userns::{IdMap, Range, map_text};

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::event::{Event, Outcome, StageId};

/// What a fork-like clone returned, in each of the two processes.
pub enum Forked {
    Parent { child: i32 },
    Child,
}

fn outcome_of(result: &std::result::Result<i64, Errno>) -> Outcome {
    match result {
        Ok(v) => Outcome::Ok(*v),
        Err(e) => Outcome::Err {
            errno: format!("{e:?}"),
            message: e.desc().to_string(),
        },
    }
}

enum Backend {
    /// The kernel. The netlink connection is opened on first use, in
    /// whatever network namespace this process is in by then.
    Real { netlink: Option<netlink::Netlink> },
    /// Nothing is made; reads are answered from the world.
    Dry(Box<World>),
}

/// The seam itself: makes calls and records them, tagged with the stage
/// that made them.
pub struct Sys<'r> {
    rec: &'r mut dyn Recorder,
    stage: StageId,
    pid: i32,
    backend: Backend,
    /// The master end of a pseudo-terminal made through the seam, kept
    /// for the runtime to hand to diyc.
    terminal: Option<i32>,
    /// When the call being made began, for its record.
    began: Option<u64>,
}

impl<'r> Sys<'r> {
    pub fn new(rec: &'r mut dyn Recorder, stage: StageId) -> Self {
        Sys {
            rec,
            stage,
            pid: std::process::id() as i32,
            backend: Backend::Real { netlink: None },
            terminal: None,
            began: None,
        }
    }

    /// A seam that records calls without making them, reading from `world`.
    pub fn dry(rec: &'r mut dyn Recorder, stage: StageId, world: World) -> Self {
        Sys {
            rec,
            stage,
            pid: 4242,
            backend: Backend::Dry(Box::new(world)),
            terminal: None,
            began: None,
        }
    }

    pub fn explaining(&self) -> bool {
        self.rec.enabled()
    }

    /// Start a stage: later calls are recorded under it.
    pub fn stage(&mut self, stage: StageId) {
        self.stage = stage;
        if self.explaining() {
            let at_us = monotonic_us();
            self.rec.record(Event::Stage { stage, at_us });
        }
    }

    pub fn current_stage(&self) -> StageId {
        self.stage
    }

    /// Record later calls under `stage` without starting it again: its
    /// heading is already shown (by the child, say).
    pub fn continue_stage(&mut self, stage: StageId) {
        self.stage = stage;
    }

    /// Record anything that is not a system call (notes, observations).
    pub fn emit(&mut self, event: Event) {
        if self.explaining() {
            self.rec.record(event);
        }
    }

    /// What the recorder holds back goes out now: a pause or the
    /// container's own output comes next.
    pub fn flush(&mut self) {
        self.rec.flush();
    }

    pub fn note(&mut self, text: impl Into<String>) {
        if self.explaining() {
            let stage = self.stage;
            self.rec.record(Event::Note {
                stage,
                text: text.into(),
            });
        }
    }

    /// The call about to be made starts now, for its record's times.
    fn begin(&mut self) {
        if self.explaining() {
            self.began = Some(monotonic_us());
        }
    }

    fn record_as(&mut self, pid: i32, call: Call, outcome: Outcome) {
        if self.explaining() {
            let now = monotonic_us();
            let at_us = self.began.take().unwrap_or(now);
            let text = call.to_string();
            let stage = self.stage;
            self.rec.record(Event::Syscall {
                stage,
                pid,
                call,
                text,
                outcome,
                at_us,
                took_us: now.saturating_sub(at_us),
            });
        }
    }

    fn record_call(&mut self, call: Call, outcome: Outcome) {
        self.record_as(self.pid, call, outcome);
    }

    fn perform(&mut self, call: &Call) -> std::result::Result<i64, Errno> {
        match &mut self.backend {
            Backend::Dry(world) => world.perform(call),
            Backend::Real { netlink } => match call {
                Call::Netlink { request } => {
                    let conn = netlink.as_ref().ok_or(Errno::ENOTCONN)?;
                    conn.perform(request).map(|()| 0)
                }
                other => other.perform(),
            },
        }
    }

    /// Make one call and record it with its result.
    pub fn call(&mut self, call: Call) -> Result<i64> {
        if let (Call::Netlink { .. }, Backend::Real { netlink: None }) = (&call, &self.backend) {
            // Opened here, so that a failure to open says why.
            let conn = netlink::Netlink::connect()?;
            self.backend = Backend::Real {
                netlink: Some(conn),
            };
        }
        self.begin();
        let result = self.perform(&call);
        if result.is_ok() && leaves_network_namespace(&call) {
            // A netlink socket stays bound to the namespace it was opened in.
            if let Backend::Real { netlink } = &mut self.backend {
                *netlink = None;
            }
        }
        let outcome = outcome_of(&result);
        let result = result.map_err(|errno| Error::Syscall {
            call: call.to_string(),
            errno,
        });
        self.record_call(call, outcome);
        result
    }

    pub fn mount(
        &mut self,
        source: Option<&str>,
        target: &str,
        fstype: Option<&str>,
        flags: u64,
        data: Option<&str>,
    ) -> Result<()> {
        self.call(Call::Mount {
            source: source.map(String::from),
            target: target.to_string(),
            fstype: fstype.map(String::from),
            flags,
            data: data.map(String::from),
        })
        .map(drop)
    }

    /// Make (or replace) a file holding `content`: openat, one write,
    /// close. O_NOFOLLOW: a symlink in its place is refused, never
    /// written through.
    pub fn write_new_file(&mut self, path: &str, mode: u32, content: &str) -> Result<()> {
        let fd = self.call(Call::Openat {
            path: path.to_string(),
            flags: libc::O_WRONLY
                | libc::O_CREAT
                | libc::O_TRUNC
                | libc::O_NOFOLLOW
                | libc::O_CLOEXEC,
            mode,
        })? as i32;
        let written = self.call(Call::Write {
            fd,
            data: content.to_string(),
        });
        let closed = self.call(Call::Close { fd });
        match written? {
            n if n == content.len() as i64 => closed.map(drop),
            n => Err(Error::Io {
                what: "writing",
                path: path.into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    format!("{n} of {} bytes written", content.len()),
                ),
            }),
        }
    }

    /// Whether calls are only recorded, not made.
    pub fn is_dry(&self) -> bool {
        matches!(self.backend, Backend::Dry(_))
    }
}

/// setns or unshare into another network namespace.
fn leaves_network_namespace(call: &Call) -> bool {
    let net = libc::CLONE_NEWNET as u64;
    matches!(call, Call::Setns { nstype, .. } if nstype & net != 0)
        || matches!(call, Call::Unshare { flags } if flags & net != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_call_is_recorded_with_its_errno() {
        let mut journal = Journal::default();
        let mut sys = Sys::new(&mut journal, StageId::Exec);
        let Err(err) = sys.call(Call::Chdir {
            path: "/nonexistent/diyc-test".into(),
        }) else {
            panic!("chdir into a missing directory succeeded");
        };
        assert!(
            err.to_string()
                .contains("chdir(\"/nonexistent/diyc-test\") failed")
        );
        match &journal.events[..] {
            [
                Event::Syscall {
                    outcome: Outcome::Err { errno, .. },
                    text,
                    ..
                },
            ] => {
                assert_eq!(errno, "ENOENT");
                assert_eq!(text, r#"chdir("/nonexistent/diyc-test")"#);
            }
            other => panic!("unexpected events {other:?}"),
        }
    }

    #[test]
    fn the_dry_backend_records_calls_and_makes_none() {
        let mut journal = Journal::default();
        let world = World::new().failing("mkdirat(AT_FDCWD, \"/b\"", Errno::EACCES);
        let mut sys = Sys::dry(&mut journal, StageId::Mount, world);
        let made = sys.call(Call::Mkdirat {
            path: "/nonexistent/diyc-dry".into(),
            mode: 0o755,
        });
        assert!(made.is_ok(), "made in the world only");
        assert_eq!(sys.kind("/nonexistent/diyc-dry"), Some(Kind::Dir));
        assert!(!std::path::Path::new("/nonexistent/diyc-dry").exists());
        let refused = sys.call(Call::Mkdirat {
            path: "/b".into(),
            mode: 0o755,
        });
        assert_eq!(refused.err().and_then(|e| e.errno()), Some(Errno::EACCES));
        assert_eq!(
            journal.calls(),
            [
                r#"mkdirat(AT_FDCWD, "/nonexistent/diyc-dry", 0755)"#,
                r#"mkdirat(AT_FDCWD, "/b", 0755)"#
            ]
        );
    }
}
