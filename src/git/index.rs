//! Just enough of git's index file format to answer one question cheaply:
//! is the index's cached tree (the `TREE` extension) a given tree? When it
//! is HEAD's tree, nothing is staged and the status can skip comparing
//! HEAD's tree with the index (reading every tree object of HEAD).
//!
//! Anything unusual (index version 4, a split index, conflicted,
//! skip-worktree or intent-to-add entries, an invalidated root, a count that
//! does not match) answers "no", and the full comparison runs as before.
//!
//! The same reading gives the shape of the tracked tree ([`Layout`]: every
//! cached directory with its number of entries, and each entry's path), which
//! is what splitting the status across threads needs.

use std::path::Path;

/// Size of an object id in the index (SHA-1).
const OID_LEN: usize = 20;

/// Whether the index in `git_dir` has a valid cached root tree equal to
/// `tree` (raw id bytes) and no entry needing the full comparison.
pub(crate) fn cached_tree_is(git_dir: &Path, tree: &[u8]) -> bool {
    match std::fs::read(git_dir.join("index")) {
        Ok(data) => cached_root_tree(&data).is_some_and(|p| p.root == tree),
        Err(_) => false,
    }
}

/// A directory of the index's cached tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dir {
    /// Its name (one path component; empty for the root).
    pub name: String,
    /// How many index entries (files) it holds, at any depth.
    pub entries: usize,
    /// Its subdirectories, as recorded.
    pub dirs: Vec<Dir>,
}

/// The tracked tree as the index records it, when its cached tree is HEAD's.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The root directory.
    pub root: Dir,
    /// Every entry's path, in index order.
    pub paths: Vec<String>,
}

/// The [`Layout`] of the index in `git_dir` when its cached tree is valid,
/// equal to `tree`, and every entry and directory name is UTF-8.
pub(crate) fn layout_if_tree_is(git_dir: &Path, tree: &[u8]) -> Option<Layout> {
    let data = std::fs::read(git_dir.join("index")).ok()?;
    let parsed = cached_root_tree(&data)?;
    if parsed.root != tree {
        return None;
    }
    let mut body = parsed.tree_body;
    let root = read_dir(&mut body, 0)?;
    if root.entries != parsed.names.len() {
        return None;
    }
    let paths = parsed
        .names
        .iter()
        .map(|n| std::str::from_utf8(n).ok().map(str::to_owned))
        .collect::<Option<Vec<_>>>()?;
    Some(Layout { root, paths })
}

/// One `TREE` entry and its subtrees (pre-order): `name NUL entries SP
/// subtrees LF oid`. An invalidated entry (`-1`) anywhere: `None`.
fn read_dir(body: &mut &[u8], depth: usize) -> Option<Dir> {
    if depth > 256 {
        return None;
    }
    let nul = body.iter().position(|&b| b == 0)?;
    let name = std::str::from_utf8(&body[..nul]).ok()?.to_owned();
    let rest = &body[nul + 1..];
    let line_end = rest.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&rest[..line_end]).ok()?;
    let (entries, subtrees) = line.split_once(' ')?;
    let entries = usize::try_from(entries.parse::<i64>().ok()?).ok()?;
    let subtrees: usize = subtrees.parse().ok()?;
    *body = rest.get(line_end + 1 + OID_LEN..)?;
    let mut dirs = Vec::with_capacity(subtrees.min(1024));
    for _ in 0..subtrees {
        dirs.push(read_dir(body, depth + 1)?);
    }
    Some(Dir {
        name,
        entries,
        dirs,
    })
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// What [`cached_root_tree`] found.
struct Parsed<'a> {
    /// The root tree id.
    root: &'a [u8],
    /// The whole `TREE` extension.
    tree_body: &'a [u8],
    /// Each entry's path.
    names: Vec<&'a [u8]>,
}

/// The root tree id recorded in the index's `TREE` extension, when it is
/// valid and covers every entry, and every entry is a plain stage-0 entry.
fn cached_root_tree(data: &[u8]) -> Option<Parsed<'_>> {
    if data.get(0..4)? != b"DIRC" {
        return None;
    }
    let version = be32(data, 4)?;
    if version != 2 && version != 3 {
        return None;
    }
    let count = be32(data, 8)? as usize;
    let end = data.len().checked_sub(OID_LEN)?;
    let mut at = 12usize;
    let mut names = Vec::with_capacity(count.min(1 << 20));
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
        names.push(data.get(at + header..at + header + name_len)?);
        // Entries are NUL-padded to a multiple of 8 bytes.
        at += (header + name_len + 8) & !7;
        if at > end {
            return None;
        }
    }
    // Extensions fill the space up to the trailing checksum exactly (a
    // file cut short does not).
    let mut root = None;
    let mut tree_body: &[u8] = &[];
    while at < end {
        let signature = data.get(at..at + 4)?;
        let size = be32(data, at + 4)? as usize;
        let body_end = (at + 8).checked_add(size)?;
        if body_end > end {
            return None;
        }
        let body = data.get(at + 8..body_end)?;
        match signature {
            b"TREE" => {
                root = Some(root_of_tree_extension(body, count)?);
                tree_body = body;
            }
            b"link" => return None, // split index: entries live elsewhere
            _ => {}
        }
        at = body_end;
    }
    if at != end {
        return None;
    }
    Some(Parsed {
        root: root?,
        tree_body,
        names,
    })
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
