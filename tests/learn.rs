//! `diyc learn`: each lesson alone with its parts, its isolation check, its
//! "what breaks without it" experiment shown and undone, and the host left
//! as found; all of them in a row; the explanation checked against strace
//! and the JSON schema; the pauses driven from a pseudo-terminal.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Stdio};

use common::snapshot::{assert_json_events, snapshot_filters};
use common::strace::assert_strace_agrees;
use common::{Lab, text};

/// The parts every lesson shows, in this order.
const PARTS: &[&str] = &[
    "## Why",
    "## What diyc does",
    "## The stage, live",
    "## Both views",
    "## What to look at",
    "## What breaks without it",
    "## Try it yourself",
    "## Questions",
];

/// A lab with the busybox image already made, without touching the
/// network, so a lesson's own first bridge setup is what it shows.
fn lab_with_image() -> Lab {
    let lab = Lab::new();
    lab.ok(&["run", "--rm", "--net", "none", "busybox", "true"]);
    lab
}

fn assert_parts_in_order(err: &str) {
    let mut from = 0;
    for part in PARTS {
        let at = err[from..]
            .find(part)
            .unwrap_or_else(|| panic!("{part:?} missing (or out of order) in:\n{err}"));
        from += at + part.len();
    }
    assert!(err.contains("\nQ: ") && err.contains("\nA: "), "{err}");
}

fn snapshot(lab: &Lab, name: &str, err: &str) {
    let mut filters = snapshot_filters(lab);
    filters.extend(
        [
            // What the container's shell says about a kill races with
            // diyc's own lines.
            (r"(?m)^Killed\n", ""),
            (
                r"(?m)^(\s*)(?:\| )?\s*cpuacct\.usage = \d+",
                "${1}cpuacct.usage = [N]",
            ),
            (r"still \w+: \d+", "still [N]"),
            (r"(the (?:real )?host is still )\S+", "${1}[HOST]"),
            (r"(its /etc/hostname says )\S+", "${1}[HOST]"),
            (r"working directory: \S+", "working directory: [CWD]"),
            (
                r"(\b(?:in|hog used|took) )\d+(?:\.\d+)? ?(ms|MiB|KiB)",
                "${1}[N] $2",
            ),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string())),
    );
    let filters: Vec<(&str, &str)> = filters
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!(name, err);
    });
}

/// `diyc learn --step STEP --no-pause`: exit 0, every part, the lesson's
/// own check, its experiment's effect and undoing (`expect`), the host as
/// it was. Returns the output for checks of the lesson's own.
fn lesson(lab: &Lab, step: &str, extra: &[&str], expect: &[&str]) -> (String, String) {
    let before = lab.host_state();
    let mut args = vec!["learn", "--step", step, "--no-pause"];
    args.extend(extra);
    let out = lab.run(&args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_parts_in_order(&err);
    assert!(err.contains("\n✓ "), "no isolation check passed:\n{err}");
    assert!(
        err.contains("\n✗ what breaks: "),
        "no experiment effect:\n{err}"
    );
    for needle in expect {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }
    assert_eq!(lab.host_state(), before, "the lesson left something behind");
    assert!(
        !lab.root().join("lessons").exists(),
        "a lesson's scratch directory is left"
    );
    (err, text(&out.stdout))
}

#[test]
fn uts_lesson_renames_only_its_own_namespace() {
    require_root!();
    let lab = Lab::new();
    let host = common::sh(&["hostname"]);
    let (err, out) = lesson(
        &lab,
        "uts",
        &[],
        &[
            "sethostname(\"diyc-lesson\", 11) = 0",
            "✗ what breaks: the shared hostname changed for everyone",
            "✓ undone: the real host is still",
        ],
    );
    assert!(out.contains("diyc-lesson"), "{out}");
    assert!(out.contains("the host is now renamed-by-a-guest"), "{out}");
    assert_eq!(common::sh(&["hostname"]), host, "the host was renamed");
    snapshot(&lab, "lesson_uts", &err);
}

#[test]
fn pid_lesson_shows_pid_1_and_the_hosts_processes_without_a_new_proc() {
    require_root!();
    let lab = Lab::new();
    let (err, out) = lesson(
        &lab,
        "pid",
        &[],
        &[
            "mount(\"proc\", \"/proc\", \"proc\"",
            "✗ what breaks: without a new /proc",
            "✓ undone: the host's mount table is as it was",
        ],
    );
    let counts: Vec<u32> = out
        .lines()
        .filter_map(|l| l.strip_prefix("I am pid 1; /proc lists "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(counts.len(), 2, "{out}");
    assert!(
        counts[0] <= 5,
        "a new /proc lists only the container: {out}"
    );
    assert!(counts[1] > 5, "the host's /proc lists the host: {out}");
    snapshot(&lab, "lesson_pid", &err);
}

#[test]
fn mount_lesson_keeps_its_mount_and_shows_the_leak_without_private_propagation() {
    require_root!();
    let lab = Lab::new();
    let (err, out) = lesson(
        &lab,
        "mount",
        &[],
        &[
            "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0",
            "✗ what breaks: the mount leaked",
            "✓ undone: the real host's mount table is as it was",
        ],
    );
    assert!(out.contains(" - tmpfs diyc-lesson "), "{out}");
    assert!(
        out.contains("appeared in the (pretend) host's table"),
        "{out}"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mounts.contains("diyc-lesson") && !mounts.contains("diyc-leak"),
        "{mounts}"
    );
    snapshot(&lab, "lesson_mount", &err);
}

#[test]
fn rootfs_lesson_stays_inside_after_pivot_root_and_climbs_out_of_a_chroot() {
    require_root!();
    let lab = lab_with_image();
    let (err, _) = lesson(
        &lab,
        "rootfs",
        &[],
        &[
            "pivot_root(\".\", \".\") = 0",
            "stayed inside: climbing stops at the container's own root",
            "chroot(\"/lesson-escape\") = 0",
            "ESCAPED: / here is the host's own root",
            "✓ undone: the host's mount table is as it was",
        ],
    );
    snapshot(&lab, "lesson_rootfs", &err);
}

#[test]
fn cgroups_lesson_stops_the_hog_at_the_limit_and_lets_it_grow_without() {
    require_root!();
    let lab = lab_with_image();
    let (err, _) = lesson(
        &lab,
        "cgroups",
        &[],
        &[
            "killed by the kernel's OOM killer: memory limit 32 MiB",
            "✓ the kernel's OOM killer stopped the hog at the 32 MiB limit",
            "✗ what breaks: with no limit the hog took all 100 MiB",
            "✓ undone: its cgroup was removed with the container",
        ],
    );
    for dir in lab.cgroup_parent_dirs() {
        let left: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{}: {left:?}", dir.display());
    }
    snapshot(&lab, "lesson_cgroups", &err);
}

#[test]
fn net_lesson_joins_the_bridge_and_shows_an_island_without_a_veth_pair() {
    require_root!();
    let lab = lab_with_image();
    let (err, _) = lesson(
        &lab,
        "net",
        &[],
        &[
            "RTM_NEWLINK: ip link add diyc0 type bridge # ok",
            "✓ eth0 has 172.16.0.",
            "✗ what breaks: without a veth pair the namespace is an island",
            "✓ undone: its network namespace went with it",
            // Made for the lesson, so taken down again at its end.
            "RTM_DELLINK: ip link del diyc0 # ok",
        ],
    );
    snapshot(&lab, "lesson_net", &err);
}

/// Without --lab the lesson uses the host's network, as `diyc run` does
/// (here the test's own namespace), and takes down what it set up.
#[test]
fn iptables_lesson_on_the_host_network_puts_every_rule_back() {
    require_root!();
    let lab = lab_with_image();
    let (err, out) = lesson(
        &lab,
        "iptables",
        &[],
        &[
            "iptables -w -t nat -A DIYC-POSTROUTING -s 172.16.0.0/16 '!' -o diyc0 -j MASQUERADE # exit 0",
            "✓ the outside host saw this host's address, not the container's: MASQUERADE",
            "iptables -w -t nat -D DIYC-POSTROUTING -s 172.16.0.0/16 '!' -o diyc0 -j MASQUERADE # exit 0",
            "✗ what breaks: without MASQUERADE the outside host got a packet from 172.16.x.x",
            "✓ undone: the MASQUERADE rule is back",
        ],
    );
    assert!(out.contains("nc ended with 0"), "{out}");
    assert!(out.contains("nc ended with 1"), "{out}");
    snapshot(&lab, "lesson_iptables", &err);
}

/// With --lab everything happens in a namespace of the lesson's own.
#[test]
fn iptables_lab_leaves_the_network_it_ran_from_untouched() {
    require_root!();
    let lab = lab_with_image();
    let before = common::sh(&["iptables-save"]);
    let (_, out) = lesson(
        &lab,
        "iptables",
        &["--lab"],
        &[
            "the lab: a network namespace of the lesson's own",
            "✓ undone: the MASQUERADE rule is back",
        ],
    );
    assert!(
        out.contains("nc ended with 0") && out.contains("nc ended with 1"),
        "{out}"
    );
    assert!(!common::sh(&["ip", "-o", "link"]).contains("diyc0"));
    assert_eq!(
        common::sh(&["iptables-save"])
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        before
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
    );
}

#[test]
fn hardening_lesson_refuses_what_an_unhardened_container_may_do() {
    require_root!();
    let lab = lab_with_image();
    let (err, out) = lesson(
        &lab,
        "hardening",
        &[],
        &[
            "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0",
            "✗ what breaks: without hardening, root in the container can mount",
            "✓ undone:",
        ],
    );
    assert!(
        out.contains("mount: refused\nsysctl: refused"),
        "hardened: {out}"
    );
    assert!(
        out.contains("mount: allowed\nsysctl: written"),
        "unhardened: {out}"
    );
    snapshot(&lab, "lesson_hardening", &err);
}

#[test]
fn all_lessons_in_a_row_end_in_a_container_and_leave_the_host_as_it_was() {
    require_root!();
    // The image is a cache diyc keeps: made first, it is part of "before".
    let lab = lab_with_image();
    let before = lab.host_state();
    let out = lab.run(&["learn", "--all", "--no-pause"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let mut from = 0;
    for step in [
        "uts",
        "pid",
        "mount",
        "rootfs",
        "cgroups",
        "net",
        "iptables",
        "hardening",
    ] {
        let title = format!("\n# {step}: ");
        let at = err[from..]
            .find(&title)
            .unwrap_or_else(|| panic!("lesson {step} missing or out of order"));
        from += at + title.len();
    }
    assert!(err[from..].contains("# All of it at once: a container"));
    assert!(
        text(&out.stdout).contains("a whole container: lesson-all, pid 1, 172.16.0."),
        "{}",
        text(&out.stdout)
    );
    assert!(err.contains("Built, one stage at a time: uts, pid, mount, rootfs, cgroups, net, iptables, hardening; then a whole container (exit 0)"));
    assert_eq!(
        lab.host_state(),
        before,
        "learn --all left something behind"
    );
}

#[test]
fn strace_agrees_with_learn() {
    require_root!();
    let lab = lab_with_image();
    for (step, must_show) in [
        ("uts", &["clone3", "sethostname", "execve"][..]),
        ("rootfs", &["pivot_root", "umount2", "chroot", "chdir"][..]),
        ("iptables", &["setns", "unshare", "clone3"][..]),
    ] {
        let mut args = vec!["learn", "--step", step, "--no-pause"];
        if step == "iptables" {
            args.push("--lab");
        }
        assert_strace_agrees(&lab, step, &args, must_show);
    }
}

#[test]
fn learn_json_is_one_schema_event_per_line() {
    require_root!();
    let lab = lab_with_image();
    let out = lab.run(&[
        "learn",
        "--step",
        "hardening",
        "--no-pause",
        "--explain=json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events = assert_json_events(&text(&out.stderr));
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["event"].as_str()).collect();
    for kind in ["lesson", "stage", "syscall", "state", "note"] {
        assert!(kinds.contains(kind), "no {kind} event");
    }
}

#[test]
fn the_transcript_is_the_lesson_as_markdown() {
    require_root!();
    let lab = Lab::new();
    let handout = lab.root().join("uts.md");
    let handout_arg = handout.to_str().expect("utf-8");
    let out = lab.run(&[
        "learn",
        "--step",
        "uts",
        "--no-pause",
        "--transcript",
        handout_arg,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(&handout).expect("the transcript");
    assert!(
        md.starts_with("\n# uts: ") || md.starts_with("# uts: "),
        "{md}"
    );
    for part in PARTS {
        assert!(md.contains(part), "{part} missing from the transcript");
    }
    assert!(md.contains("### uts: a hostname of its own"), "{md}");
    assert!(md.contains("    [pid "), "no calls in the transcript");
}

#[test]
fn learn_without_a_step_lists_the_lessons_when_there_is_no_terminal() {
    let lab = Lab::new();
    let out = lab.run(&["learn"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list = text(&out.stdout);
    for step in [
        "uts",
        "pid",
        "mount",
        "rootfs",
        "cgroups",
        "net",
        "iptables",
        "hardening",
    ] {
        assert!(
            list.lines().any(|l| l.starts_with(step)),
            "{step} not listed: {list}"
        );
    }
}

#[test]
fn an_unknown_step_is_one_line_and_status_125() {
    let lab = Lab::new();
    let out = lab.run(&["learn", "--step", "teleport"]);
    common::assert_one_line_error(&out, "teleport");
}

// ---- pauses, driven from a pseudo-terminal --------------------------------------

/// diyc with its stdin, stdout and stderr on a pseudo-terminal, as a
/// student's would be.
struct OnTerminal {
    child: Child,
    master: std::fs::File,
    seen: String,
    /// How much of `seen` earlier expects returned.
    pos: usize,
}

impl OnTerminal {
    fn start(lab: &Lab, args: &[&str]) -> OnTerminal {
        let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
        let slave: OwnedFd = pty.slave;
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup"));
        let child = lab
            .cmd(args)
            .stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave))
            .spawn()
            .expect("diyc starts");
        drop(slave);
        OnTerminal {
            child,
            master: std::fs::File::from(pty.master),
            seen: String::new(),
            pos: 0,
        }
    }

    /// Read until `needle` has appeared after what earlier calls
    /// returned, and return the text up to it; fails if the terminal
    /// closes first or nothing comes for a minute.
    fn expect(&mut self, needle: &str) -> String {
        let pos = self.pos;
        self.expect_or_end(needle)
            .unwrap_or_else(|| panic!("terminal closed before {needle:?}:\n{}", &self.seen[pos..]))
    }

    /// The same, or None once the terminal has closed without it.
    fn expect_or_end(&mut self, needle: &str) -> Option<String> {
        loop {
            if let Some(at) = self.seen[self.pos..].find(needle) {
                let upto = self.pos + at + needle.len();
                let chunk = self.seen[self.pos..upto].to_string();
                self.pos = upto;
                return Some(chunk);
            }
            if !self.read_some() {
                return None;
            }
        }
    }

    fn read_some(&mut self) -> bool {
        let mut fds = [nix::poll::PollFd::new(
            self.master.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ready =
            nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(60_000u16)).expect("poll");
        assert!(
            ready > 0,
            "nothing on the terminal for a minute:\n{}",
            self.seen
        );
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                true
            }
        }
    }

    fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).expect("typing");
    }

    /// The rest, until the terminal closes, and the exit status.
    fn finish(mut self) -> (String, Option<i32>) {
        while self.read_some() {}
        let status = self.child.wait().expect("diyc exits");
        (self.seen.split_off(self.pos), status.code())
    }
}

const PROMPT: &str = "[Enter] go on, [q] stop, [c] run to the end: ";

#[test]
fn pid_lesson_pauses_enter_goes_on_and_q_stops_and_cleans_up() {
    require_root!();
    let lab = Lab::new();
    let before = lab.host_state();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "pid"]);
    let first = term.expect(PROMPT);
    assert!(first.contains("## Why"), "{first}");
    assert!(first.contains("-- next: the stage, live."), "{first}");
    assert!(!first.contains("== clone"), "the stage ran before Enter");
    term.send("\n");
    // Enter went on: the clone happened, and the launch pauses after its
    // first stage with the container's process waiting.
    let live = term.expect(PROMPT);
    assert!(
        live.contains("clone3({flags=CLONE_NEWNS|CLONE_NEWPID"),
        "{live}"
    );
    let child: i32 = live
        .lines()
        .find(|l| l.contains("clone3("))
        .and_then(|l| l.rsplit(" = ").next())
        .and_then(|n| n.trim().parse().ok())
        .expect("the child's pid");
    assert!(
        std::path::Path::new(&format!("/proc/{child}")).exists(),
        "the container's process waits at the pause"
    );
    term.send("q\n");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(
        rest.contains("Stopped. Everything the lesson made is undone."),
        "{rest}"
    );
    assert!(
        !rest.contains("## What to look at"),
        "q did not stop: {rest}"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{child}")).exists(),
        "the container's process outlived q"
    );
    assert_eq!(lab.host_state(), before);
}

#[test]
fn c_at_a_pause_runs_the_lesson_to_the_end() {
    require_root!();
    let lab = Lab::new();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "uts"]);
    term.expect(PROMPT);
    term.send("c\n");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(!rest.contains(PROMPT), "paused again after c: {rest}");
    assert!(
        rest.contains("## Questions") && rest.contains("A: "),
        "{rest}"
    );
}

#[test]
fn answers_wait_for_a_key_on_a_terminal() {
    require_root!();
    let lab = Lab::new();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "uts"]);
    // Three parts, and the stages of two launches, before the questions.
    loop {
        let chunk = term.expect(PROMPT);
        if chunk.contains("-- next: the answer.") {
            assert!(chunk.contains("Q: "), "{chunk}");
            break;
        }
        term.send("\n");
    }
    term.send("q\n");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(!rest.contains("A: "), "an answer was shown after q: {rest}");
}

#[test]
fn ctrl_c_at_a_pause_stops_the_lesson_with_status_130() {
    require_root!();
    let lab = Lab::new();
    let before = lab.host_state();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "uts"]);
    term.expect(PROMPT);
    let pid = nix::unistd::Pid::from_raw(term.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(130), "{rest}");
    assert!(
        rest.contains("Stopped. Everything the lesson made is undone."),
        "{rest}"
    );
    assert!(
        !rest.contains("== clone"),
        "the stage ran after Ctrl-C: {rest}"
    );
    assert_eq!(lab.host_state(), before);
}

#[test]
fn run_step_pauses_between_stages_and_q_undoes_the_run() {
    require_root!();
    let lab = lab_with_image();
    // The shared network part stays after any run, as it should; the
    // run's own changes are what q must undo.
    lab.ok(&["setup"]);
    let before = lab.host_state();
    let mut term = OnTerminal::start(
        &lab,
        &[
            "run", "--step", "--name", "stepped", "--mem", "32", "busybox", "true",
        ],
    );
    // The first pause comes after the first stage inside the container;
    // the cgroup and the veth pair exist by then.
    let first = term.expect(PROMPT);
    assert!(first.contains("== mount"), "{first}");
    assert!(
        !first.contains("execve("),
        "the command ran before the pause"
    );
    assert!(lab.container_dir("stepped").exists());
    term.send("\n");
    let second = term.expect(PROMPT);
    assert!(second.contains("== uts"), "{second}");
    term.send("q\n");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(rest.contains("stopped before"), "{rest}");
    assert!(!rest.contains("execve("), "the command ran after q: {rest}");
    assert!(
        !lab.container_dir("stepped").exists(),
        "the new container is left"
    );
    assert_eq!(lab.host_state(), before);
}

#[test]
fn run_step_with_enter_at_every_pause_runs_the_command() {
    require_root!();
    let lab = lab_with_image();
    let mut term = OnTerminal::start(
        &lab,
        &["run", "--rm", "--step", "busybox", "echo", "made it"],
    );
    let mut pauses = 0;
    let mut seen = String::new();
    while let Some(chunk) = term.expect_or_end(PROMPT) {
        seen.push_str(&chunk);
        pauses += 1;
        term.send("\n");
    }
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{seen}{rest}");
    assert!(rest.contains("made it"), "{rest}");
    assert!(!rest.contains(PROMPT), "{rest}");
    assert!(
        (4..=10).contains(&pauses),
        "one pause per stage inside the container, got {pauses}"
    );
}

#[test]
fn learn_without_a_step_on_a_terminal_is_a_menu() {
    require_root!();
    let lab = Lab::new();
    let mut term = OnTerminal::start(&lab, &["learn"]);
    let menu = term.expect("Which lesson?");
    assert!(!menu.contains("diyc: "), "{menu}");
    for step in [
        "uts",
        "pid",
        "mount",
        "rootfs",
        "cgroups",
        "net",
        "iptables",
        "hardening",
    ] {
        term.expect(step);
    }
    // Enter picks the highlighted first lesson; q at its first pause ends it.
    term.send("\r");
    let chosen = term.expect(PROMPT);
    assert!(chosen.contains("# uts: "), "{chosen}");
    term.send("q\n");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(rest.contains("Stopped."), "{rest}");
}

#[test]
fn the_outside_host_goes_when_diyc_is_killed() {
    require_root!();
    use std::io::BufRead;
    let lab = lab_with_image();
    let mut child = lab
        .cmd(&["learn", "--step", "iptables", "--no-pause"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("diyc starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    // The first call after the outside host is made is the lesson's run.
    let mut made = false;
    for line in lines.by_ref() {
        let line = line.expect("a line");
        made |= line.contains("an outside host for the lesson");
        if made && line.contains("RTM_SETLINK: ip link set vlab up") {
            break;
        }
    }
    assert!(made, "the outside host was never made");
    assert!(common::sh(&["ip", "-o", "link"]).contains("vlab"));
    child.kill().expect("SIGKILL");
    child.wait().expect("diyc ends");
    common::wait_until("the outside host's veth pair is gone", || {
        !common::sh(&["ip", "-o", "link"]).contains("vlab")
    });
}
