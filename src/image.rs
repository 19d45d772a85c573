//! The image store: `images/NAME/rootfs` is an image, `images/NAME/image.json`
//! says where it came from. Images are made whole in a hidden staging
//! directory and renamed into place, so an interrupted import or build
//! leaves nothing a run could pick up.

use std::cell::Cell;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use crate::container;
use crate::error::{Error, IoContext, Result};
use crate::event::StageId;
use crate::signals::Signals;
use crate::store::{self, Staging, Store, validate_name};
use crate::sys::Sys;

pub const BUILTIN: &str = "busybox";
const RECIPE: &str = include_str!("../images/busybox/recipe.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageInfo {
    pub name: String,
    /// The tarball it was imported from, or the busybox binary it was built from.
    pub source: String,
    pub created: u64,
    pub size: u64,
    pub files: u64,
}

#[derive(Deserialize)]
struct Recipe {
    search: Vec<String>,
    install_hint: String,
    binary: String,
    dirs: Vec<DirSpec>,
    files: Vec<FileSpec>,
}

#[derive(Deserialize)]
struct DirSpec {
    path: String,
    mode: u32,
}

#[derive(Deserialize)]
struct FileSpec {
    path: String,
    mode: u32,
    content: String,
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
    build_busybox(store, sys, signals)?;
    Ok(root)
}

/// The places a container mounts over must be what they claim: a symlink
/// there would send the mount somewhere else on the host. Checked before
/// anything of a run is made.
pub fn check_mount_points(rootfs: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    for dir in ["proc", "sys", "dev"] {
        if let Ok(meta) = fs::symlink_metadata(rootfs.join(dir)) {
            if !meta.is_dir() {
                return Err(Error::invalid(format!(
                    "the image's /{dir} is a {}, not a directory; refusing to mount over it",
                    if meta.file_type().is_symlink() {
                        "symlink"
                    } else {
                        "file"
                    }
                )));
            }
        }
    }
    if let Ok(meta) = fs::symlink_metadata(rootfs.join("dev/null")) {
        if !meta.file_type().is_char_device() {
            return Err(Error::invalid(
                "the image's /dev/null is not a character device; refusing the image",
            ));
        }
    }
    Ok(())
}

fn recipe() -> Result<Recipe> {
    toml::from_str(RECIPE).map_err(|e| Error::failed(format!("the busybox recipe is broken: {e}")))
}

/// Where the host's busybox is: `DIYC_BUSYBOX`, or the recipe's search list.
fn find_busybox(recipe: &Recipe) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("DIYC_BUSYBOX") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::invalid(format!(
                "no busybox at {} (from DIYC_BUSYBOX): {}",
                path.display(),
                recipe.install_hint
            )))
        };
    }
    recipe
        .search
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::invalid(format!(
                "busybox is not installed on this host: {}",
                recipe.install_hint
            ))
        })
}

/// The program interpreter (PT_INTERP) of a 64-bit little-endian ELF file:
/// Some for a dynamically linked binary, None for a static one.
fn elf_interpreter(bytes: &[u8]) -> Option<String> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
    if bytes.get(..5)? != b"\x7fELF\x02" {
        return None;
    }
    let phoff = u64_at(0x20)? as usize;
    let phentsize = u16_at(0x36)? as usize;
    for i in 0..u16_at(0x38)? as usize {
        let ph = phoff + i * phentsize;
        if u32_at(ph)? == 3 {
            let (off, size) = (u64_at(ph + 8)? as usize, u64_at(ph + 32)? as usize);
            let raw = bytes.get(off..off + size)?;
            return Some(
                String::from_utf8_lossy(raw)
                    .trim_end_matches('\0')
                    .to_string(),
            );
        }
    }
    None
}

/// The absolute paths in `ldd` output: resolved libraries and the loader.
fn ldd_paths(output: &str) -> Vec<PathBuf> {
    output
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = line
                .split_once("=>")
                .map_or(line, |(_, right)| right.trim());
            let path = path.split(" (").next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

fn mkdir_mode(path: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .create(path)
        .ctx("creating", path)?;
    // Explicitly, because the umask trimmed what mkdir was given.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).ctx("setting the mode of", path)
}

fn copy_into(root: &Path, host_path: &Path, mode: Option<u32>) -> Result<u64> {
    let inside = root.join(host_path.strip_prefix("/").unwrap_or(host_path));
    if let Some(parent) = inside.parent() {
        fs::create_dir_all(parent).ctx("creating", parent)?;
    }
    let size = fs::copy(host_path, &inside).ctx("copying", host_path)?;
    if let Some(mode) = mode {
        fs::set_permissions(&inside, fs::Permissions::from_mode(mode))
            .ctx("setting the mode of", &inside)?;
    }
    Ok(size)
}

fn build_busybox(store: &Store, sys: &mut Sys, signals: &Signals) -> Result<()> {
    let recipe = recipe()?;
    let binary = find_busybox(&recipe)?;
    store.create()?;
    sys.stage(StageId::Image);
    sys.note(format!(
        "making the image `{BUILTIN}` from {} (see images/busybox/recipe.toml)",
        binary.display()
    ));
    let staging = Staging::new(&store.images_dir(), "build", BUILTIN)?;
    let root = staging.path().join("rootfs");
    mkdir_mode(&root, 0o755)?;
    for d in &recipe.dirs {
        mkdir_mode(&root.join(&d.path), d.mode)?;
    }
    let bytes = fs::read(&binary).ctx("reading", &binary)?;
    let inside = root.join(&recipe.binary);
    fs::write(&inside, &bytes).ctx("writing", &inside)?;
    fs::set_permissions(&inside, fs::Permissions::from_mode(0o755))
        .ctx("setting the mode of", &inside)?;
    let mut size = bytes.len() as u64;
    let mut files = 1;
    let binary_text = binary.to_string_lossy().into_owned();
    if elf_interpreter(&bytes).is_some() {
        sys.note("busybox is dynamically linked: its shared libraries come too");
        let listing = sys.capture(&["/usr/bin/ldd".into(), binary_text.clone()])?;
        for lib in ldd_paths(&listing) {
            size += copy_into(&root, &lib, None)?;
            files += 1;
        }
    }
    signals.check()?;
    let applets = sys.capture(&[binary_text.clone(), "--list-full".into()])?;
    let target = format!("/{}", recipe.binary);
    for applet in applets.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let rel = Path::new(applet);
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            continue;
        }
        let link = root.join(rel);
        if link.symlink_metadata().is_ok() {
            continue;
        }
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent).ctx("creating", parent)?;
        }
        symlink(&target, &link).ctx("linking", &link)?;
        files += 1;
    }
    for f in &recipe.files {
        let path = root.join(&f.path);
        fs::write(&path, f.content.trim_start()).ctx("writing", &path)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(f.mode))
            .ctx("setting the mode of", &path)?;
        size += f.content.len() as u64;
        files += 1;
    }
    write_info(
        staging.path(),
        &ImageInfo {
            name: BUILTIN.into(),
            source: binary_text,
            created: container::now(),
            size,
            files,
        },
    )?;
    signals.check()?;
    // Another diyc may have built it at the same moment; theirs is as good.
    staging.publish(&dir(store, BUILTIN))?;
    sys.note(format!(
        "image `{BUILTIN}` ready: {files} files, {} KiB, at {}",
        size / 1024,
        rootfs(store, BUILTIN).display()
    ));
    Ok(())
}

fn write_info(dir: &Path, info: &ImageInfo) -> Result<()> {
    let data = serde_json::to_vec_pretty(info)
        .map_err(|e| Error::failed(format!("encoding image.json: {e}")))?;
    store::write_atomic(&dir.join("image.json"), &data)
}

/// Reads a file, but gives up as soon as a stop signal is pending, even
/// while waiting on a pipe or FIFO that has nothing to read yet.
struct Interruptible<'s> {
    file: File,
    signals: &'s Signals,
    stopped: Rc<Cell<Option<Signal>>>,
}

impl Read for Interruptible<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut fds = [
            PollFd::new(std::os::fd::AsFd::as_fd(&self.file), PollFlags::POLLIN),
            PollFd::new(self.signals.fd(), PollFlags::POLLIN),
        ];
        poll(&mut fds, PollTimeout::NONE).map_err(io::Error::from)?;
        if fds[1].any() == Some(true) {
            if let Err(Error::Interrupted(sig)) = self.signals.check() {
                self.stopped.set(Some(sig));
                return Err(io::Error::other("interrupted"));
            }
        }
        self.file.read(buf)
    }
}

fn describe(e: &io::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Import a root filesystem tarball (`docker export` output), gzipped or not.
pub fn import(store: &Store, name: &str, file: &Path, signals: &Signals) -> Result<ImageInfo> {
    validate_name("image", name)?;
    let dest = dir(store, name);
    if dest.exists() {
        return Err(Error::invalid(format!(
            "image {name} already exists; remove it first with `diyc image rm {name}`"
        )));
    }
    let opened = File::open(file)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", file.display())))?;
    store.create()?;
    let staging = Staging::new(&store.images_dir(), "import", name)?;
    let root = staging.path().join("rootfs");
    mkdir_mode(&root, 0o755)?;

    let stopped = Rc::new(Cell::new(None));
    let mut input = BufReader::with_capacity(
        1 << 20,
        Interruptible {
            file: opened,
            signals,
            stopped: stopped.clone(),
        },
    );
    let gzip = input
        .fill_buf()
        .map(|head| head.starts_with(&[0x1f, 0x8b]))
        .unwrap_or(false);
    let decoded: Box<dyn Read + '_> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else {
        Box::new(input)
    };
    let mut archive = tar::Archive::new(decoded);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);

    let refuse = |what: String| Error::invalid(format!("refusing {}: {what}", file.display()));
    let (mut files, mut size, mut skipped) = (0u64, 0u64, 0u64);
    let result = (|| -> Result<()> {
        let entries = archive
            .entries()
            .map_err(|e| refuse(format!("not a tar archive: {e}")))?;
        for entry in entries {
            let mut entry =
                entry.map_err(|e| refuse(format!("damaged archive: {}", describe(&e))))?;
            let path = entry
                .path()
                .map_err(|e| refuse(format!("bad entry name: {e}")))?
                .into_owned();
            if path.components().any(|c| c == Component::ParentDir) {
                return Err(refuse(format!(
                    "entry {} would land outside the image",
                    path.display()
                )));
            }
            let kind = entry.header().entry_type();
            if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
                skipped += 1;
                continue;
            }
            size += entry.size();
            let inside = entry.unpack_in(&root).map_err(|e| {
                let why = describe(&e);
                // tar checks every parent and link target after resolving
                // symlinks; this is its word for "that would escape".
                if why.contains("outside of destination") {
                    refuse(format!(
                        "entry {} would land outside the image through a link",
                        path.display()
                    ))
                } else {
                    refuse(format!("entry {}: {why}", path.display()))
                }
            })?;
            if !inside {
                return Err(refuse(format!(
                    "entry {} would land outside the image",
                    path.display()
                )));
            }
            files += 1;
        }
        Ok(())
    })();
    if let Some(sig) = stopped.get() {
        return Err(Error::Interrupted(sig));
    }
    result?;
    signals.check()?;
    let info = ImageInfo {
        name: name.to_string(),
        source: file.display().to_string(),
        created: container::now(),
        size,
        files,
    };
    write_info(staging.path(), &info)?;
    if staging.publish(&dest)?.is_none() {
        return Err(Error::invalid(format!(
            "image {name} was created by another import meanwhile"
        )));
    }
    if skipped > 0 {
        eprintln!(
            "diyc: skipped {skipped} device nodes and FIFOs: every container gets a fresh /dev"
        );
    }
    Ok(info)
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
    let users: Vec<String> = container::list(store)
        .into_iter()
        .filter(|c| c.image == name)
        .map(|c| c.name)
        .collect();
    if !users.is_empty() {
        return Err(Error::invalid(format!(
            "image {name} is used by {}; remove them first with `diyc rm NAME`",
            users.join(", ")
        )));
    }
    let _lock = store::try_lock(&path)?
        .ok_or_else(|| Error::invalid(format!("image {name} is being used right now")))?;
    store::remove_dir(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_parses_and_names_a_package() {
        let recipe = recipe();
        assert!(
            recipe
                .as_ref()
                .is_ok_and(|r| r.install_hint.contains("busybox-static"))
        );
    }

    #[test]
    fn ldd_output_yields_libraries_and_loader() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            ldd_paths(out),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
    }

    #[test]
    fn own_test_binary_is_dynamic_elf() {
        let me = std::env::current_exe().and_then(fs::read);
        assert!(me.is_ok_and(|b| elf_interpreter(&b).is_some_and(|i| i.starts_with('/'))));
        assert_eq!(elf_interpreter(b"#!/bin/sh\n"), None);
    }
}
