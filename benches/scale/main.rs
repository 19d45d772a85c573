//! What diyc's costs do as containers pile up: N detached `--net none`
//! containers and M bridged ones, each start timed; `diyc ps` with 100
//! alive and with all of them; the memory of diyc's own supervisor
//! process per detached container, and the kernel's; then `diyc rm -f`
//! of them all, and a check that nothing is left.
//!
//! Run as root: `scripts/cargo-static bench --bench scale [-- --count N
//! --bridged M]` (1000 and 250 by default). Not part of CI: it takes
//! minutes and gigabytes. Figures are reported, never asserted.

// Benchmarks set up and look at the host directly.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

mod memory;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale bench: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    count: usize,
    bridged: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        count: 1000,
        bridged: 250,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = || {
            it.next()
                .and_then(|n| n.parse().ok())
                .ok_or(format!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--bench" => {}
            "--count" => args.count = number()?,
            "--bridged" => args.bridged = number()?,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: [--count N] [--bridged M]"
                ));
            }
        }
    }
    Ok(args)
}

/// One diyc command line, its state root and cgroup parent filled in.
struct Diyc {
    bin: &'static str,
    root: std::path::PathBuf,
    parent: String,
}

impl Diyc {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin);
        cmd.arg("--root").arg(&self.root).args(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs it to the end: its time and its stdout, or why it failed.
    fn timed(&self, args: &[&str]) -> Result<(Duration, String), String> {
        let start = Instant::now();
        let out = self
            .command(args)
            .output()
            .map_err(|e| format!("cannot start diyc: {e}"))?;
        let took = start.elapsed();
        if !out.status.success() {
            return Err(format!(
                "`diyc {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok((took, String::from_utf8_lossy(&out.stdout).into_owned()))
    }

    /// Starts container `name` detached, running `sleep`.
    fn start(&self, name: &str, net: &str) -> Result<Duration, String> {
        let args = [
            "run",
            "-d",
            "--name",
            name,
            "--net",
            net,
            "--cgroup-parent",
            &self.parent,
            "busybox",
            "sleep",
            "100000",
        ];
        self.timed(&args).map(|(took, _)| took)
    }

    /// The median of five `diyc ps` runs, and the lines of the last.
    fn ps(&self) -> Result<(f64, Vec<String>), String> {
        let mut times = Vec::new();
        let mut lines = Vec::new();
        for _ in 0..5 {
            let (took, out) = self.timed(&["ps"])?;
            times.push(took);
            lines = out.lines().skip(1).map(String::from).collect();
        }
        Ok((median_ms(&times), lines))
    }
}

fn median_ms(times: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    match ms.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => ms[n / 2],
        n => (ms[n / 2 - 1] + ms[n / 2]) / 2.0,
    }
}

fn run() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("must run as root".into());
    }
    let args = parse_args()?;
    // The bridge, the veths and the rules go in a network namespace of the
    // benchmark's own, never on the host's network.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot make a network namespace: {e}"))?;
    let lo = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    if !lo.is_ok_and(|s| s.success()) {
        return Err("cannot bring lo up in the benchmark's namespace".into());
    }
    let tmp = tempfile::Builder::new()
        .prefix("diyc-scale-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let diyc = Diyc {
        bin: env!("CARGO_BIN_EXE_diyc"),
        root: tmp.path().join("state"),
        parent: format!("diyc-scale-{}", std::process::id()),
    };
    let result = measure(&diyc, &args);
    // Whatever happened, every container goes, then the bridge.
    let names = all_names(&args);
    let left = cleanup(&diyc, &names);
    let _ = diyc.timed(&["teardown"]);
    remove_parent(&diyc.parent);
    if left.is_err() {
        // Its containers may still run: their records stay with them,
        // for `diyc --root DIR rm -f` to finish the job.
        let kept = tmp.keep();
        eprintln!(
            "scale bench: containers may be left; their state is in {}",
            kept.display()
        );
    }
    match (result, left) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

fn all_names(args: &Args) -> Vec<String> {
    let plain = (0..args.count).map(|i| format!("n{i}"));
    plain
        .chain((0..args.bridged).map(|i| format!("b{i}")))
        .collect()
}

fn measure(diyc: &Diyc, args: &Args) -> Result<(), String> {
    println!("building the busybox image in {}", diyc.root.display());
    diyc.timed(&[
        "run",
        "--rm",
        "--net",
        "none",
        "--cgroup-parent",
        &diyc.parent,
        "busybox",
        "true",
    ])?;
    // After the image: its files' inodes and dentries are not a container's.
    let kernel_before = memory::kernel_kib();
    let mut starts = Vec::new();
    let mut ps_100 = None;
    for i in 0..args.count {
        starts.push(diyc.start(&format!("n{i}"), "none")?);
        if i + 1 == 100.min(args.count) {
            ps_100 = Some(diyc.ps()?.0);
        }
        if (i + 1) % 100 == 0 {
            println!("  {} containers alive", i + 1);
        }
    }
    let (ps_all, lines) = diyc.ps()?;
    let kernel_after = memory::kernel_kib();
    let own = memory::supervisors(&lines);
    let mut bridged = Vec::new();
    for i in 0..args.bridged {
        bridged.push(diyc.start(&format!("b{i}"), "bridge")?);
    }
    let names = all_names(args);
    let start = Instant::now();
    cleanup(diyc, &names)?;
    let rm = start.elapsed();
    let leftovers = leftovers(diyc, start + rm)?;

    // Fifty at each end, after five that pay for cold caches: ten alone
    // swung from 0.7x to 2.2x between runs of the benchmark.
    let ends = |v: &[Duration]| {
        let skip = 5.min(v.len().saturating_sub(1));
        let k = 50.min(v.len() - skip);
        (median_ms(&v[skip..skip + k]), median_ms(&v[v.len() - k..]))
    };
    let (first, last) = ends(&starts);
    println!();
    println!(
        "{} detached --net none containers, then {} bridged",
        args.count, args.bridged
    );
    println!("  start, the first fifty (median):   {first:>8.2} ms");
    println!(
        "  start, the last fifty (median):    {last:>8.2} ms   {:.2}x  target <= 1.5x",
        last / first
    );
    if !bridged.is_empty() {
        let (bfirst, blast) = ends(&bridged);
        println!(
            "  bridged start, first / last fifty: {bfirst:.2} ms / {blast:.2} ms   {:.2}x",
            blast / bfirst
        );
    }
    if let Some(ps_100) = ps_100 {
        let few = 100.min(args.count);
        println!("  diyc ps with {few} alive:            {ps_100:>8.2} ms");
        println!(
            "  diyc ps with {} alive:           {ps_all:>8.2} ms   {:.2}x  target <= 12x",
            args.count,
            ps_all / ps_100
        );
    }
    own.report(args.count);
    if let (Some(before), Some(after)) = (kernel_before, kernel_after) {
        println!(
            "  kernel memory per container:       {:>8.0} KiB (slab, stacks, page tables, per-cpu: {} KiB more with {} alive)",
            after.saturating_sub(before) as f64 / args.count.max(1) as f64,
            after.saturating_sub(before),
            args.count
        );
    }
    println!(
        "  diyc rm -f of all {} (100 a call):  {:>8.2} s",
        names.len(),
        rm.as_secs_f64()
    );
    match leftovers.is_empty() {
        true => println!("  left behind: nothing (no container, cgroup, veth or diyc process)"),
        false => println!("  left behind: {}", leftovers.join("; ")),
    }
    Ok(())
}

/// Everything the run could have left: containers diyc still lists,
/// cgroups below the parent, veth pairs in the namespace, supervisors.
fn leftovers(diyc: &Diyc, rm_returned: Instant) -> Result<Vec<String>, String> {
    let mut left = Vec::new();
    let (_, listed) = diyc.timed(&["ps", "-a"])?;
    let containers = listed.lines().skip(1).count();
    if containers > 0 {
        left.push(format!("{containers} containers listed by diyc ps -a"));
    }
    let cgroups = memory::cgroups_below(&diyc.parent);
    if cgroups > 0 {
        left.push(format!(
            "{cgroups} cgroup directories below {}",
            diyc.parent
        ));
    }
    // A veth pair goes with its network namespace, which the kernel frees
    // a moment after the last process in it is gone, off its own work
    // queue: so the pairs are counted until none is left, for a while.
    let veths = || {
        Command::new("ip")
            .args(["-o", "link", "show", "type", "veth"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
            .unwrap_or(0)
    };
    let mut links = veths();
    while links > 0 && rm_returned.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
        links = veths();
    }
    if links > 0 {
        left.push(format!("{links} veth links, 30 s after their containers"));
    } else {
        println!(
            "  the kernel freed the last veth pair {:.0} ms after rm returned",
            rm_returned.elapsed().as_secs_f64() * 1000.0
        );
    }
    let running = memory::processes_of(diyc.bin, &diyc.root).len();
    if running > 0 {
        left.push(format!("{running} diyc processes"));
    }
    Ok(left)
}

/// `diyc rm -f` of every container named, a hundred a call; a call that
/// fails does not stop the others.
fn cleanup(diyc: &Diyc, names: &[String]) -> Result<(), String> {
    let mut failed = Vec::new();
    for chunk in names.chunks(100) {
        let mut argv = vec!["rm", "-f"];
        argv.extend(chunk.iter().map(String::as_str));
        if let Err(e) = diyc.timed(&argv) {
            failed.push(e);
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => Err(failed.join("; ")),
    }
}

/// The parent cgroup in every tree: runtimes make the levels above a
/// container's and leave them.
fn remove_parent(parent: &str) {
    if let Ok(host) = diyc::stages::cgroups::Host::detect() {
        for dir in host.parent_dirs(parent) {
            let _ = std::fs::remove_dir(dir);
        }
    }
}
