//! The OCI runtime command line, runc's, for engines that drive diyc
//! (podman's conmon, containerd's shim). Reached as `diyc-oci` (a link to
//! diyc's binary) or `diyc oci ...`. Its verbs share names with diyc's
//! own (`start`, `kill`, `exec`, `ps`) but not their meaning, so they
//! live in a parser of their own.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "diyc-oci",
    version = concat!(env!("CARGO_PKG_VERSION"), "\nspec: ", "1.0.2"),
    about = "diyc as an OCI runtime: the command line podman and containerd use to drive runc",
    after_help = "Every verb takes the container's id. A container goes created (create) -> running (start) -> stopped (its process ended) -> gone (delete). `DIYC_EXPLAIN=FILE` makes create write its explanation to FILE as JSON lines; `diyc explain FILE` shows it."
)]
pub struct OciCli {
    /// Where the runtime keeps its containers' state [default: /run/diyc-oci, or $XDG_RUNTIME_DIR/diyc-oci without root]
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Also write errors and notes to FILE
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// How --log writes them: text lines or JSON objects
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
    /// Place cgroups through systemd (refused: diyc writes cgroupfs itself)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// More notes in the log (accepted, as runc's)
    #[arg(long, global = true)]
    pub debug: bool,
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PsFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
// Each subcommand's arguments are made only when it is the one given:
// every start of diyc parses one command line, not all of them.
#[command(defer = true)]
pub enum Verb {
    /// Set up a container from a bundle; its process waits until `start`
    Create {
        /// The bundle: a directory holding config.json
        #[arg(long, short = 'b', value_name = "DIR", default_value = ".")]
        bundle: PathBuf,
        /// Write the container's process id to FILE
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
        /// Send the master end of the container's terminal to this unix socket
        #[arg(long, value_name = "PATH")]
        console_socket: Option<PathBuf>,
        /// Accepted, as runc's: diyc never pivots anything but the container's own root
        #[arg(long)]
        no_pivot: bool,
        /// Accepted, as runc's: the container gets its own keyring always
        #[arg(long)]
        no_new_keyring: bool,
        /// Descriptors past stdio to pass on (refused unless 0)
        #[arg(long, value_name = "N", default_value_t = 0)]
        preserve_fds: u32,
        id: String,
    },
    /// Let a created container's process run its command
    Start { id: String },
    /// Print a container's state as JSON
    State { id: String },
    /// Send a signal to a container's first process (or, with --all, to all of its processes)
    Kill {
        /// Every process in the container's cgroup
        #[arg(long, short = 'a')]
        all: bool,
        id: String,
        /// A name (TERM, SIGTERM) or a number [default: TERM]
        signal: Option<String>,
    },
    /// Remove a stopped (or created) container; --force kills a running one first
    Delete {
        #[arg(long, short = 'f')]
        force: bool,
        id: String,
    },
    /// Run another process in a running container, described by a process.json
    Exec {
        /// The process: the `process` object of a config.json
        #[arg(long, short = 'p', value_name = "FILE")]
        process: PathBuf,
        /// Return once it runs, leaving it to the caller
        #[arg(long, short = 'd')]
        detach: bool,
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
        #[arg(long, value_name = "PATH")]
        console_socket: Option<PathBuf>,
        /// A terminal of its own (also set by the process's `terminal`)
        #[arg(long, short = 't')]
        tty: bool,
        /// Descriptors past stdio to pass on (refused unless 0)
        #[arg(long, value_name = "N", default_value_t = 0)]
        preserve_fds: u32,
        id: String,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// List a container's processes
    Ps {
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: PsFormat,
        id: String,
    },
    /// List the containers under --root
    List {
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: PsFormat,
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// What this runtime supports, as JSON (the OCI features document)
    Features,
}
