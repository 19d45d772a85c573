//! The commands: parse, check the input completely, then act. One file per
//! command family (run.rs, nsexec.rs, listing.rs for ps/rm/image; learn
//! lives in src/learn/). Errors and warnings come back here to be printed
//! once, as one line each, with their exit status; nothing below prints
//! them.

mod check;
mod listing;
mod nsexec;
mod run;

use clap::Parser;
use clap::error::ErrorKind;

use crate::cli::{Cli, Command, ImageCommand};
use crate::error::{Error, Result};
use crate::event::StageId;
use crate::explain::{Explainer, Format};
use crate::learn;
use crate::signals::Signals;
use crate::stages::net::Bridge;
use crate::stages::order;
use crate::state::{Store, image};
use crate::sys::Sys;

/// How a command ended: its exit status, and what went wrong on the side
/// (a clean-up step that failed, a verdict on how the container ended),
/// each one line for the user.
pub struct Done {
    pub code: i32,
    pub warnings: Vec<String>,
}

impl Done {
    fn ok() -> Done {
        Done {
            code: 0,
            warnings: Vec::new(),
        }
    }
}

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
        Ok(done) => {
            for warning in &done.warnings {
                eprintln!("diyc: {warning}");
            }
            done.code
        }
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

fn dispatch(cli: Cli) -> Result<Done> {
    let store = Store::new(&cli.root)?;
    let bridge = Bridge::new(&cli.bridge, &cli.subnet).map_err(Error::invalid)?;
    match cli.command {
        Command::Run(args) => run::run(&store, &bridge, *args),
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
                transcript: args.transcript,
                cgroup_parent: args.cgroup.cgroup_parent,
            },
        )
        .map(|code| Done {
            code,
            warnings: Vec::new(),
        }),
        Command::Setup { explain } => {
            need_root("setup")?;
            let _signals = Signals::block()?;
            let mut explainer = Explainer::new(explain.then_some(Format::Text));
            let mut sys = Sys::new(&mut explainer, StageId::Net);
            order::setup_network(&mut sys, &store, &bridge)?;
            Ok(Done::ok())
        }
        Command::Teardown { explain } => {
            need_root("teardown")?;
            let _signals = Signals::block()?;
            let mut explainer = Explainer::new(explain.then_some(Format::Text));
            let mut sys = Sys::new(&mut explainer, StageId::Cleanup);
            sys.stage(StageId::Cleanup);
            order::teardown_network(&mut sys, &store)?;
            Ok(Done::ok())
        }
        Command::Image(ImageCommand::Import { name, file }) => {
            need_root("image import")?;
            let signals = Signals::block()?;
            let made = image::import(&store, &name, &file, &signals)?;
            println!(
                "imported image {}: {} entries, {} KiB",
                made.info.name,
                made.info.files,
                made.info.size / 1024
            );
            let warnings = (made.skipped > 0)
                .then(|| {
                    format!(
                        "skipped {} device nodes and FIFOs: every container gets a fresh /dev",
                        made.skipped
                    )
                })
                .into_iter()
                .collect();
            Ok(Done { code: 0, warnings })
        }
        Command::Image(ImageCommand::Ls) => {
            listing::image_ls(&store);
            Ok(Done::ok())
        }
        Command::Image(ImageCommand::Rm { name }) => listing::image_rm(&store, &name),
        Command::Ps { all } => Ok(listing::ps(&store, all)),
        Command::Rm { force, names } => listing::rm(&store, force, &names),
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
