//! `diyc image import` tells what it was given from its content: archives
//! made of layers, OCI layouts, other compressions and non-tars are named
//! and refused in one line, leaving nothing; a gzip stream's checksum is
//! checked; names with control characters are shown escaped; stdin works.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Lab, assert_one_line_error, text};

/// A tar of `files` (name, content), the directories they need first.
fn tar_of(path: &Path, files: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).expect("archive");
    let mut builder = tar::Builder::new(file);
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder
            .append_data(&mut header, name, *data)
            .expect("append");
    }
    builder.finish().expect("finish");
}

/// The lab has no image by `name`, and no staging directory is left.
fn nothing_kept(lab: &Lab, name: &str) {
    let images = lab.root().join("images");
    let left: Vec<String> = std::fs::read_dir(&images)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(name))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", images.display());
}

fn refused(lab: &Lab, name: &str, file: &Path, says: &str) {
    let out = lab.run(&["image", "import", name, file.to_str().expect("utf-8")]);
    assert_one_line_error(&out, says);
    assert!(text(&out.stderr).contains("diyc imports a root filesystem tar"));
    nothing_kept(lab, name);
}

#[test]
fn a_docker_save_archive_is_named_and_refused_not_imported_as_a_root() {
    require_root!();
    let lab = Lab::new();
    let file = lab.root().join("saved.tar");
    tar_of(
        &file,
        &[
            (
                "manifest.json",
                b"[{\"Config\":\"c.json\",\"Layers\":[\"l1/layer.tar\"]}]",
            ),
            ("c.json", b"{}"),
            ("l1/layer.tar", b""),
        ],
    );
    refused(&lab, "saved", &file, "a `docker save` archive");
}

#[test]
fn an_oci_archive_and_an_oci_layout_directory_are_named_and_refused() {
    require_root!();
    let lab = Lab::new();
    let file = lab.root().join("oci.tar");
    let layout: &[(&str, &[u8])] = &[
        ("oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}"),
        ("index.json", b"{\"schemaVersion\":2,\"manifests\":[]}"),
        ("blobs/sha256/00", b""),
    ];
    tar_of(&file, layout);
    refused(&lab, "ociarchive", &file, "an OCI image archive");
    let dir = lab.root().join("layout");
    std::fs::create_dir_all(dir.join("blobs/sha256")).expect("layout");
    for (name, data) in layout {
        std::fs::write(dir.join(name), data).expect("layout file");
    }
    refused(&lab, "ocilayout", &dir, "an OCI image layout");
}

#[test]
fn other_compressions_are_named_in_one_line_without_raw_bytes() {
    require_root!();
    let lab = Lab::new();
    for (kind, magic) in [
        ("zstd", &[0x28u8, 0xb5, 0x2f, 0xfd, 0x00, 0x58][..]),
        ("xz", b"\xfd7zXZ\x00\x00\x04\xe6"),
        ("bzip2", b"BZh91AY&SY\x01\x02"),
    ] {
        let file = lab.root().join(format!("x.{kind}"));
        std::fs::write(&file, magic).expect("the file");
        let out = lab.run(&["image", "import", kind, file.to_str().expect("utf-8")]);
        assert_one_line_error(&out, &format!("it is {kind}-compressed"));
        nothing_kept(&lab, kind);
    }
    // Not a tar at all: one line, however many lines the file has.
    let passwd = lab.root().join("passwd");
    std::fs::write(
        &passwd,
        "root:x:0:0:root:/root:/bin/sh\nbin:x:1:1::/:/sbin/nologin\n",
    )
    .expect("file");
    let out = lab.run(&["image", "import", "passwd", passwd.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "refusing");
    nothing_kept(&lab, "passwd");
}

#[test]
fn a_gzip_stream_with_a_wrong_checksum_is_refused() {
    require_root!();
    let lab = Lab::new();
    let tarball = lab.root().join("ok.tar");
    tar_of(&tarball, &[("bin/hello", b"hello, world\n")]);
    let gz = lab.root().join("bad.tar.gz");
    let status = Command::new("gzip")
        .arg("-kf")
        .arg(&tarball)
        .status()
        .expect("gzip");
    assert!(status.success());
    let mut bytes = std::fs::read(PathBuf::from(format!("{}.gz", tarball.display()))).expect("gz");
    // The trailer's CRC-32 is the 8 bytes' first four before the end.
    let at = bytes.len() - 8;
    bytes[at] ^= 0xff;
    std::fs::write(&gz, &bytes).expect("bad gz");
    let out = lab.run(&["image", "import", "crc", gz.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "damaged archive");
    nothing_kept(&lab, "crc");
}

#[test]
fn an_entry_name_with_control_characters_is_shown_escaped() {
    require_root!();
    let lab = Lab::new();
    let file = lab.root().join("esc.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&file).expect("archive"));
    let name = "a\x1b[31mred\x1b[0m/../../outside";
    let mut header = tar::Header::new_gnu();
    header.as_gnu_mut().expect("gnu").name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_size(0);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    builder.append(&header, &b""[..]).expect("append");
    builder.finish().expect("finish");
    drop(builder);
    let out = lab.run(&["image", "import", "esc", file.to_str().expect("utf-8")]);
    assert_one_line_error(&out, "would land outside the image");
    let err = text(&out.stderr);
    assert!(
        !err.contains('\x1b'),
        "a raw escape reached the terminal: {err:?}"
    );
    assert!(err.contains("\\u{1b}[31m"), "{err}");
    nothing_kept(&lab, "esc");
}

#[test]
fn an_image_comes_from_stdin_with_a_dash() {
    require_root!();
    let lab = Lab::new();
    let tarball = lab.root().join("in.tar");
    tar_of(&tarball, &[("bin/hello", b"hello, world\n")]);
    let mut child = lab
        .cmd(&["image", "import", "piped", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("diyc starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(&std::fs::read(&tarball).expect("tar"))
        .expect("written");
    drop(stdin);
    let out = child.wait_with_output().expect("diyc ends");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported image piped"));
    assert!(lab.image_rootfs("piped").join("bin/hello").is_file());
}
