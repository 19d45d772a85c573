//! Layered images made by the tools people use, umoci and skopeo, never
//! written by hand: diyc has to read what they really write (their media
//! types, their gzip, where they put whiteouts), not what we think they
//! write. Each fixture is one image, tag `layered:1`:
//!
//! 1. the base: busybox at /bin/busybox with sh, ls, cat and test linked to
//!    it; /etc/deleted-me ("gone"), /etc/kept ("kept"); /data/old1, old2;
//! 2. /etc/deleted-me removed (a `.wh.deleted-me` whiteout), /etc/added;
//! 3. /data opaque (`data/.wh..wh..opq`), holding only /data/new.
//!
//! Its config runs `/bin/sh -c 'echo from-config'` in /data with
//! GREETING=hello (and no PATH, as umoci leaves it).
//!
//! umoci's repack writes a whiteout for each removed file but never an
//! opaque marker (a directory removed and made again comes out as one
//! whiteout per old file), so layer 3 is a tar of our own that umoci adds
//! as it is. umoci needs root to unpack; every caller is a root test.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::text;

/// The tag every fixture carries, in every format.
pub const TAG: &str = "layered:1";

/// What the base layer holds, as (path, content) of its regular files.
pub const BASE_FILES: [(&str, &str); 4] = [
    ("etc/deleted-me", "gone\n"),
    ("etc/kept", "kept\n"),
    ("data/old1", "old1\n"),
    ("data/old2", "old2\n"),
];

/// What `/etc/added` holds.
pub const ADDED: &str = "added\n";

/// Run `cmd`, which must succeed: its stdout. A tool that is not there
/// fails the test (under CI=true or not): a fixture that cannot be made
/// must never let a test pass.
pub fn must(cmd: &mut Command) -> String {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!(
            "{program} cannot run ({e}): the layered-image tests need umoci and skopeo \
                 (Debian packages; the README's test command installs them)"
        )
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn umoci(args: &[&OsStr]) -> String {
    must(Command::new("umoci").args(args))
}

/// skopeo with no policy file needed (a minimal CI machine may lack
/// /etc/containers/policy.json; every transport here is local) and its
/// big temporary files kept next to the fixture, not in /var/tmp.
fn skopeo_copy(dir: &Path, extra: &[&str], from: &str, to: &str) {
    must(
        Command::new("skopeo")
            .env("TMPDIR", dir)
            .args(["--insecure-policy", "copy", "--quiet"])
            .args(extra)
            .args([from, to]),
    );
}

/// Inside a container of the three-layer image: the whiteout hid
/// deleted-me, both layers' files are there, and /data shows only the
/// opaque layer's file.
pub const LOOK: &str = "test ! -e /etc/deleted-me && cat /etc/kept /etc/added && ls /data";

/// A directory for a test's fixtures, removed with it.
pub fn fixtures() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("diyc-made-")
        .tempdir()
        .expect("a fixture directory")
}

/// The layer tar `tarball` added on top of the layout's image by umoci,
/// as it is.
pub fn add_layer(layout: &Path, tarball: &Path) {
    umoci(&[
        "raw".as_ref(),
        "add-layer".as_ref(),
        "--image".as_ref(),
        image(layout, TAG).as_ref(),
        tarball.as_os_str(),
    ]);
}

/// `PATH:TAG` for umoci's --image.
fn image(layout: &Path, tag: &str) -> String {
    format!("{}:{tag}", utf8(layout))
}

/// A path as text; the transports' `path:tag` syntax has no escape for a
/// colon inside the path, so refuse one rather than let skopeo misread it.
pub fn utf8(path: &Path) -> &str {
    let s = path.to_str().expect("a UTF-8 fixture path");
    assert!(!s.contains(':'), "a fixture path cannot hold ':': {s}");
    s
}

fn write(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
    }
    std::fs::write(path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A new layout at `layout` whose tag `tag` holds the base layer only,
/// and the bundle it was packed from.
fn base(layout: &Path, bundle: &Path, tag: &str) {
    let img = image(layout, tag);
    umoci(&["init".as_ref(), "--layout".as_ref(), layout.as_os_str()]);
    umoci(&["new".as_ref(), "--image".as_ref(), img.as_ref()]);
    umoci(&[
        "unpack".as_ref(),
        "--image".as_ref(),
        img.as_ref(),
        bundle.as_os_str(),
    ]);
    let rootfs = bundle.join("rootfs");
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::copy("/usr/bin/busybox", bin.join("busybox"))
        .expect("/usr/bin/busybox (Debian's busybox-static) is installed");
    for applet in ["sh", "ls", "cat", "test"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).expect("applet link");
    }
    for (path, content) in BASE_FILES {
        write(&rootfs.join(path), content);
    }
    // Without --refresh-bundle the next repack would diff against the
    // empty image again and fold layers 1 and 2 into one.
    umoci(&[
        "repack".as_ref(),
        "--refresh-bundle".as_ref(),
        "--image".as_ref(),
        img.as_ref(),
        bundle.as_os_str(),
    ]);
}

/// A tar (uncompressed, as `umoci raw add-layer` wants) making /data
/// opaque and holding data/new: the marker after its directory, as
/// Docker and containers/storage write it.
fn opaque_data_tar(path: &Path) {
    let file = std::fs::File::create(path).expect("layer tar");
    let mut tar = tar::Builder::new(file);
    let entries: [(&str, tar::EntryType, u32, &[u8]); 3] = [
        ("data/", tar::EntryType::Directory, 0o755, b""),
        ("data/.wh..wh..opq", tar::EntryType::Regular, 0o644, b""),
        ("data/new", tar::EntryType::Regular, 0o644, b"new\n"),
    ];
    for (name, kind, mode, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        tar.append_data(&mut header, name, data).expect("append");
    }
    tar.finish().expect("layer tar written");
}

/// The three-layer image as an OCI layout directory, `DIR/layout`.
pub fn oci_layout(dir: &Path) -> PathBuf {
    let layout = dir.join("layout");
    let bundle = dir.join("bundle");
    let img = image(&layout, TAG);
    base(&layout, &bundle, TAG);

    let rootfs = bundle.join("rootfs");
    std::fs::remove_file(rootfs.join("etc/deleted-me")).expect("deleted-me");
    write(&rootfs.join("etc/added"), ADDED);
    umoci(&[
        "repack".as_ref(),
        "--image".as_ref(),
        img.as_ref(),
        bundle.as_os_str(),
    ]);

    let layer3 = dir.join("layer3.tar");
    opaque_data_tar(&layer3);
    add_layer(&layout, &layer3);
    umoci(&[
        "config".as_ref(),
        "--image".as_ref(),
        img.as_ref(),
        "--config.env=GREETING=hello".as_ref(),
        "--config.workingdir=/data".as_ref(),
        "--config.cmd=/bin/sh".as_ref(),
        "--config.cmd=-c".as_ref(),
        "--config.cmd=echo from-config".as_ref(),
        "--config.exposedports=80/tcp".as_ref(),
    ]);
    // Each step above left its superseded manifest and config behind.
    umoci(&["gc".as_ref(), "--layout".as_ref(), layout.as_os_str()]);
    std::fs::remove_dir_all(&bundle).expect("bundle removed");
    layout
}

/// The image as skopeo's oci-archive, `DIR/layered.oci.tar`.
pub fn oci_archive(dir: &Path) -> PathBuf {
    let layout = oci_layout(&dir.join("src"));
    let file = dir.join("layered.oci.tar");
    let to = format!("oci-archive:{}:{TAG}", utf8(&file));
    skopeo_copy(dir, &[], &format!("oci:{}:{TAG}", utf8(&layout)), &to);
    file
}

/// The image as skopeo's docker-archive (`docker save`'s format, its
/// layers uncompressed), `DIR/layered.docker.tar`.
pub fn docker_archive(dir: &Path) -> PathBuf {
    let layout = oci_layout(&dir.join("src"));
    let file = dir.join("layered.docker.tar");
    let to = format!("docker-archive:{}:{TAG}", utf8(&file));
    skopeo_copy(dir, &[], &format!("oci:{}:{TAG}", utf8(&layout)), &to);
    file
}

/// The base layer, then one layer added twice by umoci (as two build
/// steps that write the same files give), `DIR/repeated`: /etc/twice
/// holds "twice".
pub fn repeated_layer(dir: &Path) -> PathBuf {
    let layout = dir.join("repeated");
    let bundle = dir.join("bundle-repeated");
    base(&layout, &bundle, TAG);
    std::fs::remove_dir_all(&bundle).expect("bundle removed");
    let files = dir.join("twice");
    write(&files.join("etc/twice"), "twice\n");
    let tarball = dir.join("twice.tar");
    must(
        Command::new("tar")
            .arg("-C")
            .arg(&files)
            .arg("-cf")
            .arg(&tarball)
            .arg("etc"),
    );
    for _ in 0..2 {
        add_layer(&layout, &tarball);
    }
    layout
}

/// The image as skopeo's docker-archive under two names, `layered:1` and
/// `other:2` (one manifest entry with both RepoTags), `DIR/two-names.tar`.
pub fn docker_archive_two_names(dir: &Path) -> PathBuf {
    let layout = oci_layout(&dir.join("src"));
    let file = dir.join("two-names.tar");
    let to = format!("docker-archive:{}:{TAG}", utf8(&file));
    let extra = ["--additional-tag", "other:2"];
    skopeo_copy(dir, &extra, &format!("oci:{}:{TAG}", utf8(&layout)), &to);
    file
}

/// The image as an OCI layout whose layers skopeo recompressed with zstd
/// (`tar+zstd` media types; the config, and so the diff_ids, unchanged),
/// `DIR/zstd`.
pub fn oci_layout_zstd(dir: &Path) -> PathBuf {
    let layout = oci_layout(&dir.join("src"));
    let zstd = dir.join("zstd");
    let to = format!("oci:{}:{TAG}", utf8(&zstd));
    let extra = ["--dest-compress-format", "zstd"];
    skopeo_copy(dir, &extra, &format!("oci:{}:{TAG}", utf8(&layout)), &to);
    zstd
}

/// Two OCI layouts, `DIR/one` and `DIR/two`, each tagged `layered:1`, on
/// the same base layer (the same blob, byte for byte) with a second layer
/// of their own: /etc/which says "one" or "two". Made as two tags of one
/// umoci layout, then copied by skopeo to a layout each, so every layout
/// holds one image.
pub fn two_on_one_base(dir: &Path) -> (PathBuf, PathBuf) {
    let shared = dir.join("shared");
    base(&shared, &dir.join("bundle-base"), "base");
    let mut made = Vec::new();
    for which in ["one", "two"] {
        let bundle = dir.join(format!("bundle-{which}"));
        umoci(&[
            "unpack".as_ref(),
            "--image".as_ref(),
            image(&shared, "base").as_ref(),
            bundle.as_os_str(),
        ]);
        write(&bundle.join("rootfs/etc/which"), &format!("{which}\n"));
        let img = image(&shared, which);
        umoci(&[
            "repack".as_ref(),
            "--image".as_ref(),
            img.as_ref(),
            bundle.as_os_str(),
        ]);
        let layout = dir.join(which);
        let to = format!("oci:{}:{TAG}", utf8(&layout));
        skopeo_copy(dir, &[], &format!("oci:{img}"), &to);
        made.push(layout);
    }
    (made[0].clone(), made[1].clone())
}

/// The image's config in an OCI layout holding one image.
pub fn config(layout: &Path) -> serde_json::Value {
    let index = blob_json(&layout.join("index.json"));
    let manifests = index["manifests"]
        .as_array()
        .expect("index.json's manifests");
    assert_eq!(manifests.len(), 1, "one image in {}", layout.display());
    let manifest = blob_json(&blob(layout, &manifests[0]["digest"]));
    blob_json(&blob(layout, &manifest["config"]["digest"]))
}

/// The hex of each layer's uncompressed digest (the config's
/// rootfs.diff_ids without `sha256:`), base first: the names diyc's store
/// gives its unpacked layers.
pub fn diff_ids(layout: &Path) -> Vec<String> {
    config(layout)["rootfs"]["diff_ids"]
        .as_array()
        .expect("rootfs.diff_ids")
        .iter()
        .map(|d| {
            let d = d.as_str().expect("a diff_id");
            d.strip_prefix("sha256:")
                .expect("a sha256 diff_id")
                .to_string()
        })
        .collect()
}

/// The manifest's layers as (media type, blob path), base first.
pub fn layers(layout: &Path) -> Vec<(String, PathBuf)> {
    let index = blob_json(&layout.join("index.json"));
    let manifest = blob_json(&blob(layout, &index["manifests"][0]["digest"]));
    manifest["layers"]
        .as_array()
        .expect("the manifest's layers")
        .iter()
        .map(|l| {
            let kind = l["mediaType"].as_str().expect("a media type").to_string();
            (kind, blob(layout, &l["digest"]))
        })
        .collect()
}

/// The names in a gzip-compressed layer blob, in the order they come.
pub fn gzip_layer_names(path: &Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    archive
        .entries()
        .expect("a tar")
        .map(|e| {
            let e = e.expect("an entry");
            e.path().expect("a name").to_string_lossy().into_owned()
        })
        .collect()
}

fn blob(layout: &Path, digest: &serde_json::Value) -> PathBuf {
    let digest = digest.as_str().expect("a digest");
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    layout.join("blobs/sha256").join(hex)
}

fn blob_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
