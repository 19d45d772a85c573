//! The layer store: `layers/HEX/fs` holds one layer's files, unpacked
//! once, whatever images use it; HEX is the SHA-256 of the layer's
//! uncompressed tar (OCI's diff_id), so two images built on one base find
//! the same directory. `layers/HEX/layer.json` says what it holds. An
//! image is its list of layers, bottom first (image.rs); a layer no image
//! lists any more is removed by `image rm`.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::fcntl::FlockArg;
use serde::{Deserialize, Serialize};

use super::files::{self, Lock};
use super::{Store, read_json, write_json};
use crate::error::{Error, Result};

/// The xattr that marks a layer's directory opaque (it hides what is
/// below). Only the host's root may write trusted.* attributes; without
/// root the user.* one is written, and the overlay is mounted with
/// `userxattr` to read it (src/stages/rootfs).
pub fn opaque_xattr() -> &'static str {
    if crate::observe::rootless() {
        "user.overlay.opaque"
    } else {
        "trusted.overlay.opaque"
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Bytes of file content, as the tar says.
    pub size: u64,
    pub files: u64,
    /// The paths its whiteouts delete from the layers below (checked again
    /// each time an image puts the layer on other layers).
    #[serde(default)]
    pub whiteouts: Vec<String>,
}

pub fn dir(store: &Store) -> PathBuf {
    store.root().join("layers")
}

/// The directory holding a layer's files: a `lowerdir` of the overlay.
pub fn files_of(store: &Store, hex: &str) -> PathBuf {
    dir(store).join(hex).join("fs")
}

pub fn exists(store: &Store, hex: &str) -> bool {
    dir(store).join(hex).join("layer.json").is_file()
}

pub fn info(store: &Store, hex: &str) -> Result<LayerInfo> {
    read_json(&dir(store).join(hex).join("layer.json"))
}

/// Write what a layer holds beside its files, before it is published.
pub fn write_info(staging: &Path, info: &LayerInfo) -> Result<()> {
    write_json(&staging.join("layer.json"), info)
}

/// Held for a whole import, shared, so that `image rm` cannot remove a
/// layer between its being published and the image that lists it.
pub fn hold(store: &Store, how: FlockArg) -> Result<Lock> {
    let layers = dir(store);
    // 0700, as the store's other directories: layers hold root's files.
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&layers)
        .map_err(|e| Error::Io {
            what: "creating",
            path: layers.clone(),
            source: e,
        })?;
    files::lock_file(layers.join(".use.lock"), how)
}

/// Remove every layer no image lists, and the staging directories of
/// killed imports; returns how many layers went. What is listed is read
/// under the lock: an import that reused a layer meanwhile has finished.
pub fn remove_unused(store: &Store) -> Result<usize> {
    let _held = hold(store, FlockArg::LockExclusive)?;
    let used: HashSet<String> = super::image::list(store)
        .into_iter()
        .flat_map(|(info, _)| info.layers)
        .collect();
    // And what a killed import left half made.
    files::reclaim(&dir(store));
    let Ok(entries) = fs::read_dir(dir(store)) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || used.contains(&name) {
            continue;
        }
        files::remove_dir(&entry.path())?;
        removed += 1;
    }
    Ok(removed)
}

/// Bytes on disk under `path`, counting each inode once.
pub fn disk_usage(path: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&p) else {
            continue;
        };
        if seen.insert((meta.dev(), meta.ino())) {
            total += meta.blocks() * 512;
        }
        if meta.is_dir() {
            if let Ok(entries) = fs::read_dir(&p) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    total
}
