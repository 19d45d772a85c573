//! `diyc image import`: a root filesystem tarball (`docker export`
//! output), gzipped or not, from a file or stdin (`-`), unpacked into a
//! staging directory and renamed into place whole. Entries that would
//! land outside the image are refused; device nodes and FIFOs are skipped
//! (every container gets a fresh /dev). What it is comes from its content
//! (what.rs): anything else is named and refused in one line.

mod what;

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Component, Path};
use std::rc::Rc;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use super::image::{ImageInfo, dir, mkdir_mode, write_info};
use super::{Staging, Store, container, validate_name};
use crate::error::{Error, Result};
use crate::signals::Signals;

/// What an import made, and how many entries it left out.
pub struct Imported {
    pub info: ImageInfo,
    /// Device nodes and FIFOs, which a container never gets from its image.
    pub skipped: u64,
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
pub fn import(store: &Store, name: &str, file: &Path, signals: &Signals) -> Result<Imported> {
    validate_name("image", name)?;
    let dest = dir(store, name);
    if dest.exists() {
        return Err(Error::invalid(format!(
            "image {name} already exists; remove it first with `diyc image rm {name}`"
        )));
    }
    let shown_file = what::shown(&file.display().to_string());
    let opened = if file == Path::new("-") {
        let stdin = std::os::fd::AsFd::as_fd(&std::io::stdin())
            .try_clone_to_owned()
            .map_err(|e| Error::invalid(format!("cannot read stdin: {e}")))?;
        File::from(stdin)
    } else if file.is_dir() {
        return Err(Error::invalid(format!(
            "refusing {shown_file}: it is {}; {}",
            what::directory(file),
            what::ACCEPTS
        )));
    } else {
        File::open(file).map_err(|e| {
            Error::invalid(format!(
                "cannot read {shown_file}: {}",
                what::shown(&e.to_string())
            ))
        })?
    };
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
    let compression = what::compression(input.fill_buf().unwrap_or(&[]));
    let mut decoded: Box<dyn Read + '_> = match compression {
        what::Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        what::Compression::None => Box::new(input),
        what::Compression::Other(kind) => {
            return Err(Error::invalid(format!(
                "refusing {shown_file}: it is {kind}-compressed; {}",
                what::ACCEPTS
            )));
        }
    };
    let mut archive = tar::Archive::new(&mut decoded);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);

    let refuse =
        |why: String| Error::invalid(format!("refusing {shown_file}: {}", what::shown(&why)));
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
    // tar stops at its end blocks; the gzip trailer after them holds the
    // checksum of everything read, checked only when it is read too.
    let result = result.and_then(|()| {
        io::copy(&mut decoded, &mut io::sink())
            .map(drop)
            .map_err(|e| refuse(format!("damaged archive: {}", describe(&e))))
    });
    if let Some(sig) = stopped.get() {
        return Err(Error::Interrupted(sig));
    }
    result?;
    signals.check()?;
    if let Some(kind) = what::layered(&root) {
        return Err(refuse(format!("it is {kind}; {}", what::ACCEPTS)));
    }
    let info = ImageInfo {
        name: name.to_string(),
        source: if file == Path::new("-") {
            "stdin".into()
        } else {
            file.display().to_string()
        },
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
    Ok(Imported { info, skipped })
}
