//! diyc as an OCI runtime, driven directly as an engine would: create
//! leaves the process waiting, start lets it run, state, kill, pause,
//! exec, the console socket, delete; and every field the table refuses,
//! refused by name with nothing left behind.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
#[path = "oci/kit.rs"]
mod kit;

use std::os::unix::net::UnixListener;

use kit::Bundle;
use nix::sys::wait::WaitStatus;
use serde_json::json;

use common::text;

#[test]
fn create_waits_at_the_gate_start_runs_the_command_and_delete_leaves_nothing() {
    require_root!();
    let b = Bundle::new("gate", &["sh", "-c", "echo hi from $(hostname)"]);
    let out = b.lab.root().join("out");
    let pid = b.create("gate", &out);
    assert_eq!(b.status("gate"), "created");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("comm");
    assert_eq!(
        comm.trim(),
        "diyc-init",
        "still diyc's, not yet the command"
    );
    assert_eq!(
        std::fs::read_to_string(&out).expect("out"),
        "",
        "nothing ran yet"
    );
    b.ok(&["start", "gate"]);
    assert_eq!(
        b.reap(pid),
        WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 0)
    );
    assert_eq!(
        std::fs::read_to_string(&out).expect("out"),
        "hi from oci-test\n"
    );
    assert_eq!(b.status("gate"), "stopped");
    let again = b.oci(&["start", "gate"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("cannot start a container that is stopped"));
    b.ok(&["delete", "gate"]);
    b.assert_gone("gate");
}

#[test]
fn state_is_runcs_json() {
    require_root!();
    let b = Bundle::new("st", &["true"]);
    let pid = b.create("st", &b.lab.root().join("out"));
    let state: serde_json::Value = serde_json::from_str(&b.ok(&["state", "st"])).expect("json");
    assert_eq!(state["id"], "st");
    assert_eq!(state["pid"], pid);
    assert_eq!(state["status"], "created");
    assert_eq!(
        state["bundle"],
        b.dir
            .canonicalize()
            .expect("bundle")
            .to_str()
            .expect("utf-8")
    );
    assert!(
        state["rootfs"]
            .as_str()
            .is_some_and(|r| r.ends_with("/bundle/rootfs"))
    );
    assert!(state["created"].as_str().is_some_and(|c| c.ends_with('Z')));
    assert_eq!(state["ociVersion"], "1.0.2");
    b.ok(&["delete", "--force", "st"]);
    b.reap(pid);
    b.assert_gone("st");
}

#[test]
fn kill_takes_names_and_numbers_and_all_reaches_every_process() {
    require_root!();
    let b = Bundle::new("k", &["sh", "-c", "sleep 1000 & sleep 1000"]);
    let pid = b.create("k", &b.lab.root().join("out"));
    b.ok(&["start", "k"]);
    let ps: Vec<i32> = serde_json::from_str(&b.ok(&["ps", "--format", "json", "k"])).expect("json");
    assert!(ps.contains(&pid), "{ps:?}");
    let bad = b.oci(&["kill", "k", "NOSUCH"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("unknown signal"),
        "{}",
        text(&bad.stderr)
    );
    // PID 1 of a namespace ignores TERM without a handler: still running.
    b.ok(&["kill", "k", "TERM"]);
    assert_eq!(b.status("k"), "running");
    b.ok(&["kill", "--all", "k", "9"]);
    assert!(matches!(
        b.reap(pid),
        WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGKILL, _)
    ));
    common::wait_until("every process of the container is gone", || {
        serde_json::from_str::<Vec<i32>>(&b.ok(&["ps", "--format", "json", "k"]))
            .is_ok_and(|p| p.is_empty())
    });
    let dead = b.oci(&["kill", "k", "KILL"]);
    assert!(text(&dead.stderr).contains("is not running"));
    b.ok(&["delete", "k"]);
    b.assert_gone("k");
}

#[test]
fn pause_freezes_and_resume_thaws() {
    require_root!();
    let b = Bundle::new("p", &["sleep", "1000"]);
    let pid = b.create("p", &b.lab.root().join("out"));
    b.ok(&["start", "p"]);
    b.ok(&["pause", "p"]);
    assert_eq!(b.status("p"), "paused");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    assert!(
        !stat.contains(") S "),
        "a frozen task does not sleep interruptibly: {stat}"
    );
    let refused = b.oci(&["delete", "p"]);
    assert!(text(&refused.stderr).contains("that is not stopped: paused"));
    b.ok(&["resume", "p"]);
    assert_eq!(b.status("p"), "running");
    b.ok(&["delete", "--force", "p"]);
    b.reap(pid);
    b.assert_gone("p");
}

#[test]
fn delete_refuses_a_running_container_and_force_forgets_what_is_not_there() {
    require_root!();
    let b = Bundle::new("d", &["sleep", "1000"]);
    let pid = b.create("d", &b.lab.root().join("out"));
    b.ok(&["start", "d"]);
    let refused = b.oci(&["delete", "d"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("cannot delete container d that is not stopped: running")
    );
    b.ok(&["delete", "--force", "d"]);
    assert!(matches!(b.reap(pid), WaitStatus::Signaled(..)));
    b.assert_gone("d");
    b.ok(&["delete", "--force", "d"]);
    let unknown = b.oci(&["delete", "d"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("container d does not exist"));
}

#[test]
fn a_terminal_goes_to_the_console_socket_and_the_command_uses_it() {
    require_root!();
    let mut b = Bundle::new("t", &["sh", "-c", "tty; echo typed-$(head -n 1)"]);
    b.set("process.terminal", json!(true));
    let sock = b.lab.root().join("console.sock");
    let listener = UnixListener::bind(&sock).expect("listen");
    let out = b.lab.root().join("out");
    let receiver = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        kit::receive_fd(&stream)
    });
    let status = b
        .cmd(&["create", "--bundle"])
        .arg(&b.dir)
        .arg("--pid-file")
        .arg(b.lab.root().join("t.pid"))
        .arg("--console-socket")
        .arg(&sock)
        .arg("t")
        .stdout(std::fs::File::create(&out).expect("out"))
        .stderr(std::process::Stdio::inherit())
        .status()
        .expect("create");
    assert!(status.success());
    let master = receiver.join().expect("receiver");
    let pid: i32 = std::fs::read_to_string(b.lab.root().join("t.pid"))
        .expect("pid")
        .parse()
        .expect("pid");
    b.ok(&["start", "t"]);
    let mut master = std::fs::File::from(master);
    use std::io::{Read, Write};
    master.write_all(b"hello\n").expect("type");
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while !seen.contains("typed-hello") {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(
        seen.contains("/dev/pts/0"),
        "the container's own devpts: {seen}"
    );
    assert!(seen.contains("typed-hello"), "{seen}");
    assert_eq!(
        std::fs::read_to_string(&out).expect("out"),
        "",
        "nothing went to create's stdout"
    );
    b.reap(pid);
    b.ok(&["delete", "t"]);
    b.assert_gone("t");
}

#[test]
fn diyc_explain_file_records_every_call_of_create_and_strace_agrees() {
    require_root!();
    let b = Bundle::new("e", &["true"]);
    let file = b.lab.root().join("explain.json");
    let pid_file = b.lab.root().join("e.pid");
    let (mut strace, traces) = common::strace::traced(&b.lab, "oci");
    let mut create = strace
        .arg("oci")
        .arg("--root")
        .arg(b.state_root())
        .args(["create", "--bundle"])
        .arg(&b.dir)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg("e")
        .env("DIYC_EXPLAIN", &file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("strace");
    common::wait_until("create has written the pid file", || pid_file.exists());
    b.ok(&["start", "e"]);
    // strace follows the container's process too, until it ends.
    assert!(create.wait().expect("strace").success());
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid")
        .parse()
        .expect("pid");
    b.reap(pid);
    let lines = std::fs::read_to_string(&file).expect("the explanation file");
    let events = common::snapshot::assert_json_events(&lines);
    let last = events.last().expect("events");
    assert!(
        last.to_string().contains("execve"),
        "the explanation runs to the exec: {last}"
    );
    let shown = std::process::Command::new(common::DIYC)
        .args(["explain", "--verbose"])
        .arg(&file)
        .env("NO_COLOR", "1")
        .output()
        .expect("diyc explain");
    assert!(shown.status.success());
    let text = text(&shown.stderr);
    for heading in [
        "== cgroups",
        "== mount",
        "== uts",
        "== rootfs",
        "== session",
        "== hardening",
        "== exec",
    ] {
        assert!(text.contains(heading), "no {heading} in {text}");
    }
    common::strace::assert_agreement(
        &b.lab,
        &traces,
        &text,
        &["mount", "pivot_root", "sethostname", "openat"],
    );
    b.ok(&["delete", "e"]);
    b.assert_gone("e");
}

/// A create that finds its cgroup already holding processes (another
/// container's, or a host service's that a cgroupsPath named) is refused
/// before anything is made: its clean-up must not kill what is there.
#[test]
fn a_create_refused_for_a_busy_cgroup_leaves_that_cgroups_processes_alone() {
    require_root!();
    let b = Bundle::new("first", &["sleep", "1000"]);
    let pid = b.create("first", &b.lab.root().join("out"));
    b.ok(&["start", "first"]);
    // A second container given the first's cgroupsPath.
    let out = b
        .cmd(&["create", "--bundle"])
        .arg(&b.dir)
        .arg("second")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("create");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already holds processes"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        b.status("first"),
        "running",
        "the first container was killed"
    );
    assert!(!b.state_root().join("second").exists());
    b.ok(&["delete", "--force", "first"]);
    b.reap(pid);
    b.assert_gone("first");
}

#[test]
fn an_explain_annotation_names_a_file_in_the_runtimes_own_directory() {
    require_root!();
    let mut b = Bundle::new("n", &["true"]);
    b.set("annotations", json!({"diyc.explain": "first"}));
    let pid = b.create("n", &b.lab.root().join("out"));
    b.ok(&["start", "n"]);
    b.reap(pid);
    let file = b.state_root().join(".explain/first.json");
    let lines = std::fs::read_to_string(&file).expect("the explanation");
    common::snapshot::assert_json_events(&lines);
    b.ok(&["delete", "n"]);
    b.assert_gone("n");
}
