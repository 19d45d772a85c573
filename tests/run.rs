//! `diyc run` end to end, as root: each test runs real containers in its
//! own state root and checks the host is as it was afterwards.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::FileTypeExt;
use std::process::Stdio;

use common::held::Held;
use common::terminal::OnTerminal;
use common::{Lab, assert_one_line_error, text};

#[test]
fn hostname_inside_is_the_name_and_the_host_keeps_its_own() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let host_before = nix::unistd::gethostname().expect("hostname");
    let stdout = lab.ok(&["run", "--rm", "--name", "box-1", "busybox", "hostname"]);
    assert_eq!(stdout.trim(), "box-1");
    let out = lab.line("run --rm --hostname other busybox hostname");
    assert_eq!(text(&out.stdout).trim(), "other");
    assert_eq!(nix::unistd::gethostname().expect("hostname"), host_before);
}

#[test]
fn ps_inside_sees_only_the_container_and_the_command_is_pid_1() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let stdout = lab.ok(&["run", "--rm", "busybox", "ps", "-o", "pid,args"]);
    let rows: Vec<String> = stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(rows, vec!["1 ps -o pid,args"]);
}

#[test]
fn a_mount_made_inside_is_absent_from_the_host_mount_table() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let marker = format!("diyc-marker-{}", std::process::id());
    let script = format!("mount -t tmpfs {marker} /mnt && echo mounted && read line");
    // Mounting needs CAP_SYS_ADMIN, which containers do not get by default.
    let mut running = lab.spawn(&[
        "run",
        "--rm",
        "--name",
        "mnt",
        "--cap-add",
        "SYS_ADMIN",
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    running.wait_for_line("mounted");

    let inside = std::fs::read_to_string(format!("/proc/{}/mountinfo", lab.init_pid("mnt")))
        .expect("the container's mountinfo");
    assert!(inside.contains(&marker), "the mount was made inside");
    let host = std::fs::read_to_string("/proc/self/mountinfo").expect("host mountinfo");
    assert!(
        !host.contains(&marker),
        "the container's tmpfs leaked to the host"
    );
    // The layer's tmpfs is on the container's directory and the overlay
    // below it: neither is in the host's table.
    let dir = lab.container_dir("mnt");
    assert!(
        !host.contains(dir.to_str().expect("utf-8")),
        "the layer or the overlay is visible on the host"
    );

    running.send("done\n");
    let out = running.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_file_written_inside_lands_in_the_upper_dir_not_the_image() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let image_passwd =
        std::fs::read(lab.image_rootfs("busybox").join("etc/passwd")).expect("image");
    lab.ok(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "echo hello > /root/new && echo 'x:x:1:1::/:/bin/sh' >> /etc/passwd",
    ]);
    let upper = lab.container_dir("writer").join("upper");
    assert_eq!(
        std::fs::read_to_string(upper.join("root/new")).expect("upper"),
        "hello\n"
    );
    assert!(upper.join("etc/passwd").exists(), "copied up on write");
    assert!(!lab.image_rootfs("busybox").join("root/new").exists());
    assert_eq!(
        std::fs::read(lab.image_rootfs("busybox").join("etc/passwd")).expect("image"),
        image_passwd,
        "the image is untouched"
    );
}

#[test]
fn dev_is_a_small_tmpfs_without_the_hosts_disks() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let out = lab.run_sh("run --rm busybox", "ls /dev; grep ' /dev ' /proc/mounts");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    let mount_line = lines.pop().expect("the /dev mount line");
    assert!(mount_line.starts_with("tmpfs /dev tmpfs"), "{mount_line}");
    let inside: BTreeSet<&str> = lines.into_iter().collect();
    let expected: BTreeSet<&str> = [
        "fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
        "stdout", "tty", "urandom", "zero",
    ]
    .into();
    assert_eq!(inside, expected);
    for entry in std::fs::read_dir("/dev").expect("host /dev").flatten() {
        if entry.file_type().is_ok_and(|t| t.is_block_device()) {
            let name = entry.file_name();
            assert!(
                !inside.contains(name.to_str().unwrap_or("")),
                "{name:?} leaked"
            );
        }
    }
}

#[test]
fn exit_statuses_follow_the_shell_conventions() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let cases: &[(&[&str], i32)] = &[
        (&["true"], 0),
        (&["sh", "-c", "exit 7"], 7),
        (&["/etc/passwd"], 126),
        (&["no-such-command"], 127),
        (&["/no/such/path"], 127),
    ];
    for (command, code) in cases {
        let mut args = vec!["run", "--rm", "busybox"];
        args.extend_from_slice(command);
        let out = lab.run(&args);
        assert_eq!(
            out.status.code(),
            Some(*code),
            "{command:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_container_killed_by_a_signal_exits_128_plus_the_signal() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let running = lab.start_sleeper("victim", true);
    let init = nix::unistd::Pid::from_raw(lab.init_pid("victim"));
    nix::sys::signal::kill(init, nix::sys::signal::Signal::SIGKILL).expect("kill");
    let out = running.finish();
    assert_eq!(out.status.code(), Some(137));
}

#[test]
fn sigterm_to_diyc_reaches_the_container() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let script = "trap 'echo got-term; exit 3' TERM; echo ready; sleep 1000 & wait";
    let mut running = lab.spawn(&["run", "--rm", "busybox", "sh", "-c", script]);
    running.wait_for_line("ready");
    let diyc = running.pid();
    nix::sys::signal::kill(diyc, nix::sys::signal::Signal::SIGTERM).expect("kill");
    running.wait_for_line("got-term");
    let out = running.finish();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn a_signal_pid_1_ignores_is_carried_out_by_diyc() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // cat is PID 1 and has no SIGINT handler; its echo proves it runs.
    let mut running = lab.spawn(&["run", "--rm", "busybox", "cat"]);
    running.send("ping\n");
    running.wait_for_line("ping");
    let diyc = running.pid();
    nix::sys::signal::kill(diyc, nix::sys::signal::Signal::SIGINT).expect("kill");
    // stdin stays open until diyc is gone, or cat could end by itself.
    running.wait();
    let out = running.finish();
    assert_eq!(out.status.code(), Some(130));
    assert!(
        text(&out.stderr).contains("no handler for SIGINT"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_environment_is_clean() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let out = lab
        .cmd(&[
            "run",
            "--rm",
            "--name",
            "envy",
            "-e",
            "GREETING=hi there",
            "busybox",
            "env",
        ])
        .env("TERM", "xterm-test")
        .env("SECRET_FROM_HOST", "leak")
        .stdin(Stdio::null())
        .output()
        .expect("diyc");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut vars: Vec<String> = text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL="))
        .map(String::from)
        .collect();
    vars.sort();
    assert_eq!(
        vars,
        vec![
            "GREETING=hi there",
            "HOME=/root",
            "HOSTNAME=envy",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm-test",
        ]
    );
}

#[test]
fn workdir_sets_the_starting_directory() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let out = lab.line("run --rm -w /tmp busybox pwd");
    assert_eq!(text(&out.stdout).trim(), "/tmp");
    assert_one_line_error(
        &lab.line("run --rm -w /no/such busybox pwd"),
        "working directory /no/such",
    );
}

#[test]
fn an_unknown_image_is_one_line_and_creates_nothing() {
    require_root!();
    let lab = Lab::new();
    let root = lab.root().join("fresh");
    let out = lab
        .cmd_in(&root, &["run", "nosuchimage", "true"])
        .output()
        .expect("diyc");
    assert_one_line_error(&out, "no image named nosuchimage");
    assert!(!root.exists(), "nothing was created");
}

#[test]
fn a_bad_name_is_one_line_and_creates_nothing() {
    require_root!();
    let lab = Lab::new();
    let root = lab.root().join("fresh");
    let run = |args: &[&str]| lab.cmd_in(&root, args).output().expect("diyc");
    for name in ["../x", "-x", ".hidden", "a/b", &"n".repeat(33)] {
        let name_arg = format!("--name={name}");
        assert_one_line_error(
            &run(&["run", &name_arg, "busybox", "true"]),
            "invalid container name",
        );
        assert!(!root.exists(), "nothing was created for {name:?}");
    }
    let long = "h".repeat(65);
    assert_one_line_error(
        &run(&["run", "--hostname", &long, "busybox", "true"]),
        "invalid hostname",
    );
    assert_one_line_error(
        &run(&["run", "--no-such-option", "busybox"]),
        "--no-such-option",
    );
    assert!(!root.exists());
}

#[test]
fn without_busybox_on_the_host_one_line_names_the_package() {
    require_root!();
    let lab = Lab::new();
    let out = lab
        .cmd(&["run", "busybox", "true"])
        .env("DIYC_BUSYBOX", "/nonexistent/busybox")
        .stdin(Stdio::null())
        .output()
        .expect("diyc");
    assert_one_line_error(&out, "apt-get install busybox-static");
    assert!(!lab.image_rootfs("busybox").exists());
}

#[test]
fn an_interactive_shell_runs_on_a_terminal() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let mut term = OnTerminal::session(&lab, &["run", "--rm", "--name", "tty", "busybox", "sh"]);
    term.expect("# ");
    term.send("echo answer-$((6*7)); hostname\n");
    term.expect("answer-42");
    term.expect("tty\r\n");
    term.send("exit 5\n");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(5), "{rest}");
}

#[test]
fn etc_hostname_hosts_and_resolv_conf_are_the_containers_own() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let seen = lab.ok(&["run", "--rm", "--name", "etcs", "--net", "none", "busybox", "sh", "-c",
        "cat /etc/hostname; grep -c localhost /etc/hosts; grep ' /etc/hosts ' /proc/self/mountinfo | wc -l"]);
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines.first(), Some(&"etcs"), "{seen}");
    assert_ne!(lines.get(1), Some(&"0"), "{seen}");
    assert_eq!(lines.get(2), Some(&"1"), "a mount of its own: {seen}");
    // With the host's network, the host's files, so its names resolve.
    let host = lab.ok(&[
        "run",
        "--rm",
        "--net",
        "host",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    let ours = std::fs::read_to_string("/etc/hosts").expect("the host's /etc/hosts");
    assert!(host.starts_with(&ours), "{host}");
}

/// Unwatched, diyc makes a bridged run's veth pair while the container
/// mounts its root (runtime/attach.rs). A root that fails meanwhile is
/// the reason given, not the network's, and nothing is left behind.
#[test]
fn a_bridged_run_whose_root_fails_names_the_root_and_leaves_nothing() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // The bridge and the rules stay between runs: made once first.
    lab.ok(&["run", "--rm", "busybox", "true"]);
    // Refused in the container's rootfs stage, which runs before its net.
    let rootfs = lab.image_rootfs("busybox");
    std::fs::rename(rootfs.join("etc"), rootfs.join("etc2")).expect("etc moved");
    std::os::unix::fs::symlink("etc2", rootfs.join("etc")).expect("a symlink for /etc");
    let before = lab.host_state();
    // Held until the container has failed, so the pair is made late.
    let held = Held::at(
        lab.cmd(&["run", "--rm", "busybox", "true"]),
        "before-late-attach",
    );
    let out = held.child_ended().go();
    assert_one_line_error(&out, "etc is a symlink in the image");
    assert_eq!(lab.host_state(), before);
}
