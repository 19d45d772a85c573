//! The hardening lesson's last part, what an engine asks for: with podman
//! on PATH it runs `podman run --rm` once with diyc as the runtime and
//! shows what podman called and asked for, leaving nothing behind;
//! without podman it says so in one paragraph (snapshot).

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::process::{Output, Stdio};

use common::lessons::{lesson_filters, section};
use common::{Lab, text};

const PART: &str = "» What an engine asks for";

fn learn(lab: &Lab, path: Option<&std::path::Path>, extra: &[&str]) -> Output {
    let mut args = vec!["learn", "--step", "hardening", "--no-pause"];
    args.extend(extra);
    let mut cmd = lab.cmd(&args);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.stdin(Stdio::null()).output().expect("diyc runs")
}

/// What podman writes on the host whatever its flags say, and what it
/// would leave running: none of it may change.
fn podman_marks(lab: &Lab) -> Vec<String> {
    let mut marks =
        common::podman::marks_of(&["/run/containers", "/run/netns", "/var/lib/containers"]);
    // conmon and podman's clean-up name the lesson's directory.
    let root = lab.root().to_string_lossy().into_owned();
    let running = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
                .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
                .map(|c| text(&c).replace('\0', " "))
                .filter(|c| c.contains(&root) && (c.contains("podman") || c.contains("conmon")))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    marks.push(format!("processes of the lesson's podman: {running:?}"));
    marks
}

/// The cgroups left below the lab's parent, in every tree.
fn cgroups_below(lab: &Lab) -> Vec<String> {
    lab.cgroup_parent_dirs()
        .iter()
        .flat_map(|dir| {
            std::fs::read_dir(dir)
                .map(|d| {
                    d.flatten()
                        .filter(|e| e.path().is_dir())
                        .map(|e| e.path().display().to_string())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn with_podman_the_hardening_lesson_shows_create_start_delete_and_what_config_json_asked() {
    require_root!();
    assert!(
        diyc::sys::on_path("podman").is_some(),
        "podman is not installed (scripts/test installs it)"
    );
    let lab = Lab::new().with_image();
    let before = (lab.host_state(), podman_marks(&lab));
    let out = learn(&lab, None, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let part = section(&err, PART);
    for claim in [
        "podman is at ",
        "podman --runtime D/engine/bin/diyc-oci run --rm",
        "--network none",
        "localhost/diyc-busybox:lesson true",
        "podman called its runtime 3 times (ID is the container's id, ",
        "  2. diyc-oci start ID\n",
        "  3. diyc-oci delete --force ID\n",
        "✓ podman called create, then start, then delete",
        "What podman's config.json asked for (from its bundle,",
        "  - the command: true\n",
        "  - namespaces (5): pid, network, ipc, uts, mount\n",
        "  - mounts (",
        "/proc /dev /sys",
        "  - capabilities (",
        "  - masked paths (",
        "/proc/kcore",
        "  - read-only paths (",
        "/proc/sys",
        "  - seccomp: ",
        "== hardening: what the container's root may no longer do ([pid ",
        "== rootfs: an overlay of the image becomes / ([pid ",
        "✓ undone: no process of podman's is left in its namespace; the container's cgroup, ",
    ] {
        assert!(part.contains(claim), "{claim:?} missing from:\n{part}");
    }
    let create = part
        .split("  1. ")
        .nth(1)
        .and_then(|rest| rest.split("  2. ").next())
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        create.starts_with("diyc-oci ")
            && create.contains(" create --bundle D/engine/store/")
            && create.ends_with(
                " --pid-file /run/diyc-lesson/run/overlay-containers/ID/userdata/pidfile ID"
            ),
        "{part}"
    );
    let cgroups = format!("  - cgroupsPath: {}/libpod-ID\n", lab.cgroup_parent);
    assert!(part.contains(&cgroups), "{cgroups:?} missing from:\n{part}");
    // delete removed it, not the lesson.
    let gone = format!(
        "the container's cgroup, {}/libpod-ID, is gone;",
        lab.cgroup_parent
    );
    assert!(part.contains(&gone), "{gone:?} missing from:\n{part}");
    assert!(!part.contains('✗'), "{part}");
    assert_eq!(
        (lab.host_state(), podman_marks(&lab)),
        before,
        "the engine's run left something behind"
    );
    assert!(
        !lab.root().join("lessons").exists(),
        "the lesson's directory is left"
    );
    assert_eq!(
        cgroups_below(&lab),
        Vec::<String>::new(),
        "a cgroup is left"
    );
    // Every call of create, with --verbose: the capabilities podman asked
    // for are the ones capset gives.
    let verbose = learn(&lab, None, &["--explain", "--verbose"]);
    let all = text(&verbose.stderr);
    assert_eq!(verbose.status.code(), Some(0), "{all}");
    let part = section(&all, PART);
    for call in ["pivot_root(", "capset(", "seccomp(SECCOMP_SET_MODE_FILTER"] {
        assert!(part.contains(call), "{call:?} missing from:\n{part}");
    }
    assert!(part.contains("|1<<CAP_NET_RAW|"), "{part}");
}

#[test]
fn without_podman_the_part_says_what_it_would_show_and_how_to_install_it() {
    require_root!();
    let lab = Lab::new().with_image();
    let before = lab.host_state();
    let out = learn(&lab, Some(&lab.root().join("no-podman-here")), &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let part = section(&err, PART);
    assert!(part.contains("podman is not on this PATH"), "{part}");
    assert!(part.contains("apt-get install podman"), "{part}");
    assert!(!part.contains("podman called"), "{part}");
    assert_eq!(lab.host_state(), before);
    let filters = lesson_filters(&lab);
    let filters: Vec<(&str, &str)> = filters
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!("engine_part_without_podman", part);
    });
}
