//! Netlink requests, the ones `ip` makes: diyc sends them itself over a
//! netlink socket (messages built with the rtnetlink crate's builders and
//! netlink-packet-route, sent and read synchronously) instead of starting `ip`
//! processes, and `--explain` shows each with the `ip` command a student
//! would type for the same thing.
//!
//! A socket belongs to the network namespace it was opened in, so each
//! process opens its own connection when it first needs one: diyc talks to
//! the host's namespace, the container's first process to its own. The
//! connection is the seam's own: requests that change links go through
//! `Sys::call`, which records them; only queries are offered beyond it.

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr};

use nix::errno::Errno;
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::sys::{Socket, protocols::NETLINK_ROUTE};
use rtnetlink::{
    AddressMessageBuilder, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth,
    RouteMessageBuilder,
};

use answer::{Answer, Step};
pub use request::{Request, Veth};

mod answer;
mod request;

use crate::error::{Error, Result};

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

/// A connection in this process's network namespace: a plain blocking
/// socket. Each request is one `sendto` and its answer one or a few
/// `recvfrom`s, so a run that makes no network starts no event loop and
/// a run that does makes only the messages `--explain` shows, plus the
/// lookups the requests need.
pub(super) struct Netlink {
    socket: RefCell<Socket>,
    sequence: Cell<u32>,
}

/// Room for one datagram of a dump: the kernel fills at most 32 KiB.
const DATAGRAM: usize = 64 * 1024;

/// What a change is sent with: asked to be acknowledged, and (for the
/// ones that make something) never to replace what is already there.
const CHANGE: u16 = NLM_F_REQUEST | NLM_F_ACK;
const CREATE: u16 = CHANGE | NLM_F_CREATE | NLM_F_EXCL;

fn errno_of(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, Errno::from_raw)
}

fn open() -> Result<Socket> {
    Socket::new(NETLINK_ROUTE).map_err(|source| Error::Os {
        what: "opening a netlink socket".into(),
        source,
    })
}

impl Netlink {
    pub(super) fn connect() -> Result<Netlink> {
        Ok(Netlink {
            socket: RefCell::new(open()?),
            sequence: Cell::new(0),
        })
    }

    /// Send one message and gather its answer: the messages up to the
    /// kernel's acknowledgement (a change) or the end of a dump, or the one
    /// reply to a lookup. The errno is the kernel's.
    fn exchange(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> std::result::Result<Vec<RouteNetlinkMessage>, Errno> {
        let sequence = self.sequence.get().wrapping_add(1);
        self.sequence.set(sequence);
        let mut request = NetlinkMessage::from(message);
        request.header.flags = flags;
        request.header.sequence_number = sequence;
        request.finalize();
        let mut bytes = vec![0; request.buffer_len()];
        request.serialize(&mut bytes);
        let socket = self.socket.borrow();
        socket.send(&bytes, 0).map_err(|e| errno_of(&e))?;

        let mut answer = Answer::new(sequence, flags & (NLM_F_ACK | NLM_F_DUMP) == 0);
        let mut datagram = Vec::with_capacity(DATAGRAM);
        let broken = loop {
            datagram.clear();
            let len = match socket.recv(&mut datagram, libc::MSG_TRUNC) {
                Ok(len) => len,
                Err(e) => break errno_of(&e),
            };
            if len > datagram.len() {
                break Errno::EMSGSIZE;
            }
            match answer.take(&datagram[..len]) {
                Step::More => {}
                Step::Ended => return Ok(answer.replies),
                Step::Refused(errno) => return Err(errno),
                Step::Garbled => break Errno::EBADMSG,
            }
        };
        // The rest of a dump may still be queued, and the kernel refuses
        // a socket a second dump while the first goes on: a new socket
        // starts clean (the kernel drops the old one's queue with it).
        drop(socket);
        if let Ok(fresh) = open() {
            self.socket.replace(fresh);
        }
        Err(broken)
    }

    fn change(&self, message: RouteNetlinkMessage, flags: u16) -> std::result::Result<(), Errno> {
        self.exchange(message, flags).map(drop)
    }

    fn index_of(&self, name: &str) -> std::result::Result<u32, Errno> {
        self.link(name)?.map(|l| l.index).ok_or(Errno::ENODEV)
    }

    /// Make one request; the errno is the kernel's.
    pub(super) fn perform(&self, request: &Request) -> std::result::Result<(), Errno> {
        match request {
            Request::AddBridge { name } => self.change(
                RouteNetlinkMessage::NewLink(LinkBridge::new(name).build()),
                CREATE,
            ),
            Request::AddVeth(veth) => {
                let master = veth
                    .master
                    .as_deref()
                    .map(|m| self.index_of(m))
                    .transpose()?;
                let peer = one_queue(
                    LinkUnspec::new_with_name(&veth.peer).setns_by_pid(veth.peer_netns as u32),
                )
                .build();
                let mut link = one_queue(LinkVeth::new(&veth.name, ""))
                    .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)));
                if let Some(master) = master {
                    link = link.controller(master);
                }
                self.change(RouteNetlinkMessage::NewLink(link.up().build()), CREATE)
            }
            // By name: the kernel finds the link itself, so no lookup
            // goes before the one message explained.
            Request::SetUp { name } => self.change(
                RouteNetlinkMessage::SetLink(LinkUnspec::new_with_name(name).up().build()),
                CREATE,
            ),
            Request::AddAddress {
                dev,
                address,
                prefix,
            } => {
                let message = AddressMessageBuilder::<Ipv4Addr>::new()
                    .index(self.index_of(dev)?)
                    .address(*address, *prefix)
                    .build();
                self.change(RouteNetlinkMessage::NewAddress(message), CREATE)
            }
            Request::AddDefaultRoute { gateway } => {
                let route = RouteMessageBuilder::<Ipv4Addr>::new()
                    .gateway(*gateway)
                    .build();
                self.change(RouteNetlinkMessage::NewRoute(route), CREATE)
            }
            Request::DeleteLink { name } => {
                let mut message = LinkMessage::default();
                message.header.index = self.index_of(name)?;
                self.change(RouteNetlinkMessage::DelLink(message), CHANGE)
            }
        }
    }

    /// The link called `name`, if there is one.
    pub(super) fn link(&self, name: &str) -> std::result::Result<Option<Link>, Errno> {
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_string()));
        match self.exchange(RouteNetlinkMessage::GetLink(message), NLM_F_REQUEST) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(link) => Some(to_link(link)),
                _ => None,
            })),
            Err(Errno::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A whole table; one that changed while it was read is read again.
    fn dump(
        &self,
        message: RouteNetlinkMessage,
    ) -> std::result::Result<Vec<RouteNetlinkMessage>, Errno> {
        let mut again = 3;
        loop {
            match self.exchange(message.clone(), NLM_F_REQUEST | NLM_F_DUMP) {
                Err(Errno::EINTR) if again > 0 => again -= 1,
                answer => return answer,
            }
        }
    }

    /// Every link in this namespace.
    pub(super) fn links(&self) -> std::result::Result<Vec<Link>, Errno> {
        Ok(self
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(link) => Some(to_link(link)),
                _ => None,
            })
            .collect())
    }

    /// Every IPv4 address.
    pub(super) fn addresses(&self) -> std::result::Result<Vec<Address>, Errno> {
        Ok(self
            .dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))?
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(m) => Some(m),
                _ => None,
            })
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
            .collect())
    }
}

fn to_link(msg: LinkMessage) -> Link {
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

/// One queue each way, asked for when the end is made. Without it veth
/// makes one per CPU and then cuts each end back to one, and a cut waits
/// for an expedited RCU grace period (on a two-core machine about 90 us a
/// pair, and 0.3 ms off a bridged run's mean). One is what each end uses
/// either way.
fn one_queue<T>(end: LinkMessageBuilder<T>) -> LinkMessageBuilder<T> {
    end.append_extra_attribute(LinkAttribute::NumTxQueues(1))
        .append_extra_attribute(LinkAttribute::NumRxQueues(1))
}
