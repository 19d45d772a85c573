//! `--explain` checked against `strace -f` of the same run, both ways and
//! for every family of calls diyc makes: namespaces, mounts, files,
//! hostnames, capabilities and limits, descriptors, exec, cgroup and sysctl
//! writes, netlink requests and helper programs. Every call explained was
//! made, as shown, by the pid shown; every such call diyc's own code made
//! was explained, but for the short allowlist of plumbing in `plumbing`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

mod allowlist;
mod quiet;

use super::{DIYC, Lab, text};
use allowlist::{Fds, changed_path, fd_of, first_path, netlink_kind, opens_for_writing, plumbing};

/// Every system call of the families `--explain` shows, and the ones their
/// plumbing uses (reads, sockets, pipes) so they can be told apart.
const TRACED: &str = "trace=clone,clone3,fork,vfork,unshare,setns,mount,umount2,pivot_root,chroot,\
                      sethostname,setdomainname,mknodat,mkdirat,symlinkat,unlinkat,renameat2,rename,lsetxattr,\
                      chdir,execve,prctl,capset,prlimit64,close_range,fcntl,openat,write,close,sendto,\
                      setsid,keyctl,seccomp,ioctl,dup3,pidfd_open,pidfd_send_signal,\
                      openat2,fchdir,memfd_create,execveat,setgroups,setresuid,setresgid,bpf";

/// One traced call: `name(args)` and its result.
struct Traced {
    call: String,
    result: String,
}

impl Traced {
    fn name(&self) -> &str {
        self.call.split('(').next().unwrap_or("")
    }
}

/// `(pid, "name(args)")` for each line of `--explain` text that shows a
/// call, and the pids of helper programs (`... # exit N`).
fn explained(explain: &str) -> (Vec<(u32, String)>, BTreeSet<u32>) {
    let mut calls = Vec::new();
    let mut helpers = BTreeSet::new();
    for line in explain.lines() {
        let Some(rest) = line.trim_start().strip_prefix("[pid ") else {
            continue;
        };
        let Some((pid, call)) = rest.split_once("] ") else {
            continue;
        };
        let Ok(pid) = pid.parse() else { continue };
        // `N x name(...)`: a group, read by quiet.rs.
        if call
            .split_once(" x ")
            .is_some_and(|(n, _)| n.parse::<usize>().is_ok())
        {
            continue;
        }
        if call.contains(" # exit ") {
            helpers.insert(pid);
        } else if let Some((call, _)) = call.rsplit_once(" = ") {
            calls.push((pid, call.to_string()));
        } else if let Some((call, _)) = call.rsplit_once(" # ") {
            calls.push((pid, call.to_string()));
        }
    }
    (calls, helpers)
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
                    call: name_memfd_exec(&hide_filter_address(call.trim_end())),
                    result: result.split_whitespace().next()?.to_string(),
                })
            })
            .collect();
        calls.insert(pid, list);
    }
    calls
}

/// A seccomp filter's instructions: strace -v decodes them one by one,
/// the explanation says how many there are and shows `filter=...`.
fn hide_filter_address(call: &str) -> String {
    match call.split_once("filter=") {
        Some((head, _)) if call.starts_with("seccomp(") => format!("{head}filter=...}})"),
        _ => call.to_string(),
    }
}

/// strace before 6.3 prints MFD_EXEC as its number.
fn name_memfd_exec(call: &str) -> String {
    if call.starts_with("memfd_create(") {
        call.replace("|0x10)", "|MFD_EXEC)")
    } else {
        call.to_string()
    }
}

/// Whether `traced` is `explained`, where the explanation shows only the
/// first bytes of a long buffer, as strace does by default (`"..."...`).
fn same_call(traced: &str, explained: &str) -> bool {
    if traced == explained {
        return true;
    }
    match explained.split_once("\"...") {
        Some((head, tail)) => traced.starts_with(head) && traced.ends_with(tail),
        None => false,
    }
}

fn makes_process(t: &Traced) -> bool {
    matches!(t.name(), "clone" | "clone3" | "fork" | "vfork") && !t.call.contains("CLONE_THREAD")
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
    assert_eq!(roots.len(), 1, "one traced process is diyc itself");
    let mut todo: Vec<(u32, usize)> = vec![(roots[0], 1)];
    let mut ours = Vec::new();
    while let Some((pid, skip)) = todo.pop() {
        for t in traced.get(&pid).into_iter().flatten().skip(skip) {
            if makes_process(t) {
                if let Ok(child) = t.result.parse() {
                    todo.push((child, 0));
                }
            }
            ours.push((pid, t));
            // The trampoline's own execve follows diyc's execveat of it.
            if matches!(t.name(), "execve" | "execveat") && t.result == "0" {
                break;
            }
        }
    }
    ours
}

/// What a traced call looks like as `--explain` shows it: cgroup and sysctl
/// writes are `echo VALUE > PATH`, netlink requests their message type.
fn shown_as(t: &Traced, pid: u32, explained: &BTreeSet<(u32, String)>) -> bool {
    if explained
        .iter()
        .any(|(p, c)| *p == pid && same_call(&t.call, c))
    {
        return true;
    }
    match t.name() {
        // An `echo V > P` is one open and one write of V.
        "openat" => explained.iter().any(|(p, c)| {
            *p == pid
                && c.starts_with("echo ")
                && c.ends_with(&format!("> {}", first_path(&t.call)))
        }),
        "sendto" => netlink_kind(&t.call).is_some_and(|kind| {
            explained
                .iter()
                .any(|(p, c)| *p == pid && c.starts_with(&format!("{kind}: ")))
        }),
        _ => false,
    }
}

/// Run `diyc ARGS` under `strace -f` with `--explain` among ARGS, and
/// check both ways that they agree. `must_show` names calls the
/// explanation has to include. Returns diyc's output.
pub fn assert_strace_agrees(lab: &Lab, tag: &str, args: &[&str], must_show: &[&str]) -> Output {
    let (mut strace, traces) = traced(lab, tag);
    let out = strace
        .arg("--root")
        .arg(lab.root())
        .args(args)
        .env("NO_COLOR", "1")
        .env("DIYC_CGROUP_PARENT", &lab.cgroup_parent)
        .env_remove("TERM")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("strace is installed (the README's test command installs it)");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_agreement(lab, &traces, &stderr, must_show);
    out
}

/// `strace -f ... diyc`, for the caller to add diyc's arguments to, and
/// the directory its traces go to.
pub fn traced(lab: &Lab, tag: &str) -> (Command, std::path::PathBuf) {
    let traces = lab.root().join(format!("strace-{tag}"));
    std::fs::create_dir(&traces).expect("trace dir");
    let mut strace = Command::new("strace");
    strace
        .args(["-ff", "-qq", "-v", "-s", "65536", "-o"])
        .arg(traces.join("trace"))
        .args(["-e", TRACED])
        .arg(DIYC);
    (strace, traces)
}

/// The explanation `explain` (text, as `--explain --verbose` or `diyc
/// explain --verbose` prints it) and the traces in `traces` agree both
/// ways. `must_show` names calls the explanation has to include.
pub fn assert_agreement(lab: &Lab, traces: &Path, stderr: &str, must_show: &[&str]) {
    let (explained, mut helpers) = explained(stderr);
    assert!(!explained.is_empty(), "no calls explained");
    let traced = traced_calls(traces);
    // Grouped repeats and folded stages name their calls too.
    let mut quiet = quiet::parse(stderr);
    quiet.assert_made(&traced, &explained);
    helpers.extend(quiet.programs.iter().copied());

    // Every explained call was made as shown: a system call exactly, an
    // `echo V > P` as a write of V, a netlink request as a message of its
    // type, each by the pid shown.
    let traced_by = |pid: u32| traced.get(&pid).into_iter().flatten();
    for (pid, call) in &explained {
        let made = if let Some((value, path)) =
            call.strip_prefix("echo ").and_then(|c| c.split_once(" > "))
        {
            traced_by(*pid).any(|t| t.name() == "write" && t.call.contains(&format!("\"{value}\"")))
                && traced_by(*pid).any(|t| t.name() == "openat" && first_path(&t.call) == path)
        } else if let Some((kind, _)) = call.split_once(": ").filter(|(k, _)| k.starts_with("RTM_"))
        {
            traced_by(*pid)
                .any(|t| t.name() == "sendto" && netlink_kind(&t.call).as_deref() == Some(kind))
        } else {
            traced_by(*pid).any(|t| same_call(&t.call, call))
        };
        assert!(made, "explained but not in strace: {pid} {call}");
    }
    // Every helper program shown was started as a program of its own.
    for pid in &helpers {
        assert!(
            traced_by(*pid).any(|t| t.name() == "execve" && t.result == "0"),
            "helper {pid} was shown but never executed"
        );
    }

    // Every call of these families that diyc's own code made was shown,
    // but for the allowlisted plumbing.
    let state_root = lab.root().to_string_lossy().into_owned();
    let explained_set: BTreeSet<(u32, String)> = explained.iter().cloned().collect();
    let mut by_pid: BTreeMap<u32, Fds> = BTreeMap::new();
    for (pid, t) in diycs_calls(&traced) {
        let fds = by_pid.entry(pid).or_default();
        if t.name() == "openat" {
            let path = changed_path(t, fds);
            if opens_for_writing(&t.call) && !path.starts_with(&state_root) {
                let echo = !explained_set.contains(&(pid, t.call.clone()));
                fds.files.insert(t.result.clone(), echo);
            } else if t.call.contains("O_DIRECTORY") {
                fds.dirs.insert(t.result.clone(), path);
            }
        }
        let starts_helper = makes_process(t)
            && t.result
                .parse()
                .is_ok_and(|child: u32| helpers.contains(&child));
        let helper_exec = helpers.contains(&pid);
        let allowed = starts_helper || helper_exec || plumbing(t, &state_root, fds).is_some();
        if t.name() == "close" {
            fds.files.remove(fd_of(&t.call));
            fds.dirs.remove(fd_of(&t.call));
        }
        if allowed {
            continue;
        }
        assert!(
            shown_as(t, pid, &explained_set) || quiet.covers(pid, t),
            "strace saw {:?} (pid {pid}) but --explain did not show it",
            t.call
        );
    }
    for kind in must_show {
        assert!(
            explained
                .iter()
                .any(|(_, c)| c.split('(').next() == Some(kind)
                    || c.starts_with(&format!("{kind}:")))
                || quiet.shows(kind),
            "--explain shows no {kind}"
        );
    }
}
