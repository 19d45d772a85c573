//! The user lesson: root inside a user namespace, an ordinary user on the
//! host (src/stages/user.rs). The container shares every other namespace
//! with the host, so what its root may not touch is the host's own: its
//! hostname, its root-only files. Run by the host's root, the lesson maps
//! the container's root to an unprivileged id, so the point shows there
//! too; without root it is the caller's own mapping, as `diyc run` makes.

use super::draw::{self, Frame, Style, UNSEEN, WIDTH};
use super::probes;
use super::session::{Observed, Session};
use crate::error::Result;
use crate::event::StageId;
use crate::observe;
use crate::stages::order::Plan;
use crate::stages::user::User;
use crate::undo::Undo;

pub const TEXT: &str = include_str!("../../lessons/user.md");

/// The id the kernel shows for one a user namespace does not map, and
/// the unprivileged id root's lesson maps to when nobody ran it by sudo.
const OVERFLOW: u32 = 65534;

/// What the container tries, each line saying what happened; exit 0 only
/// when root inside got what the lesson says and nothing of the host's.
/// The host's hostname is set to the name it already has, so even a
/// mistake would change nothing; and nothing is tried outside a user
/// namespace of its own.
const TRY: &str = "echo \"id: $(id)\"; grep CapEff /proc/self/status; \
    if grep -q 4294967295 /proc/self/uid_map; then echo 'not in a user namespace of its own: nothing tried'; exit 1; fi; \
    n=$(hostname); r=0; \
    if hostname \"$n\" 2>/dev/null; then echo \"hostname $n, in the host's UTS namespace: allowed\"; r=1; \
    else echo \"hostname $n, in the host's UTS namespace: refused\"; fi; \
    o=$(unshare --uts sh -c 'hostname lab && hostname') || r=1; \
    echo \"hostname lab, in a UTS namespace of its own: ${o:-refused}\"; \
    if cat /etc/shadow >/dev/null 2>&1; then echo 'reading /etc/shadow: allowed'; r=1; \
    else echo 'reading /etc/shadow, which only the host'\"'\"'s root may read: refused'; fi; \
    exit $r";

/// Without maps: who the command is, what root's files look like, and
/// whether it may still make a namespace. Exit 0 when every id showed as
/// the overflow id.
const UNMAPPED: &str = "echo \"id: $(id)\"; echo \"CapEff after execve: $(grep CapEff /proc/self/status | cut -f2)\"; \
    echo \"/ and /etc/passwd, owned by root on the host: $(stat -c '%U (%u)' / /etc/passwd | tr '\\n' ' ')\"; \
    u=refused; unshare --uts true 2>/dev/null && u=allowed; echo \"a UTS namespace of its own: $u\"; \
    [ \"$(id -u)\" = 65534 ] && [ \"$(stat -c %u /)\" = 65534 ]";

/// The ids the container's root has on the host: the caller's without
/// root; with root, the user who ran diyc by sudo, or the overflow id.
fn outside_ids() -> (u32, u32) {
    if observe::rootless() {
        let ids = (nix::unistd::getuid(), nix::unistd::getgid());
        return (ids.0.as_raw(), ids.1.as_raw());
    }
    let var = |name| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|id| *id != 0)
    };
    (
        var("SUDO_UID").unwrap_or(OVERFLOW),
        var("SUDO_GID").unwrap_or(OVERFLOW),
    )
}

fn mapped() -> User {
    if observe::rootless() {
        User::for_caller()
    } else {
        let (uid, gid) = outside_ids();
        User::single(uid, gid)
    }
}

fn run(s: &mut Session, user: User, script: &str) -> Result<Observed> {
    let plan = Plan {
        user: Some(user),
        ..Plan::default()
    };
    let env = s.host_env();
    s.launch(
        plan,
        &["sh", "-c", script],
        env,
        &[(StageId::User, probes::hostname)],
        Undo::new(),
    )
}

pub fn live(s: &mut Session) -> Result<(Observed, StageId)> {
    let host = observe::hostname();
    let (uid, _) = outside_ids();
    let seen = run(s, mapped(), TRY)?;
    s.check(
        seen.saw(StageId::User, true, "uid 0, gid 0: root")
            && seen.saw(StageId::User, false, &format!("as uid {uid},")),
        &format!("inside, the command is root (uid 0); the host sees uid {uid}"),
    )?;
    s.check(
        seen.code == 0 && observe::hostname() == host,
        "root inside named a UTS namespace of its own, but was refused the host's hostname and /etc/shadow",
    )?;
    Ok((seen, StageId::User))
}

/// The user namespace of a run, by the inode its user stage saw.
fn namespace_of(seen: &Observed) -> Option<u64> {
    seen.after(StageId::User, true, "user namespace: ")?
        .parse()
        .ok()
}

/// The processes still in user namespace `inode`, by pid.
fn still_in(inode: u64) -> Vec<String> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                    (observe::ns_inode(Some(pid), "user") == Some(inode))
                        .then(|| format!("pid {pid}"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The same namespace with no map written: every id is the overflow id.
pub fn broken(s: &mut Session) -> Result<Observed> {
    let seen = run(s, User::unmapped(), UNMAPPED)?;
    s.effect(
        seen.code == 0 && seen.saw(StageId::User, true, "uid 65534, gid 65534"),
        "without a map the command is uid 65534, and root's files show as owned by 65534",
    )?;
    let left = namespace_of(&seen).map_or_else(|| vec!["an unseen namespace".into()], still_in);
    s.undone_unless(
        &left,
        "the user namespace went with its last process: no process on the host is in it",
    )?;
    Ok(seen)
}

/// The map's first line, as the stage read it inside: `0 65534 1`.
fn first_map(seen: &Observed) -> Option<String> {
    let map = seen.after(StageId::User, true, "uid_map (inside outside count): ")?;
    Some(map.split(", ").next()?.to_string())
}

/// Two boxes, the host's user namespace and the container's, the one
/// process in both with its ids in each; then the namespace without maps.
pub fn pictures(live: &Observed, broken: &Observed, style: Style) -> Vec<String> {
    let show = |v: Option<String>| v.unwrap_or_else(|| UNSEEN.to_string());
    let host_ns = live.after(StageId::User, false, "the host's user namespace: ");
    let container_ns = live.after(StageId::User, true, "user namespace: ");
    let outside = |seen: &Observed| {
        seen.after(StageId::User, false, "the host sees pid ")
            .and_then(|l| Some(l.split_once(" as ")?.1.split(':').next()?.to_string()))
    };
    let inside = |seen: &Observed| {
        seen.after(StageId::User, true, "uid ")
            .and_then(|l| Some(format!("uid {}", l.split(':').next()?)))
    };
    let capabilities = live
        .after(StageId::User, true, "CapEff ")
        .and_then(|l| Some(l.split_once(": ")?.1.split(',').next()?.to_string()));
    let pid = live.child().map(|p| p.to_string());
    let half = (WIDTH - 8) / 2;
    let host = Frame::new("the host's user namespace")
        .line(format!("user namespace {}", show(host_ns)))
        .line(format!(
            "pid {}: {}",
            show(pid.clone()),
            show(outside(live))
        ))
        .line("an ordinary user: no capability here")
        .draw_exactly(half, style);
    let container = Frame::new("the container's user namespace")
        .line(format!("user namespace {}", show(container_ns)))
        .line(format!("the same process: {}, root", show(inside(live))))
        .line(show(capabilities))
        .draw_exactly(half, style);
    let link = vec![
        String::new(),
        String::new(),
        format!(" {} ", style.both_ways()),
    ];
    let mut pictures = vec![draw::picture(
        &format!(
            "One process, two sets of ids: the map {} says which is which",
            show(first_map(live))
        ),
        draw::beside(&host, &link, &container),
    )];
    pictures.push(draw::picture(
        "Without a map: every id inside is the overflow id",
        Frame::new("a user namespace whose maps were never written")
            .line(format!(
                "uid_map: {}",
                show(broken.after(StageId::User, true, "uid_map (inside outside count): "))
            ))
            .line(format!("the command inside: {}", show(inside(broken))))
            .line(format!(
                "the same process on the host: {}",
                show(outside(broken))
            ))
            .line("a file of root's on the host shows as owned by 65534 inside")
            .draw(WIDTH, style),
    ));
    pictures
}
