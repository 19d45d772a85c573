//! The image lesson's look at the stack, once the container runs: from
//! inside, the deleted file and the opaque directory as the container
//! sees them; from the host, what each layer holds on disk (a whiteout,
//! an opaque mark, or only plain files), and the stack as the kernel
//! holds it in the container's mount table.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use crate::event::StageId;
use crate::observe;
use crate::stages::Stage;
use crate::state::layers::opaque_xattr;
use crate::state::sample::{DELETED, OPAQUE};

/// What the host's view calls the busybox image below the layers, and
/// how it starts the line of the kernel's own lowerdir.
pub const BASE: &str = "base";
pub const LOWERDIR: &str = "the kernel's lowerdir for the container's /: ";

/// One layer of the stack, top first: what the lesson calls it, and its
/// directory on the host.
#[derive(Debug, Clone)]
pub struct Layer {
    pub label: String,
    pub dir: String,
}

pub struct Look {
    /// The image's layers, top first.
    pub layers: Vec<Layer>,
    /// The base below them: the busybox image's directory.
    pub base: String,
}

/// What one entry of a layer is, as overlayfs reads it.
pub fn kind(path: &str) -> String {
    match std::fs::symlink_metadata(path) {
        Err(_) => "gone".into(),
        Ok(m) if m.file_type().is_char_device() && m.rdev() == 0 => {
            "a whiteout (character device 0:0)".into()
        }
        Ok(m) if m.is_dir() => match xattr::get(path, opaque_xattr()) {
            Ok(Some(v)) if v == b"y" => format!("a directory, opaque ({}=y)", opaque_xattr()),
            _ => "a directory".into(),
        },
        Ok(m) if m.is_file() => format!("a file of {} bytes", m.len()),
        Ok(_) => "something else".into(),
    }
}

/// The names in `dir`, sorted; none for a directory that is not there.
fn names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every entry below `dir`, relative to it, parents first.
fn walk(dir: &str, below: &str, out: &mut Vec<String>) {
    for name in names(&format!("{dir}/{below}")) {
        let rel = if below.is_empty() {
            name
        } else {
            format!("{below}/{name}")
        };
        out.push(rel.clone());
        let path = format!("{dir}/{rel}");
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            walk(dir, &rel, out);
        }
    }
}

/// `  ENTRY: what it is` for every entry of a layer but its plain
/// directories, which say nothing on their own.
pub fn entries(dir: &str) -> Vec<String> {
    let mut all = Vec::new();
    walk(dir, "", &mut all);
    all.into_iter()
        .filter_map(|rel| {
            let what = kind(&format!("{dir}/{rel}"));
            (what != "a directory").then(|| format!("  {rel}: {what}"))
        })
        .collect()
}

/// What `root` shows of the two places the layers disagree about.
fn seen_from(root: &str) -> Vec<String> {
    let deleted = format!("{root}/{DELETED}");
    let message = std::fs::read_to_string(&deleted)
        .map(|m| format!("\"{}\"", m.trim()))
        .unwrap_or_else(|_| "no such file".into());
    let marks: Vec<String> = names(&format!("{root}/etc"))
        .into_iter()
        .filter(|n| n.starts_with(".wh."))
        .collect();
    let mut lines = vec![format!("/{DELETED}: {message}")];
    if !marks.is_empty() {
        lines.push(format!("/etc also holds {}", marks.join(" ")));
    }
    lines.push(format!(
        "/{OPAQUE} holds: {}",
        names(&format!("{root}/{OPAQUE}")).join(" ")
    ));
    lines
}

impl Stage for Look {
    fn id(&self) -> StageId {
        StageId::Image
    }

    fn requires(&self) -> &'static [StageId] {
        &[StageId::Rootfs]
    }

    fn inside(&self) -> Vec<String> {
        seen_from("")
    }

    fn outside(&self, pid: i32) -> Vec<String> {
        let mut lines = Vec::new();
        for layer in &self.layers {
            lines.push(format!("{}: {}", layer.label, layer.dir));
            lines.extend(entries(&layer.dir));
        }
        lines.push(format!("{BASE}: {}", self.base));
        // What the kernel stacked, in its own words, each directory named.
        let root = observe::mountinfo(Some(pid))
            .into_iter()
            .rfind(|m| m.mount_point == "/" && m.fstype == "overlay");
        let lower = root.as_ref().and_then(|m| {
            m.super_options
                .split(',')
                .find_map(|o| o.strip_prefix("lowerdir="))
        });
        if let Some(lower) = lower {
            let named: Vec<&str> = lower
                .split(':')
                .map(|dir| {
                    self.layers
                        .iter()
                        .find(|l| l.dir == dir)
                        .map(|l| l.label.trim_end_matches(" (top)"))
                        .unwrap_or(if dir == self.base { BASE } else { dir })
                })
                .collect();
            lines.push(format!(
                "{LOWERDIR}{} (from /proc/{pid}/mountinfo)",
                named.join(":")
            ));
        }
        lines
    }
}
