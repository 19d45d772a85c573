//! The lessons' pictures of the live state: each lesson run as a student
//! would run it, its pictures found in what it said, and each checked for
//! this run's own values (read back from the same run's trace), for
//! fitting 80 columns, and for plain ASCII where there is no terminal.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{Lab, text};

/// `diyc learn --step STEP --no-pause` with `extra`, in the C locale and
/// with stderr a pipe: what it said, and its pictures (each a caption
/// and its lines), found under their heading.
fn pictures(lab: &Lab, step: &str, extra: &[&str]) -> (String, Vec<String>) {
    // Every call shown, to read this run's values back from its trace;
    // the pictures are the same in the quiet view.
    let args = common::verbose_lesson(step, extra);
    let out = lab
        .cmd(&args)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("diyc runs");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let heading = "» Pictures of what the runs showed\n";
    let start = err.find(heading).expect("the pictures") + heading.len();
    // The next part, whichever it is (the hardening lesson's engine part
    // comes before Try it yourself where podman is installed).
    let end = start + err[start..].find("\n» ").expect("the next part");
    // The words a picture uses first follow it; they are not the picture.
    let found: Vec<String> = err[start..end]
        .split("\n\n")
        .map(|p| {
            p.lines()
                .filter(|l| !l.starts_with("  > "))
                .collect::<Vec<_>>()
                .join("\n")
                .trim_matches('\n')
                .to_string()
        })
        .filter(|p| !p.is_empty())
        .collect();
    assert!(!found.is_empty(), "no pictures in:\n{err}");
    for picture in &found {
        for line in picture.lines() {
            assert!(
                line.chars().count() <= 80,
                "wider than 80 columns ({}): {line}\n{picture}",
                line.chars().count()
            );
            assert!(line.is_ascii(), "not ASCII without a terminal: {line}");
            assert_eq!(line, line.trim_end(), "trailing spaces: {line:?}");
        }
    }
    (err, found)
}

/// The picture whose caption starts with `caption`.
fn picture<'a>(found: &'a [String], caption: &str) -> &'a str {
    found
        .iter()
        .find(|p| p.starts_with(caption))
        .unwrap_or_else(|| panic!("no picture {caption:?} in:\n{}", found.join("\n\n")))
}

/// The calls of a lesson's live run and of its experiment: the trace
/// lines only, none of the lesson's prose.
fn halves(err: &str) -> (String, String) {
    let (live, broken) = err
        .split_once("The same stage with its key step left out:")
        .expect("the experiment");
    let calls = |part: &str| {
        part.lines()
            .filter(|l| l.trim_start().starts_with("[pid ") || l.starts_with("    "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    (calls(live), calls(broken))
}

/// What a trace line `... = N` returned, for the first line holding `call`.
fn returned(trace: &str, call: &str) -> String {
    trace
        .lines()
        .find(|l| l.contains(call))
        .and_then(|l| l.rsplit(" = ").next())
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| panic!("no {call} in:\n{trace}"))
}

/// The pid in `[pid N]` of the first trace line holding `call`.
fn caller(trace: &str, call: &str) -> String {
    trace
        .lines()
        .find(|l| l.contains(call))
        .and_then(|l| l.split("[pid ").nth(1)?.split(']').next())
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no {call} in:\n{trace}"))
}

/// The word after `before` on the first line holding it.
fn word_after<'a>(trace: &'a str, before: &str) -> &'a str {
    trace
        .split_once(before)
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {before:?} in:\n{trace}"))
}

/// The container's namespace inode from the clone's table.
fn inode(trace: &str, ns: &str) -> String {
    trace
        .lines()
        .find_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words.first() == Some(&ns) && words.len() >= 3).then(|| words[2].to_string())
        })
        .unwrap_or_else(|| panic!("no {ns} namespace in:\n{trace}"))
}

#[test]
fn uts_pictures_show_both_names_and_both_namespaces() {
    require_root!();
    let lab = Lab::new();
    let (err, found) = pictures(&lab, "uts", &[]);
    let (live, broken) = halves(&err);
    let (live, broken) = (live.as_str(), broken.as_str());
    let two = picture(&found, "The UTS namespaces of this run");
    let host = common::sh(&["hostname"]);
    for value in [
        host.trim().to_string(),
        "diyc-lesson".into(),
        returned(live, "clone3("),
        inode(live, "uts"),
    ] {
        assert!(two.contains(&value), "{value} missing:\n{two}");
    }
    let shared = picture(&found, "Without a namespace of its own");
    assert!(shared.contains(&inode(broken, "uts")), "{shared}");
    assert!(
        shared.contains("pretend-host --> renamed-by-a-guest"),
        "{shared}"
    );
}

#[test]
fn pid_pictures_show_the_childs_numbers_from_the_trace() {
    require_root!();
    let lab = Lab::new();
    let (err, found) = pictures(&lab, "pid", &[]);
    let (live, _) = halves(&err);
    let live = live.as_str();
    let tree = picture(&found, "The PID namespaces of this run");
    let child = returned(live, "clone3(");
    for value in [
        format!("diyc: pid {}", caller(live, "clone3(")),
        format!("host pid {child}, pid 1 here (NSpid: {child} 1)"),
        inode(live, "pid"),
        "/proc here lists: 1".into(),
    ] {
        assert!(tree.contains(&value), "{value} missing:\n{tree}");
    }
    let without = picture(&found, "Without a fresh /proc");
    assert!(without.contains("/proc lists: 1 2 "), "{without}");
}

#[test]
fn mount_pictures_show_the_link_cut_and_the_leak_without_it() {
    require_root!();
    let lab = Lab::new();
    let (err, found) = pictures(&lab, "mount", &[]);
    let (live, _) = halves(&err);
    let live = live.as_str();
    let cut = picture(&found, "The mount tables of this run");
    assert!(cut.contains("-/- cut"), "{cut}");
    assert!(
        cut.contains(&format!("the copy, pid {}", returned(live, "clone3("))),
        "{cut}"
    );
    assert!(cut.contains("+ tmpfs diyc-lesson on /tmp"), "{cut}");
    let linked = picture(&found, "Without private propagation");
    assert!(linked.contains("<--> shared"), "{linked}");
    assert!(linked.contains("it came back here"), "{linked}");
}

#[test]
fn image_pictures_show_the_stack_the_marks_the_import_made_and_the_marks_left_as_files() {
    require_root!();
    let lab = Lab::new().with_image();
    let (err, found) = pictures(&lab, "image", &[]);
    let (live, _) = halves(&err);
    let live = live.as_str();
    let stack = picture(&found, "The image's layers on the busybox base");
    // The paths may be broken after a slash to fit.
    let joined: String = stack
        .lines()
        .map(|l| l.trim_matches(|c| c == '|' || c == ' '))
        .collect();
    // The layers the overlay was mounted with, in the live run's trace.
    let lower = word_after(live, "\"lowerdir=")
        .split(',')
        .next()
        .unwrap_or_default()
        .to_string();
    let dirs: Vec<&str> = lower.split(':').collect();
    assert_eq!(dirs.len(), 3, "{lower}");
    for dir in &dirs {
        assert!(joined.contains(dir), "{dir} missing:\n{stack}");
    }
    assert!(
        dirs[0].starts_with(&format!("{}/layers/", lab.root().display())),
        "{lower}"
    );
    assert!(stack.contains("lowerdir=layer 2:layer 1:base"), "{stack}");
    for line in [
        "etc/motd-old: a whiteout (character device 0:0)",
        "srv/site: a directory, opaque (trusted.overlay.opaque=y)",
        "etc/motd-old: a file of 50 bytes",
        "/etc/motd-old: no such file",
        "/srv/site holds: index.html",
    ] {
        assert!(stack.contains(line), "{line:?} missing:\n{stack}");
    }
    let marks = picture(&found, "Importing layer 2:");
    assert_eq!(returned(live, "/fs/etc/motd-old\", S_IFCHR|000"), "0");
    assert!(
        marks.contains("mknodat(\"etc/motd-old\", S_IFCHR, 0:0) = 0: a whiteout"),
        "{marks}"
    );
    assert!(
        marks.contains("lsetxattr(\"srv/site\", \"trusted.overlay.opaque\", \"y\") = 0"),
        "{marks}"
    );
    let plain = picture(&found, "The marks left as plain files:");
    for line in [
        "/etc/motd-old: \"Welcome!",
        "/srv/site holds: .wh..wh..opq a.html b.html index.html",
        "etc/.wh.motd-old: a file of 0 bytes",
    ] {
        assert!(plain.contains(line), "{line:?} missing:\n{plain}");
    }
}

#[test]
fn rootfs_pictures_show_where_the_written_and_the_deleted_file_landed() {
    require_root!();
    let lab = Lab::new().with_image();
    let (err, found) = pictures(&lab, "rootfs", &[]);
    let (live, _) = halves(&err);
    let live = live.as_str();
    let overlay = picture(&found, "The overlay of this run");
    // The upper directory on disk, in the lesson's own scratch place; the
    // paths may be broken after a slash to fit.
    let joined: String = overlay
        .lines()
        .map(|l| l.trim_matches(|c| c == '|' || c == ' '))
        .collect();
    let upper = format!("{}/lessons/lesson-rootfs.layer/upper", lab.root().display());
    assert!(joined.contains(&upper), "{upper} missing:\n{overlay}");
    assert!(
        overlay.contains("lesson-note: a file of 25 bytes"),
        "{overlay}"
    );
    assert!(
        overlay.contains("etc/os-release: a whiteout (character device 0:0)"),
        "{overlay}"
    );
    assert!(overlay.contains("/etc/os-release is gone"), "{overlay}");
    assert!(
        overlay.contains(&format!("/proc/{}/root", returned(live, "clone3("))),
        "{overlay}"
    );
    let pivot = picture(&found, "pivot_root:");
    assert!(pivot.contains("pivot_root(\".\", \".\") = 0"), "{pivot}");
    assert!(pivot.contains("stayed inside"), "{pivot}");
    let chroot = picture(&found, "chroot instead:");
    assert!(chroot.contains("ESCAPED"), "{chroot}");
    // The layer on disk went with the launch's clean-up.
    assert!(!lab.root().join("lessons").exists());
}

#[test]
fn cgroups_pictures_show_the_tree_the_limit_and_the_peak() {
    require_root!();
    let lab = Lab::new().with_image();
    let (_, found) = pictures(&lab, "cgroups", &[]);
    let limited = picture(&found, "The cgroup tree of this run");
    // The tree reaches the container's cgroup through the lab's parent.
    let parent = lab.cgroup_parent.rsplit('/').next().unwrap_or("");
    assert!(
        limited.contains(&format!("{parent} (the lessons' cgroup parent)")),
        "{limited}"
    );
    assert!(
        limited.contains("lesson-cgroups (the container's cgroup)"),
        "{limited}"
    );
    assert!(limited.contains("memory limit: 32 MiB"), "{limited}");
    // At least the hog; once the reaper has stripped a victim that is still
    // exiting, the kernel may pick another of the container's three (sh,
    // head, tail), so the count is not always one.
    let killed: u32 = limited
        .split_once("processes the OOM killer ended: ")
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    assert!((1..=3).contains(&killed), "{limited}");
    let peak = |p: &str| -> f64 {
        p.split_once("the most it used: ")
            .and_then(|(_, rest)| rest.split(" MiB").next()?.parse().ok())
            .unwrap_or_else(|| panic!("no peak in MiB:\n{p}"))
    };
    assert!(peak(limited) <= 32.0 && peak(limited) >= 16.0, "{limited}");
    let unlimited = picture(&found, "Without a limit");
    assert!(unlimited.contains("memory limit: unlimited"), "{unlimited}");
    assert!(peak(unlimited) >= 100.0, "{unlimited}");
    // No number of 19 digits for "no limit", anywhere.
    assert!(
        !found.iter().any(|p| p.contains("9223372036854")),
        "{found:?}"
    );
}

#[test]
fn net_pictures_show_the_bridge_the_pair_and_the_island() {
    require_root!();
    let lab = Lab::new().with_image();
    let (err, found) = pictures(&lab, "net", &["--lab"]);
    let (live, _) = halves(&err);
    let live = live.as_str();
    let wired = picture(&found, "The network of this run");
    let bridge = word_after(live, "ip addr add ");
    let eth0 = live
        .lines()
        .find(|l| l.contains("dev eth0") && l.contains("ip addr add"))
        .map(|l| word_after(l, "ip addr add "))
        .expect("eth0's address in the trace");
    let veth = live
        .lines()
        .find(|l| l.contains("type veth"))
        .map(|l| word_after(l, "ip link add "))
        .expect("the veth pair in the trace");
    for value in [
        format!("diyc0 (bridge) {bridge}"),
        format!("eth0: {eth0}"),
        format!("{veth}: on diyc0"),
        "<--> ".into(),
    ] {
        assert!(wired.contains(value.trim()), "{value} missing:\n{wired}");
    }
    let island = picture(&found, "Without a veth pair");
    assert!(island.contains("lo: 127.0.0.1/8, only itself"), "{island}");
    assert!(!island.contains("eth0"), "{island}");
    assert!(island.contains("no answer"), "{island}");
}

#[test]
fn iptables_pictures_follow_one_packet_through_masquerade() {
    require_root!();
    let lab = Lab::new().with_image();
    let (err, found) = pictures(&lab, "iptables", &["--lab"]);
    let (live, broken) = halves(&err);
    let (live, broken) = (live.as_str(), broken.as_str());
    let address = |trace: &str| {
        trace
            .lines()
            .find(|l| l.contains("dev eth0") && l.contains("ip addr add"))
            .map(|l| {
                word_after(l, "ip addr add ")
                    .split('/')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .expect("eth0's address in the trace")
    };
    let nat = picture(&found, "One packet of this run");
    let container = address(live);
    for value in [
        format!("from {container}"),
        format!("the source {container} --> 10.99.0.1"),
        "leaves by vlab (10.99.0.1/24)".to_string(),
        "saw a connection from 10.99.0.1".into(),
        "MASQUERADE for 172.16.0.0/16 going out of any link but diyc0: 1 packet".into(),
    ] {
        assert!(nat.contains(&value), "{value} missing:\n{nat}");
    }
    let without = picture(&found, "Without MASQUERADE");
    let container = address(broken);
    assert!(
        without.contains(&format!("the source stays {container}")),
        "{without}"
    );
    assert!(without.contains("saw no connection"), "{without}");
}

#[test]
fn hardening_pictures_count_what_was_kept_and_lost() {
    require_root!();
    let lab = Lab::new().with_image();
    let (err, found) = pictures(&lab, "hardening", &[]);
    let (live, _) = halves(&err);
    let live = live.as_str();
    let table = picture(&found, "What the container's root kept");
    let dropped = live.matches("prctl(PR_CAPBSET_DROP, ").count();
    assert!(dropped > 0, "{live}");
    assert!(
        table.contains(&format!("{dropped} capabilities, dropped")),
        "{table}"
    );
    let kept = live
        .lines()
        .find_map(|l| l.trim().strip_prefix("CapEff: "))
        .and_then(|l| l.split_once(" = "))
        .map(|(_, names)| names.split('|').count())
        .expect("CapEff in the trace");
    assert!(
        table.contains(&format!("{kept} capabilities: CHOWN")),
        "{table}"
    );
    for value in [
        "NoNewPrivs 1",
        "Seccomp 2",
        "/proc/keys",
        "read-only (",
        "all refused",
    ] {
        assert!(table.contains(value), "{value} missing:\n{table}");
    }
    let soft = picture(&found, "Without the hardening stage");
    assert!(soft.contains("mount: allowed"), "{soft}");
}
