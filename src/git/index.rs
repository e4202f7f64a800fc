//! Just enough of git's index file format to answer two questions cheaply:
//! is the index's cached tree (the `TREE` extension) a given tree, and what
//! stat data did git record for each entry? When the cached tree is HEAD's,
//! nothing is staged and the status can skip comparing HEAD's tree with the
//! index (reading every tree object of HEAD); the recorded stat data lets
//! [`super::clean`] prove the work tree unchanged without reading a file.
//!
//! Anything unusual (index version 4, a split index, conflicted,
//! skip-worktree or intent-to-add entries, an invalidated root, a count that
//! does not match) answers "no", and the full comparison runs as before.

use std::path::Path;

/// Size of an object id in the index (SHA-1).
const OID_LEN: usize = 20;

/// One index entry's recorded stat data (git keeps the low 32 bits of each
/// field) and where its path is in the index file. Read by the stat check,
/// which exists on Unix only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) struct Entry {
    /// `st_ctime` seconds and nanoseconds.
    pub ctime: (u32, u32),
    /// `st_mtime` seconds and nanoseconds.
    pub mtime: (u32, u32),
    /// `st_dev`.
    pub dev: u32,
    /// `st_ino`.
    pub ino: u32,
    /// git's mode: 0o100644, 0o100755, 0o120000 (symbolic link) or 0o160000 (submodule).
    pub mode: u32,
    /// `st_uid`.
    pub uid: u32,
    /// `st_gid`.
    pub gid: u32,
    /// `st_size`.
    pub size: u32,
    path: (usize, usize),
}

/// An index whose cached root tree is valid and covers every entry, and
/// whose entries are all plain stage-0 entries.
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) struct Index {
    data: Vec<u8>,
    /// The entries, sorted by path as git writes them.
    pub entries: Vec<Entry>,
    /// When this index file was written (mtime seconds and nanoseconds, low
    /// 32 bits), read from the same open file as its content: an entry not
    /// older than this is racily clean.
    pub written: (u32, u32),
}

impl Index {
    /// Reads `git_dir`'s index, when its cached root tree is `tree` (raw id
    /// bytes): nothing is staged.
    pub(crate) fn read_if_tree_is(git_dir: &Path, tree: &[u8]) -> Option<Index> {
        // One open file for the time and the content: git replaces the index
        // by renaming a new file over it, so both belong to the same write.
        let mut file = std::fs::File::open(git_dir.join("index")).ok()?;
        let written = written(&file.metadata().ok()?);
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut data).ok()?;
        let (entries, root) = parse(&data)?;
        (root == tree).then_some(Index {
            data,
            entries,
            written,
        })
    }

    /// An entry's path relative to the work tree, `/`-separated.
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn path(&self, e: &Entry) -> &[u8] {
        &self.data[e.path.0..e.path.0 + e.path.1]
    }
}

/// A file's modification time as git records it (low 32 bits of seconds and
/// nanoseconds).
#[cfg(unix)]
fn written(meta: &std::fs::Metadata) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    (
        (meta.mtime() & 0xffff_ffff) as u32,
        (meta.mtime_nsec() & 0xffff_ffff) as u32,
    )
}

/// Elsewhere the stat check does not run; the time is not used.
#[cfg(not(unix))]
fn written(_: &std::fs::Metadata) -> (u32, u32) {
    (u32::MAX, u32::MAX)
}

/// Whether the index in `git_dir` has a valid cached root tree equal to
/// `tree` (raw id bytes) and no entry needing the full comparison.
#[cfg(test)]
pub(crate) fn cached_tree_is(git_dir: &Path, tree: &[u8]) -> bool {
    Index::read_if_tree_is(git_dir, tree).is_some()
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// The entries and the root tree id recorded in the index's `TREE`
/// extension, when it is valid and covers every entry, and every entry is a
/// plain stage-0 entry.
fn parse(data: &[u8]) -> Option<(Vec<Entry>, &[u8])> {
    if data.get(0..4)? != b"DIRC" {
        return None;
    }
    let version = be32(data, 4)?;
    if version != 2 && version != 3 {
        return None;
    }
    let count = be32(data, 8)? as usize;
    let end = data.len().checked_sub(OID_LEN)?;
    let mut entries = Vec::with_capacity(count.min(end / 62));
    let mut at = 12usize;
    for _ in 0..count {
        // ctime, mtime (8 each), dev, ino, mode, uid, gid, size (4 each), oid.
        let flags = be16(data, at + 40 + OID_LEN)?;
        let mut header = 40 + OID_LEN + 2;
        if flags & 0x3000 != 0 {
            return None; // a conflict (stage 1–3)
        }
        if flags & 0x4000 != 0 {
            if version < 3 || be16(data, at + header)? != 0 {
                return None; // skip-worktree or intent-to-add
            }
            header += 2;
        }
        let mut name_len = usize::from(flags & 0x0fff);
        if name_len == 0x0fff {
            let name = data.get(at + header..end)?;
            name_len = name.iter().position(|&b| b == 0)?;
        }
        let field = |i: usize| be32(data, at + 4 * i);
        entries.push(Entry {
            ctime: (field(0)?, field(1)?),
            mtime: (field(2)?, field(3)?),
            dev: field(4)?,
            ino: field(5)?,
            mode: field(6)?,
            uid: field(7)?,
            gid: field(8)?,
            size: field(9)?,
            path: (at + header, name_len),
        });
        // Entries are NUL-padded to a multiple of 8 bytes.
        at += (header + name_len + 8) & !7;
        if at > end {
            return None;
        }
    }
    // Extensions fill the space up to the trailing checksum exactly (a
    // file cut short does not).
    let mut root = None;
    while at < end {
        let signature = data.get(at..at + 4)?;
        let size = be32(data, at + 4)? as usize;
        let body_end = (at + 8).checked_add(size)?;
        if body_end > end {
            return None;
        }
        let body = data.get(at + 8..body_end)?;
        match signature {
            b"TREE" => root = Some(root_of_tree_extension(body, count)?),
            b"link" => return None, // split index: entries live elsewhere
            b"sdir" => return None, // sparse index: directories as entries
            _ => {}
        }
        at = body_end;
    }
    if at != end {
        return None;
    }
    Some((entries, root?))
}

/// The first `TREE` entry is the root: `"" NUL <entries> SP <subtrees> LF <oid>`;
/// `<entries>` is -1 when invalidated.
fn root_of_tree_extension(body: &[u8], count: usize) -> Option<&[u8]> {
    let (&0, rest) = body.split_first()? else {
        return None; // the first entry is not the root
    };
    let line_end = rest.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&rest[..line_end]).ok()?;
    let (entries, _subtrees) = line.split_once(' ')?;
    let entries: i64 = entries.parse().ok()?;
    if usize::try_from(entries).ok()? != count {
        return None;
    }
    rest.get(line_end + 1..line_end + 1 + OID_LEN)
}
