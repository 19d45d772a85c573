//! `diyc doctor`: what this host allows, checked for the user who asks,
//! and for each missing piece what it breaks (a command, an option, a
//! lesson) and what fixes it. It only reads and probes (src/sys/probe.rs):
//! nothing of the host is changed. docs/doctor.md says what each check
//! means; docs/doctor.schema.json is the shape of `--json`.
//!
//! One file per family of checks: namespaces.rs (the namespaces and what
//! allows user namespaces), idmap.rs (subordinate ids and their helpers),
//! kernel.rs (system calls, overlayfs, the terminal knob), cgroups.rs,
//! network.rs, host.rs (busybox, and where diyc runs); render.rs prints.

mod cgroups;
mod host;
mod idmap;
mod kernel;
mod namespaces;
mod network;
mod render;

use std::io::IsTerminal;

use serde::Serialize;

use crate::error::{Error, Result};

/// How a check came out. `fail`: a command, an option or a lesson this
/// user would reach for cannot work; `warn`: it works with less (a
/// fallback, a part of it); `info`: a fact worth knowing, nothing broken
/// for this user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
    Info,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "fail",
            Verdict::Info => "info",
        }
    }
}

/// One check: what was found, and for a problem what it breaks and how
/// to fix it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub verdict: Verdict,
    pub found: String,
    pub breaks: Vec<String>,
    pub fix: Option<String>,
}

impl Check {
    fn new(id: &'static str, verdict: Verdict, found: impl Into<String>) -> Check {
        Check {
            id,
            verdict,
            found: found.into(),
            breaks: Vec::new(),
            fix: None,
        }
    }

    fn ok(id: &'static str, found: impl Into<String>) -> Check {
        Check::new(id, Verdict::Ok, found)
    }

    fn info(id: &'static str, found: impl Into<String>) -> Check {
        Check::new(id, Verdict::Info, found)
    }

    fn warn(id: &'static str, found: impl Into<String>) -> Check {
        Check::new(id, Verdict::Warn, found)
    }

    fn fail(id: &'static str, found: impl Into<String>) -> Check {
        Check::new(id, Verdict::Fail, found)
    }

    fn breaks(mut self, what: &[&str]) -> Check {
        self.breaks.extend(what.iter().map(|w| w.to_string()));
        self
    }

    fn fix(mut self, how: impl Into<String>) -> Check {
        self.fix = Some(how.into());
        self
    }

    /// A piece only rootless diyc (an ordinary user's) needs. For root a
    /// problem with it is news about this host's other users: information.
    fn rootless_only(mut self, who: &Who) -> Check {
        if who.root && matches!(self.verdict, Verdict::Warn | Verdict::Fail) {
            self.verdict = Verdict::Info;
            self.found
                .push_str(" (only rootless diyc, an ordinary user's, needs it)");
        }
        self
    }

    /// A piece only diyc run as root needs, the other way round.
    fn root_only(mut self, who: &Who) -> Check {
        if !who.root && matches!(self.verdict, Verdict::Warn | Verdict::Fail) {
            self.verdict = Verdict::Info;
            self.found.push_str(" (only diyc run as root needs it)");
        }
        self
    }
}

/// What goes without a user namespace for an ordinary user.
const ROOTLESS: &str = "diyc run and every lesson without root (rootless diyc starts each container in a user namespace)";

/// Who asked: root, or an ordinary user, for whom diyc runs rootless.
#[derive(Debug, Clone, Serialize)]
pub struct Who {
    pub uid: u32,
    pub name: Option<String>,
    pub root: bool,
}

impl Who {
    fn me() -> Who {
        let uid = nix::unistd::geteuid();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let name = crate::stages::hardening::user::name_of(&passwd, uid.as_raw());
        Who {
            uid: uid.as_raw(),
            name,
            root: uid.is_root(),
        }
    }

    /// The user's name for a command line, or their uid.
    fn login(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.uid.to_string())
    }
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Report {
    pub diyc: &'static str,
    pub user: Who,
    pub checks: Vec<Check>,
    pub ok: bool,
}

impl Report {
    fn gather() -> Report {
        let who = Who::me();
        let mut checks = Vec::new();
        checks.extend(namespaces::checks(&who));
        checks.extend(idmap::checks(&who));
        checks.extend(kernel::checks(&who));
        checks.extend(cgroups::checks(&who));
        checks.extend(network::checks(&who));
        checks.extend(host::checks(&who));
        let ok = checks.iter().all(|c| c.verdict != Verdict::Fail);
        Report {
            diyc: env!("CARGO_PKG_VERSION"),
            user: who,
            checks,
            ok,
        }
    }
}

/// `diyc doctor [--json]`: 0 when nothing diyc needs is missing
/// (warnings allowed), 1 when something is.
pub fn doctor(json: bool) -> Result<i32> {
    let report = Report::gather();
    let text = if json {
        serde_json::to_string_pretty(&report).map_err(|source| Error::Encoding {
            what: "writing the doctor's report".into(),
            source,
        })? + "\n"
    } else {
        let terminal = std::io::stdout().is_terminal();
        let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        render::table(&report, terminal.then(render::width), color)
    };
    render::print(&text)?;
    Ok(if report.ok { 0 } else { 1 })
}

/// A file's contents without the trailing newline, if it can be read.
fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// An errno as the report says it: its name and what it means.
fn errno_text(errno: nix::errno::Errno) -> String {
    format!("{errno:?} ({})", errno.desc())
}
