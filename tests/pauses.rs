//! The pauses of `diyc learn` and `diyc run --step`, driven from a
//! pseudo-terminal as a student's keyboard would drive them: Enter goes
//! on, q stops and cleans up, c runs to the end, Ctrl-C exits 130; and the
//! lesson menu.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::terminal::OnTerminal;
use common::{LESSONS, Lab};

// The prompt's start, the same before single keys came: a test of the labels
// can run against an older diyc.
const PROMPT: &str = "[Enter] go on, [q] stop, [c] run to the end";

#[test]
fn pid_lesson_pauses_enter_goes_on_and_q_stops_and_cleans_up() {
    require_root!();
    let lab = Lab::new();
    let before = lab.host_state();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "pid"]);
    let first = term.expect(PROMPT);
    assert!(first.contains("» Why"), "{first}");
    assert!(first.contains("-- next: the stage, live."), "{first}");
    assert!(!first.contains("== clone"), "the stage ran before Enter");
    term.send("\n");
    // Enter went on: the clone happened, and the launch pauses after its
    // first stage with the container's process waiting.
    let live = term.expect(PROMPT);
    assert!(
        live.contains("clone3({flags=CLONE_NEWNS|CLONE_NEWPID"),
        "{live}"
    );
    let child: i32 = live
        .lines()
        .find(|l| l.contains("clone3("))
        .and_then(|l| l.rsplit(" = ").next())
        .and_then(|n| n.trim().parse().ok())
        .expect("the child's pid");
    assert!(
        std::path::Path::new(&format!("/proc/{child}")).exists(),
        "the container's process waits at the pause"
    );
    term.send("q");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(
        rest.contains("Stopped. What the lesson made is undone."),
        "{rest}"
    );
    assert!(
        !rest.contains("» What to look at"),
        "q did not stop: {rest}"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{child}")).exists(),
        "the container's process outlived q"
    );
    assert_eq!(lab.host_state(), before);
}

#[test]
fn c_at_a_pause_runs_the_lesson_to_the_end() {
    require_root!();
    let lab = Lab::new();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "uts"]);
    term.expect(PROMPT);
    term.send("c");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(!rest.contains(PROMPT), "paused again after c: {rest}");
    assert!(
        rest.contains("» Questions") && rest.contains("Answers:"),
        "{rest}"
    );
}

/// How every pause's prompt ends, where the key is read.
const PROMPT_END: &str = "[?] keys: ";

/// `key` typed once the pause reads keys: sent before, the terminal
/// would still echo it, and an echoed Enter ends the line by itself.
fn at_the_pause(term: &mut OnTerminal, key: &str) {
    common::wait_until("the pause reads single keys", || {
        !term
            .settings()
            .local_flags
            .contains(nix::sys::termios::LocalFlags::ECHO)
    });
    term.send(key);
}

#[test]
fn a_key_at_a_pause_ends_the_prompt_line_before_anything_else_is_shown() {
    require_root!();
    let lab = Lab::new();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "uts"]);
    term.expect(PROMPT_END);
    // The lesson's parts, and inside its launch the pause before the next
    // stage, which is folded to one line of its own.
    let mut before_a_stage = false;
    loop {
        at_the_pause(&mut term, "\n");
        let chunk = term.expect(PROMPT_END);
        // The key is not echoed: the line must still end.
        assert!(
            chunk.starts_with('\n') || chunk.starts_with("\r\n"),
            "what came after the key went on the prompt's line: {chunk:?}"
        );
        if chunk.contains("-- next: what breaks without it.") {
            break;
        }
        before_a_stage |= chunk.contains(" stage. [Enter]");
    }
    assert!(before_a_stage, "no pause came before a stage");
    at_the_pause(&mut term, "q");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(
        rest.starts_with('\n') || rest.starts_with("\r\n"),
        "{rest:?}"
    );
}

/// Enter at every pause up to the exercise, whose shell is then open.
fn to_the_exercise(term: &mut OnTerminal) {
    loop {
        let chunk = term.expect(PROMPT);
        term.send("\n");
        if chunk.contains("-- next: try it yourself.") {
            break;
        }
    }
    term.expect("leaves it.");
}

#[test]
fn the_exercise_opens_a_shell_and_each_question_takes_one_key_before_its_answer() {
    require_root!();
    let lab = Lab::new();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "uts"]);
    // The parts and the lesson's own stage in both runs, then the exercise.
    to_the_exercise(&mut term);
    assert!(term.seen().contains("» Exercise"), "{}", term.seen());
    term.send("exit\n");
    let not_done = term.expect("your answer (a/b/c): ");
    assert!(not_done.contains("✗ exercise not done yet"), "{not_done}");
    assert!(!not_done.contains("✓ right"), "an answer came before a key");
    let right = common::answers("uts");
    assert_eq!(right.len(), 3);
    let wrong = ['a', 'b', 'c']
        .into_iter()
        .find(|c| *c != right[1])
        .expect("a wrong letter");
    term.send(&right[0].to_string());
    let first = term.expect("your answer (a/b/c): ");
    assert!(first.contains("✓ right."), "{first}");
    term.send(&wrong.to_string());
    let second = term.expect("your answer (a/b/c): ");
    assert!(
        second.contains(&format!("✗ not this time: the answer is {}.", right[1])),
        "{second}"
    );
    term.send(&right[2].to_string());
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(rest.contains("score so far: 2 of 3"), "{rest}");
    assert!(rest.contains("» Summary"), "{rest}");
}

#[test]
fn q_at_a_question_stops_before_its_answer() {
    require_root!();
    let lab = Lab::new();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "uts"]);
    to_the_exercise(&mut term);
    term.send("exit\n");
    term.expect("your answer (a/b/c): ");
    term.send("q");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(
        !rest.contains("✓ right") && !rest.contains("✗ not this time"),
        "{rest}"
    );
    assert!(
        rest.contains("Stopped. What the lesson made is undone."),
        "{rest}"
    );
}

#[test]
fn ctrl_c_at_a_pause_stops_the_lesson_with_status_130() {
    require_root!();
    let lab = Lab::new();
    let before = lab.host_state();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "uts"]);
    term.expect(PROMPT);
    let pid = nix::unistd::Pid::from_raw(term.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(130), "{rest}");
    assert!(
        rest.contains("Stopped. What the lesson made is undone."),
        "{rest}"
    );
    assert!(
        !rest.contains("== clone"),
        "the stage ran after Ctrl-C: {rest}"
    );
    assert_eq!(lab.host_state(), before);
}

#[test]
fn run_step_pauses_between_stages_and_q_undoes_the_run() {
    require_root!();
    let lab = Lab::new().with_image();
    // The shared network part stays after any run, as it should; the
    // run's own changes are what q must undo.
    lab.ok(&["setup"]);
    let before = lab.host_state();
    let mut term = OnTerminal::start(
        &lab,
        &[
            "run", "--step", "--name", "stepped", "--mem", "32", "busybox", "true",
        ],
    );
    // The first pause comes after the first stage inside the container,
    // its cgroup namespace; the cgroup and the veth pair exist by then.
    let first = term.expect(PROMPT);
    assert!(first.contains("unshare(CLONE_NEWCGROUP)"), "{first}");
    assert!(
        !first.contains("execveat("),
        "the command ran before the pause"
    );
    assert!(lab.container_dir("stepped").exists());
    term.send("\n");
    let second = term.expect(PROMPT);
    assert!(second.contains("== mount"), "{second}");
    term.send("q");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(rest.contains("stopped before"), "{rest}");
    assert!(
        !rest.contains("execveat("),
        "the command ran after q: {rest}"
    );
    assert!(
        !lab.container_dir("stepped").exists(),
        "the new container is left"
    );
    assert_eq!(lab.host_state(), before);
}

#[test]
fn run_step_with_enter_at_every_pause_runs_the_command() {
    require_root!();
    let lab = Lab::new().with_image();
    let mut term = OnTerminal::start(
        &lab,
        &["run", "--rm", "--step", "busybox", "echo", "made it"],
    );
    let mut pauses = 0;
    let mut seen = String::new();
    while let Some(chunk) = term.expect_or_end(PROMPT) {
        seen.push_str(&chunk);
        pauses += 1;
        term.send("\n");
    }
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{seen}{rest}");
    assert!(rest.contains("made it"), "{rest}");
    assert!(!rest.contains(PROMPT), "{rest}");
    assert!(
        (4..=10).contains(&pauses),
        "one pause per stage inside the container, got {pauses}"
    );
}

#[test]
fn learn_without_a_step_on_a_terminal_is_a_menu() {
    require_root!();
    let lab = Lab::new();
    let mut term = OnTerminal::start(&lab, &["learn"]);
    let menu = term.expect("Which lesson?");
    assert!(!menu.contains("diyc: "), "{menu}");
    for step in LESSONS {
        term.expect(step);
    }
    // Enter picks the highlighted first lesson; q at its first pause ends it.
    term.send("\r");
    let chosen = term.expect(PROMPT);
    assert!(chosen.contains("# intro: "), "{chosen}");
    term.send("q");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(rest.contains("Stopped."), "{rest}");
}

#[test]
fn each_pause_names_the_stage_that_really_comes_next() {
    require_root!();
    let lab = Lab::new().with_image();
    let mut term = OnTerminal::start(
        &lab,
        &["run", "--rm", "--step", "--net", "none", "busybox", "true"],
    );
    let mut announced: Option<String> = None;
    let mut labels = Vec::new();
    while let Some(chunk) = term.expect_or_end(PROMPT) {
        if let Some(next) = announced.take() {
            let first = chunk
                .lines()
                .find_map(|l| l.strip_prefix("== "))
                .map(|h| h.split(':').next().unwrap_or("").to_string());
            assert_eq!(
                first.as_deref(),
                Some(next.as_str()),
                "the pause said the {next} stage came next:\n{chunk}"
            );
        }
        let label = chunk
            .rsplit("-- next: ")
            .next()
            .and_then(|l| l.split('.').next())
            .unwrap_or("")
            .to_string();
        announced = label
            .strip_prefix("the ")
            .and_then(|l| l.strip_suffix(" stage"))
            .map(String::from);
        labels.push(label);
        term.send("\n");
    }
    let (_, code) = term.finish();
    assert_eq!(code, Some(0));
    assert_eq!(
        labels.last().map(String::as_str),
        Some("the command runs"),
        "{labels:?}"
    );
    let mut unique = labels.clone();
    unique.dedup();
    assert_eq!(unique, labels, "a label came twice in a row");
}

#[test]
fn present_mode_puts_each_part_on_a_clean_screen_with_the_same_keys() {
    require_root!();
    let lab = Lab::new();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "uts", "--present"]);
    let first = term.expect(PROMPT);
    assert!(
        first.contains("\x1b[2J\x1b[H"),
        "no clean screen: {first:?}"
    );
    assert!(first.contains("    » WHY"), "{first}");
    term.send("q");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
    assert!(
        rest.contains("Stopped. What the lesson made is undone."),
        "{rest}"
    );
}

#[test]
fn a_resized_window_at_a_pause_does_not_stop_the_lesson() {
    require_root!();
    let lab = Lab::new();
    let mut term = OnTerminal::start(&lab, &["learn", "--step", "uts"]);
    term.expect(PROMPT);
    // What a resized window sends to the terminal's foreground group.
    let pid = nix::unistd::Pid::from_raw(term.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGWINCH).expect("SIGWINCH");
    term.send("\n");
    let next = term.expect(PROMPT);
    assert!(
        !next.contains("Stopped"),
        "a resize stopped the lesson: {next}"
    );
    assert!(next.contains("sethostname("), "{next}");
    term.send("q");
    let (rest, code) = term.finish();
    assert_eq!(code, Some(0), "{rest}");
}
