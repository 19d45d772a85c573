//! The benchmark's own cgroup in every cgroup tree mounted here: where a
//! relative `cgroupsPath` lands (runc's rule, which diyc follows). Every
//! tree, not only the ones diyc uses: runc also writes into name=systemd
//! and, on a hybrid host, the v2 tree.

use std::path::PathBuf;

/// A relative cgroup parent of the benchmark's, in every tree; removed
/// when dropped (runtimes make the levels above a container's cgroup
/// and leave them).
pub struct Parent {
    pub name: String,
    trees: Vec<PathBuf>,
}

impl Parent {
    pub fn new(name: String) -> Result<Parent, String> {
        Ok(Parent {
            name,
            trees: own_dirs()?,
        })
    }

    /// Removes container cgroup `child` wherever it is still there, and
    /// says where that was.
    pub fn remove(&self, child: &str) -> Vec<String> {
        let (found, failed) = self.remove_dirs(&format!("{}/{child}", self.name));
        found.into_iter().chain(failed).collect()
    }

    /// (removed, not removed with why) of the (empty) directory `rel`
    /// below the benchmark's own cgroup.
    fn remove_dirs(&self, rel: &str) -> (Vec<String>, Vec<String>) {
        let (mut found, mut failed) = (Vec::new(), Vec::new());
        for tree in &self.trees {
            let dir = tree.join(rel);
            if !dir.exists() {
                continue;
            }
            match std::fs::remove_dir(&dir) {
                Ok(()) => found.push(dir.display().to_string()),
                Err(e) => failed.push(format!("{} (not removed: {e})", dir.display())),
            }
        }
        (found, failed)
    }
}

impl Drop for Parent {
    fn drop(&mut self) {
        let (_, failed) = self.remove_dirs(&self.name);
        if !failed.is_empty() {
            eprintln!("startup bench: {}", failed.join(", "));
        }
    }
}

/// The benchmark's own cgroup directory in each tree mounted here.
fn own_dirs() -> Result<Vec<PathBuf>, String> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("reading /proc/self/cgroup: {e}"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("reading /proc/self/mountinfo: {e}"))?;
    // hierarchy-id:controllers:path; v2's line has no controllers.
    let own: Vec<(Vec<&str>, &str)> = cgroups
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?.split(',').filter(|c| !c.is_empty());
            Some((controllers.collect(), parts.next()?))
        })
        .collect();
    let mut dirs = Vec::new();
    for line in mounts.lines() {
        let Some((fields, tail)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = fields.split(' ').collect();
        let tail: Vec<&str> = tail.split(' ').collect();
        let (Some(root), Some(point), Some(fstype)) = (fields.get(3), fields.get(4), tail.first())
        else {
            continue;
        };
        let options: Vec<&str> = tail.get(2).map_or(Vec::new(), |o| o.split(',').collect());
        let path = match *fstype {
            "cgroup2" => own.iter().find(|(c, _)| c.is_empty()),
            "cgroup" => own
                .iter()
                .find(|(c, _)| !c.is_empty() && c.iter().all(|c| options.contains(c))),
            _ => continue,
        };
        let Some((_, path)) = path else { continue };
        // A tree mounted from below its root shows only what is under
        // that root; a cgroup outside it cannot be reached there.
        let inside = match path.strip_prefix(root.trim_end_matches('/')) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
            _ => continue,
        };
        let dir = PathBuf::from(point).join(inside.trim_start_matches('/'));
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    Ok(dirs)
}
