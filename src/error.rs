//! The error type and the exit-code table (SPEC §4).
//!
//! Every failure almarel reports is an [`Error`]: a [`Kind`] that decides the
//! exit code, a lowercase message naming what failed, an optional hint saying
//! what to run next, and optional structured data for `--json`. Only `main.rs`
//! turns a kind into a process exit code.

use std::fmt;

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
    /// Interrupted by Ctrl-C. Exit 130.
    Interrupted,
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
            Kind::Interrupted => 130,
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
            Kind::Interrupted => "interrupted",
            Kind::Local => "local",
        }
    }
}

/// An almarel error: kind, message, hint and optional data for `--json`.
#[derive(Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// The class of failure (decides the exit code).
    pub kind: Kind,
    /// What failed and why, lowercase, naming the thing involved.
    pub message: String,
    /// What to do next, usually a command to run.
    pub hint: Option<String>,
    /// Extra fields merged into the `--json` object (checks, plan, partial results).
    pub data: Option<serde_json::Value>,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
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
        Self::new(Kind::Interrupted, message)
    }
    /// Adds a hint: what the user should do next.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Attaches structured data for `--json`.
    #[must_use]
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
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
        assert_eq!(Kind::Interrupted.exit_code(), 130);
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
        assert_eq!(e.hint.as_deref(), Some("check the url"));
    }
}
