//! The commands that look at images once imported: `image ls` counts each
//! image's layers and what it shares with others, `image inspect` shows
//! its layers and config, `image history` its steps, `image export` writes
//! the files a container sees as one flat tar, which imports again.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use common::{
    Lab, assert_one_line_error,
    made::{self, LOOK, fixtures, utf8 as path},
    text,
};

/// A lab holding the umoci image as `layered`.
fn with_layered(dir: &Path) -> (Lab, std::path::PathBuf) {
    let layout = made::oci_layout(dir);
    let lab = Lab::new();
    lab.ok(&["image", "import", "layered", path(&layout)]);
    (lab, layout)
}

/// A size as `image ls` prints it, in bytes.
fn bytes(number: &str, unit: &str) -> u64 {
    let n: u64 = number.parse().unwrap_or_else(|e| panic!("{number}: {e}"));
    n << match unit {
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        other => panic!("unit {other}"),
    }
}

/// `image ls` as NAME → (layers, on disk, shared), in bytes.
fn listed(lab: &Lab) -> BTreeMap<String, (String, u64, u64)> {
    let out = lab.ok(&["image", "ls"]);
    let mut lines = out.lines();
    let head: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    assert_eq!(head, ["NAME", "LAYERS", "ON", "DISK", "SHARED", "SOURCE"]);
    lines
        .filter(|l| !l.starts_with("busybox "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() >= 7, "{l}");
            let row = (f[1].to_string(), bytes(f[2], f[3]), bytes(f[4], f[5]));
            (f[0].to_string(), row)
        })
        .collect()
}

#[test]
fn image_ls_counts_layers_and_what_two_images_on_one_base_share() {
    require_root!();
    let dir = fixtures();
    let (one, two) = made::two_on_one_base(dir.path());
    // A flat tar of its own: no layer in common with the others.
    let lone = dir.path().join("lone.tar");
    let mut tar = tar::Builder::new(std::fs::File::create(&lone).expect("lone.tar"));
    tar.append_path_with_name("/usr/bin/busybox", "bin/busybox")
        .expect("busybox");
    tar.finish().expect("lone.tar written");
    drop(tar);
    let lab = Lab::new();
    lab.ok(&["image", "import", "one", path(&one)]);
    lab.ok(&["image", "import", "two", path(&two)]);
    lab.ok(&["image", "import", "lone", path(&lone)]);
    let rows = listed(&lab);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let (layers, disk, shared) = &rows["one"];
    assert_eq!(layers, "2");
    assert!(*shared > 0, "nothing shared: {rows:?}");
    assert!(shared < disk, "its own layer is not shared: {rows:?}");
    assert_eq!(rows["two"].0, "2");
    assert_eq!(rows["two"].2, *shared, "they share the same base: {rows:?}");
    let (layers, disk, shared) = &rows["lone"];
    assert_eq!(layers, "1");
    assert!(*disk > 0);
    assert_eq!(*shared, 0, "{rows:?}");

    // With one of the two gone, the other shares nothing any more.
    lab.ok(&["image", "rm", "one"]);
    assert_eq!(listed(&lab)["two"].2, 0);
}

/// A layer tar holding etc/again, added on top of the layout's image by
/// umoci.
fn add_again(layout: &Path, dir: &Path) {
    let layer = dir.join("again.tar");
    common::archives::tar_of(&layer, &[("etc/again", b"again\n")]);
    made::add_layer(layout, &layer);
}

#[test]
fn a_layer_one_image_lists_twice_is_neither_shared_nor_counted_twice() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    let lab = Lab::new();
    add_again(&layout, dir.path());
    lab.ok(&["image", "import", "four", path(&layout)]);
    let (layers, four_on_disk, _) = listed(&lab)["four"].clone();
    assert_eq!(layers, "4");
    lab.ok(&["image", "rm", "four"]);
    // The same layer on top again, as two build steps that made the same
    // change leave it.
    add_again(&layout, dir.path());
    let ids = made::diff_ids(&layout);
    assert_eq!(ids[3], ids[4], "{ids:?}");
    lab.ok(&["image", "import", "five", path(&layout)]);
    let rows = listed(&lab);
    let (layers, on_disk, shared) = &rows["five"];
    assert_eq!(layers, "5");
    assert_eq!(*shared, 0, "{rows:?}");
    assert_eq!(*on_disk, four_on_disk, "{rows:?}");
}

#[test]
fn image_inspect_shows_the_layers_and_the_config() {
    require_root!();
    let dir = fixtures();
    let (lab, layout) = with_layered(dir.path());
    let out = lab.ok(&["image", "inspect", "layered"]);
    let info: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"));
    assert_eq!(info["name"], "layered");
    assert_eq!(info["layers"], serde_json::json!(made::diff_ids(&layout)));
    let config = &info["config"];
    assert_eq!(config["env"], serde_json::json!(["GREETING=hello"]));
    assert_eq!(config["working_dir"], "/data");
    assert_eq!(
        config["cmd"],
        serde_json::json!(["/bin/sh", "-c", "echo from-config"])
    );
}

#[test]
fn image_history_prints_a_line_per_step() {
    require_root!();
    let dir = fixtures();
    let (lab, layout) = with_layered(dir.path());
    let steps = made::config(&layout)["history"]
        .as_array()
        .expect("umoci records a history")
        .clone();
    assert!(steps.len() >= 3, "{steps:?}");
    let out = lab.ok(&["image", "history", "layered"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("CREATED"), "{out}");
    assert_eq!(lines.len(), steps.len() + 1, "{out}");
    // Newest first.
    for (line, step) in lines[1..].iter().zip(steps.iter().rev()) {
        let created = step["created"].as_str().expect("created");
        assert!(line.starts_with(created), "{line} for {step}");
        let by = step["created_by"].as_str().unwrap_or("-");
        assert!(line.contains(by), "{line} for {step}");
    }
    // Each column starts where its header does.
    let size_at = lines[0].find("SIZE").expect("SIZE") + "SIZE".len();
    for line in &lines[1..] {
        let size_end = line.find("iB").expect("a size") + "iB".len();
        assert_eq!(size_end, size_at, "{out}");
    }
}

/// The entries of a tar, names without a trailing slash, with the
/// content of each regular file (its length, past 64 bytes).
fn entries(tar: &[u8]) -> BTreeMap<String, Option<String>> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .expect("a tar")
        .map(|e| {
            let mut e = e.expect("an entry");
            let name = e.path().expect("a name").to_string_lossy().into_owned();
            let name = name.trim_end_matches('/').to_string();
            let content = e.header().entry_type().is_file().then(|| {
                let mut data = Vec::new();
                e.read_to_end(&mut data).expect("content");
                // A program's bytes would only flood a failure's message.
                if data.len() > 64 {
                    format!("<{} bytes>", data.len())
                } else {
                    text(&data)
                }
            });
            (name, content)
        })
        .collect()
}

#[test]
fn image_export_writes_the_files_a_container_sees_as_a_flat_tar() {
    require_root!();
    let dir = fixtures();
    let (lab, _) = with_layered(dir.path());
    let file = lab.root().join("export.tar");
    lab.ok(&["image", "export", "layered", path(&file)]);
    let exported = std::fs::read(&file).expect("the export");
    let names = entries(&exported);
    for (name, content) in [
        ("etc/kept", "kept\n"),
        ("etc/added", made::ADDED),
        ("data/new", "new\n"),
    ] {
        assert_eq!(names.get(name), Some(&Some(content.into())), "{names:?}");
    }
    assert!(names.contains_key("bin/busybox"), "{names:?}");
    for gone in ["etc/deleted-me", "data/old1", "data/old2"] {
        assert!(!names.contains_key(gone), "{gone} in {names:?}");
    }
    assert!(
        names.keys().all(|n| !n.contains(".wh.")),
        "a whiteout in the export: {names:?}"
    );
    // The same to stdout.
    let out = lab.run(&["image", "export", "layered", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(entries(&out.stdout), names);

    // Imported again, as one flat layer, it runs and shows the same files.
    lab.ok(&["image", "import", "flat", path(&file)]);
    let info: serde_json::Value =
        serde_json::from_str(&lab.ok(&["image", "inspect", "flat"])).expect("JSON");
    assert_eq!(info["layers"].as_array().map(Vec::len), Some(1));
    let run = |name: &str| lab.ok(&["run", "--rm", "--net", "none", name, "sh", "-c", LOOK]);
    let seen = run("layered");
    assert_eq!(seen, format!("kept\n{}new\n", made::ADDED));
    assert_eq!(run("flat"), seen);
}

#[test]
fn an_image_that_is_not_there_is_one_line() {
    require_root!();
    let lab = Lab::new();
    assert_one_line_error(
        &lab.run(&["image", "inspect", "nosuch"]),
        "no image named nosuch",
    );
    assert_one_line_error(
        &lab.run(&["image", "history", "nosuch"]),
        "no image named nosuch",
    );
    let file = lab.root().join("nosuch.tar");
    assert_one_line_error(
        &lab.run(&["image", "export", "nosuch", path(&file)]),
        "no image named nosuch",
    );
    assert!(!file.exists(), "an export of nothing was written");
}

#[test]
fn image_export_writes_a_file_linked_many_times_once() {
    require_root!();
    let lab = Lab::new();
    let flat = lab.root().join("links.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&flat).expect("tar"));
    let data = vec![7u8; 1 << 20];
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    builder
        .append_data(&mut header, "big", &data[..])
        .expect("big");
    for i in 0..100 {
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Link);
        link.set_size(0);
        link.set_mode(0o644);
        link.set_uid(0);
        link.set_gid(0);
        link.set_mtime(1_700_000_000);
        builder
            .append_link(&mut link, format!("link{i}"), "big")
            .expect("link");
    }
    builder.finish().expect("finish");
    lab.ok(&["image", "import", "links", path(&flat)]);
    let out = lab.root().join("links.export.tar");
    lab.ok(&["image", "export", "links", path(&out)]);
    let size = std::fs::metadata(&out).expect("export").len();
    assert!(
        size < 2 << 20,
        "{size} bytes: the data was written more than once"
    );
    let mut archive = tar::Archive::new(std::fs::File::open(&out).expect("export"));
    let links = archive
        .entries()
        .expect("entries")
        .filter(|e| e.as_ref().expect("entry").header().entry_type() == tar::EntryType::Link)
        .count();
    assert_eq!(links, 100);
}
