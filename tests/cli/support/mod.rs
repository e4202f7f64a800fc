//! Shared test support: a hermetic environment for running the binary.

#![allow(dead_code)]

pub mod coolify;
pub mod git;
pub mod github;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// A hermetic home: HOME, XDG dirs and the audit log live in a temp dir; git
/// reads no system or global config.
pub struct Sandbox {
    /// Keeps the temp dir alive.
    pub root: TempDir,
}

impl Sandbox {
    /// A new empty hermetic home.
    pub fn new() -> Self {
        Sandbox {
            root: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The temp root.
    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// HOME inside the sandbox.
    pub fn home(&self) -> PathBuf {
        let h = self.root.path().join("home");
        std::fs::create_dir_all(&h).expect("home");
        h
    }

    /// Where the audit log is written.
    pub fn state_dir(&self) -> PathBuf {
        self.root.path().join("state")
    }

    /// The audit log's lines, parsed.
    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.state_dir().join("audit.jsonl"))
            .map(|t| {
                t.lines()
                    .map(|l| serde_json::from_str(l).expect("audit json"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The almarel binary with a cleared, hermetic environment, run in `dir`.
    pub fn almarel(&self, dir: &Path) -> Command {
        let mut cmd = Command::cargo_bin("almarel").expect("binary");
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("ALMAREL_STATE_DIR", self.state_dir())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0");
        cmd
    }
}

/// Parses stdout as the one JSON object `--json` promises.
pub fn json_stdout(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{text}"))
}

/// stdout and stderr as text.
pub fn texts(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts the process did not panic.
pub fn assert_no_panic(out: &std::process::Output) {
    let (o, e) = texts(out);
    assert!(
        !e.contains("panicked") && !o.contains("panicked"),
        "panic:\n{e}"
    );
}
