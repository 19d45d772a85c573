//! The images an archive holds, read from its own records: an OCI image
//! layout (`oci-layout`, `index.json`, `blobs/`) or a `docker save`
//! archive (`manifest.json`). Each image is its config and its layers,
//! bottom first, with the digests the archive promises for them, which
//! the unpacking checks. Errors are reasons, for the caller's one line.

use oci_spec::image::{Arch, ImageConfiguration, ImageIndex, ImageManifest};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::blobs::Blobs;
use super::decode::describe;
use crate::state::image::{History, ImageConfig};

/// One layer as the archive names it.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// Its file in the archive.
    pub blob: String,
    /// The SHA-256 of the file as stored (compressed or not), if promised.
    pub digest: Option<String>,
    /// The SHA-256 of its uncompressed tar: the layer's name in the store.
    pub diff_id: String,
}

/// One image in the archive.
#[derive(Debug, Clone)]
pub struct Found {
    /// The name it was saved under (`alpine:3.19`), if any.
    pub reference: Option<String>,
    pub layers: Vec<LayerRef>,
    pub config: ImageConfig,
    pub history: Vec<History>,
    pub format: &'static str,
}

impl Found {
    /// A flat root filesystem: one layer, no config.
    pub fn flat(diff_id: &str) -> Found {
        Found {
            reference: None,
            layers: vec![LayerRef {
                blob: String::new(),
                digest: None,
                diff_id: diff_id.to_string(),
            }],
            config: ImageConfig::default(),
            history: Vec::new(),
            format: "root filesystem tar",
        }
    }
}

/// What kind of image archive the files are, if any.
pub fn kind(blobs: &Blobs) -> Option<&'static str> {
    if blobs.has("oci-layout") && blobs.has("index.json") {
        Some("OCI image layout")
    } else if blobs.has("manifest.json") {
        Some("docker archive")
    } else {
        None
    }
}

pub fn images(blobs: &Blobs) -> Result<Vec<Found>, String> {
    if blobs.has("index.json") && blobs.has("oci-layout") {
        oci(blobs)
    } else {
        docker(blobs)
    }
}

/// The hex of a `sha256:HEX` digest; other algorithms are not read.
fn sha256_hex(digest: &str) -> Result<String, String> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(hex.to_ascii_lowercase())
        }
        _ => Err(format!("its digest {digest} is not a SHA-256 digest")),
    }
}

/// A blob of an OCI layout, checked against its digest.
fn blob(blobs: &Blobs, digest: &str) -> Result<Vec<u8>, String> {
    let hex = sha256_hex(digest)?;
    let data = blobs.read(&format!("blobs/sha256/{hex}"))?;
    checked(&data, &hex, digest)?;
    Ok(data)
}

fn checked(data: &[u8], hex: &str, what: &str) -> Result<(), String> {
    if hex::encode(Sha256::digest(data)) == hex {
        Ok(())
    } else {
        Err(format!(
            "{what} does not match its digest: the archive is damaged or was changed"
        ))
    }
}

/// `docker.io/library/alpine:3.19` as diyc names it: `alpine:3.19`.
fn short_name(reference: &str) -> Option<String> {
    let reference = reference.split('@').next()?;
    let last = reference.rsplit('/').next()?;
    let last = last.to_ascii_lowercase();
    crate::state::image::validate_name(&last).ok()?;
    Some(last)
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn oci(blobs: &Blobs) -> Result<Vec<Found>, String> {
    let index = ImageIndex::from_reader(&blobs.read("index.json")?[..])
        .map_err(|e| format!("its index.json is not an OCI index: {}", describe(&e)))?;
    let mut found = Vec::new();
    for desc in index.manifests() {
        let notes = desc.annotations().clone().unwrap_or_default();
        let reference = notes
            .get("io.containerd.image.name")
            .or_else(|| notes.get("org.opencontainers.image.ref.name"))
            .filter(|r| r.contains(':') || r.contains('/'))
            .and_then(|r| short_name(r));
        let mut digest = desc.digest().to_string();
        // An index inside: the manifest for this machine's architecture.
        if INDEX_TYPES.contains(&desc.media_type().to_string().as_str()) {
            let inner = ImageIndex::from_reader(&blob(blobs, &digest)?[..])
                .map_err(|e| format!("an index it holds is damaged: {}", describe(&e)))?;
            let host = Arch::default();
            let mine = inner
                .manifests()
                .iter()
                .find(|m| {
                    m.platform()
                        .as_ref()
                        .is_none_or(|p| *p.architecture() == host)
                })
                .ok_or_else(|| format!("it holds no image for this machine ({host})"))?;
            digest = mine.digest().to_string();
        }
        let manifest = ImageManifest::from_reader(&blob(blobs, &digest)?[..])
            .map_err(|e| format!("a manifest it holds is damaged: {}", describe(&e)))?;
        let config = blob(blobs, manifest.config().digest().as_ref())?;
        let mut image = from_config(&config, "OCI image layout")?;
        if image.layers.len() != manifest.layers().len() {
            return Err(format!(
                "its manifest lists {} layers but its config {}",
                manifest.layers().len(),
                image.layers.len()
            ));
        }
        for (layer, desc) in image.layers.iter_mut().zip(manifest.layers()) {
            let hex = sha256_hex(desc.digest().as_ref())?;
            layer.blob = format!("blobs/sha256/{hex}");
            layer.digest = Some(hex);
        }
        image.reference = reference;
        found.push(image);
        too_many(found.len())?;
    }
    if found.is_empty() {
        return Err("its index.json lists no image".into());
    }
    Ok(found)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn docker(blobs: &Blobs) -> Result<Vec<Found>, String> {
    let entries: Vec<DockerEntry> = serde_json::from_slice(&blobs.read("manifest.json")?)
        .map_err(|e| format!("its manifest.json is damaged: {}", describe(&e)))?;
    let mut found = Vec::new();
    for entry in entries {
        let config = blobs.read(&entry.config)?;
        // Its name is its digest, in either layout docker has written.
        let stem = entry.config.rsplit('/').next().unwrap_or_default();
        let stem = stem.strip_suffix(".json").unwrap_or(stem);
        if stem.len() == 64 {
            checked(&config, stem, &entry.config)?;
        }
        let mut template = from_config(&config, "docker archive")?;
        if template.layers.len() != entry.layers.len() {
            return Err(format!(
                "its manifest.json lists {} layers but the config {}",
                entry.layers.len(),
                template.layers.len()
            ));
        }
        let tags = entry.repo_tags.unwrap_or_default();
        let names: Vec<Option<String>> = if tags.is_empty() {
            vec![None]
        } else {
            tags.iter().map(|t| short_name(t)).collect()
        };
        for (layer, path) in template.layers.iter_mut().zip(&entry.layers) {
            layer.blob = path.clone();
            // Newer archives name a layer's file by its digest.
            let stem = path.rsplit('/').next().unwrap_or_default();
            let stem = stem.strip_suffix(".tar").unwrap_or(stem);
            layer.digest = sha256_hex(&format!("sha256:{stem}")).ok();
        }
        for reference in names {
            found.push(Found {
                reference,
                ..template.clone()
            });
            too_many(found.len())?;
        }
    }
    if found.is_empty() {
        return Err("its manifest.json lists no image".into());
    }
    Ok(found)
}

/// The most images one archive may hold: each is a config read whole.
const MOST_IMAGES: usize = 64;

/// The most bytes an image config may take.
const MOST_CONFIG: usize = 1 << 20;

fn too_many(found: usize) -> Result<(), String> {
    if found > MOST_IMAGES {
        return Err(format!(
            "it holds more than {MOST_IMAGES} images; diyc imports archives of at most {MOST_IMAGES}"
        ));
    }
    Ok(())
}

/// An image from its config: what to run, its history, its layers'
/// uncompressed digests (where the layers come from is filled in later).
fn from_config(data: &[u8], format: &'static str) -> Result<Found, String> {
    if data.len() > MOST_CONFIG {
        return Err(format!(
            "its image config is {} bytes; diyc reads configs of at most {} KiB",
            data.len(),
            MOST_CONFIG >> 10
        ));
    }
    let parsed = ImageConfiguration::from_reader(data)
        .map_err(|e| format!("its image config is damaged: {}", describe(&e)))?;
    let host = Arch::default();
    if *parsed.architecture() != host {
        return Err(format!(
            "it is an image for {}, and this machine is {host}",
            parsed.architecture()
        ));
    }
    let layers = parsed
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| {
            Ok(LayerRef {
                blob: String::new(),
                digest: None,
                diff_id: sha256_hex(d)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let run = parsed.config().clone().unwrap_or_default();
    let config = ImageConfig {
        env: run.env().clone().unwrap_or_default(),
        working_dir: run.working_dir().clone().filter(|w| !w.is_empty()),
        entrypoint: run.entrypoint().clone().unwrap_or_default(),
        cmd: run.cmd().clone().unwrap_or_default(),
        user: run.user().clone().filter(|u| !u.is_empty()),
        exposed_ports: run.exposed_ports().clone().unwrap_or_default(),
    };
    let history = parsed
        .history()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|h| History {
            created: h.created().clone(),
            created_by: h.created_by().clone(),
            comment: h.comment().clone(),
            empty_layer: h.empty_layer().unwrap_or(false),
        })
        .collect();
    Ok(Found {
        reference: None,
        layers,
        config,
        history,
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_short_names() {
        assert_eq!(
            short_name("docker.io/library/alpine:3.19").as_deref(),
            Some("alpine:3.19")
        );
        assert_eq!(
            short_name("localhost/web:1@sha256:ab").as_deref(),
            Some("web:1")
        );
        assert_eq!(short_name("bad name"), None);
    }

    #[test]
    fn only_sha256_digests_are_read() {
        let hex = "a".repeat(64);
        assert_eq!(sha256_hex(&format!("sha256:{hex}")), Ok(hex));
        assert!(sha256_hex("sha512:abc").is_err());
        assert!(sha256_hex("sha256:../../etc").is_err());
    }
}
