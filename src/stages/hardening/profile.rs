//! A seccomp profile in Docker's JSON format: a default action, the
//! tables (architectures) it covers, and rules, each naming system calls
//! with an action, argument conditions, and the capabilities, arches or
//! kernel it applies to. diyc's own default is profile.json; seccomp.rs
//! compiles one for a container.

use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sys::parse_cap;

/// diyc's default profile.
pub(super) const DEFAULT: &str = include_str!("profile.json");

/// Which filter a container runs under (`--security-opt seccomp=...`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    #[default]
    Default,
    Unconfined,
    /// A profile file, kept as it was read so `exec` and `start` use the
    /// same one whatever happens to the file.
    Profile {
        path: String,
        json: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub(super) default_action: Action,
    pub(super) default_errno_ret: Option<u16>,
    #[serde(default)]
    pub(super) arch_map: Vec<ArchMap>,
    #[serde(default)]
    pub(super) architectures: Vec<String>,
    #[serde(default)]
    pub(super) syscalls: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ArchMap {
    pub(super) architecture: String,
    #[serde(default)]
    pub(super) sub_architectures: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Rule {
    #[serde(default)]
    pub(super) names: Vec<String>,
    /// The older format's single name.
    pub(super) name: Option<String>,
    pub(super) action: Action,
    pub(super) errno_ret: Option<u16>,
    #[serde(default)]
    pub(super) args: Vec<Arg>,
    #[serde(default)]
    pub(super) includes: Condition,
    #[serde(default)]
    pub(super) excludes: Condition,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Condition {
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    arches: Vec<String>,
    min_kernel: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Arg {
    index: u32,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: Op,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub(super) enum Action {
    #[serde(rename = "SCMP_ACT_ALLOW")]
    Allow,
    #[serde(rename = "SCMP_ACT_ERRNO")]
    Errno,
    #[serde(rename = "SCMP_ACT_KILL", alias = "SCMP_ACT_KILL_THREAD")]
    KillThread,
    #[serde(rename = "SCMP_ACT_KILL_PROCESS")]
    KillProcess,
    #[serde(rename = "SCMP_ACT_TRAP")]
    Trap,
    #[serde(rename = "SCMP_ACT_LOG")]
    Log,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(super) enum Op {
    #[serde(rename = "SCMP_CMP_NE")]
    Ne,
    #[serde(rename = "SCMP_CMP_LT")]
    Lt,
    #[serde(rename = "SCMP_CMP_LE")]
    Le,
    #[serde(rename = "SCMP_CMP_EQ")]
    Eq,
    #[serde(rename = "SCMP_CMP_GE")]
    Ge,
    #[serde(rename = "SCMP_CMP_GT")]
    Gt,
    #[serde(rename = "SCMP_CMP_MASKED_EQ")]
    MaskedEq,
}

impl Choice {
    /// The profile this choice names, parsed; None when unconfined.
    pub fn profile(&self) -> Result<Option<Profile>> {
        let (what, json) = match self {
            Choice::Unconfined => return Ok(None),
            Choice::Default => ("diyc's default profile", DEFAULT),
            Choice::Profile { path, json } => (path.as_str(), json.as_str()),
        };
        serde_json::from_str(json)
            .map(Some)
            .map_err(|e| Error::invalid(format!("seccomp profile {what}: {e}")))
    }

    /// How `--explain` names it.
    pub(super) fn name(&self) -> String {
        match self {
            Choice::Profile { path, .. } => format!("the profile {path}"),
            _ => "diyc's default profile".into(),
        }
    }
}

/// `--security-opt seccomp=VALUE`: `unconfined`, or a profile file.
pub fn choose(value: &str) -> Result<Choice> {
    if value == "unconfined" {
        return Ok(Choice::Unconfined);
    }
    let json = std::fs::read_to_string(value)
        .map_err(|e| Error::invalid(format!("cannot read seccomp profile {value}: {e}")))?;
    let choice = Choice::Profile {
        path: value.to_string(),
        json,
    };
    choice.profile()?;
    Ok(choice)
}

impl Action {
    pub(super) fn scmp(self, errno: Option<u16>) -> ScmpAction {
        match self {
            Action::Allow => ScmpAction::Allow,
            Action::Errno => ScmpAction::Errno(i32::from(errno.unwrap_or(1))),
            Action::KillThread => ScmpAction::KillThread,
            Action::KillProcess => ScmpAction::KillProcess,
            Action::Trap => ScmpAction::Trap,
            Action::Log => ScmpAction::Log,
        }
    }
}

impl Rule {
    /// Its argument conditions, all of which must hold.
    pub(super) fn compares(&self) -> Vec<ScmpArgCompare> {
        self.args.iter().map(|a| a.op.compare(a)).collect()
    }
}

impl Op {
    fn compare(self, arg: &Arg) -> ScmpArgCompare {
        let (op, datum) = match self {
            Op::Ne => (ScmpCompareOp::NotEqual, arg.value),
            Op::Lt => (ScmpCompareOp::Less, arg.value),
            Op::Le => (ScmpCompareOp::LessOrEqual, arg.value),
            Op::Eq => (ScmpCompareOp::Equal, arg.value),
            Op::Ge => (ScmpCompareOp::GreaterEqual, arg.value),
            Op::Gt => (ScmpCompareOp::Greater, arg.value),
            // In Docker's format the mask is `value`, the datum `valueTwo`.
            Op::MaskedEq => (ScmpCompareOp::MaskedEqual(arg.value), arg.value_two),
        };
        ScmpArgCompare::new(arg.index, op, datum)
    }
}

/// The names Docker's format uses for this machine in `arches`.
const NATIVE_ARCHES: &[&str] = if cfg!(target_arch = "x86_64") {
    &["amd64", "x86_64"]
} else {
    &["arm64", "aarch64"]
};

impl Condition {
    /// Whether a rule with this condition applies, as `includes`: every
    /// capability held, this machine's arch listed, the kernel new enough.
    pub(super) fn holds(&self, caps: u64, kernel: (u32, u32)) -> bool {
        self.caps.iter().all(|c| has_cap(caps, c))
            && (self.arches.is_empty()
                || self
                    .arches
                    .iter()
                    .any(|a| NATIVE_ARCHES.contains(&a.as_str())))
            && self
                .min_kernel
                .as_deref()
                .is_none_or(|k| kernel >= version(k))
    }

    /// As `excludes`: any capability held, or this arch listed.
    pub(super) fn any(&self, caps: u64) -> bool {
        self.caps.iter().any(|c| has_cap(caps, c))
            || self
                .arches
                .iter()
                .any(|a| NATIVE_ARCHES.contains(&a.as_str()))
    }
}

fn has_cap(caps: u64, name: &str) -> bool {
    parse_cap(name).is_ok_and(|c| caps & (1 << c) != 0)
}

/// "6.1.0-57-amd64" as (6, 1).
fn version(release: &str) -> (u32, u32) {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// This kernel's version as (major, minor).
pub fn kernel_version() -> (u32, u32) {
    nix::sys::utsname::uname().map_or((0, 0), |u| version(&u.release().to_string_lossy()))
}
