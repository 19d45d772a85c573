//! The exercise shell itself: a diyc killed during an exercise takes its
//! shell along and the next exercise cleans up; `check` outside an
//! exercise, and an exercise that does not exist, are refused.

use std::process::Command;

use crate::common::{self, DIYC, Lab, text};
use crate::{exercise_processes, require_root, right};

#[test]
fn a_diyc_killed_during_an_exercise_takes_the_shell_along_and_the_next_exercise_cleans_up() {
    require_root!();
    let lab = Lab::new();
    let before = lab.host_state();
    let mut killed = lab.spawn(&["learn", "--exercise", "intro", "--no-pause"]);
    killed.send("echo ready\n");
    killed.wait_for_line("ready");
    killed.kill_diyc();
    // The shell dies with diyc (its parent-death signal), and its PID
    // namespace with it.
    common::wait_until("the exercise shell is gone", || {
        exercise_processes(&lab).is_empty()
    });
    assert!(
        lab.root().join("lessons/exercise").is_dir(),
        "a killed diyc cannot have cleaned up"
    );
    right(
        &lab,
        "intro",
        "unshare --uts sh -c check",
        "namespaces of its own",
    );
    assert_eq!(lab.host_state(), before);
}

#[test]
fn check_outside_an_exercise_says_so_and_fails() {
    let dir = tempfile::tempdir().expect("a directory");
    let check = dir.path().join("check");
    std::os::unix::fs::symlink(DIYC, &check).expect("a check link");
    let out = Command::new(&check)
        .env_remove("DIYC_EXERCISE")
        .output()
        .expect("check runs");
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).starts_with("check: no exercise here"));
}

#[test]
fn an_unknown_exercise_is_one_line_and_status_125() {
    let lab = Lab::new();
    let out = lab.line("learn --exercise nonsense");
    common::assert_one_line_error(&out, "no exercise called \"nonsense\"");
}
