//! The write-ahead journal of remote writes (SPEC §7.1).
//!
//! Before a remote write leaves, the step records it as *in flight*
//! ([`Journal::begin`]); after the answer it marks it [`Write::done`] or
//! [`Write::failed`]. Writes known in advance can be declared with
//! [`Journal::plan`] so an interruption lists them as *not started*. A
//! [`Write`] dropped without an answer (its future was cancelled by a signal)
//! stays in flight: it may have been applied.
//!
//! "nothing was changed" may be said only when [`Snapshot::nothing_sent`] is
//! true: no write ever left.

use std::sync::{Arc, Mutex};

use serde::Serialize;

/// The state of one journaled write.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    NotStarted,
    InFlight,
    Done,
    Failed(String),
}

#[derive(Debug, Clone)]
struct Item {
    what: String,
    check: Option<String>,
    state: State,
}

/// The journal of one command run. Cheap to clone; clones share the entries.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    items: Arc<Mutex<Vec<Item>>>,
    /// The exact command that continues an interrupted run (set once its
    /// targets are decided), instead of a generic "re-run" hint.
    resume: Arc<Mutex<Option<crate::report::Next>>>,
}

/// A write declared with [`Journal::plan`], not started yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteId(usize);

/// A write in flight: mark it [`Write::done`] or [`Write::failed`] once its
/// answer is known. Dropped without either, it stays in flight.
#[derive(Debug)]
#[must_use = "mark the write done or failed once its answer is known"]
pub struct Write {
    journal: Journal,
    id: usize,
}

/// An in-flight write as the interruption report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InFlight {
    /// What was sent.
    pub write: String,
    /// A command that tells whether it was applied.
    pub check: Option<String>,
}

/// A write whose answer was a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    /// What was sent.
    pub write: String,
    /// Why it failed.
    pub why: String,
}

/// The journal at one moment, in the order the writes were recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Writes that were answered as applied.
    pub done: Vec<String>,
    /// Writes that left without an answer: they may have been applied.
    pub in_flight: Vec<InFlight>,
    /// Writes declared in advance that never left.
    pub not_started: Vec<String>,
    /// Writes answered with a failure.
    pub failed: Vec<Failed>,
}

impl Snapshot {
    /// Whether no write ever left (only then is "nothing was changed" true).
    pub fn nothing_sent(&self) -> bool {
        self.done.is_empty() && self.in_flight.is_empty() && self.failed.is_empty()
    }
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Journal {
        Journal::default()
    }

    fn push(&self, what: String, check: Option<String>, state: State) -> usize {
        match self.items.lock() {
            Ok(mut items) => {
                items.push(Item { what, check, state });
                items.len() - 1
            }
            Err(_) => usize::MAX,
        }
    }

    fn set(&self, id: usize, state: State) {
        if let Ok(mut items) = self.items.lock() {
            if let Some(item) = items.get_mut(id) {
                item.state = state;
            }
        }
    }

    /// Declares a write that will be made later (listed as not started until
    /// [`Journal::start`]). `check` is a command that says whether it applied.
    pub fn plan(&self, what: impl Into<String>, check: Option<String>) -> WriteId {
        WriteId(self.push(what.into(), check, State::NotStarted))
    }

    /// Marks a planned write as in flight: call it just before the request leaves.
    pub fn start(&self, id: WriteId) -> Write {
        self.set(id.0, State::InFlight);
        Write {
            journal: self.clone(),
            id: id.0,
        }
    }

    /// Records a write as in flight: call it just before the request leaves.
    pub fn begin(&self, what: impl Into<String>, check: Option<String>) -> Write {
        let id = self.push(what.into(), check, State::InFlight);
        Write {
            journal: self.clone(),
            id,
        }
    }

    /// Records a change already made (for steps that journal only afterwards).
    pub fn record_done(&self, what: impl Into<String>) {
        self.push(what.into(), None, State::Done);
    }

    /// Sets the command that continues this run from where it is, with the
    /// targets already decided (SPEC §7.3); an interruption prints it as the
    /// `next:` line. Update it as steps complete.
    pub fn set_resume(&self, next: crate::report::Next) {
        if let Ok(mut r) = self.resume.lock() {
            *r = Some(next);
        }
    }

    /// The command set by [`Journal::set_resume`], if any.
    pub fn resume(&self) -> Option<crate::report::Next> {
        self.resume.lock().ok()?.clone()
    }

    /// The journal now.
    pub fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::default();
        let Ok(items) = self.items.lock() else {
            return s;
        };
        for i in items.iter() {
            match &i.state {
                State::NotStarted => s.not_started.push(i.what.clone()),
                State::InFlight => s.in_flight.push(InFlight {
                    write: i.what.clone(),
                    check: i.check.clone(),
                }),
                State::Done => s.done.push(i.what.clone()),
                State::Failed(why) => s.failed.push(Failed {
                    write: i.what.clone(),
                    why: why.clone(),
                }),
            }
        }
        s
    }
}

impl Write {
    /// The answer said the write applied.
    pub fn done(self) {
        self.journal.set(self.id, State::Done);
    }

    /// The answer said the write failed.
    pub fn failed(self, why: impl std::fmt::Display) {
        self.journal.set(self.id, State::Failed(why.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_done_in_flight_not_started_and_failed() {
        let j = Journal::new();
        assert!(j.snapshot().nothing_sent());
        let later = j.plan("POST deploy web", None);
        let a = j.begin("push v1.2.3", Some("git ls-remote origin v1.2.3".into()));
        assert!(!j.snapshot().nothing_sent());
        a.done();
        let b = j.begin("PATCH api", Some("almarel status".into()));
        let snap = j.snapshot();
        assert_eq!(snap.done, vec!["push v1.2.3"]);
        assert_eq!(snap.in_flight[0].write, "PATCH api");
        assert_eq!(snap.not_started, vec!["POST deploy web"]);
        b.failed("422");
        let c = j.start(later);
        drop(c); // cancelled mid-flight: stays in flight
        let snap = j.snapshot();
        assert_eq!(snap.failed[0].why, "422");
        assert_eq!(snap.in_flight[0].write, "POST deploy web");
        assert!(snap.not_started.is_empty());
    }

    #[test]
    fn a_planned_write_that_never_left_is_nothing_sent() {
        let j = Journal::new();
        let _ = j.plan("push v1", None);
        assert!(j.snapshot().nothing_sent());
    }
}
