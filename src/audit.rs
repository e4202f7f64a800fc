//! The local audit log (SPEC §6, §7.2), written ahead: in
//! `$ALMAREL_STATE_DIR/audit.jsonl`, else `$XDG_STATE_HOME/almarel/audit.jsonl`
//! (an absolute `XDG_STATE_HOME` only: a relative one is ignored, as the XDG
//! rules say), else `~/.local/state/almarel/audit.jsonl` (an absolute
//! `HOME` only: a relative one would put the log into the clone).
//!
//! A change writes two lines: `result: "started"` before its first write
//! ([`crate::context::Context::audit_start`]), then the outcome (`ok`,
//! `failed: <why>`, or `interrupted: SIGTERM` when a signal stopped it). A
//! re-run that finds the change already made writes one line whose result
//! starts with `already done` (e.g. `already done: v1.2.3 is on origin at
//! HEAD`). Never a token; nothing for a dry run or a refusal before any change.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::env::{self, Env};
use crate::error::{Error, Result};

/// Who made a change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Git identity (`Name <email>`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
    /// GitHub login, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// RFC 3339 UTC time.
    pub time: String,
    /// Who.
    pub actor: Actor,
    /// The command (`tag`, `approve`, `reject`, `deploy`, `freeze`, `unfreeze`, `rollback`).
    pub command: String,
    /// What it acted on (tag, run id, app list...).
    pub target: String,
    /// `started`, `ok`, `failed: <why>`, `interrupted: <SIGNAL>` or `already done: <what>`.
    pub result: String,
    /// Command-specific details (never secrets).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

/// The audit log's location.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: Option<PathBuf>,
    /// Why there is no path although one was configured.
    refused: Option<String>,
}

impl AuditLog {
    /// Locates the log from the environment.
    pub fn from_env(env: &Env) -> Self {
        // A relative directory would follow the current directory and could
        // put the log inside the clone (a dirty tree for the next tag).
        if let Some(d) = env.get(env::ALMAREL_STATE_DIR) {
            if !Path::new(d).is_absolute() {
                return AuditLog {
                    path: None,
                    refused: Some(format!(
                        "ALMAREL_STATE_DIR is a relative path ({d}): the audit log would move with the \
                         current directory and could land in the clone; set it to an absolute path"
                    )),
                };
            }
        }
        let dir = env
            .get(env::ALMAREL_STATE_DIR)
            .map(PathBuf::from)
            .or_else(|| {
                env.get(env::XDG_STATE_HOME)
                    .map(PathBuf::from)
                    .filter(|d| d.is_absolute())
                    .map(|d| d.join("almarel"))
            })
            .or_else(|| {
                env.get(env::HOME)
                    .map(PathBuf::from)
                    .filter(|h| h.is_absolute())
                    .map(|h| h.join(".local/state/almarel"))
            });
        AuditLog {
            path: dir.map(|d| d.join("audit.jsonl")),
            refused: None,
        }
    }

    /// Why the log cannot be located.
    fn unlocated(&self) -> String {
        self.refused.clone().unwrap_or_else(|| {
            "cannot locate the audit log: set HOME (absolute), XDG_STATE_HOME (absolute) or ALMAREL_STATE_DIR (absolute)".to_owned()
        })
    }

    /// The file path, when one could be determined.
    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// Checks that the log can be appended to (creating its directory and the
    /// file if needed). Call it before a changing command's first request:
    /// failing here is a usage error (exit 2) naming the path, nothing sent.
    pub fn check_writable(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Err(Error::usage(self.unlocated()).with_code("audit_unwritable"));
        };
        let unwritable = |e: std::io::Error| {
            Error::usage(format!(
                "cannot write the audit log {}: {e}; nothing was sent",
                path.display()
            ))
            .with_code("audit_unwritable")
            .with_hint(
                "make that file and its directory writable, or set ALMAREL_STATE_DIR to a writable directory",
            )
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(unwritable)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(drop)
            .map_err(unwritable)
    }

    /// Appends one entry.
    pub fn append(&self, entry: &Entry) -> Result<()> {
        let Some(path) = &self.path else {
            return Err(Error::local(self.unlocated()));
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::local(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut line = serde_json::to_string(entry)
            .map_err(|e| Error::local(format!("cannot encode audit entry: {e}")))?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::local(format!("cannot open {}: {e}", path.display())))?;
        f.write_all(line.as_bytes())
            .map_err(|e| Error::local(format!("cannot write {}: {e}", path.display())))
    }

    /// Reads every entry (unreadable lines are skipped).
    pub fn read(&self) -> Vec<Entry> {
        let Some(path) = &self.path else {
            return Vec::new();
        };
        std::fs::read_to_string(path)
            .map(|t| {
                t.lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The entries started and not finished yet, shared by one command run (an
/// interruption finishes them with `interrupted: <SIGNAL>`).
#[derive(Debug, Clone, Default)]
pub struct OpenEntries(Arc<Mutex<Vec<Option<Entry>>>>);

impl OpenEntries {
    fn open(&self, entry: Entry) -> usize {
        match self.0.lock() {
            Ok(mut v) => {
                v.push(Some(entry));
                v.len() - 1
            }
            Err(_) => usize::MAX,
        }
    }

    fn close(&self, idx: usize) -> Option<Entry> {
        self.0.lock().ok()?.get_mut(idx)?.take()
    }

    /// Takes every entry still open.
    pub fn take_all(&self) -> Vec<Entry> {
        self.0
            .lock()
            .map(|mut v| v.iter_mut().filter_map(Option::take).collect())
            .unwrap_or_default()
    }
}

/// A change whose `started` line is written; [`AuditEntry::finish`] appends
/// its outcome. Dropped unfinished (the command was interrupted), it stays
/// open until the interruption writes `interrupted: <SIGNAL>` for it.
#[must_use = "finish the audit entry with the change's outcome"]
pub struct AuditEntry {
    pub(crate) log: AuditLog,
    pub(crate) open: OpenEntries,
    pub(crate) idx: usize,
    pub(crate) now: Box<dyn Fn() -> String + Send + Sync>,
    pub(crate) redact: Box<dyn Fn(&str) -> String + Send + Sync>,
}

impl AuditEntry {
    /// Writes the `started` line of `entry` (its `result` is replaced) and
    /// keeps it open.
    pub(crate) fn start(
        log: &AuditLog,
        open: &OpenEntries,
        mut entry: Entry,
        now: Box<dyn Fn() -> String + Send + Sync>,
        redact: Box<dyn Fn(&str) -> String + Send + Sync>,
    ) -> Result<AuditEntry> {
        entry.result = "started".into();
        log.append(&entry)?;
        let idx = open.open(entry);
        Ok(AuditEntry {
            log: log.clone(),
            open: open.clone(),
            idx,
            now,
            redact,
        })
    }

    /// Updates the details the outcome line carries (e.g. `pushed: true`).
    pub fn set_details(&self, details: serde_json::Value) {
        if let Ok(mut v) = self.open.0.lock() {
            if let Some(Some(e)) = v.get_mut(self.idx) {
                e.details = details;
            }
        }
    }

    /// Appends the outcome: `ok`, or `failed: <why>` (redacted).
    pub fn finish(self, outcome: std::result::Result<(), &str>) -> Result<()> {
        let Some(mut entry) = self.open.close(self.idx) else {
            return Ok(());
        };
        entry.time = (self.now)();
        entry.result = match outcome {
            Ok(()) => "ok".into(),
            Err(why) => format!("failed: {}", (self.redact)(why)),
        };
        self.log.append(&entry)
    }
}

/// Appends `interrupted: <signal>` for every entry still open.
pub fn interrupt_open(log: &AuditLog, open: &OpenEntries, time: &str, signal: &str) -> Result<()> {
    for mut entry in open.take_all() {
        entry.time = time.to_owned();
        entry.result = format!("interrupted: {signal}");
        log.append(&entry)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([("XDG_STATE_HOME", dir.path().to_str().unwrap())]);
        let log = AuditLog::from_env(&env);
        let e = Entry {
            time: "2026-01-01T00:00:00Z".into(),
            actor: Actor {
                git: Some("A <a@x>".into()),
                github: None,
            },
            command: "tag".into(),
            target: "v1.2.3".into(),
            result: "ok".into(),
            details: serde_json::json!({"sha": "abc"}),
        };
        log.append(&e).unwrap();
        log.append(&e).unwrap();
        assert_eq!(log.read(), vec![e.clone(), e]);
        assert!(log.path().unwrap().starts_with(dir.path().join("almarel")));
    }

    #[test]
    fn a_relative_xdg_state_home_is_ignored() {
        let env = Env::from_pairs([("XDG_STATE_HOME", "state"), ("HOME", "/home/jane")]);
        let log = AuditLog::from_env(&env);
        assert_eq!(
            log.path().unwrap(),
            &PathBuf::from("/home/jane/.local/state/almarel/audit.jsonl")
        );
    }

    #[test]
    fn an_unwritable_log_is_a_usage_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let env = Env::from_pairs([("ALMAREL_STATE_DIR", file.to_str().unwrap())]);
        let e = AuditLog::from_env(&env).check_writable().unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert!(e.message.contains(file.to_str().unwrap()), "{}", e.message);
    }
}
