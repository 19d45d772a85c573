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

/// What the first bytes of a stream that should be a tar say it is
/// instead, in words for a refusal; None if they may start a tar.
pub fn not_a_tar(head: &[u8]) -> Option<&'static str> {
    // Nothing at all is never meant as an empty root filesystem: a
    // download that failed, a writer that gave up.
    if head.is_empty() {
        return Some("empty");
    }
    if head.len() >= 512 && tar_header(&head[..512]) {
        return None;
    }
    let magic: [(&[u8], &str); 9] = [
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a zip archive"),
        (b"7z\xbc\xaf", "a 7-Zip archive"),
        (b"Rar!", "a RAR archive"),
        (b"\x7fELF", "an ELF program"),
        (b"#!", "a script"),
    ];
    if let Some((_, what)) = magic.iter().find(|(m, _)| head.starts_with(m)) {
        return Some(what);
    }
    // Cut at 512 bytes, text may end inside a character.
    let text = match std::str::from_utf8(head) {
        Ok(t) => Some(t),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    Some(match text {
        Some(t) if t.trim_start().starts_with(['{', '[']) => "a JSON file",
        Some(t) if !t.contains('\0') => "a text file",
        _ => "unknown binary data",
    })
}

/// A tar header block (its checksum right), or the zero block that ends
/// an empty tar.
fn tar_header(block: &[u8]) -> bool {
    if block.iter().all(|&b| b == 0) {
        return true;
    }
    let mut header = tar::Header::new_old();
    header.as_mut_bytes().copy_from_slice(block);
    let Ok(stored) = header.cksum() else {
        return false;
    };
    header.set_cksum();
    header.cksum().is_ok_and(|sum| sum == stored)
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

    #[test]
    fn what_is_not_a_tar_is_named_by_its_first_bytes() -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_path("bin/sh")?;
        header.set_cksum();
        assert_eq!(not_a_tar(header.as_bytes()), None);
        assert_eq!(not_a_tar(&[0; 1024]), None);
        assert_eq!(not_a_tar(b""), Some("empty"));
        assert_eq!(not_a_tar(b"\x89PNG\r\n\x1a\n"), Some("a PNG image"));
        assert_eq!(not_a_tar(b"\x7fELF\x02\x01"), Some("an ELF program"));
        assert_eq!(not_a_tar(b" {\"a\": 1}"), Some("a JSON file"));
        assert_eq!(
            not_a_tar(b"root:x:0:0::/root:/bin/sh\n"),
            Some("a text file")
        );
        assert_eq!(
            not_a_tar(&[0xde, 0xad, 0, 0xbe]),
            Some("unknown binary data")
        );
        let mut damaged = *header.as_bytes();
        damaged[0] ^= 1;
        assert_eq!(not_a_tar(&damaged), Some("unknown binary data"));
        Ok(())
    }
}
