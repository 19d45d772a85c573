//! The hardening stage, last before exec: what real runtimes take away
//! from a container's root, which diyC left with every power the host's
//! root has.
//!
//! 1. Paths of /proc and /sys that tell about or act on the whole machine
//!    are masked (files under the container's own /dev/null, directories
//!    under an empty read-only tmpfs) or made read-only (/proc/sys and
//!    friends). This needs CAP_SYS_ADMIN, so it comes first.
//! 2. Open files are limited, and every descriptor above 2 is marked
//!    close-on-exec, so nothing of diyc's leaks into the command.
//! 3. Capabilities are cut to a small set: every other one is dropped
//!    from the bounding set (for good, for every process to come), the
//!    ambient set is cleared, no_new_privs is set (setuid binaries and
//!    file capabilities grant nothing any more), and capset leaves the
//!    effective, permitted and inheritable sets at that small set.
//! 4. The seccomp filter (seccomp.rs) is loaded: from now on only the
//!    system calls its profile allows reach the kernel.

mod capabilities;
pub mod profile;
pub mod seccomp;
pub mod user;

pub use capabilities::{DEFAULT_CAPS, capability_set, container_caps};

use crate::error::{Error, Result};
use crate::event::{Heading, StageId};
use crate::stages::Stage;
use crate::state::Store;
use crate::sys::{CAPABILITIES, Call, Kind, Sys, cap_set_names};

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "hardening: what the container's root may no longer do",
    why: "Capabilities cut to a few, no new privileges, the machine's own files in /proc and /sys out of reach.",
};

/// Files that would show the host's memory, keys or timers.
const MASKED_FILES: &[&str] = &[
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/latency_stats",
    "/proc/interrupts",
    "/sys/kernel/vmcoreinfo",
];

/// Directories with the host's firmware and devices.
const MASKED_DIRS: &[&str] = &[
    "/proc/acpi",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Kernel settings and triggers the container may read but not change.
const READ_ONLY: &[&str] = &[
    "/proc/sys",
    "/proc/sysrq-trigger",
    "/proc/irq",
    "/proc/bus",
    "/proc/fs",
];

/// Open files allowed: (soft, hard).
pub const NOFILE: (u64, u64) = (1024, 4096);

pub struct Hardening {
    pub caps: u64,
    /// Mask and write-protect what /proc and /sys tell about the host:
    /// done once, by the container's first process; a process that joins
    /// it later (`exec`) finds them masked already.
    pub mask_paths: bool,
    /// The compiled seccomp filter, loaded last; None: unconfined.
    pub seccomp: Option<seccomp::Filter>,
    /// `--user`: None keeps root.
    pub user: Option<user::User>,
    /// A bundle's own lists (the OCI command line): what to mask and what
    /// to make read-only; None: diyc's.
    pub paths: Option<Paths>,
    /// Namespaced kernel settings to write before /proc/sys goes read-only.
    pub sysctl: Vec<(String, String)>,
    /// Resource limits (resource, soft, hard); None: diyc's open-files limit.
    pub rlimits: Option<Vec<(u32, u64, u64)>>,
}

/// Paths to mask and paths to make read-only.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    pub masked: Vec<String>,
    pub read_only: Vec<String>,
}

impl Hardening {
    /// Capabilities `caps`, and the filter of `seccomp` compiled for them
    /// (kept in `store`'s cache).
    pub fn new(
        caps: u64,
        mask_paths: bool,
        seccomp: &profile::Choice,
        store: &Store,
    ) -> Result<Hardening> {
        Ok(Hardening {
            caps,
            mask_paths,
            seccomp: seccomp::compile(seccomp, caps, Some(store))?,
            user: None,
            paths: None,
            sysctl: Vec::new(),
            rlimits: None,
        })
    }

    /// Run the command as `user` rather than root.
    pub fn with_user(mut self, user: Option<user::User>) -> Self {
        self.user = user;
        self
    }

    /// What `diyc run` gives a container without options.
    pub fn defaults(store: &Store) -> Result<Hardening> {
        Hardening::new(
            container_caps(&[], &[])?,
            true,
            &profile::Choice::Default,
            store,
        )
    }

    fn mask(&self, sys: &mut Sys) -> Result<()> {
        // Bind-mounting "/dev/null" over a file is only safe if it is the
        // device diyc made, not something put there since.
        let null = sys.kind("/dev/null");
        if null != Some(Kind::CharDevice { major: 1, minor: 3 }) {
            return Err(Error::invalid(
                "the container's /dev/null is not the null device",
            ));
        }
        let own = |list: &[&str]| list.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let (masked, read_only) = match &self.paths {
            Some(paths) => (paths.masked.clone(), paths.read_only.clone()),
            None => {
                let mut masked = own(MASKED_FILES);
                masked.extend(own(MASKED_DIRS));
                (masked, own(READ_ONLY))
            }
        };
        for path in &masked {
            match sys.kind(path) {
                Some(Kind::Dir) => {
                    sys.mount(Some("tmpfs"), path, Some("tmpfs"), libc::MS_RDONLY, None)?
                }
                Some(_) => sys.mount(Some("/dev/null"), path, None, libc::MS_BIND, None)?,
                None => {}
            }
        }
        let proc_flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        for path in &read_only {
            if sys.exists(path) {
                sys.mount(Some(path), path, None, libc::MS_BIND | libc::MS_REC, None)?;
                sys.mount(
                    Some(path),
                    path,
                    None,
                    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | proc_flags,
                    None,
                )?;
            }
        }
        Ok(())
    }

    fn drop_capabilities(&self, sys: &mut Sys) -> Result<()> {
        let last = sys
            .read_trim("/proc/sys/kernel/cap_last_cap")
            .and_then(|t| t.parse::<u32>().ok())
            .unwrap_or(CAPABILITIES.len() as u32 - 1);
        for cap in (0..=last).filter(|c| self.caps & (1 << c) == 0) {
            sys.call(Call::CapbsetDrop { cap })?;
        }
        sys.call(Call::AmbientClearAll)?;
        sys.call(Call::NoNewPrivs)?;
        if let Some(user) = &self.user {
            // Groups first, while the uid is still 0. A process that
            // leaves uid 0 loses its permitted and effective sets here, and
            // capset below keeps them empty: it runs with no capability.
            sys.call(Call::Setgroups {
                gids: user.groups.clone(),
            })?;
            sys.call(Call::Setresgid { gid: user.gid })?;
            sys.call(Call::Setresuid { uid: user.uid })?;
            let now = nix::unistd::getresuid().map(|r| r.effective.as_raw());
            if sys.is_dry() {
                // The dry seam changes no ids.
            } else if now != Ok(user.uid) {
                return Err(Error::invalid(format!(
                    "the command was to run as uid {}, but the kernel left it at {now:?}",
                    user.uid
                )));
            }
        }
        let root = self.user.as_ref().is_none_or(|u| u.uid == 0);
        let kept = if root {
            self.caps & ((1u64 << (last + 1)) - 1)
        } else {
            0
        };
        sys.call(Call::Capset {
            effective: kept,
            permitted: kept,
            // Nothing for execve to hand on to a program whose file
            // asks for capabilities: as runc and podman leave it.
            inheritable: 0,
        })
        .map(drop)
    }
}

impl Stage for Hardening {
    fn id(&self) -> StageId {
        StageId::Hardening
    }

    fn requires(&self) -> &'static [StageId] {
        if self.mask_paths {
            &[StageId::Rootfs, StageId::Pid]
        } else {
            &[StageId::Join]
        }
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Hardening);
        for (key, value) in &self.sysctl {
            sys.call(Call::WriteFile {
                path: format!("/proc/sys/{}", key.replace('.', "/")),
                value: value.clone(),
            })?;
        }
        if self.mask_paths {
            self.mask(sys)?;
        }
        match &self.rlimits {
            None => sys.call(Call::PrlimitNofile {
                soft: NOFILE.0,
                hard: NOFILE.1,
            })?,
            Some(limits) => {
                for (resource, soft, hard) in limits.iter().copied() {
                    sys.call(if resource == libc::RLIMIT_NOFILE {
                        Call::PrlimitNofile { soft, hard }
                    } else {
                        Call::Prlimit {
                            resource,
                            soft,
                            hard,
                        }
                    })?;
                }
                0
            }
        };
        if let Err(e) = sys.call(Call::CloseRange {
            first: 3,
            last: u32::MAX,
            cloexec: true,
        }) {
            // CLOSE_RANGE_CLOEXEC came with Linux 5.11 (close_range itself
            // with 5.9): older kernels answer EINVAL or ENOSYS.
            if !matches!(
                e,
                Error::Syscall {
                    errno: nix::errno::Errno::EINVAL | nix::errno::Errno::ENOSYS,
                    ..
                }
            ) {
                return Err(e);
            }
            sys.note(
                "this kernel has no CLOSE_RANGE_CLOEXEC: marking each open descriptor instead",
            );
            for fd in sys.open_descriptors_above(2) {
                sys.call(Call::FcntlCloexec { fd })?;
            }
        }
        self.drop_capabilities(sys)?;
        // Last: the filter may refuse what the steps above needed, and
        // no_new_privs (set above) lets a process without CAP_SYS_ADMIN
        // load it.
        if let Some(filter) = &self.seccomp {
            sys.note(filter.summary.clone());
            sys.call(Call::Seccomp {
                program: filter.program.clone(),
            })?;
        }
        Ok(())
    }

    fn inside(&self) -> Vec<String> {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let set = |name: &str| {
            let hex = field(name);
            let bits = u64::from_str_radix(&hex, 16).unwrap_or(0);
            format!(
                "{name} {hex} = {}",
                cap_set_names(bits).replace("1<<CAP_", "")
            )
        };
        vec![
            set("CapEff:"),
            set("CapBnd:"),
            format!("NoNewPrivs: {}", field("NoNewPrivs:")),
            match field("Seccomp:").as_str() {
                "2" => "Seccomp: 2 (a filter decides which system calls reach the kernel)".into(),
                other => format!("Seccomp: {other} (no filter)"),
            },
            match std::fs::metadata("/proc/kcore") {
                Ok(m) => format!(
                    "/proc/kcore: {} bytes (the host's memory image, masked)",
                    m.len()
                ),
                Err(_) => "/proc/kcore: absent on this kernel".to_string(),
            },
            // Read back from the kernel, not assumed from what was asked.
            match nix::sys::statvfs::statvfs("/proc/sys") {
                Ok(v) if v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) => {
                    "/proc/sys: mounted read-only".to_string()
                }
                Ok(_) => "/proc/sys: WRITABLE".to_string(),
                Err(e) => format!("/proc/sys: {}", e.desc()),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_for_old_kernels_marks_a_descriptor_close_on_exec()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        use nix::fcntl::{FcntlArg, FdFlag, fcntl};
        use std::os::fd::{AsRawFd, OwnedFd};
        let file = std::fs::File::open("/proc/self/status")?;
        // dup(2) never copies FD_CLOEXEC: a descriptor as a parent could leak it.
        let leaky = nix::unistd::dup(&file)?;
        let cloexec = |fd: &OwnedFd| -> nix::Result<bool> {
            Ok(FdFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFD)?)
                .contains(FdFlag::FD_CLOEXEC))
        };
        assert!(!cloexec(&leaky)?);
        let mut quiet = crate::sys::Quiet;
        let mut sys = Sys::new(&mut quiet, StageId::Hardening);
        assert!(sys.open_descriptors_above(2).contains(&leaky.as_raw_fd()));
        sys.call(Call::FcntlCloexec {
            fd: leaky.as_raw_fd(),
        })?;
        assert!(cloexec(&leaky)?);
        assert!(
            !sys.open_descriptors_above(1000)
                .contains(&leaky.as_raw_fd())
        );
        Ok(())
    }
}
