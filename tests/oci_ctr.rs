//! diyc as containerd's runtime: a containerd of the test's own (every
//! path under a temporary directory, the CRI and unneeded snapshotters
//! off) imports a docker-archive of busybox, and `ctr run` runs the same
//! containers with `--runc-binary` pointing at runc and at diyc's
//! `diyc-oci` symlink; what ctr showed must be the same. The daemon and
//! its shims run in the test's own namespaces (tests/common/podman/), so
//! the shim's socket under /run/containerd never reaches the host's /run.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::podman::{Engine, IMAGE, Runtime, Seen, busybox_tree_tar};
use common::wait_until;
use sha2::Digest;

const NAMESPACE: &str = "diyc-test";

/// A running containerd with its config, state and sockets in the
/// engine's directory.
struct Containerd {
    engine: Engine,
    daemon: Option<Child>,
}

impl Containerd {
    fn start() -> Containerd {
        let engine = Engine::new("diyc-ctr-");
        let path = |p: &str| engine.path(p).display().to_string();
        let config = format!(
            "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.internal.v1.opt\", \
             \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", \
             \"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.aufs\"]\n\
             [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n\
             [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
            root = path("root"),
            state = path("state"),
            sock = path("containerd.sock"),
        );
        std::fs::write(engine.path("config.toml"), config).expect("config.toml");
        let log = std::fs::File::create(engine.path("containerd.log")).expect("log");
        let daemon = engine
            .ns
            .daemon("containerd")
            .arg("--config")
            .arg(engine.path("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("containerd starts");
        let ctrd = Containerd {
            engine,
            daemon: Some(daemon),
        };
        wait_until("containerd answers on its socket", || {
            ctrd.ctr(&["version"]).code == Some(0)
        });
        ctrd
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.engine.ns.command("ctr");
        cmd.arg("--address")
            .arg(self.engine.path("containerd.sock"))
            .args(["--namespace", NAMESPACE])
            .args(args);
        cmd
    }

    fn ctr(&self, args: &[&str]) -> Seen {
        let out = self
            .cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("ctr runs");
        Seen::of(&out)
    }

    fn binary(&self, runtime: Runtime) -> PathBuf {
        match runtime {
            Runtime::Runc => PathBuf::from("/usr/sbin/runc"),
            Runtime::Diyc => self.engine.oci_symlink(),
        }
    }

    /// `ctr run --rm` of ARGV in a container called ID, with the runtime's
    /// state under the engine's directory and a cgroup below the test's.
    fn run(&self, runtime: Runtime, id: &str, argv: &[&str]) -> Seen {
        let binary = self.binary(runtime).display().to_string();
        let runc_root = self.engine.path("runc").display().to_string();
        let fifos = self.engine.path("fifo").display().to_string();
        let cgroup = format!("{}/{id}", self.engine.cgroup_parent);
        let mut args = vec!["run", "--rm", "--runc-binary", &binary];
        args.extend(["--runc-root", &runc_root, "--fifo-dir", &fifos]);
        args.extend(["--cgroup", &cgroup, IMAGE, id]);
        args.extend(argv);
        self.ctr(&args)
    }

    /// Stop the daemon by its pid (SIGTERM, as an init would) and wait.
    fn stop(&mut self) -> Option<i32> {
        let mut daemon = self.daemon.take()?;
        let pid = nix::unistd::Pid::from_raw(daemon.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        daemon.wait().expect("containerd exits").code()
    }
}

impl Drop for Containerd {
    /// Nothing of the test's may be left: no container or task, the
    /// daemon stopped cleanly, then the namespaces, shims and cgroups.
    fn drop(&mut self) {
        let containers = self.ctr(&["containers", "list", "-q"]);
        let tasks = self.ctr(&["tasks", "list", "-q"]);
        let stopped = self.stop();
        self.engine.finish();
        if !std::thread::panicking() {
            assert_eq!(containers.stdout, "", "containers left behind");
            assert_eq!(tasks.stdout, "", "tasks left behind");
            assert_eq!(stopped, Some(0), "containerd's exit");
        }
    }
}

fn sha256(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The busybox tree as a docker-archive (what `podman save --format
/// docker-archive` writes, made here so that no podman touches its
/// global blob cache): manifest.json, the config and one layer.
fn docker_archive(dir: &Path) -> PathBuf {
    let layer_path = dir.join("layer.tar");
    busybox_tree_tar(&layer_path);
    let layer = std::fs::read(&layer_path).expect("the layer");
    let layer_sha = sha256(&layer);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_sha}")]},
    })
    .to_string();
    let config_name = format!("{}.json", sha256(config.as_bytes()));
    let layer_name = format!("{layer_sha}/layer.tar");
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": [IMAGE],
        "Layers": [layer_name],
    }])
    .to_string();
    let archive = dir.join("busybox-docker.tar");
    let file = std::fs::File::create(&archive).expect("archive");
    let mut builder = tar::Builder::new(file);
    for (name, data) in [
        ("manifest.json", manifest.as_bytes()),
        (config_name.as_str(), config.as_bytes()),
        (layer_name.as_str(), &layer[..]),
    ] {
        let mut h = common::archives::header(tar::EntryType::Regular, data.len() as u64, 0o644);
        builder.append_data(&mut h, name, data).expect("append");
    }
    builder.finish().expect("finish");
    archive
}

/// A containerd with the busybox image imported.
fn containerd_with_busybox() -> Containerd {
    let ctrd = Containerd::start();
    let archive = docker_archive(ctrd.engine.dir.path());
    let import = ctrd.ctr(&["image", "import", &archive.to_string_lossy()]);
    assert_eq!(import.code, Some(0), "ctr image import: {import:?}");
    ctrd
}

/// Run `scenario` under runc, then under diyc, in one containerd; both
/// must have seen the same. runc's observation is returned.
fn both(scenario: impl Fn(&Containerd, Runtime) -> Seen) -> Seen {
    let ctrd = containerd_with_busybox();
    let runc = scenario(&ctrd, Runtime::Runc);
    let diyc = scenario(&ctrd, Runtime::Diyc);
    assert_eq!(diyc, runc, "under diyc (left) and under runc (right)");
    runc
}

#[test]
fn ctr_run_rm_echo_prints_hi_under_both() {
    require_root!();
    let seen = both(|c, rt| c.run(rt, &format!("echo-{}", rt.name()), &["echo", "hi"]));
    assert_eq!(
        (seen.code, seen.stdout.as_str()),
        (Some(0), "hi\n"),
        "{seen:?}"
    );
}

#[test]
fn ctr_run_passes_the_exit_status_through_under_both() {
    require_root!();
    let seen = both(|c, rt| {
        let script = "echo bye; exit 5";
        c.run(rt, &format!("exit-{}", rt.name()), &["sh", "-c", script])
    });
    assert_eq!(
        (seen.code, seen.stdout.as_str()),
        (Some(5), "bye\n"),
        "{seen:?}"
    );
}
