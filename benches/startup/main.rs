//! How long a whole `diyc run --rm busybox true` takes, next to the same
//! namespaces made by unshare(1) and, when installed, a full OCI runtime
//! (runc.rs); `diyc exec` into a running container next to nsenter(1)
//! (exec.rs); and an OCI bundle's create, start and delete by runc and by
//! diyc's runtime mode (oci.rs).
//!
//! Run as root: `scripts/cargo-static bench --bench startup [-- --runs N]
//! [--oci-only | --phases | --against OTHER_DIYC]`, which measures the
//! static build that gets installed;
//! a plain `cargo bench --bench startup` works too, and says it measured
//! a dynamic one.
//! Speed is reported, never asserted: a missed target does not fail the
//! benchmark.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

mod against;
mod args;
mod binary;
mod cgtrees;
mod exec;
mod floor;
mod oci;
mod phases;
mod runc;
mod trampoline;

use args::{Only, parse_args};
use runc::{check_runc_clean, make_bundle, runc_once};

/// The first rounds pay for cold page caches and lazy kernel setup.
const WARMUP: usize = 3;

/// One command being measured; `run` is called with the round number,
/// which runc needs to give each container a name of its own.
pub struct Contender<'a> {
    pub label: &'static str,
    pub run: Box<dyn FnMut(usize) -> Result<Duration, String> + 'a>,
    pub times: Vec<Duration>,
}

fn main() -> ExitCode {
    // Errors come back here rather than exiting on the spot, so the
    // temporary directory has been dropped (and removed) by now.
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("startup bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("must run as root (diyc, unshare and runc all need it)".into());
    }
    let (runs, only) = parse_args()?;
    // A network namespace of the benchmark's own: diyc's bridge, veths and
    // iptables rules are made there, never on the host's network, and go
    // with it. Every command measured runs in it alike.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot make a network namespace: {e}"))?;
    timed(Command::new("ip").args(["link", "set", "lo", "up"]))?;
    let diyc = env!("CARGO_BIN_EXE_diyc");
    let tmp = tempfile::Builder::new()
        .prefix("diyc-bench-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let root = tmp.path().join("state");
    // Below the benchmark's own cgroup, as the tests do, never at the root
    // of the host's cgroup trees; removed again at the end.
    let cgroup_parent = format!("diyc-bench-{}", std::process::id());
    // `--net host` makes the namespaces unshare makes; none and bridge add
    // a network namespace, and bridge a veth pair on diyc's bridge too.
    let diyc_args = |net: &str| {
        [
            OsString::from("--root"),
            root.clone().into(),
            "run".into(),
            "--cgroup-parent".into(),
            cgroup_parent.clone().into(),
            "--net".into(),
            net.into(),
            "--rm".into(),
            "busybox".into(),
            "true".into(),
        ]
    };
    let (host_args, none_args, bridge_args) =
        (diyc_args("host"), diyc_args("none"), diyc_args("bridge"));
    // The same as --net host without a seccomp filter: what the filter
    // (compiled by libseccomp, then loaded) costs is the difference.
    let mut unconfined_args = host_args.to_vec();
    unconfined_args.splice(8..8, ["--security-opt".into(), "seccomp=unconfined".into()]);

    let _cgroups = CgroupParent(cgroup_parent.clone());

    println!(
        "building the busybox image and setting up the bridge in {}",
        root.display()
    );
    timed(Command::new(diyc).args(&bridge_args))?;
    // The first run made the store after its filter: the second caches it.
    timed(Command::new(diyc).args(&none_args))?;
    let rootfs = root.join("images/busybox/rootfs");
    let runc = runc::find_on_path("runc");
    let linked = binary::describe(Path::new(diyc));
    match only {
        Only::Oci => {
            let oci = oci::run(runc.as_deref(), Path::new(diyc), &rootfs, tmp.path(), runs);
            oci.report();
            println!("{linked}");
            return Ok(());
        }
        Only::Phases => {
            let mut plain = vec![Contender {
                label: "diyc run --net none",
                run: Box::new(|_| timed(Command::new(diyc).args(&none_args))),
                times: Vec::new(),
            }];
            measure(&mut plain, runs)?;
            let table = phases::measure(diyc, &none_args, runs)?;
            phases::report(&table, Some(stats(&plain[0].times).0), runs);
            println!("{linked}");
            return Ok(());
        }
        Only::Against(other) => {
            return against::run(
                Path::new(diyc),
                &other,
                &none_args,
                &bridge_args,
                &rootfs,
                runs,
            );
        }
        Only::All => {}
    }
    let prefix = format!("diyc-bench-{}", std::process::id());

    let mut contenders = vec![
        Contender {
            label: "diyc run --net host",
            run: Box::new(|_| timed(Command::new(diyc).args(&host_args))),
            times: Vec::new(),
        },
        Contender {
            label: "diyc run --net host, unconfined",
            run: Box::new(|_| timed(Command::new(diyc).args(&unconfined_args))),
            times: Vec::new(),
        },
        runc::unshare(&rootfs),
    ];
    match &runc {
        Some(runc) => {
            let prefix = prefix.as_str();
            let bundle = tmp.path().join("bundle");
            let spec = make_bundle(runc, &rootfs, &bundle)?;
            contenders.push(Contender {
                label: "runc run",
                run: Box::new(move |round| runc_once(runc, &bundle, spec.clone(), prefix, round)),
                times: Vec::new(),
            });
        }
        None => println!("runc line skipped: no `runc` executable on PATH"),
    }
    // A network namespace's teardown is work the kernel does after the
    // process is gone, and it slows whatever runs next: so the runs that
    // make one are measured apart from the ones that do not.
    let mut networked = vec![
        Contender {
            label: "diyc run --net none",
            run: Box::new(|_| timed(Command::new(diyc).args(&none_args))),
            times: Vec::new(),
        },
        Contender {
            label: "diyc run --net bridge",
            run: Box::new(|_| timed(Command::new(diyc).args(&bridge_args))),
            times: Vec::new(),
        },
    ];
    let mut floored =
        floor::contenders(diyc, &none_args, tmp.path(), &root, &rootfs, &cgroup_parent)?;

    println!("{WARMUP} warm-up rounds, then {runs} measured rounds, in five groups");
    measure(&mut contenders, runs)?;
    measure(&mut networked, runs)?;
    measure(&mut floored, runs)?;
    if let Some(runc) = &runc {
        check_runc_clean(runc, &prefix)?;
    }
    let target = exec::Target::start(Path::new(diyc), &root, &cgroup_parent)?;
    let mut execs = target.contenders();
    measure(&mut execs, runs)?;
    let mut starts = trampoline::contenders(rootfs.join("bin/busybox"));
    measure(&mut starts, runs)?;
    contenders.extend(networked);
    contenders.extend(floored);
    contenders.extend(execs);
    contenders.extend(starts);
    drop(target);
    // Last, and apart: it makes the benchmark a subreaper for a while.
    let oci = oci::run(runc.as_deref(), Path::new(diyc), &rootfs, tmp.path(), runs);
    let table = phases::measure(diyc, &none_args, runs)?;
    report(&contenders, runs);
    let none = contenders.iter().find(|c| c.label == "diyc run --net none");
    phases::report(&table, none.map(|c| stats(&c.times).0), runs);
    oci.report();
    println!("{linked}");
    Ok(())
}

/// Interleaved rounds: one run of each contender per round, so machine
/// noise hits them all alike.
fn measure(contenders: &mut [Contender], runs: usize) -> Result<(), String> {
    for round in 0..WARMUP + runs {
        // Starting each round with a different command keeps any cost of
        // going first (or right after another command) from landing on
        // one contender only.
        let n = contenders.len();
        for k in 0..n {
            let c = &mut contenders[(round + k) % n];
            let time = (c.run)(round)?;
            if round >= WARMUP {
                c.times.push(time);
            }
        }
    }
    Ok(())
}

/// The cgroup parent the benchmark's containers went under, removed (in
/// every cgroup tree) when the benchmark ends, however it ends.
struct CgroupParent(String);

impl Drop for CgroupParent {
    fn drop(&mut self) {
        if let Ok(host) = diyc::stages::cgroups::Host::detect() {
            for dir in host.parent_dirs(&self.0) {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// Wall time of the whole command, start to exit. Only stderr is kept, to
/// explain a failure; a non-zero exit stops the benchmark, since a timing
/// of a command that did not do its work means nothing.
pub fn timed(cmd: &mut Command) -> Result<Duration, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let what = describe(cmd);
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start `{what}`: {e}"))?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "`{what}` failed ({}): {}",
            out.status,
            stderr.trim()
        ));
    }
    Ok(elapsed)
}

fn describe(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// (median, min, p90) in milliseconds; p90 by nearest rank.
fn stats(times: &[Duration]) -> (f64, f64, f64) {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let median = if n % 2 == 1 {
        ms[n / 2]
    } else {
        (ms[n / 2 - 1] + ms[n / 2]) / 2.0
    };
    let p90 = ms[(n * 9).div_ceil(10) - 1];
    (median, ms[0], p90)
}

fn report(contenders: &[Contender], runs: usize) {
    println!();
    println!(
        "{:<32} {:>9} {:>9} {:>9}   ({runs} runs, ms)",
        "command", "median", "min", "p90"
    );
    let mut medians = Vec::new();
    for c in contenders {
        let (median, min, p90) = stats(&c.times);
        println!("{:<32} {median:>9.2} {min:>9.2} {p90:>9.2}", c.label);
        medians.push(median);
    }
    // Lines are found by label: the runc line may be missing.
    let median = |label: &str| {
        contenders
            .iter()
            .position(|c| c.label == label)
            .map(|i| medians[i])
    };
    let verdict = |met: bool| if met { "MET" } else { "NOT MET" };
    let host = median("diyc run --net host").unwrap_or(f64::NAN);
    let vs_unshare = host / median("unshare -fpmiu --mount-proc -R").unwrap_or(f64::NAN);
    println!();
    println!(
        "diyc (--net host) / unshare:      {vs_unshare:.2}x  target <= 3x: {}",
        verdict(vs_unshare <= 3.0)
    );
    if let (Some(through), Some(direct)) = (
        median("busybox true, by the trampoline"),
        median("busybox true, direct"),
    ) {
        println!(
            "the trampoline costs:             {:.2} ms (memfd, write, seal, one more exec)",
            through - direct
        );
    }
    if let Some(unconfined) = median("diyc run --net host, unconfined") {
        println!(
            "the seccomp filter costs:         {:.2} ms (--net host minus seccomp=unconfined)",
            host - unconfined
        );
    }
    match median("runc run") {
        Some(runc) => {
            let r = host / runc;
            println!(
                "diyc (--net host) / runc:         {r:.2}x  target < 1x: {}",
                verdict(r < 1.0)
            );
        }
        None => println!("diyc / runc: not measured (no runc)"),
    }
    if let (Some(bridge), Some(none)) = (
        median("diyc run --net bridge"),
        median("diyc run --net none"),
    ) {
        let r = bridge / none;
        println!(
            "diyc --net bridge / --net none:   {r:.2}x  target <= 2x: {}",
            verdict(r <= 2.0)
        );
    }
    // The promises of issue 17: the whole run next to the kernel's own
    // cost, and the network's share.
    if let Some(none) = median("diyc run --net none") {
        let vs = none / median("unshare -fpmiu --mount-proc -R").unwrap_or(f64::NAN);
        println!(
            "diyc (--net none) / unshare:      {vs:.2}x  target <= 1.5x: {}",
            verdict(vs <= 1.5)
        );
        if let Some(runc) = median("runc run") {
            let r = none / runc;
            println!(
                "diyc (--net none) / runc:         {r:.2}x  target <= 0.2x: {}",
                verdict(r <= 0.2)
            );
        }
        if let Some(bridge) = median("diyc run --net bridge") {
            let more = bridge - none;
            println!(
                "--net bridge minus --net none:    {more:+.2} ms  target <= +1 ms: {}",
                verdict(more <= 1.0)
            );
        }
    }
    floor::report(&median);
    if let (Some(exec), Some(nsenter)) =
        (median("diyc exec"), median("nsenter -t PID -m -u -i -n -p"))
    {
        let r = exec / nsenter;
        println!(
            "diyc exec / nsenter:              {r:.2}x  target <= 2x: {}",
            verdict(r <= 2.0)
        );
    }
}
