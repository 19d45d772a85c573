//! Containers that run on their own (`run -d`) and the verbs for them:
//! logs, stop, kill, start, inspect and rm -f. Every test waits on what
//! the container writes (through `logs -f`) or on diyc's own answer,
//! never on time; the lab checks that nothing is left on the host.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{Lab, assert_one_line_error, text, wait_until};

/// A shell that says "ready" once its trap for `sig` is set, then waits.
fn trapping(sig: &str, code: i32) -> String {
    format!(
        "trap 'echo got {sig}; exit {code}' {sig}; echo ready; while :; do sleep 1 & wait $!; done"
    )
}

fn alive(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn run_d_prints_the_name_and_leaves_the_container_running() {
    require_root!();
    let lab = Lab::new().with_image();
    let bg = lab.detach("bg", "--net none", "echo ready; exec sleep 1000");
    bg.wait_for("ready");
    let row = bg.ps_row();
    assert_eq!(row[2], "running");
    let pid = lab.init_pid("bg");
    assert_eq!(row[3], pid.to_string(), "ps shows the first process's pid");
    assert!(alive(pid.into()));
    assert_one_line_error(
        &lab.run(&["start", "bg"]),
        "container bg is already running",
    );
}

#[test]
fn run_dit_keeps_a_shell_waiting_on_its_own_terminal() {
    require_root!();
    let lab = Lab::new().with_image();
    let out = lab.run(&[
        "run", "-dit", "--name", "shell", "--net", "none", "busybox", "sh",
    ]);
    assert_eq!(text(&out.stdout), "shell\n", "{}", text(&out.stderr));
    let shell = common::detached::Detached::adopt(&lab, "shell");
    // Still there for exec to find, as a shell waiting for input is.
    let out = lab.run(&["exec", "shell", "ps", "-o", "pid,comm"]);
    let listing = text(&out.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sh"]),
        "{listing}"
    );
    assert_eq!(shell.ps_row()[2], "running");
}

#[test]
fn logs_follow_the_output_until_the_container_ends() {
    require_root!();
    let lab = Lab::new().with_image();
    let script = "mkfifo /go; echo one; read word < /go; echo \"two $word\"";
    let fifo = lab.detach("talk", "--net none", script);
    let mut follow = fifo.follow();
    follow.wait_for_line("one");
    let out = lab.run(&["exec", "talk", "sh", "-c", "echo hello > /go"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    follow.wait_for_line("two hello");
    // The container is done, and so is `logs -f`, on its own.
    assert_eq!(follow.finish().status.code(), Some(0));
    assert_eq!(lab.ok(&["logs", "talk"]), "one\ntwo hello\n");
    assert_eq!(fifo.ps_row()[2..4], ["exited", "(0)"]);
}

#[test]
fn stop_ends_a_container_that_traps_term_by_sigterm() {
    require_root!();
    let lab = Lab::new().with_image();
    let box_ = lab.detach("polite", "--net none", &trapping("TERM", 3));
    box_.wait_for("ready");
    let pid = lab.init_pid("polite");
    let said = lab.ok(&["stop", "-t", "60", "polite"]);
    assert_eq!(said, "polite: stopped by SIGTERM (exit status 3)\n");
    assert!(lab.ok(&["logs", "polite"]).contains("got TERM"));
    assert!(!alive(pid.into()));
    assert_eq!(box_.ps_row()[2..4], ["exited", "(3)"]);
    box_.assert_nothing_left(Some(pid));
}

#[test]
fn stop_kills_a_container_that_ignores_term_after_the_grace_period() {
    require_root!();
    let lab = Lab::new().with_image();
    // sleep as the first process has no handler: the kernel drops TERM.
    let box_ = lab.detach("stubborn", "--net none", "echo ready; exec sleep 1000");
    box_.wait_for("ready");
    let pid = lab.init_pid("stubborn");
    let said = lab.ok(&["stop", "-t", "1", "stubborn"]);
    assert_eq!(
        said,
        "stubborn: killed with SIGKILL, still running 1s after SIGTERM (exit status 137)\n"
    );
    assert_eq!(box_.ps_row()[2..4], ["exited", "(137)"]);
    box_.assert_nothing_left(Some(pid));
}

#[test]
fn kill_sends_the_signal_asked_for() {
    require_root!();
    let lab = Lab::new().with_image();
    let box_ = lab.detach("hup", "", &trapping("HUP", 4));
    box_.wait_for("ready");
    let pid = lab.init_pid("hup");
    assert_eq!(lab.ok(&["kill", "-s", "HUP", "hup"]), "hup\n");
    assert!(box_.wait_for_end().contains("got HUP"));
    assert_eq!(box_.ps_row()[2..4], ["exited", "(4)"]);
    box_.assert_nothing_left(Some(pid));

    let other = lab.detach("plain", "--net none", "echo ready; exec sleep 1000");
    other.wait_for("ready");
    let pid = lab.init_pid("plain");
    assert_eq!(lab.ok(&["kill", "plain"]), "plain\n", "SIGKILL by default");
    other.wait_for_end();
    assert_eq!(other.ps_row()[2..4], ["exited", "(137)"]);
    other.assert_nothing_left(Some(pid));
}

#[test]
fn start_runs_a_stopped_container_again_with_its_layer() {
    require_root!();
    let lab = Lab::new().with_image();
    let script = "echo run >> /runs; echo \"runs: $(wc -l < /runs)\"";
    let again = lab.detach("again", "-e GREETING=hi", script);
    again.wait_for_end();
    assert_eq!(lab.ok(&["start", "again"]), "again\n");
    again.wait_for_end();
    again.assert_nothing_left(None);
    assert_eq!(lab.ok(&["logs", "again"]), "runs: 1\nruns: 2\n");
    let config = &again.inspect()["config"];
    assert_eq!(
        config["env"][0], "GREETING=hi",
        "started as it was first run"
    );
}

#[test]
fn inspect_shows_the_pid_and_namespaces_that_proc_shows() {
    require_root!();
    let lab = Lab::new().with_image();
    let box_ = lab.detach("seen", "", "echo ready; exec sleep 1000");
    box_.wait_for("ready");
    let info = box_.inspect();
    let pid = lab.init_pid("seen");
    assert_eq!(info["state"]["status"], "running");
    assert_eq!(info["state"]["pid"], pid);
    for ns in ["uts", "ipc", "mnt", "pid", "net"] {
        let link = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).expect("ns link");
        let inode = link
            .to_string_lossy()
            .trim_end_matches(']')
            .rsplit('[')
            .next()
            .map(String::from);
        assert_eq!(
            info["namespaces"][ns].to_string(),
            inode.expect("inode"),
            "{ns} namespace"
        );
    }
    assert!(
        info["network"]["ip"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("172."))
    );
    let cgroups = info["cgroup"].as_array().expect("cgroup paths");
    assert!(!cgroups.is_empty());
    for dir in cgroups {
        let procs =
            std::fs::read_to_string(format!("{}/cgroup.procs", dir.as_str().expect("path")))
                .expect("the cgroup exists");
        assert!(
            procs.lines().any(|p| p == pid.to_string()),
            "{dir} holds the container"
        );
    }
    let mounts = info["mounts"].as_array().expect("mounts");
    assert!(
        mounts
            .iter()
            .any(|m| m["target"] == "/" && m["fstype"] == "overlay")
    );
    assert_eq!(info["config"]["net"], "bridge");
}

#[test]
fn rm_f_of_a_detached_container_leaves_nothing() {
    require_root!();
    let lab = Lab::new().with_image();
    let box_ = lab.detach("doomed", "", "echo ready; exec sleep 1000");
    box_.wait_for("ready");
    let supervisor = box_.inspect()["state"]["supervisor"]
        .as_i64()
        .expect("a supervisor");
    let init = lab.init_pid("doomed");
    lab.ok(&["rm", "-f", "doomed"]);
    assert!(!lab.container_dir("doomed").exists());
    box_.assert_nothing_left(Some(init));
    wait_until("the supervisor has exited", || !alive(supervisor));
    // The lab checks the cgroups, links, rules and leases when dropped.
}

#[test]
fn a_killed_supervisor_is_cleaned_up_after_by_the_next_diyc() {
    require_root!();
    let lab = Lab::new().with_image();
    let box_ = lab.detach("orphan", "", "echo ready; exec sleep 1000");
    box_.wait_for("ready");
    let supervisor = box_.inspect()["state"]["supervisor"]
        .as_i64()
        .expect("a supervisor");
    let init = lab.init_pid("orphan");
    let pid = nix::unistd::Pid::from_raw(supervisor as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL");
    // The container dies with its supervisor (PR_SET_PDEATHSIG).
    wait_until("the container's first process is gone", || {
        !alive(init.into())
    });
    assert_eq!(
        box_.ps_row()[2],
        "exited",
        "ps cleaned up after the dead run"
    );
    assert!(!lab.container_dir("orphan").join("run.json").exists());
}

#[test]
fn the_verbs_refuse_bad_input_with_one_line_and_change_nothing() {
    require_root!();
    let lab = Lab::new().with_image();
    lab.ok(&["run", "--name", "fg", "--net", "none", "busybox", "true"]);
    let before = lab.ok(&["ps", "-a"]);
    let cases: &[(&[&str], &str)] = &[
        (&["stop", "fg"], "container fg is not running (exited)"),
        (&["kill", "fg"], "container fg is not running (exited)"),
        (
            &["exec", "fg", "true"],
            "container fg is not running (exited)",
        ),
        (&["logs", "fg"], "container fg never ran detached (-d)"),
        (&["stop", "nosuch"], "no container named nosuch"),
        (&["kill", "nosuch"], "no container named nosuch"),
        (&["logs", "nosuch"], "no container named nosuch"),
        (&["inspect", "nosuch"], "no container named nosuch"),
        (&["start", "nosuch"], "no container named nosuch"),
        (&["exec", "nosuch", "true"], "no container named nosuch"),
        (&["kill", "-s", "NOPE", "fg"], "unknown signal \"NOPE\""),
        (&["run", "-d", "-i", "busybox"], "-d with -i needs -t"),
        (&["run", "-d", "--rm", "busybox"], "cannot be used with"),
    ];
    for (args, needle) in cases {
        assert_one_line_error(&lab.run(args), needle);
    }
    assert_eq!(lab.ok(&["ps", "-a"]), before, "nothing changed");
}
