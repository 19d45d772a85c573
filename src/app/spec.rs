//! What a container is, from `diyc run`'s command line: the options
//! read into a `Spec`, which its config keeps for `start` and `exec`.
//! Files named on the command line (a seccomp profile, a device, a
//! volume's host side) are read or checked here, before anything is made.

use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::stages::cgroups::devices;
use crate::stages::hardening::profile;
use crate::stages::net as network;
use crate::stages::rootfs::UserMount;
use crate::state::Store;
use crate::state::container::Spec;
use crate::state::image::{self, ImageConfig};
use crate::warnings;

/// What the container is, from the command line. On a terminal, with
/// neither -i nor -t, the command gets both, as docker users expect.
pub(super) fn of(args: &RunArgs) -> Result<Spec> {
    let mut words = args.args.iter().cloned();
    let image = words.next().unwrap_or_default();
    let command: Vec<String> = words.collect();
    let (tty, interactive) = terminal_flags(args.tty.tty, args.tty.interactive, args.detach);
    Ok(Spec {
        image,
        command,
        hostname: args.hostname.clone(),
        env: args.env.clone(),
        workdir: args.workdir.clone(),
        net: args.net,
        ip: args.ip,
        publish: args.publish.clone(),
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
        memory: args.mem,
        cpus: args.cpus,
        pids: args.pids,
        cgroup_parent: args.cgroup.cgroup_parent.clone(),
        tty,
        interactive,
        seccomp: security(&args.security_opt)?,
        devices: args
            .device
            .iter()
            .map(|d| devices::Passed::parse(d))
            .collect::<Result<_>>()?,
        mounts: mounts_of(args)?,
        read_only: args.read_only,
        user: args.user.clone(),
    })
}

/// What the image's config asks for, where the command line is silent, as
/// `docker run` reads it: the entrypoint before the command (the image's
/// Cmd when none is given, `sh` when neither is), the image's Env under
/// every `-e`, its WorkingDir and User unless `-w` and `--user` say.
/// With `-P`, each port the image exposes is published too, on a free
/// host port, unless a `-p` already publishes it.
pub(super) fn with_image(spec: Spec, store: &Store, publish_all: bool) -> Result<Spec> {
    // Checked before it names a path to read.
    image::validate_name(&spec.image)?;
    let config = image::config(store, &spec.image)?;
    let mut spec = configured(spec, &config);
    if publish_all {
        for exposed in &config.exposed_ports {
            let port = exposed_port(exposed)?;
            if spec
                .publish
                .iter()
                .any(|p| p.container == port.container && p.proto == port.proto)
            {
                continue;
            }
            let port = network::Port {
                host: free_host_port(port.proto)?,
                ..port
            };
            warnings::warn(format!(
                "-P: the image's port {}/{} is published on host port {}",
                port.container, port.proto, port.host
            ));
            spec.publish.push(port);
        }
    }
    Ok(spec)
}

/// `80/tcp`, `53/udp` or `8080`, as an image config says a port.
fn exposed_port(text: &str) -> Result<network::Port> {
    let (number, proto) = text.split_once('/').unwrap_or((text, "tcp"));
    network::parse_port(&format!("{number}:{number}/{proto}")).map_err(|e| {
        Error::invalid(format!(
            "the image exposes a port diyc cannot publish: {}",
            crate::state::image::shown(&e)
        ))
    })
}

/// A port nothing on the host listens on now: the kernel's choice for a
/// socket bound to port 0, closed again at once.
fn free_host_port(proto: network::Proto) -> Result<u16> {
    let any = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
    let port = match proto {
        network::Proto::Tcp => std::net::TcpListener::bind(any).and_then(|s| s.local_addr()),
        network::Proto::Udp => std::net::UdpSocket::bind(any).and_then(|s| s.local_addr()),
    };
    port.map(|a| a.port())
        .map_err(|e| Error::invalid(format!("no free host port for -P: {e}")))
}

fn configured(mut spec: Spec, config: &ImageConfig) -> Spec {
    let args = if spec.command.is_empty() {
        config.cmd.clone()
    } else {
        std::mem::take(&mut spec.command)
    };
    spec.command = config.entrypoint.iter().cloned().chain(args).collect();
    if spec.command.is_empty() {
        spec.command.push("sh".into());
    }
    spec.env = config.env.iter().cloned().chain(spec.env).collect();
    spec.workdir = spec.workdir.or_else(|| config.working_dir.clone());
    spec.user = spec.user.or_else(|| config.user.clone());
    spec
}

/// Every `-v`, then every `--tmpfs`, each on a path of its own.
fn mounts_of(args: &RunArgs) -> Result<Vec<UserMount>> {
    let volumes = args.volume.iter().map(|v| UserMount::volume(v));
    let tmpfs = args.tmpfs.iter().map(|t| UserMount::tmpfs(t));
    let mounts: Vec<UserMount> = volumes.chain(tmpfs).collect::<Result<_>>()?;
    for (i, m) in mounts.iter().enumerate() {
        if mounts[..i].iter().any(|o| o.target() == m.target()) {
            return Err(Error::invalid(format!(
                "{} is mounted on twice",
                m.target()
            )));
        }
    }
    Ok(mounts)
}

/// The `--security-opt`s: the last `seccomp=` wins.
fn security(opts: &[String]) -> Result<profile::Choice> {
    let mut choice = profile::Choice::Default;
    for opt in opts {
        match opt.split_once(['=', ':']) {
            Some(("seccomp", value)) => choice = profile::choose(value)?,
            // Always on in diyc.
            _ if opt == "no-new-privileges" || opt == "no-new-privileges=true" => {}
            _ => {
                return Err(Error::invalid(format!(
                    "unknown --security-opt {opt:?}: diyc knows seccomp=FILE, seccomp=unconfined and no-new-privileges"
                )));
            }
        }
    }
    Ok(choice)
}

/// `-t` and `-i` as given, or both on a terminal when neither was.
pub fn terminal_flags(tty: bool, interactive: bool, detach: bool) -> (bool, bool) {
    if !tty && !interactive && !detach && on_terminal() {
        (true, true)
    } else {
        (tty, interactive)
    }
}

fn on_terminal() -> bool {
    nix::unistd::isatty(std::io::stdin()).unwrap_or(false)
        && nix::unistd::isatty(std::io::stdout()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `diyc run LINE` read as a Spec; a test's line is always a run.
    fn spec(line: &[&str]) -> Spec {
        let words = ["diyc", "run"].iter().chain(line);
        match crate::cli::Cli::try_parse_from(words).map(|c| c.command) {
            Ok(crate::cli::Command::Run(args)) => of(&args).unwrap_or_else(|e| panic!("{e}")),
            other => panic!("not a run: {other:?}"),
        }
    }

    fn config() -> ImageConfig {
        ImageConfig {
            env: vec!["PATH=/opt/bin".into(), "MODE=image".into()],
            working_dir: Some("/srv".into()),
            entrypoint: vec!["/entry".into(), "--flag".into()],
            cmd: vec!["serve".into()],
            user: Some("web".into()),
            exposed_ports: vec!["80/tcp".into()],
        }
    }

    #[test]
    fn the_image_s_entrypoint_and_cmd_run_when_no_command_is_given() {
        let s = configured(spec(&["img"]), &config());
        assert_eq!(s.command, ["/entry", "--flag", "serve"]);
        assert_eq!(s.workdir.as_deref(), Some("/srv"));
        assert_eq!(s.user.as_deref(), Some("web"));
    }

    #[test]
    fn the_command_line_wins_over_the_cmd_but_keeps_the_entrypoint() {
        let s = configured(
            spec(&["-w", "/tmp", "-u", "0", "-e", "MODE=cli", "img", "check"]),
            &config(),
        );
        assert_eq!(s.command, ["/entry", "--flag", "check"]);
        assert_eq!(s.workdir.as_deref(), Some("/tmp"));
        assert_eq!(s.user.as_deref(), Some("0"));
        // -e comes after the image's Env, so it wins where both say.
        assert_eq!(s.env, ["PATH=/opt/bin", "MODE=image", "MODE=cli"]);
    }

    #[test]
    fn with_neither_a_command_nor_a_config_the_shell_runs() {
        assert_eq!(
            configured(spec(&["img"]), &ImageConfig::default()).command,
            ["sh"]
        );
    }
}
