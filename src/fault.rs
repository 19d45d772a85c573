//! Fault injection, for tests only: `DIYC_FAULT=STEP` makes diyc fail
//! right at STEP, as if that step had gone wrong, so a test can prove that
//! everything done before it is undone. `DIYC_HOLD=STEP` stops diyc there
//! instead, until the test continues it, so the test can let something
//! happen first that a fast machine would rarely let happen then. Unset
//! (always, outside tests), each point costs one environment lookup.

use crate::error::{Error, Result};

/// Every step a fault can be injected at, in the order an explained run
/// reaches them (unwatched, the veth pair is made while the child mounts).
pub const STEPS: &[&str] = &[
    "after-lease",
    "after-cgroup",
    "after-clone",
    "after-veth",
    "after-dnat",
    "after-mount",
    "before-exec",
];

pub fn point(step: &'static str) -> Result<()> {
    match std::env::var_os("DIYC_FAULT") {
        Some(wanted) if wanted == step => Err(Error::Fault(step)),
        _ => Ok(()),
    }
}

/// Stop diyc with SIGSTOP at `step` if `DIYC_HOLD` names it; its parent
/// sees it stopped (waitpid with WUNTRACED) and sends SIGCONT.
pub fn hold(step: &'static str) {
    if std::env::var_os("DIYC_HOLD").is_some_and(|wanted| wanted == step) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
    }
}
