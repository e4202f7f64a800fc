//! Splitting the work tree's status across threads.
//!
//! On a large work tree the status is mostly `lstat` and `readdir` calls,
//! one thread after the other in libgit2 (git spreads them over threads:
//! `core.preloadIndex`). When nothing is staged (the index's cached tree is
//! HEAD's, see [`super::index`]), only the index is compared with the work
//! tree, and that comparison can be cut into disjoint parts: each part is a
//! list of literal paths (libgit2 pathspecs with pattern matching off, a
//! directory covering everything below it), read by its own thread.
//!
//! The parts cover every path: a directory is split into its direct children,
//! which are its tracked subdirectories (from the cached tree), its tracked
//! files (from the index, deleted ones included) and whatever else the
//! directory holds on disk (untracked files and directories). Big
//! directories are split further, down to parts of about
//! `entries ÷ (4 × threads)` entries, then the parts are dealt to the
//! threads heaviest first. Anything unexpected (a name that is not UTF-8, a
//! directory that cannot be read) gives no plan, and one thread reads it all.

use std::collections::BTreeSet;
use std::path::Path;

use super::index::{Dir, Layout};

/// Below this many index entries the status runs on one thread.
pub(crate) const MIN_ENTRIES: usize = 5_000;

/// How many directories may be split into their children.
const MAX_SPLITS: usize = 32;

/// One part: a literal path, its weight (index entries below it), and its
/// cached directory when it is a tracked directory.
type Unit<'a> = (String, usize, Option<&'a Dir>);

/// How many threads the status may use: the machine's parallelism, at most 4.
pub(crate) fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Lists of literal paths, one per thread (at least two), that together
/// cover the whole work tree at `workdir` exactly once; `None`: one thread.
pub(crate) fn plan(workdir: &Path, layout: &Layout, threads: usize) -> Option<Vec<Vec<String>>> {
    if threads < 2 {
        return None;
    }
    let limit = layout.root.entries / (threads * 4) + 1;
    let mut units = children(workdir, layout, "", &layout.root)?;
    for _ in 0..MAX_SPLITS {
        let heaviest = units
            .iter()
            .enumerate()
            .filter(|(_, u)| u.1 > limit && u.2.is_some_and(|d| !d.dirs.is_empty()))
            .max_by_key(|(_, u)| u.1)
            .map(|(i, _)| i);
        let Some(i) = heaviest else {
            break;
        };
        // Only a real directory on disk is split (a deleted one, or one
        // replaced by a file or a symlink, stays whole).
        let real_dir = std::fs::symlink_metadata(workdir.join(&units[i].0))
            .is_ok_and(|m| m.file_type().is_dir());
        if !real_dir {
            units[i].2 = None;
            continue;
        }
        let (path, _, dir) = units.swap_remove(i);
        units.extend(children(workdir, layout, &path, dir?)?);
    }
    // Heaviest first, each to the lightest thread so far.
    units.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut parts: Vec<(usize, Vec<String>)> = vec![(0, Vec::new()); threads];
    for (path, weight, _) in units {
        let lightest = parts.iter_mut().min_by_key(|p| p.0)?;
        lightest.0 += weight.max(1);
        lightest.1.push(path);
    }
    let parts: Vec<Vec<String>> = parts
        .into_iter()
        .map(|p| p.1)
        .filter(|p| !p.is_empty())
        .collect();
    (parts.len() >= 2).then_some(parts)
}

/// The direct children of the directory at `path` (`""`: the root).
fn children<'a>(
    workdir: &Path,
    layout: &Layout,
    path: &str,
    dir: &'a Dir,
) -> Option<Vec<Unit<'a>>> {
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for d in &dir.dirs {
        if d.name.is_empty() || d.name.contains('/') {
            return None;
        }
        seen.insert(d.name.clone());
        out.push((format!("{prefix}{}", d.name), d.entries, Some(d)));
    }
    for p in &layout.paths {
        if let Some(rest) = p.strip_prefix(&prefix) {
            if !rest.contains('/') && seen.insert(rest.to_owned()) {
                out.push((p.clone(), 1, None));
            }
        }
    }
    for e in std::fs::read_dir(workdir.join(path)).ok()? {
        let name = e.ok()?.file_name().into_string().ok()?;
        if path.is_empty() && name == ".git" {
            continue;
        }
        if seen.insert(name.clone()) {
            out.push((format!("{prefix}{name}"), 1, None));
        }
    }
    Some(out)
}
