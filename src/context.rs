//! [`Context`]: everything a command needs, built once in `main` (no globals).

use std::sync::{Arc, Mutex};

use crate::audit::{self, AuditLog};
use crate::clock::{Clock, SystemClock};
use crate::env::Env;
use crate::error::Result;
use crate::settings::Settings;
use crate::ui::Ui;

/// What a command runs with.
#[derive(Clone)]
pub struct Context {
    /// Resolved settings.
    pub settings: Settings,
    /// The printer.
    pub ui: Ui,
    /// The environment snapshot.
    pub env: Env,
    /// Time source for waits and deadlines.
    pub clock: Arc<dyn Clock>,
    /// The audit log.
    pub audit: AuditLog,
    journal: Arc<Mutex<Vec<String>>>,
    coolify: Arc<Mutex<Option<crate::coolify::Client>>>,
}

impl Context {
    /// A context with the real clock.
    pub fn new(settings: Settings, ui: Ui, env: Env) -> Self {
        let audit = AuditLog::from_env(&env);
        Context {
            settings,
            ui,
            env,
            clock: Arc::new(SystemClock),
            audit,
            journal: Arc::default(),
            coolify: Arc::default(),
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Records a change that has been made, for the interrupt report
    /// ("what was already done").
    pub fn done(&self, what: impl Into<String>) {
        if let Ok(mut j) = self.journal.lock() {
            j.push(what.into());
        }
    }

    /// The changes recorded with [`Context::done`], in order.
    pub fn journal(&self) -> Vec<String> {
        self.journal.lock().map(|j| j.clone()).unwrap_or_default()
    }

    /// Appends an audit entry; a failure to write it is a warning, not a failure
    /// of the change itself (which already happened).
    pub fn audit(
        &self,
        command: &str,
        target: &str,
        result: std::result::Result<(), &str>,
        actor: audit::Actor,
        details: serde_json::Value,
    ) {
        let entry = audit::Entry {
            time: crate::clock::rfc3339(self.clock.wall()),
            actor,
            command: command.to_owned(),
            target: target.to_owned(),
            result: match result {
                Ok(()) => "ok".to_owned(),
                Err(why) => format!("failed: {}", self.ui.redact(why)),
            },
            details,
        };
        if let Err(e) = self.audit.append(&entry) {
            self.ui
                .warn(&format!("audit log not written: {}", e.message));
        }
    }

    /// The Coolify client, built on first use and then reused for the run
    /// (one token discovery): `coolify.url` and `COOLIFY_TOKEN` (exit 2 when
    /// either is missing, or the URL is plain http to a non-loopback host
    /// without `allow_insecure_http`); `-vv` logs each request.
    pub fn coolify(&self) -> Result<crate::coolify::Client> {
        let mut slot = self
            .coolify
            .lock()
            .map_err(|_| crate::error::Error::local("the coolify client lock is poisoned"))?;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let url = self.settings.require_coolify_url()?.to_owned();
        crate::net::check_secret_url("coolify.url", &url, self.settings.allow_insecure_http)?;
        let token = crate::auth::coolify_token(&self.env, &self.ui)?;
        let ui = self.ui.clone();
        let client = crate::coolify::Client::new(crate::coolify::Config {
            url,
            token,
            clock: self.clock.clone(),
            request_timeout: self.settings.coolify.request_timeout,
            allow_insecure_http: self.settings.allow_insecure_http,
            log: Some(Arc::new(move |line: &str| ui.detail(2, line))),
        })?;
        *slot = Some(client.clone());
        Ok(client)
    }

    /// The probes of `[verify]` expecting `expected_sha` (validated with
    /// [`crate::probe::parse_sha`]); secret values they handle are redacted,
    /// `-vv` logs each request. Usage errors (exit 2) before any request.
    pub fn prober(&self, expected_sha: &str) -> Result<crate::probe::Prober> {
        let (log_ui, secret_ui) = (self.ui.clone(), self.ui.clone());
        crate::probe::Prober::new(crate::probe::Config {
            verify: self.settings.verify.clone(),
            env: self.env.clone(),
            clock: self.clock.clone(),
            allow_insecure_http: self.settings.allow_insecure_http,
            expected_sha: expected_sha.to_owned(),
            log: Some(Arc::new(move |line: &str| log_ui.detail(2, line))),
            secret: Some(Arc::new(move |v: &str| secret_ui.add_secret(v))),
        })
    }

    /// Asks for confirmation unless `--yes` (exit 3 without a terminal).
    pub fn confirm(&self, question: &str) -> Result<()> {
        self.ui.confirm(question)
    }
}
