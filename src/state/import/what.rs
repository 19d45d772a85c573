//! What an import was given, told from its content and never from its
//! name, and the words for it: what diyc accepts, said in every refusal;
//! an unpacked stream that turns out to be an image archive; text from an
//! archive made fit for one line.

use std::path::Path;

/// What diyc imports, said in every refusal.
pub const ACCEPTS: &str = "diyc imports a root filesystem tar (`docker export`), a `docker save` archive or an OCI image layout (a directory or a tar), plain or compressed with gzip, zstd, xz or bzip2";

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
    fn names_are_shown_escaped_on_one_line() {
        assert_eq!(shown("a\u{1b}[31m\nb"), "a\\u{1b}[31m\\nb");
        assert_eq!(shown(&"x".repeat(200)).chars().count(), 163);
    }
}
