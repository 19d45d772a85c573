//! podman run once with diyc as its runtime, the way tests/oci_podman.rs
//! runs it: in a private mount and network namespace (`unshare`), with
//! tmpfs over the host paths podman writes whatever its flags say (/run,
//! /dev/shm, /var/lib/containers), its store, run and temporary
//! directories on a tmpfs of their own, `--network none`, and an image
//! made with `podman import` from diyc's busybox image. Everything podman
//! made goes with that namespace; what the lesson reads afterwards (the
//! commands, config.json, the explanation) is in a directory of its own,
//! removed at the end.

use serde_json::Value;

use crate::error::Result;
use crate::event::Event;
use crate::learn::probes;
use crate::learn::session::HOST_TOOLS_PATH;
use crate::stages::cgroups::Host;
use crate::sys::{Call, Sys, on_path};

/// The image the lesson imports: diyc's busybox files, one layer.
pub const IMAGE: &str = "localhost/diyc-busybox:lesson";

/// The host directories the namespace covers with a tmpfs.
pub const COVERED: [&str; 3] = ["/run", "/dev/shm", "/var/lib/containers"];

/// How long podman's own clean-up may still run after `podman run`
/// returned, before the lesson ends it.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// podman's path, or why the part cannot run here.
pub fn find() -> std::result::Result<String, &'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Err("This part needs root, which this run does not have, so it ran nothing.");
    }
    on_path("podman").ok_or("podman is not on this PATH, so this part ran nothing.")
}

/// Where a run keeps its files: `dir`, with podman's tmpfs at `engine`
/// and what the lesson reads afterwards in `out`.
pub struct Paths {
    pub dir: String,
    pub engine: String,
    pub out: String,
}

impl Paths {
    pub fn new(dir: &str) -> Paths {
        Paths {
            dir: dir.to_string(),
            engine: format!("{dir}/engine"),
            out: format!("{dir}/out"),
        }
    }

    /// The runtime podman is given: the lesson's wrapper.
    pub fn wrapper(&self) -> String {
        format!("{}/bin/diyc-oci", self.engine)
    }
}

/// What one podman run showed.
pub struct Ran {
    /// podman run's exit status; None when the script stopped before it.
    pub status: Option<i32>,
    /// Everything the script and podman printed.
    pub output: String,
    /// The runtime commands, one line each, as podman gave them.
    pub commands: Vec<String>,
    /// The bundle's config.json, as create saw it.
    pub config: Option<Value>,
    /// What diyc-oci create wrote to DIYC_EXPLAIN.
    pub explanation: Vec<Event>,
    /// Containers podman still listed after the run.
    pub left: Vec<String>,
    /// Processes of the namespace the lesson had to end.
    pub ended: Vec<i32>,
    /// The container's cgroup directories the lesson had to remove.
    pub cgroups_removed: Vec<String>,
}

/// A string as one shell word, in double quotes: the script holds no
/// single quote, so the command line diyc shows for it stays one a shell
/// would read the same way.
pub fn quoted(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The wrapper podman runs as its runtime: it logs each command, keeps a
/// copy of create's config.json (with --rm podman removes the bundle),
/// sets DIYC_EXPLAIN and runs diyc-oci (diyc's binary under that name).
pub fn wrapper(paths: &Paths) -> String {
    let out = &paths.out;
    format!(
        "#!/bin/sh\n\
         echo \"$*\" >> {commands}\n\
         b=; for a; do [ \"$b\" = --bundle ] && cp \"$a/config.json\" {out}; b=$a; done\n\
         DIYC_EXPLAIN={explain} exec {oci} \"$@\"\n",
        commands = quoted(&format!("{out}/commands")),
        out = quoted(&format!("{out}/")),
        explain = quoted(&format!("{out}/explain.json")),
        oci = quoted(&format!("{}/oci/diyc-oci", paths.engine)),
    )
}

/// Where podman keeps its run-time state: in the namespace's /run, since
/// podman refuses a run root longer than 50 characters.
pub const RUN: &str = "/run/diyc-lesson";

/// podman and its flags: its store in the engine's tmpfs, its run-time
/// state in the namespace's /run.
fn podman_line(podman: &str, e: &str) -> String {
    format!(
        "{} --root {e}/store --runroot {RUN}/run --tmpdir {RUN}/tmp --network-config-dir {e}/netconf \
         --cgroup-manager cgroupfs --events-backend file",
        quoted(podman)
    )
}

/// The run's arguments after `podman`, as the lesson shows them.
pub fn run_args(paths: &Paths, parent: &str) -> String {
    format!(
        "--runtime {} run --rm --pull never --network none --cgroups=no-conmon --cgroup-parent {} \
         --ulimit nofile=1024:4096 --ulimit nproc=4096:4096 {IMAGE} true",
        quoted(&paths.wrapper()),
        quoted(parent)
    )
}

/// The script the namespace runs. Lines starting `diyc-lesson:` are for
/// the lesson to read back.
pub fn script(paths: &Paths, podman: &str, diyc: &str, parent: &str, image: &str) -> String {
    let e = quoted(&paths.engine);
    let podman_dir = std::path::Path::new(podman)
        .parent()
        .map_or(String::new(), |d| format!("{}:", d.display()));
    let conf = format!(
        "[engine]\nruntime_supports_json = [\"diyc-oci\"]\nimage_copy_tmp_dir = \"{}/tmp\"\n",
        paths.engine
    );
    let lines = [
        "set -e".to_string(),
        format!(
            "export PATH={}",
            quoted(&format!("{podman_dir}{HOST_TOOLS_PATH}"))
        ),
        "echo \"diyc-lesson: namespace $(readlink /proc/self/ns/mnt)\"".to_string(),
        "mount -t tmpfs -o mode=755 tmpfs /run".to_string(),
        "mount -t tmpfs -o mode=1777 tmpfs /dev/shm".to_string(),
        "mount -t tmpfs -o mode=700 tmpfs /var/lib/containers".to_string(),
        "ip link set lo up".to_string(),
        format!("mount -t tmpfs -o mode=700 tmpfs {e}"),
        format!("mkdir {e}/bin {e}/oci {e}/tmp"),
        format!("ln -s {} {e}/oci/diyc-oci", quoted(diyc)),
        format!(
            "cat > {} <<\\DIYC_WRAPPER\n{}DIYC_WRAPPER",
            quoted(&paths.wrapper()),
            wrapper(paths)
        ),
        format!("chmod 755 {}", quoted(&paths.wrapper())),
        format!("printf %s {} > {e}/containers.conf", quoted(&conf)),
        format!("export CONTAINERS_CONF={e}/containers.conf TMPDIR={e}/tmp"),
        format!("tar -C {} -cf {e}/busybox.tar .", quoted(image)),
        format!(
            "{} import {e}/busybox.tar {IMAGE} > /dev/null",
            podman_line(podman, &e)
        ),
        "set +e".to_string(),
        format!("{} {}", podman_line(podman, &e), run_args(paths, parent)),
        "echo \"diyc-lesson: run $?\"".to_string(),
        format!(
            "left=$({} ps -aq | tr \"\\n\" \" \")",
            podman_line(podman, &e)
        ),
        "echo \"diyc-lesson: left $left\"".to_string(),
        // A container left behind is removed before its namespace goes.
        format!(
            "[ -z \"$left\" ] || {} rm -af -t 0",
            podman_line(podman, &e)
        ),
        "exit 0".to_string(),
    ];
    lines.join("\n")
}

/// Run podman once through `sys` (one helper, `unshare`), wait for what
/// podman left running in its namespace, and read back what it asked for.
/// `parent` is the lessons' cgroup parent.
pub fn run(sys: &mut Sys, paths: &Paths, podman: &str, parent: &str, image: &str) -> Result<Ran> {
    let diyc = std::env::current_exe()
        .map_err(|source| crate::error::Error::Os {
            what: "finding diyc's own binary".into(),
            source,
        })?
        .display()
        .to_string();
    let unshare = ["/usr/bin/unshare", "/bin/unshare"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .unwrap_or("/usr/bin/unshare");
    let argv: Vec<String> = [
        unshare,
        "--net",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script(paths, podman, &diyc, parent, image),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (_, output) = sys.run_helper(&argv)?;
    let said = |key: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(&format!("diyc-lesson: {key}")))
            .map(str::trim)
    };
    let status = said("run").and_then(|s| s.parse().ok());
    let left = said("left")
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let ended = match said("namespace") {
        Some(ns) if !ns.is_empty() => settle(sys, ns)?,
        _ => Vec::new(),
    };
    let commands: Vec<String> = std::fs::read_to_string(format!("{}/commands", paths.out))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let config: Option<Value> = std::fs::read(format!("{}/config.json", paths.out))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let explanation = std::fs::read_to_string(format!("{}/explain.json", paths.out))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let cgroups_removed = match config
        .as_ref()
        .and_then(|c| c["linux"]["cgroupsPath"].as_str())
    {
        Some(path) => remove_cgroups(sys, path)?,
        None => Vec::new(),
    };
    Ok(Ran {
        status,
        output,
        commands,
        config,
        explanation,
        left,
        ended,
        cgroups_removed,
    })
}

/// The processes still in mount namespace `ns`, zombies aside (they have
/// no namespace to read).
fn in_namespace(ns: &str) -> Vec<i32> {
    probes::names_in("/proc")
        .iter()
        .filter_map(|n| n.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                .is_ok_and(|link| link.to_string_lossy() == ns)
        })
        .collect()
}

/// Wait for podman's clean-up (conmon's exit command) to finish in its
/// namespace; whatever is still there after PATIENCE was started by this
/// run and is ended by pid. Returns the pids it had to end.
fn settle(sys: &mut Sys, ns: &str) -> Result<Vec<i32>> {
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut left = in_namespace(ns);
    while !left.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
        left = in_namespace(ns);
    }
    for pid in &left {
        sys.call(Call::Kill {
            pid: *pid,
            signal: libc::SIGKILL,
        })?;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !in_namespace(ns).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(left)
}

/// The container's cgroup, which `delete` removes: any directory of it
/// still there (a delete that never came) is removed. Returns those.
fn remove_cgroups(sys: &mut Sys, cgroups_path: &str) -> Result<Vec<String>> {
    let dirs = Host::detect()?.parent_dirs(cgroups_path);
    let mut removed = Vec::new();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let path = dir.display().to_string();
        sys.call(Call::Rmdir { path: path.clone() })?;
        removed.push(path);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_has_no_single_quote_and_quotes_what_a_shell_would_expand() {
        assert_eq!(quoted(r#"a b"$`\"#), r#""a b\"\$\`\\""#);
        let paths = Paths::new("/state/lessons/lesson-engine");
        let script = script(&paths, "/usr/bin/podman", "/bin/diyc", "p", "/img");
        assert!(!script.contains('\''), "{script}");
        for needle in [
            "mount -t tmpfs -o mode=755 tmpfs /run\n",
            "mount -t tmpfs -o mode=700 tmpfs \"/state/lessons/lesson-engine/engine\"\n",
            "--runtime \"/state/lessons/lesson-engine/engine/bin/diyc-oci\" run --rm",
            "--network none",
            "--cgroup-parent \"p\"",
        ] {
            assert!(
                script.contains(needle),
                "{needle:?} missing from:\n{script}"
            );
        }
        let wrapper = wrapper(&paths);
        assert!(wrapper.starts_with("#!/bin/sh\n"), "{wrapper}");
        assert!(
            wrapper.contains("DIYC_EXPLAIN=\"/state/lessons/lesson-engine/out/explain.json\" exec"),
            "{wrapper}"
        );
    }
}
