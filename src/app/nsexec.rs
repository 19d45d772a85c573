//! `diyc nsexec`: a host command in the new namespaces asked for, as
//! diyC's nsexec ran it, through the same stages and launch as `run`.

use super::check::validate_hostname;
use super::need_root;
use crate::cli::NsexecArgs;
use crate::error::Result;
use crate::event::StageId;
use crate::explain::{Explainer, Format};
use crate::runtime::{self, ExecSpec, Launch};
use crate::signals::Signals;
use crate::stages::net::{Bridge, Net};
use crate::stages::order::Plan;
use crate::stages::pid::Pid;
use crate::stages::uts::Uts;
use crate::state::Store;
use crate::sys::Sys;
use crate::warnings;

pub fn nsexec(store: &Store, bridge: &Bridge, args: NsexecArgs) -> Result<i32> {
    if let Some(h) = &args.hostname {
        validate_hostname(h)?;
    }
    need_root(
        "nsexec",
        "runs a host command in namespaces made without a user namespace",
    )?;
    let signals = Signals::block()?;
    let plan = Plan {
        mount: args.mount,
        uts: args.hostname.map(|hostname| Uts {
            hostname,
            domainname: None,
        }),
        pid: args.pid.then_some(Pid::new(args.mount)),
        net: args
            .net
            .then(|| Net::isolated(store.clone(), bridge.clone())),
        ipc: args.ipc,
        ..Plan::default()
    };
    let (stages, flags) = plan.build();
    // A host command keeps the host's environment, as with unshare(1).
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let mut launch = Launch::new(
        stages,
        flags,
        ExecSpec {
            argv: args.command,
            env,
            workdir: None,
        },
    )?;
    let mut explainer = Explainer::new(args.verbose.then_some(Format::Text));
    let mut sys = Sys::new(&mut explainer, StageId::Clone);
    let exit = runtime::launch_alone(&mut sys, &mut launch, &signals)?;
    exit.notes.into_iter().for_each(warnings::warn);
    Ok(exit.code)
}
