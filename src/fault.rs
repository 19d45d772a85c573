//! Fault injection, for tests only: `DIYC_FAULT=STEP` makes diyc fail
//! right at STEP, as if that step had gone wrong, so a test can prove that
//! everything done before it is undone. Unset (always, outside tests), each
//! point costs one environment lookup.

use crate::error::{Error, Result};

/// Every step a fault can be injected at, in the order a run reaches them.
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
