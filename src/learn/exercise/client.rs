//! `check`: diyc's own binary, started under that name from a shell of an
//! exercise (src/main.rs dispatches on it). It tells diyc, over the socket
//! named in its environment, what only a process inside can see: its
//! hostname, its pid and where /proc/self points, and when asked its
//! links and addresses or its iptables rules. It prints diyc's verdict
//! and exits 0 when the task is done, 1 when not, 125 when there is no
//! diyc to ask. Everything else diyc reads from the host's side.

use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use super::wire::{self, Ask, LinkView, SOCKET_ENV, Verdict, View, Want};
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::sys::{Quiet, Sys};

/// diyc answers one `check` at a time; a slow answer is a stuck diyc.
const PATIENCE: Duration = Duration::from_secs(30);

/// The whole of `check`.
pub fn check_main() -> i32 {
    match ask_diyc() {
        Ok(verdict) => {
            print!("{}", verdict.text());
            if verdict.passed() { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("check: {e}");
            125
        }
    }
}

fn ask_diyc() -> Result<Verdict> {
    let path = std::env::var(SOCKET_ENV).map_err(|_| {
        Error::invalid(format!(
            "no exercise here: `check` answers only in the shell `diyc learn` opens for an exercise (${SOCKET_ENV} is not set)"
        ))
    })?;
    let stream = UnixStream::connect(&path).map_err(|source| Error::Os {
        what: format!("reaching diyc at {path} (has the exercise ended?)"),
        source,
    })?;
    let timeouts = stream
        .set_read_timeout(Some(PATIENCE))
        .and_then(|()| stream.set_write_timeout(Some(PATIENCE)));
    timeouts.map_err(|source| Error::Os {
        what: "setting the socket's timeouts".into(),
        source,
    })?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|source| Error::Os {
        what: "the exercise's socket".into(),
        source,
    })?);
    let ask: Ask = wire::receive(&mut reader)?;
    let view = look_inside(&ask)?;
    let mut writer = stream;
    wire::send(&mut writer, &view)?;
    wire::receive(&mut reader)
}

fn look_inside(ask: &Ask) -> Result<View> {
    let proc_self = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse().ok());
    let mut view = View {
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        pid: std::process::id() as i32,
        proc_self,
        ..View::default()
    };
    // Reads and helper programs only; nobody is shown them.
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Net);
    if ask.wants.contains(&Want::Links) {
        let addresses = sys.addresses()?;
        view.links = sys
            .links()?
            .into_iter()
            .map(|link| LinkView {
                addresses: addresses
                    .iter()
                    .filter(|a| a.index == link.index)
                    .map(|a| format!("{}/{}", a.ip, a.prefix))
                    .collect(),
                name: link.name,
                up: link.up,
            })
            .collect();
    }
    if ask.wants.contains(&Want::Iptables) {
        let iptables = ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables"]
            .into_iter()
            .find(|p| sys.exists(p))
            .ok_or_else(|| {
                Error::invalid(
                    "iptables is not installed: `apt-get install iptables` (Debian, Ubuntu)",
                )
            })?;
        for table in ["filter", "nat"] {
            let argv: Vec<String> = [iptables, "-w", "-t", table, "-S"]
                .iter()
                .map(|a| a.to_string())
                .collect();
            let (_, output) = sys.run_helper(&argv)?;
            view.iptables.push((table.to_string(), output));
        }
    }
    Ok(view)
}
