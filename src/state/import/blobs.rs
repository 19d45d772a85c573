//! The files of an image archive, read where they lie: in an OCI layout
//! or `docker save` directory, or inside an uncompressed archive of one,
//! whose entries are found once by their headers and then read in place
//! (no copy is unpacked first). Names never lead outside the archive.

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use super::unpack::{Budgeted, HEADERS};

/// Small files (index, manifests, configs) are read whole, up to this.
const SMALL: u64 = 16 << 20;

pub enum Blobs {
    Dir(PathBuf),
    Tar {
        file: PathBuf,
        /// Regular files: where their data starts, and its length.
        files: HashMap<String, (u64, u64)>,
        /// Symbolic links (`docker save` links a layer to its blob).
        links: HashMap<String, String>,
    },
}

/// `a/./b/` as `a/b`; None if it climbs out or is absolute.
fn normal(name: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// Could an entry of this name be part of an OCI layout or a `docker
/// save` archive? Their top level holds only their records, `blobs/` and
/// files or directories named by a digest.
fn archive_name(name: &str) -> bool {
    let top = name.split('/').next().unwrap_or_default();
    let stem = top.split('.').next().unwrap_or_default();
    matches!(
        top,
        "" | "oci-layout" | "index.json" | "manifest.json" | "repositories" | "blobs"
    ) || (stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Blobs {
    /// The entries of an uncompressed tar, by their headers alone; None
    /// as soon as one could not be part of an image archive (a root
    /// filesystem's `bin/`), so a flat tar costs a header or two here.
    pub fn index_tar(path: &Path) -> io::Result<Option<Blobs>> {
        let budget = Rc::new(Cell::new(HEADERS));
        let mut archive = tar::Archive::new(Budgeted {
            inner: File::open(path)?,
            budget: budget.clone(),
        });
        let (mut files, mut links) = (HashMap::new(), HashMap::new());
        for entry in archive.entries_with_seek()? {
            let entry = entry?;
            // Data is skipped by seeking; only headers are read.
            budget.set(HEADERS);
            let Some(name) = entry.path()?.to_str().and_then(normal) else {
                continue;
            };
            if !archive_name(&name) {
                return Ok(None);
            }
            let kind = entry.header().entry_type();
            if kind.is_file() {
                files.insert(name, (entry.raw_file_position(), entry.size()));
            } else if kind.is_symlink() {
                if let Some(target) = entry.link_name()? {
                    let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
                    if let Some(t) = dir.join(target).to_str().and_then(normal) {
                        links.insert(name, t);
                    }
                }
            }
        }
        Ok(Some(Blobs::Tar {
            file: path.to_path_buf(),
            files,
            links,
        }))
    }

    /// Is there a file by this name?
    pub fn has(&self, name: &str) -> bool {
        self.locate(name).is_ok()
    }

    /// Where a file's bytes are: a path, or a slice of the archive.
    fn locate(&self, name: &str) -> Result<(PathBuf, u64, u64), String> {
        let missing = || format!("it names {name}, which it does not hold");
        let mut name = normal(name).ok_or_else(|| format!("it names {name}, outside itself"))?;
        match self {
            Blobs::Dir(dir) => {
                let path = dir.join(&name);
                let real = path.canonicalize().map_err(|_| missing())?;
                let top = dir.canonicalize().map_err(|_| missing())?;
                if !real.starts_with(&top) {
                    return Err(format!("it names {name}, outside itself through a link"));
                }
                let meta = real.metadata().map_err(|_| missing())?;
                if !meta.is_file() {
                    return Err(missing());
                }
                Ok((real, 0, meta.len()))
            }
            Blobs::Tar { file, files, links } => {
                for _ in 0..8 {
                    if let Some(&(at, len)) = files.get(&name) {
                        return Ok((file.clone(), at, len));
                    }
                    name = links.get(&name).ok_or_else(missing)?.clone();
                }
                Err(missing())
            }
        }
    }

    /// A file's bytes, as a stream, and how many there are.
    pub fn open(&self, name: &str) -> Result<(io::Take<File>, u64), String> {
        let (path, at, len) = self.locate(name)?;
        let opened = (|| {
            let mut f = File::open(&path)?;
            f.seek(SeekFrom::Start(at))?;
            Ok::<_, io::Error>(f.take(len))
        })();
        opened
            .map(|f| (f, len))
            .map_err(|e| format!("cannot read {name}: {e}"))
    }

    /// A small file whole (a manifest, a config).
    pub fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        let (mut f, len) = self.open(name)?;
        if len > SMALL {
            return Err(format!(
                "its {name} is {len} bytes, too large for what it should be"
            ));
        }
        let mut data = Vec::new();
        f.read_to_end(&mut data)
            .map_err(|e| format!("cannot read {name}: {e}"))?;
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_archive_s_own_names_keep_the_scan_going() {
        for name in [
            "oci-layout",
            "blobs/sha256/ab",
            "manifest.json",
            &"a".repeat(64),
        ] {
            assert!(archive_name(name), "{name}");
        }
        let layer = format!("{}/layer.tar", "b".repeat(64));
        assert!(archive_name(&layer));
        for name in ["bin/sh", "etc", "usr/lib/x.so"] {
            assert!(!archive_name(name), "{name}");
        }
    }

    #[test]
    fn names_are_kept_inside() {
        assert_eq!(
            normal("./blobs/sha256/ab").as_deref(),
            Some("blobs/sha256/ab")
        );
        assert_eq!(normal("a/../b").as_deref(), Some("b"));
        assert_eq!(normal("../etc/passwd"), None);
        assert_eq!(normal("/etc/passwd"), None);
    }
}
