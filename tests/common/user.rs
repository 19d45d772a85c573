//! An ordinary user of the test's own, for running diyc without root:
//! made with useradd, given subordinate id ranges when the test asks, and
//! removed with its home, its ranges and every process it still has when
//! the guard is dropped, even after a failed assertion.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use super::DIYC;

pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// The first subordinate id, when the user has a range.
    pub subid: Option<u32>,
}

/// How many ids a test user's range holds, as useradd gives by default.
pub const RANGE: u32 = 65536;

/// useradd, usermod and userdel lock /etc/passwd; two at once make one fail.
static USERS: Mutex<()> = Mutex::new(());
static MADE: AtomicU32 = AtomicU32::new(0);

fn must(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Let every user read what the test made in `dir`: a test user runs
/// from it.
pub fn readable(dir: &Path) {
    let path = dir.to_str().expect("utf-8");
    must(Command::new("chmod").args(["-R", "a+rX", path]));
}

impl TestUser {
    /// A new system user with a home under /tmp, and with `ranges` a block
    /// of subordinate uids and gids of its own.
    pub fn new(ranges: bool) -> TestUser {
        let _lock = USERS.lock().unwrap_or_else(|e| e.into_inner());
        let n = MADE.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{:x}-{n}", std::process::id());
        let name = format!("diyc-t-{tag}");
        let home = PathBuf::from(format!("/tmp/diyc-home-{tag}"));
        must(
            Command::new("useradd")
                .args([
                    "--system",
                    "--create-home",
                    "--shell",
                    "/bin/sh",
                    "--home-dir",
                ])
                .arg(&home)
                .arg(&name),
        );
        let id = |flag: &str| -> u32 {
            let out = Command::new("id")
                .arg(flag)
                .arg(&name)
                .output()
                .expect("id");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("a numeric id")
        };
        let (uid, gid) = (id("-u"), id("-g"));
        let mut user = TestUser {
            name,
            uid,
            gid,
            home,
            subid: None,
        };
        if ranges {
            // A block far above useradd's own (100000 and up), one per
            // user of this test process, and apart from other processes'.
            let start = 1_000_000_000 + (std::process::id() % 4096) * 8 * RANGE + n % 8 * RANGE;
            let range = format!("{start}-{}", start + RANGE - 1);
            must(
                Command::new("usermod")
                    .args(["--add-subuids", &range, "--add-subgids", &range])
                    .arg(&user.name),
            );
            user.subid = Some(start);
        }
        user
    }

    /// `diyc ARGS` as this user, with its own home and a clean environment
    /// (no DIYC_ROOT: its state goes where diyc puts a user's).
    pub fn diyc(&self, args: &[&str]) -> Command {
        self.diyc_of(Path::new(DIYC), args)
    }

    /// The same, run from another binary (a copy the user may execute).
    pub fn diyc_of(&self, binary: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("/usr/bin/setpriv");
        cmd.args([
            "--reuid",
            &self.uid.to_string(),
            "--regid",
            &self.gid.to_string(),
            "--init-groups",
            "--",
        ])
        .arg(binary)
        .args(args)
        .current_dir("/")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", &self.home)
        .env("USER", &self.name)
        .env("NO_COLOR", "1");
        cmd
    }

    /// Run `diyc ARGS` as this user.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.diyc(args);
        cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
    }

    /// `diyc ARGS` as this user, which must succeed: its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "diyc {args:?} as {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Nothing of the user's left: no container directory, and no process
    /// but the zombies of daemons whose new parent never reaps them.
    pub fn assert_nothing_left(&self) {
        assert_eq!(
            self.leftovers(),
            Vec::<String>::new(),
            "container files left"
        );
        let alive: Vec<i32> = self
            .processes()
            .into_iter()
            .filter(|pid| {
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
                !stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .collect();
        assert_eq!(alive, Vec::<i32>::new(), "processes of {} left", self.name);
    }

    /// Where diyc keeps this user's state.
    pub fn state_root(&self) -> PathBuf {
        self.home.join(".local/share/diyc")
    }

    /// Every file under the user's home but the state root's own empty
    /// directories and locks: what a test checks is gone at its end.
    pub fn leftovers(&self) -> Vec<String> {
        let out = Command::new("find")
            .arg(self.state_root().join("containers"))
            .args(["-mindepth", "1", "-not", "-name", ".lock"])
            .output()
            .expect("find");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    /// The pids of the processes this user has, and those of its
    /// containers running as its subordinate ids.
    pub fn processes(&self) -> Vec<i32> {
        use std::os::unix::fs::MetadataExt;
        std::fs::read_dir("/proc")
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                        let uid = e.metadata().ok()?.uid();
                        let sub = self.subid.is_some_and(|s| (s..s + RANGE).contains(&uid));
                        (uid == self.uid || sub).then_some(pid)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // Its containers' processes are its own: ended by pid, then it goes.
        for pid in self.processes() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let lock = USERS.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("userdel").arg("-r").arg(&self.name).output();
        drop(lock);
        // Files its containers gave other owners are not the user's.
        let _ = std::fs::remove_dir_all(&self.home);
    }
}
