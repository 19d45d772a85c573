//! Every call diyc makes through the seam, as plain data: performed by
//! perform.rs, printed by render.rs the way strace prints it, sent as JSON
//! by `--explain=json`, and carried over the setup socket from the
//! container's first process.

use serde::{Deserialize, Serialize};

use super::netlink::Request;

/// A system call, with everything needed both to make it and to print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "syscall", rename_all = "snake_case")]
pub enum Call {
    /// Fork-like `clone3`: no new stack, the child returns from the call.
    Clone3 {
        flags: u64,
        exit_signal: u64,
        cgroup_fd: Option<i32>,
    },
    /// Fork-like `clone`, for kernels older than 5.3 without `clone3`.
    Clone {
        flags: u64,
        exit_signal: u64,
    },
    Unshare {
        flags: u64,
    },
    Setns {
        fd: i32,
        nstype: u64,
    },
    Mount {
        source: Option<String>,
        target: String,
        fstype: Option<String>,
        flags: u64,
        data: Option<String>,
    },
    Umount2 {
        target: String,
        flags: i32,
    },
    PivotRoot {
        new_root: String,
        put_old: String,
    },
    /// Only in the rootfs lesson, to show why diyc does not use it.
    Chroot {
        path: String,
    },
    Sethostname {
        name: String,
    },
    Setdomainname {
        name: String,
    },
    Mknodat {
        path: String,
        mode: u32,
        major: u32,
        minor: u32,
    },
    Mkdirat {
        path: String,
        mode: u32,
    },
    Symlinkat {
        target: String,
        linkpath: String,
    },
    Chdir {
        path: String,
    },
    /// Open `path` from directory `dir` (AT_FDCWD for the working one)
    /// with openat2's `resolve` rules on how the walk may go.
    Openat2 {
        dir: i32,
        path: String,
        flags: i32,
        resolve: u64,
    },
    Fchdir {
        fd: i32,
    },
    /// `rmdir`, made as the unlinkat(2) every architecture has.
    Rmdir {
        path: String,
    },
    /// Remove a file (or a symlink, never what it points to).
    Unlink {
        path: String,
    },
    /// Set an extended attribute of `path` itself, never of what a link
    /// points to: overlayfs reads `trusted.overlay.opaque` from a layer.
    Lsetxattr {
        path: String,
        name: String,
        value: Vec<u8>,
    },
    /// Open (and with O_CREAT make) a file; the result is its descriptor.
    Openat {
        path: String,
        flags: i32,
        mode: u32,
    },
    /// Give unix socket `fd` a name in the file system: the socket file at
    /// `path` is made by this call (and removed with `Unlink`).
    Bind {
        fd: i32,
        path: String,
    },
    /// One write(2) of `data` to a descriptor `Openat` returned.
    Write {
        fd: i32,
        data: String,
    },
    Close {
        fd: i32,
    },
    /// One write(2) of `value` to an existing file: how cgroup limits and
    /// sysctls are set. Shown the way a student would type it,
    /// `echo VALUE > PATH`.
    WriteFile {
        path: String,
        value: String,
    },
    /// A netlink request to the kernel's routing subsystem, shown as the
    /// `ip` command that would make the same one.
    Netlink {
        request: Request,
    },
    /// A helper program run to completion (iptables, ldd); its outcome is
    /// the exit status. Made by `Sys::run_helper`.
    Command {
        argv: Vec<String>,
    },
    /// Drop one capability from the bounding set, for good.
    CapbsetDrop {
        cap: u32,
    },
    /// Clear the ambient capability set.
    AmbientClearAll,
    /// No exec may ever grant privileges again (setuid bits, file caps).
    NoNewPrivs,
    /// The supplementary groups, then the real, effective and saved group
    /// and user ids: `--user`.
    Setgroups {
        gids: Vec<u32>,
    },
    Setresgid {
        gid: u32,
    },
    Setresuid {
        uid: u32,
    },
    /// Set the effective, permitted and inheritable capability sets.
    Capset {
        effective: u64,
        permitted: u64,
        inheritable: u64,
    },
    /// Limit the open files of this process (and what it executes).
    PrlimitNofile {
        soft: u64,
        hard: u64,
    },
    /// Set another resource limit (`resource`, an RLIMIT_* number): a
    /// bundle's process.rlimits.
    Prlimit {
        resource: u32,
        soft: u64,
        hard: u64,
    },
    /// A seccomp filter: `program` is its BPF instructions, each packed as
    /// the kernel's `sock_filter` (code, jt, jf, k) in one word.
    Seccomp {
        program: Vec<u64>,
    },
    /// Close every descriptor from `first` to `last`, or, with
    /// `cloexec`, only mark them close-on-exec.
    CloseRange {
        first: u32,
        last: u32,
        cloexec: bool,
    },
    /// Mark one descriptor close-on-exec: the way to do it on kernels
    /// before 5.11, which lack CLOSE_RANGE_CLOEXEC.
    FcntlCloexec {
        fd: i32,
    },
    /// Send a signal: how what is left in a container's cgroup is ended
    /// where the kernel has no cgroup.kill.
    Kill {
        pid: i32,
        signal: i32,
    },
    /// A descriptor that stays with process `pid` (never a recycled pid):
    /// what `exec` joins and `stop` signals.
    PidfdOpen {
        pid: i32,
    },
    /// Send a signal through a pidfd.
    PidfdSendSignal {
        fd: i32,
        signal: i32,
    },
    /// A new session, with this process as its leader: no process group or
    /// terminal of the caller's any more.
    Setsid,
    /// Join a new anonymous session keyring, so no key of the caller's
    /// session is reachable.
    JoinSessionKeyring,
    /// Unlock a pseudo-terminal's slave so it can be opened.
    PtyUnlock {
        fd: i32,
    },
    /// Open the slave of master `fd`; the result is its descriptor.
    PtyPeer {
        fd: i32,
    },
    /// Make terminal `fd` the controlling terminal of this session.
    ControllingTty {
        fd: i32,
    },
    /// Tell a terminal its window size.
    WindowSize {
        fd: i32,
        rows: u16,
        cols: u16,
    },
    /// Put descriptor `old` at number `new` (stdin, stdout, stderr).
    Dup3 {
        old: i32,
        new: i32,
    },
    Execve {
        path: String,
        argv: Vec<String>,
        env: Vec<String>,
    },
    /// Execute the program open on `fd` (`execveat(fd, "", ...,
    /// AT_EMPTY_PATH)`): how diyc runs a file that has no path, a memfd.
    Execveat {
        fd: i32,
        argv: Vec<String>,
        env: Vec<String>,
    },
    /// A file that lives in memory only; `flags` are MFD_*.
    MemfdCreate {
        name: String,
        flags: u32,
    },
    /// Write bytes that are not text (a program); shown as strace shows
    /// them, the first 32 and `...`.
    WriteBytes {
        fd: i32,
        data: Vec<u8>,
    },
    /// Seal a memfd for good: no more writes, no size change, no unsealing.
    SealForGood {
        fd: i32,
    },
    /// Load a cgroup device program (eBPF, each instruction packed in one
    /// word as `struct bpf_insn` lies in memory); returns its descriptor.
    BpfLoadDeviceProgram {
        instructions: Vec<u64>,
    },
    /// Attach device program `prog` to the cgroup open on `cgroup`.
    BpfAttachDeviceProgram {
        cgroup: i32,
        prog: i32,
    },
}

/// clone3's flag for starting the child inside a cgroup (Linux 5.7).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

impl Call {
    /// Shown as a shell command rather than a system call (it is several
    /// calls, or a request over a socket, or a program), so it is never
    /// mistaken for a line strace shows.
    pub fn is_shell_form(&self) -> bool {
        matches!(
            self,
            Call::WriteFile { .. } | Call::Netlink { .. } | Call::Command { .. }
        )
    }
}
