//! The network exercises: a veth pair between the exercise shell's
//! network namespace and a new one (net), and the NAT rule that lets a
//! subnet out under the host's own address (iptables). Both happen in
//! the exercise shell's own network namespace, which goes with it; no
//! packet is sent anywhere.

use std::net::Ipv4Addr;

use super::look::{self, Look};
use super::wire::{Verdict, Want};
use super::{Exercise, Setting};

const HERE: Ipv4Addr = Ipv4Addr::new(10, 0, 9, 1);
const THERE: Ipv4Addr = Ipv4Addr::new(10, 0, 9, 2);
const SUBNET: &str = "10.0.9.0/24";

pub const NET: Exercise = Exercise {
    name: "net",
    task: |_: &Setting| {
        "Join the exercise shell to a new network namespace (`unshare --net sleep 600 &`)\nwith a veth pair (`ip link add here type veth peer name there`): `here` with\n10.0.9.1/24, `there` moved in (`ip link set there netns PID`) with 10.0.9.2/24,\nboth up. Type `check` in a shell in the new namespace (`nsenter -t PID -n sh`).".into()
    },
    wants: &[Want::Links],
    check: net,
};

fn net(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    if look.shares("net") {
        v.bad(
            "this shell is in the exercise shell's network namespace",
            "type check in a shell of the new namespace: `nsenter -t PID -n sh`, PID being the sleep's ($!)",
        );
        return v;
    }
    v.good("this shell is in a network namespace of its own");
    let there = look.view.links.iter().find(|l| {
        l.addresses
            .iter()
            .any(|a| a.split('/').next() == Some(&THERE.to_string()))
    });
    match there {
        None => v.bad(
            format!("no link of this namespace has {THERE}"),
            "move one end of the pair here (`ip link set there netns PID`, in the exercise shell), then `ip addr add 10.0.9.2/24 dev there` in this shell",
        ),
        Some(link) if !link.up => v.bad(
            format!("{} has {THERE} but is down", link.name),
            format!("`ip link set {} up`", link.name),
        ),
        Some(link) => v.good(format!("{} has {THERE} and is up", link.name)),
    }
    let shell_has = look::local_addresses(look.shell).contains(&HERE);
    let shell_route = look::routes(look.shell)
        .into_iter()
        .find(|(_, dest, prefix)| *dest == Ipv4Addr::new(10, 0, 9, 0) && *prefix == 24);
    match (shell_has, shell_route) {
        (false, _) => v.bad(
            format!("the exercise shell's side has no {HERE}"),
            "in the exercise shell: `ip addr add 10.0.9.1/24 dev here` (here: its end of the pair)",
        ),
        (true, None) => v.bad(
            format!("the exercise shell's side has {HERE} but its link is down"),
            "in the exercise shell: `ip link set here up`",
        ),
        (true, Some((link, ..))) => v.good(format!(
            "the exercise shell's side, {link}, has {HERE} and is up"
        )),
    }
    v
}

pub const IPTABLES: Exercise = Exercise {
    name: "iptables",
    task: |_: &Setting| {
        "In the exercise shell (a network namespace of its own), add the NAT rule that lets\npackets from 10.0.9.0/24 leave under this host's own address, then type `check`.".into()
    },
    wants: &[Want::Iptables],
    check: iptables,
};

/// One `-A CHAIN ...` line of `iptables -S`: its chain, source and target.
struct Rule<'a> {
    table: &'a str,
    chain: &'a str,
    source: Option<&'a str>,
    target: Option<&'a str>,
}

fn rules<'a>(tables: &'a [(String, String)]) -> Vec<Rule<'a>> {
    let mut found = Vec::new();
    for (table, listing) in tables {
        for line in listing.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [flag, chain, rest @ ..] = &words[..] else {
                continue;
            };
            if *flag != "-A" {
                continue;
            }
            let after = |option: &str| {
                rest.iter()
                    .position(|w| *w == option)
                    .and_then(|i| rest.get(i + 1).copied())
            };
            found.push(Rule {
                table,
                chain,
                source: after("-s"),
                target: after("-j"),
            });
        }
    }
    found
}

fn iptables(look: &Look) -> Verdict {
    let mut v = Verdict::default();
    let command = format!("`iptables -t nat -A POSTROUTING -s {SUBNET} -j MASQUERADE`");
    if !look.shares("net") {
        v.bad(
            "this shell is in another network namespace than the exercise shell's",
            "add the rule in the exercise shell itself, and check there",
        );
        return v;
    }
    let all = rules(&look.view.iptables);
    let right = |r: &&Rule| {
        r.table == "nat"
            && r.chain == "POSTROUTING"
            && r.source == Some(SUBNET)
            && r.target == Some("MASQUERADE")
    };
    if let Some(rule) = all.iter().find(right) {
        v.good(format!(
            "nat {} has -s {SUBNET} -j MASQUERADE: packets from {SUBNET} leave with this host's own address",
            rule.chain
        ));
        return v;
    }
    let for_subnet = all.iter().find(|r| r.source == Some(SUBNET));
    let masquerading = all.iter().find(|r| r.target == Some("MASQUERADE"));
    match (for_subnet, masquerading) {
        (Some(r), _) if r.table != "nat" => v.bad(
            format!(
                "the rule for {SUBNET} is in the {} table; rewriting addresses is the nat table's job",
                r.table
            ),
            format!("add -t nat: {command}"),
        ),
        (Some(r), _) if r.chain != "POSTROUTING" => v.bad(
            format!(
                "the rule for {SUBNET} is in the {} chain; the source is rewritten on the way out, in POSTROUTING",
                r.chain
            ),
            command,
        ),
        (Some(r), _) => v.bad(
            format!(
                "the rule for {SUBNET} jumps to {}, not to MASQUERADE",
                r.target.unwrap_or("nothing")
            ),
            format!("-j MASQUERADE: {command}"),
        ),
        (None, Some(r)) => v.bad(
            format!(
                "the MASQUERADE rule matches {}, not -s {SUBNET}",
                r.source.map_or("every source".to_string(), |s| format!("-s {s}"))
            ),
            command,
        ),
        (None, None) => v.bad(
            "there is no NAT rule for 10.0.9.0/24 in the nat table's POSTROUTING chain",
            command,
        ),
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_read_from_iptables_s() {
        let tables = vec![
            (
                "filter".to_string(),
                "-P INPUT ACCEPT\n-A FORWARD -s 10.0.9.0/24 -j ACCEPT\n".to_string(),
            ),
            (
                "nat".to_string(),
                "-P POSTROUTING ACCEPT\n-A POSTROUTING -s 10.0.9.0/24 -j MASQUERADE\n".to_string(),
            ),
        ];
        let found = rules(&tables);
        assert_eq!(found.len(), 2);
        assert_eq!(
            (
                found[1].table,
                found[1].chain,
                found[1].source,
                found[1].target
            ),
            ("nat", "POSTROUTING", Some(SUBNET), Some("MASQUERADE"))
        );
        assert_eq!(
            (found[0].table, found[0].target),
            ("filter", Some("ACCEPT"))
        );
    }
}
