//! `diyc learn` without root, as an ordinary user of the test's own: the
//! lessons made only of namespaces run inside a user namespace mapped to
//! that user (through newuidmap with a subordinate range, by writing the
//! map without one), the others refuse in one line saying what they need
//! root for, and nothing is left in the user's state or on the host.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::lessons::assert_proc_counts;
use common::user::{RANGE, TestUser};
use common::{Lab, text};

/// `diyc learn ARGS --no-pause` as `user`, which must succeed and leave
/// the host, the user's state and its processes as they were: its
/// stderr and stdout.
fn learn(lab: &Lab, user: &TestUser, args: &[&str]) -> (String, String) {
    let before = lab.host_state();
    let mut all = vec!["learn"];
    all.extend(args);
    all.push("--no-pause");
    let out = user.run(&all);
    let (err, stdout) = (text(&out.stderr), text(&out.stdout));
    assert_eq!(out.status.code(), Some(0), "{err}\n{stdout}");
    assert_eq!(lab.host_state(), before, "the lesson left something behind");
    assert_eq!(user.leftovers(), Vec::<String>::new(), "left in the state");
    assert!(
        !user.state_root().join("lessons").exists(),
        "a lesson's scratch directory is left"
    );
    assert_eq!(user.processes(), Vec::<i32>::new(), "processes are left");
    (err, stdout)
}

#[test]
fn user_lesson_without_root_maps_root_to_the_caller_and_its_range() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(true);
    let (err, out) = learn(&lab, &user, &["--step", "user"]);
    let start = user.subid.unwrap_or_default();
    for needle in [
        "clone3({flags=CLONE_NEWUSER, ".to_string(),
        format!(" 0 {} 1 1 {start} {RANGE} # exit 0", user.uid),
        format!(
            "✓ inside, the command is root (uid 0); the host sees uid {}",
            user.uid
        ),
        "✓ root inside named a UTS namespace of its own, but was refused".into(),
        "✗ what breaks: without a map the command is uid 65534".into(),
        "✓ undone: the user namespace went with its last process".into(),
    ] {
        assert!(err.contains(&needle), "{needle:?} missing from:\n{err}");
    }
    assert!(err.contains("] newuidmap "), "{err}");
    assert!(out.contains("id: uid=0(root) gid=0(root)"), "{out}");
    assert!(
        out.contains("in the host's UTS namespace: refused")
            && out.contains("/etc/shadow, which only the host's root may read: refused"),
        "{out}"
    );
    assert!(out.contains("id: uid=65534(nobody)"), "{out}");
}

#[test]
fn user_lesson_without_a_range_maps_only_the_callers_own_id() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(false);
    let (err, out) = learn(&lab, &user, &["--step", "user"]);
    for needle in [
        "only your own user is mapped into the container".to_string(),
        "echo deny > /proc/".into(),
        format!("echo 0 {} 1 > /proc/", user.uid),
        format!("echo 0 {} 1 > /proc/", user.gid),
        format!(
            "✓ inside, the command is root (uid 0); the host sees uid {}",
            user.uid
        ),
        "✗ what breaks: without a map the command is uid 65534".into(),
    ] {
        assert!(err.contains(&needle), "{needle:?} missing from:\n{err}");
    }
    assert!(!err.contains("] newuidmap "), "{err}");
    assert!(out.contains("id: uid=0(root) gid=0(root)"), "{out}");
}

#[test]
fn pid_lesson_without_root_runs_in_a_user_namespace_of_its_own() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(true);
    let (err, out) = learn(&lab, &user, &["--step", "pid"]);
    assert!(
        err.contains("== user: root inside is an ordinary user outside ("),
        "no user namespace: {err}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains("clone3({flags=") && l.contains("CLONE_NEWUSER")),
        "{err}"
    );
    assert!(
        err.contains("✓ the command is pid 1 and /proc lists only the container's processes"),
        "{err}"
    );
    assert!(err.contains("✗ what breaks: without a new /proc"), "{err}");
    assert_proc_counts(&out);
}

#[test]
fn lessons_that_need_root_refuse_in_one_line_saying_why() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(true);
    let before = lab.host_state();
    for (args, needle) in [
        (
            &["learn", "--step", "net", "--no-pause"][..],
            "the net lesson needs root: it makes a bridge and a veth pair on the host's side (try `sudo diyc learn --step net`)",
        ),
        (
            &["learn", "--step", "cgroups", "--no-pause"][..],
            "the cgroups lesson needs root: ",
        ),
        (
            &["learn", "--step", "iptables", "--no-pause"][..],
            "the iptables lesson needs root: ",
        ),
        (
            &["learn", "--step", "hardening", "--no-pause"][..],
            "the hardening lesson needs root: ",
        ),
        (
            &["learn", "--step", "image", "--no-pause"][..],
            "the image lesson needs root: ",
        ),
        (
            &["learn", "--exercise", "user", "--no-pause"][..],
            "the exercise shell needs root",
        ),
        (
            &["learn", "--step", "uts", "--lab", "--no-pause"][..],
            "--lab needs root",
        ),
    ] {
        common::assert_one_line_error(&user.run(args), needle);
    }
    assert_eq!(lab.host_state(), before);
    assert!(!user.state_root().join("lessons").exists());
}

#[test]
fn the_course_without_root_runs_what_needs_none_and_says_what_it_left_out() {
    require_root!();
    let lab = Lab::new();
    let user = TestUser::new(true);
    let (err, _) = learn(&lab, &user, &["--all"]);
    let mut from = 0;
    for step in ["intro", "user", "uts", "pid", "mount", "rootfs"] {
        let title = format!("\n# {step}: ");
        from += err[from..]
            .find(&title)
            .unwrap_or_else(|| panic!("lesson {step} missing or out of order:\n{err}"));
    }
    for step in ["image", "cgroups", "net", "iptables", "hardening"] {
        assert!(
            !err.contains(&format!("\n# {step}: ")),
            "{step} ran:\n{err}"
        );
        assert!(
            err.contains(&format!("\n- {step}: ")),
            "{step} is not said to be left out:\n{err}"
        );
    }
    assert!(!err.contains("All of it at once"), "{err}");
    assert!(err.contains("Without root the course ends here"), "{err}");
}
