//! The repository checks before a release is tagged (the runbook's "Before
//! Tagging"): HEAD on the release branch, a clean tree, HEAD equal to the
//! remote branch, a version above every release tag. `tag` runs them before
//! it tags, `checklist` shows them in its `before-tagging` phase; both get
//! the same verdicts and the same words from here.

use crate::error::Result;
use crate::git::{Head, RemoteFailure, RemoteRefs, Repo, TreeStatus};
use crate::report::Check;
use crate::version::{ReleaseTag, ReleaseVersion, short_sha};

/// The release tags known locally and on the remote (when it was read), by
/// name → commit; a tag in both is listed once, at its local commit.
pub fn known_release_tags(
    repo: &Repo,
    prefix: &str,
    remote: Option<&RemoteRefs>,
) -> Result<Vec<(ReleaseTag, String)>> {
    let mut release: Vec<(ReleaseTag, String)> = repo.release_tags(prefix)?;
    if let Some(refs) = remote {
        for (name, rt) in &refs.tags {
            if release.iter().any(|(t, _)| t.name == *name) {
                continue;
            }
            if let Some(t) = ReleaseTag::from_name(name, prefix) {
                release.push((t, rt.commit.clone()));
            }
        }
    }
    Ok(release)
}

/// The "branch" check: HEAD is on `branch`.
pub fn check_branch(branch: &str, head: &Head, head_sha: &str) -> Check {
    match &head.branch {
        Some(b) if b == branch => Check::pass("branch", format!("on {branch}")),
        Some(b) => Check::fail(
            "branch",
            format!("on branch {b}, not {branch}"),
            format!("git switch {branch}"),
        ),
        None => Check::fail(
            "branch",
            format!(
                "HEAD is detached at {}, not on {branch}",
                short_sha(head_sha)
            ),
            format!("git switch {branch}"),
        ),
    }
}

/// The "clean" check: no staged, modified, untracked (not ignored) or
/// conflicted file.
pub fn check_clean(status: &TreeStatus) -> Check {
    let st = status;
    if st.is_clean() {
        Check::pass("clean", "working tree clean")
    } else {
        let mut parts = Vec::new();
        for (n, what) in [
            (st.staged.len(), "staged"),
            (st.unstaged.len(), "modified"),
            (st.untracked.len(), "untracked"),
            (st.conflicted.len(), "conflicted"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        let mut paths: Vec<&String> = st
            .staged
            .iter()
            .chain(&st.unstaged)
            .chain(&st.untracked)
            .chain(&st.conflicted)
            .collect();
        paths.sort();
        paths.dedup();
        let shown: Vec<&str> = paths.iter().take(5).map(|p| p.as_str()).collect();
        let more = if paths.len() > 5 {
            format!(", … {} more", paths.len() - 5)
        } else {
            String::new()
        };
        Check::fail(
            "clean",
            format!(
                "working tree has {}: {} ({}{more})",
                plural(st.file_count(), "changed file", "changed files"),
                parts.join(", "),
                shown.join(", ")
            ),
            "commit or stash them (untracked files: remove them or add them to .gitignore)",
        )
    }
}

/// The "up to date" check: the remote was read and HEAD equals
/// `<remote>/<branch>` there.
pub fn check_up_to_date(
    remote: &str,
    branch: &str,
    repo: &Repo,
    fetched: &std::result::Result<RemoteRefs, RemoteFailure>,
    head_sha: &str,
) -> Result<Check> {
    let tracking = format!("{remote}/{branch}");
    Ok(match fetched {
        Err(f) => Check::fail(
            "up to date",
            format!("cannot compare with {tracking}: {}", f.error.message),
            f.error.hint().unwrap_or("check the remote").to_owned(),
        ),
        Ok(refs) => match &refs.branch {
            None => Check::fail(
                "up to date",
                format!("{remote} has no branch {branch}"),
                format!("push {branch} first: git push {remote} {branch}"),
            ),
            Some(rsha) if rsha == head_sha => Check::pass(
                "up to date",
                format!("HEAD = {tracking} ({})", short_sha(rsha)),
            ),
            Some(rsha) => {
                let (ahead, behind) = if repo.has_commit(rsha) {
                    repo.ahead_behind(head_sha, rsha)?
                } else {
                    (0, 0)
                };
                match (ahead, behind) {
                    (0, 0) => Check::fail(
                        "up to date",
                        format!(
                            "HEAD {} differs from {tracking} {}",
                            short_sha(head_sha),
                            short_sha(rsha)
                        ),
                        format!("git pull --ff-only {remote} {branch}"),
                    ),
                    (a, 0) => Check::fail(
                        "up to date",
                        format!(
                            "HEAD is {} ahead of {tracking}: not pushed yet",
                            plural(a, "commit", "commits")
                        ),
                        format!(
                            "tag what is on {tracking}: merge and push first (git push {remote} {branch})"
                        ),
                    ),
                    (0, b) => Check::fail(
                        "up to date",
                        format!(
                            "HEAD is {} behind {tracking}",
                            plural(b, "commit", "commits")
                        ),
                        format!("git pull --ff-only {remote} {branch}"),
                    ),
                    (a, b) => Check::fail(
                        "up to date",
                        format!("HEAD and {tracking} have diverged: {a} ahead, {b} behind"),
                        format!(
                            "reset {branch} to {tracking} or reconcile them (git pull --rebase {remote} {branch})"
                        ),
                    ),
                }
            }
        },
    })
}

/// The "version" check: `version` is above every release tag in `release`
/// other than `tag` at `head_sha` itself.
pub fn check_version(
    version: &ReleaseVersion,
    tag: &str,
    head_sha: &str,
    release: &[(ReleaseTag, String)],
) -> Check {
    let others: Vec<&(ReleaseTag, String)> = release
        .iter()
        .filter(|(t, sha)| !(t.name == tag && sha == head_sha))
        .collect();
    let highest = others.iter().max_by(|a, b| a.0.version.cmp(&b.0.version));
    match highest {
        None => Check::pass("version", format!("{} is the first release tag", version)),
        Some((t, _)) if version.0 > t.version => Check::pass(
            "version",
            format!("{} is above the highest release tag {}", version, t.name),
        ),
        Some((t, _)) => Check::fail(
            "version",
            format!(
                "{} is not above the highest release tag {}",
                version, t.name
            ),
            format!(
                "choose a version above {}, e.g. almarel tag {}",
                t.version,
                suggest(&t.version)
            ),
        ),
    }
}

/// The next version after `v`: the final of an rc, else the next patch.
fn suggest(v: &semver::Version) -> String {
    if v.pre.is_empty() {
        format!("{}.{}.{}", v.major, v.minor, v.patch + 1)
    } else {
        format!("{}.{}.{}", v.major, v.minor, v.patch)
    }
}

/// `1 commit`, `2 commits`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}
