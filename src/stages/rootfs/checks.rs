//! What the rootfs stage checks before anything of a run is made: that
//! the kernel can stack the image's layers, and that the places it mounts
//! over are what they claim.

use crate::error::{Error, Result};

/// The most lower layers overlayfs stacks (the kernel's OVL_MAX_STACK).
pub const MOST_LAYERS: usize = 500;

/// mount(2) copies one page of options: lowerdir, upperdir and workdir
/// together must fit in it.
const OPTIONS_PAGE: usize = 4096;

/// What the upperdir and workdir options of a container in `root` take.
pub fn room_for_the_rest(root: &std::path::Path) -> usize {
    // ",upperdir=ROOT/containers/NAME/upper,workdir=ROOT/containers/NAME/work"
    2 * (root.as_os_str().len() + "/containers/".len() + 32 + 16)
}

/// The image's directories, top first, as overlayfs's `lowerdir` lists
/// them; refused before anything is made if the kernel could not stack
/// them (`rest`: the bytes the other options take).
pub fn lowerdir(lowers: &[std::path::PathBuf], rest: usize) -> Result<String> {
    let parts: Vec<&str> = lowers
        .iter()
        .map(|l| {
            l.to_str()
                .ok_or_else(|| Error::invalid(format!("{} is not UTF-8", l.display())))
        })
        .collect::<Result<_>>()?;
    let joined = parts.join(":");
    let length = "lowerdir=".len() + joined.len() + rest;
    if lowers.len() > MOST_LAYERS || length >= OPTIONS_PAGE {
        return Err(Error::invalid(format!(
            "the image has {} layers; overlayfs stacks at most {MOST_LAYERS}, and their paths must fit in {OPTIONS_PAGE} bytes of mount options (these take {length}): flatten it with `diyc image export NAME FILE` and import FILE",
            lowers.len()
        )));
    }
    Ok(joined)
}

/// The places a container mounts over must be what they claim: a symlink
/// there would send the mount somewhere else on the host. Checked before
/// anything of a run is made.
pub fn check_mount_points(rootfs: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    for dir in ["proc", "sys", "dev"] {
        if let Ok(meta) = std::fs::symlink_metadata(rootfs.join(dir)) {
            if !meta.is_dir() {
                return Err(Error::invalid(format!(
                    "the image's /{dir} is a {}, not a directory; refusing to mount over it",
                    if meta.file_type().is_symlink() {
                        "symlink"
                    } else {
                        "file"
                    }
                )));
            }
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(rootfs.join("dev/null")) {
        if !meta.file_type().is_char_device() {
            return Err(Error::invalid(
                "the image's /dev/null is not a character device; refusing the image",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn layers(n: usize, width: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|i| PathBuf::from(format!("/l/{i:0width$}")))
            .collect()
    }

    /// The refusal's text; empty when nothing was refused.
    fn refusal(result: Result<String>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn the_lowerdir_lists_the_top_layer_first_as_given() {
        let lowers = vec![PathBuf::from("/top"), PathBuf::from("/base")];
        assert_eq!(lowerdir(&lowers, 0).ok().as_deref(), Some("/top:/base"));
    }

    #[test]
    fn past_the_kernel_stack_limit_an_image_is_refused_with_what_to_do() {
        let e = refusal(lowerdir(&layers(MOST_LAYERS + 1, 1), 0));
        assert!(
            e.contains("501 layers") && e.contains("image export"),
            "{e}"
        );
        assert!(lowerdir(&layers(MOST_LAYERS, 1), 0).is_ok());
    }

    #[test]
    fn options_longer_than_a_page_are_refused() {
        // 45 layers of 100-byte paths: under 500 layers, over 4096 bytes.
        let e = refusal(lowerdir(&layers(45, 97), 0));
        assert!(e.contains("4096 bytes"), "{e}");
        assert!(lowerdir(&layers(30, 97), 0).is_ok());
        assert!(lowerdir(&layers(30, 97), 1200).is_err());
    }
}
