//! The bridge every bridged container is plugged into: made once
//! (explicitly with `diyc setup`, or by the first bridged run), recorded,
//! and removed again by `diyc teardown` only if diyc made it.

use crate::error::{Error, Result};
use crate::state::Store;
use crate::state::network::{self as records, BridgeRecord};
use crate::sys::{Address, Call, Link, Request, Sys};

use super::Bridge;

/// The fast path of a bridged run: one netlink query when the bridge is
/// up since setup, and no process started.
pub fn ensure_bridge(sys: &mut Sys, store: &Store, bridge: &Bridge) -> Result<()> {
    if records::bridge_record(store).is_some_and(|r| r.bridge == *bridge) && is_up(sys, bridge)? {
        sys.note(format!(
            "{} is up since `diyc setup`: nothing to add",
            bridge.name
        ));
        return Ok(());
    }
    let _lock = records::lock(store)?;
    setup_bridge(sys, store, bridge)
}

fn is_up(sys: &mut Sys, bridge: &Bridge) -> Result<bool> {
    let link = sys.link(&bridge.name)?;
    Ok(link.is_some_and(|l| l.kind.as_deref() == Some("bridge") && l.up))
}

/// What a bridged run needs from the host, checked before anything is
/// made: iptables, and, unless this store set the bridge up here already,
/// the bridge's name free for a bridge and its subnet used by no other
/// link.
pub fn preflight(sys: &mut Sys, store: &Store, bridge: &Bridge) -> Result<()> {
    crate::stages::iptables::require_iptables(sys)?;
    if records::bridge_record(store).is_some_and(|r| r.bridge == *bridge) {
        return Ok(());
    }
    // Addresses before links: a parallel first run may make the bridge
    // and give it its address between the two lists, and an address read
    // first is on a link the second list has (a link read first may
    // have gained the address by the time the addresses are read, on no
    // link of the first list).
    let addresses = sys.addresses()?;
    let links = sys.links()?;
    let ours = links.iter().find(|l| l.name == bridge.name);
    if let Some(link) = ours.filter(|l| l.kind.as_deref() != Some("bridge")) {
        return Err(Error::invalid(format!(
            "{} exists and is not a bridge ({}); remove it or choose another --bridge",
            bridge.name,
            link.kind.as_deref().unwrap_or("unknown kind")
        )));
    }
    let ours = ours.map(|l| l.index);
    for addr in addresses {
        if Some(addr.index) != ours && bridge.overlaps(addr.ip, addr.prefix) {
            let name = links
                .iter()
                .find(|l| l.index == addr.index)
                .map_or("another link".to_string(), |l| l.name.clone());
            return Err(Error::invalid(format!(
                "the bridge's subnet {} is already used here by {name} ({}/{}); choose another --subnet",
                bridge.subnet(),
                addr.ip,
                addr.prefix
            )));
        }
    }
    Ok(())
}

/// The bridge with its gateway address, up: idempotent, so running it
/// twice changes nothing. The caller holds the network lock.
pub fn setup_bridge(sys: &mut Sys, store: &Store, bridge: &Bridge) -> Result<()> {
    store.create()?;
    let previous = records::bridge_record(store);
    if let Some(p) = &previous {
        if p.bridge != *bridge {
            return Err(Error::invalid(format!(
                "this store's network is set up as {} {}; run `diyc teardown` first to change it",
                p.bridge.name,
                p.bridge.subnet()
            )));
        }
    }
    let existing = sys.link(&bridge.name)?;
    if let Some(link) = existing
        .as_ref()
        .filter(|l| l.kind.as_deref() != Some("bridge"))
    {
        return Err(Error::invalid(format!(
            "{} exists and is not a bridge ({}); remove it or choose another --bridge",
            bridge.name,
            link.kind.as_deref().unwrap_or("unknown kind")
        )));
    }
    let created_bridge = existing.is_none() || previous.as_ref().is_some_and(|p| p.created_bridge);
    records::write_bridge_record(
        store,
        &BridgeRecord {
            bridge: bridge.clone(),
            netns: records::current_netns(),
            created_bridge,
        },
    )?;
    if existing.is_none() {
        sys.call(Call::Netlink {
            request: Request::AddBridge {
                name: bridge.name.clone(),
            },
        })?;
    }
    let index = sys.link(&bridge.name)?.map(|l| l.index);
    let has_gateway = sys
        .addresses()?
        .iter()
        .any(|a| Some(a.index) == index && a.ip == bridge.gateway() && a.prefix == bridge.prefix);
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
    })
    .map(drop)
}

/// Remove the bridge if diyc made it, and its record. The caller holds
/// the network lock and has checked that no container still uses it.
pub fn teardown_bridge(sys: &mut Sys, store: &Store) -> Result<()> {
    // A record of another namespace is that namespace's to undo.
    let Some(record) = records::bridge_record(store) else {
        return Ok(());
    };
    let name = record.bridge.name;
    if record.created_bridge && sys.link(&name)?.is_some() {
        sys.call(Call::Netlink {
            request: Request::DeleteLink { name },
        })?;
    }
    records::remove_bridge_record(store)
}

/// The links and IPv4 addresses of the namespace this process is in, as
/// `ip -o addr` would show them.
pub fn addresses(sys: &mut Sys) -> Vec<String> {
    as_lines(sys.links(), sys.addresses())
}

/// What `addresses` shows. These lines are shown to a student as the
/// namespace's links: a dump that failed must read as a failure, not as
/// a namespace without any.
fn as_lines(links: Result<Vec<Link>>, addrs: Result<Vec<Address>>) -> Vec<String> {
    let (links, addrs) = match (links, addrs) {
        (Ok(links), Ok(addrs)) => (links, addrs),
        (Err(e), _) | (_, Err(e)) => return vec![format!("(links unknown here, {e})")],
    };
    links
        .iter()
        .map(|l| {
            let ips: Vec<String> = addrs
                .iter()
                .filter(|a| a.index == l.index)
                .map(|a| format!("{}/{}", a.ip, a.prefix))
                .collect();
            let master = l
                .master
                .and_then(|m| links.iter().find(|o| o.index == m))
                .map_or(String::new(), |m| format!(" master {}", m.name));
            format!(
                "{}: {} {}{master} {}",
                l.index,
                l.name,
                if l.up { "UP" } else { "DOWN" },
                ips.join(" ")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dump_that_failed_reads_as_a_failure_not_as_no_links() {
        fn failed<T>() -> Result<T> {
            Err(Error::os("listing links", nix::errno::Errno::EBUSY))
        }
        for lines in [
            as_lines(failed(), Ok(Vec::new())),
            as_lines(Ok(Vec::new()), failed()),
        ] {
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert!(
                lines[0].starts_with("(links unknown here, listing links"),
                "{lines:?}"
            );
        }
        assert!(as_lines(Ok(Vec::new()), Ok(Vec::new())).is_empty());
    }
}
