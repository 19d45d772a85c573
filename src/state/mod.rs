//! THE STATE WALL. Only this folder writes diyc's own files, under the
//! state root (`/var/lib/diyc` unless `--root` or `DIYC_ROOT` say
//! otherwise): images, containers and their run records, the network's
//! setup record and address leases. Every write here follows the two rules
//! of files.rs: things appear whole, and ownership is a lock.
//!
//! - files.rs: atomic writes, locks, staging directories, removal;
//! - container.rs: a container's directory and records; spec.rs what it
//!   runs with; status.rs what it is doing now;
//! - image.rs, import.rs, busybox.rs: images, imported or built;
//! - network.rs: the network's setup records and lock, network/leases.rs
//!   the address leases;
//! - sample.rs: the image lesson's sample image, an OCI layout made on
//!   the spot through the seam.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod busybox;
pub mod container;
pub mod export;
mod files;
pub mod image;
mod import;
pub mod layers;
pub mod manual;
pub mod network;
pub mod oci;
pub mod sample;
pub mod spec;
pub mod status;

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, IoContext, Result};

pub use files::{Lock, is_leftover, reclaim, remove_dir};
pub(crate) use files::{Staging, write_atomic};

pub const DEFAULT_ROOT: &str = "/var/lib/diyc";

/// The state root when none is given: the system's for root, and for
/// anyone else their own, where the XDG base directories put data.
pub fn default_root() -> Result<PathBuf> {
    if !crate::observe::rootless() {
        return Ok(PathBuf::from(DEFAULT_ROOT));
    }
    let from = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(data) = from("XDG_DATA_HOME") {
        return Ok(data.join("diyc"));
    }
    from("HOME")
        .map(|home| home.join(".local/share/diyc"))
        .ok_or_else(|| {
            Error::invalid("without root, diyc keeps its state in your home: set HOME, XDG_DATA_HOME or --root")
        })
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Where the network's records live, when not `<root>/net`: a lab's
    /// network namespace keeps its own, so it never writes over the host's.
    net: Option<PathBuf>,
}

/// A lab's own network records, removed when dropped (and by the next
/// diyc, if this one was killed).
pub struct Lab {
    _dir: Staging,
}

/// Names of containers and images: letters, digits, `_ . -`, not starting
/// with `.` or `-`, at most 32 characters. Such a name is always a single
/// path component, can never be `..`, and never looks like an option.
pub fn validate_name(kind: &str, name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty() || name.len() > 32 {
        return Err(Error::invalid(format!(
            "invalid {kind} name {name:?}: it must be 1 to 32 characters long"
        )));
    }
    if name.starts_with(['.', '-']) || !name.chars().all(ok_char) {
        return Err(Error::invalid(format!(
            "invalid {kind} name {name:?}: use letters, digits, '_', '.' and '-', not starting with '.' or '-'"
        )));
    }
    Ok(())
}

impl Store {
    /// A store at `root`, which must be absolute and free of the characters
    /// overlayfs uses to separate its options.
    pub fn new(root: impl Into<PathBuf>) -> Result<Store> {
        let root: PathBuf = root.into();
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir()
                .ctx("finding the current directory for", &root)?
                .join(root)
        };
        let text = root.to_str().ok_or_else(|| {
            Error::invalid(format!("state root {} is not valid UTF-8", root.display()))
        })?;
        if text.contains([',', ':', '\n', '\\']) {
            return Err(Error::invalid(format!(
                "state root {text:?} contains ',', ':', '\\' or a newline, which overlayfs options cannot carry"
            )));
        }
        Ok(Store { root, net: None })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    pub fn net_dir(&self) -> PathBuf {
        self.net.clone().unwrap_or_else(|| self.root.join("net"))
    }

    /// What is worth keeping between runs and can always be made again:
    /// a result kept by the key of everything it was made from, in
    /// `<root>/cache/KIND-KEY.json`. Any failure is a miss.
    pub fn cached<T: Serialize + DeserializeOwned>(
        &self,
        kind: &str,
        key: &str,
        make: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let dir = self.root.join("cache");
        let path = dir.join(format!("{kind}-{key}.json"));
        if let Ok(kept) = read_json(&path) {
            return Ok(kept);
        }
        let made = make()?;
        // Only into a store that exists (a run that fails on its image
        // makes none); one that cannot be written only means making it
        // again next time.
        if self.root.is_dir() && fs::create_dir_all(&dir).is_ok() {
            let _ = write_json(&path, &made);
        }
        Ok(made)
    }

    fn labs_dir(&self) -> PathBuf {
        self.root.join("labs")
    }

    /// The same store, with the network's records in a directory of the
    /// lab's own, for `diyc learn --lab`.
    pub fn for_lab(&self) -> Result<(Store, Lab)> {
        let labs = self.labs_dir();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&labs)
            .ctx("creating", &labs)?;
        let dir = Staging::new(&labs, "lab", "net")?;
        let store = Store {
            root: self.root.clone(),
            net: Some(dir.path().join("net")),
        };
        Ok((store, Lab { _dir: dir }))
    }

    /// Remove what killed labs left.
    pub fn reclaim_labs(&self) {
        if self.labs_dir().is_dir() {
            reclaim(&self.labs_dir());
        }
    }

    /// Whether a background sweep of every container should run now: not
    /// when another began within `interval`. It marks the start of its
    /// own. Each sweep looks at every container, so one per detached
    /// start made a burst of starts cost the square of how many run;
    /// `run`, `rm` and `ps` sweep anyway, so what a killed diyc left waits
    /// at most that long for the next of them. An unreadable mark, or one
    /// from the future (the clock went back), means sweep.
    pub fn claim_sweep(&self, interval: std::time::Duration) -> bool {
        let path = self.root.join("swept");
        let open = |new: bool| {
            fs::OpenOptions::new()
                .append(true)
                .create_new(new)
                .mode(0o600)
                .open(&path)
        };
        // A mark made just now is this sweep's own.
        if open(true).is_ok() {
            return true;
        }
        let Ok(mark) = open(false) else {
            return true;
        };
        let now = std::time::SystemTime::now();
        let recent = mark
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|then| now.duration_since(then).ok())
            .is_some_and(|age| age < interval);
        if recent {
            return false;
        }
        // Two supervisors that both find it old both sweep, which is
        // harmless: each container's lock decides who cleans it.
        let _ = mark.set_modified(now);
        true
    }

    /// Create the root and its two directories if missing (mode 0700: the
    /// layers hold files owned by root that nobody else should reach).
    pub fn create(&self) -> Result<()> {
        for dir in [self.images_dir(), self.containers_dir()] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .ctx("creating", &dir)?;
        }
        Ok(())
    }
}

/// One of diyc's records, written whole.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let data = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::encoding(format!("encoding {}", path.display()), e))?;
    write_atomic(path, &data)
}

/// One of diyc's records, read back.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let data = fs::read(path).ctx("reading", path)?;
    serde_json::from_slice(&data)
        .map_err(|e| Error::encoding(format!("{} is damaged", path.display()), e))
}

/// A file the user asked for (a lesson's transcript), written whole.
pub fn write_user_file(path: &Path, data: &[u8]) -> Result<()> {
    fs::write(path, data).ctx("writing", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rules() {
        for good in ["a", "web-1", "x.y_z", "A9", &"n".repeat(32)] {
            assert!(validate_name("container", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".x",
            "-x",
            "../x",
            "a/b",
            "a b",
            "é",
            &"n".repeat(33),
            "..",
        ] {
            assert!(validate_name("container", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_sweep_is_claimed_once_an_interval() -> std::result::Result<(), Box<dyn std::error::Error>>
    {
        let dir = tempfile::tempdir()?;
        let store = Store::new(dir.path())?;
        let hour = std::time::Duration::from_secs(3600);
        assert!(store.claim_sweep(hour), "the first sweep of a store");
        assert!(!store.claim_sweep(hour), "another within the hour");
        assert!(store.claim_sweep(std::time::Duration::ZERO));
        // A mark from the future: the clock went back since it was made.
        let mark = fs::File::options()
            .append(true)
            .open(dir.path().join("swept"))?;
        let later = std::time::SystemTime::now() + 2 * hour;
        mark.set_modified(later)?;
        assert!(store.claim_sweep(hour), "a mark from the future");
        Ok(())
    }

    #[test]
    fn roots_with_overlay_separators_are_refused() {
        assert!(Store::new("/tmp/a,b").is_err());
        assert!(Store::new("/tmp/a:b").is_err());
        assert!(Store::new("/var/lib/diyc").is_ok());
    }
}
