//! diyc: a Linux container runtime that teaches. See docs/architecture.md
//! for how the modules fit together.

pub mod app;
pub mod cgroups;
pub mod channel;
pub mod cli;
pub mod container;
pub mod error;
pub mod event;
pub mod explain;
pub mod fault;
pub mod image;
pub mod learn;
pub mod netlink;
pub mod network;
pub mod observe;
pub mod pause;
pub mod runtime;
pub mod signals;
pub mod stages;
pub mod store;
pub mod sys;
pub mod undo;
