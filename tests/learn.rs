//! `diyc learn` as a command: all lessons in a row, the explanation
//! checked against strace and the JSON schema, the transcript, the list
//! without a terminal, bad input, and a lesson whose diyc is killed.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::process::Stdio;

use common::handout::assert_handout;
use common::snapshot::assert_json_events;
use common::strace::assert_strace_agrees;
use common::{LESSONS, Lab, text};

#[test]
fn all_lessons_in_a_row_end_in_a_container_and_leave_the_host_as_it_was() {
    require_root!();
    // The image is a cache diyc keeps: made first, it is part of "before".
    let lab = Lab::new().with_image();
    let before = lab.host_state();
    let handout = lab.root().join("course.md");
    let out = lab.run(&[
        "learn",
        "--all",
        "--no-pause",
        "--transcript",
        handout.to_str().expect("utf-8"),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let mut from = 0;
    for step in LESSONS {
        let title = format!("\n# {step}: ");
        let at = err[from..]
            .find(&title)
            .unwrap_or_else(|| panic!("lesson {step} missing or out of order"));
        from += at + title.len();
    }
    assert!(err[from..].contains("# All of it at once: a container"));
    assert!(
        text(&out.stdout).contains("a whole container: lesson-all, pid 1, 172.16.0."),
        "{}",
        text(&out.stdout)
    );
    assert!(err.contains("» The whole course"), "{err}");
    assert!(err.contains("its command exited with status 0"), "{err}");
    let printed = err.lines().count() + text(&out.stdout).lines().count();
    assert!(printed <= 1450, "learn --all printed {printed} lines");
    assert_eq!(
        lab.host_state(),
        before,
        "learn --all left something behind"
    );
    let md = std::fs::read_to_string(&handout).expect("the handout");
    assert_handout(&md);
    assert!(
        md.contains("ESCAPED"),
        "the chroot experiment's output is missing"
    );
}

#[test]
fn strace_agrees_with_learn() {
    require_root!();
    let lab = Lab::new().with_image();
    for (step, must_show) in [
        (
            "user",
            &["clone3", "setgroups", "setresuid", "execveat"][..],
        ),
        ("uts", &["clone3", "sethostname", "execveat"][..]),
        ("pid", &["clone3", "mount", "execveat"][..]),
        ("image", &["mknodat", "lsetxattr", "mount"][..]),
        ("rootfs", &["pivot_root", "umount2", "chroot", "chdir"][..]),
        ("iptables", &["setns", "unshare", "clone3"][..]),
    ] {
        let mut args = vec!["learn", "--step", step, "--no-pause"];
        if step == "iptables" {
            args.push("--lab");
        }
        // The pid lesson once more call by call: every argument compared.
        if step == "pid" {
            args.extend(["--explain", "--verbose"]);
        }
        assert_strace_agrees(&lab, step, &args, must_show);
    }
}

#[test]
fn learn_json_is_one_schema_event_per_line() {
    require_root!();
    let lab = Lab::new().with_image();
    let out = lab.line("learn --step hardening --no-pause --explain=json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events = assert_json_events(&text(&out.stderr));
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["event"].as_str()).collect();
    for kind in ["lesson", "stage", "syscall", "state", "note"] {
        assert!(kinds.contains(kind), "no {kind} event");
    }
}

/// The glossary: each word's forms and meaning, as lessons/glossary.md
/// has them.
fn glossary() -> Vec<(Vec<String>, String)> {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/lessons/glossary.md");
    std::fs::read_to_string(file)
        .expect("the glossary")
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("- **")?.split_once("**")?;
            let mut forms = vec![name.to_string()];
            let meaning = match rest.trim_start().strip_prefix('(') {
                Some(r) => {
                    let (more, meaning) = r.split_once(')')?;
                    forms.extend(more.split(',').map(|f| f.trim().to_string()));
                    meaning
                }
                None => rest,
            };
            // On the screen a meaning's `code` is rendered, not quoted.
            let meaning = meaning.trim_start_matches(':').trim().replace('`', "");
            Some((forms, format!("{name}: {meaning}")))
        })
        .collect()
}

/// Where `text` first uses a form, as a whole word, in any case.
fn first_use(text: &str, forms: &[String]) -> Option<usize> {
    let lower = text.to_lowercase();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    forms
        .iter()
        .filter_map(|f| {
            let f = f.to_lowercase();
            lower.match_indices(&f).map(|(i, _)| i).find(|&i| {
                (f.starts_with('/') || !word(lower[..i].chars().next_back()))
                    && !word(lower[i + f.len()..].chars().next())
            })
        })
        .min()
}

#[test]
fn every_lesson_explains_each_word_right_after_it_first_uses_it() {
    require_root!();
    let lab = Lab::new().with_image();
    let words = glossary();
    for step in LESSONS {
        let mut args = vec!["learn", "--step", step, "--no-pause", "--explain=json"];
        if matches!(step, "net" | "iptables") {
            args.push("--lab");
        }
        let out = lab.run(&args);
        assert_eq!(out.status.code(), Some(0), "{step}: {}", text(&out.stderr));
        let said: Vec<String> = text(&out.stderr)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "lesson")
            .filter_map(|e| e["text"].as_str().map(String::from))
            .collect();
        let prose = said.join("\n");
        // A word used inside another's explanation is not its first use.
        let masked: Vec<String> = prose
            .lines()
            .map(|l| {
                let t = l.trim_start();
                if t.starts_with("> ") || t.starts_with("▸ ") {
                    " ".repeat(l.len())
                } else {
                    l.to_string()
                }
            })
            .collect();
        let masked = masked.join("\n");
        let mut used = 0;
        for (forms, line) in &words {
            let Some(at) = first_use(&masked, forms) else {
                continue;
            };
            used += 1;
            let explained = prose[at..]
                .find(line.as_str())
                .unwrap_or_else(|| panic!("{step}: {:?} is never explained", forms[0]));
            assert!(
                !prose[at..at + explained].contains("\n\n"),
                "{step}: {:?} is first used here, explained only later:\n{}",
                forms[0],
                &prose[at.saturating_sub(200)..at + explained]
            );
        }
        assert!(used >= 3, "{step} uses only {used} glossary words");
    }
}

#[test]
fn the_text_is_quiet_and_the_json_complete() {
    require_root!();
    let lab = Lab::new().with_image();
    let quiet = lab.run(&["learn", "--step", "rootfs", "--no-pause"]);
    let quiet = text(&quiet.stderr);
    assert!(quiet.contains("6 x mknodat("), "{quiet}");
    assert!(
        !quiet.contains("makedev(0x1, 0x3)"),
        "the devices were shown one by one"
    );
    assert!(
        quiet.contains("== pid: the command becomes process 1 ([pid "),
        "{quiet}"
    );
    let json = lab.run(&["learn", "--step", "rootfs", "--no-pause", "--explain=json"]);
    let events = assert_json_events(&text(&json.stderr));
    let mknods = events
        .iter()
        .filter(|e| {
            e["event"] == "syscall"
                && e["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("mknodat("))
        })
        .count();
    assert_eq!(mknods, 12, "six devices in each of the lesson's two runs");
    let verbose = lab.run(&[
        "learn",
        "--step",
        "rootfs",
        "--no-pause",
        "--explain",
        "--verbose",
    ]);
    assert!(text(&verbose.stderr).contains("makedev(0x1, 0x3)"));
}

#[test]
fn learn_without_a_step_lists_the_lessons_when_there_is_no_terminal() {
    let lab = Lab::new();
    let out = lab.run(&["learn"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list = text(&out.stdout);
    for step in LESSONS {
        assert!(
            list.lines().any(|l| l.starts_with(step)),
            "{step} not listed: {list}"
        );
    }
}

#[test]
fn an_unknown_step_is_one_line_and_status_125() {
    let lab = Lab::new();
    let out = lab.run(&["learn", "--step", "teleport"]);
    common::assert_one_line_error(&out, "teleport");
}

#[test]
fn the_outside_host_goes_when_diyc_is_killed() {
    require_root!();
    use std::io::BufRead;
    let lab = Lab::new().with_image();
    let mut child = lab
        .cmd(&[
            "learn",
            "--step",
            "iptables",
            "--no-pause",
            "--explain",
            "--verbose",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("diyc starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    // The first call after the outside host is made is the lesson's run.
    let mut made = false;
    for line in lines.by_ref() {
        let line = line.expect("a line");
        made |= line.contains("an outside host for the lesson");
        if made && line.contains("RTM_SETLINK: ip link set vlab up") {
            break;
        }
    }
    assert!(made, "the outside host was never made");
    assert!(common::sh(&["ip", "-o", "link"]).contains("vlab"));
    child.kill().expect("SIGKILL");
    child.wait().expect("diyc ends");
    common::wait_until("the outside host's veth pair is gone", || {
        !common::sh(&["ip", "-o", "link"]).contains("vlab")
    });
}

#[test]
fn the_glossary_explains_a_word_or_all_of_them() {
    let lab = Lab::new();
    let all = lab.run(&["learn", "--glossary"]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all.stderr));
    let all = text(&all.stdout);
    assert_eq!(all.lines().count(), glossary().len(), "{all}");
    // Each meaning as a lesson shows it: no Markdown's backticks.
    for (_, line) in glossary() {
        assert!(
            all.contains(&format!("{line}\n")),
            "{line:?} missing from:\n{all}"
        );
    }
    assert!(!all.contains('`'), "{all}");
    let one = lab.run(&["learn", "--glossary", "Namespaces"]);
    assert_eq!(one.status.code(), Some(0));
    let one = text(&one.stdout);
    assert!(one.starts_with("namespace: a kernel-made copy"), "{one}");
    assert_eq!(one.lines().count(), 1, "{one}");
    let out = lab.run(&["learn", "--glossary", "teleport"]);
    common::assert_one_line_error(&out, "the glossary has no entry for \"teleport\"");
}

#[test]
fn lesson_0_starts_from_nothing_in_under_250_lines() {
    require_root!();
    let lab = Lab::new().with_image();
    let out = lab.run(&["learn", "--step", "intro", "--no-pause"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let mut from = 0;
    for part in [
        "» What a container is",
        "» Reading a system call",
        "» Side by side",
        "» The host and the container",
        "» Where to go next",
        "» Exercise",
        "» Questions",
        "» Summary",
    ] {
        from += err[from..]
            .find(part)
            .unwrap_or_else(|| panic!("{part} missing or out of order:\n{err}"));
    }
    let printed = err.lines().count() + text(&out.stdout).lines().count();
    assert!(printed <= 250, "lesson 0 printed {printed} lines");
}
