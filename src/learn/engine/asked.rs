//! What podman asked of diyc, read back from what the run left: the
//! runtime commands the wrapper logged, one line each, and the bundle's
//! config.json it kept, summed up in a few lines a beginner can follow.

use serde_json::Value;

/// The verb of a runtime command line: its first word that is not an
/// option or an option's value (`--log FILE create ...` is create).
pub fn verb(command: &str) -> Option<&str> {
    let mut words = command.split_whitespace();
    while let Some(word) = words.next() {
        match word {
            // runc's global options that take a value as the next word.
            "--log" | "--root" | "--log-format" | "--criu" => {
                words.next();
            }
            w if w.starts_with('-') => {}
            w => return Some(w),
        }
    }
    None
}

/// The container's id: the last word of create's command line.
pub fn container_id(commands: &[String]) -> Option<String> {
    commands
        .iter()
        .find(|c| verb(c) == Some("create"))
        .and_then(|c| c.split_whitespace().last())
        .map(str::to_string)
}

/// The bundle create was given (`--bundle DIR`).
pub fn bundle(commands: &[String]) -> Option<String> {
    let create = commands.iter().find(|c| verb(c) == Some("create"))?;
    let mut words = create.split_whitespace();
    words.find(|w| *w == "--bundle")?;
    words.next().map(str::to_string)
}

/// Each command as the lesson shows it: `diyc-oci` first, the lesson's
/// directory as D and the container's long id as ID.
pub fn shown(commands: &[String], dir: &str, id: Option<&str>) -> Vec<String> {
    commands
        .iter()
        .map(|c| short(&format!("diyc-oci {}", c.trim()), dir, id))
        .collect()
}

/// `text` with the lesson's directory as D and the container's id as ID.
pub fn short(text: &str, dir: &str, id: Option<&str>) -> String {
    let text = text.replace(dir, "D");
    match id {
        Some(id) if !id.is_empty() => text.replace(id, "ID"),
        _ => text,
    }
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `(what, the values)` for each thing config.json asked for, in the
/// order a container is made: command, namespaces, mounts, capabilities,
/// masked and read-only paths, seccomp, cgroup.
pub fn summary(config: &Value, id: Option<&str>) -> Vec<(String, String)> {
    let linux = &config["linux"];
    let mut lines = Vec::new();
    let args = strings(&config["process"]["args"]);
    lines.push(("the command".to_string(), args.join(" ")));
    let namespaces: Vec<String> = linux["namespaces"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|ns| {
                    let kind = ns["type"].as_str()?;
                    Some(match ns["path"].as_str().filter(|p| !p.is_empty()) {
                        Some(path) => format!("{kind} (joined at {path})"),
                        None => kind.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    lines.push(counted("namespaces", &namespaces, ", "));
    let mounts: Vec<String> = config["mounts"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|m| m["destination"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let (what, at) = counted("mounts", &mounts, " ");
    lines.push((what, format!("at {at}")));
    let caps: Vec<String> = strings(&config["process"]["capabilities"]["bounding"])
        .iter()
        .map(|c| c.trim_start_matches("CAP_").to_string())
        .collect();
    lines.push(counted("capabilities", &caps, " "));
    lines.push(counted(
        "masked paths",
        &strings(&linux["maskedPaths"]),
        " ",
    ));
    lines.push(counted(
        "read-only paths",
        &strings(&linux["readonlyPaths"]),
        " ",
    ));
    let allowed: usize = linux["seccomp"]["syscalls"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .filter(|r| r["action"] == "SCMP_ACT_ALLOW")
                .map(|r| strings(&r["names"]).len())
                .sum()
        })
        .unwrap_or(0);
    if linux["seccomp"].is_object() {
        let rest = match linux["seccomp"]["defaultAction"].as_str() {
            Some(a) if a.starts_with("SCMP_ACT_ERRNO") => "refused with an error".to_string(),
            Some(a) if a.starts_with("SCMP_ACT_KILL") => "kills the process".to_string(),
            Some(a) => a.to_string(),
            None => "as the kernel defaults".to_string(),
        };
        lines.push((
            "seccomp".to_string(),
            format!("{allowed} system calls allowed by name, every other one {rest}"),
        ));
    }
    if let Some(path) = linux["cgroupsPath"].as_str() {
        let path = match id {
            Some(id) => path.replace(id, "ID"),
            None => path.to_string(),
        };
        lines.push(("cgroupsPath".to_string(), path));
    }
    lines
}

fn counted(what: &str, items: &[String], sep: &str) -> (String, String) {
    let list = if items.is_empty() {
        "none".to_string()
    } else {
        items.join(sep)
    };
    (format!("{what} ({})", items.len()), list)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = "--log-format=json --log /e/run/c/abc/oci-log create --bundle /e/store/c/abc/userdata --pid-file /e/run/c/abc/pidfile abc";

    #[test]
    fn the_verb_skips_global_options_and_their_values() {
        assert_eq!(verb(CREATE), Some("create"));
        assert_eq!(verb("--root /run/x delete --force abc"), Some("delete"));
        assert_eq!(verb("start abc"), Some("start"));
        assert_eq!(verb("--debug"), None);
    }

    #[test]
    fn the_id_and_bundle_come_from_create() {
        let commands = vec![CREATE.to_string(), "start abc".to_string()];
        assert_eq!(container_id(&commands).as_deref(), Some("abc"));
        assert_eq!(
            bundle(&commands).as_deref(),
            Some("/e/store/c/abc/userdata")
        );
        let shown = shown(&commands, "/e", Some("abc"));
        assert_eq!(shown[1], "diyc-oci start ID");
        assert!(
            shown[0].contains("--bundle D/store/c/ID/userdata"),
            "{shown:?}"
        );
    }

    #[test]
    fn the_summary_counts_what_the_config_asked_for() {
        let config: Value = serde_json::json!({
            "process": {"args": ["true"], "capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL"]}},
            "mounts": [{"destination": "/proc"}, {"destination": "/dev"}],
            "linux": {
                "namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/x"}],
                "maskedPaths": ["/proc/kcore"],
                "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}
                ]},
                "cgroupsPath": "p/libpod-abc"
            }
        });
        let lines = summary(&config, Some("abc"));
        let find = |what: &str| {
            lines
                .iter()
                .find(|(w, _)| w.starts_with(what))
                .map(|(w, v)| format!("{w}: {v}"))
                .unwrap_or_default()
        };
        assert_eq!(find("the command"), "the command: true");
        assert_eq!(
            find("namespaces"),
            "namespaces (2): pid, network (joined at /run/netns/x)"
        );
        assert_eq!(find("mounts"), "mounts (2): at /proc /dev");
        assert_eq!(find("capabilities"), "capabilities (2): CHOWN KILL");
        assert_eq!(find("masked"), "masked paths (1): /proc/kcore");
        assert_eq!(find("read-only"), "read-only paths (0): none");
        assert_eq!(
            find("seccomp"),
            "seccomp: 2 system calls allowed by name, every other one refused with an error"
        );
        assert_eq!(find("cgroupsPath"), "cgroupsPath: p/libpod-ID");
    }
}
