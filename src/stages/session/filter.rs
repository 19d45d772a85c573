//! The keyring filter: a small seccomp program, written out here rather
//! than built by a library, because it must cover every system call table
//! a program on this machine can use, not only the native one: on x86-64
//! also its x32 numbering and 32-bit (i386) programs, on arm64 also 32-bit
//! arm programs. Each table's keyring calls get EPERM; everything else,
//! and any other table, is allowed. (A filter that refused other tables
//! outright would kill every 32-bit program in a container.)

/// `struct seccomp_data`: the call's number, then the table's arch.
const NR: u32 = 0;
const ARCH: u32 = 4;

/// linux/bpf_common.h: load a word, jump if equal, return.
const LD_W_ABS: u64 = 0x20;
const JEQ_K: u64 = 0x15;
const RET_K: u64 = 0x06;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const DENY: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;

/// The names, in the order each table below lists their numbers.
pub const BLOCKED: [&str; 3] = ["add_key", "request_key", "keyctl"];

/// linux/audit.h's AUDIT_ARCH_*, and each table's add_key, request_key
/// and keyctl.
#[cfg(target_arch = "x86_64")]
const TABLES: &[(u32, &[u32])] = &[
    (
        0xC000_003E,
        &[
            248,
            249,
            250,
            // x32 programs use the same table, with bit 30 set.
            0x4000_0000 | 248,
            0x4000_0000 | 249,
            0x4000_0000 | 250,
        ],
    ),
    (0x4000_0003, &[286, 287, 288]),
];

#[cfg(target_arch = "aarch64")]
const TABLES: &[(u32, &[u32])] = &[
    (0xC000_00B7, &[217, 218, 219]),
    (0x4000_0028, &[309, 310, 311]),
];

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("the keyring filter knows the system call tables of x86_64 and aarch64 only");

/// One instruction, packed as the kernel's `struct sock_filter`: code,
/// jump-if-true, jump-if-false, then the constant.
fn insn(code: u64, jt: usize, jf: usize, k: u32) -> u64 {
    code | (jt as u64) << 16 | (jf as u64) << 24 | u64::from(k) << 32
}

/// For each table: is it this one? then, is the call one of its keyring
/// calls? Jumps count the instructions skipped.
pub fn program() -> Vec<u64> {
    let mut out = Vec::new();
    for (arch, numbers) in TABLES {
        let k = numbers.len();
        out.push(insn(LD_W_ABS, 0, 0, ARCH));
        // Not this table: past its load, compares and two returns.
        out.push(insn(JEQ_K, 0, k + 3, *arch));
        out.push(insn(LD_W_ABS, 0, 0, NR));
        for (i, nr) in numbers.iter().enumerate() {
            // Equal: past the compares left and the allow, to the deny.
            out.push(insn(JEQ_K, k - i, 0, *nr));
        }
        out.push(insn(RET_K, 0, 0, ALLOW));
        out.push(insn(RET_K, 0, 0, DENY));
    }
    out.push(insn(RET_K, 0, 0, ALLOW));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the kernel would answer: the program run on one call.
    fn verdict(program: &[u64], arch: u32, nr: u32) -> u32 {
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = program[pc];
            let (code, jt, jf, k) = (
                i & 0xffff,
                (i >> 16) & 0xff,
                (i >> 24) & 0xff,
                (i >> 32) as u32,
            );
            pc += 1;
            match code {
                LD_W_ABS => acc = if k == ARCH { arch } else { nr },
                JEQ_K => pc += if acc == k { jt } else { jf } as usize,
                RET_K => return k,
                other => panic!("unknown instruction {other:#x}"),
            }
        }
    }

    #[test]
    fn every_table_refuses_its_keyring_calls_and_nothing_else() {
        let program = program();
        for (arch, numbers) in TABLES {
            for nr in *numbers {
                assert_eq!(verdict(&program, *arch, *nr), DENY, "{arch:#x} {nr}");
            }
            for nr in [0, 1, 59, 231, 247, 251, 285, 289] {
                assert_eq!(verdict(&program, *arch, nr), ALLOW, "{arch:#x} {nr}");
            }
        }
        assert_eq!(verdict(&program, 0x1234, 250), ALLOW, "another table");
    }

    #[test]
    fn the_native_table_is_covered() {
        let native = [libc::SYS_add_key, libc::SYS_request_key, libc::SYS_keyctl];
        let numbers: Vec<i64> = TABLES[0].1.iter().map(|n| i64::from(*n)).collect();
        assert_eq!(&numbers[..3], &native);
    }
}
