//! Each lesson's checked exercise, fed its commands on stdin as a student
//! would type them: a right attempt accepted (`✓`, exit 0), a wrong one
//! refused with its hint (`✗`, `hint:`, exit 1), and after either the
//! host as it was and no process of the exercise shell left. The shell
//! itself (a killed diyc, `check` outside, an unknown exercise) is
//! exercises/shell.rs; what `--explain` shows of an exercise is what
//! strace sees diyc do (exercises/explained.rs).

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;
#[path = "exercises/explained.rs"]
mod explained;
#[path = "exercises/overlay.rs"]
mod overlay;
#[path = "exercises/shell.rs"]
mod shell;

use std::process::Output;

use common::{Lab, text};

/// `diyc learn --exercise NAME`, the exercise shell reading `script`.
fn attempt(lab: &Lab, name: &str, script: &str) -> Output {
    Lab::feed(
        &mut lab.cmd(&["learn", "--exercise", name, "--no-pause"]),
        &format!("{script}\n"),
    )
}

/// The processes whose environment names this lab's exercise socket:
/// every process the exercise shell started inherits it.
pub(crate) fn exercise_processes(lab: &Lab) -> Vec<String> {
    let needle = format!("DIYC_EXERCISE={}/lessons/exercise/", lab.root().display());
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read(e.path().join("environ")).is_ok_and(|env| {
                env.split(|b| *b == 0)
                    .any(|v| v.starts_with(needle.as_bytes()))
            })
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Run an attempt and check what every attempt must leave: the host as
/// it was, no process, no workspace. Returns (stdout, stderr, status).
pub(crate) fn graded(lab: &Lab, name: &str, script: &str) -> (String, String, Option<i32>) {
    let before = lab.host_state();
    let out = attempt(lab, name, script);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        lab.host_state(),
        before,
        "{name}: the exercise left something behind\n{stderr}"
    );
    assert_eq!(
        exercise_processes(lab),
        Vec::<String>::new(),
        "{name}: processes of the exercise shell are left"
    );
    assert!(
        !lab.root().join("lessons").exists(),
        "{name}: the exercise's workspace is left"
    );
    (stdout, stderr, out.status.code())
}

/// A right attempt: every line `check` printed is a `✓`, and `expect`
/// among them; diyc says the exercise is done and exits 0.
pub(crate) fn right(lab: &Lab, name: &str, script: &str, expect: &str) {
    let (out, err, code) = graded(lab, name, script);
    assert_eq!(code, Some(0), "{name}: {out}\n{err}");
    assert!(out.contains("✓ "), "{name}: no check passed:\n{out}\n{err}");
    assert!(!out.contains("✗ "), "{name}: {out}");
    assert!(
        out.contains(expect),
        "{name}: {expect:?} missing from:\n{out}"
    );
    assert!(err.contains("\n✓ exercise done"), "{name}: {err}");
}

/// A wrong attempt: `check` names what is missing (`missing`) and gives
/// its hint (`hint`); diyc says the exercise is not done, with the same
/// hint, and exits 1.
pub(crate) fn wrong(lab: &Lab, name: &str, script: &str, missing: &str, hint: &str) {
    let (out, err, code) = graded(lab, name, script);
    assert_eq!(code, Some(1), "{name}: {out}\n{err}");
    let refusal = out
        .lines()
        .find(|l| l.starts_with("✗ "))
        .unwrap_or_else(|| panic!("{name}: nothing refused:\n{out}\n{err}"));
    assert!(refusal.contains(missing), "{name}: {refusal}");
    let given = out
        .lines()
        .find_map(|l| l.strip_prefix("hint: "))
        .unwrap_or_else(|| panic!("{name}: no hint:\n{out}"));
    assert!(given.contains(hint), "{name}: hint {given:?}");
    assert!(
        err.contains(&format!("\n✗ exercise not done yet: {given}")),
        "{name}: {err}"
    );
}

#[test]
fn intro_wants_a_shell_in_a_new_namespace() {
    require_root!();
    let lab = Lab::new();
    right(
        &lab,
        "intro",
        "unshare --uts sh -c check",
        "namespaces of its own: uts",
    );
    wrong(
        &lab,
        "intro",
        "check",
        "shares every namespace with the exercise shell",
        "unshare --uts sh",
    );
}

#[test]
fn user_wants_a_shell_that_is_root_of_a_mapped_user_namespace() {
    require_root!();
    let lab = Lab::new();
    right(
        &lab,
        "user",
        "unshare --user --map-root-user sh -c check",
        "maps root inside to uid 0 outside",
    );
    // Without a map every id is the overflow id.
    wrong(
        &lab,
        "user",
        "unshare --user sh -c check",
        "its uid_map is empty",
        "--map-root-user",
    );
    wrong(
        &lab,
        "user",
        "check",
        "in the exercise shell's user namespace",
        "unshare --user --map-root-user sh",
    );
}

#[test]
fn uts_wants_a_shell_named_lab_in_its_own_uts_namespace() {
    require_root!();
    let lab = Lab::new();
    let host = common::sh(&["hostname"]);
    right(
        &lab,
        "uts",
        "unshare --uts sh -c 'hostname lab; check'",
        "it is called lab",
    );
    wrong(
        &lab,
        "uts",
        "hostname lab; check",
        "the exercise shell was renamed lab too",
        "unshare --uts",
    );
    assert_eq!(common::sh(&["hostname"]), host, "the host was renamed");
}

#[test]
fn pid_wants_a_new_pid_namespace_with_its_own_proc() {
    require_root!();
    let lab = Lab::new();
    right(
        &lab,
        "pid",
        "unshare --pid --fork --mount-proc sh -c check",
        "its /proc is its own namespace's",
    );
    wrong(
        &lab,
        "pid",
        "unshare --pid --fork sh -c check",
        "its /proc is still the exercise shell's",
        "--mount-proc",
    );
}

#[test]
fn mount_wants_a_tmpfs_only_the_new_shell_sees() {
    require_root!();
    let lab = Lab::new();
    right(
        &lab,
        "mount",
        "unshare --mount sh -c 'mount -t tmpfs lab /mnt; check'",
        "a tmpfs is mounted on /mnt in it",
    );
    wrong(
        &lab,
        "mount",
        "mount -t tmpfs lab /mnt; check",
        "the exercise shell sees the tmpfs on /mnt too",
        "unshare --mount",
    );
}

#[test]
fn rootfs_wants_a_process_whose_root_is_the_image() {
    require_root!();
    let lab = Lab::new().with_image();
    let image = lab.image_rootfs("busybox");
    let image = image.display();
    // Polled, not slept: check once the background chroot has entered.
    let entered = "while [ \"$(readlink /proc/$!/root)\" = / ]; do :; done";
    right(
        &lab,
        "rootfs",
        &format!("chroot {image} /bin/sleep 600 &\n{entered}\ncheck"),
        "sleep (pid",
    );
    wrong(
        &lab,
        "rootfs",
        "sleep 600 &\ncheck",
        "no process of the exercise shell has the image as its root",
        &format!("chroot {image} /bin/sleep 600 &"),
    );
    // The image stayed as it was: the exercise shell sees it read-only.
    let out = attempt(&lab, "rootfs", &format!("touch {image}/scribble"));
    assert!(
        text(&out.stderr).contains("Read-only file system"),
        "{}",
        text(&out.stderr)
    );
    assert!(!lab.image_rootfs("busybox").join("scribble").exists());
}

#[test]
fn cgroups_wants_the_shell_in_its_own_limited_cgroup_and_removes_it() {
    require_root!();
    let lab = Lab::new();
    let limits = diyc::stages::cgroups::Limits {
        memory: Some(16 << 20),
        ..Default::default()
    };
    let placement = diyc::stages::cgroups::Host::detect()
        .expect("cgroups")
        .place(&lab.cgroup_parent, "exercise", &limits)
        .expect("a place for the exercise's cgroup");
    let dir = placement
        .dirs
        .iter()
        .find(|d| d.controllers.iter().any(|c| c == "memory"))
        .expect("a memory cgroup tree")
        .path
        .clone();
    let file = match placement.version {
        diyc::stages::cgroups::Version::V1 => "memory.limit_in_bytes",
        diyc::stages::cgroups::Version::V2 => "memory.max",
    };
    let d = dir.display();
    right(
        &lab,
        "cgroups",
        &format!("mkdir {d}\necho 16M > {d}/{file}\necho $$ > {d}/cgroup.procs\ncheck"),
        "this shell is in it",
    );
    wrong(
        &lab,
        "cgroups",
        &format!("mkdir {d}\necho $$ > {d}/cgroup.procs\ncheck"),
        "not 16 MiB",
        &format!("echo 16M > {d}/{file}"),
    );
    wrong(
        &lab,
        "cgroups",
        &format!("mkdir {d}\necho 16M > {d}/{file}\ncheck"),
        "not in the exercise's",
        &format!("echo $$ > {d}/cgroup.procs"),
    );
    assert!(!dir.exists(), "the exercise's cgroup is left");
    // A cgroup the student made inside it goes too, at once and quietly.
    let (_, err, code) = graded(
        &lab,
        "cgroups",
        &format!(
            "mkdir {d}\necho 16M > {d}/{file}\necho $$ > {d}/cgroup.procs\nmkdir {d}/inner\ncheck"
        ),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("EBUSY") && !err.contains("failed"), "{err}");
    assert!(!dir.exists(), "the exercise's cgroup is left");
}

/// The exercise shell's end of a veth pair, and the other end moved into
/// a new namespace (once it exists: polled), whose pid is `$!`.
const PAIR: &str = "ip link add here type veth peer name there
ip addr add 10.0.9.1/24 dev here
ip link set here up
unshare --net sleep 600 &
while [ \"$(readlink /proc/$!/ns/net)\" = \"$(readlink /proc/self/ns/net)\" ]; do :; done
ip link set there netns $!";

#[test]
fn net_wants_a_veth_pair_up_with_both_addresses() {
    require_root!();
    let lab = Lab::new();
    right(
        &lab,
        "net",
        &format!(
            "{PAIR}\nnsenter -t $! -n sh -c 'ip addr add 10.0.9.2/24 dev there; ip link set there up; check'"
        ),
        "the exercise shell's side, here, has 10.0.9.1 and is up",
    );
    wrong(
        &lab,
        "net",
        &format!("{PAIR}\nnsenter -t $! -n sh -c 'ip addr add 10.0.9.2/24 dev there; check'"),
        "there has 10.0.9.2 but is down",
        "ip link set there up",
    );
}

#[test]
fn iptables_wants_masquerade_for_the_subnet_in_nat_postrouting() {
    require_root!();
    let lab = Lab::new();
    right(
        &lab,
        "iptables",
        "iptables -t nat -A POSTROUTING -s 10.0.9.0/24 -j MASQUERADE\ncheck",
        "nat POSTROUTING has -s 10.0.9.0/24 -j MASQUERADE",
    );
    wrong(
        &lab,
        "iptables",
        "iptables -t nat -A POSTROUTING -s 10.0.9.0/24 -j ACCEPT\ncheck",
        "jumps to ACCEPT, not to MASQUERADE",
        "-j MASQUERADE",
    );
    wrong(
        &lab,
        "iptables",
        "iptables -A FORWARD -s 10.0.9.0/24 -j ACCEPT\ncheck",
        "is in the filter table",
        "-t nat",
    );
}

#[test]
fn hardening_wants_root_without_capabilities() {
    require_root!();
    let lab = Lab::new();
    right(
        &lab,
        "hardening",
        "setpriv --bounding-set -all --inh-caps -all sh -c check",
        "its bounding set is empty",
    );
    wrong(
        &lab,
        "hardening",
        "sh -c check",
        "it still holds",
        "setpriv --bounding-set -all --inh-caps -all sh",
    );
}
