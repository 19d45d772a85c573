//! What a container may use, as the user says it (`--mem 64m`, `--cpus
//! 0.5`, `--pids 100`) and as the kernel's files want it.

use std::path::{Component, Path};

/// The CFS period diyc uses: `--cpus 0.5` is 50 ms of CPU every 100 ms.
pub const CPU_PERIOD_US: u64 = 100_000;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub memory: Option<u64>,
    pub cpus: Option<f64>,
    pub pids: Option<u64>,
}

impl Limits {
    pub fn cpu_quota_us(&self) -> Option<u64> {
        self.cpus.map(|c| (c * CPU_PERIOD_US as f64).round() as u64)
    }

    /// The controllers that must exist for these limits.
    pub(super) fn required(&self) -> Vec<&'static str> {
        let mut needed = Vec::new();
        if self.memory.is_some() {
            needed.push("memory");
        }
        if self.cpus.is_some() {
            needed.push("cpu");
        }
        if self.pids.is_some() {
            needed.push("pids");
        }
        needed
    }
}

/// `--mem`: plain numbers are MiB (as diyC's `-m`); `k`, `m`, `g` and `t`
/// suffixes (optionally followed by `b` or `ib`) scale by 1024.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    if number.is_empty() {
        return Err(format!(
            "{text:?} is not a size: use MiB (64) or a unit (64m, 1g)"
        ));
    }
    if unit.starts_with('.') {
        return Err(format!(
            "{text:?}: use a whole number with a smaller unit (1536m, not 1.5g)"
        ));
    }
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" if unit.is_empty() => 20,
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("{text:?} has an unknown unit: use k, m, g or t")),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    let bytes = value
        .checked_mul(1u64 << shift)
        .filter(|b| *b <= i64::MAX as u64)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes == 0 {
        return Err("a memory limit of zero would stop anything from running".into());
    }
    Ok(bytes)
}

/// `--cpus`: a positive number of CPUs, fractions allowed, at least 0.01
/// (the kernel's smallest quota is 1 ms per period).
pub fn parse_cpus(text: &str) -> std::result::Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of CPUs (such as 0.5 or 2)"))?;
    if !value.is_finite() || value < 0.01 {
        return Err(format!("{text:?} CPUs: give at least 0.01"));
    }
    if value > 4096.0 {
        return Err(format!("{text:?} CPUs is more than any machine has"));
    }
    Ok(value)
}

/// The processes (threads count too) a container may have when `--pids`
/// is not given: enough for any service, too few for a fork bomb to
/// starve the host. podman's default is the same.
pub const DEFAULT_PIDS: u64 = 2048;

/// `--pids`: a positive count of processes (threads count too).
pub fn parse_pids(text: &str) -> std::result::Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("a process limit of zero would stop the command itself".into()),
        Ok(n) if n <= i64::MAX as u64 => Ok(n),
        _ => Err(format!("{text:?} is not a positive number of processes")),
    }
}

/// `--cgroup-parent`: a path of plain names. Absolute means from the root
/// of each cgroup tree; relative means below diyc's own cgroup.
pub fn parse_parent(text: &str) -> std::result::Result<String, String> {
    let path = Path::new(text);
    let plain = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::RootDir));
    let names_ok = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/' | '@' | ':'));
    if text.trim_matches('/').is_empty() || !plain || !names_ok {
        return Err(format!(
            "{text:?} is not a cgroup path: use names of letters, digits and _ . - @ : separated by /"
        ));
    }
    Ok(text.to_string())
}

/// A size for people: whole MiB where it is one.
pub fn human(bytes: u64) -> String {
    if bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// One of each limit, for the unit tests of the code that writes them.
#[cfg(test)]
pub(super) const EVERY_LIMIT: Limits = Limits {
    memory: Some(16 << 20),
    cpus: Some(0.5),
    pids: Some(10),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_mib_or_with_units() {
        assert_eq!(parse_size("16"), Ok(16 << 20));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("4096b"), Ok(4096));
        for bad in [
            "0",
            "0m",
            "-5",
            "x",
            "",
            "12q",
            "1.5g",
            "99999999999999999999",
            "9999999999999t",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpus_and_pids_must_be_positive() {
        assert_eq!(parse_cpus("0.5"), Ok(0.5));
        assert_eq!(
            Limits {
                cpus: Some(0.5),
                ..Limits::default()
            }
            .cpu_quota_us(),
            Some(50_000)
        );
        for bad in ["0", "-1", "abc", "NaN", "inf", "0.001", "1e9"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_pids("10"), Ok(10));
        for bad in ["0", "-3", "x", "1.5", "99999999999999999999"] {
            assert!(parse_pids(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parents_are_plain_paths() {
        assert!(parse_parent("diyc").is_ok());
        assert!(parse_parent("/diyc/lab-1").is_ok());
        for bad in ["", "/", "../x", "a/../b", "a b", "x\ny"] {
            assert!(parse_parent(bad).is_err(), "{bad:?}");
        }
    }
}
