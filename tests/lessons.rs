//! Each lesson of `diyc learn` alone: its parts in order, its isolation
//! check, its "what breaks without it" experiment shown and undone, the
//! host left as found, and a snapshot of what it showed.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::lessons::{
    assert_parts_in_order, assert_proc_counts, inside_column, lesson_filters, section,
};
use common::{Lab, text};

fn snapshot(lab: &Lab, name: &str, err: &str) {
    let filters = lesson_filters(lab);
    let filters: Vec<(&str, &str)> = filters
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!(name, err);
    });
}

/// diyc with no podman on its PATH: the hardening lesson's engine part is
/// then its short paragraph, the same on every machine (tests/lessons_oci.rs
/// runs it with podman).
fn without_podman(lab: &Lab, args: &[&str]) -> std::process::Output {
    lab.cmd(args)
        .env("PATH", lab.root().join("no-podman-here"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("diyc runs")
}

/// `diyc learn --step STEP --no-pause`: exit 0, every part, the lesson's
/// own check, its experiment's effect and undoing, the host as it was,
/// at most 250 lines and no raw Markdown; then the same with every call
/// shown (`--explain --verbose`), where each of `expect` must be. Returns
/// the quiet run's stderr and the verbose run's, for checks of the
/// lesson's own, and the quiet run's stdout.
fn lesson(lab: &Lab, step: &str, extra: &[&str], expect: &[&str]) -> (String, String) {
    let (err, out) = quiet_lesson(lab, step, extra);
    let args = common::verbose_lesson(step, extra);
    let before = lab.host_state();
    let verbose = without_podman(lab, &args);
    let all = text(&verbose.stderr);
    assert_eq!(verbose.status.code(), Some(0), "{all}");
    for needle in expect {
        assert!(all.contains(needle), "{needle:?} missing from:\n{all}");
    }
    assert_eq!(lab.host_state(), before, "the lesson left something behind");
    (format!("{err}\n{all}"), out)
}

fn quiet_lesson(lab: &Lab, step: &str, extra: &[&str]) -> (String, String) {
    let before = lab.host_state();
    let mut args = vec!["learn", "--step", step, "--no-pause"];
    args.extend(extra);
    let out = without_podman(lab, &args);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_parts_in_order(&err);
    assert!(err.contains("\n✓ "), "no isolation check passed:\n{err}");
    assert!(
        err.contains("\n✗ what breaks: "),
        "no experiment effect:\n{err}"
    );
    assert_eq!(lab.host_state(), before, "the lesson left something behind");
    let printed = err.lines().count() + text(&out.stdout).lines().count();
    assert!(printed <= 250, "the {step} lesson printed {printed} lines");
    for markup in ["**", "```", "\n## ", "{{"] {
        assert!(
            !err.contains(markup),
            "raw {markup:?} on the screen:\n{err}"
        );
    }
    // Claims about the run match the run, and about diyc, diyc.
    for wrong in ["domainname prints diyc", "until the hardening stage exists"] {
        assert!(!err.contains(wrong), "the {step} lesson says {wrong:?}");
    }
    assert!(
        !lab.root().join("lessons").exists(),
        "a lesson's scratch directory is left"
    );
    // A lesson in a lab of its own says so: its snapshot is its own.
    let lab_run = if extra.contains(&"--lab") { "_lab" } else { "" };
    snapshot(lab, &format!("lesson_{step}{lab_run}"), &err);
    (err, text(&out.stdout))
}

/// Run by root, the container's root is mapped to the overflow id: an
/// ordinary user on the host, refused what is the host's.
#[test]
fn user_lesson_maps_root_inside_to_an_ordinary_user_and_shows_nobody_without_a_map() {
    require_root!();
    let lab = Lab::new();
    let host = common::sh(&["hostname"]);
    let (err, out) = lesson(
        &lab,
        "user",
        &[],
        &[
            "clone3({flags=CLONE_NEWUSER, ",
            "/uid_map # ok",
            "setresuid(0, 0, 0) = 0",
            "✓ inside, the command is root (uid 0); the host sees uid 65534",
            "✗ what breaks: without a map the command is uid 65534",
            "✓ undone: the user namespace went with its last process",
        ],
    );
    let inside = inside_column(section(&err, "» Both views"));
    assert!(
        inside.contains("uid 0, gid 0: root of this user namespace"),
        "{inside}"
    );
    for seen in [
        "id: uid=0(root) gid=0(root)",
        "in the host's UTS namespace: refused",
        "in a UTS namespace of its own: lab",
        "/etc/shadow, which only the host's root may read: refused",
        "id: uid=65534(nobody)",
        "CapEff after execve: 0000000000000000",
    ] {
        assert!(out.contains(seen), "{seen:?} missing from:\n{out}");
    }
    assert_eq!(common::sh(&["hostname"]), host, "the host was renamed");
}

#[test]
fn uts_lesson_renames_only_its_own_namespace() {
    require_root!();
    let lab = Lab::new();
    let host = common::sh(&["hostname"]);
    let (_, out) = lesson(
        &lab,
        "uts",
        &[],
        &[
            "sethostname(\"diyc-lesson\", 11) = 0",
            "✗ what breaks: the shared hostname changed for everyone",
            "✓ undone: the real host is still",
        ],
    );
    assert!(out.contains("diyc-lesson"), "{out}");
    assert!(out.contains("the host is now renamed-by-a-guest"), "{out}");
    assert_eq!(common::sh(&["hostname"]), host, "the host was renamed");
}

#[test]
fn pid_lesson_shows_pid_1_and_the_hosts_processes_without_a_new_proc() {
    require_root!();
    let lab = Lab::new();
    let (_, out) = lesson(
        &lab,
        "pid",
        &[],
        &[
            "mount(\"proc\", \"/proc\", \"proc\"",
            "✗ what breaks: without a new /proc",
            "✓ undone: the host's mount table is as it was",
        ],
    );
    assert_proc_counts(&out);
}

#[test]
fn mount_lesson_keeps_its_mount_and_shows_the_leak_without_private_propagation() {
    require_root!();
    let lab = Lab::new();
    let (err, out) = lesson(
        &lab,
        "mount",
        &[],
        &[
            "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0",
            "✗ what breaks: the mount leaked",
            "✓ undone: the real host's mount table is as it was",
        ],
    );
    // Both views wrap between words: nothing is cut off.
    let inside = inside_column(section(&err, "» Both views"));
    assert!(inside.contains("/ is now private"), "{inside}");
    assert!(out.contains(" - tmpfs diyc-lesson "), "{out}");
    assert!(
        out.contains("appeared in the (pretend) host's table"),
        "{out}"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !mounts.contains("diyc-lesson") && !mounts.contains("diyc-leak"),
        "{mounts}"
    );
}

#[test]
fn rootfs_lesson_stays_inside_after_pivot_root_and_climbs_out_of_a_chroot() {
    require_root!();
    let lab = Lab::new().with_image();
    let _ = lesson(
        &lab,
        "rootfs",
        &[],
        &[
            "pivot_root(\".\", \".\") = 0",
            "stayed inside: climbing stops at the container's own root",
            "chroot(\"/lesson-escape\") = 0",
            "ESCAPED: / here is the host's own root",
            "✓ undone: the host's mount table is as it was",
        ],
    );
}

#[test]
fn image_lesson_imports_a_whiteout_and_an_opaque_directory_and_shows_them_lost_as_plain_files() {
    require_root!();
    let lab = Lab::new().with_image();
    let (err, out) = lesson(
        &lab,
        "image",
        &[],
        &[
            "S_IFCHR|000, makedev(0, 0)) = 0",
            "lsetxattr(\"",
            "\"trusted.overlay.opaque\", \"y\", 1, 0) = 0",
            "✓ the container sees no /etc/motd-old, and in /srv/site only layer 2's index.html",
            "✗ what breaks: with the marks left as plain files, the deleted /etc/motd-old is back",
            "✓ undone: the sample image, its layers in the store and the lesson's directories are gone",
        ],
    );
    // What the container printed, in the working run and without the marks.
    assert!(out.contains("; /srv/site: index.html\n"), "{out}");
    assert!(
        out.contains("Welcome! (the old message, which layer 2 deletes)\n/etc: .wh.motd-old "),
        "{out}"
    );
    assert!(
        out.contains(
            " motd-old os-release passwd; /srv/site: .wh..wh..opq a.html b.html index.html"
        ),
        "{out}"
    );
    // The digests checked: a copy with one byte changed, refused in one line.
    assert!(
        err.contains("# diyc: refusing ")
            && err.contains(
                "lesson-image.changed: layer 3c06821c998c's file does not match its digest"
            ),
        "{err}"
    );
    assert!(err.contains("cat: can't open '/etc/motd-old'"), "{err}");
    // The overlay stacks the two layers of the store on the busybox image.
    let layers = format!("lowerdir={}/layers/", lab.root().display());
    assert!(err.contains(&layers), "{layers} missing:\n{err}");
    // The image, its layers and the layout are gone again.
    let left: Vec<_> = std::fs::read_dir(lab.root().join("layers"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                // The store's own locks are no layer.
                .filter(|name| !name.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "layers left in the store: {left:?}");
}

#[test]
fn cgroups_lesson_stops_the_hog_at_the_limit_and_lets_it_grow_without() {
    require_root!();
    let lab = Lab::new().with_image();
    let (err, _) = lesson(
        &lab,
        "cgroups",
        &[],
        &[
            "killed by the kernel's OOM killer: memory limit 32 MiB",
            "✓ the kernel's OOM killer stopped the hog at the 32 MiB limit",
            "✗ what breaks: with no limit the hog took all 100 MiB",
            "✓ undone: its cgroup was removed with the container",
        ],
    );
    // The cgroup is drawn once, as the run left it, not once per look.
    let both = section(&err, "» Both views");
    assert_eq!(both.matches("pids.current = ").count(), 1, "{both}");
    for dir in lab.cgroup_parent_dirs() {
        let left: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().filter(|e| e.path().is_dir()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{}: {left:?}", dir.display());
    }
}

#[test]
fn net_lesson_joins_the_bridge_and_shows_an_island_without_a_veth_pair() {
    require_root!();
    let lab = Lab::new().with_image();
    let _ = lesson(
        &lab,
        "net",
        &[],
        &[
            "RTM_NEWLINK: ip link add diyc0 type bridge # ok",
            "✓ eth0 has 172.16.0.",
            "✗ what breaks: without a veth pair the namespace is an island",
            "✓ undone: its network namespace went with it",
            // Made for the lesson, so taken down again at its end.
            "RTM_DELLINK: ip link del diyc0 # ok",
        ],
    );
}

/// Without --lab the lesson uses the host's network, as `diyc run` does
/// (here the test's own namespace), and takes down what it set up.
#[test]
fn iptables_lesson_on_the_host_network_puts_every_rule_back() {
    require_root!();
    let lab = Lab::new().with_image();
    let (_, out) = lesson(
        &lab,
        "iptables",
        &[],
        &[
            "iptables -w -t nat -A DIYC-POSTROUTING -s 172.16.0.0/16 '!' -o diyc0 -j MASQUERADE # exit 0",
            "✓ the outside host saw this host's address, not the container's: MASQUERADE",
            "iptables -w -t nat -D DIYC-POSTROUTING -s 172.16.0.0/16 '!' -o diyc0 -j MASQUERADE # exit 0",
            "✗ what breaks: without MASQUERADE the outside host got a packet from 172.16.x.x",
            "✓ undone: the MASQUERADE rule is back",
        ],
    );
    assert!(out.contains("nc ended with 0"), "{out}");
    assert!(out.contains("nc ended with 1"), "{out}");
}

/// With --lab everything happens in a namespace of the lesson's own.
#[test]
fn iptables_lab_leaves_the_network_it_ran_from_untouched() {
    require_root!();
    let lab = Lab::new().with_image();
    let before = common::sh(&["iptables-save"]);
    let (_, out) = lesson(
        &lab,
        "iptables",
        &["--lab"],
        &[
            "the lab: a network namespace of the lesson's own",
            "✓ undone: the MASQUERADE rule is back",
        ],
    );
    assert!(
        out.contains("nc ended with 0") && out.contains("nc ended with 1"),
        "{out}"
    );
    assert!(!common::sh(&["ip", "-o", "link"]).contains("diyc0"));
    assert_eq!(
        common::sh(&["iptables-save"])
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        before
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
    );
}

#[test]
fn hardening_lesson_refuses_what_an_unhardened_container_may_do() {
    require_root!();
    let lab = Lab::new().with_image();
    let (_, out) = lesson(
        &lab,
        "hardening",
        &[],
        &[
            "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0",
            "✗ what breaks: without hardening, root in the container can mount",
            "✓ undone:",
        ],
    );
    assert!(
        out.contains("mount: refused\nsysctl: refused"),
        "hardened: {out}"
    );
    assert!(
        out.contains("mount: allowed\nsysctl: written"),
        "unhardened: {out}"
    );
}
