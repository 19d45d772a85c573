//! Which devices a container may use: only the ones diyc makes in its
//! /dev (and those passed in with `--device`). Without this, a container
//! given CAP_MKNOD could make a node for any device of the host's (a
//! disk, /dev/kvm) and open it: the node is just a number, and nothing
//! but this check ties the number to the container.
//!
//! - cgroup v1 has a devices controller: `echo a > devices.deny` takes
//!   every device away, then one `devices.allow` line per device gives it
//!   back, for reading, writing and mknod (`rwm`).
//! - cgroup v2 has no such files: the kernel asks a small BPF program
//!   attached to the cgroup at each open and mknod of a device node. diyc
//!   writes that program (a list of compares, one per device) and loads
//!   and attaches it with `bpf(2)`.

use serde::{Deserialize, Serialize};

use super::place::{Placement, Version};
use crate::error::{Error, Result};
use crate::sys::{Call, Sys};

/// A device the container may use: a character (`c`) or block (`b`)
/// device by major number, and minor number (None: every minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    pub kind: char,
    pub major: u32,
    pub minor: Option<u32>,
}

/// What the rootfs stage makes in /dev, the container's own pseudo
/// terminals, and its console (a bind of one of them).
pub const DEFAULT: &[Device] = &[
    char_dev(1, 3), // null
    char_dev(1, 5), // zero
    char_dev(1, 7), // full
    char_dev(1, 8), // random
    char_dev(1, 9), // urandom
    char_dev(5, 0), // tty
    char_dev(5, 1), // console
    char_dev(5, 2), // ptmx
    Device {
        kind: 'c',
        major: 136,
        minor: None,
    }, // the pseudo terminals' slaves, /dev/pts/N
];

const fn char_dev(major: u32, minor: u32) -> Device {
    Device {
        kind: 'c',
        major,
        minor: Some(minor),
    }
}

/// A device of the host's passed in on purpose (`--device HOST[:INSIDE]`),
/// as it was when the container was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passed {
    pub host: String,
    /// Where it goes, under /dev.
    pub inside: String,
    pub kind: char,
    pub major: u32,
    pub minor: u32,
    /// Its permission bits on the host.
    pub mode: u32,
}

impl Passed {
    /// `HOST_PATH[:CONTAINER_PATH]`: the host's node must be a device, and
    /// it goes under the container's /dev (its own path there by default).
    pub fn parse(text: &str) -> Result<Passed> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let (host, inside) = text.split_once(':').unwrap_or((text, text));
        let meta =
            std::fs::metadata(host).map_err(|e| Error::invalid(format!("--device {host}: {e}")))?;
        let kind = match meta.file_type() {
            t if t.is_char_device() => 'c',
            t if t.is_block_device() => 'b',
            _ => {
                return Err(Error::invalid(format!(
                    "--device {host}: not a device node"
                )));
            }
        };
        let under_dev = inside.strip_prefix("/dev/").filter(|rest| {
            !rest.is_empty()
                && rest
                    .split('/')
                    .all(|p| !p.is_empty() && p != "." && p != "..")
        });
        if under_dev.is_none() {
            return Err(Error::invalid(format!(
                "--device {text}: the container's path must be a plain path under /dev (give it as HOST:/dev/NAME)"
            )));
        }
        let rdev = meta.rdev();
        Ok(Passed {
            host: host.to_string(),
            inside: inside.to_string(),
            kind,
            major: libc::major(rdev),
            minor: libc::minor(rdev),
            mode: meta.mode() & 0o777,
        })
    }

    pub fn rule(&self) -> Device {
        Device {
            kind: self.kind,
            major: self.major,
            minor: Some(self.minor),
        }
    }
}

impl Device {
    /// As cgroup v1's devices.allow takes it: `c 1:3 rwm`.
    pub fn v1_line(&self) -> String {
        let minor = self.minor.map_or("*".to_string(), |m| m.to_string());
        format!("{} {}:{minor} rwm", self.kind, self.major)
    }
}

/// Take every device away from the container's cgroup but `allowed`: on
/// v1 in its devices tree, on v2 with a device program attached to `dir`,
/// the v2 directory's descriptor.
pub fn restrict(
    sys: &mut Sys,
    placement: &Placement,
    dir: Option<i32>,
    allowed: &[Device],
) -> Result<()> {
    match (placement.version, dir) {
        (Version::V2, Some(cgroup)) => {
            sys.note("cgroup v2: a BPF program attached to the cgroup decides each device open and mknod");
            let prog = sys.call(Call::BpfLoadDeviceProgram {
                instructions: program(allowed),
            })? as i32;
            let attached = sys.call(Call::BpfAttachDeviceProgram { cgroup, prog });
            sys.call(Call::Close { fd: prog })?;
            attached.map(drop)
        }
        (Version::V2, None) => Ok(()),
        (Version::V1, _) => {
            let Some(dir) = placement
                .dirs
                .iter()
                .find(|d| d.controllers.iter().any(|c| c == "devices"))
            else {
                sys.note("this host has no devices cgroup: device access is limited only by the missing CAP_MKNOD");
                return Ok(());
            };
            let path = super::control::text(&dir.path)?;
            sys.call(Call::WriteFile {
                path: format!("{path}/devices.deny"),
                value: "a".into(),
            })?;
            for device in allowed {
                sys.call(Call::WriteFile {
                    path: format!("{path}/devices.allow"),
                    value: device.v1_line(),
                })?;
            }
            Ok(())
        }
    }
}

/// One eBPF instruction (linux/bpf.h's `struct bpf_insn`), packed as it
/// lies in memory: code, the two registers, offset, constant.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    u64::from(code)
        | u64::from(dst | src << 4) << 8
        | u64::from(off as u16) << 16
        | u64::from(imm as u32) << 32
}

const LDX_MEM_W: u8 = 0x61;
const ALU64_AND_K: u8 = 0x57;
const JNE_K: u8 = 0x55;
const MOV64_K: u8 = 0xb7;
const EXIT: u8 = 0x95;

/// `struct bpf_cgroup_dev_ctx`: access and type (the low 16 bits: 1 block,
/// 2 character), major, minor. The program answers 1 (allow) for a device
/// on the list, 0 (deny) for any other.
pub fn program(allowed: &[Device]) -> Vec<u64> {
    let mut out = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU64_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 4, 0),
        insn(LDX_MEM_W, 4, 1, 8, 0),
    ];
    for device in allowed {
        let kind = if device.kind == 'b' { 1 } else { 2 };
        let mut checks = vec![(2, kind), (3, device.major as i32)];
        if let Some(minor) = device.minor {
            checks.push((4, minor as i32));
        }
        let n = checks.len();
        for (i, (reg, value)) in checks.into_iter().enumerate() {
            // Not this device: past the checks left and the allow.
            out.push(insn(JNE_K, reg, 0, (n - 1 - i + 2) as i16, value));
        }
        out.push(insn(MOV64_K, 0, 0, 0, 1));
        out.push(insn(EXIT, 0, 0, 0, 0));
    }
    out.push(insn(MOV64_K, 0, 0, 0, 0));
    out.push(insn(EXIT, 0, 0, 0, 0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The program run the way the kernel would, on one access.
    fn verdict(program: &[u64], kind: u32, major: u32, minor: u32) -> i64 {
        let ctx = [kind | 6 << 16, major, minor];
        let mut regs = [0i64; 11];
        let mut pc = 0;
        loop {
            let i = program[pc];
            let (code, dst, src) = (i as u8, (i >> 8 & 0xf) as usize, (i >> 12 & 0xf) as usize);
            let (off, imm) = ((i >> 16) as u16 as i16, (i >> 32) as u32 as i32);
            pc += 1;
            match code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "only the context is read");
                    regs[dst] = i64::from(ctx[off as usize / 4]);
                }
                ALU64_AND_K => regs[dst] &= i64::from(imm),
                JNE_K if regs[dst] != i64::from(imm) => pc += off as usize,
                JNE_K => {}
                MOV64_K => regs[dst] = i64::from(imm),
                EXIT => return regs[0],
                other => panic!("instruction {other:#x}"),
            }
        }
    }

    #[test]
    fn only_the_listed_devices_are_allowed() {
        let program = program(DEFAULT);
        assert_eq!(verdict(&program, 2, 1, 3), 1, "null");
        assert_eq!(verdict(&program, 2, 136, 7), 1, "a pseudo terminal");
        assert_eq!(verdict(&program, 2, 10, 232), 0, "kvm");
        assert_eq!(verdict(&program, 2, 10, 229), 0, "fuse");
        assert_eq!(verdict(&program, 1, 8, 0), 0, "a disk");
        assert_eq!(
            verdict(&program, 1, 1, 3),
            0,
            "a block device numbered like null"
        );
        assert_eq!(verdict(&program, 2, 1, 4), 0, "port");
    }

    #[test]
    fn v1_lines_name_every_minor_with_a_star() {
        assert_eq!(DEFAULT[0].v1_line(), "c 1:3 rwm");
        assert_eq!(DEFAULT[8].v1_line(), "c 136:* rwm");
    }
}
