//! `almarel deploy`: set the release's image tag on each Coolify app, trigger
//! the deployment and follow it to the end (SPEC §3 deploy).
//!
//! Order: the flags are resolved first ([`crate::resolve::deploy`]: REF,
//! `--tag`, `--app`, the image tag templates; exit 2, nothing sent), then the
//! token and URL, the target (release tag and commit), the gates (pre-release,
//! frozen, CI green, approval), the reads of [`deploy::prepare`] (which
//! refuses non-Docker-Image apps), `--dry-run` or the confirmation, and only
//! then the changes of [`deploy::deploy_apps`], whose events
//! [`DeployProgress`] renders. The result is a [`DeployReport`].

use std::time::Duration;

use serde::Serialize;

use crate::audit::Actor;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::release::approval::{self, Approval};
use crate::release::deploy::{self, AppResult, AppsReport, DeployPlan, DeploymentEntry, Prepared};
use crate::release::progress::{DeployProgress, show_failures, table_lines};
use crate::release::target::{render_image_tag, tag_commit};
use crate::report::{Check, Next, PlanItem, Report};
use crate::settings::CoolifyApp;
use crate::ui::Ui;
use crate::version::{ReleaseTag, preferred_tag};

/// Which release to deploy, as the flags name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// `--tag TAG` (normalized: `1.2.3` → `v1.2.3`).
    Tag(ReleaseTag),
    /// REF (a tag or a 7–40 hex SHA), or `None`: the branch head on GitHub.
    Ref(Option<String>),
}

/// What `almarel deploy` is asked to do (resolved from the flags by
/// [`crate::resolve::deploy`]).
#[derive(Debug, Clone)]
pub struct Request {
    /// The release to deploy.
    pub target: TargetSpec,
    /// The apps (all of `coolify.apps`, or the `--app` ones).
    pub apps: Vec<CoolifyApp>,
    /// The `--app` names as given (empty: all), for the next command.
    pub app_names: Vec<String>,
    /// `--allow-untagged`.
    pub allow_untagged: bool,
    /// `--allow-prerelease`.
    pub allow_prerelease: bool,
    /// `--allow-unverified-digest` (production: deploy a digest staging did
    /// not verify).
    pub allow_unverified_digest: bool,
    /// `--allow-failed-ci`.
    pub allow_failed_ci: bool,
    /// `--skip-approval`.
    pub skip_approval: bool,
    /// `--timeout`.
    pub timeout: Duration,
    /// Follow the deployments (false with `--no-wait`).
    pub wait: bool,
}

/// What is being deployed: a release tag and/or a commit.
#[derive(Debug, Clone)]
pub struct Target {
    /// The release tag (`None` for an untagged commit with `--allow-untagged`).
    pub tag: Option<ReleaseTag>,
    /// The commit (full SHA).
    pub sha: String,
}

impl Target {
    /// `v1.2.3`, or `commit 1a2b3c4`.
    pub fn describe(&self) -> String {
        match &self.tag {
            Some(t) => t.name.clone(),
            None => format!("commit {}", crate::version::short_sha(&self.sha)),
        }
    }
}

/// The target as `--json` shows it: `{tag, version, sha}`.
#[derive(Debug, Clone, Serialize)]
pub struct TargetOut {
    /// The release tag (`null` for an untagged commit).
    pub tag: Option<String>,
    /// Its version without prefix.
    pub version: Option<String>,
    /// The commit.
    pub sha: String,
}

impl From<&Target> for TargetOut {
    fn from(t: &Target) -> Self {
        TargetOut {
            tag: t.tag.as_ref().map(|x| x.name.clone()),
            version: t.tag.as_ref().map(|x| x.version.to_string()),
            sha: t.sha.clone(),
        }
    }
}

/// The result of `almarel deploy` (its `--json` object; see `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// What is deployed.
    pub target: TargetOut,
    /// The image tag every app gets.
    pub image_tag: String,
    /// Coolify's version (absent when refused before Coolify was read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coolify_version: Option<String>,
    /// The deploy gates (SPEC §7.5): `ci`, `approval`.
    pub checks: Vec<Check>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// What a dry run would send, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlanItem>>,
    /// Each app's result (after the deploy step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apps: Option<Vec<AppResult>>,
    /// `[{app, uuid, status}]`, also the `deployments` Actions output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployments: Option<Vec<DeploymentEntry>>,
    #[serde(skip)]
    lines: Vec<String>,
    #[serde(skip)]
    next: Option<Next>,
    #[serde(skip)]
    summary: Option<String>,
}

impl Report for DeployReport {
    fn render(&self, ui: &Ui) {
        for l in &self.lines {
            ui.result(l);
        }
    }
    fn next(&self) -> Option<Next> {
        self.next.clone()
    }
    fn outputs(&self) -> Vec<(&'static str, String)> {
        let Some(deployments) = &self.deployments else {
            return Vec::new();
        };
        let mut out = vec![(
            "deployments",
            serde_json::to_string(deployments).unwrap_or_else(|_| "[]".into()),
        )];
        if let (Some(tag), Some(version)) = (&self.target.tag, &self.target.version) {
            out.push(("tag", tag.clone()));
            out.push(("version", version.clone()));
        }
        out.push(("sha", self.target.sha.clone()));
        out
    }
    fn summary(&self) -> Option<String> {
        self.summary.clone()
    }
}

/// Runs `almarel deploy`.
pub async fn run(ctx: &Context, req: &Request) -> Result<DeployReport> {
    let settings = &ctx.settings;
    let dry_run = settings.global.dry_run;
    let client = ctx.coolify()?;

    let target = resolve_target(ctx, req).await?;
    let (key, template) = if target.tag.is_some() {
        ("coolify.image_tag", settings.coolify.image_tag.clone())
    } else {
        (
            "coolify.untagged_image_tag",
            settings.coolify.untagged_image_tag.clone(),
        )
    };
    let image_tag = render_image_tag(key, &template, target.tag.as_ref(), Some(&target.sha))?;
    let mut report = DeployReport {
        target: TargetOut::from(&target),
        image_tag: image_tag.clone(),
        coolify_version: None,
        checks: Vec::new(),
        dry_run,
        plan: None,
        apps: None,
        deployments: None,
        lines: Vec::new(),
        next: None,
        summary: None,
    };

    if let Some(tag) = &target.tag {
        // The environment's `accepts` rule (pre-releases to staging, finals
        // to production); `--allow-prerelease` lets a pre-release through.
        let overridden = tag.is_prerelease() && req.allow_prerelease;
        if let (false, Err(e)) = (
            overridden,
            crate::release::environments::accepts(settings, &tag.version),
        ) {
            let fix = e.hints.join("; ");
            report.checks.push(Check::fail(
                if tag.is_prerelease() {
                    "final release"
                } else {
                    "accepted release"
                },
                &e.message,
                &fix,
            ));
            // A pre-release refused keeps the code it always had.
            let e = if tag.is_prerelease() {
                e.with_code("prerelease")
            } else {
                e
            };
            return Err(e.with_report(&report));
        }
    }
    if let Some(refusal) = freeze_refusal(ctx, &target.sha).await? {
        let detail = refusal.message.clone();
        report.checks.push(Check::fail(
            "not frozen",
            &detail,
            "almarel unfreeze (after the fix), almarel unfreeze --only TAG (roll the fix forward), or almarel rollback",
        ));
        return Err(refusal.with_report(&report));
    }

    let skipped_approval = check_gates(ctx, &target, req, &mut report).await?;

    let mut plan = DeployPlan::new(
        "deploy",
        &target.describe(),
        &image_tag,
        req.apps.clone(),
        req.timeout,
    );
    plan.wait = req.wait;
    plan.actor = actor(ctx).await;
    plan.audit_details = serde_json::to_value(AuditDetails {
        tag: target.tag.as_ref().map(|t| t.name.clone()),
        sha: target.sha.clone(),
        skip_approval: skipped_approval,
    })
    .unwrap_or_default();
    plan.production_image_tag = production_image_tag(ctx).await;

    ctx.ui.progress(&format!(
        "deploying {} as image tag {image_tag} to {} on {}",
        target.describe(),
        app_list(&plan),
        client.base_url()
    ));
    let prepared = deploy::prepare(&client, &plan).await?;
    ctx.ui
        .detail(1, &format!("coolify {}", prepared.coolify_version));
    describe_apps(ctx, &plan, &prepared);
    report.coolify_version = Some(prepared.coolify_version.clone());
    check_promotion(ctx, &target, &image_tag, &prepared, req, &mut report).await?;

    if dry_run {
        let items = prepared.plan(&plan);
        for i in &items {
            report
                .lines
                .push(format!("would: {}: {}", i.target, i.detail));
        }
        report.plan = Some(items);
        report.next = Some(deploy_command(&target, req));
        return Ok(report);
    }

    ctx.confirm(&format!(
        "deploy {} (image tag {image_tag}) to {}?",
        target.describe(),
        app_list(&plan)
    ))
    .await?;

    // An interruption from here on names the same deploy: the target is
    // decided, and a re-run waits for what this one started before deciding
    // (`--env` is added where every resume line is printed).
    ctx.journal.set_resume(deploy_command(&target, req));
    let progress = DeployProgress::new(&ctx.ui, &prepared.apps);
    let step = deploy::deploy_apps(ctx, &client, &plan, &prepared, &|e| progress.show(e)).await;
    progress.clear();
    let step = step?;
    show_failures(&ctx.ui, &step);
    let table = table_lines(&ctx.ui, &step, "");
    report.apps = Some(step.results());
    report.deployments = Some(step.deployments());
    report.summary = Some(summary(&target, &step, &image_tag));
    match step.result(&plan) {
        Ok(()) => {
            report.lines = table;
            if !plan.wait {
                ctx.ui.progress(
                    "follow the deployments in the Coolify dashboard; once they finished, verify:",
                );
            }
            report.next = Some(verify_command(&target));
            Ok(report)
        }
        Err(e) => {
            // A failure is rendered here: `finish` prints only the error.
            for l in &table {
                ctx.ui.result(l);
            }
            if ctx.ui.in_github_actions() {
                for (k, v) in report.outputs() {
                    if let Err(e) = ctx.ui.output(k, &v) {
                        ctx.ui.warn(&e.message);
                    }
                }
                if let Some(md) = &report.summary {
                    if let Err(e) = ctx.ui.summary(md) {
                        ctx.ui.warn(&e.message);
                    }
                }
            }
            Err(e.with_report(&report))
        }
    }
}

/// What the audit log's deploy lines carry besides the app's result.
#[derive(Serialize)]
struct AuditDetails {
    tag: Option<String>,
    sha: String,
    skip_approval: bool,
}

fn app_list(plan: &DeployPlan) -> String {
    plan.apps
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The gates a deploy by hand shares with approve (SPEC §7.5): CI green for
/// the commit, and its newest deploy run neither waiting for the production
/// approval nor rejected. Every gate is evaluated and recorded in
/// `report.checks`, then all failures are reported together (exit 3, nothing
/// sent), each naming its override flag. Inside the approved deploy run
/// itself (`GITHUB_RUN_ID` is a deploy run of this commit) the approval
/// stands. Returns whether `--skip-approval` overrode a failed approval gate.
async fn check_gates(
    ctx: &Context,
    target: &Target,
    req: &Request,
    report: &mut DeployReport,
) -> Result<bool> {
    let gh = ctx.github().await?;
    let g = &ctx.settings.github;
    let short = crate::version::short_sha(&target.sha);
    let mut failed: Vec<(&'static str, String, &'static str)> = Vec::new();

    let ci_wf = gh.workflow(&g.ci_workflow).await?;
    let ci_run = gh
        .runs_for_commit(ci_wf.id, &target.sha)
        .await?
        .into_iter()
        .next();
    let ci_ok = ci_run.as_ref().is_some_and(|r| {
        r.conclusion
            .as_ref()
            .is_some_and(|c| *c == crate::github::Conclusion::Success)
    });
    let ci_detail = match &ci_run {
        Some(r) => format!("CI for {short} is {} ({})", r.state_text(), r.html_url),
        None => format!("no CI run for {short}"),
    };
    if ci_ok {
        ctx.ui.detail(1, &ci_detail);
        report.checks.push(Check::pass("ci", &ci_detail));
    } else if req.allow_failed_ci {
        ctx.ui.warn(&format!(
            "{ci_detail}: deploying anyway (--allow-failed-ci)"
        ));
        report.checks.push(Check::pass(
            "ci",
            format!("{ci_detail}; overridden with --allow-failed-ci"),
        ));
    } else {
        report.checks.push(Check::fail(
            "ci",
            &ci_detail,
            override_fix("--allow-failed-ci"),
        ));
        failed.push(("ci_not_green", ci_detail, "--allow-failed-ci"));
    }

    let deploy_wf = gh.workflow(&g.deploy_workflow).await?;
    let runs = gh.runs_for_commit(deploy_wf.id, &target.sha).await?;
    let own_run = ctx
        .env
        .get(crate::env::GITHUB_RUN_ID)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|id| runs.iter().any(|r| r.id == *id));
    let mut skipped = false;
    if let Some(id) = own_run {
        let detail = format!("running inside deploy run {id} of {short}: its approval stands");
        ctx.ui.detail(1, &detail);
        report.checks.push(Check::pass("approval", detail));
    } else if let Some(run) = runs.first() {
        let pending = gh.pending_deployments(run.id).await?;
        let reviews = gh.approvals(run.id).await?;
        let decision = approval::decide(Some(run), &pending, &reviews, &g.environment);
        let problem = match &decision {
            Approval::Pending { run_id, .. } => Some((
                "approval_pending",
                format!(
                    "deploy run {run_id} of {short} waits for the {} approval ({}); deploying now would bypass the review",
                    g.environment, run.html_url
                ),
            )),
            Approval::Rejected { run_id, by, .. } => Some((
                "approval_rejected",
                format!(
                    "deploy run {run_id} of {short} was rejected for {} by @{by}",
                    g.environment
                ),
            )),
            _ => None,
        };
        match problem {
            Some((code, detail)) => {
                if req.skip_approval {
                    skipped = true;
                    ctx.ui.warn(&format!(
                        "{detail}: deploying anyway (--skip-approval, audited)"
                    ));
                    report.checks.push(Check::pass(
                        "approval",
                        format!("{detail}; overridden with --skip-approval"),
                    ));
                } else {
                    report.checks.push(Check::fail(
                        "approval",
                        &detail,
                        override_fix("--skip-approval"),
                    ));
                    failed.push((code, detail, "--skip-approval"));
                }
            }
            None => report.checks.push(Check::pass(
                "approval",
                format!(
                    "deploy run {} of {short}: {}",
                    run.id,
                    decision_words(&decision)
                ),
            )),
        }
    } else {
        report.checks.push(Check::pass(
            "approval",
            format!("no deploy run of {short} waits for an approval"),
        ));
    }

    let Some((code, _, _)) = failed.first() else {
        return Ok(skipped);
    };
    let mut err = Error::refused(format!(
        "deploy of {} refused: {}",
        target.describe(),
        failed
            .iter()
            .map(|(_, d, _)| d.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    ))
    .with_code(code);
    for (_, _, flag) in &failed {
        err = err.with_hint(override_fix(flag));
    }
    Err(err.with_report(&*report))
}

fn override_fix(flag: &str) -> String {
    format!("pass {flag} to deploy anyway")
}

fn decision_words(d: &Approval) -> String {
    match d {
        Approval::Approved { by, .. } => format!("approved by @{by}"),
        _ => "not waiting for an approval".to_owned(),
    }
}

/// Resolves the deploy target: `--tag` (and its commit), else REF's release
/// tag (a final tag wins over an rc tag on the same commit); a commit without
/// one needs `--allow-untagged`.
async fn resolve_target(ctx: &Context, req: &Request) -> Result<Target> {
    let reference = match &req.target {
        TargetSpec::Tag(tag) => {
            // Always resolved: a tag that exists nowhere is a mistake, and the
            // commit is what `verify` and the Actions outputs need.
            let sha = tag_commit(ctx, &tag.name).await?;
            return Ok(Target {
                tag: Some(tag.clone()),
                sha,
            });
        }
        TargetSpec::Ref(r) => r.as_deref(),
    };
    let (sha, tags) = ref_commit_and_tags(ctx, reference).await?;
    match preferred_tag(&tags) {
        Some(tag) => Ok(Target {
            tag: Some(tag.clone()),
            sha,
        }),
        None if req.allow_untagged => Ok(Target { tag: None, sha }),
        None => Err(Error::refused(format!(
            "commit {} carries no release tag",
            crate::version::short_sha(&sha)
        ))
        .with_code("untagged")
        .with_hint(format!(
            "tag it first (almarel tag X.Y.Z), or pass --allow-untagged to deploy it as {}",
            ctx.settings.coolify.untagged_image_tag
        ))),
    }
}

/// The git identity (`Name <email>`) of the clone almarel runs in.
fn local_identity(ctx: &Context) -> Option<String> {
    crate::git::Repo::discover(&ctx.settings.workdir)
        .ok()?
        .identity()
        .map(|i| i.to_string())
}

/// REF (a tag or a 7–40 hex SHA; default: the commit at `<branch>` on
/// GitHub) → its commit SHA and the release tags on that commit, read from
/// GitHub (what CI deploys from).
async fn ref_commit_and_tags(
    ctx: &Context,
    reference: Option<&str>,
) -> Result<(String, Vec<ReleaseTag>)> {
    let gh = ctx.github().await?;
    let target = gh.resolve_ref(reference).await?;
    ctx.ui.detail(
        1,
        &format!(
            "{} is commit {} (release tags: {})",
            target.label,
            target.sha,
            if target.tags.is_empty() {
                "none".to_owned()
            } else {
                target
                    .tags
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    );
    Ok((target.sha, target.tags))
}

/// The freeze's refusal for the release at `sha` (exit 3, code `frozen`,
/// naming who froze, when and why), or `None` when it may go out: not
/// frozen, or it is the open roll forward's commit (`unfreeze --only`).
async fn freeze_refusal(ctx: &Context, sha: &str) -> Result<Option<Error>> {
    let gh = ctx.github().await?;
    let st = crate::release::freeze::state(&gh, &ctx.settings.github.deploy_workflow).await?;
    Ok(st.refusal(sha))
}

/// The image tag of the release production runs (its version SHA's release
/// tag, rendered with `coolify.image_tag`), when `verify.version_url` is set
/// and it can be read: what an app last finished deploying when its build
/// logs cannot say. Best effort: `None` when unknown.
async fn production_image_tag(ctx: &Context) -> Option<String> {
    let sha = crate::probe::production_sha(&ctx.settings.verify)
        .await
        .ok()??;
    let name = crate::release::tags::release_tag_of(ctx, &sha).await?;
    let tag = ReleaseTag::from_name(&name, &ctx.settings.git.tag_prefix)?;
    let image = render_image_tag(
        "coolify.image_tag",
        &ctx.settings.coolify.image_tag,
        Some(&tag),
        Some(&sha),
    )
    .ok()?;
    ctx.ui.detail(
        1,
        &format!("production runs {name} (image tag {image}): what an app restores when its logs cannot say"),
    );
    Some(image)
}

/// Who deploys, for the audit log: the git identity of the clone almarel
/// runs in, and the GitHub login of the token (when they can be read).
async fn actor(ctx: &Context) -> Actor {
    let git = local_identity(ctx);
    let github = match ctx.github().await {
        Ok(gh) => gh.current_user().await.ok().map(|u| u.login),
        Err(_) => None,
    };
    Actor { git, github }
}

fn deploy_command(t: &Target, req: &Request) -> Next {
    let mut words: Vec<String> = vec!["deploy".into()];
    match &t.tag {
        Some(tag) => words.extend(["--tag".into(), tag.name.clone()]),
        None => words.extend([t.sha.clone(), "--allow-untagged".into()]),
    }
    for a in &req.app_names {
        words.extend(["--app".into(), a.clone()]);
    }
    for (on, flag) in [
        (req.allow_prerelease, "--allow-prerelease"),
        (req.allow_failed_ci, "--allow-failed-ci"),
        (req.allow_unverified_digest, "--allow-unverified-digest"),
        (req.skip_approval, "--skip-approval"),
        (!req.wait, "--no-wait"),
    ] {
        if on {
            words.push(flag.into());
        }
    }
    Next::new(words)
}

/// Promotion by identity (SPEC §8.3, `release::artifact`): with a staging
/// environment configured, production deploys only the image digest staging
/// verified for the commit (`--allow-unverified-digest` to deploy another).
/// Before any write. Behind the registry answering: when no app's image can
/// be read there, it says that it cannot be checked and goes on.
async fn check_promotion(
    ctx: &Context,
    target: &Target,
    image_tag: &str,
    prepared: &Prepared,
    req: &Request,
    report: &mut DeployReport,
) -> Result<()> {
    use crate::release::artifact::{self, AppImage, Lookup};
    use crate::release::evidence;
    let Some(staging) = evidence::staging(&ctx.settings) else {
        return Ok(());
    };
    if ctx.settings.environment.name == staging.name {
        return Ok(());
    }
    let cannot = |ctx: &Context, report: &mut DeployReport, why: &str| {
        let detail = format!("the image verified in staging cannot be checked: {why}");
        ctx.ui.warn(&detail);
        report.checks.push(Check::pass("verified image", detail));
    };
    let registry = match ctx.registry() {
        Ok(r) => r,
        Err(e) => {
            cannot(ctx, report, &e.message);
            return Ok(());
        }
    };
    let mut candidates = Vec::new();
    for s in &prepared.apps {
        let image = AppImage {
            app: s.app.name.clone(),
            image: s.image_name.clone(),
            build_pack: None,
        };
        candidates.push(artifact::candidate(&registry, &image, image_tag).await);
    }
    if let Some(reason) = candidates.iter().find_map(|c| match &c.lookup {
        Lookup::Unknown { reason } => Some(reason.clone()),
        _ => None,
    }) {
        if candidates
            .iter()
            .all(|c| matches!(c.lookup, Lookup::Unknown { .. }))
        {
            cannot(ctx, report, &reason);
            return Ok(());
        }
    }
    let gh = ctx.github().await?;
    let verified = match evidence::read_staging(&gh, &ctx.settings, &target.sha).await? {
        Some(v) if v.ok => artifact::read_recorded_images(&v.description),
        _ => Default::default(),
    };
    let checks = artifact::check_promotions(&verified, &candidates, req.allow_unverified_digest)
        .map_err(|e| e.with_report(&*report))?;
    for c in &checks {
        ctx.ui.progress(&format!("  {}", c.sentence()));
        report.checks.push(c.check());
    }
    Ok(())
}

fn verify_command(t: &Target) -> Next {
    match &t.tag {
        Some(tag) => Next::new(["verify", "--expect-tag", tag.name.as_str()]),
        None => Next::new(["verify", "--expect-sha", t.sha.as_str()]),
    }
}

fn describe_apps(ctx: &Context, plan: &DeployPlan, prepared: &Prepared) {
    for s in &prepared.apps {
        let image = s.image_name.as_deref().unwrap_or("?");
        let from = s.previous_tag.as_deref().unwrap_or("unset");
        let change = if s.needs_patch(&plan.image_tag) {
            format!("{image}:{from} → {}", plan.image_tag)
        } else {
            format!("{image}:{from} (unchanged, redeployed)")
        };
        ctx.ui.progress(&format!("  {}: {change}", s.app.name));
        for d in &s.in_flight {
            ctx.ui.progress(&format!(
                "  {}: deployment {} is already {} (it will not be cancelled)",
                s.app.name, d.deployment_uuid, d.status
            ));
        }
    }
}

fn summary(t: &Target, report: &AppsReport, image_tag: &str) -> String {
    let mut md = format!(
        "### almarel deploy {} (image tag `{image_tag}`)\n\n| app | status | deployment | detail |\n|---|---|---|---|\n",
        t.describe()
    );
    for a in &report.apps {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            a.app.name,
            a.outcome.status(),
            a.deployment_uuid.as_deref().unwrap_or("-"),
            a.detail().replace('|', "\\|")
        ));
    }
    md
}
