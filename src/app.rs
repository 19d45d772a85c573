//! Each subcommand: check the input completely, then act. Errors come back
//! here to be printed once, as one line, with their exit status.

use std::io::Write;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cgroups::{self, Limits};
use crate::cli::{Cli, Command, ImageCommand, NetMode, NsexecArgs, RunArgs};
use crate::container::{self, NetRecord, ProcessId, Run, State};
use crate::error::{Error, IoContext, Result};
use crate::event::StageId;
use crate::explain::{Explainer, Format};
use crate::fault;
use crate::image;
use crate::learn;
use crate::network::{self, Bridge};
use crate::pause::Pauser;
use crate::runtime::{self, ExecSpec, Launch};
use crate::signals::Signals;
use crate::stages::hardening::{Hardening, capability_set};
use crate::stages::{
    Stage, Stages, cgroups::Cgroups, mount::Mount, pid::Pid, rootfs::Rootfs, uts::Uts,
};
use crate::stages::{iptables::Iptables, net::Net};
use crate::store::{self, Store, validate_name};
use crate::sys::Sys;
use crate::undo::{Undo, When};

/// The PATH a container starts with.
pub const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return 0;
        }
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return 125;
        }
        Err(e) => {
            eprintln!(
                "diyc: {} (see `diyc --help`)",
                one_line(&e.render().to_string())
            );
            return 125;
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("diyc: {e}");
            e.exit_code()
        }
    }
}

/// clap's message without its usage block: the first line, and when that
/// ends in a colon, the line it introduces.
fn one_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match (first.strip_suffix(':'), lines.next()) {
        (Some(head), Some(next)) => format!("{head}: {next}"),
        _ => first.to_string(),
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    let store = Store::new(&cli.root)?;
    let bridge = Bridge::new(&cli.bridge, &cli.subnet).map_err(Error::invalid)?;
    match cli.command {
        Command::Run(args) => run(&store, &bridge, *args),
        Command::Nsexec(args) => nsexec(&store, &bridge, args),
        Command::Learn(args) => learn::learn(
            &store,
            &bridge,
            learn::Options {
                topic: args.step,
                all: args.all,
                lab: args.lab,
                no_pause: args.no_pause,
                explain: args.explain,
                transcript: args.transcript,
                cgroup_parent: args.cgroup_parent,
            },
        ),
        Command::Setup { explain } => {
            need_root("setup")?;
            let _signals = Signals::block()?;
            let mut explainer = Explainer::new(explain.then_some(Format::Text));
            let mut sys = Sys::new(&mut explainer, StageId::Net);
            sys.stage(StageId::Net);
            network::setup(&mut sys, &store, &bridge)?;
            Ok(0)
        }
        Command::Teardown { explain } => {
            need_root("teardown")?;
            let _signals = Signals::block()?;
            let mut explainer = Explainer::new(explain.then_some(Format::Text));
            let mut sys = Sys::new(&mut explainer, StageId::Cleanup);
            sys.stage(StageId::Cleanup);
            network::teardown(&mut sys, &store, &bridge)?;
            Ok(0)
        }
        Command::Image(ImageCommand::Import { name, file }) => {
            need_root("image import")?;
            let signals = Signals::block()?;
            let info = image::import(&store, &name, &file, &signals)?;
            println!(
                "imported image {}: {} entries, {} KiB",
                info.name,
                info.files,
                info.size / 1024
            );
            Ok(0)
        }
        Command::Image(ImageCommand::Ls) => {
            image_ls(&store);
            Ok(0)
        }
        Command::Image(ImageCommand::Rm { name }) => {
            need_root("image rm")?;
            image::remove(&store, &name)?;
            Ok(0)
        }
        Command::Ps { all } => {
            if nix::unistd::geteuid().is_root() {
                let mut quiet = Explainer::new(None);
                container::reclaim_dead(&mut Sys::new(&mut quiet, StageId::Cleanup), &store);
            }
            ps(&store, all);
            Ok(0)
        }
        Command::Rm { force, names } => {
            need_root("rm")?;
            for name in &names {
                validate_name("container", name)?;
            }
            let _signals = Signals::block()?;
            let mut quiet = Explainer::new(None);
            let mut sys = Sys::new(&mut quiet, StageId::Cleanup);
            for name in &names {
                container::remove(&mut sys, &store, name, force)?;
            }
            Ok(0)
        }
    }
}

fn need_root(what: &str) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "diyc {what} needs root: try `sudo diyc {what} ...`"
        )))
    }
}

/// A hostname the kernel and resolvers accept: 1 to 64 bytes of letters,
/// digits, '-' and '.', not starting with either.
fn validate_hostname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid hostname {name:?}: use 1 to 64 letters, digits, '-' and '.'"
        )))
    }
}

/// The container's whole environment: a few defaults, TERM if the user has
/// one, then every `-e`. Nothing else of the host's leaks in.
fn container_env(hostname: &str, extra: &[String]) -> Result<Vec<String>> {
    let mut env = vec![
        format!("PATH={CONTAINER_PATH}"),
        "HOME=/root".to_string(),
        format!("HOSTNAME={hostname}"),
    ];
    if let Ok(term) = std::env::var("TERM") {
        env.push(format!("TERM={term}"));
    }
    for kv in extra {
        match kv.split_once('=') {
            Some((key, _)) if !key.is_empty() => {
                env.retain(|e| !e.starts_with(&format!("{key}=")));
                env.push(kv.clone());
            }
            _ => {
                return Err(Error::invalid(format!(
                    "invalid environment variable {kv:?}: expected KEY=VALUE"
                )));
            }
        }
    }
    Ok(env)
}

fn path_text(path: &std::path::Path) -> Result<String> {
    path.to_str()
        .map(String::from)
        .ok_or_else(|| Error::invalid(format!("{} is not valid UTF-8", path.display())))
}

fn run(store: &Store, bridge: &Bridge, args: RunArgs) -> Result<i32> {
    let mut words = args.args.into_iter();
    let image_name = words.next().unwrap_or_default();
    let mut argv: Vec<String> = words.collect();
    if argv.is_empty() {
        argv.push("sh".into());
    }
    validate_name("image", &image_name)?;
    if let Some(name) = &args.name {
        validate_name("container", name)?;
    }
    if let Some(dir) = &args.workdir {
        let climbs = std::path::Path::new(dir)
            .components()
            .any(|c| c == std::path::Component::ParentDir);
        if !dir.starts_with('/') || climbs {
            return Err(Error::invalid(format!(
                "working directory {dir:?} must be an absolute path inside the container, without '..'"
            )));
        }
    }
    let caps = capability_set(&args.cap_add, &args.cap_drop).map_err(Error::invalid)?;
    if let Some(h) = &args.hostname {
        validate_hostname(h)?;
    }
    container_env("x", &args.env)?;
    if args.net != NetMode::Bridge && (args.ip.is_some() || !args.publish.is_empty()) {
        return Err(Error::invalid("--ip and -p need --net bridge"));
    }
    if let Some(ip) = args.ip {
        bridge
            .check(ip)
            .map_err(|e| Error::invalid(format!("--ip {e}")))?;
    }
    for (i, port) in args.publish.iter().enumerate() {
        if args.publish[..i]
            .iter()
            .any(|p| p.host == port.host && p.proto == port.proto)
        {
            return Err(Error::invalid(format!(
                "host port {}/{} is published twice",
                port.host, port.proto
            )));
        }
    }
    need_root("run")?;
    let signals = Signals::block()?;

    // Pausing between stages needs the stages reported: --step explains.
    let explain = args.explain.or(args.step.then_some(Format::Text));
    let mut explainer = Explainer::new(explain);
    let mut sys = Sys::new(&mut explainer, StageId::Image);
    container::reclaim_dead(&mut sys, store);
    let lower = image::ensure(store, &image_name, &mut sys, &signals)?;
    image::check_mount_points(&lower)?;
    store.create()?;
    let name = args.name.unwrap_or_else(|| container::generate_name(store));
    let hostname = args.hostname.unwrap_or_else(|| name.clone());
    validate_hostname(&hostname)?;
    let env = container_env(&hostname, &args.env)?;
    let limits = Limits {
        memory: args.mem,
        cpus: args.cpus,
        pids: args.pids,
    };
    let host = cgroups::Host::detect()?;
    let placement = host.place(&args.cgroup_parent, &name, &limits)?;

    let held = container::acquire(store, &name, &image_name)?;
    let mut undo = Undo::new();
    // (--rm removes it in any case.)
    if held.created && !args.rm {
        let dir = held.dir.clone();
        undo.push(
            format!("removing the new container {name}"),
            When::OnFailure,
            move |_| store::remove_dir(&dir),
        );
    }
    if args.rm {
        let dir = held.dir.clone();
        undo.push(
            format!("removing container {name} (--rm)"),
            When::Always,
            move |_| store::remove_dir(&dir),
        );
    }
    // A fresh --rm container keeps its writes in memory: a tmpfs inside its
    // own mount namespace, gone with it, so the run writes nothing to disk
    // that it would only delete again.
    let in_memory = args.rm && held.created;
    let dirs = if in_memory {
        vec![held.rootfs()]
    } else {
        vec![held.upper(), held.work(), held.rootfs()]
    };
    for dir in dirs {
        if !dir.is_dir() {
            std::fs::create_dir(&dir).ctx("creating", &dir)?;
        }
    }
    let mut net_stages: Stages = Vec::new();
    let mut net_record = None;
    match args.net {
        NetMode::Bridge => {
            let ip = network::lease(store, bridge, &name, args.ip, &args.publish)?;
            let lease_store = store.clone();
            undo.push(format!("releasing {ip}"), When::Always, move |_| {
                network::release(&lease_store, ip)
            });
            fault::point("after-lease")?;
            let net = Net::bridged(store.clone(), bridge.clone(), hostname.clone(), &name, ip);
            net_record = net.host_if().map(|host_if| NetRecord {
                ip,
                host_if: host_if.to_string(),
                ports: args.publish.clone(),
            });
            net_stages.push(Box::new(net));
            net_stages.push(Box::new(Iptables {
                ip,
                ports: args.publish.clone(),
            }));
        }
        NetMode::None => net_stages.push(Box::new(Net::isolated(
            store.clone(),
            bridge.clone(),
            hostname.clone(),
            true,
        ))),
        NetMode::Host => {}
    }
    let rootfs = if in_memory {
        Rootfs::in_memory(path_text(&lower)?, path_text(&held.rootfs())?)
    } else {
        Rootfs::on_disk(
            path_text(&lower)?,
            path_text(&held.upper())?,
            path_text(&held.work())?,
            path_text(&held.rootfs())?,
        )
    };
    let mut launch = Launch::new(
        vec![
            Box::new(Cgroups::new(host, placement.clone(), limits)) as Box<dyn Stage>,
            Box::new(Mount),
            Box::new(Uts {
                hostname,
                domainname: Some("diyc".into()),
            }),
            Box::new(rootfs),
            Box::new(Pid { mount_proc: true }),
        ]
        .into_iter()
        .chain(net_stages)
        .chain([Box::new(Hardening { caps }) as Box<dyn Stage>])
        .collect(),
        libc::CLONE_NEWIPC as u64,
        ExecSpec {
            argv: argv.clone(),
            env,
            workdir: args.workdir,
        },
    )?
    .pause_with(Pauser::new(!args.step));
    let started = container::now();
    held.write_run(&Run {
        command: argv.clone(),
        owner: ProcessId::of(std::process::id() as i32),
        started,
        cgroup: Some(placement.clone()),
        net: net_record.clone(),
    })?;
    let result = runtime::launch(&mut sys, &mut launch, &signals, &mut undo, &mut |child| {
        held.write_init(child)
    });
    // A command that could not be started still ran a container: it
    // exited with 126 or 127, like a shell's command would.
    let code = match &result {
        Ok(exit) => Some(exit.code),
        Err(Error::Command { code, .. }) => Some(*code),
        Err(_) => None,
    };
    if let (Some(code), false) = (code, args.rm) {
        held.write_state(&State {
            command: argv,
            exit_code: Some(code),
            started: Some(started),
            finished: Some(container::now()),
        })?;
    }
    // run.json goes last: until the undo steps are done, it is what tells
    // `rm -f` what to clean up if diyc is killed now.
    undo.finish(&mut sys, code.is_some());
    held.clear_run()?;
    let exit = result?;
    for note in &exit.notes {
        // A program reading JSON lines gets the verdict as one more event.
        if explain == Some(Format::Json) {
            sys.note(note.clone());
        } else {
            eprintln!("diyc: {note}");
        }
    }
    Ok(exit.code)
}

fn nsexec(store: &Store, bridge: &Bridge, args: NsexecArgs) -> Result<i32> {
    if let Some(h) = &args.hostname {
        validate_hostname(h)?;
    }
    need_root("nsexec")?;
    let signals = Signals::block()?;
    let mut stages: Stages = Vec::new();
    if args.mount {
        stages.push(Box::new(Mount));
    }
    if let Some(hostname) = args.hostname {
        stages.push(Box::new(Uts {
            hostname,
            domainname: None,
        }));
    }
    if args.pid {
        stages.push(Box::new(Pid {
            mount_proc: args.mount,
        }));
    }
    if args.net {
        stages.push(Box::new(Net::isolated(
            store.clone(),
            bridge.clone(),
            String::new(),
            false,
        )));
    }
    let mut extra_flags = 0;
    if args.ipc {
        extra_flags |= libc::CLONE_NEWIPC as u64;
    }
    // A host command keeps the host's environment, as with unshare(1).
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let mut launch = Launch::new(
        stages,
        extra_flags,
        ExecSpec {
            argv: args.command,
            env,
            workdir: None,
        },
    )?;
    let mut explainer = Explainer::new(args.verbose.then_some(Format::Text));
    let mut sys = Sys::new(&mut explainer, StageId::Clone);
    let mut undo = Undo::new();
    let result = runtime::launch(&mut sys, &mut launch, &signals, &mut undo, &mut |_| Ok(()));
    undo.finish(&mut sys, result.is_ok());
    result.map(|exit| exit.code)
}

fn ps(store: &Store, all: bool) {
    let rows: Vec<_> = container::list(store)
        .into_iter()
        .filter(|c| all || c.status == "running")
        .collect();
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let iwidth = rows.iter().map(|r| r.image.len()).max().unwrap_or(5).max(5);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<width$}  {:<iwidth$}  {:<8}  {:<4}  COMMAND",
        "NAME", "IMAGE", "STATUS", "EXIT"
    );
    for r in rows {
        let exit = r.exit_code.map_or("-".to_string(), |c| c.to_string());
        let _ = writeln!(
            out,
            "{:<width$}  {:<iwidth$}  {:<8}  {:<4}  {}",
            r.name,
            r.image,
            r.status,
            exit,
            r.command.join(" ")
        );
    }
}

fn image_ls(store: &Store) {
    let rows = image::list(store);
    let width = rows
        .iter()
        .map(|(i, _)| i.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}  {:>7}  SOURCE",
        "NAME", "SIZE", "FILES"
    );
    for (info, made) in rows {
        let (size, files) = if made {
            (format!("{} KiB", info.size / 1024), info.files.to_string())
        } else {
            ("-".into(), "-".into())
        };
        let _ = writeln!(
            out,
            "{:<width$}  {size:>9}  {files:>7}  {}",
            info.name, info.source
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_is_clean_and_overridable() {
        let env = container_env("box", &["PATH=/x".into(), "A=b=c".into()]);
        let env = env.unwrap_or_default();
        assert!(env.contains(&"PATH=/x".to_string()));
        assert!(env.contains(&"A=b=c".to_string()));
        assert!(env.contains(&"HOSTNAME=box".to_string()));
        assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
        assert!(
            !env.iter()
                .any(|e| e.starts_with("USER=") || e.starts_with("CARGO"))
        );
    }

    #[test]
    fn bad_environment_and_hostnames_are_refused() {
        assert!(container_env("box", &["NOVALUE".into()]).is_err());
        assert!(container_env("box", &["=x".into()]).is_err());
        assert!(validate_hostname(&"h".repeat(65)).is_err());
        assert!(validate_hostname("-bad").is_err());
        assert!(validate_hostname("good-host.lan").is_ok());
    }
}
