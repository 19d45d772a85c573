//! The kernel's floor (floor.c): the system calls that make a `--net none`
//! container, with diyc's seccomp program and cgroup trees, made by a
//! small C program and nothing else. diyc's run minus the floor is what
//! diyc itself costs; the floor over unshare is what the isolation costs,
//! for any runtime.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use diyc::stages::cgroups::V1_CONTROLLERS;

use super::{Contender, timed};

/// The program, built by build.rs.
const FLOOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/floor"));

pub const LABEL: &str = "the kernel's floor (floor.c)";
const BESIDE: &str = "diyc run --net none, by the floor";

/// The floor's line and a `diyc run --net none` (`none_args`) beside it,
/// in a group of their own: each follows the other as often, and the
/// teardown of a bridged run's network is not left to one of them. The
/// store at `root` has run a container with the default seccomp profile
/// (its compiled program is in the cache) and made `cgroup_parent` in
/// every tree.
pub fn contenders<'a>(
    diyc: &'a str,
    none_args: &'a [OsString],
    tmp: &Path,
    root: &Path,
    rootfs: &Path,
    cgroup_parent: &str,
) -> Result<Vec<Contender<'a>>, String> {
    let program = tmp.join("floor");
    std::fs::write(&program, FLOOR).map_err(|e| format!("writing the floor: {e}"))?;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("making the floor executable: {e}"))?;
    let filter = tmp.join("floor-filter");
    std::fs::write(&filter, seccomp_program(root)?)
        .map_err(|e| format!("writing the floor's filter: {e}"))?;
    let work = tmp.join("floor-work");
    std::fs::create_dir(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let mut args: Vec<String> = [&work, rootfs, &filter]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    args.extend(trees(cgroup_parent)?);
    Ok(vec![
        Contender {
            label: BESIDE,
            run: Box::new(move |_| timed(Command::new(diyc).args(none_args))),
            times: Vec::new(),
        },
        Contender {
            label: LABEL,
            run: Box::new(move |_| timed(Command::new(&program).args(&args))),
            times: Vec::new(),
        },
    ])
}

/// diyc's compiled default filter, from its cache, as the kernel's
/// `sock_filter` array (each instruction is cached packed as one u64).
fn seccomp_program(root: &Path) -> Result<Vec<u8>, String> {
    let cache = root.join("cache");
    let entries =
        std::fs::read_dir(&cache).map_err(|e| format!("reading {}: {e}", cache.display()))?;
    let file: PathBuf = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seccomp-"))
        })
        .ok_or_else(|| format!("no compiled seccomp filter in {}", cache.display()))?;
    let text =
        std::fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", file.display()))?;
    let words = value["program"]
        .as_array()
        .ok_or_else(|| format!("{} has no program", file.display()))?;
    let mut bytes = Vec::with_capacity(words.len() * 8);
    for word in words {
        let word = word
            .as_u64()
            .ok_or_else(|| format!("{}: an instruction is not a number", file.display()))?;
        bytes.extend(word.to_ne_bytes());
    }
    Ok(bytes)
}

/// `OPTIONS:DIR` for each tree diyc puts a container in: the directory of
/// `parent` there, and the options the container's view of it is mounted
/// with (the tree's own controllers, or "cgroup2").
fn trees(parent: &str) -> Result<Vec<String>, String> {
    let host =
        diyc::stages::cgroups::Host::detect().map_err(|e| format!("finding the cgroups: {e}"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
    // (mount point, options) of each cgroup tree.
    let cgroup_mounts: Vec<(PathBuf, String)> = mounts
        .lines()
        .filter_map(|line| {
            let (fields, tail) = line.split_once(" - ")?;
            let point = fields.split(' ').nth(4)?;
            let tail: Vec<&str> = tail.split(' ').collect();
            let options = match *tail.first()? {
                "cgroup2" => "cgroup2".to_string(),
                // Only the controllers, as diyc mounts the container's view.
                "cgroup" => tail
                    .get(2)?
                    .split(',')
                    .filter(|o| V1_CONTROLLERS.contains(o))
                    .collect::<Vec<_>>()
                    .join(","),
                _ => return None,
            };
            Some((PathBuf::from(point), options))
        })
        .collect();
    host.parent_dirs(parent)
        .into_iter()
        .map(|dir| {
            let (_, options) = cgroup_mounts
                .iter()
                .filter(|(point, _)| dir.starts_with(point))
                .max_by_key(|(point, _)| point.as_os_str().len())
                .ok_or_else(|| format!("{} is in no cgroup tree", dir.display()))?;
            Ok(format!("{options}:{}", dir.display()))
        })
        .collect()
}

/// The floor's lines: diyc's own share of a `--net none` run, and the
/// share of the isolation itself, which no runtime gets under.
pub fn report(median: &dyn Fn(&str) -> Option<f64>) {
    let (Some(floor), Some(unshare)) = (median(LABEL), median("unshare -fpmiu --mount-proc -R"))
    else {
        return;
    };
    println!(
        "the kernel's floor / unshare:     {:.2}x  (the isolation's own cost: no runtime goes under it)",
        floor / unshare
    );
    if let Some(none) = median(BESIDE) {
        println!(
            "diyc (--net none) minus floor:    {:+.2} ms (diyc's own work and its trampoline; {:.2}x the floor)",
            none - floor,
            none / floor
        );
    }
}
