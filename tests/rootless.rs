//! diyc without root: an ordinary user of the test's own runs containers
//! in user namespaces and leaves nothing in its home or on the host
//! (images and the store: tests/rootless_store.rs; the network through
//! pasta: tests/rootless_net.rs). Root makes the user; everything diyc
//! does runs as that user.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::process::Output;

use common::user::{RANGE, TestUser, readable};
use common::{Lab, sh, text};

/// A shell command in a fresh `--net none` busybox container, as `user`.
fn inside(user: &TestUser, image: &str, script: &str) -> Output {
    user.run(&["run", "--rm", "--net", "none", image, "sh", "-c", script])
}

#[test]
fn a_container_without_root_is_root_only_of_its_own_user_namespace() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    let out = inside(
        &user,
        "busybox",
        "id -u; cat /proc/self/uid_map; hostname; cat /proc/1/comm",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Vec<String>> = text(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(lines[0], ["0"], "root inside");
    let sub = user.subid.expect("a range");
    assert_eq!(
        lines[1],
        ["0", &user.uid.to_string(), "1"],
        "root is the user"
    );
    assert_eq!(
        lines[2],
        ["1", &sub.to_string(), &RANGE.to_string()],
        "ids 1 and up are the user's range"
    );
    // The busybox image the run built is the user's own, under its home.
    assert!(user.state_root().join("images/busybox").is_dir());
    user.assert_nothing_left();
}

#[test]
fn a_detached_container_without_root_takes_exec_stop_and_rm() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    let name = user.ok(&[
        "run", "-d", "--name", "bg", "--net", "none", "busybox", "sleep", "1000",
    ]);
    assert_eq!(name.trim(), "bg");
    assert!(user.ok(&["ps"]).contains("bg"), "ps lists it");
    let seen = user.ok(&["exec", "bg", "sh", "-c", "id -u; cat /proc/1/cmdline"]);
    assert_eq!(
        seen, "0\nsleep\u{0}1000\u{0}",
        "exec is root beside the sleeper"
    );
    user.ok(&["stop", "-t", "1", "bg"]);
    user.ok(&["rm", "bg"]);
    assert!(!user.ok(&["ps", "-a"]).contains("bg"));
    user.assert_nothing_left();
}

#[test]
fn net_none_without_root_has_only_loopback() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    let out = inside(&user, "busybox", "ls /sys/class/net");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "lo\n");
    user.assert_nothing_left();
}

#[test]
fn without_a_range_only_the_users_own_id_is_mapped_and_a_note_says_so() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(false);
    let out = inside(
        &user,
        "busybox",
        "cat /proc/self/uid_map; touch /f; chown 33 /f || echo refused",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let map: Vec<&str> = shown
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(map, ["0", &user.uid.to_string(), "1"], "{shown}");
    assert!(
        shown.ends_with("refused\n"),
        "no other id to give a file: {shown}"
    );
    let err = text(&out.stderr);
    let notes: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("only your own user is mapped"))
        .collect();
    assert_eq!(notes.len(), 1, "one line says what one id limits: {err}");
    assert!(notes[0].contains("/etc/subuid"), "{}", notes[0]);
    user.assert_nothing_left();
}

#[test]
fn a_limit_without_a_delegated_cgroup_is_refused_in_one_line() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(true);
    let out = user.run(&[
        "run", "--rm", "--net", "none", "--mem", "64M", "busybox", "true",
    ]);
    common::assert_one_line_error(
        &out,
        "without root, --mem, --cpus and --pids need a cgroup v2 subtree of your own",
    );
    drop(lab);
    user.assert_nothing_left();
}

#[test]
fn a_rootless_run_explains_its_user_stage_in_json_the_schema_accepts() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    let out = user.run(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--explain=json",
        "busybox",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events = common::snapshot::assert_json_events(&text(&out.stderr));
    let maps: Vec<String> = events
        .iter()
        .filter(|e| e["stage"] == "user")
        .filter_map(|e| e["call"]["argv"][0].as_str().map(String::from))
        .collect();
    assert_eq!(
        maps,
        ["/usr/bin/newuidmap", "/usr/bin/newgidmap"],
        "the maps, written from outside"
    );
    user.assert_nothing_left();
}

#[test]
fn a_user_namespace_the_kernel_refuses_points_to_diyc_doctor() {
    require_root!();
    let lab = Lab::new();
    // Root of a user namespace of its own is without the host's root, and
    // there no more user namespaces may be made.
    let script = format!(
        "echo 0 > /proc/sys/user/max_user_namespaces && exec {} --root {} run --rm --net none busybox true",
        common::DIYC,
        lab.root().display()
    );
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c", &script])
        .env("DIYC_CGROUP_PARENT", &lab.cgroup_parent)
        .output()
        .expect("unshare");
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let last = err.lines().last().unwrap_or("");
    assert!(last.starts_with("diyc: clone3("), "{err}");
    assert!(
        last.ends_with("(`diyc doctor` says what this host allows)"),
        "{err}"
    );
}

#[test]
fn root_exec_into_a_users_container_acts_as_that_containers_root() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(true);
    user.ok(&[
        "run", "-d", "--name", "theirs", "--net", "none", "busybox", "sleep", "1000",
    ]);
    // Root reaching into the user's store, as `sudo diyc --root ~user/...`.
    let store = user.state_root();
    let out = lab
        .cmd_in(
            &store,
            &["exec", "theirs", "sh", "-c", "id -u; touch /made-by-exec"],
        )
        .output()
        .expect("diyc exec");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0\n");
    // Made by the container's root, which is the user on the host, never
    // by the host's own root.
    let made = store.join("containers/theirs/upper/made-by-exec");
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(&made).expect("the file exec made").uid();
    assert_eq!(owner, user.uid, "{}", made.display());
    user.ok(&["rm", "-f", "theirs"]);
    user.assert_nothing_left();
}

#[test]
fn a_container_without_root_starts_without_the_users_supplementary_groups() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    sh(&["usermod", "--append", "--groups", "adm", &user.name]);
    let out = inside(&user, "busybox", "grep ^Groups: /proc/self/status");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).split_whitespace().collect::<Vec<_>>(),
        ["Groups:"]
    );
    user.assert_nothing_left();
}

#[test]
fn a_map_helper_that_cannot_map_is_refused_with_its_own_reason() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    // Copies of newuidmap and newgidmap, without their setuid bit.
    let bin = tempfile::tempdir().expect("tempdir");
    for helper in ["newuidmap", "newgidmap"] {
        let copy = bin.path().join(helper);
        std::fs::copy(format!("/usr/bin/{helper}"), &copy).expect("copy");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    readable(bin.path());
    let path = format!("{}:/usr/bin:/bin", bin.path().display());
    for args in [
        &["run", "--rm", "--net", "none", "busybox", "true"][..],
        &["rm", "-f", "nosuch"][..],
    ] {
        let out = user.diyc(args).env("PATH", &path).output().expect("diyc");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {err}");
        let last = err.lines().last().unwrap_or("");
        assert!(
            last.contains("newuidmap") && last.contains("failed"),
            "{args:?}: {err}"
        );
        // The helper's own words, not only its status.
        assert!(last.contains("newuidmap:"), "{args:?}: {err}");
    }
    user.assert_nothing_left();
}

#[test]
fn commands_that_keep_no_state_work_without_a_home() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(false);
    for args in [&["completions", "bash"][..], &["doctor", "--json"][..]] {
        let out = user.diyc(args).env_remove("HOME").output().expect("diyc");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!out.stdout.is_empty(), "{args:?} printed nothing");
    }
    // One that keeps state says where to put it.
    let out = user
        .diyc(&["ps"])
        .env_remove("HOME")
        .output()
        .expect("diyc");
    common::assert_one_line_error(&out, "without root, diyc keeps its state in your home");
}
