//! [`Context`]: everything a command needs, built once in `main` (no globals).

use std::sync::{Arc, Mutex};

use secrecy::SecretString;

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
    /// The run's one GitHub client, built on first use (one token discovery,
    /// one ETag cache); clones of the context share it.
    github: Arc<tokio::sync::OnceCell<crate::github::Client>>,
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
            github: Arc::default(),
        }
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        // A client built earlier runs on the old clock: build a new one.
        self.github = Arc::default();
        self
    }

    /// The run's GitHub client: built on the first call (checks that
    /// `github.api_url` may carry a token, then discovers the token once,
    /// registers it with the redactor and reports its source at `-v`), then
    /// the same client (shared ETag cache and counters) on every later call.
    /// A failure is not remembered: the next call tries again.
    pub async fn github(&self) -> Result<crate::github::Client> {
        self.github
            .get_or_try_init(|| async { self.build_github() })
            .await
            .cloned()
    }

    fn build_github(&self) -> Result<crate::github::Client> {
        let s = &self.settings;
        let repository = s.require_repository()?.to_owned();
        let api_url = s.github.api_url.trim_end_matches('/').to_owned();
        crate::net::check_secret_url("github.api_url", &api_url, s.allow_insecure_http)?;
        let (token, source) = crate::auth::github_token(&self.env, &api_url)?;
        self.register_secret(&token);
        self.ui.detail(1, &format!("github token from {source}"));
        let ui = self.ui.clone();
        let log: crate::github::LogHook = Arc::new(move |line: &str| ui.detail(2, line));
        crate::github::Client::new(crate::github::Config {
            api_url,
            repository,
            token,
            clock: self.clock.clone(),
            request_timeout: s.github.request_timeout,
            log: Some(log),
            tag_prefix: s.git.tag_prefix.clone(),
            branch: s.git.branch.clone(),
            deploy_workflow: s.github.deploy_workflow.clone(),
        })
    }

    /// The Coolify token (`COOLIFY_TOKEN`, trimmed and checked), registered
    /// with the redactor (its secret half too); its source reported at `-v`.
    pub fn coolify_token(&self) -> Result<SecretString> {
        let token = crate::auth::coolify_token(&self.env)?;
        self.register_secret(&token);
        self.ui.detail(
            1,
            &format!(
                "coolify token from {}",
                crate::auth::TokenSource::CoolifyToken
            ),
        );
        Ok(token)
    }

    fn register_secret(&self, token: &SecretString) {
        for part in crate::auth::secret_parts(token) {
            self.ui.add_secret(&part);
        }
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

    /// Asks for confirmation unless `--yes` (exit 3 without a terminal).
    pub fn confirm(&self, question: &str) -> Result<()> {
        self.ui.confirm(question)
    }
}
