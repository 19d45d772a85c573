//! diyc as podman's OCI runtime: each scenario runs once under runc and
//! once under diyc (through its `diyc-oci` symlink), with the same podman,
//! store and image, and what podman showed must be the same. The image is
//! made locally (`podman import` of a busybox tree), so no registry is
//! needed; every podman command runs in the test's own network and mount
//! namespaces (tests/common/podman.rs). DIYC_OCI_UNDER_TEST=/usr/sbin/runc
//! points the diyc side at runc, to check the harness on its own.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::fmt::Debug;
use std::process::{Command, Stdio};

use common::podman::pty::OnPty;
use common::podman::{Engine, IMAGE, Runtime, Seen, busybox_tree_tar};
use common::wait_until;

/// podman with all of its state in the engine's directory, both runtimes
/// known by name, and the JSON error log asked of diyc as of runc.
struct Podman {
    engine: Engine,
}

impl Podman {
    fn new() -> Podman {
        let engine = Engine::new("diyc-podman-");
        let conf = format!(
            "[engine]\nruntime_supports_json = [\"runc\", \"diyc-oci\"]\n\
             image_copy_tmp_dir = \"{tmp}\"\n\
             [engine.runtimes]\nrunc = [\"/usr/sbin/runc\"]\ndiyc-oci = [\"{oci}\"]\n\
             [network]\nnetwork_backend = \"netavark\"\n",
            tmp = engine.path("tmp").display(),
            oci = engine.oci_symlink().display(),
        );
        std::fs::write(engine.path("containers.conf"), conf).expect("containers.conf");
        let podman = Podman { engine };
        let tar = podman.engine.path("busybox.tar");
        busybox_tree_tar(&tar);
        podman.ok(Runtime::Runc, &["import", &tar.to_string_lossy(), IMAGE]);
        podman
    }

    fn cmd(&self, runtime: Runtime, args: &[&str]) -> Command {
        let e = &self.engine;
        let mut cmd = e.ns.command("podman");
        cmd.arg("--root")
            .arg(e.path("store"))
            .arg("--runroot")
            .arg(e.path("run"))
            .arg("--tmpdir")
            .arg(e.path("tmp"))
            .arg("--network-config-dir")
            .arg(e.path("netconf"))
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(["--runtime", runtime.name()])
            .args(args)
            .env("CONTAINERS_CONF", e.path("containers.conf"))
            .env("TMPDIR", e.path("tmp"))
            .env_remove("CONTAINERS_STORAGE_CONF")
            .env_remove("NOTIFY_SOCKET");
        cmd
    }

    fn out(&self, runtime: Runtime, args: &[&str]) -> Seen {
        let out = self
            .cmd(runtime, args)
            .stdin(Stdio::null())
            .output()
            .expect("podman runs");
        Seen::of(&out)
    }

    fn ok(&self, runtime: Runtime, args: &[&str]) -> String {
        let seen = self.out(runtime, args);
        assert_eq!(
            seen.code,
            Some(0),
            "podman {args:?} under {runtime:?}: {seen:?}"
        );
        seen.stdout
    }

    /// `run OPTS IMAGE ARGS` with the flags every run here needs: no pull,
    /// the test's own cgroup parent (relative: below the test's cgroup),
    /// conmon left where it is, and fixed rlimits.
    fn run_args<'a>(&'a self, opts: &[&'a str], argv: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["run", "--pull", "never", "--cgroups=no-conmon"];
        args.extend(["--cgroup-parent", &self.engine.cgroup_parent]);
        args.extend([
            "--ulimit",
            "nofile=1024:4096",
            "--ulimit",
            "nproc=4096:4096",
        ]);
        args.extend(opts);
        args.push(IMAGE);
        args.extend(argv);
        args
    }

    fn run(&self, runtime: Runtime, opts: &[&str], argv: &[&str]) -> Seen {
        self.out(runtime, &self.run_args(opts, argv))
    }
}

impl Drop for Podman {
    /// Every scenario removes its containers; any left is removed here
    /// (and is a failure), then the namespaces and cgroups are checked.
    fn drop(&mut self) {
        let left = self.out(Runtime::Runc, &["ps", "-aq"]);
        let _ = self.out(Runtime::Runc, &["rm", "-af", "-t", "0"]);
        self.engine.finish();
        if !std::thread::panicking() {
            assert_eq!(left.stdout, "", "containers left behind");
        }
    }
}

/// Run `scenario` under runc, then under diyc, in one podman; both must
/// have seen the same. runc's observation is returned, for the test to
/// check it shows what the scenario is about.
fn both<T: PartialEq + Debug>(scenario: impl Fn(&Podman, Runtime) -> T) -> T {
    let podman = Podman::new();
    let runc = scenario(&podman, Runtime::Runc);
    let diyc = scenario(&podman, Runtime::Diyc);
    assert_eq!(diyc, runc, "under diyc (left) and under runc (right)");
    runc
}

/// The names of a container's network links (`eth0@if7` is eth0).
fn link_names(ip_o_link: &str) -> Vec<String> {
    ip_o_link
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

#[test]
fn run_rm_echo_prints_hi_under_both() {
    require_root!();
    let seen = both(|p, rt| p.run(rt, &["--rm"], &["echo", "hi"]));
    assert_eq!(
        (seen.code, seen.stdout.as_str()),
        (Some(0), "hi\n"),
        "{seen:?}"
    );
}

/// What a detached container showed to exec, logs, stop, kill and rm.
#[derive(Debug, PartialEq)]
struct Detached {
    exec: Seen,
    logs: String,
    stop: Seen,
    stopped_with: String,
    kill: Seen,
    killed_with: Seen,
    rm: Vec<Seen>,
    left: String,
}

#[test]
fn a_detached_container_answers_exec_logs_stop_kill_and_rm_under_both() {
    require_root!();
    let seen = both(|p, rt| {
        // PID 1 ignores SIGTERM unless it has a handler: this one ends
        // with 0 on it, so stop's exit code shows the signal arrived.
        let script = "trap 'exit 0' TERM; echo started; sleep 1000 & wait";
        let id = p.ok(
            rt,
            &p.run_args(&["-d", "--name", "web"], &["sh", "-c", script]),
        );
        let id = id.trim();
        assert!(
            id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        // conmon writes the log as it reads the container's output.
        wait_until("the container's first line is in its log", || {
            p.out(rt, &["logs", "web"]).stdout.contains("started")
        });
        let exec = p.out(rt, &["exec", "web", "sh", "-c", "echo from-exec; exit 3"]);
        let logs = p.ok(rt, &["logs", "web"]);
        let stop = p.out(rt, &["stop", "-t", "60", "web"]);
        let stopped_with = p.ok(rt, &["inspect", "--format", "{{.State.ExitCode}}", "web"]);
        p.ok(
            rt,
            &p.run_args(&["-d", "--name", "doomed"], &["sleep", "1000"]),
        );
        let kill = p.out(rt, &["kill", "doomed"]);
        let killed_with = p.out(rt, &["wait", "doomed"]);
        // One at a time: podman removes several in parallel, in any order.
        let rm = ["web", "doomed"].map(|c| p.out(rt, &["rm", c])).to_vec();
        let left = p.ok(rt, &["ps", "-a", "--format", "{{.Names}}"]);
        Detached {
            exec,
            logs,
            stop,
            stopped_with,
            kill,
            killed_with,
            rm,
            left,
        }
    });
    assert_eq!(
        seen.exec.code,
        Some(3),
        "exec's status passes through: {seen:?}"
    );
    assert_eq!(seen.exec.stdout, "from-exec\n");
    assert_eq!(seen.logs, "started\n");
    assert_eq!(
        (seen.stop.code, seen.stopped_with.trim()),
        (Some(0), "0"),
        "{seen:?}"
    );
    assert_eq!(seen.killed_with.stdout.trim(), "137", "{seen:?}");
    assert!(seen.rm.iter().all(|r| r.code == Some(0)), "{seen:?}");
    assert_eq!(seen.left, "", "nothing is left after rm");
}

#[test]
fn run_it_talks_through_the_console_socket_to_the_tests_terminal_under_both() {
    require_root!();
    let (tty, sum, code) = both(|p, rt| {
        let args = p.run_args(&["--rm", "-it"], &["sh"]);
        let mut term = OnPty::spawn(p.cmd(rt, &args));
        term.expect("# ");
        // The answer is not in what the terminal echoes of the line.
        term.send("tty; echo sum-$((6*7))\r");
        term.expect("sum-42");
        term.send("exit 5\r");
        let code = term.finish();
        let tty = term
            .seen
            .split(['\r', '\n'])
            .find(|l| l.starts_with("/dev/"))
            .map(str::to_string);
        (tty, term.seen.contains("sum-42\r\n"), code)
    });
    assert_eq!(
        tty.as_deref(),
        Some("/dev/pts/0"),
        "the container's own devpts"
    );
    assert!(sum, "the command's output came back through the terminal");
    assert_eq!(code, Some(5), "the shell's exit status");
}

#[test]
fn memory_32m_ends_in_an_oom_kill_under_both() {
    require_root!();
    let seen = both(|p, rt| {
        // dd's 100 MiB block is all touched: past the 32 MiB limit (and
        // the 64 MiB podman gives memory and swap together).
        let dd = ["dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1"];
        p.run(rt, &["--rm", "--memory", "32m"], &dd)
    });
    assert_eq!(seen.code, Some(137), "killed by SIGKILL: {seen:?}");
}

#[test]
fn pids_limit_10_makes_fork_fail_inside_under_both() {
    require_root!();
    let seen = both(|p, rt| {
        let script = "i=0; while [ $i -lt 20 ]; do sleep 1000 & i=$((i+1)); done; echo all-20";
        p.run(rt, &["--rm", "--pids-limit", "10"], &["sh", "-c", script])
    });
    assert!(seen.stderr.contains("can't fork"), "{seen:?}");
    assert!(!seen.stdout.contains("all-20"), "{seen:?}");
}

#[test]
fn network_none_leaves_only_lo_under_both() {
    require_root!();
    let links = both(|p, rt| {
        let seen = p.run(rt, &["--rm", "--network", "none"], &["ip", "-o", "link"]);
        (seen.code, link_names(&seen.stdout), seen.stderr)
    });
    assert_eq!(links, (Some(0), vec!["lo".to_string()], String::new()));
}

#[test]
fn the_default_network_gives_eth0_a_10_88_address_under_both() {
    require_root!();
    let seen = both(|p, rt| {
        let script = "ip -o link; echo --; ip -o -4 addr show eth0";
        let seen = p.run(rt, &["--rm"], &["sh", "-c", script]);
        let (links, addr) = seen.stdout.split_once("--\n").unwrap_or_default();
        // The address itself is the ipam's choice: its /16 is the point.
        let net = addr
            .split_whitespace()
            .find(|w| w.contains('/') && w.contains('.'))
            .map(|a| a.split('.').take(2).collect::<Vec<_>>().join("."));
        (seen.code, link_names(links), net, seen.stderr)
    });
    let links = vec!["lo".to_string(), "eth0".to_string()];
    let expected = (Some(0), links, Some("10.88".to_string()), String::new());
    assert_eq!(seen, expected);
}

#[test]
fn user_65534_runs_as_65534_under_both() {
    require_root!();
    let seen = both(|p, rt| {
        p.run(
            rt,
            &["--rm", "--user", "65534:65534"],
            &["sh", "-c", "id -u; id -g"],
        )
    });
    assert_eq!(
        (seen.code, seen.stdout.as_str()),
        (Some(0), "65534\n65534\n"),
        "{seen:?}"
    );
}

#[test]
fn a_volume_carries_a_file_written_inside_to_the_host_under_both() {
    require_root!();
    let (seen, on_host) = both(|p, rt| {
        let dir = p.engine.path(&format!("vol-{}", rt.name()));
        std::fs::create_dir(&dir).expect("the volume's directory");
        let volume = format!("{}:/data", dir.display());
        let script = "echo written-inside > /data/file";
        let seen = p.run(rt, &["--rm", "-v", &volume], &["sh", "-c", script]);
        (seen, std::fs::read_to_string(dir.join("file")).ok())
    });
    assert_eq!(seen.code, Some(0), "{seen:?}");
    assert_eq!(on_host.as_deref(), Some("written-inside\n"));
}

#[test]
fn a_read_only_volume_refuses_writes_with_erofs_under_both() {
    require_root!();
    let (seen, on_host) = both(|p, rt| {
        let dir = p.engine.path(&format!("ro-{}", rt.name()));
        std::fs::create_dir(&dir).expect("the volume's directory");
        let volume = format!("{}:/data:ro", dir.display());
        let script = "echo x > /data/file";
        let seen = p.run(rt, &["--rm", "-v", &volume], &["sh", "-c", script]);
        (seen, dir.join("file").exists())
    });
    assert!(seen.stderr.contains("Read-only file system"), "{seen:?}");
    assert_ne!(seen.code, Some(0));
    assert!(!on_host, "nothing reached the host's directory");
}
