//! Without root: a network through pasta (Debian's package passt), a
//! program of the user's that joins the container's user and network
//! namespaces, gives the container an interface like the host's (its
//! address, its gateway), and carries every connection the container
//! makes out through ordinary sockets of its own on the host. No bridge,
//! veth or firewall rule is made: the host sees only a process of the
//! user's, which is why no root is needed. `-p HOST:CONTAINER` becomes a
//! socket pasta listens on, on the host's port, passing what comes in to
//! the container's.
//!
//! pasta puts itself in the background once the namespace is configured,
//! writing its pid to a file in the container's directory; the undo step
//! (and after a killed diyc, the reclaim) ends it by that pid.

use crate::error::{Error, Result};
use crate::event::StageId;
use crate::runtime::Process;
use crate::stages::net::{Port, Proto};
use crate::stages::{Child, Stage};
use crate::state::container::ProcessId;
use crate::sys::Sys;
use crate::undo::{Undo, When};
use nix::sys::signal::Signal;

/// What a rootless run without pasta is told.
pub const MISSING: &str = "without root, a container reaches the network through pasta, which is not installed (Debian's package passt: `sudo apt-get install passt`)";

/// How long pasta has to go after SIGTERM.
const GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The file in a container's directory where its pasta writes its pid.
pub const PID_FILE: &str = "pasta.pid";

/// The lowest port an ordinary user may listen on, which pasta's -p
/// sockets are held to.
pub fn lowest_port() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1024)
}

/// pasta's path on the caller's PATH, when installed.
pub fn find() -> Option<String> {
    crate::sys::on_path("pasta")
}

pub struct UserMode {
    pasta: String,
    ports: Vec<Port>,
    /// Where pasta writes its pid.
    pid_file: String,
}

impl UserMode {
    pub fn new(pasta: String, ports: Vec<Port>, pid_file: String) -> Self {
        UserMode {
            pasta,
            ports,
            pid_file,
        }
    }

    fn argv(&self, pid: i32) -> Vec<String> {
        let mut argv: Vec<String> = [
            &self.pasta,
            "--config-net",
            "--quiet",
            // The gateway's address is the real gateway's, not a way back
            // to the host: a rootless container reaches what the host
            // reaches, but not the host itself.
            "--no-map-gw",
            "--pid",
            &self.pid_file,
            // Nothing from the container to the host's own ports.
            "--tcp-ns",
            "none",
            "--udp-ns",
            "none",
        ]
        .map(String::from)
        .to_vec();
        for proto in [Proto::Tcp, Proto::Udp] {
            let specs: Vec<String> = self
                .ports
                .iter()
                .filter(|p| p.proto == proto)
                .map(|p| format!("{}:{}", p.host, p.container))
                .collect();
            let flag = if proto == Proto::Tcp { "-t" } else { "-u" };
            argv.push(flag.into());
            argv.push(if specs.is_empty() {
                "none".into()
            } else {
                specs.join(",")
            });
        }
        argv.push(pid.to_string());
        argv
    }
}

/// End the pasta whose pid is in `pid_file`, if it is still that pasta.
pub fn stop(sys: &mut Sys, pid_file: &str) -> Result<()> {
    let Some(pid) = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    else {
        return Ok(());
    };
    // Held by a pidfd first, then checked: a pid is reused once its
    // process is gone, and only a pasta started with this file is ours.
    let Some(process) = ProcessId::of(pid)
        .map(|id| Process::open(sys, id))
        .transpose()?
        .flatten()
    else {
        return Ok(());
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    // pasta is passt under another name (Debian's runs passt.avx2); it
    // makes itself undumpable, so its exe link is out of reach, its name
    // is not.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let is_passt = comm.starts_with("passt") || comm.starts_with("pasta");
    if !is_passt
        || !cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == pid_file.as_bytes())
    {
        return Ok(());
    }
    // Waited for, so that nothing of the run is left once diyc returns.
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        process.signal(sys, signal)?;
        if process.wait(Some(GRACE))? {
            break;
        }
    }
    Ok(())
}

impl Stage for UserMode {
    fn id(&self) -> StageId {
        StageId::Net
    }

    fn clone_flags(&self) -> u64 {
        libc::CLONE_NEWNET as u64
    }

    fn requires(&self) -> &'static [StageId] {
        &[StageId::User]
    }

    fn prepare(&mut self, _sys: &mut Sys, undo: &mut Undo) -> Result<()> {
        let pid_file = self.pid_file.clone();
        undo.push("stopping pasta", When::Always, move |sys| {
            stop(sys, &pid_file)
        });
        Ok(())
    }

    fn attach(&mut self, sys: &mut Sys, child: Child) -> Result<()> {
        sys.stage(StageId::Net);
        sys.note("pasta, a program of yours, joins the container's namespaces and carries its connections through sockets of its own on the host");
        let argv = self.argv(child.pid);
        match sys.run_helper(&argv)? {
            (0, _) => Ok(()),
            // Without a syslog to write to, pasta says so before every
            // line; its reason comes last.
            (code, output) => Err(Error::invalid(format!(
                "pasta could not give the container a network (exit status {code}): {}",
                output
                    .lines()
                    .rfind(|l| !l.trim().is_empty() && !l.contains("to syslog"))
                    .unwrap_or("no message")
            ))),
        }
    }

    fn runs_inside(&self) -> bool {
        false
    }

    fn outside(&self, _pid: i32) -> Vec<String> {
        vec![format!(
            "pasta runs as you, pid in {}; the host has no new interface",
            self.pid_file
        )]
    }
}
