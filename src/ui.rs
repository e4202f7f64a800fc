//! The only writer: results on stdout (or one `--json` object), progress,
//! warnings and errors on stderr, confirmations, and GitHub Actions files.
//!
//! Every string written passes through the redactor: token values and smoke
//! secrets registered with [`Ui::add_secret`] are replaced by `***`, as a last
//! line of defence behind code that never formats them in the first place.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use console::Style;

use crate::cli::ColorChoice;
use crate::env::{self, Env};
use crate::error::{Error, Result};
use crate::settings::Global;

/// How a piece of text should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A passing check.
    Ok,
    /// A failing check.
    Fail,
    /// A warning or a pending item.
    Warn,
    /// Secondary detail.
    Dim,
    /// Emphasis.
    Bold,
}

#[derive(Debug, Clone)]
struct Gha {
    summary: Option<PathBuf>,
    output: Option<PathBuf>,
}

/// The printer. Cheap to clone; clones share the secret list.
#[derive(Clone)]
pub struct Ui {
    json: bool,
    quiet: bool,
    verbose: u8,
    color: bool,
    stderr_tty: bool,
    stdin_tty: bool,
    yes: bool,
    gha: Option<Gha>,
    secrets: Arc<Mutex<Vec<String>>>,
    captured: Option<Arc<Mutex<Captured>>>,
    stdout: Arc<StdoutState>,
}

/// What happened to stdout: a reader that went away (EPIPE: stop writing, not
/// an error) or a write that failed (reported, exit 1).
#[derive(Debug, Default)]
struct StdoutState {
    closed: AtomicBool,
    failed: Mutex<Option<String>>,
}

/// What a captured [`Ui`] wrote (used by tests and the in-process sandbox).
#[derive(Debug, Default, Clone)]
pub struct Captured {
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui")
            .field("json", &self.json)
            .field("quiet", &self.quiet)
            .field("verbose", &self.verbose)
            .finish_non_exhaustive()
    }
}

impl Ui {
    /// A printer for the real terminal, configured from the global flags and environment.
    pub fn new(global: &Global, env: &Env) -> Ui {
        let stderr_tty = std::io::stderr().is_terminal();
        let in_gha = env.in_github_actions();
        let color = match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stderr_tty && !env.is_set(env::NO_COLOR) && !in_gha,
        };
        let gha = in_gha.then(|| Gha {
            summary: env.get(env::GITHUB_STEP_SUMMARY).map(PathBuf::from),
            output: env.get(env::GITHUB_OUTPUT).map(PathBuf::from),
        });
        Ui {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
            color,
            stderr_tty: stderr_tty && !in_gha,
            stdin_tty: std::io::stdin().is_terminal() && !in_gha,
            yes: global.yes,
            gha,
            secrets: Arc::default(),
            captured: None,
            stdout: Arc::default(),
        }
    }

    /// A printer that records output in memory instead of writing it.
    pub fn captured(global: &Global) -> (Ui, Arc<Mutex<Captured>>) {
        let store = Arc::new(Mutex::new(Captured::default()));
        let ui = Ui {
            json: global.json,
            quiet: global.quiet,
            verbose: global.verbose,
            color: false,
            stderr_tty: false,
            stdin_tty: false,
            yes: global.yes,
            gha: None,
            secrets: Arc::default(),
            captured: Some(store.clone()),
            stdout: Arc::default(),
        };
        (ui, store)
    }

    /// The same printer in GitHub Actions mode when `env` says so
    /// (`GITHUB_ACTIONS=true`): the job summary and outputs go to
    /// `$GITHUB_STEP_SUMMARY` / `$GITHUB_OUTPUT`. For a captured printer
    /// that runs a workflow's step in-process (the rehearsal's deploy run).
    #[must_use]
    pub fn with_actions_env(mut self, env: &Env) -> Ui {
        self.gha = env.in_github_actions().then(|| Gha {
            summary: env.get(env::GITHUB_STEP_SUMMARY).map(PathBuf::from),
            output: env.get(env::GITHUB_OUTPUT).map(PathBuf::from),
        });
        self
    }

    /// Registers a secret value: it is replaced by `***` wherever it would be written.
    pub fn add_secret(&self, value: &str) {
        // Very short values would redact ordinary text; they are not real secrets anyway.
        if value.len() >= 4 {
            if let Ok(mut s) = self.secrets.lock() {
                if !s.iter().any(|v| v == value) {
                    s.push(value.to_owned());
                    s.sort_by_key(|v| std::cmp::Reverse(v.len()));
                }
            }
        }
    }

    /// Replaces every registered secret in `text` by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        if let Ok(secrets) = self.secrets.lock() {
            for s in secrets.iter() {
                if out.contains(s.as_str()) {
                    out = out.replace(s.as_str(), "***");
                }
            }
        }
        out
    }

    /// Whether `--json` is on.
    pub fn is_json(&self) -> bool {
        self.json
    }
    /// The `-v` count.
    pub fn verbosity(&self) -> u8 {
        self.verbose
    }
    /// Whether live progress (spinners, tables updated in place) may be drawn.
    pub fn is_live(&self) -> bool {
        self.stderr_tty && !self.quiet
    }
    /// Whether we run inside GitHub Actions.
    pub fn in_github_actions(&self) -> bool {
        self.gha.is_some()
    }

    /// Styles `text` when colour is on.
    pub fn paint(&self, tone: Tone, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let style = match tone {
            Tone::Ok => Style::new().green(),
            Tone::Fail => Style::new().red().bold(),
            Tone::Warn => Style::new().yellow(),
            Tone::Dim => Style::new().dim(),
            Tone::Bold => Style::new().bold(),
        };
        style.force_styling(true).apply_to(text).to_string()
    }

    /// A status mark: `✓`, `✗`, `!` or `·`, coloured.
    pub fn mark(&self, tone: Tone) -> String {
        let m = match tone {
            Tone::Ok => "✓",
            Tone::Fail => "✗",
            Tone::Warn => "!",
            Tone::Dim | Tone::Bold => "·",
        };
        self.paint(tone, m)
    }

    fn write_out(&self, text: &str) {
        let text = self.redact(text);
        if let Some(c) = &self.captured {
            if let Ok(mut c) = c.lock() {
                c.stdout.push_str(&text);
                c.stdout.push('\n');
            }
            return;
        }
        if self.stdout.closed.load(Ordering::Relaxed) {
            return;
        }
        let mut out = std::io::stdout().lock();
        let written = writeln!(out, "{text}");
        self.stdout_result(written);
    }

    fn stdout_result(&self, r: std::io::Result<()>) {
        match r {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                // The reader closed the pipe early (`| head`): not an error.
                self.stdout.closed.store(true, Ordering::Relaxed);
            }
            Err(e) => {
                self.stdout.closed.store(true, Ordering::Relaxed);
                if let Ok(mut f) = self.stdout.failed.lock() {
                    f.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }

    /// Flushes stdout and returns why writing to it failed, if it did (a
    /// closed pipe is not a failure).
    pub fn stdout_failure(&self) -> Option<String> {
        if self.captured.is_none() && !self.stdout.closed.load(Ordering::Relaxed) {
            let flushed = std::io::stdout().lock().flush();
            self.stdout_result(flushed);
        }
        self.stdout.failed.lock().ok().and_then(|f| f.clone())
    }

    fn write_err(&self, text: &str) {
        let text = self.redact(text);
        if let Some(c) = &self.captured {
            if let Ok(mut c) = c.lock() {
                c.stderr.push_str(&text);
                c.stderr.push('\n');
            }
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }

    /// A result line on stdout (suppressed with `--json`, which prints one object instead).
    pub fn result(&self, line: &str) {
        if !self.json {
            self.write_out(line);
        }
    }

    /// A progress line on stderr (suppressed with `--quiet`).
    pub fn progress(&self, line: &str) {
        if !self.quiet {
            self.write_err(line);
        }
    }

    /// A detail line on stderr shown from `-v` (level 1) or `-vv` (level 2) on.
    pub fn detail(&self, level: u8, line: &str) {
        if self.verbose >= level {
            self.write_err(line);
        }
    }

    /// A warning on stderr (always shown).
    pub fn warn(&self, line: &str) {
        let label = self.paint(Tone::Warn, "warning:");
        self.write_err(&format!("{label} {line}"));
        if self.gha.is_some() {
            self.write_err(&format!("::warning::{}", escape_annotation(line)));
        }
    }

    /// The next step to run, on stderr (a `next:` line).
    pub fn next(&self, command: &str) {
        if !self.quiet {
            let label = self.paint(Tone::Bold, "next:");
            self.write_err(&format!("{label} {command}"));
        }
    }

    /// Reports an error: `error: ...`, one `hint: ...` per hint, and (at
    /// `-v`) `cause: ...` on stderr; an annotation in Actions.
    pub fn error(&self, err: &Error) {
        let label = self.paint(Tone::Fail, "error:");
        self.write_err(&format!("{label} {}", err.message));
        for h in &err.hints {
            let label = self.paint(Tone::Bold, "hint:");
            self.write_err(&format!("{label} {h}"));
        }
        if let Some(source) = &err.source {
            self.detail(1, &format!("{} {source}", self.paint(Tone::Dim, "cause:")));
        }
        if self.gha.is_some() {
            let mut text = err.message.clone();
            for h in &err.hints {
                text.push_str(" — ");
                text.push_str(h);
            }
            self.write_err(&format!("::error::{}", escape_annotation(&text)));
        }
    }

    /// Prints the one `--json` object on stdout.
    pub fn emit_json(&self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".into());
        self.write_out(&text);
    }

    /// Asks for confirmation on a terminal; `--yes` answers it. Without a
    /// terminal (or in GitHub Actions) and without `--yes`: refused, exit 3.
    ///
    /// The answer is read off the async runtime, so a signal (Ctrl-C) ends
    /// the command at once instead of waiting for Enter.
    pub async fn confirm(&self, question: &str) -> Result<()> {
        if self.yes {
            return Ok(());
        }
        if !(self.stdin_tty && self.stderr_tty) || self.captured.is_some() {
            return Err(Error::refused(format!(
                "confirmation needed: {question} (no terminal to ask on)"
            ))
            .with_code("not_confirmed")
            .with_hint("re-run with --yes to confirm non-interactively"));
        }
        self.write_err(&format!("{question} [y/N] "));
        let line = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map(|_| line)
        })
        .await
        .map_err(|e| Error::local(format!("cannot read the answer: {e}")))?
        .map_err(|e| Error::local(format!("cannot read the answer: {e}")))?;
        if matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            Ok(())
        } else {
            Err(Error::refused("not confirmed; nothing was changed").with_code("not_confirmed"))
        }
    }

    /// Whether a question can be asked (stdin and stderr are a terminal,
    /// not GitHub Actions).
    pub fn can_ask(&self) -> bool {
        self.stdin_tty && self.stderr_tty && self.captured.is_none()
    }

    /// Asks `question` on a terminal and returns the answer line (trimmed);
    /// `None` without a terminal. Read off the async runtime, so Ctrl-C ends
    /// the command at once.
    pub async fn ask(&self, question: &str) -> Result<Option<String>> {
        if !self.can_ask() {
            return Ok(None);
        }
        self.write_err(&format!("{question} "));
        let line = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map(|_| line)
        })
        .await
        .map_err(|e| Error::local(format!("cannot read the answer: {e}")))?
        .map_err(|e| Error::local(format!("cannot read the answer: {e}")))?;
        Ok(Some(line.trim().to_owned()))
    }

    /// Appends Markdown to the GitHub Actions job summary (no-op elsewhere).
    pub fn summary(&self, markdown: &str) -> Result<()> {
        let Some(path) = self.gha.as_ref().and_then(|g| g.summary.as_ref()) else {
            return Ok(());
        };
        append(path, &self.redact(markdown))
    }

    /// Writes `key=value` to `$GITHUB_OUTPUT` (no-op elsewhere). Multi-line
    /// values use the heredoc form.
    pub fn output(&self, key: &str, value: &str) -> Result<()> {
        let Some(path) = self.gha.as_ref().and_then(|g| g.output.as_ref()) else {
            return Ok(());
        };
        let value = self.redact(value);
        let line = if value.contains('\n') {
            format!("{key}<<ALMAREL_EOF\n{value}\nALMAREL_EOF\n")
        } else {
            format!("{key}={value}\n")
        };
        append(path, &line)
    }
}

fn append(path: &PathBuf, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::local(format!("cannot open {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::local(format!("cannot write {}: {e}", path.display())))
}

/// Escapes a message for a `::error::` workflow command.
fn escape_annotation(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Renders rows as aligned columns (for result tables).
pub fn table(rows: &[Vec<String>]) -> Vec<String> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; cols];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(console::measure_text_width(cell));
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - console::measure_text_width(cell) + 2;
                    line.push_str(&" ".repeat(pad));
                }
            }
            line.trim_end().to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global() -> Global {
        Global {
            json: false,
            yes: false,
            dry_run: false,
            quiet: false,
            verbose: 0,
            color: ColorChoice::Never,
        }
    }

    #[test]
    fn secrets_are_redacted_everywhere() {
        let (ui, store) = Ui::captured(&global());
        ui.add_secret("ghp_supersecret");
        ui.result("token ghp_supersecret here");
        ui.error(&Error::remote("bad ghp_supersecret").with_hint("ghp_supersecret"));
        let c = store.lock().unwrap();
        assert!(!c.stdout.contains("supersecret"));
        assert!(!c.stderr.contains("supersecret"));
        assert!(c.stdout.contains("token *** here"));
    }

    #[tokio::test]
    async fn confirmation_without_terminal_is_refused() {
        let (ui, _) = Ui::captured(&global());
        let e = ui.confirm("approve?").await.unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Refused);
        let mut g = global();
        g.yes = true;
        let (ui, _) = Ui::captured(&g);
        assert!(ui.confirm("approve?").await.is_ok());
    }

    #[test]
    fn every_hint_is_shown_and_the_cause_only_at_v() {
        let (ui, store) = Ui::captured(&global());
        let e = Error::refused("no")
            .with_hint("one")
            .with_hint("two")
            .with_source("deep cause");
        ui.error(&e);
        let mut g = global();
        g.verbose = 1;
        let (loud, loud_store) = Ui::captured(&g);
        loud.error(&e);
        let c = store.lock().unwrap();
        assert!(c.stderr.contains("hint: one\nhint: two"), "{}", c.stderr);
        assert!(!c.stderr.contains("deep cause"));
        assert!(
            loud_store
                .lock()
                .unwrap()
                .stderr
                .contains("cause: deep cause")
        );
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&[
            vec!["a".into(), "bb".into(), "c".into()],
            vec!["aaa".into(), "b".into(), "c".into()],
        ]);
        assert_eq!(t, vec!["a    bb  c", "aaa  b   c"]);
    }
}
