//! Unpacking layers: each into a hidden staging directory of the layer
//! store, several at once (one per core), each layer's digests checked
//! once its last byte is read. A layer the store already holds is not
//! unpacked again.

use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use super::blobs::Blobs;
use super::decode::{self, Compression, Hashing, Interruptible, Shared, describe};
use super::layout::{Found, LayerRef};
use super::unpack::{Unpacked, unpack};
use crate::error::{Error, Result};
use crate::state::{Staging, Store, layers};

/// A layer unpacked, not yet published.
pub struct Layer {
    pub diff_id: String,
    pub unpacked: Unpacked,
    staging: Staging,
    /// Its files: `fs` in the staging directory.
    pub files: PathBuf,
}

impl Layer {
    fn new(store: &Store, label: &str) -> Result<Layer> {
        let staging = Staging::new(&layers::dir(store), "layer", label)?;
        let files = staging.path().join("fs");
        crate::state::image::mkdir_mode(&files, 0o755)?;
        Ok(Layer {
            diff_id: String::new(),
            unpacked: Unpacked::default(),
            staging,
            files,
        })
    }

    /// Into the store under its digest; someone else's copy, published
    /// first, is as good.
    pub fn publish(self, store: &Store) -> Result<()> {
        let info = layers::LayerInfo {
            size: self.unpacked.size,
            files: self.unpacked.files,
            whiteouts: self
                .unpacked
                .whiteouts
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        };
        layers::write_info(self.staging.path(), &info)?;
        self.staging
            .publish(&layers::dir(store).join(&self.diff_id))?;
        Ok(())
    }
}

/// On a terminal, bytes read, their rate and the layers done; hidden
/// otherwise, so that a pipe gets only the last line.
pub fn progress_bar(wanted: bool) -> indicatif::ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    set_total(&bar, None);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// How many bytes there are to read, once known: a bar instead of a count.
pub fn set_total(bar: &indicatif::ProgressBar, total: Option<u64>) {
    let template = match total {
        Some(n) => {
            bar.set_length(n);
            "importing {msg} [{bar:30}] {bytes}/{total_bytes} at {bytes_per_sec}, {eta} left"
        }
        None => "importing {msg} {spinner} {bytes} at {bytes_per_sec}",
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
}

/// Decode, hash and unpack one stream into `layer`; the digest of what
/// was read as stored, and of the tar.
fn fill<R: Read + Send>(
    layer: &mut Layer,
    input: R,
    shared: &Shared,
    refuse: &dyn Fn(String) -> Error,
) -> Result<(String, String)> {
    let damaged = |e: std::io::Error| refuse(format!("damaged archive: {}", describe(&e)));
    // Each hash sits under a buffer, so it is sent large pieces.
    let mut stored = BufReader::with_capacity(1 << 20, Hashing::new(input));
    let kind = Compression::of(stored.fill_buf().map_err(damaged)?);
    if kind == Compression::None {
        // Stored as it is: one digest serves for both.
        layer.unpacked = unpack(&mut stored, &layer.files, shared, refuse)?;
        let digest = rest(stored).map_err(damaged)?;
        return Ok((digest.clone(), digest));
    }
    let stream = decode::decoder(kind, &mut stored).map_err(damaged)?;
    let mut tar = BufReader::with_capacity(1 << 20, Hashing::new(stream));
    layer.unpacked = unpack(&mut tar, &layer.files, shared, refuse)?;
    let tar_digest = rest(tar).map_err(damaged)?;
    Ok((rest(stored).map_err(damaged)?, tar_digest))
}

/// The most a stream may go on after its tar's end blocks: padding to a
/// large record size, never a second archive nor a bomb's zeros.
const TRAILING: u64 = 4 << 20;

/// What is left under the buffer read too (at most TRAILING), and the
/// digest of it all.
fn rest<R: Read>(mut buffered: BufReader<Hashing<R>>) -> std::io::Result<String> {
    let left = std::io::copy(
        &mut (&mut buffered).take(TRAILING + 1),
        &mut std::io::sink(),
    )?;
    if left > TRAILING {
        return Err(std::io::Error::other(format!(
            "it goes on for more than {} MiB after the tar's end",
            TRAILING >> 20
        )));
    }
    buffered.into_inner().finish()
}

/// A stream read once, in order, into one staging layer.
pub fn unpack_stream(
    store: &Store,
    input: Interruptible<'_, '_, std::fs::File>,
    shared: &Shared,
    refuse: &dyn Fn(String) -> Error,
) -> Result<Layer> {
    let mut layer = Layer::new(store, "stream")?;
    let length = input
        .inner
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    set_total(&shared.progress, length);
    shared.progress.set_message("1 stream");
    let (_, diff_id) = fill(&mut layer, input, shared, refuse)?;
    layer.diff_id = diff_id;
    Ok(layer)
}

/// Every layer of `images` the store does not hold yet, unpacked.
pub fn unpack_layers(
    store: &Store,
    blobs: &Blobs,
    images: &[(String, Found)],
    shared: &Shared,
    refuse: &(dyn Fn(String) -> Error + Sync),
) -> Result<Vec<Layer>> {
    let mut wanted: Vec<&LayerRef> = Vec::new();
    for (_, found) in images {
        for layer in &found.layers {
            if !layers::exists(store, &layer.diff_id)
                && !wanted.iter().any(|w| w.diff_id == layer.diff_id)
            {
                wanted.push(layer);
            }
        }
    }
    let total: u64 = wanted
        .iter()
        .filter_map(|l| blobs.open(&l.blob).ok().map(|(_, len)| len))
        .sum();
    set_total(&shared.progress, Some(total));
    shared
        .progress
        .set_message(format!("0 of {} layers", wanted.len()));
    let count = wanted.len();
    let queue = Mutex::new(wanted.into_iter().enumerate().collect::<Vec<_>>());
    let done = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(count.max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some((i, layer)) = next else { break };
                    let result = one(store, blobs, layer, shared, refuse);
                    // The first layer to fail stops the others at their
                    // next read; its error is the reason, theirs only
                    // say they were stopped.
                    let first = result.is_err()
                        && shared
                            .stopped
                            .compare_exchange(false, true, Ordering::Relaxed, Ordering::Relaxed)
                            .is_ok();
                    let finished = done.lock().map(|d| d.len() + 1).unwrap_or(0);
                    shared
                        .progress
                        .set_message(format!("{finished} of {count} layers"));
                    if let Ok(mut d) = done.lock() {
                        d.push((i, result, first));
                    }
                }
            });
        }
    });
    shared.progress.finish_and_clear();
    let mut results = done.into_inner().unwrap_or_default();
    results.sort_by_key(|(i, _, _)| *i);
    let mut made = Vec::new();
    let (mut first_error, mut other_error) = (None, None);
    for (_, result, first) in results {
        match result {
            Ok(layer) => made.push(layer),
            Err(e) if first => first_error = Some(e),
            Err(e) => {
                other_error.get_or_insert(e);
            }
        }
    }
    match first_error.or(other_error) {
        Some(e) => Err(e),
        None => Ok(made),
    }
}

fn one(
    store: &Store,
    blobs: &Blobs,
    wanted: &LayerRef,
    shared: &Shared,
    refuse: &dyn Fn(String) -> Error,
) -> Result<Layer> {
    let short = &wanted.diff_id[..12];
    let mut layer = Layer::new(store, short)?;
    let (file, _) = blobs.open(&wanted.blob).map_err(refuse)?;
    let input = Interruptible {
        inner: file,
        wait: None,
        shared,
    };
    let (stored, tar) = fill(&mut layer, input, shared, refuse)?;
    let mismatch = |what: &str| {
        refuse(format!(
            "layer {short}'s {what} does not match its digest: the archive is damaged or was changed"
        ))
    };
    if wanted.digest.as_ref().is_some_and(|d| *d != stored) {
        return Err(mismatch("file"));
    }
    if tar != wanted.diff_id {
        return Err(mismatch("content"));
    }
    layer.diff_id = tar;
    Ok(layer)
}
