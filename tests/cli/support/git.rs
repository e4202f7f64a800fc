//! Real git repositories for tests, built with the git CLI: a bare
//! `origin.git`, a clone on `main` with a local identity, and a `git daemon`
//! that serves them over `git://` (the only way to get server hooks to run,
//! since the plain-path transport runs none).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::Sandbox;

/// Runs git in `dir` with a hermetic environment; returns the raw output.
pub fn git_output(home: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .output()
        .expect("git runs")
}

/// Runs git in `dir`, asserts success, returns trimmed stdout.
pub fn git(home: &Path, dir: &Path, args: &[&str]) -> String {
    let out = git_output(home, dir, args);
    assert!(
        out.status.success(),
        "git {args:?} in {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare `origin.git` and a clone `work` on `main`, with one pushed commit
/// ("Initial") and a local identity, all inside a [`Sandbox`].
pub struct Repos {
    /// The hermetic home; its audit log is the one the binary writes.
    pub sb: Sandbox,
    /// The bare remote.
    pub origin: PathBuf,
    /// The clone almarel runs in.
    pub work: PathBuf,
}

impl Repos {
    /// Builds the fixture.
    pub fn new() -> Repos {
        let sb = Sandbox::new();
        let origin = sb.path().join("srv").join("origin.git");
        std::fs::create_dir_all(&origin).unwrap();
        let home = sb.home();
        git(&home, &origin, &["init", "-q", "--bare", "-b", "main"]);
        let work = sb.path().join("work");
        git(
            &home,
            sb.path(),
            &[
                "clone",
                "-q",
                origin.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        let r = Repos { sb, origin, work };
        r.git(&["symbolic-ref", "HEAD", "refs/heads/main"]);
        r.identity(&r.work);
        r.commit_file("README.md", "hello\n", "Initial");
        r.git(&["push", "-q", "origin", "main"]);
        r
    }

    fn identity(&self, dir: &Path) {
        git(&self.sb.home(), dir, &["config", "user.name", "Jane Dev"]);
        git(
            &self.sb.home(),
            dir,
            &["config", "user.email", "jane@example.com"],
        );
    }

    /// git in the clone.
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.sb.home(), &self.work, args)
    }

    /// git in origin.git.
    pub fn git_origin(&self, args: &[&str]) -> String {
        git(&self.sb.home(), &self.origin, args)
    }

    /// Writes `path` in the clone, commits it, returns the new HEAD.
    pub fn commit_file(&self, path: &str, content: &str, msg: &str) -> String {
        let p = self.work.join(path);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(p, content).unwrap();
        self.git(&["add", path]);
        self.git(&["commit", "-q", "-m", msg]);
        self.head()
    }

    /// An empty commit in the clone; returns the new HEAD.
    pub fn commit(&self, msg: &str) -> String {
        self.git(&["commit", "-q", "--allow-empty", "-m", msg]);
        self.head()
    }

    /// Commits and pushes `main`; returns the new HEAD.
    pub fn commit_and_push(&self, msg: &str) -> String {
        let sha = self.commit(msg);
        self.git(&["push", "-q", "origin", "main"]);
        sha
    }

    /// HEAD's full SHA in the clone.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// An annotated tag in the clone at `rev` (not pushed).
    pub fn tag(&self, name: &str, rev: &str) {
        self.git(&["tag", "-a", name, "-m", &format!("Release {name}"), rev]);
    }

    /// Pushes a tag to origin.
    pub fn push_tag(&self, name: &str) {
        self.git(&["push", "-q", "origin", &format!("refs/tags/{name}")]);
    }

    /// A second clone (its own identity) that can push to origin behind the
    /// first clone's back.
    pub fn other_clone(&self) -> PathBuf {
        let dir = self.sb.path().join("other");
        if !dir.exists() {
            git(
                &self.sb.home(),
                self.sb.path(),
                &[
                    "clone",
                    "-q",
                    self.origin.to_str().unwrap(),
                    dir.to_str().unwrap(),
                ],
            );
            self.identity(&dir);
        }
        dir
    }

    /// Commits in the other clone and pushes it: origin moves ahead.
    pub fn push_from_other(&self, msg: &str) -> String {
        let dir = self.other_clone();
        let home = self.sb.home();
        git(&home, &dir, &["pull", "-q", "--ff-only", "origin", "main"]);
        git(&home, &dir, &["commit", "-q", "--allow-empty", "-m", msg]);
        git(&home, &dir, &["push", "-q", "origin", "main"]);
        git(&home, &dir, &["rev-parse", "HEAD"])
    }

    /// Every ref in origin.git with its object (for before/after comparisons).
    pub fn origin_refs(&self) -> String {
        self.git_origin(&[
            "for-each-ref",
            "--format=%(objectname) %(objecttype) %(refname)",
        ])
    }

    /// Every ref in the clone (branches, remote-tracking branches, tags).
    pub fn local_refs(&self) -> String {
        self.git(&[
            "for-each-ref",
            "--format=%(objectname) %(objecttype) %(refname)",
        ])
    }

    /// Local tag names.
    pub fn local_tags(&self) -> Vec<String> {
        self.git(&["tag", "-l"])
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Tag names on origin.
    pub fn origin_tags(&self) -> Vec<String> {
        self.git_origin(&["tag", "-l"])
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The almarel binary, hermetic, in the clone.
    pub fn almarel(&self) -> assert_cmd::Command {
        self.sb.almarel(&self.work)
    }

    /// Makes origin.git refuse every push with a message (pre-receive hook).
    pub fn refuse_pushes(&self, message: &str) {
        let hook = self.origin.join("hooks").join("pre-receive");
        std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
        std::fs::write(
            &hook,
            format!("#!/bin/sh\necho \"{message}\" >&2\nexit 1\n"),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    /// Removes the refusing hook.
    pub fn accept_pushes(&self) {
        let _ = std::fs::remove_file(self.origin.join("hooks").join("pre-receive"));
    }
}

/// A TCP port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `git daemon` serving a directory over `git://127.0.0.1:<port>/`, pushes
/// enabled; killed on drop.
pub struct GitDaemon {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl GitDaemon {
    /// Serves every repository under `base` (with `home` as its HOME).
    pub fn start(home: &Path, base: &Path) -> GitDaemon {
        for _ in 0..5 {
            let port = closed_port();
            let mut child = Command::new("git")
                .args([
                    "daemon",
                    "--enable=receive-pack",
                    "--export-all",
                    "--reuseaddr",
                    "--informative-errors",
                    "--listen=127.0.0.1",
                    &format!("--port={port}"),
                    &format!("--base-path={}", base.display()),
                    base.to_str().unwrap(),
                ])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", home)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("git daemon starts");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return GitDaemon { child, port };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken in between: try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("git daemon did not start");
    }

    /// The `git://` URL of `path` (relative to the base).
    pub fn url(&self, path: &str) -> String {
        format!("git://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
