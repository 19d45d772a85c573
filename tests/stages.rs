//! Each stage's call sequence on the dry backend: the seam records every
//! call as the real one would and makes none, so these run as any user,
//! with no root, no namespace and nothing changed on the machine. What a
//! stage reads to decide its next call comes from a described `World`.
//! The sequences, rendered as `--explain` renders them, are snapshots.
//! This file has the stages of the container's own process, the cgroups
//! and the one stage order; stages_net.rs has the network's.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::net::Ipv4Addr;

use common::dry::{bridge, dry_run, store};
use diyc::event::StageId;
use diyc::stages::Stage;
use diyc::stages::cgroups::{Cgroups, Host, Limits};
use diyc::stages::hardening::{Hardening, capability_set};
use diyc::stages::iptables::Iptables;
use diyc::stages::mount::Mount;
use diyc::stages::net::Net;
use diyc::stages::pid::Pid;
use diyc::stages::rootfs::Rootfs;
use diyc::stages::session::{Session, Stdio};
use diyc::stages::uts::Uts;
use diyc::sys::{Journal, Sys, World};

#[test]
fn uts_sets_the_hostname_and_the_domain_name() {
    let mut uts = Uts {
        hostname: "box".into(),
        domainname: Some("diyc".into()),
    };
    insta::assert_snapshot!(dry_run(&mut uts, World::new()));
}

#[test]
fn mount_makes_the_whole_table_private() {
    insta::assert_snapshot!(dry_run(&mut Mount, World::new()));
}

#[test]
fn pid_mounts_a_fresh_proc_and_makes_its_mount_point_when_missing() {
    let mut pid = Pid::new(true);
    let made = dry_run(&mut pid, World::new());
    assert!(
        made.contains(r#"mkdirat(AT_FDCWD, "/proc", 0555)"#),
        "{made}"
    );
    let there = dry_run(&mut Pid::new(true), World::new().dir("/proc"));
    assert!(!there.contains("mkdirat"), "{there}");
    insta::assert_snapshot!(made);
}

#[test]
fn rootfs_stacks_the_overlay_makes_dev_and_pivots() {
    let mut rootfs = Rootfs::on_disk(
        "/img".into(),
        "/c/upper".into(),
        "/c/work".into(),
        "/c/rootfs".into(),
    );
    let world = World::new().dir("/c/rootfs/dev").dir("/c/rootfs/sys");
    insta::assert_snapshot!(dry_run(&mut rootfs, world));
}

#[test]
fn rootfs_in_memory_puts_the_writable_layer_on_a_tmpfs_first() {
    let mut rootfs = Rootfs::in_memory("/img".into(), "/c".into(), 1 << 30);
    let seen = dry_run(&mut rootfs, World::new());
    let tmpfs = seen.find(r#"mount("tmpfs", "/c", "tmpfs""#);
    let overlay = seen.find(r#"mount("overlay", "/c/merged""#);
    assert!(tmpfs.is_some() && tmpfs < overlay, "{seen}");
}

#[test]
fn rootfs_in_memory_writes_the_etc_files_on_its_tmpfs_then_binds_them() {
    let files = diyc::stages::net::EtcFiles::new("box", None);
    let mut rootfs =
        Rootfs::in_memory("/img".into(), "/c".into(), 1 << 30).with_etc_written("/c", files);
    let seen = dry_run(&mut rootfs, World::new());
    let tmpfs = seen.find(r#"mount("tmpfs", "/c", "tmpfs""#);
    let written = seen.find(r#"openat(AT_FDCWD, "/c/hostname", O_WRONLY|O_CREAT"#);
    let content = seen.find(r#"write(3, "box\n", 4)"#);
    let bound = seen.find(r#"mount("/c/hostname", "/c/merged/etc/hostname", NULL, MS_BIND"#);
    assert!(tmpfs.is_some() && tmpfs < written, "{seen}");
    assert!(
        written.is_some() && written < content && content < bound,
        "{seen}"
    );
    for name in ["hosts", "resolv.conf"] {
        assert!(
            seen.contains(&format!(
                r#"openat(AT_FDCWD, "/c/{name}", O_WRONLY|O_CREAT"#
            )),
            "{name} in {seen}"
        );
    }
}

#[test]
fn rootfs_binds_the_containers_etc_files_and_never_writes_through_the_image() {
    // A layer on disk, whose files diyc wrote into the container's
    // directory on the host.
    let mut rootfs = Rootfs::on_disk(
        "/img".into(),
        "/c/upper".into(),
        "/c/work".into(),
        "/c/rootfs".into(),
    )
    .with_etc("/c");
    let merged = "/c/rootfs";
    // The image's resolv.conf is a symlink, its hosts a file, and it has
    // no hostname at all.
    let world = World::new()
        .dir(&format!("{merged}/etc"))
        .symlink(&format!("{merged}/etc/resolv.conf"))
        .file(&format!("{merged}/etc/hosts"), "the image's own");
    let seen = dry_run(&mut rootfs, world);
    assert!(
        seen.contains(r#"unlinkat(AT_FDCWD, "/c/rootfs/etc/resolv.conf", 0)"#),
        "{seen}"
    );
    for name in ["hostname", "hosts", "resolv.conf"] {
        let bind = format!(r#"mount("/c/{name}", "{merged}/etc/{name}", NULL, MS_BIND, NULL)"#);
        assert!(seen.contains(&bind), "{bind} in {seen}");
    }
    // Nothing is written into the image's hosts file.
    assert!(
        !seen.contains(r#"openat(AT_FDCWD, "/c/rootfs/etc/hosts""#),
        "{seen}"
    );
    let made = format!(r#"openat(AT_FDCWD, "{merged}/etc/hostname", O_WRONLY|O_CREAT|O_EXCL"#);
    assert!(seen.contains(&made), "{seen}");
    let pivot = seen.find("pivot_root");
    assert!(seen.find("MS_BIND") < pivot, "{seen}");
}

#[test]
fn a_symlink_where_the_rootfs_mounts_is_refused() {
    let rootfs = Rootfs::on_disk("/i".into(), "/u".into(), "/w".into(), "/m".into());
    let mut journal = Journal::default();
    let mut sys = Sys::dry(
        &mut journal,
        StageId::Rootfs,
        World::new().symlink("/m/dev"),
    );
    let refused = rootfs.enter(&mut sys);
    assert!(
        refused.is_err_and(|e| e.to_string().contains("/m/dev is a symlink")),
        "the /dev of the image is a symlink"
    );
}

/// The files and directories hardening finds in a container's /proc and
/// /sys, and the kernel's highest capability.
fn hardened_world() -> World {
    World::new()
        .char_device("/dev/null", 1, 3)
        .file("/proc/kcore", "")
        .file("/proc/keys", "")
        .dir("/proc/acpi")
        .dir("/proc/sys")
        .file("/proc/sysrq-trigger", "")
        .dir("/sys/firmware")
        .file("/proc/sys/kernel/cap_last_cap", "40\n")
}

#[test]
fn hardening_masks_paths_limits_files_and_drops_capabilities() {
    let caps = capability_set(&[], &[], u64::MAX).expect("the default set");
    let mut hardening = Hardening {
        caps,
        mask_paths: true,
        seccomp: None,
        user: None,
        paths: None,
        sysctl: Vec::new(),
        rlimits: None,
    };
    insta::assert_snapshot!(dry_run(&mut hardening, hardened_world()));
}

#[test]
fn hardening_for_exec_masks_nothing_again() {
    let mut hardening = Hardening {
        caps: 0,
        mask_paths: false,
        seccomp: None,
        user: None,
        paths: None,
        sysctl: Vec::new(),
        rlimits: None,
    };
    let calls = dry_run(&mut hardening, hardened_world());
    assert!(!calls.contains("mount("), "{calls}");
    assert!(calls.contains("capset("), "{calls}");
}

#[test]
fn session_leaves_the_callers_session_and_keyring() {
    let mut session = Session::new(false, Stdio::default(), StageId::Rootfs);
    insta::assert_snapshot!(dry_run(&mut session, World::new()));
}

#[test]
fn session_with_a_terminal_makes_the_new_pty_stdio_and_console() {
    let mut session = Session::new(true, Stdio::default(), StageId::Rootfs);
    insta::assert_snapshot!(dry_run(&mut session, World::new().dir("/dev")));
}

#[test]
fn hardening_refuses_a_dev_null_that_is_not_the_null_device() {
    let hardening = Hardening {
        caps: 0,
        mask_paths: true,
        seccomp: None,
        user: None,
        paths: None,
        sysctl: Vec::new(),
        rlimits: None,
    };
    let mut journal = Journal::default();
    let world = World::new().file("/dev/null", "");
    let mut sys = Sys::dry(&mut journal, StageId::Hardening, world);
    assert!(hardening.enter(&mut sys).is_err());
    assert!(journal.calls().is_empty(), "{:?}", journal.calls());
}

#[test]
fn cgroups_on_v2_chain_the_controllers_write_the_limits_and_remove_it_all() {
    let mounts = "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    let host = Host::from_tables(mounts, "0::/\n", |_| "cpu memory pids".into());
    let limits = Limits {
        memory: Some(32 << 20),
        cpus: Some(0.5),
        pids: Some(20),
    };
    let placement = host.place("/diyc", "box", &limits).expect("a placement");
    let mut cgroups = Cgroups::new(host, placement, limits);
    let world = World::new()
        .dir("/sys/fs/cgroup")
        .file("/sys/fs/cgroup/cgroup.subtree_control", "cpu")
        .file("/sys/fs/cgroup/diyc/box/memory.swap.max", "max");
    insta::assert_snapshot!(dry_run(&mut cgroups, world));
}

#[test]
fn cgroups_on_v1_make_a_directory_in_every_tree_and_join_each() {
    let mounts = "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  32 25 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n\
                  33 25 0:29 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n";
    let host = Host::from_tables(mounts, "", |_| String::new());
    let limits = Limits {
        memory: Some(16 << 20),
        ..Limits::default()
    };
    let placement = host.place("/diyc", "box", &limits).expect("a placement");
    let mut cgroups = Cgroups::new(host, placement, limits);
    let world = World::new()
        .dir("/sys/fs/cgroup/memory/diyc")
        .dir("/sys/fs/cgroup/pids/diyc")
        .dir("/sys/fs/cgroup/freezer/diyc");
    insta::assert_snapshot!(dry_run(&mut cgroups, world));
}

#[test]
fn a_whole_container_is_every_stage_in_one_order() {
    let (_dir, store) = store();
    let mounts = "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    let host = Host::from_tables(mounts, "0::/\n", |_| "cpu memory pids".into());
    let placement = host
        .place("/diyc", "box", &Limits::default())
        .expect("placed");
    let ip = Ipv4Addr::new(172, 16, 0, 9);
    let uts = Uts {
        hostname: "box".into(),
        domainname: None,
    };
    let mut plan =
        diyc::stages::order::Plan::base(uts, Rootfs::in_memory("/i".into(), "/m".into(), 1 << 30));
    plan.cgroups = Some(Cgroups::new(host, placement, Limits::default()));
    plan.net = Some(Net::bridged(store.clone(), bridge(), "box", ip));
    plan.iptables = Some(Iptables {
        store,
        bridge: bridge(),
        ip,
        ports: Vec::new(),
    });
    plan.session = Some(Session::new(true, Stdio::default(), StageId::Rootfs));
    plan.hardening = Some(Hardening {
        caps: 0,
        mask_paths: true,
        seccomp: None,
        user: None,
        paths: None,
        sysctl: Vec::new(),
        rlimits: None,
    });
    let (stages, extra) = plan.build();
    let ids: Vec<&str> = stages.iter().map(|s| s.id().name()).collect();
    assert_eq!(
        ids,
        [
            "cgroups",
            "mount",
            "uts",
            "rootfs",
            "pid",
            "net",
            "iptables",
            "session",
            "hardening"
        ]
    );
    let flags = stages.iter().fold(extra, |f, s| f | s.clone_flags());
    let all = diyc::sys::clone_flag_names(flags);
    assert_eq!(
        all,
        "CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID|CLONE_NEWNET"
    );
}
