//! The address leases: one file per address under `net/leases`, written
//! under the network's lock and naming their owner, and `net/last`, where
//! the search for a free address starts. A lease whose owner is gone is
//! taken back.

use std::fs;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{lock, net_dir};
use crate::error::{Error, IoContext, Result};
use crate::stages::net::{Bridge, Port};
use crate::state::container::ProcessId;
use crate::state::{Store, is_leftover, read_json, write_json};

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
