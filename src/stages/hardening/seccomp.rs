//! The seccomp filter: which system calls the container may make at all.
//! Capabilities decide what a call may do; the filter decides whether it
//! reaches the kernel. A profile (profile.rs) is compiled by libseccomp for
//! every system call table a program here may use (on x86-64 also 32-bit
//! and x32 programs), and loaded by the hardening stage through diyc's
//! seam, as the one `seccomp()` call `--explain` shows.

use std::collections::BTreeSet;
use std::io::Read;

use libseccomp::{ScmpArch, ScmpArgCompare, ScmpFilterContext, ScmpSyscall};

use super::profile::{Action, Choice, Profile, kernel_version};
use crate::error::{Error, Result};
use crate::state::Store;

/// A compiled filter, ready for the seam.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    /// Its BPF instructions, each packed as the kernel's `sock_filter`.
    pub program: Vec<u64>,
    /// One line for `--explain`: what it allows and refuses.
    pub summary: String,
}

fn scmp_err(e: libseccomp::error::SeccompError) -> Error {
    Error::invalid(format!("compiling the seccomp filter: {e}"))
}

/// Compile `choice` for a container holding capabilities `caps`; None
/// when unconfined. libseccomp takes several milliseconds over a profile
/// of this size, so the result is kept in `store`'s cache, by everything
/// it depends on: the profile's text, the capabilities, this kernel and
/// machine, and this diyc.
pub fn compile(choice: &Choice, caps: u64, store: Option<&Store>) -> Result<Option<Filter>> {
    if *choice == Choice::Unconfined {
        return Ok(None);
    }
    let make = || {
        let profile = choice
            .profile()?
            .ok_or_else(|| Error::invalid("an unconfined container has no filter to compile"))?;
        compile_profile(choice, &profile, caps)
    };
    match store {
        Some(store) => store.cached("seccomp", &cache_key(choice, caps), make),
        None => make(),
    }
    .map(Some)
}

/// Bumped whenever what compile_profile makes from a profile changes (its
/// prologue, how rules are added), so no filter of the old way is reused.
const FILTER_FORMAT: u32 = 1;

fn cache_key(choice: &Choice, caps: u64) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let text = match choice {
        Choice::Profile { json, .. } => json.as_str(),
        _ => super::profile::DEFAULT,
    };
    let release = nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned());
    // libseccomp is linked dynamically: an upgrade may compile otherwise.
    let library = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    (
        text,
        choice.name(),
        caps,
        std::env::consts::ARCH,
        release.unwrap_or_default(),
        library,
        env!("CARGO_PKG_VERSION"),
        FILTER_FORMAT,
    )
        .hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

fn compile_profile(choice: &Choice, profile: &Profile, caps: u64) -> Result<Filter> {
    let default = profile.default_action.scmp(profile.default_errno_ret);
    let mut ctx = ScmpFilterContext::new(default).map_err(scmp_err)?;
    // A binary tree of the call numbers rather than a list: the kernel
    // runs the filter on every call, and once per call number and table
    // when it is loaded (to know which calls it may let through without
    // running it again).
    ctx.set_ctl_optimize(2).map_err(scmp_err)?;
    for arch in arches(profile) {
        ctx.add_arch(arch).map_err(scmp_err)?;
    }
    let kernel = kernel_version();
    let mut allowed = BTreeSet::new();
    // The newest call the profile names, whether or not its rule applies.
    let highest = profile
        .syscalls
        .iter()
        .flat_map(|r| r.names.iter().chain(r.name.iter()))
        .filter_map(|n| ScmpSyscall::from_name(n).ok())
        .map(|c| c.as_raw_syscall())
        .max()
        .unwrap_or(0);
    for rule in &profile.syscalls {
        if !rule.includes.holds(caps, kernel) || rule.excludes.any(caps) {
            continue;
        }
        let action = rule.action.scmp(rule.errno_ret);
        let compares: Vec<ScmpArgCompare> = rule.compares();
        for name in rule.names.iter().chain(rule.name.iter()) {
            // A name this libseccomp does not know is no call here.
            let Ok(call) = ScmpSyscall::from_name(name) else {
                continue;
            };
            // libseccomp refuses a rule that only repeats the default.
            if action == default {
                continue;
            }
            let added = if compares.is_empty() {
                ctx.add_rule(action, call)
            } else {
                ctx.add_rule_conditional(action, call, &compares)
            };
            added.map_err(|e| Error::invalid(format!("seccomp rule for {name}: {e}")))?;
            if rule.action == Action::Allow && compares.is_empty() {
                allowed.insert(name.clone());
            }
        }
    }
    // A profile that allows by default refuses only what it names:
    // nothing is newer than it.
    let refuses = !matches!(profile.default_action, Action::Allow | Action::Log);
    let mut program = Vec::new();
    if refuses {
        program = newer_get_enosys(u32::try_from(highest).unwrap_or(0));
    }
    program.extend(export(&ctx)?);
    let summary = if refuses {
        format!(
            "seccomp: {}, {} system calls allowed, the rest refused; calls newer than it get ENOSYS",
            choice.name(),
            allowed.len()
        )
    } else {
        format!(
            "seccomp: {}, every system call allowed but the ones it names",
            choice.name()
        )
    };
    Ok(Filter { program, summary })
}

/// The native table, and the tables of programs this machine also runs
/// (32-bit x86 and x32 on x86-64), from `archMap` or `architectures`.
fn arches(profile: &Profile) -> Vec<ScmpArch> {
    let native = ScmpArch::native();
    let named = |s: &str| s.parse::<ScmpArch>().ok();
    let mut out: Vec<ScmpArch> = profile
        .arch_map
        .iter()
        .filter(|m| named(&m.architecture) == Some(native))
        .flat_map(|m| m.sub_architectures.iter().filter_map(|s| named(s)))
        .collect();
    out.extend(profile.architectures.iter().filter_map(|s| named(s)));
    out.retain(|a| *a != native);
    out.dedup();
    out
}

/// linux/audit.h's AUDIT_ARCH_* of the native table.
#[cfg(target_arch = "x86_64")]
const NATIVE_AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const NATIVE_AUDIT_ARCH: u32 = 0xC000_00B7;

/// x32 programs share x86-64's table with this bit set in the number.
const X32_BIT: u32 = 0x4000_0000;

/// One instruction, packed as the kernel's `struct sock_filter`: code,
/// jump-if-true, jump-if-false, then the constant.
fn insn(code: u16, jt: u8, jf: u8, k: u32) -> u64 {
    u64::from(code) | u64::from(jt) << 16 | u64::from(jf) << 24 | u64::from(k) << 32
}

/// linux/bpf_common.h.
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGT_K: u16 = 0x25;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;

/// Six instructions in front of libseccomp's program: on the native
/// table, a call numbered above `highest` (the newest the profile names)
/// gets ENOSYS, so a program falls back as it would on an older kernel
/// instead of failing with EPERM. libseccomp has no rule for "every call
/// it does not know"; runc patches its filters the same way.
fn newer_get_enosys(highest: u32) -> Vec<u64> {
    let enosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    vec![
        // seccomp_data: the call's number at 0, its table at 4.
        insn(LD_W_ABS, 0, 0, 4),
        // Another table: on to libseccomp's program, past the rest.
        insn(JEQ_K, 0, 4, NATIVE_AUDIT_ARCH),
        insn(LD_W_ABS, 0, 0, 0),
        // An x32 number: libseccomp's program knows those.
        insn(JGE_K, 2, 0, X32_BIT),
        insn(JGT_K, 0, 1, highest),
        insn(RET_K, 0, 0, enosys),
    ]
}

/// libseccomp writes the program to a descriptor; a pipe brings it back.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u64>> {
    let (read, write) = nix::unistd::pipe().map_err(|e| Error::invalid(format!("pipe: {e}")))?;
    ctx.export_bpf(&write).map_err(scmp_err)?;
    drop(write);
    let mut bytes = Vec::new();
    std::fs::File::from(read)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::invalid(format!("reading the seccomp filter: {e}")))?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect())
}

// The numbers below are x86-64's and i386's.
#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    const X86_64: u32 = 0xC000_003E;
    const I386: u32 = 0x4000_0003;

    /// What the kernel would answer: `program` run on one call, with
    /// classic BPF's instructions as libseccomp emits them.
    fn verdict(program: &[u64], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let word = |at: u32| -> u32 {
            match at {
                0 => nr,
                4 => arch,
                16.. => {
                    let arg = args[((at - 16) / 8) as usize];
                    if (at - 16) % 8 == 0 {
                        arg as u32
                    } else {
                        (arg >> 32) as u32
                    }
                }
                _ => 0,
            }
        };
        let (mut pc, mut acc, mut x, mut mem) = (0usize, 0u32, 0u32, [0u32; 16]);
        loop {
            let i = program[pc];
            let (code, jt, jf, k) = (
                (i & 0xffff) as u16,
                ((i >> 16) & 0xff) as usize,
                ((i >> 24) & 0xff) as usize,
                (i >> 32) as u32,
            );
            pc += 1;
            let jump = |cond: bool| if cond { jt } else { jf };
            match code {
                0x20 => acc = word(k),
                0x00 => acc = k,
                0x01 => x = k,
                0x60 => acc = mem[k as usize],
                0x61 => x = mem[k as usize],
                0x02 => mem[k as usize] = acc,
                0x03 => mem[k as usize] = x,
                0x54 => acc &= k,
                0x07 => x = acc,
                0x87 => acc = x,
                0x05 => pc += k as usize,
                0x15 => pc += jump(acc == k),
                0x25 => pc += jump(acc > k),
                0x35 => pc += jump(acc >= k),
                0x45 => pc += jump(acc & k != 0),
                0x1d => pc += jump(acc == x),
                0x2d => pc += jump(acc > x),
                0x3d => pc += jump(acc >= x),
                0x06 => return k,
                0x16 => return acc,
                other => panic!("instruction {other:#x} at {}", pc - 1),
            }
        }
    }

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

    fn default_filter(caps: u64) -> Vec<u64> {
        match compile(&Choice::Default, caps, None) {
            Ok(Some(filter)) => filter.program,
            other => panic!("the default profile does not compile: {other:?}"),
        }
    }

    #[test]
    fn the_default_profile_refuses_keyrings_on_every_x86_table() {
        let program = default_filter(0);
        let none = [0; 6];
        // read, write, execve on x86-64; read on i386.
        for nr in [0, 1, 59] {
            assert_eq!(verdict(&program, X86_64, nr, none), ALLOW, "x86-64 {nr}");
        }
        assert_eq!(verdict(&program, I386, 3, none), ALLOW, "i386 read");
        // add_key, request_key, keyctl: x86-64, x32, i386.
        for nr in [248, 249, 250, 0x4000_0000 | 250] {
            assert_eq!(verdict(&program, X86_64, nr, none), EPERM, "x86-64 {nr:#x}");
        }
        for nr in [286, 287, 288] {
            assert_eq!(verdict(&program, I386, nr, none), EPERM, "i386 {nr}");
        }
        // io_uring_setup, and a number past every call the profile names.
        assert_eq!(verdict(&program, X86_64, 425, none), EPERM);
        assert_eq!(verdict(&program, X86_64, 459, none), ENOSYS);
    }

    #[test]
    fn clone_may_make_processes_but_namespaces_only_with_sys_admin() {
        let user_ns = [libc::CLONE_NEWUSER as u64, 0, 0, 0, 0, 0];
        let thread = [(libc::CLONE_VM | libc::CLONE_THREAD) as u64, 0, 0, 0, 0, 0];
        let plain = default_filter(0);
        assert_eq!(verdict(&plain, X86_64, 56, thread), ALLOW);
        assert_eq!(verdict(&plain, X86_64, 56, user_ns), EPERM);
        assert_eq!(verdict(&plain, X86_64, 435, thread), ENOSYS, "clone3");
        // mount(2) is 165.
        assert_eq!(verdict(&plain, X86_64, 165, [0; 6]), EPERM);
        let admin = default_filter(1 << 21);
        assert_eq!(verdict(&admin, X86_64, 56, user_ns), ALLOW);
        assert_eq!(verdict(&admin, X86_64, 165, [0; 6]), ALLOW);
    }
}
