//! `diyc image import`: an image as people have it, told from its content
//! (what.rs): a flat root filesystem tar (`docker export`), a `docker save`
//! archive, or an OCI image layout as a directory or a tar, with layers
//! plain or compressed (decode.rs), from a file, a FIFO or stdin (`-`).
//!
//! Each layer is unpacked once into the layer store (layers.rs), beside
//! the others at the same time, its digests checked (unpack.rs, jobs.rs);
//! whiteouts are made once the layers below are known (whiteout.rs); then
//! the layers are published and the image, its list of layers, written
//! last, so that an interrupted import leaves nothing a run could use.

mod blobs;
mod decode;
mod jobs;
mod layout;
mod unpack;
mod what;
mod whiteout;

use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use nix::fcntl::{FcntlArg, FlockArg, OFlag, fcntl};

pub use what::shown;

use super::image::{ImageInfo, dir, validate_name, write_info};
use super::{Staging, Store, container, layers};
use crate::error::{Error, Result};
use crate::signals::Signals;
use crate::sys::Sys;
use blobs::Blobs;
use decode::{Interruptible, Shared};
use jobs::Layer;
use layout::Found;

/// What `diyc image import` was asked.
pub struct Options {
    /// The name to give the image; None: the archive's own.
    pub name: Option<String>,
    /// Which image of an archive that holds several.
    pub reference: Option<String>,
    /// How many bytes the layers may unpack to, together.
    pub max_size: u64,
    /// A progress bar on stderr.
    pub progress: bool,
}

/// What an import made.
pub struct Imported {
    pub info: ImageInfo,
    /// Device nodes and FIFOs, which a container never gets from its image.
    pub skipped: u64,
    /// Layers it found already in the store, unpacked by an earlier import.
    pub reused: usize,
}

/// Where the bytes come from.
enum Source {
    /// Read once, in order: stdin, a FIFO, a compressed file, a flat tar.
    Stream(File, Option<std::os::fd::OwnedFd>),
    /// An image archive whose files can be read where they lie.
    Archive(Blobs),
}

fn open(file: &Path, shown_file: &str) -> Result<Source> {
    let cannot = |e: std::io::Error| {
        Error::invalid(format!(
            "cannot read {shown_file}: {}",
            shown(&e.to_string())
        ))
    };
    if file == Path::new("-") {
        let fd = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(cannot)?;
        let wait = fd.try_clone().map_err(cannot)?;
        return Ok(Source::Stream(File::from(fd), Some(wait)));
    }
    let meta = std::fs::metadata(file).map_err(cannot)?;
    if meta.is_dir() {
        let blobs = Blobs::Dir(file.to_path_buf());
        return match layout::kind(&blobs) {
            Some(_) => Ok(Source::Archive(blobs)),
            None => Err(Error::invalid(format!(
                "refusing {shown_file}: it is a directory, not an image layout; {}",
                what::ACCEPTS
            ))),
        };
    }
    if meta.file_type().is_fifo() || meta.file_type().is_char_device() {
        // Opened without waiting for a writer: the wait happens in the
        // reader, where a stop signal can end it.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(file)
            .map_err(cannot)?;
        let flags = fcntl(f.as_fd(), FcntlArg::F_GETFL).map_err(|e| cannot(e.into()))?;
        let flags = OFlag::from_bits_truncate(flags) - OFlag::O_NONBLOCK;
        fcntl(f.as_fd(), FcntlArg::F_SETFL(flags)).map_err(|e| cannot(e.into()))?;
        let wait = f.as_fd().try_clone_to_owned().map_err(cannot)?;
        return Ok(Source::Stream(f, Some(wait)));
    }
    let mut f = File::open(file).map_err(cannot)?;
    let mut head = [0u8; 8];
    let n = f.read(&mut head).map_err(cannot)?;
    if decode::Compression::of(&head[..n]) == decode::Compression::None {
        if let Ok(Some(blobs)) = Blobs::index_tar(file) {
            if layout::kind(&blobs).is_some() {
                return Ok(Source::Archive(blobs));
            }
        }
    }
    Ok(Source::Stream(File::open(file).map_err(cannot)?, None))
}

/// Import the image(s) in `file` (a path, or `-` for stdin).
pub fn import(
    store: &Store,
    file: &Path,
    options: &Options,
    sys: &mut Sys,
    signals: &Signals,
) -> Result<Vec<Imported>> {
    if let Some(name) = &options.name {
        validate_name(name)?;
        refuse_existing(store, name)?;
    }
    let shown_file = shown(&file.display().to_string());
    let refuse = |why: String| Error::invalid(format!("refusing {shown_file}: {}", shown(&why)));
    let source = open(file, &shown_file)?;
    store.create()?;
    let _held = layers::hold(store, FlockArg::LockShared)?;
    let shared = Shared {
        signals,
        stopped: AtomicBool::new(false),
        signal: 0.into(),
        progress: jobs::progress_bar(options.progress),
        unpacked: 0.into(),
        max_size: options.max_size,
    };
    // A stream is unpacked as it comes; only then is it known to be a flat
    // root filesystem or an image archive that came compressed or piped.
    let mut streamed = None;
    let blobs = match source {
        Source::Archive(blobs) => blobs,
        Source::Stream(f, wait) => {
            let input = Interruptible {
                inner: f,
                wait,
                shared: &shared,
            };
            let layer = jobs::unpack_stream(store, input, &shared, &refuse);
            if let Some(stop) = shared.interrupted() {
                return Err(stop);
            }
            let layer = layer?;
            match what::layered(&layer.files) {
                Some(_) => {
                    let blobs = Blobs::Dir(layer.files.clone());
                    streamed = Some(layer);
                    blobs
                }
                None => {
                    let name = options.name.clone().ok_or_else(|| {
                        refuse(format!(
                            "it is a root filesystem tar, which names no image: give one, `diyc image import NAME {shown_file}`"
                        ))
                    })?;
                    let found = Found::flat(&layer.diff_id);
                    let images = vec![(name, found)];
                    signals.check()?;
                    return finish(store, sys, file, images, vec![layer], &refuse);
                }
            }
        }
    };
    let found = layout::images(&blobs).map_err(&refuse)?;
    signals.check()?;
    let images = choose(store, found, options, &refuse)?;
    // Every layer must be in the archive, even one the store holds: an
    // archive gets no layer it does not bring.
    for (_, found) in &images {
        if let Some(missing) = found.layers.iter().find(|l| !blobs.has(&l.blob)) {
            return Err(refuse(format!(
                "it lists the layer {}, which it does not hold",
                missing.blob
            )));
        }
    }
    let made = jobs::unpack_layers(store, &blobs, &images, &shared, &refuse);
    if let Some(stop) = shared.interrupted() {
        return Err(stop);
    }
    drop(streamed);
    let made = made?;
    signals.check()?;
    finish(store, sys, file, images, made, &refuse)
}

fn refuse_existing(store: &Store, name: &str) -> Result<()> {
    if dir(store, name).exists() {
        return Err(Error::invalid(format!(
            "image {name} already exists; remove it first with `diyc image rm {name}`"
        )));
    }
    Ok(())
}

/// The images to make, with their names: the one asked for by `--ref`,
/// or the only one, or every one the archive names.
fn choose(
    store: &Store,
    found: Vec<Found>,
    options: &Options,
    refuse: &dyn Fn(String) -> Error,
) -> Result<Vec<(String, Found)>> {
    let names: Vec<String> = found.iter().filter_map(|f| f.reference.clone()).collect();
    let mut found = found;
    if let Some(wanted) = &options.reference {
        let matches = |f: &Found| {
            f.reference
                .as_deref()
                .is_some_and(|r| r == wanted || r.split(':').next() == Some(wanted.as_str()))
        };
        found.retain(matches);
        if found.is_empty() {
            return Err(refuse(format!(
                "it holds no image {wanted}; it holds {}",
                listed(&names)
            )));
        }
        found.truncate(1);
    }
    let chosen: Vec<(String, Found)> = match &options.name {
        Some(name) if found.len() == 1 => vec![(name.clone(), found.remove(0))],
        Some(_) => {
            return Err(refuse(format!(
                "it holds {} images ({}): pick one with --ref",
                found.len(),
                listed(&names)
            )));
        }
        None => found
            .into_iter()
            .map(|f| match f.reference.clone() {
                Some(name) => Ok((name, f)),
                None => Err(refuse(
                    "it holds an image without a name: give one, `diyc image import NAME FILE`"
                        .into(),
                )),
            })
            .collect::<Result<_>>()?,
    };
    // One image per name, however often the archive says it.
    let mut chosen = chosen;
    let mut seen = std::collections::HashSet::new();
    chosen.retain(|(name, _)| seen.insert(name.clone()));
    for (name, _) in &chosen {
        refuse_existing(store, name)?;
    }
    Ok(chosen)
}

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        "none with a name".into()
    } else {
        names.join(", ")
    }
}

/// Whiteouts made and checked for each image's stack of layers, the new
/// layers published, then each image written.
fn finish(
    store: &Store,
    sys: &mut Sys,
    file: &Path,
    images: Vec<(String, Found)>,
    new: Vec<Layer>,
    refuse: &dyn Fn(String) -> Error,
) -> Result<Vec<Imported>> {
    let where_is = |hex: &str| -> PathBuf {
        new.iter()
            .find(|l| l.diff_id == hex)
            .map_or_else(|| layers::files_of(store, hex), |l| l.files.clone())
    };
    let mut done = std::collections::HashSet::new();
    for (_, found) in &images {
        let mut below: Vec<PathBuf> = Vec::new();
        for layer in &found.layers {
            let fresh = new.iter().find(|l| l.diff_id == layer.diff_id);
            match fresh {
                Some(l) if done.insert(l.diff_id.clone()) => {
                    whiteout::apply(sys, &l.unpacked, &below, Some(&l.files), refuse)?
                }
                Some(l) => whiteout::apply(sys, &l.unpacked, &below, None, refuse)?,
                None => {
                    let info = layers::info(store, &layer.diff_id)?;
                    let unpacked = unpack::Unpacked {
                        whiteouts: info.whiteouts.iter().map(PathBuf::from).collect(),
                        ..Default::default()
                    };
                    whiteout::apply(sys, &unpacked, &below, None, refuse)?;
                }
            }
            below.push(where_is(&layer.diff_id));
        }
    }
    let skipped = new.iter().map(|l| l.unpacked.skipped).sum();
    let fresh: Vec<String> = new.iter().map(|l| l.diff_id.clone()).collect();
    for layer in new {
        layer.publish(store)?;
    }
    let mut made = Vec::new();
    for (name, found) in images {
        let infos: Vec<layers::LayerInfo> = found
            .layers
            .iter()
            .map(|l| layers::info(store, &l.diff_id))
            .collect::<Result<_>>()?;
        let info = ImageInfo {
            name: name.clone(),
            source: if file == Path::new("-") {
                "stdin".into()
            } else {
                file.display().to_string()
            },
            created: container::now(),
            size: infos.iter().map(|i| i.size).sum(),
            files: infos.iter().map(|i| i.files).sum(),
            layers: found.layers.iter().map(|l| l.diff_id.clone()).collect(),
            format: found.format.into(),
            config: found.config,
            history: found.history,
        };
        let staging = Staging::new(&store.images_dir(), "import", &name)?;
        write_info(staging.path(), &info)?;
        if staging.publish(&dir(store, &name))?.is_none() {
            return Err(Error::invalid(format!(
                "image {name} was created by another import meanwhile"
            )));
        }
        let reused = info.layers.iter().filter(|l| !fresh.contains(l)).count();
        made.push(Imported {
            info,
            skipped: if made.is_empty() { skipped } else { 0 },
            reused,
        });
    }
    Ok(made)
}
