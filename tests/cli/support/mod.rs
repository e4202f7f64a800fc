//! Shared test support: a hermetic environment for running the binary.

#![allow(dead_code)]

pub mod coolify;
pub mod git;
pub mod github;
pub mod raw;

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

impl Sandbox {
    /// The same hermetic binary as a `std` command (to spawn, signal, or
    /// give stdout a file).
    pub fn almarel_std(&self, dir: &Path) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("almarel"));
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

/// `next:` lines (exact, after `next: `) in files this suite does not own
/// that do not parse or carry a placeholder today. Each entry is a known bug
/// for the command's owner; remove it once fixed. The check stays on for
/// every other line.
pub const KNOWN_BAD_NEXT: &[&str] = &[];

/// Runs a command like `.output()` and checks every `next:` line it printed
/// on stderr (and `next` in a `--json` object on stdout): each must parse
/// with the real command tree and carry no placeholder (SPEC §7.3).
pub trait Run {
    /// `.output()`, then [`check_next`] on the result.
    fn run(&mut self) -> std::io::Result<std::process::Output>;
}

impl Run for Command {
    fn run(&mut self) -> std::io::Result<std::process::Output> {
        let out = self.output()?;
        check_next(&out);
        Ok(out)
    }
}

impl Run for std::process::Command {
    fn run(&mut self) -> std::io::Result<std::process::Output> {
        let out = self.output()?;
        check_next(&out);
        Ok(out)
    }
}

/// Every next step a run printed: `next:` lines on stderr and the `next`
/// key of a `--json` object on stdout.
pub fn next_lines(out: &std::process::Output) -> Vec<String> {
    let (stdout, stderr) = texts(out);
    let mut found: Vec<String> = stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("next:"))
        .map(|rest| rest.trim().to_owned())
        .collect();
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_str(&stdout) {
        if let Some(serde_json::Value::String(n)) = o.get("next") {
            found.push(n.clone());
        }
    }
    found
}

/// Panics on a next step that does not parse with `almarel::cli::Cli` or
/// carries a placeholder, unless it is listed in [`KNOWN_BAD_NEXT`].
pub fn check_next(out: &std::process::Output) {
    for line in next_lines(out) {
        if KNOWN_BAD_NEXT.contains(&line.as_str()) {
            continue;
        }
        if let Err(why) = next_problem(&line) {
            panic!(
                "bad next step `{line}`: {why}\n--- stderr:\n{}",
                texts(out).1
            );
        }
    }
}

/// Why `line` is not a runnable almarel command, if it is not.
pub fn next_problem(line: &str) -> Result<(), String> {
    for p in ["<", "...", "(without", " on GitHub"] {
        if line.contains(p) {
            return Err(format!("placeholder {p:?}"));
        }
    }
    let words = shell_words(line)?;
    if words.first().map(String::as_str) != Some("almarel") {
        return Err("does not start with `almarel`".into());
    }
    use clap::Parser;
    match almarel::cli::Cli::try_parse_from(&words) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(format!("does not parse: {e}")),
    }
}

/// Splits a line as a POSIX shell would (quotes, backslashes, `#` comments);
/// refuses what would run more than one command or expand something.
pub fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated '".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unterminated \"".into()),
                        },
                        Some('$' | '`') => return Err("expansion inside \"…\"".into()),
                        Some(c) => cur.push(c),
                        None => return Err("unterminated \"".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            ';' | '&' | '|' | '>' | '$' | '`' | '(' | ')' => {
                return Err(format!("shell metacharacter {c:?}"));
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[test]
fn the_next_line_check_rejects_what_does_not_run() {
    assert!(next_problem("almarel status v1.2.3 --watch").is_ok());
    assert!(next_problem("almarel freeze --reason 'it broke' --yes").is_ok());
    assert!(next_problem("almarel deploy --tag <tag>").is_err());
    assert!(next_problem("almarel tag 1.2.3 (without --dry-run)").is_err());
    assert!(next_problem("almarel lunch").is_err());
    assert!(next_problem("almarel status --no-such-flag").is_err());
    assert!(next_problem("git push origin main").is_err());
    assert!(next_problem("almarel verify && almarel status").is_err());
}

/// Runs `almarel ARGS` on a pseudo-terminal (`script`) in `dir` with the
/// sandbox's environment plus `env`. Each step waits until its text has
/// appeared (after the previous step's) and then types its keys (`\n` is
/// Enter, `\x03` Ctrl-C). Returns the exit code (`None` when it had not
/// ended 40 s after the last step) and everything the terminal showed.
pub fn on_terminal_steps(
    sb: &Sandbox,
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    steps: &[(&str, &[u8])],
) -> (Option<i32>, String) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let bin = assert_cmd::cargo::cargo_bin("almarel");
    let mut inner = format!("'{}'", bin.display());
    for a in args {
        inner.push_str(&format!(" '{a}'"));
    }
    let base = sb.almarel_std(dir);
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &inner, "/dev/null"])
        .current_dir(dir)
        .env_clear()
        .envs(base.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .envs(env.iter().copied())
        .env("TERM", "xterm")
        .env("COLUMNS", "200")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let mut from = 0;
    for (text, keys) in steps {
        let started = Instant::now();
        let found = loop {
            let at = seen.lock().unwrap().get(from..).and_then(|t| t.find(text));
            if at.is_some() || started.elapsed() > Duration::from_secs(30) {
                break at;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let Some(at) = found else {
            let _ = child.kill();
            panic!("never saw {text:?}:\n{}", seen.lock().unwrap());
        };
        from += at + text.len();
        std::thread::sleep(Duration::from_millis(300));
        std::io::Write::write_all(&mut stdin, keys).unwrap();
        std::io::Write::flush(&mut stdin).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    reader.join().unwrap();
    let text = seen.lock().unwrap().clone();
    (status.and_then(|s| s.code()), text)
}
