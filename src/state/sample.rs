//! The image lesson's sample image, made on the spot: two small layers
//! meant to sit on the built-in busybox image, the way an image built
//! `FROM busybox` adds its own. Layer 1 holds an old message of the day
//! and a web site of two pages; layer 2 deletes the message with a
//! whiteout and replaces the site with an opaque directory of one page.
//!
//! Written as an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/...`: a manifest, a config that lists the layers'
//! diff_ids, and each layer as a gzip'd tar) into a directory the lesson
//! gives, for `diyc image import` to read like any other. Every file goes
//! through the seam, so the lesson shows each one. The tars are made in
//! memory with fixed times and owners, so the digests are the same on
//! every machine.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::sys::{Call, Sys};

/// The file layer 1 holds and layer 2 deletes.
pub const DELETED: &str = "etc/motd-old";
/// The directory layer 2 makes opaque, and what each layer puts in it.
pub const OPAQUE: &str = "srv/site";
pub const OLD_PAGES: [&str; 2] = ["a.html", "b.html"];
pub const NEW_PAGE: &str = "index.html";
/// The name the layout gives its image.
pub const REFERENCE: &str = "lesson-site:1";

/// One entry of a layer's tar.
enum Entry {
    Dir(&'static str),
    File(&'static str, &'static str),
}

const LAYER_1: &[Entry] = &[
    Entry::Dir("etc"),
    Entry::File(
        DELETED,
        "Welcome! (the old message, which layer 2 deletes)\n",
    ),
    Entry::Dir("srv"),
    Entry::Dir(OPAQUE),
    Entry::File("srv/site/a.html", "<p>page a, from layer 1</p>\n"),
    Entry::File("srv/site/b.html", "<p>page b, from layer 1</p>\n"),
];

/// The OCI image spec's marks, as a tar holds them: an empty file
/// `.wh.NAME` deletes NAME from the layers below; `.wh..wh..opq` hides
/// everything below in its directory.
const LAYER_2: &[Entry] = &[
    Entry::Dir("etc"),
    Entry::File("etc/.wh.motd-old", ""),
    Entry::Dir("srv"),
    Entry::Dir(OPAQUE),
    Entry::File("srv/site/.wh..wh..opq", ""),
    Entry::File("srv/site/index.html", "<p>the new site, from layer 2</p>\n"),
];

/// What each layer's step would be in a Dockerfile, for the history.
const MADE_BY: [&str; 2] = [
    "COPY motd-old /etc/ and site/ /srv/site/",
    "RUN rm /etc/motd-old && rm -r /srv/site && mkdir /srv/site && echo ... > /srv/site/index.html",
];

/// One layer, made.
pub struct Layer {
    /// The tar, uncompressed: what the diff_id is the digest of.
    pub tar: Vec<u8>,
    /// The tar compressed with gzip: the file in `blobs/`.
    pub blob: Vec<u8>,
    /// SHA-256 of `tar`, in hex: the layer's name in diyc's store.
    pub diff_id: String,
    /// SHA-256 of `blob`, in hex: its name in the layout.
    pub digest: String,
    /// Its entries' names as the tar holds them, in order.
    pub names: Vec<String>,
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn encoding(what: &str, e: std::io::Error) -> Error {
    Error::invalid(format!("making the sample image's {what}: {e}"))
}

fn tar_of(entries: &[Entry]) -> Result<(Vec<u8>, Vec<String>)> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut names = Vec::new();
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let (name, data) = match entry {
            Entry::Dir(name) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                (format!("{name}/"), "")
            }
            Entry::File(name, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                (name.to_string(), *data)
            }
        };
        header.set_size(data.len() as u64);
        tar.append_data(&mut header, &name, data.as_bytes())
            .map_err(|e| encoding("layers", e))?;
        names.push(name);
    }
    let tar = tar.into_inner().map_err(|e| encoding("layers", e))?;
    Ok((tar, names))
}

fn layer(entries: &[Entry]) -> Result<Layer> {
    let (tar, names) = tar_of(entries)?;
    // No name and no time in the gzip header: the same bytes every time.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&tar).map_err(|e| encoding("layers", e))?;
    let blob = gz.finish().map_err(|e| encoding("layers", e))?;
    Ok(Layer {
        diff_id: sha256(&tar),
        digest: sha256(&blob),
        tar,
        blob,
        names,
    })
}

/// The two layers, bottom first.
pub fn layers() -> Result<Vec<Layer>> {
    Ok(vec![layer(LAYER_1)?, layer(LAYER_2)?])
}

/// The image config: what to run, and the layers' diff_ids bottom first.
fn config(layers: &[Layer]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", l.diff_id))
        .collect();
    let history: Vec<_> = MADE_BY
        .iter()
        .map(|by| json!({ "created_by": by }))
        .collect();
    let config = json!({
        "architecture": oci_spec::image::Arch::default().to_string(),
        "os": "linux",
        "config": { "Cmd": ["ls", "/srv/site"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "history": history,
    });
    pretty(&config)
}

fn pretty(value: &serde_json::Value) -> Vec<u8> {
    let mut text = serde_json::to_vec_pretty(value).unwrap_or_default();
    text.push(b'\n');
    text
}

fn descriptor(media_type: &str, data: &[u8]) -> serde_json::Value {
    json!({
        "mediaType": media_type,
        "digest": format!("sha256:{}", sha256(data)),
        "size": data.len(),
    })
}

/// What `write_layout` wrote, for the lesson to show.
pub struct Layout {
    /// The files, relative to the layout's directory, in the order written.
    pub files: Vec<String>,
}

/// Write the sample image as an OCI image layout into `dir`, which must
/// exist and be empty; each directory and file through the seam.
pub fn write_layout(sys: &mut Sys, dir: &str, layers: &[Layer]) -> Result<Layout> {
    write(sys, dir, layers, false)
}

/// The same layout with one byte of layer 1's file changed, under the
/// same name: what an importer that checks digests must refuse. The byte
/// is one of the gzip header's time, which unpacking ignores, so only
/// the digest can tell.
pub fn write_changed_layout(sys: &mut Sys, dir: &str, layers: &[Layer]) -> Result<Layout> {
    write(sys, dir, layers, true)
}

/// Where in a gzip file its time starts (after the magic, the method
/// and the flags).
const GZIP_MTIME: usize = 4;

fn write(sys: &mut Sys, dir: &str, layers: &[Layer], changed: bool) -> Result<Layout> {
    let config = config(layers);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": layers
            .iter()
            .map(|l| descriptor("application/vnd.oci.image.layer.v1.tar+gzip", &l.blob))
            .collect::<Vec<_>>(),
    });
    let manifest = pretty(&manifest);
    let mut index = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
    index["annotations"] = json!({ "org.opencontainers.image.ref.name": REFERENCE });
    let index = pretty(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [index],
    }));
    let oci_layout = pretty(&json!({ "imageLayoutVersion": "1.0.0" }));
    for sub in ["blobs", "blobs/sha256"] {
        sys.call(Call::Mkdirat {
            path: format!("{dir}/{sub}"),
            mode: 0o755,
        })?;
    }
    let blob = |data: &[u8]| format!("blobs/sha256/{}", sha256(data));
    let mut files: Vec<(String, &[u8])> = vec![
        ("oci-layout".into(), &oci_layout),
        ("index.json".into(), &index),
        (blob(&manifest), &manifest),
        (blob(&config), &config),
    ];
    let altered: Option<Vec<u8>> = layers.first().filter(|_| changed).map(|l| {
        let mut bytes = l.blob.clone();
        if let Some(b) = bytes.get_mut(GZIP_MTIME) {
            *b ^= 1;
        }
        bytes
    });
    for (i, l) in layers.iter().enumerate() {
        let data = match (&altered, i) {
            (Some(bytes), 0) => bytes.as_slice(),
            _ => l.blob.as_slice(),
        };
        files.push((blob(&l.blob), data));
    }
    for (name, data) in &files {
        write_file(sys, &format!("{dir}/{name}"), data)?;
    }
    Ok(Layout {
        files: files.into_iter().map(|(name, _)| name).collect(),
    })
}

/// A new file holding `data`: text as text, anything else as bytes.
fn write_file(sys: &mut Sys, path: &str, data: &[u8]) -> Result<()> {
    let fd = sys.call(Call::Openat {
        path: path.to_string(),
        flags: libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        mode: 0o644,
    })? as i32;
    let write = match std::str::from_utf8(data) {
        Ok(text) => Call::Write {
            fd,
            data: text.to_string(),
        },
        Err(_) => Call::WriteBytes {
            fd,
            data: data.to_vec(),
        },
    };
    let written = sys.call(write);
    let closed = sys.call(Call::Close { fd });
    match written? {
        n if n == data.len() as i64 => closed.map(drop),
        n => Err(Error::invalid(format!(
            "writing {path}: {n} of {} bytes written",
            data.len()
        ))),
    }
}

/// Unpack one layer's tar into `dir` the way diyc did before it knew of
/// whiteouts: every entry as the tar holds it, so a `.wh.` mark becomes
/// an ordinary empty file and deletes nothing. Only the sample's own
/// directories and files, each through the seam.
pub fn unpack_as_is(sys: &mut Sys, layer: &Layer, dir: &str) -> Result<()> {
    let damaged = |e: std::io::Error| encoding("layer", e);
    let mut archive = tar::Archive::new(&layer.tar[..]);
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let name = entry.path().map_err(damaged)?.display().to_string();
        let path = format!("{dir}/{}", name.trim_end_matches('/'));
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            sys.call(Call::Mkdirat { path, mode: 0o755 })?;
            continue;
        }
        if !kind.is_file() {
            return Err(Error::invalid(format!(
                "the sample layer holds {name}, which is neither a file nor a directory"
            )));
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(damaged)?;
        write_file(sys, &path, &data)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;

    fn gunzip(blob: &[u8]) -> Vec<u8> {
        let mut tar = Vec::new();
        let _ = GzDecoder::new(blob).read_to_end(&mut tar);
        tar
    }

    #[test]
    fn the_layers_are_the_same_bytes_every_time() {
        let (a, b) = (layers().unwrap_or_default(), layers().unwrap_or_default());
        assert_eq!(a.len(), 2);
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a.diff_id, b.diff_id);
            assert_eq!(a.digest, b.digest);
            assert_eq!(gunzip(&a.blob), a.tar);
        }
        assert_ne!(a[0].diff_id, a[1].diff_id);
    }

    #[test]
    fn the_changed_byte_still_unpacks_to_the_same_tar_but_not_the_same_digest() {
        let layers = layers().unwrap_or_default();
        let mut blob = layers[0].blob.clone();
        blob[GZIP_MTIME] ^= 1;
        assert_eq!(gunzip(&blob), layers[0].tar);
        assert_ne!(sha256(&blob), layers[0].digest);
    }

    #[test]
    fn layer_2_marks_a_whiteout_and_an_opaque_directory_the_oci_way() {
        let layers = layers().unwrap_or_default();
        assert!(layers[0].names.contains(&DELETED.to_string()));
        assert!(layers[1].names.contains(&"etc/.wh.motd-old".to_string()));
        assert!(layers[1].names.contains(&format!("{OPAQUE}/.wh..wh..opq")));
    }
}
