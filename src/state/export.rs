//! `diyc image export`: an image's layers flattened into one tar, as the
//! container would see its files: the top layer's copy of each path wins,
//! a whiteout (a character device 0:0) hides the path below it, and an
//! opaque directory (`trusted.overlay.opaque=y`) hides everything below
//! it. The same rules overlayfs applies at mount time, applied by hand.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{Store, image};
use crate::error::{Error, IoContext, Result};

fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && std::os::unix::fs::MetadataExt::rdev(meta) == 0
}

fn is_opaque(dir: &Path) -> bool {
    // Not following a link: a link is never opaque.
    matches!(
        xattr::get(dir, super::layers::opaque_xattr())
            .ok()
            .flatten()
            .as_deref(),
        Some(b"y")
    )
}

/// Add directory `rel` as the stack `layers` (top first) shows it.
/// Files linked more than once, by (device, inode): the name each was
/// first written under, so the others are written as hard links to it.
type Linked = HashMap<(u64, u64), PathBuf>;

fn merge(
    out: &mut tar::Builder<Box<dyn Write>>,
    layers: &[PathBuf],
    rel: &Path,
    linked: &mut Linked,
) -> Result<()> {
    let mut names = BTreeSet::new();
    for layer in layers {
        if let Ok(entries) = fs::read_dir(layer.join(rel)) {
            names.extend(entries.flatten().map(|e| e.file_name()));
        }
    }
    for name in names {
        let path = rel.join(&name);
        let Some((top, meta)) = layers
            .iter()
            .enumerate()
            .find_map(|(i, l)| fs::symlink_metadata(l.join(&path)).ok().map(|m| (i, m)))
        else {
            continue;
        };
        if is_whiteout(&meta) {
            continue;
        }
        let real = layers[top].join(&path);
        if meta.is_dir() {
            out.append_dir(&path, &real).ctx("reading", &real)?;
            // The same directory lower down adds to it, down to an opaque one.
            let mut below = Vec::new();
            for layer in &layers[top..] {
                let here = layer.join(&path);
                match fs::symlink_metadata(&here) {
                    Ok(m) if m.is_dir() => {
                        below.push(layer.clone());
                        if is_opaque(&here) {
                            break;
                        }
                    }
                    Ok(_) => break,
                    Err(_) => {}
                }
            }
            merge(out, &below, &path, linked)?;
        } else if meta.is_file() && meta.nlink() > 1 {
            // One copy of the data, however many names it has: a layer of
            // 1 MiB linked 2,000 times is not a 2 GiB tar.
            match linked.get(&(meta.dev(), meta.ino())) {
                Some(first) => {
                    let mut header = tar::Header::new_gnu();
                    header.set_entry_type(tar::EntryType::Link);
                    header.set_size(0);
                    out.append_link(&mut header, &path, first)
                        .ctx("reading", &real)?;
                }
                None => {
                    linked.insert((meta.dev(), meta.ino()), path.clone());
                    out.append_path_with_name(&real, &path)
                        .ctx("reading", &real)?;
                }
            }
        } else {
            out.append_path_with_name(&real, &path)
                .ctx("reading", &real)?;
        }
    }
    Ok(())
}

/// Write image `name` as a flat tar to `file` (`-`: stdout).
pub fn export(store: &Store, name: &str, file: &Path) -> Result<()> {
    let layers = image::lowers(store, name)?
        .ok_or_else(|| Error::invalid(format!("no image named {name}")))?;
    let sink: Box<dyn Write> = if file == Path::new("-") {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(File::create(file).ctx("creating", file)?)
    };
    let mut out = tar::Builder::new(sink);
    out.follow_symlinks(false);
    let written = merge(&mut out, &layers, Path::new(""), &mut Linked::new()).and_then(|()| {
        out.into_inner()
            .and_then(|mut w| w.flush())
            .ctx("writing", file)
    });
    if written.is_err() && file != Path::new("-") {
        let _ = fs::remove_file(file);
    }
    written
}
