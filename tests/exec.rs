//! `diyc exec`: a new command inside a running container, in every one of
//! its namespaces and its cgroup, held to its capabilities, with the
//! command's exit status passed on.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::detached::Detached;
use common::strace::assert_strace_agrees;
use common::terminal::OnTerminal;
use common::{Lab, assert_one_line_error, text};

fn sleeper<'a>(lab: &'a Lab, name: &str) -> Detached<'a> {
    let sleeper = lab.detach(name, "", "echo ready; exec sleep 1000");
    sleeper.wait_for("ready");
    sleeper
}

/// A line of /proc/PID/status, such as `CapEff:\t00000000a80425fb`.
fn status_line(status: &str, key: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("{key} in /proc/PID/status"))
        .to_string()
}

#[test]
fn exec_joins_the_containers_namespaces_and_cgroup() {
    require_root!();
    let lab = Lab::new().with_image();
    let _box = sleeper(&lab, "joined");
    let init = lab.init_pid("joined");
    let script = "hostname; for ns in uts ipc mnt pid net cgroup; do readlink /proc/self/ns/$ns; done; \
                  cat /proc/self/cgroup";
    let out = lab.run(&["exec", "joined", "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = text(&out.stdout);
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("joined"), "the container's hostname");
    for ns in ["uts", "ipc", "mnt", "pid", "net", "cgroup"] {
        let theirs = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).expect("ns link");
        assert_eq!(
            lines.next(),
            Some(theirs.to_string_lossy().as_ref()),
            "the container's {ns} namespace"
        );
    }
    // In the container's cgroup namespace, its cgroup is `/`: a process
    // anywhere else would show a path below or above it.
    let cgroups: Vec<&str> = lines.collect();
    assert!(
        !cgroups.is_empty() && cgroups.iter().all(|l| l.ends_with(":/")),
        "{cgroups:?}"
    );
}

#[test]
fn exec_passes_the_exit_status_on() {
    require_root!();
    let lab = Lab::new().with_image();
    let _box = sleeper(&lab, "status");
    let out = lab.run(&["exec", "status", "sh", "-c", "exit 42"]);
    assert_eq!(out.status.code(), Some(42));
    let out = lab.run(&["exec", "status", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
}

#[test]
fn exec_has_the_containers_capabilities_environment_and_a_working_directory() {
    require_root!();
    let lab = Lab::new().with_image();
    let _box = lab.detach(
        "caps",
        "-e FROM_RUN=1 --cap-drop NET_RAW",
        "echo ready; exec sleep 1000",
    );
    _box.wait_for("ready");
    let init = lab.init_pid("caps");
    let script =
        "echo \"$FROM_RUN $EXTRA\"; pwd; grep -E 'CapEff|CapBnd|NoNewPrivs' /proc/self/status";
    let out = lab.run(&[
        "exec", "-e", "EXTRA=2", "-w", "/tmp", "caps", "sh", "-c", script,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = text(&out.stdout);
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("1 2"));
    assert_eq!(lines.next(), Some("/tmp"));
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).expect("status");
    for key in ["CapBnd:", "CapEff:", "NoNewPrivs:"] {
        assert!(
            seen.contains(&status_line(&status, key)),
            "{key} as the container's first process has it:\n{seen}"
        );
    }
}

#[test]
fn exec_on_a_terminal_gets_one_of_its_own_each_time() {
    require_root!();
    let lab = Lab::new().with_image();
    let _box = sleeper(&lab, "tty");
    // Twice: an exec's terminal is its own, and leaves the container's
    // console and devpts as they were for the next.
    for _ in 0..2 {
        let mut term = OnTerminal::session(
            &lab,
            &["exec", "tty", "sh", "-c", "tty; ls -1 /dev/pts; exit 5"],
        );
        let shown = term.expect("ptmx");
        // The container's own devpts: its first terminal, nothing of the host's.
        assert!(shown.contains("/dev/pts/0\r\n0\r\nptmx"), "{shown}");
        let (_, code) = term.finish();
        assert_eq!(code, Some(5));
    }
    let console = lab.run(&[
        "exec",
        "tty",
        "sh",
        "-c",
        "grep -c ' /dev/console ' /proc/self/mountinfo",
    ]);
    assert_eq!(
        text(&console.stdout).trim(),
        "0",
        "exec bound nothing over /dev/console"
    );
}

#[test]
fn exec_into_a_container_still_being_set_up_is_refused() {
    require_root!();
    let lab = Lab::new().with_image();
    // Stopped at its first pause: its first process is still diyc's, and
    // its root the host's.
    let mut term = OnTerminal::start(
        &lab,
        &[
            "run", "--step", "--rm", "--name", "early", "--net", "none", "busybox", "true",
        ],
    );
    term.expect("[Enter] go on, [q] stop, [c] run to the end, [?] keys: ");
    let out = lab.run(&["exec", "early", "sh", "-c", "echo joined"]);
    assert!(!text(&out.stdout).contains("joined"));
    assert_one_line_error(&out, "is still being set up");
    term.send("q\n");
    let (_, code) = term.finish();
    assert_eq!(code, Some(0));
}

#[test]
fn strace_agrees_with_explain_on_exec() {
    require_root!();
    let lab = Lab::new().with_image();
    let _box = sleeper(&lab, "traced");
    assert_strace_agrees(
        &lab,
        "exec",
        &["exec", "--explain", "traced", "true"],
        &[
            "pidfd_open",
            "setns",
            "clone3",
            "setsid",
            "capset",
            "execveat",
        ],
    );
}

#[test]
fn exec_into_a_container_that_is_not_running_is_refused() {
    require_root!();
    let lab = Lab::new().with_image();
    lab.ok(&["run", "--name", "done", "--net", "none", "busybox", "true"]);
    assert_one_line_error(&lab.run(&["exec", "done", "true"]), "is not running");
    assert_one_line_error(
        &lab.run(&["exec", "done"]),
        "exec needs a container and a command",
    );
    assert_one_line_error(
        &lab.run(&["exec", "-w", "rel", "done", "true"]),
        "working directory",
    );
}

#[test]
fn the_joining_process_is_private_before_it_enters_anything() {
    require_root!();
    let lab = Lab::new().with_image();
    let _box = sleeper(&lab, "private");
    let traces = lab.root().join("exec-trace");
    std::fs::create_dir(&traces).expect("trace dir");
    let diyc = lab.cmd(&["exec", "private", "true"]);
    let out = std::process::Command::new("strace")
        .args(["-ff", "-qq", "-e", "trace=prctl,setns,execveat", "-o"])
        .arg(traces.join("t"))
        .arg(diyc.get_program())
        .args(diyc.get_args())
        .envs(diyc.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("strace");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The process that joins: the one that executes the trampoline. Born
    // in the container's PID namespace, it must be undumpable (so no
    // process of the container can open its /proc files or ptrace it)
    // before it joins any other namespace.
    let joiner = std::fs::read_dir(&traces)
        .expect("traces")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).expect("trace"))
        .find(|t| t.contains("execveat("))
        .expect("the joining process's trace");
    let private = joiner
        .find("PR_SET_DUMPABLE, SUID_DUMP_DISABLE")
        .expect("made undumpable");
    let joins = joiner.find("setns(").expect("joins");
    assert!(private < joins, "{joiner}");
}
