//! The container's /etc/hosts and /etc/resolv.conf: its own name and
//! address, and the host's resolvers that mean something from inside
//! another network namespace. Written through the seam in the container's
//! own root, after pivot_root, so `--explain` shows each call.

use crate::error::{Error, Result};
use crate::stages::ensure_dir;
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

/// Write both files in the root this process now has. A symlink in
/// either place is removed first, never written through: it could lead
/// anywhere the image's author liked.
pub fn write(sys: &mut Sys, hosts: &str, resolv: &str) -> Result<()> {
    ensure_dir(sys, "/etc", 0o755)?;
    for (path, content) in [("/etc/hosts", hosts), ("/etc/resolv.conf", resolv)] {
        match sys.kind(path) {
            Some(Kind::Symlink) => {
                sys.call(Call::Unlink { path: path.into() })?;
            }
            Some(Kind::File) | None => {}
            Some(_) => {
                return Err(Error::invalid(format!(
                    "the image's {path} is not a file; refusing to write it"
                )));
            }
        }
        sys.write_new_file(path, 0o644, content)?;
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
