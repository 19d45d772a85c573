//! Without root: a cgroup of the container's own is possible only inside
//! a cgroup v2 subtree the user owns, which root or systemd handed over
//! (systemd's `Delegate=yes`, or a directory chowned to the user). The
//! kernel checks a cgroup's files like any others, so owning the subtree
//! is what lets a user make cgroups in it, move processes between them and
//! write their limits; v1 trees are never handed over this way.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::host::{Host, V2_CONTROLLERS};
use super::limits::Limits;
use super::place::{Dir, Placement, Version};

/// How to get a delegated subtree, for the message of a refused limit.
pub const HOW: &str = "systemd gives you user@UID.service's (start diyc in it: `systemd-run --user --scope diyc ...`), or root can `mkdir /sys/fs/cgroup/NAME && chown -R USER /sys/fs/cgroup/NAME`, move your shell into it, and you run with `--cgroup-parent /NAME`";

/// Where a rootless container's cgroup goes: below `parent` when the
/// caller owns it (or the nearest of its ancestors that exists), else
/// below the top of the subtree the caller's own cgroup is in, when the
/// caller owns that. Err says why there is no such place.
pub fn place(host: &Host, parent: &str, name: &str, limits: &Limits) -> Result<Placement, String> {
    let uid = nix::unistd::geteuid().as_raw();
    let (mount, own) = host
        .v2()
        .ok_or("this host has only cgroup v1 trees, which are never delegated to a user")?;
    let owned = |dir: &Path| std::fs::metadata(dir).is_ok_and(|m| m.uid() == uid);
    let asked = host.under(parent, mount, "");
    let own = own.map(|own| mount.join(own.trim_start_matches('/')));
    let base = [
        Some(asked),
        // Beside the caller's own cgroup, at the top of its subtree.
        own.as_ref()
            .and_then(|own| top_owned(own, mount, &owned))
            .map(|top| top.join("diyc")),
    ]
    .into_iter()
    .flatten()
    .find_map(|parent| {
        let existing = parent.ancestors().find(|d| d.is_dir())?.to_path_buf();
        (existing.starts_with(mount) && existing != mount && owned(&existing))
            .then_some((parent, existing))
    });
    let Some((parent, existing)) = base else {
        return Err(format!(
            "no cgroup v2 directory below {} belongs to you",
            mount.display()
        ));
    };
    // The kernel moves a process only for someone who may write the
    // cgroup.procs of the lowest cgroup holding both where it is and where
    // it goes: diyc's own cgroup must be inside what the caller owns.
    if let Some(own) = &own {
        let common = own
            .ancestors()
            .find(|a| parent.starts_with(a))
            .unwrap_or(mount);
        if !owned(&common.join("cgroup.procs")) {
            return Err(format!(
                "diyc's own cgroup {} is outside your subtree {}, and the kernel moves a process only within a subtree its owner holds",
                own.display(),
                existing.display()
            ));
        }
    }
    // What the subtree's top is offered, diyc can pass down the levels
    // below it, which are the caller's (a level diyc made and left holds
    // none until then).
    let top = top_owned(&existing, mount, &owned).unwrap_or_else(|| existing.clone());
    let offered = std::fs::read_to_string(top.join("cgroup.controllers")).unwrap_or_default();
    let offered: Vec<&str> = offered.split_whitespace().collect();
    if let Some(missing) = limits.required().into_iter().find(|c| !offered.contains(c)) {
        return Err(format!(
            "your cgroup {} is not offered the {missing} controller",
            top.display()
        ));
    }
    Ok(Placement {
        version: Version::V2,
        dirs: vec![Dir {
            path: parent.join(name),
            controllers: V2_CONTROLLERS
                .iter()
                .filter(|c| offered.contains(c))
                .map(|c| c.to_string())
                .collect(),
            mount: mount.to_path_buf(),
        }],
    })
}

/// The highest directory from `dir` up, below the tree's root, that the
/// caller owns: the top of the subtree handed over.
fn top_owned(dir: &Path, mount: &Path, owned: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    dir.ancestors()
        .take_while(|d| d.starts_with(mount) && *d != mount && owned(d))
        .last()
        .map(Path::to_path_buf)
}
