//! The net stage: a network namespace of the container's own, joined to
//! the host by a veth pair whose host end sits on the bridge.
//!
//! 1. diyc makes sure the bridge and diyc's NAT rules exist (`diyc setup`,
//!    done once; afterwards this costs one netlink query);
//! 2. once the child exists, one netlink request makes the veth pair: the
//!    host end on the bridge and up, the other end made directly inside
//!    the child's network namespace as eth0;
//! 3. the child gives eth0 the leased address, brings it and lo up, and
//!    routes everything else via the bridge's address; then it writes
//!    /etc/hosts and /etc/resolv.conf in its own root.
//!
//! With `--net none` the child gets an empty namespace with only lo up;
//! with `--net host` there is no stage at all.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::event::StageId;
use crate::netlink::Request;
use crate::network::{self, Bridge};
use crate::stages::Stage;
use crate::store::Store;
use crate::sys::{Call, Sys};
use crate::undo::Undo;

/// A bridged container's place on the bridge.
pub struct Attachment {
    pub ip: Ipv4Addr,
    pub host_if: String,
}

pub struct Net {
    container: String,
    bridge: Bridge,
    store: Store,
    hostname: String,
    /// None: `--net none`, an empty namespace.
    attachment: Option<Attachment>,
    /// The container's /etc is written only when it has a root of its own.
    write_etc: bool,
    /// Read on the host before the clone: after pivot_root it is out of reach.
    resolv: String,
}

impl Net {
    pub fn bridged(
        store: Store,
        bridge: Bridge,
        hostname: String,
        container: &str,
        ip: Ipv4Addr,
    ) -> Self {
        Net {
            attachment: Some(Attachment {
                ip,
                host_if: network::veth_name(container),
            }),
            container: container.to_string(),
            bridge,
            store,
            hostname,
            write_etc: true,
            resolv: network::resolv_conf(),
        }
    }

    /// An empty network namespace with only lo up.
    pub fn isolated(store: Store, bridge: Bridge, hostname: String, write_etc: bool) -> Self {
        Net {
            attachment: None,
            container: String::new(),
            bridge,
            store,
            hostname,
            write_etc,
            resolv: String::new(),
        }
    }

    pub fn host_if(&self) -> Option<&str> {
        self.attachment.as_ref().map(|a| a.host_if.as_str())
    }
}

fn netlink(sys: &mut Sys, request: Request) -> Result<()> {
    sys.call(Call::Netlink { request }).map(drop)
}

/// The links and IPv4 addresses of the namespace this process is in, as
/// `ip -o addr` would show them.
pub fn addresses(sys: &mut Sys) -> Vec<String> {
    let Ok(nl) = sys.netlink() else {
        return Vec::new();
    };
    let links = nl.links();
    let addrs = nl.addresses();
    links
        .iter()
        .map(|l| {
            let ips: Vec<String> = addrs
                .iter()
                .filter(|(i, _, _)| *i == l.index)
                .map(|(_, ip, p)| format!("{ip}/{p}"))
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

impl Stage for Net {
    fn id(&self) -> StageId {
        StageId::Net
    }

    fn clone_flags(&self) -> u64 {
        libc::CLONE_NEWNET as u64
    }

    fn requires(&self) -> &'static [StageId] {
        if self.write_etc {
            &[StageId::Rootfs]
        } else {
            &[]
        }
    }

    fn prepare(&mut self, sys: &mut Sys, _undo: &mut Undo) -> Result<()> {
        if self.attachment.is_none() {
            return Ok(());
        }
        sys.stage(StageId::Net);
        network::ensure(sys, &self.store, &self.bridge)
    }

    /// The pair is made once the child exists, its container end straight
    /// inside the child's network namespace, already called eth0. It needs
    /// no undo step: when the container's last process is gone, so is its
    /// namespace, and the kernel deletes eth0 and with it the host end.
    /// (Deleting it from here would make diyc wait for the kernel's
    /// network teardown, several times as long as the rest of a run.)
    fn attach(&mut self, sys: &mut Sys, child: i32, _placed_by_clone: bool) -> Result<()> {
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
                Request::AddVeth {
                    name: att.host_if.clone(),
                    master: Some(self.bridge.name.clone()),
                    peer: "eth0".into(),
                    peer_netns: child,
                },
            );
            match made {
                // A random name already taken: pick another.
                Err(Error::Syscall {
                    errno: nix::errno::Errno::EEXIST,
                    ..
                }) => att.host_if = network::veth_name(&self.container),
                other => return other.and_then(|()| crate::fault::point("after-veth")),
            }
        }
    }

    fn enter(&self, sys: &mut Sys) -> Result<()> {
        sys.stage(StageId::Net);
        if let Some(att) = &self.attachment {
            let eth0 = "eth0".to_string();
            netlink(
                sys,
                Request::AddAddress {
                    dev: eth0.clone(),
                    address: att.ip,
                    prefix: self.bridge.prefix,
                },
            )?;
            netlink(sys, Request::SetUp { name: eth0 })?;
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
        if self.write_etc {
            let ip = self.attachment.as_ref().map(|a| a.ip);
            network::write_etc(&self.hostname, ip, &self.resolv)
                .map_err(|e| Error::failed(format!("writing the container's /etc: {e}")))?;
            sys.note("wrote /etc/hosts and /etc/resolv.conf in the container's own root");
        }
        Ok(())
    }

    fn inside(&self) -> Vec<String> {
        let mut quiet = crate::explain::Explainer::new(None);
        let mut sys = Sys::new(&mut quiet, StageId::Net);
        addresses(&mut sys)
    }

    fn outside(&self, _pid: i32) -> Vec<String> {
        let mut quiet = crate::explain::Explainer::new(None);
        let mut sys = Sys::new(&mut quiet, StageId::Net);
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
        lines.extend(addresses(&mut sys).into_iter().map(|l| format!("  {l}")));
        lines
    }
}
