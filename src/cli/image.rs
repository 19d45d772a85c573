//! `diyc image`'s subcommands: import, list, inspect, history, export
//! and remove.

use std::path::PathBuf;

use clap::Subcommand;

use crate::stages::cgroups;

#[derive(Debug, Subcommand)]
// Each subcommand's arguments are made only when it is the one given:
// every start of diyc parses one command line, not all of them.
#[command(defer = true)]
pub enum ImageCommand {
    /// Import an image: a root filesystem tar (`docker export`), a `docker save`
    /// archive, or an OCI image layout (a directory or a tar), from FILE or stdin (-)
    #[command(
        after_help = IMPORT_HELP,
        override_usage = "diyc image import [OPTIONS] [NAME[:TAG]] SOURCE"
    )]
    Import {
        /// The image's name (without one, the names the archive gives its images), then the
        /// file, directory or - to read
        #[arg(value_name = "ARGS", num_args = 1..=2, required = true)]
        args: Vec<String>,
        /// Of an archive holding several images, the one to import (NAME or NAME:TAG)
        #[arg(long = "ref", value_name = "REF")]
        reference: Option<String>,
        /// At most this much unpacked, in all layers together (default: 90% of the free space)
        #[arg(long, value_name = "SIZE", value_parser = cgroups::parse_size)]
        max_size: Option<u64>,
    },
    /// List images: tag, layers, size on disk and how much of it other images share
    Ls,
    /// Show an image: its layers, config (env, workdir, command, user, ports) and source
    Inspect { name: String },
    /// Show how an image was built, a step per line, newest first
    History { name: String },
    /// Write an image's files, every layer applied, as one flat tar (FILE or - for stdout)
    Export {
        name: String,
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Remove an image no container uses, and the layers no other image uses
    Rm { name: String },
}

const IMPORT_HELP: &str = "What SOURCE is comes from its content, never its name. Layers may be \
plain, gzip, zstd, xz or bzip2. Each layer is kept once, by its digest, whatever images use it.

Examples:
  diyc image import web ./rootfs.tar.gz        a flat root filesystem, named web
  diyc image import ./saved.tar                a docker save archive, named as it says
  diyc image import alpine ./alpine-oci        an OCI image layout directory";
