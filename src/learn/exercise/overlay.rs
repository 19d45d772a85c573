//! The image lesson's exercise: two layers stacked by hand with
//! overlayfs, the top one hiding a file of the bottom one with a
//! whiteout. Graded from the mount table of `check`'s process and, through
//! /proc/PID/root, the layers' files as that process sees them.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::look::Look;
use super::wire::Verdict;
use super::{Exercise, Setting};
use crate::observe::{self, MountEntry};

pub const IMAGE: Exercise = Exercise {
    name: "image",
    task: |_: &Setting| {
        // Each command ends its line: a line copied whole runs as it is.
        "Stack two layers with overlayfs, the top one hiding a file of the bottom one with a whiteout. Make the layers, a file in the bottom one:\n`mount -t tmpfs lab /mnt; mkdir /mnt/bottom /mnt/top /mnt/merged; echo old > /mnt/bottom/note`\nthe whiteout in the top one, before the overlay is mounted: `mknod /mnt/top/note c 0 0`\nthen stack them: `mount -t overlay lab -o lowerdir=/mnt/top:/mnt/bottom /mnt/merged`\nand type `check`.".into()
    },
    wants: &[],
    check: image,
};

const HINT_MOUNT: &str =
    "`mount -t overlay lab -o lowerdir=/mnt/top:/mnt/bottom /mnt/merged` stacks top on bottom";

/// How deep below a layer's top the grader looks for a whiteout.
const DEPTH: usize = 3;

/// A layer's directory as `check`'s process sees it.
fn seen_by(pid: i32, path: &str) -> String {
    format!("/proc/{pid}/root{path}")
}

fn is_whiteout(path: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
}

/// Every whiteout below `dir`, as paths relative to it.
fn whiteouts(dir: &str, below: &str, depth: usize, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(format!("{dir}/{below}")) else {
        return;
    };
    for entry in entries.flatten().take(1000) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if below.is_empty() {
            name
        } else {
            format!("{below}/{name}")
        };
        let path = format!("{dir}/{rel}");
        if is_whiteout(&path) {
            out.push(rel);
        } else if depth > 1 && entry.file_type().is_ok_and(|t| t.is_dir()) {
            whiteouts(dir, &rel, depth - 1, out);
        }
    }
}

/// The lower directories of an overlay, top first.
fn lowers(mount: &MountEntry) -> Vec<String> {
    mount
        .super_options
        .split(',')
        .find_map(|o| o.strip_prefix("lowerdir="))
        .map(|l| l.split(':').map(str::to_string).collect())
        .unwrap_or_default()
}

fn image(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    // The host's own overlays (a container's, or its very `/`) are not
    // the student's.
    let hosts: Vec<(String, String)> = observe::mountinfo(None)
        .into_iter()
        .filter(|m| m.fstype == "overlay")
        .map(|m| (m.mount_point, m.super_options))
        .collect();
    let overlays: Vec<MountEntry> = observe::mountinfo(Some(look.client))
        .into_iter()
        .filter(|m| m.fstype == "overlay")
        .filter(|m| !hosts.contains(&(m.mount_point.clone(), m.super_options.clone())))
        .collect();
    let Some(mount) = overlays.last() else {
        v.bad(
            "no overlay is mounted in this shell's mount table",
            HINT_MOUNT,
        );
        return v;
    };
    let layers = lowers(mount);
    let point = &mount.mount_point;
    if layers.len() < 2 {
        v.bad(
            format!(
                "the overlay on {point} has {} lower layer(s), not two",
                layers.len()
            ),
            "give lowerdir two directories, the top one first: lowerdir=/mnt/top:/mnt/bottom",
        );
        return v;
    }
    v.good(format!(
        "an overlay on {point} stacks {} layers: lowerdir={}",
        layers.len(),
        layers.join(":")
    ));
    let pid = look.client;
    let Some((bottom, above)) = layers.split_last() else {
        return v;
    };
    let mut found = Vec::new();
    for (i, layer) in above.iter().enumerate() {
        let mut marks = Vec::new();
        whiteouts(&seen_by(pid, layer), "", DEPTH, &mut marks);
        found.extend(marks.into_iter().map(|m| (i, m)));
    }
    if found.is_empty() {
        let mut in_bottom = Vec::new();
        whiteouts(&seen_by(pid, bottom), "", DEPTH, &mut in_bottom);
        match in_bottom.first() {
            Some(rel) => v.bad(
                format!("the whiteout {bottom}/{rel} is in the bottom layer: there is nothing below it to hide"),
                "lowerdir names the top layer first: lowerdir=/mnt/top:/mnt/bottom",
            ),
            None => v.bad(
                "no layer above the bottom one holds a whiteout",
                "`mknod /mnt/top/note c 0 0` makes one: a character device 0:0 named like the file it hides",
            ),
        }
        return v;
    }
    let below_holds = |i: usize, rel: &str| {
        layers[i + 1..].iter().find(|l| {
            let path = seen_by(pid, &format!("{l}/{rel}"));
            std::fs::symlink_metadata(&path).is_ok() && !is_whiteout(&path)
        })
    };
    let Some((i, rel, under)) = found
        .iter()
        .find_map(|(i, rel)| below_holds(*i, rel).map(|u| (*i, rel, u)))
    else {
        let (i, rel) = &found[0];
        v.bad(
            format!("{}/{rel} is a whiteout, but no layer below holds {rel}", layers[*i]),
            "name the whiteout like a file of the bottom layer: `mknod /mnt/top/note c 0 0` hides /mnt/bottom/note",
        );
        return v;
    };
    v.good(format!(
        "{}/{rel} is a whiteout (a character device 0:0), and {under}/{rel} is there below it",
        layers[i]
    ));
    if std::fs::symlink_metadata(seen_by(pid, &format!("{point}/{rel}"))).is_ok() {
        let plain = |l: &&String| {
            let path = seen_by(pid, &format!("{l}/{rel}"));
            std::fs::symlink_metadata(&path).is_ok() && !is_whiteout(&path)
        };
        match layers[..i].iter().find(plain) {
            // The overlay shows the topmost copy.
            Some(above) => v.bad(
                format!("{point}/{rel} still shows: {above}/{rel}, above the whiteout, holds it too"),
                format!("remove {above}/{rel}, or put {} first in lowerdir", layers[i]),
            ),
            // The order is right, so the whiteout came after the mount:
            // overlayfs does not follow a layer changed under it (`ls` may
            // stop listing the file while `cat` still reads it).
            None => v.bad(
                format!(
                    "{point}/{rel} still shows, though {}/{rel} hides it: the layer was changed after the overlay was mounted",
                    layers[i]
                ),
                format!(
                    "mount the overlay again, now that the whiteout is there: `umount {point}`, then `mount -t overlay lab -o lowerdir={} {point}`",
                    layers.join(":")
                ),
            ),
        }
    } else {
        v.good(format!(
            "{point} shows no {rel}: the whiteout hides it, and {under}/{rel} is unchanged"
        ));
    }
    v
}
