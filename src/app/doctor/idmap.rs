//! Subordinate ids: with a range in /etc/subuid and /etc/subgid and the
//! setuid helpers newuidmap and newgidmap, rootless diyc maps a whole
//! range into a container, so an image whose files belong to several
//! users works; without them it maps the user's own id alone.

use std::os::unix::fs::MetadataExt;

use super::{Check, Who, read};
use crate::sys::on_path;
use crate::sys::probe;

/// What a single mapping leaves out.
const SINGLE: &str = "images whose files belong to several users (most distribution images) without root: only your own id is mapped, the other owners show as nobody and chown inside fails";

const UIDMAP: &str =
    "`sudo apt-get install uidmap` (Debian, Ubuntu) or `sudo dnf install shadow-utils` (Fedora)";

pub fn checks(who: &Who) -> Vec<Check> {
    vec![
        range(who, "idmap.subuid", "/etc/subuid"),
        range(who, "idmap.subgid", "/etc/subgid"),
        helper(who, "idmap.newuidmap", "newuidmap"),
        helper(who, "idmap.newgidmap", "newgidmap"),
    ]
}

/// A line of /etc/subuid or /etc/subgid: owner (a name or a uid), first
/// id, count.
struct Range {
    owner: String,
    first: u64,
    count: u64,
}

fn ranges(text: &str) -> Vec<Range> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let owner = fields.next()?.to_string();
            let first = fields.next()?.parse().ok()?;
            let count = fields.next()?.parse().ok()?;
            Some(Range {
                owner,
                first,
                count,
            })
        })
        .collect()
}

/// The first id past every range already given, for a new one.
fn free_start(all: &[Range]) -> u64 {
    all.iter()
        .map(|r| r.first.saturating_add(r.count))
        .fold(100_000, u64::max)
}

fn range(who: &Who, id: &'static str, file: &str) -> Check {
    if who.root {
        return Check::info(id, "not used as root: root maps ids directly");
    }
    let Some(text) = read(file) else {
        return Check::warn(id, format!("{file} could not be read"))
            .breaks(&[SINGLE])
            .fix(add_range(who, 100_000));
    };
    let all = ranges(&text);
    let uid = who.uid.to_string();
    let mine: Vec<&Range> = all
        .iter()
        .filter(|r| Some(&r.owner) == who.name.as_ref() || r.owner == uid)
        .collect();
    if mine.is_empty() {
        return Check::warn(id, format!("no range for {} in {file}", who.login()))
            .breaks(&[SINGLE])
            .fix(add_range(who, free_start(&all)));
    }
    let total: u64 = mine.iter().map(|r| r.count).sum();
    let shown: Vec<String> = mine
        .iter()
        .map(|r| {
            let last = (r.first + r.count).saturating_sub(1);
            format!("{}-{last}", r.first)
        })
        .collect();
    Check::ok(
        id,
        format!(
            "{}: {} ({total} ids) in {file}",
            who.login(),
            shown.join(", ")
        ),
    )
}

fn add_range(who: &Who, first: u64) -> String {
    let last = first + 65_535;
    format!(
        "`sudo usermod --add-subuids {first}-{last} --add-subgids {first}-{last} {}`",
        who.login()
    )
}

/// newuidmap or newgidmap: found on PATH, and able to write another
/// id's map (setuid root, or file capabilities).
fn helper(who: &Who, id: &'static str, name: &str) -> Check {
    let check = match on_path(name) {
        None => Check::warn(id, format!("no {name} on PATH"))
            .breaks(&[SINGLE])
            .fix(UIDMAP),
        Some(path) => {
            let text = path.clone();
            let meta = std::fs::metadata(&path).ok();
            let setuid_root = meta
                .as_ref()
                .is_some_and(|m| m.mode() & 0o4000 != 0 && m.uid() == 0);
            if setuid_root {
                Check::ok(id, format!("{text} (setuid root)"))
            } else if probe::has_file_capabilities(&text) {
                Check::ok(id, format!("{text} (file capabilities)"))
            } else {
                Check::warn(
                    id,
                    format!("{text} is neither setuid root nor given file capabilities: it cannot write a range's map"),
                )
                .breaks(&[SINGLE])
                .fix(format!("reinstall it: {UIDMAP}"))
            }
        }
    };
    check.rootless_only(who)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_by_name_or_uid_and_a_new_one_starts_past_them() {
        let all = ranges("alice:100000:65536\n1001:165536:65536\nbroken line\n");
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].owner, "1001");
        assert_eq!(free_start(&all), 231_072);
        assert_eq!(free_start(&[]), 100_000);
    }
}
