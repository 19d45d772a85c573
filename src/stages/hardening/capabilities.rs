//! Which capabilities a container keeps: the default set, `--cap-add`
//! and `--cap-drop`, out of those diyc itself holds.

use crate::error::{Error, Result};
use crate::sys::{CAPABILITIES, held_capabilities, parse_cap};

/// The default capabilities: what ordinary programs need (files owned by
/// others, changing users, binding low ports, ping), and nothing that
/// reaches past the container: not SYS_ADMIN (mount), NET_ADMIN (links
/// and routes), SYS_MODULE, SYS_PTRACE, or MKNOD (without a device cgroup,
/// a device node is a way to the host's disks).
pub const DEFAULT_CAPS: &[&str] = &[
    // Files owned by others.
    "CAP_CHOWN",
    "CAP_FOWNER",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    // Users and processes.
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_KILL",
    "CAP_SETPCAP",
    "CAP_SETFCAP",
    // Low ports. Not NET_RAW: raw sockets let a container forge any
    // packet on the bridge (ARP replies that take a neighbour's traffic);
    // ping works without it through the ICMP sockets the container's
    // ping_group_range allows (the net stage).
    "CAP_NET_BIND_SERVICE",
    // What init systems and logins expect.
    "CAP_SYS_CHROOT",
    "CAP_AUDIT_WRITE",
];

/// The container's capabilities, out of `held` (diyc's own): the
/// defaults, then `--cap-add` (ALL: every one diyc holds), then
/// `--cap-drop` (ALL: every one). Asking for one diyc lacks is refused:
/// a process can hand on only what it has.
pub fn capability_set(
    add: &[String],
    drop: &[String],
    held: u64,
) -> std::result::Result<u64, String> {
    let mask = |names: &[String], all: u64| -> std::result::Result<u64, String> {
        names.iter().try_fold(0u64, |m, n| {
            if n.eq_ignore_ascii_case("all") {
                Ok(m | all)
            } else {
                parse_cap(n).map(|c| m | (1 << c))
            }
        })
    };
    let added = mask(add, held)?;
    if let Some(lacking) = (0..CAPABILITIES.len()).find(|c| added & !held & (1 << c) != 0) {
        return Err(format!(
            "diyc itself lacks {}, so the container cannot be given it",
            CAPABILITIES[lacking]
        ));
    }
    let default = DEFAULT_CAPS
        .iter()
        .map(|n| parse_cap(n))
        .try_fold(0u64, |m, c| c.map(|c| m | (1 << c)))?;
    Ok(((default & held) | added) & !mask(drop, u64::MAX)?)
}

/// The same, for this diyc: out of the capabilities it holds now, or
/// without root, out of all of them, which the container's root holds in
/// the user namespace of its own it is given.
pub fn container_caps(add: &[String], drop: &[String]) -> Result<u64> {
    let held = if crate::observe::rootless() {
        (1u64 << CAPABILITIES.len()) - 1
    } else {
        held_capabilities()
    };
    capability_set(add, drop, held).map_err(Error::invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_is_defaults_plus_added_minus_dropped() {
        let every = u64::MAX;
        let set = capability_set(&[], &[], every).unwrap_or(0);
        assert_eq!(set & (1 << 13), 0, "no NET_RAW");
        assert_eq!(set & (1 << 21), 0, "no SYS_ADMIN");
        assert_eq!(set & (1 << 27), 0, "no MKNOD");
        assert_ne!(set & (1 << 10), 0, "NET_BIND_SERVICE");
        let more = capability_set(&["sys_admin".into()], &["chown".into()], every).unwrap_or(0);
        assert_ne!(more & (1 << 21), 0);
        assert_eq!(more & 1, 0);
        assert_eq!(capability_set(&[], &["ALL".into()], every), Ok(0));
        assert!(capability_set(&["nope".into()], &[], every).is_err());
    }

    #[test]
    fn all_means_what_diyc_holds_and_a_lacking_one_is_refused() {
        // diyc without SYS_MODULE (16) and SYS_ADMIN (21).
        let held = u64::MAX >> 23 & !(1 << 16) & !(1 << 21);
        let all = capability_set(&["ALL".into()], &[], held).unwrap_or(0);
        assert_eq!(all, held);
        let asked = capability_set(&["SYS_MODULE".into()], &[], held);
        assert_eq!(
            asked,
            Err("diyc itself lacks CAP_SYS_MODULE, so the container cannot be given it".into())
        );
        // A default diyc lacks is left out, not asked for.
        let without_chown = capability_set(&[], &[], held & !1).unwrap_or(0);
        assert_eq!(without_chown & 1, 0);
    }
}
