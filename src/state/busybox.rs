//! The built-in image: made on first use from the host's own busybox
//! binary, as images/busybox/recipe.toml describes it, with its shared
//! libraries when it is linked dynamically. Nothing is downloaded.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::image::{ImageInfo, dir, mkdir_mode, rootfs, write_info};
use super::{Staging, Store, container};
use crate::error::{Error, IoContext, Result};
use crate::event::StageId;
use crate::signals::Signals;
use crate::sys::Sys;

pub const BUILTIN: &str = "busybox";
const RECIPE: &str = include_str!("../../images/busybox/recipe.toml");

/// images/busybox/ping.c, built by build.rs.
const PING: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ping"));

#[derive(Deserialize)]
struct Recipe {
    search: Vec<String>,
    install_hint: String,
    binary: String,
    ping: String,
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

fn recipe() -> Result<Recipe> {
    toml::from_str(RECIPE).map_err(|e| Error::invalid(format!("the busybox recipe is broken: {e}")))
}

/// The host's busybox the built-in image is made from, or why there is
/// none (with how to install one): what `diyc doctor` checks.
pub fn host_binary() -> Result<PathBuf> {
    find_busybox(&recipe()?)
}

/// How to install the busybox the recipe looks for.
pub fn install_hint() -> Result<String> {
    recipe().map(|r| r.install_hint)
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

pub(super) fn build(store: &Store, sys: &mut Sys, signals: &Signals) -> Result<()> {
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
    let ping = root.join(&recipe.ping);
    fs::write(&ping, PING).ctx("writing", &ping)?;
    fs::set_permissions(&ping, fs::Permissions::from_mode(0o755))
        .ctx("setting the mode of", &ping)?;
    let mut size = (bytes.len() + PING.len()) as u64;
    let mut files = 2;
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
            format: "built from the host's busybox".into(),
            name: BUILTIN.into(),
            source: binary_text,
            created: container::now(),
            size,
            files,
            ..ImageInfo::default()
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
