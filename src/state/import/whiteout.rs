//! Whiteouts in overlayfs's own form, made once a layer's lower layers are
//! known: a deleted path becomes a character device 0:0, a directory that
//! hides what is below gets `trusted.overlay.opaque=y`. The OCI image
//! spec makes a whiteout delete from the layers below only, so one that
//! finds nothing there to delete is an error. These go through the seam:
//! the image lesson shows them.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

use super::unpack::{Unpacked, shown_path};
use crate::error::{Error, Result};
use crate::sys::{Call, Sys};

/// Is `rel` in one of `below`, through real directories only (a link on
/// the way would be another path)?
fn held_below(below: &[PathBuf], rel: &Path) -> bool {
    below.iter().any(|layer| {
        let mut at = layer.clone();
        let parts: Vec<Component> = rel.components().collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let Ok(meta) = fs::symlink_metadata(&at) else {
                return false;
            };
            let last = i + 1 == parts.len();
            if last {
                // A whiteout below already hides it.
                return !(meta.file_type().is_char_device() && meta.len() == 0);
            }
            if !meta.is_dir() {
                return false;
            }
        }
        false
    })
}

/// The directory `rel` of `layer`, made if missing, refused if a link or
/// a file is in the way.
fn directory_in(layer: &Path, rel: &Path, refuse: &dyn Fn(String) -> Error) -> Result<PathBuf> {
    let mut at = layer.to_path_buf();
    for part in rel.components() {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(refuse(format!(
                    "a whiteout in {} would land outside the image through a link",
                    shown_path(rel)
                )));
            }
            Err(_) => {
                fs::create_dir(&at).map_err(|e| refuse(format!("{}: {e}", shown_path(rel))))?
            }
        }
    }
    Ok(at)
}

fn text(path: &Path) -> Result<String> {
    path.to_str().map(str::to_string).ok_or_else(|| {
        Error::invalid(format!(
            "{} is not UTF-8",
            super::what::shown(&path.display().to_string())
        ))
    })
}

/// Check `whiteouts` against the layers `below`; with `into`, make them
/// (and the opaque directories) in that layer.
pub fn apply(
    sys: &mut Sys,
    made: &Unpacked,
    below: &[PathBuf],
    into: Option<&Path>,
    refuse: &dyn Fn(String) -> Error,
) -> Result<()> {
    for rel in &made.whiteouts {
        if !held_below(below, rel) {
            return Err(refuse(format!(
                "a whiteout deletes {}, which no layer below holds",
                shown_path(rel)
            )));
        }
        let Some(layer) = into else { continue };
        let parent = directory_in(layer, rel.parent().unwrap_or(Path::new("")), refuse)?;
        let Some(name) = rel.file_name() else {
            continue;
        };
        let path = parent.join(name);
        match fs::symlink_metadata(&path) {
            // Deleted below and made anew here: only this layer's shows.
            Ok(meta) if meta.is_dir() => opaque(sys, &path)?,
            Ok(_) => {}
            Err(_) => whiteout(sys, &path)?,
        }
    }
    let Some(layer) = into else { return Ok(()) };
    for rel in &made.opaque {
        let dir = directory_in(layer, rel, refuse)?;
        if rel.as_os_str().is_empty() {
            // overlayfs reads no opaque mark on a layer's top: what the
            // layers below hold there is deleted name by name instead.
            for name in top_names(below) {
                let path = dir.join(name);
                if fs::symlink_metadata(&path).is_err() {
                    whiteout(sys, &path)?;
                }
            }
        } else {
            opaque(sys, &dir)?;
        }
    }
    Ok(())
}

fn whiteout(sys: &mut Sys, path: &Path) -> Result<()> {
    sys.call(Call::Mknodat {
        path: text(path)?,
        mode: libc::S_IFCHR,
        major: 0,
        minor: 0,
    })
    .map(drop)
}

fn opaque(sys: &mut Sys, dir: &Path) -> Result<()> {
    sys.call(Call::Lsetxattr {
        path: text(dir)?,
        name: crate::state::layers::opaque_xattr().into(),
        value: b"y".to_vec(),
    })
    .map(drop)
}

/// Every name at the top of the layers below.
fn top_names(below: &[PathBuf]) -> std::collections::BTreeSet<std::ffi::OsString> {
    below
        .iter()
        .filter_map(|layer| fs::read_dir(layer).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.file_name()))
        .collect()
}
