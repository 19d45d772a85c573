//! The benchmark's own arguments, after cargo's `--`.

use std::path::PathBuf;

const DEFAULT_RUNS: usize = 50;

/// Which part of the benchmark to run: all of it, or one part alone.
pub enum Only {
    All,
    Oci,
    Phases,
    /// This build against another diyc binary (against.rs).
    Against(PathBuf),
}

/// (runs, which part).
pub fn parse_args() -> Result<(usize, Only), String> {
    let mut runs = DEFAULT_RUNS;
    let mut only = Only::All;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // cargo appends --bench to every bench binary it runs.
            "--bench" => {}
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--runs needs a positive number")?;
            }
            "--oci-only" => only = Only::Oci,
            "--phases" => only = Only::Phases,
            "--against" => {
                let other = args.next().ok_or("--against needs a diyc binary")?;
                only = Only::Against(PathBuf::from(other));
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: [--runs N] [--oci-only | --phases | --against DIYC]"
                ));
            }
        }
    }
    Ok((runs, only))
}
