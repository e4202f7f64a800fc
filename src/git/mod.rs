//! The only module that imports git2: repositories, tags, commits and remotes.
//!
//! [`Repo`] answers questions about one work tree in almarel's terms (release
//! tags, commits, the state of the tree) and makes the two changes `tag`
//! needs: an annotated tag, and pushing exactly that ref. Remote operations
//! ([`Repo::fetch`], [`Repo::push_ref`]) run on a blocking thread with a
//! deadline and classify failures ([`FailureReason`]).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::version::{ReleaseTag, normalize_tag};

mod blob;
#[cfg(unix)]
mod clean;
mod index;
mod remote;
mod url;

pub use remote::{
    Access, DEFAULT_TIMEOUT, FailureReason, MAX_CREDENTIAL_CALLS, PushReport, RemoteFailure,
    RemoteRefs, RemoteTag,
};
pub use url::{RemoteKind, RemoteUrl, display_url, github_repository_from_url};

/// The root of the git work tree containing `dir`, if any.
pub fn work_tree_root(dir: &Path) -> Option<PathBuf> {
    let repo = git2::Repository::discover(dir).ok()?;
    repo.workdir().map(Path::to_path_buf)
}

/// The default for `github.repository`: `owner/name` parsed from the URL of
/// `remote` in the work tree containing `workdir`, when there is one.
pub fn default_repository(workdir: &Path, remote: &str) -> Option<String> {
    let repo = git2::Repository::discover(workdir).ok()?;
    let r = repo.find_remote(remote).ok()?;
    github_repository_from_url(r.url().ok()?)
}

/// Which transports this build of libgit2 has: `(https, ssh)`.
pub fn transports() -> (bool, bool) {
    let v = git2::Version::get();
    (v.https(), v.ssh())
}

/// One commit, as shown to people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommitInfo {
    /// Full SHA.
    pub sha: String,
    /// First 7 characters of the SHA.
    pub short: String,
    /// First line of the message.
    pub subject: String,
    /// `Name <email>` of the author.
    pub author: String,
}

/// A local tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTag {
    /// The commit it points at (peeled).
    pub commit: String,
    /// Whether it is an annotated tag object (not a lightweight ref).
    pub annotated: bool,
}

/// Where HEAD is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The branch checked out, `None` when HEAD is detached.
    pub branch: Option<String>,
    /// The commit, `None` on an unborn branch (no commit yet).
    pub commit: Option<String>,
}

/// Uncommitted changes in the work tree (ignored files excluded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeStatus {
    /// Paths with changes staged in the index.
    pub staged: Vec<String>,
    /// Tracked paths changed in the work tree but not staged.
    pub unstaged: Vec<String>,
    /// Untracked paths that are not ignored.
    pub untracked: Vec<String>,
    /// Paths with merge conflicts.
    pub conflicted: Vec<String>,
}

impl TreeStatus {
    /// Whether nothing is changed.
    pub fn is_clean(&self) -> bool {
        self.file_count() == 0
    }
    /// How many distinct paths are changed.
    pub fn file_count(&self) -> usize {
        let mut all: Vec<&String> = self
            .staged
            .iter()
            .chain(&self.unstaged)
            .chain(&self.untracked)
            .chain(&self.conflicted)
            .collect();
        all.sort();
        all.dedup();
        all.len()
    }
}

/// The git identity (`user.name`, `user.email`) from git config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `user.name`.
    pub name: String,
    /// `user.email`.
    pub email: String,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// A status read started on another thread, collected by [`Repo::status`].
type PendingStatus = std::thread::JoinHandle<Result<TreeStatus>>;

/// A git work tree.
pub struct Repo {
    repo: git2::Repository,
    git_dir: PathBuf,
    workdir: PathBuf,
    /// The work tree's status, being read on another thread while a fetch
    /// runs (see [`Repo::fetch`]); taken by the next [`Repo::status`].
    pending_status: std::sync::Mutex<Option<PendingStatus>>,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repo")
            .field("workdir", &self.workdir)
            .finish_non_exhaustive()
    }
}

fn git_err(what: &str, e: &git2::Error) -> Error {
    Error::local(format!("{what}: {}", e.message().trim()))
}

/// Whether `s` looks like an abbreviated or full commit SHA (7–40 hex).
pub fn is_sha_like(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

impl Repo {
    /// The work tree containing `dir`. Outside one (or in a bare repository):
    /// a usage error (exit 2) with a hint.
    pub fn discover(dir: &Path) -> Result<Repo> {
        let repo = git2::Repository::discover(dir).map_err(|e| {
            if e.code() == git2::ErrorCode::NotFound {
                Error::usage(format!("not inside a git work tree: {}", dir.display()))
                    .with_hint("run almarel in a clone of the project, or pass -C <DIR>")
            } else {
                Error::usage(format!(
                    "cannot open the git repository at {}: {}",
                    dir.display(),
                    e.message().trim()
                ))
                .with_hint("check the directory (for an ownership problem: git config --global --add safe.directory <DIR>)")
            }
        })?;
        let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
            return Err(Error::usage(format!(
                "not inside a git work tree: {} is a bare repository",
                dir.display()
            ))
            .with_hint("run almarel in a clone with a checkout, or pass -C <DIR>"));
        };
        let git_dir = repo.path().to_path_buf();
        Ok(Repo {
            repo,
            git_dir,
            workdir,
            pending_status: std::sync::Mutex::new(None),
        })
    }

    /// The work tree's root directory.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The URL of `remote` (its fetch URL), or a usage error when there is no
    /// such remote.
    pub fn remote_url(&self, remote: &str) -> Result<String> {
        let r = remote::find_remote(&self.repo, remote)?;
        r.url()
            .map(str::to_owned)
            .map_err(|_| Error::usage(format!("the URL of remote `{remote}` is not valid UTF-8")))
    }

    /// Where HEAD is: branch (or detached) and commit (or none yet).
    pub fn head(&self) -> Result<Head> {
        let detached = self
            .repo
            .head_detached()
            .map_err(|e| git_err("cannot read HEAD", &e))?;
        let branch = if detached {
            None
        } else {
            // Works on an unborn branch too: HEAD is a symbolic ref to it.
            let head = self
                .repo
                .find_reference("HEAD")
                .map_err(|e| git_err("cannot read HEAD", &e))?;
            head.symbolic_target()
                .ok()
                .flatten()
                .and_then(|t| t.strip_prefix("refs/heads/"))
                .map(str::to_owned)
        };
        let commit = match self.repo.head() {
            Ok(r) => r.peel_to_commit().ok().map(|c| c.id().to_string()),
            Err(e) if e.code() == git2::ErrorCode::UnbornBranch => None,
            Err(e) => return Err(git_err("cannot read HEAD", &e)),
        };
        Ok(Head { branch, commit })
    }

    /// Staged, unstaged, untracked (not ignored) and conflicted paths.
    ///
    /// Right after [`Repo::fetch`] or [`Repo::peek`] this is the status read
    /// on another thread while the fetch ran (a fetch does not touch the work
    /// tree); any later call reads it again.
    pub fn status(&self) -> Result<TreeStatus> {
        let pending = self.pending_status.lock().map_or(None, |mut p| p.take());
        if let Some(handle) = pending {
            return handle.join().unwrap_or_else(|_| {
                Err(Error::local(
                    "cannot read the working tree's status: the reading thread stopped unexpectedly",
                ))
            });
        }
        tree_status(&self.repo)
    }

    /// Starts reading the status on another thread (its own handle on the
    /// repository); [`Repo::status`] collects it.
    fn start_status(&self) {
        let git_dir = self.git_dir.clone();
        let spawned = std::thread::Builder::new()
            .name("almarel-status".into())
            .spawn(move || {
                let repo = git2::Repository::open(&git_dir)
                    .map_err(|e| git_err("cannot open the repository", &e))?;
                tree_status(&repo)
            });
        // Without a thread, status() simply reads it itself.
        if let (Ok(handle), Ok(mut slot)) = (spawned, self.pending_status.lock()) {
            *slot = Some(handle);
        }
    }

    /// The commit tag `name` points at (annotated tags peeled), if the tag exists.
    pub fn resolve_tag(&self, name: &str) -> Result<Option<String>> {
        Ok(self.local_tag(name)?.map(|t| t.commit))
    }

    /// The local tag `name`: its commit and whether it is annotated.
    pub fn local_tag(&self, name: &str) -> Result<Option<LocalTag>> {
        let r = match self.repo.find_reference(&format!("refs/tags/{name}")) {
            Ok(r) => r,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) if e.class() == git2::ErrorClass::Reference => return Ok(None),
            Err(e) => return Err(git_err(&format!("cannot read tag {name}"), &e)),
        };
        self.peel_tag(name, &r).map(Some)
    }

    /// The commit a tag reference points at, and whether it is annotated,
    /// reading as little as possible: a packed ref carries its peeled commit
    /// (`^` line of `packed-refs`), so only the object's header is read to
    /// check that it is a commit; a loose or unpeeled ref's object header
    /// says whether it is a commit (lightweight) or a tag object (annotated,
    /// which is then read and peeled).
    fn peel_tag(&self, name: &str, r: &git2::Reference<'_>) -> Result<LocalTag> {
        let fail = |e: &git2::Error| git_err(&format!("cannot read tag {name}"), e);
        let not_commit =
            |e: &git2::Error| git_err(&format!("tag {name} does not point at a commit"), e);
        let resolved;
        let r = if r.kind() == Some(git2::ReferenceType::Symbolic) {
            resolved = r.resolve().map_err(|e| fail(&e))?;
            &resolved
        } else {
            r
        };
        let oid = r
            .target()
            .ok_or_else(|| fail(&git2::Error::from_str("no target")))?;
        let odb = self.repo.odb().map_err(|e| fail(&e))?;
        if let Some(peeled) = r.target_peel() {
            let (_, kind) = odb.read_header(peeled).map_err(|e| fail(&e))?;
            if kind == git2::ObjectType::Commit {
                return Ok(LocalTag {
                    commit: peeled.to_string(),
                    annotated: true,
                });
            }
        }
        let (_, kind) = odb.read_header(oid).map_err(|e| fail(&e))?;
        match kind {
            git2::ObjectType::Commit => Ok(LocalTag {
                commit: oid.to_string(),
                annotated: false,
            }),
            _ => {
                let obj = self.repo.find_object(oid, None).map_err(|e| fail(&e))?;
                let commit = obj.peel_to_commit().map_err(|e| not_commit(&e))?;
                Ok(LocalTag {
                    commit: commit.id().to_string(),
                    annotated: obj.kind() == Some(git2::ObjectType::Tag),
                })
            }
        }
    }

    /// Every local tag reference under `refs/tags/` whose name (after
    /// `refs/tags/`) matches the glob `pattern`, in one pass over the refs.
    fn for_each_tag(
        &self,
        pattern: &str,
        mut each: impl FnMut(&str, &git2::Reference<'_>) -> Result<()>,
    ) -> Result<()> {
        let refs = self
            .repo
            .references_glob(&format!("refs/tags/{pattern}"))
            .map_err(|e| git_err("cannot list tags", &e))?;
        for r in refs {
            let r = r.map_err(|e| git_err("cannot list tags", &e))?;
            let Some(name) = r.name().ok().and_then(|n| n.strip_prefix("refs/tags/")) else {
                continue;
            };
            each(name, &r)?;
        }
        Ok(())
    }

    /// Every local tag whose name is `prefix` + SemVer, with its commit,
    /// sorted by version (lowest first).
    pub fn release_tags(&self, prefix: &str) -> Result<Vec<(ReleaseTag, String)>> {
        let mut out = Vec::new();
        self.for_each_tag(&format!("{prefix}*"), |name, r| {
            if let Some(rt) = ReleaseTag::from_name(name, prefix) {
                out.push((rt, self.peel_tag(name, r)?.commit));
            }
            Ok(())
        })?;
        out.sort_by(|a, b| a.0.version.cmp(&b.0.version));
        Ok(out)
    }

    /// The names of every local tag pointing at commit `sha` (full SHA), sorted.
    pub fn tags_at(&self, sha: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.for_each_tag("*", |name, r| {
            if self.peel_tag(name, r)?.commit == sha {
                out.push(name.to_owned());
            }
            Ok(())
        })?;
        out.sort();
        Ok(out)
    }

    fn find_commit(&self, rev: &str) -> Result<git2::Commit<'_>> {
        let obj = self
            .repo
            .revparse_single(rev)
            .map_err(|e| git_err(&format!("unknown revision {rev}"), &e))?;
        obj.peel_to_commit()
            .map_err(|e| git_err(&format!("{rev} is not a commit"), &e))
    }

    fn info(c: &git2::Commit<'_>) -> CommitInfo {
        let sha = c.id().to_string();
        let author = c.author();
        CommitInfo {
            short: sha.chars().take(7).collect(),
            sha,
            subject: c.summary().ok().flatten().unwrap_or("").to_owned(),
            author: format!(
                "{} <{}>",
                author.name().unwrap_or("?"),
                author.email().unwrap_or("?"),
            ),
        }
    }

    /// SHA, short SHA, subject and author of the commit `rev` names.
    pub fn commit_info(&self, rev: &str) -> Result<CommitInfo> {
        Ok(Self::info(&self.find_commit(rev)?))
    }

    /// The commits reachable from `to` but not from `from` (all of `to`'s
    /// history when `from` is `None`), newest first.
    pub fn commits_between(&self, from: Option<&str>, to: &str) -> Result<Vec<CommitInfo>> {
        let mut walk = self
            .repo
            .revwalk()
            .map_err(|e| git_err("cannot walk history", &e))?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
            .map_err(|e| git_err("cannot walk history", &e))?;
        walk.push(self.find_commit(to)?.id())
            .map_err(|e| git_err("cannot walk history", &e))?;
        if let Some(from) = from {
            walk.hide(self.find_commit(from)?.id())
                .map_err(|e| git_err("cannot walk history", &e))?;
        }
        let mut out = Vec::new();
        for oid in walk {
            let oid = oid.map_err(|e| git_err("cannot walk history", &e))?;
            let c = self
                .repo
                .find_commit(oid)
                .map_err(|e| git_err("cannot read a commit", &e))?;
            out.push(Self::info(&c));
        }
        Ok(out)
    }

    /// Files that differ between the trees of `from` and `to` whose path
    /// starts with one of `prefixes` (every changed file when `prefixes` is
    /// empty), sorted. Renames count under both names.
    pub fn changed_files(&self, from: &str, to: &str, prefixes: &[String]) -> Result<Vec<String>> {
        let a = self
            .find_commit(from)?
            .tree()
            .map_err(|e| git_err("cannot read a tree", &e))?;
        let b = self
            .find_commit(to)?
            .tree()
            .map_err(|e| git_err("cannot read a tree", &e))?;
        let diff = self
            .repo
            .diff_tree_to_tree(Some(&a), Some(&b), None)
            .map_err(|e| git_err("cannot compare commits", &e))?;
        let mut out = Vec::new();
        for d in diff.deltas() {
            for f in [d.old_file(), d.new_file()] {
                if let Some(p) = f.path().and_then(Path::to_str) {
                    let matches =
                        prefixes.is_empty() || prefixes.iter().any(|x| p.starts_with(x.as_str()));
                    if matches && !out.iter().any(|o| o == p) {
                        out.push(p.to_owned());
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// How many commits `local` has that `upstream` lacks, and the reverse.
    pub fn ahead_behind(&self, local: &str, upstream: &str) -> Result<(usize, usize)> {
        let l = self.find_commit(local)?.id();
        let u = self.find_commit(upstream)?.id();
        self.repo
            .graph_ahead_behind(l, u)
            .map_err(|e| git_err("cannot compare commits", &e))
    }

    /// Whether commit `ancestor` is reachable from `descendant` (and not the same commit).
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool> {
        let a = self.find_commit(ancestor)?.id();
        let d = self.find_commit(descendant)?.id();
        self.repo
            .graph_descendant_of(d, a)
            .map_err(|e| git_err("cannot compare commits", &e))
    }

    /// Whether commit `sha` is present in the local object database.
    pub fn has_commit(&self, sha: &str) -> bool {
        git2::Oid::from_str(sha)
            .ok()
            .is_some_and(|oid| self.repo.find_commit(oid).is_ok())
    }

    /// The full SHA for `rev`: 7–40 hex characters name a commit; anything
    /// else is a tag (`1.2.3` means `<prefix>1.2.3`). Unknown: usage error.
    pub fn resolve_commit(&self, rev: &str, tag_prefix: &str) -> Result<String> {
        if is_sha_like(rev) {
            if let Ok(obj) = self.repo.revparse_single(rev) {
                if let Ok(c) = obj.peel_to_commit() {
                    return Ok(c.id().to_string());
                }
            }
            if let Some(sha) = self.resolve_tag(rev)? {
                return Ok(sha);
            }
            return Err(Error::usage(format!("no commit {rev} in this clone"))
                .with_hint("git fetch, or check the SHA"));
        }
        let tag = normalize_tag(rev, tag_prefix);
        self.resolve_tag(&tag)?.ok_or_else(|| {
            Error::usage(format!("no tag {tag} in this clone"))
                .with_hint(format!("git fetch origin tag {tag}, or check the name"))
        })
    }

    /// The commit at `refs/remotes/<remote>/<branch>` (as last fetched), if any.
    pub fn remote_branch_sha(&self, remote: &str, branch: &str) -> Result<Option<String>> {
        match self
            .repo
            .find_reference(&format!("refs/remotes/{remote}/{branch}"))
        {
            Ok(r) => Ok(r.peel_to_commit().ok().map(|c| c.id().to_string())),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(git_err("cannot read the remote-tracking branch", &e)),
        }
    }

    /// `user.name` and `user.email` from git config, when both are set.
    pub fn identity(&self) -> Option<Identity> {
        let sig = self.repo.signature().ok()?;
        Some(Identity {
            name: sig.name().ok()?.to_owned(),
            email: sig.email().ok()?.to_owned(),
        })
    }

    /// Creates the annotated tag `name` on commit `sha`, tagger from git
    /// config. Fails if the tag exists (never overwrites).
    pub fn create_annotated_tag(&self, name: &str, sha: &str, message: &str) -> Result<()> {
        let tagger = self.repo.signature().map_err(|e| {
            Error::usage(format!(
                "no git identity to sign the tag with: {}",
                e.message().trim()
            ))
            .with_hint(
                "git config user.name \"Your Name\" && git config user.email you@example.com",
            )
        })?;
        let commit = self.find_commit(sha)?;
        let message = git2::message_prettify(message, None)
            .map_err(|e| git_err("invalid tag message", &e))?;
        self.repo
            .tag(name, commit.as_object(), &tagger, &message, false)
            .map_err(|e| git_err(&format!("cannot create tag {name}"), &e))?;
        Ok(())
    }

    /// Deletes the local tag `name` (no error when it does not exist).
    pub fn delete_tag(&self, name: &str) -> Result<()> {
        match self.repo.tag_delete(name) {
            Ok(()) => Ok(()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(()),
            Err(e) => Err(git_err(&format!("cannot delete tag {name}"), &e)),
        }
    }

    /// Fetches `branch` from `remote` (updating `refs/remotes/<remote>/<branch>`)
    /// and lists the remote's branch commit and tags. Never fetches tags into
    /// this repository. Failures are exit 4 with the reason. Meanwhile the
    /// work tree's status is read on another thread, for the next
    /// [`Repo::status`].
    pub async fn fetch(
        &self,
        remote: &str,
        branch: &str,
        access: &Access,
    ) -> std::result::Result<RemoteRefs, RemoteFailure> {
        self.fetch_inner(remote, branch, access, true).await
    }

    /// Like [`Repo::fetch`] but writes no ref (for `--dry-run`): the remote's
    /// objects for `branch` are downloaded so they can be compared locally.
    pub async fn peek(
        &self,
        remote: &str,
        branch: &str,
        access: &Access,
    ) -> std::result::Result<RemoteRefs, RemoteFailure> {
        self.fetch_inner(remote, branch, access, false).await
    }

    async fn fetch_inner(
        &self,
        remote: &str,
        branch: &str,
        access: &Access,
        update_tracking: bool,
    ) -> std::result::Result<RemoteRefs, RemoteFailure> {
        let (dir, r, b, a) = (
            self.git_dir.clone(),
            remote.to_owned(),
            branch.to_owned(),
            access.clone(),
        );
        // Independent work: the status of the work tree, read meanwhile.
        self.start_status();
        remote::run_with_deadline(
            format!("fetching from {remote}"),
            access.timeout(),
            move |cancel| remote::fetch_blocking(&dir, &r, &b, &a, update_tracking, cancel),
        )
        .await
    }

    /// Pushes exactly `refspec` (e.g. `refs/tags/v1.2.3:refs/tags/v1.2.3`) to
    /// `remote`, never forced. A refusal by the remote is
    /// [`FailureReason::Rejected`], even though libgit2 reports success.
    pub async fn push_ref(
        &self,
        remote: &str,
        refspec: &str,
        access: &Access,
    ) -> std::result::Result<PushReport, RemoteFailure> {
        let refspec = refspec.trim_start_matches('+').to_owned();
        let (dir, r, a) = (self.git_dir.clone(), remote.to_owned(), access.clone());
        remote::run_with_deadline(
            format!("pushing to {remote}"),
            access.timeout(),
            move |cancel| remote::push_blocking(&dir, &r, &refspec, &a, cancel),
        )
        .await
    }
}

/// The status of `repo`'s work tree. When the index's cached tree (its
/// `TREE` extension) is HEAD's tree and no entry is conflicted, nothing is
/// staged: only the index is compared with the work tree, first by stat data
/// alone ([`clean`], on Unix), then by libgit2 when that does not prove it.
fn tree_status(repo: &git2::Repository) -> Result<TreeStatus> {
    let head_tree = repo
        .head()
        .ok()
        .and_then(|h| h.peel_to_tree().ok())
        .map(|t| t.id());
    let index = head_tree.and_then(|t| index::Index::read_if_tree_is(repo.path(), t.as_bytes()));
    // Nothing staged, and every tracked file's stat data as recorded:
    // clean, without libgit2's walk (anything less certain takes it).
    #[cfg(unix)]
    if index.as_ref().is_some_and(|i| clean::is_unchanged(repo, i)) {
        return Ok(TreeStatus::default());
    }
    let index_is_head = index.is_some();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(false);
    if index_is_head {
        opts.show(git2::StatusShow::Workdir);
    }
    let statuses = repo
        .statuses(Some(&mut opts))
        .map_err(|e| git_err("cannot read the working tree's status", &e))?;
    let mut out = TreeStatus::default();
    for entry in statuses.iter() {
        let s = entry.status();
        let path = String::from_utf8_lossy(entry.path_bytes()).into_owned();
        if s.is_conflicted() {
            out.conflicted.push(path);
            continue;
        }
        if s.intersects(
            git2::Status::INDEX_NEW
                | git2::Status::INDEX_MODIFIED
                | git2::Status::INDEX_DELETED
                | git2::Status::INDEX_RENAMED
                | git2::Status::INDEX_TYPECHANGE,
        ) {
            out.staged.push(path.clone());
        }
        if s.intersects(
            git2::Status::WT_MODIFIED
                | git2::Status::WT_DELETED
                | git2::Status::WT_RENAMED
                | git2::Status::WT_TYPECHANGE,
        ) {
            out.unstaged.push(path.clone());
        }
        if s.contains(git2::Status::WT_NEW) {
            out.untracked.push(path);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
