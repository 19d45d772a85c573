//! The iptables stage: what lets a bridged container reach the outside and
//! be reached on its published ports, all in diyc's own chains (rules.rs).
//!
//! Made once, by `diyc setup` or the first bridged run, and recorded so
//! teardown restores the host exactly: ip_forward turned on, diyc's chains
//! with MASQUERADE for the subnet leaving by any other interface and
//! forwarding to and from the bridge, and one jump into each chain from
//! the built-in ones. Then each published port adds one DNAT rule for
//! this container, removed when it exits. After setup, a container
//! without published ports starts no iptables process at all (unless
//! someone asked to see the counters).

mod rules;

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::event::{Event, Heading, StageId};
use crate::stages::Stage;
use crate::stages::net::{Bridge, Port};
use crate::state::Store;
use crate::state::network::{self as records, RulesRecord};
use crate::sys::{Call, Sys};
use crate::undo::{Undo, When};

use rules::{DNAT_CHAIN, FORWARD_CHAIN, strs};
pub use rules::{IPTABLES_PATHS, NAT_CHAIN, delete_dnat, iptables, require_iptables};

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "iptables: NAT to the outside, DNAT for published ports",
    why: "diyc's own chains rewrite addresses so the container can reach out and be reached.",
};

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

pub struct Iptables {
    pub store: Store,
    pub bridge: Bridge,
    pub ip: Ipv4Addr,
    pub ports: Vec<Port>,
}

fn show(sys: &mut Sys, title: &str) {
    if sys.explaining() {
        let lines = rules::chains_report(sys);
        sys.emit(Event::State {
            stage: StageId::Iptables,
            inside: false,
            title: title.into(),
            lines,
        });
    }
}

impl Stage for Iptables {
    fn id(&self) -> StageId {
        StageId::Iptables
    }

    fn runs_inside(&self) -> bool {
        false
    }

    fn prepare(&mut self, sys: &mut Sys, undo: &mut Undo) -> Result<()> {
        sys.stage(StageId::Iptables);
        ensure_rules(sys, &self.store, &self.bridge)?;
        for port in self.ports.clone() {
            let ip = self.ip;
            undo.push(
                format!(
                    "removing the DNAT rule of port {}/{}",
                    port.host, port.proto
                ),
                When::Always,
                move |sys| rules::delete_dnat(sys, &port, ip),
            );
            rules::add_dnat(sys, &port, self.ip)?;
        }
        crate::fault::point("after-dnat")?;
        show(sys, "diyc's chains, with their packet counters");
        Ok(())
    }

    fn finish(&mut self, sys: &mut Sys, _code: i32) -> Option<String> {
        if sys.explaining() {
            sys.stage(StageId::Iptables);
            show(sys, "the same counters after the container exited");
        }
        None
    }
}

/// The fast path of a bridged run: the record says the rules are in place
/// in this network namespace, so no process is started.
pub fn ensure_rules(sys: &mut Sys, store: &Store, bridge: &Bridge) -> Result<()> {
    if records::rules_record(store).is_some_and(|r| r.bridge == *bridge && r.complete) {
        sys.note("diyc's rules are in place since `diyc setup`: nothing to add");
        return Ok(());
    }
    let _lock = records::lock(store)?;
    setup_rules(sys, store, bridge)
}

/// ip_forward, diyc's chains and their rules, and the jumps into them:
/// idempotent, so running it twice changes nothing. The caller holds the
/// network lock.
pub fn setup_rules(sys: &mut Sys, store: &Store, bridge: &Bridge) -> Result<()> {
    store.create()?;
    let previous = records::rules_record(store);
    let forward = sys
        .read_trim(IP_FORWARD)
        .ok_or_else(|| Error::invalid(format!("{IP_FORWARD} cannot be read: is /proc mounted?")))?;
    let mut record = RulesRecord {
        bridge: bridge.clone(),
        netns: records::current_netns(),
        ip_forward_before: match previous.as_ref() {
            Some(p) => p.ip_forward_before.clone(),
            None if forward == "1" => None,
            None => Some(forward.clone()),
        },
        created_tables: previous.and_then(|p| p.created_tables),
        complete: false,
    };
    // Recorded before each change, so a teardown after a half-done setup
    // still knows what to restore.
    records::write_rules_record(store, &record)?;
    if forward != "1" {
        sys.call(Call::WriteFile {
            path: IP_FORWARD.into(),
            value: "1".into(),
        })?;
    }
    if record.created_tables.is_none() {
        let mut missing = Vec::new();
        for table in ["filter", "nat"] {
            if rules::table_rules(sys, table)?.is_none() {
                missing.push(table.to_string());
            }
        }
        record.created_tables = Some(missing);
        records::write_rules_record(store, &record)?;
    }
    for (table, chain) in [
        ("filter", FORWARD_CHAIN),
        ("nat", NAT_CHAIN),
        ("nat", DNAT_CHAIN),
    ] {
        rules::ensure_chain(sys, table, chain)?;
    }
    for (table, chain) in [("filter", FORWARD_CHAIN), ("nat", NAT_CHAIN)] {
        rules::must(sys, &["-t", table, "-F", chain])?;
    }
    for (table, chain, rule) in rules::chain_rules(bridge) {
        rules::must(
            sys,
            &[&["-t", table, "-A", chain][..], &strs(&rule)].concat(),
        )?;
    }
    for (table, chain, rule) in rules::jumps() {
        // FORWARD first of all, ahead of a policy or a DROP another tool
        // (Docker) may have put there.
        rules::ensure_rule(sys, table, chain, &strs(&rule), chain == "FORWARD")?;
    }
    // Only a whole setup lets a later run skip it.
    record.complete = true;
    records::write_rules_record(store, &record)
}

/// Undo setup_rules, newest first: the jumps, diyc's chains, the tables
/// setup brought into being, ip_forward as it was. Without a record of
/// this namespace there is nothing of this store's to undo here (setup
/// writes it before its first change), and a record of another namespace
/// is that namespace's to undo. The caller holds the network lock and has
/// checked that no container still uses the network.
pub fn teardown_rules(sys: &mut Sys, store: &Store) -> Result<()> {
    let Some(record) = records::rules_record(store) else {
        return Ok(());
    };
    for (table, chain, rule) in rules::jumps().into_iter().rev() {
        rules::delete_rule(sys, table, chain, &strs(&rule))?;
    }
    for (table, chain) in [
        ("nat", DNAT_CHAIN),
        ("nat", NAT_CHAIN),
        ("filter", FORWARD_CHAIN),
    ] {
        rules::drop_chain(sys, table, chain)?;
    }
    for table in record.created_tables.iter().flatten() {
        if rules::table_rules(sys, table)? == Some(0) {
            rules::drop_table(sys, table)?;
        }
    }
    if let Some(before) = &record.ip_forward_before {
        sys.call(Call::WriteFile {
            path: IP_FORWARD.into(),
            value: before.clone(),
        })?;
    }
    records::remove_rules_record(store)
}

/// The rule the iptables lesson takes out for one run, as `iptables`
/// arguments after `op` (-A, -D or -C).
pub fn masquerade_rule(op: &str, bridge: &Bridge) -> Vec<String> {
    ["-t", "nat", op, NAT_CHAIN]
        .into_iter()
        .map(String::from)
        .chain(rules::masquerade(bridge))
        .collect()
}
