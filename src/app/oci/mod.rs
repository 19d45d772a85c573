//! The OCI runtime command line (src/cli/oci.rs): what podman's conmon
//! and containerd's shim call to run a container from a bundle. The same
//! stages and the same seam as `diyc run` make it; only who waits for the
//! container differs: the engine, once `create` has set it up and left.
//!
//! - config.rs, fields.rs, mounts.rs: a bundle's config.json, checked
//!   whole and read into what the stages take;
//! - create.rs: create and start;
//! - verbs.rs: state, kill, delete, pause, resume, ps, list, features;
//! - exec.rs: another process in a running container.
//!
//! Errors follow runc: exit status 1, the message on stderr, and with
//! `--log` also a line in that file, which engines read back.

mod check;
mod config;
mod create;
mod exec;
pub mod fields;
mod mounts;
mod resources;
mod verbs;

use std::path::{Path, PathBuf};

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::oci::{LogFormat, OciCli, Verb};
use crate::error::{Error, Result};
use crate::state::oci as records;

/// Where errors and notes go besides stderr.
pub struct Log {
    file: Option<PathBuf>,
    json: bool,
}

impl Log {
    fn line(&self, level: &str, text: &str) {
        let Some(file) = &self.file else {
            return;
        };
        let time = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let line = if self.json {
            serde_json::json!({"level": level, "msg": text, "time": time}).to_string()
        } else {
            format!("time={time:?} level={level} msg={text:?}")
        };
        let _ = records::append_log(file, &line);
    }

    /// A note for the log: a field diyc ignored, say.
    pub fn note(&self, text: &str) {
        self.line("warning", text);
    }
}

/// `diyc-oci ARGS` or `diyc oci ARGS`: `args` starts with the program's name.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let cli = match OciCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("diyc-oci: {}", first.trim_start_matches("error: "));
            return 1;
        }
    };
    let log = Log {
        file: cli.log.clone(),
        json: cli.log_format == LogFormat::Json,
    };
    let result = dispatch(&cli, &log);
    for warning in crate::warnings::take() {
        log.note(&warning);
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            let text = e.to_string();
            log.line("error", &text);
            eprintln!("{text}");
            1
        }
    }
}

fn dispatch(cli: &OciCli, log: &Log) -> Result<i32> {
    if cli.systemd_cgroup {
        return Err(Error::invalid(
            "--systemd-cgroup: diyc writes cgroups itself (cgroupfs) and never asks systemd; run the engine with its cgroupfs manager",
        ));
    }
    let root = match &cli.root {
        Some(root) => root.clone(),
        None => records::default_root()?,
    };
    match &cli.verb {
        Verb::Create {
            bundle,
            pid_file,
            console_socket,
            preserve_fds,
            id,
            ..
        } => {
            no_extra_fds(*preserve_fds)?;
            create::create(
                log,
                &root,
                create::Request {
                    bundle,
                    pid_file: pid_file.as_deref(),
                    console: console_socket.as_deref(),
                    id,
                },
            )
            .map(|()| 0)
        }
        Verb::Start { id } => create::start(&root, id).map(|()| 0),
        Verb::State { id } => verbs::state(&root, id).map(|()| 0),
        Verb::Kill { all, id, signal } => {
            verbs::kill(&root, id, signal.as_deref().unwrap_or("TERM"), *all).map(|()| 0)
        }
        Verb::Delete { force, id } => verbs::delete(&root, id, *force).map(|()| 0),
        Verb::Pause { id } => verbs::pause(&root, id, true).map(|()| 0),
        Verb::Resume { id } => verbs::pause(&root, id, false).map(|()| 0),
        Verb::Ps { format, id } => verbs::ps(&root, id, *format).map(|()| 0),
        Verb::List { format, quiet } => verbs::list(&root, *format, *quiet).map(|()| 0),
        Verb::Features => verbs::features().map(|()| 0),
        Verb::Exec {
            process,
            detach,
            pid_file,
            console_socket,
            tty,
            preserve_fds,
            id,
        } => {
            no_extra_fds(*preserve_fds)?;
            exec::exec(
                &root,
                exec::Request {
                    process,
                    detach: *detach,
                    pid_file: pid_file.as_deref(),
                    console: console_socket.as_deref(),
                    tty: *tty,
                    id,
                },
            )
        }
    }
}

fn no_extra_fds(n: u32) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    Err(Error::invalid(
        "--preserve-fds: diyc passes no descriptor but stdin, stdout and stderr into a container",
    ))
}

/// The container `id`'s directory, or the runc-style refusal.
fn existing(root: &Path, id: &str) -> Result<records::Dir> {
    records::Dir::open(root, id)?
        .ok_or_else(|| Error::invalid(format!("container {id} does not exist")))
}
