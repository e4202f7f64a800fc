//! The local audit log (SPEC §6): one JSON line per attempted change in
//! `$ALMAREL_STATE_DIR/audit.jsonl`, else `$XDG_STATE_HOME/almarel/audit.jsonl`,
//! else `~/.local/state/almarel/audit.jsonl`. Never a token; nothing for a dry
//! run or a refusal before any change.

use std::io::Write;
use std::path::PathBuf;

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
    /// `ok`, or `failed: <why>`.
    pub result: String,
    /// Command-specific details (never secrets).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

/// The audit log's location.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: Option<PathBuf>,
}

impl AuditLog {
    /// Locates the log from the environment.
    pub fn from_env(env: &Env) -> Self {
        let dir = env
            .get(env::ALMAREL_STATE_DIR)
            .map(PathBuf::from)
            .or_else(|| {
                env.get(env::XDG_STATE_HOME)
                    .map(|d| PathBuf::from(d).join("almarel"))
            })
            .or_else(|| {
                env.get(env::HOME)
                    .map(|h| PathBuf::from(h).join(".local/state/almarel"))
            });
        AuditLog {
            path: dir.map(|d| d.join("audit.jsonl")),
        }
    }

    /// The file path, when one could be determined.
    pub fn path(&self) -> Option<&PathBuf> {
        self.path.as_ref()
    }

    /// Appends one entry.
    pub fn append(&self, entry: &Entry) -> Result<()> {
        let Some(path) = &self.path else {
            return Err(Error::local(
                "cannot locate the audit log: set HOME, XDG_STATE_HOME or ALMAREL_STATE_DIR",
            ));
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
}
