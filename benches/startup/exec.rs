//! The exec line: a command in a running container, by `diyc exec` and by
//! nsenter(1) into the same namespaces (nsenter joins no cgroup and drops
//! no capability, so it is the floor diyc's extra work is measured from).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Contender, timed};

const NAME: &str = "bench-exec";

/// A detached container to exec into, removed however the benchmark ends.
pub struct Target {
    diyc: PathBuf,
    root: PathBuf,
    pub pid: i64,
}

impl Target {
    pub fn start(diyc: &Path, root: &Path, cgroup_parent: &str) -> Result<Target, String> {
        timed(Command::new(diyc).arg("--root").arg(root).args([
            "run",
            "-d",
            "--name",
            NAME,
            "--cgroup-parent",
            cgroup_parent,
            "--net",
            "none",
            "busybox",
            "sleep",
            "1000000",
        ]))?;
        // Made first, so the container goes if reading its pid fails.
        let mut target = Target {
            diyc: diyc.to_path_buf(),
            root: root.to_path_buf(),
            pid: 0,
        };
        let init = root.join("containers").join(NAME).join("init.json");
        let text = std::fs::read_to_string(&init)
            .map_err(|e| format!("reading {}: {e}", init.display()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", init.display()))?;
        target.pid = value["pid"].as_i64().ok_or("init.json has no pid")?;
        Ok(target)
    }

    /// `diyc exec` and nsenter, each running /bin/true inside.
    pub fn contenders(&self) -> Vec<Contender<'static>> {
        let diyc = self.diyc.clone();
        let exec_args: Vec<OsString> = vec![
            "--root".into(),
            self.root.clone().into(),
            "exec".into(),
            NAME.into(),
            "/bin/true".into(),
        ];
        let pid = self.pid.to_string();
        vec![
            Contender {
                label: "diyc exec",
                run: Box::new(move |_| timed(Command::new(&diyc).args(&exec_args))),
                times: Vec::new(),
            },
            Contender {
                label: "nsenter -t PID -m -u -i -n -p",
                run: Box::new(move |_| {
                    timed(
                        Command::new("nsenter")
                            .args(["-t", &pid, "-m", "-u", "-i", "-n", "-p"])
                            .arg("/bin/true"),
                    )
                }),
                times: Vec::new(),
            },
        ]
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = Command::new(&self.diyc)
            .arg("--root")
            .arg(&self.root)
            .args(["rm", "-f", NAME])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
