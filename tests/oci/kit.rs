#![allow(dead_code)]

//! A bundle of the test's own (a busybox root and a config.json shaped
//! like `runc spec`'s), and diyc-oci run against a state root of the
//! test's own, inside the test's network namespace (Lab).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::common::{DIYC, Lab, text};

pub struct Bundle {
    pub lab: Lab,
    pub dir: PathBuf,
    pub config: Value,
}

/// The applets the tests' commands use.
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "id", "sleep", "true", "hostname", "mount", "touch", "head",
];

impl Bundle {
    /// A bundle whose process runs `args`, with cgroupsPath `PARENT/id`
    /// below the lab's own parent.
    pub fn new(id: &str, args: &[&str]) -> Bundle {
        // The containers' first processes land on the test process once
        // each create exits, and it reaps them: no zombie is left.
        nix::sys::prctl::set_child_subreaper(true).expect("subreaper");
        let lab = Lab::new();
        let dir = lab.root().join("bundle");
        let bin = dir.join("rootfs/bin");
        std::fs::create_dir_all(&bin).expect("rootfs");
        std::fs::copy("/bin/busybox", bin.join("busybox")).expect("busybox (busybox-static)");
        for applet in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet link");
        }
        let link = lab.root().join("bin/diyc-oci");
        std::fs::create_dir_all(link.parent().expect("bin")).expect("bin dir");
        std::os::unix::fs::symlink(DIYC, &link).expect("diyc-oci link");
        let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        let config = json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": args,
                "env": ["PATH=/bin", "TERM=xterm"],
                "cwd": "/",
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                "noNewPrivileges": true
            },
            "root": {"path": "rootfs"},
            "hostname": "oci-test",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]}
            ],
            "linux": {
                "resources": {"devices": [{"allow": false, "access": "rwm"}]},
                "cgroupsPath": format!("{}/{id}", lab.cgroup_parent),
                "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
                "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
                "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
            }
        });
        let bundle = Bundle { lab, dir, config };
        bundle.save();
        bundle
    }

    /// Write config.json as it stands.
    pub fn save(&self) {
        let text = serde_json::to_string_pretty(&self.config).expect("json");
        std::fs::write(self.dir.join("config.json"), text).expect("config.json");
    }

    /// Set the value at `path` (dots between keys), making the objects
    /// on the way, and save.
    pub fn set(&mut self, path: &str, value: Value) {
        let mut at = &mut self.config;
        let keys: Vec<&str> = path.split('.').collect();
        for key in &keys[..keys.len() - 1] {
            if !at.get(*key).is_some_and(Value::is_object) {
                at[*key] = json!({});
            }
            at = &mut at[*key];
        }
        at[keys[keys.len() - 1]] = value;
        self.save();
    }

    pub fn state_root(&self) -> PathBuf {
        self.lab.root().join("state")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        // Without root no network is made, and the lab makes no namespace.
        if crate::common::is_root() {
            crate::common::lab::assert_off_the_hosts_network();
        }
        let mut cmd = Command::new(self.lab.root().join("bin/diyc-oci"));
        cmd.arg("--root").arg(self.state_root()).args(args);
        cmd.stdin(Stdio::null());
        cmd
    }

    pub fn oci(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("diyc-oci")
    }

    /// Run a verb that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.oci(args);
        assert!(
            out.status.success(),
            "diyc-oci {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `create` with the container's output going to `out`, which the
    /// test reads once the process has ended; its pid.
    pub fn create(&self, id: &str, out: &Path) -> i32 {
        let file = std::fs::File::create(out).expect("output file");
        let pid_file = self.lab.root().join(format!("{id}.pid"));
        let status = self
            .cmd(&["create", "--bundle"])
            .arg(&self.dir)
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(id)
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .status()
            .expect("create");
        assert!(
            status.success(),
            "create: {}",
            std::fs::read_to_string(out).unwrap_or_default()
        );
        let pid = std::fs::read_to_string(&pid_file).expect("the pid file");
        assert!(
            !pid.ends_with('\n'),
            "runc writes the digits alone: {pid:?}"
        );
        pid.parse().expect("a pid")
    }

    pub fn status(&self, id: &str) -> String {
        let state: Value = serde_json::from_str(&self.ok(&["state", id])).expect("state is JSON");
        state["status"].as_str().unwrap_or_default().to_string()
    }

    /// Reap the container's first process, now the test's child.
    pub fn reap(&self, pid: i32) -> nix::sys::wait::WaitStatus {
        nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None)
            .expect("reaping the container")
    }

    /// Nothing of the container's is left: no state, no cgroup.
    pub fn assert_gone(&self, id: &str) {
        assert!(
            !self.state_root().join(id).exists(),
            "its state directory is left"
        );
        for dir in self.lab.cgroup_parent_dirs() {
            assert!(
                !dir.join(id).exists(),
                "its cgroup is left: {}",
                dir.display()
            );
        }
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for dir in self.lab.cgroup_parent_dirs().iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The descriptor an engine's console socket receives: one message,
/// SCM_RIGHTS.
pub fn receive_fd(stream: &std::os::unix::net::UnixStream) -> std::os::fd::OwnedFd {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::{AsRawFd, FromRawFd, RawFd};
    let mut buf = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg");
    for cmsg in msg.cmsgs().expect("control messages") {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: the kernel installed this descriptor in this process
            // with the message; nothing else owns it.
            return unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("the console socket's message carried no descriptor")
}
