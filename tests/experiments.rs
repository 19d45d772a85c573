//! The lessons' experiments on a shared machine: what each leaves out is
//! what it says, someone else's mount does not fail a lesson, and the
//! network lessons on the host's own network say what they set up and
//! take it all down.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{Lab, text};

/// Someone else's mount appearing on a shared machine while the pid
/// lesson runs is not the experiment's: its undone check looks only at
/// the host's /proc. The "someone else" is this test, mounting a tmpfs
/// at one of the lesson's pauses inside the broken run, in a mount
/// namespace of this test thread's own (so the real host never sees it).
#[test]
fn pid_lesson_is_not_failed_by_someone_elses_mount() {
    use common::terminal::OnTerminal;
    use nix::mount::{MntFlags, MsFlags};
    require_root!();
    let lab = Lab::new();
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("a mount namespace");
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("a private mount table");
    let elsewhere = tempfile::tempdir().expect("a directory to mount on");
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "pid", "--explain", "--verbose"]);
    let (mut broken_started, mut mounted) = (false, false);
    while let Some(chunk) =
        term.expect_or_end("[Enter] go on, [q] stop, [c] run to the end, [?] keys: ")
    {
        if chunk.contains("-- next: try it yourself.") {
            // Past the experiment: leave the exercise, stop at a question.
            term.send("\n");
            term.expect("leaves it.");
            term.send("exit\n");
            term.expect("your answer (a/b/c): ");
            term.send("q");
            break;
        }
        broken_started |= chunk.contains("The same stage with its key step left out");
        if broken_started && !mounted && chunk.contains("== pid") {
            nix::mount::mount(
                Some("tmpfs"),
                elsewhere.path(),
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .expect("someone else's mount");
            mounted = true;
        }
        term.send("\n");
    }
    let (rest, code) = term.finish();
    let all = format!("{}{rest}", term.seen());
    if mounted {
        let _ = nix::mount::umount2(elsewhere.path(), MntFlags::MNT_DETACH);
    }
    assert!(
        mounted,
        "the broken run never paused at its pid stage:\n{all}"
    );
    assert_eq!(code, Some(0), "{all}");
    assert!(
        all.contains("✓ undone: the host's mount table is as it was at /proc"),
        "{all}"
    );
}

/// The pid experiment keeps its mount namespace (CLONE_NEWNS is in its
/// clone) and leaves out only the fresh /proc: what it says must match.
#[test]
fn pid_experiment_says_what_it_leaves_out() {
    require_root!();
    let lab = Lab::new();
    let out = lab.run(&[
        "learn",
        "--step",
        "pid",
        "--no-pause",
        "--explain",
        "--verbose",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let (_, broken) = err
        .split_once("The same stage with its key step left out:")
        .expect("the experiment");
    let broken = broken.split("\n✗ ").next().unwrap_or(broken);
    assert!(
        broken.contains("clone3({flags=CLONE_NEWNS|CLONE_NEWPID"),
        "{broken}"
    );
    assert!(!broken.contains("no new mount namespace"), "{broken}");
    assert!(
        broken.contains("# no fresh /proc is mounted, so /proc is still the host's"),
        "{broken}"
    );
}

/// Without --lab the net lesson says first what it sets up on the host,
/// takes it all down, and says it checked.
#[test]
fn net_lesson_on_the_host_network_says_what_it_sets_up_and_takes_it_down() {
    require_root!();
    let lab = Lab::new().with_image();
    let before = lab.host_state();
    let out = lab.run(&["learn", "--step", "net", "--no-pause"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for said in [
        "The network lessons use this host's network: they set up the bridge diyc0",
        "✓ undone: the lesson's network on this host (the bridge diyc0, forwarding, diyc's rules) is gone again",
    ] {
        assert!(err.contains(said), "{said:?} missing from:\n{err}");
    }
    assert_eq!(lab.host_state(), before, "the lesson left something behind");
    assert!(!common::sh(&["ip", "-o", "link"]).contains("diyc0"));
    // Set up before the lesson, it stays, and the lesson says so.
    lab.ok(&["setup"]);
    let out = lab.run(&["learn", "--step", "net", "--no-pause"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("diyc's network is already set up here"),
        "{err}"
    );
    assert!(
        err.contains(
            "were set up before the lesson and stay as they were; `diyc teardown` removes them"
        ),
        "{err}"
    );
    assert!(common::sh(&["ip", "-o", "link"]).contains("diyc0"));
    lab.ok(&["teardown"]);
}
