//! How long `diyc image import` takes next to tar(1) unpacking the same
//! bytes: a flat root filesystem tar against `tar -xf`, and a three-layer
//! OCI image layout (gzip layers) against `tar -xzf` of each layer, one
//! after another, into one directory. The inputs are made on the spot
//! (inputs.rs) on the same filesystem as the store and tar's directories:
//! /tmp, or with --tmpfs a tmpfs of the benchmark's own, where creating a
//! file costs next to nothing and what is left is each tool's own work.
//!
//! Run as root: `cargo bench --bench import [-- --runs N] [--size MB]
//! [--tmpfs] [--keep]` (--keep leaves the inputs, to profile by hand).
//! Speed is reported, never asserted: a missed target does not fail it.

// Benchmarks set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

mod inputs;
mod measure;

use measure::{Clean, Contender, Run, Sample, measure, report, timed};

const DEFAULT_RUNS: usize = 7;
/// Bytes of file data in the flat tar; the layers hold the same, in three.
const DEFAULT_MB: u64 = 240;

fn main() -> ExitCode {
    // Errors come back here, after the temporary directory is removed.
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("import bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A tmpfs mounted at its path, in the benchmark's own mount namespace,
/// unmounted before the directory under it is removed.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Result<Tmpfs, String> {
        use nix::mount::{MsFlags, mount};
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
            .map_err(|e| format!("cannot make a mount namespace: {e}"))?;
        // Nothing mounted here may reach the host's namespace.
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| format!("cannot make mounts private: {e}"))?;
        std::fs::create_dir(at).map_err(|e| format!("cannot create {}: {e}", at.display()))?;
        mount(
            Some("diyc-import-bench"),
            at,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=4g"),
        )
        .map_err(|e| format!("cannot mount a tmpfs on {}: {e}", at.display()))?;
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn run() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("must run as root (an import keeps owners, as tar does for root)".into());
    }
    let Args {
        runs,
        mb,
        keep,
        tmpfs,
    } = parse_args()?;
    // An import needs no network; a namespace of its own all the same, so
    // nothing the benchmark starts can touch the host's.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot make a network namespace: {e}"))?;
    let diyc = env!("CARGO_BIN_EXE_diyc");
    // In /tmp, as the store and tar's directories: one filesystem for all.
    let tmp = tempfile::Builder::new()
        .prefix("diyc-import-bench-")
        .tempdir_in("/tmp")
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let (base, _mounted) = if tmpfs {
        let at = tmp.path().join("tmpfs");
        let mounted = Tmpfs::mount(&at)?;
        (at, Some(mounted))
    } else {
        (tmp.path().to_path_buf(), None)
    };
    let root = base.join("state");

    let started = Instant::now();
    let entries = inputs::pick(mb << 20)?;
    let flat = base.join("rootfs.tar");
    let counts = inputs::flat(&flat, &entries)?;
    let oci = base.join("oci");
    let layers = inputs::layout(&oci, &entries)?;
    let tar_mb = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len()) >> 20;
    println!(
        "inputs made in {:.1} s in {}{}:",
        started.elapsed().as_secs_f64(),
        base.display(),
        if tmpfs { " (a tmpfs)" } else { "" }
    );
    println!(
        "  flat tar: {} MB; {} files ({} MB of data), {} directories, {} symbolic links",
        tar_mb(&flat),
        counts.files,
        counts.bytes >> 20,
        counts.dirs,
        counts.links
    );
    for (n, l) in layers.iter().enumerate() {
        println!(
            "  layer {n}: {} MB gzip of {} MB in {} files",
            l.compressed >> 20,
            l.counts.bytes >> 20,
            l.counts.files
        );
    }

    let cgroup_parent = format!("diyc-import-bench-{}", std::process::id());
    let diyc_cmd = |args: &[OsString]| {
        let mut cmd = Command::new(diyc);
        cmd.arg("--root").arg(&root).args(args);
        // Import makes no cgroup; should it ever, not at the tree's top.
        cmd.env("DIYC_CGROUP_PARENT", &cgroup_parent);
        cmd
    };
    let import = |source: &Path| {
        let source = source.to_path_buf();
        Box::new(move |name: &str| {
            timed(&mut diyc_cmd(&[
                "image".into(),
                "import".into(),
                name.into(),
                source.clone().into(),
            ]))
        }) as Run
    };
    let rm_image = || {
        Box::new(|name: &str| {
            timed(&mut diyc_cmd(&["image".into(), "rm".into(), name.into()])).map(drop)
        }) as Clean
    };
    // tar unpacks beside diyc's own staging directories, in the store's
    // layers/, under a name no diyc command in between would touch (only
    // `image rm` removes unknown names there, and never while one is
    // there): ext4 places a new directory's inodes by its parent's, and
    // on a filesystem without a journal it skips the slots of inodes
    // deleted in the last minute one by one, so a destination elsewhere
    // would be measured on other ground (twice as fast, or half).
    let tar_dir = |name: &str| root.join("layers").join(format!("tar-{name}"));
    let fresh = |name: &str| -> Result<PathBuf, String> {
        let dir = tar_dir(name).join("fs");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(dir)
    };
    let rm_dir = || {
        Box::new(|name: &str| {
            std::fs::remove_dir_all(tar_dir(name)).map_err(|e| format!("cannot remove {name}: {e}"))
        }) as Clean
    };
    let untar = |flags: &str, file: &Path, dir: &Path| {
        timed(Command::new("tar").arg(flags).arg(file).arg("-C").arg(dir))
    };
    let blobs: Vec<PathBuf> = layers.iter().map(|l| l.path.clone()).collect();
    let mut contenders = vec![
        Contender {
            label: "diyc image import (flat tar)",
            run: import(&flat),
            clean: rm_image(),
            samples: Vec::new(),
        },
        Contender {
            label: "tar -xf (flat tar)",
            run: Box::new(|name| untar("-xf", &flat, &fresh(name)?)),
            clean: rm_dir(),
            samples: Vec::new(),
        },
        Contender {
            label: "diyc image import (3-layer OCI)",
            run: import(&oci),
            clean: rm_image(),
            samples: Vec::new(),
        },
        Contender {
            label: "tar -xzf x3, one after another",
            run: Box::new(|name| {
                let dir = fresh(name)?;
                let mut total = Sample::default();
                for blob in &blobs {
                    total += untar("-xzf", blob, &dir)?;
                }
                Ok(total)
            }),
            clean: rm_dir(),
            samples: Vec::new(),
        },
    ];
    println!("one warm-up round, then {runs} measured rounds");
    measure(&mut contenders, runs)?;
    // The targets are for a large tar: in a small one diyc's fixed costs
    // (its threads, its records) weigh more than the unpacking measured.
    report(&contenders, runs, &root, mb >= 200);
    drop(contenders);
    if keep {
        let kept = tmp.keep();
        println!("inputs kept in {} (remove it when done)", kept.display());
    }
    Ok(())
}

struct Args {
    runs: usize,
    /// On a tmpfs of the benchmark's own, not /tmp's filesystem.
    tmpfs: bool,
    /// Bytes of file data in the inputs, in MiB.
    mb: u64,
    /// Leave the inputs, to profile an import by hand.
    keep: bool,
}

fn parse_args() -> Result<Args, String> {
    let (mut runs, mut mb, mut keep, mut tmpfs) = (DEFAULT_RUNS, DEFAULT_MB, false, false);
    let mut args = std::env::args().skip(1);
    let usage = "usage: [--runs N] [--size MB] [--tmpfs] [--keep]";
    while let Some(arg) = args.next() {
        let mut number = |what: &str| {
            args.next()
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|&n| n > 0)
                .ok_or(format!("{what} needs a positive number; {usage}"))
        };
        match arg.as_str() {
            // cargo appends --bench to every bench binary it runs.
            "--bench" => {}
            "--runs" => runs = number("--runs")? as usize,
            "--size" => mb = number("--size")?,
            "--keep" => keep = true,
            "--tmpfs" => tmpfs = true,
            other => return Err(format!("unknown argument {other:?}; {usage}")),
        }
    }
    if keep && tmpfs {
        return Err("--keep cannot keep what is on a tmpfs; use one or the other".into());
    }
    Ok(Args {
        runs,
        mb,
        keep,
        tmpfs,
    })
}
