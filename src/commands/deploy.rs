//! `almarel deploy`: set the release's image tag on each Coolify app, trigger
//! the deployment and follow it to the end (SPEC §3 deploy).
//!
//! Order: everything that can fail without a request first (apps, token, URL,
//! image tag template), then the target (release tag and commit), the gates
//! (pre-release, frozen), the reads of [`deploy::prepare`] (which
//! refuses non-Docker-Image apps), `--dry-run` or the confirmation, and only
//! then the changes of [`deploy::deploy_apps`], whose events
//! `DeployProgress` renders.

use serde_json::{Value, json};

use crate::audit::Actor;
use crate::cli::DeployArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::release::approval::{self, Approval};
use crate::release::deploy::{self, DeployPlan, DeployReport, Prepared};
use crate::release::progress::{DeployProgress, print_report};
use crate::release::target::{check_template, render_image_tag, select_apps, tag_commit};
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
    let name = super::verify::release_tag_of(ctx, &sha).await?;
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
