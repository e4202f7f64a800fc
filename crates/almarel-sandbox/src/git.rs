//! A throwaway git world for `almarel rehearse` (and tests): a bare
//! `origin.git` and a clone on `main` with a local identity, built with
//! libgit2 so the rehearsal needs no `git` binary.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

fn err(what: &str, e: &git2::Error) -> Error {
    Error::local(format!("sandbox git: {what}: {}", e.message().trim()))
}

/// A bare origin and one clone of it.
#[derive(Debug, Clone)]
pub struct GitWorld {
    /// The bare remote (`origin`).
    pub origin: PathBuf,
    /// The clone almarel runs in (on `main`, tracking `origin/main`).
    pub clone: PathBuf,
}

/// One ref on the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginRef {
    /// Full ref name (`refs/heads/main`, `refs/tags/v1.2.3`).
    pub name: String,
    /// The commit it resolves to (annotated tags peeled).
    pub commit: String,
    /// Whether it is an annotated tag (a tag object).
    pub annotated: bool,
}

impl GitWorld {
    /// Creates `root/origin.git` (bare, HEAD → main) and `root/work` (a clone
    /// with `origin` as its remote and `name <email>` as its identity).
    pub fn create(root: &Path, name: &str, email: &str) -> Result<GitWorld> {
        let origin = root.join("origin.git");
        let clone = root.join("work");
        let mut opts = git2::RepositoryInitOptions::new();
        opts.bare(true).initial_head("main");
        git2::Repository::init_opts(&origin, &opts).map_err(|e| err("init origin", &e))?;
        let mut opts = git2::RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = git2::Repository::init_opts(&clone, &opts).map_err(|e| err("init clone", &e))?;
        let origin_url = origin.to_string_lossy().into_owned();
        repo.remote("origin", &origin_url)
            .map_err(|e| err("add remote", &e))?;
        let mut cfg = repo.config().map_err(|e| err("config", &e))?;
        for (k, v) in [
            ("user.name", name),
            ("user.email", email),
            ("branch.main.remote", "origin"),
            ("branch.main.merge", "refs/heads/main"),
            ("commit.gpgsign", "false"),
            ("tag.gpgsign", "false"),
        ] {
            cfg.set_str(k, v).map_err(|e| err("config", &e))?;
        }
        Ok(GitWorld { origin, clone })
    }

    fn repo(&self) -> Result<git2::Repository> {
        git2::Repository::open(&self.clone).map_err(|e| err("open clone", &e))
    }

    /// Writes `files` (path, content) in the clone and commits them on
    /// `main`; returns the new commit's SHA.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> Result<String> {
        let repo = self.repo()?;
        let mut index = repo.index().map_err(|e| err("index", &e))?;
        for (path, content) in files {
            let full = self.clone.join(path);
            if let Some(d) = full.parent() {
                std::fs::create_dir_all(d)
                    .map_err(|e| Error::local(format!("sandbox git: {}: {e}", d.display())))?;
            }
            std::fs::write(&full, content)
                .map_err(|e| Error::local(format!("sandbox git: {}: {e}", full.display())))?;
            index
                .add_path(Path::new(path))
                .map_err(|e| err("add", &e))?;
        }
        index.write().map_err(|e| err("write index", &e))?;
        let tree_id = index.write_tree().map_err(|e| err("write tree", &e))?;
        let tree = repo.find_tree(tree_id).map_err(|e| err("tree", &e))?;
        let sig = repo.signature().map_err(|e| err("identity", &e))?;
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let id = repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .map_err(|e| err("commit", &e))?;
        Ok(id.to_string())
    }

    /// An annotated tag `name` on `sha` in the clone (message `Release NAME`).
    pub fn tag(&self, name: &str, sha: &str) -> Result<()> {
        let repo = self.repo()?;
        let oid = git2::Oid::from_str(sha).map_err(|e| err("sha", &e))?;
        let obj = repo.find_object(oid, None).map_err(|e| err("find", &e))?;
        let sig = repo.signature().map_err(|e| err("identity", &e))?;
        repo.tag(name, &obj, &sig, &format!("Release {name}\n"), false)
            .map_err(|e| err(&format!("tag {name}"), &e))?;
        Ok(())
    }

    /// Pushes `refspecs` to origin (never forced) and updates
    /// `refs/remotes/origin/main` to what origin's `main` is now.
    pub fn push(&self, refspecs: &[&str]) -> Result<()> {
        let repo = self.repo()?;
        let mut remote = repo.find_remote("origin").map_err(|e| err("remote", &e))?;
        remote.push(refspecs, None).map_err(|e| err("push", &e))?;
        if let Some(main) = self
            .origin_refs()?
            .into_iter()
            .find(|r| r.name == "refs/heads/main")
        {
            let oid = git2::Oid::from_str(&main.commit).map_err(|e| err("sha", &e))?;
            repo.reference("refs/remotes/origin/main", oid, true, "sandbox push")
                .map_err(|e| err("tracking ref", &e))?;
        }
        Ok(())
    }

    /// Every ref on origin, sorted by name.
    pub fn origin_refs(&self) -> Result<Vec<OriginRef>> {
        let repo = git2::Repository::open_bare(&self.origin).map_err(|e| err("open origin", &e))?;
        let mut out = Vec::new();
        let refs = repo.references().map_err(|e| err("refs", &e))?;
        for r in refs.flatten() {
            let Ok(name) = r.name().map(str::to_owned) else {
                continue;
            };
            let annotated = r
                .target()
                .and_then(|t| repo.find_object(t, None).ok())
                .is_some_and(|o| o.kind() == Some(git2::ObjectType::Tag));
            let Ok(commit) = r.peel_to_commit() else {
                continue;
            };
            out.push(OriginRef {
                name,
                commit: commit.id().to_string(),
                annotated,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The commits of origin's `main`, oldest first (first parents), with
    /// their subjects.
    pub fn origin_history(&self) -> Result<Vec<(String, String)>> {
        let repo = git2::Repository::open_bare(&self.origin).map_err(|e| err("open origin", &e))?;
        let Ok(head) = repo.find_reference("refs/heads/main") else {
            return Ok(Vec::new());
        };
        let mut commit = head.peel_to_commit().map_err(|e| err("main", &e))?;
        let mut out = Vec::new();
        loop {
            let subject = commit.summary().ok().flatten().unwrap_or("").to_owned();
            out.push((commit.id().to_string(), subject));
            let Ok(parent) = commit.parent(0) else {
                break;
            };
            commit = parent;
        }
        out.reverse();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_tags_and_pushes_reach_the_origin() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::local(e.to_string()))?;
        let w = GitWorld::create(dir.path(), "Dev", "dev@example.invalid")?;
        let first = w.commit(&[("a.txt", "a\n")], "First")?;
        let second = w.commit(&[("dir/b.txt", "b\n")], "Second")?;
        w.tag("v1.0.0", &first)?;
        w.push(&[
            "refs/heads/main:refs/heads/main",
            "refs/tags/v1.0.0:refs/tags/v1.0.0",
        ])?;
        let refs = w.origin_refs()?;
        assert_eq!(
            refs,
            vec![
                OriginRef {
                    name: "refs/heads/main".into(),
                    commit: second.clone(),
                    annotated: false
                },
                OriginRef {
                    name: "refs/tags/v1.0.0".into(),
                    commit: first.clone(),
                    annotated: true
                },
            ]
        );
        assert_eq!(
            w.origin_history()?,
            vec![
                (first, "First".to_owned()),
                (second.clone(), "Second".to_owned())
            ]
        );
        // The clone tracks origin/main and its tree is clean.
        let repo = git2::Repository::open(&w.clone).map_err(|e| err("open", &e))?;
        let mut opts = git2::StatusOptions::new();
        opts.include_untracked(true).recurse_untracked_dirs(true);
        let statuses = repo
            .statuses(Some(&mut opts))
            .map_err(|e| err("status", &e))?;
        assert!(statuses.is_empty());
        let tracking = repo
            .find_reference("refs/remotes/origin/main")
            .map_err(|e| err("origin/main", &e))?;
        assert_eq!(tracking.target().map(|o| o.to_string()), Some(second));
        let cfg = repo.config().map_err(|e| err("config", &e))?;
        assert_eq!(
            cfg.get_string("branch.main.remote").ok().as_deref(),
            Some("origin")
        );
        Ok(())
    }
}
