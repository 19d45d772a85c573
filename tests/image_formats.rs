//! What `diyc image import` takes and what it refuses by content: a gzip
//! stream whose checksum is wrong, a layer or config that does not match
//! its digest, an archive that lacks a layer, a name that climbs out,
//! something that is no image at all, names and configs with control
//! characters (shown escaped); zstd, xz, bzip2 and stdin taken. Each
//! refusal is one line, status 125, and nothing kept.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::archives::*;
use common::{
    Lab, assert_one_line_error,
    made::{self, fixtures, utf8 as path},
    text,
};

#[test]
fn a_gzip_stream_with_a_wrong_checksum_is_refused() {
    require_root!();
    let lab = Lab::new();
    let tarball = lab.root().join("ok.tar");
    busybox_tar(&tarball);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&std::fs::read(&tarball).expect("tar"))
        .expect("gzip");
    let mut bytes = gz.finish().expect("gzip");
    // The trailer: CRC-32, then the length. The data itself is intact, so
    // only a check of the CRC can tell.
    let at = bytes.len() - 8;
    bytes[at] ^= 0xff;
    bytes[at + 1] ^= 0xff;
    let bad = lab.root().join("bad.tar.gz");
    std::fs::write(&bad, &bytes).expect("bad gz");
    refused(&lab, &["crc", path(&bad)], "checksum");
}

#[test]
fn a_config_s_control_characters_never_reach_the_terminal_raw() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    edit_config(&layout, |config| {
        config["history"][0]["created"] = "\u{1b}]0;TITLE\u{7}\u{1b}[31m".into();
        config["config"]["User"] = "\u{1b}]0;USER\u{7}nobody".into();
    });
    let lab = Lab::new();
    lab.ok(&["image", "import", "noisy", path(&layout)]);
    let history = lab.run(&["image", "history", "noisy"]);
    assert_eq!(history.status.code(), Some(0));
    for line in history.stdout.split(|&b| b == b'\n') {
        assert!(
            line.iter().all(|&b| b >= 0x20 && b != 0x7f),
            "raw control bytes: {:?}",
            text(&history.stdout)
        );
    }
    // Its User is looked up in its files, and is not there.
    let out = lab.run(&["run", "--rm", "--net", "none", "noisy", "true"]);
    assert_one_line_error(&out, "--user");
    no_raw_control_bytes(&out.stderr);
}

#[test]
fn an_archive_that_lacks_a_layer_the_store_holds_is_refused() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    let lab = Lab::new();
    lab.ok(&["image", "import", "whole", path(&layout)]);
    // The same image, without the file of its base layer.
    let (_, base) = made::layers(&layout).remove(0);
    std::fs::remove_file(&base).expect("base blob removed");
    let out = lab.run(&["image", "import", "partial", path(&layout)]);
    assert_one_line_error(&out, "which it does not hold");
    assert!(!lab.root().join("images/partial").exists());
}

#[test]
fn a_name_that_climbs_out_is_refused_before_anything_is_read() {
    require_root!();
    let lab = Lab::new();
    // A record where `images/../probe` points: never read.
    let probe = lab.root().join("probe");
    std::fs::create_dir_all(&probe).expect("probe");
    std::fs::create_dir_all(lab.root().join("images")).expect("images");
    std::fs::write(
        probe.join("image.json"),
        r#"{"name":"probe","source":"x","created":0,"size":0,"files":0,"config":{"env":[],"working_dir":null,"entrypoint":[],"cmd":[],"user":null,"exposed_ports":["81/tcp"]}}"#,
    )
    .expect("record");
    let out = lab.run(&["run", "--rm", "-P", "../probe", "true"]);
    assert_one_line_error(&out, "invalid image name");
}

#[test]
fn a_layer_file_that_does_not_match_its_digest_is_refused() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    // The top layer, small, fails while the base is still unpacking. Its
    // gzip header's time changed: it still unpacks to the same tar, so
    // only the check of the file's own digest can tell.
    let (_, blob) = made::layers(&layout).pop().expect("a layer");
    let mut bytes = std::fs::read(&blob).expect("blob");
    assert_eq!(bytes[..2], [0x1f, 0x8b], "a gzip layer");
    bytes[4] ^= 0x01;
    std::fs::write(&blob, &bytes).expect("blob changed");
    let lab = Lab::new();
    refused(
        &lab,
        &["layered", path(&layout)],
        "file does not match its digest",
    );
}

#[test]
fn a_layer_that_does_not_match_its_diff_id_is_refused() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    edit_config(&layout, |config| {
        let ids = config["rootfs"]["diff_ids"].as_array_mut().expect("ids");
        ids.swap(1, 2);
    });
    let lab = Lab::new();
    refused(
        &lab,
        &["layered", path(&layout)],
        "content does not match its digest",
    );
}

#[test]
fn a_config_changed_without_its_digest_is_refused() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    let index = read_json(&layout.join("index.json"));
    let manifest = read_json(&blob_path(&layout, &index["manifests"][0]["digest"]));
    let config = blob_path(&layout, &manifest["config"]["digest"]);
    let mut data = std::fs::read_to_string(&config).expect("config");
    assert!(data.contains("GREETING=hello"));
    data = data.replace("GREETING=hello", "GREETING=HELLO");
    std::fs::write(&config, data).expect("config changed");
    let lab = Lab::new();
    refused(
        &lab,
        &["layered", path(&layout)],
        "does not match its digest",
    );
}

#[test]
fn what_is_not_an_image_is_named_with_what_diyc_accepts() {
    require_root!();
    let lab = Lab::new();
    let file = |name: &str, data: &[u8]| {
        let p = lab.root().join(name);
        std::fs::write(&p, data).expect("file");
        p
    };
    let png = file("picture.tar", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01");
    let zip = file("archive.tar", b"PK\x03\x04\x14\0\0\0\x08\0");
    let json = file("image.tar", b"{\"schemaVersion\": 2, \"manifests\": []}\n");
    let text_file = file(
        "passwd",
        b"root:x:0:0:root:/root:/bin/sh\nbin:x:1:1::/:/sbin/nologin\n",
    );
    let empty = file("empty.tar", b"");
    let elf = PathBuf::from("/usr/bin/busybox");
    for (source, says) in [
        (&png, "it is a PNG image, not a tar"),
        (&zip, "it is a zip archive, not a tar"),
        (&json, "it is a JSON file, not a tar"),
        (&text_file, "it is a text file, not a tar"),
        (&elf, "it is an ELF program, not a tar"),
        (&empty, "it is empty, not a tar"),
    ] {
        let out = refused(&lab, &["thing", path(source)], says);
        assert!(text(&out.stderr).contains(ACCEPTS), "{}", text(&out.stderr));
        // The line names the file, never quotes it.
        assert!(!text(&out.stderr).contains("root:x"));
    }
    // A directory with JSON in it, but not the files of an OCI layout.
    let dir = lab.root().join("not-a-layout");
    std::fs::create_dir_all(dir.join("blobs/sha256")).expect("dir");
    std::fs::write(dir.join("index.json"), b"{}").expect("index.json");
    let out = refused(&lab, &["thing", path(&dir)], "not an image layout");
    assert!(text(&out.stderr).contains(ACCEPTS));
}

#[test]
fn names_with_control_characters_are_shown_escaped() {
    require_root!();
    let lab = Lab::new();
    // An entry that climbs out, named with a colour code and a newline.
    let file = lab.root().join("esc.tar");
    let name = "a\x1b[31mred\nline/../../outside";
    let mut header = header(tar::EntryType::Regular, 0, 0o644);
    header.as_gnu_mut().expect("gnu").name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_cksum();
    let mut builder = tar::Builder::new(std::fs::File::create(&file).expect("archive"));
    builder.append(&header, &b""[..]).expect("append");
    builder.finish().expect("finish");
    drop(builder);
    let out = refused(&lab, &["esc", path(&file)], "would land outside the image");
    no_raw_control_bytes(&out.stderr);
    assert!(
        text(&out.stderr).contains("a\\u{1b}[31mred\\nline"),
        "{}",
        text(&out.stderr)
    );

    // The image's own path, refused for what it holds and when missing.
    let bad = lab.root().join("bad\x1b[31m\nname.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\n").expect("file");
    let out = refused(&lab, &["esc", path(&bad)], "it is a PNG image");
    no_raw_control_bytes(&out.stderr);
    assert!(text(&out.stderr).contains("bad\\u{1b}[31m\\nname.png"));
    let missing = lab.root().join("gone\x07\r.tar");
    let out = refused(&lab, &["esc", path(&missing)], "cannot read");
    no_raw_control_bytes(&out.stderr);
    assert!(text(&out.stderr).contains("gone\\u{7}\\r.tar"));
}

#[test]
fn zstd_xz_and_bzip2_flat_tars_import_and_run() {
    require_root!();
    let lab = Lab::new();
    let tarball = lab.root().join("flat.tar");
    busybox_tar(&tarball);
    for (tool, magic) in [
        ("zstd", &[0x28, 0xb5, 0x2f, 0xfd][..]),
        ("xz", b"\xfd7zXZ\x00"),
        ("bzip2", b"BZh"),
    ] {
        let packed = lab.root().join(format!("flat.tar.{tool}"));
        let status = Command::new(tool)
            .args(["-c", "-q"])
            .arg(&tarball)
            .stdout(std::fs::File::create(&packed).expect("packed"))
            .status()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(status.success(), "{tool}");
        assert!(std::fs::read(&packed).expect("packed").starts_with(magic));
        lab.ok(&["image", "import", tool, path(&packed)]);
        let out = lab.ok(&["run", "--rm", "--net", "none", tool, "cat", "/marker"]);
        assert_eq!(out, "marker\n", "{tool}");
    }
}

/// `diyc image import ARGS` with `tar` on its stdin.
fn import_from_stdin(lab: &Lab, args: &[&str], tar: &Path) -> Output {
    let mut all = vec!["image", "import"];
    all.extend_from_slice(args);
    let mut child = lab
        .cmd(&all)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("diyc starts");
    let mut stdin = child.stdin.take().expect("stdin");
    // Refused early, diyc may not read it all.
    let _ = stdin.write_all(&std::fs::read(tar).expect("tar"));
    drop(stdin);
    child.wait_with_output().expect("diyc ends")
}

#[test]
fn an_image_comes_from_stdin_with_a_dash() {
    require_root!();
    let lab = Lab::new();
    let tarball = lab.root().join("in.tar");
    busybox_tar(&tarball);
    let out = import_from_stdin(&lab, &["piped", "-"], &tarball);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported image piped"));
    let out = lab.ok(&["run", "--rm", "--net", "none", "piped", "cat", "/marker"]);
    assert_eq!(out, "marker\n");
}

#[test]
fn a_flat_tar_without_a_name_is_refused_with_how_to_give_one() {
    require_root!();
    let lab = Lab::new();
    let tarball = lab.root().join("flat.tar");
    busybox_tar(&tarball);
    let says = "give one, `diyc image import NAME";
    refused(&lab, &[path(&tarball)], says);
    let out = import_from_stdin(&lab, &["-"], &tarball);
    assert_one_line_error(&out, &format!("{says} -`"));
    nothing_left(&lab);
}
