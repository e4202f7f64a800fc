//! The per-app deploy flow shared by `almarel deploy` and `almarel rollback`.
//!
//! Two phases, so that refusals and `--dry-run` happen before any change:
//! 1. [`prepare`] reads every app (and Coolify's version, which proves the
//!    token) and refuses (exit 3) unless every app is a Docker Image app.
//! 2. [`deploy_apps`] runs each app concurrently: wait for a deployment
//!    already in flight (never cancel it), PATCH `docker_registry_image_tag`
//!    when it differs, `POST /deploy?uuid=..&force=true`, check the entry,
//!    follow the deployment to `finished` / `failed` / `cancelled-by-user`,
//!    and restore the remembered tag (PATCH only) when it did not finish.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::join_all;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::{Client, Deployment, DeploymentStatus, Trigger, log_lines};
use crate::audit::Actor;
use crate::clock::{Deadline, Poll, PollError, poll_until};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::settings::CoolifyApp;
use crate::ui::{Tone, Ui};

/// How long a deployment that answers 404 is retried before giving up
/// (4.0.0-beta.464–467 answered 404 for live deployments).
pub const NOT_FOUND_WINDOW: Duration = Duration::from_secs(30);
/// How many log lines a failure shows.
pub const LOG_TAIL: usize = 20;

/// What to deploy where.
#[derive(Debug, Clone)]
pub struct DeployPlan {
    /// The command on whose behalf this runs (`deploy`, `rollback`): audit log and messages.
    pub command: String,
    /// What is being deployed, for messages (`v1.2.3`, or `commit 1a2b3c4`).
    pub target: String,
    /// The image tag every app gets.
    pub image_tag: String,
    /// The apps.
    pub apps: Vec<CoolifyApp>,
    /// Deadline for everything, in-flight waits included.
    pub timeout: Duration,
    /// Follow the deployments to the end (false: `--no-wait`).
    pub wait: bool,
    /// First poll interval while following (backs off while nothing changes).
    pub poll_interval: Duration,
    /// Longest poll interval.
    pub poll_max: Duration,
    /// Who deploys (audit log).
    pub actor: Actor,
    /// Extra details for the audit log (tag, sha).
    pub audit_details: Value,
}

impl DeployPlan {
    /// A plan with the default polling (2 s, backing off to 5 s).
    pub fn new(
        command: &str,
        target: &str,
        image_tag: &str,
        apps: Vec<CoolifyApp>,
        timeout: Duration,
    ) -> Self {
        DeployPlan {
            command: command.to_owned(),
            target: target.to_owned(),
            image_tag: image_tag.to_owned(),
            apps,
            timeout,
            wait: true,
            poll_interval: Duration::from_secs(2),
            poll_max: Duration::from_secs(5),
            actor: Actor::default(),
            audit_details: Value::Null,
        }
    }
}

/// One app as read before any change.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The app from `coolify.apps`.
    pub app: CoolifyApp,
    /// Its image repository.
    pub image_name: Option<String>,
    /// Its configured image tag before this run (what a failure restores).
    pub previous_tag: Option<String>,
    /// Deployments of it that are `queued` or `in_progress` right now.
    pub in_flight: Vec<Deployment>,
}

impl AppState {
    /// Whether the image tag needs a PATCH.
    pub fn needs_patch(&self, image_tag: &str) -> bool {
        self.previous_tag.as_deref() != Some(image_tag)
    }
}

/// The result of [`prepare`]: everything read, nothing changed.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Coolify's version (`GET /version`).
    pub coolify_version: String,
    /// Each app, in plan order.
    pub apps: Vec<AppState>,
}

impl Prepared {
    /// The writes a real run would send, one line each (for `--dry-run`).
    pub fn planned_writes(&self, plan: &DeployPlan) -> Vec<String> {
        let mut lines = Vec::new();
        for s in &self.apps {
            let name = &s.app.name;
            let uuid = &s.app.uuid;
            for d in &s.in_flight {
                lines.push(format!(
                    "{name}: wait for deployment {} ({}) already in flight",
                    d.deployment_uuid, d.status
                ));
            }
            if s.needs_patch(&plan.image_tag) {
                lines.push(format!(
                    "{name}: PATCH /api/v1/applications/{uuid} {{\"docker_registry_image_tag\":\"{}\"}} (was {})",
                    plan.image_tag,
                    s.previous_tag.as_deref().unwrap_or("unset")
                ));
            } else {
                lines.push(format!(
                    "{name}: image tag is already {}; no PATCH",
                    plan.image_tag
                ));
            }
            lines.push(format!(
                "{name}: POST /api/v1/deploy?uuid={uuid}&force=true"
            ));
        }
        lines
    }
}

/// Reads Coolify's version and every app concurrently; refuses (exit 3, nothing
/// changed) when an app is not a Docker Image app. A read failure is returned
/// as is (401/403/404 → exit 4) before any change.
pub async fn prepare(client: &Client, plan: &DeployPlan) -> Result<Prepared> {
    let coolify_version = client.version().await?;
    let reads = plan.apps.iter().map(|app| async move {
        let a = client.application(&app.name, &app.uuid).await?;
        let list = client.app_deployments(&app.name, &app.uuid, 5).await?;
        Ok::<_, Error>((app.clone(), a, list))
    });
    let mut apps = Vec::new();
    let mut refusals = Vec::new();
    for r in join_all(reads).await {
        let (app, a, list) = r?;
        if !a.is_docker_image() {
            let pack = a.build_pack.as_deref().unwrap_or("unknown");
            refusals.push(format!(
                "app `{}` is a `{pack}` app, not a Docker Image app (build_pack dockerimage): \
                 there, force=true would mean a full rebuild instead of pulling the release image",
                app.name
            ));
            continue;
        }
        apps.push(AppState {
            image_name: a.docker_registry_image_name.clone(),
            previous_tag: a.image_tag().map(str::to_owned),
            in_flight: list
                .deployments
                .into_iter()
                .filter(|d| d.status.is_in_flight())
                .collect(),
            app,
        });
    }
    if !refusals.is_empty() {
        return Err(Error::refused(refusals.join("; ")).with_hint(
            "deploy only Docker Image apps with almarel (--app NAME, or fix coolify.apps); \
             nothing was changed",
        ));
    }
    Ok(Prepared {
        coolify_version,
        apps,
    })
}

/// How one app's deployment ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The deployment finished.
    Finished,
    /// The deployment failed.
    Failed,
    /// Somebody cancelled it.
    Cancelled,
    /// Triggered and not followed (`--no-wait`).
    Triggered,
    /// The deadline passed; the deployment is left running.
    TimedOut,
    /// Coolify did not start a deployment; its message says why.
    NotStarted(String),
    /// Talking to Coolify failed.
    Error(Error),
}

impl Outcome {
    /// A short status word (`finished`, `failed`, ...).
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled-by-user",
            Outcome::Triggered => "triggered",
            Outcome::TimedOut => "timed-out",
            Outcome::NotStarted(_) => "not-started",
            Outcome::Error(_) => "error",
        }
    }
}

/// What happened to one app.
#[derive(Debug, Clone)]
pub struct AppOutcome {
    /// The app.
    pub app: CoolifyApp,
    /// The image tag it was given.
    pub image_tag: String,
    /// Its tag before this run.
    pub previous_tag: Option<String>,
    /// Whether the tag was PATCHed.
    pub patched: bool,
    /// Whether the previous tag was PATCHed back after a failure.
    pub restored: bool,
    /// Why restoring failed, when it did.
    pub restore_error: Option<String>,
    /// The deployment almarel started (or adopted).
    pub deployment_uuid: Option<String>,
    /// The deployment's UI path, when known.
    pub deployment_url: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The last build log lines of a failed deployment, when the token may read them.
    pub log_tail: Vec<String>,
    /// Whether the build log was readable.
    pub logs_readable: bool,
    /// Seconds from start to the end of this app's flow.
    pub elapsed: Duration,
}

impl AppOutcome {
    fn new(state: &AppState, plan: &DeployPlan) -> Self {
        AppOutcome {
            app: state.app.clone(),
            image_tag: plan.image_tag.clone(),
            previous_tag: state.previous_tag.clone(),
            patched: false,
            restored: false,
            restore_error: None,
            deployment_uuid: None,
            deployment_url: None,
            outcome: Outcome::Triggered,
            log_tail: Vec::new(),
            logs_readable: false,
            elapsed: Duration::ZERO,
        }
    }

    /// A one-line description of the outcome.
    pub fn detail(&self) -> String {
        let mut d = match &self.outcome {
            Outcome::Finished => format!("running {}", self.image_tag),
            Outcome::Failed => "deployment failed".to_owned(),
            Outcome::Cancelled => "deployment was cancelled".to_owned(),
            Outcome::Triggered => "triggered, not followed".to_owned(),
            Outcome::TimedOut => "still running when the deadline passed".to_owned(),
            Outcome::NotStarted(m) => format!("coolify started no deployment: {m}"),
            Outcome::Error(e) => e.message.clone(),
        };
        if self.restored {
            d.push_str(&format!(
                "; image tag restored to {} (no deploy: the old container keeps serving)",
                self.previous_tag.as_deref().unwrap_or("unset")
            ));
        }
        if let Some(e) = &self.restore_error {
            d.push_str(&format!(
                "; restoring the image tag {} failed: {e}",
                self.previous_tag.as_deref().unwrap_or("unset")
            ));
        }
        d
    }

    /// JSON for `--json` and the audit log.
    pub fn to_json(&self) -> Value {
        json!({
            "app": self.app.name,
            "uuid": self.deployment_uuid,
            "app_uuid": self.app.uuid,
            "status": self.outcome.status(),
            "image_tag": self.image_tag,
            "previous_image_tag": self.previous_tag,
            "patched": self.patched,
            "restored": self.restored,
            "detail": self.detail(),
            "log_tail": self.log_tail,
            "elapsed_secs": self.elapsed.as_secs(),
        })
    }
}

/// What [`deploy_apps`] did, app by app.
#[derive(Debug, Clone)]
pub struct DeployReport {
    /// Coolify's base URL (for links in messages).
    pub coolify_url: String,
    /// One entry per app, in plan order.
    pub apps: Vec<AppOutcome>,
}

impl DeployReport {
    /// The `deployments` output: `[{app, uuid, status}]`.
    pub fn deployments_json(&self) -> Value {
        Value::Array(
            self.apps
                .iter()
                .map(|a| json!({"app": a.app.name, "uuid": a.deployment_uuid, "status": a.outcome.status()}))
                .collect(),
        )
    }

    /// `Ok` when every app finished (or was triggered with `--no-wait`); else
    /// the error deciding the exit code: 1 when any deployment failed, was
    /// cancelled or did not start; 4 when talking to Coolify failed; 5 when
    /// the deadline passed (deployments left running).
    pub fn result(&self, plan: &DeployPlan) -> Result<()> {
        let failed: Vec<&AppOutcome> = self
            .apps
            .iter()
            .filter(|a| {
                matches!(
                    a.outcome,
                    Outcome::Failed | Outcome::Cancelled | Outcome::NotStarted(_)
                )
            })
            .collect();
        if !failed.is_empty() {
            let what: Vec<String> = failed
                .iter()
                .map(|a| format!("{}: {}", a.app.name, a.detail()))
                .collect();
            return Err(Error::failed(format!(
                "{} of {} deployments did not finish ({})",
                failed.len(),
                self.apps.len(),
                what.join("; ")
            ))
            .with_hint(format!(
                "read the deployment log in Coolify, fix the cause, then re-run `almarel {} ...`",
                plan.command
            )));
        }
        if let Some(e) = self.apps.iter().find_map(|a| match &a.outcome {
            Outcome::Error(e) => Some(e.clone().context(format!("app `{}`", a.app.name))),
            _ => None,
        }) {
            return Err(e);
        }
        let late: Vec<&AppOutcome> = self
            .apps
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::TimedOut))
            .collect();
        if !late.is_empty() {
            let what: Vec<String> = late
                .iter()
                .map(|a| match &a.deployment_uuid {
                    Some(u) => format!("{} (deployment {u})", a.app.name),
                    None => format!(
                        "{} (not started: an earlier deployment is still running)",
                        a.app.name
                    ),
                })
                .collect();
            let link = late
                .iter()
                .find_map(|a| a.deployment_url.as_ref())
                .map(|u| format!(" ({}{u})", self.coolify_url))
                .unwrap_or_default();
            return Err(Error::timeout(format!(
                "timed out after {}: {} still running; it was left running",
                humantime::format_duration(plan.timeout),
                what.join(", ")
            ))
            .with_hint(format!(
                "follow it in the Coolify dashboard{link}; once it has finished, run `almarel verify`"
            )));
        }
        Ok(())
    }

    /// JSON for `--json`.
    pub fn to_json(&self) -> Value {
        Value::Array(self.apps.iter().map(AppOutcome::to_json).collect())
    }
}

/// Runs every prepared app concurrently and reports how each ended. Each
/// PATCH and trigger is recorded with [`Context::done`]; one audit line per
/// app. Never cancels a deployment.
pub async fn deploy_apps(
    ctx: &Context,
    client: &Client,
    plan: &DeployPlan,
    prepared: &Prepared,
) -> DeployReport {
    let deadline = Deadline::after(ctx.clock.as_ref(), plan.timeout);
    let client = &client.with_deadline(deadline);
    let progress = Progress::new(&ctx.ui, &prepared.apps);
    let runs = prepared
        .apps
        .iter()
        .enumerate()
        .map(|(i, state)| run_app(ctx, client, plan, state, deadline, progress.line(i)));
    let apps = join_all(runs).await;
    progress.clear();
    for a in &apps {
        let result = match &a.outcome {
            Outcome::Finished | Outcome::Triggered => Ok(()),
            _ => Err(a.detail()),
        };
        let mut details = a.to_json();
        if let (Value::Object(d), Value::Object(extra)) = (&mut details, &plan.audit_details) {
            for (k, v) in extra {
                d.insert(k.clone(), v.clone());
            }
        }
        ctx.audit(
            &plan.command,
            &format!("{}@{}", a.app.name, plan.image_tag),
            result.as_ref().map(|_| ()).map_err(String::as_str),
            plan.actor.clone(),
            details,
        );
    }
    DeployReport {
        coolify_url: client.base_url().to_owned(),
        apps,
    }
}

async fn run_app(
    ctx: &Context,
    client: &Client,
    plan: &DeployPlan,
    state: &AppState,
    deadline: Deadline,
    line: Line,
) -> AppOutcome {
    let clock = ctx.clock.as_ref();
    let start = clock.now();
    let mut out = AppOutcome::new(state, plan);
    let name = &state.app.name;
    let uuid = &state.app.uuid;

    // 1. A deployment already in flight: wait for it (never cancel it).
    for d in &state.in_flight {
        if !plan.wait {
            line.say(&format!(
                "deployment {} is already {} (started before this run); ours queues after it",
                d.deployment_uuid, d.status
            ));
            continue;
        }
        line.say(&format!(
            "waiting for deployment {} ({}, started before this run)",
            d.deployment_uuid, d.status
        ));
        match follow(
            ctx,
            client,
            plan,
            &d.deployment_uuid,
            deadline,
            &line,
            "earlier deployment",
        )
        .await
        {
            Ok(done) => line.say(&format!(
                "earlier deployment {} ended: {}",
                d.deployment_uuid, done.status
            )),
            Err(PollError::TimedOut) => {
                out.outcome = Outcome::TimedOut;
                return finish(out, &line, clock.now() - start);
            }
            Err(PollError::Failed(e)) => {
                out.outcome = Outcome::Error(e);
                return finish(out, &line, clock.now() - start);
            }
        }
    }

    // 2. The image tag.
    if state.needs_patch(&plan.image_tag) {
        line.say(&format!(
            "setting image tag {} (was {})",
            plan.image_tag,
            state.previous_tag.as_deref().unwrap_or("unset")
        ));
        if let Err(e) = client
            .set_image_tag(name, uuid, Some(&plan.image_tag))
            .await
        {
            out.outcome = Outcome::Error(e);
            return finish(out, &line, clock.now() - start);
        }
        out.patched = true;
        ctx.done(format!(
            "set the image tag of app `{name}` to {} (was {})",
            plan.image_tag,
            state.previous_tag.as_deref().unwrap_or("unset")
        ));
    }

    // 3. Trigger.
    let entries = match client.deploy(name, uuid).await {
        Ok(e) => e,
        Err(e) => {
            out.outcome = Outcome::Error(e);
            restore(ctx, client, state, &mut out, &line).await;
            return finish(out, &line, clock.now() - start);
        }
    };
    let entry = entries
        .iter()
        .find(|e| e.resource_uuid.as_deref() == Some(uuid.as_str()))
        .or(entries.first());
    let started = match entry.map(super::DeployEntry::trigger) {
        Some(Trigger::Started(u)) => Some(u),
        Some(Trigger::AlreadyQueued(msg)) => {
            // The uuid it carries was never stored; a queued deployment will
            // pick up the new tag when it starts, a running one will not.
            match client.app_deployments(name, uuid, 5).await {
                Ok(list) => match list
                    .deployments
                    .into_iter()
                    .find(|d| d.status == DeploymentStatus::Queued)
                {
                    Some(d) => {
                        line.say(&format!(
                            "coolify kept the already queued deployment {}; it uses the new tag when it starts",
                            d.deployment_uuid
                        ));
                        Some(d.deployment_uuid)
                    }
                    None => {
                        out.outcome = Outcome::NotStarted(format!(
                            "{msg} (a deployment already running keeps the old tag; re-run once it has ended)"
                        ));
                        None
                    }
                },
                Err(e) => {
                    out.outcome = Outcome::Error(e);
                    None
                }
            }
        }
        Some(Trigger::Refused(msg)) => {
            out.outcome = Outcome::NotStarted(msg);
            None
        }
        None => {
            out.outcome = Outcome::NotStarted(
                "coolify answered without a deployment entry for this app".into(),
            );
            None
        }
    };
    let Some(deployment) = started else {
        restore(ctx, client, state, &mut out, &line).await;
        return finish(out, &line, clock.now() - start);
    };
    ctx.done(format!(
        "triggered deployment {deployment} of app `{name}` ({})",
        plan.image_tag
    ));
    out.deployment_uuid = Some(deployment.clone());
    line.say(&format!("triggered deployment {deployment}"));

    // 4. --no-wait.
    if !plan.wait {
        out.outcome = Outcome::Triggered;
        return finish(out, &line, clock.now() - start);
    }

    // 5. Follow it.
    match follow(
        ctx,
        client,
        plan,
        &deployment,
        deadline,
        &line,
        "deployment",
    )
    .await
    {
        Ok(d) => {
            out.deployment_url = d.deployment_url.clone();
            match d.status {
                DeploymentStatus::Finished => out.outcome = Outcome::Finished,
                DeploymentStatus::Failed | DeploymentStatus::CancelledByUser => {
                    out.outcome = if d.status == DeploymentStatus::Failed {
                        Outcome::Failed
                    } else {
                        Outcome::Cancelled
                    };
                    if let Some(logs) = &d.logs {
                        out.logs_readable = true;
                        let lines = log_lines(logs);
                        let skip = lines.len().saturating_sub(LOG_TAIL);
                        out.log_tail = lines.into_iter().skip(skip).collect();
                    }
                    restore(ctx, client, state, &mut out, &line).await;
                }
                DeploymentStatus::Queued
                | DeploymentStatus::InProgress
                | DeploymentStatus::Other(_) => out.outcome = Outcome::TimedOut,
            }
        }
        Err(PollError::TimedOut) => out.outcome = Outcome::TimedOut,
        Err(PollError::Failed(e)) => out.outcome = Outcome::Error(e),
    }
    finish(out, &line, clock.now() - start)
}

fn finish(mut out: AppOutcome, line: &Line, elapsed: Duration) -> AppOutcome {
    out.elapsed = elapsed;
    line.end(&out);
    out
}

/// PATCHes the remembered tag back (no deploy) when this run changed it.
async fn restore(
    ctx: &Context,
    client: &Client,
    state: &AppState,
    out: &mut AppOutcome,
    line: &Line,
) {
    if !out.patched {
        return;
    }
    let name = &state.app.name;
    let previous = state.previous_tag.as_deref();
    match client.set_image_tag(name, &state.app.uuid, previous).await {
        Ok(()) => {
            out.restored = true;
            ctx.done(format!(
                "restored the image tag of app `{name}` to {}",
                previous.unwrap_or("unset")
            ));
            line.say(&format!(
                "restored image tag {} (no deploy: the old container keeps serving)",
                previous.unwrap_or("unset")
            ));
        }
        Err(e) => out.restore_error = Some(e.message),
    }
}

/// Polls one deployment until it reaches a terminal status or the deadline
/// passes. A 404 is retried for [`NOT_FOUND_WINDOW`], then fails.
async fn follow(
    ctx: &Context,
    client: &Client,
    plan: &DeployPlan,
    uuid: &str,
    deadline: Deadline,
    line: &Line,
    what: &str,
) -> std::result::Result<Deployment, PollError<Error>> {
    let clock = ctx.clock.as_ref();
    let last: Mutex<Option<DeploymentStatus>> = Mutex::new(None);
    let first_404: Mutex<Option<Instant>> = Mutex::new(None);
    poll_until(clock, deadline, plan.poll_interval, plan.poll_max, || {
        let last = &last;
        let first_404 = &first_404;
        async move {
            match client.deployment(uuid).await? {
                Some(d) => {
                    if d.status.is_terminal() {
                        return Ok(Poll::Ready(d));
                    }
                    let mut last = last.lock().map_err(|_| Error::local("poisoned lock"))?;
                    let changed = last.as_ref() != Some(&d.status);
                    if changed {
                        line.state(&format!("{what} {uuid}"), &d.status);
                    }
                    *last = Some(d.status);
                    Ok(Poll::Pending { changed })
                }
                None => {
                    let mut first = first_404
                        .lock()
                        .map_err(|_| Error::local("poisoned lock"))?;
                    let since = *first.get_or_insert_with(|| clock.now());
                    if clock.now().saturating_duration_since(since) >= NOT_FOUND_WINDOW {
                        return Err(Error::remote(format!(
                            "coolify does not know deployment {uuid} (404 for {}s)",
                            NOT_FOUND_WINDOW.as_secs()
                        ))
                        .with_hint("check the app's deployments in the Coolify dashboard"));
                    }
                    Ok(Poll::Pending { changed: false })
                }
            }
        }
    })
    .await
}

/// Live progress: one spinner line per app on a terminal, plain lines otherwise.
struct Progress {
    multi: Option<MultiProgress>,
    lines: Vec<Line>,
}

#[derive(Clone)]
struct Line {
    name: String,
    bar: Option<ProgressBar>,
    ui: Ui,
}

impl Progress {
    fn new(ui: &Ui, apps: &[AppState]) -> Self {
        let width = apps.iter().map(|a| a.app.name.len()).max().unwrap_or(0);
        let multi = ui.is_live().then(MultiProgress::new);
        let lines = apps
            .iter()
            .map(|a| {
                let bar = multi.as_ref().map(|m| {
                    let style =
                        ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner());
                    let bar = m.add(ProgressBar::new_spinner().with_style(style));
                    bar.set_prefix(format!("{:width$}", a.app.name));
                    bar.set_message("reading");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                Line {
                    name: a.app.name.clone(),
                    bar,
                    ui: ui.clone(),
                }
            })
            .collect();
        Progress { multi, lines }
    }

    fn line(&self, i: usize) -> Line {
        self.lines[i].clone()
    }

    fn clear(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

impl Line {
    fn say(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_owned()),
            None => self.ui.progress(&format!("{}: {msg}", self.name)),
        }
    }

    fn state(&self, what: &str, status: &DeploymentStatus) {
        self.say(&format!("{what} {status}"));
    }

    fn end(&self, out: &AppOutcome) {
        let tone = match out.outcome {
            Outcome::Finished | Outcome::Triggered => Tone::Ok,
            Outcome::TimedOut => Tone::Warn,
            _ => Tone::Fail,
        };
        let msg = format!(
            "{} {} in {}",
            self.ui.mark(tone),
            out.outcome.status(),
            humantime::format_duration(Duration::from_secs(out.elapsed.as_secs()))
        );
        match &self.bar {
            Some(b) => {
                if let Ok(style) = ProgressStyle::with_template("  {prefix} {msg}") {
                    b.set_style(style);
                }
                b.finish_with_message(msg);
            }
            None => self.ui.progress(&format!("{}: {msg}", self.name)),
        }
    }
}
