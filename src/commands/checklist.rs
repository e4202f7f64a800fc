//! `almarel checklist [PHASE] [REF] [--version X]`: the runbook's go/no-go
//! checklist (section 3) with every automatable item evaluated live (SPEC §3
//! checklist).
//!
//! The checks are the ones the other commands use, not copies: before-tag
//! runs `tag`'s branch / clean / up-to-date / version checks (the remote is
//! read with [`Repo::peek`], which writes no ref); during-deploy reads the CI
//! and deploy runs for REF's commit and the deploy run's review history from
//! GitHub, and each app's newest deployment from Coolify; after-deploy runs
//! one attempt of `verify`'s probes ([`probe::Prober::attempt`]) expecting REF's
//! commit. A remote that cannot be read fails the items that need it, with
//! the reason; the others are still evaluated. Exit 0 when every automated
//! item passes, 1 otherwise.

use std::time::Duration;

use crate::clock::Deadline;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::git::{Access, RemoteFailure, RemoteRefs, Repo};
use crate::probe;
use crate::release::approval::{self, Approval};
use crate::release::live::{self, AppPlace, AppsRead, Liveness, Observation};
use crate::release::tags::release_tags_at;
use crate::report::Report;
use crate::ui::{self, Tone, Ui};
use crate::version::{ReleaseTag, ReleaseVersion};
use serde::Serialize;

use crate::release::preflight;
use crate::report::Check;

/// The phases, in runbook order.
pub const PHASES: [&str; 4] = [
    "before-merge",
    "before-tag",
    "during-deploy",
    "after-deploy",
];

/// The after-deploy item that says the release is live on every app.
const LIVE_ITEM: &str = "Every app runs the release (not mixed)";
/// How long reading the Coolify apps may take.
const COOLIFY_BUDGET: Duration = Duration::from_secs(20);
/// How long one remote (GitHub) may take in total for the checklist.
const GITHUB_BUDGET: Duration = Duration::from_secs(20);

/// One checklist item.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// `before-merge`, `before-tag`, `during-deploy` or `after-deploy`.
    pub phase: &'static str,
    /// The runbook's wording.
    pub name: String,
    /// `automated` or `manual`.
    pub kind: &'static str,
    /// `pass`, `fail`, `manual` or `skipped`.
    pub status: &'static str,
    /// What was found (or what to check by hand).
    pub evidence: String,
}

impl Item {
    fn manual(phase: &'static str, name: &str, evidence: &str) -> Item {
        Item {
            phase,
            name: name.to_owned(),
            kind: "manual",
            status: "manual",
            evidence: evidence.to_owned(),
        }
    }
    fn auto(phase: &'static str, name: &str, ok: bool, evidence: impl Into<String>) -> Item {
        Item {
            phase,
            name: name.to_owned(),
            kind: "automated",
            status: if ok { "pass" } else { "fail" },
            evidence: evidence.into(),
        }
    }
    fn from_check(phase: &'static str, name: &str, c: &Check) -> Item {
        let evidence = match &c.fix {
            Some(fix) if !c.ok => format!("{} → {fix}", c.detail),
            _ => c.detail.clone(),
        };
        Item::auto(phase, name, c.ok, evidence)
    }
}

/// Splits the positionals: `checklist PHASE [REF]` or `checklist REF`.
/// Returns the phases, whether one was named, and REF.
pub(crate) fn phases_and_ref(
    phase: Option<&str>,
    reference: Option<&str>,
) -> Result<(Vec<&'static str>, bool, Option<String>)> {
    match (phase, reference) {
        (None, _) => Ok((PHASES.to_vec(), false, None)),
        (Some(p), r) => match PHASES.iter().find(|x| **x == p) {
            Some(phase) => Ok((vec![*phase], true, r.map(str::to_owned))),
            None if r.is_none() && looks_like_ref(p) => {
                Ok((PHASES.to_vec(), false, Some(p.to_owned())))
            }
            None => Err(Error::usage(format!("unknown checklist phase `{p}`"))
                .with_code("unknown_phase")
                .with_hint(format!("phases: {}", PHASES.join(", ")))),
        },
    }
}

fn looks_like_ref(s: &str) -> bool {
    crate::version::is_sha(s)
        || s.trim_start_matches('v')
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
}

/// What `almarel checklist` is asked to evaluate (resolved from the flags
/// by [`crate::resolve::checklist`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The phases, in runbook order.
    pub phases: Vec<&'static str>,
    /// Whether a phase was named (a named phase is always evaluated; see
    /// "not yet due" in docs/commands/checklist.md).
    pub named_phase: bool,
    /// REF; `None`: the commit at `<remote>/<branch>`.
    pub reference: Option<String>,
    /// The version about to be tagged (`--version`).
    pub version: Option<ReleaseVersion>,
}

/// The result of `almarel checklist` (its `--json` object; see `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct ChecklistReport {
    /// The phases evaluated.
    pub phases: Vec<&'static str>,
    /// REF as resolved (`null`: none was needed or given).
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// REF's commit, when resolved.
    pub sha: Option<String>,
    /// Every item, in runbook order.
    pub items: Vec<Item>,
    /// Items that passed.
    pub passed: usize,
    /// Automated items that failed.
    pub failed: usize,
    /// Items to check by hand.
    pub manual: usize,
    /// Items skipped (a probe before them failed).
    pub skipped: usize,
    /// Items of a phase that has not begun for REF (not failures).
    pub not_due: usize,
    #[serde(skip)]
    header: Option<String>,
}

impl ChecklistReport {
    fn count(&self, status: &str) -> usize {
        self.items.iter().filter(|i| i.status == status).count()
    }
}

impl Report for ChecklistReport {
    fn render(&self, ui: &Ui) {
        if let Some(h) = &self.header {
            ui.result(h);
        }
        for line in item_lines(ui, &self.items) {
            ui.result(&line);
        }
        if self.failed == 0 {
            let later = if self.not_due > 0 {
                format!("; {} not yet due", self.not_due)
            } else {
                String::new()
            };
            ui.result(&format!(
                "{} every automated item passes ({} manual item(s) to check by hand{later})",
                ui.mark(Tone::Ok),
                self.manual
            ));
        }
    }
    fn summary(&self) -> Option<String> {
        Some(summary_md(&self.items))
    }
}

/// Runs `almarel checklist`.
pub async fn run(ctx: &Context, req: &Request) -> Result<ChecklistReport> {
    let phases = req.phases.clone();
    let reference = req.reference.clone();
    let s = &ctx.settings;
    let repo = Repo::discover(&s.workdir);
    let wants = |p: &str| phases.contains(&p);
    // "Staging validated" is read from GitHub for REF when staging is configured.
    let staging_ref = wants("before-merge")
        && reference.is_some()
        && crate::release::evidence::staging(s).is_some();
    let needs_ref = wants("during-deploy") || wants("after-deploy") || staging_ref;

    // The remote, read once without writing a ref.
    let peeked = if wants("before-tag") || (needs_ref && reference.is_none()) {
        match &repo {
            Ok(r) => {
                let access = Access::from_env(&ctx.env, &s.github.api_url)
                    .with_insecure_http(s.allow_insecure_http);
                if let Some(t) = access.token_value() {
                    ctx.ui.add_secret(t);
                }
                ctx.ui.progress(&format!(
                    "reading {} from {} (no ref is written)…",
                    s.git.branch, s.git.remote
                ));
                Some(r.peek(&s.git.remote, &s.git.branch, &access).await)
            }
            Err(_) => None,
        }
    } else {
        None
    };

    let target = if needs_ref {
        Some(
            resolve_target(
                ctx,
                repo.as_ref().ok(),
                reference.as_deref(),
                peeked.as_ref(),
            )
            .await,
        )
    } else {
        None
    };

    let mut items = Vec::new();
    for phase in &phases {
        match *phase {
            "before-merge" => {
                let mut merge = before_merge();
                if staging_ref {
                    merge[0] = staging_validated(ctx, target.as_ref()).await;
                }
                items.extend(merge);
            }
            "before-tag" => items.extend(before_tag(ctx, &repo, peeked.as_ref(), req)?),
            "during-deploy" => items.extend(during_deploy(ctx, target.as_ref()).await),
            _ => items.extend(after_deploy(ctx, target.as_ref()).await),
        }
    }

    if !req.named_phase {
        if let Some(Ok(t)) = &target {
            let progress = progress(ctx, t).await;
            for (phase, why) in [
                ("during-deploy", progress.during_deploy_not_due(ctx, t)),
                ("after-deploy", progress.after_deploy_not_due(ctx, t)),
            ] {
                if let Some(why) = why {
                    for i in items.iter_mut().filter(|i| i.phase == phase) {
                        if i.kind == "automated" {
                            i.status = "not_due";
                            i.evidence = format!("not yet due: {why}");
                        }
                    }
                }
            }
        }
    }

    let (sha, label) = match &target {
        Some(Ok(t)) => (Some(t.sha.clone()), Some(t.label.clone())),
        _ => (None, reference.clone()),
    };
    let mut report = ChecklistReport {
        phases,
        reference: label,
        sha,
        items,
        passed: 0,
        failed: 0,
        manual: 0,
        skipped: 0,
        not_due: 0,
        header: match &target {
            Some(Ok(t)) => Some(format!(
                "{} for {} ({})",
                ctx.ui.paint(Tone::Bold, "checklist"),
                t.label,
                crate::version::short_sha(&t.sha)
            )),
            _ => None,
        },
    };
    report.passed = report.count("pass");
    report.failed = report.count("fail");
    report.manual = report.count("manual");
    report.skipped = report.count("skipped");
    report.not_due = report.count("not_due");
    if report.failed == 0 {
        return Ok(report);
    }
    let failed: Vec<&str> = report
        .items
        .iter()
        .filter(|i| i.status == "fail")
        .map(|i| i.name.as_str())
        .collect();
    let e = Error::failed(format!(
        "{} of {} automated items failed: {}",
        failed.len(),
        report
            .items
            .iter()
            .filter(|i| i.kind == "automated")
            .count(),
        failed.join("; ")
    ))
    .with_code("items_failed")
    .with_hint("fix the items marked ✗ (their evidence says why), then re-run almarel checklist");
    Err(super::fail_with(&ctx.ui, &report, e))
}

/// How far REF's release has come, for "not yet due" (each `None`: could
/// not be told, so the phase is evaluated as usual).
struct Progress {
    /// REF's commit has a release tag.
    tagged: Option<bool>,
    /// The deploy workflow has a run for the commit.
    deploy_run: Option<bool>,
    /// Production or any Coolify app runs (or is deploying, or failed to deploy) it.
    out: Option<bool>,
}

impl Progress {
    /// Why during-deploy is not due yet: untagged, no deploy run, nothing out.
    fn during_deploy_not_due(&self, ctx: &Context, t: &Target) -> Option<String> {
        (self.tagged == Some(false) && self.deploy_run == Some(false) && self.out == Some(false))
            .then(|| {
                format!(
                    "{} has no release tag and no {} run, and nothing runs it",
                    crate::version::short_sha(&t.sha),
                    ctx.settings.github.deploy_workflow
                )
            })
    }
    /// Why after-deploy is not due yet: no deploy run, nothing out.
    fn after_deploy_not_due(&self, ctx: &Context, t: &Target) -> Option<String> {
        (self.deploy_run == Some(false) && self.out == Some(false)).then(|| {
            format!(
                "no {} run for {} and neither production nor any app runs it",
                ctx.settings.github.deploy_workflow,
                crate::version::short_sha(&t.sha)
            )
        })
    }
}

async fn progress(ctx: &Context, t: &Target) -> Progress {
    let prefix = &ctx.settings.git.tag_prefix;
    let tagged = !release_tags_at(ctx, &t.sha).await.is_empty()
        || ReleaseTag::from_name(&t.label, prefix).is_some();
    let deploy_run = if ctx.settings.github.repository.is_some() {
        match github(ctx).await {
            Ok(gh) => newest_run(&gh, &ctx.settings.github.deploy_workflow, &t.sha)
                .await
                .ok()
                .map(|r| r.is_some()),
            Err(_) => None,
        }
    } else {
        None
    };
    let production = match probe::production_sha(&ctx.settings.verify).await {
        Ok(Some(sha)) => Some(probe::sha_matches(&t.sha, &sha)),
        Ok(None) => Some(false),
        Err(_) => None,
    };
    let seen = observe_release(ctx, t, None).await;
    let apps = match &seen.apps {
        AppsRead::NotConfigured => Some(false),
        AppsRead::Read(_) => seen.live.as_ref().map(|l| {
            l.apps
                .iter()
                .any(|a| !matches!(a.place, AppPlace::Elsewhere { .. }))
        }),
        AppsRead::NoToken | AppsRead::Failed(_) => None,
    };
    let configured =
        ctx.settings.verify.version_url.is_some() || !matches!(seen.apps, AppsRead::NotConfigured);
    let out = match (production, apps) {
        _ if !configured => None,
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    };
    Progress {
        tagged: Some(tagged),
        deploy_run,
        out,
    }
}

/// REF's commit: a local tag or SHA first, else GitHub; without REF the
/// commit at `<remote>/<branch>` as just read, else GitHub's branch.
struct Target {
    sha: String,
    label: String,
}

async fn resolve_target(
    ctx: &Context,
    repo: Option<&Repo>,
    reference: Option<&str>,
    peeked: Option<&std::result::Result<RemoteRefs, RemoteFailure>>,
) -> std::result::Result<Target, String> {
    let g = &ctx.settings.git;
    match reference {
        Some(r) => {
            if let Some(sha) = repo.and_then(|repo| repo.resolve_commit(r, &g.tag_prefix).ok()) {
                return Ok(Target {
                    sha,
                    label: r.to_owned(),
                });
            }
        }
        None => {
            if let Some(Ok(RemoteRefs {
                branch: Some(sha), ..
            })) = peeked
            {
                return Ok(Target {
                    sha: sha.clone(),
                    label: format!("{}/{}", g.remote, g.branch),
                });
            }
        }
    }
    let gh = github(ctx).await.map_err(|e| e.message)?;
    gh.resolve_ref(reference)
        .await
        .map(|t| Target {
            sha: t.sha,
            label: t.label,
        })
        .map_err(|e| e.message)
}

async fn github(ctx: &Context) -> Result<crate::github::Client> {
    let gh = ctx.github().await?;
    gh.set_deadline(Some(Deadline::after(ctx.clock.as_ref(), GITHUB_BUDGET)));
    Ok(gh)
}

fn before_merge() -> Vec<Item> {
    let p = "before-merge";
    vec![
        Item::manual(
            p,
            "Staging validation completed for critical user flows",
            "check by hand",
        ),
        Item::manual(p, "Known issues documented and accepted", "check by hand"),
        Item::manual(
            p,
            "Rollback impact reviewed (especially DB migrations)",
            "`almarel rollback --dry-run` shows the target and the migrations a rollback would cross",
        ),
    ]
}

/// "Staging validation completed": green only when the newest verdict
/// `verify --env staging` recorded in GitHub for the commit is a success.
async fn staging_validated(
    ctx: &Context,
    target: Option<&std::result::Result<Target, String>>,
) -> Item {
    let p = "before-merge";
    let name = "Staging validation completed for critical user flows";
    let t = match target {
        Some(Ok(t)) => t,
        Some(Err(why)) => {
            return Item::auto(p, name, false, format!("cannot resolve the commit: {why}"));
        }
        None => return Item::auto(p, name, false, "no commit to check"),
    };
    let gh = match github(ctx).await {
        Ok(gh) => gh,
        Err(e) => return Item::auto(p, name, false, e.message),
    };
    match crate::release::evidence::read_staging(&gh, &ctx.settings, &t.sha).await {
        Ok(v) => Item::from_check(
            p,
            name,
            &crate::release::evidence::staging_check(
                crate::settings::STAGING_ENVIRONMENT,
                &t.sha,
                v.as_ref(),
            ),
        ),
        Err(e) => Item::auto(
            p,
            name,
            false,
            format!("cannot read the staging evidence: {}", e.message),
        ),
    }
}

fn before_tag(
    ctx: &Context,
    repo: &Result<Repo>,
    peeked: Option<&std::result::Result<RemoteRefs, RemoteFailure>>,
    req: &Request,
) -> Result<Vec<Item>> {
    let p = "before-tag";
    let g = &ctx.settings.git;
    let names = [
        format!("You are on {}", g.branch),
        "Working tree is clean".to_owned(),
        format!(
            "Local {} is up to date with {}/{}",
            g.branch, g.remote, g.branch
        ),
    ];
    let version_name = "Correct semantic version chosen (X.Y.Z or X.Y.Z-rc.N)";
    let repo = match repo {
        Ok(r) => r,
        Err(e) => {
            let mut items: Vec<Item> = names
                .iter()
                .map(|n| Item::auto(p, n, false, e.message.clone()))
                .collect();
            items.push(Item::auto(p, version_name, false, e.message.clone()));
            return Ok(items);
        }
    };
    let head = repo.head()?;
    let Some(head_sha) = head.commit.clone() else {
        return Ok(names
            .iter()
            .map(|n| Item::auto(p, n, false, "HEAD has no commit yet"))
            .collect());
    };
    let mut items = vec![
        Item::from_check(
            p,
            &names[0],
            &preflight::check_branch(&g.branch, &head, &head_sha),
        ),
        Item::from_check(p, &names[1], &preflight::check_clean(&repo.status()?)),
    ];
    let fetched = match peeked {
        Some(f) => f.clone(),
        None => Err(RemoteFailure {
            reason: crate::git::FailureReason::Network,
            error: Error::remote("the remote was not read"),
        }),
    };
    items.push(Item::from_check(
        p,
        &names[2],
        &preflight::check_up_to_date(&g.remote, &g.branch, repo, &fetched, &head_sha)?,
    ));
    items.push(match &req.version {
        None => Item::manual(p, version_name, "pass --version X to check it"),
        Some(version) => {
            let tag = version.tag_name(&g.tag_prefix);
            let release =
                preflight::known_release_tags(repo, &g.tag_prefix, fetched.as_ref().ok())?;
            let c = preflight::check_version(version, &tag, &head_sha, &release);
            Item::from_check(p, version_name, &c)
        }
    });
    Ok(items)
}

async fn during_deploy(
    ctx: &Context,
    target: Option<&std::result::Result<Target, String>>,
) -> Vec<Item> {
    let p = "during-deploy";
    let g = &ctx.settings.github;
    let ci_name = format!("CI finished successfully on {}", ctx.settings.git.branch);
    let approval_name = "Production approval performed by authorized reviewer";
    let mut items = Vec::new();
    let sha = match target {
        Some(Ok(t)) => t.sha.clone(),
        Some(Err(_)) | None => {
            let why = match target {
                Some(Err(w)) => format!("cannot resolve the commit: {w}"),
                _ => "no commit to check".to_owned(),
            };
            for n in [ci_name.as_str(), approval_name] {
                items.push(Item::auto(p, n, false, why.clone()));
            }
            items.push(coolify_item(None, None));
            return items;
        }
    };
    let short = crate::version::short_sha(&sha).to_owned();
    if g.repository.is_none() {
        // Unset is manual, not a failure (docs/commands/checklist.md).
        let why = format!(
            "github.repository is not set: check on GitHub by hand ({short}), or set [github] repository"
        );
        items.push(Item::manual(p, &ci_name, &why));
        items.push(Item::manual(p, approval_name, &why));
        let t = target.and_then(|t| t.as_ref().ok());
        let seen = match t {
            Some(t) => Some(observe_release(ctx, t, None).await),
            None => None,
        };
        items.push(coolify_item(t, seen.as_ref()));
        return items;
    }
    let gh = match github(ctx).await {
        Ok(gh) => match gh.workflows().await {
            Ok(_) => Ok(gh),
            Err(e) => Err(e.message),
        },
        Err(e) => Err(e.message),
    };
    match gh {
        Err(why) => {
            items.push(Item::auto(p, &ci_name, false, github_reason(&why)));
            items.push(Item::auto(p, approval_name, false, github_reason(&why)));
        }
        Ok(gh) => {
            // CI for that exact commit.
            items.push(match newest_run(&gh, &g.ci_workflow, &sha).await {
                Err(why) => Item::auto(p, &ci_name, false, why),
                Ok(None) => Item::auto(
                    p,
                    &ci_name,
                    false,
                    format!("no {} run for {short}", g.ci_workflow),
                ),
                Ok(Some(run)) => {
                    let ok = run
                        .conclusion
                        .as_ref()
                        .is_some_and(|c| c.as_str() == "success");
                    Item::auto(
                        p,
                        &ci_name,
                        ok,
                        format!(
                            "{} run {} for {short} on {}: {} {}",
                            g.ci_workflow,
                            run.id,
                            run.head_branch.as_deref().unwrap_or("?"),
                            run.state_text(),
                            run.html_url
                        ),
                    )
                }
            });
            // The deploy run's review history.
            items.push(match newest_run(&gh, &g.deploy_workflow, &sha).await {
                Err(why) => Item::auto(p, approval_name, false, why),
                Ok(None) => Item::auto(
                    p,
                    approval_name,
                    false,
                    format!("no {} run for {short}", g.deploy_workflow),
                ),
                Ok(Some(run)) => {
                    let pending = if run.is_waiting() {
                        gh.pending_deployments(run.id).await
                    } else {
                        Ok(Vec::new())
                    };
                    let reviews = match pending {
                        Ok(p) => gh.approvals(run.id).await.map(|r| (p, r)),
                        Err(e) => Err(e),
                    };
                    match reviews {
                        Err(e) => Item::auto(p, approval_name, false, github_reason(&e.message)),
                        Ok((pending, reviews)) => {
                            let env = g.environment.as_str();
                            match approval::decide(Some(&run), &pending, &reviews, env) {
                                Approval::Approved { by, .. } => Item::auto(
                                    p,
                                    approval_name,
                                    true,
                                    format!("{env} approved by @{by} (run {})", run.id),
                                ),
                                Approval::Rejected { by, .. } => Item::auto(
                                    p,
                                    approval_name,
                                    false,
                                    format!("{env} rejected by @{by} (run {})", run.id),
                                ),
                                Approval::Pending { .. } => Item::auto(
                                    p,
                                    approval_name,
                                    false,
                                    format!(
                                        "run {} is waiting for the {env} approval → almarel approve {short}",
                                        run.id
                                    ),
                                ),
                                Approval::NotReviewed { .. } | Approval::NoRun => Item::auto(
                                    p,
                                    approval_name,
                                    false,
                                    format!(
                                        "no review yet for run {} ({}) → almarel approve {short}",
                                        run.id,
                                        run.state_text()
                                    ),
                                ),
                            }
                        }
                    }
                }
            });
        }
    }
    let t = target.and_then(|t| t.as_ref().ok());
    let seen = match t {
        Some(t) => Some(observe_release(ctx, t, None).await),
        None => None,
    };
    items.push(coolify_item(t, seen.as_ref()));
    items
}

async fn newest_run(
    gh: &crate::github::Client,
    workflow: &str,
    sha: &str,
) -> std::result::Result<Option<crate::github::Run>, String> {
    let wf = gh.workflow(workflow).await.map_err(|e| e.message)?;
    gh.runs_for_commit(wf.id, sha)
        .await
        .map(|runs| runs.into_iter().next())
        .map_err(|e| github_reason(&e.message))
}

/// A GitHub error message, prefixed with `github:` once.
fn github_reason(message: &str) -> String {
    if message.starts_with("github") {
        message.to_owned()
    } else {
        format!("github: {message}")
    }
}

/// Every app's newest Coolify deployment is a finished deployment of this
/// release (SPEC §7.4): an app whose deployment failed and was restored to
/// the old tag has a finished newest deployment, but not of this release.
fn coolify_item(target: Option<&Target>, seen: Option<&Observation>) -> Item {
    let p = "during-deploy";
    let name = "Coolify deployment calls returned success";
    let (Some(t), Some(seen)) = (target, seen) else {
        return Item::auto(p, name, false, "no commit to check");
    };
    match &seen.apps {
        AppsRead::NotConfigured => Item::manual(
            p,
            name,
            "coolify.url and coolify.apps are not set: check each app's deployment in Coolify by hand",
        ),
        AppsRead::NoToken | AppsRead::Failed(_) => Item::auto(
            p,
            name,
            false,
            format!("coolify: {}", seen.apps_unknown().unwrap_or_default()),
        ),
        AppsRead::Read(_) => {
            let Some(live) = &seen.live else {
                return Item::auto(p, name, false, "coolify: not read");
            };
            let ok = live.apps.iter().all(|a| a.place == AppPlace::OnRelease);
            let parts: Vec<String> = live
                .apps
                .iter()
                .map(|a| format!("{}: {}", a.app, a.detail()))
                .collect();
            let mut evidence = parts.join("; ");
            if !ok {
                evidence.push_str(&format!(
                    " (expected {} on {})",
                    seen.accepted.join(" or "),
                    crate::version::short_sha(&t.sha)
                ));
            }
            Item::auto(p, name, ok, evidence)
        }
    }
}

/// Reads the apps for REF's commit and judges the release against
/// production's SHA (`None`: not known).
async fn observe_release(ctx: &Context, t: &Target, production_sha: Option<&str>) -> Observation {
    let prefix = &ctx.settings.git.tag_prefix;
    let mut tags = release_tags_at(ctx, &t.sha).await;
    if let Some(named) = ReleaseTag::from_name(&t.label, prefix).or_else(|| {
        crate::version::parse_tag(&t.label, prefix)
            .ok()
            .and_then(|n| ReleaseTag::from_name(&n, prefix))
    }) {
        if !tags.iter().any(|x| x.name == named.name) {
            tags.push(named);
        }
    }
    live::observe(ctx, &t.sha, &tags, production_sha, Some(COOLIFY_BUDGET)).await
}

async fn after_deploy(
    ctx: &Context,
    target: Option<&std::result::Result<Target, String>>,
) -> Vec<Item> {
    let p = "after-deploy";
    let names = [
        "API health endpoint returns 200",
        "Web app responds normally",
        "/api/version commit SHA matches expected commit",
        "Smoke test: login + one critical business flow",
    ];
    let sha = match target {
        Some(Ok(t)) => t.sha.clone(),
        Some(Err(why)) => {
            return names
                .iter()
                .map(|n| Item::auto(p, n, false, format!("cannot resolve the commit: {why}")))
                .collect();
        }
        None => {
            return names
                .iter()
                .map(|n| Item::auto(p, n, false, "no commit to check"))
                .collect();
        }
    };
    let t = target.and_then(|t| t.as_ref().ok());
    if ctx.settings.verify.version_url.is_none() {
        // Unset is manual, not a failure; the apps alone say whether it is live.
        let mut items: Vec<Item> = names
            .iter()
            .map(|n| {
                Item::manual(
                    p,
                    n,
                    "verify.version_url is not set: check by hand, or set [verify] version_url (and health_url, web_url, smoke) to automate it",
                )
            })
            .collect();
        if let Some(t) = t {
            let seen = observe_release(ctx, t, None).await;
            items.insert(3, live_item(&seen, false));
        }
        return items;
    }
    let prober = match ctx.prober(&sha) {
        Ok(pr) => pr,
        Err(e) => {
            return names
                .iter()
                .map(|n| Item::auto(p, n, false, e.message.clone()))
                .collect();
        }
    };
    ctx.ui.progress(&format!(
        "probing production (expecting {})…",
        crate::version::short_sha(&sha)
    ));
    let checks = prober.attempt(&[]).await;
    let find = |n: &str| checks.iter().find(|c| c.name == n);
    let probe_item = |name: &str, check: &str, key: &str| match find(check) {
        None => Item::manual(p, name, &format!("verify.{key} is not set: check by hand")),
        Some(c) => Item::auto(p, name, c.ok, c.detail.clone()),
    };
    let mut items = vec![
        probe_item(names[0], "health", "health_url"),
        probe_item(names[1], "web", "web_url"),
        match find("version") {
            None => Item::manual(p, names[2], "verify.version_url is not set"),
            Some(c) => Item::auto(
                p,
                names[2],
                c.ok,
                format!(
                    "{} (expected {})",
                    c.detail,
                    crate::version::short_sha(&sha)
                ),
            ),
        },
    ];
    let production_sha = find("version").and_then(|c| c.running_sha.clone());
    if let Some(t) = t {
        let seen = observe_release(ctx, t, production_sha.as_deref()).await;
        items.push(live_item(&seen, true));
    }
    let smoke: Vec<&probe::Check> = checks
        .iter()
        .filter(|c| c.name.starts_with("smoke: "))
        .collect();
    items.push(if smoke.is_empty() {
        Item::manual(
            p,
            names[3],
            "no [[verify.smoke]] steps configured: check by hand",
        )
    } else {
        let evidence = smoke
            .iter()
            .map(|c| {
                format!(
                    "{} {}",
                    c.name.trim_start_matches("smoke: "),
                    if c.ok {
                        "passed".to_owned()
                    } else if c.skipped {
                        "skipped".to_owned()
                    } else {
                        format!("failed ({})", c.detail)
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let failed = smoke.iter().any(|c| !c.ok && !c.skipped);
        let skipped = smoke.iter().any(|c| c.skipped);
        let mut item = Item::auto(p, names[3], !failed && !skipped, evidence);
        if skipped && !failed {
            item.status = "skipped";
            item.evidence
                .push_str(" (the probes above must pass first)");
        }
        item
    });
    items
}

/// The after-deploy item SPEC §7.4 adds: the release is live on every app
/// (a mixed release fails it, naming the apps).
/// With `production_configured` false (no `verify.version_url`), the apps
/// alone decide (SPEC §8.1: only the configured parts decide "live").
fn live_item(seen: &Observation, production_configured: bool) -> Item {
    let p = "after-deploy";
    let name = LIVE_ITEM;
    if matches!(seen.apps, AppsRead::NotConfigured) {
        let how = if production_configured {
            "coolify is not configured: check that every app runs the release by hand"
        } else {
            "neither coolify nor verify.version_url is configured: check that every app runs the release by hand"
        };
        return Item::manual(p, name, how);
    }
    let Some(live) = &seen.live else {
        return Item::auto(
            p,
            name,
            false,
            format!("cannot tell: {}", seen.apps_unknown().unwrap_or_default()),
        );
    };
    let apps = live
        .apps
        .iter()
        .map(|a| format!("{} {}", a.app, a.detail()))
        .collect::<Vec<_>>()
        .join("; ");
    let all_on = !live.apps.is_empty() && live.apps.iter().all(|a| a.place == AppPlace::OnRelease);
    match &live.state {
        Liveness::Live => Item::auto(p, name, true, format!("live: {apps}")),
        Liveness::Unknown { .. } if !production_configured && all_on => Item::auto(
            p,
            name,
            true,
            format!(
                "every app is on it: {apps} (verify.version_url is not set: production's SHA not checked)"
            ),
        ),
        Liveness::Mixed { elsewhere, failed } => {
            let off: Vec<&str> = elsewhere.iter().chain(failed).map(String::as_str).collect();
            Item::auto(
                p,
                name,
                false,
                format!(
                    "the release is MIXED ({} not on it): {apps}",
                    off.join(", ")
                ),
            )
        }
        Liveness::NotYet => Item::auto(p, name, false, format!("not live yet: {apps}")),
        Liveness::Unknown { why } => {
            Item::auto(p, name, false, format!("cannot tell ({why}): {apps}"))
        }
    }
}

/// The items as one table per phase (manual items marked `[ ]`).
fn item_lines(ui: &Ui, items: &[Item]) -> Vec<String> {
    let mut out = Vec::new();
    let mut phase = "";
    let mut rows: Vec<Vec<String>> = Vec::new();
    let flush = |rows: &mut Vec<Vec<String>>, out: &mut Vec<String>| {
        out.extend(ui::table(rows));
        rows.clear();
    };
    for i in items {
        if i.phase != phase {
            flush(&mut rows, &mut out);
            phase = i.phase;
            out.push(ui.paint(Tone::Bold, phase));
        }
        let tone = match i.status {
            "pass" => Tone::Ok,
            "fail" => Tone::Fail,
            "skipped" | "not_due" => Tone::Dim,
            _ => Tone::Warn,
        };
        let mark = if i.status == "manual" {
            "[ ]".to_owned()
        } else {
            ui.mark(tone)
        };
        rows.push(vec![
            format!("  {mark}"),
            i.name.clone(),
            i.evidence.clone(),
        ]);
    }
    flush(&mut rows, &mut out);
    out
}

/// The checklist as a Markdown table for the GitHub Actions job summary.
fn summary_md(items: &[Item]) -> String {
    let mut md = String::from(
        "### almarel checklist\n\n| phase | item | status | evidence |\n|---|---|---|---|\n",
    );
    for i in items {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            i.phase,
            i.name,
            i.status,
            i.evidence.replace('|', "\\|")
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_ref_means_every_phase() {
        let (p, named, r) = phases_and_ref(None, None).unwrap();
        assert_eq!((p.len(), named, r), (4, false, None));
        let (p, named, r) = phases_and_ref(Some("after-deploy"), Some("v1.2.3")).unwrap();
        assert_eq!(
            (p, named, r.as_deref()),
            (vec!["after-deploy"], true, Some("v1.2.3"))
        );
        let (p, named, r) = phases_and_ref(Some("v1.2.3"), None).unwrap();
        assert_eq!((p.len(), named, r.as_deref()), (4, false, Some("v1.2.3")));
        let (_, _, r) = phases_and_ref(Some("1a2b3c4"), None).unwrap();
        assert_eq!(r.as_deref(), Some("1a2b3c4"));
        let e = phases_and_ref(Some("after-lunch"), None).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Usage);
        assert!(phases_and_ref(Some("v1.2.3"), Some("v1.2.4")).is_err());
    }

    #[test]
    fn failed_tag_checks_carry_their_fix_as_evidence() {
        let c = Check {
            name: "clean".into(),
            ok: false,
            detail: "working tree has 1 changed file".into(),
            fix: Some("commit or stash them".into()),
        };
        let i = Item::from_check("before-tag", "Working tree is clean", &c);
        assert_eq!((i.kind, i.status), ("automated", "fail"));
        assert_eq!(
            i.evidence,
            "working tree has 1 changed file → commit or stash them"
        );
    }
}
