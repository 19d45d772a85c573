//! Where one `diyc run --rm --net none busybox true` spends its time,
//! phase by phase, from the times diyc puts in its own explanation
//! (`--explain=json`: every stage and call carries `at_us`, on the
//! monotonic clock this benchmark reads too), split as
//! `diyc explain --times` splits them (`diyc::explain::times`). The first
//! phase starts when the benchmark starts diyc; the last ends when diyc
//! has exited. An explained run also gathers what it shows between
//! stages, so its total is above an unexplained run's; the report gives
//! both.

use std::ffi::OsString;
use std::process::{Command, Stdio};

use diyc::event::Event;
use diyc::explain::times;
use diyc::sys::monotonic_us;

use super::WARMUP;

/// Each phase's time of one run, in order, in microseconds.
type Sample = Vec<(String, u64)>;

/// Runs `diyc ARGS --explain=json` (ARGS ends in the image and command)
/// `runs` times and returns each phase's median, in milliseconds, in the
/// order the phases came.
pub fn measure(diyc: &str, args: &[OsString], runs: usize) -> Result<Vec<(String, f64)>, String> {
    let mut samples = Vec::new();
    for round in 0..WARMUP + runs {
        let sample = once(diyc, args)?;
        if round >= WARMUP {
            samples.push(sample);
        }
    }
    Ok(medians(&samples))
}

fn once(diyc: &str, args: &[OsString]) -> Result<Sample, String> {
    // `--explain=json` goes right after `run`: before the image.
    let mut argv = args.to_vec();
    let at = argv
        .iter()
        .position(|a| a == "run")
        .ok_or("the phases need a `run` command line")?;
    argv.insert(at + 1, "--explain=json".into());
    let started = monotonic_us();
    let out = Command::new(diyc)
        .args(&argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start diyc: {e}"))?;
    let ended = monotonic_us();
    if !out.status.success() {
        return Err(format!(
            "diyc run --explain=json failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let events: Vec<Event> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut sample: Sample = times::phases(&events, Some(started), Some(ended))
        .into_iter()
        .map(|p| (p.name, p.us))
        .collect();
    sample.push(("total (explained)".into(), ended.saturating_sub(started)));
    Ok(sample)
}

fn medians(samples: &[Sample]) -> Vec<(String, f64)> {
    let mut names: Vec<String> = Vec::new();
    for sample in samples {
        for (name, _) in sample {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
        .into_iter()
        .map(|name| {
            let mut us: Vec<u64> = samples
                .iter()
                .map(|s| s.iter().find(|(n, _)| *n == name).map_or(0, |(_, t)| *t))
                .collect();
            us.sort_unstable();
            let n = us.len();
            let median = if n == 0 {
                0.0
            } else if n % 2 == 1 {
                us[n / 2] as f64
            } else {
                (us[n / 2 - 1] + us[n / 2]) as f64 / 2.0
            };
            (name, median / 1000.0)
        })
        .collect()
}

/// The table, and how an explained run compares with a plain one.
pub fn report(phases: &[(String, f64)], plain_ms: Option<f64>, runs: usize) {
    println!();
    println!("phases of `diyc run --rm --net none busybox true` ({runs} runs, median ms)");
    for (name, ms) in phases {
        println!("  {name:<40} {ms:>8.2}");
    }
    if let Some(plain) = plain_ms {
        println!("  {:<40} {plain:>8.2}", "total, the same run unexplained");
    }
}
