//! Reading one file as it is at a commit (the workflow file at a tagged
//! commit, for the trigger diagnosis), without touching the work tree.

use std::path::Path;

use super::{Repo, git_err};
use crate::error::{Error, Result};

impl Repo {
    /// The text of `path` (relative to the repository root, `/`-separated)
    /// in the tree of commit `sha`. `None` when the commit is not in this
    /// clone or has no such file; an error when it is not a file or not
    /// UTF-8.
    pub fn file_at(&self, sha: &str, path: &str) -> Result<Option<String>> {
        let Ok(oid) = git2::Oid::from_str(sha) else {
            return Ok(None);
        };
        let Ok(commit) = self.repo.find_commit(oid) else {
            return Ok(None);
        };
        let tree = commit
            .tree()
            .map_err(|e| git_err("cannot read a tree", &e))?;
        let entry = match tree.get_path(Path::new(path)) {
            Ok(e) => e,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(git_err(&format!("cannot read {path} at {sha}"), &e)),
        };
        let object = entry
            .to_object(&self.repo)
            .map_err(|e| git_err(&format!("cannot read {path} at {sha}"), &e))?;
        let Some(blob) = object.as_blob() else {
            return Err(Error::local(format!("{path} at {sha} is not a file")));
        };
        String::from_utf8(blob.content().to_vec())
            .map(Some)
            .map_err(|_| Error::local(format!("{path} at {sha} is not UTF-8 text")))
    }
}
