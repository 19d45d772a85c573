//! The `diyc image` commands: import, ls, inspect, history, export, rm.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use crate::cli::ImageCommand;
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::Explainer;
use crate::signals::Signals;
use crate::state::{Store, export, image, layers};
use crate::sys::Sys;
use crate::warnings;

pub fn run(store: &Store, command: ImageCommand) -> Result<i32> {
    match command {
        ImageCommand::Import {
            args,
            reference,
            max_size,
        } => import(store, &args, reference, max_size),
        ImageCommand::Ls => {
            ls(store);
            Ok(0)
        }
        ImageCommand::Inspect { name } => {
            let info = image::read(store, &checked(store, &name)?)?;
            let text = serde_json::to_string_pretty(&info)
                .map_err(|e| Error::encoding("encoding the image", e))?;
            println!("{text}");
            Ok(0)
        }
        ImageCommand::History { name } => history(store, &checked(store, &name)?),
        ImageCommand::Export { name, file } => {
            super::own_the_files()?;
            export::export(store, &checked(store, &name)?, &file)?;
            Ok(0)
        }
        ImageCommand::Rm { name } => {
            super::own_the_files()?;
            image::remove(store, &name)?;
            Ok(0)
        }
    }
}

/// An image that exists, by the name it is kept under.
fn checked(store: &Store, name: &str) -> Result<String> {
    image::validate_name(name)?;
    let kept = image::resolve(store, name);
    if image::lowers(store, &kept)?.is_none() {
        return Err(Error::invalid(format!("no image named {name}")));
    }
    Ok(kept)
}

fn import(
    store: &Store,
    args: &[String],
    reference: Option<String>,
    max_size: Option<u64>,
) -> Result<i32> {
    let (name, source) = match args {
        [source] => (None, source),
        [name, source] => (Some(name.clone()), source),
        _ => return Err(Error::invalid("diyc image import takes [NAME] SOURCE")),
    };
    super::own_the_files()?;
    let signals = Signals::block()?;
    let max_size = match max_size {
        Some(n) => n,
        None => default_max_size(store),
    };
    let options = crate::state::image::ImportOptions {
        name,
        reference,
        max_size,
        progress: true,
    };
    let mut explainer = Explainer::new(None);
    let mut sys = Sys::new(&mut explainer, StageId::Image);
    let made = image::import(store, Path::new(source), &options, &mut sys, &signals)?;
    for one in made {
        let info = &one.info;
        let layers = match info.layers.len() {
            1 => "1 layer".to_string(),
            n => format!("{n} layers"),
        };
        let reused = match one.reused {
            0 => String::new(),
            n => format!(" ({n} already here)"),
        };
        println!(
            "imported image {} ({}): {layers}{reused}, {} entries, {}",
            info.name,
            info.format,
            info.files,
            size_text(info.size)
        );
        if one.skipped > 0 {
            warnings::warn(format!(
                "skipped {} device nodes and FIFOs: every container gets a fresh /dev",
                one.skipped
            ));
        }
    }
    Ok(0)
}

/// 90% of the space free where the store is: a bomb stops before the
/// disk is full.
fn default_max_size(store: &Store) -> u64 {
    let at = if store.root().exists() {
        store.root()
    } else {
        store.root().parent().unwrap_or(Path::new("/"))
    };
    nix::sys::statvfs::statvfs(at)
        .map(|s| s.blocks_available() * s.fragment_size() / 10 * 9)
        .unwrap_or(u64::MAX)
}

fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 10 << 30 => format!("{} GiB", b >> 30),
        b if b >= 10 << 20 => format!("{} MiB", b >> 20),
        b => format!("{} KiB", b.div_ceil(1024)),
    }
}

/// A row per image: its layers, the space they take on disk, and how much
/// of that other images use too.
fn ls(store: &Store) {
    let rows = image::list(store);
    // An image may list one layer twice (two steps that changed the same
    // nothing): it is one directory, and that image alone is no sharing.
    let distinct = |info: &image::ImageInfo| -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        info.layers
            .iter()
            .filter(|l| seen.insert(l.as_str()))
            .cloned()
            .collect()
    };
    let mut users: HashMap<String, usize> = HashMap::new();
    for (info, _) in &rows {
        for layer in distinct(info) {
            *users.entry(layer).or_default() += 1;
        }
    }
    let mut sizes: HashMap<String, u64> = HashMap::new();
    let width = rows
        .iter()
        .map(|(i, _)| i.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<width$}  {:>6}  {:>9}  {:>9}  SOURCE",
        "NAME", "LAYERS", "ON DISK", "SHARED"
    );
    for (info, made) in &rows {
        if !made {
            let _ = writeln!(
                out,
                "{:<width$}  {:>6}  {:>9}  {:>9}  {}",
                info.name, "-", "-", "-", info.source
            );
            continue;
        }
        let (mut total, mut shared) = (0, 0);
        if info.layers.is_empty() {
            total = layers::disk_usage(&image::dir(store, &info.name));
        }
        for layer in distinct(info) {
            let size = *sizes
                .entry(layer.clone())
                .or_insert_with(|| layers::disk_usage(&layers::dir(store).join(&layer)));
            total += size;
            if users.get(&layer).copied().unwrap_or(0) > 1 {
                shared += size;
            }
        }
        let _ = writeln!(
            out,
            "{:<width$}  {:>6}  {:>9}  {:>9}  {}",
            info.name,
            info.layers.len().max(1),
            size_text(total),
            size_text(shared),
            crate::state::image::shown(&info.source)
        );
    }
}

/// Newest step first; a step with a layer shows that layer's size.
fn history(store: &Store, name: &str) -> Result<i32> {
    let info = image::read(store, name)?;
    let mut sizes = info
        .layers
        .iter()
        .map(|l| layers::info(store, l).map(|i| i.size).unwrap_or(0));
    let mut rows: Vec<[String; 4]> = Vec::new();
    for step in &info.history {
        let size = if step.empty_layer {
            "0 KiB".to_string()
        } else {
            sizes.next().map_or_else(|| "-".into(), size_text)
        };
        rows.push([
            crate::state::image::shown(step.created.as_deref().unwrap_or("-")),
            crate::state::image::shown(step.created_by.as_deref().unwrap_or("-")),
            size,
            crate::state::image::shown(step.comment.as_deref().unwrap_or("")),
        ]);
    }
    if info.history.is_empty() {
        println!("image {name} records no history ({})", info.format);
        return Ok(0);
    }
    // As wide as the widest time: tools write them with nanoseconds.
    let width = rows
        .iter()
        .map(|[created, ..]| created.len())
        .max()
        .unwrap_or(0)
        .max("CREATED".len());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}  CREATED BY  COMMENT",
        "CREATED", "SIZE"
    );
    for [created, by, size, comment] in rows.iter().rev() {
        let _ = writeln!(out, "{created:<width$}  {size:>9}  {by}  {comment}");
    }
    Ok(0)
}
