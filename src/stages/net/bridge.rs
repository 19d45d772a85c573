//! The network all bridged containers share, and each one's part of it:
//! one bridge (diyc0, 172.16.0.1/16 by default) holding the first address
//! of the subnet, every container's gateway; published ports; the host end
//! of each container's veth pair.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

pub const DEFAULT_BRIDGE: &str = "diyc0";
pub const DEFAULT_SUBNET: &str = "172.16.0.0/16";

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

    /// Whether the network `ip/prefix` shares addresses with the subnet.
    pub fn overlaps(&self, ip: Ipv4Addr, prefix: u8) -> bool {
        let common = mask(prefix.min(self.prefix));
        u32::from(ip) & common == u32::from(self.network) & common
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
}
