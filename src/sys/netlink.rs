//! Netlink requests, the ones `ip` makes: diyc sends them itself over a
//! netlink socket (with the rtnetlink crate) instead of starting `ip`
//! processes, and `--explain` shows each with the `ip` command a student
//! would type for the same thing.
//!
//! A socket belongs to the network namespace it was opened in, so each
//! process opens its own connection when it first needs one: diyc talks to
//! the host's namespace, the container's first process to its own. The
//! connection is the seam's own: requests that change links go through
//! `Sys::call`, which records them; only queries are offered beyond it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt;
use nix::errno::Errno;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo,
};
use rtnetlink::{LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    AddBridge {
        name: String,
    },
    AddVeth(Veth),
    SetUp {
        name: String,
    },
    AddAddress {
        dev: String,
        address: Ipv4Addr,
        prefix: u8,
    },
    AddDefaultRoute {
        gateway: Ipv4Addr,
    },
    DeleteLink {
        name: String,
    },
}

/// A veth pair whose host end goes straight onto `master` and up, and
/// whose other end is made directly inside the network namespace of
/// process `peer_netns` (no move afterwards: moving a device between
/// namespaces costs the kernel a lot more than making it there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Veth {
    pub name: String,
    pub master: Option<String>,
    pub peer: String,
    pub peer_netns: i32,
}

impl Request {
    /// The rtnetlink message type the request is sent as.
    pub fn message(&self) -> &'static str {
        match self {
            Request::AddBridge { .. } | Request::AddVeth(_) => "RTM_NEWLINK",
            Request::SetUp { .. } => "RTM_SETLINK",
            Request::AddAddress { .. } => "RTM_NEWADDR",
            Request::AddDefaultRoute { .. } => "RTM_NEWROUTE",
            Request::DeleteLink { .. } => "RTM_DELLINK",
        }
    }
}

/// The same request as an `ip` command.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::AddBridge { name } => write!(f, "ip link add {name} type bridge"),
            Request::AddVeth(veth) => {
                write!(f, "ip link add {}", veth.name)?;
                if let Some(master) = &veth.master {
                    write!(f, " master {master}")?;
                }
                write!(
                    f,
                    " up type veth peer name {} netns {}",
                    veth.peer, veth.peer_netns
                )
            }
            Request::SetUp { name } => write!(f, "ip link set {name} up"),
            Request::AddAddress {
                dev,
                address,
                prefix,
            } => write!(f, "ip addr add {address}/{prefix} dev {dev}"),
            Request::AddDefaultRoute { gateway } => write!(f, "ip route add default via {gateway}"),
            Request::DeleteLink { name } => write!(f, "ip link del {name}"),
        }
    }
}

/// A link as `ip -o link` would list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub kind: Option<String>,
    pub master: Option<u32>,
    pub up: bool,
}

/// An IPv4 address on a link, as `ip -o addr` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub ip: Ipv4Addr,
    pub prefix: u8,
}

/// A connection in this process's network namespace.
pub(super) struct Netlink {
    runtime: tokio::runtime::Runtime,
    handle: rtnetlink::Handle,
}

fn errno_of(e: &rtnetlink::Error) -> Errno {
    match e {
        rtnetlink::Error::NetlinkError(msg) => Errno::from_raw(msg.raw_code().abs()),
        _ => Errno::EIO,
    }
}

impl Netlink {
    /// A single-threaded runtime: diyc still forks after this, and a fork
    /// copies only the calling thread.
    pub(super) fn connect() -> Result<Netlink> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|source| Error::Os {
                what: "starting the netlink runtime".into(),
                source,
            })?;
        let (connection, handle, _) = {
            let _inside = runtime.enter();
            rtnetlink::new_connection().map_err(|source| Error::Os {
                what: "opening a netlink socket".into(),
                source,
            })?
        };
        runtime.spawn(connection);
        Ok(Netlink { runtime, handle })
    }

    fn index_of(&self, name: &str) -> std::result::Result<u32, Errno> {
        self.link(name)?.map(|l| l.index).ok_or(Errno::ENODEV)
    }

    /// Make one request; the errno is the kernel's.
    pub(super) fn perform(&self, request: &Request) -> std::result::Result<(), Errno> {
        let handle = self.handle.clone();
        let result = match request {
            Request::AddBridge { name } => self
                .runtime
                .block_on(handle.link().add(LinkBridge::new(name).build()).execute()),
            Request::AddVeth(veth) => {
                let master = veth
                    .master
                    .as_deref()
                    .map(|m| self.index_of(m))
                    .transpose()?;
                let peer = LinkUnspec::new_with_name(&veth.peer)
                    .setns_by_pid(veth.peer_netns as u32)
                    .build();
                let mut link = LinkVeth::new(&veth.name, "")
                    .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)));
                if let Some(master) = master {
                    link = link.controller(master);
                }
                let link = link.up().build();
                self.runtime.block_on(handle.link().add(link).execute())
            }
            // By name: the kernel finds the link itself, so no lookup
            // goes before the one message explained.
            Request::SetUp { name } => self.runtime.block_on(
                handle
                    .link()
                    .set(LinkUnspec::new_with_name(name).up().build())
                    .execute(),
            ),
            Request::AddAddress {
                dev,
                address,
                prefix,
            } => {
                let index = self.index_of(dev)?;
                self.runtime.block_on(
                    handle
                        .address()
                        .add(index, IpAddr::V4(*address), *prefix)
                        .execute(),
                )
            }
            Request::AddDefaultRoute { gateway } => {
                let route = RouteMessageBuilder::<Ipv4Addr>::new()
                    .gateway(*gateway)
                    .build();
                self.runtime.block_on(handle.route().add(route).execute())
            }
            Request::DeleteLink { name } => {
                let index = self.index_of(name)?;
                self.runtime.block_on(handle.link().del(index).execute())
            }
        };
        result.map_err(|e| errno_of(&e))
    }

    /// The link called `name`, if there is one.
    pub(super) fn link(&self, name: &str) -> std::result::Result<Option<Link>, Errno> {
        let mut request = Box::pin(
            self.handle
                .link()
                .get()
                .match_name(name.to_string())
                .execute(),
        );
        match self.runtime.block_on(request.try_next()) {
            Ok(Some(msg)) => Ok(Some(to_link(msg))),
            Ok(None) => Ok(None),
            Err(e) if errno_of(&e) == Errno::ENODEV => Ok(None),
            Err(e) => Err(errno_of(&e)),
        }
    }

    /// Every link in this namespace.
    pub(super) fn links(&self) -> Vec<Link> {
        let request = self.handle.link().get().execute();
        self.runtime
            .block_on(request.try_collect::<Vec<_>>())
            .map(|msgs| msgs.into_iter().map(to_link).collect())
            .unwrap_or_default()
    }

    /// Every IPv4 address.
    pub(super) fn addresses(&self) -> Vec<Address> {
        let request = self.handle.address().get().execute();
        let msgs = self
            .runtime
            .block_on(request.try_collect::<Vec<_>>())
            .unwrap_or_default();
        msgs.into_iter()
            .filter_map(|m| {
                let address = m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(IpAddr::V4(ip)) => Some(*ip),
                    _ => None,
                })?;
                Some(Address {
                    index: m.header.index,
                    ip: address,
                    prefix: m.header.prefix_len,
                })
            })
            .collect()
    }
}

fn to_link(msg: rtnetlink::packet_route::link::LinkMessage) -> Link {
    let mut link = Link {
        index: msg.header.index,
        name: String::new(),
        kind: None,
        master: None,
        up: msg.header.flags.contains(LinkFlags::Up),
    };
    for attr in msg.attributes {
        match attr {
            LinkAttribute::IfName(name) => link.name = name,
            LinkAttribute::Controller(master) => link.master = Some(master),
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        link.kind = Some(match kind {
                            InfoKind::Bridge => "bridge".to_string(),
                            InfoKind::Veth => "veth".to_string(),
                            other => format!("{other:?}").to_lowercase(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_ip_commands() {
        let veth = Request::AddVeth(Veth {
            name: "dweb-00000a".into(),
            master: Some("diyc0".into()),
            peer: "eth0".into(),
            peer_netns: 42,
        });
        assert_eq!(
            veth.to_string(),
            "ip link add dweb-00000a master diyc0 up type veth peer name eth0 netns 42"
        );
        assert_eq!(veth.message(), "RTM_NEWLINK");
        let addr = Request::AddAddress {
            dev: "eth0".into(),
            address: Ipv4Addr::new(172, 16, 0, 10),
            prefix: 16,
        };
        assert_eq!(addr.to_string(), "ip addr add 172.16.0.10/16 dev eth0");
        let route = Request::AddDefaultRoute {
            gateway: Ipv4Addr::new(172, 16, 0, 1),
        };
        assert_eq!(route.to_string(), "ip route add default via 172.16.0.1");
        assert_eq!(route.message(), "RTM_NEWROUTE");
    }
}
