//! After a diyc was killed mid-run: undo what its launch made on the host,
//! from the run.json it wrote before making anything (its cgroup, its
//! port rules, its address, a rootless run's pasta). Mounts died with the
//! container's mount namespace and its veth pair with its network
//! namespace, so nothing else is left. `diyc run`, `diyc rm` and (as root)
//! `diyc ps` do this first, but a detached `diyc run`: that one does it
//! for its own name first, and for every other container once its own
//! runs (at most once a second per store). A `--rm` container whose diyc
//! was killed is removed altogether.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::event::StageId;
use crate::stages::cgroups;
use crate::stages::iptables;
use crate::stages::net::usermode;
use crate::state::container::{self, Run};
use crate::state::{self, Lock, Store, network};
use crate::sys::{Quiet, Sys};
use crate::warnings;

/// Undo what `run` left, through the seam. The caller holds the
/// container's lock.
fn clean_after(sys: &mut Sys, store: &Store, dir: &Path, run: Run) -> Result<()> {
    if let Some(placement) = &run.cgroup {
        cgroups::remove(sys, placement)?;
    }
    // pasta outlives a killed diyc: it holds the namespace it serves.
    if let Some(pid_file) = dir.join(usermode::PID_FILE).to_str() {
        usermode::stop(sys, pid_file)?;
    }
    if let Some(net) = &run.net {
        for port in &net.ports {
            iptables::delete_dnat(sys, port, net.ip)?;
        }
        network::release(store, net.ip)?;
    }
    if run.remove {
        return state::remove_dir(dir);
    }
    container::close_dead_run(dir, run)
}

/// Clean up after every diyc that was killed: containers whose run.json
/// is still there though nobody holds their lock, half-made containers
/// and images, and addresses whose owner is gone. Failures here belong to
/// other containers, so they are warnings, never errors.
pub fn reclaim_dead(sys: &mut Sys, store: &Store) {
    reclaim_runs(sys, store, true);
}

/// The same for a run that is about to lease an address, but for the
/// addresses: the lease takes back those of owners that are gone as it
/// reads them, so a sweep first would read every lease (and its owner's
/// /proc entry) twice, more with each bridged container alive.
pub fn reclaim_dead_before_lease(sys: &mut Sys, store: &Store) {
    reclaim_runs(sys, store, false);
}

fn reclaim_runs(sys: &mut Sys, store: &Store, addresses: bool) {
    reclaim_debris(store, addresses);
    for dead in container::dead_runs(store) {
        clean_up(sys, store, dead);
    }
}

/// The same sweep for a detached run's supervisor, once its caller has
/// its answer. Only the look at every container's lock, which no start
/// waits for, runs at idle priority; the work under locks a start does
/// wait for (the store's, the network's, while a dead run is undone) runs
/// as usual, or a start could wait on a sweep that never gets the CPU.
/// At most one a second per store: see `Store::claim_sweep`.
pub fn sweep_in_background(store: &Store) {
    if !store.claim_sweep(std::time::Duration::from_secs(1)) {
        return;
    }
    reclaim_debris(store, true);
    let dead = crate::sys::at_idle_priority(|| container::dead_runs(store));
    let mut quiet = Quiet;
    let mut sys = Sys::new(&mut quiet, StageId::Cleanup);
    for dead in dead {
        clean_up(&mut sys, store, dead);
    }
}

/// Half-made containers, images and labs, and (with `addresses`)
/// addresses whose owner is gone.
fn reclaim_debris(store: &Store, addresses: bool) {
    state::reclaim(&store.containers_dir());
    state::reclaim(&store.images_dir());
    store.reclaim_labs();
    if addresses {
        network::reclaim(store);
    }
}

/// The same for the one container `name`, before a run takes that name:
/// a killed diyc's record there would otherwise be written over before
/// what it made is undone. One look, however many containers there are;
/// `reclaim_dead`, which looks at every one, can wait until a detached
/// container runs.
pub fn reclaim_one(sys: &mut Sys, store: &Store, name: &str) {
    if let Some(dead) = container::dead_run(store.containers_dir().join(name)) {
        clean_up(sys, store, dead);
    }
}

fn clean_up(sys: &mut Sys, store: &Store, (dir, run, _lock): (PathBuf, Run, Lock)) {
    if let Err(e) = clean_after(sys, store, &dir, run) {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        warnings::warn(format!(
            "cleaning up after {}: {e}",
            name.unwrap_or_default()
        ));
    }
}

/// `diyc rm NAME`: a running container is refused unless `force`, which
/// kills it first; an unknown name is an error unless `force`.
pub fn remove(sys: &mut Sys, store: &Store, name: &str, force: bool) -> Result<()> {
    state::validate_name("container", name)?;
    let Some((dir, _lock)) = container::take_for_removal(store, name, force)? else {
        if force {
            // Whatever a diyc killed before publishing this name left.
            reclaim_dead(sys, store);
            return Ok(());
        }
        return Err(Error::invalid(format!("no container named {name}")));
    };
    if let Some(run) = container::read_run(&dir) {
        clean_after(sys, store, &dir, run)?;
    }
    state::remove_dir(&dir)?;
    reclaim_dead(sys, store);
    Ok(())
}
