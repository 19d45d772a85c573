//! One layer's tar unpacked into its directory. Entries that would land
//! outside it are refused, device nodes and FIFOs are skipped (every
//! container gets a fresh /dev), and whiteouts (`.wh.NAME`, and
//! `.wh..wh..opq` for a directory that hides everything below it) are
//! kept aside, to be made into overlayfs's own form once the layers below
//! are known (whiteout.rs).

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::decode::{Shared, describe};
use super::what::{ACCEPTS, not_a_tar, shown};
use crate::error::{Error, Result};

pub const WHITEOUT: &str = ".wh.";
pub const OPAQUE: &str = ".wh..wh..opq";

/// What a layer's tar held.
#[derive(Debug, Default)]
pub struct Unpacked {
    pub size: u64,
    pub files: u64,
    /// Device nodes and FIFOs left out.
    pub skipped: u64,
    /// Paths to delete from the layers below, relative to the layer.
    pub whiteouts: Vec<PathBuf>,
    /// Directories whose lower contents are hidden.
    pub opaque: Vec<PathBuf>,
}

/// Unpack the tar stream `input` into `into`. `refuse` turns a reason
/// into the one-line error that names the source.
pub fn unpack(
    input: &mut dyn Read,
    into: &Path,
    shared: &Shared,
    refuse: &dyn Fn(String) -> Error,
) -> Result<Unpacked> {
    // Its first block says whether it is a tar at all: anything else is
    // named, not reported as a damaged tar with its bytes in the message.
    let mut head = Vec::with_capacity(512);
    input
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| refuse(format!("damaged archive: {}", describe(&e))))?;
    if let Some(what) = not_a_tar(&head) {
        // What diyc accepts goes after the reason, which is cut to a
        // line's length: that sentence is never cut.
        return Err(match refuse(format!("it is {what}, not a tar")) {
            Error::Invalid(why) => Error::Invalid(format!("{why}; {ACCEPTS}")),
            other => other,
        });
    }
    let mut input = std::io::Cursor::new(head).chain(input);
    let mut archive = tar::Archive::new(&mut input);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    let mut made = Unpacked::default();
    let entries = archive
        .entries()
        .map_err(|e| refuse(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| refuse(format!("damaged archive: {}", describe(&e))))?;
        let path = entry
            .path()
            .map_err(|e| refuse(format!("bad entry name: {e}")))?
            .into_owned();
        let outside = || {
            refuse(format!(
                "entry {} would land outside the image",
                shown_path(&path)
            ))
        };
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(outside());
        }
        if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            if let Some(target) = name.strip_prefix(WHITEOUT) {
                let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
                if name == OPAQUE {
                    made.opaque.push(parent);
                } else if target.is_empty() || target == "." || target == ".." {
                    return Err(refuse(format!(
                        "entry {} is a whiteout that names nothing",
                        shown_path(&path)
                    )));
                } else {
                    made.whiteouts.push(parent.join(target));
                }
                continue;
            }
        }
        let kind = entry.header().entry_type();
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            made.skipped += 1;
            continue;
        }
        if !shared.take(entry.size()) {
            return Err(refuse(format!(
                "it unpacks to more than {} (--max-size); if you trust it, give a larger --max-size",
                crate::stages::cgroups::human(shared.max_size)
            )));
        }
        made.size += entry.size();
        let inside = entry.unpack_in(into).map_err(|e| {
            let why = describe(&e);
            // tar checks every parent and link target after resolving
            // symlinks; this is its word for "that would escape".
            if why.contains("outside of destination") {
                refuse(format!(
                    "entry {} would land outside the image through a link",
                    shown_path(&path)
                ))
            } else {
                refuse(format!("entry {}: {why}", shown_path(&path)))
            }
        })?;
        if !inside {
            return Err(outside());
        }
        made.files += 1;
    }
    Ok(made)
}

pub fn shown_path(path: &Path) -> String {
    shown(&path.display().to_string())
}
