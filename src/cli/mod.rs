//! The command line, and nothing else: what each subcommand accepts and the
//! help text a user reads.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod image;
pub mod oci;
mod teach;

use crate::explain::Format;
pub use crate::stages::net::NetMode;
use crate::stages::{cgroups, net as network};
pub use image::ImageCommand;
pub use teach::{LearnArgs, NsexecArgs};

#[derive(Debug, Parser)]
#[command(
    name = "diyc",
    version,
    about = "A Linux container runtime that teaches",
    long_about = "diyc builds containers out of kernel features, one stage at a time, and can show \
                  every system call it makes (--explain) beside the host state it changed.",
    after_help = "Without root, each container gets a user namespace and the state lives under your own home (`diyc doctor` says what this host allows)."
)]
pub struct Cli {
    /// Where images and containers are kept [default: /var/lib/diyc as
    /// root; $XDG_DATA_HOME/diyc, or ~/.local/share/diyc, without]
    #[arg(long, global = true, env = "DIYC_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// The bridge containers attach to
    #[arg(long, global = true, env = "DIYC_BRIDGE", default_value = network::DEFAULT_BRIDGE, value_name = "NAME")]
    pub bridge: String,

    /// The bridge's subnet; the bridge takes its first address
    #[arg(long, global = true, env = "DIYC_SUBNET", default_value = network::DEFAULT_SUBNET, value_name = "CIDR")]
    pub subnet: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Each subcommand's arguments are made only when it is the one given:
// every start of diyc parses one command line, not all of them.
#[command(defer = true)]
pub enum Command {
    /// Start a container from an image and wait for it to exit (or, with -d, leave it running)
    #[command(disable_help_flag = true)]
    Run(Box<RunArgs>),
    /// Run another command in a running container
    Exec(ExecArgs),
    /// Stop running containers: SIGTERM, then SIGKILL after a grace period
    Stop {
        /// Seconds to wait after SIGTERM before SIGKILL
        #[arg(
            short = 't',
            long = "time",
            value_name = "SECONDS",
            default_value_t = 10
        )]
        time: u64,
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Send a signal to running containers' first process
    Kill {
        /// The signal, by name (TERM, SIGHUP) or number
        #[arg(
            short = 's',
            long = "signal",
            value_name = "SIGNAL",
            default_value = "KILL"
        )]
        signal: String,
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Run stopped containers again, detached, as they were first run
    Start {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Show what a detached container wrote
    Logs {
        /// Keep showing new output until the container stops
        #[arg(short, long)]
        follow: bool,
        name: String,
    },
    /// Show a container's configuration and state as JSON
    Inspect {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
    /// Run a host command in new namespaces (diyC's nsexec)
    Nsexec(NsexecArgs),
    /// Import, list and remove images
    #[command(subcommand)]
    Image(ImageCommand),
    /// The OCI runtime command line (runc's), as podman and containerd call it; also reached as `diyc-oci`
    #[command(disable_help_flag = true)]
    Oci {
        /// The runtime's own arguments (`diyc oci --help` lists them)
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<std::ffi::OsString>,
    },
    /// Show an explanation an engine-driven run wrote (DIYC_EXPLAIN=FILE), stage by stage
    Explain {
        /// The file of JSON lines
        file: PathBuf,
        /// Every call on a line of its own
        #[arg(long)]
        verbose: bool,
        /// Then where the time went: each stage's share, from the times the events carry
        #[arg(long)]
        times: bool,
    },
    /// List containers: name, image, status, pid, uptime, address (running ones; -a for all)
    Ps {
        /// Also list containers that are not running
        #[arg(short, long)]
        all: bool,
    },
    /// Lessons: lesson 0, then each isolation stage live, with its calls, pictures, an exercise and questions
    Learn(LearnArgs),
    /// Make the bridge, turn on forwarding and add diyc's iptables rules
    /// (done by the first bridged run if needed; running it twice changes nothing)
    Setup {
        /// Show each netlink request and iptables command
        #[arg(long)]
        explain: bool,
    },
    /// Undo setup: the rules, the bridge, and ip_forward as it was
    #[command(alias = "net-clean")]
    Teardown {
        /// Show each netlink request and iptables command
        #[arg(long)]
        explain: bool,
    },
    /// Print a shell's completions for diyc: bash, zsh or fish (scripts/install installs them)
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print diyc's manual pages (roff) into DIR: diyc.1 and one per command
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Check what this host allows, and what each missing piece breaks
    Doctor {
        /// One JSON document for scripts (docs/doctor.schema.json)
        #[arg(long)]
        json: bool,
    },
    /// Remove containers and their writable layers
    Rm {
        /// Kill a running container first; an unknown name is not an error
        #[arg(short, long)]
        force: bool,
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },
}

// `--cgroup-parent`, the same for `run` and `learn`. Not a doc comment: a
// deferred subcommand's arguments are added after its about, so a doc
// comment here would replace the about of each one that flattens this.
#[derive(Debug, Args)]
pub struct CgroupParent {
    /// Cgroup the container's cgroup goes under: absolute from the root of
    /// each cgroup tree, or relative to diyc's own cgroup
    #[arg(
        long,
        value_name = "PATH",
        env = "DIYC_CGROUP_PARENT",
        default_value = "/diyc",
        value_parser = cgroups::parse_parent
    )]
    pub cgroup_parent: String,
}

// `--explain[=text|json]`, the same for `run` and `learn`; a plain
// comment, as for CgroupParent.
#[derive(Debug, Args)]
pub struct Explain {
    /// Show each stage's system calls and the host state they change, as
    /// text (the default) or one JSON object per line
    #[arg(
        long = "explain",
        value_name = "FORMAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text"
    )]
    pub format: Option<Format>,

    /// With --explain: every call on a line of its own and every stage in
    /// full, instead of repeats grouped (and, in lessons, the other
    /// stages folded to one line each)
    #[arg(long)]
    pub verbose: bool,
}

// `-i` and `-t`, the same for `run` and `exec`; a plain comment, as for
// CgroupParent.
#[derive(Debug, Args)]
pub struct Tty {
    /// Keep stdin open and pass what is typed to the container
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,

    /// Give the container a terminal of its own (a new pseudo-terminal)
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "On a terminal, with neither -i nor -t, diyc acts as with -it: the command \
                        gets a terminal of its own and what you type. -h is --hostname, as in \
                        docker; --help prints this."
)]
pub struct RunArgs {
    /// Container name (letters, digits, _ . -); running a name again reuses its writable layer
    #[arg(long)]
    pub name: Option<String>,

    /// Hostname inside the container (default: its name)
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,

    /// Set an environment variable in the container
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Working directory inside the container (absolute)
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,

    #[command(flatten)]
    pub tty: Tty,

    /// Leave the container running in the background and print its name
    #[arg(short = 'd', long = "detach", conflicts_with_all = ["rm", "step"])]
    pub detach: bool,

    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,

    /// Network: bridge (default), none (only lo) or host
    #[arg(long, visible_alias = "network", value_enum, default_value_t = NetMode::Bridge)]
    pub net: NetMode,

    /// The container's address on the bridge (default: the next free one)
    #[arg(long, value_name = "ADDR", value_parser = network::parse_ip)]
    pub ip: Option<std::net::Ipv4Addr>,

    /// Publish a container port on the host: HOSTPORT:CONTAINERPORT[/udp]
    #[arg(short = 'p', long = "publish", value_name = "HOST:CONTAINER", value_parser = network::parse_port)]
    pub publish: Vec<network::Port>,

    /// Publish every port the image exposes (its config's ExposedPorts) on a free host port
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,

    /// Give the container a capability it does not get by default (NET_ADMIN, SYS_ADMIN, ALL, ...)
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,

    /// Take a default capability away (NET_RAW, ALL, ...)
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,

    /// A directory or file of the host's inside: HOST:CONTAINER[:ro]
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:ro]")]
    pub volume: Vec<String>,

    /// A fresh tmpfs at PATH (64 MiB unless size= says otherwise)
    #[arg(long = "tmpfs", value_name = "PATH[:size=SIZE,mode=MODE]")]
    pub tmpfs: Vec<String>,

    /// Run the command as a user of the image's: NAME, UID, NAME:GROUP or UID:GID
    #[arg(short = 'u', long = "user", value_name = "USER[:GROUP]")]
    pub user: Option<String>,

    /// The container's root is read-only (its /dev and its mounts are not)
    #[arg(long = "read-only")]
    pub read_only: bool,

    /// A device of the host's to pass in: HOST_PATH[:/dev/NAME]
    #[arg(long = "device", value_name = "DEVICE")]
    pub device: Vec<String>,

    /// seccomp=FILE (a profile in Docker's JSON format) or seccomp=unconfined (no filter)
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,

    /// Memory limit: MiB (64) or with a unit (64m, 1g); swap is not allowed on top
    #[arg(short = 'm', long, visible_alias = "memory", value_name = "SIZE", value_parser = cgroups::parse_size)]
    pub mem: Option<u64>,

    /// CPU limit, in CPUs (0.5 is half of one)
    #[arg(long, value_name = "N", value_parser = cgroups::parse_cpus)]
    pub cpus: Option<f64>,

    /// Most processes (and threads) the container may have at once
    #[arg(long, value_name = "N", value_parser = cgroups::parse_pids)]
    pub pids: Option<u64>,

    #[command(flatten)]
    pub cgroup: CgroupParent,

    /// Pause after each stage (with a terminal): Enter goes on, q stops, c runs to the end
    #[arg(long)]
    pub step: bool,

    #[command(flatten)]
    pub explain: Explain,

    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,

    /// The image, then the command to run in it (default: sh)
    #[arg(
        required = true,
        trailing_var_arg = true,
        value_name = "IMAGE [CMD [ARG...]]"
    )]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The command joins every namespace and the cgroup of the container's first \
                        process and is held to the same capabilities. On a terminal, with neither \
                        -i nor -t, diyc acts as with -it."
)]
pub struct ExecArgs {
    #[command(flatten)]
    pub tty: Tty,

    /// Set an environment variable for the command
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Working directory inside the container (absolute; default: the container's)
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,

    /// Show each system call made (setns and the rest)
    #[command(flatten)]
    pub explain: Explain,

    /// The container, then the command to run in it
    #[arg(
        required = true,
        trailing_var_arg = true,
        value_name = "NAME CMD [ARG...]"
    )]
    pub args: Vec<String>,
}
