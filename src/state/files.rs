//! The two rules every write under the state root follows:
//!
//! - Things appear whole: an image or container is built in a hidden
//!   staging directory and renamed into place in one step, and removed by
//!   renaming it out of sight first. A reader never sees half of one. A
//!   single file is written beside itself and renamed over the old one
//!   (but `net/last`, a hint read and written only under the network
//!   lock, which is rewritten in place).
//! - Ownership is a lock, not a pid file: whoever holds the `flock` on a
//!   directory owns it, and the kernel drops the lock when the owner dies,
//!   however it dies. A hidden directory whose lock is free is debris from
//!   a killed diyc and is reclaimed. The lock is taken on the directory
//!   itself, not on a file in it: on ext4 every new inode costs a run a
//!   tenth of a millisecond or more, and a rename moves the lock with the
//!   directory all the same.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, IoContext, Result};

/// The file a diyc before the directory locks locked instead: such a
/// directory keeps it, and its owner (an older diyc still running) holds
/// the lock there, so it is the one that counts for that directory.
const LEGACY_LOCK_FILE: &str = "lock";

/// An exclusive lock on a directory, held until dropped.
pub type Lock = Flock<File>;

/// Lock `dir` (None when `how` does not wait and someone holds it). The
/// directory's own lock comes first, so a held one, the usual case of a
/// running container that `ps` or a run's reclaim looks at, costs one
/// open; only a directory whose own lock was free is looked at for a
/// legacy file, whose lock then stands for it.
///
/// The lock is taken through a descriptor opened first, and in between
/// the directory may have been removed and another made at its path (a
/// `diyc rm` ending, then a new run of the same name): a lock on the old
/// one stands for nothing anyone can reach, and its holder would go on to
/// act on the new one's path. So the path is looked at again once locked.
/// Without waiting, the lock is then tried afresh on what the path names
/// now. A wait was for the directory that went, never for its successor
/// (`rm -f` would block behind a container it did not kill), so it ends
/// in NotFound, as does a path that has gone.
fn take(dir: &Path, how: FlockArg) -> Result<Option<Lock>> {
    let waits = matches!(how, FlockArg::LockExclusive | FlockArg::LockShared);
    loop {
        let file = open_dir(dir)?;
        if !HELD_ONCE.swap(true, Ordering::Relaxed) {
            crate::fault::hold("before-dir-lock");
        }
        let Some(own) = held_or_taken(file, dir.to_path_buf(), how)? else {
            return Ok(None);
        };
        let legacy = legacy_lock(dir, how)?;
        if still_names(dir, &own)? {
            return Ok(legacy.unwrap_or(Some(own)));
        }
        if waits {
            return Err(Error::Io {
                what: "locking",
                path: dir.to_path_buf(),
                source: std::io::Error::new(ErrorKind::NotFound, "removed while waited for"),
            });
        }
    }
}

/// A test holds diyc at its first directory lock only (fault.rs): a
/// second stop there would find nobody to continue it.
static HELD_ONCE: AtomicBool = AtomicBool::new(false);

/// The legacy file's lock, which stands for `dir` when the file is there
/// (None when it is not; Some(None) when someone holds it).
fn legacy_lock(dir: &Path, how: FlockArg) -> Result<Option<Option<Lock>>> {
    let legacy = dir.join(LEGACY_LOCK_FILE);
    match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&legacy)
    {
        Ok(file) => held_or_taken(file, legacy, how).map(Some),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).ctx("opening", &legacy),
    }
}

/// Does `path` still name the directory `file` was opened on?
fn still_names(path: &Path, file: &File) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata().ctx("reading", path)?;
    match fs::symlink_metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).ctx("reading", path),
    }
}

fn held_or_taken(file: File, path: PathBuf, how: FlockArg) -> Result<Option<Lock>> {
    match flock(file, path, how) {
        Ok(lock) => Ok(Some(lock)),
        Err(Error::Io { source, .. }) if source.raw_os_error() == Some(libc::EWOULDBLOCK) => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn open_dir(dir: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
        .ctx("opening", dir)
}

fn flock(file: File, path: PathBuf, how: FlockArg) -> Result<Lock> {
    Flock::lock(file, how).map_err(|(_, errno)| Error::Io {
        what: "locking",
        path,
        source: errno.into(),
    })
}

/// Take the lock of `dir` without waiting. None when someone holds it.
pub fn try_lock(dir: &Path) -> Result<Option<Lock>> {
    take(dir, FlockArg::LockExclusiveNonblock)
}

/// Take the lock of `dir`, a directory just made (so with no legacy file).
pub fn lock_new(dir: &Path) -> Result<Lock> {
    flock(open_dir(dir)?, dir.to_path_buf(), FlockArg::LockExclusive)
}

/// Wait for the lock of `dir`: used after asking its owner to die.
pub fn lock_wait(dir: &Path) -> Result<Lock> {
    take(dir, FlockArg::LockExclusive)?.ok_or_else(|| Error::Io {
        what: "locking",
        path: dir.to_path_buf(),
        source: std::io::Error::from_raw_os_error(libc::EWOULDBLOCK),
    })
}

/// Is anyone holding the lock of `dir`? (A missing directory counts as no.)
pub fn is_locked(dir: &Path) -> bool {
    matches!(try_lock(dir), Ok(None))
}

/// A hidden directory being built, locked, that becomes visible in one
/// rename. Dropped without `publish`, it removes itself.
pub struct Staging {
    path: Option<PathBuf>,
    lock: Option<Lock>,
}

impl Staging {
    /// `parent/.KIND-NAME-RANDOM`, created and locked.
    pub fn new(parent: &Path, kind: &str, name: &str) -> Result<Staging> {
        reclaim(parent);
        // Shared: many may create at once, but `reclaim` (exclusive) must not
        // run between our mkdir and our flock, when the directory looks dead.
        let _guard = parent_lock(parent, FlockArg::LockShared)?;
        let path = parent.join(format!(".{kind}-{name}-{:08x}", fastrand::u32(..)));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .ctx("creating", &path)?;
        let lock = match open_dir(&path)
            .and_then(|dir| flock(dir, path.clone(), FlockArg::LockExclusiveNonblock))
        {
            Ok(lock) => lock,
            Err(e) => {
                let _ = fs::remove_dir_all(&path);
                return Err(e);
            }
        };
        Ok(Staging {
            path: Some(path),
            lock: Some(lock),
        })
    }

    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new("/nonexistent"))
    }

    /// Rename into place. Ok(None) when `dest` already exists (somebody
    /// else published first); the staging directory is then removed.
    pub fn publish(mut self, dest: &Path) -> Result<Option<Lock>> {
        let Some(path) = self.path.take() else {
            return Ok(None);
        };
        match fs::rename(&path, dest) {
            Ok(()) => Ok(self.lock.take()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) => {
                let _ = fs::remove_dir_all(&path);
                Ok(None)
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&path);
                Err(e).ctx("renaming into place", dest)
            }
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = fs::remove_dir_all(path);
        }
    }
}

/// Remove `dir` so that it disappears at once: rename it to a hidden name
/// in the same parent, then delete that.
pub fn remove_dir(dir: &Path) -> Result<()> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("unnamed");
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let hidden = parent.join(format!(".rm-{name}-{:08x}", fastrand::u32(..)));
    match fs::rename(dir, &hidden) {
        Ok(()) => match fs::remove_dir_all(&hidden) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                open_up(&hidden);
                fs::remove_dir_all(&hidden).ctx("removing", &hidden)
            }
            other => other.ctx("removing", &hidden),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).ctx("removing", dir),
    }
}

/// Give back to their owner the directories below `dir` it may not look
/// into: overlayfs leaves its work/work at mode 000, which only a
/// capability could read past, and without root (one id mapped) diyc has
/// none.
fn open_up(dir: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return;
    }
    if meta.mode() & 0o700 != 0o700 {
        let _ = fs::set_permissions(
            dir,
            fs::Permissions::from_mode(meta.mode() & 0o7777 | 0o700),
        );
    }
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        open_up(&entry.path());
    }
}

fn parent_lock(parent: &Path, how: FlockArg) -> Result<Lock> {
    lock_file(parent.join(".lock"), how)
}

/// Lock the file at `path`, creating it if need be.
pub fn lock_file(path: PathBuf, how: FlockArg) -> Result<Lock> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
        .ctx("opening", &path)?;
    Flock::lock(file, how).map_err(|(_, errno)| Error::Io {
        what: "locking",
        path,
        source: errno.into(),
    })
}

/// Remove hidden staging and removal directories left by a diyc that was
/// killed: the ones whose lock nobody holds.
pub fn reclaim(parent: &Path) {
    let Ok(_guard) = parent_lock(parent, FlockArg::LockExclusiveNonblock) else {
        return;
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let hidden = name.to_str().is_some_and(|n| n.starts_with('.'));
        let path = entry.path();
        if hidden && entry.file_type().is_ok_and(|t| t.is_dir()) && !is_locked(&path) {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Write a file whole: a reader sees the old content or the new, never half.
/// The new content goes to a hidden file beside it first (`.NAME.tmp-…`),
/// which a killed writer may leave: `is_leftover` spots those.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.tmp-{:08x}", fastrand::u32(..)));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.ctx("writing", path)
}

/// A temporary file `write_atomic` did not get to rename.
pub fn is_leftover(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}
