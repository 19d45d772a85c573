//! Shared by the integration tests: the one visible gate for root-only
//! tests, a private state root per test, and a snapshot of the host that
//! each test compares before and after.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};

pub mod snapshot;
pub mod strace;

pub const DIYC: &str = env!("CARGO_BIN_EXE_diyc");

/// Root-only tests call this first. As non-root they are skipped with a
/// message; with CI=true a skip is a failure, so CI cannot pass by skipping.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::common::is_root() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("this test needs root and CI=true forbids skipping it");
            }
            eprintln!("skipped: this test needs root (run `sudo cargo test`)");
            return;
        }
    };
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The parts of the host a run could leave something in.
#[derive(Debug, PartialEq, Eq)]
pub struct HostSnapshot {
    mounts: Vec<String>,
    default_root: Option<Vec<String>>,
    /// Which trees have diyc's default cgroup parent: a test that forgot
    /// its own parent would make one next to the host's cgroups.
    default_cgroup_parent: Vec<bool>,
}

fn subdirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn listing(dir: &Path) -> Option<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Some(names)
}

impl HostSnapshot {
    pub fn take() -> Self {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut mounts: Vec<String> = mountinfo
            .lines()
            .map(|l| {
                // mount point, then everything after the separator
                let fields: Vec<&str> = l.split(' ').collect();
                let tail = l.split(" - ").nth(1).unwrap_or("");
                format!("{} {}", fields.get(4).unwrap_or(&""), tail)
            })
            .collect();
        mounts.sort();
        let default_cgroup_parent = diyc::stages::cgroups::Host::detect()
            .map(|h| h.parent_dirs("/diyc").iter().map(|d| d.exists()).collect())
            .unwrap_or_default();
        HostSnapshot {
            mounts,
            default_root: listing(Path::new("/var/lib/diyc")),
            default_cgroup_parent,
        }
    }
}

/// A test's own state root, removed at the end, with the host checked
/// against the snapshot taken at the start.
pub struct Lab {
    pub dir: tempfile::TempDir,
    before: HostSnapshot,
    /// This lab's own cgroup parent, relative: below the test process's
    /// cgroup in every tree, never next to the host's own cgroups.
    pub cgroup_parent: String,
}

/// Move the calling thread (each test has its own) into a network
/// namespace of its own, with lo up. Every diyc a test starts inherits it,
/// so bridges, veths and iptables rules are made there and never on the
/// host's own network; the namespace goes when the test's thread ends.
pub fn private_network() {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("a network namespace");
    sh(&["ip", "link", "set", "lo", "up"]);
}

/// Wait for something the kernel finishes on its own after diyc has exited
/// (a veth pair goes with its container's network namespace, a moment
/// later). The condition decides; the short pause between checks only
/// keeps the loop from spinning. Fails after ten seconds.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "still not true after 10 s: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Run a command that must succeed; its stdout.
pub fn sh(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    assert!(out.status.success(), "{argv:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

impl Lab {
    pub fn new() -> Lab {
        let before = HostSnapshot::take();
        private_network();
        let dir = tempfile::Builder::new()
            .prefix("diyc-test-")
            .tempdir()
            .expect("temporary state root");
        let suffix = dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let cgroup_parent = format!("{}-{}", suffix.unwrap_or_default(), std::process::id());
        Lab {
            dir,
            before,
            cgroup_parent,
        }
    }

    /// The directories of this lab's cgroup parent, in every tree.
    pub fn cgroup_parent_dirs(&self) -> Vec<PathBuf> {
        diyc::stages::cgroups::Host::detect()
            .expect("cgroups")
            .parent_dirs(&self.cgroup_parent)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn container_dir(&self, name: &str) -> PathBuf {
        self.root().join("containers").join(name)
    }

    pub fn image_rootfs(&self, name: &str) -> PathBuf {
        self.root().join("images").join(name).join("rootfs")
    }

    /// `diyc --root LAB ARGS...` with a predictable environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_in(self.root(), args)
    }

    /// The same, with another state root (for checking nothing is created).
    pub fn cmd_in(&self, root: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(DIYC);
        cmd.arg("--root").arg(root).args(args);
        cmd.env_remove("DIYC_ROOT")
            .env_remove("TERM")
            .env("NO_COLOR", "1")
            .env("DIYC_CGROUP_PARENT", &self.cgroup_parent);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("diyc runs")
    }

    /// Run diyc, insist it succeeded, and return what it printed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "diyc {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Start diyc with piped stdin and stdout, for tests that talk to the
    /// container while it runs.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("diyc starts");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Running {
            child: Some(child),
            stdin,
            stdout,
        }
    }

    /// A busybox container called `name` whose PID 1 is `sleep`, once it
    /// runs (it says so first).
    pub fn start_sleeper(&self, name: &str, remove: bool) -> Running {
        let mut args = vec!["run", "--name", name];
        if remove {
            args.push("--rm");
        }
        args.extend(["busybox", "sh", "-c", "echo ready; exec sleep 1000"]);
        let mut running = self.spawn(&args);
        running.wait_for_line("ready");
        running
    }

    /// Build the busybox image once, outside of what a test measures.
    /// That run also sets up the lab's bridge; its veth pair is waited out,
    /// so what a test sees of the network is its own.
    pub fn with_busybox(self) -> Lab {
        let out = self.run(&["run", "--rm", "busybox", "true"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "busybox image: {err}");
        wait_until("the first run's veth is gone", || {
            sh(&["ip", "-o", "link", "show", "type", "veth"]).is_empty()
        });
        self
    }

    /// Everything of the lab's host a run could leave something in: links
    /// and addresses, iptables rules (counters left out), the cgroups
    /// below the lab's parent, and the state directory (containers,
    /// images, leases), hidden entries included. Veth pairs the kernel is
    /// still taking down are waited out first.
    pub fn host_state(&self) -> String {
        wait_until("every veth pair is gone", || {
            sh(&["ip", "-o", "link", "show", "type", "veth"]).is_empty()
        });
        let mut parts = vec![
            sh(&["ip", "-o", "link"])
                .lines()
                .filter_map(|l| l.split(": ").nth(1))
                .collect::<Vec<_>>()
                .join(" "),
            sh(&["ip", "-o", "addr"])
                .lines()
                .map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("\n"),
            sh(&["iptables-save"])
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| l.split(" [").next().unwrap_or(l))
                .collect::<Vec<_>>()
                .join("\n"),
        ];
        for parent in self.cgroup_parent_dirs() {
            parts.push(format!("{}: {:?}", parent.display(), subdirs(&parent)));
        }
        // An empty directory of diyc's own state is no leftover.
        for dir in ["containers", "images", "net/leases"] {
            let entries = listing(&self.root().join(dir)).unwrap_or_default();
            parts.push(format!("{dir}: {entries:?}"));
        }
        parts.join("\n")
    }

    /// The host pid of a running container's first process.
    pub fn init_pid(&self, name: &str) -> i32 {
        let init =
            std::fs::read_to_string(self.container_dir(name).join("init.json")).expect("init.json");
        let init: serde_json::Value = serde_json::from_str(&init).expect("init.json is JSON");
        init["pid"].as_i64().expect("init pid") as i32
    }
}

impl Drop for Lab {
    /// The lab's cgroup parent must hold no container's cgroup any more;
    /// then it goes too, and the host must be as it was.
    fn drop(&mut self) {
        let mut leftovers = Vec::new();
        for parent in self.cgroup_parent_dirs() {
            if let Ok(entries) = std::fs::read_dir(&parent) {
                leftovers.extend(
                    entries
                        .flatten()
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path()),
                );
            }
            let _ = std::fs::remove_dir(&parent);
        }
        if std::thread::panicking() {
            return;
        }
        assert!(leftovers.is_empty(), "cgroups left behind: {leftovers:?}");
        let after = HostSnapshot::take();
        assert_eq!(self.before, after, "the host changed during the test");
    }
}

/// A diyc started in the background. Dropped before it was finished (a
/// failing test), it is sent SIGTERM and waited for, so its container is
/// cleaned up before the lab checks the host.
pub struct Running {
    child: Option<Child>,
    pub stdin: Option<ChildStdin>,
    pub stdout: BufReader<ChildStdout>,
}

impl Running {
    /// Block until the container prints `line`: the synchronisation point
    /// tests use instead of sleeping.
    pub fn wait_for_line(&mut self, line: &str) {
        let mut buf = String::new();
        loop {
            buf.clear();
            let n = self
                .stdout
                .read_line(&mut buf)
                .expect("reading the container");
            assert!(n > 0, "the container ended before printing {line:?}");
            if buf.trim_end() == line {
                return;
            }
        }
    }

    pub fn send(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(text.as_bytes())
            .expect("writing to the container");
        stdin.flush().expect("flush");
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("still running")
    }

    pub fn pid(&mut self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child().id() as i32)
    }

    /// SIGKILL diyc itself and reap it (its cleanup does not run).
    pub fn kill_diyc(&mut self) {
        self.child().kill().expect("SIGKILL diyc");
        self.child().wait().expect("reaped");
    }

    /// Wait for diyc to exit, leaving stdin as it is.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child().wait().expect("diyc exits")
    }

    pub fn finish(mut self) -> Output {
        self.close_stdin();
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stdout, &mut rest);
        let child = self.child.take().expect("still running");
        let mut out = child.wait_with_output().expect("diyc exits");
        out.stdout = rest.into_bytes();
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(None) = child.try_wait() {
                let pid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
                self.stdin.take();
                let _ = child.wait();
            }
        }
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A failed diyc prints exactly one line on stderr.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "expected one line, got: {err}");
    assert!(err.starts_with("diyc: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
}
