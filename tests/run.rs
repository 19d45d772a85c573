//! `diyc run` end to end, as root: each test runs real containers in its
//! own state root and checks the host is as it was afterwards.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::process::Stdio;

use common::{Lab, assert_one_line_error, text};

#[test]
fn hostname_inside_is_the_name_and_the_host_keeps_its_own() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let host_before = nix::unistd::gethostname().expect("hostname");
    let stdout = lab.ok(&["run", "--rm", "--name", "box-1", "busybox", "hostname"]);
    assert_eq!(stdout.trim(), "box-1");
    let out = lab.run(&["run", "--rm", "--hostname", "other", "busybox", "hostname"]);
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
    let rootfs = lab.container_dir("mnt").join("rootfs");
    assert!(
        !host.contains(rootfs.to_str().expect("utf-8")),
        "the overlay is visible on the host"
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
    let out = lab.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ls /dev; grep ' /dev ' /proc/mounts",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    let mount_line = lines.pop().expect("the /dev mount line");
    assert!(mount_line.starts_with("tmpfs /dev tmpfs"), "{mount_line}");
    let inside: BTreeSet<&str> = lines.into_iter().collect();
    let expected: BTreeSet<&str> = [
        "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
        "urandom", "zero",
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
fn of_many_runs_with_one_name_exactly_one_wins_and_the_rest_change_nothing() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let racers: Vec<_> = (0..8)
        .map(|_| {
            lab.spawn(&[
                "run",
                "--name",
                "contested",
                "busybox",
                "sh",
                "-c",
                "echo won; cat",
            ])
        })
        .collect();
    // The winner says so and then blocks in cat; a loser's stdout just ends.
    let mut winners = Vec::new();
    for mut racer in racers {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut racer.stdout, &mut line).expect("read");
        if line == "won\n" {
            winners.push(racer);
        } else {
            assert_one_line_error(&racer.finish(), "container contested is already running");
        }
    }
    assert_eq!(winners.len(), 1, "exactly one run owns the name");
    let entries: BTreeSet<String> = std::fs::read_dir(lab.root().join("containers"))
        .expect("containers")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".lock")
        .collect();
    assert_eq!(
        entries,
        BTreeSet::from(["contested".to_string()]),
        "no loser left anything"
    );
    let mut winner = winners.pop().expect("winner");
    winner.send("still here\n");
    let out = winner.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "still here\n");
}

#[test]
fn running_a_name_again_keeps_its_files() {
    require_root!();
    let lab = Lab::new().with_busybox();
    lab.ok(&[
        "run",
        "--name",
        "keeper",
        "busybox",
        "sh",
        "-c",
        "echo kept > /root/note",
    ]);
    let stdout = lab.ok(&["run", "--name", "keeper", "busybox", "cat", "/root/note"]);
    assert_eq!(stdout, "kept\n");
}

#[test]
fn a_name_taken_by_another_image_is_refused() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let out = lab.run(&["run", "--name", "taken", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(0));
    // A second image that is a copy of busybox, made by hand.
    let other = lab.root().join("images/other");
    std::fs::create_dir_all(&other).expect("image dir");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(lab.image_rootfs("busybox"))
        .arg(other.join("rootfs"))
        .status()
        .expect("cp");
    assert!(status.success());
    let out = lab.run(&["run", "--name", "taken", "other", "true"]);
    assert_one_line_error(&out, "taken by a container of image busybox");
}

#[test]
fn rm_flag_removes_the_container_at_exit() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let out = lab.run(&[
        "run", "--rm", "--name", "gone", "busybox", "sh", "-c", "exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4));
    assert!(!lab.container_dir("gone").exists());
    let out = lab.run(&["ps", "-a"]);
    assert!(!text(&out.stdout).contains("gone"));
}

#[test]
fn ps_lists_containers_and_rm_removes_them() {
    require_root!();
    let lab = Lab::new().with_busybox();
    lab.run(&["run", "--name", "listed", "busybox", "sh", "-c", "exit 9"]);
    let out = lab.run(&["ps", "-a"]);
    let listing = text(&out.stdout);
    let row = listing
        .lines()
        .find(|l| l.starts_with("listed "))
        .expect("a row");
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..4], &["listed", "busybox", "exited", "9"]);
    assert!(row.ends_with("sh -c exit 9"), "{row}");
    assert!(
        !text(&lab.run(&["ps"]).stdout).contains("listed"),
        "ps without -a shows running only"
    );

    lab.ok(&["rm", "listed"]);
    assert!(!lab.container_dir("listed").exists());
    assert_one_line_error(&lab.run(&["rm", "listed"]), "no container named listed");
    assert_eq!(lab.run(&["rm", "-f", "listed"]).status.code(), Some(0));
}

#[test]
fn rm_refuses_a_running_container_and_rm_f_kills_it() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let running = lab.start_sleeper("busy", false);
    assert_one_line_error(&lab.run(&["rm", "busy"]), "is running");
    assert!(lab.container_dir("busy").exists());
    let out = lab.run(&["ps"]);
    assert!(text(&out.stdout).contains("busy "), "{}", text(&out.stdout));
    lab.ok(&["rm", "-f", "busy"]);
    let out = running.finish();
    assert_eq!(out.status.code(), None, "diyc itself was killed");
    assert!(!lab.container_dir("busy").exists());
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
    let out = lab.run(&["run", "--rm", "-w", "/tmp", "busybox", "pwd"]);
    assert_eq!(text(&out.stdout).trim(), "/tmp");
    assert_one_line_error(
        &lab.run(&["run", "--rm", "-w", "/no/such", "busybox", "pwd"]),
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
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let slave = std::fs::File::from(pty.slave);
    let mut cmd = lab.cmd(&["run", "--rm", "--name", "tty", "busybox", "sh"]);
    cmd.stdin(slave.try_clone().expect("dup"))
        .stdout(slave.try_clone().expect("dup"))
        .stderr(slave);
    // SAFETY: setsid and ioctl are async-signal-safe; they make the pty the
    // controlling terminal of the new session, as a terminal emulator does.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("diyc");
    drop(cmd);
    let mut master = std::fs::File::from(pty.master);
    let mut seen = String::new();
    let read_until = |master: &mut std::fs::File, needle: &str, seen: &mut String| {
        let mut buf = [0u8; 4096];
        while !seen.contains(needle) {
            let n = std::io::Read::read(master, &mut buf).expect("read the terminal");
            assert!(n > 0, "terminal closed before {needle:?}: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    read_until(&mut master, "# ", &mut seen);
    std::io::Write::write_all(&mut master, b"echo answer-$((6*7)); hostname\n").expect("type");
    read_until(&mut master, "answer-42", &mut seen);
    read_until(&mut master, "tty\r\n", &mut seen);
    std::io::Write::write_all(&mut master, b"exit 5\n").expect("type");
    let status = child.wait().expect("diyc exits");
    assert_eq!(status.code(), Some(5), "{seen}");
}

#[test]
fn the_next_ps_cleans_up_after_a_killed_diyc() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let mut running = lab.spawn(&["run", "--name", "orphan", "--mem", "32", "busybox", "cat"]);
    running.send("ping\n");
    running.wait_for_line("ping");
    let run: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(lab.container_dir("orphan").join("run.json")).expect("run.json"),
    )
    .expect("JSON");
    let cgroups: Vec<std::path::PathBuf> = run["cgroup"]["dirs"]
        .as_array()
        .expect("cgroup dirs")
        .iter()
        .filter_map(|d| d["path"].as_str().map(Into::into))
        .collect();
    let init = lab.init_pid("orphan");
    running.kill_diyc();
    // The container dies with diyc (its parent-death signal); wait for it.
    if let Some(fd) = pidfd_open(init) {
        let mut fds = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE).expect("poll pidfd");
    }
    assert!(
        cgroups.iter().all(|d| d.exists()),
        "a killed diyc cleans nothing up"
    );

    let listing = lab.ok(&["ps", "-a"]);
    let row = listing
        .lines()
        .find(|l| l.starts_with("orphan "))
        .unwrap_or_default();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cols[..4],
        &["orphan", "busybox", "exited", "-"],
        "{listing}"
    );
    assert!(
        cgroups.iter().all(|d| !d.exists()),
        "ps reclaimed the cgroup"
    );
    assert!(!lab.container_dir("orphan").join("run.json").exists());
    lab.ok(&["rm", "orphan"]);
    assert!(!lab.container_dir("orphan").exists());
}

fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative return is a descriptor we now own.
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

#[test]
fn a_rm_container_writes_nothing_to_the_disk() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let mut running = lab.spawn(&[
        "run",
        "--rm",
        "--name",
        "mem",
        "busybox",
        "sh",
        "-c",
        "echo data > /f && echo written && read x",
    ]);
    running.wait_for_line("written");
    let dir = lab.container_dir("mem");
    assert!(!dir.join("upper").exists() && !dir.join("work").exists());
    let seen_from_host: Vec<_> = std::fs::read_dir(dir.join("rootfs"))
        .expect("mount point")
        .collect();
    assert!(
        seen_from_host.is_empty(),
        "the tmpfs is only in the container's namespace"
    );
    let inside = std::fs::read_to_string(format!("/proc/{}/root/f", lab.init_pid("mem")))
        .expect("the file, through the container's root");
    assert_eq!(inside, "data\n");
    running.send("bye\n");
    assert_eq!(running.finish().status.code(), Some(0));
    assert!(!dir.exists());
}
