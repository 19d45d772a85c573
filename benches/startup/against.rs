//! `--against OTHER`: this build and another diyc binary (the build
//! before a change, say) started in the same interleaved rounds, with
//! unshare beside them, so that a change's gain is measured under one
//! machine's noise rather than by two runs an hour apart.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use super::runc::unshare;
use super::{Contender, measure, stats, timed};

pub fn run(
    this: &Path,
    other: &Path,
    none: &[OsString],
    bridge: &[OsString],
    rootfs: &Path,
    runs: usize,
) -> Result<(), String> {
    let diyc = |path: &Path, label: &'static str, args: &[OsString]| {
        let path = path.to_path_buf();
        let args = args.to_vec();
        Contender {
            label,
            run: Box::new(move |_| timed(Command::new(&path).args(&args))),
            times: Vec::new(),
        }
    };
    let mut contenders = vec![
        diyc(this, "this build, --net none", none),
        diyc(this, "this build, --net bridge", bridge),
        diyc(other, "the other, --net none", none),
        diyc(other, "the other, --net bridge", bridge),
        unshare(rootfs),
    ];
    measure(&mut contenders, runs)?;
    let median: Vec<f64> = contenders.iter().map(|c| stats(&c.times).0).collect();
    println!();
    println!("{:<32} {:>9}   ({runs} runs, ms)", "command", "median");
    for (c, m) in contenders.iter().zip(&median) {
        println!("{:<32} {m:>9.2}", c.label);
    }
    let unshare = median[4];
    println!();
    for (name, none, bridge) in [
        ("this build", median[0], median[1]),
        ("the other", median[2], median[3]),
    ] {
        println!(
            "{name:<10}  --net none / unshare: {:.2}x   bridge minus none: {:+.2} ms",
            none / unshare,
            bridge - none
        );
    }
    println!(
        "this build / the other (--net none): {:.2}x   (the other: {})",
        median[0] / median[2],
        other.display()
    );
    Ok(())
}
