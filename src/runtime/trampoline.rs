//! The last step of every launch: the command is executed through the
//! trampoline (trampoline.c), a program of a few hundred bytes that diyc
//! writes into a sealed memory file. Until then the container's first
//! process runs diyc's own binary; a command that led back to it through
//! /proc/self/exe (a script whose interpreter is that link) would start
//! the host's diyc inside the container, to be read and, once diyc is
//! gone, overwritten: the class of CVE-2019-5736. Through the trampoline,
//! /proc/self/exe is the sealed copy instead, which nobody can write.
//!
//! runc answers the same attack by copying its whole binary into a
//! sealed memfd (several megabytes, a millisecond or more) or by
//! re-executing itself from a read-only mount; the trampoline costs one
//! small write and one extra exec.

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::sys::{Call, Sys};

/// The program, built by build.rs.
const PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/trampoline"));

/// The name it checks its argv[0] against, and the memfd's name.
const NAME: &str = "diyc-trampoline";

/// Execute `path` with `argv` and `env` through the trampoline. Returns
/// only if that could not be done.
pub(super) fn exec(sys: &mut Sys, path: &str, argv: &[String], env: &[String]) -> Error {
    let fd = match load(sys) {
        Ok(fd) => fd,
        Err(e) => return e,
    };
    let mut args = vec![NAME.to_string(), path.to_string()];
    args.extend_from_slice(argv);
    sys.exec(Call::Execveat {
        fd,
        argv: args,
        env: env.to_vec(),
    })
}

/// The trampoline in a sealed memfd; its descriptor closes on exec.
fn load(sys: &mut Sys) -> Result<i32> {
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let made = match sys.call(Call::MemfdCreate {
        name: NAME.into(),
        // Asked for by name since Linux 6.3, where a host may forbid it.
        flags: flags | libc::MFD_EXEC,
    }) {
        // Before Linux 6.3 every memfd may be executed, and MFD_EXEC is
        // unknown.
        Err(e) if e.errno() == Some(Errno::EINVAL) => sys.call(Call::MemfdCreate {
            name: NAME.into(),
            flags,
        }),
        Err(e) if e.errno() == Some(Errno::EACCES) => {
            return Err(Error::invalid(
                "this host forbids executable memory files (vm.memfd_noexec = 2), \
                 which diyc needs to keep its own binary out of the container",
            ));
        }
        other => other,
    };
    let fd = made? as i32;
    sys.call(Call::WriteBytes {
        fd,
        data: PROGRAM.to_vec(),
    })?;
    sys.call(Call::SealForGood { fd })?;
    Ok(fd)
}
