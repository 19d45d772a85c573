//! The benchmark's inputs, made on the spot from this machine's own /usr,
//! so they look like a real root filesystem: thousands of small files
//! (docs, locales, man pages), some large ones (shared libraries), their
//! directories and symbolic links. The same entries become a flat tar and
//! a three-layer OCI image layout whose gzip layers are also given to tar.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Where the entries come from: the large files and the small ones, an
/// equal share of bytes from each.
const SOURCES: [&str; 2] = ["/usr/lib/x86_64-linux-gnu", "/usr/share"];

/// Files above this are left out.
const LARGEST: u64 = 32 << 20;

/// One entry, named in the tar as its host path without the leading `/`.
pub struct Entry {
    src: PathBuf,
    /// Bytes of data, for a regular file.
    size: u64,
}

/// What went into one tar, for the report.
#[derive(Default, Clone, Copy)]
pub struct Counts {
    pub bytes: u64,
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
}

/// Entries of SOURCES, walked in name order, until `budget` bytes of file
/// data (half from each source).
pub fn pick(budget: u64) -> Result<Vec<Entry>, String> {
    let share = budget / SOURCES.len() as u64;
    let mut entries = Vec::new();
    let mut seen = Seen::new();
    for root in SOURCES {
        let mut taken = 0;
        walk(Path::new(root), share, &mut taken, &mut seen, &mut entries)
            .map_err(|e| format!("cannot read {root}: {e}"))?;
        if taken < share {
            return Err(format!(
                "{root} holds only {} MB of files; ask for a smaller --size",
                taken >> 20
            ));
        }
    }
    Ok(entries)
}

/// Files already taken under another name, by (device, inode).
type Seen = HashSet<(u64, u64)>;

fn walk(
    dir: &Path,
    share: u64,
    taken: &mut u64,
    seen: &mut Seen,
    out: &mut Vec<Entry>,
) -> io::Result<()> {
    let mut names: Vec<PathBuf> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for src in names {
        if *taken >= share {
            break;
        }
        let meta = fs::symlink_metadata(&src)?;
        let kind = meta.file_type();
        if kind.is_dir() {
            out.push(Entry {
                src: src.clone(),
                size: 0,
            });
            walk(&src, share, taken, seen, out)?;
        } else if kind.is_file() {
            // Hard links (Mesa's drivers are one file under a dozen
            // names) would make a few large files most of the bytes.
            // One 100 MB library would be a layer by itself; a base
            // image's bytes are spread over many files.
            if meta.len() > LARGEST || (meta.nlink() > 1 && !seen.insert((meta.dev(), meta.ino())))
            {
                continue;
            }
            *taken += meta.len();
            out.push(Entry {
                src,
                size: meta.len(),
            });
        } else if kind.is_symlink() {
            out.push(Entry { src, size: 0 });
        }
    }
    Ok(())
}

/// Passes bytes on and hashes them with SHA-256.
struct Hashed<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W> Hashed<W> {
    fn new(inner: W) -> Self {
        Hashed {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    fn digest(&self) -> String {
        hex::encode(self.hash.clone().finalize())
    }
}

/// The entries as a tar into `out`, each directory above an entry written
/// before it (a layer starting deep in a tree still holds its parents).
fn write_tar<W: Write>(out: W, entries: &[Entry]) -> io::Result<(W, Counts)> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut made: HashSet<PathBuf> = HashSet::new();
    let mut counts = Counts::default();
    for entry in entries {
        let name = entry.src.strip_prefix("/").unwrap_or(&entry.src);
        let mut above: Vec<&Path> = name
            .ancestors()
            .skip(1)
            .filter(|a| !a.as_os_str().is_empty())
            .collect();
        above.reverse();
        for dir in above {
            if made.insert(dir.to_path_buf()) {
                tar.append_path_with_name(Path::new("/").join(dir), dir)?;
                counts.dirs += 1;
            }
        }
        if !made.insert(name.to_path_buf()) {
            continue;
        }
        tar.append_path_with_name(&entry.src, name)?;
        let kind = fs::symlink_metadata(&entry.src)?.file_type();
        if kind.is_dir() {
            counts.dirs += 1;
        } else if kind.is_symlink() {
            counts.links += 1;
        } else {
            counts.files += 1;
            counts.bytes += entry.size;
        }
    }
    let out = tar.into_inner()?;
    Ok((out, counts))
}

/// The flat root filesystem tar, uncompressed.
pub fn flat(path: &Path, entries: &[Entry]) -> Result<Counts, String> {
    let cannot = |e: io::Error| format!("cannot write {}: {e}", path.display());
    let file = File::create(path).map_err(cannot)?;
    let (mut out, counts) =
        write_tar(BufWriter::with_capacity(1 << 20, file), entries).map_err(cannot)?;
    out.flush().map_err(cannot)?;
    Ok(counts)
}

/// One gzip layer, in the layout's blobs under its digest.
pub struct Layer {
    /// Its blob, which is also what `tar -xzf` is given.
    pub path: PathBuf,
    pub digest: String,
    pub diff_id: String,
    pub compressed: u64,
    pub counts: Counts,
}

/// An OCI image layout in `dir` whose layers are `entries` cut in three
/// runs of about equal bytes, compressed at gzip's default level (as
/// docker and podman write them), each on a thread of its own.
pub fn layout(dir: &Path, entries: &[Entry]) -> Result<Vec<Layer>, String> {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(|e| format!("cannot create {}: {e}", blobs.display()))?;
    let total: u64 = entries.iter().map(|e| e.size).sum();
    // Each cut after the first entry that fills its share, and never
    // where the last one was: a large file may fill two shares at once.
    let mut cuts = vec![0];
    let mut sum = 0;
    for (i, e) in entries.iter().enumerate() {
        sum += e.size;
        let last = cuts[cuts.len() - 1];
        if cuts.len() < 3 && sum >= total * cuts.len() as u64 / 3 && i + 1 > last {
            cuts.push(i + 1);
        }
    }
    cuts.push(entries.len());
    let layers = std::thread::scope(|scope| {
        let jobs: Vec<_> = cuts
            .windows(2)
            .enumerate()
            .map(|(n, w)| {
                let (part, blobs) = (&entries[w[0]..w[1]], &blobs);
                scope.spawn(move || gzip_layer(blobs, n, part))
            })
            .collect();
        jobs.into_iter()
            .map(|j| {
                j.join()
                    .unwrap_or_else(|_| Err("a layer's thread panicked".into()))
            })
            .collect::<Result<Vec<_>, String>>()
    })?;
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", l.diff_id))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Cmd": ["/bin/sh"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let config = put(
        &blobs,
        &serde_json::to_vec(&config).map_err(|e| e.to_string())?,
    )?;
    let described: Vec<_> = layers
        .iter()
        .map(|l| {
            serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": format!("sha256:{}", l.digest),
                "size": l.compressed,
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{}", config.0),
            "size": config.1,
        },
        "layers": described,
    });
    let manifest = put(
        &blobs,
        &serde_json::to_vec(&manifest).map_err(|e| e.to_string())?,
    )?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", manifest.0),
            "size": manifest.1,
        }],
    });
    let write = |name: &str, data: &[u8]| {
        fs::write(dir.join(name), data).map_err(|e| format!("cannot write {name}: {e}"))
    };
    write(
        "index.json",
        &serde_json::to_vec(&index).map_err(|e| e.to_string())?,
    )?;
    write("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(layers)
}

/// A small blob under its digest: (hex, size).
fn put(blobs: &Path, data: &[u8]) -> Result<(String, usize), String> {
    let hex = hex::encode(Sha256::digest(data));
    fs::write(blobs.join(&hex), data).map_err(|e| format!("cannot write a blob: {e}"))?;
    Ok((hex, data.len()))
}

fn gzip_layer(blobs: &Path, n: usize, entries: &[Entry]) -> Result<Layer, String> {
    let partial = blobs.join(format!("layer-{n}.partial"));
    let cannot = |e: io::Error| format!("cannot write layer {n}: {e}");
    let file = File::create(&partial).map_err(cannot)?;
    let stored = Hashed::new(BufWriter::with_capacity(1 << 20, file));
    let gz = flate2::write::GzEncoder::new(stored, flate2::Compression::default());
    let (tar, counts) = write_tar(Hashed::new(gz), entries).map_err(cannot)?;
    let diff_id = tar.digest();
    let mut stored = tar.inner.finish().map_err(cannot)?;
    stored.flush().map_err(cannot)?;
    let digest = stored.digest();
    let path = blobs.join(&digest);
    fs::rename(&partial, &path).map_err(cannot)?;
    Ok(Layer {
        path,
        digest,
        diff_id,
        compressed: stored.bytes,
        counts,
    })
}
