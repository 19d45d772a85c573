//! The network's own records: what setup made (the bridge, diyc's rules),
//! so teardown undoes exactly that, and the lock every writer of them and
//! of the address leases (leases.rs) takes.

use std::fs;
use std::path::PathBuf;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::{Store, read_json, write_json};
use crate::error::{Error, IoContext, Result};
use crate::observe;
use crate::stages::net::Bridge;

mod leases;

pub use leases::{Lease, held_leases, lease, reclaim, release};

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

/// Whether the network's records exist at all.
pub fn exists(store: &Store) -> bool {
    net_dir(store).exists()
}
