//! Running `diyc doctor --json` with one condition of the host flipped:
//! in a namespace of its own (a private mount namespace with a file or a
//! directory put over the real one, a new network or user namespace), as
//! an ordinary user made for the test, with another PATH, or under a
//! seccomp filter that refuses one system call.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{DIYC, Lab, text};

/// How one doctor run is made.
#[derive(Default)]
pub struct Doctor {
    /// The command the shell runs under (`unshare -m`, say).
    wrapper: Vec<String>,
    /// Shell lines run first, as root, inside the wrapper.
    setup: Vec<String>,
    /// Run doctor as this user (through setpriv).
    user: Option<String>,
    path: Option<String>,
    env: Vec<(String, String)>,
    /// A system call refused with this errno.
    refuse: Option<(i64, i32)>,
    text: bool,
}

/// What a run printed, its exit status, and the report.
pub struct Ran {
    pub out: Output,
    pub report: Value,
}

impl Doctor {
    pub fn new() -> Doctor {
        Doctor::default()
    }

    pub fn under(mut self, wrapper: &[&str]) -> Doctor {
        self.wrapper = wrapper.iter().map(|w| w.to_string()).collect();
        self
    }

    pub fn setup(mut self, line: impl Into<String>) -> Doctor {
        self.setup.push(line.into());
        self
    }

    pub fn by(mut self, user: &TestUser) -> Doctor {
        self.user = Some(user.name.clone());
        self
    }

    pub fn path(mut self, path: impl Into<String>) -> Doctor {
        self.path = Some(path.into());
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Doctor {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn refusing(mut self, syscall: i64, errno: i32) -> Doctor {
        self.refuse = Some((syscall, errno));
        self
    }

    /// The table instead of --json.
    pub fn table(mut self) -> Doctor {
        self.text = true;
        self
    }

    fn command(&self, lab: &Lab) -> Command {
        let args: &[&str] = if self.text {
            &["doctor"]
        } else {
            &["doctor", "--json"]
        };
        let diyc = lab.cmd(args);
        let mut script = vec!["set -e".to_string()];
        script.extend(self.setup.iter().cloned());
        if let Some(path) = &self.path {
            script.push(format!("export PATH='{path}'"));
        }
        let setpriv = match &self.user {
            Some(u) => format!("/usr/bin/setpriv --reuid {u} --regid {u} --init-groups "),
            None => String::new(),
        };
        script.push(format!("exec {setpriv}\"$0\" \"$@\""));
        let mut cmd = match self.wrapper.split_first() {
            Some((first, rest)) => {
                let mut cmd = Command::new(first);
                cmd.args(rest);
                cmd.arg("/bin/sh");
                cmd
            }
            None => Command::new("/bin/sh"),
        };
        cmd.arg("-c").arg(script.join("\n")).arg(DIYC);
        cmd.args(diyc.get_args());
        for (key, value) in diyc.get_envs() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd.env_remove("DIYC_BUSYBOX");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some((nr, errno)) = self.refuse {
            refuse(&mut cmd, nr, errno);
        }
        cmd
    }

    /// Run it: the report, checked against docs/doctor.schema.json, and
    /// its `ok` against the exit status.
    pub fn run(&self, lab: &Lab) -> Ran {
        let out = self
            .command(lab)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("doctor did not start: {e}"));
        if self.text {
            return Ran {
                out,
                report: Value::Null,
            };
        }
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not one JSON document ({e}): {}\nstderr: {}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        assert_matches_schema(&report);
        let expected = if report["ok"] == true { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(expected), "{report:#}");
        Ran { out, report }
    }
}

pub fn schema() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(include_str!("../../docs/doctor.schema.json"))
        .unwrap_or_else(|e| panic!("the schema is not JSON: {e}"));
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("not a JSON Schema: {e}"))
}

pub fn assert_matches_schema(report: &Value) {
    let errors: Vec<String> = schema()
        .iter_errors(report)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{report:#} breaks the schema: {errors:?}"
    );
}

impl Ran {
    pub fn check(&self, id: &str) -> &Value {
        self.report["checks"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["id"] == id))
            .unwrap_or_else(|| panic!("no check {id} in {:#}", self.report))
    }

    pub fn verdict(&self, id: &str) -> &str {
        self.check(id)["verdict"].as_str().unwrap_or_default()
    }

    pub fn found(&self, id: &str) -> &str {
        self.check(id)["found"].as_str().unwrap_or_default()
    }

    pub fn fix(&self, id: &str) -> &str {
        self.check(id)["fix"].as_str().unwrap_or_default()
    }

    pub fn breaks(&self, id: &str) -> String {
        let list = self.check(id)["breaks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        list.iter()
            .filter_map(|b| b.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    /// The check, for an assertion's message.
    pub fn show(&self, id: &str) -> String {
        format!("{:#}", self.check(id))
    }
}

/// Refuse system call `nr` with `errno` in the command and everything it
/// starts: a seccomp filter of four instructions, loaded between fork and
/// exec.
fn refuse(cmd: &mut Command, nr: i64, errno: i32) {
    use std::os::unix::process::CommandExt;
    const LOAD_NR: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JUMP_IF_EQUAL: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    const RET_ERRNO: u32 = 0x0005_0000;
    const RET_ALLOW: u32 = 0x7fff_0000;
    let nr = nr as u32;
    let errno = errno as u32;
    // SAFETY: between fork and exec only prctl and seccomp are called, on
    // a filter built on the stack: nothing allocates or takes a lock.
    unsafe {
        cmd.pre_exec(move || {
            let filter = [
                libc::sock_filter {
                    code: LOAD_NR,
                    jt: 0,
                    jf: 0,
                    k: 0,
                },
                libc::sock_filter {
                    code: JUMP_IF_EQUAL,
                    jt: 0,
                    jf: 1,
                    k: nr,
                },
                libc::sock_filter {
                    code: RETURN,
                    jt: 0,
                    jf: 0,
                    k: RET_ERRNO | errno,
                },
                libc::sock_filter {
                    code: RETURN,
                    jt: 0,
                    jf: 0,
                    k: RET_ALLOW,
                },
            ];
            let program = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::syscall(libc::SYS_seccomp, 1, 0, &program as *const libc::sock_fprog) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

pub use crate::common::user::TestUser;

/// A directory removed at the end of the test, for cgroups (rmdir, not
/// a recursive removal: a cgroup's files go with it).
pub struct CgroupDir(pub PathBuf);

impl Drop for CgroupDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
