//! What a run takes from the host: where its cgroup goes and what limits
//! it gets, and its network, as root (diyc's bridge) or without (pasta's,
//! or none). Each host change is pushed on the undo log as it is made.

use crate::cli::NetMode;
use crate::error::{Error, Result};
use crate::fault;
use crate::stages::cgroups::{Cgroups, DEFAULT_PIDS, Host, Limits, Placement, delegated, devices};
use crate::stages::iptables::Iptables;
use crate::stages::net::usermode::{self, UserMode};
use crate::stages::net::{Bridge, EtcFiles, Net, etc};
use crate::stages::order::Plan;
use crate::state::container::{Held, NetRecord, Spec};
use crate::state::{Store, network};
use crate::undo::{Undo, When};
use crate::warnings;

use super::path_text;

/// Where the container's cgroup goes and the limits it gets. Without
/// root that needs a delegated cgroup v2 subtree: a limit asked for
/// without one is refused, and a run that asks for none goes without a
/// cgroup, saying so.
pub(super) fn placed(
    host: &Host,
    spec: &Spec,
    name: &str,
    rootless: bool,
) -> Result<(Option<Placement>, Limits)> {
    let asked = Limits {
        memory: spec.memory,
        cpus: spec.cpus,
        pids: spec.pids,
    };
    let mut limits = asked;
    // A fork bomb stops at a limit even when none was asked for.
    if limits.pids.is_none() && host.has_controller("pids") {
        limits.pids = Some(DEFAULT_PIDS);
    }
    if !rootless {
        return Ok((
            Some(host.place(&spec.cgroup_parent, name, &limits)?),
            limits,
        ));
    }
    match delegated::place(host, &spec.cgroup_parent, name, &asked) {
        Ok(placement) => {
            if !placement
                .dirs
                .iter()
                .any(|d| d.controllers.iter().any(|c| c == "pids"))
            {
                limits.pids = asked.pids;
            }
            Ok((Some(placement), limits))
        }
        Err(why) if asked != Limits::default() => Err(Error::invalid(format!(
            "without root, --mem, --cpus and --pids need a cgroup v2 subtree of your own, and {why}: {}",
            delegated::HOW
        ))),
        Err(why) => {
            warnings::warn(format!(
                "without root the container runs without a cgroup of its own ({why}): no limits, and no account of what it uses"
            ));
            Ok((None, asked))
        }
    }
}

/// The cgroups stage for `placement`, and the container's own view of
/// its cgroup at /sys/fs/cgroup.
pub(super) fn cgroups_of(
    plan: &mut Plan,
    host: Host,
    placement: &Placement,
    limits: Limits,
    spec: &Spec,
    rootless: bool,
) {
    plan.rootfs = plan
        .rootfs
        .take()
        .map(|r| r.with_cgroupfs(host.inside_mounts(placement)));
    let cgroups = Cgroups::new(host, placement.clone(), limits);
    // Without root, the devices a container may open are the host's own
    // nodes bound in (the rootfs stage), which no cgroup program could
    // widen.
    plan.cgroups = Some(if rootless {
        cgroups
    } else {
        let mut allowed = devices::DEFAULT.to_vec();
        allowed.extend(spec.devices.iter().map(devices::Passed::rule));
        cgroups.with_devices(allowed)
    });
}

/// Without root, the network `--net bridge` stands for: pasta's, or
/// none at all, said once, when pasta is not installed.
pub(super) fn usermode_network(
    plan: &mut Plan,
    store: &Store,
    bridge: &Bridge,
    held: &Held,
    spec: &Spec,
    hostname: &str,
) -> Result<EtcFiles> {
    let Some(pasta) = usermode::find() else {
        warnings::warn(format!(
            "{}: this container has no network (--net none)",
            usermode::MISSING
        ));
        plan.net = Some(Net::isolated(store.clone(), bridge.clone()));
        return Ok(EtcFiles::new(hostname, None));
    };
    let pid_file = path_text(&held.dir.join(usermode::PID_FILE))?;
    plan.usermode = Some(UserMode::new(pasta, spec.publish.clone(), pid_file));
    // The host's resolvers, as the container reaches what the host does;
    // one on the host's loopback (systemd-resolved's 127.0.0.53) is not
    // the container's, so those are left out as for a bridged run.
    Ok(EtcFiles {
        resolv: etc::resolv_conf(),
        ..EtcFiles::host(hostname)
    })
}

/// The network stages `--net` asks for, the container's /etc files for
/// it, and the record of the container's place on the bridge that `rm -f`
/// needs after a killed diyc.
pub(super) fn network_of(
    plan: &mut Plan,
    undo: &mut Undo,
    store: &Store,
    bridge: &Bridge,
    spec: &Spec,
    name: &str,
    hostname: &str,
) -> Result<(Option<NetRecord>, EtcFiles)> {
    match spec.net {
        NetMode::Host => Ok((None, EtcFiles::host(hostname))),
        NetMode::None => {
            plan.net = Some(Net::isolated(store.clone(), bridge.clone()));
            Ok((None, EtcFiles::new(hostname, None)))
        }
        NetMode::Bridge => {
            let ip = network::lease(store, bridge, name, spec.ip, &spec.publish)?;
            let lease_store = store.clone();
            undo.push(format!("releasing {ip}"), When::Always, move |_| {
                network::release(&lease_store, ip)
            });
            fault::point("after-lease")?;
            let net = Net::bridged(store.clone(), bridge.clone(), name, ip);
            let record = net.host_if().map(|host_if| NetRecord {
                ip,
                host_if: host_if.to_string(),
                ports: spec.publish.clone(),
            });
            plan.net = Some(net);
            plan.iptables = Some(Iptables {
                store: store.clone(),
                bridge: bridge.clone(),
                ip,
                ports: spec.publish.clone(),
            });
            Ok((record, EtcFiles::new(hostname, Some(ip))))
        }
    }
}
