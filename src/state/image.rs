//! The image store: `images/NAME/rootfs` is an image, `images/NAME/image.json`
//! says where it came from. Images are made whole in a hidden staging
//! directory and renamed into place (import.rs, busybox.rs), so an
//! interrupted import or build leaves nothing a run could pick up.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Store, files, validate_name, write_json};
use crate::error::{Error, IoContext, Result};
use crate::signals::Signals;
use crate::sys::Sys;

pub use super::busybox::BUILTIN;
pub use super::import::import;

/// What `--explain` prints above the making of an image.
pub const HEADING: crate::event::Heading = crate::event::Heading {
    title: "image: the files the container will see",
    why: "An image is just a directory tree; the built-in one is made from the host's own busybox.",
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageInfo {
    pub name: String,
    /// The tarball it was imported from, or the busybox binary it was built from.
    pub source: String,
    pub created: u64,
    pub size: u64,
    pub files: u64,
}

pub fn dir(store: &Store, name: &str) -> PathBuf {
    store.images_dir().join(name)
}

pub fn rootfs(store: &Store, name: &str) -> PathBuf {
    dir(store, name).join("rootfs")
}

/// The rootfs of image `name`, building the built-in busybox image on
/// first use. An unknown name changes nothing.
pub fn ensure(store: &Store, name: &str, sys: &mut Sys, signals: &Signals) -> Result<PathBuf> {
    validate_name("image", name)?;
    let root = rootfs(store, name);
    if root.is_dir() {
        return Ok(root);
    }
    if name != BUILTIN {
        return Err(Error::invalid(format!(
            "no image named {name}: import one with `diyc image import {name} FILE`, or use the built-in `{BUILTIN}`"
        )));
    }
    super::busybox::build(store, sys, signals)?;
    Ok(root)
}

pub(super) fn mkdir_mode(path: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .create(path)
        .ctx("creating", path)?;
    // Explicitly, because the umask trimmed what mkdir was given.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).ctx("setting the mode of", path)
}

pub(super) fn write_info(dir: &Path, info: &ImageInfo) -> Result<()> {
    write_json(&dir.join("image.json"), info)
}

/// One row of `diyc image ls`; the built-in image is listed even before it
/// is made.
pub fn list(store: &Store) -> Vec<(ImageInfo, bool)> {
    let mut rows: Vec<(ImageInfo, bool)> = fs::read_dir(store.images_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|e| {
                    let data = fs::read(e.path().join("image.json")).ok()?;
                    serde_json::from_slice(&data).ok().map(|i| (i, true))
                })
                .collect()
        })
        .unwrap_or_default();
    if !rows.iter().any(|(i, _)| i.name == BUILTIN) {
        rows.push((
            ImageInfo {
                name: BUILTIN.into(),
                source: "built in: made from the host's busybox on first use".into(),
                created: 0,
                size: 0,
                files: 0,
            },
            false,
        ));
    }
    rows.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    rows
}

pub fn remove(store: &Store, name: &str) -> Result<()> {
    validate_name("image", name)?;
    let path = dir(store, name);
    if !path.join("rootfs").is_dir() {
        return Err(Error::invalid(format!("no image named {name}")));
    }
    let users: Vec<String> = super::status::list(store)
        .into_iter()
        .filter(|c| c.config.image == name)
        .map(|c| c.config.name)
        .collect();
    if !users.is_empty() {
        return Err(Error::invalid(format!(
            "image {name} is used by {}; remove them first with `diyc rm NAME`",
            users.join(", ")
        )));
    }
    let _lock = files::try_lock(&path)?
        .ok_or_else(|| Error::invalid(format!("image {name} is being used right now")))?;
    files::remove_dir(&path)
}
