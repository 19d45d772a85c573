//! What the explain, learn and snapshot tests share: the comparison of
//! `--explain` with strace, and the filters that hide what differs from
//! run to run (pids, inodes, paths) in snapshots.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use super::{DIYC, Lab, text};

/// `(pid, "name(args)")` for each line of `--explain` text that shows a
/// system call. The result (after the last " = ") is dropped.
pub fn explained_calls(explain: &str) -> Vec<(u32, String)> {
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

/// One traced call: `name(args)` and its result.
struct Traced {
    call: String,
    result: String,
}

/// The calls of each process from `strace -ff -o PREFIX`, in order.
fn traced_calls(dir: &Path) -> BTreeMap<u32, Vec<Traced>> {
    let mut calls = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("trace dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("trace.").and_then(|p| p.parse().ok()) else {
            continue;
        };
        let body = std::fs::read_to_string(entry.path()).expect("trace file");
        let list: Vec<Traced> = body
            .lines()
            .filter_map(|line| {
                let (call, result) = line.rsplit_once(" = ")?;
                Some(Traced {
                    call: call.trim_end().to_string(),
                    result: result.trim().to_string(),
                })
            })
            .collect();
        calls.insert(pid, list);
    }
    calls
}

fn call_name(call: &str) -> &str {
    call.split('(').next().unwrap_or("")
}

fn makes_process(call: &str) -> bool {
    matches!(call_name(call), "clone" | "clone3" | "fork" | "vfork")
}

/// The calls diyc's own code made: those of diyc's first process after
/// strace started it, and of every process diyc's code started, each up
/// to its successful execve. After that the process runs someone else's
/// program (the container's command, a helper), whose calls are not
/// diyc's to explain. (A container's own children are named by pids of
/// its namespace in their parent's trace, so they are never reached.)
fn diycs_calls(traced: &BTreeMap<u32, Vec<Traced>>) -> Vec<(u32, &Traced)> {
    let exec_of_diyc = format!("execve(\"{DIYC}\"");
    let roots: Vec<u32> = traced
        .iter()
        .filter(|(_, calls)| {
            calls
                .first()
                .is_some_and(|t| t.call.starts_with(&exec_of_diyc))
        })
        .map(|(pid, _)| *pid)
        .collect();
    assert_eq!(
        roots.len(),
        1,
        "one traced process is diyc as strace started it"
    );
    let mut todo: Vec<(u32, usize)> = vec![(roots[0], 1)];
    let mut ours = Vec::new();
    while let Some((pid, skip)) = todo.pop() {
        for t in traced.get(&pid).into_iter().flatten().skip(skip) {
            if call_name(&t.call) == "execve" && t.result == "0" {
                break;
            }
            if makes_process(&t.call) {
                if let Ok(child) = t.result.parse() {
                    todo.push((child, 0));
                }
            }
            ours.push((pid, t));
        }
    }
    ours
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
    "chroot",
    "sethostname",
    "setdomainname",
];

/// Run `diyc ARGS` under `strace -f` with `--explain` among ARGS, and
/// check both ways that they agree: every explained call was made, as
/// shown, by the pid shown; and every namespace, mount, hostname or
/// capability call diyc's code made was explained. `must_show` names
/// calls the explanation has to include. Returns diyc's output.
pub fn assert_strace_agrees(lab: &Lab, tag: &str, args: &[&str], must_show: &[&str]) -> Output {
    let traces = lab.root().join(format!("strace-{tag}"));
    std::fs::create_dir(&traces).expect("trace dir");
    let out = Command::new("strace")
        .args(["-ff", "-qq", "-v", "-s", "65536", "-o"])
        .arg(traces.join("trace"))
        .args([
            "-e",
            "trace=clone,clone3,fork,vfork,unshare,setns,mount,umount2,pivot_root,chroot,\
             sethostname,setdomainname,mknodat,mkdirat,symlinkat,unlinkat,chdir,execve,\
             prctl,capset,prlimit64,close_range",
        ])
        .arg(DIYC)
        .arg("--root")
        .arg(lab.root())
        .args(args)
        .env("NO_COLOR", "1")
        .env("DIYC_CGROUP_PARENT", &lab.cgroup_parent)
        .env_remove("TERM")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("strace is installed (the README's test command installs it)");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let explained = explained_calls(&text(&out.stderr));
    let helpers = helper_pids(&text(&out.stderr));
    let traced = traced_calls(&traces);
    assert!(!explained.is_empty(), "no calls explained");
    let traced_set: BTreeSet<(u32, &str)> = traced
        .iter()
        .flat_map(|(p, calls)| calls.iter().map(move |t| (*p, t.call.as_str())))
        .collect();
    for (pid, call) in &explained {
        assert!(
            traced_set.contains(&(*pid, call.as_str())),
            "explained but not in strace: {pid} {call}"
        );
    }
    let explained_set: BTreeSet<(u32, &str)> =
        explained.iter().map(|(p, c)| (*p, c.as_str())).collect();
    for (pid, t) in diycs_calls(&traced) {
        if !ISOLATION_CALLS.contains(&call_name(&t.call)) {
            continue;
        }
        // A clone that starts a helper program is shown as that program's
        // command line, under the helper's pid; a thread is no isolation.
        let starts_helper = makes_process(&t.call)
            && t.result
                .parse()
                .is_ok_and(|child: u32| helpers.contains(&child));
        let thread = t.call.contains("CLONE_THREAD");
        assert!(
            starts_helper || thread || explained_set.contains(&(pid, t.call.as_str())),
            "strace saw {:?} (pid {pid}) but --explain did not show it",
            t.call
        );
    }
    for kind in must_show {
        assert!(
            explained.iter().any(|(_, c)| call_name(c) == *kind),
            "--explain shows no {kind}"
        );
    }
    out
}

pub fn regex_escape(s: &str) -> String {
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

/// Filters for insta that hide what changes between runs and machines:
/// the lab's paths, pids, namespace inodes, counters, random names.
pub fn snapshot_filters(lab: &Lab) -> Vec<(String, String)> {
    let root = regex_escape(lab.root().to_str().expect("utf-8"));
    // The lab's cgroup parent sits below this test's own cgroup, which
    // differs from machine to machine: keep the tree, hide the way down.
    let cgroup = format!(
        r#"(/sys/fs/cgroup/[^/\s"]+)/(?:[^\s"]*/)?{}"#,
        regex_escape(&lab.cgroup_parent)
    );
    [
        (root.as_str(), "[ROOT]"),
        (cgroup.as_str(), "$1/[PARENT]"),
        (r"echo \d+ > (\S+/cgroup\.procs)", "echo [PID] > $1"),
        (
            r"(usage\S* = |usage_usec |current = |peak = )\d+",
            "${1}[N]",
        ),
        (
            r"(?m)^(\s*(?:\| )?\s*(?:nat|filter):)\s+\d+\s+\d+ ",
            "$1 [pkts] [bytes] ",
        ),
        (r"netns \d+", "netns [PID]"),
        (r"\bd(\w+)-[0-9a-f]{6}\b", "d$1-[RANDOM]"),
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
        // Whether the kernel has a /proc/kcore at all is its build's choice.
        (r"/proc/kcore: [^\n|]*?( *\|)", "/proc/kcore: [KCORE]$1"),
        (r"(?m)/proc/kcore: [^\n|]*$", "/proc/kcore: [KCORE]"),
        (r"(?m)^(      /\S*\s+\S+\s+)\S+$", "${1}[OPTIONS]"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

/// Every line of `--explain=json` output is one JSON object that
/// docs/explain.schema.json accepts; the events, in order.
pub fn assert_json_events(stderr: &str) -> Vec<serde_json::Value> {
    let schema_path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/explain.schema.json");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(schema_path).expect("docs/explain.schema.json"),
    )
    .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema");
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object ({e}): {l}"))
        })
        .collect();
    assert!(!events.is_empty(), "no events");
    for event in &events {
        let errors: Vec<String> = validator
            .iter_errors(event)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{event} breaks the schema: {errors:?}");
    }
    events
}
