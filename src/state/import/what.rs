//! What an import was given, told from its content and never from its
//! name: a root filesystem tar (plain or gzip), or something diyc names
//! and refuses in one line: another compression, an image archive made
//! of layers (`docker save`, an OCI archive), an OCI image layout
//! directory, or a file that is no tar at all.

use std::path::Path;

/// What diyc imports, said in every refusal.
pub const ACCEPTS: &str = "diyc imports a root filesystem tar (as `docker export` or `podman export` writes it), plain or gzip-compressed";

/// How the first bytes say a stream is compressed.
#[derive(Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    /// Known, not read: its name.
    Other(&'static str),
}

pub fn compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Other("zstd")
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Other("xz")
    } else if head.starts_with(b"BZh") {
        Compression::Other("bzip2")
    } else {
        Compression::None
    }
}

/// What a directory given to import is.
pub fn directory(dir: &Path) -> String {
    if dir.join("oci-layout").is_file() {
        "an OCI image layout (oci-layout, index.json, blobs/)".into()
    } else if dir.join("manifest.json").is_file() {
        "an image directory made of layers (manifest.json)".into()
    } else {
        "a directory".into()
    }
}

/// An unpacked archive whose top level is an image's own files, not a
/// root filesystem: what it is.
pub fn layered(root: &Path) -> Option<&'static str> {
    let has = |name: &str| root.join(name).exists();
    let rootfs = ["bin", "usr", "etc"].iter().any(|d| has(d));
    if rootfs {
        return None;
    }
    if has("oci-layout") && has("index.json") {
        Some("an OCI image archive (oci-layout, index.json, blobs/)")
    } else if has("manifest.json") {
        Some("a `docker save` archive (manifest.json and its layers)")
    } else {
        None
    }
}

/// Text from an archive or an error about it, fit for one line on a
/// terminal: control characters and line breaks escaped, long text cut.
pub fn shown(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    match escaped.char_indices().nth(160) {
        Some((at, _)) => format!("{}...", &escaped[..at]),
        None => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_is_told_by_its_first_bytes() {
        assert_eq!(compression(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            compression(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Compression::Other("zstd")
        );
        assert_eq!(compression(b"\xfd7zXZ\x00\x00"), Compression::Other("xz"));
        assert_eq!(compression(b"BZh91AY"), Compression::Other("bzip2"));
        assert_eq!(compression(b"bin/\0\0\0"), Compression::None);
    }

    #[test]
    fn names_are_shown_escaped_on_one_line() {
        assert_eq!(shown("a\u{1b}[31m\nb"), "a\\u{1b}[31m\\nb");
        assert_eq!(shown(&"x".repeat(200)).chars().count(), 163);
    }
}
