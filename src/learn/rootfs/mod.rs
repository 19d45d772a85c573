//! The rootfs lesson: the image becomes `/` by pivot_root, and the classic
//! way out of a chroot leads nowhere (src/stages/rootfs.rs). The escape is
//! a stage of its own, run after the others, so its calls show under its
//! own heading; so are the live run's writes, whose landing places the
//! host looks at (layers.rs). pictures.rs draws both.

mod layers;
mod pictures;

pub use layers::HEADING as LAYERS_HEADING;
pub use pictures::pictures;

use std::cell::RefCell;

use super::parts::ROOT_WATCH;
use super::probes;
use super::rootless::Built;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::{Heading, StageId};
use crate::stages::Stage;
use crate::sys::{Call, Sys};
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../../lessons/rootfs.md");

/// What `--explain` prints above the escape attempt.
pub const ESCAPE_HEADING: Heading = Heading {
    title: "escape: the way out of a chroot, tried from inside",
    why: "A root process makes a directory, chroots into it while its working directory stays outside, and climbs.",
};

/// The device and inode of the host's `/`: a directory that is the host's
/// root wherever it is seen from, so an escape is told by identity, not by
/// what some file happens to hold.
fn root_identity(path: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The escape attempt, made from inside the container.
struct Escape {
    host_root: Option<(u64, u64)>,
    result: RefCell<String>,
}

impl Stage for Escape {
    fn id(&self) -> StageId {
        StageId::Escape
    }

    fn requires(&self) -> &'static [StageId] {
        &[StageId::Rootfs]
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Escape);
        let _ = sys.call(Call::Mkdirat {
            path: "/lesson-escape".into(),
            mode: 0o700,
        });
        sys.call(Call::Chroot {
            path: "/lesson-escape".into(),
        })?;
        for _ in 0..16 {
            sys.call(Call::Chdir { path: "..".into() })?;
        }
        sys.call(Call::Chroot { path: ".".into() })?;
        let here = root_identity("/");
        *self.result.borrow_mut() = if here.is_some() && here == self.host_root {
            let what = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
            format!(
                "ESCAPED: / here is the host's own root (its /etc/hostname says {})",
                what.trim()
            )
        } else {
            "stayed inside: climbing stops at the container's own root".into()
        };
        Ok(())
    }

    fn inside(&self) -> Vec<String> {
        vec![self.result.borrow().clone()]
    }
}

fn run(s: &mut Session, chroot: bool) -> Result<Observed> {
    let mut undo = Undo::new();
    let name = if chroot {
        "lesson-chroot"
    } else {
        "lesson-rootfs"
    };
    // The live run's writable layer is on disk, where the host can look
    // at what the container wrote; the chroot's stays in memory.
    let built: Built = if chroot {
        s.base(&mut undo, name, true)?.into()
    } else {
        let (plan, upper) = s.base_on_disk(&mut undo, name)?;
        Built::from(plan).then(layers::Layers {
            lower: s.busybox()?,
            upper,
        })
    };
    let built = built.then(Escape {
        host_root: root_identity("/"),
        result: RefCell::default(),
    });
    let env = s.container_env(name);
    s.launch(built, &["ls", "-C", "/"], env, ROOT_WATCH, undo)
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let seen = run(s, false)?;
    s.check(
        !seen.saw(StageId::Escape, true, "ESCAPED")
            && seen.saw(StageId::Rootfs, false, "host's mount table: no mount"),
        "the way out of a chroot leads nowhere after pivot_root, and the overlay never showed on the host",
    )?;
    let landed = |what: &str| {
        seen.lines(StageId::Layers, false)
            .iter()
            .any(|l| l.trim_start().starts_with(what))
    };
    s.check(
        landed(&format!("upper{}: a file", layers::WRITTEN))
            && landed(&format!("upper{}: a whiteout", layers::DELETED))
            && landed(&format!("lower{}: a file", layers::DELETED)),
        "the file it wrote is in the upper directory, the one it deleted is a whiteout there, and the image still has it",
    )?;
    Ok((seen, StageId::Rootfs))
}

/// The same container entered with chroot: the climb reaches the host.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let before = probes::mounts();
    let seen = run(s, true)?;
    s.effect(
        seen.saw(StageId::Escape, true, "ESCAPED"),
        "from inside a chroot, a root process climbed out to the host's files",
    )?;
    let lessons = s.scratch_path("")?;
    let lessons = lessons.trim_end_matches('/').to_string();
    let left = probes::mounts_left(&before, &probes::mounts(), &|point, _, _| {
        probes::at_or_below(point, &lessons)
    });
    s.undone_mounts(
        &left,
        "the host's mount table is as it was below the lesson's directory",
    )?;
    Ok(seen)
}
