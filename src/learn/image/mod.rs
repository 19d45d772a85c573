//! The image lesson: where a root filesystem comes from. A small image
//! of two layers is made on the spot as an OCI image layout
//! (src/state/sample.rs), imported by diyc's own importer, whose whiteout
//! and opaque directory show as the calls that make them, and stacked
//! by the rootfs stage's overlay on the busybox image. look.rs is what
//! the container and the host then see; pictures.rs draws it. The run
//! with the key step left out stacks the same two tars unpacked as they
//! are, their marks left as plain files, as diyc did before it knew
//! about whiteouts.

mod look;
mod pictures;

pub use pictures::pictures;

use std::path::{Path, PathBuf};

use super::parts::{ROOT_WATCH, remove_tree};
use super::rootless::Built;
use super::session::{Capture, Observed, Session};
use crate::error::{Error, Result};
use crate::event::{Event, Outcome, StageId};
use crate::stages::order::Plan;
use crate::stages::rootfs::{self, IN_MEMORY_DEFAULT, Rootfs};
use crate::stages::uts::Uts;
use crate::state::image::{self, ImportOptions};
use crate::state::{layers, sample};
use crate::sys::{Call, Recorder, Sys};
use crate::undo::{Undo, When};

pub const TEXT: &str = include_str!("../../../lessons/image.md");

/// The sample image's name in the store while the lesson runs.
const IMAGE: &str = "lesson-image";

/// What the container runs: `cat` of the deleted file, `ls` of its
/// directory and of the opaque one, so what the lesson says is there is
/// what a command listed.
const COMMAND: &[&str] = &[
    "sh",
    "-c",
    "cat /etc/motd-old; echo /etc: $(ls -A /etc)';' /srv/site: $(ls -A /srv/site)",
];

/// What the importer says of a layer whose bytes are not those its
/// digest names.
const MISMATCH: &str = "does not match its digest";

/// A directory of the lesson's own beside its mount point, removed with
/// everything in it at the end (and first, if a killed diyc left it).
fn workspace(sys: &mut Sys, undo: &mut Undo, dir: &str, what: &str) -> Result<()> {
    sys.note(format!("{what}, in {dir}; removed at the end"));
    let gone = dir.to_string();
    undo.push(format!("removing {dir}"), When::Always, move |sys| {
        remove_tree(sys, &gone)
    });
    remove_tree(sys, dir)?;
    sys.call(Call::Mkdirat {
        path: dir.to_string(),
        mode: 0o755,
    })
    .map(drop)
}

fn label(i: usize, count: usize) -> String {
    if i + 1 == count {
        format!("layer {} (top)", i + 1)
    } else {
        format!("layer {}", i + 1)
    }
}

fn text(path: &Path) -> String {
    path.display().to_string()
}

/// The sample's OCI image layout in `dir` imported by diyc's importer,
/// shown in full, after the copy in `changed` that it must refuse; its
/// layers in the store, top first.
fn import(
    s: &Session,
    undo: &mut Undo,
    kept: &mut Capture,
    (dir, changed): (&str, &str),
) -> Result<Vec<look::Layer>> {
    // An image a killed diyc left would stop the import.
    if image::lowers(s.store, IMAGE)?.is_some() {
        image::remove(s.store, IMAGE)?;
    }
    let store = s.store.clone();
    undo.push(
        format!("removing the image {IMAGE} and its layers"),
        When::Always,
        move |_| match image::lowers(&store, IMAGE)? {
            Some(_) => image::remove(&store, IMAGE),
            None => Ok(()),
        },
    );
    let mut sys = Sys::new(kept, StageId::Image);
    sys.stage(StageId::Image);
    let options = ImportOptions {
        name: Some(IMAGE.into()),
        reference: None,
        max_size: 1 << 20,
        progress: false,
    };
    sys.note(format!(
        "first {changed}, a copy of the layout with one byte of layer 1's file changed; diyc's importer checks each digest and refuses it:"
    ));
    // Refused only once the layer is read to its end: nothing of it is
    // published, and no whiteout is made.
    match image::import(s.store, Path::new(changed), &options, &mut sys, &s.signals) {
        Err(Error::Invalid(why)) if why.contains(MISMATCH) => sys.note(format!("diyc: {why}")),
        Err(e) => return Err(e),
        Ok(_) => {
            return Err(Error::Check(format!(
                "the importer took {changed}, whose layer 1 does not match its digest"
            )));
        }
    }
    sys.note(format!(
        "then the layout itself, in {dir}: each layer is unpacked into its store, once; layer 2's .wh. marks become what overlayfs reads:"
    ));
    let imported = image::import(s.store, Path::new(dir), &options, &mut sys, &s.signals)?;
    let hexes = imported
        .first()
        .map(|i| i.info.layers.clone())
        .unwrap_or_default();
    let count = hexes.len();
    let mut stack: Vec<look::Layer> = hexes
        .iter()
        .enumerate()
        .map(|(i, hex)| look::Layer {
            label: label(i, count),
            dir: text(&layers::files_of(s.store, hex)),
        })
        .collect();
    stack.reverse();
    Ok(stack)
}

/// The same two tars unpacked as they are, marks and all, with no
/// importer: top first.
fn as_is(sys: &mut Sys, dir: &str, made: &[sample::Layer]) -> Result<Vec<look::Layer>> {
    let mut stack = Vec::new();
    for (i, layer) in made.iter().enumerate() {
        let to = format!("{dir}/layer-{}", i + 1);
        sys.call(Call::Mkdirat {
            path: to.clone(),
            mode: 0o755,
        })?;
        sample::unpack_as_is(sys, layer, &to)?;
        stack.push(look::Layer {
            label: label(i, made.len()),
            dir: to,
        });
    }
    stack.reverse();
    Ok(stack)
}

fn run(s: &mut Session, marks: bool) -> Result<Observed> {
    let mut undo = Undo::new();
    let name = if marks { IMAGE } else { "lesson-plain" };
    let base = s.busybox()?;
    let scratch = s.scratch(&mut undo, name)?;
    let made = sample::layers()?;
    let dir = format!("{}.layers", s.scratch_path(name)?);
    let changed = format!("{}.changed", s.scratch_path(name)?);
    // The lesson's own set-up, one folded line.
    let plain = {
        let mut shown = s.scaffolding();
        let mut sys = Sys::new(&mut shown, StageId::Image);
        if marks {
            let what = "the sample image, two layers written as an OCI image layout";
            workspace(&mut sys, &mut undo, &dir, what)?;
            sample::write_layout(&mut sys, &dir, &made)?;
            let what = "a copy of it, one byte of layer 1's file changed";
            workspace(&mut sys, &mut undo, &changed, what)?;
            sample::write_changed_layout(&mut sys, &changed, &made)?;
            None
        } else {
            let what = "the sample's two layers, each unpacked as its tar holds it: no whiteout is made, the .wh. marks stay plain files";
            workspace(&mut sys, &mut undo, &dir, what)?;
            Some(as_is(&mut sys, &dir, &made)?)
        }
    };
    // The import is made before the launch, by the launch's own
    // explainer: it is part of the stage, on screen and in the handout.
    let mut kept = s.capture();
    let stack = match plain {
        Some(stack) => stack,
        None => import(s, &mut undo, &mut kept, (&dir, &changed))?,
    };
    kept.flush();
    let mut lowers: Vec<PathBuf> = stack.iter().map(|l| PathBuf::from(&l.dir)).collect();
    lowers.push(PathBuf::from(&base));
    let lower = rootfs::lowerdir(&lowers, 0)?;
    let uts = Uts {
        hostname: name.into(),
        domainname: None,
    };
    let plan = Plan::base(uts, Rootfs::in_memory(lower, scratch, IN_MEMORY_DEFAULT));
    let built = Built::from(plan).then(look::Look {
        layers: stack,
        base,
    });
    let env = s.container_env(name);
    s.launch_after(kept, built, COMMAND, env, ROOT_WATCH, undo)
}

/// Whether the run made a call of the image stage that `pick` chooses,
/// and it worked.
fn made(seen: &Observed, pick: fn(&Call) -> bool) -> bool {
    seen.calls().any(|(stage, _, call, outcome)| {
        stage == StageId::Image && pick(call) && matches!(outcome, Outcome::Ok(_))
    })
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let seen = run(s, true)?;
    let refused = seen.events.iter().any(|e| {
        matches!(e, Event::Note { stage: StageId::Image, text } if text.starts_with("diyc: ") && text.contains(MISMATCH))
    });
    s.check(
        refused
            && made(&seen, |c| matches!(c, Call::Mknodat { major: 0, minor: 0, .. }))
            && made(&seen, |c| matches!(c, Call::Lsetxattr { name, .. } if name == crate::state::layers::opaque_xattr())),
        "the importer refused the changed copy, then made layer 2's .wh.motd-old a whiteout (mknodat, a character device 0:0) and marked its /srv/site opaque (lsetxattr)",
    )?;
    let inside = seen.lines(StageId::Image, true);
    s.check(
        inside.iter().any(|l| l == "/etc/motd-old: no such file")
            && inside.iter().any(|l| l == "/srv/site holds: index.html"),
        "the container sees no /etc/motd-old, and in /srv/site only layer 2's index.html",
    )?;
    Ok((seen, StageId::Image))
}

/// The same layers with their marks left as plain files.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let seen = run(s, false)?;
    let inside = seen.lines(StageId::Image, true);
    let site = inside
        .iter()
        .find_map(|l| l.strip_prefix("/srv/site holds: "))
        .unwrap_or_default();
    s.effect(
        inside.iter().any(|l| l.starts_with("/etc/motd-old: \""))
            && sample::OLD_PAGES.iter().all(|p| site.split(' ').any(|n| n == *p)),
        "with the marks left as plain files, the deleted /etc/motd-old is back, and /srv/site shows layer 1's a.html and b.html again",
    )?;
    let made = sample::layers()?;
    let left = image::lowers(s.store, IMAGE)?.is_some()
        || made.iter().any(|l| layers::exists(s.store, &l.diff_id))
        || [IMAGE, "lesson-plain"].iter().any(|name| {
            s.scratch_path(name).is_ok_and(|p| {
                ["layers", "changed"]
                    .iter()
                    .any(|end| Path::new(&format!("{p}.{end}")).exists())
            })
        });
    s.undone(
        !left,
        "the sample image, its layers in the store and the lesson's directories are gone",
    )?;
    Ok(seen)
}
