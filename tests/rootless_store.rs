//! diyc's store without root: an image whose files have several owners
//! keeps them inside and is removed whole, a layered image keeps its
//! whiteouts and opaque directory (user.overlay.* marks), and a container
//! kept on disk is removed whole, as an ordinary user of the test's own.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::path::Path;
use std::process::Output;

use common::archives::header;
use common::user::{TestUser, readable};
use common::{Lab, sh, text};

/// A shell command in a fresh `--net none` container of `image`.
fn inside(user: &TestUser, image: &str, script: &str) -> Output {
    user.run(&["run", "--rm", "--net", "none", image, "sh", "-c", script])
}

/// A root filesystem tar with busybox and files of three owners: root,
/// www-data's 33 and a user's 1000. World-readable, where the test user
/// can read it.
fn many_owners(dir: &Path) -> String {
    let path = dir.join("owners.tar");
    let file = std::fs::File::create(&path).expect("archive");
    let mut tar = tar::Builder::new(file);
    tar.append_path_with_name("/usr/bin/busybox", "bin/busybox")
        .expect("/usr/bin/busybox (Debian's busybox-static) is installed");
    for applet in ["sh", "cat", "ls", "stat", "id", "chown", "touch"] {
        let mut link = header(tar::EntryType::Symlink, 0, 0o777);
        tar.append_link(&mut link, format!("bin/{applet}"), "busybox")
            .expect("applet");
    }
    let entries: [(&str, u64, u32, u32); 4] = [
        ("srv/www/", 33, 0o750, 0),
        ("srv/www/index.html", 33, 0o640, 6),
        ("home/alice/", 1000, 0o700, 0),
        ("home/alice/notes", 1000, 0o600, 6),
    ];
    for (name, owner, mode, size) in entries {
        let kind = if name.ends_with('/') {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        };
        let mut h = header(kind, u64::from(size), mode);
        h.set_uid(owner);
        h.set_gid(owner);
        tar.append_data(&mut h, name, &b"hello\n"[..size as usize])
            .expect("entry");
    }
    tar.finish().expect("archive written");
    readable(dir);
    path.to_str().expect("utf-8").to_string()
}

#[test]
fn an_image_of_many_owners_keeps_them_inside_and_goes_with_image_rm() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = many_owners(dir.path());
    user.ok(&["image", "import", "owners", &tar]);
    let out = inside(
        &user,
        "owners",
        "stat -c '%u:%g %a %n' /srv/www /srv/www/index.html /home/alice /home/alice/notes; cat /home/alice/notes",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "33:33 750 /srv/www\n33:33 640 /srv/www/index.html\n\
         1000:1000 700 /home/alice\n1000:1000 600 /home/alice/notes\nhello\n"
    );
    // On the host the same files belong to the user's subordinate ids.
    let sub = user.subid.expect("a range");
    let stored = sh(&[
        "find",
        user.state_root().join("layers").to_str().expect("utf-8"),
        "-path",
        "*/fs/home/alice",
        "-printf",
        "%U",
    ]);
    assert_eq!(stored, (sub + 999).to_string());
    user.ok(&["image", "rm", "owners"]);
    let layers = std::fs::read_dir(user.state_root().join("layers"))
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().ends_with("lock"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(layers, 0, "image rm removed files of other owners too");
    user.assert_nothing_left();
}

#[test]
fn a_layered_image_without_root_keeps_its_whiteouts_and_opaque_directory() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = common::made::oci_layout(dir.path());
    readable(dir.path());
    user.ok(&[
        "image",
        "import",
        "layered",
        layout.to_str().expect("utf-8"),
    ]);
    let out = inside(
        &user,
        "layered",
        "cat /etc/added; test -e /etc/deleted-me && echo still-there; ls /data",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        !shown.contains("still-there"),
        "the whiteout hides it: {shown}"
    );
    assert!(
        shown.ends_with("new\n"),
        "the opaque /data shows only its own: {shown}"
    );
    user.assert_nothing_left();
}

#[test]
fn without_a_range_a_container_kept_on_disk_is_removed_whole() {
    require_root!();
    let _lab = Lab::new();
    let user = TestUser::new(false);
    // Not --rm: its writable layer (and overlayfs's work directory, which
    // the kernel leaves at mode 000) is on disk, in the user's home.
    let out = user.run(&[
        "run",
        "--name",
        "kept",
        "--net",
        "none",
        "busybox",
        "sh",
        "-c",
        "echo x > /f",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!user.leftovers().is_empty(), "the container is kept");
    user.ok(&["rm", "kept"]);
    user.assert_nothing_left();
}
