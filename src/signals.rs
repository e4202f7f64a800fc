//! The signals that stop a command: SIGINT (Ctrl-C), SIGTERM (a cancelled
//! Actions job, `kill`) and SIGHUP (a closed terminal). Each ends the command
//! with its own exit code (130 / 143 / 129, SPEC §4) and the journal's report
//! of what was done, what was in flight and what was not started (SPEC §7.1).

use std::fmt;

/// A signal that interrupts a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Ctrl-C. Exit 130.
    Int,
    /// A polite stop request (`kill`, a cancelled CI job). Exit 143.
    Term,
    /// The terminal went away. Exit 129.
    Hup,
}

impl Signal {
    /// The process exit code: 128 + the signal number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Int => 130,
            Signal::Term => 143,
            Signal::Hup => 129,
        }
    }

    /// The conventional name (`SIGINT`, `SIGTERM`, `SIGHUP`).
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
            Signal::Hup => "SIGHUP",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Listens for the interrupting signals. Create it before the command starts
/// so a signal sent while the command runs is never missed.
pub struct Listener {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Listener {
    /// Installs the handlers (inside a tokio runtime). A handler that cannot
    /// be installed leaves that signal's default behaviour in place.
    pub fn install() -> Listener {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Listener {
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Listener {}
        }
    }

    /// Waits for the first signal.
    pub async fn recv(&mut self) -> Signal {
        #[cfg(unix)]
        {
            async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        if s.recv().await.is_none() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = one(&mut self.int) => Signal::Int,
                () = one(&mut self.term) => Signal::Term,
                () = one(&mut self.hup) => Signal::Hup,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Signal::Int,
                Err(_) => std::future::pending().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal_number() {
        assert_eq!(Signal::Int.exit_code(), 130);
        assert_eq!(Signal::Term.exit_code(), 143);
        assert_eq!(Signal::Hup.exit_code(), 129);
        assert_eq!(Signal::Term.to_string(), "SIGTERM");
    }
}
