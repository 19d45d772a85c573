//! Mounts from the command line: `-v HOST:CONTAINER[:ro]`, `--tmpfs` and
//! `--read-only`, each landing inside the container's root whatever
//! symlinks the image has, and bad ones refused before anything is made.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use common::{Lab, assert_one_line_error, text};

fn run_in(lab: &Lab, opts: &[&str], script: &str) -> std::process::Output {
    let mut args = vec!["run", "--rm", "--net", "none"];
    args.extend_from_slice(opts);
    args.extend(["busybox", "sh", "-c", script]);
    lab.run(&args)
}

#[test]
fn a_volume_is_the_hosts_directory_and_ro_refuses_writes() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let host = lab.root().join("shared");
    std::fs::create_dir_all(&host).expect("dir");
    std::fs::write(host.join("from-host"), "HOST\n").expect("file");
    let rw = format!("{}:/data", host.display());
    let out = run_in(
        &lab,
        &["-v", &rw],
        "cat /data/from-host; echo INSIDE > /data/from-container",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "HOST\n");
    assert_eq!(
        std::fs::read_to_string(host.join("from-container")).expect("written"),
        "INSIDE\n"
    );
    let ro = format!("{}:/data:ro", host.display());
    let out = run_in(
        &lab,
        &["-v", &ro],
        "echo again > /data/from-host; cat /data/from-host",
    );
    assert!(
        text(&out.stderr).contains("Read-only file system"),
        "{out:?}"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("from-host")).expect("kept"),
        "HOST\n"
    );
}

#[test]
fn a_mount_target_the_image_made_a_symlink_is_refused() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let host = lab.root().join("shared");
    std::fs::create_dir_all(&host).expect("dir");
    let image = lab.image_rootfs("busybox");
    // One symlink out of the root, one into /proc/self, one on the way.
    std::os::unix::fs::symlink("/etc", image.join("data")).expect("symlink");
    std::os::unix::fs::symlink("/proc/self/cwd", image.join("here")).expect("symlink");
    std::os::unix::fs::symlink("/etc", image.join("opt-link")).expect("symlink");
    let before = lab.host_state();
    for target in ["/data", "/here", "/opt-link/x"] {
        let volume = format!("{}:{target}", host.display());
        let out = run_in(&lab, &["-v", &volume], "true");
        assert_one_line_error(&out, "symlink");
        let out = run_in(&lab, &["--tmpfs", target], "true");
        assert_one_line_error(&out, "symlink");
    }
    assert_eq!(lab.host_state(), before);
    assert!(!image.join("etc/x").exists());
}

#[test]
fn tmpfs_is_fresh_and_bounded() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let size = |opts: &[&str]| -> String {
        let out = run_in(&lab, opts, "touch /scratch/a && df -k /scratch | tail -n 1");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(size(&["--tmpfs", "/scratch"]), "65536");
    assert_eq!(size(&["--tmpfs", "/scratch:size=8m,mode=700"]), "8192");
}

#[test]
fn read_only_refuses_writes_to_the_root_but_not_to_dev_or_its_mounts() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let out = run_in(
        &lab,
        &["--read-only", "--tmpfs", "/tmp"],
        "touch /new 2>&1; touch /dev/shm/a && touch /tmp/a && echo writable",
    );
    let seen = text(&out.stdout);
    assert!(seen.contains("Read-only file system"), "{seen}");
    assert!(seen.contains("writable"), "{seen}");
}

#[test]
fn bad_mounts_are_one_line_and_change_nothing() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let before = lab.host_state();
    for (flag, value, needle) in [
        ("-v", "/no/such/dir:/data", "No such file"),
        ("-v", "/tmp:data", "absolute path"),
        ("-v", "/tmp:/data:rx", "unknown option"),
        ("-v", "/tmp:/", "not /"),
        ("-v", "/tmp:/proc/x", "which diyc mounts itself"),
        ("--tmpfs", "/sys/x", "which diyc mounts itself"),
        ("--tmpfs", "/x:size=lots", "--tmpfs"),
        ("--tmpfs", "/x:uid=0", "unknown option"),
    ] {
        let out = lab.run(&["run", "--rm", flag, value, "busybox", "true"]);
        assert_one_line_error(&out, needle);
    }
    assert_eq!(lab.host_state(), before);
}

/// Add an `app` user (1234, also in group `extra`) to the image.
fn image_with_app_user(lab: &Lab) {
    let etc = lab.image_rootfs("busybox").join("etc");
    let append = |file: &str, text: &str| {
        let path = etc.join(file);
        let mut old = std::fs::read_to_string(&path).expect("the image's file");
        old.push_str(text);
        std::fs::write(&path, old).expect("written");
    };
    append("passwd", "app:x:1234:1234::/home/app:/bin/sh\n");
    append("group", "app:x:1234:\nextra:x:2000:app\n");
}

#[test]
fn user_by_name_comes_from_the_images_files_and_keeps_no_capabilities() {
    require_root!();
    let lab = Lab::new().with_busybox();
    image_with_app_user(&lab);
    let out = run_in(
        &lab,
        &["--user", "app"],
        "id; echo $HOME; grep CapEff /proc/self/status",
    );
    let seen = text(&out.stdout);
    assert!(
        seen.contains("uid=1234(app) gid=1234(app) groups=1234(app),2000(extra)"),
        "{seen}"
    );
    assert!(seen.contains("/home/app\n"), "{seen}");
    assert!(seen.contains("CapEff:\t0000000000000000"), "{seen}");
    let numbers = run_in(&lab, &["-u", "4321:4321"], "id");
    assert_eq!(
        text(&numbers.stdout).trim(),
        "uid=4321 gid=4321 groups=4321"
    );
}

#[test]
fn a_user_only_the_host_has_is_not_found() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // The host knows `_apt` or `nobody`; the image is told to point its
    // passwd at the host's, which must resolve inside the image instead.
    let passwd = lab.image_rootfs("busybox").join("etc/passwd");
    std::fs::remove_file(&passwd).expect("rm");
    std::os::unix::fs::symlink("../../../../../../../../etc/passwd", &passwd).expect("symlink");
    let host_user = std::fs::read_to_string("/etc/passwd")
        .expect("the host's passwd")
        .lines()
        .filter_map(|l| l.split(':').next().map(String::from))
        .find(|n| n != "root")
        .expect("a host user other than root");
    let before = lab.host_state();
    let out = lab.run(&[
        "run", "--rm", "--net", "none", "--user", &host_user, "busybox", "id",
    ]);
    assert_one_line_error(&out, "in the image's /etc/passwd");
    assert_eq!(lab.host_state(), before);
}

#[test]
fn a_read_only_volume_keeps_the_hosts_nosuid_nodev_and_noexec() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let source = lab.root().join("locked");
    std::fs::create_dir_all(&source).expect("dir");
    // In a mount namespace of the test's own: a tmpfs that is all three.
    let setup = format!(
        "mount -t tmpfs -o nosuid,nodev,noexec none {}",
        source.display()
    );
    let volume = format!("{}:/data:ro", source.display());
    let out = lab.output_under(
        &["unshare", "--mount", "--propagation", "private"],
        &setup,
        &[
            "run",
            "--rm",
            "--net",
            "none",
            "-v",
            &volume,
            "busybox",
            "grep",
            " /data ",
            "/proc/self/mounts",
        ],
    );
    let line = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for flag in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(
            line.split([',', ' ']).any(|f| f == flag),
            "{flag} in {line}"
        );
    }
}
