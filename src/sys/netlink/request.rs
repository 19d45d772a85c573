//! What diyc asks of rtnetlink, in its own words: each request as it is
//! recorded and explained, and the `ip` command a student would type for
//! the same change.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

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

/// How `ip` asks for what `one_queue` (netlink.rs) adds to each end.
const ONE_QUEUE: &str = "numtxqueues 1 numrxqueues 1";

/// The same request as an `ip` command.
impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::AddBridge { name } => write!(f, "ip link add {name} type bridge"),
            Request::AddVeth(veth) => {
                write!(f, "ip link add {} {ONE_QUEUE}", veth.name)?;
                if let Some(master) = &veth.master {
                    write!(f, " master {master}")?;
                }
                write!(
                    f,
                    " up type veth peer name {} {ONE_QUEUE} netns {}",
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
            "ip link add dweb-00000a numtxqueues 1 numrxqueues 1 master diyc0 up type veth peer name eth0 numtxqueues 1 numrxqueues 1 netns 42"
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
