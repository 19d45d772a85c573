//! What an exercise shows of itself: its `--explain=json` events follow
//! the schema, and its calls are what strace sees diyc make.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::{self, DIYC, Lab, text};
use crate::require_root;

#[test]
fn an_exercise_as_json_is_one_schema_event_per_line() {
    require_root!();
    let lab = Lab::new();
    let out = Lab::feed(
        &mut lab.cmd(&["learn", "--exercise", "intro", "--explain=json"]),
        "unshare --uts sh -c check\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events = common::snapshot::assert_json_events(&text(&out.stderr));
    for syscall in ["bind", "symlinkat", "clone3", "mount", "execve"] {
        assert!(
            events.iter().any(|e| e["call"]["syscall"] == syscall),
            "no {syscall} event"
        );
    }
    assert!(events.iter().any(|e| e["text"] == "\n✓ exercise done"));
}

/// The calls an exercise explains, by pid, and the same families as
/// strace saw diyc and the exercise shell make them (the shell up to its
/// execve of sh: after that it is the student's).
#[test]
fn strace_agrees_with_the_exercise() {
    require_root!();
    let lab = Lab::new();
    let traces = lab.root().join("strace");
    std::fs::create_dir(&traces).expect("trace dir");
    let mut child = Command::new("strace")
        .args(["-ff", "-qq", "-v", "-s", "65536", "-o"])
        .arg(traces.join("trace"))
        .args([
            "-e",
            "trace=bind,mount,symlinkat,mkdirat,unlinkat,clone3,execve,openat,close",
        ])
        .arg(DIYC)
        .arg("--root")
        .arg(lab.root())
        .args(["learn", "--exercise", "uts", "--no-pause", "--verbose"])
        .env("NO_COLOR", "1")
        .env("DIYC_CGROUP_PARENT", &lab.cgroup_parent)
        .env_remove("TERM")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("strace is installed (the README's test command installs it)");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(b"unshare --uts sh -c 'hostname lab; check'\n")
        .expect("the script");
    drop(stdin);
    let out = child.wait_with_output().expect("strace exits");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let families = ["bind", "mount", "symlinkat", "mkdirat", "unlinkat"];
    let name = |call: &str| call.split('(').next().unwrap_or("").to_string();
    let explained: Vec<(String, String)> = err
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("[pid "))
        .filter_map(|l| l.split_once("] "))
        .filter_map(|(pid, call)| Some((pid.to_string(), call.rsplit_once(" = ")?.0.to_string())))
        .collect();
    for kind in ["bind", "mount", "symlinkat", "clone3", "execve"] {
        assert!(
            explained.iter().any(|(_, c)| name(c) == kind),
            "--explain shows no {kind}:\n{err}"
        );
    }
    let trace_of = |pid: &str| {
        std::fs::read_to_string(traces.join(format!("trace.{pid}"))).unwrap_or_default()
    };
    for (pid, call) in &explained {
        assert!(
            trace_of(pid).lines().any(|l| l.starts_with(call.as_str())),
            "explained but not in strace: {pid} {call}"
        );
    }
    // diyc's own process, and the shell until it runs sh.
    let diyc = explained
        .iter()
        .find(|(_, c)| name(c) == "bind")
        .map(|(p, _)| p.clone())
        .expect("the bind's pid");
    let shell = explained
        .iter()
        .find(|(_, c)| c.starts_with("execve(\"/bin/sh\""))
        .map(|(p, _)| p.clone())
        .expect("the shell's pid");
    let state = lab.root().display().to_string();
    let lessons = format!("{state}/lessons");
    for pid in [diyc, shell] {
        for line in trace_of(&pid).lines() {
            if line.starts_with("execve(\"/bin/sh\"") {
                break;
            }
            let call = line.rsplit_once(" = ").map_or(line, |(c, _)| c);
            let path = call.split('"').nth(1).unwrap_or("");
            // diyc's own state files are the state wall's, not shown.
            let own_state = path.starts_with(&state) && !path.starts_with(&lessons);
            if !families.contains(&name(call).as_str()) || own_state {
                continue;
            }
            assert!(
                explained.iter().any(|(p, c)| *p == pid && c == call),
                "strace saw {call:?} (pid {pid}) but --explain did not show it"
            );
        }
    }
}
