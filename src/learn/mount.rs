//! The mount lesson: a private mount table (src/stages/mount.rs).

use super::draw::{self, Frame, Style, UNSEEN};
use super::probes;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::stages::order::Plan;
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../lessons/mount.md");

fn alone() -> Plan {
    Plan {
        mount: true,
        ..Plan::default()
    }
}

/// The lesson's own mounts, told by their source names: nobody else
/// mounts a tmpfs called diyc-lesson or diyc-leak, and whatever else
/// comes and goes on a shared machine is not the lesson's.
fn lessons(before: &[String], after: &[String]) -> Vec<String> {
    probes::mounts_left(before, after, &|_, _, source| {
        source == "diyc-lesson" || source == "diyc-leak"
    })
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let before = probes::mounts();
    let script = "mount -t tmpfs diyc-lesson /tmp && grep diyc-lesson /proc/self/mountinfo";
    let env = s.host_env();
    let mut seen = s.launch(
        alone(),
        &["sh", "-c", script],
        env,
        &[(StageId::Mount, probes::mounts)],
        Undo::new(),
    )?;
    let after = probes::mounts();
    let leaked = lessons(&before, &after);
    seen.note("host mounts", after.len().to_string());
    seen.note("leaked", leaked.join("; "));
    s.check(
        seen.code == 0 && leaked.is_empty(),
        "the tmpfs mounted inside never showed in the host's mount table",
    )?;
    Ok((seen, StageId::Mount))
}

/// Without private propagation, a mount made in a new mount namespace
/// appears in the one it was copied from. Shown in a throwaway mount
/// namespace that plays the host, made shared first.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let before = probes::mounts();
    let script = "mount --make-rshared / && \
                  unshare --mount --propagation shared mount -t tmpfs diyc-leak /tmp && \
                  grep -q diyc-leak /proc/self/mountinfo && \
                  echo 'a mount made in a namespace that kept shared propagation appeared in the (pretend) host'\"'\"'s table'";
    let env = s.host_env();
    let seen = s.launch(alone(), &["sh", "-c", script], env, &[], Undo::new())?;
    s.effect(
        seen.code == 0,
        "the mount leaked into the namespace it was copied from",
    )?;
    s.undone_mounts(
        &lessons(&before, &probes::mounts()),
        "the real host's mount table is as it was: no diyc-leak or diyc-lesson tmpfs in it",
    )?;
    Ok(seen)
}

pub fn pictures(live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    let unseen = || UNSEEN.to_string();
    let host_prop = live
        .after(StageId::Mount, false, "host's / is ")
        .and_then(|rest| rest.split([' ', ';']).next().map(str::to_string))
        .unwrap_or_else(unseen);
    let copy = live
        .after(StageId::Mount, true, "a copy of the host's mount table: ")
        .unwrap_or_else(unseen);
    let shared = live
        .after(StageId::Mount, false, "mount namespace of pid ")
        .and_then(|rest| {
            rest.split_once(", ")
                .map(|(_, s)| s.trim_end_matches(" with anything").to_string())
        })
        .unwrap_or_else(unseen);
    let pid = live.child().map_or_else(unseen, |p| p.to_string());
    let leaked = live.extra("leaked");
    let host = Frame::new("the host's mount table")
        .line(format!(
            "{} mounts, / is {host_prop}",
            live.extra("host mounts").unwrap_or(UNSEEN)
        ))
        .line(match leaked {
            Some("") => "no tmpfs diyc-lesson here".to_string(),
            Some(mounts) => format!("came back: {mounts}"),
            None => format!("after the run: {UNSEEN}"),
        });
    let container = Frame::new(format!("the copy, pid {pid}"))
        .line(copy)
        .line(shared)
        .line(if live.code == 0 {
            "+ tmpfs diyc-lesson on /tmp"
        } else {
            "the tmpfs on /tmp failed"
        });
    let cut = format!("{} cut", style.cut());
    let live_picture = draw::picture(
        "The mount tables of this run: a copy, then the link cut (private)",
        draw::pair(&host, &["", "copied", &cut], &container, style),
    );
    let leak: &[&str] = if broken.code == 0 {
        &["+ tmpfs diyc-leak on /tmp:", "  it came back here"]
    } else {
        &["the leak was not seen"]
    };
    let pretend = Frame::new("the (pretend) host")
        .line("/ made rshared first")
        .lines(leak.iter().copied());
    let copy = Frame::new("a copy, still shared")
        .line("unshare --propagation shared")
        .line("+ tmpfs diyc-leak on /tmp,")
        .line("  made here");
    let linked = format!("{} shared", style.both_ways());
    vec![
        live_picture,
        draw::picture(
            "Without private propagation: the copy stays linked, and its mount comes back",
            draw::pair(&pretend, &["", "copied", &linked], &copy, style),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_lessons_own_tmpfs_counts_as_leaked() {
        let before = vec!["/ ext4 /dev/vda1".to_string()];
        let mut after = before.clone();
        after.push("/mnt tmpfs someone-else".into());
        assert!(lessons(&before, &after).is_empty());
        after.push("/tmp tmpfs diyc-leak".into());
        assert_eq!(lessons(&before, &after), vec!["/tmp tmpfs diyc-leak"]);
    }
}
