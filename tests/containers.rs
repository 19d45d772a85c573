//! Containers as things that last: names taken once, writable layers
//! kept between runs, `ps` and `rm`, `--rm`, and the clean-up after a
//! diyc that was killed.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::collections::BTreeSet;
use std::os::fd::AsFd;

use common::{Lab, assert_one_line_error, sh, text};

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
    let out = lab.line("run --name taken busybox true");
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
    let out = lab.line("run --name taken other true");
    assert_one_line_error(&out, "taken by a container of image busybox");
}

#[test]
fn rm_flag_removes_the_container_at_exit() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let out = lab.run_sh("run --rm --name gone busybox", "exit 4");
    assert_eq!(out.status.code(), Some(4));
    assert!(!lab.container_dir("gone").exists());
    let out = lab.run(&["ps", "-a"]);
    assert!(!text(&out.stdout).contains("gone"));
}

#[test]
fn ps_lists_containers_and_rm_removes_them() {
    require_root!();
    let lab = Lab::new().with_busybox();
    lab.run_sh("run --name listed busybox", "exit 9");
    let out = lab.run(&["ps", "-a"]);
    let listing = text(&out.stdout);
    let row = listing
        .lines()
        .find(|l| l.starts_with("listed "))
        .expect("a row");
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cols[..7],
        &["listed", "busybox", "exited", "(9)", "-", "-", "-"],
        "name, image, status, pid, uptime, address"
    );
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
    // Its diyc saw the container killed, and cleaned up after it.
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    assert!(!lab.container_dir("busy").exists());
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
    // The tmpfs is mounted on the container's directory in its own mount
    // namespace: the host sees the records there and nothing else, not
    // the layer's directories, nor the /etc files the container reads.
    let mut seen_from_host: Vec<String> = std::fs::read_dir(&dir)
        .expect("the container's directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    seen_from_host.sort();
    assert_eq!(
        seen_from_host,
        ["config.json", "init.json", "run.json"],
        "only records on the disk"
    );
    let pid = lab.init_pid("mem");
    let inside = std::fs::read_to_string(format!("/proc/{pid}/root/f"))
        .expect("the file, through the container's root");
    assert_eq!(inside, "data\n");
    let hostname = std::fs::read_to_string(format!("/proc/{pid}/root/etc/hostname"))
        .expect("the container's /etc/hostname");
    assert_eq!(hostname, "mem\n");
    running.send("bye\n");
    assert_eq!(running.finish().status.code(), Some(0));
    assert!(!dir.exists());
}

#[test]
fn a_rm_container_whose_diyc_was_killed_is_removed_by_the_next_command() {
    require_root!();
    let lab = Lab::new().with_busybox();
    killed_run(&lab, "gone", &["--rm", "--net", "none"]);
    assert!(lab.container_dir("gone").exists(), "nothing cleaned up yet");
    let listed = lab.ok(&["ps", "-a"]);
    assert!(!listed.contains("gone"), "{listed}");
    assert!(!lab.container_dir("gone").exists());
}

#[test]
fn a_container_is_locked_by_its_directory_and_an_older_diyc_s_lock_file_still_counts() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let mut running = lab.spawn(&[
        "run",
        "--rm",
        "--name",
        "held",
        "busybox",
        "sh",
        "-c",
        "echo up && read x",
    ]);
    running.wait_for_line("up");
    let dir = lab.container_dir("held");
    assert!(!dir.join("lock").exists(), "no lock file is made");
    let taken = nix::fcntl::Flock::lock(
        std::fs::File::open(&dir).expect("the container's directory"),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    );
    assert!(taken.is_err(), "its diyc holds the directory's lock");
    let out = lab.line("rm held");
    assert_one_line_error(&out, "is running");
    running.send("bye\n");
    assert_eq!(running.finish().status.code(), Some(0));

    // A container as a diyc from before kept it: its lock in a file, held
    // here the way that diyc would while it ran.
    lab.ok(&["run", "--name", "old", "busybox", "true"]);
    let legacy = lab.container_dir("old").join("lock");
    let file = std::fs::File::create(&legacy).expect("the old lock file");
    let held =
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).expect("the old lock");
    assert!(
        lab.ok(&["ps", "-a"]).contains("running"),
        "ps sees its owner"
    );
    let out = lab.line("rm old");
    assert_one_line_error(&out, "is running");
    drop(held);
    lab.ok(&["rm", "old"]);
    assert!(!lab.container_dir("old").exists());
}

/// Start `name` with `args`, then kill its diyc and wait for the
/// container to die with it (its parent-death signal): what the run made
/// stays, with its run.json.
fn killed_run(lab: &Lab, name: &str, args: &[&str]) {
    let mut argv = vec!["run", "--name", name];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["busybox", "sh", "-c", "echo up; exec sleep 1000"]);
    let mut running = lab.spawn(&argv);
    running.wait_for_line("up");
    let init = lab.init_pid(name);
    running.kill_diyc();
    if let Some(fd) = pidfd_open(init) {
        let mut fds = [nix::poll::PollFd::new(
            fd.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE).expect("poll pidfd");
    }
    assert!(lab.container_dir(name).join("run.json").exists());
}

#[test]
fn a_detached_run_sweeps_up_after_another_killed_diyc_once_its_own_container_runs() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // One still running beside it, which the sweep must leave alone.
    let mut alive = lab.spawn(&[
        "run",
        "--name",
        "alive",
        "--net",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo up; read x",
    ]);
    alive.wait_for_line("up");
    killed_run(&lab, "dead", &["--net", "none"]);
    lab.ok(&[
        "run", "-d", "--name", "next", "--net", "none", "busybox", "sleep", "1000",
    ]);
    // Its supervisor sweeps once the caller has its answer, holding the
    // dead container's lock while it does (ps would sweep it itself). The
    // lock is looked at only once run.json is gone, when the sweep holds
    // it already: a look before could make the sweep take it for running.
    let dead = lab.container_dir("dead");
    common::wait_until("the killed run is swept up", || {
        !dead.join("run.json").exists()
            && std::fs::File::open(&dead).is_ok_and(|dir| {
                nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok()
            })
    });
    assert!(lab.container_dir("alive").join("run.json").exists());
    let listed = lab.ok(&["ps", "-a"]);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("dead ") && l.contains("exited")),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("alive ") && l.contains("running")),
        "{listed}"
    );
    alive.send("bye\n");
    assert_eq!(alive.finish().status.code(), Some(0));
    lab.ok(&["rm", "-f", "next"]);
}

#[test]
fn a_run_of_a_killed_diyc_s_name_undoes_that_run_before_taking_the_name() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // A published port's rule is written down in run.json alone.
    killed_run(&lab, "again", &["-p", "8181:80"]);
    let rules = || sh(&["iptables-save", "-t", "nat"]);
    assert!(rules().contains("--to-destination"), "{}", rules());
    // Detached: a run in the foreground sweeps everything first anyway.
    lab.ok(&[
        "run", "-d", "--name", "again", "--net", "none", "busybox", "true",
    ]);
    assert!(
        !rules().contains("--to-destination"),
        "the killed run's rule outlived its record: {}",
        rules()
    );
    // Its supervisor cleans up after `true` on its own; its lock is free
    // once it has.
    let dir = std::fs::File::open(lab.container_dir("again")).expect("its directory");
    drop(nix::fcntl::Flock::lock(dir, nix::fcntl::FlockArg::LockExclusive).expect("its lock"));
}
