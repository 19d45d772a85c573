//! The exercises graded from the host's list of processes: a program
//! whose root is the busybox image (rootfs), and a shell in a cgroup of
//! its own with a memory limit (cgroups). The cgroup one is the only
//! exercise that changes something real: its cgroup is made below the
//! lesson's cgroup parent and removed by diyc afterwards.

use std::path::Path;

use super::look::{self, Look};
use super::wire::Verdict;
use super::{Exercise, Setting};
use crate::error::{Error, Result};
use crate::stages::cgroups::{self, Host, Limits, Placement, Version};
use crate::sys::{Call, Sys};
use crate::undo::{Undo, When};

pub const ROOTFS: Exercise = Exercise {
    name: "rootfs",
    task: |s: &Setting| {
        let image = s.image.as_deref().unwrap_or("IMAGE");
        format!(
            "Run a program whose root directory (/) is the busybox image, {image}:\n`chroot {image} /bin/sleep 600 &`, then type `check` in the exercise shell\n(`check` cannot run inside the chroot: diyc's binary is not in the image)."
        )
    },
    wants: &[],
    check: rootfs,
};

fn rootfs(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    let image = look.setting.image.as_deref().unwrap_or("/");
    let hint = format!("`chroot {image} /bin/sleep 600 &` runs sleep with the image as its /");
    let Some(wanted) = look::identity(image) else {
        v.bad(format!("the image {image} is gone"), hint);
        return v;
    };
    let shells_root = look::root_of(look.shell);
    let below = look::processes_below(look.shell);
    if let Some(pid) = below.iter().find(|p| look::root_of(**p) == Some(wanted)) {
        v.good(format!(
            "{} (pid {pid} on the host) has the image as its /: /proc/{pid}/root is {}",
            look::command(*pid),
            look::root_path(*pid)
        ));
        return v;
    }
    match below
        .iter()
        .find(|p| look::root_of(**p).is_some_and(|r| Some(r) != shells_root))
    {
        Some(pid) => v.bad(
            format!(
                "{} (pid {pid}) runs in another root, {}, not in the image",
                look::command(*pid),
                look::root_path(*pid)
            ),
            hint,
        ),
        None => v.bad(
            "no process of the exercise shell has the image as its root directory",
            hint,
        ),
    }
    v
}

pub const CGROUPS: Exercise = Exercise {
    name: "cgroups",
    task: |s: &Setting| match &s.cgroup {
        Some(task) => format!(
            "Put the exercise shell in a cgroup of its own with a memory limit of 16 MiB:\n  {}\nMake that directory, write the limit into its {}, and move the\nshell in by writing its pid (`$$`) into its cgroup.procs. Then type `check`.",
            task.dir, task.limit_file
        ),
        None => "Put the exercise shell in a cgroup of its own with a 16 MiB memory limit.".into(),
    },
    wants: &[],
    check: cgroups_check,
};

const LIMIT: u64 = 16 << 20;

/// The cgroup the student makes: its directory in the tree that carries
/// the memory controller.
#[derive(Debug, Clone)]
pub struct CgroupTask {
    placement: Placement,
    dir: String,
    /// The file its memory limit is written into, by cgroup version.
    limit_file: &'static str,
    /// The directories between the tree's root and the lesson's cgroup
    /// parent, the exercise's cgroup's parent last.
    levels: Vec<String>,
}

fn text(path: &Path) -> Result<String> {
    path.to_str()
        .map(String::from)
        .ok_or_else(|| Error::invalid(format!("{} is not valid UTF-8", path.display())))
}

impl CgroupTask {
    /// `<cgroup parent>/exercise`, where a memory limit can be set.
    pub fn place(parent: &str) -> Result<CgroupTask> {
        let limits = Limits {
            memory: Some(LIMIT),
            ..Limits::default()
        };
        let mut placement = Host::detect()?.place(parent, "exercise", &limits)?;
        placement
            .dirs
            .retain(|d| d.controllers.iter().any(|c| c == "memory"));
        let dir = placement
            .dirs
            .first()
            .ok_or_else(|| Error::invalid("this host has no memory cgroup controller"))?;
        let relative = dir.path.strip_prefix(&dir.mount).unwrap_or(Path::new(""));
        let mut levels = vec![text(&dir.mount)?];
        let mut level = dir.mount.clone();
        for part in relative.parent().into_iter().flat_map(Path::components) {
            level.push(part);
            levels.push(text(&level)?);
        }
        Ok(CgroupTask {
            dir: text(&dir.path)?,
            limit_file: match placement.version {
                Version::V2 => "memory.max",
                Version::V1 => "memory.limit_in_bytes",
            },
            levels,
            placement,
        })
    }

    #[cfg(test)]
    pub fn example() -> CgroupTask {
        CgroupTask {
            placement: Placement {
                version: Version::V2,
                dirs: Vec::new(),
            },
            dir: "/sys/fs/cgroup/diyc/exercise".into(),
            limit_file: "memory.max",
            levels: vec!["/sys/fs/cgroup".into(), "/sys/fs/cgroup/diyc".into()],
        }
    }

    /// Make the lesson's cgroup parent where it is missing (passing the
    /// memory controller down on v2), so the student's mkdir works; undo
    /// it all, and remove the student's cgroup too, at the end.
    pub fn prepare(&self, sys: &mut Sys, undo: &mut Undo) -> Result<()> {
        sys.note(format!(
            "the exercise's cgroup goes in {}; diyc removes it at the end",
            self.levels.last().map_or("?", String::as_str)
        ));
        for level in &self.levels {
            if !sys.is_dir(level) {
                undo.mkdir(sys, level)?;
            }
            let control = format!("{level}/cgroup.subtree_control");
            let enabled = sys.read(&control).unwrap_or_default();
            if self.placement.version == Version::V2
                && !enabled.split_whitespace().any(|c| c == "memory")
            {
                sys.call(Call::WriteFile {
                    path: control,
                    value: "+memory".into(),
                })?;
            }
        }
        let placement = self.placement.clone();
        if sys.is_dir(&self.dir) {
            // A diyc killed during the exercise left it; the student's
            // mkdir must work.
            sys.note(format!("removing a leftover cgroup {}", self.dir));
            cgroups::remove(sys, &placement)?;
        }
        undo.push(
            format!("removing the exercise's cgroup {}", self.dir),
            When::Always,
            move |sys| cgroups::remove(sys, &placement),
        );
        Ok(())
    }
}

fn cgroups_check(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    let Some(task) = &look.setting.cgroup else {
        v.bad("this host has no cgroup for the exercise", "none");
        return v;
    };
    let dir = &task.dir;
    if !Path::new(dir).is_dir() {
        v.bad(
            format!("there is no cgroup {dir} yet"),
            format!("`mkdir {dir}` makes it: a cgroup is a directory"),
        );
        return v;
    }
    v.good(format!("the cgroup {dir} exists"));
    let limit_file = format!("{dir}/{}", task.limit_file);
    let limit = std::fs::read_to_string(&limit_file).unwrap_or_default();
    match limit.trim().parse::<u64>() {
        Ok(LIMIT) => v.good(format!("its memory limit is 16 MiB ({limit_file})")),
        other => v.bad(
            format!(
                "its memory limit is {}, not 16 MiB ({LIMIT} bytes)",
                match other {
                    // v1 says "no limit" with the largest page-aligned number.
                    Ok(n) if n >= 1 << 60 => "none".to_string(),
                    _ => limit.trim().to_string(),
                }
            ),
            format!("`echo 16M > {limit_file}`"),
        ),
    }
    let controller = match task.placement.version {
        Version::V1 => "memory",
        Version::V2 => "",
    };
    let wanted = task
        .placement
        .dirs
        .first()
        .and_then(|d| d.path.strip_prefix(&d.mount).ok())
        .map(|p| format!("/{}", p.display()));
    match look.cgroup(controller) {
        Some(now) if Some(&now) == wanted.as_ref() => {
            v.good("this shell is in it, so its memory is counted and limited there")
        }
        now => v.bad(
            format!(
                "this shell is in the cgroup {}, not in the exercise's",
                now.unwrap_or_else(|| "?".into())
            ),
            format!("`echo $$ > {dir}/cgroup.procs` moves this shell in"),
        ),
    }
    v
}
