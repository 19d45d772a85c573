//! The listing commands, `diyc ps` and `diyc image ls`, and removal,
//! `diyc rm` and `diyc image rm`.

use std::io::Write;

use super::need_root;
use crate::error::Result;
use crate::event::StageId;
use crate::runtime::reclaim;
use crate::signals::Signals;
use crate::state::{self, Store, container, image};
use crate::sys::{Quiet, Sys};

/// `diyc ps`: as root it first cleans up after any diyc that was killed.
pub fn ps(store: &Store, all: bool) {
    if nix::unistd::geteuid().is_root() {
        let mut quiet = Quiet;
        reclaim::reclaim_dead(&mut Sys::new(&mut quiet, StageId::Cleanup), store);
    }
    let rows: Vec<_> = container::list(store)
        .into_iter()
        .filter(|c| all || c.status == "running")
        .collect();
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let iwidth = rows.iter().map(|r| r.image.len()).max().unwrap_or(5).max(5);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<width$}  {:<iwidth$}  {:<8}  {:<4}  COMMAND",
        "NAME", "IMAGE", "STATUS", "EXIT"
    );
    for r in rows {
        let exit = r.exit_code.map_or("-".to_string(), |c| c.to_string());
        let _ = writeln!(
            out,
            "{:<width$}  {:<iwidth$}  {:<8}  {:<4}  {}",
            r.name,
            r.image,
            r.status,
            exit,
            r.command.join(" ")
        );
    }
}

pub fn rm(store: &Store, force: bool, names: &[String]) -> Result<i32> {
    need_root("rm")?;
    for name in names {
        state::validate_name("container", name)?;
    }
    let _signals = Signals::block()?;
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Cleanup);
    for name in names {
        reclaim::remove(&mut sys, store, name, force)?;
    }
    Ok(0)
}

pub fn image_ls(store: &Store) {
    let rows = image::list(store);
    let width = rows
        .iter()
        .map(|(i, _)| i.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}  {:>7}  SOURCE",
        "NAME", "SIZE", "FILES"
    );
    for (info, made) in rows {
        let (size, files) = if made {
            (format!("{} KiB", info.size / 1024), info.files.to_string())
        } else {
            ("-".into(), "-".into())
        };
        let _ = writeln!(
            out,
            "{:<width$}  {size:>9}  {files:>7}  {}",
            info.name, info.source
        );
    }
}

pub fn image_rm(store: &Store, name: &str) -> Result<i32> {
    need_root("image rm")?;
    image::remove(store, name)?;
    Ok(0)
}
