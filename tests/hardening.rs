//! The hardening stage and diyc's reliability: what a container may no
//! longer do, refusals that change nothing, and a host left as it was
//! after injected faults, SIGKILLs at random moments and a long mixed run.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use common::{Lab, assert_one_line_error, helpers, text};

/// The default capability set, as /proc/PID/status shows it.
const DEFAULT_CAPS_HEX: &str = "00000000a00405fb";

#[test]
fn a_probe_inside_finds_the_container_hardened() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let probe = "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status; \
                 echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c); \
                 echo x > /proc/sys/kernel/domainname 2>/dev/null && echo sysctl=written || echo sysctl=refused; \
                 mount -t tmpfs none /mnt 2>/dev/null && echo mount=done || echo mount=refused; \
                 ip link add probe0 type veth peer name probe1 2>/dev/null && echo link=added || echo link=refused";
    let seen = lab.ok(&["run", "--rm", "busybox", "sh", "-c", probe]);
    assert!(seen.contains("CapInh:\t0000000000000000"), "{seen}");
    for set in ["CapPrm", "CapEff", "CapBnd"] {
        assert!(
            seen.contains(&format!("{set}:\t{DEFAULT_CAPS_HEX}")),
            "{set} in {seen}"
        );
    }
    assert!(seen.contains("CapAmb:\t0000000000000000"), "{seen}");
    assert!(seen.contains("NoNewPrivs:\t1"), "{seen}");
    assert!(seen.contains("kcore=0"), "{seen}");
    assert!(seen.contains("sysctl=refused"), "{seen}");
    assert!(seen.contains("mount=refused"), "{seen}");
    assert!(seen.contains("link=refused"), "{seen}");
}

#[test]
fn no_descriptor_diyc_inherits_reaches_the_container() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // A descriptor diyc itself inherits, open on purpose on 7.
    let leaked = std::fs::File::open("/etc/hostname").expect("a file to leak");
    let raw = leaked.as_raw_fd();
    let mut cmd = lab.cmd(&["run", "--rm", "--name", "fds", "busybox", "cat"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    // SAFETY: dup2 is async-signal-safe; it gives the child a copy of the
    // file on descriptor 7, without close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("diyc");
    drop(leaked);
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    std::io::Write::write_all(&mut stdin, b"ping\n").expect("write");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).expect("read");
    assert_eq!(line, "ping\n", "cat runs");
    // cat is the container's PID 1: its descriptors, seen from the host.
    let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", lab.init_pid("fds")))
        .expect("its fds")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    fds.sort();
    drop(stdin);
    assert_eq!(child.wait().expect("diyc").code(), Some(0));
    assert_eq!(fds, ["0", "1", "2"]);
}

#[test]
fn cap_add_and_cap_drop_change_the_set() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let eff = |args: &[&str]| {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        all.extend(["busybox", "grep", "CapEff", "/proc/self/status"]);
        lab.ok(&all)
    };
    assert!(eff(&["--cap-add", "net_admin"]).contains("00000000a00415fb"));
    assert!(eff(&["--cap-drop", "ALL"]).contains("0000000000000000"));
    let out = lab.line("run --rm --cap-add CAP_FLY busybox true");
    assert_one_line_error(&out, "unknown capability");
}

#[test]
fn net_raw_is_gone_yet_ping_reaches_the_bridge() {
    require_root!();
    let lab = Lab::new().with_busybox();
    helpers::install(&lab, "sysnr");
    // socket(AF_PACKET, SOCK_RAW, 0): how a container would forge ARP.
    let seen = lab.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "sysnr 41 17 3 0; /bin/ping -c 1 -W 5 172.16.0.1",
    ]);
    assert!(seen.starts_with("EPERM\n"), "a raw socket: {seen}");
    assert!(seen.contains("1 packets received"), "{seen}");
}

/// diyc run under `setpriv`, without CAP_SYS_MODULE in its bounding set
/// (so in none of its sets).
fn without_sys_module(lab: &Lab, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.arg("--bounding-set=-sys_module").arg(common::DIYC);
    cmd.arg("--root").arg(lab.root()).args(args);
    cmd.env("NO_COLOR", "1")
        .env("DIYC_CGROUP_PARENT", &lab.cgroup_parent)
        .stdin(Stdio::null())
        .output()
        .expect("setpriv (util-linux)")
}

#[test]
fn cap_add_all_is_what_diyc_holds_and_a_lacking_one_is_one_line() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let all = without_sys_module(
        &lab,
        &[
            "run",
            "--rm",
            "--net",
            "none",
            "--cap-add",
            "ALL",
            "busybox",
            "grep",
            "CapEff",
            "/proc/self/status",
        ],
    );
    assert_eq!(all.status.code(), Some(0), "{}", text(&all.stderr));
    // Every capability this test holds but SYS_MODULE (bit 16).
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let held = status
        .lines()
        .find_map(|l| l.strip_prefix("CapPrm:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .expect("CapPrm");
    let expected = format!("CapEff:\t{:016x}", held & !(1 << 16));
    assert!(
        text(&all.stdout).contains(&expected),
        "{}",
        text(&all.stdout)
    );
    let before = lab.host_state();
    let lacking = without_sys_module(
        &lab,
        &[
            "run",
            "--rm",
            "--net",
            "none",
            "--cap-add",
            "SYS_MODULE",
            "busybox",
            "true",
        ],
    );
    assert_one_line_error(&lacking, "diyc itself lacks CAP_SYS_MODULE");
    assert_eq!(lab.host_state(), before);
}

/// An image that is the busybox one with `path` replaced by a symlink.
fn image_with_symlink(lab: &Lab, name: &str, path: &str) {
    let rootfs = lab.image_rootfs(name);
    std::fs::create_dir_all(rootfs.parent().expect("image dir")).expect("image dir");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(lab.image_rootfs("busybox"))
        .arg(&rootfs)
        .status()
        .expect("cp");
    assert!(status.success());
    let target = rootfs.join(path);
    let _ = std::fs::remove_dir(&target);
    let _ = std::fs::remove_file(&target);
    std::os::unix::fs::symlink("/etc", &target).expect("symlink");
}

#[test]
fn refusals_are_one_line_exit_125_and_change_nothing() {
    require_root!();
    let lab = Lab::new().with_busybox();
    for (name, path) in [("symproc", "proc"), ("symsys", "sys"), ("symdev", "dev")] {
        image_with_symlink(&lab, name, path);
    }
    image_with_symlink(&lab, "symnull", "dev/null");
    let before = lab.host_state();
    let long = "h".repeat(65);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "--name", "c", "symproc", "true"],
            "/proc is a symlink",
        ),
        (
            vec!["run", "--name", "c", "symsys", "true"],
            "/sys is a symlink",
        ),
        (
            vec!["run", "--name", "c", "symdev", "true"],
            "/dev is a symlink",
        ),
        (
            vec!["run", "--name", "c", "symnull", "true"],
            "/dev/null is not a character device",
        ),
        (
            vec!["run", "--hostname", &long, "busybox", "true"],
            "invalid hostname",
        ),
        (
            vec!["run", "-w", "/../etc", "busybox", "true"],
            "without '..'",
        ),
        (vec!["run", "-w", "tmp", "busybox", "true"], "absolute path"),
        (
            vec!["run", "--cap-drop", "WIZARDRY", "busybox", "true"],
            "unknown capability",
        ),
        (
            vec!["rm", "no-such-container"],
            "no container named no-such-container",
        ),
    ];
    for (args, needle) in cases {
        assert_one_line_error(&lab.run(&args), needle);
        assert_eq!(lab.host_state(), before, "after {args:?}");
    }
    assert_eq!(
        lab.run(&["rm", "-f", "no-such-container"]).status.code(),
        Some(0)
    );
    let running = lab.start_sleeper("busy", false);
    assert_one_line_error(&lab.run(&["rm", "busy"]), "is running");
    assert!(lab.container_dir("busy").exists());
    drop(running);
    lab.ok(&["rm", "busy"]);
    assert_eq!(lab.host_state(), before);
}

#[test]
fn a_fault_at_any_step_is_undone_completely() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let before = lab.host_state();
    for step in diyc::fault::STEPS {
        let out = lab
            .cmd(&[
                "run", "--name", "faulty", "--mem", "64", "-p", "8080:80", "busybox", "true",
            ])
            .env("DIYC_FAULT", step)
            .stdin(Stdio::null())
            .output()
            .expect("diyc");
        assert_eq!(
            out.status.code(),
            Some(125),
            "{step}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(&format!("injected fault at {step}")),
            "{step}: {}",
            text(&out.stderr)
        );
        assert_eq!(lab.host_state(), before, "after a fault at {step}");
    }
}

#[test]
fn killed_at_random_moments_rm_f_leaves_the_host_as_it_was() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let before = lab.host_state();
    for round in 0..50 {
        let mut running = lab.spawn(&[
            "run", "--name", "victim", "--mem", "64", "-p", "8080:80", "busybox", "true",
        ]);
        // Not a synchronisation: the point is to land anywhere in the run.
        std::thread::sleep(std::time::Duration::from_micros(fastrand::u64(0..50_000)));
        running.kill_diyc();
        let out = lab.run(&["rm", "-f", "victim"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "round {round}: {}",
            text(&out.stderr)
        );
        assert_eq!(lab.host_state(), before, "after round {round}");
    }
}

#[test]
fn two_hundred_mixed_runs_leave_the_host_as_it_was() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let before = lab.host_state();
    for round in 0..200 {
        match round % 5 {
            0 => {
                lab.ok(&["run", "--rm", "-p", "8080:80", "busybox", "true"]);
            }
            1 => {
                let out = lab.run_sh("run --rm --pids 20 busybox", "exit 3");
                assert_eq!(out.status.code(), Some(3));
            }
            2 => {
                let out = lab.line("run --rm -w /nowhere busybox true");
                assert_eq!(out.status.code(), Some(125));
            }
            3 => {
                let out = lab.run_sh("run --rm --mem 16 busybox", "tail /dev/zero");
                assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
            }
            _ => {
                // Ctrl-C while the command runs: cat has no handler, so
                // diyc carries out the default action.
                let mut running = lab.spawn(&["run", "--rm", "--name", "ctrlc", "busybox", "cat"]);
                running.send("ping\n");
                running.wait_for_line("ping");
                nix::sys::signal::kill(running.pid(), nix::sys::signal::Signal::SIGINT)
                    .expect("kill");
                assert_eq!(running.wait().code(), Some(130));
            }
        }
    }
    assert_eq!(lab.host_state(), before);
}
