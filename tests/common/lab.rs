//! A test's own state root, network namespace and cgroup parent, and the
//! host it must leave as it found it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{DIYC, Running, sh, text, wait_until};

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

/// The guard every diyc a test starts passes first: this thread is no
/// longer in the network namespace the test process started in (its main
/// thread's, the host's), so nothing diyc sets up reaches the host's own
/// network.
pub fn assert_off_the_hosts_network() {
    let ours = std::fs::read_link("/proc/thread-self/ns/net").expect("own namespace");
    let hosts = std::fs::read_link("/proc/self/ns/net").expect("the process's namespace");
    assert_ne!(ours, hosts, "this test thread is on the host's network");
}

impl Lab {
    pub fn new() -> Lab {
        let before = HostSnapshot::take();
        // Without root no test can make a network, and none tries.
        if super::is_root() {
            private_network();
        }
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

    /// The files of an image: the built-in's own directory, or the top
    /// layer of an imported one (the only one, for a flat tar).
    pub fn image_rootfs(&self, name: &str) -> PathBuf {
        let dir = self.root().join("images").join(name);
        // The built-in, or one a test is about to make by hand.
        if !dir.join("image.json").is_file() || dir.join("rootfs").is_dir() {
            return dir.join("rootfs");
        }
        let info: serde_json::Value = std::fs::read(dir.join("image.json"))
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default();
        let top = info["layers"]
            .as_array()
            .and_then(|l| l.last())
            .and_then(|l| l.as_str())
            .unwrap_or("none");
        self.root().join("layers").join(top).join("fs")
    }

    /// What the image and layer stores hold, but their lock files.
    pub fn stored(&self) -> Vec<String> {
        ["images", "layers"]
            .iter()
            .flat_map(|d| {
                std::fs::read_dir(self.root().join(d))
                    .map(|e| {
                        e.flatten()
                            .map(|e| format!("{d}/{}", e.file_name().to_string_lossy()))
                            .filter(|n| !n.ends_with("lock"))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect()
    }

    /// `diyc --root LAB ARGS...` with a predictable environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_in(self.root(), args)
    }

    /// The same, with another state root (for checking nothing is created).
    pub fn cmd_in(&self, root: &Path, args: &[&str]) -> Command {
        self.cmd_of(Path::new(DIYC), root, args)
    }

    /// The same, run from another diyc binary (a copy, for attacks on it).
    pub fn cmd_of(&self, binary: &Path, root: &Path, args: &[&str]) -> Command {
        if super::is_root() {
            assert_off_the_hosts_network();
        }
        let mut cmd = Command::new(binary);
        cmd.arg("--root").arg(root).args(args);
        // The user lesson maps root to whoever ran sudo: without it, the
        // overflow id, the same on every machine.
        cmd.env_remove("DIYC_ROOT")
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .env_remove("TERM")
            .env("NO_COLOR", "1")
            .env("DIYC_CGROUP_PARENT", &self.cgroup_parent);
        cmd
    }

    /// `diyc ARGS` started by `wrapper` (`unshare --net`, say) through a
    /// shell that first runs `setup`, with the same environment.
    pub fn output_under(&self, wrapper: &[&str], setup: &str, args: &[&str]) -> Output {
        let diyc = self.cmd(args);
        let mut cmd = Command::new(wrapper[0]);
        cmd.args(&wrapper[1..])
            .args(["sh", "-c"])
            .arg(format!("{setup} && exec \"$0\" \"$@\""))
            .arg(diyc.get_program())
            .args(diyc.get_args());
        for (key, value) in diyc.get_envs() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd.stdin(Stdio::null()).output().expect("the wrapper runs")
    }

    /// `run --rm --net none --explain OPTS busybox true`, which must
    /// succeed: its explanation.
    pub fn explained(&self, opts: &[&str]) -> String {
        let mut args = vec!["run", "--rm", "--net", "none", "--explain"];
        args.extend_from_slice(opts);
        args.extend(["busybox", "true"]);
        let out = self.run(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        err
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("diyc runs")
    }

    /// Run `command` with `input` on its stdin, closed after it.
    pub fn feed(command: &mut Command, input: &str) -> Output {
        use std::io::Write;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("it starts");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(input.as_bytes())
            .expect("the input is written");
        drop(stdin);
        child.wait_with_output().expect("it exits")
    }

    /// `diyc WORDS`, the words split at spaces: `lab.line("run --rm busybox true")`.
    pub fn line(&self, words: &str) -> Output {
        self.run(&words.split_whitespace().collect::<Vec<_>>())
    }

    /// `diyc WORDS sh -c SCRIPT`: a shell script in a container.
    pub fn run_sh(&self, words: &str, script: &str) -> Output {
        let mut args: Vec<&str> = words.split_whitespace().collect();
        args.extend(["sh", "-c", script]);
        self.run(&args)
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
        let child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("diyc starts");
        Running::new(child)
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

    /// The busybox image made without touching the network, so that a
    /// test's own first bridge setup is what it shows.
    pub fn with_image(self) -> Lab {
        self.ok(&["run", "--rm", "--net", "none", "busybox", "true"]);
        self
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
