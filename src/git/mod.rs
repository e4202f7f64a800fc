//! The only module that imports git2: repositories, tags, commits and remotes.

use std::path::{Path, PathBuf};

/// The root of the git work tree containing `dir`, if any.
pub fn work_tree_root(dir: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::discover(dir).ok()?;
    repo.workdir().map(Path::to_path_buf)
}
