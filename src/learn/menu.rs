//! `diyc learn` with no lesson named: a menu on a terminal, a plain list
//! otherwise, both starting at lesson 0.

use std::io::IsTerminal;

use super::{Options, TOPICS, Topic, learn};
use crate::error::{Error, Result};
use crate::stages::net::Bridge;
use crate::state::Store;

/// Without a stage: a menu on a terminal, a plain list otherwise. Both
/// start at lesson 0 and say what builds on what.
pub fn menu(store: &Store, bridge: &Bridge, opts: Options) -> Result<i32> {
    let rootless = crate::observe::rootless();
    let mut entries: Vec<String> = TOPICS
        .iter()
        .map(|t| {
            let start = if *t == Topic::Intro {
                "  <- start here"
            } else if rootless && super::rootless::needs_root(*t).is_some() {
                "  (needs root)"
            } else {
                ""
            };
            format!("{:<10} {}{start}", t.name(), t.title())
        })
        .collect();
    entries.push(format!(
        "{:<10} every lesson in order, ending in a whole container",
        "all"
    ));
    println!("{ROUTE}\n");
    if !std::io::stdin().is_terminal() || opts.no_pause {
        for e in &entries {
            println!("{e}");
        }
        let how = if rootless {
            "run one with `diyc learn --step NAME` (`sudo diyc learn --step NAME` for those that need root), or all that need none with `diyc learn --all`"
        } else {
            "run one with `diyc learn --step NAME`, or all with `diyc learn --all`"
        };
        println!("\n{how}; `diyc learn --glossary` explains the words");
        return Ok(0);
    }
    let choice = dialoguer::Select::new()
        .with_prompt("Which lesson? (arrows move, Enter starts, q or Esc leaves)")
        .items(&entries)
        .default(0)
        .interact_opt()
        .map_err(|dialoguer::Error::IO(e)| {
            // Ctrl-C while the menu is up: the cursor it hid comes back,
            // and diyc ends as Ctrl-C ends it elsewhere.
            if e.kind() == std::io::ErrorKind::Interrupted {
                let _ = dialoguer::console::Term::stderr().show_cursor();
                Error::Interrupted(nix::sys::signal::Signal::SIGINT)
            } else {
                Error::Os {
                    what: "the menu".into(),
                    source: e,
                }
            }
        })?;
    let (topic, all) = match choice {
        None => return Ok(0),
        Some(i) => (TOPICS.get(i).copied(), i == TOPICS.len()),
    };
    learn(store, bridge, Options { topic, all, ..opts })
}

/// What builds on what, for the menu.
const ROUTE: &str = "Start with intro. user makes root inside an ordinary user outside, \
which is also how the lessons run without root; uts, pid and mount each give a process one namespace \
(no image needed); image shows where a root filesystem comes from, in layers; rootfs builds \
a root from an image on top of mount; cgroups give it a budget; net and then iptables connect \
it; hardening comes last.";
