//! The cgroups lesson: a memory limit the kernel enforces, and what a
//! container takes without one (src/stages/cgroups/).

use super::draw::{self, Frame, Style, UNSEEN, WIDTH};
use super::parts::ROOT_WATCH;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::observe;
use crate::stages::cgroups::Limits;
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../lessons/cgroups.md");

/// A memory hog that stops by itself at 100 MiB.
const HOG: &str = "head -c 100m /dev/zero | tail > /dev/null && echo 'the hog took its 100 MiB'";

/// What the cgroups stage titles its report after the container exited.
const AFTER: &str = "the cgroup's own account, after the container exited";

/// The hog in a container with `memory` as its limit; the cgroup's
/// directories, for checking they are gone afterwards.
fn run(s: &mut Session, name: &str, memory: Option<u64>) -> Result<(Observed, Vec<String>)> {
    let mut undo = Undo::new();
    let limits = Limits {
        memory,
        ..Limits::default()
    };
    let cgroups = s.cgroups(name, limits)?;
    let dirs = cgroups.dirs();
    let mut plan = s.base(&mut undo, name, false)?;
    plan.cgroups = Some(cgroups);
    let env = s.container_env(name);
    let mut seen = s.launch(plan, &["sh", "-c", HOG], env, ROOT_WATCH, undo)?;
    seen.note("cgroup parent", s.opts.cgroup_parent.clone());
    // Where each tree of the hierarchy starts, read while it is mounted.
    for m in observe::mountinfo(None) {
        if m.fstype == "cgroup" || m.fstype == "cgroup2" {
            seen.note("cgroup mount", m.mount_point);
        }
    }
    Ok((seen, dirs))
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let (seen, _) = run(s, "lesson-cgroups", Some(32 << 20))?;
    s.check(
        seen.code == 137 || seen.notes.iter().any(|n| n.contains("OOM killer")),
        "the kernel's OOM killer stopped the hog at the 32 MiB limit",
    )?;
    Ok((seen, StageId::Cgroups))
}

/// No limit: the hog takes all it asks for.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let (seen, dirs) = run(s, "lesson-unlimited", None)?;
    s.effect(
        seen.code == 0,
        "with no limit the hog took all 100 MiB it asked for",
    )?;
    s.undone(
        dirs.iter().all(|d| !std::path::Path::new(d).exists()),
        "its cgroup was removed with the container",
    )?;
    Ok(seen)
}

/// One directory of the cgroup's report and its `file = value` lines.
struct Dir<'a> {
    path: &'a str,
    values: Vec<(&'a str, &'a str)>,
}

fn report(lines: &[String]) -> Vec<Dir<'_>> {
    let mut dirs: Vec<Dir> = Vec::new();
    for line in lines {
        if let Some(path) = line.strip_suffix(':').filter(|l| !l.starts_with(' ')) {
            dirs.push(Dir {
                path,
                values: Vec::new(),
            });
        } else if let (Some(dir), Some((file, value))) = (
            dirs.last_mut(),
            line.trim_start()
                .split_once(" = ")
                .or_else(|| line.trim_start().split_once(": ")),
        ) {
            dir.values.push((file, value));
        }
    }
    dirs
}

impl Dir<'_> {
    /// The first of `files` this directory showed, without its note.
    fn value(&self, files: &[&str]) -> Option<&str> {
        files.iter().find_map(|f| {
            self.values
                .iter()
                .find(|(file, _)| file == f)
                .map(|(_, v)| v.split(" (").next().unwrap_or(v))
        })
    }
}

/// The memory tree from its root down to the container's cgroup, then
/// what the kernel counted there.
fn tree(seen: &Observed, style: Style) -> Vec<String> {
    let lines = seen.state(StageId::Cgroups, AFTER).unwrap_or(&[]);
    let dirs = report(lines);
    let Some(memory) = dirs
        .iter()
        .find(|d| d.values.iter().any(|(f, _)| f.starts_with("memory.")))
    else {
        return vec![format!("the cgroup's memory account: {UNSEEN}")];
    };
    let root = mounts(seen)
        .filter(|m| probe_below(memory.path, m))
        .max_by_key(|m| m.len())
        .unwrap_or("/");
    let parent = seen.extra("cgroup parent").unwrap_or("");
    let rest = memory
        .path
        .strip_prefix(root)
        .unwrap_or(memory.path)
        .trim_start_matches('/');
    let steps: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let mut items = vec![(0, format!("{root} (the hierarchy's root)"))];
    for (i, step) in steps.iter().enumerate() {
        let so_far = steps[..=i].join("/");
        let label = if i + 1 == steps.len() {
            format!("{step} (the container's cgroup)")
        } else if !parent.is_empty() && so_far.ends_with(parent.trim_matches('/')) {
            format!("{step} (the lessons' cgroup parent)")
        } else {
            step.to_string()
        };
        items.push((i + 1, label));
    }
    let mut out = draw::tree(&items, style);
    let show = |files: &[&str]| memory.value(files).unwrap_or(UNSEEN).to_string();
    let leaf = steps.last().copied().unwrap_or(UNSEEN);
    // The other v1 trees the same cgroup is in, by their roots' names.
    let others: Vec<&str> = dirs
        .iter()
        .filter(|d| d.path != memory.path)
        .filter_map(|d| {
            mounts(seen)
                .filter(|m| probe_below(d.path, m))
                .max_by_key(|m| m.len())
                .and_then(|m| m.rsplit('/').next())
        })
        .collect();
    out.extend(
        Frame::new(format!("{leaf}, as the kernel counted it"))
            .line(format!(
                "memory limit: {}",
                show(&["memory.limit_in_bytes", "memory.max"])
            ))
            .line(format!(
                "the most it used: {}",
                show(&["memory.max_usage_in_bytes", "memory.peak"])
            ))
            .line(format!(
                "using now, after it exited: {}",
                show(&["memory.usage_in_bytes", "memory.current"])
            ))
            .line(format!(
                "processes the OOM killer ended: {}",
                show(&["memory.oom_control", "memory.events"]).trim_start_matches("oom_kill ")
            ))
            .lines((!others.is_empty()).then(|| {
                format!(
                    "(the same cgroup is in the {} trees too)",
                    others.join(", ")
                )
            }))
            .draw(WIDTH, style),
    );
    out
}

/// Where the run saw cgroup trees mounted.
fn mounts(seen: &Observed) -> impl Iterator<Item = &str> {
    seen.extra
        .iter()
        .filter(|(k, _)| k == "cgroup mount")
        .map(|(_, v)| v.as_str())
}

/// Whether `path` lies below the mount point `root`.
fn probe_below(path: &str, root: &str) -> bool {
    super::probes::at_or_below(path, root)
}

pub fn pictures(live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    vec![
        draw::picture(
            "The cgroup tree of this run, from the hierarchy's root to the container",
            tree(live, style),
        ),
        draw::picture(
            "Without a limit: the same hog, and what it took",
            tree(broken, style),
        ),
    ]
}
