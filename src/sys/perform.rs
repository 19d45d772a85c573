//! Making each call: one raw `syscall(2)` per call, not a libc wrapper,
//! so the name recorded is the name `strace -f` shows (glibc turns `mknod`
//! into `mknodat`, `fork` into `clone`, and so on). This is the only place
//! diyc makes these system calls, and the only `syscall(2)` in it.

use std::ffi::CString;

use nix::errno::Errno;

use super::args::{Syscall, Value};
use super::call::Call;

/// The memory an argument points at, kept alive for the call.
enum Held {
    None,
    Str(CString),
    Bytes(Vec<u8>),
    List {
        _owned: Vec<CString>,
        ptrs: Vec<*const libc::c_char>,
    },
    Words64(Vec<u64>),
    Words32(Vec<u32>),
    /// The instructions, and the `sock_fprog` that points at them.
    Program {
        _instructions: Vec<u64>,
        fprog: Box<[u64; 2]>,
    },
    /// The instructions, the licence, and the `bpf_attr` pointing at both.
    DeviceProgram {
        _instructions: Vec<u64>,
        _license: CString,
        attr: Box<[u64; 8]>,
    },
}

/// linux/bpf.h: BPF_PROG_TYPE_CGROUP_DEVICE.
const CGROUP_DEVICE: u64 = 15;

fn cstr(s: &str) -> Result<CString, Errno> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

impl Held {
    fn of(value: &Value) -> Result<Option<Held>, Errno> {
        Ok(Some(match value {
            Value::Nothing => return Ok(None),
            Value::Int(_) | Value::OptStr(None) => Held::None,
            Value::Str(s) | Value::OptStr(Some(s)) => Held::Str(cstr(s)?),
            Value::Bytes(b) => Held::Bytes(b.clone()),
            Value::List(items) => {
                let owned = items
                    .iter()
                    .map(|s| cstr(s))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut ptrs: Vec<_> = owned.iter().map(|c| c.as_ptr()).collect();
                ptrs.push(std::ptr::null());
                Held::List {
                    _owned: owned,
                    ptrs,
                }
            }
            Value::Words64(w) => Held::Words64(w.clone()),
            Value::Words32(w) => Held::Words32(w.clone()),
            Value::Program(p) => {
                let instructions = p.clone();
                let len = u64::try_from(instructions.len()).map_err(|_| Errno::EINVAL)?;
                // The heap buffer stays put when the Vec is moved.
                let fprog = Box::new([len, instructions.as_ptr() as u64]);
                Held::Program {
                    _instructions: instructions,
                    fprog,
                }
            }
            Value::DeviceProgram(p) => {
                let instructions = p.clone();
                let count = u64::try_from(instructions.len()).map_err(|_| Errno::EINVAL)?;
                let license = cstr("MIT")?;
                // prog_type and insn_cnt, insns, license; the rest zero
                // (no log, no name, no flags).
                let attr = Box::new([
                    CGROUP_DEVICE | count << 32,
                    instructions.as_ptr() as u64,
                    license.as_ptr() as u64,
                    0,
                    0,
                    0,
                    0,
                    0,
                ]);
                Held::DeviceProgram {
                    _instructions: instructions,
                    _license: license,
                    attr,
                }
            }
        }))
    }

    /// The register value: the integer itself, or where the memory is.
    fn register(&self, value: &Value) -> libc::c_long {
        match (self, value) {
            (Held::None, Value::Int(v)) => *v as libc::c_long,
            (Held::None, _) => 0,
            (Held::Str(c), _) => c.as_ptr() as libc::c_long,
            (Held::Bytes(b), _) => b.as_ptr() as libc::c_long,
            (Held::List { ptrs, .. }, _) => ptrs.as_ptr() as libc::c_long,
            (Held::Words64(w), _) => w.as_ptr() as libc::c_long,
            (Held::Words32(w), _) => w.as_ptr() as libc::c_long,
            (Held::Program { fprog, .. }, _) => fprog.as_ptr() as libc::c_long,
            (Held::DeviceProgram { attr, .. }, _) => attr.as_ptr() as libc::c_long,
        }
    }
}

impl Syscall {
    fn make(&self) -> Result<i64, Errno> {
        let mut held = Vec::new();
        for arg in &self.args {
            if let Some(h) = Held::of(&arg.value)? {
                held.push((h, &arg.value));
            }
        }
        let mut regs = [0 as libc::c_long; 6];
        for (reg, (h, value)) in regs.iter_mut().zip(&held) {
            *reg = h.register(value);
        }
        // SAFETY: each register is an integer or points at memory `held`
        // owns until the call returns: NUL-terminated strings, arrays that
        // end in NULL, and structures laid out as the kernel's (clone_args,
        // the capability header and data, rlimit64, sock_fprog and the
        // instructions it points at, bpf_attr and what it points at), each
        // the size the call reads. The kernel ignores the registers a call does not take.
        // clone and clone3 with no new stack fork this process: the callers
        // do that only while single-threaded, and the child ends in exec or
        // exit_now.
        let ret = unsafe {
            libc::syscall(
                self.number,
                regs[0],
                regs[1],
                regs[2],
                regs[3],
                regs[4],
                regs[5],
            )
        };
        Errno::result(ret)
    }
}

impl Call {
    /// Make the call. Netlink requests and helper programs are made by
    /// `Sys`, which holds the connection and forks the helper.
    pub(super) fn perform(&self) -> Result<i64, Errno> {
        match (self, self.syscall()) {
            (_, Some(syscall)) => syscall.make(),
            (Call::WriteFile { path, value }, None) => write_file(path, value),
            (_, None) => Err(Errno::ENOTSUP),
        }
    }
}

/// A single write, since cgroup files take each value in one write(2).
fn write_file(path: &str, value: &str) -> Result<i64, Errno> {
    use std::io::Write;
    let errno = |e: std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(errno)?;
    let n = file.write(value.as_bytes()).map_err(errno)?;
    Ok(n as i64)
}
