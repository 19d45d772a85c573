//! Timing the contenders, in interleaved rounds, and the report: wall
//! time (what the targets are about) and the CPU time of the commands,
//! user and system, which says where the time went.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One run: its wall time and the CPU its processes used, in seconds.
#[derive(Clone, Copy, Default)]
pub struct Sample {
    wall: f64,
    user: f64,
    sys: f64,
}

impl std::ops::AddAssign for Sample {
    fn add_assign(&mut self, o: Sample) {
        self.wall += o.wall;
        self.user += o.user;
        self.sys += o.sys;
    }
}

pub type Run<'a> = Box<dyn Fn(&str) -> Result<Sample, String> + 'a>;
pub type Clean<'a> = Box<dyn Fn(&str) -> Result<(), String> + 'a>;

/// One command measured; `run` gets a fresh name (for an image, or a
/// destination directory) each time and `clean` removes what it made.
pub struct Contender<'a> {
    pub label: &'static str,
    pub run: Run<'a>,
    pub clean: Clean<'a>,
    pub samples: Vec<Sample>,
}

/// Interleaved rounds, each contender once a round, starting with another
/// one each round so that none always follows the same one. What a run
/// made is removed right after it, untimed, and everything written back
/// (sync) before the next, so no run pays for the writeback of the one
/// before; the inputs stay in the page cache, warmed by the first round,
/// which is not counted.
pub fn measure(contenders: &mut [Contender], runs: usize) -> Result<(), String> {
    let n = contenders.len();
    for round in 0..=runs {
        for k in 0..n {
            let c = &mut contenders[(round + k) % n];
            let name = format!("bench-{round}-{k}");
            nix::unistd::sync();
            let sample = (c.run)(&name)?;
            (c.clean)(&name)?;
            if round > 0 {
                c.samples.push(sample);
            }
        }
    }
    nix::unistd::sync();
    Ok(())
}

/// User and system seconds of this process's waited-for children, from
/// /proc/self/stat (cutime, cstime: fields 16 and 17), in clock ticks of
/// 1/100 s as Linux reports them to user space.
fn children_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields are counted after the command name, which may hold spaces.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let field = |n: usize| {
        after
            .split_whitespace()
            .nth(n - 3)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    (field(16), field(17))
}

/// One command's run, start to exit. Only stderr is kept, to explain a
/// failure; a failure stops the benchmark, since the time of a command
/// that did not do its work means nothing.
pub fn timed(cmd: &mut Command) -> Result<Sample, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (user, sys) = children_cpu();
    let start = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let wall = start.elapsed();
    let (user_after, sys_after) = children_cpu();
    if !out.status.success() {
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
        return Err(format!(
            "`{} {}` failed ({}): {}",
            cmd.get_program().to_string_lossy(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(Sample {
        wall: Duration::as_secs_f64(&wall),
        user: user_after - user,
        sys: sys_after - sys,
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The table, then each target's ratio of medians. Labels are looked up
/// in the order main.rs gives: diyc flat, tar flat, diyc layers, tar layers.
pub fn report(contenders: &[Contender], runs: usize, root: &Path, judged: bool) {
    println!();
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>8} {:>8}   ({runs} runs, s)",
        "command", "median", "min", "max", "user", "sys"
    );
    let medians: Vec<f64> = contenders
        .iter()
        .map(|c| {
            let of = |f: fn(&Sample) -> f64| c.samples.iter().map(f).collect::<Vec<f64>>();
            let walls = of(|s| s.wall);
            let (min, max) = walls
                .iter()
                .fold((f64::MAX, 0.0_f64), |(lo, hi), &w| (lo.min(w), hi.max(w)));
            let wall = median(walls);
            println!(
                "{:<34} {wall:>8.3} {min:>8.3} {max:>8.3} {:>8.2} {:>8.2}",
                c.label,
                median(of(|s| s.user)),
                median(of(|s| s.sys)),
            );
            wall
        })
        .collect();
    let verdict = |r: f64, target: f64| match (judged, r <= target) {
        (false, _) => "not judged (the target is for 200 MB or more)",
        (true, true) => "PASS",
        (true, false) => "FAIL",
    };
    let flat = medians[0] / medians[1];
    let layered = medians[2] / medians[3];
    println!();
    println!(
        "flat tar, diyc / tar -xf:          {flat:.2}x  target <= 1.25x: {}",
        verdict(flat, 1.25)
    );
    println!(
        "3 layers, diyc / tar -xzf x3:      {layered:.2}x  target <= 1.0x: {}",
        verdict(layered, 1.0)
    );
    // Every image was removed, so no layer should be left either (the
    // store's lock files stay).
    let left = std::fs::read_dir(root.join("layers")).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().ends_with(".lock"))
            .count()
    });
    if left > 0 {
        println!("note: {left} entries left in the store's layers/ after every image rm");
    }
}
