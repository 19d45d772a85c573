//! One layer's tar unpacked into its directory. Entries that would land
//! outside it are refused, device nodes and FIFOs are skipped (every
//! container gets a fresh /dev), and whiteouts (`.wh.NAME`, and
//! `.wh..wh..opq` for a directory that hides everything below it) are
//! kept aside, to be made into overlayfs's own form once the layers below
//! are known (whiteout.rs).

use std::cell::Cell;
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

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
    let budget = Rc::new(Cell::new(HEADERS));
    let mut input = Budgeted {
        inner: std::io::Cursor::new(head).chain(input),
        budget: budget.clone(),
    };
    let mut archive = tar::Archive::new(&mut input);
    archive.set_preserve_permissions(true);
    // Without root, owners are kept only as root of a user namespace
    // mapping them (src/app's own_the_files); with one id there is no
    // other owner to give a file.
    archive.set_preserve_ownerships(nix::unistd::geteuid().is_root());
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    let mut made = Unpacked::default();
    let mut real_dirs = BTreeSet::new();
    let entries = archive
        .entries()
        .map_err(|e| refuse(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| match budget.get() {
            0 => refuse(format!(
                "an entry's headers (a long name, PAX records) take more than {} KiB",
                HEADERS >> 10
            )),
            _ => refuse(format!("damaged archive: {}", describe(&e))),
        })?;
        // What the tar reader may read before the next entry: this one's
        // data, then the next one's headers.
        budget.set(entry.size().saturating_add(HEADERS));
        let named = entry
            .path()
            .map_err(|e| refuse(format!("bad entry name: {e}")))?
            .into_owned();
        let outside = || {
            refuse(format!(
                "entry {} would land outside the image",
                shown_path(&named)
            ))
        };
        // Relative to the layer: a leading `/` or `./` means its top.
        let path = inside(&named).ok_or_else(outside)?;
        if path.as_os_str().is_empty() {
            continue;
        }
        // AUFS's own bookkeeping (`.wh..wh.plnk/...`), which means
        // nothing here: left out with all it holds, as docker does.
        let aufs = |c: Component| {
            c.as_os_str()
                .to_str()
                .is_some_and(|c| c.starts_with(".wh..wh.") && c != OPAQUE)
        };
        if path.components().any(aufs) {
            continue;
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
        // Each entry costs its header and name on disk, whatever its size:
        // a million empty files are no lighter than their inodes.
        let cost = entry
            .size()
            .saturating_add(512 + named.as_os_str().len() as u64);
        if !shared.take(cost) {
            return Err(refuse(format!(
                "it unpacks to more than {} (--max-size); if you trust it, give a larger --max-size",
                crate::stages::cgroups::human(shared.max_size)
            )));
        }
        made.size = made.size.saturating_add(entry.size());
        place(&mut entry, into, &path, &mut real_dirs, refuse)?;
        made.files += 1;
    }
    Ok(made)
}

/// An entry's name as a path inside the layer; None if it climbs out.
fn inside(named: &Path) -> Option<PathBuf> {
    let mut rel = PathBuf::new();
    for part in named.components() {
        match part {
            Component::Normal(p) => rel.push(p),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => return None,
        }
    }
    Some(rel)
}

/// Make every directory above `rel` in `root`, or find it there as a real
/// directory, never a link: nothing is then written outside through one.
/// `real_dirs` remembers those found, so each is looked at once; an entry
/// that is not a directory forgets its own path and all below it, since
/// it may have replaced one.
fn parents(
    root: &Path,
    rel: &Path,
    real_dirs: &mut BTreeSet<PathBuf>,
    refuse: &dyn Fn(String) -> Error,
) -> Result<()> {
    let mut at = PathBuf::new();
    for part in rel.parent().into_iter().flat_map(|p| p.components()) {
        at.push(part);
        if real_dirs.contains(&at) {
            continue;
        }
        let full = root.join(&at);
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(refuse(format!(
                    "entry {} would land outside the image through a link",
                    shown_path(rel)
                )));
            }
            Err(_) => fs::create_dir(&full)
                .map_err(|e| refuse(format!("entry {}: {e}", shown_path(rel))))?,
        }
        real_dirs.insert(at.clone());
    }
    Ok(())
}

/// Unpack one entry at `rel` in `root`, its parents checked first; a hard
/// link is made here, its target checked the same way.
fn place<R: Read>(
    entry: &mut tar::Entry<R>,
    root: &Path,
    rel: &Path,
    real_dirs: &mut BTreeSet<PathBuf>,
    refuse: &dyn Fn(String) -> Error,
) -> Result<()> {
    parents(root, rel, real_dirs, refuse)?;
    let failed = |e: std::io::Error| refuse(format!("entry {}: {}", shown_path(rel), describe(&e)));
    let kind = entry.header().entry_type();
    if !kind.is_dir() {
        let gone: Vec<PathBuf> = real_dirs
            .range(rel.to_path_buf()..)
            .take_while(|d| d.starts_with(rel))
            .cloned()
            .collect();
        gone.iter().for_each(|d| {
            real_dirs.remove(d);
        });
    }
    let dest = root.join(rel);
    if kind.is_hard_link() {
        let target = entry
            .link_name()
            .map_err(failed)?
            .and_then(|t| inside(&t))
            .filter(|t| !t.as_os_str().is_empty())
            .ok_or_else(|| {
                refuse(format!(
                    "entry {} links to a file outside the image",
                    shown_path(rel)
                ))
            })?;
        parents(root, &target, real_dirs, refuse)?;
        // An absolute target names a file of the image, as for any entry.
        if fs::symlink_metadata(root.join(&target)).is_err() {
            return Err(refuse(format!(
                "entry {} is a hard link to {}, which is not in the image",
                shown_path(rel),
                shown_path(&target)
            )));
        }
        if fs::symlink_metadata(&dest).is_ok_and(|m| !m.is_dir()) {
            fs::remove_file(&dest).map_err(failed)?;
        }
        // linkat(2) without AT_SYMLINK_FOLLOW: a link's target is linked
        // as the link it is, never followed.
        return fs::hard_link(root.join(&target), &dest).map_err(failed);
    }
    entry.unpack(&dest).map(drop).map_err(failed)
}

/// How much the tar reader may read past an entry's data to find the
/// next one: its headers, a GNU long name or link, PAX records. The reader
/// keeps those whole in memory, so a bigger one is refused, not read.
pub const HEADERS: u64 = 64 << 10;

/// The stream the tar reader reads, which fails once it has read past
/// its budget; the loop sets the budget again at each entry.
pub struct Budgeted<R> {
    pub inner: R,
    pub budget: Rc<Cell<u64>>,
}

/// Seeking skips data without reading it: it costs no budget.
impl<R: std::io::Seek> std::io::Seek for Budgeted<R> {
    fn seek(&mut self, to: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(to)
    }
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.budget.get();
        if left == 0 {
            return Err(std::io::Error::other("past the header budget"));
        }
        let most = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..most])?;
        self.budget.set(left - n as u64);
        Ok(n)
    }
}

pub fn shown_path(path: &Path) -> String {
    shown(&path.display().to_string())
}
