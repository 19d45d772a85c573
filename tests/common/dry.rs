//! The dry backend's test kit: stages run on a seam that records every
//! call and makes none, against a described world, and their calls shown
//! as `--explain` shows them.

use diyc::event::{Event, Outcome, StageId};
use diyc::stages::net::Bridge;
use diyc::stages::{Child, Stage};
use diyc::state::Store;
use diyc::sys::{Journal, Link, Sys, World};
use diyc::undo::Undo;

/// The events as `--explain` shows them, without colour or pids.
pub fn transcript(journal: &Journal) -> String {
    let mut out = String::new();
    for event in &journal.events {
        let line = match event {
            Event::Stage { stage, .. } => format!("== {}", stage.heading().title),
            Event::Syscall { text, outcome, .. } => match outcome {
                Outcome::Ok(v) => format!("  {text} = {v}"),
                other => format!("  {text} {other}"),
            },
            Event::Note { text, .. } => format!("  # {text}"),
            Event::State { title, lines, .. } => {
                format!("  [{title}: {} lines]", lines.len())
            }
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Run one stage's hooks on the dry backend, in the order a launch runs
/// them: prepare, attach, enter, finish.
pub fn dry_run(stage: &mut dyn Stage, world: World) -> String {
    let mut journal = Journal::default();
    {
        let mut sys = Sys::dry(&mut journal, StageId::Clone, world);
        let mut undo = Undo::new();
        assert!(stage.prepare(&mut sys, &mut undo).is_ok(), "prepare");
        let child = Child {
            pid: 4243,
            placed_by_clone: false,
        };
        assert!(stage.attach(&mut sys, child).is_ok(), "attach");
        if stage.runs_inside() {
            let entered = stage.enter(&mut sys);
            assert!(entered.is_ok(), "enter: {entered:?}");
        }
        let _ = stage.finish(&mut sys, 0);
        undo.finish(&mut sys, true);
    }
    transcript(&journal)
}

pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temporary state root");
    let store = Store::new(dir.path()).expect("a store");
    (dir, store)
}

/// diyc0, up, as a run after setup finds it.
pub fn bridge_up() -> Link {
    Link {
        index: 7,
        name: "diyc0".into(),
        kind: Some("bridge".into()),
        master: None,
        up: true,
    }
}

/// A host with iptables, forwarding off, and `iptables-save` printing
/// `save`.
pub fn iptables_host(save: &str) -> World {
    World::new()
        .file("/usr/sbin/iptables", "")
        .file("/proc/sys/net/ipv4/ip_forward", "0\n")
        .helper("iptables-save", 0, save)
}

pub fn bridge() -> Bridge {
    Bridge::new("diyc0", "172.16.0.0/16").expect("the default bridge")
}

/// `diyc teardown` on the dry backend: what it calls.
pub fn dry_teardown(store: &Store, world: World) -> Journal {
    let mut journal = Journal::default();
    {
        let mut sys = Sys::dry(&mut journal, StageId::Cleanup, world);
        let undone = diyc::stages::order::teardown_network(&mut sys, store);
        assert!(undone.is_ok(), "{undone:?}");
    }
    journal
}
