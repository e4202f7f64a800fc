//! Just enough of git's index file format to answer one question cheaply:
//! is the index's cached tree (the `TREE` extension) a given tree? When it
//! is HEAD's tree, nothing is staged and the status can skip comparing
//! HEAD's tree with the index (reading every tree object of HEAD).
//!
//! Anything unusual (index version 4, a split index, conflicted,
//! skip-worktree or intent-to-add entries, an invalidated root, a count that
//! does not match) answers "no", and the full comparison runs as before.

use std::path::Path;

/// Size of an object id in the index (SHA-1).
const OID_LEN: usize = 20;

/// Whether the index in `git_dir` has a valid cached root tree equal to
/// `tree` (raw id bytes) and no entry needing the full comparison.
pub(crate) fn cached_tree_is(git_dir: &Path, tree: &[u8]) -> bool {
    match std::fs::read(git_dir.join("index")) {
        Ok(data) => cached_root_tree(&data).is_some_and(|root| root == tree),
        Err(_) => false,
    }
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// The root tree id recorded in the index's `TREE` extension, when it is
/// valid and covers every entry, and every entry is a plain stage-0 entry.
fn cached_root_tree(data: &[u8]) -> Option<&[u8]> {
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
            _ => {}
        }
        at = body_end;
    }
    if at != end {
        return None;
    }
    root
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
