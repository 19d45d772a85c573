//! Each stage's call sequence on the dry backend: the seam records every
//! call as the real one would and makes none, so these run as any user,
//! with no root, no namespace and nothing changed on the machine. What a
//! stage reads to decide its next call comes from a described `World`.
//! The sequences, rendered as `--explain` renders them, are snapshots.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::net::Ipv4Addr;

use diyc::event::{Event, Outcome, StageId};
use diyc::stages::cgroups::{Cgroups, Host, Limits};
use diyc::stages::hardening::{Hardening, capability_set};
use diyc::stages::iptables::Iptables;
use diyc::stages::mount::Mount;
use diyc::stages::net::{Bridge, EtcFiles, Net};
use diyc::stages::pid::Pid;
use diyc::stages::rootfs::Rootfs;
use diyc::stages::uts::Uts;
use diyc::stages::{Child, Stage};
use diyc::state::Store;
use diyc::sys::{Journal, Link, Sys, World};
use diyc::undo::Undo;

/// The events as `--explain` shows them, without colour or pids.
fn transcript(journal: &Journal) -> String {
    let mut out = String::new();
    for event in &journal.events {
        let line = match event {
            Event::Stage { stage } => format!("== {}", stage.heading().title),
            Event::Syscall { text, outcome, .. } => match outcome {
                Outcome::Ok(v) => format!("  {text} = {v}"),
                other => format!("  {text} {other}"),
            },
            Event::Note { text, .. } => format!("  # {text}"),
            Event::State { title, lines, .. } => {
                format!("  [{title}: {} lines]", lines.len())
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Run one stage's hooks on the dry backend, in the order a launch runs
/// them: prepare, attach, enter, finish.
fn dry_run(stage: &mut dyn Stage, world: World) -> String {
    let mut journal = Journal::default();
    {
        let mut sys = Sys::dry(&mut journal, StageId::Clone, world);
        let mut undo = Undo::new();
        assert!(stage.prepare(&mut sys, &mut undo).is_ok(), "prepare");
        let child = Child {
            pid: 4243,
            placed_by_clone: false,
        };
        assert!(stage.attach(&mut sys, child).is_ok(), "attach");
        if stage.runs_inside() {
            let entered = stage.enter(&mut sys);
            assert!(entered.is_ok(), "enter: {entered:?}");
        }
        let _ = stage.finish(&mut sys, 0);
        undo.finish(&mut sys, true);
    }
    transcript(&journal)
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temporary state root");
    let store = Store::new(dir.path()).expect("a store");
    (dir, store)
}

/// diyc0, up, as a run after setup finds it.
fn bridge_up() -> Link {
    Link {
        index: 7,
        name: "diyc0".into(),
        kind: Some("bridge".into()),
        master: None,
        up: true,
    }
}

/// A host with iptables, forwarding off, and `iptables-save` printing
/// `save`.
fn iptables_host(save: &str) -> World {
    World::new()
        .file("/usr/sbin/iptables", "")
        .file("/proc/sys/net/ipv4/ip_forward", "0\n")
        .helper("iptables-save", 0, save)
}

fn bridge() -> Bridge {
    Bridge::new("diyc0", "172.16.0.0/16").expect("the default bridge")
}

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
    let mut pid = Pid { mount_proc: true };
    let made = dry_run(&mut pid, World::new());
    assert!(
        made.contains(r#"mkdirat(AT_FDCWD, "/proc", 0555)"#),
        "{made}"
    );
    let there = dry_run(&mut Pid { mount_proc: true }, World::new().dir("/proc"));
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
    let mut rootfs = Rootfs::in_memory("/img".into(), "/c/rootfs".into());
    let seen = dry_run(&mut rootfs, World::new());
    let tmpfs = seen.find(r#"mount("tmpfs", "/c/rootfs", "tmpfs""#);
    let overlay = seen.find(r#"mount("overlay", "/c/rootfs/merged""#);
    assert!(tmpfs.is_some() && tmpfs < overlay, "{seen}");
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
    let caps = capability_set(&[], &[]).expect("the default set");
    let mut hardening = Hardening { caps };
    insta::assert_snapshot!(dry_run(&mut hardening, hardened_world()));
}

#[test]
fn hardening_refuses_a_dev_null_that_is_not_the_null_device() {
    let hardening = Hardening { caps: 0 };
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

fn etc(hostname: &str, ip: Option<Ipv4Addr>) -> EtcFiles {
    EtcFiles {
        hosts: diyc::stages::net::etc::hosts(hostname, ip),
        resolv: "nameserver 192.0.2.53\n".into(),
    }
}

#[test]
fn net_makes_the_bridge_the_veth_pair_and_the_containers_addresses() {
    let (_dir, store) = store();
    let ip = Ipv4Addr::new(172, 16, 0, 9);
    let mut net = Net::bridged(store, bridge(), "box", ip, etc("box", Some(ip)));
    let world = World::new().dir("/etc").symlink("/etc/resolv.conf");
    let seen = dry_run(&mut net, world);
    // The host end's name has a random part.
    let seen = regex_lite_veth(&seen);
    insta::assert_snapshot!(seen);
}

/// `dbox-1a2b3c` → `dbox-[RANDOM]`.
fn regex_lite_veth(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| match line.find("ip link add dbox-") {
            Some(at) => {
                let start = at + "ip link add dbox-".len();
                format!("{}[RANDOM]{}", &line[..start], &line[start + 6..])
            }
            None => line.to_string(),
        })
        .collect()
}

#[test]
fn net_after_setup_only_plugs_the_container_in() {
    let (_dir, store) = store();
    let ip = Ipv4Addr::new(172, 16, 0, 9);
    // The first run sets the bridge up and records it.
    let mut first = Net::bridged(store.clone(), bridge(), "box", ip, etc("box", Some(ip)));
    dry_run(&mut first, World::new());
    let mut second = Net::bridged(store, bridge(), "box", ip, etc("box", Some(ip)));
    let seen = dry_run(&mut second, World::new().link(bridge_up()));
    assert!(seen.contains("diyc0 is up since `diyc setup`"), "{seen}");
    assert!(!seen.contains("type bridge"), "{seen}");
}

#[test]
fn net_none_has_only_lo() {
    let (_dir, store) = store();
    let mut net = Net::isolated(store, bridge(), None);
    insta::assert_snapshot!(dry_run(&mut net, World::new()));
}

#[test]
fn iptables_makes_diycs_chains_masquerade_forward_and_dnat() {
    let (_dir, store) = store();
    let port = diyc::stages::net::parse_port("8080:80").expect("a port");
    let mut iptables = Iptables {
        store,
        bridge: bridge(),
        ip: Ipv4Addr::new(172, 16, 0, 9),
        ports: vec![port],
    };
    // A fresh host: no nat table, diyc's chains missing, no jumps yet.
    let world = iptables_host("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n")
        .helper("iptables -w -t filter -n -L DIYC-FORWARD", 1, "")
        .helper("iptables -w -t nat -n -L DIYC-", 1, "")
        .helper("iptables -w -t filter -C FORWARD", 1, "")
        .helper("iptables -w -t nat -C ", 1, "")
        // At the end the DNAT rule is there once, and gone once deleted.
        .helper_once("iptables -w -t nat -C DIYC-DNAT", 0, "");
    insta::assert_snapshot!(dry_run(&mut iptables, world));
}

#[test]
fn teardown_undoes_setup_newest_first() {
    let (_dir, store) = store();
    // Before setup the host has no iptables tables; after it, empty ones.
    let mut journal = Journal::default();
    {
        let mut sys = Sys::dry(&mut journal, StageId::Net, iptables_host(""));
        let made = diyc::stages::order::setup_network(&mut sys, &store, &bridge());
        assert!(made.is_ok(), "{made:?}");
    }
    // diyc's chains and jumps are there now, each found once.
    let world = iptables_host("*nat\nCOMMIT\n*filter\nCOMMIT\n")
        .file("/usr/sbin/nft", "")
        .link(bridge_up())
        .helper_once("iptables -w -t nat -C OUTPUT", 0, "")
        .helper_once("iptables -w -t nat -C PREROUTING", 0, "")
        .helper_once("iptables -w -t nat -C POSTROUTING", 0, "")
        .helper_once("iptables -w -t filter -C FORWARD", 0, "")
        .helper("iptables -w -t nat -C ", 1, "")
        .helper("iptables -w -t filter -C ", 1, "");
    let mut journal = Journal::default();
    {
        let mut sys = Sys::dry(&mut journal, StageId::Cleanup, world);
        let undone = diyc::stages::order::teardown_network(&mut sys, &store);
        assert!(undone.is_ok(), "{undone:?}");
    }
    insta::assert_snapshot!(transcript(&journal));
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
        diyc::stages::order::Plan::base(uts, Rootfs::in_memory("/i".into(), "/m".into()));
    plan.cgroups = Some(Cgroups::new(host, placement, Limits::default()));
    plan.net = Some(Net::bridged(
        store.clone(),
        bridge(),
        "box",
        ip,
        etc("box", Some(ip)),
    ));
    plan.iptables = Some(Iptables {
        store,
        bridge: bridge(),
        ip,
        ports: Vec::new(),
    });
    plan.hardening = Some(Hardening { caps: 0 });
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

#[test]
fn teardown_leaves_the_records_of_another_network_namespace() {
    use diyc::state::network::{
        BridgeRecord, RulesRecord, lock, write_bridge_record, write_rules_record,
    };
    let (dir, store) = store();
    // Taking the lock makes the network's directory.
    drop(lock(&store).expect("the network lock"));
    let elsewhere = "another boot:cookie 1".to_string();
    write_bridge_record(
        &store,
        &BridgeRecord {
            bridge: bridge(),
            netns: elsewhere.clone(),
            created_bridge: true,
        },
    )
    .expect("a bridge record");
    write_rules_record(
        &store,
        &RulesRecord {
            bridge: bridge(),
            netns: elsewhere,
            ip_forward_before: Some("0".into()),
            created_tables: None,
            complete: true,
        },
    )
    .expect("a rules record");
    let mut journal = Journal::default();
    let mut sys = Sys::dry(&mut journal, StageId::Cleanup, iptables_host(""));
    let undone = diyc::stages::order::teardown_network(&mut sys, &store);
    assert!(undone.is_ok(), "{undone:?}");
    for record in ["bridge.json", "rules.json"] {
        assert!(
            dir.path().join("net").join(record).exists(),
            "{record} was removed"
        );
    }
    assert!(journal.calls().is_empty(), "{:?}", journal.calls());
}

#[test]
fn a_setup_that_failed_half_way_is_done_again_by_the_next_run() {
    use diyc::stages::iptables::ensure_rules;
    let (_dir, store) = store();
    let refusing = iptables_host("").helper("iptables -w -t nat -A DIYC-POSTROUTING", 1, "");
    let mut journal = Journal::default();
    {
        let mut sys = Sys::dry(&mut journal, StageId::Iptables, refusing);
        assert!(ensure_rules(&mut sys, &store, &bridge()).is_err());
    }
    let mut journal = Journal::default();
    {
        let mut sys = Sys::dry(&mut journal, StageId::Iptables, iptables_host(""));
        let made = ensure_rules(&mut sys, &store, &bridge());
        assert!(made.is_ok(), "{made:?}");
    }
    let calls = journal.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("iptables -w -t nat -A DIYC-POSTROUTING")),
        "the second run made the rules: {calls:?}"
    );
    // And once whole, the next run trusts the record.
    let mut journal = Journal::default();
    {
        let mut sys = Sys::dry(&mut journal, StageId::Iptables, iptables_host(""));
        assert!(ensure_rules(&mut sys, &store, &bridge()).is_ok());
    }
    assert!(journal.calls().is_empty(), "{:?}", journal.calls());
}

#[test]
fn teardown_puts_back_what_an_earlier_diycs_setup_json_recorded() {
    let (dir, store) = store();
    let net = dir.path().join("net");
    std::fs::create_dir_all(&net).expect("the network's directory");
    let old = serde_json::json!({
        "bridge": {"name": "diyc0", "network": "172.16.0.0", "prefix": 16},
        "netns": diyc::state::network::current_netns(),
        "ip_forward_before": "0",
        "created_bridge": true,
        "created_tables": ["nat"],
    });
    std::fs::write(net.join("setup.json"), old.to_string()).expect("setup.json");
    let world = iptables_host("*nat\nCOMMIT\n")
        .file("/usr/sbin/nft", "")
        .link(bridge_up())
        .helper("iptables -w -t nat -C ", 1, "")
        .helper("iptables -w -t filter -C ", 1, "");
    let mut journal = Journal::default();
    {
        let mut sys = Sys::dry(&mut journal, StageId::Cleanup, world);
        let undone = diyc::stages::order::teardown_network(&mut sys, &store);
        assert!(undone.is_ok(), "{undone:?}");
    }
    let calls = journal.calls();
    for undo in [
        "nft delete table ip nat",
        "echo 0 > /proc/sys/net/ipv4/ip_forward",
        "RTM_DELLINK: ip link del diyc0",
    ] {
        assert!(calls.iter().any(|c| c == undo), "{undo} missing: {calls:?}");
    }
    assert!(!net.join("setup.json").exists());
}
