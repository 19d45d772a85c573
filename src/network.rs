//! The container network, diyC's design done carefully: one bridge (diyc0,
//! 172.16.0.1/16 by default) in the host's network namespace, a veth pair
//! per container, NAT to the outside and DNAT for published ports, all in
//! diyc's own iptables chains.
//!
//! `setup` makes the shared part once (explicitly with `diyc setup`, or on
//! the first bridged run) and records what it changed, so `teardown` puts
//! the host back exactly: the bridge deleted, the chains and their jumps
//! removed, ip_forward at its former value. After setup, starting a
//! container without published ports runs no iptables at all.
//!
//! Addresses are leased from files under `<root>/net/leases`, one per
//! address, written under a lock and naming their owner; a lease whose
//! owner is dead is taken back.

use std::fmt;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::container::ProcessId;
use crate::error::{Error, IoContext, Result};
use crate::netlink::Request;
use crate::observe;
use crate::store::{self, Store};
use crate::sys::{Call, Sys};

pub const DEFAULT_BRIDGE: &str = "diyc0";
pub const DEFAULT_SUBNET: &str = "172.16.0.0/16";

/// diyc's own chains; every rule of diyc lives in one of them, so a host's
/// own rules are never touched and teardown removes exactly what setup made.
pub const FORWARD_CHAIN: &str = "DIYC-FORWARD";
pub const NAT_CHAIN: &str = "DIYC-POSTROUTING";
pub const DNAT_CHAIN: &str = "DIYC-DNAT";

/// The bridge and its subnet; the bridge holds the first address, which is
/// every container's gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    pub name: String,
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Bridge {
    pub fn new(name: &str, subnet: &str) -> std::result::Result<Bridge, String> {
        let name_ok = !name.is_empty()
            && name.len() <= 15
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(format!(
                "invalid bridge name {name:?}: 1 to 15 letters, digits, '-', '_' or '.'"
            ));
        }
        let (addr, prefix) = subnet
            .split_once('/')
            .ok_or_else(|| format!("invalid subnet {subnet:?}: expected ADDRESS/PREFIX"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("invalid subnet {subnet:?}: not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| format!("invalid subnet {subnet:?}: the prefix must be 8 to 30"))?;
        let bridge = Bridge {
            name: name.to_string(),
            network: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        };
        if bridge.network != addr {
            return Err(format!(
                "invalid subnet {subnet:?}: did you mean {}/{prefix}?",
                bridge.network
            ));
        }
        Ok(bridge)
    }

    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.network)
    }

    pub fn subnet(&self) -> String {
        format!("{}/{}", self.network, self.prefix)
    }

    /// Whether a container may have `ip`: inside the subnet, and not its
    /// network, broadcast or gateway address.
    pub fn check(&self, ip: Ipv4Addr) -> std::result::Result<(), String> {
        if !self.contains(ip) {
            Err(format!("{ip} is outside the subnet {}", self.subnet()))
        } else if ip == self.network || ip == self.broadcast() {
            Err(format!(
                "{ip} is the network or broadcast address of {}",
                self.subnet()
            ))
        } else if ip == self.gateway() {
            Err(format!("{ip} is the gateway ({} itself)", self.name))
        } else {
            Ok(())
        }
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// `-p HOSTPORT:CONTAINERPORT[/udp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub host: u16,
    pub container: u16,
    pub proto: Proto,
}

pub fn parse_port(text: &str) -> std::result::Result<Port, String> {
    let (ports, proto) = match text.split_once('/') {
        Some((ports, "tcp")) => (ports, Proto::Tcp),
        Some((ports, "udp")) => (ports, Proto::Udp),
        Some(_) => return Err(format!("{text:?}: the protocol must be tcp or udp")),
        None => (text, Proto::Tcp),
    };
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    match ports.split_once(':').map(|(h, c)| (port(h), port(c))) {
        Some((Some(host), Some(container))) => Ok(Port {
            host,
            container,
            proto,
        }),
        _ => Err(format!(
            "{text:?} is not HOSTPORT:CONTAINERPORT (1 to 65535, /udp optional)"
        )),
    }
}

pub fn parse_ip(text: &str) -> std::result::Result<Ipv4Addr, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an IPv4 address"))
}

/// The host end of a container's veth pair: at most 15 characters (the
/// kernel's limit), from the container's name and a random part. Not from
/// its address: the kernel removes a pair a moment after its container's
/// namespace goes, and a new container may already have that address.
/// (The other end is eth0, in the container's own namespace.)
pub fn veth_name(container: &str) -> String {
    let short: String = container
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(7)
        .collect::<String>()
        .to_lowercase();
    format!("d{short}-{:06x}", fastrand::u32(..1 << 24))
}

// ---- iptables -----------------------------------------------------------------

fn iptables_binary() -> Result<String> {
    ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables"]
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| p.to_string())
        .ok_or_else(|| {
            Error::invalid("iptables is not installed: `apt-get install iptables` (Debian, Ubuntu)")
        })
}

/// One iptables command, `-w` always (wait for the xtables lock rather
/// than fail when another program holds it). Returns its exit status.
pub fn iptables(sys: &mut Sys, args: &[&str]) -> Result<i32> {
    let mut argv = vec![iptables_binary()?, "-w".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    sys.run_helper(&argv).map(|(code, _)| code)
}

fn must(sys: &mut Sys, args: &[&str]) -> Result<()> {
    match iptables(sys, args)? {
        0 => Ok(()),
        code => Err(Error::failed(format!(
            "iptables {} failed with status {code}",
            args.join(" ")
        ))),
    }
}

/// Add a rule unless `-C` finds it already there: each one exactly once.
fn ensure_rule(sys: &mut Sys, table: &str, chain: &str, rule: &[&str], insert: bool) -> Result<()> {
    let check: Vec<&str> = [&["-t", table, "-C", chain][..], rule].concat();
    if iptables(sys, &check)? == 0 {
        return Ok(());
    }
    let verb = if insert { "-I" } else { "-A" };
    let add: Vec<&str> = [&["-t", table, verb, chain][..], rule].concat();
    must(sys, &add)
}

fn ensure_chain(sys: &mut Sys, table: &str, chain: &str) -> Result<()> {
    if iptables(sys, &["-t", table, "-n", "-L", chain])? != 0 {
        must(sys, &["-t", table, "-N", chain])?;
    }
    Ok(())
}

/// Remove every copy of a rule (a host set up by hand may have several).
fn delete_rule(sys: &mut Sys, table: &str, chain: &str, rule: &[&str]) -> Result<()> {
    let check: Vec<&str> = [&["-t", table, "-C", chain][..], rule].concat();
    let delete: Vec<&str> = [&["-t", table, "-D", chain][..], rule].concat();
    while iptables(sys, &check)? == 0 {
        must(sys, &delete)?;
    }
    Ok(())
}

fn drop_chain(sys: &mut Sys, table: &str, chain: &str) -> Result<()> {
    if iptables(sys, &["-t", table, "-n", "-L", chain])? == 0 {
        must(sys, &["-t", table, "-F", chain])?;
        must(sys, &["-t", table, "-X", chain])?;
    }
    Ok(())
}

/// How many rules `table` holds, or None when it does not exist (with the
/// nf_tables backend a table appears only once something is put in it).
/// Read from a whole `iptables-save`: asked for one table by name, it
/// prints that table's built-in chains even when there is no such table.
fn table_rules(sys: &mut Sys, table: &str) -> Result<Option<usize>> {
    let save = iptables_binary()?.replace("iptables", "iptables-save");
    let (code, out) = sys.run_helper(&[save])?;
    let header = format!("*{table}");
    let mut section = out
        .lines()
        .skip_while(|l| *l != header)
        .take_while(|l| *l != "COMMIT")
        .peekable();
    if code != 0 || section.peek().is_none() {
        return Ok(None);
    }
    Ok(Some(section.filter(|l| l.starts_with("-A ")).count()))
}

/// Delete an empty nf_tables table that setup brought into being.
fn drop_table(sys: &mut Sys, table: &str) -> Result<()> {
    let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .iter()
        .find(|p| Path::new(p).exists());
    match nft {
        Some(nft) => {
            let argv = [
                nft.to_string(),
                "delete".into(),
                "table".into(),
                "ip".into(),
                table.into(),
            ];
            sys.run_helper(&argv).map(drop)
        }
        None => Ok(()),
    }
}

/// The jumps from the built-in chains into diyc's.
fn jumps(bridge: &Bridge) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let _ = bridge;
    let local = |chain: &str| {
        vec![
            "-m".into(),
            "addrtype".into(),
            "--dst-type".into(),
            "LOCAL".into(),
            "-j".into(),
            chain.to_string(),
        ]
    };
    vec![
        ("filter", "FORWARD", vec!["-j".into(), FORWARD_CHAIN.into()]),
        ("nat", "POSTROUTING", vec!["-j".into(), NAT_CHAIN.into()]),
        ("nat", "PREROUTING", local(DNAT_CHAIN)),
        // Loopback is left out, as Docker does: a DNAT'd packet keeps its
        // 127.0.0.1 source, which the kernel will not route off loopback, so
        // the jump would only make a host service on that port unreachable.
        ("nat", "OUTPUT", {
            let mut rule = local(DNAT_CHAIN);
            rule.splice(4..4, ["!".into(), "-d".into(), "127.0.0.0/8".into()]);
            rule
        }),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The rules in diyc's own chains, made afresh at every setup.
fn chain_rules(bridge: &Bridge) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let br = bridge.name.as_str();
    let subnet = bridge.subnet();
    vec![
        // Leaving the subnet by any other interface: the source becomes
        // the host's address there, so replies find their way back.
        (
            "nat",
            NAT_CHAIN,
            s(&["-s", &subnet, "!", "-o", br, "-j", "MASQUERADE"]),
        ),
        // Containers may send anywhere; replies and published ports may come in.
        ("filter", FORWARD_CHAIN, s(&["-i", br, "-j", "ACCEPT"])),
        (
            "filter",
            FORWARD_CHAIN,
            s(&[
                "-o",
                br,
                "-m",
                "conntrack",
                "--ctstate",
                "RELATED,ESTABLISHED,DNAT",
                "-j",
                "ACCEPT",
            ]),
        ),
    ]
}

/// One DNAT rule of a published port, in diyc's DNAT chain.
pub fn dnat_rule(port: &Port, ip: Ipv4Addr) -> Vec<String> {
    vec![
        "-p".into(),
        port.proto.to_string(),
        "-m".into(),
        port.proto.to_string(),
        "--dport".into(),
        port.host.to_string(),
        "-j".into(),
        "DNAT".into(),
        "--to-destination".into(),
        format!("{ip}:{}", port.container),
    ]
}

pub fn add_dnat(sys: &mut Sys, port: &Port, ip: Ipv4Addr) -> Result<()> {
    let rule = dnat_rule(port, ip);
    must(
        sys,
        &[&["-t", "nat", "-A", DNAT_CHAIN][..], &strs(&rule)].concat(),
    )
}

pub fn delete_dnat(sys: &mut Sys, port: &Port, ip: Ipv4Addr) -> Result<()> {
    delete_rule(sys, "nat", DNAT_CHAIN, &strs(&dnat_rule(port, ip)))
}

/// diyc's chains with their packet counters, for `--explain`.
pub fn chains_report(sys: &mut Sys) -> Vec<String> {
    let mut lines = Vec::new();
    for (table, chain) in [
        ("nat", NAT_CHAIN),
        ("nat", DNAT_CHAIN),
        ("filter", FORWARD_CHAIN),
    ] {
        let argv = [
            iptables_binary().unwrap_or_default(),
            "-w".into(),
            "-t".into(),
            table.into(),
            "-n".into(),
            "-v".into(),
            "-x".into(),
            "-L".into(),
            chain.into(),
        ];
        if let Ok((0, out)) = sys.run_helper(&argv) {
            lines.extend(out.lines().map(|l| format!("{table}: {l}")));
        }
    }
    lines
}

// ---- setup and teardown -------------------------------------------------------

/// What setup changed, so teardown can put it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Setup {
    bridge: Bridge,
    /// The network namespace setup was done in, as boot id and namespace
    /// cookie: a record from another namespace (a test's, say), or from
    /// before a reboot, says nothing about this one.
    netns: String,
    /// ip_forward before setup turned it on; None when it was already on.
    ip_forward_before: Option<String>,
    created_bridge: bool,
    /// iptables tables (nf_tables backend) that did not exist before setup
    /// made its chains there; teardown deletes them again if left empty.
    #[serde(default)]
    created_tables: Vec<String>,
}

fn net_dir(store: &Store) -> PathBuf {
    store.root().join("net")
}

const IP_FORWARD: &str = "/proc/sys/net/ipv4/ip_forward";

/// An exclusive lock over the network state of this store: setup,
/// teardown and leases all take it, so parallel first runs make one bridge
/// and each rule once.
fn lock(store: &Store) -> Result<Flock<fs::File>> {
    let dir = net_dir(store);
    fs::create_dir_all(dir.join("leases")).ctx("creating", &dir)?;
    let path = dir.join("lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ctx("opening", &path)?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| Error::Io {
        what: "locking",
        path,
        source: errno.into(),
    })
}

fn read_setup(store: &Store) -> Option<Setup> {
    let data = fs::read(net_dir(store).join("setup.json")).ok()?;
    serde_json::from_slice(&data).ok()
}

fn current_netns() -> String {
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    // Kernels before 5.14 have no cookie; the inode is the next best thing,
    // though the kernel may give it to a later namespace.
    let ns = crate::sys::netns_cookie()
        .map(|c| format!("cookie {c}"))
        .or_else(|| observe::ns_inode(None, "net").map(|i| format!("inode {i}")))
        .unwrap_or_default();
    format!("{}:{ns}", boot.trim())
}

/// Make sure the bridge, ip_forward and diyc's rules are in place: the
/// fast path (nothing changed since setup) costs one netlink query and
/// starts no process.
pub fn ensure(sys: &mut Sys, store: &Store, bridge: &Bridge) -> Result<()> {
    if let Some(setup) = read_setup(store) {
        if setup.bridge == *bridge && setup.netns == current_netns() && bridge_is_up(sys, bridge)? {
            sys.note(format!(
                "{} is up and diyc's rules are in place since `diyc setup`: nothing to add",
                bridge.name
            ));
            return Ok(());
        }
    }
    setup(sys, store, bridge)
}

fn bridge_is_up(sys: &mut Sys, bridge: &Bridge) -> Result<bool> {
    let link = sys
        .netlink()?
        .link(&bridge.name)
        .map_err(|e| Error::failed(format!("looking up {}: {}", bridge.name, e.desc())))?;
    Ok(link.is_some_and(|l| l.kind.as_deref() == Some("bridge") && l.up))
}

/// `diyc setup`: idempotent, so running it twice changes nothing.
pub fn setup(sys: &mut Sys, store: &Store, bridge: &Bridge) -> Result<()> {
    store.create()?;
    let _lock = lock(store)?;
    let previous = read_setup(store).filter(|s| s.netns == current_netns());
    if let Some(p) = &previous {
        if p.bridge != *bridge {
            return Err(Error::invalid(format!(
                "this store's network is set up as {} {}; run `diyc teardown` first to change it",
                p.bridge.name,
                p.bridge.subnet()
            )));
        }
    }
    let existing = sys
        .netlink()?
        .link(&bridge.name)
        .map_err(|e| Error::failed(format!("looking up {}: {}", bridge.name, e.desc())))?;
    let created_bridge = match existing {
        Some(link) if link.kind.as_deref() != Some("bridge") => {
            return Err(Error::invalid(format!(
                "{} exists and is not a bridge ({}); remove it or choose another --bridge",
                bridge.name,
                link.kind.as_deref().unwrap_or("unknown kind")
            )));
        }
        Some(_) => previous.as_ref().is_some_and(|p| p.created_bridge),
        None => {
            sys.call(Call::Netlink {
                request: Request::AddBridge {
                    name: bridge.name.clone(),
                },
            })?;
            true
        }
    };
    let index = sys
        .netlink()?
        .link(&bridge.name)
        .ok()
        .flatten()
        .map(|l| l.index);
    let has_gateway = sys
        .netlink()?
        .addresses()
        .iter()
        .any(|(i, ip, p)| Some(*i) == index && *ip == bridge.gateway() && *p == bridge.prefix);
    if !has_gateway {
        sys.call(Call::Netlink {
            request: Request::AddAddress {
                dev: bridge.name.clone(),
                address: bridge.gateway(),
                prefix: bridge.prefix,
            },
        })?;
    }
    sys.call(Call::Netlink {
        request: Request::SetUp {
            name: bridge.name.clone(),
        },
    })?;

    let forward = fs::read_to_string(IP_FORWARD).ctx("reading", IP_FORWARD)?;
    let ip_forward_before = match previous.as_ref() {
        Some(p) => p.ip_forward_before.clone(),
        None if forward.trim() == "1" => None,
        None => Some(forward.trim().to_string()),
    };
    if forward.trim() != "1" {
        sys.call(Call::WriteFile {
            path: IP_FORWARD.into(),
            value: "1".into(),
        })?;
    }
    let created_tables = match previous.as_ref() {
        Some(p) => p.created_tables.clone(),
        None => {
            let mut missing = Vec::new();
            for table in ["filter", "nat"] {
                if table_rules(sys, table)?.is_none() {
                    missing.push(table.to_string());
                }
            }
            missing
        }
    };
    let record = Setup {
        bridge: bridge.clone(),
        netns: current_netns(),
        ip_forward_before,
        created_bridge,
        created_tables,
    };
    // Recorded before the rules, so a teardown after a half-done setup
    // still knows what to restore.
    write_setup(store, &record)?;

    for (table, chain) in [
        ("filter", FORWARD_CHAIN),
        ("nat", NAT_CHAIN),
        ("nat", DNAT_CHAIN),
    ] {
        ensure_chain(sys, table, chain)?;
    }
    for (table, chain) in [("filter", FORWARD_CHAIN), ("nat", NAT_CHAIN)] {
        must(sys, &["-t", table, "-F", chain])?;
    }
    for (table, chain, rule) in chain_rules(bridge) {
        must(
            sys,
            &[&["-t", table, "-A", chain][..], &strs(&rule)].concat(),
        )?;
    }
    for (table, chain, rule) in jumps(bridge) {
        // FORWARD first of all, ahead of a policy or a DROP another tool
        // (Docker) may have put there.
        ensure_rule(sys, table, chain, &strs(&rule), chain == "FORWARD")?;
    }
    Ok(())
}

fn write_setup(store: &Store, setup: &Setup) -> Result<()> {
    let data = serde_json::to_vec_pretty(setup)
        .map_err(|e| Error::failed(format!("encoding setup.json: {e}")))?;
    store::write_atomic(&net_dir(store).join("setup.json"), &data)
}

/// `diyc teardown`: undo setup, newest first. Refused while a container
/// still holds an address.
pub fn teardown(sys: &mut Sys, store: &Store, bridge: &Bridge) -> Result<()> {
    if !net_dir(store).exists() {
        return Ok(());
    }
    let _lock = lock(store)?;
    reclaim_leases(store);
    let held: Vec<Lease> = leases(store).into_iter().map(|(_, l)| l).collect();
    if let Some(lease) = held.first() {
        return Err(Error::invalid(format!(
            "container {} still uses the network ({}); stop it first",
            lease.container, lease.ip
        )));
    }
    let setup = read_setup(store).filter(|s| s.netns == current_netns());
    let bridge = setup
        .as_ref()
        .map_or_else(|| bridge.clone(), |s| s.bridge.clone());
    let bridge = &bridge;
    for (table, chain, rule) in jumps(bridge).into_iter().rev() {
        delete_rule(sys, table, chain, &strs(&rule))?;
    }
    for (table, chain) in [
        ("nat", DNAT_CHAIN),
        ("nat", NAT_CHAIN),
        ("filter", FORWARD_CHAIN),
    ] {
        drop_chain(sys, table, chain)?;
    }
    let Some(setup) = setup else {
        return Ok(());
    };
    for table in &setup.created_tables {
        if table_rules(sys, table)? == Some(0) {
            drop_table(sys, table)?;
        }
    }
    if let Some(before) = &setup.ip_forward_before {
        sys.call(Call::WriteFile {
            path: IP_FORWARD.into(),
            value: before.clone(),
        })?;
    }
    let exists = sys.netlink()?.link(&bridge.name).ok().flatten().is_some();
    if setup.created_bridge && exists {
        sys.call(Call::Netlink {
            request: Request::DeleteLink {
                name: bridge.name.clone(),
            },
        })?;
    }
    let path = net_dir(store).join("setup.json");
    fs::remove_file(&path).ctx("removing", &path)
}

// ---- leases -----------------------------------------------------------------

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub container: String,
    pub owner: Option<ProcessId>,
    pub ports: Vec<Port>,
}

fn lease_path(store: &Store, ip: Ipv4Addr) -> PathBuf {
    net_dir(store).join("leases").join(ip.to_string())
}

fn leases(store: &Store) -> Vec<(PathBuf, Lease)> {
    fs::read_dir(net_dir(store).join("leases"))
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .filter_map(|e| {
                    let data = fs::read(e.path()).ok()?;
                    Some((e.path(), serde_json::from_slice(&data).ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Take back the addresses of owners that are gone, under the lock.
pub fn reclaim(store: &Store) {
    if net_dir(store).exists() {
        if let Ok(_lock) = lock(store) {
            reclaim_leases(store);
        }
    }
}

/// Take back the leases of owners that are gone.
/// Also the half-written files of a diyc killed while it wrote one: the
/// caller holds the lock every writer here takes.
fn reclaim_leases(store: &Store) {
    for (path, lease) in leases(store) {
        if !lease.owner.is_some_and(|o| o.alive()) {
            let _ = fs::remove_file(path);
        }
    }
    for dir in [net_dir(store), net_dir(store).join("leases")] {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            if store::is_leftover(&entry.file_name().to_string_lossy()) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Lease an address for `container`: `want` if given and free, else the
/// lowest free one. Published ports must not be taken by another lease.
pub fn lease(
    store: &Store,
    bridge: &Bridge,
    container: &str,
    want: Option<Ipv4Addr>,
    ports: &[Port],
) -> Result<Ipv4Addr> {
    let _lock = lock(store)?;
    reclaim_leases(store);
    let held = leases(store);
    for port in ports {
        if let Some((_, other)) = held.iter().find(|(_, l)| {
            l.ports
                .iter()
                .any(|p| p.host == port.host && p.proto == port.proto)
        }) {
            return Err(Error::invalid(format!(
                "host port {}/{} is already published by container {}",
                port.host, port.proto, other.container
            )));
        }
    }
    let taken = |ip: Ipv4Addr| held.iter().any(|(_, l)| l.ip == ip);
    let ip = match want {
        Some(ip) if taken(ip) => {
            let owner = held
                .iter()
                .find(|(_, l)| l.ip == ip)
                .map(|(_, l)| l.container.clone());
            return Err(Error::invalid(format!(
                "{ip} is taken by container {}",
                owner.unwrap_or_default()
            )));
        }
        Some(ip) => ip,
        None => next_free(store, bridge, &taken)?,
    };
    let lease = Lease {
        ip,
        container: container.to_string(),
        owner: ProcessId::of(std::process::id() as i32),
        ports: ports.to_vec(),
    };
    let data = serde_json::to_vec_pretty(&lease)
        .map_err(|e| Error::failed(format!("encoding a lease: {e}")))?;
    store::write_atomic(&lease_path(store, ip), &data)?;
    Ok(ip)
}

/// The first free address after the one handed out last, wrapping round:
/// an address just given back is the last to be handed out again, so a
/// new container never meets the ARP entries of the one that just left.
fn next_free(store: &Store, bridge: &Bridge, taken: &dyn Fn(Ipv4Addr) -> bool) -> Result<Ipv4Addr> {
    let path = net_dir(store).join("last");
    let first = u32::from(bridge.gateway()) + 1;
    let end = u32::from(bridge.broadcast());
    let last = fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.trim().parse::<Ipv4Addr>().ok())
        .map(u32::from)
        .filter(|l| (first..end).contains(l))
        .unwrap_or(end - 1);
    let ip = (last + 1..end)
        .chain(first..=last)
        .map(Ipv4Addr::from)
        .find(|ip| !taken(*ip))
        .ok_or_else(|| Error::invalid(format!("no free address left in {}", bridge.subnet())))?;
    store::write_atomic(&path, ip.to_string().as_bytes())?;
    Ok(ip)
}

pub fn release(store: &Store, ip: Ipv4Addr) -> Result<()> {
    let _lock = lock(store)?;
    let path = lease_path(store, ip);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).ctx("removing", path),
        _ => Ok(()),
    }
}

/// The container's /etc/hosts and /etc/resolv.conf, written in its own
/// root (after pivot_root) without following a symlink the image may have
/// put there.
pub fn write_etc(hostname: &str, ip: Option<Ipv4Addr>, host_resolv: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let etc = Path::new("/etc");
    match fs::symlink_metadata(etc) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(Error::invalid("the image's /etc is not a directory")),
        Err(_) => fs::create_dir(etc).ctx("creating", etc)?,
    }
    let mut hosts =
        String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    if let Some(ip) = ip {
        hosts.push_str(&format!("{ip}\t{hostname}\n"));
    }
    for (name, content) in [("hosts", hosts.as_str()), ("resolv.conf", host_resolv)] {
        let path = etc.join(name);
        // A symlink here is replaced, never written through.
        if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            fs::remove_file(&path).ctx("removing the symlink", &path)?;
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .ctx("writing", &path)?;
        file.write_all(content.as_bytes()).ctx("writing", &path)?;
    }
    Ok(())
}

/// The host's resolvers, minus loopback ones (127.0.0.53 and friends mean
/// nothing inside another network namespace); systemd-resolved's upstream
/// list is used when the host only has its stub.
pub fn resolv_conf() -> String {
    let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut lines = usable_resolvers(&host);
    if !lines.iter().any(|l| l.starts_with("nameserver")) {
        if let Ok(upstream) = fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            lines = usable_resolvers(&upstream);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// resolv.conf lines without nameservers on loopback.
fn usable_resolvers(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            !l.trim_start().starts_with("nameserver")
                || !l
                    .split_whitespace()
                    .nth(1)
                    .is_some_and(|a| a.starts_with("127.") || a == "::1")
        })
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge() -> Bridge {
        Bridge::new(DEFAULT_BRIDGE, DEFAULT_SUBNET).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_default_bridge_is_diyc0_at_172_16_0_1() {
        let b = bridge();
        assert_eq!(b.gateway(), Ipv4Addr::new(172, 16, 0, 1));
        assert_eq!(b.broadcast(), Ipv4Addr::new(172, 16, 255, 255));
        assert!(b.contains(Ipv4Addr::new(172, 16, 3, 4)));
        assert!(!b.contains(Ipv4Addr::new(172, 17, 0, 1)));
    }

    #[test]
    fn container_addresses_are_checked() {
        let b = bridge();
        assert!(b.check(Ipv4Addr::new(172, 16, 0, 10)).is_ok());
        for bad in [
            [172, 16, 0, 0],
            [172, 16, 0, 1],
            [172, 16, 255, 255],
            [10, 0, 0, 5],
        ] {
            assert!(b.check(Ipv4Addr::from(bad)).is_err(), "{bad:?}");
        }
        assert!(parse_ip("172.16.0.300").is_err());
        assert!(parse_ip("nope").is_err());
    }

    #[test]
    fn subnets_and_bridge_names_are_validated() {
        assert!(Bridge::new("diyc0", "10.77.0.0/24").is_ok());
        for (name, subnet) in [
            ("diyc0", "10.77.0.1/24"),
            ("diyc0", "10.77.0.0"),
            ("diyc0", "10.77.0.0/31"),
            ("a-name-far-too-long", "10.77.0.0/24"),
            ("bad name", "10.77.0.0/24"),
        ] {
            assert!(Bridge::new(name, subnet).is_err(), "{name} {subnet}");
        }
    }

    #[test]
    fn ports_parse_with_an_optional_protocol() {
        assert_eq!(
            parse_port("8080:80"),
            Ok(Port {
                host: 8080,
                container: 80,
                proto: Proto::Tcp
            })
        );
        assert_eq!(parse_port("53:53/udp").map(|p| p.proto), Ok(Proto::Udp));
        for bad in ["80", "0:80", "80:0", "70000:80", "a:b", "80:80/sctp", ""] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn veth_names_fit_the_kernels_limit() {
        let host = veth_name("a-very-long-container-name");
        assert!(host.len() <= 15, "{host}");
        assert!(host.starts_with("daverylo-"), "{host}");
    }

    #[test]
    fn resolvers_on_loopback_are_left_out() {
        assert_eq!(
            usable_resolvers("nameserver 127.0.0.53\nsearch lan\nnameserver 10.0.0.1\n"),
            vec!["search lan", "nameserver 10.0.0.1"]
        );
    }
}
