//! Devices: a container may open and make only the devices diyc gives
//! it, even with CAP_MKNOD; `--device` passes one of the host's in on
//! purpose. Played with /dev/fuse, whose opening does nothing by itself.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{Lab, assert_one_line_error, text};

/// Make a node for the host's /dev/fuse (10:229) and open it.
const MAKE_AND_OPEN: &str =
    "mknod /tmp/f c 10 229 2>&1; [ -c /tmp/f ] && : <> /tmp/f 2>&1 && echo reached";

#[test]
fn a_host_device_cannot_be_made_or_opened_even_with_cap_mknod() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let out = lab.run(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--cap-add",
        "MKNOD",
        "busybox",
        "sh",
        "-c",
        MAKE_AND_OPEN,
    ]);
    let seen = text(&out.stdout);
    assert!(
        !seen.contains("reached"),
        "the container opened the host's device: {seen}"
    );
    assert!(seen.contains("Operation not permitted"), "{seen}");
}

#[test]
fn a_device_passed_with_device_can_be_opened() {
    require_root!();
    if !std::path::Path::new("/dev/fuse").exists() {
        panic!("this test needs the host's /dev/fuse");
    }
    let lab = Lab::new().with_busybox();
    let seen = lab.ok(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--device",
        "/dev/fuse",
        "busybox",
        "sh",
        "-c",
        ": <> /dev/fuse && echo opened",
    ]);
    assert_eq!(seen.trim(), "opened");
}

#[test]
fn a_bad_device_is_one_line_and_changes_nothing() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let before = lab.host_state();
    for (device, needle) in [
        ("/etc/hostname", "not a device node"),
        ("/dev/no-such-device", "No such file"),
        ("/dev/fuse:/tmp/fuse", "under /dev"),
        ("/dev/fuse:/dev/../fuse", "under /dev"),
    ] {
        let out = lab.run(&["run", "--rm", "--device", device, "busybox", "true"]);
        assert_one_line_error(&out, needle);
    }
    assert_eq!(lab.host_state(), before);
}
