//! [`Context`]: everything a command needs, built once in `main` (no globals).

use std::sync::{Arc, Mutex};

use secrecy::SecretString;

use crate::audit::{self, AuditEntry, AuditLog, OpenEntries};
use crate::clock::{Clock, SystemClock};
use crate::env::Env;
use crate::error::Result;
use crate::journal::Journal;
use crate::settings::Settings;
use crate::signals::Signal;
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
    /// The write-ahead journal of remote writes (SPEC §7.1).
    pub journal: Journal,
    open_audits: OpenEntries,
    /// The run's one GitHub client, built on first use (one token discovery,
    /// one ETag cache); clones of the context share it.
    github: Arc<tokio::sync::OnceCell<crate::github::Client>>,
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
            journal: Journal::new(),
            open_audits: OpenEntries::default(),
            github: Arc::default(),
            coolify: Arc::default(),
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
        let cache_root = crate::github::cache::default_root(
            self.env.get(crate::env::XDG_CACHE_HOME),
            self.env.get(crate::env::HOME),
        );
        let cache_token = token.clone();
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
        .map(|c| c.with_cache_dir(cache_root.as_deref(), &cache_token))
    }

    /// The Coolify token (`COOLIFY_TOKEN`, trimmed and checked), registered
    /// with the redactor (its secret half too); its source reported at `-v`.
    pub fn coolify_token(&self) -> Result<SecretString> {
        // The selected environment's variable (`COOLIFY_TOKEN` unless
        // `[environments.<name>.coolify] token_env` names another).
        let var = &self.settings.coolify.token_env;
        let token = crate::auth::coolify_token_in(&self.env, var)?;
        self.register_secret(&token);
        self.ui.detail(1, &format!("coolify token from {var}"));
        Ok(token)
    }

    /// A registry client for image identity (`release::artifact`). With
    /// GitHub proper (`api.github.com`), the GitHub token, when one is found,
    /// is the credential for `ghcr.io` (registered with the redactor);
    /// without one, or with GitHub Enterprise Server, registries are read
    /// anonymously and a private image is reported as "cannot be checked".
    pub fn registry(&self) -> Result<crate::registry::Client> {
        let api_url = &self.settings.github.api_url;
        let token = (crate::auth::gh_hostname(api_url).as_deref() == Some("github.com"))
            .then(|| crate::auth::github_token(&self.env, api_url).ok())
            .flatten()
            .map(|(t, _)| t);
        if let Some(t) = &token {
            self.register_secret(t);
        }
        let ui = self.ui.clone();
        let mut config = crate::registry::Config::ghcr(self.clock.clone(), token);
        config.allow_insecure_http = self.settings.allow_insecure_http;
        config.log = Some(Arc::new(move |line: &str| ui.detail(2, line)));
        crate::registry::Client::new(config)
    }

    fn register_secret(&self, token: &SecretString) {
        for part in crate::auth::secret_parts(token) {
            self.ui.add_secret(&part);
        }
    }

    /// Records a change that has been made, for the interrupt report
    /// ("what was already done"). Prefer [`Journal::begin`] before the write
    /// leaves: this only covers the time after its answer.
    pub fn done(&self, what: impl Into<String>) {
        self.journal.record_done(what);
    }

    fn now_rfc3339(&self) -> String {
        crate::clock::rfc3339(self.clock.wall())
    }

    /// Writes the audit log's `started` line for a change, before its first
    /// write (SPEC §7.2). Fails (exit 2, naming the path) when the log cannot
    /// be written: then nothing may be sent.
    pub fn audit_start(
        &self,
        command: &str,
        target: &str,
        actor: audit::Actor,
        details: serde_json::Value,
    ) -> Result<AuditEntry> {
        self.audit.check_writable()?;
        let entry = audit::Entry {
            time: self.now_rfc3339(),
            actor,
            command: command.to_owned(),
            target: target.to_owned(),
            result: "started".to_owned(),
            details,
        };
        let clock = self.clock.clone();
        let ui = self.ui.clone();
        AuditEntry::start(
            &self.audit,
            &self.open_audits,
            entry,
            Box::new(move || crate::clock::rfc3339(clock.wall())),
            Box::new(move |t| ui.redact(t)),
        )
    }

    /// Logs a re-run that found the change already made: one line whose
    /// result is `already done: <what>`. A failure to write it is a warning.
    pub fn audit_already_done(
        &self,
        command: &str,
        target: &str,
        actor: audit::Actor,
        what: &str,
        details: serde_json::Value,
    ) {
        let entry = audit::Entry {
            time: self.now_rfc3339(),
            actor,
            command: command.to_owned(),
            target: target.to_owned(),
            result: format!("already done: {}", self.ui.redact(what)),
            details,
        };
        if let Err(e) = self.audit.append(&entry) {
            self.ui
                .warn(&format!("audit log not written: {}", e.message));
        }
    }

    /// Finishes every audit entry still open with `interrupted: <SIGNAL>`.
    pub fn audit_interrupted(&self, signal: Signal) {
        if let Err(e) = audit::interrupt_open(
            &self.audit,
            &self.open_audits,
            &self.now_rfc3339(),
            signal.name(),
        ) {
            self.ui
                .warn(&format!("audit log not written: {}", e.message));
        }
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
        let token = self.coolify_token()?;
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
    /// Ctrl-C while it waits ends the command at once (exit 130).
    pub async fn confirm(&self, question: &str) -> Result<()> {
        self.ui.confirm(question).await
    }
}
