//! `almarel deploy`: set the release's image tag on each Coolify app, trigger
//! the deployment and follow it to the end (SPEC §3 deploy).
//!
//! Order: everything that can fail without a request first (apps, token, URL,
//! image tag template), then the target (release tag and commit), the gates
//! (pre-release, frozen), the reads of [`deploy::prepare`] (which
//! refuses non-Docker-Image apps), `--dry-run` or the confirmation, and only
//! then the changes of [`deploy::deploy_apps`], whose events
//! `DeployProgress` renders.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use serde_json::{Value, json};

use crate::audit::Actor;
use crate::cli::DeployArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::release::approval::{self, Approval};
use crate::release::deploy::{
    self, AppState, DeployEvent, DeployPlan, DeployReport, Outcome, Prepared,
};
use crate::settings::CoolifyApp;
use crate::ui::{self, Tone};
use crate::version::{ReleaseTag, normalize_tag, preferred_tag};

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

/// Runs `almarel deploy`.
pub async fn run(ctx: &Context, args: &DeployArgs) -> Result<Value> {
    let settings = &ctx.settings;
    // REF is checked before anything is sent (SPEC §7.7).
    if let Some(r) = &args.reference {
        crate::version::parse_ref(r, &settings.git.tag_prefix)?;
    }
    let apps = select_apps(&settings.coolify.apps, &args.apps)?;
    let client = ctx.coolify()?;
    // Both templates are checked before any request (a typo is exit 2, sent nowhere).
    check_template("coolify.image_tag", &settings.coolify.image_tag)?;
    check_template(
        "coolify.untagged_image_tag",
        &settings.coolify.untagged_image_tag,
    )?;

    let target = resolve_target(ctx, args).await?;
    let (key, template) = if target.tag.is_some() {
        ("coolify.image_tag", settings.coolify.image_tag.clone())
    } else {
        (
            "coolify.untagged_image_tag",
            settings.coolify.untagged_image_tag.clone(),
        )
    };
    let image_tag = render_image_tag(key, &template, target.tag.as_ref(), Some(&target.sha))?;

    if let Some(tag) = &target.tag {
        if tag.is_prerelease() && !args.allow_prerelease {
            return Err(Error::refused(format!(
                "{} is a pre-release; production gets final releases",
                tag.name
            ))
            .with_hint("tag a final release (almarel tag X.Y.Z), or pass --allow-prerelease if you mean it"));
        }
    }
    if releases_frozen(ctx).await? {
        return Err(Error::refused(format!(
            "releases are frozen: the `{}` workflow is disabled",
            settings.github.deploy_workflow
        ))
        .with_hint("fix forward, then `almarel unfreeze`; `almarel rollback` is the one deploy a freeze allows"));
    }

    let skipped_approval = check_gates(ctx, &target, args).await?;

    let mut plan = DeployPlan::new("deploy", &target.describe(), &image_tag, apps, args.timeout);
    plan.wait = !args.no_wait;
    plan.actor = actor(ctx).await;
    plan.audit_details = json!({
        "tag": target.tag.as_ref().map(|t| t.name.clone()),
        "sha": target.sha,
        "skip_approval": skipped_approval,
    });
    plan.production_image_tag = production_image_tag(ctx).await;

    ctx.ui.progress(&format!(
        "deploying {} as image tag {image_tag} to {} on {}",
        target.describe(),
        plan.apps
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        client.base_url()
    ));
    let prepared = deploy::prepare(&client, &plan).await?;
    ctx.ui
        .detail(1, &format!("coolify {}", prepared.coolify_version));
    describe_apps(ctx, &plan, &prepared);

    let mut data = json!({
        "target": target_json(&target),
        "image_tag": image_tag,
        "coolify_version": prepared.coolify_version,
        "dry_run": settings.global.dry_run,
    });
    if settings.global.dry_run {
        let writes = prepared.planned_writes(&plan);
        for w in &writes {
            ctx.ui.result(&format!("would: {w}"));
        }
        ctx.ui
            .next(&format!("almarel deploy {}", deploy_args(&target, args)));
        data["planned"] = json!(writes);
        return Ok(data);
    }

    ctx.confirm(&format!(
        "deploy {} (image tag {image_tag}) to {}?",
        target.describe(),
        plan.apps
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .await?;

    let progress = DeployProgress::new(&ctx.ui, &prepared.apps);
    let report = deploy::deploy_apps(ctx, &client, &plan, &prepared, &|e| progress.show(e)).await;
    progress.clear();
    print_report(ctx, &report, "");
    write_actions_outputs(ctx, &target, &report, &image_tag)?;
    data["apps"] = report.to_json();
    data["deployments"] = report.deployments_json();
    match report.result(&plan) {
        Ok(()) => {
            if plan.wait {
                ctx.ui.next(&verify_command(&target));
            } else {
                ctx.ui.progress(
                    "follow the deployments in the Coolify dashboard; once they finished, verify:",
                );
                ctx.ui.next(&verify_command(&target));
            }
            Ok(data)
        }
        Err(e) => Err(e.with_data(data)),
    }
}

/// The gates a deploy by hand shares with approve (SPEC §7.5): CI green for
/// the commit, and its newest deploy run neither waiting for the production
/// approval nor rejected. Every gate is evaluated, then all failures are
/// reported together (exit 3, nothing sent). Inside the approved deploy run
/// itself (`GITHUB_RUN_ID` is a deploy run of this commit) the approval
/// stands. Returns whether `--skip-approval` overrode a failed approval gate.
async fn check_gates(ctx: &Context, target: &Target, args: &DeployArgs) -> Result<bool> {
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
    } else if args.allow_failed_ci {
        ctx.ui.warn(&format!(
            "{ci_detail}: deploying anyway (--allow-failed-ci)"
        ));
    } else {
        failed.push(("ci_not_green", ci_detail, "--allow-failed-ci"));
    }

    let deploy_wf = gh.workflow(&g.deploy_workflow).await?;
    let runs = gh.runs_for_commit(deploy_wf.id, &target.sha).await?;
    let own_run = ctx
        .env
        .get("GITHUB_RUN_ID")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|id| runs.iter().any(|r| r.id == *id));
    let mut skipped = false;
    if let Some(id) = own_run {
        ctx.ui.detail(
            1,
            &format!("running inside deploy run {id} of {short}: its approval stands"),
        );
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
        if let Some((code, detail)) = problem {
            if args.skip_approval {
                skipped = true;
                ctx.ui.warn(&format!(
                    "{detail}: deploying anyway (--skip-approval, audited)"
                ));
            } else {
                failed.push((code, detail, "--skip-approval"));
            }
        }
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
        err = err.with_hint(format!("pass {flag} to deploy anyway"));
    }
    Err(err.with_data(json!({
        "checks": failed.iter().map(|(c, d, f)| json!({"name": c, "ok": false, "detail": d, "fix": format!("pass {f} to deploy anyway")})).collect::<Vec<_>>(),
    })))
}

/// The apps to deploy: all of `coolify.apps`, or the `--app` names (an unknown
/// name is a usage error listing the configured ones).
pub fn select_apps(configured: &[CoolifyApp], names: &[String]) -> Result<Vec<CoolifyApp>> {
    if configured.is_empty() {
        return Err(Error::usage("coolify.apps is empty: no app to deploy")
            .with_hint("add [[coolify.apps]] entries (name, uuid) to almarel.toml"));
    }
    if names.is_empty() {
        return Ok(configured.to_vec());
    }
    let mut out: Vec<CoolifyApp> = Vec::new();
    for n in names {
        let app = configured.iter().find(|a| &a.name == n).ok_or_else(|| {
            Error::usage(format!("--app {n}: no such app in coolify.apps")).with_hint(format!(
                "configured apps: {}",
                configured
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if !out.contains(app) {
            out.push(app.clone());
        }
    }
    Ok(out)
}

/// The placeholders an image tag template may use.
pub const PLACEHOLDERS: [&str; 4] = ["tag", "version", "sha", "short_sha"];

/// Checks a template's placeholders (usage error naming the key).
pub fn check_template(key: &str, template: &str) -> Result<()> {
    for p in placeholders(template) {
        if !PLACEHOLDERS.contains(&p.as_str()) {
            return Err(Error::usage(format!(
                "{key}: unknown placeholder {{{p}}} in `{template}`"
            ))
            .with_hint("use {tag} {version} {sha} {short_sha}"));
        }
    }
    Ok(())
}

fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                out.push(after[..j].to_owned());
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// Renders an image tag template: `{tag}` (`v1.2.3`), `{version}` (`1.2.3`),
/// `{sha}` (40 hex), `{short_sha}` (7). The result must be a valid docker tag.
pub fn render_image_tag(
    key: &str,
    template: &str,
    tag: Option<&ReleaseTag>,
    sha: Option<&str>,
) -> Result<String> {
    check_template(key, template)?;
    let mut out = template.to_owned();
    for p in placeholders(template) {
        let value = match p.as_str() {
            "tag" => tag.map(|t| t.name.clone()),
            "version" => tag.map(|t| t.version.to_string()),
            "sha" => sha.map(str::to_owned),
            "short_sha" => sha.map(|s| crate::version::short_sha(s).to_owned()),
            _ => None,
        };
        let value = value.ok_or_else(|| {
            Error::usage(format!(
                "{key} `{template}` uses {{{p}}}, which is not known for this target"
            ))
            .with_hint(if tag.is_none() {
                "an untagged commit has no {tag}/{version}: use {sha} or {short_sha}"
            } else {
                "use {tag} or {version}"
            })
        })?;
        out = out.replace(&format!("{{{p}}}"), &value);
    }
    if !is_docker_tag(&out) {
        return Err(Error::usage(format!(
            "image tag `{out}` (from {key} `{template}`) is not a valid docker tag"
        ))
        .with_hint("docker tags are [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128 characters"));
    }
    Ok(out)
}

fn is_docker_tag(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Resolves the deploy target: `--tag` (and its commit), else REF's release tag (a final tag wins over an rc
/// tag on the same commit); a commit without one needs `--allow-untagged`.
pub async fn resolve_target(ctx: &Context, args: &DeployArgs) -> Result<Target> {
    let prefix = &ctx.settings.git.tag_prefix;
    if let Some(t) = &args.tag {
        let name = normalize_tag(t.trim(), prefix);
        let tag = ReleaseTag::from_name(&name, prefix).ok_or_else(|| {
            Error::usage(format!(
                "--tag {t}: `{name}` is not a release tag ({prefix}MAJOR.MINOR.PATCH)"
            ))
            .with_hint("e.g. --tag 1.2.3 or --tag v1.2.3")
        })?;
        // Always resolved: a tag that exists nowhere is a mistake, and the
        // commit is what `verify` and the Actions outputs need.
        let sha = tag_commit(ctx, &tag.name).await?;
        return Ok(Target {
            tag: Some(tag),
            sha,
        });
    }
    let (sha, tags) = ref_commit_and_tags(ctx, args.reference.as_deref()).await?;
    match preferred_tag(&tags) {
        Some(tag) => Ok(Target {
            tag: Some(tag.clone()),
            sha,
        }),
        None if args.allow_untagged => Ok(Target { tag: None, sha }),
        None => Err(Error::refused(format!(
            "commit {} carries no release tag",
            crate::version::short_sha(&sha)
        ))
        .with_hint(format!(
            "tag it first (almarel tag X.Y.Z), or pass --allow-untagged to deploy it as {}",
            ctx.settings.coolify.untagged_image_tag
        ))),
    }
}

/// The commit a release tag points at (annotated tags peeled): local git
/// when almarel runs in a clone that has the tag, else GitHub's refs API. An
/// unknown tag is a usage error (exit 2).
pub async fn tag_commit(ctx: &Context, tag: &str) -> Result<String> {
    if let Some(sha) = local_tag_commit(ctx, tag) {
        ctx.ui.detail(1, &format!("{tag} is {sha} (local git)"));
        return Ok(sha);
    }
    let gh = ctx.github().await?;
    match gh.tag_commit(tag).await? {
        Some(sha) => {
            ctx.ui
                .detail(1, &format!("{tag} is {sha} ({} on GitHub)", gh.repo()));
            Ok(sha)
        }
        None => Err(Error::usage(format!(
            "tag {tag} exists neither in this clone nor in {}",
            gh.repo()
        ))
        .with_hint("check the name (was it pushed? `almarel tag X.Y.Z` pushes it)")),
    }
}

/// The commit of `tag` in the local clone almarel runs in, if it has the tag
/// (annotated tags peeled).
fn local_tag_commit(ctx: &Context, tag: &str) -> Option<String> {
    crate::git::Repo::discover(&ctx.settings.workdir)
        .ok()?
        .resolve_tag(tag)
        .ok()
        .flatten()
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
pub async fn ref_commit_and_tags(
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

/// Whether releases are frozen: the deploy workflow's state is not `active`
/// (read from GitHub; needs `github.repository` and a token).
pub async fn releases_frozen(ctx: &Context) -> Result<bool> {
    let gh = ctx.github().await?;
    gh.is_frozen().await
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
pub async fn actor(ctx: &Context) -> Actor {
    let git = local_identity(ctx);
    let github = match ctx.github().await {
        Ok(gh) => gh.current_user().await.ok().map(|u| u.login),
        Err(_) => None,
    };
    Actor { git, github }
}

fn target_json(t: &Target) -> Value {
    json!({
        "tag": t.tag.as_ref().map(|x| x.name.clone()),
        "version": t.tag.as_ref().map(|x| x.version.to_string()),
        "sha": t.sha,
    })
}

fn deploy_args(t: &Target, args: &DeployArgs) -> String {
    let mut s = match &t.tag {
        Some(tag) => format!("--tag {}", tag.name),
        None => format!("{} --allow-untagged", t.sha),
    };
    for a in &args.apps {
        s.push_str(&format!(" --app {a}"));
    }
    s
}

fn verify_command(t: &Target) -> String {
    match &t.tag {
        Some(tag) => format!("almarel verify --expect-tag {}", tag.name),
        None => format!("almarel verify --expect-sha {}", t.sha),
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

/// Prints the per-app result table (and the log tail of failed apps),
/// each line prefixed by `indent` (rollback nests it under its step).
pub(crate) fn print_report(ctx: &Context, report: &DeployReport, indent: &str) {
    let ui = &ctx.ui;
    let rows: Vec<Vec<String>> = report
        .apps
        .iter()
        .map(|a| {
            let tone = match a.outcome {
                Outcome::Finished | Outcome::Triggered => Tone::Ok,
                Outcome::TimedOut => Tone::Warn,
                _ => Tone::Fail,
            };
            vec![
                format!("{indent}{}", ui.mark(tone)),
                a.app.name.clone(),
                a.outcome.status().to_owned(),
                a.image_tag.clone(),
                a.deployment_uuid.clone().unwrap_or_else(|| "-".into()),
                a.detail(),
            ]
        })
        .collect();
    for line in ui::table(&rows) {
        ui.result(&line);
    }
    for a in &report.apps {
        if matches!(a.outcome, Outcome::Failed | Outcome::Cancelled) {
            if a.logs_readable {
                ui.progress(&format!(
                    "last log lines of {} ({}):",
                    a.app.name,
                    a.deployment_uuid.as_deref().unwrap_or("?")
                ));
                for l in &a.log_tail {
                    ui.progress(&format!("  {l}"));
                }
            } else {
                ui.progress(&format!(
                    "the build log of {} is not readable with this token (it needs read:sensitive); \
                     read it in the Coolify dashboard",
                    a.app.name
                ));
            }
        }
    }
}

/// Renders [`DeployEvent`]s: one spinner line per app on a terminal, plain
/// `app: what` lines otherwise.
pub(crate) struct DeployProgress {
    multi: Option<MultiProgress>,
    bars: Vec<(String, ProgressBar)>,
    ui: ui::Ui,
}

impl DeployProgress {
    pub(crate) fn new(ui: &ui::Ui, apps: &[AppState]) -> Self {
        let width = apps.iter().map(|a| a.app.name.len()).max().unwrap_or(0);
        let multi = ui.is_live().then(MultiProgress::new);
        let bars = match &multi {
            None => Vec::new(),
            Some(m) => apps
                .iter()
                .map(|a| {
                    let style =
                        ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner());
                    let bar = m.add(ProgressBar::new_spinner().with_style(style));
                    bar.set_prefix(format!("{:width$}", a.app.name));
                    bar.set_message("reading");
                    bar.enable_steady_tick(Duration::from_millis(120));
                    (a.app.name.clone(), bar)
                })
                .collect(),
        };
        DeployProgress {
            multi,
            bars,
            ui: ui.clone(),
        }
    }

    fn say(&self, app: &str, msg: &str) {
        match self.bars.iter().find(|(n, _)| n == app) {
            Some((_, b)) => b.set_message(msg.to_owned()),
            None => self.ui.progress(&format!("{app}: {msg}")),
        }
    }

    /// Renders one event.
    pub(crate) fn show(&self, e: DeployEvent) {
        match e {
            DeployEvent::Reading { app } => self.say(&app, "reading the app again"),
            DeployEvent::Waiting {
                app,
                deployment,
                status,
                waiting: true,
            } => self.say(
                &app,
                &format!("waiting for deployment {deployment} ({status}, started before this run)"),
            ),
            DeployEvent::Waiting {
                app,
                deployment,
                status,
                waiting: false,
            } => self.say(
                &app,
                &format!(
                    "deployment {deployment} is already {status} (started before this run); ours queues after it"
                ),
            ),
            DeployEvent::WaitEnded {
                app,
                deployment,
                status,
            } => self.say(&app, &format!("earlier deployment {deployment} ended: {status}")),
            DeployEvent::Patching { app, from, to } => self.say(
                &app,
                &format!("setting image tag {to} (was {})", from.as_deref().unwrap_or("unset")),
            ),
            DeployEvent::Patched { app, to, .. } => {
                self.say(&app, &format!("image tag is now {to} (read back)"));
            }
            DeployEvent::Triggered { app, uuid } => {
                self.say(&app, &format!("triggered deployment {uuid}"));
            }
            DeployEvent::Adopted { app, uuid } => self.say(
                &app,
                &format!("coolify kept the already queued deployment {uuid}; it uses the new tag when it starts"),
            ),
            DeployEvent::Status {
                app,
                what,
                uuid,
                status,
            } => self.say(&app, &format!("{what} {uuid} {status}")),
            DeployEvent::Restored { app, tag } => self.say(
                &app,
                &format!(
                    "restored image tag {}, the tag it last finished deploying (no deploy: the old container keeps serving)",
                    tag.as_deref().unwrap_or("unset")
                ),
            ),
            DeployEvent::NotRestored { app, why } => {
                self.ui.warn(&format!("{app}: {why}"));
            }
            DeployEvent::Finished {
                app,
                outcome,
                elapsed,
            } => {
                let tone = match outcome {
                    Outcome::Finished | Outcome::Triggered => Tone::Ok,
                    Outcome::TimedOut => Tone::Warn,
                    _ => Tone::Fail,
                };
                let msg = format!(
                    "{} {} in {}",
                    self.ui.mark(tone),
                    outcome.status(),
                    humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
                );
                match self.bars.iter().find(|(n, _)| *n == app) {
                    Some((_, b)) => {
                        if let Ok(style) = ProgressStyle::with_template("  {prefix} {msg}") {
                            b.set_style(style);
                        }
                        b.finish_with_message(msg);
                    }
                    None => self.ui.progress(&format!("{app}: {msg}")),
                }
            }
        }
    }

    /// Removes the live lines (before the result table is printed).
    pub(crate) fn clear(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

fn write_actions_outputs(
    ctx: &Context,
    t: &Target,
    report: &DeployReport,
    image_tag: &str,
) -> Result<()> {
    let ui = &ctx.ui;
    if !ui.in_github_actions() {
        return Ok(());
    }
    ui.output("deployments", &report.deployments_json().to_string())?;
    if let Some(tag) = &t.tag {
        ui.output("tag", &tag.name)?;
        ui.output("version", &tag.version.to_string())?;
    }
    ui.output("sha", &t.sha)?;
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
    ui.summary(&md)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(n: &str) -> ReleaseTag {
        ReleaseTag::from_name(n, "v").unwrap()
    }

    #[test]
    fn image_tag_templates() {
        let sha = "1a2b3c4d5e6f70819293a4b5c6d7e8f901234567";
        let t = tag("v1.2.3");
        assert_eq!(
            render_image_tag("k", "{tag}", Some(&t), None).unwrap(),
            "v1.2.3"
        );
        assert_eq!(
            render_image_tag("k", "{version}-{short_sha}", Some(&t), Some(sha)).unwrap(),
            "1.2.3-1a2b3c4"
        );
        assert_eq!(
            render_image_tag("k", "prod-{sha}", None, Some(sha)).unwrap(),
            format!("prod-{sha}")
        );
        let e = render_image_tag("coolify.image_tag", "{tags}", Some(&t), None).unwrap_err();
        assert!(e.message.contains("coolify.image_tag") && e.message.contains("{tags}"));
        assert!(render_image_tag("k", "{tag}", None, Some(sha)).is_err());
        assert!(render_image_tag("k", "-{tag}", Some(&t), None).is_err());
    }

    #[test]
    fn app_selection() {
        let apps = vec![
            CoolifyApp {
                name: "api".into(),
                uuid: "u1".into(),
            },
            CoolifyApp {
                name: "web".into(),
                uuid: "u2".into(),
            },
        ];
        assert_eq!(select_apps(&apps, &[]).unwrap().len(), 2);
        assert_eq!(select_apps(&apps, &["web".into()]).unwrap()[0].uuid, "u2");
        let e = select_apps(&apps, &["worker".into()]).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert!(e.hint().unwrap().contains("api, web"));
        assert!(select_apps(&[], &[]).is_err());
    }
}
