//! `diyc inspect`: a container's configuration and state as JSON, and
//! while it runs what /proc shows of it: its namespaces and its mounts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::observe;
use crate::state::Store;
use crate::state::container::{NetRecord, Spec};
use crate::state::status::{self, Info, Status};

#[derive(Serialize)]
struct Inspected<'a> {
    name: &'a str,
    image: &'a str,
    created: u64,
    /// How it was last run; `diyc start` runs it so again.
    config: Option<&'a Spec>,
    state: State,
    network: Option<&'a NetRecord>,
    /// Its cgroup's directories, one per cgroup tree.
    cgroup: Vec<String>,
    /// Namespace ids as /proc/PID/ns shows them (the inode numbers).
    namespaces: BTreeMap<&'static str, u64>,
    /// Its mount table, as it sees it.
    mounts: Vec<Mount>,
    /// Where a detached run's output is.
    log: Option<String>,
}

#[derive(Serialize)]
struct State {
    status: Status,
    /// Its first process, as the host numbers it.
    pid: Option<i32>,
    /// The diyc that runs it and cleans up after it.
    supervisor: Option<i32>,
    started: Option<u64>,
    finished: Option<u64>,
    exit_code: Option<i32>,
}

#[derive(Serialize)]
struct Mount {
    target: String,
    source: String,
    fstype: String,
    options: String,
}

const NAMESPACES: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

pub fn inspect(store: &Store, names: &[String]) -> Result<i32> {
    let infos = status::named(store, names)?;
    let all: Vec<Inspected> = infos.iter().map(inspected).collect();
    let text = serde_json::to_string_pretty(&all)
        .map_err(|e| Error::encoding("writing the containers as JSON", e))?;
    println!("{text}");
    Ok(0)
}

fn inspected(info: &Info) -> Inspected<'_> {
    let running = info.status == Status::Running;
    let run = info.run.as_ref().filter(|_| running);
    let pid = info.init.map(|p| p.pid);
    let last = info.state.as_ref();
    let namespaces = pid.map_or_else(BTreeMap::new, |pid| {
        NAMESPACES
            .iter()
            .filter_map(|ns| Some((*ns, observe::ns_inode(Some(pid), ns)?)))
            .collect()
    });
    let mounts = pid.map_or_else(Vec::new, |pid| {
        observe::mountinfo(Some(pid))
            .into_iter()
            .map(|m| Mount {
                target: m.mount_point,
                source: m.source,
                fstype: m.fstype,
                options: m.options,
            })
            .collect()
    });
    Inspected {
        name: info.name(),
        image: &info.config.image,
        created: info.config.created,
        config: info.config.spec.as_ref(),
        state: State {
            status: info.status,
            pid,
            supervisor: run.and_then(|r| r.owner).map(|o| o.pid),
            started: run.map(|r| r.started).or(last.and_then(|s| s.started)),
            finished: last.filter(|_| !running).and_then(|s| s.finished),
            exit_code: last.filter(|_| !running).and_then(|s| s.exit_code),
        },
        network: run.and_then(|r| r.net.as_ref()),
        cgroup: run
            .and_then(|r| r.cgroup.as_ref())
            .map(|p| {
                p.dirs
                    .iter()
                    .map(|d| d.path.display().to_string())
                    .collect()
            })
            .unwrap_or_default(),
        namespaces,
        mounts,
        log: info
            .has_log()
            .then(|| info.log_path().display().to_string()),
    }
}
