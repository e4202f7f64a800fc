//! Unit tests of [`Repo`] on real repositories built with the git CLI.

use std::path::{Path, PathBuf};

use super::*;
use crate::error::Kind;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

struct Fixture {
    _dir: tempfile::TempDir,
    origin: PathBuf,
    work: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let origin = dir.path().join("origin.git");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&origin).unwrap();
        git(&origin, &["init", "-q", "--bare", "-b", "main"]);
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                origin.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        git(&work, &["symbolic-ref", "HEAD", "refs/heads/main"]);
        git(&work, &["config", "user.name", "Jane Dev"]);
        git(&work, &["config", "user.email", "jane@example.com"]);
        let f = Fixture {
            _dir: dir,
            origin,
            work,
        };
        f.commit_file("README.md", "hello\n", "Initial");
        git(&f.work, &["push", "-q", "origin", "main"]);
        f
    }

    fn commit_file(&self, path: &str, content: &str, msg: &str) -> String {
        let p = self.work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        git(&self.work, &["add", path]);
        git(&self.work, &["commit", "-q", "-m", msg]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    fn repo(&self) -> Repo {
        Repo::discover(&self.work).unwrap()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn this_build_has_the_https_and_ssh_transports() {
    let v = git2::Version::get();
    assert!(
        v.https(),
        "libgit2 built without https: cannot reach GitHub"
    );
    assert!(v.ssh(), "libgit2 built without ssh");
    assert_eq!(transports(), (true, true));
}

#[test]
fn discover_outside_a_work_tree_or_in_a_bare_repo_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let e = Repo::discover(&plain).unwrap_err();
    assert_eq!(e.kind, Kind::Usage);
    assert!(e.message.contains("not inside a git work tree"), "{e}");
    assert!(e.hint().is_some());
    let f = Fixture::new();
    let e = Repo::discover(&f.origin).unwrap_err();
    assert_eq!(e.kind, Kind::Usage);
    assert!(e.message.contains("bare"), "{e}");
    // From a subdirectory, the work tree root is found.
    std::fs::create_dir_all(f.work.join("a/b")).unwrap();
    let r = Repo::discover(&f.work.join("a/b")).unwrap();
    assert_eq!(
        r.workdir().canonicalize().unwrap(),
        f.work.canonicalize().unwrap()
    );
}

#[test]
fn default_repository_comes_from_the_remote_url() {
    let f = Fixture::new();
    assert_eq!(default_repository(&f.work, "origin"), None, "a local path");
    git(
        &f.work,
        &[
            "remote",
            "set-url",
            "origin",
            "git@github.com:acme/shop.git",
        ],
    );
    assert_eq!(
        default_repository(&f.work, "origin").as_deref(),
        Some("acme/shop")
    );
    assert_eq!(default_repository(&f.work, "nope"), None);
    let r = f.repo();
    assert_eq!(
        r.remote_url("origin").unwrap(),
        "git@github.com:acme/shop.git"
    );
    assert_eq!(r.remote_url("nope").unwrap_err().kind, Kind::Usage);
}

#[test]
fn status_separates_staged_modified_and_untracked_and_skips_ignored() {
    let f = Fixture::new();
    let r = f.repo();
    assert!(r.status().unwrap().is_clean());
    std::fs::write(f.work.join(".gitignore"), "target/\n").unwrap();
    git(&f.work, &["add", ".gitignore"]);
    git(&f.work, &["commit", "-q", "-m", "ignore"]);
    std::fs::create_dir_all(f.work.join("target")).unwrap();
    std::fs::write(f.work.join("target/x"), "x").unwrap();
    assert!(r.status().unwrap().is_clean(), "ignored files do not count");
    std::fs::write(f.work.join("README.md"), "changed\n").unwrap();
    std::fs::write(f.work.join("staged.txt"), "s\n").unwrap();
    git(&f.work, &["add", "staged.txt"]);
    std::fs::create_dir_all(f.work.join("dir/sub")).unwrap();
    std::fs::write(f.work.join("dir/sub/new.txt"), "n\n").unwrap();
    let s = r.status().unwrap();
    assert_eq!(s.unstaged, ["README.md"]);
    assert_eq!(s.staged, ["staged.txt"]);
    assert_eq!(s.untracked, ["dir/sub/new.txt"]);
    assert_eq!(s.file_count(), 3);
}

#[test]
fn head_reports_branch_detached_and_commit() {
    let f = Fixture::new();
    let r = f.repo();
    let sha = git(&f.work, &["rev-parse", "HEAD"]);
    assert_eq!(
        r.head().unwrap(),
        Head {
            branch: Some("main".into()),
            commit: Some(sha.clone())
        }
    );
    git(&f.work, &["switch", "-q", "--detach"]);
    assert_eq!(
        r.head().unwrap(),
        Head {
            branch: None,
            commit: Some(sha)
        }
    );
}

#[test]
fn tags_release_tags_and_resolution() {
    let f = Fixture::new();
    let first = git(&f.work, &["rev-parse", "HEAD"]);
    git(&f.work, &["tag", "-a", "v1.2.3-rc.1", "-m", "rc"]);
    git(&f.work, &["tag", "v1.2.2"]); // lightweight
    git(&f.work, &["tag", "-a", "nightly", "-m", "n"]);
    let second = f.commit_file("api/Migrations/002_add.sql", "x\n", "Add migration");
    git(&f.work, &["tag", "-a", "v1.2.3", "-m", "Release v1.2.3"]);
    git(&f.work, &["tag", "-a", "v1.10.0-rc.1", "-m", "rc"]);
    let r = f.repo();

    let names: Vec<String> = r
        .release_tags("v")
        .unwrap()
        .into_iter()
        .map(|(t, _)| t.name)
        .collect();
    assert_eq!(names, ["v1.2.2", "v1.2.3-rc.1", "v1.2.3", "v1.10.0-rc.1"]);
    assert_eq!(
        r.tags_at(&first).unwrap(),
        ["nightly", "v1.2.2", "v1.2.3-rc.1"]
    );
    assert_eq!(
        r.resolve_tag("v1.2.3").unwrap().as_deref(),
        Some(second.as_str())
    );
    assert_eq!(r.resolve_tag("v9.9.9").unwrap(), None);
    assert!(r.local_tag("v1.2.3").unwrap().unwrap().annotated);
    assert!(!r.local_tag("v1.2.2").unwrap().unwrap().annotated);

    assert_eq!(r.resolve_commit("1.2.3", "v").unwrap(), second);
    assert_eq!(r.resolve_commit("v1.2.3", "v").unwrap(), second);
    assert_eq!(r.resolve_commit(&first[..7], "v").unwrap(), first);
    assert_eq!(r.resolve_commit(&first, "v").unwrap(), first);
    assert_eq!(
        r.resolve_commit("9.9.9", "v").unwrap_err().kind,
        Kind::Usage
    );
    assert_eq!(
        r.resolve_commit("deadbeef", "v").unwrap_err().kind,
        Kind::Usage
    );

    let info = r.commit_info(&second).unwrap();
    assert_eq!(info.subject, "Add migration");
    assert_eq!(info.short, &second[..7]);
    assert_eq!(info.author, "Jane Dev <jane@example.com>");

    let between = r.commits_between(Some(&first), &second).unwrap();
    assert_eq!(
        between
            .iter()
            .map(|c| c.subject.as_str())
            .collect::<Vec<_>>(),
        ["Add migration"]
    );
    assert_eq!(r.commits_between(None, &second).unwrap().len(), 2);
    assert_eq!(r.ahead_behind(&second, &first).unwrap(), (1, 0));
    assert!(r.is_ancestor(&first, &second).unwrap());
    assert!(!r.is_ancestor(&second, &first).unwrap());

    let migrations = r
        .changed_files(&first, &second, &["api/Migrations/".to_owned()])
        .unwrap();
    assert_eq!(migrations, ["api/Migrations/002_add.sql"]);
    assert!(
        r.changed_files(&first, &second, &["web/".to_owned()])
            .unwrap()
            .is_empty()
    );
    assert_eq!(r.changed_files(&second, &first, &[]).unwrap().len(), 1);
}

#[test]
fn creates_annotated_tags_never_overwrites_and_deletes() {
    let f = Fixture::new();
    let r = f.repo();
    let sha = git(&f.work, &["rev-parse", "HEAD"]);
    r.create_annotated_tag("v1.0.0", &sha, "Release v1.0.0")
        .unwrap();
    assert_eq!(git(&f.work, &["cat-file", "-t", "v1.0.0"]), "tag");
    let body = git(&f.work, &["cat-file", "-p", "v1.0.0"]);
    assert!(
        body.contains("tagger Jane Dev <jane@example.com>"),
        "{body}"
    );
    assert!(body.ends_with("Release v1.0.0"), "{body}");
    assert!(r.create_annotated_tag("v1.0.0", &sha, "again").is_err());
    r.delete_tag("v1.0.0").unwrap();
    r.delete_tag("v1.0.0").unwrap();
    assert_eq!(r.resolve_tag("v1.0.0").unwrap(), None);
    assert_eq!(
        r.identity().unwrap().to_string(),
        "Jane Dev <jane@example.com>"
    );
}

#[test]
fn fetch_peek_and_push_against_a_local_bare_remote() {
    let f = Fixture::new();
    // Another clone moves origin ahead and pushes tags.
    let other = f._dir.path().join("other");
    git(
        f._dir.path(),
        &[
            "clone",
            "-q",
            f.origin.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    git(&other, &["config", "user.name", "O"]);
    git(&other, &["config", "user.email", "o@example.com"]);
    git(&other, &["commit", "-q", "--allow-empty", "-m", "theirs"]);
    git(&other, &["tag", "-a", "v2.0.0", "-m", "Release v2.0.0"]);
    git(&other, &["tag", "light"]);
    git(&other, &["push", "-q", "origin", "main", "v2.0.0", "light"]);
    let theirs = git(&other, &["rev-parse", "HEAD"]);

    let r = f.repo();
    let before = r.remote_branch_sha("origin", "main").unwrap();
    let access = Access::anonymous();
    let rt = rt();

    let refs = rt.block_on(r.peek("origin", "main", &access)).unwrap();
    assert_eq!(refs.branch.as_deref(), Some(theirs.as_str()));
    assert_eq!(
        r.remote_branch_sha("origin", "main").unwrap(),
        before,
        "peek writes no ref"
    );
    assert!(r.has_commit(&theirs), "peek downloads the objects");
    assert_eq!(
        refs.tags.get("v2.0.0"),
        Some(&RemoteTag {
            commit: theirs.clone(),
            annotated: true
        })
    );
    assert!(!refs.tags["light"].annotated);
    assert_eq!(
        r.resolve_tag("v2.0.0").unwrap(),
        None,
        "tags are not fetched"
    );

    let refs = rt.block_on(r.fetch("origin", "main", &access)).unwrap();
    assert_eq!(refs.branch.as_deref(), Some(theirs.as_str()));
    assert_eq!(
        r.remote_branch_sha("origin", "main").unwrap().as_deref(),
        Some(theirs.as_str())
    );
    assert_eq!(
        r.resolve_tag("v2.0.0").unwrap(),
        None,
        "tags are not fetched"
    );

    // A branch the remote does not have.
    let refs = rt.block_on(r.fetch("origin", "nope", &access)).unwrap();
    assert_eq!(refs.branch, None);

    // Push exactly one tag.
    let head = git(&f.work, &["rev-parse", "HEAD"]);
    r.create_annotated_tag("v1.0.0", &head, "Release v1.0.0")
        .unwrap();
    r.create_annotated_tag("v0.9.0", &head, "not pushed")
        .unwrap();
    rt.block_on(r.push_ref("origin", "refs/tags/v1.0.0:refs/tags/v1.0.0", &access))
        .unwrap();
    assert_eq!(git(&f.origin, &["cat-file", "-t", "v1.0.0"]), "tag");
    assert!(!git(&f.origin, &["tag", "-l"]).contains("v0.9.0"));

    // Pushing the same name at another commit is refused, never forced.
    git(&other, &["tag", "-a", "v3.0.0", "-m", "x"]);
    git(&other, &["push", "-q", "origin", "v3.0.0"]);
    let first = git(&f.work, &["rev-list", "--max-parents=0", "HEAD"]);
    git(&f.work, &["commit", "-q", "--allow-empty", "-m", "mine"]);
    let mine = git(&f.work, &["rev-parse", "HEAD"]);
    assert_ne!(first, mine);
    r.create_annotated_tag("v3.0.0", &mine, "mine").unwrap();
    let e = rt
        .block_on(r.push_ref("origin", "+refs/tags/v3.0.0:refs/tags/v3.0.0", &access))
        .unwrap_err();
    assert_eq!(e.error.kind, Kind::Remote);
    assert_eq!(
        git(&f.origin, &["rev-parse", "v3.0.0^{commit}"]),
        theirs,
        "not overwritten: {}",
        e.error
    );
}

#[test]
fn an_unknown_remote_or_unreachable_path_fails_with_a_reason() {
    let f = Fixture::new();
    let r = f.repo();
    let rt = rt();
    let e = rt
        .block_on(r.fetch("nope", "main", &Access::anonymous()))
        .unwrap_err();
    assert_eq!(e.error.kind, Kind::Usage);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    git(
        &f.work,
        &[
            "remote",
            "set-url",
            "origin",
            &format!("git://127.0.0.1:{port}/x.git"),
        ],
    );
    let e = rt
        .block_on(r.fetch("origin", "main", &Access::anonymous()))
        .unwrap_err();
    assert_eq!(e.reason, FailureReason::Network, "{}", e.error);
    assert_eq!(e.error.kind, Kind::Remote);
    assert!(
        e.error.message.contains("cannot reach origin"),
        "{}",
        e.error
    );
}

#[test]
fn access_debug_never_shows_the_token() {
    let env = crate::env::Env::from_pairs([("GITHUB_TOKEN", "ghs_secret_value")]);
    let a = Access::from_env(&env, "https://ghe.example.com/api/v3");
    let dbg = format!("{a:?}");
    assert!(!dbg.contains("ghs_secret_value"), "{dbg}");
    assert!(dbg.contains("GITHUB_TOKEN"), "{dbg}");
    assert!(
        dbg.contains("ghe.example.com") && dbg.contains("github.com"),
        "{dbg}"
    );
    assert_eq!(a.token_value(), Some("ghs_secret_value"));
}

/// The status as computed before the cached-tree shortcut: HEAD↔index and
/// index↔work tree, always.
fn full_status(work: &Path) -> Vec<(String, u32)> {
    let repo = git2::Repository::open(work).unwrap();
    let mut opts = git2::StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false)
        .exclude_submodules(false);
    let statuses = repo.statuses(Some(&mut opts)).unwrap();
    let mut out: Vec<(String, u32)> = statuses
        .iter()
        .map(|e| (e.path().unwrap().to_owned(), e.status().bits()))
        .collect();
    out.sort();
    out
}

/// `s` names the same paths as libgit2's full comparison.
fn assert_same_paths_as_the_full_status(work: &Path, s: &TreeStatus, what: &str) {
    let mut flat: Vec<String> = s
        .staged
        .iter()
        .chain(&s.unstaged)
        .chain(&s.untracked)
        .chain(&s.conflicted)
        .cloned()
        .collect();
    flat.sort();
    flat.dedup();
    let full: Vec<String> = full_status(work).into_iter().map(|(p, _)| p).collect();
    assert_eq!(flat, full, "{what}: same paths as the full comparison");
}

fn head_tree_is_cached(work: &Path) -> bool {
    let repo = git2::Repository::open(work).unwrap();
    let tree = repo.head().unwrap().peel_to_tree().unwrap().id();
    index::cached_tree_is(repo.path(), tree.as_bytes())
}

#[test]
fn status_with_the_cached_tree_shortcut_matches_the_full_comparison() {
    let f = Fixture::new();
    f.commit_file("src/a.txt", "a\n", "a");
    f.commit_file("src/b.txt", "b\n", "b");
    f.commit_file("docs/c.txt", "c\n", "c");
    git(&f.work, &["status", "--porcelain"]);
    assert!(
        head_tree_is_cached(&f.work),
        "a commit records the cached tree"
    );
    let r = f.repo();
    let check = |what: &str, expect: TreeStatus| {
        let s = r.status().unwrap();
        assert_eq!(s, expect, "{what}");
        assert_same_paths_as_the_full_status(&f.work, &s, what);
    };
    check("clean", TreeStatus::default());

    // Unstaged: modified and deleted in the work tree; the cached tree still holds.
    std::fs::write(f.work.join("src/a.txt"), "changed\n").unwrap();
    std::fs::remove_file(f.work.join("docs/c.txt")).unwrap();
    assert!(head_tree_is_cached(&f.work));
    check(
        "unstaged modified and deleted",
        TreeStatus {
            unstaged: vec!["docs/c.txt".into(), "src/a.txt".into()],
            ..TreeStatus::default()
        },
    );

    // Untracked, nested.
    std::fs::create_dir_all(f.work.join("new/deep")).unwrap();
    std::fs::write(f.work.join("new/deep/u.txt"), "u\n").unwrap();
    check(
        "untracked",
        TreeStatus {
            unstaged: vec!["docs/c.txt".into(), "src/a.txt".into()],
            untracked: vec!["new/deep/u.txt".into()],
            ..TreeStatus::default()
        },
    );
    git(&f.work, &["checkout", "-q", "--", "."]);
    std::fs::remove_dir_all(f.work.join("new")).unwrap();
    check("restored", TreeStatus::default());

    // Staged: a modification, a new file, a deletion (git rm).
    std::fs::write(f.work.join("src/b.txt"), "staged\n").unwrap();
    git(&f.work, &["add", "src/b.txt"]);
    assert!(
        !head_tree_is_cached(&f.work),
        "git add invalidates the cached tree"
    );
    check(
        "staged modification",
        TreeStatus {
            staged: vec!["src/b.txt".into()],
            ..TreeStatus::default()
        },
    );
    git(&f.work, &["commit", "-q", "-m", "b2"]);
    git(&f.work, &["rm", "-q", "docs/c.txt"]);
    check(
        "staged deletion",
        TreeStatus {
            staged: vec!["docs/c.txt".into()],
            ..TreeStatus::default()
        },
    );
    git(&f.work, &["reset", "-q", "--hard"]);
    std::fs::write(f.work.join("staged-new.txt"), "n\n").unwrap();
    git(&f.work, &["add", "staged-new.txt"]);
    check(
        "staged new file",
        TreeStatus {
            staged: vec!["staged-new.txt".into()],
            ..TreeStatus::default()
        },
    );

    // A staged change whose cached tree was rebuilt (git write-tree) is
    // still staged: the cached tree is then not HEAD's.
    git(&f.work, &["write-tree"]);
    check(
        "staged, cached tree rebuilt",
        TreeStatus {
            staged: vec!["staged-new.txt".into()],
            ..TreeStatus::default()
        },
    );
    // Staged then undone in the work tree: staged and unstaged.
    std::fs::remove_file(f.work.join("staged-new.txt")).unwrap();
    check(
        "staged and deleted",
        TreeStatus {
            staged: vec!["staged-new.txt".into()],
            unstaged: vec!["staged-new.txt".into()],
            ..TreeStatus::default()
        },
    );
    git(&f.work, &["reset", "-q", "--hard"]);
    check("reset", TreeStatus::default());
}

#[test]
fn the_index_reader_refuses_what_it_does_not_understand() {
    assert!(!index::cached_tree_is(Path::new("/nonexistent"), &[0; 20]));
    let f = Fixture::new();
    f.commit_file("a.txt", "a\n", "a");
    git(&f.work, &["status", "--porcelain"]);
    assert!(head_tree_is_cached(&f.work));
    let index = f.work.join(".git/index");
    let good = std::fs::read(&index).unwrap();
    // Truncated anywhere: never a match, never a panic.
    for len in 0..good.len() {
        std::fs::write(&index, &good[..len]).unwrap();
        assert!(!head_tree_is_cached(&f.work), "truncated at {len}");
    }
    std::fs::write(&index, &good).unwrap();
    // Intent-to-add (an extended flag): the full comparison.
    std::fs::write(f.work.join("ita.txt"), "i\n").unwrap();
    git(&f.work, &["add", "-N", "ita.txt"]);
    assert!(!head_tree_is_cached(&f.work));
    let full = full_status(&f.work);
    let s = f.repo().status().unwrap();
    assert_eq!(
        s.file_count(),
        full.len(),
        "intent-to-add: {s:?} vs {full:?}"
    );
    git(&f.work, &["rm", "-q", "--cached", "ita.txt"]);
    // Index version 4 (prefix-compressed paths): the full comparison.
    git(&f.work, &["update-index", "--index-version", "4"]);
    assert!(!head_tree_is_cached(&f.work));
    assert_eq!(f.repo().status().unwrap().untracked, ["ita.txt"]);
}

/// Whether the stat check alone proves `work` clean (no libgit2 status).
#[cfg(unix)]
fn stat_proof(work: &Path) -> bool {
    let repo = git2::Repository::open(work).unwrap();
    let tree = repo.head().unwrap().peel_to_tree().unwrap().id();
    index::Index::read_if_tree_is(repo.path(), tree.as_bytes())
        .is_some_and(|i| clean::is_unchanged(&repo, &i))
}

/// Refreshes the index until no entry is racily clean (written in the
/// instant the index was), then answers whether the stat check proves the
/// tree clean.
#[cfg(unix)]
fn settled_stat_proof(work: &Path) -> bool {
    for _ in 0..50 {
        if stat_proof(work) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        git(work, &["status", "--porcelain"]);
    }
    stat_proof(work)
}

#[cfg(unix)]
#[test]
fn the_stat_check_proves_clean_only_what_the_full_status_calls_clean() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let f = Fixture::new();
    std::fs::create_dir_all(f.work.join("src/deep")).unwrap();
    std::fs::write(f.work.join("src/deep/d.txt"), "d\n").unwrap();
    std::fs::write(f.work.join("src/a.txt"), "a\n").unwrap();
    std::fs::write(f.work.join("docs.txt"), "docs\n").unwrap();
    symlink("src/a.txt", f.work.join("link")).unwrap();
    std::fs::write(f.work.join(".gitignore"), "*.log\ntarget/\n").unwrap();
    git(&f.work, &["add", "."]);
    git(&f.work, &["commit", "-q", "-m", "tree"]);
    let r = f.repo();
    // `(what, proven by stat data alone, the status)`; the status is also
    // compared with libgit2's full one.
    let check = |what: &str, proven: bool, expect: TreeStatus| {
        let got = if proven {
            settled_stat_proof(&f.work)
        } else {
            stat_proof(&f.work)
        };
        assert_eq!(got, proven, "{what}: proven clean by stat data");
        let s = r.status().unwrap();
        assert_eq!(s, expect, "{what}");
        assert_same_paths_as_the_full_status(&f.work, &s, what);
    };
    let unstaged = |p: &[&str]| TreeStatus {
        unstaged: p.iter().map(|s| (*s).to_owned()).collect(),
        ..TreeStatus::default()
    };
    check("clean, with a symbolic link", true, TreeStatus::default());

    // Ignored names, at the root and inside a tracked directory, and an
    // ignored directory: still proven.
    std::fs::write(f.work.join("build.log"), "x\n").unwrap();
    std::fs::write(f.work.join("src/deep/trace.log"), "x\n").unwrap();
    std::fs::create_dir_all(f.work.join("target/release")).unwrap();
    std::fs::write(f.work.join("target/release/bin"), "x\n").unwrap();
    check("ignored files and directory", true, TreeStatus::default());

    // Touched with the same content: not proven, and clean.
    let a = f.work.join("src/a.txt");
    let t = std::fs::File::options().write(true).open(&a).unwrap();
    t.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(5))
        .unwrap();
    drop(t);
    check("touched, same content", false, TreeStatus::default());
    // `git status` (in settled_stat_proof) records the new stat data.
    check("touched, stat data refreshed", true, TreeStatus::default());

    // Same size, different content.
    std::fs::write(&a, "b\n").unwrap();
    check("modified, same size", false, unstaged(&["src/a.txt"]));
    git(&f.work, &["checkout", "-q", "--", "src/a.txt"]);
    check("restored", true, TreeStatus::default());

    // The executable bit.
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o755)).unwrap();
    check("made executable", false, unstaged(&["src/a.txt"]));
    // Back to 0644: clean, but the change time's nanoseconds differ from
    // the recorded ones and git (built without USE_NSEC) never refreshes
    // them, so stat data alone does not prove it; libgit2 reads the file.
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o644)).unwrap();
    check("mode restored", false, TreeStatus::default());
    std::fs::remove_file(&a).unwrap();
    git(&f.work, &["checkout", "-q", "--", "src/a.txt"]);
    check("checked out again", true, TreeStatus::default());

    // Deleted: a file, then a whole nested directory.
    std::fs::remove_file(f.work.join("docs.txt")).unwrap();
    check("file deleted", false, unstaged(&["docs.txt"]));
    git(&f.work, &["checkout", "-q", "--", "docs.txt"]);
    std::fs::remove_dir_all(f.work.join("src/deep")).unwrap();
    check("directory deleted", false, unstaged(&["src/deep/d.txt"]));
    git(&f.work, &["checkout", "-q", "--", "src/deep"]);
    check("all restored", true, TreeStatus::default());

    // Untracked: a file (listed), an empty directory (not listed by git).
    std::fs::write(f.work.join("src/new.txt"), "n\n").unwrap();
    check(
        "untracked file",
        false,
        TreeStatus {
            untracked: vec!["src/new.txt".into()],
            ..TreeStatus::default()
        },
    );
    std::fs::remove_file(f.work.join("src/new.txt")).unwrap();
    std::fs::create_dir_all(f.work.join("empty")).unwrap();
    check("untracked empty directory", false, TreeStatus::default());
    std::fs::remove_dir(f.work.join("empty")).unwrap();
    // A repository inside a tracked directory (its `.git` is not ours).
    git(&f.work.join("src"), &["init", "-q", "nested"]);
    check("an empty nested repository", false, TreeStatus::default());
    std::fs::remove_dir_all(f.work.join("src/nested")).unwrap();
    std::fs::create_dir_all(f.work.join("src/deep/.git")).unwrap();
    check(
        "a .git directory in a tracked directory",
        false,
        TreeStatus::default(),
    );
    std::fs::remove_dir_all(f.work.join("src/deep/.git")).unwrap();
    check("nested repositories gone", true, TreeStatus::default());

    // A file where a tracked directory was, and a symbolic link to a copy
    // of a tracked directory in its place.
    std::fs::remove_dir_all(f.work.join("src/deep")).unwrap();
    std::fs::write(f.work.join("src/deep"), "now a file\n").unwrap();
    check(
        "directory became a file",
        false,
        TreeStatus {
            unstaged: vec!["src/deep/d.txt".into()],
            untracked: vec!["src/deep".into()],
            ..TreeStatus::default()
        },
    );
    std::fs::remove_file(f.work.join("src/deep")).unwrap();
    git(&f.work, &["checkout", "-q", "--", "src/deep"]);
    std::fs::rename(f.work.join("src/deep"), f.work.join("elsewhere")).unwrap();
    symlink(f.work.join("elsewhere"), f.work.join("src/deep")).unwrap();
    check(
        "directory became a symbolic link",
        false,
        TreeStatus {
            unstaged: vec!["src/deep/d.txt".into()],
            untracked: vec!["elsewhere/d.txt".into(), "src/deep".into()],
            ..TreeStatus::default()
        },
    );
}

#[test]
fn a_conflict_is_reported_with_the_shortcut_available() {
    let f = Fixture::new();
    f.commit_file("x.txt", "base\n", "base");
    git(&f.work, &["switch", "-q", "-c", "other"]);
    f.commit_file("x.txt", "other\n", "other");
    git(&f.work, &["switch", "-q", "main"]);
    f.commit_file("x.txt", "main\n", "main");
    let out = std::process::Command::new("git")
        .args(["merge", "-q", "other"])
        .current_dir(&f.work)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the merge conflicts");
    assert!(!head_tree_is_cached(&f.work));
    assert_eq!(f.repo().status().unwrap().conflicted, ["x.txt"]);
}

/// Every answer about local tags, to compare packed and loose refs.
fn tag_answers(r: &Repo, shas: &[&str]) -> String {
    let mut out = format!("{:?}", r.release_tags("v").unwrap());
    for name in ["v1.0.0", "v1.1.0", "v2.0.0", "v2.1.0", "tree-tag", "nope"] {
        let t = r.local_tag(name).map_err(|e| e.message);
        out.push_str(&format!("\n{name}: {t:?}"));
    }
    for sha in shas {
        // A tag of a tree fails the whole listing, as it always did.
        let at = r.tags_at(sha).map_err(|e| e.message);
        out.push_str(&format!("\nat {sha}: {at:?}"));
    }
    out
}

#[test]
fn packed_and_loose_tags_annotated_and_lightweight_answer_the_same() {
    let f = Fixture::new();
    let one = f.commit_file("a.txt", "1\n", "one");
    git(&f.work, &["tag", "-a", "v1.0.0", "-m", "Release v1.0.0"]);
    git(&f.work, &["tag", "v1.1.0"]); // lightweight
    let two = f.commit_file("a.txt", "2\n", "two");
    git(&f.work, &["tag", "-a", "v2.0.0", "-m", "Release v2.0.0"]);
    // A tag of a tag (peels twice) and a tag of a tree (not a commit).
    git(&f.work, &["tag", "-a", "v2.1.0", "-m", "retag", "v2.0.0"]);
    let tree = git(&f.work, &["rev-parse", "HEAD^{tree}"]);
    git(&f.work, &["tag", "-a", "tree-tag", "-m", "tree", &tree]);
    let shas = [one.as_str(), two.as_str()];

    let loose = tag_answers(&f.repo(), &shas);
    assert!(loose.contains(&format!(
        "v1.1.0: Ok(Some(LocalTag {{ commit: \"{one}\", annotated: false }}))"
    )));
    assert!(loose.contains(&format!(
        "v2.1.0: Ok(Some(LocalTag {{ commit: \"{two}\", annotated: true }}))"
    )));
    assert!(
        loose.contains("tree-tag: Err(\"tag tree-tag does not point at a commit"),
        "a tag of a tree is an error: {loose}"
    );

    git(&f.work, &["pack-refs", "--all"]);
    let packed_refs = std::fs::read_to_string(f.work.join(".git/packed-refs")).unwrap();
    assert!(packed_refs.contains("\n^"), "peeled lines: {packed_refs}");
    assert!(!f.work.join(".git/refs/tags/v1.0.0").exists());
    assert_eq!(
        tag_answers(&f.repo(), &shas),
        loose,
        "packed with peel lines"
    );

    // An old packed-refs without the peeled lines or traits.
    let bare: String = packed_refs
        .lines()
        .filter(|l| !l.starts_with('^') && !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(f.work.join(".git/packed-refs"), bare).unwrap();
    assert_eq!(tag_answers(&f.repo(), &shas), loose, "packed without peel");

    // A loose ref overrides a packed one with the same name.
    git(&f.work, &["pack-refs", "--all"]);
    git(&f.work, &["tag", "-f", "-a", "v1.0.0", "-m", "moved", &two]);
    assert!(f.work.join(".git/refs/tags/v1.0.0").exists());
    let moved = tag_answers(&f.repo(), &shas);
    assert!(
        moved.contains(&format!(
            "v1.0.0: Ok(Some(LocalTag {{ commit: \"{two}\", annotated: true }}))"
        )),
        "{moved}"
    );
    git(&f.work, &["tag", "-d", "tree-tag"]);
    assert_eq!(
        f.repo().tags_at(&two).unwrap(),
        ["v1.0.0", "v2.0.0", "v2.1.0"]
    );
    assert_eq!(f.repo().tags_at(&one).unwrap(), ["v1.1.0"]);
}

#[test]
fn the_status_read_during_a_fetch_is_the_status() {
    let f = Fixture::new();
    std::fs::write(f.work.join("README.md"), "changed\n").unwrap();
    std::fs::write(f.work.join("untracked.txt"), "u\n").unwrap();
    let r = f.repo();
    let direct = r.status().unwrap();
    rt().block_on(r.peek("origin", "main", &Access::anonymous()))
        .unwrap();
    assert_eq!(r.status().unwrap(), direct, "read during the fetch");
    // Only the first call after a fetch takes it: later calls read again.
    std::fs::remove_file(f.work.join("untracked.txt")).unwrap();
    assert!(r.status().unwrap().untracked.is_empty());
}

#[test]
fn reading_a_local_remote_directly_answers_like_the_transport() {
    let f = Fixture::new();
    let other = f._dir.path().join("other");
    git(
        f._dir.path(),
        &[
            "clone",
            "-q",
            f.origin.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    git(&other, &["config", "user.name", "O"]);
    git(&other, &["config", "user.email", "o@example.com"]);
    git(&other, &["commit", "-q", "--allow-empty", "-m", "one"]);
    git(&other, &["tag", "-a", "v1.0.0", "-m", "Release v1.0.0"]);
    git(&other, &["tag", "light-1"]);
    git(
        &other,
        &["tag", "-a", "nested", "-m", "a tag of a tag", "v1.0.0"],
    );
    git(&other, &["tag", "tree-tag", "HEAD^{tree}"]);
    git(&other, &["push", "-q", "origin", "main", "--tags"]);
    // Packed in the remote, with peeled lines; later tags stay loose.
    git(&f.origin, &["pack-refs", "--all"]);
    git(&other, &["commit", "-q", "--allow-empty", "-m", "two"]);
    git(&other, &["tag", "-a", "v2.0.0", "-m", "Release v2.0.0"]);
    git(&other, &["tag", "light-2"]);
    git(
        &other,
        &["tag", "-a", "annotated-tree", "-m", "x", "HEAD^{tree}"],
    );
    git(&other, &["push", "-q", "origin", "main", "--tags"]);

    let dir = f.work.join(".git");
    let fetch = |update: bool, read_local: bool| {
        remote::fetch_blocking_with(
            &dir,
            "origin",
            "main",
            &Access::anonymous(),
            update,
            std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
            read_local,
        )
        .unwrap()
    };
    // Nothing here yet: the transport downloads (the direct read declines).
    let repo = git2::Repository::open(&dir).unwrap();
    let url = f.origin.to_str().unwrap().to_owned();
    assert!(remote::read_local_remote(&repo, &url, "origin", "main", false).is_none());
    let by_transport = fetch(false, false);
    assert!(remote::read_local_remote(&repo, &url, "origin", "main", false).is_some());
    let direct = fetch(false, true);
    assert_eq!(direct.branch, by_transport.branch);
    assert_eq!(direct.tags, by_transport.tags);
    assert_eq!(direct.tags.len(), 7, "{:?}", direct.tags);
    assert!(direct.tags["v1.0.0"].annotated && direct.tags["nested"].annotated);
    assert_eq!(direct.tags["nested"].commit, direct.tags["light-1"].commit);
    assert!(!direct.tags["tree-tag"].annotated);
    // Updating the remote-tracking branch, as the transport does.
    let r = f.repo();
    assert_ne!(
        r.remote_branch_sha("origin", "main").unwrap(),
        direct.branch
    );
    fetch(true, true);
    assert_eq!(
        r.remote_branch_sha("origin", "main").unwrap(),
        direct.branch
    );
    // A branch the remote does not have.
    let none = remote::fetch_blocking_with(
        &dir,
        "origin",
        "nope",
        &Access::anonymous(),
        true,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        true,
    )
    .unwrap();
    assert_eq!(none.branch, None);
    assert_eq!(none.tags, direct.tags);
}
