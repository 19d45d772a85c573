//! Where the seam's records go: the explain renderer in diyc itself, the
//! socket to diyc in the container's first process, a test's journal, or
//! nowhere.

use crate::event::Event;

/// Where recorded events go: the explain renderer in diyc itself, the socket
/// to diyc in the container's first process, a test's journal, or nowhere.
pub trait Recorder {
    /// False when nobody will look, so callers skip building observations.
    fn enabled(&self) -> bool;
    fn record(&mut self, event: Event);
    /// Show anything held back (repeats waiting to be grouped) before
    /// someone else writes to the terminal.
    fn flush(&mut self) {}
}

/// Records nothing: for calls nobody watches (clean-up after a killed
/// diyc, probes).
pub struct Quiet;

impl Recorder for Quiet {
    fn enabled(&self) -> bool {
        false
    }
    fn record(&mut self, _event: Event) {}
}

/// Keeps every event, in order: for checking what was recorded.
#[derive(Default)]
pub struct Journal {
    pub events: Vec<Event>,
}

impl Recorder for Journal {
    fn enabled(&self) -> bool {
        true
    }
    fn record(&mut self, event: Event) {
        self.events.push(event);
    }
}

impl Journal {
    /// The strace-style text of each recorded call, in order.
    pub fn calls(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Syscall { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}
