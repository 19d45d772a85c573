//! Whiteouts and opaque marks as the OCI image spec means them: one that
//! deletes nothing below is refused, one through a link never reaches the
//! host, an opaque top hides all below, a directory deleted and made anew
//! in one layer holds only that layer's files, AUFS bookkeeping is left
//! out.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::path::Path;

use common::archives::*;
use common::{
    Lab,
    made::{self, fixtures, utf8 as path},
};

#[test]
fn a_whiteout_of_what_no_layer_below_holds_is_refused() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    add_layer(&layout, &[("etc/.wh.never-there", b"")]);
    let lab = Lab::new();
    refused(
        &lab,
        &["layered", path(&layout)],
        "a whiteout deletes etc/never-there, which no layer below holds",
    );
    // A flat tar is one layer, with nothing below it at all.
    let flat = lab.root().join("flat.tar");
    tar_of(&flat, &[("etc/kept", b"kept\n"), ("etc/.wh.gone", b"")]);
    refused(&lab, &["flat", path(&flat)], "a whiteout deletes etc/gone");
}

/// A layer whose `data` is a link to `target` on the host, then a
/// whiteout or an opaque mark `mark` through that link.
fn link_then_mark(layout: &Path, target: &Path, mark: &str) {
    let file = layout.with_extension("attack.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&file).expect("archive"));
    let mut link = header(tar::EntryType::Symlink, 0, 0o777);
    builder
        .append_link(&mut link, "data", target)
        .expect("append link");
    let mut marked = header(tar::EntryType::Regular, 0, 0o644);
    builder
        .append_data(&mut marked, format!("data/{mark}"), &[][..])
        .expect("append mark");
    builder.finish().expect("finish");
    made::add_layer(layout, &file);
}

#[test]
fn a_whiteout_or_opaque_mark_through_a_link_never_reaches_the_host() {
    require_root!();
    for mark in [".wh.old1", ".wh..wh..opq"] {
        let dir = fixtures();
        let layout = made::oci_layout(dir.path());
        // A directory of the test's, standing for one of the host's.
        let host = dir.path().join("host-dir");
        std::fs::create_dir(&host).expect("host dir");
        link_then_mark(&layout, &host, mark);
        let lab = Lab::new();
        refused(
            &lab,
            &["attack", path(&layout)],
            "would land outside the image through a link",
        );
        let inside: Vec<_> = std::fs::read_dir(&host)
            .expect("host dir")
            .flatten()
            .collect();
        assert!(inside.is_empty(), "{mark}: made on the host: {inside:?}");
        let opaque = xattr::get(&host, "trusted.overlay.opaque").expect("xattr");
        assert_eq!(opaque, None, "{mark}: the host directory was marked opaque");
    }
}

#[test]
fn a_whiteout_of_what_a_layer_below_holds_imports() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    add_layer(&layout, &[("etc/.wh.kept", b"")]);
    let lab = Lab::new();
    lab.ok(&["image", "import", "layered", path(&layout)]);
    let look = "test ! -e /etc/kept && cat /etc/added";
    let out = lab.ok(&["run", "--rm", "--net", "none", "layered", "sh", "-c", look]);
    assert_eq!(out, made::ADDED);
}

#[test]
fn marks_mean_what_the_oci_image_spec_says() {
    require_root!();
    // An opaque mark at a layer's top hides everything below, though
    // overlayfs reads none there.
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    add_layer(&layout, &[(".wh..wh..opq", b""), ("only", b"x")]);
    let lab = Lab::new();
    lab.ok(&["image", "import", "top", path(&layout)]);
    assert_eq!(exported(&lab, "top"), ["only"]);

    // A directory deleted and made anew in one layer holds only what that
    // layer puts in it; AUFS's bookkeeping is left out.
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    add_layer(
        &layout,
        &[
            (".wh.data", b""),
            ("data/fresh", b"fresh\n"),
            (".wh..wh.plnk/1234.5678", b"aufs"),
        ],
    );
    let lab = Lab::new();
    lab.ok(&["image", "import", "anew", path(&layout)]);
    let out = lab.ok(&[
        "run", "--rm", "--net", "none", "anew", "ls", "-A", "/data", "/",
    ]);
    assert!(out.starts_with("/:\n"), "{out}");
    assert!(out.contains("/data:\nfresh\n"), "{out}");
    assert!(!out.contains(".wh."), "{out}");
}
