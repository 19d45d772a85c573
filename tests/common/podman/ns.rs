//! The namespaces every engine command runs in, and the cgroups a
//! runtime made for the test: found in every tree, emptied, removed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::text;

/// A shell in its own network and mount namespaces that every engine
/// command joins; it ends when its stdin closes.
pub struct Namespaces {
    holder: Child,
    stdin: Option<ChildStdin>,
    /// The mount namespace, to find every process still in it at the end.
    mnt: PathBuf,
}

const HOLDER: &str = "set -e; mount -t tmpfs -o mode=755 tmpfs /run; \
     mount -t tmpfs -o mode=1777 tmpfs /dev/shm; \
     mount -t tmpfs -o mode=700 tmpfs /var/lib/containers; \
     ip link set lo up; echo ready; read x";

impl Namespaces {
    pub fn new() -> Namespaces {
        let mut holder = Command::new("unshare")
            .args(["--net", "--mount", "--propagation", "private", "sh", "-c"])
            .arg(HOLDER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare starts");
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("holder's stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the holder says it is ready");
        assert_eq!(line, "ready\n", "the namespaces were not set up");
        let mnt = std::fs::read_link(format!("/proc/{}/ns/mnt", holder.id())).expect("mnt ns");
        let stdin = holder.stdin.take();
        Namespaces { holder, stdin, mnt }
    }

    /// `program` inside the namespaces, for a daemon: its pid is the
    /// program's own (nsenter execs it).
    pub fn daemon(&self, program: &str) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.holder.id().to_string())
            .args(["-n", "-m", program]);
        cmd
    }

    /// `program` inside the namespaces, killed after two minutes so a
    /// runtime that hangs fails the test instead of stalling it.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "10", "120", "nsenter", "-t"])
            .arg(self.holder.id().to_string())
            .args(["-n", "-m", program]);
        cmd
    }

    /// Processes still in the namespace (conmon, a container, a shim).
    fn processes(&self) -> Vec<i32> {
        std::fs::read_dir("/proc")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                    .filter(|pid| {
                        std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                            .ok()
                            .as_ref()
                            == Some(&self.mnt)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// End the holder, wait (with a deadline) for what is left in the
    /// namespace to exit on its own, then kill the rest by pid: they were
    /// all started by this test. Returns what had to be killed.
    pub fn end(&mut self) -> Vec<String> {
        drop(self.stdin.take());
        let _ = self.holder.wait();
        // podman's cleanup process may still be finishing: give it time,
        // unless the test failed already and a runtime may be stuck.
        let patience = if std::thread::panicking() { 0 } else { 20 };
        let deadline = Instant::now() + Duration::from_secs(patience);
        let mut left = self.processes();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            left = self.processes();
        }
        let named = left
            .iter()
            .map(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                format!("{pid}: {}", text(&cmdline).replace('\0', " "))
            })
            .collect();
        for pid in left {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        named
    }
}

/// The directory `name` below this process's own cgroup, in every tree
/// mounted (v1 controllers, name=systemd and the unified tree): where a
/// runtime puts a relative cgroupsPath.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut dirs = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = left.split(' ').collect();
        let tail: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(point), Some(kind)) = (fields.get(3), fields.get(4), tail.first())
        else {
            continue;
        };
        let options: Vec<&str> = tail.get(2).unwrap_or(&"").split(',').collect();
        let path = own.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let matches = match *kind {
                "cgroup2" => controllers.is_empty(),
                "cgroup" => {
                    !controllers.is_empty() && controllers.split(',').all(|c| options.contains(&c))
                }
                _ => false,
            };
            matches.then_some(path)
        });
        if let Some(path) = path {
            let inside = path
                .strip_prefix(root)
                .unwrap_or(path)
                .trim_start_matches('/');
            dirs.push(Path::new(point).join(inside).join(name));
        }
    }
    dirs
}

/// The processes in `dir` and every cgroup below it.
pub fn cgroup_procs(dir: &Path) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                pids.extend(cgroup_procs(&e.path()));
            }
        }
    }
    pids
}

/// Remove `dir` and every cgroup below it, deepest first; the ones that
/// held something but the parent itself are returned.
pub fn remove_cgroup_tree(dir: &Path, top: bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                found.extend(remove_cgroup_tree(&e.path(), false));
            }
        }
    }
    if dir.exists() {
        if !top {
            found.push(dir.to_path_buf());
        }
        let _ = std::fs::remove_dir(dir);
    }
    found
}
