//! The commands: parse, check the input completely, then act. One file per
//! command family (run.rs, nsexec.rs, listing.rs for ps/rm/image; learn
//! lives in src/learn/). Errors come back here to be printed once, as one
//! line, with their exit status, after the warnings the command left
//! (src/warnings.rs); nothing below prints either.

mod check;
mod detach;
mod doctor;
mod exec;
mod images;
mod inspect;
mod lifecycle;
mod listing;
mod nsexec;
pub mod oci;
mod run;
mod spec;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::{Cli, Command};
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::{Explainer, Format};
use crate::learn;
use crate::signals::Signals;
use crate::stages::net::Bridge;
use crate::stages::order;
use crate::state::Store;
use crate::sys::Sys;
use crate::warnings;

pub fn main() -> i32 {
    // `diyc oci ...` is the runtime's own command line, whose --root is
    // not diyc's: it goes to its parser untouched.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "oci") {
        let mut argv = vec![std::ffi::OsString::from("diyc oci")];
        argv.extend(args.into_iter().skip(2));
        return oci::main(argv);
    }
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
            eprintln!("diyc: {}", usage_error(&e));
            return 125;
        }
    };
    finish(dispatch(cli))
}

/// The warnings a command left, then its error: the exit status.
fn finish(result: Result<i32>) -> i32 {
    for warning in warnings::take() {
        eprintln!("{warning}");
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("diyc: {e}{}", doctor_hint(&e));
            e.exit_code()
        }
    }
}

/// Where a refusal of the kernel's may be what the host does not allow
/// (a namespace kind, an overlay in a user namespace, newuidmap), a
/// pointer to the command that says which.
fn doctor_hint(e: &Error) -> &'static str {
    use nix::errno::Errno;
    const HINT: &str = " (`diyc doctor` says what this host allows)";
    let isolating = ["clone", "unshare", "setns", "mount(", "pivot_root", "echo "];
    match e {
        Error::Syscall { call, errno }
            if matches!(
                errno,
                Errno::EPERM | Errno::EACCES | Errno::ENOSYS | Errno::EINVAL | Errno::ENOSPC
            ) && isolating.iter().any(|c| call.starts_with(c)) =>
        {
            HINT
        }
        Error::Helper { command, .. }
            if command.contains("newuidmap") || command.contains("newgidmap") =>
        {
            HINT
        }
        _ => "",
    }
}

/// clap's message in one line, with its suggestion, and the help of the
/// subcommand it was about.
fn usage_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let mut text = one_line(&e.render().to_string());
    for kind in [ContextKind::SuggestedSubcommand, ContextKind::SuggestedArg] {
        match e.get(kind) {
            Some(ContextValue::String(s)) => text.push_str(&format!("; did you mean `{s}`?")),
            Some(ContextValue::Strings(v)) if !v.is_empty() => {
                text.push_str(&format!("; did you mean `{}`?", v.join("` or `")));
            }
            _ => {}
        }
    }
    if let Some(ContextValue::Strings(values)) = e.get(ContextKind::ValidValue) {
        if !values.is_empty() {
            text.push_str(&format!("; one of: {}", values.join(", ")));
        }
    }
    let help = match subcommand() {
        Some(name) => format!("diyc {name} --help"),
        None => "diyc --help".to_string(),
    };
    format!("{text} (see `{help}`)")
}

/// The subcommand the command line names, if any.
fn subcommand() -> Option<String> {
    let cli = <Cli as clap::CommandFactory>::command();
    let names: Vec<String> = cli
        .get_subcommands()
        .flat_map(|c| std::iter::once(c.get_name()).chain(c.get_all_aliases()))
        .map(String::from)
        .collect();
    std::env::args().skip(1).find(|a| names.contains(a))
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
    // What needs no store works without a home to keep one in.
    match &cli.command {
        Command::Completions { shell } => {
            let mut cli = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cli, "diyc", &mut std::io::stdout());
            return Ok(0);
        }
        Command::Man { dir } => {
            crate::state::manual::write(dir, <Cli as clap::CommandFactory>::command())?;
            return Ok(0);
        }
        Command::Doctor { json } => return doctor::doctor(*json),
        Command::Explain {
            file,
            verbose,
            times,
        } => return explain_file(file, *verbose, *times),
        // `diyc oci` as the first word never gets here (main hands it to
        // the runtime's parser); after diyc's own options it would mix
        // the two command lines.
        Command::Oci { .. } => {
            return Err(Error::invalid(
                "`oci` comes first, with the runtime's own options after it: diyc oci --root DIR VERB ...",
            ));
        }
        _ => {}
    }
    let root = match cli.root {
        Some(root) => root,
        None => crate::state::default_root()?,
    };
    let store = Store::new(root)?;
    let bridge = Bridge::new(&cli.bridge, &cli.subnet).map_err(Error::invalid)?;
    match cli.command {
        Command::Run(args) => run::run(&store, &bridge, *args),
        Command::Exec(args) => exec::exec(&store, args),
        Command::Stop { time, names } => lifecycle::stop(&store, &names, time),
        Command::Kill { signal, names } => lifecycle::kill(&store, &names, &signal),
        Command::Start { names } => lifecycle::start(&store, &bridge, &names),
        Command::Logs { follow, name } => lifecycle::logs(&store, &name, follow),
        Command::Inspect { names } => inspect::inspect(&store, &names),
        Command::Nsexec(args) => nsexec::nsexec(&store, &bridge, args),
        Command::Learn(args) => learn::learn(
            &store,
            &bridge,
            learn::Options {
                topic: args.step,
                all: args.all,
                lab: args.lab,
                no_pause: args.no_pause,
                explain: args.explain.format,
                verbose: args.explain.verbose,
                transcript: args.transcript,
                cgroup_parent: args.cgroup.cgroup_parent,
                present: args.present,
                glossary: args.glossary.map(|t| Some(t).filter(|t| !t.is_empty())),
                exercise: args.exercise,
            },
        ),
        Command::Setup { explain } => {
            need_root("setup", "makes the host's bridge and firewall rules")?;
            let _signals = Signals::block()?;
            let mut explainer = Explainer::new(explain.then_some(Format::Text));
            let mut sys = Sys::new(&mut explainer, StageId::Net);
            order::setup_network(&mut sys, &store, &bridge)?;
            Ok(0)
        }
        Command::Teardown { explain } => {
            need_root("teardown", "removes the host's bridge and firewall rules")?;
            let _signals = Signals::block()?;
            let mut explainer = Explainer::new(explain.then_some(Format::Text));
            let mut sys = Sys::new(&mut explainer, StageId::Cleanup);
            sys.stage(StageId::Cleanup);
            order::teardown_network(&mut sys, &store)?;
            Ok(0)
        }
        Command::Image(command) => images::run(&store, command),
        Command::Ps { all } => {
            listing::ps(&store, all);
            Ok(0)
        }
        Command::Rm { force, names } => listing::rm(&store, force, &names),
        // Answered above, before any store.
        Command::Completions { .. }
        | Command::Man { .. }
        | Command::Doctor { .. }
        | Command::Oci { .. }
        | Command::Explain { .. } => Ok(0),
    }
}

/// `why` says what of the host's own the command changes, which a user
/// namespace cannot give.
fn need_root(what: &str, why: &str) -> Result<()> {
    if crate::observe::rootless() {
        Err(Error::invalid(format!(
            "diyc {what} needs root, since it {why}: try `sudo diyc {what} ...`"
        )))
    } else {
        Ok(())
    }
}

/// Without root, a command that makes, reads or removes the files of
/// images and containers does so as root of a user namespace mapped as
/// the containers' are: files the image gives other owners are made and
/// removed as those owners, which the user outside could not do. unshare
/// needs a process of one thread, so this comes before anything that
/// starts another.
fn own_the_files() -> Result<()> {
    if !crate::observe::rootless() {
        return Ok(());
    }
    let user = crate::stages::user::User::for_caller();
    if !user.map().is_wide() {
        return Ok(());
    }
    let mut quiet = crate::sys::Quiet;
    Sys::new(&mut quiet, StageId::Image).enter_user_namespace(user.map())
}

/// `diyc explain FILE`: the JSON lines an engine-driven run wrote, shown
/// as `--explain` shows a run of diyc's own; with `--times`, then each
/// stage's share of the time.
fn explain_file(file: &std::path::Path, verbose: bool, times: bool) -> Result<i32> {
    use crate::sys::Recorder;
    let text = std::fs::read_to_string(file).map_err(|e| {
        Error::invalid(format!(
            "{}: {}",
            file.display(),
            crate::error::io_reason(&e)
        ))
    })?;
    let mut explainer = Explainer::new(Some(Format::Text)).verbose(verbose);
    let mut events = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let event = serde_json::from_str(line).map_err(|e| {
            Error::invalid(format!(
                "{} line {}: not an explanation event ({e})",
                file.display(),
                n + 1
            ))
        })?;
        if times {
            events.push(Clone::clone(&event));
        }
        explainer.record(event);
    }
    explainer.flush();
    if times {
        let phases = crate::explain::times::phases(&events, None, None);
        if phases.is_empty() {
            eprintln!(
                "\n{}: no times in it to split (it was written before diyc recorded them)",
                file.display()
            );
        } else {
            eprintln!("\nwhere the time went, stage by stage (from the events' own times):");
            for line in crate::explain::times::table(&phases) {
                eprintln!("  {line}");
            }
        }
    }
    Ok(0)
}
