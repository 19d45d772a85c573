//! The rootfs lesson's look at the overlay: from inside, the container
//! writes a file and deletes one of the image's; the host then looks at
//! the three layers while the container still runs: the upper directory
//! on disk (where both changes landed), the image below (unchanged), and
//! the merged view through /proc/PID/root (what the container sees).

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use crate::error::Result;
use crate::event::{Heading, StageId};
use crate::stages::Stage;
use crate::sys::{Call, Sys};

/// What `--explain` prints above the lesson's writes.
pub const HEADING: Heading = Heading {
    title: "layers: a file written and a file deleted, seen from the host",
    why: "The container changes its root; the host looks at where the overlay put each change.",
};

/// The file the container writes, and the image's file it deletes.
pub const WRITTEN: &str = "/lesson-note";
pub const DELETED: &str = "/etc/os-release";
const NOTE: &str = "written by the container\n";

pub struct Layers {
    /// The image's directory and the writable layer's, on the host.
    pub lower: String,
    pub upper: String,
}

/// What one entry of the upper directory is, as overlayfs means it.
fn kind(path: &str) -> String {
    match std::fs::symlink_metadata(path) {
        Err(_) => "gone".into(),
        // A whiteout: a character device 0:0 hides the file below.
        Ok(m) if m.file_type().is_char_device() && m.rdev() == 0 => {
            "a whiteout (character device 0:0): hides the image's file".into()
        }
        Ok(m) if m.is_dir() => "a directory".into(),
        Ok(m) if m.is_file() => format!("a file of {} bytes", m.len()),
        Ok(_) => "something else".into(),
    }
}

/// Every entry below `dir`, as paths relative to it, in order.
fn walk(dir: &str, below: &str, out: &mut Vec<String>) {
    for name in super::super::probes::names_in(&format!("{dir}/{below}")) {
        let rel = if below.is_empty() {
            name
        } else {
            format!("{below}/{name}")
        };
        out.push(rel.clone());
        if std::fs::symlink_metadata(format!("{dir}/{rel}")).is_ok_and(|m| m.is_dir()) {
            walk(dir, &rel, out);
        }
    }
}

/// `upper/ENTRY: what it is` for every entry of the upper directory.
pub fn upper_lines(upper: &str) -> Vec<String> {
    let mut entries = Vec::new();
    walk(upper, "", &mut entries);
    entries
        .iter()
        .map(|rel| format!("upper/{rel}: {}", kind(&format!("{upper}/{rel}"))))
        .collect()
}

impl Stage for Layers {
    fn id(&self) -> StageId {
        StageId::Layers
    }

    fn requires(&self) -> &'static [StageId] {
        &[StageId::Rootfs]
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Layers);
        let fd = sys.call(Call::Openat {
            path: WRITTEN.into(),
            flags: libc::O_WRONLY
                | libc::O_CREAT
                | libc::O_TRUNC
                | libc::O_NOFOLLOW
                | libc::O_CLOEXEC,
            mode: 0o644,
        })? as i32;
        sys.call(Call::Write {
            fd,
            data: NOTE.into(),
        })?;
        sys.call(Call::Close { fd })?;
        sys.call(Call::Unlink {
            path: DELETED.into(),
        })
        .map(drop)
    }

    fn inside(&self) -> Vec<String> {
        let note = std::fs::read_to_string(WRITTEN).unwrap_or_default();
        vec![
            format!("{WRITTEN}: {}", note.trim()),
            format!(
                "{DELETED}: {}",
                if std::path::Path::new(DELETED).exists() {
                    "still there"
                } else {
                    "gone"
                }
            ),
        ]
    }

    fn outside(&self, pid: i32) -> Vec<String> {
        let mut lines = vec![format!("in {}:", self.upper)];
        lines.extend(
            upper_lines(&self.upper)
                .into_iter()
                .map(|l| format!("  {l}")),
        );
        lines.push(format!(
            "lower{DELETED}: {}, the image is unchanged",
            kind(&format!("{}{DELETED}", self.lower))
        ));
        // The container's own root, as the host reaches it.
        let merged = format!("/proc/{pid}/root");
        lines.push(format!(
            "merged, through {merged}: {WRITTEN} is {}; {DELETED} is {}",
            kind(&format!("{merged}{WRITTEN}")),
            kind(&format!("{merged}{DELETED}"))
        ));
        lines
    }
}
