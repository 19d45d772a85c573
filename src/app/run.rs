//! `diyc run`: check the input completely, then make the container out of
//! the one stage list (src/stages/order.rs), launch it, record how it
//! ended, and undo what it made.

use std::path::Path;

use super::check::{self, path_text, validate_hostname};
use super::need_root;
use crate::cli::{NetMode, RunArgs};
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::{Explainer, Format};
use crate::fault;
use crate::pause::Pauser;
use crate::runtime::{self, ExecSpec, Launch, reclaim};
use crate::signals::Signals;
use crate::stages::cgroups::{Cgroups, Host, Limits};
use crate::stages::hardening::{Hardening, capability_set};
use crate::stages::iptables::Iptables;
use crate::stages::net::{Bridge, EtcFiles, Net};
use crate::stages::order::Plan;
use crate::stages::rootfs::{self, Rootfs};
use crate::stages::uts::Uts;
use crate::state::container::{self, Held, NetRecord, ProcessId, Run, State};
use crate::state::{self, Store, image, network};
use crate::sys::Sys;
use crate::undo::{Undo, When};
use crate::warnings;

pub fn run(store: &Store, bridge: &Bridge, args: RunArgs) -> Result<i32> {
    let (image_name, argv, caps) = check_run(bridge, &args)?;
    need_root("run")?;
    let signals = Signals::block()?;
    // Pausing between stages needs the stages reported: --step explains.
    let explain = args.explain.format.or(args.step.then_some(Format::Text));
    if explain == Some(Format::Json) {
        warnings::as_json();
    }
    let mut explainer = Explainer::new(explain);
    let mut sys = Sys::new(&mut explainer, StageId::Image);
    reclaim::reclaim_dead(&mut sys, store);
    let lower = image::ensure(store, &image_name, &mut sys, &signals)?;
    rootfs::check_mount_points(&lower)?;
    store.create()?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| container::generate_name(store));
    let hostname = args.hostname.clone().unwrap_or_else(|| name.clone());
    validate_hostname(&hostname)?;
    let env = check::container_env(&hostname, &args.env)?;
    let limits = Limits {
        memory: args.mem,
        cpus: args.cpus,
        pids: args.pids,
    };
    let host = Host::detect()?;
    let placement = host.place(&args.cgroup.cgroup_parent, &name, &limits)?;

    let held = container::acquire(store, &name, &image_name)?;
    let mut undo = Undo::new();
    let mut plan = Plan::base(
        Uts {
            hostname: hostname.clone(),
            domainname: Some("diyc".into()),
        },
        layers(&held, &lower, &mut undo, args.rm)?,
    );
    plan.cgroups = Some(Cgroups::new(host, placement.clone(), limits));
    plan.hardening = Some(Hardening { caps });
    let net = network_of(&mut plan, &mut undo, store, bridge, &args, &name, &hostname)?;
    let (stages, flags) = plan.build();
    let exec = ExecSpec {
        argv: argv.clone(),
        env,
        workdir: args.workdir.clone(),
    };
    let mut launch = Launch::new(stages, flags, exec)?.pause_with(Pauser::new(!args.step));
    let record = Run {
        command: argv,
        owner: ProcessId::of(std::process::id() as i32),
        started: container::now(),
        cgroup: Some(placement),
        net,
    };
    let exit = launch_recorded(
        &mut sys,
        &held,
        &mut launch,
        &signals,
        &mut undo,
        record,
        args.rm,
    )?;
    // The verdict on how it ended (an OOM kill), said last; as one more
    // JSON event to a program reading JSON lines.
    exit.notes.into_iter().for_each(warnings::warn);
    Ok(exit.code)
}

/// The image and command, the names and every option, checked before
/// anything is made.
fn check_run(bridge: &Bridge, args: &RunArgs) -> Result<(String, Vec<String>, u64)> {
    let mut words = args.args.iter().cloned();
    let image_name = words.next().unwrap_or_default();
    let mut argv: Vec<String> = words.collect();
    if argv.is_empty() {
        argv.push("sh".into());
    }
    state::validate_name("image", &image_name)?;
    if let Some(name) = &args.name {
        state::validate_name("container", name)?;
    }
    let caps = capability_set(&args.cap_add, &args.cap_drop).map_err(Error::invalid)?;
    check::run_args(bridge, args)?;
    Ok((image_name, argv, caps))
}

/// The container's root: the image below its writable layer, which a
/// fresh `--rm` container keeps in memory (a tmpfs inside its own mount
/// namespace, gone with it), so the run writes nothing to disk that it
/// would only delete again.
fn layers(held: &Held, lower: &Path, undo: &mut Undo, rm: bool) -> Result<Rootfs> {
    let in_memory = rm && held.created;
    remove_when_done(undo, held, rm);
    held.make_layer_dirs(in_memory)?;
    Ok(if in_memory {
        Rootfs::in_memory(path_text(lower)?, path_text(&held.rootfs())?)
    } else {
        Rootfs::on_disk(
            path_text(lower)?,
            path_text(&held.upper())?,
            path_text(&held.work())?,
            path_text(&held.rootfs())?,
        )
    })
}

/// The launch between its records: run.json before anything of it is
/// made on the host, state.json when it ends (not with --rm), and run.json
/// removed last, after the undo log, since until then it is what tells
/// `rm -f` what to clean up if diyc is killed.
fn launch_recorded(
    sys: &mut Sys,
    held: &Held,
    launch: &mut Launch,
    signals: &Signals,
    undo: &mut Undo,
    record: Run,
    rm: bool,
) -> Result<runtime::Exit> {
    let (command, started) = (record.command.clone(), record.started);
    held.write_run(&record)?;
    let result = runtime::launch(sys, launch, signals, undo, &mut |child| {
        held.write_init(child)
    });
    // A command that could not be started still ran a container: it
    // exited with 126 or 127, like a shell's command would.
    let code = match &result {
        Ok(exit) => Some(exit.code),
        Err(Error::Command { code, .. }) => Some(*code),
        Err(_) => None,
    };
    let recorded = match (code, rm) {
        (Some(code), false) => held.write_state(&State {
            command,
            exit_code: Some(code),
            started: Some(started),
            finished: Some(container::now()),
        }),
        _ => Ok(()),
    };
    undo.finish(sys, code.is_some());
    let cleared = held.clear_run();
    recorded.and(cleared).and(result)
}

/// A new container goes again if its run fails; a `--rm` one always.
fn remove_when_done(undo: &mut Undo, held: &Held, rm: bool) {
    let name = &held.name;
    let dir = held.dir.clone();
    if rm {
        undo.push(
            format!("removing container {name} (--rm)"),
            When::Always,
            move |_| state::remove_dir(&dir),
        );
    } else if held.created {
        undo.push(
            format!("removing the new container {name}"),
            When::OnFailure,
            move |_| state::remove_dir(&dir),
        );
    }
}

/// The network stages `--net` asks for, and the record of the container's
/// place on the bridge that `rm -f` needs after a killed diyc.
fn network_of(
    plan: &mut Plan,
    undo: &mut Undo,
    store: &Store,
    bridge: &Bridge,
    args: &RunArgs,
    name: &str,
    hostname: &str,
) -> Result<Option<NetRecord>> {
    match args.net {
        NetMode::Host => Ok(None),
        NetMode::None => {
            let etc = EtcFiles::new(hostname, None);
            plan.net = Some(Net::isolated(store.clone(), bridge.clone(), Some(etc)));
            Ok(None)
        }
        NetMode::Bridge => {
            let ip = network::lease(store, bridge, name, args.ip, &args.publish)?;
            let lease_store = store.clone();
            undo.push(format!("releasing {ip}"), When::Always, move |_| {
                network::release(&lease_store, ip)
            });
            fault::point("after-lease")?;
            let etc = EtcFiles::new(hostname, Some(ip));
            let net = Net::bridged(store.clone(), bridge.clone(), name, ip, etc);
            let record = net.host_if().map(|host_if| NetRecord {
                ip,
                host_if: host_if.to_string(),
                ports: args.publish.clone(),
            });
            plan.net = Some(net);
            plan.iptables = Some(Iptables {
                store: store.clone(),
                bridge: bridge.clone(),
                ip,
                ports: args.publish.clone(),
            });
            Ok(record)
        }
    }
}
