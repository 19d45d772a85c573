//! Each call, once, continued (syscall.rs has the rest): the families of
//! what a process talks to and what it may still do, terminals and
//! privileges.

use super::args::{Arg, Syscall, Value, arg, int, num, sc};
use super::call::Call;
use super::caps::{cap_name, cap_set_names};
use super::spell::rlim;

/// linux/capability.h, version 3: 64 capabilities in two halves.
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

impl Call {
    /// Terminals: a pseudo-terminal of the container's own.
    pub(super) fn terminal(&self) -> Option<Syscall> {
        let ioctl = |fd: i32, request: libc::Ioctl, name: &str, third: Arg| {
            let args = vec![num(fd.into()), int(request as i64, name), third];
            sc("ioctl", libc::SYS_ioctl, args)
        };
        match self {
            Call::PtyUnlock { fd } => ioctl(
                *fd,
                libc::TIOCSPTLCK,
                "TIOCSPTLCK",
                arg(Value::Words32(vec![0]), "[0]"),
            ),
            Call::PtyPeer { fd } => {
                let flags = libc::O_RDWR | libc::O_NOCTTY;
                let third = int(flags.into(), format!("{flags:#x}"));
                ioctl(*fd, libc::TIOCGPTPEER, "TIOCGPTPEER", third)
            }
            Call::ControllingTty { fd } => ioctl(*fd, libc::TIOCSCTTY, "TIOCSCTTY", num(0)),
            Call::WindowSize { fd, rows, cols } => {
                let size: Vec<u8> = [*rows, *cols, 0, 0]
                    .iter()
                    .flat_map(|v| v.to_ne_bytes())
                    .collect();
                let text = format!("{{ws_row={rows}, ws_col={cols}, ws_xpixel=0, ws_ypixel=0}}");
                ioctl(
                    *fd,
                    libc::TIOCSWINSZ,
                    "TIOCSWINSZ",
                    arg(Value::Bytes(size), text),
                )
            }
            Call::Dup3 { old, new } => sc(
                "dup3",
                libc::SYS_dup3,
                vec![num((*old).into()), num((*new).into()), num(0)],
            ),
            _ => None,
        }
    }

    /// Capabilities, limits and descriptors: what the process may still do.
    pub(super) fn privilege(&self) -> Option<Syscall> {
        match self {
            Call::CapbsetDrop { cap } => sc(
                "prctl",
                libc::SYS_prctl,
                vec![
                    int(libc::PR_CAPBSET_DROP.into(), "PR_CAPBSET_DROP"),
                    int((*cap).into(), cap_name(*cap)),
                ],
            ),
            Call::AmbientClearAll => sc(
                "prctl",
                libc::SYS_prctl,
                vec![
                    int(libc::PR_CAP_AMBIENT.into(), "PR_CAP_AMBIENT"),
                    int(
                        libc::PR_CAP_AMBIENT_CLEAR_ALL.into(),
                        "PR_CAP_AMBIENT_CLEAR_ALL",
                    ),
                    num(0),
                    num(0),
                    num(0),
                ],
            ),
            Call::Seccomp { program } => sc(
                "seccomp",
                libc::SYS_seccomp,
                vec![
                    int(
                        libc::SECCOMP_SET_MODE_FILTER.into(),
                        "SECCOMP_SET_MODE_FILTER",
                    ),
                    num(0),
                    arg(
                        Value::Program(program.clone()),
                        format!("{{len={}, filter=...}}", program.len()),
                    ),
                ],
            ),
            Call::BpfLoadDeviceProgram { instructions } => sc(
                "bpf",
                libc::SYS_bpf,
                vec![
                    int(5, "BPF_PROG_LOAD"),
                    arg(
                        Value::DeviceProgram(instructions.clone()),
                        format!(
                            "{{prog_type=BPF_PROG_TYPE_CGROUP_DEVICE, insn_cnt={}, insns=..., license=\"MIT\"}}",
                            instructions.len()
                        ),
                    ),
                    num(64),
                ],
            ),
            Call::BpfAttachDeviceProgram { cgroup, prog } => {
                // target_fd, attach_bpf_fd, BPF_CGROUP_DEVICE (6),
                // BPF_F_ALLOW_MULTI (2): a parent's programs (systemd's)
                // still run too, and must allow as well.
                let words = vec![*cgroup as u32, *prog as u32, 6, 2, 0];
                sc(
                    "bpf",
                    libc::SYS_bpf,
                    vec![
                        int(8, "BPF_PROG_ATTACH"),
                        arg(
                            Value::Words32(words),
                            format!(
                                "{{target_fd={cgroup}, attach_bpf_fd={prog}, attach_type=BPF_CGROUP_DEVICE, attach_flags=BPF_F_ALLOW_MULTI}}"
                            ),
                        ),
                        num(20),
                    ],
                )
            }
            Call::Setgroups { gids } => {
                let shown: Vec<String> = gids.iter().map(u32::to_string).collect();
                sc(
                    "setgroups",
                    libc::SYS_setgroups,
                    vec![
                        num(gids.len() as i64),
                        arg(
                            Value::Words32(gids.clone()),
                            format!("[{}]", shown.join(", ")),
                        ),
                    ],
                )
            }
            Call::Setresgid { gid } => sc(
                "setresgid",
                libc::SYS_setresgid,
                vec![num((*gid).into()), num((*gid).into()), num((*gid).into())],
            ),
            Call::Setresuid { uid } => sc(
                "setresuid",
                libc::SYS_setresuid,
                vec![num((*uid).into()), num((*uid).into()), num((*uid).into())],
            ),
            Call::NoNewPrivs => sc(
                "prctl",
                libc::SYS_prctl,
                vec![
                    int(libc::PR_SET_NO_NEW_PRIVS.into(), "PR_SET_NO_NEW_PRIVS"),
                    num(1),
                    num(0),
                    num(0),
                    num(0),
                ],
            ),
            Call::Capset {
                effective,
                permitted,
                inheritable,
            } => {
                let header = vec![LINUX_CAPABILITY_VERSION_3, 0];
                let half = |v: u64, i: u32| (v >> (32 * i)) as u32;
                let data: Vec<u32> = (0..2)
                    .flat_map(|i| {
                        [
                            half(*effective, i),
                            half(*permitted, i),
                            half(*inheritable, i),
                        ]
                    })
                    .collect();
                let sets = format!(
                    "{{effective={}, permitted={}, inheritable={}}}",
                    cap_set_names(*effective),
                    cap_set_names(*permitted),
                    cap_set_names(*inheritable)
                );
                let args = vec![
                    arg(
                        Value::Words32(header),
                        "{version=_LINUX_CAPABILITY_VERSION_3, pid=0}",
                    ),
                    arg(Value::Words32(data), sets),
                ];
                sc("capset", libc::SYS_capset, args)
            }
            Call::PrlimitNofile { soft, hard } => {
                let limit = format!("{{rlim_cur={}, rlim_max={}}}", rlim(*soft), rlim(*hard));
                let args = vec![
                    num(0),
                    int(libc::RLIMIT_NOFILE.into(), "RLIMIT_NOFILE"),
                    arg(Value::Words64(vec![*soft, *hard]), limit),
                    int(0, "NULL"),
                ];
                sc("prlimit64", libc::SYS_prlimit64, args)
            }
            Call::Prlimit {
                resource,
                soft,
                hard,
            } => {
                let limit = format!("{{rlim_cur={}, rlim_max={}}}", rlim(*soft), rlim(*hard));
                let name = RLIMITS
                    .get(*resource as usize)
                    .copied()
                    .unwrap_or("RLIMIT_?");
                let args = vec![
                    num(0),
                    int((*resource).into(), name),
                    arg(Value::Words64(vec![*soft, *hard]), limit),
                    int(0, "NULL"),
                ];
                sc("prlimit64", libc::SYS_prlimit64, args)
            }
            Call::CloseRange {
                first,
                last,
                cloexec,
            } => sc(
                "close_range",
                libc::SYS_close_range,
                vec![
                    num((*first).into()),
                    num((*last).into()),
                    if *cloexec {
                        int(libc::CLOSE_RANGE_CLOEXEC.into(), "CLOSE_RANGE_CLOEXEC")
                    } else {
                        num(0)
                    },
                ],
            ),
            Call::FcntlCloexec { fd } => sc(
                "fcntl",
                libc::SYS_fcntl,
                vec![
                    num((*fd).into()),
                    int(libc::F_SETFD.into(), "F_SETFD"),
                    int(libc::FD_CLOEXEC.into(), "FD_CLOEXEC"),
                ],
            ),
            _ => None,
        }
    }
}

/// The resource limits by number, as <sys/resource.h> numbers them.
pub const RLIMITS: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];
