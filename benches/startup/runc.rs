//! The other programs' lines: runc running the same image, with the same
//! namespaces, as a bundle of its own; and unshare(1) making them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Contender, timed};

/// An OCI bundle of a copy of the image, asking runc for the same
/// namespaces diyc makes. The copy keeps runc's root writable, as diyc's
/// overlay is, without letting runc write into diyc's image.
pub fn make_bundle(runc: &Path, rootfs: &Path, bundle: &Path) -> Result<Value, String> {
    std::fs::create_dir(bundle).map_err(|e| format!("creating {}: {e}", bundle.display()))?;
    let copy = bundle.join("rootfs");
    timed(Command::new("cp").arg("-a").arg(rootfs).arg(&copy))?;
    timed(Command::new(runc).arg("spec").current_dir(bundle))?;
    let config = bundle.join("config.json");
    let text = std::fs::read_to_string(&config)
        .map_err(|e| format!("reading {}: {e}", config.display()))?;
    let mut spec: Value =
        serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", config.display()))?;
    let copy = copy.to_str().ok_or("the bundle path is not UTF-8")?;
    spec["root"] = json!({ "path": copy, "readonly": false });
    let process = spec
        .get_mut("process")
        .ok_or("runc spec wrote no process")?;
    process["args"] = json!(["/bin/true"]);
    process["terminal"] = json!(false);
    // Group A measures `diyc run --net host`, which makes no network
    // namespace, so runc must not either.
    spec.pointer_mut("/linux/namespaces")
        .and_then(Value::as_array_mut)
        .ok_or("runc spec wrote no linux.namespaces")?
        .retain(|ns| ns["type"] != "network");
    Ok(spec)
}

/// One `runc run`, under a name and cgroup of its own. The cgroup path is
/// relative, so runc puts it below the benchmark's own cgroup.
pub fn runc_once(
    runc: &Path,
    bundle: &Path,
    mut spec: Value,
    prefix: &str,
    round: usize,
) -> Result<Duration, String> {
    let id = format!("{prefix}-{round}");
    spec["linux"]["cgroupsPath"] = json!(id);
    let config = bundle.join("config.json");
    let text = serde_json::to_string_pretty(&spec).map_err(|e| e.to_string())?;
    std::fs::write(&config, text).map_err(|e| format!("writing {}: {e}", config.display()))?;
    let result = timed(
        Command::new(runc)
            .arg("run")
            .arg("--bundle")
            .arg(bundle)
            .arg(&id),
    );
    if result.is_err() {
        // A foreground run deletes its container on exit, but not always
        // when it fails half way.
        runc_delete(runc, &id);
    }
    result
}

fn runc_delete(runc: &Path, id: &str) {
    let _ = Command::new(runc)
        .args(["delete", "-f", id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Only our own containers are looked at (and removed): others on the
/// host are none of the benchmark's business.
pub fn check_runc_clean(runc: &Path, prefix: &str) -> Result<(), String> {
    let out = Command::new(runc)
        .args(["list", "-q"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `runc list`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`runc list -q` failed ({})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let left: Vec<&str> = text.lines().filter(|id| id.starts_with(prefix)).collect();
    if left.is_empty() {
        return Ok(());
    }
    for id in &left {
        runc_delete(runc, id);
    }
    Err(format!(
        "runc left containers behind (now deleted): {}",
        left.join(" ")
    ))
}

/// The first executable called `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// What diyc is compared with: the same namespaces (no network one)
/// made by unshare(1), `true` run in the same root filesystem.
pub fn unshare<'a>(rootfs: &Path) -> Contender<'a> {
    let rootfs = rootfs.to_path_buf();
    Contender {
        label: "unshare -fpmiu --mount-proc -R",
        run: Box::new(move |_| {
            timed(
                Command::new("unshare")
                    .args(["-fpmiu", "--mount-proc", "-R"])
                    .arg(&rootfs)
                    .arg("/bin/true"),
            )
        }),
        times: Vec::new(),
    }
}
