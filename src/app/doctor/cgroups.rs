//! Control groups: which versions this host mounts, whether the
//! controllers diyc's limits use are there, and, for an ordinary user,
//! whether a cgroup v2 subtree was handed to them (delegated), without
//! which rootless diyc can set no limit.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Check, Verdict, Who, read};
use crate::observe;
use crate::stages::cgroups::{Host, Limits, Version};
use crate::sys::probe;

/// The controllers diyc's limits use: what goes without each as root,
/// and without root.
const CONTROLLERS: [(&str, &str, &str); 3] = [
    (
        "memory",
        "diyc run --mem, and diyc learn --step cgroups (it sets a memory limit)",
        "diyc run --mem without root",
    ),
    ("cpu", "diyc run --cpus", "diyc run --cpus without root"),
    (
        "pids",
        "diyc run --pids, and the default limit of 2048 processes a container gets",
        "diyc run --pids without root, and the default limit of 2048 processes",
    ),
];

const V2_ONLY: &str = "`systemd.unified_cgroup_hierarchy=1` on the kernel command line (cgroup v2 alone), then reboot";

pub fn checks(who: &Who) -> Vec<Check> {
    vec![mode(who), controllers(who), delegation(who)]
}

/// The first cgroup2 mount, and this process's own cgroup in it.
pub(super) fn own_cgroup2() -> Option<(PathBuf, PathBuf)> {
    let mounts = observe::mountinfo(None);
    let mount = mounts.iter().find(|m| m.fstype == "cgroup2")?;
    let own = read("/proc/self/cgroup")?;
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let root = PathBuf::from(&mount.mount_point);
    let relative = path.trim_matches('/');
    let dir = if relative.is_empty() {
        root.clone()
    } else {
        root.join(relative)
    };
    Some((root, dir))
}

/// From the mount table, as diyc's cgroups stage reads it: a hybrid
/// host's /sys/fs/cgroup is a tmpfs (statfs says so) whether or not its
/// v1 trees are still mounted there, the mount table says which.
fn mode(who: &Who) -> Check {
    let id = "cgroup.mode";
    let Ok(host) = Host::detect() else {
        return Check::info(id, "the mount table could not be read");
    };
    let uses = match host.place("/diyc", "doctor", &Limits::default()) {
        Ok(p) if p.version == Version::V1 => "; diyc uses v1",
        Ok(_) => "; diyc uses v2",
        Err(_) => "",
    };
    let rootless_limits =
        "--mem, --cpus and --pids without root: rootless limits need a delegated cgroup v2 subtree";
    let found = match host.mode() {
        _ if host.none_mounted() => {
            let check = Check::fail(id, "no cgroup filesystem is mounted");
            return if who.root {
                check
                    .breaks(&["diyc run (every container gets a cgroup)", "diyc learn --step cgroups"])
                    .fix("`sudo mount -t cgroup2 none /sys/fs/cgroup` (inside `ip netns exec`, /sys is remounted without it)")
            } else {
                Check {
                    verdict: Verdict::Warn,
                    ..check
                }
                .breaks(&[rootless_limits])
                .fix("`sudo mount -t cgroup2 none /sys/fs/cgroup`")
            };
        }
        "unified" => return Check::ok(id, format!("unified: cgroup v2 alone{uses}")),
        "hybrid" => format!("hybrid: v1 trees beside a cgroup2 mount{uses}"),
        _ => format!("legacy: cgroup v1 alone{uses}"),
    };
    if who.root {
        Check::ok(id, found)
    } else {
        Check::warn(id, found)
            .breaks(&[rootless_limits])
            .fix(V2_ONLY)
    }
}

fn controllers(who: &Who) -> Check {
    let id = "cgroup.controllers";
    let Ok(host) = Host::detect() else {
        return Check::info(id, "the cgroup mounts could not be read");
    };
    let (have, missing): (Vec<_>, Vec<_>) = CONTROLLERS
        .iter()
        .partition(|(c, ..)| host.has_controller(c));
    let names =
        |list: &[&(&str, &str, &str)]| list.iter().map(|(c, ..)| *c).collect::<Vec<_>>().join(" ");
    let found = format!("{} has [{}]", host.mode(), names(&have));
    if missing.is_empty() {
        return Check::ok(id, found);
    }
    let breaks: Vec<&str> = missing.iter().map(|(_, b, _)| *b).collect();
    let found = format!("{found}; missing [{}]", names(&missing));
    let memory_gone = missing.iter().any(|(c, ..)| *c == "memory");
    let check = if memory_gone {
        Check::fail(id, found)
    } else {
        Check::warn(id, found)
    };
    // Without root the delegated subtree's controllers are what count.
    check
        .breaks(&breaks)
        .fix("a kernel with the controller (CONFIG_MEMCG, CONFIG_CGROUP_SCHED, CONFIG_CGROUP_PIDS), not turned off on its command line (cgroup_disable=)")
        .root_only(who)
}

/// The cgroup.controllers of a v2 directory.
fn offered(dir: &Path) -> Vec<String> {
    read(&dir.join("cgroup.controllers").to_string_lossy())
        .map(|t| t.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

fn delegation(who: &Who) -> Check {
    let id = "cgroup.delegation";
    if who.root {
        return Check::info(id, "not needed as root: root may make a cgroup anywhere");
    }
    let Some((mount, own)) = own_cgroup2() else {
        return Check::warn(id, "no cgroup v2 here to delegate")
            .breaks(&["--mem, --cpus and --pids without root"])
            .fix(V2_ONLY);
    };
    // The delegated subtree: the highest of this process's cgroup and
    // its ancestors that the user owns and may move processes into.
    let owned = |dir: &Path| {
        std::fs::metadata(dir).is_ok_and(|m| m.uid() == who.uid)
            && probe::writable(&dir.join("cgroup.procs").to_string_lossy())
    };
    let top = own
        .ancestors()
        .take_while(|d| d.starts_with(&mount))
        .filter(|d| owned(d))
        .last();
    let login = who.login();
    let Some(top) = top else {
        let owner = match std::fs::metadata(&own).map(|m| m.uid()) {
            Ok(0) => "root".to_string(),
            Ok(uid) => format!("uid {uid}"),
            Err(_) => "an owner it cannot see".to_string(),
        };
        return Check::warn(
            id,
            format!("not delegated: {login}'s cgroup {} belongs to {owner}", own.display()),
        )
        .breaks(&["--mem, --cpus and --pids without root"])
        .fix("run diyc from a systemd user session (ssh or a desktop login delegates user@UID.service to you), or under `systemd-run --user --scope -p Delegate=yes`");
    };
    let have = offered(top);
    let missing: Vec<&str> = CONTROLLERS
        .iter()
        .map(|(c, ..)| *c)
        .filter(|c| !have.iter().any(|h| h == c))
        .collect();
    let found = format!(
        "{login} owns {}, which offers [{}]",
        top.display(),
        have.join(" ")
    );
    if missing.is_empty() {
        return Check::ok(id, found);
    }
    let breaks: Vec<&str> = CONTROLLERS
        .iter()
        .filter(|(c, ..)| missing.contains(c))
        .map(|(.., b)| *b)
        .collect();
    Check::warn(id, format!("{found}; not [{}]", missing.join(" ")))
        .breaks(&breaks)
        .fix("delegate them: `sudo systemctl edit user@.service`, then `[Service]` and `Delegate=memory cpu pids`, and log in again")
}
