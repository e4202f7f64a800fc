//! The error type and the exit-code table (SPEC §4).
//!
//! Every failure almarel reports is an [`Error`]: a [`Kind`] that decides the
//! exit code, a stable machine `code` for `--json`, a lowercase message naming
//! what failed, hints saying what to run next (they add up), the underlying
//! cause (`source`, shown at `-v`), and optional structured data for `--json`
//! (a serialized partial report). Only `main.rs` turns a kind into a process
//! exit code.

use std::fmt;

use serde::Serialize;

pub use crate::signals::Signal;

/// What class of failure this is; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// It ran and the outcome is a failure (a check, deployment or watched run failed). Exit 1.
    Failed,
    /// Usage or configuration error; nothing was sent anywhere. Exit 2.
    Usage,
    /// Refused by a safety check or missing confirmation; nothing was changed. Exit 3.
    Refused,
    /// A remote (git remote, GitHub, Coolify) failed, refused auth or could not be reached. Exit 4.
    Remote,
    /// Timed out waiting; the remote operation may still be running. Exit 5.
    Timeout,
    /// Interrupted by a signal. Exit 130 (SIGINT), 143 (SIGTERM), 129 (SIGHUP).
    Interrupted(Signal),
    /// A local failure (a file could not be written, a git object could not be read). Exit 1.
    Local,
}

impl Kind {
    /// The process exit code for this kind (SPEC §4).
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Failed | Kind::Local => 1,
            Kind::Usage => 2,
            Kind::Refused => 3,
            Kind::Remote => 4,
            Kind::Timeout => 5,
            Kind::Interrupted(sig) => sig.exit_code(),
        }
    }

    /// The name used in `--json` error objects.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Failed => "failed",
            Kind::Usage => "usage",
            Kind::Refused => "refused",
            Kind::Remote => "remote",
            Kind::Timeout => "timeout",
            Kind::Interrupted(_) => "interrupted",
            Kind::Local => "local",
        }
    }
}

/// An almarel error: kind, code, message, hints, cause and optional data for `--json`.
#[derive(Clone)]
pub struct Error {
    /// The class of failure (decides the exit code).
    pub kind: Kind,
    /// A stable snake_case machine code (`ci_not_green`, `dirty_tree`, …) for
    /// `--json`'s `error.code`; the list is in `docs/json.md`.
    pub code: Option<&'static str>,
    /// What failed and why, lowercase, naming the thing involved.
    pub message: String,
    /// What to do next, usually a command to run; in order, first is the main one.
    pub hints: Vec<String>,
    /// The underlying cause, shown on stderr at `-v` only (redacted like everything written).
    pub source: Option<String>,
    /// Extra fields merged into the `--json` object (a serialized partial
    /// report). Boxed to keep `Result<T, Error>` small.
    pub data: Option<Box<serde_json::Value>>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            code: None,
            message: message.into(),
            hints: Vec::new(),
            source: None,
            data: None,
        }
    }
    /// Usage or configuration error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }
    /// Refused by a safety check (exit 3).
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(Kind::Refused, message)
    }
    /// A remote failed or could not be reached (exit 4).
    pub fn remote(message: impl Into<String>) -> Self {
        Self::new(Kind::Remote, message)
    }
    /// Timed out waiting (exit 5).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(Kind::Timeout, message)
    }
    /// The outcome is a failure (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Kind::Failed, message)
    }
    /// A local failure (exit 1).
    pub fn local(message: impl Into<String>) -> Self {
        Self::new(Kind::Local, message)
    }
    /// Interrupted by Ctrl-C (exit 130).
    pub fn interrupted(message: impl Into<String>) -> Self {
        Self::new(Kind::Interrupted(Signal::Int), message).with_code("interrupted")
    }
    /// Interrupted by `signal` (exit 130 / 143 / 129).
    pub fn interrupted_by(signal: Signal, message: impl Into<String>) -> Self {
        Self::new(Kind::Interrupted(signal), message).with_code("interrupted")
    }
    /// Adds a hint: what the user should do next. Hints add up, in order; an
    /// empty hint is ignored.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        let hint = hint.into();
        if !hint.trim().is_empty() && !self.hints.contains(&hint) {
            self.hints.push(hint);
        }
        self
    }
    /// Sets the stable machine code (`--json` `error.code`).
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }
    /// Keeps the underlying cause (shown at `-v`, never in `--json`).
    #[must_use]
    pub fn with_source(mut self, source: impl fmt::Display) -> Self {
        self.source = Some(source.to_string());
        self
    }
    /// Attaches structured data for `--json` (prefer [`Error::with_report`]).
    #[must_use]
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(Box::new(data));
        self
    }
    /// Attaches a serialized (partial) report for `--json`.
    #[must_use]
    pub fn with_report<T: Serialize + ?Sized>(mut self, report: &T) -> Self {
        self.data = serde_json::to_value(report).ok().map(Box::new);
        self
    }
    /// The first hint, if any.
    pub fn hint(&self) -> Option<&str> {
        self.hints.first().map(String::as_str)
    }
    /// Prefixes the message with context, keeping kind and hint.
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }
}

// Debug deliberately mirrors Display: error values are shown to users, and a
// derived Debug of a wrapped library error could carry request details.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.kind.name(), self.message)
    }
}

/// The sandbox (`rehearse`) failed on this machine: a local error (exit 1).
impl From<almarel_sandbox::Error> for Error {
    fn from(e: almarel_sandbox::Error) -> Self {
        Error::local(e.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_spec_table() {
        assert_eq!(Kind::Failed.exit_code(), 1);
        assert_eq!(Kind::Usage.exit_code(), 2);
        assert_eq!(Kind::Refused.exit_code(), 3);
        assert_eq!(Kind::Remote.exit_code(), 4);
        assert_eq!(Kind::Timeout.exit_code(), 5);
        assert_eq!(Kind::Interrupted(Signal::Int).exit_code(), 130);
        assert_eq!(Kind::Interrupted(Signal::Term).exit_code(), 143);
        assert_eq!(Kind::Interrupted(Signal::Hup).exit_code(), 129);
    }

    #[test]
    fn sandbox_errors_are_local() {
        let e = Error::from(almarel_sandbox::Error::local(
            "sandbox: cannot bind a loopback port",
        ));
        assert_eq!(e.kind, Kind::Local);
        assert_eq!(e.message, "sandbox: cannot bind a loopback port");
    }

    #[test]
    fn context_keeps_kind_and_hint() {
        let e = Error::remote("connection refused")
            .with_hint("check the url")
            .context("github");
        assert_eq!(e.kind, Kind::Remote);
        assert_eq!(e.to_string(), "github: connection refused");
        assert_eq!(e.hint(), Some("check the url"));
    }

    #[test]
    fn hints_add_up_and_empty_ones_are_dropped() {
        let e = Error::refused("ci is red")
            .with_code("ci_not_green")
            .with_hint("first")
            .with_hint("")
            .with_hint("second")
            .with_source("io: broken pipe");
        assert_eq!(e.hints, vec!["first", "second"]);
        assert_eq!(e.hint(), Some("first"));
        assert_eq!(e.code, Some("ci_not_green"));
        assert_eq!(e.source.as_deref(), Some("io: broken pipe"));
    }
}
