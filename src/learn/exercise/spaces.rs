//! The exercises about namespaces and capabilities, each with its task,
//! its hints and its check: a shell in a new namespace (intro), a shell
//! that is root of a user namespace of its own (user), a shell
//! with a name of its own (uts), a shell whose `ps` shows only itself
//! (pid), a mount only one shell sees (mount), and a root shell without
//! capabilities (hardening).

use super::look::Look;
use super::wire::Verdict;
use super::{Exercise, Setting};

pub const INTRO: Exercise = Exercise {
    name: "intro",
    task: |_: &Setting| {
        "Start a shell in at least one new namespace, with unshare (try `unshare --uts sh`),\nand type `check` in that new shell.".into()
    },
    wants: &[],
    check: intro,
};

fn intro(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    match look.new_namespaces()[..] {
        [] => v.bad(
            "this shell shares every namespace with the exercise shell",
            "unshare starts a program in new namespaces: run `unshare --uts sh`, then check in that shell",
        ),
        ref new => v.good(format!(
            "this shell has namespaces of its own: {} (compare `ls -l /proc/$$/ns` here and in the exercise shell)",
            new.join(", ")
        )),
    }
    v
}

pub const USER: Exercise = Exercise {
    name: "user",
    task: |_: &Setting| {
        "Start a shell in a user namespace of its own, where it is root (uid 0) by a\nmap that unshare writes for you, and type `check` in it.".into()
    },
    wants: &[],
    check: user,
};

fn user(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    let hint =
        "`unshare --user --map-root-user sh` makes a user namespace and maps its root to you";
    if look.shares("user") {
        v.bad(
            "this shell is in the exercise shell's user namespace: its ids are the host's",
            hint,
        );
        return v;
    }
    v.good("this shell has a user namespace of its own");
    // Read from diyc's side, the map says which of diyc's ids each id
    // inside stands for.
    let map = std::fs::read_to_string(format!("/proc/{}/uid_map", look.client)).unwrap_or_default();
    let root = map.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        (fields.next() == Some("0")).then(|| fields.next().map(String::from))?
    });
    match root {
        Some(outside) => v.good(format!(
            "its uid_map maps root inside to uid {outside} outside: `{}`",
            map.lines()
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        )),
        None if map.trim().is_empty() => v.bad(
            "its uid_map is empty: every id in it is 65534, the overflow id, and it is not root",
            "add --map-root-user, which writes the map: `unshare --user --map-root-user sh`",
        ),
        None => v.bad(
            "its uid_map does not map uid 0: this shell is not root in it",
            hint,
        ),
    }
    match look.capabilities("CapEff") {
        Some(0) => v.bad(
            "it holds no capabilities: a process whose uid is not mapped gets none when it runs a program",
            hint,
        ),
        Some(held) => v.good(format!(
            "it holds {} capabilities, over what its user namespace owns",
            held.count_ones()
        )),
        None => {}
    }
    v
}

pub const UTS: Exercise = Exercise {
    name: "uts",
    task: |_: &Setting| {
        "Make a shell whose hostname is lab, without renaming the exercise shell,\nand type `check` in it.".into()
    },
    wants: &[],
    check: uts,
};

fn uts(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    let name = &look.view.hostname;
    if look.shares("uts") {
        let what = if name == "lab" {
            "this shell is in the exercise shell's UTS namespace, so the exercise shell was renamed lab too"
        } else {
            "this shell is in the exercise shell's UTS namespace: renaming it renames the exercise shell"
        };
        v.bad(
            what,
            "`unshare --uts sh` starts a shell with a UTS namespace of its own; rename that one with `hostname lab`",
        );
        return v;
    }
    v.good("this shell has a UTS namespace of its own");
    if name == "lab" {
        v.good(
            "it is called lab, and its name is its own: the exercise shell is not renamed with it",
        );
    } else {
        v.bad(
            format!("it is called {name}, not lab"),
            "`hostname lab` in that shell renames it (and nothing else)",
        );
    }
    v
}

pub const PID: Exercise = Exercise {
    name: "pid",
    task: |_: &Setting| {
        "Make a shell in a PID namespace of its own, below the exercise shell, whose `ps`\nshows only itself (and what it starts), and type `check` in it. `unshare --pid`\nputs the next process it starts in the new namespace: give it `--fork`.".into()
    },
    wants: &[],
    check: pid,
};

fn pid(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    if look.shares("pid") {
        v.bad(
            "this shell is in the exercise shell's PID namespace: ps lists every process of it",
            "`unshare --pid --fork --mount-proc sh` starts a shell in a new PID namespace with a /proc of its own",
        );
        return v;
    }
    let host = look.nspid().first().copied().unwrap_or(look.client);
    v.good(format!(
        "this shell is in a PID namespace of its own (`check` is pid {} in it, {host} on the host)",
        look.view.pid
    ));
    match look.view.proc_self {
        Some(p) if p == look.view.pid => {
            v.good("its /proc is its own namespace's: ps shows only the processes in it")
        }
        other => v.bad(
            format!(
                "its /proc is still the exercise shell's: /proc/self says {} while this process is pid {}, so ps lists the others",
                other.map_or_else(|| "nothing".into(), |p| p.to_string()),
                look.view.pid
            ),
            "add --mount-proc, which mounts a /proc for the new namespace: `unshare --pid --fork --mount-proc sh`",
        ),
    }
    v
}

pub const MOUNT: Exercise = Exercise {
    name: "mount",
    task: |_: &Setting| {
        "Mount a tmpfs on /mnt that only your new shell sees: the exercise shell's /mnt\nmust stay as it is. Type `check` in the new shell.".into()
    },
    wants: &[],
    check: mount,
};

fn mount(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    let (ours, theirs) = look.mounted_on("/mnt");
    let tmpfs =
        |m: &Option<crate::observe::MountEntry>| m.as_ref().is_some_and(|m| m.fstype == "tmpfs");
    if look.shares("mnt") {
        if tmpfs(&ours) {
            v.bad(
                "the exercise shell sees the tmpfs on /mnt too: this shell shares its mount namespace",
                "`umount /mnt` here, then start `unshare --mount sh` and mount the tmpfs in that shell",
            );
        } else {
            v.bad(
                "this shell shares the exercise shell's mount namespace: what it mounts, the exercise shell sees",
                "`unshare --mount sh` starts a shell with a mount table of its own; mount there",
            );
        }
        return v;
    }
    v.good("this shell has a mount namespace of its own");
    if tmpfs(&ours) {
        v.good("a tmpfs is mounted on /mnt in it");
    } else {
        v.bad(
            "nothing is mounted on /mnt in this shell",
            "`mount -t tmpfs lab /mnt` in this shell",
        );
    }
    if tmpfs(&theirs) {
        v.bad(
            "the exercise shell has a tmpfs on /mnt as well",
            "`umount /mnt` in the exercise shell: only the new shell should see it",
        );
    } else {
        v.good("the exercise shell's /mnt is as it was");
    }
    v
}

pub const HARDENING: Exercise = Exercise {
    name: "hardening",
    task: |_: &Setting| {
        "Start a root shell that holds no capabilities at all, with an empty bounding set\nso nothing it runs can get one back, and type `check` in it.".into()
    },
    wants: &[],
    check: hardening,
};

fn hardening(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    let hint =
        "`setpriv --bounding-set -all --inh-caps -all sh` drops every capability, then starts sh";
    match look.uid() {
        Some(0) => v.good("this shell is root (uid 0)"),
        Some(uid) => v.bad(
            format!("this shell is uid {uid}: the task is root without capabilities"),
            "stay root: drop capabilities, not the user",
        ),
        None => {}
    }
    match look.capabilities("CapEff") {
        Some(0) => v.good("it holds no capabilities (CapEff is 0)"),
        Some(held) => v.bad(
            format!("it still holds {} capabilities", held.count_ones()),
            hint,
        ),
        None => {}
    }
    match look.capabilities("CapBnd") {
        Some(0) => v.good("its bounding set is empty: no program it runs can gain one"),
        Some(left) => v.bad(
            format!(
                "its bounding set still has {} capabilities, which a program it runs could gain",
                left.count_ones()
            ),
            hint,
        ),
        None => {}
    }
    v
}
