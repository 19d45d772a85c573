//! Layered images as umoci and skopeo make them: `diyc image import` takes
//! an OCI layout, an oci-archive or a docker-archive, stacks its layers
//! with their whiteouts and opaque directories, runs the image's own Cmd
//! in its WorkingDir with its Env, and keeps a layer two images share in
//! one directory until the last image on it is removed.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::{
    Lab,
    made::{self, LOOK, fixtures, utf8 as path},
};

/// Import `source` as `layered` and look at its layers from inside.
fn imports_with_its_layers(source: &Path) {
    let lab = Lab::new();
    lab.ok(&["image", "import", "layered", path(source)]);
    let stdout = lab.ok(&["run", "--rm", "--net", "none", "layered", "sh", "-c", LOOK]);
    assert_eq!(stdout, format!("kept\n{}new\n", made::ADDED));
}

#[test]
fn the_tools_made_a_whiteout_an_opaque_directory_and_the_config() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    let layers = made::layers(&layout);
    let kinds: Vec<&str> = layers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["application/vnd.oci.image.layer.v1.tar+gzip"; 3]);
    let names: Vec<Vec<String>> = layers
        .iter()
        .map(|(_, blob)| made::gzip_layer_names(blob))
        .collect();
    assert!(
        names[0].contains(&"etc/deleted-me".to_string()),
        "{names:?}"
    );
    assert!(
        names[1].contains(&"etc/.wh.deleted-me".to_string()),
        "{names:?}"
    );
    assert_eq!(names[2], ["data/", "data/.wh..wh..opq", "data/new"]);
    let config = made::config(&layout);
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!(["GREETING=hello"])
    );
    assert_eq!(config["config"]["WorkingDir"], "/data");
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["/bin/sh", "-c", "echo from-config"])
    );
    assert_eq!(made::diff_ids(&layout).len(), 3);
}

#[test]
fn an_oci_layout_imports_with_its_whiteout_and_opaque_directory() {
    require_root!();
    let dir = fixtures();
    imports_with_its_layers(&made::oci_layout(dir.path()));
}

#[test]
fn an_oci_archive_imports_with_its_whiteout_and_opaque_directory() {
    require_root!();
    let dir = fixtures();
    imports_with_its_layers(&made::oci_archive(dir.path()));
}

#[test]
fn a_docker_archive_imports_with_its_whiteout_and_opaque_directory() {
    require_root!();
    let dir = fixtures();
    imports_with_its_layers(&made::docker_archive(dir.path()));
}

#[test]
fn an_oci_layout_with_zstd_layers_imports_with_its_whiteout_and_opaque_directory() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout_zstd(dir.path());
    let kinds: BTreeSet<String> = made::layers(&layout).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["application/vnd.oci.image.layer.v1.tar+zstd".to_string()])
    );
    imports_with_its_layers(&layout);
}

#[test]
fn with_no_command_the_image_runs_its_cmd_in_its_workdir_with_its_env() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    let lab = Lab::new();
    lab.ok(&["image", "import", "layered", path(&layout)]);
    let stdout = lab.ok(&["run", "--rm", "--net", "none", "layered"]);
    assert_eq!(stdout, "from-config\n");
    let stdout = lab.ok(&[
        "run",
        "--rm",
        "--net",
        "none",
        "layered",
        "sh",
        "-c",
        "echo $GREETING; pwd",
    ]);
    assert_eq!(stdout, "hello\n/data\n");
}

/// The directories in the store's layers/, a half-unpacked one's too: with
/// no import running, each is a layer.
fn layer_dirs(lab: &Lab) -> BTreeSet<String> {
    std::fs::read_dir(lab.root().join("layers"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn which(lab: &Lab, name: &str) -> String {
    lab.ok(&["run", "--rm", "--net", "none", name, "cat", "/etc/which"])
}

#[test]
fn two_images_on_one_base_share_its_directory_until_the_last_is_removed() {
    require_root!();
    let dir = fixtures();
    let (one, two) = made::two_on_one_base(dir.path());
    let (ids_one, ids_two) = (made::diff_ids(&one), made::diff_ids(&two));
    assert_eq!(ids_one.len(), 2);
    assert_eq!(ids_two.len(), 2);
    assert_eq!(ids_one[0], ids_two[0], "the fixtures share no base");
    assert_ne!(ids_one[1], ids_two[1]);
    let base = &ids_one[0];

    let lab = Lab::new();
    lab.ok(&["image", "import", "one", path(&one)]);
    lab.ok(&["image", "import", "two", path(&two)]);
    let all: BTreeSet<String> = ids_one.iter().chain(&ids_two).cloned().collect();
    assert_eq!(all.len(), 3);
    assert_eq!(layer_dirs(&lab), all, "one directory per layer");
    let base_dir: PathBuf = lab.root().join("layers").join(base);
    let inode = std::fs::metadata(&base_dir).expect("the base layer").ino();
    assert_eq!(which(&lab, "one"), "one\n");
    assert_eq!(which(&lab, "two"), "two\n");

    lab.ok(&["image", "rm", "one"]);
    let after = std::fs::metadata(&base_dir).expect("the base layer is kept");
    assert_eq!(after.ino(), inode, "the base layer was unpacked again");
    assert_eq!(
        layer_dirs(&lab),
        BTreeSet::from([base.clone(), ids_two[1].clone()]),
        "only the layers image two uses are kept"
    );
    assert_eq!(which(&lab, "two"), "two\n");

    lab.ok(&["image", "rm", "two"]);
    assert_eq!(layer_dirs(&lab), BTreeSet::new());
}

#[test]
fn an_archive_naming_two_images_makes_both_or_the_one_asked_for() {
    require_root!();
    let dir = fixtures();
    let archive = made::docker_archive_two_names(dir.path());

    // No name given: the archive's own names, sharing every layer.
    let lab = Lab::new();
    let out = lab.ok(&["image", "import", path(&archive)]);
    assert!(out.contains("imported image layered:1"), "{out}");
    assert!(out.contains("imported image other:2"), "{out}");
    assert_eq!(layer_dirs(&lab).len(), 3, "layers unpacked once for both");
    for name in ["layered:1", "other:2"] {
        let seen = lab.ok(&["run", "--rm", "--net", "none", name, "sh", "-c", LOOK]);
        assert_eq!(seen, format!("kept\n{}new\n", made::ADDED), "{name}");
    }

    // A name of one's own for an archive of two: which one must be said.
    let lab = Lab::new();
    let out = lab.run(&["image", "import", "mine", path(&archive)]);
    common::assert_one_line_error(&out, "pick one with --ref");
    assert!(lab.stored().is_empty(), "{:?}", lab.stored());
    let out = lab.ok(&[
        "image",
        "import",
        "mine",
        path(&archive),
        "--ref",
        "other:2",
    ]);
    assert!(out.contains("imported image mine"), "{out}");
    let images = lab.ok(&["image", "ls"]);
    assert!(!images.contains("layered"), "{images}");
}

#[test]
fn a_layer_listed_twice_is_stacked_once_and_the_image_runs() {
    require_root!();
    let dir = fixtures();
    let layout = made::repeated_layer(dir.path());
    let lab = Lab::new();
    lab.ok(&["image", "import", "twice", path(&layout)]);
    let inspect: serde_json::Value =
        serde_json::from_str(&lab.ok(&["image", "inspect", "twice"])).expect("JSON");
    let listed = inspect["layers"].as_array().expect("layers");
    assert_eq!(listed.len(), 3, "the image lists it twice");
    assert_eq!(listed[1], listed[2]);
    let out = lab.ok(&["run", "--rm", "--net", "none", "twice", "cat", "/etc/twice"]);
    assert_eq!(out, "twice\n");
}

#[test]
fn a_user_is_looked_up_in_the_files_the_container_sees_whiteouts_applied() {
    require_root!();
    let dir = fixtures();
    let layout = made::oci_layout(dir.path());
    // One layer gives a passwd with a ghost in it; the next deletes it.
    let give = dir.path().join("give.tar");
    let take = dir.path().join("take.tar");
    for (tarball, name, data) in [
        (
            &give,
            "etc/passwd",
            &b"ghost:x:1234:1234::/home/ghost:/bin/sh\n"[..],
        ),
        (&take, "etc/.wh.passwd", &b""[..]),
    ] {
        common::archives::tar_of(tarball, &[(name, data)]);
        made::add_layer(&layout, tarball);
    }
    let lab = Lab::new();
    lab.ok(&["image", "import", "ghostless", path(&layout)]);
    let out = lab.run(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--user",
        "ghost",
        "ghostless",
        "true",
    ]);
    common::assert_one_line_error(&out, "ghost");
}
