//! The network's own records: what setup made (the bridge, diyc's rules),
//! so teardown undoes exactly that, and the address leases, one file per
//! address under `net/leases`, written under a lock and naming their
//! owner. A lease whose owner is dead is taken back.

use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::container::ProcessId;
use super::{Store, is_leftover, read_json, write_json};
use crate::error::{Error, IoContext, Result};
use crate::observe;
use crate::stages::net::{Bridge, Port};

/// What the net stage's setup made, so teardown removes exactly that.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BridgeRecord {
    pub bridge: Bridge,
    /// The network namespace setup was done in, as boot id and namespace
    /// cookie: a record from another namespace (a test's, say), or from
    /// before a reboot, says nothing about this one.
    pub netns: String,
    pub created_bridge: bool,
}

/// What the iptables stage's setup changed, so teardown puts it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RulesRecord {
    pub bridge: Bridge,
    pub netns: String,
    /// ip_forward before setup turned it on; None when it was already on.
    pub ip_forward_before: Option<String>,
    /// iptables tables (nf_tables backend) that did not exist before setup
    /// made its chains there; teardown deletes them again if left empty.
    /// None until setup has looked.
    pub created_tables: Option<Vec<String>>,
    /// Setup got to its end: only then may a run skip it.
    #[serde(default)]
    pub complete: bool,
}

fn net_dir(store: &Store) -> PathBuf {
    store.net_dir()
}

/// Where the setup records of this network namespace are: one directory
/// per namespace (`net/ns/BOOT-cookie-N`), so a store used from two
/// namespaces keeps what each setup made, and teardown in each puts that
/// one back.
fn records_dir(store: &Store) -> PathBuf {
    records_dir_of(store, &current_netns())
}

/// The same for the namespace a record names.
fn records_dir_of(store: &Store, netns: &str) -> PathBuf {
    let key: String = netns
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    net_dir(store).join("ns").join(key)
}

const BRIDGE_FILE: &str = "bridge.json";
const RULES_FILE: &str = "rules.json";
/// What diyc before the split of setup wrote: both records in one.
const OLD_SETUP_FILE: &str = "setup.json";

#[derive(Deserialize)]
struct OldSetup {
    bridge: Bridge,
    netns: String,
    ip_forward_before: Option<String>,
    created_bridge: bool,
    #[serde(default)]
    created_tables: Vec<String>,
}

/// Records of an earlier diyc become this one's, so teardown still puts
/// that host back: one setup.json holding both, or bridge.json and
/// rules.json shared by every namespace. The caller holds the lock.
fn migrate(store: &Store) -> Result<()> {
    for file in [BRIDGE_FILE, RULES_FILE] {
        let shared = net_dir(store).join(file);
        let ours = read_json::<serde_json::Value>(&shared)
            .ok()
            .is_some_and(|r| r["netns"] == current_netns().as_str());
        if ours {
            let dir = records_dir(store);
            fs::create_dir_all(&dir).ctx("creating", &dir)?;
            fs::rename(&shared, dir.join(file)).ctx("moving", &shared)?;
        }
    }
    let old = net_dir(store).join(OLD_SETUP_FILE);
    let Ok(setup) = read_json::<OldSetup>(&old) else {
        return Ok(());
    };
    write_bridge_record(
        store,
        &BridgeRecord {
            bridge: setup.bridge.clone(),
            netns: setup.netns.clone(),
            created_bridge: setup.created_bridge,
        },
    )?;
    write_rules_record(
        store,
        &RulesRecord {
            bridge: setup.bridge,
            netns: setup.netns,
            ip_forward_before: setup.ip_forward_before,
            created_tables: Some(setup.created_tables),
            complete: true,
        },
    )?;
    fs::remove_file(&old).ctx("removing", &old)
}

/// An exclusive lock over the network state of this store: setup,
/// teardown and leases all take it, so parallel first runs make one bridge
/// and each rule once.
pub fn lock(store: &Store) -> Result<Flock<fs::File>> {
    let dir = net_dir(store);
    fs::create_dir_all(dir.join("leases")).ctx("creating", &dir)?;
    let path = dir.join("lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ctx("opening", &path)?;
    let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| Error::Io {
        what: "locking",
        path,
        source: errno.into(),
    })?;
    migrate(store)?;
    Ok(lock)
}

fn read_record<T: for<'de> Deserialize<'de>>(store: &Store, file: &str) -> Option<T> {
    read_json(&records_dir(store).join(file)).ok()
}

fn write_record<T: Serialize>(store: &Store, netns: &str, file: &str, record: &T) -> Result<()> {
    let dir = records_dir_of(store, netns);
    fs::create_dir_all(&dir).ctx("creating", &dir)?;
    write_json(&dir.join(file), record)
}

fn remove_record(store: &Store, file: &str) -> Result<()> {
    let dir = records_dir(store);
    let path = dir.join(file);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).ctx("removing", path),
        // The namespace's directory goes with its last record.
        _ => {
            let _ = fs::remove_dir(&dir);
            Ok(())
        }
    }
}

/// The bridge record, if it was made in this network namespace.
pub fn bridge_record(store: &Store) -> Option<BridgeRecord> {
    read_record::<BridgeRecord>(store, BRIDGE_FILE).filter(|r| r.netns == current_netns())
}

/// Written before the bridge is made, so a teardown after a half-done
/// setup still knows what to remove.
pub fn write_bridge_record(store: &Store, record: &BridgeRecord) -> Result<()> {
    write_record(store, &record.netns, BRIDGE_FILE, record)
}

pub fn remove_bridge_record(store: &Store) -> Result<()> {
    remove_record(store, BRIDGE_FILE)
}

/// The rules record, if it was made in this network namespace.
pub fn rules_record(store: &Store) -> Option<RulesRecord> {
    read_record::<RulesRecord>(store, RULES_FILE).filter(|r| r.netns == current_netns())
}

/// Written before the rules are added, for the same reason.
pub fn write_rules_record(store: &Store, record: &RulesRecord) -> Result<()> {
    write_record(store, &record.netns, RULES_FILE, record)
}

pub fn remove_rules_record(store: &Store) -> Result<()> {
    remove_record(store, RULES_FILE)
}

/// Whether any part of the network is set up in this namespace.
pub fn any_record(store: &Store) -> bool {
    let old = read_json::<OldSetup>(&net_dir(store).join(OLD_SETUP_FILE));
    bridge_record(store).is_some()
        || rules_record(store).is_some()
        || old.is_ok_and(|o| o.netns == current_netns())
}

/// This network namespace, as the records name it.
pub fn current_netns() -> String {
    use std::os::unix::fs::MetadataExt;
    use std::sync::Mutex;
    // A bridged run asks five times; the answer is worked out once per
    // namespace, which a stat of its file tells apart (a thread that has
    // changed namespace since gets its new one's). The inode could name a
    // later namespace only once the cached one is freed, and diyc's host
    // side asks from the one it runs in, which outlives it.
    static KNOWN: Mutex<Option<((u64, u64), String)>> = Mutex::new(None);
    let here = fs::metadata("/proc/thread-self/ns/net")
        .ok()
        .map(|m| (m.dev(), m.ino()));
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let (Some(here), Some((seen, name))) = (here, known.as_ref()) {
        if here == *seen {
            return name.clone();
        }
    }
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    // Kernels before 5.14 have no cookie; the inode is the next best thing,
    // though the kernel may give it to a later namespace.
    let ns = crate::sys::netns_cookie()
        .map(|c| format!("cookie {c}"))
        .or_else(|| observe::ns_inode(None, "net").map(|i| format!("inode {i}")))
        .unwrap_or_default();
    let name = format!("{}:{ns}", boot.trim());
    *known = here.map(|here| (here, name.clone()));
    name
}

// ---- leases ---------------------------------------------------------------

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

/// Take back the addresses of owners that are gone, under the lock.
pub fn reclaim(store: &Store) {
    if net_dir(store).exists() {
        if let Ok(_lock) = lock(store) {
            live_leases(store);
        }
    }
}

/// The leases still held, each file read once: a lease whose owner is
/// gone is taken back on the way, and so are the half-written files of a
/// diyc killed while it wrote one. (A start with 250 bridged containers
/// alive read every lease and its owner's /proc entry twice, 10 ms.) The
/// caller holds the lock every writer here takes.
fn live_leases(store: &Store) -> Vec<(PathBuf, Lease)> {
    live_and_unreadable(store).0
}

/// The same, and the addresses of lease files that can't be read (a
/// newer diyc's, say): those stay, and so does their address.
fn live_and_unreadable(store: &Store) -> (Vec<(PathBuf, Lease)>, Vec<Ipv4Addr>) {
    let mut live = Vec::new();
    let mut unreadable = Vec::new();
    let entries = fs::read_dir(net_dir(store).join("leases"));
    for entry in entries.into_iter().flatten().flatten() {
        let (name, path) = (entry.file_name(), entry.path());
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            if is_leftover(&name) {
                let _ = fs::remove_file(&path);
            }
            continue;
        }
        let Ok(lease) = read_json::<Lease>(&path) else {
            unreadable.extend(name.parse::<Ipv4Addr>());
            continue;
        };
        if lease.owner.is_some_and(|o| o.alive()) {
            live.push((path, lease));
        } else {
            let _ = fs::remove_file(&path);
        }
    }
    for entry in fs::read_dir(net_dir(store)).into_iter().flatten().flatten() {
        if is_leftover(&entry.file_name().to_string_lossy()) {
            let _ = fs::remove_file(entry.path());
        }
    }
    (live, unreadable)
}

/// The leases still held, once those of owners that are gone are taken
/// back. The caller holds the lock.
pub fn held_leases(store: &Store) -> Vec<Lease> {
    live_leases(store).into_iter().map(|(_, l)| l).collect()
}

/// Whether the network's records exist at all.
pub fn exists(store: &Store) -> bool {
    net_dir(store).exists()
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
    let (held, unreadable) = live_and_unreadable(store);
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
    let taken = |ip: Ipv4Addr| unreadable.contains(&ip) || held.iter().any(|(_, l)| l.ip == ip);
    let ip = match want {
        Some(ip) if taken(ip) => {
            let owner = held.iter().find(|(_, l)| l.ip == ip);
            return Err(Error::invalid(match owner {
                Some((_, l)) => format!("{ip} is taken by container {}", l.container),
                None => format!("{ip} is taken: its lease file cannot be read"),
            }));
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
    write_json(&lease_path(store, ip), &lease)?;
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
    write_last(&path, ip)?;
    Ok(ip)
}

/// Rewrite `last` in place: every reader and writer holds the network
/// lock, and a file renamed over this one cost each bridged run a new
/// inode and a flush of its data on ext4 (0.2 ms here). One width for
/// every address, so a shorter one never keeps the tail of a longer one,
/// and anything longer is cut. It is only where the search starts: a torn
/// write reads as another address or none, and `taken` still decides.
fn write_last(path: &std::path::Path, ip: Ipv4Addr) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let line = format!("{ip:<15}\n");
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .and_then(|file| {
            file.write_all_at(line.as_bytes(), 0)?;
            file.set_len(line.len() as u64)
        })
        .ctx("writing", path)
}

pub fn release(store: &Store, ip: Ipv4Addr) -> Result<()> {
    let _lock = lock(store)?;
    let path = lease_path(store, ip);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).ctx("removing", path),
        _ => Ok(()),
    }
}
