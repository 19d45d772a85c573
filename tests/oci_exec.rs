//! `exec --detach`, as podman's conmon calls it: the process joins the
//! container, its pid goes in the pid file, and it is the engine's to
//! reap, however soon it ends.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
#[path = "oci/kit.rs"]
mod kit;

use std::path::Path;

use kit::Bundle;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use serde_json::json;

use common::held::Held;
use common::text;

fn process_json(b: &Bundle, user: u32, script: &str) -> std::path::PathBuf {
    let process = b.lab.root().join("process.json");
    std::fs::write(
        &process,
        json!({"user": {"uid": user, "gid": user}, "args": ["sh", "-c", script],
               "env": ["PATH=/bin"], "cwd": "/"})
        .to_string(),
    )
    .expect("process.json");
    process
}

fn exec_detach(b: &Bundle, process: &Path, pid_file: &Path) -> std::process::Command {
    let mut cmd = b.cmd(&["exec", "--detach", "--process"]);
    cmd.arg(process).arg("--pid-file").arg(pid_file).arg("x");
    cmd
}

fn pid_in(file: &Path) -> i32 {
    std::fs::read_to_string(file)
        .expect("pid file")
        .parse()
        .expect("pid")
}

#[test]
fn exec_detach_joins_the_container_and_names_its_process_in_the_pid_file() {
    require_root!();
    let b = Bundle::new("x", &["sleep", "1000"]);
    let pid = b.create("x", &b.lab.root().join("out"));
    b.ok(&["start", "x"]);
    let script = "id -u > /dev/shm/who; hostname >> /dev/shm/who; touch /tmp-exec-marker";
    let process = process_json(&b, 65534, script);
    let pid_file = b.lab.root().join("exec.pid");
    let out = exec_detach(&b, &process, &pid_file).output().expect("exec");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let exec_pid = pid_in(&pid_file);
    assert_eq!(
        b.reap(exec_pid),
        WaitStatus::Exited(nix::unistd::Pid::from_raw(exec_pid), 1),
        "touch / as nobody fails"
    );
    let who =
        std::fs::read_to_string(format!("/proc/{pid}/root/dev/shm/who")).expect("what exec wrote");
    assert_eq!(who, "65534\noci-test\n");
    b.ok(&["delete", "--force", "x"]);
    b.reap(pid);
    b.assert_gone("x");
}

/// conmon learns an exec's exit status by reaping it once diyc has
/// gone. A process that ended before diyc first looked (held there, so
/// it surely has) must still be there to reap: podman once showed 255
/// for `exec ... exit 3` because diyc had reaped it itself.
#[test]
fn an_exec_that_ends_at_once_is_left_for_the_engine_to_reap() {
    require_root!();
    let b = Bundle::new("x", &["sleep", "1000"]);
    let pid = b.create("x", &b.lab.root().join("out"));
    b.ok(&["start", "x"]);
    let process = process_json(&b, 0, "exit 3");
    let pid_file = b.lab.root().join("exec.pid");
    let held = Held::at(exec_detach(&b, &process, &pid_file), "before-supervise");
    let held = held.child_ended();
    let child = held.child;
    let done = held.go();
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let exec_pid = pid_in(&pid_file);
    assert_eq!(exec_pid, child);
    assert_eq!(
        waitpid(Pid::from_raw(exec_pid), Some(WaitPidFlag::WNOHANG)),
        Ok(WaitStatus::Exited(Pid::from_raw(exec_pid), 3)),
        "the engine, not diyc, reaps the exec and sees its status"
    );
    b.ok(&["delete", "--force", "x"]);
    b.reap(pid);
    b.assert_gone("x");
}
