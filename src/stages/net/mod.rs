//! The net stage: a network namespace of the container's own, joined to
//! the host by a veth pair whose host end sits on the bridge.
//!
//! 1. diyc makes sure the bridge exists (setup.rs: `diyc setup`, done
//!    once; afterwards this costs one netlink query);
//! 2. once the child exists, one netlink request makes the veth pair: the
//!    host end on the bridge and up, the other end made directly inside
//!    the child's network namespace as eth0;
//! 3. the child gives eth0 the leased address, brings it and lo up, and
//!    routes everything else via the bridge's address. Its /etc/hosts and
//!    /etc/resolv.conf (etc.rs) are worked out on the host before the
//!    clone, and bound into its root by the rootfs stage.
//!
//! With `--net none` the child gets an empty namespace with only lo up;
//! with `--net host` there is no stage at all. What lets packets out and
//! in (NAT, forwarding) is the iptables stage's.

mod bridge;
pub mod etc;
pub mod joined;
mod setup;
pub mod usermode;

use std::net::Ipv4Addr;

use nix::errno::Errno;

use crate::error::Result;
use crate::event::{Heading, StageId};
use crate::stages::{Child, Stage};
use crate::state::Store;
use crate::sys::{Call, Quiet, Request, Sys, Veth};
use crate::undo::Undo;

/// Which groups may open ICMP sockets (ping without a raw socket).
const PING_GROUP_RANGE: &str = "/proc/sys/net/ipv4/ping_group_range";

/// The highest group id this process's user namespace maps, which is as
/// far as the kernel lets ping_group_range reach (at most 2^31 - 1).
fn highest_group() -> u64 {
    let map = std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default();
    map.lines()
        .filter_map(|line| {
            let mut n = line.split_whitespace().map(|f| f.parse::<u64>().ok());
            let (inside, _, count) = (n.next()??, n.next()??, n.next()??);
            (inside + count).checked_sub(1)
        })
        .max()
        .map_or(0, |top| top.min(2_147_483_647))
}

pub use bridge::{
    Bridge, DEFAULT_BRIDGE, DEFAULT_SUBNET, Port, Proto, parse_ip, parse_port, veth_name,
};
pub use setup::{addresses, ensure_bridge, preflight, setup_bridge, teardown_bridge};

/// What `--explain` prints above this stage's calls.
pub const HEADING: Heading = Heading {
    title: "net: a network namespace of its own",
    why: "The container gets its own interfaces; on a bridged run, one end of a virtual cable (a veth pair) sits on diyc's bridge.",
};

/// `--net`: which network a container gets.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum NetMode {
    /// A veth pair on diyc's bridge, an address, NAT to the outside
    Bridge,
    /// A network namespace with only lo
    None,
    /// The host's own network (no network namespace)
    Host,
}

/// A bridged container's place on the bridge.
pub struct Attachment {
    pub ip: Ipv4Addr,
    pub host_if: String,
}

/// What the container's /etc/hostname, /etc/hosts and /etc/resolv.conf
/// will hold, made on the host before the clone: after pivot_root the
/// host's resolvers are out of reach.
pub struct EtcFiles {
    pub hostname: String,
    pub hosts: String,
    pub resolv: String,
}

impl EtcFiles {
    /// For a container called `hostname`: at `ip` on the bridge with the
    /// host's resolvers, or alone (`--net none`) with none.
    pub fn new(hostname: &str, ip: Option<Ipv4Addr>) -> EtcFiles {
        EtcFiles {
            hostname: hostname.to_string(),
            hosts: etc::hosts(hostname, ip),
            resolv: if ip.is_some() {
                etc::resolv_conf()
            } else {
                String::new()
            },
        }
    }

    /// With `--net host`: the host's own files, and its name for the
    /// container's hostname on loopback.
    pub fn host(hostname: &str) -> EtcFiles {
        let mut hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        if !hosts.is_empty() && !hosts.ends_with('\n') {
            hosts.push('\n');
        }
        hosts.push_str(&format!("127.0.1.1\t{hostname}\n"));
        EtcFiles {
            hostname: hostname.to_string(),
            hosts,
            resolv: std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        }
    }
}

pub struct Net {
    container: String,
    bridge: Bridge,
    store: Store,
    /// None: `--net none`, an empty namespace.
    attachment: Option<Attachment>,
}

impl Net {
    pub fn bridged(store: Store, bridge: Bridge, container: &str, ip: Ipv4Addr) -> Self {
        Net {
            attachment: Some(Attachment {
                ip,
                host_if: veth_name(container),
            }),
            container: container.to_string(),
            bridge,
            store,
        }
    }

    /// An empty network namespace with only lo up.
    pub fn isolated(store: Store, bridge: Bridge) -> Self {
        Net {
            attachment: None,
            container: String::new(),
            bridge,
            store,
        }
    }

    pub fn host_if(&self) -> Option<&str> {
        self.attachment.as_ref().map(|a| a.host_if.as_str())
    }
}

fn netlink(sys: &mut Sys, request: Request) -> Result<()> {
    sys.call(Call::Netlink { request }).map(drop)
}

/// The links of this process's namespace, looked at without recording.
fn look() -> Vec<String> {
    let mut quiet = Quiet;
    addresses(&mut Sys::new(&mut quiet, StageId::Net))
}

impl Stage for Net {
    fn id(&self) -> StageId {
        StageId::Net
    }

    fn clone_flags(&self) -> u64 {
        libc::CLONE_NEWNET as u64
    }

    fn prepare(&mut self, sys: &mut Sys, _undo: &mut Undo) -> Result<()> {
        if self.attachment.is_none() {
            return Ok(());
        }
        sys.stage(StageId::Net);
        ensure_bridge(sys, &self.store, &self.bridge)
    }

    /// The veth pair goes into the network namespace the clone made,
    /// which nothing before this stage touches.
    fn attach_meanwhile(&self) -> bool {
        self.attachment.is_some()
    }

    /// The pair is made once the child exists, its container end straight
    /// inside the child's network namespace, already called eth0. It needs
    /// no undo step: when the container's last process is gone, so is its
    /// namespace, and the kernel deletes eth0 and with it the host end.
    /// (Deleting it from here would make diyc wait for the kernel's
    /// network teardown, several times as long as the rest of a run.)
    fn attach(&mut self, sys: &mut Sys, child: Child) -> Result<()> {
        let Some(att) = &mut self.attachment else {
            return Ok(());
        };
        sys.stage(StageId::Net);
        sys.note(
            "the pair goes away with the container's network namespace: the kernel deletes it",
        );
        loop {
            let made = netlink(
                sys,
                Request::AddVeth(Veth {
                    name: att.host_if.clone(),
                    master: Some(self.bridge.name.clone()),
                    peer: "eth0".into(),
                    peer_netns: child.pid,
                }),
            );
            match made {
                // A random name already taken: pick another.
                Err(e) if e.errno() == Some(Errno::EEXIST) => {
                    att.host_if = veth_name(&self.container)
                }
                other => return other.and_then(|()| crate::fault::point("after-veth")),
            }
        }
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Net);
        if let Some(att) = &self.attachment {
            netlink(
                sys,
                Request::AddAddress {
                    dev: "eth0".into(),
                    address: att.ip,
                    prefix: self.bridge.prefix,
                },
            )?;
            netlink(
                sys,
                Request::SetUp {
                    name: "eth0".into(),
                },
            )?;
        }
        netlink(sys, Request::SetUp { name: "lo".into() })?;
        if self.attachment.is_some() {
            netlink(
                sys,
                Request::AddDefaultRoute {
                    gateway: self.bridge.gateway(),
                },
            )?;
        }
        // Without CAP_NET_RAW, ping needs an ICMP socket, which only the
        // groups in this range may open; the range is the network
        // namespace's own, so this opens it to the container alone.
        sys.call(Call::WriteFile {
            path: PING_GROUP_RANGE.into(),
            value: format!("0 {}", highest_group()),
        })?;
        Ok(())
    }

    fn inside(&self) -> Vec<String> {
        look()
    }

    fn outside(&self, _pid: i32) -> Vec<String> {
        let mut lines = vec![match &self.attachment {
            Some(a) => format!(
                "bridge {} at {}/{}, {} on it; the host's links now:",
                self.bridge.name,
                self.bridge.gateway(),
                self.bridge.prefix,
                a.host_if
            ),
            None => "no link between the namespace and the host; the host's links now:".to_string(),
        }];
        lines.extend(look().into_iter().map(|l| format!("  {l}")));
        lines
    }
}
