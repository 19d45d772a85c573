//! The image lesson's exercise: two layers stacked by hand with overlayfs,
//! the top one's whiteout hiding the bottom one's file; the hints for the
//! wrong order, no overlay, and a layer changed under a mounted overlay.

use crate::common::Lab;
use crate::require_root;
use crate::{graded, right, wrong};

#[test]
fn image_wants_two_layers_stacked_the_top_one_hiding_a_file_with_a_whiteout() {
    require_root!();
    let lab = Lab::new();
    // The exercise shell's own tmpfs, so nothing lands on the host's disk.
    let layers = "mount -t tmpfs lab /mnt; mkdir /mnt/bottom /mnt/top /mnt/merged\n\
                  echo old > /mnt/bottom/note; mknod /mnt/top/note c 0 0";
    let stack = |lower: &str| {
        format!("{layers}\nmount -t overlay lab -o lowerdir={lower} /mnt/merged\ncheck")
    };
    right(
        &lab,
        "image",
        &stack("/mnt/top:/mnt/bottom"),
        "/mnt/merged shows no note: the whiteout hides it",
    );
    // Named the other way round, the whiteout has nothing below it.
    wrong(
        &lab,
        "image",
        &stack("/mnt/bottom:/mnt/top"),
        "is in the bottom layer",
        "lowerdir=/mnt/top:/mnt/bottom",
    );
    wrong(
        &lab,
        "image",
        "check",
        "no overlay is mounted",
        "mount -t overlay lab",
    );
    // The whiteout made once the overlay is mounted, and the file read
    // through it before: the overlay still shows it, and the order of
    // lowerdir is not what is wrong.
    wrong(
        &lab,
        "image",
        "mount -t tmpfs lab /mnt; mkdir /mnt/bottom /mnt/top /mnt/merged\n\
         echo old > /mnt/bottom/note\n\
         mount -t overlay lab -o lowerdir=/mnt/top:/mnt/bottom /mnt/merged\n\
         cat /mnt/merged/note; mknod /mnt/top/note c 0 0\ncheck",
        "the layer was changed after the overlay was mounted",
        "`umount /mnt/merged`, then `mount -t overlay lab -o lowerdir=/mnt/top:/mnt/bottom /mnt/merged`",
    );
    // Each command of the task ends its line, so a line copied whole runs.
    let (_, err, _) = graded(&lab, "image", "exit");
    for command in [
        "mount -t tmpfs lab /mnt; mkdir /mnt/bottom /mnt/top /mnt/merged; echo old > /mnt/bottom/note\n",
        "mknod /mnt/top/note c 0 0\n",
        "mount -t overlay lab -o lowerdir=/mnt/top:/mnt/bottom /mnt/merged\n",
    ] {
        assert!(
            err.contains(command),
            "{command:?} does not end its line:\n{err}"
        );
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains("/mnt/merged"), "{mounts}");
}
