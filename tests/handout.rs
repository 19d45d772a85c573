//! `diyc learn --transcript`: the handout is the lesson as Markdown (a
//! title block, closed fences, real tables, the answers after the last
//! question), with the calls and the experiments' output, and the image
//! lesson's import in its stage, the stages it builds on one line each.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::handout::assert_handout;
use common::{Lab, text};

#[test]
fn the_transcript_is_the_lesson_as_markdown() {
    require_root!();
    let lab = Lab::new();
    let handout = lab.root().join("uts.md");
    let handout_arg = handout.to_str().expect("utf-8");
    let out = lab.run(&[
        "learn",
        "--step",
        "uts",
        "--no-pause",
        "--transcript",
        handout_arg,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(&handout).expect("the transcript");
    assert_handout(&md);
    assert!(md.contains("## uts: "), "{md}");
    for part in [
        "### Why",
        "### Both views",
        "### What breaks without it",
        "### Summary",
    ] {
        assert!(md.contains(part), "{part} missing from the transcript");
    }
    assert!(md.contains("  [pid "), "no calls in the transcript");
    // The experiment's own output, not only its calls.
    assert!(
        md.contains("the host is now renamed-by-a-guest"),
        "the experiment's output is missing: {md}"
    );
}

#[test]
fn the_image_handout_shows_the_import_in_the_stage_live_and_folds_the_other_stages() {
    require_root!();
    let lab = Lab::new().with_image();
    let handout = lab.root().join("image.md");
    let out = lab.run(&[
        "learn",
        "--step",
        "image",
        "--no-pause",
        "--transcript",
        handout.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(&handout).expect("the handout");
    assert_handout(&md);
    let from = md.find("### The stage, live").expect("the stage, live");
    let live = &md[from..from + md[from..].find("### Both views").expect("both views")];
    // The importer's calls, made before the launch, are the stage's own.
    for call in [
        "== image: ",
        "mknodat(AT_FDCWD, ",
        "makedev(0, 0)) = 0",
        "lsetxattr(\"",
        "\"trusted.overlay.opaque\", \"y\", 1, 0) = 0",
    ] {
        assert!(live.contains(call), "{call:?} missing from:\n{live}");
    }
    // The stages it builds on are one line each, as on the screen.
    assert!(
        live.contains("\n== rootfs: an overlay of the image becomes / ([pid "),
        "{live}"
    );
    assert!(!live.contains("pivot_root(\".\", \".\")"), "{live}");
}
