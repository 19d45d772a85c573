//! `diyc run`: check the input completely, then make the container out of
//! the one stage list (src/stages/order.rs), launch it, record how it
//! ended, and undo what it made. With `-d` the same runs in a supervisor
//! of its own (detach.rs). What the run takes from the host, a cgroup
//! and a network, is chosen in host.rs.

mod host;

use super::check::{self, path_text, validate_hostname};
use super::detach::{self, Notice};
use super::spec;
use crate::cli::{NetMode, RunArgs};
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::{Explainer, Format};
use crate::observe;
use crate::pause::Pauser;
use crate::runtime::{self, ExecSpec, Launch, Terminal, reclaim};
use crate::signals::Signals;
use crate::stages::cgroups::{self, Host};
use crate::stages::hardening::{Hardening, container_caps, user};
use crate::stages::net::usermode;
use crate::stages::net::{self, Bridge, etc};
use crate::stages::order::Plan;
use crate::stages::rootfs::{self, Rootfs};
use crate::stages::session::{Session, Stdio};
use crate::stages::user::User;
use crate::stages::uts::Uts;
use crate::state::container::{self, Held, ProcessId, Run, Spec, State};
use crate::state::{self, Store, image};
use crate::sys::{Quiet, Sys};
use crate::undo::{Undo, When};
use crate::warnings;

/// How this run goes, beyond what the container is (its `Spec`).
pub struct Options {
    /// Always set for a detached run: the caller prints it.
    pub name: Option<String>,
    pub rm: bool,
    pub explain: Option<Format>,
    pub verbose: bool,
    pub step: bool,
}

pub fn run(store: &Store, bridge: &Bridge, args: RunArgs) -> Result<i32> {
    if args.publish_all && args.net != NetMode::Bridge {
        // Before -P looks for free ports and says which it took.
        return Err(Error::invalid(check::NEEDS_BRIDGE));
    }
    let spec = spec::with_image(spec::of(&args)?, store, args.publish_all)?;
    check_spec(
        store,
        bridge,
        &spec,
        args.name.as_deref(),
        args.explain.format,
    )?;
    if args.detach && spec.interactive && !spec.tty {
        return Err(Error::invalid(
            "-d with -i needs -t (-dit): a detached container has no stdin to read but the open end of a terminal of its own",
        ));
    }
    let options = Options {
        name: args.name,
        rm: args.rm,
        // Pausing between stages needs the stages reported: --step explains.
        explain: args.explain.format.or(args.step.then_some(Format::Text)),
        verbose: args.explain.verbose,
        step: args.step,
    };
    if args.detach {
        return detach::run(store, bridge, spec, options);
    }
    run_spec(store, bridge, &spec, &options, None)
}

/// The image, the names and every option, checked before anything is made.
fn check_spec(
    store: &Store,
    bridge: &Bridge,
    spec: &Spec,
    name: Option<&str>,
    explain: Option<Format>,
) -> Result<()> {
    image::validate_name(&spec.image)?;
    if explain == Some(Format::Text)
        && matches!(spec.image.as_str(), "json" | "text")
        && !image::dir(store, &spec.image).exists()
    {
        return Err(Error::invalid(format!(
            "`--explain {0}` reads {0} as the image: write `--explain={0}`",
            spec.image
        )));
    }
    if let Some(name) = name {
        state::validate_name("container", name)?;
    }
    container_caps(&spec.cap_add, &spec.cap_drop)?;
    check::run_spec(bridge, spec)?;
    if observe::rootless() {
        crate::stages::user::check_kernel()?;
    }
    if spec.net == NetMode::Bridge && observe::rootless() {
        if spec.ip.is_some() {
            return Err(Error::invalid(
                "--ip is an address on diyc's bridge, which needs root; without root pasta gives the container the host's own address",
            ));
        }
        if !spec.publish.is_empty() && usermode::find().is_none() {
            return Err(Error::invalid(format!("-p: {}", usermode::MISSING)));
        }
        let lowest = usermode::lowest_port();
        if let Some(port) = spec.publish.iter().find(|p| p.host < lowest) {
            return Err(Error::invalid(format!(
                "-p {}:{}: without root a host port below {lowest} cannot be listened on (net.ipv4.ip_unprivileged_port_start); pick one from {lowest} up",
                port.host, port.container
            )));
        }
    } else if spec.net == NetMode::Bridge {
        net::preflight(&mut Sys::new(&mut Quiet, StageId::Net), store, bridge)?;
    }
    Ok(())
}

/// Make the container `spec` describes, run it and undo what it made. A
/// detached run tells the diyc that started it once the command runs, and
/// writes its output to the container's log.
pub fn run_spec(
    store: &Store,
    bridge: &Bridge,
    spec: &Spec,
    options: &Options,
    detached: Option<&Notice>,
) -> Result<i32> {
    let caps = container_caps(&spec.cap_add, &spec.cap_drop)?;
    let hardening = Hardening::new(caps, true, &spec.seccomp, store)?;
    let signals = Signals::block()?;
    if options.explain == Some(Format::Json) {
        warnings::as_json();
    }
    let mut explainer = Explainer::new(options.explain).verbose(options.verbose);
    let mut sys = Sys::new(&mut explainer, StageId::Image);
    let rootless = observe::rootless();
    if detached.is_none() {
        // A run that leases an address on diyc's bridge (pasta gives one
        // without root) takes back the gone owners' addresses as it does.
        if spec.net == NetMode::Bridge && !rootless {
            reclaim::reclaim_dead_before_lease(&mut sys, store);
        } else {
            reclaim::reclaim_dead(&mut sys, store);
        }
    }
    let lower = image::ensure(store, &spec.image, &mut sys, &signals)?;
    for layer in &lower {
        rootfs::check_mount_points(layer)?;
    }
    rootfs::lowerdir(&lower, rootfs::room_for_the_rest(store.root()))?;
    store.create()?;
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| container::generate_name(store));
    if detached.is_some() {
        reclaim::reclaim_one(&mut sys, store, &name);
    }
    let hostname = spec.hostname.clone().unwrap_or_else(|| name.clone());
    validate_hostname(&hostname)?;
    let mut env = check::container_env(&hostname, &spec.env)?;
    let user = user::of_container(
        store,
        &name,
        &spec.image,
        spec.user.as_deref(),
        &mut env,
        &spec.env,
    )?;
    let hardening = hardening.with_user(user);
    let rootless = rootless.then(User::for_caller);
    let host = Host::detect()?;
    let (placement, limits) = host::placed(&host, spec, &name, rootless.is_some())?;
    if host.none_mounted() {
        warnings::warn(format!(
            "no cgroup filesystem is mounted here ({}): the container runs without a cgroup of its own, so without a process limit, accounting or device control",
            cgroups::NOT_MOUNTED
        ));
    }

    let held = container::acquire(store, &name, spec)?;
    if let Some(notice) = detached {
        notice.log_to(&held)?;
    }
    let mut undo = Undo::new();
    let mut plan = Plan::base(
        Uts {
            hostname: hostname.clone(),
            domainname: Some("diyc".into()),
        },
        layers(&held, &lower, &mut undo, options.rm, spec.memory)?
            .with_devices(spec.devices.clone())
            .with_mounts(spec.mounts.clone(), spec.read_only),
    );
    if let Some(placement) = &placement {
        host::cgroups_of(&mut plan, host, placement, limits, spec, rootless.is_some());
    }
    if let Some(user) = rootless {
        if let Some(note) = user.note() {
            warnings::warn(note);
        }
        plan.user = Some(user);
    }
    plan.session = Some(Session::new(
        spec.tty,
        Stdio::of_caller(spec.interactive),
        StageId::Rootfs,
    ));
    plan.hardening = Some(hardening);
    let (net, etc_files) = if plan.user.is_some() && spec.net == NetMode::Bridge {
        (
            None,
            host::usermode_network(&mut plan, store, bridge, &held, spec, &hostname)?,
        )
    } else {
        host::network_of(&mut plan, &mut undo, store, bridge, spec, &name, &hostname)?
    };
    // diyc's own copies in the container's directory, beside its records
    // (not in a folder of their own: each directory made and removed on
    // disk costs a run more than the files in it), removed with the
    // container. A layer in memory has its tmpfs on that directory, and
    // the rootfs stage writes them there; otherwise they are written
    // here, not shown.
    let etc_dir = path_text(&held.dir)?;
    plan.rootfs = match plan.rootfs.take() {
        Some(rootfs) if rootfs.is_in_memory() => Some(rootfs.with_etc_written(&etc_dir, etc_files)),
        rootfs => {
            etc::write(
                &mut Sys::new(&mut Quiet, StageId::Net),
                &etc_dir,
                &etc_files,
            )?;
            rootfs.map(|r| r.with_etc(&etc_dir))
        }
    };
    let (stages, flags) = plan.build();
    let exec = ExecSpec {
        argv: spec.command.clone(),
        env,
        workdir: spec.workdir.clone(),
    };
    let mut launch = Launch::new(stages, flags, exec)?
        .pause_with(Pauser::new(!options.step))
        .with_terminal(Terminal {
            tty: spec.tty,
            // A supervisor's stdin is /dev/null: a detached container's
            // terminal stays open for input nobody types.
            input: spec.interactive && detached.is_none(),
        });
    // A detached run sweeps up after other killed diycs only once its
    // caller is told: the sweep looks at every container, and no start
    // should wait, or give up CPU, for how many there are. (A run in the
    // foreground swept first, as its caller waits for all of it anyway;
    // done while its container ran, the sweep cost a short run 0.8 ms
    // more.)
    if let Some(notice) = detached {
        let mut tell = notice.running();
        let swept = store.clone();
        launch = launch.when_running(Box::new(move || {
            tell();
            reclaim::sweep_in_background(&swept);
        }));
    }
    let record = Run {
        command: spec.command.clone(),
        owner: ProcessId::of(std::process::id() as i32),
        started: container::now(),
        cgroup: placement,
        net,
        remove: options.rm,
    };
    let exit = launch_recorded(
        &mut sys,
        &held,
        &mut launch,
        &signals,
        &mut undo,
        record,
        options.rm,
    )?;
    // The verdict on how it ended (an OOM kill), said last; as one more
    // JSON event to a program reading JSON lines.
    exit.notes.into_iter().for_each(warnings::warn);
    Ok(exit.code)
}

/// The container's root: the image below its writable layer, which a
/// fresh `--rm` container keeps in memory (a tmpfs inside its own mount
/// namespace, gone with it), so the run writes nothing to disk that it
/// would only delete again.
fn layers(
    held: &Held,
    lower: &[std::path::PathBuf],
    undo: &mut Undo,
    rm: bool,
    memory: Option<u64>,
) -> Result<Rootfs> {
    let in_memory = rm && held.created;
    remove_when_done(undo, held, rm);
    let lower = rootfs::lowerdir(lower, 0)?;
    Ok(if in_memory {
        // What it writes is memory: no more than its memory limit, and a
        // bound of its own without one. The tmpfs is mounted on the
        // container's directory itself, in the container's mount
        // namespace only: no mount point to make and remove on disk.
        let size = memory.unwrap_or(rootfs::IN_MEMORY_DEFAULT);
        Rootfs::in_memory(lower, path_text(&held.dir)?, size)
    } else {
        held.make_layer_dirs()?;
        Rootfs::on_disk(
            lower,
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
