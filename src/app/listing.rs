//! The listing commands, `diyc ps` and `diyc image ls`, and removal,
//! `diyc rm` and `diyc image rm`.

use std::io::Write;

use crate::error::Result;
use crate::event::StageId;
use crate::runtime::reclaim;
use crate::signals::Signals;
use crate::state::status::{self, Status};
use crate::state::{self, Store, container};
use crate::sys::{Quiet, Sys};

/// `diyc ps`: as root it first cleans up after any diyc that was killed.
pub fn ps(store: &Store, all: bool) {
    if nix::unistd::geteuid().is_root() {
        let mut quiet = Quiet;
        reclaim::reclaim_dead(&mut Sys::new(&mut quiet, StageId::Cleanup), store);
    }
    let now = container::now();
    let rows: Vec<[String; 7]> = status::list(store)
        .into_iter()
        .filter(|c| all || c.status == Status::Running)
        .map(|c| {
            let running = c.status == Status::Running;
            let run = c.run.as_ref().filter(|_| running);
            let command = run
                .map(|r| &r.command)
                .or(c.state.as_ref().map(|s| &s.command))
                .map_or(String::new(), |c| c.join(" "));
            let status = match c.state.as_ref().and_then(|s| s.exit_code) {
                Some(code) if c.status == Status::Exited => format!("exited ({code})"),
                _ => c.status.name().to_string(),
            };
            [
                c.config.name.clone(),
                c.config.image.clone(),
                status,
                c.init.map_or("-".into(), |p| p.pid.to_string()),
                run.map_or("-".into(), |r| duration(now.saturating_sub(r.started))),
                run.and_then(|r| r.net.as_ref())
                    .map_or("-".into(), |n| n.ip.to_string()),
                command,
            ]
        })
        .collect();
    let header = ["NAME", "IMAGE", "STATUS", "PID", "UPTIME", "IP", "COMMAND"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = std::io::stdout().lock();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// `90` as `1m30s`: the largest two units that say it.
fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{}h", secs / 86400, secs % 86400 / 3600),
    }
}

pub fn rm(store: &Store, force: bool, names: &[String]) -> Result<i32> {
    for name in names {
        state::validate_name("container", name)?;
    }
    super::own_the_files()?;
    let _signals = Signals::block()?;
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Cleanup);
    for name in names {
        reclaim::remove(&mut sys, store, name, force)?;
    }
    Ok(0)
}
