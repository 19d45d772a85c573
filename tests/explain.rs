//! `--explain` shows the system calls diyc really makes: checked against
//! strace, and pinned down by a snapshot of the whole explanation.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{DIYC, Lab, text};

/// `(pid, "name(args)")` for each line of `--explain` text that shows a
/// system call. The result (after the last " = ") is dropped.
fn explained_calls(explain: &str) -> Vec<(u32, String)> {
    explain
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("[pid ")?;
            let (pid, call) = rest.split_once("] ")?;
            let (call, _result) = call.rsplit_once(" = ")?;
            Some((pid.parse().ok()?, call.to_string()))
        })
        .collect()
}

/// The pids of the helper programs (iptables, busybox --list-full) that
/// `--explain` shows as one command line each: `[pid N] cmd ... # exit 0`.
fn helper_pids(explain: &str) -> BTreeSet<u32> {
    explain
        .lines()
        .filter(|l| l.contains(" # exit "))
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("[pid ")?;
            rest.split_once(']')?.0.parse().ok()
        })
        .collect()
}

/// `(pid, "name(args)", result)` from `strace -ff -o PREFIX`, one file per
/// process.
fn traced_calls(dir: &Path) -> Vec<(u32, String, String)> {
    let mut calls = Vec::new();
    for entry in std::fs::read_dir(dir).expect("trace dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("trace.").and_then(|p| p.parse().ok()) else {
            continue;
        };
        let body = std::fs::read_to_string(entry.path()).expect("trace file");
        for line in body.lines() {
            if let Some((call, result)) = line.rsplit_once(" = ") {
                calls.push((pid, call.trim_end().to_string(), result.trim().to_string()));
            }
        }
    }
    calls
}

const ISOLATION_CALLS: &[&str] = &[
    "capset",
    "clone",
    "clone3",
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "sethostname",
    "setdomainname",
];

fn call_name(call: &str) -> &str {
    call.split('(').next().unwrap_or("")
}

fn assert_strace_agrees(lab: &Lab, name: &str) {
    let traces = lab.root().join(format!("strace-{name}"));
    std::fs::create_dir(&traces).expect("trace dir");
    let out = Command::new("strace")
        .args(["-ff", "-qq", "-v", "-s", "65536", "-o"])
        .arg(traces.join("trace"))
        .args([
            "-e",
            "trace=clone,clone3,fork,vfork,unshare,setns,mount,umount2,pivot_root,\
             sethostname,setdomainname,mknodat,mkdirat,symlinkat,unlinkat,chdir,execve,\
             prctl,capset,prlimit64,close_range",
        ])
        .arg(DIYC)
        .arg("--root")
        .arg(lab.root())
        .args([
            "run",
            "--rm",
            "--name",
            name,
            "--explain",
            "busybox",
            "true",
        ])
        .env("NO_COLOR", "1")
        .env("DIYC_CGROUP_PARENT", &lab.cgroup_parent)
        .env_remove("TERM")
        .output()
        .expect("strace is installed (the README's test command installs it)");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let explained = explained_calls(&text(&out.stderr));
    let helpers = helper_pids(&text(&out.stderr));
    let traced = traced_calls(&traces);
    assert!(
        explained.len() >= 20,
        "too few calls explained: {explained:?}"
    );
    let traced_set: BTreeSet<(u32, String)> =
        traced.iter().map(|(p, c, _)| (*p, c.clone())).collect();
    for call in &explained {
        assert!(
            traced_set.contains(call),
            "explained but not in strace: {call:?}\nstrace saw: {traced:#?}"
        );
    }
    let explained_set: BTreeSet<_> = explained.iter().cloned().collect();
    for (pid, call, result) in traced
        .iter()
        .filter(|(_, c, _)| ISOLATION_CALLS.contains(&call_name(c)))
    {
        // A clone that starts a helper program is shown as that program's
        // command line, under the helper's pid.
        let starts_helper = call_name(call).starts_with("clone")
            && result
                .parse()
                .is_ok_and(|child: u32| helpers.contains(&child));
        assert!(
            starts_helper || explained_set.contains(&(*pid, call.clone())),
            "strace saw {call:?} (pid {pid}) but --explain did not show it"
        );
    }
    for kind in [
        "clone3",
        "mount",
        "umount2",
        "pivot_root",
        "sethostname",
        "execve",
    ] {
        assert!(
            explained.iter().any(|(_, c)| call_name(c) == kind),
            "--explain shows no {kind}"
        );
    }
}

#[test]
fn strace_agrees_with_explain_on_a_first_run_that_builds_the_image() {
    require_root!();
    let lab = Lab::new();
    assert_strace_agrees(&lab, "first");
}

#[test]
fn strace_agrees_with_explain_on_a_plain_run() {
    require_root!();
    let lab = Lab::new().with_busybox();
    assert_strace_agrees(&lab, "plain");
}

#[test]
fn explain_output_matches_the_snapshot() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // Without --rm, so the writable layer is the on-disk one students keep.
    let out = lab.run(&["run", "--name", "snap", "--explain", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let root = regex_escape(lab.root().to_str().expect("utf-8"));
    // The lab's cgroup parent sits below this test's own cgroup, which
    // differs from machine to machine: keep the tree, hide the way down.
    let cgroup = format!(
        r#"(/sys/fs/cgroup/[^/\s"]+)/(?:[^\s"]*/)?{}"#,
        regex_escape(&lab.cgroup_parent)
    );
    insta::with_settings!({filters => vec![
        (root.as_str(), "[ROOT]"),
        (cgroup.as_str(), "$1/[PARENT]"),
        (r"echo \d+ > (\S+/cgroup\.procs)", "echo [PID] > $1"),
        (r"(usage\S* = |usage_usec |current = )\d+", "${1}[N]"),
        (r"(?m)^(    (?:nat|filter):)\s+\d+\s+\d+ ", "$1 [pkts] [bytes] "),
        (r"netns \d+", "netns [PID]"),
        (r"\bd(\w+)-[0-9a-f]{6}\b", "d$1-[RANDOM]"),
        // The kernel may delete the veth pair before diyc does.
        (r"(?m)^  \[pid \d+\] RTM_DELLINK: ip link del \S+ # \S+.*\n", ""),
        (r"(?m)^(\s+)\d+: (\S+ (?:UP|DOWN))", "${1}N: $2"),
        (r"\[pid \d+\]", "[pid N]"),
        (r"(clone3?\(.*\)) = \d+", "$1 = [PID]"),
        (r"\b\d{10}\b", "[INODE]"),
        (r"\bpid (?:[02-9]\d*|1\d+)\b", "pid N"),
        (r"/proc/\d+/", "/proc/N/"),
        (r"NSpid: \d+ 1", "NSpid: N 1"),
        (r"\d+ mounts", "N mounts"),
        (r"host's hostname: \S+", "host's hostname: [HOST]"),
        (r"host's / is [^\n]*", "host's / is [PROPAGATION]"),
        (r"(?m)^(      /\S*\s+\S+\s+)\S+$", "${1}[OPTIONS]"),
    ]}, {
        insta::assert_snapshot!(text(&out.stderr));
    });
}

#[test]
fn explain_json_is_one_object_per_line() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let out = lab.run(&["run", "--rm", "--explain=json", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = text(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let calls: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "syscall")
        .filter_map(|e| e["call"]["syscall"].as_str())
        .collect();
    // The cgroup is made before the clone and removed after the exit.
    assert_eq!(calls.first(), Some(&"mkdirat"));
    assert_eq!(calls.last(), Some(&"rmdir"));
    for call in ["clone3", "write_file", "pivot_root", "execve"] {
        assert!(calls.contains(&call), "{call} missing from {calls:?}");
    }
    let stages: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "stage")
        .filter_map(|e| e["stage"].as_str())
        .collect();
    assert_eq!(
        stages,
        [
            "cgroups",
            "net",
            "iptables",
            "clone",
            "cgroups",
            "net",
            "mount",
            "uts",
            "rootfs",
            "pid",
            "net",
            "hardening",
            "exec",
            "cgroups",
            "iptables",
            "cleanup"
        ]
    );
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}
