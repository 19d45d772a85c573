//! The system calls diyc leans on, refused one at a time by a seccomp
//! filter; overlayfs; the terminal knob.

use crate::common::Lab;
use crate::kit::{Doctor, TestUser};
use crate::require_root;

#[test]
fn the_system_calls_diyc_leans_on_work_here() {
    require_root!();
    let lab = Lab::new();
    let ran = Doctor::new().run(&lab);
    for id in [
        "kernel.clone3",
        "kernel.clone_into_cgroup",
        "kernel.close_range",
        "kernel.openat2",
        "kernel.pidfd",
        "overlay.filesystem",
        "overlay.userns",
    ] {
        assert_eq!(ran.verdict(id), "ok", "{}", ran.show(id));
    }
}

#[test]
fn without_clone3_diyc_falls_back_to_clone_and_warns() {
    require_root!();
    let lab = Lab::new();
    let ran = Doctor::new()
        .refusing(libc::SYS_clone3, libc::ENOSYS)
        .run(&lab);
    assert_eq!(
        ran.verdict("kernel.clone3"),
        "warn",
        "{}",
        ran.show("kernel.clone3")
    );
    assert!(ran.found("kernel.clone3").contains("ENOSYS"));
    assert!(ran.breaks("kernel.clone3").contains("CLONE_INTO_CGROUP"));
    assert_eq!(ran.verdict("kernel.clone_into_cgroup"), "warn");
    // The probes' own children are made by clone then.
    assert_eq!(ran.verdict("ns.uts"), "ok", "{}", ran.show("ns.uts"));
    assert_eq!(ran.code(), Some(0));
}

#[test]
fn clone_into_cgroup_needs_a_cgroup2_mount_and_a_cgroup_the_user_may_enter() {
    require_root!();
    let lab = Lab::new();
    let id = "kernel.clone_into_cgroup";
    let cgroup2: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" - cgroup2 "))
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .collect();
    assert!(!cgroup2.is_empty(), "no cgroup2 mount to take away");
    let mut without = Doctor::new().under(&["unshare", "-m"]);
    for mount in &cgroup2 {
        without = without.setup(format!("umount -l {mount}"));
    }
    let ran = without.run(&lab);
    assert_eq!(ran.verdict(id), "info", "{}", ran.show(id));
    assert!(ran.found(id).contains("no cgroup v2"), "{}", ran.show(id));
    let user = TestUser::new(false);
    let theirs = Doctor::new().by(&user).run(&lab);
    assert_eq!(theirs.verdict(id), "info", "{}", theirs.show(id));
    assert!(theirs.found(id).contains("EACCES"), "{}", theirs.show(id));
}

#[test]
fn without_close_range_diyc_closes_one_by_one_and_warns() {
    require_root!();
    let lab = Lab::new();
    let id = "kernel.close_range";
    let ran = Doctor::new()
        .refusing(libc::SYS_close_range, libc::ENOSYS)
        .run(&lab);
    assert_eq!(ran.verdict(id), "warn", "{}", ran.show(id));
    assert!(ran.fix(id).contains("5.9"));
    let refused = Doctor::new()
        .refusing(libc::SYS_close_range, libc::EPERM)
        .run(&lab);
    assert_eq!(refused.verdict(id), "fail", "{}", refused.show(id));
}

#[test]
fn openat2_refused_on_a_kernel_that_has_it_fails() {
    require_root!();
    let lab = Lab::new();
    let id = "kernel.openat2";
    let ran = Doctor::new()
        .refusing(libc::SYS_openat2, libc::ENOSYS)
        .run(&lab);
    assert_eq!(ran.verdict(id), "fail", "{}", ran.show(id));
    assert!(ran.found(id).contains("which has it"), "{}", ran.show(id));
    assert!(ran.fix(id).contains("seccomp"));
    assert_eq!(ran.code(), Some(1));
}

#[test]
fn without_pidfds_exec_stop_and_kill_fail() {
    require_root!();
    let lab = Lab::new();
    let id = "kernel.pidfd";
    let ran = Doctor::new()
        .refusing(libc::SYS_pidfd_open, libc::ENOSYS)
        .run(&lab);
    assert_eq!(ran.verdict(id), "fail", "{}", ran.show(id));
    assert!(ran.found(id).contains("pidfd_open"));
    assert!(ran.breaks(id).contains("diyc exec, stop, kill"));
    assert!(ran.fix(id).contains("5.3"));
    let signal = Doctor::new()
        .refusing(libc::SYS_pidfd_send_signal, libc::EPERM)
        .run(&lab);
    assert_eq!(signal.verdict(id), "fail", "{}", signal.show(id));
    assert!(
        signal
            .found(id)
            .starts_with("pidfd_send_signal was refused"),
        "{}",
        signal.show(id)
    );
}

#[test]
fn a_kernel_without_overlayfs_fails_every_run() {
    require_root!();
    let lab = Lab::new();
    let id = "overlay.filesystem";
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
    let fake = dir.path().join("filesystems");
    std::fs::write(&fake, "nodev\ttmpfs\nnodev\tproc\n").unwrap_or_else(|e| panic!("{e}"));
    let ran = Doctor::new()
        .under(&["unshare", "-m"])
        .setup(format!("mount --bind {} /proc/filesystems", fake.display()))
        .setup("if [ -d /lib/modules ]; then mount -t tmpfs diyc-doc-test /lib/modules; fi")
        .run(&lab);
    assert_eq!(ran.verdict(id), "fail", "{}", ran.show(id));
    assert!(ran.breaks(id).contains("diyc run"));
    assert!(ran.fix(id).contains("CONFIG_OVERLAY_FS"));
    assert_eq!(ran.code(), Some(1));
}

#[test]
fn overlayfs_refused_in_a_user_namespace_fails_an_ordinary_user_only() {
    require_root!();
    let lab = Lab::new();
    let id = "overlay.userns";
    let user = TestUser::new(false);
    let theirs = Doctor::new()
        .by(&user)
        .refusing(libc::SYS_mount, libc::EPERM)
        .run(&lab);
    assert_eq!(theirs.verdict(id), "fail", "{}", theirs.show(id));
    assert!(theirs.found(id).contains("EPERM"));
    assert!(theirs.breaks(id).contains("without root"));
    assert_eq!(theirs.code(), Some(1));
    let roots = Doctor::new()
        .refusing(libc::SYS_mount, libc::EPERM)
        .run(&lab);
    assert_eq!(roots.verdict(id), "info", "{}", roots.show(id));
    let allowed = Doctor::new().by(&user).run(&lab);
    assert_eq!(allowed.verdict(id), "ok", "{}", allowed.show(id));
}

#[test]
fn legacy_tiocsti_is_read_from_its_knob() {
    require_root!();
    let lab = Lab::new();
    let id = "tty.legacy_tiocsti";
    let knob = |value: Option<&str>| {
        let mut doctor = Doctor::new()
            .under(&["unshare", "-m"])
            .setup("mount -t tmpfs diyc-doc-test /proc/sys/dev/tty");
        if let Some(v) = value {
            doctor = doctor.setup(format!("echo {v} > /proc/sys/dev/tty/legacy_tiocsti"));
        }
        doctor.run(&lab)
    };
    let refused = knob(Some("0"));
    assert!(
        refused.found(id).contains("= 0: the kernel refuses"),
        "{}",
        refused.show(id)
    );
    let allowed = knob(Some("1"));
    assert!(
        allowed.found(id).contains("= 1: a program"),
        "{}",
        allowed.show(id)
    );
    let old = knob(None);
    assert!(
        old.found(id).contains("before Linux 6.2"),
        "{}",
        old.show(id)
    );
    for ran in [refused, allowed, old] {
        assert_eq!(ran.verdict(id), "info");
    }
}
