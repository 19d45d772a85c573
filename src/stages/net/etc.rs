//! The container's /etc/hostname, /etc/hosts and /etc/resolv.conf: its
//! own name and address, and the host's resolvers that mean something
//! from inside another network namespace. Written through the seam into
//! the container's directory: by diyc on the host before the clone, or,
//! for a writable layer in memory, by the rootfs stage onto the tmpfs
//! that covers that directory in the container's mount namespace; the
//! rootfs stage binds them over the image's.

use crate::error::{Error, Result};
use crate::sys::{Call, Kind, Sys};

/// /etc/hosts for a container called `hostname`, at `ip` when bridged.
pub fn hosts(hostname: &str, ip: Option<std::net::Ipv4Addr>) -> String {
    let mut hosts =
        String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    if let Some(ip) = ip {
        hosts.push_str(&format!("{ip}\t{hostname}\n"));
    }
    hosts
}

/// The names of the files, in `/etc` inside and in the directory
/// they are written to on the host.
pub const FILES: [&str; 3] = ["hostname", "hosts", "resolv.conf"];

/// Write the three files into `dir` on the host (the container's own
/// directory), for the rootfs stage to bind over the image's: nothing is
/// written through the image, so nothing the image put there (a symlink,
/// a FIFO) is ever opened.
pub fn write(sys: &mut Sys, dir: &str, files: &super::EtcFiles) -> Result<()> {
    if !sys.is_dir(dir) {
        sys.call(Call::Mkdirat {
            path: dir.to_string(),
            mode: 0o755,
        })?;
    }
    let hostname = format!("{}\n", files.hostname);
    for (name, content) in FILES.iter().zip([&hostname, &files.hosts, &files.resolv]) {
        let path = format!("{dir}/{name}");
        if sys.kind(&path).is_some_and(|k| k != Kind::File) {
            return Err(Error::invalid(format!("{path} is not a file")));
        }
        sys.write_new_file(&path, 0o644, content)?;
    }
    Ok(())
}

/// The host's resolvers, minus loopback ones (127.0.0.53 and friends mean
/// nothing inside another network namespace); systemd-resolved's upstream
/// list is used when the host only has its stub.
pub fn resolv_conf() -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut lines = usable_resolvers(&host);
    if !lines.iter().any(|l| l.starts_with("nameserver")) {
        if let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            lines = usable_resolvers(&upstream);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// resolv.conf lines without nameservers on loopback.
fn usable_resolvers(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            !l.trim_start().starts_with("nameserver")
                || !l
                    .split_whitespace()
                    .nth(1)
                    .is_some_and(|a| a.starts_with("127.") || a == "::1")
        })
        .map(String::from)
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_on_loopback_are_left_out() {
        assert_eq!(
            usable_resolvers("nameserver 127.0.0.53\nsearch lan\nnameserver 10.0.0.1\n"),
            vec!["search lan", "nameserver 10.0.0.1"]
        );
    }
}
