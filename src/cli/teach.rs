//! The teaching commands' arguments: `diyc learn`, and `diyc nsexec`,
//! diyC's way of trying one namespace at a time on a host command.

use std::path::PathBuf;

use clap::Args;

use super::{CgroupParent, Explain};
use crate::learn::Topic;

#[derive(Debug, Args)]
pub struct LearnArgs {
    /// Run one lesson alone: intro (lesson 0, start here) or a stage's
    #[arg(long, value_enum, value_name = "LESSON", conflicts_with = "all")]
    pub step: Option<Topic>,

    /// Every lesson in order, ending in a whole container
    #[arg(long)]
    pub all: bool,

    /// Only this lesson's exercise: a task done by hand in a shell diyc opens, graded by `check`
    #[arg(long, value_name = "NAME", conflicts_with_all = ["step", "all"], value_parser = crate::learn::exercise::parse_name)]
    pub exercise: Option<String>,

    /// Run the network lessons in a throwaway network namespace, with an outside host of their own
    #[arg(long)]
    pub lab: bool,

    /// Never wait for a key, even on a terminal
    #[arg(long)]
    pub no_pause: bool,

    #[command(flatten)]
    pub explain: Explain,

    /// Also write the lesson as Markdown, a handout for the class
    #[arg(long, value_name = "FILE")]
    pub transcript: Option<PathBuf>,

    /// For a projector: each part on a clean screen, large margins, the
    /// same keys
    #[arg(long)]
    pub present: bool,

    /// Explain the words the lessons use, or just TERM
    #[arg(long, value_name = "TERM", num_args = 0..=1, default_missing_value = "")]
    pub glossary: Option<String>,

    #[command(flatten)]
    pub cgroup: CgroupParent,
}

#[derive(Debug, Args)]
pub struct NsexecArgs {
    /// New PID namespace (with -m, a fresh /proc too)
    #[arg(short = 'p')]
    pub pid: bool,

    /// New network namespace (only lo, brought up)
    #[arg(short = 'n')]
    pub net: bool,

    /// New UTS namespace with this hostname
    #[arg(short = 'u', value_name = "HOSTNAME")]
    pub hostname: Option<String>,

    /// New mount namespace, made private
    #[arg(short = 'm')]
    pub mount: bool,

    /// New IPC namespace
    #[arg(short = 'i')]
    pub ipc: bool,

    /// Show the system calls made (as run --explain)
    #[arg(short = 'v')]
    pub verbose: bool,

    /// The host command to run
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD [ARG...]")]
    pub command: Vec<String>,
}
