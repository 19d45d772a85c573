//! podman (and containerd) driving an OCI runtime, for the tests that run
//! one scenario under runc and under diyc and compare what was seen.
//!
//! Every engine command runs in a private network and mount namespace the
//! test made (a holder process, joined with nsenter), with tmpfs over the
//! host paths the engines write whatever their flags say: /run (netavark's
//! ipam.db, runc's state, /run/netns, the shim's sockets), /dev/shm
//! (podman's lock segment) and /var/lib/containers (its blob cache). Those
//! go with the namespace, so the host keeps only the test's temporary
//! directory and its cgroups, which the drop removes and checks.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use super::text;

mod ns;
pub mod pty;

pub use ns::{Namespaces, cgroup_dirs};
use ns::{cgroup_procs, remove_cgroup_tree};

/// The image every scenario runs: busybox and its applets, made locally.
pub const IMAGE: &str = "localhost/diyc-busybox:1";

/// What the "diyc" side runs: diyc's binary, or (to check the harness
/// before diyc has the OCI verbs) another runtime such as /usr/sbin/runc.
pub const UNDER_TEST: &str = "DIYC_OCI_UNDER_TEST";

/// The two runtimes a scenario runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Runc,
    Diyc,
}

impl Runtime {
    /// The name podman knows it by (containers.conf's [engine.runtimes]).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Diyc => "diyc-oci",
        }
    }
}

/// The binary behind the `diyc-oci` symlink.
pub fn diyc_under_test() -> PathBuf {
    std::env::var_os(UNDER_TEST)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(super::DIYC))
}

/// What a command showed: its exit status and what it printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Seen {
    pub fn of(out: &Output) -> Seen {
        Seen {
            code: out.status.code(),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
        }
    }
}

/// The host paths engines write by default, and the cache file and lock
/// segment podman updates whatever --root says: none may change.
fn host_marks() -> Vec<String> {
    marks_of(&["/run/containers", "/run/containerd", "/run/netns"])
}

/// How many entries each of `dirs` holds, and the times podman's cache
/// file and lock segment were last written.
pub fn marks_of(dirs: &[&str]) -> Vec<String> {
    let mut marks: Vec<String> = dirs
        .iter()
        .map(|p| format!("{p}: {:?}", std::fs::read_dir(p).map(|d| d.count()).ok()))
        .collect();
    for file in [
        "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
        "/dev/shm/libpod_lock",
    ] {
        let meta = std::fs::metadata(file).ok();
        marks.push(format!(
            "{file}: {:?}",
            meta.map(|m| (m.mtime(), m.mtime_nsec()))
        ));
    }
    marks
}

/// A test's engine: namespaces, a temporary directory for all of its
/// state, a cgroup parent of its own, and the checks when it goes.
pub struct Engine {
    pub dir: tempfile::TempDir,
    pub ns: Namespaces,
    pub cgroup_parent: String,
    marks: Vec<String>,
}

impl Engine {
    pub fn new(prefix: &str) -> Engine {
        let marks = host_marks();
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("a temporary directory");
        let name = dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let cgroup_parent = format!("{}-{}", name.unwrap_or_default(), std::process::id());
        let engine = Engine {
            ns: Namespaces::new(),
            dir,
            cgroup_parent,
            marks,
        };
        for sub in ["tmp", "bin"] {
            std::fs::create_dir_all(engine.path(sub)).expect("a directory");
        }
        std::os::unix::fs::symlink(diyc_under_test(), engine.path("bin/diyc-oci"))
            .expect("the diyc-oci symlink");
        engine
    }

    pub fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    pub fn oci_symlink(&self) -> PathBuf {
        self.path("bin/diyc-oci")
    }

    /// End the namespaces and remove the cgroups; everything that was
    /// still there is a failure (unless the test failed already).
    pub fn finish(&mut self) {
        let mut killed = self.ns.end();
        // A container's processes are in namespaces of their own, but in
        // the test's cgroups: whatever is still there was started here.
        let dirs = cgroup_dirs(&self.cgroup_parent);
        let mut procs: Vec<i32> = dirs.iter().flat_map(|d| cgroup_procs(d)).collect();
        procs.sort();
        procs.dedup();
        for pid in &procs {
            killed.push(format!("{pid} (in the test's cgroup)"));
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while dirs.iter().any(|d| !cgroup_procs(d).is_empty()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut cgroups = Vec::new();
        for dir in cgroup_dirs(&self.cgroup_parent) {
            cgroups.extend(remove_cgroup_tree(&dir, true));
        }
        let still: Vec<PathBuf> = cgroup_dirs(&self.cgroup_parent)
            .into_iter()
            .filter(|d| d.exists())
            .collect();
        if std::thread::panicking() {
            return;
        }
        assert!(killed.is_empty(), "processes left behind: {killed:?}");
        assert!(cgroups.is_empty(), "cgroups left behind: {cgroups:?}");
        assert!(still.is_empty(), "cgroup parent not removable: {still:?}");
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let ours = self.dir.path().to_string_lossy().into_owned();
        let leaked: Vec<&str> = mountinfo.lines().filter(|l| l.contains(&ours)).collect();
        assert!(leaked.is_empty(), "mounts on the host: {leaked:?}");
        assert_eq!(
            self.marks,
            host_marks(),
            "the engine wrote outside its directory"
        );
    }
}

/// A flat tar of a busybox tree: /bin/busybox (Debian's busybox-static)
/// with a link for every applet, and the directories a container needs.
pub fn busybox_tree_tar(path: &Path) {
    use super::archives::header;
    let list = super::sh(&["/usr/bin/busybox", "--list"]);
    let file = std::fs::File::create(path).expect("archive");
    let mut builder = tar::Builder::new(file);
    for (dir, mode) in [
        ("bin", 0o755),
        ("tmp", 0o1777),
        ("etc", 0o755),
        ("data", 0o755),
    ] {
        let mut h = header(tar::EntryType::Directory, 0, mode);
        builder
            .append_data(&mut h, format!("{dir}/"), std::io::empty())
            .expect("a directory");
    }
    builder
        .append_path_with_name("/usr/bin/busybox", "bin/busybox")
        .expect("/usr/bin/busybox (Debian's busybox-static) is installed");
    for applet in list.lines().filter(|a| *a != "busybox") {
        let mut link = header(tar::EntryType::Symlink, 0, 0o777);
        builder
            .append_link(&mut link, format!("bin/{applet}"), "busybox")
            .expect("applet link");
    }
    builder.finish().expect("finish");
}
