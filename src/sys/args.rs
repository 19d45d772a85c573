//! The pieces a call is described with: each argument as the kernel is
//! passed it and as strace prints it, and a system call as its name,
//! number and arguments.

use super::spell::quote;

/// What the kernel is passed for one argument.
pub(super) enum Value {
    /// Printed, not passed (strace's names for what clone's layout hides).
    Nothing,
    Int(i64),
    Str(String),
    OptStr(Option<String>),
    /// A buffer of bytes, NULs and all (what write(2) writes).
    Bytes(Vec<u8>),
    /// A NULL-terminated array of strings.
    List(Vec<String>),
    /// A structure, as the 64-bit words it is made of.
    Words64(Vec<u64>),
    /// A structure, as the 32-bit words it is made of.
    Words32(Vec<u32>),
    /// A BPF program (`struct sock_fprog`): its length and a pointer to
    /// its instructions, one word each.
    Program(Vec<u64>),
    /// bpf(2)'s `union bpf_attr` for BPF_PROG_LOAD of a cgroup device
    /// program: its type, length, and pointers to its instructions and
    /// licence.
    DeviceProgram(Vec<u64>),
}

pub(super) struct Arg {
    pub value: Value,
    /// How strace prints it; None for what is passed but never printed.
    pub text: Option<String>,
}

pub(super) fn arg(value: Value, text: impl Into<String>) -> Arg {
    Arg {
        value,
        text: Some(text.into()),
    }
}

pub(super) fn int(value: i64, text: impl Into<String>) -> Arg {
    arg(Value::Int(value), text)
}

pub(super) fn num(value: i64) -> Arg {
    int(value, value.to_string())
}

pub(super) fn path(p: &str) -> Arg {
    arg(Value::Str(p.to_string()), quote(p))
}

pub(super) fn at_fdcwd() -> Arg {
    int(libc::AT_FDCWD.into(), "AT_FDCWD")
}

pub(super) fn hidden(value: i64) -> Arg {
    Arg {
        value: Value::Int(value),
        text: None,
    }
}

/// One system call: its name as strace prints it, its number, its
/// arguments.
pub(super) struct Syscall {
    pub name: &'static str,
    pub number: libc::c_long,
    pub args: Vec<Arg>,
}

pub(super) fn sc(name: &'static str, number: libc::c_long, args: Vec<Arg>) -> Option<Syscall> {
    Some(Syscall { name, number, args })
}
