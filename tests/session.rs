//! The session stage: a container shares no session, process group,
//! keyring or terminal with whoever ran it. Each attack test runs what a
//! process inside would try, with harmless markers, and fails on a diyc
//! that hands the container the caller's own.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use common::strace::assert_strace_agrees;
use common::terminal::OnTerminal;
use common::{Lab, helpers, text};
use nix::sys::termios::LocalFlags;

#[test]
fn a_container_cannot_push_input_into_the_terminal_that_ran_it() {
    require_root!();
    let lab = Lab::new().with_image();
    helpers::install(&lab, "tiocsti");
    // On a terminal, with neither -i nor -t: the container gets one of
    // its own, and what it pushes lands there.
    let script = "tty; tiocsti 'echo INJECTED~'; echo done";
    let mut term = OnTerminal::session(
        &lab,
        &[
            "run", "--rm", "--net", "none", "busybox", "sh", "-c", script,
        ],
    );
    term.expect("/dev/pts/0");
    term.expect("pushed 14 of 14");
    term.expect("done");
    let (_, code) = term.finish();
    assert_eq!(code, Some(0));
    assert_eq!(
        term.pending_input(),
        0,
        "what the container pushed waits in the caller's terminal"
    );
}

#[test]
fn without_t_no_descriptor_of_the_callers_terminal_reaches_the_container() {
    require_root!();
    let lab = Lab::new().with_image();
    helpers::install(&lab, "tiocsti");
    // -i without -t, on a terminal: stdin, stdout and stderr become pipes
    // diyc relays, so nothing inside can set or type into that terminal.
    let script = "tty; stty -F /proc/self/fd/1 -echo; tiocsti 'echo INJECTED~'; \
                  read line; echo \"read $line\"";
    let mut term = OnTerminal::session(
        &lab,
        &[
            "run", "--rm", "-i", "--net", "none", "busybox", "sh", "-c", script,
        ],
    );
    term.expect("not a tty");
    term.expect("pushed 0 of 14");
    term.send("typed\n");
    term.expect("read typed");
    let (_, code) = term.finish();
    assert_eq!(code, Some(0));
    assert_eq!(
        term.pending_input(),
        0,
        "nothing waits in the caller's terminal"
    );
    let now = term.settings().local_flags;
    assert_eq!(
        now, term.initial.local_flags,
        "the caller's terminal kept its echo"
    );
}

#[test]
fn a_container_that_stops_reading_cannot_stall_diyc() {
    require_root!();
    let lab = Lab::new().with_image();
    // Every line typed into the container's terminal is echoed back out:
    // diyc must keep draining that while the input waits for room.
    let mut child = lab
        .cmd(&[
            "run", "--rm", "-i", "-t", "--net", "none", "busybox", "wc", "-l",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("diyc starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        for i in 0..100_000 {
            if writeln!(stdin, "line {i}").is_err() {
                break;
            }
        }
    });
    let out = child.wait_with_output().expect("diyc exits");
    writer.join().expect("the writer finished");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert_eq!(shown.lines().last().map(str::trim), Some("100000"));
}

#[test]
fn kill_0_inside_reaches_no_process_outside() {
    require_root!();
    let lab = Lab::new().with_image();
    // A marker in a process group of its own, and diyc put in the same
    // group: what a shell's job would share with it.
    let mut marker = Command::new("sleep")
        .arg("1000")
        .process_group(0)
        .spawn()
        .expect("a marker process");
    let group = marker.id() as i32;
    let out = lab
        .cmd(&[
            "run",
            "--rm",
            "--name",
            "group",
            "--net",
            "none",
            "busybox",
            "sh",
            "-c",
            "sleep 1000 & kill -TERM 0; kill -9 0; echo still here",
        ])
        .process_group(group)
        .stdin(Stdio::null())
        .output()
        .expect("diyc runs");
    let alive = marker.try_wait().expect("the marker's status").is_none();
    let _ = marker.kill();
    let _ = marker.wait();
    assert!(
        alive,
        "kill 0 inside reached a process outside the container"
    );
    // diyc was not killed either: it saw its container through and
    // cleaned up (the lab checks the cgroups and the state root).
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "still here");
    assert!(!lab.container_dir("group").exists(), "--rm did its work");
}

/// Keys of the caller's, added for a test and removed when dropped.
struct Keys<'a> {
    helper: &'a std::path::Path,
    made: Vec<(&'static str, String)>,
}

impl Keys<'_> {
    fn keyring(&self, args: &[&str]) -> std::process::Output {
        Command::new(self.helper)
            .args(args)
            .output()
            .expect("helper runs")
    }

    fn add(&mut self, ring: &'static str, name: &str) {
        let out = self.keyring(&["add", ring, name]);
        assert!(out.status.success(), "adding {name}: {}", text(&out.stdout));
        self.made.push((ring, name.to_string()));
    }
}

impl Drop for Keys<'_> {
    fn drop(&mut self) {
        for (ring, name) in std::mem::take(&mut self.made) {
            let _ = self.keyring(&["remove", ring, &name]);
        }
    }
}

#[test]
fn the_hosts_keys_are_out_of_reach_inside() {
    require_root!();
    let lab = Lab::new().with_image();
    let helper = helpers::install(&lab, "keyring");
    let tag = format!("diyc-test-{}", std::process::id());
    let (session, user, planted) = (format!("{tag}-s"), format!("{tag}-u"), format!("{tag}-in"));
    let mut keys = Keys {
        helper: &helper,
        made: Vec::new(),
    };
    keys.add("s", &session);
    keys.add("u", &user);
    // The test can read them itself: a refusal inside means something.
    assert_eq!(
        text(&keys.keyring(&["read", "u", &user]).stdout),
        "read: marker\n"
    );

    // Removed at the end whatever happens, should the container manage it.
    keys.made.push(("u", planted.clone()));
    let script =
        format!("keyring read s {session}; keyring read u {user}; keyring add u {planted}");
    let out = lab.run_sh("run --rm --net none busybox", &script);
    let inside = text(&out.stdout);
    assert!(
        !inside.contains("marker"),
        "a host key was read inside:\n{inside}"
    );
    assert_eq!(
        inside.matches("Operation not permitted").count(),
        3,
        "every keyring call refused:\n{inside}"
    );
    let planted_outside = keys.keyring(&["read", "u", &planted]);
    assert!(
        !planted_outside.status.success(),
        "the container put a key in root's keyring"
    );
}

/// A shell inside, on a terminal of the test's, once it says "ready":
/// by then the caller's terminal must be raw, every key the container's.
fn on_terminal(lab: &Lab, name: &str, script: &str) -> OnTerminal {
    let mut term = OnTerminal::session(
        lab,
        &[
            "run", "--rm", "--name", name, "--net", "none", "busybox", "sh", "-c", script,
        ],
    );
    term.expect("ready");
    let raw = term.settings().local_flags;
    assert!(
        !raw.intersects(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG),
        "the caller's terminal is raw while the container has it: {raw:?}"
    );
    term
}

/// diyc's exit status, once it is gone and the caller's terminal has
/// every setting back as it was before diyc started.
fn finish_restored(term: &mut OnTerminal) -> Option<i32> {
    let (_, code) = term.finish();
    let (now, was) = (term.settings(), &term.initial);
    assert_eq!(now.local_flags, was.local_flags, "local flags");
    assert_eq!(now.input_flags, was.input_flags, "input flags");
    assert_eq!(now.output_flags, was.output_flags, "output flags");
    assert_eq!(now.control_flags, was.control_flags, "control flags");
    assert_eq!(now.control_chars, was.control_chars, "control characters");
    code
}

#[test]
fn terminal_settings_come_back_after_a_normal_exit() {
    require_root!();
    let lab = Lab::new().with_image();
    let script = "echo ready; read line; echo \"got $line\"; exit 3";
    let mut term = on_terminal(&lab, "plain", script);
    term.send("hello\r");
    term.expect("got hello");
    assert_eq!(finish_restored(&mut term), Some(3));
}

#[test]
fn ctrl_c_reaches_the_foreground_program_inside() {
    require_root!();
    let lab = Lab::new().with_image();
    // Not the container's first process: Ctrl-C must reach a program the
    // kernel does not shield as a namespace's init.
    let script = "sh -c 'trap \"echo caught INT; exit 7\" INT; echo ready; \
                  while :; do sleep 1; done'; echo \"inner exited $?\"";
    let mut term = on_terminal(&lab, "ctrlc", script);
    term.send("\x03");
    term.expect("caught INT");
    // The shell around it (sh -c catches INT) ends by it too, after it.
    assert_eq!(finish_restored(&mut term), Some(130));
}

#[test]
fn terminal_settings_come_back_after_sigterm() {
    require_root!();
    let lab = Lab::new().with_image();
    let mut term = on_terminal(&lab, "term", "echo ready; while :; do sleep 1; done");
    let diyc = nix::unistd::Pid::from_raw(term.child.id() as i32);
    nix::sys::signal::kill(diyc, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM diyc");
    assert_eq!(finish_restored(&mut term), Some(143));
}

#[test]
fn terminal_settings_come_back_after_the_container_is_killed() {
    require_root!();
    let lab = Lab::new().with_image();
    let mut term = on_terminal(&lab, "killed", "echo ready; while :; do sleep 1; done");
    let init = nix::unistd::Pid::from_raw(lab.init_pid("killed"));
    nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGKILL).expect("SIGKILL init");
    assert_eq!(finish_restored(&mut term), Some(137));
}

#[test]
fn a_window_size_change_reaches_stty_inside() {
    require_root!();
    let lab = Lab::new().with_image();
    let mut term = on_terminal(&lab, "size", "stty size; echo ready; read x; stty size");
    term.resize(40, 120);
    term.send("\r");
    term.expect("40 120");
    assert_eq!(finish_restored(&mut term), Some(0));
}

#[test]
fn strace_agrees_with_explain_on_a_run_with_a_terminal() {
    require_root!();
    let lab = Lab::new().with_image();
    let out = assert_strace_agrees(
        &lab,
        "tty",
        &[
            "run",
            "--rm",
            "-t",
            "--net",
            "none",
            "--explain",
            "busybox",
            "tty",
        ],
        &["setsid", "keyctl", "seccomp", "ioctl", "dup3"],
    );
    assert_eq!(text(&out.stdout).trim(), "/dev/pts/0");
}
