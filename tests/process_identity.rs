//! How diyc knows a recorded process is still the one it started: its pid
//! and start time, read from /proc/PID/stat. Nothing here needs root.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use diyc::observe;
use diyc::state::container::ProcessId;
use nix::sys::signal::Signal;

/// A container's process may name itself with any bytes (prctl
/// PR_SET_NAME, or /proc/self/comm). Read as UTF-8 or nothing, such a
/// name made its stat unreadable, and so a running init looked gone: to
/// `diyc stop` and `kill`, to an engine asking the OCI state, to the sweep
/// that takes back a dead owner's address.
#[test]
fn a_process_that_names_itself_in_bytes_that_are_not_utf8_is_still_alive() {
    let mut shell = Command::new("sh")
        .args([
            "-c",
            r"printf '\377\376)(' > /proc/$$/comm && echo renamed && read _",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh");
    let mut line = String::new();
    BufReader::new(shell.stdout.take().expect("its stdout"))
        .read_line(&mut line)
        .expect("a line from sh");
    assert_eq!(line, "renamed\n");
    let pid = shell.id() as i32;
    let comm = std::fs::read(format!("/proc/{pid}/comm")).expect("its comm");
    assert!(
        std::str::from_utf8(&comm).is_err(),
        "the name took: {comm:?}"
    );

    let id = ProcessId::of(pid);
    let alive = id.is_some_and(|id| id.alive());
    // Its status file prints the name raw too: what supervision reads of
    // it (the pid in each namespace, the signals it catches) must come
    // through.
    let nspid = observe::nspid(pid);
    let catches_usr1 = observe::handles_signal(pid, Signal::SIGUSR1);

    shell
        .stdin
        .take()
        .expect("its stdin")
        .write_all(b"\n")
        .expect("letting sh end");
    assert!(shell.wait().expect("sh's end").success());
    assert!(alive, "{pid} was read as gone: {id:?}");
    assert_eq!(nspid, Some(vec![pid]), "its pid in each namespace");
    assert!(
        !catches_usr1,
        "a shell that catches nothing read as catching SIGUSR1"
    );
}
