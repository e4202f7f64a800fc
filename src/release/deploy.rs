//! The per-app deploy step shared by `almarel deploy` and `almarel rollback`.
//!
//! Two phases, so that refusals and `--dry-run` happen before any change:
//! 1. [`prepare`] reads every app (and Coolify's version, which proves the
//!    token) and refuses (exit 3) unless every app is a Docker Image app.
//! 2. [`deploy_apps`] runs each app concurrently: wait for a deployment
//!    already in flight (never cancel it) and only then read the app again
//!    and decide; PATCH `docker_registry_image_tag` when it differs and read
//!    the app back (a tag that did not stick is exit 4);
//!    `POST /deploy?uuid=..&force=true`, check the entry, follow the
//!    deployment to `finished` / `failed` / `cancelled-by-user`; when it did
//!    not finish, restore the tag the app last *finished* deploying (from its
//!    deployment history's log line, else from the release production runs;
//!    when neither is known nothing is restored and the outcome says so).
//!
//! Progress goes out as [`DeployEvent`]s through a callback the command owns;
//! this module never prints.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde::Serialize;
use serde_json::Value;

use crate::audit::Actor;
use crate::clock::{Deadline, Poll, PollError, poll_until};
use crate::context::Context;
use crate::coolify::{Client, Deployment, DeploymentList, DeploymentStatus, Trigger, log_lines};
use crate::error::{Error, Result};
use crate::report::PlanItem;
use crate::settings::CoolifyApp;

/// How long a deployment that answers 404 is retried before giving up
/// (4.0.0-beta.464–467 answered 404 for live deployments).
pub const NOT_FOUND_WINDOW: Duration = Duration::from_secs(30);
/// How many log lines a failure shows.
pub const LOG_TAIL: usize = 20;
/// How many deployments of an app are read to find the last finished one.
pub const HISTORY: u32 = 10;

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
    /// The image tag of the release production runs, when known: what an app
    /// last finished deploying when its own history cannot say (its build
    /// logs need `read:sensitive`).
    pub production_image_tag: Option<String>,
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
            production_image_tag: None,
        }
    }
}

/// Progress of [`deploy_apps`], one event at a time, for the command to render.
#[derive(Debug, Clone)]
pub enum DeployEvent {
    /// Reading the app (again, after waiting).
    Reading {
        /// App name.
        app: String,
    },
    /// A deployment started before this run is being waited for (never cancelled).
    Waiting {
        /// App name.
        app: String,
        /// Its uuid.
        deployment: String,
        /// Its status when first seen.
        status: DeploymentStatus,
        /// False with `--no-wait`: ours is queued after it instead.
        waiting: bool,
    },
    /// That earlier deployment ended.
    WaitEnded {
        /// App name.
        app: String,
        /// Its uuid.
        deployment: String,
        /// How it ended.
        status: DeploymentStatus,
    },
    /// The image tag is about to be set (a PATCH leaves).
    Patching {
        /// App name.
        app: String,
        /// Configured before.
        from: Option<String>,
        /// Being set.
        to: String,
    },
    /// The image tag was set and read back.
    Patched {
        /// App name.
        app: String,
        /// Configured before.
        from: Option<String>,
        /// Set and read back.
        to: String,
        /// Coolify's answer to the PATCH when it was an error although the
        /// read-back shows the tag applied (a proxy's 502 after Coolify
        /// saved it).
        error_answer: Option<String>,
    },
    /// A deployment was triggered.
    Triggered {
        /// App name.
        app: String,
        /// Deployment uuid.
        uuid: String,
    },
    /// Coolify kept an already queued deployment, which will use the new tag.
    Adopted {
        /// App name.
        app: String,
        /// Deployment uuid.
        uuid: String,
    },
    /// A followed deployment changed status.
    Status {
        /// App name.
        app: String,
        /// What is followed (`deployment`, `earlier deployment`).
        what: String,
        /// Deployment uuid.
        uuid: String,
        /// New status.
        status: DeploymentStatus,
    },
    /// The tag the app last finished deploying was set back (no deploy).
    Restored {
        /// App name.
        app: String,
        /// The tag restored.
        tag: Option<String>,
    },
    /// Nothing was restored: why.
    NotRestored {
        /// App name.
        app: String,
        /// Why.
        why: String,
    },
    /// This app's flow ended.
    Finished {
        /// App name.
        app: String,
        /// How.
        outcome: Outcome,
        /// Time spent.
        elapsed: Duration,
    },
}

/// The callback [`deploy_apps`] reports progress to.
pub type OnEvent<'a> = &'a (dyn Fn(DeployEvent) + Send + Sync);

/// The tag an app last finished deploying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastFinished {
    /// Known (`None` inside: it ran without a tag, i.e. `latest`), and from where.
    Known(Option<String>, String),
    /// Not known: why.
    Unknown(String),
}

impl LastFinished {
    /// Whether it was read from the app's own deployment history (its build
    /// log), not taken from the release production runs.
    pub fn from_history(&self) -> bool {
        matches!(self, LastFinished::Known(_, from) if from.starts_with("deployment "))
    }

    /// The tag, when known.
    pub fn tag(&self) -> Option<Option<&str>> {
        match self {
            LastFinished::Known(t, _) => Some(t.as_deref()),
            LastFinished::Unknown(_) => None,
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
    /// Its configured image tag when read (not proof of what runs).
    pub previous_tag: Option<String>,
    /// What it last finished deploying (what a failure restores).
    pub last_finished: LastFinished,
    /// Deployments of it that are `queued` or `in_progress` right now.
    pub in_flight: Vec<Deployment>,
}

impl AppState {
    /// Whether the image tag needs a PATCH.
    pub fn needs_patch(&self, image_tag: &str) -> bool {
        self.previous_tag.as_deref() != Some(image_tag)
    }
}

/// The image tag in a build log's `Starting deployment of <image>:<tag> to <server>.`
/// line (`Some(None)`: the image had no tag).
pub fn started_tag(lines: &[String]) -> Option<Option<String>> {
    lines.iter().find_map(|l| {
        let rest = l.split("Starting deployment of ").nth(1)?;
        let image = rest.split_whitespace().next()?;
        let name_start = image.rfind('/').map_or(0, |i| i + 1);
        Some(
            image[name_start..]
                .rsplit_once(':')
                .map(|(_, t)| t.trim_end_matches('.').to_owned())
                .filter(|t| !t.is_empty()),
        )
    })
}

/// The tag the app last finished deploying, from its history (newest
/// first), else `production_image_tag`.
pub fn last_finished(list: &DeploymentList, production_image_tag: Option<&str>) -> LastFinished {
    let finished = list
        .deployments
        .iter()
        .find(|d| d.status == DeploymentStatus::Finished);
    let Some(d) = finished else {
        return LastFinished::Unknown("its deployment history has no finished deployment".into());
    };
    if let Some(tag) = d.logs.as_deref().and_then(|l| started_tag(&log_lines(l))) {
        return LastFinished::Known(tag, format!("deployment {}", d.deployment_uuid));
    }
    match production_image_tag {
        Some(t) => LastFinished::Known(Some(t.to_owned()), "the release production runs".into()),
        None => LastFinished::Unknown(
            "its build logs are not readable with this token (read:sensitive) \
             and the release production runs is not known"
                .into(),
        ),
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
    /// The writes a real run would send, in order (for `--dry-run`).
    pub fn plan(&self, plan: &DeployPlan) -> Vec<PlanItem> {
        let mut items = Vec::new();
        let item = |action: &str, app: &str, detail: String| PlanItem {
            action: action.to_owned(),
            target: app.to_owned(),
            detail,
        };
        for s in &self.apps {
            let name = &s.app.name;
            let uuid = &s.app.uuid;
            for d in &s.in_flight {
                items.push(item(
                    "wait",
                    name,
                    format!(
                        "wait for deployment {} ({}) already in flight",
                        d.deployment_uuid, d.status
                    ),
                ));
            }
            if s.needs_patch(&plan.image_tag) {
                items.push(item(
                    "set image tag",
                    name,
                    format!(
                        "PATCH /api/v1/applications/{uuid} {{\"docker_registry_image_tag\":\"{}\"}} (was {})",
                        plan.image_tag,
                        s.previous_tag.as_deref().unwrap_or("unset")
                    ),
                ));
            } else {
                items.push(item(
                    "keep image tag",
                    name,
                    format!("image tag is already {}; no PATCH", plan.image_tag),
                ));
            }
            items.push(item(
                "deploy",
                name,
                format!("POST /api/v1/deploy?uuid={uuid}&force=true"),
            ));
        }
        items
    }

    /// [`Prepared::plan`] as lines (`app: what`).
    pub fn planned_writes(&self, plan: &DeployPlan) -> Vec<String> {
        self.plan(plan)
            .iter()
            .map(|i| format!("{}: {}", i.target, i.detail))
            .collect()
    }

    /// Why not every app provably runs `image_tag` already (`None`: they
    /// all do): each must be configured with it, have nothing in flight, and
    /// its own newest finished deployment must have run it (read from its
    /// build log, which needs `read:sensitive`; the release production runs
    /// is no proof for one app: it may have been re-tagged and never deployed).
    pub fn not_all_on(&self, image_tag: &str) -> Option<String> {
        if self.apps.is_empty() {
            return Some("no app was read".into());
        }
        for a in &self.apps {
            let name = &a.app.name;
            if a.previous_tag.as_deref() != Some(image_tag) {
                return Some(format!(
                    "app `{name}` is configured with {}",
                    tag_name(a.previous_tag.as_deref())
                ));
            }
            if let Some(d) = a.in_flight.first() {
                return Some(format!(
                    "app `{name}` has deployment {} {}",
                    d.deployment_uuid, d.status
                ));
            }
            match &a.last_finished {
                LastFinished::Known(Some(t), _)
                    if t == image_tag && a.last_finished.from_history() => {}
                LastFinished::Known(t, from) if a.last_finished.from_history() => {
                    return Some(format!(
                        "app `{name}` last finished deploying {} ({from})",
                        tag_name(t.as_deref())
                    ));
                }
                _ => {
                    return Some(format!(
                        "what app `{name}` last finished deploying cannot be read (its build logs need read:sensitive)"
                    ));
                }
            }
        }
        None
    }
}

/// Reads one app and its recent deployments.
async fn read_app(
    client: &Client,
    app: &CoolifyApp,
    plan: &DeployPlan,
) -> Result<(crate::coolify::Application, AppState)> {
    let a = client.application(&app.name, &app.uuid).await?;
    let list = client
        .app_deployments(&app.name, &app.uuid, HISTORY)
        .await?;
    let state = AppState {
        image_name: a.docker_registry_image_name.clone(),
        previous_tag: a.image_tag().map(str::to_owned),
        last_finished: last_finished(&list, plan.production_image_tag.as_deref()),
        in_flight: list
            .deployments
            .into_iter()
            .filter(|d| d.status.is_in_flight())
            .collect(),
        app: app.clone(),
    };
    Ok((a, state))
}

/// Reads Coolify's version and every app concurrently; refuses (exit 3, nothing
/// changed) when an app is not a Docker Image app. A read failure is returned
/// as is (401/403/404 → exit 4) before any change.
pub async fn prepare(client: &Client, plan: &DeployPlan) -> Result<Prepared> {
    let coolify_version = client.version().await?;
    let reads = plan.apps.iter().map(|app| read_app(client, app, plan));
    let mut apps = Vec::new();
    let mut refusals = Vec::new();
    for r in join_all(reads).await {
        let (a, state) = r?;
        if !a.is_docker_image() {
            let pack = a.build_pack.as_deref().unwrap_or("unknown");
            refusals.push(format!(
                "app `{}` is a `{pack}` app, not a Docker Image app (build_pack dockerimage): \
                 there, force=true would mean a full rebuild instead of pulling the release image",
                state.app.name
            ));
            continue;
        }
        apps.push(state);
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
    /// Talking to Coolify failed (or it did not apply what it answered 200 to).
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
    /// Its configured tag when this run decided (after waiting).
    pub previous_tag: Option<String>,
    /// The tag it last finished deploying (what a failure restores).
    pub last_finished: LastFinished,
    /// Whether the tag was PATCHed.
    pub patched: bool,
    /// Whether the last finished tag was PATCHed back after a failure.
    pub restored: bool,
    /// Why nothing was restored after a failure, when so.
    pub not_restored: Option<String>,
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

fn tag_name(t: Option<&str>) -> &str {
    t.unwrap_or("unset")
}

impl AppOutcome {
    fn new(state: &AppState, plan: &DeployPlan) -> Self {
        AppOutcome {
            app: state.app.clone(),
            image_tag: plan.image_tag.clone(),
            previous_tag: state.previous_tag.clone(),
            last_finished: state.last_finished.clone(),
            patched: false,
            restored: false,
            not_restored: None,
            restore_error: None,
            deployment_uuid: None,
            deployment_url: None,
            outcome: Outcome::Triggered,
            log_tail: Vec::new(),
            logs_readable: false,
            elapsed: Duration::ZERO,
        }
    }

    /// The tag restored, when [`AppOutcome::restored`].
    pub fn restored_tag(&self) -> Option<&str> {
        self.last_finished.tag().flatten()
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
                "; image tag restored to {}, the tag it last finished deploying (no deploy: the old container keeps serving)",
                tag_name(self.restored_tag())
            ));
        }
        if let Some(why) = &self.not_restored {
            d.push_str(&format!("; {why}"));
        }
        if let Some(e) = &self.restore_error {
            d.push_str(&format!(
                "; restoring the image tag {} failed: {e}",
                tag_name(self.restored_tag())
            ));
        }
        d
    }

    /// Its `--json` / audit form.
    pub fn result(&self) -> AppResult {
        AppResult {
            app: self.app.name.clone(),
            uuid: self.deployment_uuid.clone(),
            app_uuid: self.app.uuid.clone(),
            status: self.outcome.status(),
            image_tag: self.image_tag.clone(),
            previous_image_tag: self.previous_tag.clone(),
            last_finished_image_tag: self.last_finished.tag().map(|t| t.map(str::to_owned)),
            patched: self.patched,
            restored: self.restored,
            detail: self.detail(),
            log_tail: self.log_tail.clone(),
            elapsed_secs: self.elapsed.as_secs(),
        }
    }
}

/// One app's result as `--json` (key `apps`) and the audit log show it.
#[derive(Debug, Clone, Serialize)]
pub struct AppResult {
    /// App name.
    pub app: String,
    /// The deployment almarel started (or adopted).
    pub uuid: Option<String>,
    /// The app's uuid.
    pub app_uuid: String,
    /// `finished`, `failed`, `cancelled-by-user`, `triggered`, `timed-out`, `not-started`, `error`.
    pub status: &'static str,
    /// The image tag it was given.
    pub image_tag: String,
    /// Its configured tag when this run decided.
    pub previous_image_tag: Option<String>,
    /// The tag it last finished deploying (`null` when unknown).
    pub last_finished_image_tag: Option<Option<String>>,
    /// Whether the tag was PATCHed.
    pub patched: bool,
    /// Whether the last finished tag was PATCHed back after a failure.
    pub restored: bool,
    /// The outcome in words.
    pub detail: String,
    /// The last build log lines of a failed deployment.
    pub log_tail: Vec<String>,
    /// Seconds spent.
    pub elapsed_secs: u64,
}

/// One entry of the `deployments` output (SPEC §4): `{app, uuid, status}`.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentEntry {
    /// App name.
    pub app: String,
    /// Deployment uuid (`null` when none was started).
    pub uuid: Option<String>,
    /// Its status word.
    pub status: &'static str,
}

/// What [`deploy_apps`] did, app by app.
#[derive(Debug, Clone)]
pub struct AppsReport {
    /// Coolify's base URL (for links in messages).
    pub coolify_url: String,
    /// One entry per app, in plan order.
    pub apps: Vec<AppOutcome>,
}

impl AppsReport {
    /// The `deployments` output: `[{app, uuid, status}]`.
    pub fn deployments(&self) -> Vec<DeploymentEntry> {
        self.apps
            .iter()
            .map(|a| DeploymentEntry {
                app: a.app.name.clone(),
                uuid: a.deployment_uuid.clone(),
                status: a.outcome.status(),
            })
            .collect()
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
            .with_hint(failed_hint(plan, &failed, self.apps.len())));
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

    /// Each app's result, for `--json`.
    pub fn results(&self) -> Vec<AppResult> {
        self.apps.iter().map(AppOutcome::result).collect()
    }
}

/// The way(s) out of a deploy where some apps did not finish: deploy the
/// failed app again once its cause is fixed (the exact command, when the
/// target is a release tag), or roll back (SPEC §7.4).
fn failed_hint(plan: &DeployPlan, failed: &[&AppOutcome], total: usize) -> String {
    let first = failed.first().map_or("", |a| a.app.name.as_str());
    let again = if plan.target.is_empty() || plan.target.starts_with("commit ") {
        "deploy it again once the cause is fixed".to_owned()
    } else {
        format!("then `almarel deploy --tag {} --app {first}`", plan.target)
    };
    if failed.len() < total {
        format!(
            "the release is mixed: read the deployment log in Coolify and fix the cause, {again}; \
             or go back with `almarel rollback`"
        )
    } else {
        format!("read the deployment log in Coolify and fix the cause, {again}")
    }
}

/// Runs every prepared app concurrently and reports how each ended. Each
/// PATCH and trigger goes through `journal_write`. One audit entry per app
/// (`<app>@<image tag>`), started for every app before the first write
/// (SPEC §7.2; an unwritable log fails here, nothing sent) and finished with
/// its outcome. Never cancels a deployment. Progress goes to `on_event`.
pub async fn deploy_apps(
    ctx: &Context,
    client: &Client,
    plan: &DeployPlan,
    prepared: &Prepared,
    on_event: OnEvent<'_>,
) -> Result<AppsReport> {
    let mut entries = Vec::new();
    for state in &prepared.apps {
        let mut details = serde_json::Map::new();
        details.insert("app".into(), Value::String(state.app.name.clone()));
        details.insert("app_uuid".into(), Value::String(state.app.uuid.clone()));
        merge_details(&mut details, &plan.audit_details);
        entries.push(ctx.audit_start(
            &plan.command,
            &format!("{}@{}", state.app.name, plan.image_tag),
            plan.actor.clone(),
            Value::Object(details),
        )?);
    }
    // Every write is declared before the first leaves, so an interruption
    // lists the ones not started yet (SPEC §7.1).
    let writes: Vec<AppWrites> = prepared
        .apps
        .iter()
        .map(|state| {
            let name = &state.app.name;
            AppWrites {
                patch: state.needs_patch(&plan.image_tag).then(|| {
                    ctx.journal.plan(
                        format!("set the image tag of app `{name}` to {}", plan.image_tag),
                        check_command(plan),
                    )
                }),
                trigger: ctx.journal.plan(
                    format!("triggered deployment of app `{name}` ({})", plan.image_tag),
                    check_command(plan),
                ),
            }
        })
        .collect();
    let deadline = Deadline::after(ctx.clock.as_ref(), plan.timeout);
    let client = &client.with_deadline(deadline);
    let runs = prepared
        .apps
        .iter()
        .zip(writes)
        .map(|(state, w)| run_app(ctx, client, plan, state, w, deadline, on_event));
    let apps = join_all(runs).await;
    for (a, entry) in apps.iter().zip(entries) {
        let result = match &a.outcome {
            Outcome::Finished | Outcome::Triggered => Ok(()),
            _ => Err(a.detail()),
        };
        let mut details = match serde_json::to_value(a.result()) {
            Ok(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        merge_details(&mut details, &plan.audit_details);
        entry.set_details(Value::Object(details));
        if let Err(e) = entry.finish(result.as_ref().map(|_| ()).map_err(String::as_str)) {
            ctx.ui
                .warn(&format!("audit log not written: {}", e.message));
        }
    }
    Ok(AppsReport {
        coolify_url: client.base_url().to_owned(),
        apps,
    })
}

fn merge_details(into: &mut serde_json::Map<String, Value>, extra: &Value) {
    if let Value::Object(extra) = extra {
        for (k, v) in extra {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// Sends one remote write through the write-ahead journal: in flight before
/// the request leaves, done or failed once answered (an interruption in
/// between reports it as in flight, with `check` to see whether it applied).
async fn journal_write<T>(
    w: crate::journal::Write,
    write: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let r = write.await;
    match &r {
        Ok(_) => w.done(),
        Err(e) => w.failed(&e.message),
    }
    r
}

/// A write as the journal knows it: declared up front by [`deploy_apps`]
/// (listed as not started until it leaves), or decided on the way (a
/// restore), recorded when it leaves.
enum Planned {
    Declared(crate::journal::WriteId),
    Now(String, Option<String>),
}

impl Planned {
    fn start(self, ctx: &Context) -> crate::journal::Write {
        match self {
            Planned::Declared(id) => ctx.journal.start(id),
            Planned::Now(what, check) => ctx.journal.begin(what, check),
        }
    }
}

/// The writes of one app, declared before any is sent: the PATCH (when the
/// app's tag must change) and the deployment trigger.
struct AppWrites {
    patch: Option<crate::journal::WriteId>,
    trigger: crate::journal::WriteId,
}

/// The command that says whether a write for `plan` applied:
/// `almarel status <tag>` (or the commit for an untagged deploy).
fn check_command(plan: &DeployPlan) -> Option<String> {
    let target = plan.target.strip_prefix("commit ").unwrap_or(&plan.target);
    (!target.is_empty()).then(|| format!("almarel status {target}"))
}

/// PATCHes the image tag, then reads the app back (SPEC §7.6), whatever the
/// answer: a tag that did not stick after a 200 is an error (exit 4); an
/// error answer (a 5xx, a lost connection) with the tag applied is success,
/// and its answer is returned to be shown; an error answer with the tag not
/// applied is the error, saying what the app is on.
async fn set_tag_checked(
    ctx: &Context,
    client: &Client,
    app: &CoolifyApp,
    tag: Option<&str>,
    write: Planned,
) -> Result<Option<String>> {
    let w = write.start(ctx);
    let read_back = || client.application(&app.name, &app.uuid);
    match client.set_image_tag(&app.name, &app.uuid, tag).await {
        Ok(_) => {
            w.done();
            let back = read_back().await?;
            if back.image_tag() != tag {
                return Err(Error::remote(format!(
                    "coolify answered the PATCH of app `{}` but did not apply it: its image tag is {}, not {}",
                    app.name,
                    tag_name(back.image_tag()),
                    tag_name(tag)
                ))
                .with_hint("check the app in the Coolify dashboard (is the tag locked, or the app managed elsewhere?), then re-run"));
            }
            Ok(None)
        }
        // Until the read-back answers, the journal keeps the PATCH in flight
        // (an interruption says "may have been applied").
        Err(e) => match read_back().await {
            Ok(back) if back.image_tag() == tag => {
                w.done();
                Ok(Some(e.message))
            }
            Ok(back) => {
                let e = e.with_hint(format!(
                    "read back after that answer: app `{}` is on {}, not {}",
                    app.name,
                    tag_name(back.image_tag()),
                    tag_name(tag)
                ));
                w.failed(&e.message);
                Err(e)
            }
            Err(read) => {
                // Left in flight in the journal: it may have been applied.
                drop(w);
                Err(e.with_hint(format!(
                    "whether the PATCH applied is not known: reading app `{}` back failed too ({})",
                    app.name, read.message
                )))
            }
        },
    }
}

async fn run_app(
    ctx: &Context,
    client: &Client,
    plan: &DeployPlan,
    prepared: &AppState,
    writes: AppWrites,
    deadline: Deadline,
    on_event: OnEvent<'_>,
) -> AppOutcome {
    let clock = ctx.clock.as_ref();
    let start = clock.now();
    let name = &prepared.app.name;
    let uuid = &prepared.app.uuid;
    let ev = |e: DeployEvent| on_event(e);
    let done = |mut out: AppOutcome| {
        out.elapsed = clock.now().saturating_duration_since(start);
        ev(DeployEvent::Finished {
            app: name.clone(),
            outcome: out.outcome.clone(),
            elapsed: out.elapsed,
        });
        out
    };

    // 1. A deployment already in flight: wait for it (never cancel it), then
    //    read the app again: what it finished decides what we restore.
    let mut state = prepared.clone();
    if plan.wait && !state.in_flight.is_empty() {
        loop {
            for d in &state.in_flight {
                ev(DeployEvent::Waiting {
                    app: name.clone(),
                    deployment: d.deployment_uuid.clone(),
                    status: d.status.clone(),
                    waiting: true,
                });
                match follow(
                    ctx,
                    client,
                    plan,
                    &d.deployment_uuid,
                    deadline,
                    name,
                    "earlier deployment",
                    on_event,
                )
                .await
                {
                    Ok(end) => ev(DeployEvent::WaitEnded {
                        app: name.clone(),
                        deployment: d.deployment_uuid.clone(),
                        status: end.status,
                    }),
                    Err(PollError::TimedOut) => {
                        let mut out = AppOutcome::new(&state, plan);
                        out.outcome = Outcome::TimedOut;
                        return done(out);
                    }
                    Err(PollError::Failed(e)) => {
                        let mut out = AppOutcome::new(&state, plan);
                        out.outcome = Outcome::Error(e);
                        return done(out);
                    }
                }
            }
            ev(DeployEvent::Reading { app: name.clone() });
            match read_app(client, &state.app, plan).await {
                Ok((_, fresh)) => state = fresh,
                Err(e) => {
                    let mut out = AppOutcome::new(&state, plan);
                    out.outcome = Outcome::Error(e);
                    return done(out);
                }
            }
            if state.in_flight.is_empty() {
                break;
            }
        }
    } else {
        for d in &state.in_flight {
            ev(DeployEvent::Waiting {
                app: name.clone(),
                deployment: d.deployment_uuid.clone(),
                status: d.status.clone(),
                waiting: false,
            });
        }
    }
    let mut out = AppOutcome::new(&state, plan);

    // 2. The image tag, read back.
    if state.needs_patch(&plan.image_tag) {
        ev(DeployEvent::Patching {
            app: name.clone(),
            from: state.previous_tag.clone(),
            to: plan.image_tag.clone(),
        });
        let what = format!(
            "set the image tag of app `{name}` to {} (was {})",
            plan.image_tag,
            tag_name(state.previous_tag.as_deref())
        );
        let write = match writes.patch {
            Some(id) => Planned::Declared(id),
            None => Planned::Now(what, check_command(plan)),
        };
        let error_answer =
            match set_tag_checked(ctx, client, &state.app, Some(&plan.image_tag), write).await {
                Ok(answer) => answer,
                Err(e) => {
                    // The PATCH may have been applied (the read-back failed)
                    // or not: either way the configured tag may not be the
                    // last finished one.
                    out.patched = true;
                    out.outcome = Outcome::Error(e);
                    restore(ctx, client, &state, &mut out, on_event).await;
                    return done(out);
                }
            };
        out.patched = true;
        ev(DeployEvent::Patched {
            app: name.clone(),
            from: state.previous_tag.clone(),
            to: plan.image_tag.clone(),
            error_answer,
        });
    }

    // 3. Trigger.
    let entries =
        match journal_write(ctx.journal.start(writes.trigger), client.deploy(name, uuid)).await {
            Ok(e) => e,
            Err(e) => {
                out.outcome = Outcome::Error(e);
                restore(ctx, client, &state, &mut out, on_event).await;
                return done(out);
            }
        };
    let entry = entries
        .iter()
        .find(|e| e.resource_uuid.as_deref() == Some(uuid.as_str()))
        .or(entries.first());
    let started = match entry.map(crate::coolify::DeployEntry::trigger) {
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
                        ev(DeployEvent::Adopted {
                            app: name.clone(),
                            uuid: d.deployment_uuid.clone(),
                        });
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
        restore(ctx, client, &state, &mut out, on_event).await;
        return done(out);
    };
    out.deployment_uuid = Some(deployment.clone());
    ev(DeployEvent::Triggered {
        app: name.clone(),
        uuid: deployment.clone(),
    });

    // 4. --no-wait.
    if !plan.wait {
        out.outcome = Outcome::Triggered;
        return done(out);
    }

    // 5. Follow it.
    match follow(
        ctx,
        client,
        plan,
        &deployment,
        deadline,
        name,
        "deployment",
        on_event,
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
                    restore(ctx, client, &state, &mut out, on_event).await;
                }
                DeploymentStatus::Queued
                | DeploymentStatus::InProgress
                | DeploymentStatus::Other(_) => out.outcome = Outcome::TimedOut,
            }
        }
        Err(PollError::TimedOut) => out.outcome = Outcome::TimedOut,
        Err(PollError::Failed(e)) => out.outcome = Outcome::Error(e),
    }
    done(out)
}

/// After a deployment that did not finish: PATCHes back (no deploy) the tag
/// the app last finished deploying, when this run may have changed the
/// configured one and that tag is known; else says why nothing was restored.
async fn restore(
    ctx: &Context,
    client: &Client,
    state: &AppState,
    out: &mut AppOutcome,
    on_event: OnEvent<'_>,
) {
    let name = &state.app.name;
    // What is configured now: read again (a PATCH may have failed, or been
    // ignored); if that read fails, assume ours when we PATCHed.
    let read_now = client
        .application(name, &state.app.uuid)
        .await
        .ok()
        .map(|a| a.image_tag().map(str::to_owned));
    let configured = match &read_now {
        Some(t) => t.as_deref(),
        None if out.patched => Some(out.image_tag.as_str()),
        None => state.previous_tag.as_deref(),
    };
    let target = match &state.last_finished {
        LastFinished::Known(t, _) => t.as_deref(),
        LastFinished::Unknown(why) => {
            let msg = format!(
                "image tag left at {}: the tag it last finished deploying is not known ({why}), \
                 so nothing was restored; set it in Coolify before the next restart",
                tag_name(configured)
            );
            on_event(DeployEvent::NotRestored {
                app: name.clone(),
                why: msg.clone(),
            });
            out.not_restored = Some(msg);
            return;
        }
    };
    if configured == target {
        return;
    }
    let what = format!(
        "restored the image tag of app `{name}` to {}",
        tag_name(target)
    );
    match set_tag_checked(ctx, client, &state.app, target, Planned::Now(what, None)).await {
        Ok(_) => {
            out.restored = true;
            on_event(DeployEvent::Restored {
                app: name.clone(),
                tag: target.map(str::to_owned),
            });
        }
        Err(e) => out.restore_error = Some(e.message),
    }
}

/// Polls one deployment until it reaches a terminal status or the deadline
/// passes. A 404 is retried for [`NOT_FOUND_WINDOW`], then fails.
#[allow(clippy::too_many_arguments)]
async fn follow(
    ctx: &Context,
    client: &Client,
    plan: &DeployPlan,
    uuid: &str,
    deadline: Deadline,
    app: &str,
    what: &str,
    on_event: OnEvent<'_>,
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
                        on_event(DeployEvent::Status {
                            app: app.to_owned(),
                            what: what.to_owned(),
                            uuid: uuid.to_owned(),
                            status: d.status.clone(),
                        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_started_line_names_the_tag() {
        let l = |s: &str| vec!["x".to_owned(), s.to_owned()];
        assert_eq!(
            started_tag(&l(
                "Starting deployment of ghcr.io/a/api:v1.2.2 to localhost."
            )),
            Some(Some("v1.2.2".into()))
        );
        assert_eq!(
            started_tag(&l("Starting deployment of reg:5000/a/api to srv.")),
            Some(None)
        );
        assert_eq!(started_tag(&l("nothing here")), None);
    }
}
