//! `diyc image`: importing tarballs safely, listing and removing images.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Lab, assert_one_line_error, text};

/// A tar header whose name is written raw, so tests can make the entries a
/// careful archiver refuses to write (`../x`).
fn raw_header(name: &str, kind: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    let gnu = header.as_gnu_mut().expect("gnu header");
    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(link) = link {
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    header
}

fn archive(path: &Path, entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) {
    let file = std::fs::File::create(path).expect("archive");
    let mut builder = tar::Builder::new(file);
    for (name, kind, data, link) in entries {
        let header = raw_header(name, *kind, data.len() as u64, *link);
        builder.append(&header, *data).expect("append");
    }
    builder.finish().expect("finish");
}

/// What is in the images directory, hidden staging directories included.
fn images(lab: &Lab) -> BTreeSet<String> {
    std::fs::read_dir(lab.root().join("images"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != ".lock")
                .collect()
        })
        .unwrap_or_default()
}

/// A tarball of the busybox image, as `docker export` would write one.
fn busybox_tarball(lab: &Lab, gzip: bool) -> PathBuf {
    let path = lab.root().join(if gzip { "bb.tar.gz" } else { "bb.tar" });
    let status = Command::new("tar")
        .arg(if gzip { "-czf" } else { "-cf" })
        .arg(&path)
        .arg("-C")
        .arg(lab.image_rootfs("busybox"))
        .arg(".")
        .status()
        .expect("tar");
    assert!(status.success());
    path
}

#[test]
fn a_plain_and_a_gzipped_tarball_import_and_run() {
    require_root!();
    let lab = Lab::new().with_busybox();
    for (name, gzip) in [("plain", false), ("zipped", true)] {
        let tarball = busybox_tarball(&lab, gzip);
        let stdout = lab.ok(&["image", "import", name, tarball.to_str().expect("utf-8")]);
        assert!(stdout.contains(&format!("imported image {name}")));
        let stdout = lab.ok(&["run", "--rm", name, "cat", "/etc/hosts"]);
        assert!(stdout.contains("localhost"));
    }
    let listing = text(&lab.run(&["image", "ls"]).stdout);
    for name in ["busybox", "plain", "zipped"] {
        assert!(
            listing.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{listing}"
        );
    }
}

#[test]
fn an_entry_climbing_out_with_dotdot_is_refused_and_nothing_is_left() {
    require_root!();
    let lab = Lab::new();
    let tarball = lab.root().join("evil.tar");
    archive(
        &tarball,
        &[
            ("ok.txt", tar::EntryType::Regular, b"fine", None),
            ("../../escaped.txt", tar::EntryType::Regular, b"evil", None),
        ],
    );
    let out = lab.run(&["image", "import", "evil", tarball.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "would land outside the image");
    assert!(lab.stored().is_empty(), "left behind: {:?}", lab.stored());
    assert!(!lab.root().join("escaped.txt").exists());
}

#[test]
fn an_absolute_entry_lands_inside_the_image() {
    require_root!();
    let lab = Lab::new();
    let tarball = lab.root().join("abs.tar");
    let marker = format!("/tmp/diyc-abs-{}", std::process::id());
    archive(
        &tarball,
        &[(&marker, tar::EntryType::Regular, b"inside", None)],
    );
    lab.ok(&["image", "import", "abs", tarball.to_str().expect("utf-8")]);
    assert!(!Path::new(&marker).exists(), "written on the host");
    let inside = lab.image_rootfs("abs").join(marker.trim_start_matches('/'));
    assert_eq!(std::fs::read(inside).expect("inside"), b"inside");
}

#[test]
fn writing_through_a_symlink_out_of_the_image_is_refused() {
    require_root!();
    let lab = Lab::new();
    let outside = lab.root().join("outside");
    std::fs::create_dir(&outside).expect("outside dir");
    let tarball = lab.root().join("link.tar");
    let target = outside.to_str().expect("utf-8");
    archive(
        &tarball,
        &[
            ("link", tar::EntryType::Symlink, b"", Some(target)),
            ("link/pwned", tar::EntryType::Regular, b"evil", None),
        ],
    );
    let out = lab.run(&["image", "import", "link", tarball.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "would land outside the image through a link");
    assert_eq!(std::fs::read_dir(&outside).expect("outside").count(), 0);
    assert!(lab.stored().is_empty(), "left behind: {:?}", lab.stored());
}

#[test]
fn a_hard_link_to_a_host_file_is_refused() {
    require_root!();
    let lab = Lab::new();
    let host_file = lab.root().join("host-secret");
    std::fs::write(&host_file, "secret").expect("host file");
    let tarball = lab.root().join("hard.tar");
    archive(
        &tarball,
        &[(
            "stolen",
            tar::EntryType::Link,
            b"",
            Some(host_file.to_str().expect("utf-8")),
        )],
    );
    let out = lab.run(&["image", "import", "hard", tarball.to_str().expect("utf-8")]);
    // The absolute target is taken as a path inside the image, as tar(1)
    // takes it; the image holds no such file.
    assert_one_line_error(&out, "which is not in the image");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&host_file).expect("host file").nlink(), 1);
    assert!(images(&lab).is_empty());
}

#[test]
fn device_nodes_are_skipped() {
    require_root!();
    let lab = Lab::new();
    let tarball = lab.root().join("dev.tar");
    let mut header = raw_header("dev/sda", tar::EntryType::Block, 0, None);
    header.set_device_major(8).expect("major");
    header.set_device_minor(0).expect("minor");
    header.set_cksum();
    let mut builder = tar::Builder::new(std::fs::File::create(&tarball).expect("tar"));
    builder.append(&header, &[][..]).expect("append");
    builder
        .append(
            &raw_header("etc/hostname", tar::EntryType::Regular, 3, None),
            &b"box"[..],
        )
        .expect("append");
    builder.finish().expect("finish");
    let out = lab.run(&["image", "import", "devs", tarball.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("skipped 1 device nodes"));
    let rootfs = lab.image_rootfs("devs");
    assert!(rootfs.join("etc/hostname").exists());
    assert!(!rootfs.join("dev/sda").exists());
}

#[test]
fn an_interrupted_import_leaves_no_half_made_image() {
    require_root!();
    let lab = Lab::new();
    let fifo = lab.root().join("slow.tar");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let mut child = lab
        .cmd(&["image", "import", "half", fifo.to_str().expect("utf-8")])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("diyc");
    // Opening blocks until diyc opens the other end; the write returns only
    // once diyc has read all but a pipe's worth, so it is mid-import.
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("fifo");
    let size = 4 << 20;
    let header = raw_header("big.bin", tar::EntryType::Regular, size, None);
    writer.write_all(header.as_bytes()).expect("header");
    writer.write_all(&vec![7u8; 1 << 20]).expect("first MiB");
    let staging = lab.stored();
    assert!(
        staging
            .iter()
            .any(|n| n.starts_with("layers/.layer-stream-")),
        "{staging:?}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("kill");
    let status = child.wait().expect("diyc exits");
    drop(writer);
    assert_eq!(status.code(), Some(130));
    assert!(lab.stored().is_empty(), "left behind: {:?}", lab.stored());
    let out = lab.run(&["image", "ls"]);
    assert!(!text(&out.stdout).contains("half"));
}

#[test]
fn importing_over_an_existing_image_is_refused() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let tarball = busybox_tarball(&lab, false);
    let out = lab.run(&[
        "image",
        "import",
        "busybox",
        tarball.to_str().expect("utf-8"),
    ]);
    assert_one_line_error(&out, "already exists");
    let missing = lab.root().join("missing.tar");
    let out = lab.run(&["image", "import", "x", missing.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "cannot read");
    let out = lab.run(&["image", "import", "../x", tarball.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "invalid image name");
}

#[test]
fn an_image_in_use_is_kept_and_an_unused_one_removed() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let tarball = busybox_tarball(&lab, false);
    lab.run(&["image", "import", "mine", tarball.to_str().expect("utf-8")]);
    lab.line("run --name user mine true");
    assert_one_line_error(&lab.run(&["image", "rm", "mine"]), "used by user");
    assert!(lab.image_rootfs("mine").exists());
    assert_eq!(lab.run(&["rm", "user"]).status.code(), Some(0));
    lab.ok(&["image", "rm", "mine"]);
    assert!(!lab.root().join("images/mine").exists());
    assert_one_line_error(&lab.run(&["image", "rm", "mine"]), "no image named mine");
}

#[test]
fn an_absolute_opaque_mark_lands_inside_the_image_not_on_the_host() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // A directory of the test's, standing for one of the host's.
    let host = lab.root().join("host-dir");
    std::fs::create_dir(&host).expect("host dir");
    let mark = format!("{}/.wh..wh..opq", host.display());
    let tarball = lab.root().join("abs-mark.tar");
    archive(
        &tarball,
        &[
            ("etc/kept", tar::EntryType::Regular, b"kept", None),
            (&mark, tar::EntryType::Regular, b"", None),
        ],
    );
    lab.ok(&[
        "image",
        "import",
        "absmark",
        tarball.to_str().expect("utf-8"),
    ]);
    let opaque = xattr::get(&host, "trusted.overlay.opaque").expect("xattr");
    assert_eq!(opaque, None, "the host directory was marked opaque");
    let inside = lab
        .image_rootfs("absmark")
        .join(host.strip_prefix("/").expect("absolute"));
    let opaque = xattr::get(&inside, "trusted.overlay.opaque").expect("xattr");
    assert_eq!(
        opaque.as_deref(),
        Some(&b"y"[..]),
        "marked inside the image"
    );
}
