//! The image store: `images/NAME/rootfs` is an image, `images/NAME/image.json`
//! says where it came from. Images are made whole in a hidden staging
//! directory and renamed into place (import.rs, busybox.rs), so an
//! interrupted import or build leaves nothing a run could pick up.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Store, files, layers, read_json, write_json};
use crate::error::{Error, IoContext, Result};
use crate::signals::Signals;
use crate::sys::Sys;

pub use super::busybox::BUILTIN;
pub use super::import::{Options as ImportOptions, import, shown};

/// What `--explain` prints above the making of an image.
pub const HEADING: crate::event::Heading = crate::event::Heading {
    title: "image: the files the container will see",
    why: "An image is a stack of layers, each a tree of files; the built-in one is a single tree made from the host's own busybox.",
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageInfo {
    pub name: String,
    /// The tarball it was imported from, or the busybox binary it was built from.
    pub source: String,
    pub created: u64,
    pub size: u64,
    pub files: u64,
    /// Its layers' digests (layers.rs), bottom first. None listed: the
    /// image is the one directory `images/NAME/rootfs` (the built-in).
    #[serde(default)]
    pub layers: Vec<String>,
    /// What it was: a flat root filesystem tar, a docker archive, ...
    #[serde(default)]
    pub format: String,
    #[serde(default)]
    pub config: ImageConfig,
    #[serde(default)]
    pub history: Vec<History>,
}

/// What the image asks a container to be run with, as `docker run` reads
/// it from an image's config; the command line wins over each.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub user: Option<String>,
    /// As the image says them: `80/tcp`.
    pub exposed_ports: Vec<String>,
}

/// One step of how the image was built, from its config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    pub created: Option<String>,
    pub created_by: Option<String>,
    pub comment: Option<String>,
    /// A step that changed the config only, with no layer of its own.
    pub empty_layer: bool,
}

/// `NAME` or `NAME:TAG`: the name as for containers, the tag up to 128
/// letters, digits, '_', '.' and '-'.
pub fn validate_name(name: &str) -> Result<()> {
    let (base, tag) = match name.split_once(':') {
        Some((base, tag)) => (base, Some(tag)),
        None => (name, None),
    };
    super::validate_name("image", base)?;
    if let Some(tag) = tag {
        let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        if tag.is_empty() || tag.len() > 128 || tag.starts_with(['.', '-']) || !tag.chars().all(ok)
        {
            return Err(Error::invalid(format!(
                "invalid image tag in {:?}: use 1 to 128 letters, digits, '_', '.' and '-'",
                super::import::shown(name)
            )));
        }
    }
    Ok(())
}

/// The name an image is kept under: a bare NAME finds NAME:latest too.
pub fn resolve(store: &Store, name: &str) -> String {
    if !name.contains(':')
        && !dir(store, name).exists()
        && dir(store, &format!("{name}:latest")).exists()
    {
        format!("{name}:latest")
    } else {
        name.to_string()
    }
}

/// What image `name` asks a container to run with: nothing for one with
/// no record (the built-in before it is made, or one made by hand).
pub fn config(store: &Store, name: &str) -> Result<ImageConfig> {
    let record = dir(store, &resolve(store, name)).join("image.json");
    if !record.is_file() {
        return Ok(ImageConfig::default());
    }
    Ok(read(store, name)?.config)
}

pub fn read(store: &Store, name: &str) -> Result<ImageInfo> {
    read_json(&dir(store, &resolve(store, name)).join("image.json"))
}

pub fn dir(store: &Store, name: &str) -> PathBuf {
    store.images_dir().join(name)
}

pub fn rootfs(store: &Store, name: &str) -> PathBuf {
    dir(store, name).join("rootfs")
}

/// The directories of image `name`, top layer first as overlayfs's
/// `lowerdir` lists them, building the built-in busybox image on first
/// use. An unknown name changes nothing.
pub fn ensure(store: &Store, name: &str, sys: &mut Sys, signals: &Signals) -> Result<Vec<PathBuf>> {
    validate_name(name)?;
    if let Some(lowers) = lowers(store, name)? {
        return Ok(lowers);
    }
    if name != BUILTIN {
        return Err(Error::invalid(format!(
            "no image named {name}: import one with `diyc image import {name} FILE`, or use the built-in `{BUILTIN}`"
        )));
    }
    super::busybox::build(store, sys, signals)?;
    Ok(vec![rootfs(store, name)])
}

/// The directories of an image that exists, top layer first.
pub fn lowers(store: &Store, name: &str) -> Result<Option<Vec<PathBuf>>> {
    let name = resolve(store, name);
    let legacy = rootfs(store, &name);
    if legacy.is_dir() {
        return Ok(Some(vec![legacy]));
    }
    if !dir(store, &name).join("image.json").is_file() {
        return Ok(None);
    }
    let info = read(store, &name)?;
    // A layer listed twice (two build steps that changed the same) is
    // stacked once, at its top place: overlayfs refuses a lowerdir twice,
    // and the top copy already shows everything the lower one would.
    let mut lowers: Vec<PathBuf> = Vec::new();
    for hex in info.layers.iter().rev() {
        let dir = layers::files_of(store, hex);
        if !lowers.contains(&dir) {
            lowers.push(dir);
        }
    }
    if let Some(missing) = lowers.iter().find(|l| !l.is_dir()) {
        return Err(Error::invalid(format!(
            "image {name} is damaged: its layer {} is missing; import it again",
            missing.display()
        )));
    }
    Ok(Some(lowers))
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

/// Every image's record; the built-in image is listed even before it is
/// made (false: not made yet).
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
                ..ImageInfo::default()
            },
            false,
        ));
    }
    rows.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    rows
}

/// Remove an image no container uses, then every layer no image lists.
pub fn remove(store: &Store, name: &str) -> Result<()> {
    validate_name(name)?;
    let name = &resolve(store, name);
    let path = dir(store, name);
    if !path.join("image.json").is_file() {
        return Err(Error::invalid(format!("no image named {name}")));
    }
    let users: Vec<String> = super::status::list(store)
        .into_iter()
        .filter(|c| resolve(store, &c.config.image) == *name)
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
    files::remove_dir(&path)?;
    layers::remove_unused(store)?;
    Ok(())
}
