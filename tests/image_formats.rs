//! What `diyc image import` refuses, and how: a gzip stream whose checksum
//! is wrong, a layer that does not match its digest, a whiteout with
//! nothing below to delete, something that is no image at all, a FIFO
//! that sends garbage or nothing, a bomb past --max-size. Each is one line
//! on stderr (names with control characters escaped in it), status 125
//! (128+N for a signal), and nothing kept in the image or layer store.
//! And what it takes besides gzip: zstd, xz and bzip2, and stdin.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::{
    Lab, assert_one_line_error,
    made::{self, fixtures, utf8 as path},
    text, wait_until,
};
use sha2::Digest;

/// Said in every refusal of something that is not an image.
const ACCEPTS: &str = "diyc imports a root filesystem tar";

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header
}

/// A tar of `files` (name, content), in that order.
fn tar_of(path: &Path, files: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).expect("archive");
    let mut builder = tar::Builder::new(file);
    for (name, data) in files {
        let mut header = header(tar::EntryType::Regular, data.len() as u64, 0o644);
        builder
            .append_data(&mut header, name, *data)
            .expect("append");
    }
    builder.finish().expect("finish");
}

/// A flat root filesystem tar a container can run: busybox with sh and
/// cat, and /marker.
fn busybox_tar(path: &Path) {
    let file = std::fs::File::create(path).expect("archive");
    let mut builder = tar::Builder::new(file);
    builder
        .append_path_with_name("/usr/bin/busybox", "bin/busybox")
        .expect("/usr/bin/busybox (Debian's busybox-static) is installed");
    for applet in ["sh", "cat"] {
        let mut link = header(tar::EntryType::Symlink, 0, 0o777);
        builder
            .append_link(&mut link, format!("bin/{applet}"), "busybox")
            .expect("applet link");
    }
    let mut marker = header(tar::EntryType::Regular, 7, 0o644);
    builder
        .append_data(&mut marker, "marker", &b"marker\n"[..])
        .expect("marker");
    builder.finish().expect("finish");
}

/// Nothing in the image or layer store: no image, no layer, no staging
/// directory (hidden ones included).
fn nothing_left(lab: &Lab) {
    let stored = lab.stored();
    assert!(stored.is_empty(), "left behind: {stored:?}");
}

/// `diyc image import ARGS` fails in one line with `says`, keeping nothing.
fn refused(lab: &Lab, args: &[&str], says: &str) -> Output {
    let mut all = vec!["image", "import"];
    all.extend_from_slice(args);
    let out = lab.run(&all);
    assert_one_line_error(&out, says);
    nothing_left(lab);
    out
}

/// No byte of stderr is a control character, but the final newline.
fn no_raw_control_bytes(stderr: &[u8]) {
    let body = stderr.strip_suffix(b"\n").expect("a line");
    assert!(
        body.iter().all(|&b| b >= 0x20 && b != 0x7f),
        "raw control bytes reached the terminal: {:?}",
        text(stderr)
    );
}

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

/// Write `data` as a blob of `layout`: its digest.
fn put_blob(layout: &Path, data: &[u8]) -> String {
    let hex = hex::encode(sha2::Sha256::digest(data));
    std::fs::write(layout.join("blobs/sha256").join(&hex), data).expect("blob");
    format!("sha256:{hex}")
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("json")).expect("json")
}

fn blob_path(layout: &Path, digest: &serde_json::Value) -> PathBuf {
    let digest = digest.as_str().expect("digest");
    layout.join("blobs/sha256").join(&digest["sha256:".len()..])
}

/// Change the config of the layout's one image and write it, its manifest
/// and the index again, every digest made right: only what `edit` did is
/// wrong.
fn edit_config(layout: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut index = read_json(&layout.join("index.json"));
    let mut manifest = read_json(&blob_path(layout, &index["manifests"][0]["digest"]));
    let mut config = read_json(&blob_path(layout, &manifest["config"]["digest"]));
    edit(&mut config);
    let data = serde_json::to_vec(&config).expect("config");
    manifest["config"]["digest"] = put_blob(layout, &data).into();
    manifest["config"]["size"] = data.len().into();
    let data = serde_json::to_vec(&manifest).expect("manifest");
    index["manifests"][0]["digest"] = put_blob(layout, &data).into();
    index["manifests"][0]["size"] = data.len().into();
    let data = serde_json::to_vec(&index).expect("index");
    std::fs::write(layout.join("index.json"), data).expect("index.json");
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

/// A layer tar of `entries` (name, content), added on top of the image
/// by umoci as it is.
fn add_layer(layout: &Path, entries: &[(&str, &[u8])]) {
    let file = layout.with_extension("layer.tar");
    tar_of(&file, entries);
    made::add_layer(layout, &file);
}

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

/// The names in an exported tar, directories and all.
fn exported(lab: &Lab, name: &str) -> Vec<String> {
    let file = lab.root().join(format!("{name}.export.tar"));
    lab.ok(&["image", "export", name, path(&file)]);
    let mut archive = tar::Archive::new(std::fs::File::open(&file).expect("export"));
    archive
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("name")
                .display()
                .to_string()
        })
        .collect()
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

/// A diyc started in the background, ended (by its pid) if the test
/// fails before it exits.
struct Background(Option<Child>);

impl Background {
    /// Its output, once it has exited (within 10 s: a diyc that ignores
    /// a signal fails the test rather than hanging it).
    fn output(mut self) -> Output {
        let child = self.0.as_mut().expect("running");
        wait_until("diyc exits", || child.try_wait().ok().flatten().is_some());
        self.0
            .take()
            .expect("running")
            .wait_with_output()
            .expect("diyc exits")
    }

    /// Fails the test if diyc has exited already.
    fn must_run(&mut self) {
        let child = self.0.as_mut().expect("running");
        if child.try_wait().ok().flatten().is_some() {
            let out = self.0.take().expect("exited").wait_with_output();
            panic!("diyc did not wait: {out:?}");
        }
    }

    fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.0.as_ref().expect("running").id() as i32)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn import_in_background(lab: &Lab, source: &str, stdin: Stdio) -> Background {
    let child = lab
        .cmd(&["image", "import", "fifo", source])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("diyc starts");
    Background(Some(child))
}

fn mkfifo(lab: &Lab) -> PathBuf {
    let fifo = lab.root().join("image.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    fifo
}

#[test]
fn a_fifo_that_sends_garbage_is_refused_in_one_line() {
    require_root!();
    let lab = Lab::new();
    let fifo = mkfifo(&lab);
    let diyc = import_in_background(&lab, path(&fifo), Stdio::null());
    // A writer can open a FIFO without waiting only once its reader has.
    let mut writer = None;
    wait_until("diyc opens the FIFO", || {
        writer = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .ok();
        writer.is_some()
    });
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 151 % 251) as u8 | 0x80).collect();
    let mut writer = writer.expect("opened");
    // diyc may stop reading before the end: a broken pipe is its answer.
    let _ = writer.write_all(&garbage);
    drop(writer);
    let out = diyc.output();
    assert_one_line_error(&out, "it is unknown binary data, not a tar");
    no_raw_control_bytes(&out.stderr);
    nothing_left(&lab);
}

/// Started on a `source` that never sends a byte, diyc is stopped by
/// each stop signal: one line, 128+N, nothing left.
fn stops_while_nothing_comes(lab: &Lab, source: &str, stdin: impl Fn() -> Stdio) {
    use nix::sys::signal::Signal;
    for (signal, status) in [(Signal::SIGTERM, 143), (Signal::SIGINT, 130)] {
        let mut diyc = import_in_background(lab, source, stdin());
        // Its staging directory is made after the source is opened: a diyc
        // stuck in open() never makes one.
        wait_until("diyc waits for the first byte", || {
            diyc.must_run();
            lab.stored()
                .iter()
                .any(|n| n.starts_with("layers/.layer-stream-"))
        });
        nix::sys::signal::kill(diyc.pid(), signal).expect("kill");
        let out = diyc.output();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{signal}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("diyc: ") && err.contains(signal.as_str()),
            "{err}"
        );
        nothing_left(lab);
    }
}

#[test]
fn what_a_killed_import_left_goes_with_the_next_image_rm() {
    require_root!();
    let lab = Lab::new();
    let flat = lab.root().join("flat.tar");
    busybox_tar(&flat);
    lab.ok(&["image", "import", "kept", path(&flat)]);
    let fifo = mkfifo(&lab);
    let mut diyc = import_in_background(&lab, path(&fifo), Stdio::null());
    wait_until("diyc waits for the first byte", || {
        diyc.must_run();
        lab.stored()
            .iter()
            .any(|n| n.starts_with("layers/.layer-stream-"))
    });
    // No chance to clean up: its staging directory stays.
    nix::sys::signal::kill(diyc.pid(), nix::sys::signal::Signal::SIGKILL).expect("kill");
    diyc.output();
    assert!(lab.stored().iter().any(|n| n.starts_with("layers/.layer-")));
    lab.ok(&["image", "rm", "kept"]);
    nothing_left(&lab);
}

#[test]
fn image_rm_keeps_a_layer_that_an_import_reuses_meanwhile() {
    require_root!();
    let lab = Lab::new();
    let flat = lab.root().join("flat.tar");
    busybox_tar(&flat);
    lab.ok(&["image", "import", "first", path(&flat)]);
    // An import that will reuse first's layer, holding the store while
    // it waits for its bytes.
    let fifo = mkfifo(&lab);
    let mut import = import_in_background(&lab, path(&fifo), Stdio::null());
    wait_until("the import waits for its first byte", || {
        import.must_run();
        lab.stored()
            .iter()
            .any(|n| n.starts_with("layers/.layer-stream-"))
    });
    // The removal of first, which waits for that import to finish.
    let rm = Background(Some(
        lab.cmd(&["image", "rm", "first"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("diyc image rm"),
    ));
    let wchan = format!("/proc/{}/wchan", rm.pid());
    wait_until("image rm waits for the layer store's lock", || {
        std::fs::read_to_string(&wchan).is_ok_and(|w| w.contains("lock"))
    });
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("fifo");
    std::io::copy(&mut std::fs::File::open(&flat).expect("flat"), &mut writer).expect("feed");
    drop(writer);
    assert_eq!(import.output().status.code(), Some(0));
    assert_eq!(rm.output().status.code(), Some(0));
    let out = lab.ok(&["run", "--rm", "--net", "none", "fifo", "cat", "/marker"]);
    assert_eq!(out, "marker\n");
}

#[test]
fn a_fifo_with_no_writer_is_stopped_by_a_signal_and_leaves_nothing() {
    require_root!();
    let lab = Lab::new();
    let fifo = mkfifo(&lab);
    stops_while_nothing_comes(&lab, path(&fifo), Stdio::null);
}

#[test]
fn a_stalled_stdin_is_stopped_by_a_signal_and_leaves_nothing() {
    require_root!();
    let lab = Lab::new();
    // A pipe whose write end this test holds and never writes to.
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("a pipe");
    stops_while_nothing_comes(&lab, "-", || {
        Stdio::from(read.try_clone().expect("read end"))
    });
    drop(write);
}

#[test]
fn a_gzip_bomb_is_stopped_at_max_size() {
    require_root!();
    let lab = Lab::new();
    let bomb = lab.root().join("bomb.tar.gz");
    let mut gzip = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&bomb).expect("bomb"))
        .spawn()
        .expect("gzip");
    let mut builder = tar::Builder::new(gzip.stdin.take().expect("stdin"));
    let size = 64 << 20;
    let mut zeros = header(tar::EntryType::Regular, size, 0o644);
    builder
        .append_data(&mut zeros, "zeros", std::io::repeat(0).take(size))
        .expect("64 MiB of zeros");
    drop(builder.into_inner().expect("tar"));
    assert!(gzip.wait().expect("gzip").success());
    let packed = std::fs::metadata(&bomb).expect("bomb").len();
    assert!(packed < 1 << 20, "{packed} bytes: not a bomb");
    refused(
        &lab,
        &["bomb", path(&bomb), "--max-size", "1M"],
        "--max-size",
    );
}

/// A gzip file of raw tar bytes: headers made by hand, and what follows.
fn gzipped(path: &Path, raw: impl Read) {
    let mut gzip = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(path).expect("gzip file"))
        .spawn()
        .expect("gzip");
    let mut raw = raw;
    std::io::copy(&mut raw, gzip.stdin.as_mut().expect("stdin")).expect("to gzip");
    drop(gzip.stdin.take());
    assert!(gzip.wait().expect("gzip").success());
}

fn raw_header(name: &str, kind: tar::EntryType, size: u64) -> Vec<u8> {
    let mut h = header(kind, size, 0o644);
    h.set_path(name).expect("name");
    h.set_cksum();
    h.as_bytes().to_vec()
}

#[test]
fn a_long_name_bigger_than_any_header_is_refused_unread() {
    require_root!();
    let lab = Lab::new();
    let bomb = lab.root().join("longname.tar.gz");
    // A GNU long name of 4 MiB: the tar reader would keep it whole in memory.
    let size = 4 << 20;
    let mut long = header(tar::EntryType::GNULongName, size, 0o644);
    long.as_gnu_mut().expect("gnu").name[..13].copy_from_slice(b"././@LongLink");
    long.set_cksum();
    let next = raw_header("x", tar::EntryType::Regular, 0);
    let raw = long
        .as_bytes()
        .as_slice()
        .chain(std::io::repeat(b'a').take(size))
        .chain(next.as_slice())
        .chain(std::io::repeat(0).take(1024));
    gzipped(&bomb, raw);
    refused(&lab, &["longname", path(&bomb)], "take more than 64 KiB");
}

#[test]
fn zeros_after_the_tar_s_end_are_not_read_without_end() {
    require_root!();
    let lab = Lab::new();
    let tail = lab.root().join("tail.tar.gz");
    let end = raw_header("x", tar::EntryType::Regular, 0);
    let raw = end.as_slice().chain(std::io::repeat(0).take(64 << 20));
    gzipped(&tail, raw);
    refused(&lab, &["tail", path(&tail)], "after the tar's end");
}

#[test]
fn many_empty_files_count_against_max_size() {
    require_root!();
    let lab = Lab::new();
    let many = lab.root().join("many.tar");
    let names: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    tar_of(&many, &files);
    refused(
        &lab,
        &["many", path(&many), "--max-size", "100K"],
        "--max-size",
    );
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
