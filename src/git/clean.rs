//! Proving a work tree unchanged from stat data alone, the way git's own
//! status does before it reads any file: every tracked file still has the
//! size, times, inode and mode the index recorded, every tracked directory
//! holds nothing but its tracked entries and ignored names, and nothing is
//! staged (the caller checked the index's cached tree is HEAD's).
//!
//! Why not libgit2's status: it stats each of the tracked files by absolute
//! path on one thread and lists every directory again to find untracked
//! files. Here each tracked directory is opened once, listed once, and its
//! files are stat'ed relative to it (`fstatat`), the directories shared by
//! up to four threads. On a 50,000-file tree this is the tag preflight's
//! critical path (docs/PERFORMANCE.md).
//!
//! The answer is only ever "unchanged" or "not proven": anything this
//! module does not fully understand (a stat field that differs, a racily
//! clean entry, a submodule, an untracked directory, many untracked names,
//! a read error) answers "not proven", and libgit2's full status, which
//! reads file contents where stat data is not enough, gives the answer.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};

use super::index::{Entry, Index};

/// The most untracked names checked against the ignore rules (one libgit2
/// call each); beyond that libgit2's own walk is the cheaper answer.
const MAX_UNTRACKED: usize = 64;

/// The most threads stat'ing at once.
const MAX_THREADS: usize = 4;

/// One tracked directory: its path (relative, `/`-separated, empty for the
/// work tree root), its tracked files (name, entry) and subdirectories,
/// each sorted by name.
struct Dir<'a> {
    path: &'a [u8],
    files: Vec<(&'a [u8], usize)>,
    subdirs: Vec<&'a [u8]>,
}

/// Whether `repo`'s work tree provably matches `index` (read by the caller
/// because its cached tree is HEAD's). `false` means "not proven", never
/// "changed".
pub(crate) fn is_unchanged(repo: &git2::Repository, index: &Index) -> bool {
    let Some(workdir) = repo.workdir() else {
        return false;
    };
    // Racily clean entries (changed in the same instant the index was
    // written) need their content read: git and libgit2 do, so not here.
    if index.entries.iter().any(|e| e.mtime >= index.written) {
        return false;
    }
    let Some(mut dirs) = directories(index) else {
        return false;
    };
    // The biggest directories first, so the threads finish together.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.files.len() + d.subdirs.len()));

    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let untracked = Mutex::new(Vec::new());
    let work = || {
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(dir) = dirs.get(i) else { break };
            if !dir_unchanged(workdir, dir, index, &untracked) {
                failed.store(true, Ordering::Relaxed);
            }
        }
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
        .min(dirs.len());
    std::thread::scope(|s| {
        for _ in 1..threads {
            // A thread that cannot start leaves its share to the others.
            let _ = std::thread::Builder::new()
                .name("almarel-stat".into())
                .spawn_scoped(s, work);
        }
        work();
    });
    if failed.load(Ordering::Relaxed) {
        return false;
    }
    let Ok(untracked) = untracked.into_inner() else {
        return false;
    };
    // An untracked name is fine only when ignored (by a pattern on it or on
    // a directory above it).
    untracked.iter().all(|p| {
        repo.is_path_ignored(Path::new(OsStr::from_bytes(p)))
            .unwrap_or(false)
    })
}

/// The tracked directories of `index`, or `None` when an entry is one this
/// module does not handle (a submodule, an unusual path).
fn directories(index: &Index) -> Option<Vec<Dir<'_>>> {
    let mut dirs: Vec<Dir<'_>> = vec![Dir {
        path: b"",
        files: Vec::new(),
        subdirs: Vec::new(),
    }];
    let mut by_path: HashMap<&[u8], usize> = HashMap::from([(&b""[..], 0)]);
    for (i, e) in index.entries.iter().enumerate() {
        if !matches!(e.mode, 0o100644 | 0o100755 | 0o120000) {
            return None; // a submodule (0o160000) has its own status
        }
        let path = index.path(e);
        let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(at) => (&path[..at], &path[at + 1..]),
            None => (&path[..0], path),
        };
        if name.is_empty() || name == b"." || name == b".." || name == b".git" {
            return None;
        }
        let d = dir_index(&mut dirs, &mut by_path, dir)?;
        dirs[d].files.push((name, i));
    }
    for d in &mut dirs {
        d.files.sort_unstable();
        d.subdirs.sort_unstable();
    }
    Some(dirs)
}

/// The position of directory `path` in `dirs`, added (with its parents)
/// when new.
fn dir_index<'a>(
    dirs: &mut Vec<Dir<'a>>,
    by_path: &mut HashMap<&'a [u8], usize>,
    path: &'a [u8],
) -> Option<usize> {
    if let Some(&d) = by_path.get(path) {
        return Some(d);
    }
    let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
        Some(at) => (&path[..at], &path[at + 1..]),
        None => (&path[..0], path),
    };
    if name.is_empty() || name == b"." || name == b".." || name == b".git" {
        return None;
    }
    let p = dir_index(dirs, by_path, parent)?;
    dirs[p].subdirs.push(name);
    dirs.push(Dir {
        path,
        files: Vec::new(),
        subdirs: Vec::new(),
    });
    by_path.insert(path, dirs.len() - 1);
    Some(dirs.len() - 1)
}

/// Whether `dir` holds exactly its tracked entries, each file unchanged by
/// its stat data; other names are added to `untracked` (to be checked
/// against the ignore rules).
fn dir_unchanged(
    workdir: &Path,
    dir: &Dir<'_>,
    index: &Index,
    untracked: &Mutex<Vec<Vec<u8>>>,
) -> bool {
    let root = dir.path.is_empty();
    let mut flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if !root {
        // A tracked directory replaced by a symbolic link is a change.
        flags |= OFlags::NOFOLLOW;
    }
    let Ok(fd) = rustix::fs::open(
        workdir.join(OsStr::from_bytes(dir.path)),
        flags,
        Mode::empty(),
    ) else {
        return false;
    };
    let Ok(listing) = rustix::fs::Dir::read_from(&fd) else {
        return false;
    };
    let (mut files, mut subdirs) = (0usize, 0usize);
    let mut others = Vec::new();
    for item in listing {
        let Ok(item) = item else { return false };
        let name = item.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if name == b".git" {
            if root {
                continue;
            }
            return false; // a repository inside the work tree: libgit2 decides
        }
        if let Ok(k) = dir.files.binary_search_by(|(n, _)| (*n).cmp(name)) {
            let entry = &index.entries[dir.files[k].1];
            match rustix::fs::statat(&fd, item.file_name(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if stat_matches(entry, &st) => files += 1,
                _ => return false,
            }
        } else if dir.subdirs.binary_search(&name).is_ok() {
            let is_dir = match item.file_type() {
                FileType::Directory => true,
                FileType::Unknown => {
                    rustix::fs::statat(&fd, item.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
                }
                _ => false,
            };
            if !is_dir {
                return false;
            }
            subdirs += 1;
        } else {
            let mut path = Vec::with_capacity(dir.path.len() + 1 + name.len());
            path.extend_from_slice(dir.path);
            if !root {
                path.push(b'/');
            }
            path.extend_from_slice(name);
            others.push(path);
        }
    }
    // Every tracked entry was seen (none deleted).
    if files != dir.files.len() || subdirs != dir.subdirs.len() {
        return false;
    }
    if others.is_empty() {
        return true;
    }
    let Ok(mut all) = untracked.lock() else {
        return false;
    };
    all.append(&mut others);
    all.len() <= MAX_UNTRACKED
}

/// Whether a file's stat data is what the index recorded: the same kind and
/// executable bit, size, modification and change times, inode, device and
/// owner (git keeps the low 32 bits of each).
fn stat_matches(e: &Entry, st: &Stat) -> bool {
    let mode = low32(st.st_mode);
    let git_mode = match mode & 0o170000 {
        0o100000 if mode & 0o100 != 0 => 0o100755,
        0o100000 => 0o100644,
        0o120000 => 0o120000,
        _ => return false,
    };
    git_mode == e.mode
        && e.size == low32(st.st_size)
        && e.mtime == (low32(st.st_mtime), low32(st.st_mtime_nsec))
        && e.ctime == (low32(st.st_ctime), low32(st.st_ctime_nsec))
        && e.ino == low32(st.st_ino)
        && e.dev == low32(st.st_dev)
        && e.uid == low32(st.st_uid)
        && e.gid == low32(st.st_gid)
}

/// The low 32 bits of a stat field, as git records it (the fields' types
/// differ between platforms).
fn low32<T: Into<i128>>(v: T) -> u32 {
    (v.into() & 0xffff_ffff) as u32
}
