//! The checks every command makes of its input before it touches the
//! host: one clear line and exit status 125 for anything wrong.

use crate::error::{Error, Result};
use crate::stages::net::Bridge;
use crate::stages::net::NetMode;
use crate::state::container::Spec;

/// The PATH a container starts with.
pub const CONTAINER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The address and the ports of a container are its bridge's.
pub const NEEDS_BRIDGE: &str = "--ip, -p and -P need --net bridge";

/// Everything of what `diyc run` was asked for that can be checked
/// without looking at the host.
pub fn run_spec(bridge: &Bridge, args: &Spec) -> Result<()> {
    if let Some(dir) = &args.workdir {
        check_workdir(dir)?;
    }
    if let Some(h) = &args.hostname {
        validate_hostname(h)?;
    }
    container_env("x", &args.env)?;
    if args.net != NetMode::Bridge && (args.ip.is_some() || !args.publish.is_empty()) {
        return Err(Error::invalid(NEEDS_BRIDGE));
    }
    if let Some(ip) = args.ip {
        bridge
            .check(ip)
            .map_err(|e| Error::invalid(format!("--ip {e}")))?;
    }
    for (i, port) in args.publish.iter().enumerate() {
        if args.publish[..i]
            .iter()
            .any(|p| p.host == port.host && p.proto == port.proto)
        {
            return Err(Error::invalid(format!(
                "host port {}/{} is published twice",
                port.host, port.proto
            )));
        }
    }
    Ok(())
}

/// `-w`: a directory inside the container, named from its root.
pub fn check_workdir(dir: &str) -> Result<()> {
    let climbs = std::path::Path::new(dir)
        .components()
        .any(|c| c == std::path::Component::ParentDir);
    if !dir.starts_with('/') || climbs {
        return Err(Error::invalid(format!(
            "working directory {dir:?} must be an absolute path inside the container, without '..'"
        )));
    }
    Ok(())
}

/// A hostname the kernel and resolvers accept: 1 to 64 bytes of letters,
/// digits, '-' and '.', not starting with either.
pub fn validate_hostname(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid hostname {name:?}: use 1 to 64 letters, digits, '-' and '.'"
        )))
    }
}

/// The container's whole environment: a few defaults, TERM if the user has
/// one, then every `-e`. Nothing else of the host's leaks in.
pub fn container_env(hostname: &str, extra: &[String]) -> Result<Vec<String>> {
    let mut env = vec![
        format!("PATH={CONTAINER_PATH}"),
        "HOME=/root".to_string(),
        format!("HOSTNAME={hostname}"),
    ];
    if let Ok(term) = std::env::var("TERM") {
        env.push(format!("TERM={term}"));
    }
    for kv in extra {
        match kv.split_once('=') {
            Some((key, _)) if !key.is_empty() => {
                env.retain(|e| !e.starts_with(&format!("{key}=")));
                env.push(kv.clone());
            }
            _ => {
                return Err(Error::invalid(format!(
                    "invalid environment variable {kv:?}: expected KEY=VALUE"
                )));
            }
        }
    }
    Ok(env)
}

pub fn path_text(path: &std::path::Path) -> Result<String> {
    path.to_str()
        .map(String::from)
        .ok_or_else(|| Error::invalid(format!("{} is not valid UTF-8", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_is_clean_and_overridable() {
        let env = container_env("box", &["PATH=/x".into(), "A=b=c".into()]);
        let env = env.unwrap_or_default();
        assert!(env.contains(&"PATH=/x".to_string()));
        assert!(env.contains(&"A=b=c".to_string()));
        assert!(env.contains(&"HOSTNAME=box".to_string()));
        assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
        assert!(
            !env.iter()
                .any(|e| e.starts_with("USER=") || e.starts_with("CARGO"))
        );
    }

    #[test]
    fn bad_environment_and_hostnames_are_refused() {
        assert!(container_env("box", &["NOVALUE".into()]).is_err());
        assert!(container_env("box", &["=x".into()]).is_err());
        assert!(validate_hostname(&"h".repeat(65)).is_err());
        assert!(validate_hostname("-bad").is_err());
        assert!(validate_hostname("good-host.lan").is_ok());
    }
}
