//! The sandbox's one error type: something the sandbox could not set up or
//! do on this machine (bind a port, write a file, a git operation). almarel
//! turns it into its own local error (exit 1) where `rehearse` calls in.

/// A sandbox failure; its message is lowercase and names what failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    message: String,
}

impl Error {
    /// A failure on this machine, described by `message`.
    pub fn local(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
        }
    }

    /// What failed and why.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// `Result` with the sandbox's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
