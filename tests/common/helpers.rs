//! The small C programs of tests/helpers/, for what a process inside a
//! container would try (push input into its terminal, reach a keyring).
//! Each is built static, so it runs in the busybox image, which has no C
//! library; `cc` is there wherever cargo can link.

use std::path::PathBuf;
use std::process::Command;

use super::{Lab, text};

/// Build helper `name` into the lab and put it in the busybox image's
/// /bin; the copy outside the image, for the host's side of a test.
pub fn install(lab: &Lab, name: &str) -> PathBuf {
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/helpers")
        .join(format!("{name}.c"));
    let built = lab.root().join(format!("helper-{name}"));
    let out = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&built)
        .arg(&source)
        .output()
        .expect("cc runs");
    assert!(
        out.status.success(),
        "building {name}: {}",
        text(&out.stderr)
    );
    let inside = lab.image_rootfs("busybox").join("bin").join(name);
    std::fs::copy(&built, &inside).expect("helper copied into the image");
    built
}
