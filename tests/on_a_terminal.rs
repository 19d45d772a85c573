//! Every lesson as a student at a terminal meets it, paused: its
//! pictures, its exercise's shell where `check` grades the live state
//! (here typed in the exercise shell itself, so it is refused with a
//! hint), three questions each taking one key before its answer, the
//! score, and the summary.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::terminal::OnTerminal;
use common::{LESSONS, Lab};

const PROMPT: &str = "[Enter] go on, [q] stop, [c] run to the end";

#[test]
fn every_lesson_on_a_terminal_draws_checks_asks_and_sums_up() {
    require_root!();
    let lab = Lab::new().with_image();
    for step in LESSONS {
        let mut args = vec!["learn", "--step", step];
        if matches!(step, "net" | "iptables") {
            args.push("--lab");
        }
        let mut term = OnTerminal::start(&lab, &args);
        loop {
            let chunk = term.expect(PROMPT);
            term.send("\n");
            // The last pause before the exercise: lesson 0 has one only.
            if chunk.contains("-- next: try it yourself.")
                || (step == "intro" && chunk.contains("-- next: the host and a container"))
            {
                break;
            }
        }
        let before = term.expect("leaves it.");
        let drawn = if step == "intro" {
            "» The host and the container"
        } else {
            "» Pictures of what the runs showed"
        };
        assert!(
            term.seen().contains(drawn),
            "{step}: no pictures:\n{before}"
        );
        assert!(before.contains("» Exercise"), "{step}: {before}");
        // The exercise shell itself is the wrong place for every task.
        term.send("check\n");
        let refused = term.expect("hint: ");
        assert!(refused.contains("✗ "), "{step}: {refused}");
        term.send("exit\n");
        let right = common::answers(step);
        assert_eq!(right.len(), 3, "{step}");
        for letter in &right {
            term.expect("your answer (a/b/c): ");
            term.send(&letter.to_string());
        }
        let (rest, code) = term.finish();
        assert_eq!(code, Some(0), "{step}: {rest}");
        assert!(rest.contains("score so far: 3 of 3"), "{step}: {rest}");
        assert!(rest.contains("» Summary"), "{step}: {rest}");
    }
}
