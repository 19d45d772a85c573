//! `diyc exec`: another command in a running container. It goes through
//! the same launch as `run`, with the stages that fit a process joining
//! what exists: the container's cgroup, its namespaces (join), a session
//! of its own (and a terminal with -t), and the capabilities and limits
//! the container's first process has.

use super::check::{self, check_workdir};
use super::spec::terminal_flags;
use crate::cli::ExecArgs;
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::{Explainer, Format};
use crate::runtime::{self, ExecSpec, Launch, Terminal};
use crate::signals::Signals;
use crate::stages::cgroups::{Cgroups, Host};
use crate::stages::hardening::{Hardening, container_caps, user};
use crate::stages::join::Join;
use crate::stages::order::Plan;
use crate::stages::session::{Session, Stdio};
use crate::state::Store;
use crate::state::status;
use crate::sys::Sys;
use crate::warnings;

pub fn exec(store: &Store, args: ExecArgs) -> Result<i32> {
    let (name, command) = match args.args.split_first() {
        Some((name, command)) if !command.is_empty() => (name, command.to_vec()),
        _ => {
            return Err(Error::invalid(
                "exec needs a container and a command: diyc exec NAME CMD...",
            ));
        }
    };
    if let Some(dir) = &args.workdir {
        check_workdir(dir)?;
    }
    check::container_env("x", &args.env)?;
    let info = status::info(store, name)?;
    let target = info.running_pid("exec")?;
    let spec = info.config.spec.clone().ok_or_else(|| {
        Error::invalid(format!(
            "container {name} was started by an older diyc, which kept no record of its capabilities; run it again to exec into it"
        ))
    })?;
    let caps = container_caps(&spec.cap_add, &spec.cap_drop)?;
    let hostname = spec.hostname.clone().unwrap_or_else(|| name.clone());
    let mut extra = spec.env.clone();
    extra.extend(args.env.iter().cloned());
    let mut env = check::container_env(&hostname, &extra)?;
    let user = user::of_container(
        store,
        name,
        &spec.image,
        spec.user.as_deref(),
        &mut env,
        &extra,
    )?;
    let (tty, input) = terminal_flags(args.tty.tty, args.tty.interactive, false);

    let signals = Signals::block()?;
    if args.explain.format == Some(Format::Json) {
        warnings::as_json();
    }
    let placement = info.run.as_ref().and_then(|r| r.cgroup.clone());
    let cgroups = match placement {
        Some(placement) => Some(Cgroups::join(Host::detect()?, placement)),
        None => None,
    };
    let plan = Plan {
        cgroups,
        join: Some(Join::new(target)),
        session: Some(Session::new(tty, Stdio::of_caller(input), StageId::Join)),
        hardening: Some(Hardening::new(caps, false, &spec.seccomp, store)?.with_user(user)),
        ..Plan::default()
    };
    let (stages, flags) = plan.build();
    let exec = ExecSpec {
        argv: command,
        env,
        workdir: args.workdir.or(spec.workdir),
    };
    let mut launch = Launch::new(stages, flags, exec)?.with_terminal(Terminal { tty, input });
    let mut explainer = Explainer::new(args.explain.format).verbose(args.explain.verbose);
    let mut sys = Sys::new(&mut explainer, StageId::Join);
    let exit = runtime::launch_alone(&mut sys, &mut launch, &signals)?;
    exit.notes.into_iter().for_each(warnings::warn);
    Ok(exit.code)
}
