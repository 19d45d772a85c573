//! diyc's iptables rules and the commands that make them. Every rule of
//! diyc lives in one of its own chains, so a host's own rules are never
//! touched and teardown removes exactly what setup made; the built-in
//! chains get one jump each into them.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::stages::net::{Bridge, Port};
use crate::sys::Sys;

pub const FORWARD_CHAIN: &str = "DIYC-FORWARD";
pub const NAT_CHAIN: &str = "DIYC-POSTROUTING";
pub const DNAT_CHAIN: &str = "DIYC-DNAT";

/// Where diyc looks for iptables: its helpers run with a fixed PATH,
/// never the caller's.
pub const IPTABLES_PATHS: [&str; 3] = ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables"];

fn iptables_binary(sys: &Sys) -> Result<String> {
    IPTABLES_PATHS
        .iter()
        .find(|p| sys.exists(p))
        .map(|p| p.to_string())
        .ok_or_else(|| {
            Error::invalid("iptables is not installed: `apt-get install iptables` (Debian, Ubuntu)")
        })
}

/// Fails with one line where iptables is not installed.
pub fn require_iptables(sys: &Sys) -> Result<()> {
    iptables_binary(sys).map(drop)
}

/// One iptables command, `-w` always (wait for the xtables lock rather
/// than fail when another program holds it). Returns its exit status.
pub fn iptables(sys: &mut Sys, args: &[&str]) -> Result<i32> {
    let mut argv = vec![iptables_binary(sys)?, "-w".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    sys.run_helper(&argv).map(|(code, _)| code)
}

pub(super) fn must(sys: &mut Sys, args: &[&str]) -> Result<()> {
    match iptables(sys, args)? {
        0 => Ok(()),
        code => Err(Error::Helper {
            command: format!("iptables {}", args.join(" ")),
            status: Some(code),
            said: None,
        }),
    }
}

/// Add a rule unless `-C` finds it already there: each one exactly once.
pub(super) fn ensure_rule(
    sys: &mut Sys,
    table: &str,
    chain: &str,
    rule: &[&str],
    insert: bool,
) -> Result<()> {
    let check: Vec<&str> = [&["-t", table, "-C", chain][..], rule].concat();
    if iptables(sys, &check)? == 0 {
        return Ok(());
    }
    let verb = if insert { "-I" } else { "-A" };
    let add: Vec<&str> = [&["-t", table, verb, chain][..], rule].concat();
    must(sys, &add)
}

pub(super) fn ensure_chain(sys: &mut Sys, table: &str, chain: &str) -> Result<()> {
    if iptables(sys, &["-t", table, "-n", "-L", chain])? != 0 {
        must(sys, &["-t", table, "-N", chain])?;
    }
    Ok(())
}

/// Remove every copy of a rule (a host set up by hand may have several).
/// With the nf_tables backend another program's change can make a delete
/// fail once (a killed diyc's last iptables may still be running): what
/// counts is whether `-C` still finds the rule afterwards.
pub(super) fn delete_rule(sys: &mut Sys, table: &str, chain: &str, rule: &[&str]) -> Result<()> {
    let check: Vec<&str> = [&["-t", table, "-C", chain][..], rule].concat();
    let delete: Vec<&str> = [&["-t", table, "-D", chain][..], rule].concat();
    let mut refused = 0;
    while iptables(sys, &check)? == 0 {
        if iptables(sys, &delete)? != 0 {
            refused += 1;
            if refused == 3 {
                return must(sys, &delete);
            }
        }
    }
    Ok(())
}

pub(super) fn drop_chain(sys: &mut Sys, table: &str, chain: &str) -> Result<()> {
    if iptables(sys, &["-t", table, "-n", "-L", chain])? == 0 {
        must(sys, &["-t", table, "-F", chain])?;
        must(sys, &["-t", table, "-X", chain])?;
    }
    Ok(())
}

/// How many rules `table` holds, or None when it does not exist (with the
/// nf_tables backend a table appears only once something is put in it).
/// Read from a whole `iptables-save`: asked for one table by name, it
/// prints that table's built-in chains even when there is no such table.
pub(super) fn table_rules(sys: &mut Sys, table: &str) -> Result<Option<usize>> {
    let save = iptables_binary(sys)?.replace("iptables", "iptables-save");
    let (code, out) = sys.run_helper(&[save])?;
    let header = format!("*{table}");
    let mut section = out
        .lines()
        .skip_while(|l| *l != header)
        .take_while(|l| *l != "COMMIT")
        .peekable();
    if code != 0 || section.peek().is_none() {
        return Ok(None);
    }
    Ok(Some(section.filter(|l| l.starts_with("-A ")).count()))
}

/// Delete an empty nf_tables table that setup brought into being.
pub(super) fn drop_table(sys: &mut Sys, table: &str) -> Result<()> {
    let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .iter()
        .find(|p| sys.exists(p));
    match nft {
        Some(nft) => {
            let argv = [
                nft.to_string(),
                "delete".into(),
                "table".into(),
                "ip".into(),
                table.into(),
            ];
            sys.run_helper(&argv).map(drop)
        }
        None => Ok(()),
    }
}

/// The jumps from the built-in chains into diyc's.
pub(super) fn jumps() -> Vec<(&'static str, &'static str, Vec<String>)> {
    let local = |chain: &str| {
        vec![
            "-m".into(),
            "addrtype".into(),
            "--dst-type".into(),
            "LOCAL".into(),
            "-j".into(),
            chain.to_string(),
        ]
    };
    vec![
        ("filter", "FORWARD", vec!["-j".into(), FORWARD_CHAIN.into()]),
        ("nat", "POSTROUTING", vec!["-j".into(), NAT_CHAIN.into()]),
        ("nat", "PREROUTING", local(DNAT_CHAIN)),
        // Loopback is left out, as Docker does: a DNAT'd packet keeps its
        // 127.0.0.1 source, which the kernel will not route off loopback, so
        // the jump would only make a host service on that port unreachable.
        ("nat", "OUTPUT", {
            let mut rule = local(DNAT_CHAIN);
            rule.splice(4..4, ["!".into(), "-d".into(), "127.0.0.0/8".into()]);
            rule
        }),
    ]
}

pub(super) fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Leaving the subnet by any other interface: the source becomes the
/// host's address there, so replies find their way back.
pub(super) fn masquerade(bridge: &Bridge) -> Vec<String> {
    let subnet = bridge.subnet();
    ["-s", &subnet, "!", "-o", &bridge.name, "-j", "MASQUERADE"]
        .iter()
        .map(|x| x.to_string())
        .collect()
}

/// The rules in diyc's own chains, made afresh at every setup.
pub(super) fn chain_rules(bridge: &Bridge) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let br = bridge.name.as_str();
    vec![
        ("nat", NAT_CHAIN, masquerade(bridge)),
        // Containers may send anywhere; replies and published ports may come in.
        ("filter", FORWARD_CHAIN, s(&["-i", br, "-j", "ACCEPT"])),
        (
            "filter",
            FORWARD_CHAIN,
            s(&[
                "-o",
                br,
                "-m",
                "conntrack",
                "--ctstate",
                "RELATED,ESTABLISHED,DNAT",
                "-j",
                "ACCEPT",
            ]),
        ),
    ]
}

/// One DNAT rule of a published port, in diyc's DNAT chain.
pub fn dnat_rule(port: &Port, ip: Ipv4Addr) -> Vec<String> {
    vec![
        "-p".into(),
        port.proto.to_string(),
        "-m".into(),
        port.proto.to_string(),
        "--dport".into(),
        port.host.to_string(),
        "-j".into(),
        "DNAT".into(),
        "--to-destination".into(),
        format!("{ip}:{}", port.container),
    ]
}

pub fn add_dnat(sys: &mut Sys, port: &Port, ip: Ipv4Addr) -> Result<()> {
    let rule = dnat_rule(port, ip);
    must(
        sys,
        &[&["-t", "nat", "-A", DNAT_CHAIN][..], &strs(&rule)].concat(),
    )
}

pub fn delete_dnat(sys: &mut Sys, port: &Port, ip: Ipv4Addr) -> Result<()> {
    delete_rule(sys, "nat", DNAT_CHAIN, &strs(&dnat_rule(port, ip)))
}

/// diyc's chains with their packet counters, for `--explain`.
pub fn chains_report(sys: &mut Sys) -> Vec<String> {
    let mut lines = Vec::new();
    for (table, chain) in [
        ("nat", NAT_CHAIN),
        ("nat", DNAT_CHAIN),
        ("filter", FORWARD_CHAIN),
    ] {
        let argv = [
            iptables_binary(sys).unwrap_or_default(),
            "-w".into(),
            "-t".into(),
            table.into(),
            "-n".into(),
            "-v".into(),
            "-x".into(),
            "-L".into(),
            chain.into(),
        ];
        if let Ok((0, out)) = sys.run_helper(&argv) {
            lines.extend(out.lines().map(|l| format!("{table}: {l}")));
        }
    }
    lines
}
