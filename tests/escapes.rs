//! The ways out of a container that a hostile image or command line has
//! tried: a descriptor of a host directory reached as /proc/self/fd/N,
//! the runtime's own binary reached as /proc/self/exe. Each test plays
//! the attack with harmless markers and a copy of diyc, and checks the
//! host is untouched.

// Tests and benchmarks set up and look at the host directly; the kernel
// wall of clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{Lab, text};

/// The descriptor number the host directory is open on in diyc.
const HELD: i32 = 7;

/// A host directory with a marker in it, standing for the host's root.
fn host_dir(lab: &Lab) -> PathBuf {
    let dir = lab.root().join("host-side");
    std::fs::create_dir_all(&dir).expect("host dir");
    std::fs::write(dir.join("marker"), "HOST-MARKER\n").expect("marker");
    dir
}

/// `cmd` run with `dir` open on descriptor HELD, without close-on-exec:
/// a directory diyc holds, as the cgroup's is on cgroup v2.
fn holding(mut cmd: Command, dir: &Path) -> Output {
    let held = std::fs::File::open(dir).expect("open host dir");
    let raw = held.as_raw_fd();
    // SAFETY: dup2 is async-signal-safe; it gives diyc a copy of the
    // directory on HELD, without close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, HELD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.stdin(Stdio::null()).output().expect("diyc");
    drop(held);
    out
}

/// Whether the container got at the host directory: read its marker or
/// left a file there.
fn reached(out: &Output, dir: &Path) -> bool {
    text(&out.stdout).contains("HOST-MARKER") || dir.join("planted").exists()
}

const PROBE: &str = "cat marker; echo x > planted; pwd";

#[test]
fn a_working_directory_of_proc_self_fd_reaches_no_host_directory() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let dir = host_dir(&lab);
    let workdir = format!("/proc/self/fd/{HELD}");
    let out = holding(
        lab.cmd(&["run", "--rm", "-w", &workdir, "busybox", "sh", "-c", PROBE]),
        &dir,
    );
    assert!(
        !reached(&out, &dir),
        "the container reached the host: {out:?}"
    );
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("working directory"), "{err}");
}

#[test]
fn an_image_symlink_to_proc_self_fd_reaches_no_host_directory() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let dir = host_dir(&lab);
    let app = lab.image_rootfs("busybox").join("app");
    std::os::unix::fs::symlink(format!("/proc/self/fd/{HELD}"), &app).expect("symlink");
    let out = holding(
        lab.cmd(&["run", "--rm", "-w", "/app", "busybox", "sh", "-c", PROBE]),
        &dir,
    );
    assert!(
        !reached(&out, &dir),
        "the container reached the host: {out:?}"
    );
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(text(&out.stderr).contains("/app"), "{out:?}");
}

/// Put a symlink to /proc/self/exe at `path` in the busybox image.
fn link_to_exe(lab: &Lab, path: &str) {
    let at = lab.image_rootfs("busybox").join(path);
    std::fs::create_dir_all(at.parent().expect("a parent")).expect("dirs");
    let _ = std::fs::remove_file(&at);
    std::os::unix::fs::symlink("/proc/self/exe", &at).expect("symlink");
}

#[test]
fn an_image_whose_sh_is_proc_self_exe_is_refused() {
    require_root!();
    let lab = Lab::new().with_busybox();
    link_to_exe(&lab, "bin/sh");
    let out = lab.run(&["run", "--rm", "busybox", "sh", "-c", "true"]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("leads out of the container"), "{err}");
}

#[test]
fn a_path_entry_that_is_proc_self_exe_is_refused() {
    require_root!();
    let lab = Lab::new().with_busybox();
    // /usr/local/bin comes first in the image's PATH.
    link_to_exe(&lab, "usr/local/bin/sh");
    let out = lab.run(&["run", "--rm", "busybox", "sh", "-c", "true"]);
    assert_eq!(out.status.code(), Some(126), "{out:?}");
    assert!(text(&out.stderr).contains("/usr/local/bin/sh"), "{out:?}");
}

/// A copy of diyc, so an attack that got through would reach the copy.
fn diyc_copy(lab: &Lab) -> PathBuf {
    let copy = lab.root().join("diyc-copy");
    std::fs::copy(common::DIYC, &copy).expect("copy of diyc");
    copy
}

#[test]
fn a_script_whose_interpreter_is_proc_self_exe_never_runs_diyc() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let copy = diyc_copy(&lab);
    let before = std::fs::read(&copy).expect("the copy");
    let script = lab.image_rootfs("busybox").join("bin/evil");
    std::fs::write(&script, "#!/proc/self/exe\n").expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let out = lab
        .cmd_of(&copy, lab.root(), &["run", "--rm", "busybox", "/bin/evil"])
        .stdin(Stdio::null())
        .output()
        .expect("diyc");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    // Had the script started diyc's binary, diyc's own argument parser
    // would have answered, inside the container.
    assert!(!all.contains("Usage: diyc"), "diyc ran inside: {all}");
    assert!(
        !all.contains("unrecognized subcommand"),
        "diyc ran inside: {all}"
    );
    assert!(all.contains("trampoline only starts"), "{all}");
    assert_eq!(out.status.code(), Some(126), "{all}");
    assert!(
        std::fs::read(&copy).expect("the copy") == before,
        "the copy changed"
    );
}

#[test]
fn the_command_runs_with_its_own_binary_as_proc_self_exe() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let seen = lab.ok(&["run", "--rm", "busybox", "readlink", "/proc/self/exe"]);
    assert_eq!(seen.trim(), "/bin/busybox");
}

#[test]
fn a_fifo_the_image_has_at_etc_hosts_does_not_hang_a_run() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let hosts = lab.image_rootfs("busybox").join("etc/hosts");
    let _ = std::fs::remove_file(&hosts);
    nix::unistd::mkfifo(&hosts, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
    let mut running = lab.spawn(&[
        "run",
        "--rm",
        "--net",
        "none",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    // Written through the image, /etc/hosts would be opened for writing,
    // which waits for a reader that never comes.
    common::wait_until("diyc exits", || running.exited());
    let out = running.finish();
    assert!(text(&out.stdout).contains("localhost"), "{out:?}");
}

#[test]
fn a_path_entry_leading_to_proc_self_fd_reaches_no_host_program() {
    require_root!();
    let lab = Lab::new().with_busybox();
    let dir = host_dir(&lab);
    // A program of the host's, that would announce itself if run.
    let program = dir.join("sh");
    std::fs::write(&program, "#!/bin/sh\necho HOST-MARKER\n").expect("program");
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    // /usr/local/bin, first on the image's PATH, is the held directory.
    let bin = lab.image_rootfs("busybox").join("usr/local/bin");
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::create_dir_all(bin.parent().expect("usr/local")).expect("dirs");
    std::os::unix::fs::symlink(format!("/proc/self/fd/{HELD}"), &bin).expect("symlink");
    let out = holding(
        lab.cmd(&[
            "run", "--rm", "--net", "none", "busybox", "sh", "-c", "echo ran",
        ]),
        &dir,
    );
    assert!(
        !text(&out.stdout).contains("HOST-MARKER"),
        "the host's program ran: {out:?}"
    );
    assert_eq!(text(&out.stdout), "ran\n", "{out:?}");
}
