//! The iptables stage: the rules that let a bridged container reach the
//! outside and be reached on its published ports, all in diyc's own chains.
//!
//! `diyc setup` (run by the net stage when needed) makes the shared rules:
//! MASQUERADE for the subnet leaving by any other interface, forwarding to
//! and from the bridge, and the jumps into diyc's chains. Each published
//! port adds one DNAT rule for this container, removed when it exits. A
//! container without published ports starts no iptables process at all
//! (unless someone asked to see the counters).

use std::net::Ipv4Addr;

use crate::error::Result;
use crate::event::{Event, StageId};
use crate::network::{self, Port};
use crate::stages::Stage;
use crate::sys::Sys;
use crate::undo::{Undo, When};

pub struct Iptables {
    pub ip: Ipv4Addr,
    pub ports: Vec<Port>,
}

fn show(sys: &mut Sys, title: &str) {
    if sys.explaining() {
        let lines = network::chains_report(sys);
        sys.emit(Event::State {
            stage: StageId::Iptables,
            inside: false,
            title: title.into(),
            lines,
        });
    }
}

impl Stage for Iptables {
    fn id(&self) -> StageId {
        StageId::Iptables
    }

    fn runs_inside(&self) -> bool {
        false
    }

    fn prepare(&mut self, sys: &mut Sys, undo: &mut Undo) -> Result<()> {
        if self.ports.is_empty() && !sys.explaining() {
            return Ok(());
        }
        sys.stage(StageId::Iptables);
        for port in self.ports.clone() {
            let ip = self.ip;
            undo.push(
                format!(
                    "removing the DNAT rule of port {}/{}",
                    port.host, port.proto
                ),
                When::Always,
                move |sys| network::delete_dnat(sys, &port, ip),
            );
            network::add_dnat(sys, &port, self.ip)?;
        }
        crate::fault::point("after-dnat")?;
        show(sys, "diyc's chains, with their packet counters");
        Ok(())
    }

    fn finish(&mut self, sys: &mut Sys, _code: i32) -> Option<String> {
        if sys.explaining() {
            sys.stage(StageId::Iptables);
            show(sys, "the same counters after the container exited");
        }
        None
    }
}
