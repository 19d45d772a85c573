//! The cgroups stage, as root, on whatever cgroup layout this host has
//! (v1 or hybrid here; tests/vm runs the same on a pure v2 kernel). Each
//! lab's cgroups live below this test process's own cgroup.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::path::PathBuf;
use std::sync::Mutex;

use common::{Lab, assert_one_line_error, text};

/// One at a time: the CPU test measures what the kernel granted, and a
/// memory hog or fork storm next to it would take part of that.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The cgroup directories diyc recorded for a running container.
fn placement(lab: &Lab, name: &str) -> diyc::stages::cgroups::Placement {
    let run = std::fs::read_to_string(lab.container_dir(name).join("run.json")).expect("run.json");
    let run: serde_json::Value = serde_json::from_str(&run).expect("JSON");
    serde_json::from_value(run["cgroup"].clone()).expect("a cgroup placement")
}

fn dirs(placement: &diyc::stages::cgroups::Placement) -> Vec<PathBuf> {
    placement.dirs.iter().map(|d| d.path.clone()).collect()
}

#[test]
fn a_memory_hog_is_killed_by_the_oom_killer_and_diyc_says_so() {
    require_root!();
    let _one = serial();
    let lab = Lab::new().with_busybox();
    let out = lab.run_sh("run --rm --mem 16 busybox", "tail /dev/zero");
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("killed by the kernel's OOM killer: memory limit 16 MiB"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_fork_storm_stops_at_the_pids_limit() {
    require_root!();
    let _one = serial();
    let lab = Lab::new().with_busybox();
    let script = "for i in $(seq 20); do sleep 1000 & done; echo all-started";
    let out = lab.run(&["run", "--rm", "--pids", "10", "busybox", "sh", "-c", script]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("can't fork"),
        "the shell reports the failed fork: {stderr}"
    );
    assert!(!text(&out.stdout).contains("all-started"));
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn half_a_cpu_gives_a_busy_loop_half_the_time() {
    require_root!();
    let _one = serial();
    let lab = Lab::new().with_busybox();
    let script = "timeout 2 sh -c 'while :; do :; done'; echo spun; read x";
    let mut running = lab.spawn(&[
        "run", "--rm", "--name", "spinner", "--cpus", "0.5", "busybox", "sh", "-c", script,
    ]);
    running.wait_for_line("spun");
    let mut quiet = diyc::sys::Quiet;
    let sys = diyc::sys::Sys::new(&mut quiet, diyc::event::StageId::Cgroups);
    let used =
        diyc::stages::cgroups::cpu_usage_us(&sys, &placement(&lab, "spinner")).expect("cpu usage");
    running.send("\n");
    assert_eq!(running.finish().status.code(), Some(0));
    assert!(
        (800_000..=1_200_000).contains(&used),
        "2 s of busy loop at 0.5 CPU used {used} µs of CPU"
    );
}

#[test]
fn the_cgroup_is_gone_after_the_container_exits() {
    require_root!();
    let _one = serial();
    let lab = Lab::new().with_busybox();
    let mut running = lab.spawn(&[
        "run", "--rm", "--name", "brief", "--mem", "32", "busybox", "cat",
    ]);
    running.send("ping\n");
    running.wait_for_line("ping");
    let dirs = dirs(&placement(&lab, "brief"));
    assert!(
        dirs.iter().all(|d| d.is_dir()),
        "the cgroup exists while it runs"
    );
    assert_eq!(running.finish().status.code(), Some(0));
    assert!(dirs.iter().all(|d| !d.exists()), "left behind: {dirs:?}");
}

#[test]
fn a_failed_start_leaves_no_cgroup() {
    require_root!();
    let _one = serial();
    let lab = Lab::new().with_busybox();
    let out = lab.line("run --mem 32 --pids 5 -w /no/such/dir busybox true");
    assert_one_line_error(&out, "working directory /no/such/dir");
    // Lab's drop checks that the lab's cgroup parent holds nothing.
}

#[test]
fn after_diyc_is_killed_rm_f_removes_the_cgroup() {
    require_root!();
    let _one = serial();
    let lab = Lab::new().with_busybox();
    let mut running = lab.spawn(&["run", "--name", "orphan", "--mem", "32", "busybox", "cat"]);
    running.send("ping\n");
    running.wait_for_line("ping");
    let dirs = dirs(&placement(&lab, "orphan"));
    running.kill_diyc();
    assert!(
        dirs.iter().all(|d| d.is_dir()),
        "a killed diyc cleans nothing up"
    );
    let out = lab.run(&["rm", "-f", "orphan"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dirs.iter().all(|d| !d.exists()), "left behind: {dirs:?}");
}

/// A process of the test's own, ended however the test ends.
struct Stray(std::process::Child);

impl Drop for Stray {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An empty cgroup goes with one rmdir per directory; a busy one is
/// emptied first: its processes are ended, even one moved into a cgroup
/// made inside it, and that cgroup is removed before it.
#[test]
fn rm_f_ends_what_a_busy_cgroup_holds_and_removes_the_cgroups_made_inside_it() {
    require_root!();
    let _one = serial();
    let lab = Lab::new().with_busybox();
    let mut running = lab.start_sleeper("busy", false);
    let dirs = dirs(&placement(&lab, "busy"));
    // A process of the test's own, in a cgroup inside the container's
    // in every tree: what a container that made one might have put there.
    let mut stray = Stray(
        std::process::Command::new("sleep")
            .arg("1000")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("sleep starts"),
    );
    for dir in &dirs {
        let inner = dir.join("inner");
        std::fs::create_dir(&inner).expect("a cgroup inside");
        std::fs::write(inner.join("cgroup.procs"), stray.0.id().to_string()).expect("moved in");
    }
    // A killed diyc cleans nothing up: its container dies with it (the
    // parent-death signal), the cgroups and the stray process stay.
    running.kill_diyc();
    let out = lab.run(&["rm", "-f", "busy"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dirs.iter().all(|d| !d.exists()), "left behind: {dirs:?}");
    use std::os::unix::process::ExitStatusExt;
    let ended = stray.0.wait().expect("the stray process is reaped");
    assert_eq!(ended.signal(), Some(9), "rm -f killed it: {ended:?}");
}

#[test]
fn bad_limits_are_one_line_and_create_nothing() {
    require_root!();
    let lab = Lab::new();
    let root = lab.root().join("fresh");
    let cases: &[(&str, &str)] = &[
        ("--mem=0", "--mem"),
        ("--mem=-5", "--mem"),
        ("--mem=lots", "--mem"),
        ("--mem=99999999999999999999", "too large"),
        ("--mem=9999999999t", "too large"),
        ("--cpus=0", "--cpus"),
        ("--cpus=-1", "--cpus"),
        ("--cpus=half", "--cpus"),
        ("--pids=0", "--pids"),
        ("--pids=-2", "--pids"),
        ("--pids=1.5", "--pids"),
        ("--cgroup-parent=../up", "--cgroup-parent"),
    ];
    for (arg, needle) in cases {
        let out = lab
            .cmd_in(&root, &["run", arg, "busybox", "true"])
            .output()
            .expect("diyc");
        assert_one_line_error(&out, needle);
        assert!(!root.exists(), "{arg} created the state root");
    }
    assert!(
        lab.cgroup_parent_dirs().iter().all(|d| !d.exists()),
        "no cgroup was made"
    );
}

#[test]
fn explain_shows_each_cgroup_write_and_the_cgroup_files() {
    require_root!();
    let _one = serial();
    let lab = Lab::new().with_busybox();
    let out = lab.line("run --rm --explain --mem 16 --pids 10 busybox true");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let explain = text(&out.stderr);
    assert!(explain.contains("== cgroups: limits the kernel enforces"));
    assert!(explain.contains("echo 16777216 > "), "{explain}");
    assert!(
        explain.contains("echo 10 > ") && explain.contains("pids.max # ok"),
        "{explain}"
    );
    assert!(
        explain.contains("pids.max = 10"),
        "the limit file read back: {explain}"
    );
    assert!(explain.contains("== cleanup: the host as it was"));
}

#[test]
fn without_pids_a_container_still_gets_a_process_limit() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let err = lab.explained(&[]);
    let default = diyc::stages::cgroups::DEFAULT_PIDS;
    assert!(
        err.lines()
            .any(|l| l.contains(&format!("echo {default} > ")) && l.contains("/pids.max")),
        "no pids.max of {default}: {err}"
    );
}

#[test]
fn a_rm_containers_layer_in_memory_is_bounded() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // The overlay reports its upper layer's filesystem: the tmpfs. Its
    // size, in 1K blocks, is the second field of df's last line.
    let size = |opts: &[&str]| -> String {
        let mut args = vec!["run", "--rm", "--net", "none"];
        args.extend_from_slice(opts);
        args.extend(["busybox", "sh", "-c", "df -k / | tail -n 1"]);
        let out = lab.ok(&args);
        out.split_whitespace().nth(1).unwrap_or("").to_string()
    };
    assert_eq!(
        size(&[]),
        (diyc::stages::rootfs::IN_MEMORY_DEFAULT / 1024).to_string()
    );
    assert_eq!(size(&["--mem", "64"]), "65536");
}

/// diyc where no cgroup filesystem is mounted, as under `ip netns exec`:
/// a mount namespace of the test's own whose /sys is a fresh sysfs.
fn without_cgroupfs(lab: &Lab, args: &[&str]) -> std::process::Output {
    lab.output_under(
        &["unshare", "--mount", "--propagation", "private"],
        "umount -l /sys && mount -t sysfs sysfs /sys",
        args,
    )
}

#[test]
fn without_a_cgroup_filesystem_limits_are_refused_and_a_plain_run_says_so() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let before = lab.host_state();
    let limited = without_cgroupfs(
        &lab,
        &[
            "run", "--rm", "--net", "none", "--mem", "16", "busybox", "true",
        ],
    );
    assert_one_line_error(&limited, "no cgroup filesystem is mounted here");
    assert_eq!(lab.host_state(), before);
    let plain = without_cgroupfs(&lab, &["run", "--rm", "--net", "none", "busybox", "true"]);
    assert_eq!(plain.status.code(), Some(0), "{}", text(&plain.stderr));
    assert!(
        text(&plain.stderr).contains("runs without a cgroup of its own"),
        "{}",
        text(&plain.stderr)
    );
}

#[test]
fn the_container_sees_only_its_own_cgroup_and_cannot_change_it() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let script = "cat /proc/self/cgroup; echo ===; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; \
                  echo 1 > /sys/fs/cgroup/memory/memory.limit_in_bytes || echo refused; \
                  readlink /proc/self/ns/cgroup";
    let out = lab.run(&[
        "run", "--rm", "--net", "none", "--mem", "32", "busybox", "sh", "-c", script,
    ]);
    let seen = text(&out.stdout);
    let (cgroups, rest) = seen.split_once("===\n").expect("both parts");
    // Its cgroup is the root of its cgroup namespace: no host path shows.
    assert!(cgroups.lines().all(|l| l.ends_with(":/")), "{cgroups}");
    assert!(rest.starts_with("33554432\n"), "its own limit: {rest}");
    assert!(rest.contains("refused"), "{rest}");
    assert!(
        text(&out.stderr).contains("Read-only file system"),
        "{out:?}"
    );
    let host_ns = std::fs::read_link("/proc/self/ns/cgroup").expect("own cgroup namespace");
    assert!(!rest.contains(host_ns.to_string_lossy().as_ref()), "{rest}");
}
