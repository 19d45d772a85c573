//! Archives made by hand for the import tests, and the checks they share:
//! tar headers and files, an OCI layout's blobs and config edited with
//! their digests, a layer added by umoci, gzip of raw bytes, an import in
//! the background (from a FIFO or a stalled stdin), and what a refusal is:
//! one line, status 125, nothing left in the stores.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use sha2::Digest;

use super::made::{self, utf8 as path};
use super::{Lab, assert_one_line_error, text, wait_until};

/// Said in every refusal of something that is not an image.
pub const ACCEPTS: &str = "diyc imports a root filesystem tar";

pub fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
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
pub fn tar_of(path: &Path, files: &[(&str, &[u8])]) {
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
pub fn busybox_tar(path: &Path) {
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
pub fn nothing_left(lab: &Lab) {
    let stored = lab.stored();
    assert!(stored.is_empty(), "left behind: {stored:?}");
}

/// `diyc image import ARGS` fails in one line with `says`, keeping nothing.
pub fn refused(lab: &Lab, args: &[&str], says: &str) -> Output {
    let mut all = vec!["image", "import"];
    all.extend_from_slice(args);
    let out = lab.run(&all);
    assert_one_line_error(&out, says);
    nothing_left(lab);
    out
}

/// No byte of stderr is a control character, but the final newline.
pub fn no_raw_control_bytes(stderr: &[u8]) {
    let body = stderr.strip_suffix(b"\n").expect("a line");
    assert!(
        body.iter().all(|&b| b >= 0x20 && b != 0x7f),
        "raw control bytes reached the terminal: {:?}",
        text(stderr)
    );
}

/// Write `data` as a blob of `layout`: its digest.
pub fn put_blob(layout: &Path, data: &[u8]) -> String {
    let hex = hex::encode(sha2::Sha256::digest(data));
    std::fs::write(layout.join("blobs/sha256").join(&hex), data).expect("blob");
    format!("sha256:{hex}")
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("json")).expect("json")
}

pub fn blob_path(layout: &Path, digest: &serde_json::Value) -> PathBuf {
    let digest = digest.as_str().expect("digest");
    layout.join("blobs/sha256").join(&digest["sha256:".len()..])
}

/// Change the config of the layout's one image and write it, its manifest
/// and the index again, every digest made right: only what `edit` did is
/// wrong.
pub fn edit_config(layout: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
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

/// A layer tar of `entries` (name, content), added on top of the image
/// by umoci as it is.
pub fn add_layer(layout: &Path, entries: &[(&str, &[u8])]) {
    let file = layout.with_extension("layer.tar");
    tar_of(&file, entries);
    made::add_layer(layout, &file);
}

/// The names in an exported tar, directories and all.
pub fn exported(lab: &Lab, name: &str) -> Vec<String> {
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

/// A diyc started in the background, ended (by its pid) if the test
/// fails before it exits.
pub struct Background(pub Option<Child>);

impl Background {
    /// Its output, once it has exited (within 10 s: a diyc that ignores
    /// a signal fails the test rather than hanging it).
    pub fn output(mut self) -> Output {
        let child = self.0.as_mut().expect("running");
        wait_until("diyc exits", || child.try_wait().ok().flatten().is_some());
        self.0
            .take()
            .expect("running")
            .wait_with_output()
            .expect("diyc exits")
    }

    /// Fails the test if diyc has exited already.
    pub fn must_run(&mut self) {
        let child = self.0.as_mut().expect("running");
        if child.try_wait().ok().flatten().is_some() {
            let out = self.0.take().expect("exited").wait_with_output();
            panic!("diyc did not wait: {out:?}");
        }
    }

    pub fn pid(&self) -> nix::unistd::Pid {
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

pub fn import_in_background(lab: &Lab, source: &str, stdin: Stdio) -> Background {
    let child = lab
        .cmd(&["image", "import", "fifo", source])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("diyc starts");
    Background(Some(child))
}

pub fn mkfifo(lab: &Lab) -> PathBuf {
    let fifo = lab.root().join("image.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    fifo
}

/// A gzip file of raw tar bytes: headers made by hand, and what follows.
pub fn gzipped(path: &Path, raw: impl Read) {
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

pub fn raw_header(name: &str, kind: tar::EntryType, size: u64) -> Vec<u8> {
    let mut h = header(kind, size, 0o644);
    h.set_path(name).expect("name");
    h.set_cksum();
    h.as_bytes().to_vec()
}
