//! The network's stages and `diyc setup`/`teardown` on the dry backend:
//! the bridge, the veth pair, the container's addresses and /etc, diyc's
//! iptables rules, and what teardown undoes, as snapshots and checks that
//! need no root.

// Tests set up and look at the host directly; the kernel wall of
// clippy.toml is for diyc's own code.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::net::Ipv4Addr;

use common::dry::{bridge, bridge_up, dry_run, dry_teardown, iptables_host, store, transcript};
use diyc::event::StageId;
use diyc::stages::iptables::Iptables;
use diyc::stages::net::Net;
use diyc::sys::{Journal, Sys, World};

#[test]
fn net_makes_the_bridge_the_veth_pair_and_the_containers_addresses() {
    let (_dir, store) = store();
    let ip = Ipv4Addr::new(172, 16, 0, 9);
    let mut net = Net::bridged(store, bridge(), "box", ip);
    let seen = dry_run(&mut net, World::new());
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
    let mut first = Net::bridged(store.clone(), bridge(), "box", ip);
    dry_run(&mut first, World::new());
    let mut second = Net::bridged(store, bridge(), "box", ip);
    let seen = dry_run(&mut second, World::new().link(bridge_up()));
    assert!(seen.contains("diyc0 is up since `diyc setup`"), "{seen}");
    assert!(!seen.contains("type bridge"), "{seen}");
}

#[test]
fn net_none_has_only_lo() {
    let (_dir, store) = store();
    let mut net = Net::isolated(store, bridge());
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
    insta::assert_snapshot!(transcript(&dry_teardown(&store, world)));
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
    let journal = dry_teardown(&store, iptables_host(""));
    let theirs: Vec<std::path::PathBuf> = std::fs::read_dir(dir.path().join("net/ns"))
        .expect("the records' directories")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    for record in ["bridge.json", "rules.json"] {
        assert!(theirs[0].join(record).exists(), "{record} was removed");
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
    let calls = dry_teardown(&store, world).calls();
    for undo in [
        "nft delete table ip nat",
        "echo 0 > /proc/sys/net/ipv4/ip_forward",
        "RTM_DELLINK: ip link del diyc0",
    ] {
        assert!(calls.iter().any(|c| c == undo), "{undo} missing: {calls:?}");
    }
    assert!(!net.join("setup.json").exists());
}
