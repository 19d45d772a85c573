//! A container's lock is taken on its directory through a descriptor
//! opened first. In between, the directory may be removed and a new one of
//! the same name made at its path; the lock must then stand for the new
//! one, never be handed out for the old while its holder acts on the path.
//! And a wait for a lock ends well when the directory went meanwhile.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::held::Held;
use common::{Lab, text};

/// `diyc rm web` holds the old directory open when another `rm` removes
/// it and `run -d` makes a new `web`, running. Before, the first `rm` then
/// locked the removed directory, which nobody held, and went on to remove
/// what the path named: the running container's state.
#[test]
fn an_rm_overtaken_by_another_rm_and_a_new_run_leaves_the_new_container_alone() {
    require_root!();
    let lab = Lab::new().with_busybox();
    lab.ok(&["run", "--name", "web", "--net", "none", "busybox", "true"]);
    let late = Held::before_any_child(lab.cmd(&["rm", "web"]), "before-dir-lock");
    lab.ok(&["rm", "web"]);
    lab.ok(&[
        "run", "-d", "--name", "web", "--net", "none", "busybox", "sleep", "600",
    ]);
    let out = late.go();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("container web is running"), "{err}");
    assert!(
        lab.container_dir("web").join("run.json").exists(),
        "the running container's state is still there"
    );
    lab.ok(&["rm", "-f", "web"]);
}

/// `diyc stop` waits for the lock of the container's directory, which its
/// diyc gives up once it has cleaned up; a `--rm` run's diyc removes the
/// directory first. Before, stop then failed ("container brief is gone",
/// exit status 125) though the container had stopped.
#[test]
fn stop_of_a_container_whose_directory_goes_with_it_says_it_stopped() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let mut running = lab.spawn(&[
        "run",
        "--rm",
        "--name",
        "brief",
        "--net",
        "none",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 3' TERM; echo ready; sleep 600 & wait",
    ]);
    running.wait_for_line("ready");
    let out = lab.run(&["stop", "brief"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "brief: stopped by SIGTERM\n");
    let run = running.finish();
    assert_eq!(run.status.code(), Some(3));
    assert!(!lab.container_dir("brief").exists());
}
