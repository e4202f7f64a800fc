//! `almarel status [REF] [--watch]`: the release ledger for a tag or commit,
//! read from GitHub only (runs anywhere given `--config` and
//! `github.repository`): the tag, the newest run of each of the three
//! workflows for the commit, the pending production approval and the review
//! history, the GitHub Release, and whether releases are frozen. `--watch`
//! follows the runs with conditional requests until they complete or only
//! the production approval is left.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::clock::{self, Deadline, Poll, PollError};
use crate::context::Context;
use crate::coolify::DeploymentStatus;
use crate::error::{Error, Result};
use crate::github::{Approval, Client, PendingDeployment, Release, Run, Target, Workflow};
use crate::release::approval;
use crate::release::live::{self, AppObservation, AppsRead, LiveReport, Liveness};
use crate::release::trigger::{self, Diagnosis, Dispatched};
use crate::release::watch::{self, End, LiveEnd};
use crate::report::{Next, Report};
use crate::ui::{Tone, Ui};
use crate::version::short_sha;

/// First poll interval of `--watch`.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Longest poll interval while nothing changes.
const POLL_MAX: Duration = Duration::from_secs(20);
/// How long reading the Coolify apps may take.
const COOLIFY_BUDGET: Duration = Duration::from_secs(20);
/// After this long without any run for the commit, say why that may be.
const NOT_STARTED_AFTER: Duration = Duration::from_secs(180);

/// What `almarel status` is asked to show (resolved from the flags by
/// [`crate::resolve::status`]; REF was validated there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// A tag or commit SHA; `None`: the head of the release branch on GitHub.
    pub reference: Option<String>,
    /// Follow the runs until they complete or wait for the approval.
    pub watch: bool,
    /// Deadline for `--watch`.
    pub timeout: Duration,
    /// Where `--watch` ends (`--until`; resolved to `live` or `runs` when
    /// not given).
    pub until: End,
    /// `--dispatch`: start the expected workflows that will not start.
    pub dispatch: bool,
}

/// The result of `almarel status` (its `--json` object; see `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// REF as resolved (`v1.2.3`, `1a2b3c4`, `main on GitHub`).
    #[serde(rename = "ref")]
    pub reference: String,
    /// The commit's full SHA.
    pub sha: String,
    /// The tag named as REF.
    pub tag: Option<TagInfo>,
    /// Every tag at the commit.
    pub tags_at_commit: Vec<String>,
    /// The newest run of each configured workflow for the commit.
    pub runs: Runs,
    /// The production approval the deploy run waits for.
    pub pending_approval: Option<PendingInfo>,
    /// The deploy run's review state (`release::approval`).
    pub approval: approval::Approval,
    /// The deploy run's review history.
    pub reviews: Vec<ReviewInfo>,
    /// The GitHub Release for the tag.
    pub release: Option<ReleaseInfo>,
    /// What production runs (`verify.version_url`).
    pub production: ProductionInfo,
    /// Each Coolify app's image tag.
    pub coolify: CoolifyInfo,
    /// Live / mixed / not yet (SPEC §7.4); `null` when the apps could not be read.
    pub live: Option<LiveReport>,
    /// Whether releases are frozen, roll forward included (`null`: the
    /// deploy workflow was not found).
    pub frozen: Option<bool>,
    /// The freeze as GitHub records it (`null`: the deploy workflow was not found).
    pub frozen_state: Option<FrozenState>,
    /// This machine's audit entries about the commit or its tags (newest last).
    pub audit: Vec<crate::audit::Entry>,
    /// `--watch` request counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchStats>,
    /// How `--watch` ended: `live`, `completed`, `awaiting_approval`,
    /// `approved`, `failed`, `never_starts`, `mixed`, `timed_out`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    /// Each environment's last verified version (SPEC §8.3), read from the
    /// deployment statuses `verify` records; only with `[environments]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<Vec<EnvironmentVerified>>,
    /// Where `--watch` was asked to end (`approval`, `runs`, `live`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<End>,
    /// Why expected workflows have no run for the commit (SPEC §8.2), as
    /// far as due when the watch ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Diagnosis>,
    /// The runs `--dispatch` started.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dispatched: Vec<Dispatched>,
    #[serde(skip)]
    lines: Vec<String>,
    #[serde(skip)]
    next: Option<Next>,
    #[serde(skip)]
    summary: String,
    #[serde(skip)]
    tag_output: Option<String>,
}

impl Report for StatusReport {
    fn render(&self, ui: &Ui) {
        for l in &self.lines {
            ui.result(l);
        }
    }
    fn next(&self) -> Option<Next> {
        self.next.clone()
    }
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("sha", self.sha.clone())];
        if let Some(t) = &self.tag_output {
            out.push(("tag", t.clone()));
        }
        out
    }
    fn summary(&self) -> Option<String> {
        Some(self.summary.clone())
    }
}

/// One environment's last verified version (`verified[]` in `--json`).
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentVerified {
    /// The environment (`production`, `staging`).
    pub environment: String,
    /// The newest successful verify among its recent deployments; `null`
    /// when there is none (or it could not be read: see `error`).
    pub last: Option<crate::release::evidence::Verified>,
    /// Why it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Adds each environment's last verified version to `report` (its lines
/// and `verified`), when more than one environment is configured.
async fn add_verified(ctx: &Context, gh: &Client, report: &mut StatusReport) {
    if ctx.settings.environments.len() < 2 {
        return;
    }
    let all = crate::release::evidence::last_verified_each(gh, &ctx.settings.environments).await;
    let mut rows = Vec::new();
    let mut out = Vec::new();
    for (name, last) in all {
        let (text, last, error) = match last {
            Ok(Some(v)) => {
                let label = crate::release::tags::release_tag_of(ctx, &v.sha)
                    .await
                    .map(|t| format!("{t} ({})", crate::version::short_sha(&v.sha)))
                    .unwrap_or_else(|| crate::version::short_sha(&v.sha).to_owned());
                (format!("last verified {label} at {}", v.at), Some(v), None)
            }
            Ok(None) => ("no verify recorded".to_owned(), None, None),
            Err(e) => (format!("unknown: {}", e.message), None, Some(e.message)),
        };
        rows.push(vec![
            ctx.ui
                .mark(if last.is_some() { Tone::Ok } else { Tone::Dim }),
            format!("verified in {name}"),
            text,
        ]);
        out.push(EnvironmentVerified {
            environment: name,
            last,
            error,
        });
    }
    report.lines.extend(crate::ui::table(&rows));
    report.verified = Some(out);
}

/// A tag named as REF.
#[derive(Debug, Clone, Serialize)]
pub struct TagInfo {
    /// Its name.
    pub name: String,
    /// Annotated (not lightweight).
    pub annotated: bool,
    /// Always true: read from GitHub.
    pub on_remote: bool,
}

/// The three workflows' newest runs.
#[derive(Debug, Clone, Serialize)]
pub struct Runs {
    /// `github.ci_workflow`.
    pub ci: RunInfo,
    /// `github.release_workflow`.
    pub release: RunInfo,
    /// `github.deploy_workflow`.
    pub deploy: RunInfo,
}

/// One workflow's newest run for the commit (fields `null` when none).
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    /// The workflow's name on GitHub.
    pub workflow: Option<String>,
    /// Whether the configured workflow exists.
    pub found: bool,
    /// The run id.
    pub run_id: Option<u64>,
    /// `queued`, `in_progress`, `waiting`, `completed`, …
    pub status: Option<String>,
    /// `success`, `failure`, …
    pub conclusion: Option<String>,
    /// The run's page.
    pub url: Option<String>,
    /// When it was created.
    pub created_at: Option<String>,
}

/// The freeze: where releases stand and who froze them, when and why.
#[derive(Debug, Clone, Serialize)]
pub struct FrozenState {
    /// `frozen`, `roll_forward` or `not_frozen`.
    pub standing: crate::release::freeze::Standing,
    /// `frozen by @x at T: reason` (or what the workflow state says);
    /// `null` when not frozen.
    pub description: Option<String>,
    /// Whether REF's commit may go out (not frozen, or it is the roll
    /// forward's commit).
    pub allows_ref: bool,
}

/// The pending production approval.
#[derive(Debug, Clone, Serialize)]
pub struct PendingInfo {
    /// The environment's name.
    pub environment: Option<String>,
    /// Its id.
    pub environment_id: u64,
    /// Its wait timer in minutes.
    pub wait_timer: u64,
    /// Whether the token's user may approve.
    pub current_user_can_approve: bool,
    /// Who may.
    pub reviewers: Vec<String>,
}

/// One review of the deploy run.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewInfo {
    /// `approved` or `rejected`.
    pub state: String,
    /// Who.
    pub user: String,
    /// Their comment.
    pub comment: Option<String>,
}

/// The GitHub Release.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseInfo {
    /// Its tag.
    pub tag: String,
    /// Marked pre-release.
    pub prerelease: bool,
    /// A draft.
    pub draft: bool,
    /// Its page.
    pub url: String,
}

/// What production runs.
#[derive(Debug, Clone, Serialize)]
pub struct ProductionInfo {
    /// Its version SHA.
    pub sha: Option<String>,
    /// `ok` or `unknown`.
    pub status: &'static str,
    /// Why it is unknown.
    pub why: Option<String>,
    /// Release tags at that SHA.
    pub tags: Vec<String>,
    /// Whether it is REF's commit.
    pub matches_ref: Option<bool>,
}

/// The Coolify apps' image tags.
#[derive(Debug, Clone, Serialize)]
pub struct CoolifyInfo {
    /// `ok`, `differ` (the apps' tags differ) or `unknown`.
    pub status: &'static str,
    /// Why it is unknown.
    pub why: Option<String>,
    /// The image tag REF's release deploys.
    pub expected_image_tag: Option<String>,
    /// Each app.
    pub apps: Vec<AppInfo>,
}

/// One app.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    /// Its name in `coolify.apps`.
    pub app: String,
    /// Its configured image tag.
    pub image_tag: Option<String>,
    /// Its latest deployment's status.
    pub latest: Option<String>,
}

/// `--watch` request counts.
#[derive(Debug, Clone, Serialize)]
pub struct WatchStats {
    /// GitHub requests sent.
    pub requests: u64,
    /// Of them answered 304.
    pub not_modified: u64,
}

/// Which of the three configured workflows a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `github.ci_workflow`.
    Ci,
    /// `github.release_workflow`.
    Release,
    /// `github.deploy_workflow`.
    Deploy,
}

impl Role {
    fn key(self) -> &'static str {
        match self {
            Role::Ci => "ci",
            Role::Release => "release",
            Role::Deploy => "deploy",
        }
    }
}

/// One workflow row: the workflow (or why it could not be found) and its
/// newest run for the commit.
#[derive(Debug, Clone)]
pub struct WorkflowRow {
    /// Which workflow.
    pub role: Role,
    /// The configured name.
    pub configured: String,
    /// The workflow, when found.
    pub workflow: Option<Workflow>,
    /// The newest run for the commit, if any.
    pub run: Option<Run>,
}

/// Looks up the three configured workflows (a missing one is kept as a row
/// without a workflow, so the ledger still shows the rest).
pub async fn load_workflows(ctx: &Context, gh: &Client) -> Result<Vec<WorkflowRow>> {
    let g = &ctx.settings.github;
    let mut rows = Vec::new();
    for (role, name) in [
        (Role::Ci, &g.ci_workflow),
        (Role::Release, &g.release_workflow),
        (Role::Deploy, &g.deploy_workflow),
    ] {
        let workflow = match gh.workflow(name).await {
            Ok(w) => Some(w),
            Err(e) if e.kind == crate::error::Kind::Usage => {
                ctx.ui.warn(&e.message);
                None
            }
            Err(e) => return Err(e),
        };
        rows.push(WorkflowRow {
            role,
            configured: name.clone(),
            workflow,
            run: None,
        });
    }
    Ok(rows)
}

/// Fills each row's newest run for `sha`: one listing of the commit's runs
/// for every workflow (a rate-limited request each poll, not one per
/// workflow).
pub async fn refresh_runs(gh: &Client, rows: &mut [WorkflowRow], sha: &str) -> Result<()> {
    if rows.iter().all(|r| r.workflow.is_none()) {
        return Ok(());
    }
    let runs = gh.runs_of_commit(sha).await?;
    for row in rows.iter_mut() {
        if let Some(w) = &row.workflow {
            row.run = runs.iter().find(|r| r.workflow_id == w.id).cloned();
        }
    }
    Ok(())
}

/// The newest CI run's conclusion for `sha`, as text (`success`, `failure`,
/// `in_progress`, `not started`).
pub fn run_text(run: Option<&Run>) -> String {
    run.map(Run::state_text)
        .unwrap_or_else(|| "not started".to_owned())
}

/// The ledger read from GitHub.
#[derive(Debug, Clone)]
struct Ledger {
    target: Target,
    rows: Vec<WorkflowRow>,
    pending: Vec<PendingDeployment>,
    reviews: Vec<Approval>,
    /// The deploy run's review state (the one rule, `release::approval`).
    approval: approval::Approval,
    release: Option<Release>,
    frozen: Option<bool>,
    /// The freeze as read (`None`: the deploy workflow was not found).
    freeze: Option<crate::release::freeze::FreezeState>,
    production: Production,
    coolify: CoolifyApps,
    /// Whether the release is live, mixed or not yet out (`None`: the apps could not be read).
    live: Option<LiveReport>,
    /// The trigger diagnosis as due (`--watch`).
    trigger: Option<Diagnosis>,
    /// The runs `--dispatch` started.
    dispatched: Vec<Dispatched>,
}

/// Each Coolify app's configured image tag (what the next deployment or
/// restart ships) and latest deployment, as far as Coolify says.
#[derive(Debug, Clone, Default)]
struct CoolifyApps {
    /// Each app as read.
    apps: Vec<AppObservation>,
    /// The image tag REF's release would deploy, when REF has a release tag.
    expected: Option<String>,
    /// Why the apps could not be read.
    why_unknown: Option<String>,
}

impl CoolifyApps {
    /// Whether the configured tags differ between apps.
    fn differ(&self) -> bool {
        let mut tags = self.apps.iter().map(|a| &a.image_tag);
        tags.next().is_some_and(|first| tags.any(|t| t != first))
    }
}

/// Reads each configured app; never fails the ledger (a report shows
/// "unknown" and why).
async fn read_coolify(ctx: &Context, target: &Target) -> (CoolifyApps, AppsRead) {
    let settings = &ctx.settings.coolify;
    let expected = crate::version::preferred_tag(&target.tags)
        .and_then(|t| live::image_tag_for(settings, t, &target.sha));
    let read = live::read_apps(ctx, Some(COOLIFY_BUDGET)).await;
    let apps = match &read {
        AppsRead::NotConfigured => CoolifyApps {
            why_unknown: Some("coolify.url and coolify.apps are not configured".into()),
            ..CoolifyApps::default()
        },
        AppsRead::NoToken => CoolifyApps {
            expected,
            why_unknown: Some(format!(
                "no Coolify token: {} is not set",
                crate::env::COOLIFY_TOKEN
            )),
            ..CoolifyApps::default()
        },
        AppsRead::Failed(e) => CoolifyApps {
            expected,
            why_unknown: Some(e.message.clone()),
            ..CoolifyApps::default()
        },
        AppsRead::Read(list) => CoolifyApps {
            apps: list.clone(),
            expected,
            why_unknown: None,
        },
    };
    (apps, read)
}

/// The release's liveness (SPEC §7.4) from production's SHA and the apps as
/// read; `None` when the apps are configured but could not be read.
fn judge(
    ctx: &Context,
    target: &Target,
    production: &Production,
    read: &AppsRead,
) -> Option<LiveReport> {
    let accepted = live::release_image_tags(&ctx.settings.coolify, &target.tags, &target.sha);
    let sha = production.sha.as_deref();
    let version_url = ctx.settings.verify.version_url.is_some();
    match read {
        AppsRead::NotConfigured => Some(live::assess(sha, &target.sha, &accepted, &[])),
        AppsRead::Read(apps) => Some(watch::judge(
            live::assess(sha, &target.sha, &accepted, apps),
            version_url,
        )),
        AppsRead::NoToken | AppsRead::Failed(_) => None,
    }
}

/// What production runs, as far as `verify.version_url` says.
#[derive(Debug, Clone, Default)]
struct Production {
    sha: Option<String>,
    why_unknown: Option<String>,
    tags: Vec<String>,
}

async fn read_production(ctx: &Context, gh: &Client, target: &Target) -> Result<Production> {
    use crate::probe::{production_sha, sha_matches as same_commit};
    match production_sha(&ctx.settings.verify).await {
        Ok(None) => Ok(Production {
            why_unknown: Some("verify.version_url is not set".into()),
            ..Production::default()
        }),
        Err(why) => Ok(Production {
            why_unknown: Some(why),
            ..Production::default()
        }),
        Ok(Some(sha)) => {
            let tags = if same_commit(&sha, &target.sha) {
                target.tag_refs.iter().map(|t| t.name.clone()).collect()
            } else {
                gh.release_tags()
                    .await?
                    .into_iter()
                    .filter(|(_, t)| same_commit(&t.commit, &sha))
                    .map(|(r, _)| r.name)
                    .collect()
            };
            Ok(Production {
                sha: Some(sha),
                why_unknown: None,
                tags,
            })
        }
    }
}

/// Reads production and the Coolify apps again and re-judges the release.
async fn refresh_live(ctx: &Context, gh: &Client, l: &mut Ledger) -> Result<()> {
    let (production, (coolify, apps_read)) = tokio::join!(
        read_production(ctx, gh, &l.target),
        read_coolify(ctx, &l.target)
    );
    l.production = production?;
    l.coolify = coolify;
    l.live = judge(ctx, &l.target, &l.production, &apps_read);
    Ok(())
}

fn age_of(ctx: &Context, rfc: &str) -> String {
    humantime::parse_rfc3339_weak(rfc)
        .ok()
        .and_then(|t| ctx.clock.wall().duration_since(t).ok())
        .map(|d| format!("{} ago", clock::age(d)))
        .unwrap_or_default()
}

async fn read_deploy_details(ctx: &Context, gh: &Client, ledger: &mut Ledger) -> Result<()> {
    let env = &ctx.settings.github.environment;
    let deploy = ledger
        .rows
        .iter()
        .find(|r| r.role == Role::Deploy)
        .and_then(|r| r.run.clone());
    ledger.pending.clear();
    ledger.reviews.clear();
    if let Some(run) = &deploy {
        if run.is_waiting() {
            ledger.pending = gh
                .pending_deployments(run.id)
                .await?
                .into_iter()
                .filter(|p| p.environment.name.as_deref() == Some(env.as_str()))
                .collect();
        }
        ledger.reviews = gh.approvals(run.id).await?;
    }
    ledger.approval = approval::decide(deploy.as_ref(), &ledger.pending, &ledger.reviews, env);
    Ok(())
}

async fn read_ledger(ctx: &Context, gh: &Client, req: &Request) -> Result<Ledger> {
    let target = gh.resolve_ref(req.reference.as_deref()).await?;
    let mut rows = load_workflows(ctx, gh).await?;
    refresh_runs(gh, &mut rows, &target.sha).await?;
    let tag_for_release = target
        .requested_tag
        .as_ref()
        .map(|t| t.name.clone())
        .or_else(|| crate::version::preferred_tag(&target.tags).map(|t| t.name.clone()));
    let release = match &tag_for_release {
        Some(t) => gh.release_by_tag(t).await?,
        None => None,
    };
    let freeze = if rows
        .iter()
        .any(|r| r.role == Role::Deploy && r.workflow.is_some())
    {
        Some(crate::release::freeze::state(gh, &ctx.settings.github.deploy_workflow).await?)
    } else {
        None
    };
    let frozen = freeze.as_ref().map(|f| f.frozen());
    let (production, (coolify, apps_read)) = tokio::join!(
        read_production(ctx, gh, &target),
        read_coolify(ctx, &target)
    );
    let production = production?;
    let live = judge(ctx, &target, &production, &apps_read);
    let mut ledger = Ledger {
        target,
        rows,
        pending: Vec::new(),
        reviews: Vec::new(),
        approval: approval::Approval::NoRun,
        release,
        frozen,
        freeze,
        production,
        coolify,
        live,
        trigger: None,
        dispatched: Vec::new(),
    };
    read_deploy_details(ctx, gh, &mut ledger).await?;
    Ok(ledger)
}

fn tag_line(ctx: &Context, t: &Target) -> String {
    let mut parts = Vec::new();
    match &t.requested_tag {
        Some(tag) => parts.push(format!(
            "{} → {} ({}, on GitHub)",
            tag.name,
            t.short(),
            if tag.annotated {
                "annotated"
            } else {
                "lightweight, not annotated"
            }
        )),
        None => parts.push(format!("{} ({})", t.short(), t.label)),
    }
    let others: Vec<String> = t
        .tag_refs
        .iter()
        .filter(|r| Some(&r.name) != t.requested_tag.as_ref().map(|x| &x.name))
        .map(|r| r.name.clone())
        .collect();
    if !others.is_empty() {
        parts.push(format!("tags at this commit: {}", others.join(", ")));
    } else if t.requested_tag.is_none() {
        parts.push(ctx.ui.paint(Tone::Warn, "no release tag at this commit"));
    }
    parts.join("; ")
}

fn run_cells(ctx: &Context, row: &WorkflowRow) -> Vec<String> {
    let name = row
        .workflow
        .as_ref()
        .map(|w| w.name.clone())
        .unwrap_or_else(|| row.configured.clone());
    if row.workflow.is_none() {
        return vec![
            ctx.ui.mark(Tone::Warn),
            name,
            format!("workflow `{}` not found in the repository", row.configured),
        ];
    }
    match &row.run {
        None => vec![ctx.ui.mark(Tone::Dim), name, "not started".into()],
        Some(run) => {
            let tone = match (&run.conclusion, run.is_waiting()) {
                (Some(c), _) if c.is_ok() => Tone::Ok,
                (Some(_), _) => Tone::Fail,
                (None, true) => Tone::Warn,
                (None, false) => Tone::Dim,
            };
            vec![
                ctx.ui.mark(tone),
                name,
                format!(
                    "{}, {}  {}",
                    run.state_text(),
                    age_of(ctx, &run.created_at),
                    run.html_url
                ),
            ]
        }
    }
}

fn render(ctx: &Context, l: &Ledger) -> Vec<String> {
    let ui = &ctx.ui;
    let mut rows = vec![vec![
        ui.mark(if l.target.tags.is_empty() {
            Tone::Warn
        } else {
            Tone::Ok
        }),
        "ref".to_owned(),
        tag_line(ctx, &l.target),
    ]];
    rows.extend(l.rows.iter().map(|r| run_cells(ctx, r)));
    let env = &ctx.settings.github.environment;
    let approval = if let Some(p) = l.pending.first() {
        let who: Vec<String> = p.reviewers.iter().map(|r| r.label()).collect();
        format!(
            "{} waiting for approval{}; you {} approve{}",
            env,
            if p.wait_timer > 0 {
                format!(" (wait timer {}m)", p.wait_timer)
            } else {
                String::new()
            },
            if p.current_user_can_approve {
                "can"
            } else {
                "cannot"
            },
            if who.is_empty() {
                String::new()
            } else {
                format!(" (reviewers: {})", who.join(", "))
            }
        )
    } else {
        match &l.approval {
            approval::Approval::Approved { by, .. } => format!("{env} approved by @{by}"),
            approval::Approval::Rejected { by, .. } => format!("{env} rejected by @{by}"),
            _ => format!("no pending {env} approval"),
        }
    };
    rows.push(vec![
        ui.mark(if l.pending.is_empty() {
            Tone::Dim
        } else {
            Tone::Warn
        }),
        "approval".into(),
        approval,
    ]);
    let reviews = if l.reviews.is_empty() {
        "none".to_owned()
    } else {
        l.reviews
            .iter()
            .map(|a| {
                let c = a
                    .comment
                    .as_deref()
                    .filter(|c| !c.is_empty())
                    .map(|c| format!(" (\"{c}\")"))
                    .unwrap_or_default();
                format!("{} by @{}{c}", a.state, a.user.login)
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    rows.push(vec![ui.mark(Tone::Dim), "reviews".into(), reviews]);
    let release = match &l.release {
        Some(r) => format!(
            "{}{} {}",
            r.tag_name,
            if r.prerelease { " (pre-release)" } else { "" },
            r.html_url
        ),
        None => "no published GitHub Release for this tag".to_owned(),
    };
    rows.push(vec![
        ui.mark(if l.release.is_some() {
            Tone::Ok
        } else {
            Tone::Dim
        }),
        "release".into(),
        release,
    ]);
    let (tone, text) = production_cells(l);
    rows.push(vec![ui.mark(tone), "production".into(), text]);
    rows.push(coolify_row(ui, &l.coolify));
    let frozen = match l.freeze.as_ref().and_then(|f| f.describe().map(|d| (f, d))) {
        Some((f, d)) => {
            let end = match f.standing() {
                crate::release::freeze::Standing::RollForward if f.allows(&l.target.sha) => {
                    "; this commit is the roll forward's and may go out".to_owned()
                }
                crate::release::freeze::Standing::RollForward => {
                    "; only the roll forward's commit may go out".to_owned()
                }
                _ => " (`almarel unfreeze` resumes)".to_owned(),
            };
            ui.paint(Tone::Fail, &format!("FROZEN: {d}{end}"))
        }
        None if l.freeze.is_some() => "no".to_owned(),
        None => "unknown (deploy workflow not found)".to_owned(),
    };
    rows.push(vec![
        ui.mark(if l.frozen == Some(true) {
            Tone::Fail
        } else {
            Tone::Dim
        }),
        "frozen".into(),
        frozen,
    ]);
    crate::ui::table(&rows)
}

/// The `production` row: what production runs and, when it runs REF,
/// whether every app does too (SPEC §7.4: a mixed release is never a ✓).
fn production_cells(l: &Ledger) -> (Tone, String) {
    let Some(sha) = &l.production.sha else {
        if let Some(LiveReport {
            state: Liveness::Mixed { .. },
            ..
        }) = &l.live
        {
            return (Tone::Fail, format!("MIXED: {}", mixed_text(l)));
        }
        let why = l.production.why_unknown.clone().unwrap_or_default();
        return (Tone::Warn, format!("unknown: {why}"));
    };
    let tags = if l.production.tags.is_empty() {
        String::new()
    } else {
        format!(" ({})", l.production.tags.join(", "))
    };
    let runs = format!("runs {}{tags}", short_sha(sha));
    let here = crate::probe::sha_matches(sha, &l.target.sha);
    match &l.live {
        Some(LiveReport {
            state: Liveness::Mixed { .. },
            ..
        }) => (
            Tone::Fail,
            format!("{runs}, but the release is MIXED: {}", mixed_text(l)),
        ),
        _ if !here => (Tone::Dim, format!("{runs}, not {}", l.target.short())),
        Some(LiveReport {
            state: Liveness::Live,
            ..
        }) => (Tone::Ok, format!("{runs}: this release")),
        Some(r) => {
            let behind: Vec<String> = r
                .apps
                .iter()
                .filter(|a| a.place != live::AppPlace::OnRelease)
                .map(|a| format!("{} {}", a.app, a.detail()))
                .collect();
            (
                Tone::Warn,
                format!(
                    "{runs}: this release, not live on every app yet: {}",
                    behind.join("; ")
                ),
            )
        }
        None => (
            Tone::Warn,
            format!(
                "{runs}: this release; whether every Coolify app runs it is unknown ({})",
                l.coolify.why_unknown.clone().unwrap_or_default()
            ),
        ),
    }
}

/// The apps that make a release mixed, each with where it stands.
fn mixed_text(l: &Ledger) -> String {
    let Some(r) = &l.live else {
        return String::new();
    };
    r.apps
        .iter()
        .filter(|a| {
            matches!(
                a.place,
                live::AppPlace::Elsewhere { .. } | live::AppPlace::Failed { .. }
            )
        })
        .map(|a| format!("{} is {}", a.app, a.detail()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The ledger as the report's JSON parts.
fn report_of(l: &Ledger, audit: Vec<crate::audit::Entry>) -> StatusReport {
    let run = |role: Role| {
        let r = l.rows.iter().find(|r| r.role == role);
        let run = r.and_then(|r| r.run.as_ref());
        RunInfo {
            workflow: r.and_then(|r| r.workflow.as_ref().map(|w| w.name.clone())),
            found: r.is_some_and(|r| r.workflow.is_some()),
            run_id: run.map(|x| x.id),
            status: run.and_then(|x| x.status.as_ref().map(ToString::to_string)),
            conclusion: run.and_then(|x| x.conclusion.as_ref().map(ToString::to_string)),
            url: run.map(|x| x.html_url.clone()),
            created_at: run.map(|x| x.created_at.clone()),
        }
    };
    let p = &l.production;
    let c = &l.coolify;
    StatusReport {
        reference: l.target.label.clone(),
        sha: l.target.sha.clone(),
        tag: l.target.requested_tag.as_ref().map(|t| TagInfo {
            name: t.name.clone(),
            annotated: t.annotated,
            on_remote: true,
        }),
        tags_at_commit: l.target.tag_refs.iter().map(|t| t.name.clone()).collect(),
        runs: Runs {
            ci: run(Role::Ci),
            release: run(Role::Release),
            deploy: run(Role::Deploy),
        },
        pending_approval: l.pending.first().map(|p| PendingInfo {
            environment: p.environment.name.clone(),
            environment_id: p.environment.id,
            wait_timer: p.wait_timer,
            current_user_can_approve: p.current_user_can_approve,
            reviewers: p.reviewers.iter().map(|r| r.label()).collect(),
        }),
        approval: l.approval.clone(),
        reviews: l
            .reviews
            .iter()
            .map(|a| ReviewInfo {
                state: a.state.clone(),
                user: a.user.login.clone(),
                comment: a.comment.clone(),
            })
            .collect(),
        release: l.release.as_ref().map(|r| ReleaseInfo {
            tag: r.tag_name.clone(),
            prerelease: r.prerelease,
            draft: r.draft,
            url: r.html_url.clone(),
        }),
        production: ProductionInfo {
            sha: p.sha.clone(),
            status: if p.sha.is_some() { "ok" } else { "unknown" },
            why: p.why_unknown.clone(),
            tags: p.tags.clone(),
            matches_ref: p
                .sha
                .as_ref()
                .map(|x| crate::probe::sha_matches(x, &l.target.sha)),
        },
        coolify: CoolifyInfo {
            status: if c.why_unknown.is_some() {
                "unknown"
            } else if c.differ() {
                "differ"
            } else {
                "ok"
            },
            why: c.why_unknown.clone(),
            expected_image_tag: c.expected.clone(),
            apps: c
                .apps
                .iter()
                .map(|a| AppInfo {
                    app: a.app.clone(),
                    image_tag: a.image_tag.clone(),
                    latest: a.latest.as_ref().map(|s| s.as_str().to_owned()),
                })
                .collect(),
        },
        live: l.live.clone(),
        frozen: l.frozen,
        frozen_state: l.freeze.as_ref().map(|f| FrozenState {
            standing: f.standing(),
            description: f.describe(),
            allows_ref: f.allows(&l.target.sha),
        }),
        audit,
        watch: None,
        outcome: None,
        verified: None,
        until: None,
        trigger: l.trigger.clone().filter(|d| !d.workflows.is_empty()),
        dispatched: l.dispatched.clone(),
        lines: Vec::new(),
        next: None,
        summary: summary_md(l),
        tag_output: crate::version::preferred_tag(&l.target.tags).map(|t| t.name.clone()),
    }
}

/// The `coolify` row: each app's configured image tag; a warning when the
/// apps differ (a half-finished deploy or rollback).
fn coolify_row(ui: &crate::ui::Ui, c: &CoolifyApps) -> Vec<String> {
    if let Some(why) = &c.why_unknown {
        return vec![
            ui.mark(Tone::Warn),
            "coolify".into(),
            format!("unknown: {why}"),
        ];
    }
    let list = c
        .apps
        .iter()
        .map(|a| format!("{} {}", a.app, a.image_tag.as_deref().unwrap_or("(no tag)")))
        .collect::<Vec<_>>()
        .join(", ");
    if c.differ() {
        return vec![
            ui.mark(Tone::Warn),
            "coolify".into(),
            format!("image tags differ: {list} (the next restart ships each app's own tag)"),
        ];
    }
    // An app whose latest deployment did not finish is not on its tag yet,
    // whatever is configured.
    let unfinished: Vec<(String, bool)> = c
        .apps
        .iter()
        .filter_map(|a| match &a.latest {
            Some(DeploymentStatus::Finished) => None,
            Some(s @ (DeploymentStatus::Failed | DeploymentStatus::CancelledByUser)) => Some((
                format!("{}'s latest deployment {}", a.app, s.as_str()),
                true,
            )),
            Some(s) => Some((
                format!("{}'s latest deployment is {}", a.app, s.as_str()),
                false,
            )),
            None => Some((format!("{} was never deployed", a.app), false)),
        })
        .collect();
    if !unfinished.is_empty() {
        let failed = unfinished.iter().any(|(_, f)| *f);
        let why: Vec<&str> = unfinished.iter().map(|(w, _)| w.as_str()).collect();
        return vec![
            ui.mark(if failed { Tone::Fail } else { Tone::Warn }),
            "coolify".into(),
            format!("{list} ({})", why.join("; ")),
        ];
    }
    let first = c.apps.first().and_then(|a| a.image_tag.as_deref());
    match (&c.expected, first) {
        (Some(want), Some(have)) if want == have => {
            vec![
                ui.mark(Tone::Ok),
                "coolify".into(),
                format!("{list}: this release"),
            ]
        }
        (Some(want), _) => vec![
            ui.mark(Tone::Dim),
            "coolify".into(),
            format!("{list}, not {want}"),
        ],
        (None, _) => vec![ui.mark(Tone::Dim), "coolify".into(), list],
    }
}

/// How many audit entries `status` shows.
const AUDIT_ENTRIES: usize = 5;

/// The last [`AUDIT_ENTRIES`] entries of this machine's audit log that
/// mention the target's tags or commit (in their target, or as a string
/// value of their details), oldest first.
fn audit_for(ctx: &Context, t: &Target) -> Vec<crate::audit::Entry> {
    let mut tags: Vec<String> = t.tag_refs.iter().map(|r| r.name.clone()).collect();
    tags.extend(t.tags.iter().map(|r| r.name.clone()));
    if let Some(r) = &t.requested_tag {
        tags.push(r.name.clone());
    }
    let hits: Vec<crate::audit::Entry> = ctx
        .audit
        .read()
        .into_iter()
        .filter(|e| {
            e.target
                .split(['@', ' ', ','])
                .any(|tok| mentions(tok, &tags, &t.sha))
                || value_mentions(&e.details, &tags, &t.sha)
        })
        .collect();
    let skip = hits.len().saturating_sub(AUDIT_ENTRIES);
    hits.into_iter().skip(skip).collect()
}

fn mentions(s: &str, tags: &[String], sha: &str) -> bool {
    tags.iter().any(|t| t == s)
        || (s.len() >= 7
            && s.chars().all(|c| c.is_ascii_hexdigit())
            && crate::probe::sha_matches(s, sha))
}

fn value_mentions(v: &Value, tags: &[String], sha: &str) -> bool {
    match v {
        Value::String(s) => mentions(s, tags, sha),
        Value::Array(a) => a.iter().any(|x| value_mentions(x, tags, sha)),
        Value::Object(o) => o.values().any(|x| value_mentions(x, tags, sha)),
        _ => false,
    }
}

fn audit_lines(entries: &[crate::audit::Entry]) -> Vec<String> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut lines = vec!["audit (this machine, newest last)".to_owned()];
    for e in entries {
        let who = e
            .actor
            .github
            .as_ref()
            .map(|g| format!("@{g}"))
            .or_else(|| e.actor.git.clone())
            .unwrap_or_default();
        lines.push(format!(
            "  {} {} {} {} {who}",
            e.time, e.command, e.target, e.result
        ));
    }
    lines
}

/// What the watch decided.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    /// All expected runs completed successfully.
    Done,
    /// Only the production approval is left.
    AwaitingApproval,
    /// A run failed (or CI failed, so the deploy will not start).
    Failed(String),
    /// Every run completed, but the release is mixed (decided after the
    /// watch, from production and the apps; never by [`evaluate`]).
    Mixed(String),
    /// The release is live (`--until live`).
    Live,
    /// The production approval was given (`--until approval`).
    Approved,
    /// An expected workflow will never start for the commit (SPEC §8.2).
    NeverStarts(String),
}

/// [`evaluate`] with the end asked for: `--until approval` also stops once
/// the approval was given.
fn decide(l: &Ledger, until: End) -> Option<Verdict> {
    let v = evaluate(l);
    if until == End::Approval
        && !matches!(v, Some(Verdict::Failed(_)))
        && matches!(l.approval, approval::Approval::Approved { .. })
    {
        return Some(Verdict::Approved);
    }
    v
}

/// The configured names of the expected workflows with no run for the
/// commit (CI always; Release with a release tag; Deploy unless frozen).
fn missing_expected(l: &Ledger) -> Vec<String> {
    let has_release_tag = !l.target.tags.is_empty() || l.target.requested_tag.is_some();
    l.rows
        .iter()
        .filter(|r| r.workflow.is_some() && r.run.is_none())
        .filter(|r| match r.role {
            Role::Ci => true,
            Role::Release => has_release_tag,
            Role::Deploy => !blocked(l),
        })
        .map(|r| r.configured.clone())
        .collect()
}

/// The release tag the runs were pushed for (REF's, else the commit's preferred).
fn release_tag(t: &Target) -> Option<String> {
    t.requested_tag
        .as_ref()
        .map(|t| t.name.clone())
        .or_else(|| crate::version::preferred_tag(&t.tags).map(|t| t.name.clone()))
}

/// Diagnoses the expected workflows without a run (SPEC §8.2).
async fn diagnose(
    ctx: &Context,
    gh: &Client,
    l: &Ledger,
    missing: Vec<String>,
) -> Result<Diagnosis> {
    trigger::diagnose(
        gh,
        &trigger::Request {
            sha: l.target.sha.clone(),
            tag: release_tag(&l.target),
            branch: ctx.settings.git.branch.clone(),
            missing,
            clone: Some(ctx.settings.workdir.clone()),
        },
    )
    .await
}

/// Starts `name` by hand for the release tag (journaled) and returns the run.
async fn dispatch_one(ctx: &Context, gh: &Client, l: &Ledger, name: &str) -> Result<Dispatched> {
    let Some(tag) = release_tag(&l.target) else {
        return Err(Error::usage(format!(
            "--dispatch starts a workflow for a tag, and {} has no release tag",
            l.target.short()
        ))
        .with_hint(
            "tag the commit (`almarel tag`), then `almarel status TAG --watch --dispatch`",
        ));
    };
    let w = ctx.journal.begin(
        format!("start {name} for {tag} (workflow_dispatch)"),
        Some(format!("almarel status {tag}")),
    );
    match trigger::dispatch(
        gh,
        ctx.clock.as_ref(),
        name,
        &tag,
        &l.target.sha,
        trigger::DISPATCH_FIND_WITHIN,
    )
    .await
    {
        Ok(d) => {
            w.done();
            ctx.ui.progress(&format!(
                "started {} for {tag}: run {} {}",
                d.workflow, d.run_id, d.html_url
            ));
            Ok(d)
        }
        Err(e) => {
            w.failed(&e.message);
            Err(e)
        }
    }
}

fn evaluate(l: &Ledger) -> Option<Verdict> {
    let has_release_tag = !l.target.tags.is_empty() || l.target.requested_tag.is_some();
    let frozen = blocked(l);
    let mut all_done = true;
    let mut waiting = false;
    for row in &l.rows {
        if row.workflow.is_none() {
            continue;
        }
        match &row.run {
            Some(run) => match (&run.conclusion, run.is_waiting()) {
                (Some(c), _) if !c.is_ok() => {
                    let name = run.name.clone().unwrap_or_else(|| row.configured.clone());
                    let why = if row.role == Role::Ci {
                        format!("CI ({name}) concluded {c}: the deploy run will not start")
                    } else {
                        format!("{name} concluded {c}")
                    };
                    return Some(Verdict::Failed(format!("{why} ({})", run.html_url)));
                }
                (Some(_), _) => {}
                (None, true) if row.role == Role::Deploy => waiting = true,
                _ => all_done = false,
            },
            None => {
                let expected = match row.role {
                    Role::Ci => true,
                    Role::Release => has_release_tag,
                    Role::Deploy => !frozen,
                };
                if expected {
                    all_done = false;
                }
            }
        }
    }
    if !all_done {
        None
    } else if waiting {
        Some(Verdict::AwaitingApproval)
    } else {
        Some(Verdict::Done)
    }
}

/// Whether the freeze keeps REF's commit out (frozen, and not the roll
/// forward's commit).
fn blocked(l: &Ledger) -> bool {
    l.freeze.as_ref().is_some_and(|f| !f.allows(&l.target.sha))
}

fn signature(l: &Ledger) -> String {
    l.rows
        .iter()
        .map(|r| format!("{}:{}", r.role.key(), run_text(r.run.as_ref())))
        .collect::<Vec<_>>()
        .join(",")
        + &format!("|{}|{}", l.pending.len(), l.reviews.len())
}

struct Live {
    bar: Option<indicatif::ProgressBar>,
}

impl Live {
    fn new(ui: &Ui) -> Self {
        let bar = ui.is_live().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}") {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Live { bar }
    }
    fn show(&self, ui: &Ui, lines: &[String], changes: &[String]) {
        match &self.bar {
            Some(b) => b.set_message(ui.redact(&lines.join("\n"))),
            None => {
                for c in changes {
                    ui.progress(c);
                }
            }
        }
    }
    /// The watch ended: the table is printed once more as the result, so
    /// the live copy goes.
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Live {
    /// Dropped without [`Live::finish`] (Ctrl-C, SIGTERM, an error): the
    /// last table stays on screen above the report of what happened.
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.abandon();
            }
        }
    }
}

fn changes(old: Option<&Ledger>, new: &Ledger) -> Vec<String> {
    let mut out = Vec::new();
    for row in &new.rows {
        if row.workflow.is_none() {
            continue;
        }
        let before = old
            .and_then(|o| o.rows.iter().find(|r| r.role == row.role))
            .map(|r| run_text(r.run.as_ref()));
        let now = run_text(row.run.as_ref());
        if before.as_deref() != Some(now.as_str()) {
            out.push(format!("{}: {now}", row.configured));
        }
    }
    out
}

/// The ledger as the GitHub Actions job summary.
fn summary_md(l: &Ledger) -> String {
    let mut md = format!(
        "### almarel status {}\n\n| | |\n|---|---|\n| commit | `{}` |\n",
        l.target.label, l.target.sha
    );
    for row in &l.rows {
        md.push_str(&format!(
            "| {} | {} |\n",
            row.configured,
            row.run
                .as_ref()
                .map(|r| format!("[{}]({})", r.state_text(), r.html_url))
                .unwrap_or_else(|| "not started".into())
        ));
    }
    md.push_str(&format!(
        "| frozen | {} |\n",
        match &l.freeze {
            Some(f) => f
                .describe()
                .unwrap_or_else(|| "no".into())
                .replace('|', "\\|"),
            None => "unknown".into(),
        }
    ));
    if let Some(live) = &l.live {
        let state = match &live.state {
            Liveness::Live => "live".to_owned(),
            Liveness::Mixed { .. } => format!("**MIXED**: {}", mixed_text(l)),
            Liveness::NotYet => "not yet".to_owned(),
            Liveness::Unknown { why } => format!("unknown ({why})"),
        };
        md.push_str(&format!("| live | {} |\n", state.replace('|', "\\|")));
    }
    md
}

/// Runs `almarel status`.
pub async fn run(ctx: &Context, req: &Request) -> Result<StatusReport> {
    let gh = ctx.github().await?;
    let started = ctx.clock.now();
    let deadline = Deadline::after(ctx.clock.as_ref(), req.timeout);
    if req.watch {
        gh.set_deadline(Some(deadline));
    }
    let mut ledger = read_ledger(ctx, &gh, req).await?;
    if !req.watch {
        let mut report = finish_report(ctx, &gh, &ledger, evaluate(&ledger).as_ref());
        add_verified(ctx, &gh, &mut report).await;
        return Ok(report);
    }

    // --watch: the table is redrawn in place on a terminal (one line per
    // change elsewhere) until `decide` decides; that decision ends the runs
    // phase. With `--until live`, production and the apps are then followed
    // (release::watch) until the release is live.
    let live = Live::new(&ctx.ui);
    live.show(&ctx.ui, &render(ctx, &ledger), &changes(None, &ledger));
    let outcome = match decide(&ledger, req.until) {
        Some(v) => Ok(v),
        None => {
            let v = watch_loop(ctx, &gh, req, &mut ledger, deadline, &live, started).await;
            // The runs moved on while watching: what production and the
            // apps run is read again, so the final table is not stale.
            if v.is_ok() {
                refresh_live(ctx, &gh, &mut ledger).await?;
            }
            v
        }
    };
    let outcome = match outcome {
        Ok(Verdict::Done) if req.until == End::Live && !blocked(&ledger) => {
            follow_to_live(ctx, &gh, &mut ledger, deadline, &live).await
        }
        o => o,
    };
    live.finish();
    // Runs that all succeeded while the release is mixed are not a success.
    let outcome = outcome.map(|v| match v {
        Verdict::Done if ledger.live.as_ref().is_some_and(LiveReport::is_mixed) => {
            Verdict::Mixed(mixed_text(&ledger))
        }
        v => v,
    });
    let verdict = outcome.as_ref().ok();
    let mut report = finish_report(ctx, &gh, &ledger, verdict);
    add_verified(ctx, &gh, &mut report).await;
    report.until = Some(req.until);
    report.watch = Some(WatchStats {
        requests: gh.stats().requests,
        not_modified: gh.stats().not_modified,
    });
    match outcome {
        Ok(v) => {
            report.outcome = Some(match &v {
                Verdict::Live => "live",
                Verdict::Done => "completed",
                Verdict::AwaitingApproval => "awaiting_approval",
                Verdict::Approved => "approved",
                Verdict::Failed(_) => "failed",
                Verdict::NeverStarts(_) => "never_starts",
                Verdict::Mixed(_) => "mixed",
            });
            if let Verdict::Mixed(apps) = &v {
                let hint = report.next.as_ref().map_or_else(
                    || "go back with `almarel rollback`".to_owned(),
                    |n| format!("finish it with `{n}`, or go back with `almarel rollback`"),
                );
                let e = Error::failed(format!(
                    "the release {} is mixed: {apps}",
                    ref_word(&ledger.target)
                ))
                .with_code("release_mixed")
                .with_hint(hint);
                return Err(super::fail_with(&ctx.ui, &report, e));
            }
            if let Verdict::NeverStarts(why) = &v {
                let mut e = Error::failed(why.clone()).with_code("workflow_never_starts");
                e = match &report.next {
                    Some(n) => e.with_hint(format!(
                        "fix the cause above and push the tag again, or start it by hand: `{n}`"
                    )),
                    None => e.with_hint(
                        "fix the cause above, then push the tag again (or tag a new release)",
                    ),
                };
                return Err(super::fail_with(&ctx.ui, &report, e));
            }
            if let Verdict::Failed(why) = v {
                let e = Error::failed(why)
                    .with_code("run_failed")
                    .with_hint("open the run's log, fix forward, then tag a new release");
                return Err(super::fail_with(&ctx.ui, &report, e));
            }
            Ok(report)
        }
        Err(e) => {
            report.outcome = Some("timed_out");
            Err(super::fail_with(&ctx.ui, &report, e))
        }
    }
}

/// Every run completed: follows production and the apps until the release
/// is live (or a deployment of it failed: mixed), redrawing the table.
async fn follow_to_live(
    ctx: &Context,
    gh: &Client,
    ledger: &mut Ledger,
    deadline: Deadline,
    live: &Live,
) -> Result<Verdict> {
    // A newer release already runs in production: this one will never be
    // live, and there is nothing to follow.
    if let Some(newer) = superseded_by(ctx, ledger) {
        ctx.ui.warn(&format!(
            "production already runs {newer}, newer than {}: this release was superseded, so the watch does not wait for it to go live",
            ref_word(&ledger.target)
        ));
        return Ok(Verdict::Done);
    }
    let tags = ledger.target.tags.clone();
    let sha = ledger.target.sha.clone();
    let shared = std::sync::Mutex::new(ledger.clone());
    let on_change = |o: &watch::Observed| {
        if let Ok(mut l) = shared.lock() {
            apply_observed(&mut l, o);
            live.show(
                &ctx.ui,
                &render(ctx, &l),
                &[format!("live: {}", watch::stands_text(o))],
            );
        }
    };
    let end = watch::until_live(ctx, &sha, &tags, deadline, &on_change).await;
    // The final table reads production's tags too.
    let _ = refresh_live(ctx, gh, ledger).await;
    match end {
        Ok(LiveEnd::Live(o)) => {
            ledger.live = o.live;
            Ok(Verdict::Live)
        }
        Ok(LiveEnd::Mixed(o, why)) => {
            ledger.live = o.live;
            Ok(Verdict::Mixed(why))
        }
        Err(e) if e.kind == crate::error::Kind::Timeout => {
            // Both commands on this release and this environment: a bare
            // `deploy` would pick the branch head instead.
            let env = |n: Next| crate::release::environments::next_with_env(&ctx.settings, n);
            let again = env(Next::new(["status", &ref_word(&ledger.target), "--watch"]));
            let finish = env(match &ledger.target.requested_tag {
                Some(t) => Next::new(["deploy", "--tag", t.name.as_str()]),
                None => Next::new(["deploy", ledger.target.sha.as_str(), "--allow-untagged"]),
            });
            Err(e.with_hint(format!(
                "every run completed; the deploy may still be rolling out: re-run `{again}`, or finish it by hand with `{finish}`"
            )))
        }
        Err(e) => Err(e),
    }
}

/// The newer release production runs, when it runs another commit whose
/// release tag is newer than REF's.
fn superseded_by(ctx: &Context, l: &Ledger) -> Option<String> {
    let prod = l.production.sha.as_deref()?;
    if crate::probe::sha_matches(prod, &l.target.sha) {
        return None;
    }
    let mine = crate::version::preferred_tag(&l.target.tags)?;
    newer_release(&l.production.tags, mine, &ctx.settings.git.tag_prefix)
}

/// The first of `tags` that is a release newer than `mine`.
fn newer_release(
    tags: &[String],
    mine: &crate::version::ReleaseTag,
    prefix: &str,
) -> Option<String> {
    tags.iter()
        .filter_map(|t| crate::version::ReleaseTag::from_name(t, prefix))
        .find(|t| t.version > mine.version)
        .map(|t| t.name)
}

/// One read of production and the apps, into the ledger.
fn apply_observed(l: &mut Ledger, o: &watch::Observed) {
    match &o.production {
        Ok(Some(sha)) => {
            l.production.tags = if crate::probe::sha_matches(sha, &l.target.sha) {
                l.target.tag_refs.iter().map(|t| t.name.clone()).collect()
            } else {
                Vec::new()
            };
            l.production.sha = Some(sha.clone());
            l.production.why_unknown = None;
        }
        Ok(None) => {}
        Err(why) => {
            l.production.sha = None;
            l.production.why_unknown = Some(why.clone());
        }
    }
    if let AppsRead::Read(apps) = &o.apps {
        l.coolify.apps = apps.clone();
        l.coolify.why_unknown = None;
    }
    l.live = o.live.clone();
}

/// The report for the ledger as it stands: its lines (the table, the audit
/// entries, what to do next) and its next command.
fn finish_report(
    ctx: &Context,
    gh: &Client,
    ledger: &Ledger,
    verdict: Option<&Verdict>,
) -> StatusReport {
    ctx.ui.detail(
        1,
        &format!(
            "github requests: {}, 304s: {}",
            gh.stats().requests,
            gh.stats().not_modified
        ),
    );
    let audit = audit_for(ctx, &ledger.target);
    let mut lines = render(ctx, ledger);
    if let Some(d) = ledger.trigger.as_ref().filter(|d| !d.workflows.is_empty()) {
        lines.extend(d.lines());
    }
    lines.extend(audit_lines(&audit));
    let (said, next) = next_step(ledger, verdict);
    lines.extend(said);
    let mut report = report_of(ledger, audit);
    report.lines = lines;
    report.next = next;
    report
}

/// Polls the runs (conditional requests) until [`evaluate`] decides or the
/// deadline passes; `current` is left as last read.
async fn watch_loop(
    ctx: &Context,
    gh: &Client,
    req: &Request,
    current: &mut Ledger,
    deadline: Deadline,
    live: &Live,
    started: std::time::Instant,
) -> Result<Verdict> {
    let sha = current.target.sha.clone();
    let state = std::sync::Mutex::new(current.clone());
    let sig_state = std::sync::Mutex::new(signature(current));
    let warned_flag = std::sync::atomic::AtomicBool::new(false);
    let shown_lines: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let r = clock::poll_until(
        ctx.clock.as_ref(),
        deadline,
        POLL_INTERVAL,
        POLL_MAX,
        || async {
            let prev = state
                .lock()
                .map(|s| s.clone())
                .map_err(|_| Error::local("watch state poisoned"))?;
            let mut next = prev.clone();
            refresh_runs(gh, &mut next.rows, &sha).await?;
            read_deploy_details(ctx, gh, &mut next).await?;
            // SPEC §8.2: an expected workflow without a run after the grace
            // period is diagnosed; a cause is reported at once and ends the
            // watch (or, with --dispatch, the workflow is started by hand).
            let waited = ctx.clock.now().duration_since(started);
            let missing = missing_expected(&next);
            let mut never = None;
            let mut dispatched_now = false;
            if missing.is_empty() || waited < trigger::GRACE {
                next.trigger = None;
            } else {
                let d = diagnose(ctx, gh, &next, missing).await?;
                let shown = d.due(waited, false);
                let lines = shown.lines();
                let fresh = shown_lines
                    .lock()
                    .map(|mut old| {
                        let c = *old != lines;
                        *old = lines.clone();
                        c
                    })
                    .unwrap_or(false);
                if fresh {
                    for l in &lines {
                        ctx.ui.warn(l);
                    }
                }
                if req.dispatch {
                    let started_names: Vec<String> =
                        next.dispatched.iter().map(|x| x.workflow.clone()).collect();
                    for name in d.to_dispatch() {
                        let known = next
                            .rows
                            .iter()
                            .find(|r| r.configured == name)
                            .and_then(|r| r.workflow.as_ref())
                            .map(|w| w.name.clone())
                            .unwrap_or_else(|| name.to_owned());
                        if started_names.contains(&known) {
                            continue;
                        }
                        let x = dispatch_one(ctx, gh, &next, name).await?;
                        next.dispatched.push(x);
                        dispatched_now = true;
                    }
                }
                if !dispatched_now && shown.any_never_starts() {
                    let names: Vec<String> = shown
                        .with_status(&trigger::Status::NeverStarts)
                        .iter()
                        .map(|w| w.name.clone().unwrap_or_else(|| w.workflow.clone()))
                        .collect();
                    never = Some(format!(
                        "{} will never start for {}",
                        names.join(", "),
                        release_tag(&next.target).unwrap_or_else(|| next.target.short().to_owned())
                    ));
                }
                next.trigger = Some(shown);
            }
            if dispatched_now {
                refresh_runs(gh, &mut next.rows, &sha).await?;
            }
            let sig = signature(&next);
            let changed = sig_state
                .lock()
                .map(|mut old| {
                    let c = *old != sig;
                    *old = sig.clone();
                    c
                })
                .unwrap_or(true);
            let ch = changes(Some(&prev), &next);
            if changed {
                live.show(&ctx.ui, &render(ctx, &next), &ch);
            }
            if ctx.clock.now().duration_since(started) >= NOT_STARTED_AFTER
                && next.rows.iter().all(|r| r.run.is_none())
                && !warned_flag.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                ctx.ui.warn(&not_started_text(ctx));
            }
            let verdict = match never {
                Some(why) => Some(Verdict::NeverStarts(why)),
                None => decide(&next, req.until),
            };
            if let Ok(mut s) = state.lock() {
                *s = next;
            }
            Ok::<_, Error>(match verdict {
                Some(v) => Poll::Ready(v),
                None => Poll::Pending {
                    changed: changed || dispatched_now,
                },
            })
        },
    )
    .await;
    if let Ok(s) = state.lock() {
        *current = s.clone();
    }
    match r {
        Ok(v) => Ok(v),
        Err(PollError::Failed(e)) => Err(e),
        Err(PollError::TimedOut) => {
            let missing: Vec<String> = current
                .rows
                .iter()
                .filter(|r| r.workflow.is_some() && r.run.is_none())
                .map(|r| r.configured.clone())
                .collect();
            let expected = missing_expected(current);
            if !expected.is_empty() {
                // The deadline: whatever is known is reported (SPEC §8.2).
                let waited = ctx.clock.now().duration_since(started);
                gh.set_deadline(None);
                if let Ok(d) = diagnose(ctx, gh, current, expected).await {
                    current.trigger = Some(d.due(waited, true));
                }
            }
            let state: Vec<String> = current
                .rows
                .iter()
                .filter(|r| r.workflow.is_some())
                .map(|r| format!("{}: {}", r.configured, run_text(r.run.as_ref())))
                .collect();
            let mut e = Error::timeout(format!(
                "timed out after {} waiting for the runs of {} ({})",
                humantime::format_duration(Duration::from_secs(deadline_secs(ctx, started))),
                current.target.short(),
                state.join(", ")
            ));
            // Hints add up: the specific one (runs that never started) first.
            if !missing.is_empty() {
                e = e.with_hint(format!(
                    "{} never started: {}. Re-run `almarel status {} --watch` to keep following",
                    missing.join(", "),
                    not_started_causes(),
                    ref_word(&current.target)
                ));
            }
            Err(e.with_hint(format!(
                "the runs continue on GitHub; re-run `almarel status {} --watch`",
                ref_word(&current.target)
            )))
        }
    }
}

fn deadline_secs(ctx: &Context, started: std::time::Instant) -> u64 {
    ctx.clock.now().duration_since(started).as_secs()
}

fn not_started_causes() -> &'static str {
    "usual causes: the tag was pushed with a token that triggers no workflows (GITHUB_TOKEN pushes start none), \
the workflow's tag or branch filter does not match, the workflow is disabled, or Actions is off for the repository"
}

fn not_started_text(ctx: &Context) -> String {
    format!(
        "no workflow run has started for this commit after {}; {}",
        humantime::format_duration(NOT_STARTED_AFTER),
        not_started_causes()
    )
    .replace("  ", " ")
        + &format!(
            " (repository {})",
            ctx.settings.github.repository.clone().unwrap_or_default()
        )
}

/// REF as a command word: the tag or SHA the user gave; the full SHA when
/// REF was omitted (the branch head can move, and `main on GitHub` is not a
/// REF).
fn ref_word(t: &crate::github::Target) -> String {
    if t.requested_tag.is_some()
        || (!t.label.is_empty() && t.label.chars().all(|c| c.is_ascii_hexdigit()))
    {
        t.label.clone()
    } else {
        t.sha.clone()
    }
}

/// What to do next: the lines that say it and the exact command.
fn next_step(l: &Ledger, verdict: Option<&Verdict>) -> (Vec<String>, Option<Next>) {
    let label = ref_word(&l.target);
    if let Some(live) = l.live.as_ref().filter(|r| r.is_mixed()) {
        let app = live
            .off_release()
            .first()
            .map(|a| a.app.clone())
            .unwrap_or_default();
        let tag = l
            .target
            .requested_tag
            .as_ref()
            .map(|t| t.name.clone())
            .or_else(|| crate::version::preferred_tag(&l.target.tags).map(|t| t.name.clone()));
        let finish = live::finish_command(tag.as_deref(), &l.target.sha, &app);
        return (
            vec![format!(
                "the release is mixed: finish it with `{finish}`, or go back with `almarel rollback`"
            )],
            Some(finish),
        );
    }
    if blocked(l) {
        return (
            vec!["releases are frozen: fix forward, then resume them:".to_owned()],
            Some(Next::new(["unfreeze"])),
        );
    }
    let next = match verdict {
        Some(Verdict::AwaitingApproval) => Next::new(["approve", label.as_str()]),
        Some(Verdict::Approved) => Next::new(["status", label.as_str(), "--watch"]),
        Some(Verdict::NeverStarts(_)) => {
            return match l.trigger.as_ref().and_then(|d| d.next(&label)) {
                Some(n) => (Vec::new(), Some(n)),
                None => (
                    vec![
                        "fix the cause above, then push the tag again (or tag a new release)"
                            .to_owned(),
                    ],
                    None,
                ),
            };
        }
        Some(Verdict::Done | Verdict::Live) => {
            Next::new(["verify", "--expect-sha", l.target.sha.as_str()])
        }
        // (a mixed release returned above, with its `deploy --app`)
        Some(Verdict::Mixed(_)) => Next::new(["rollback"]),
        Some(Verdict::Failed(_)) => {
            return (
                vec![
                    "open the failed run, fix forward, and tag a new release (`almarel tag`)"
                        .to_owned(),
                ],
                None,
            );
        }
        None if !l.pending.is_empty() => Next::new(["approve", label.as_str()]),
        None => Next::new(["status", label.as_str(), "--watch"]),
    };
    (Vec::new(), Some(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::ReleaseTag;

    #[test]
    fn a_newer_release_in_production_supersedes_the_watched_one() {
        let mine = ReleaseTag::from_name("v1.2.2", "v").unwrap();
        let tags = vec!["v1.2.3".to_owned()];
        assert_eq!(newer_release(&tags, &mine, "v").as_deref(), Some("v1.2.3"));
        let older = vec!["v1.2.1".to_owned(), "not-a-release".to_owned()];
        assert_eq!(newer_release(&older, &mine, "v"), None);
    }
}
