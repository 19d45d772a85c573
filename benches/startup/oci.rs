//! The OCI runtime lines: `create`, `start`, the container's exit and
//! `delete` of one bundle, by runc and by diyc's runtime mode (diyc's
//! binary through a `diyc-oci` symlink), on the same bundle, interleaved.
//!
//! `DIYC_BENCH_OCI_TARGET=PATH` points the symlink elsewhere (at runc, to
//! check the harness itself while diyc lacks the verbs).

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use serde_json::{Value, json};

use super::cgtrees::Parent;
use super::{WARMUP, stats, timed};

const TARGET_VAR: &str = "DIYC_BENCH_OCI_TARGET";
/// The phases of one sample, in order; `exit` is from `start` returning
/// to the container's first process reaped.
const PHASES: [&str; 4] = ["create", "start", "exit", "delete"];

/// One runtime: the program, its own state root, its samples.
struct Runtime {
    label: String,
    program: PathBuf,
    root: PathBuf,
    /// Short and unique among the runtimes: container ids and cgroups
    /// carry it.
    tag: &'static str,
    samples: Vec<[Duration; 4]>,
    /// What a `delete` that succeeded still left (then removed here).
    leftovers: Vec<String>,
}

/// The finished measurement, or why there is none, for the report.
pub struct Oci {
    runs: usize,
    runtimes: Vec<Runtime>,
    notes: Vec<String>,
}

/// Everything the lines share: the bundle, its spec, the cgroup parent.
/// Dropped after every container is gone, so the parent can go too.
struct Bench {
    bundle: PathBuf,
    spec: Value,
    cgroups: Parent,
    scratch: PathBuf,
}

/// Measures both runtimes; failures come back as notes for the report,
/// so the other lines of the benchmark still print.
pub fn run(runc: Option<&Path>, diyc: &Path, rootfs: &Path, tmp: &Path, runs: usize) -> Oci {
    let mut oci = Oci {
        runs,
        runtimes: Vec::new(),
        notes: Vec::new(),
    };
    let Some(runc) = runc else {
        oci.notes.push(
            "OCI lines skipped: no `runc` on PATH (its `runc spec` writes the config)".into(),
        );
        return oci;
    };
    if let Err(e) = measure(&mut oci, runc, diyc, rootfs, tmp) {
        oci.notes.push(format!("OCI lines stopped: {e}"));
    }
    oci
}

fn measure(
    oci: &mut Oci,
    runc: &Path,
    diyc: &Path,
    rootfs: &Path,
    tmp: &Path,
) -> Result<(), String> {
    let bench = Bench::new(runc, rootfs, tmp)?;
    let _reaper = Subreaper::set()?;
    let (target, label) = match std::env::var_os(TARGET_VAR) {
        Some(t) => {
            let label = format!("diyc-oci -> {}", Path::new(&t).display());
            (PathBuf::from(t), label)
        }
        None => (diyc.to_path_buf(), "diyc-oci".to_string()),
    };
    let bin = tmp.join("oci-bin");
    std::fs::create_dir(&bin).map_err(|e| format!("creating {}: {e}", bin.display()))?;
    let link = bin.join("diyc-oci");
    std::os::unix::fs::symlink(&target, &link)
        .map_err(|e| format!("linking {}: {e}", link.display()))?;
    let mut candidates = vec![
        Runtime::new("runc".into(), runc.to_path_buf(), tmp, "runc"),
        Runtime::new(label, link, tmp, "diyc"),
    ];
    // One sample each first: a runtime that cannot do the verbs is left
    // out in one line, and the other still measured.
    for mut rt in candidates.drain(..) {
        match rt.sample(&bench, "probe") {
            Ok(_) => oci.runtimes.push(rt),
            Err(e) => oci.notes.push(format!("{} line skipped: {e}", rt.label)),
        }
    }
    let n = oci.runtimes.len();
    for round in 0..WARMUP + oci.runs {
        for k in 0..n {
            let rt = &mut oci.runtimes[(round + k) % n];
            let phases = rt.sample(&bench, &round.to_string())?;
            if round >= WARMUP {
                rt.samples.push(phases);
            }
        }
    }
    Ok(())
}

impl Bench {
    fn new(runc: &Path, rootfs: &Path, tmp: &Path) -> Result<Bench, String> {
        let bundle = tmp.join("oci-bundle");
        std::fs::create_dir(&bundle).map_err(|e| format!("creating {}: {e}", bundle.display()))?;
        timed(
            Command::new("cp")
                .arg("-a")
                .arg(rootfs)
                .arg(bundle.join("rootfs")),
        )?;
        timed(Command::new(runc).arg("spec").current_dir(&bundle))?;
        let config = bundle.join("config.json");
        let text = std::fs::read_to_string(&config)
            .map_err(|e| format!("reading {}: {e}", config.display()))?;
        let mut spec: Value = serde_json::from_str(&text)
            .map_err(|e| format!("parsing {}: {e}", config.display()))?;
        let process = spec
            .get_mut("process")
            .ok_or("runc spec wrote no process")?;
        process["terminal"] = json!(false);
        process["args"] = json!(["true"]);
        let scratch = tmp.join("oci-scratch");
        std::fs::create_dir(&scratch)
            .map_err(|e| format!("creating {}: {e}", scratch.display()))?;
        Ok(Bench {
            bundle,
            spec,
            cgroups: Parent::new(format!("diyc-bench-oci-{}", std::process::id()))?,
            scratch,
        })
    }

    /// The bundle's config for one container: only its cgroup differs.
    fn configure(&self, cgroup: &str) -> Result<(), String> {
        let mut spec = self.spec.clone();
        spec["linux"]["cgroupsPath"] = json!(cgroup);
        let config = self.bundle.join("config.json");
        let text = serde_json::to_string_pretty(&spec).map_err(|e| e.to_string())?;
        std::fs::write(&config, text).map_err(|e| format!("writing {}: {e}", config.display()))
    }
}

impl Runtime {
    fn new(label: String, program: PathBuf, tmp: &Path, tag: &'static str) -> Runtime {
        Runtime {
            label,
            program,
            root: tmp.join("oci-root").join(tag),
            tag,
            samples: Vec::new(),
            leftovers: Vec::new(),
        }
    }

    /// One container from create to delete, cleaned up however it ends.
    fn sample(&mut self, bench: &Bench, round: &str) -> Result<[Duration; 4], String> {
        let id = format!("diyc-bench-{}-{}-{round}", std::process::id(), self.tag);
        let cgroup = format!("{}/{id}", bench.cgroups.name);
        bench.configure(&cgroup)?;
        let pid_file = bench.scratch.join(format!("{id}.pid"));
        let mut pid = None;
        let result = self.phases(bench, &id, &pid_file, &mut pid);
        if result.is_err() {
            // Its own errors would hide the first one.
            let _ = self.command(&["delete", "--force", &id]).status();
        }
        if let Some(pid) = pid {
            reap_or_kill(pid);
        }
        let _ = std::fs::remove_file(&pid_file);
        let mut left = bench.cgroups.remove(&id);
        let state = self.root.join(&id);
        if state.exists() {
            let _ = std::fs::remove_dir_all(&state);
            left.push(state.display().to_string());
        }
        // After a failure delete had no chance to tidy: only a
        // successful run's leftovers say something about the runtime.
        if result.is_ok() && !left.is_empty() {
            self.leftovers.push(left.join(" "));
        }
        result
    }

    /// `pid` is set while the container's first process is ours to reap.
    fn phases(
        &self,
        bench: &Bench,
        id: &str,
        pid_file: &Path,
        pid: &mut Option<Pid>,
    ) -> Result<[Duration; 4], String> {
        let bundle = bench
            .bundle
            .to_str()
            .ok_or("the bundle path is not UTF-8")?;
        let pid_path = pid_file.to_str().ok_or("the pid file path is not UTF-8")?;
        let create = self.verb(
            bench,
            &["create", "--bundle", bundle, "--pid-file", pid_path, id],
        )?;
        let text = std::fs::read_to_string(pid_file)
            .map_err(|e| format!("create wrote no pid file {}: {e}", pid_file.display()))?;
        let first: i32 = text
            .trim()
            .parse()
            .map_err(|_| format!("the pid file holds {:?}, not a pid", text.trim()))?;
        *pid = Some(Pid::from_raw(first));
        let start = self.verb(bench, &["start", id])?;
        let began = Instant::now();
        let status = waitpid(Pid::from_raw(first), None);
        let exit = began.elapsed();
        if status.is_ok() || status == Err(Errno::ECHILD) {
            *pid = None;
        }
        match status {
            Ok(WaitStatus::Exited(_, 0)) => {}
            Ok(other) => return Err(format!("the container's `true` ended so: {other:?}")),
            Err(Errno::ECHILD) => {
                return Err(format!(
                    "process {first} of the pid file is not the benchmark's child: \
                     it was not left to the subreaper"
                ));
            }
            Err(e) => return Err(format!("waiting for process {first}: {e}")),
        }
        let delete = self.verb(bench, &["delete", id])?;
        Ok([create, start, exit, delete])
    }

    /// `PROGRAM --root ROOT ARGS`, timed from spawn to exit. stderr goes to
    /// a file, not a pipe: create's stdio becomes the container's, and a
    /// pipe would not see its end until the container is gone.
    fn verb(&self, bench: &Bench, args: &[&str]) -> Result<Duration, String> {
        let mut err = tempfile::tempfile_in(&bench.scratch)
            .map_err(|e| format!("cannot make a file for stderr: {e}"))?;
        let sink = err.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = self.command(args);
        cmd.stderr(sink);
        let began = Instant::now();
        let status = cmd.status();
        let elapsed = began.elapsed();
        let name = self
            .program
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let status = status.map_err(|e| format!("cannot start {name}: {e}"))?;
        if status.success() {
            return Ok(elapsed);
        }
        Err(format!(
            "`{name} {}` failed ({status}): {}",
            args[0],
            first_line(&mut err)
        ))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg("--root").arg(&self.root).args(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }
}

/// The first line of what a command wrote to stderr: a usage text after
/// it would bury the reason.
fn first_line(file: &mut File) -> String {
    let mut text = String::new();
    if file.rewind().is_ok() {
        let _ = file.read_to_string(&mut text);
    }
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(nothing on stderr)")
        .to_string()
}

/// The container's first process after a failure: reaped if it is done,
/// killed first if not. It is the benchmark's own unreaped child, so its
/// pid cannot have gone to another process meanwhile.
fn reap_or_kill(pid: Pid) {
    if let Ok(WaitStatus::StillAlive) = waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
    }
}

/// The benchmark as a child subreaper while the OCI lines run: create
/// leaves the container's first process orphaned, and it must come to
/// the benchmark (to be reaped), not to the host's init.
struct Subreaper;

impl Subreaper {
    fn set() -> Result<Subreaper, String> {
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| format!("cannot become a child subreaper: {e}"))?;
        Ok(Subreaper)
    }
}

impl Drop for Subreaper {
    fn drop(&mut self) {
        let _ = nix::sys::prctl::set_child_subreaper(false);
        // Any other orphan of a runtime that came here: no zombie stays.
        while let Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) =
            waitpid(None, Some(WaitPidFlag::WNOHANG))
        {}
    }
}

impl Oci {
    pub fn report(&self) {
        println!();
        println!(
            "OCI create + start + exit + delete of one bundle ({} runs, median ms)",
            self.runs
        );
        for note in &self.notes {
            println!("{note}");
        }
        if self.runtimes.is_empty() {
            return;
        }
        print!("{:<32}", "runtime");
        for phase in PHASES {
            print!(" {phase:>8}");
        }
        println!(" {:>8} {:>8} {:>8}", "total", "min", "p90");
        let mut totals = Vec::new();
        for rt in &self.runtimes {
            print!("{:<32}", rt.label);
            for i in 0..PHASES.len() {
                let times: Vec<Duration> = rt.samples.iter().map(|s| s[i]).collect();
                print!(" {:>8.2}", stats(&times).0);
            }
            let sums: Vec<Duration> = rt.samples.iter().map(|s| s.iter().sum()).collect();
            let (median, min, p90) = stats(&sums);
            println!(" {median:>8.2} {min:>8.2} {p90:>8.2}");
            totals.push((rt.tag, median));
        }
        for rt in &self.runtimes {
            if !rt.leftovers.is_empty() {
                println!(
                    "{} left behind after delete ({} times), e.g. {}",
                    rt.label,
                    rt.leftovers.len(),
                    rt.leftovers[0]
                );
            }
        }
        let total = |tag| totals.iter().find(|(t, _)| *t == tag).map(|(_, m)| *m);
        if let (Some(diyc), Some(runc)) = (total("diyc"), total("runc")) {
            let r = diyc / runc;
            let verdict = if r <= 0.3 { "MET" } else { "NOT MET" };
            println!("diyc-oci / runc (total):          {r:.2}x  target <= 0.3x: {verdict}");
        }
    }
}
