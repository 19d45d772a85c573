//! `--user NAME|UID[:GROUP|GID]`: whom the command runs as, looked up in
//! the container's own /etc/passwd and /etc/group, never the host's. The
//! files are opened from the container's layers with RESOLVE_IN_ROOT, so a
//! symlink the image put there (to ../../../etc/passwd, say) resolves
//! inside the image as it would for the container.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};

use crate::error::{Error, Result};

/// Who the command runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: those /etc/group lists the user in.
    pub groups: Vec<u32>,
    /// From /etc/passwd, for HOME.
    pub home: Option<String>,
}

/// `spec` as the container's files say, from the first of `layers` (the
/// writable layer, then the image) that has each file.
pub fn resolve(layers: &[&Path], spec: &str) -> Result<User> {
    // The first layer that has the file, or deletes it with a whiteout.
    let file = |name: &str| {
        layers
            .iter()
            .find_map(|root| read_in_root(root, name))
            .flatten()
    };
    lookup(
        &file("etc/passwd").unwrap_or_default(),
        &file("etc/group").unwrap_or_default(),
        spec,
    )
    // The user may come from an image's config, not the command line.
    .map_err(|why| Error::invalid(crate::state::image::shown(&format!("--user {spec}: {why}"))))
}

/// The `--user` of container `name` of `store` with image `image`: its
/// files as the container sees them, its writable layer over the image.
/// The user's home becomes HOME in `env`, unless `extra` (the `-e`s) set it.
pub fn of_container(
    store: &crate::state::Store,
    name: &str,
    image: &str,
    spec: Option<&str>,
    env: &mut [String],
    extra: &[String],
) -> Result<Option<User>> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let upper = store.containers_dir().join(name).join("upper");
    let lowers = crate::state::image::lowers(store, image)?.unwrap_or_default();
    let roots: Vec<&std::path::Path> = std::iter::once(upper.as_path())
        .chain(lowers.iter().map(|l| l.as_path()))
        .collect();
    let user = resolve(&roots, spec)?;
    set_home(env, &user, extra);
    Ok(Some(user))
}

fn set_home(env: &mut [String], user: &User, extra: &[String]) {
    let (Some(home), false) = (&user.home, extra.iter().any(|e| e.starts_with("HOME="))) else {
        return;
    };
    for e in env.iter_mut().filter(|e| e.starts_with("HOME=")) {
        *e = format!("HOME={home}");
    }
}

/// The most of either file diyc reads: a container can write its own.
const MOST: u64 = 1 << 20;

/// A file of a root directory, opened as if that directory were `/`.
/// The writable layer is the container's to fill, so whatever is there
/// must be a regular file, and only its first MiB is read: a FIFO would
/// hang diyc, a device node would be opened by the host, and a sparse
/// terabyte would fill its memory.
/// A file of `root`, as if `root` were `/`: None if it is not there,
/// Some(None) if a whiteout there deletes it from the layers below.
fn read_in_root(root: &Path, name: &str) -> Option<Option<String>> {
    // Reading a directory needs no more than opening it to read.
    let dir = std::fs::File::open(root).ok()?;
    // O_PATH first: a whiteout (a character device 0:0) opens no other way.
    let look = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let found = std::fs::File::from(openat2(&dir, name, look).ok()?);
    let meta = found.metadata().ok()?;
    if meta.file_type().is_char_device() && meta.rdev() == 0 {
        return Some(None);
    }
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let file = std::fs::File::from(openat2(&dir, name, how).ok()?);
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(MOST).read_to_string(&mut text).ok()?;
    Some(Some(text))
}

/// The highest id diyc lets a container have: the kernel takes
/// 4294967295 (-1) to mean "leave it as it is", so a uid of -1 would leave
/// the command running as root; runc draws the line at the same place.
const HIGHEST_ID: u32 = i32::MAX as u32 - 1;

/// An id from a file: a number up to HIGHEST_ID.
fn id(text: &str) -> Option<u32> {
    text.parse().ok().filter(|n| *n <= HIGHEST_ID)
}

/// `--user`'s part as a number, if it is one (too big is an error).
fn number(text: &str) -> std::result::Result<Option<u32>, String> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    id(text)
        .map(Some)
        .ok_or_else(|| format!("{text} is above the highest id, {HIGHEST_ID}"))
}

/// The name `passwd` (a passwd file's text) gives user `uid`. diyc reads
/// the file itself rather than asking the C library, which in a static
/// binary would load its name-service modules at run time.
pub fn name_of(passwd: &str, uid: u32) -> Option<String> {
    entries(passwd)
        .find(|e| e.len() > 2 && e[2].parse() == Ok(uid))
        .map(|e| e[0].to_string())
}

/// The fields of each line of a colon-separated file.
fn entries(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').collect())
}

fn lookup(passwd: &str, group: &str, spec: &str) -> std::result::Result<User, String> {
    let (who, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if who.is_empty() || grp.is_some_and(str::is_empty) {
        return Err("give it as NAME, UID, NAME:GROUP or UID:GID".into());
    }
    // A number is the id itself, matched against ids only: an image
    // with a user *named* 1000 must not make `--user 1000` someone else.
    let wanted = number(who)?;
    let entry = entries(passwd).find(|e| {
        e.len() >= 4
            && match wanted {
                Some(uid) => id(e[2]) == Some(uid),
                None => e[0] == who,
            }
    });
    let bad = |what: &str| format!("the image's /etc/passwd has a bad {what} for {who}");
    let (name, uid, gid, home) = match (&entry, wanted) {
        (Some(e), _) => (
            Some(e[0]),
            id(e[2]).ok_or_else(|| bad("uid"))?,
            id(e[3]).ok_or_else(|| bad("gid"))?,
            e.get(5).map(|h| h.to_string()),
        ),
        // A number the image does not know runs as itself, in group 0.
        (None, Some(uid)) => (None, uid, 0, None),
        (None, None) => return Err(format!("no user {who} in the image's /etc/passwd")),
    };
    let gid = match grp {
        None => gid,
        Some(g) => match number(g)? {
            Some(gid) => gid,
            None => {
                let entry = entries(group)
                    .find(|e| e.len() >= 3 && e[0] == g)
                    .ok_or_else(|| format!("no group {g} in the image's /etc/group"))?;
                id(entry[2])
                    .ok_or_else(|| format!("the image's /etc/group has a bad gid for {g}"))?
            }
        },
    };
    let mut groups: Vec<u32> = match name {
        Some(name) => entries(group)
            .filter(|e| e.len() >= 4 && e[3].split(',').any(|m| m == name))
            .filter_map(|e| id(e[2]))
            .collect(),
        None => Vec::new(),
    };
    if !groups.contains(&gid) {
        groups.insert(0, gid);
    }
    Ok(User {
        uid,
        gid,
        groups,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\napp:x:1234:\nextra:x:2000:app,other\nsecond:x:3000:app\n";

    #[test]
    fn a_uid_is_named_by_its_passwd_line_and_only_by_its_uid() {
        assert_eq!(name_of(PASSWD, 1234).as_deref(), Some("app"));
        assert_eq!(name_of(PASSWD, 0).as_deref(), Some("root"));
        // 1234 is app's gid too, and no line's uid is 99.
        assert_eq!(name_of("g:x:1:1234::/:/bin/sh\n", 1234), None);
        assert_eq!(name_of(PASSWD, 99), None);
    }

    fn found(spec: &str) -> User {
        lookup(PASSWD, GROUP, spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
    }

    #[test]
    fn a_name_brings_its_ids_groups_and_home() {
        let user = found("app");
        assert_eq!((user.uid, user.gid), (1234, 1234));
        assert_eq!(user.groups, vec![1234, 2000, 3000]);
        assert_eq!(user.home.as_deref(), Some("/home/app"));
        let with_group = found("app:extra");
        assert_eq!(with_group.gid, 2000);
    }

    #[test]
    fn numbers_work_without_an_entry_and_unknown_names_do_not() {
        let user = found("4321:4321");
        assert_eq!((user.uid, user.gid, user.groups), (4321, 4321, vec![4321]));
        assert_eq!(lookup(PASSWD, GROUP, "4321").map(|u| u.gid), Ok(0));
        assert!(lookup(PASSWD, GROUP, "daemon").is_err());
        assert!(lookup(PASSWD, GROUP, "app:nogroup").is_err());
        assert!(lookup(PASSWD, GROUP, ":1").is_err());
    }

    #[test]
    fn an_image_cannot_turn_a_user_into_root() {
        // A uid of -1 would leave setresuid changing nothing.
        let minus_one = "app:x:4294967295:1000::/:/bin/sh\n";
        assert!(lookup(minus_one, GROUP, "app").is_err());
        assert!(lookup(PASSWD, GROUP, "4294967295:1000").is_err());
        assert!(lookup(PASSWD, GROUP, "1000:4294967295").is_err());
        // A user, or group, named like a number is not that number.
        let named = "1000:x:0:0::/:/bin/sh\n";
        assert_eq!(
            lookup(named, "100:x:0:\n", "1000").map(|u| (u.uid, u.gid)),
            Ok((1000, 0))
        );
        assert_eq!(
            lookup(PASSWD, "100:x:0:\n", "app:100").map(|u| u.gid),
            Ok(100)
        );
    }
}
