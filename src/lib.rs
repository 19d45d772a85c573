//! diyc: a Linux container runtime that teaches. docs/architecture.md
//! walks through the tree; the two walls are src/sys/ (the only code that
//! makes system calls) and src/state/ (the only code that writes diyc's
//! own files).

mod app;
mod cli;
pub mod error;
pub mod event;
pub mod explain;
pub mod fault;
mod learn;
pub mod observe;
mod pause;
mod runtime;
mod signals;
pub mod stages;
pub mod state;
pub mod sys;
pub mod undo;
mod warnings;

pub use app::main;
pub use app::oci::fields as oci_fields;
pub use app::oci::main as oci_main;
/// The iptables lesson's outside host, which the network tests share.
pub use learn::Outside;
/// `check`, an exercise's grader: diyc's binary started under that name.
pub use learn::exercise::check_main;
