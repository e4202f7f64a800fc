//! `almarel rollback`: the runbook's "If something goes wrong" 1–4 as one
//! command (SPEC §3 rollback).
//!
//! Everything is read and checked before any change: the target (`--to`, else
//! the newest final release tag older than the one production runs, read
//! from `verify.version_url` and the clone's release tags), the migration
//! files changed between the two (refused unless `--allow-migrations`), the
//! Coolify apps ([`deploy::prepare`]) and the probes. When production already
//! runs the target on every app, nothing is sent (exit 0; next: verify). The
//! plan is printed and confirmed; `--dry-run` stops there. Then, each step
//! printed as it happens, under one write-ahead audit entry and with the
//! journal's resume command set to `rollback --to <target>` (SPEC §7.3):
//! (1) freeze through [`crate::release::freeze::freeze_for`] (unless `--no-freeze`);
//! (2) deploy the target through [`deploy::deploy_apps`], without deploy's
//! gates (a rollback is the one deploy a freeze allows); (3) verify the
//! target's commit through [`probe::verify`], waiting up to `--wait`; (4)
//! summary and next steps. A failing step names the steps already done and
//! the command that continues. The result is a [`RollbackReport`].

use std::time::Duration;

use serde::Serialize;

use crate::audit::{Actor, AuditEntry};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::git::Repo;
use crate::probe;
use crate::release::deploy::{self, AppResult, AppsReport, DeployPlan, DeploymentEntry, Prepared};
use crate::release::progress::{DeployProgress, probe_lines, show_failures, table_lines};
use crate::release::target::render_image_tag;
use crate::report::{Next, PlanItem, Report};
use crate::settings::CoolifyApp;
use crate::ui::{self, Tone, Ui};
use crate::version::{ReleaseTag, preferred_tag};

/// Pause between verify attempts.
const VERIFY_INTERVAL: Duration = Duration::from_secs(5);
/// How many migration files the refusal message names before "… N more".
const MAX_FILES: usize = 10;

/// What `almarel rollback` is asked to do (resolved from the flags by
/// [`crate::resolve::rollback`]).
#[derive(Debug, Clone)]
pub struct Request {
    /// `--to TAG`: the release to go back to (else the one before production's).
    pub to: Option<ReleaseTag>,
    /// Every configured app.
    pub apps: Vec<CoolifyApp>,
    /// `--allow-migrations`.
    pub allow_migrations: bool,
    /// Freeze first (false with `--no-freeze`).
    pub freeze: bool,
    /// `--wait`: how long verify waits for production to switch.
    pub wait: Duration,
    /// `--image-tag`: the template the target shipped under, when not `coolify.image_tag`.
    pub image_tag: Option<String>,
    /// `--timeout` for the deploy step.
    pub timeout: Duration,
}

/// What production runs now.
#[derive(Debug, Clone, Serialize)]
pub struct Current {
    /// Full commit SHA.
    pub sha: String,
    /// Its preferred release tag (final over rc), when it carries one.
    #[serde(serialize_with = "tag_name")]
    pub tag: Option<ReleaseTag>,
    /// Where it was read from (`verify.version_url`, or `coolify image tag`).
    pub source: String,
}

fn tag_name<S: serde::Serializer>(
    t: &Option<ReleaseTag>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.name),
        None => s.serialize_none(),
    }
}

impl Current {
    fn describe(&self) -> String {
        match &self.tag {
            Some(t) => format!("{} ({})", t.name, crate::version::short_sha(&self.sha)),
            None => format!("{} (no release tag)", crate::version::short_sha(&self.sha)),
        }
    }
}

/// The release to go back to.
#[derive(Debug, Clone)]
struct TargetRelease {
    tag: ReleaseTag,
    sha: String,
}

/// The target as `--json` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetOut {
    /// The release tag.
    pub tag: String,
    /// Its commit.
    pub sha: String,
}

/// The verify step's result.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyOut {
    /// How many attempts were made.
    pub attempts: u32,
    /// The checks of the last attempt.
    pub checks: Vec<probe::Check>,
}

/// The result of `almarel rollback` (its `--json` object; see `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct RollbackReport {
    /// What production ran (`null` when unknown).
    pub current: Option<Current>,
    /// The release rolled back to.
    pub target: TargetOut,
    /// The image tag every app gets.
    pub image_tag: String,
    /// Migration files changed between target and current (`null`: not checked).
    pub migrations: Option<Vec<String>>,
    /// `rollback.migration_paths`.
    pub migration_paths: Vec<String>,
    /// `--allow-migrations`.
    pub allow_migrations: bool,
    /// Commits undone (when the clone has production's commit).
    pub commits_undone: Option<usize>,
    /// Production already ran the target on every app: nothing was sent.
    pub already_running: bool,
    /// The steps, in order (`freeze`, then the deploy writes, then `verify`).
    pub plan: Vec<PlanItem>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// The steps completed (`freeze`, `deploy`, `verify`).
    pub steps: Vec<String>,
    /// Each app's result (after the deploy step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apps: Option<Vec<AppResult>>,
    /// `[{app, uuid, status}]` of the deploy step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployments: Option<Vec<DeploymentEntry>>,
    /// The verify step's checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyOut>,
    /// On failure: the step that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    /// On failure: the command that continues from there.
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_with: Option<String>,
    #[serde(skip)]
    lines: Vec<String>,
    #[serde(skip)]
    next: Option<Next>,
    #[serde(skip)]
    done: bool,
}

impl Report for RollbackReport {
    fn render(&self, ui: &Ui) {
        for l in &self.lines {
            ui.result(l);
        }
    }
    fn next(&self) -> Option<Next> {
        self.next.clone()
    }
    fn outputs(&self) -> Vec<(&'static str, String)> {
        if self.dry_run || !(self.done || self.already_running) {
            return Vec::new();
        }
        let version = self
            .target
            .tag
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .to_owned();
        vec![
            ("tag", self.target.tag.clone()),
            ("sha", self.target.sha.clone()),
            ("version", version),
        ]
    }
    fn summary(&self) -> Option<String> {
        if self.dry_run || !(self.done || self.already_running) {
            return None;
        }
        let short = crate::version::short_sha(&self.target.sha);
        Some(if self.already_running {
            format!(
                "### almarel rollback\n\nProduction already ran `{}` (`{short}`, image tag `{}`) on every app: nothing was changed.\n",
                self.target.tag, self.image_tag
            )
        } else {
            format!(
                "### almarel rollback\n\nProduction runs `{}` (`{short}`, image tag `{}`) again.\n\nNext: fix forward, then `almarel unfreeze`.\n",
                self.target.tag, self.image_tag
            )
        })
    }
}

/// Runs `almarel rollback`.
pub async fn run(ctx: &Context, req: &Request) -> Result<RollbackReport> {
    let s = &ctx.settings;
    let prefix = s.git.tag_prefix.clone();
    let dry_run = s.global.dry_run;
    let ui = &ctx.ui;

    // Everything that fails without a request first.
    let repo = Repo::discover(&s.workdir)?;
    let client = ctx.coolify()?;
    let gh = if req.freeze {
        Some(ctx.github().await?)
    } else {
        None
    };
    let release = repo.release_tags(&prefix)?;

    // The apps as they are (nothing changed): their configured image tag is
    // the fallback for "what production runs" when the version URL is down.
    let mut plan = DeployPlan::new("deploy", "", "", req.apps.clone(), req.timeout);
    ui.progress(&format!(
        "reading the Coolify apps on {}…",
        client.base_url()
    ));
    let mut prepared = deploy::prepare(&client, &plan).await?;

    // (a) What production runs, and the target.
    ui.progress("reading what production runs…");
    let current = read_current(ctx, &repo, &release, &prepared, req.to.is_some()).await?;
    // The release production runs tells what an app last finished deploying
    // when its own build logs cannot (they need read:sensitive).
    if let Some((t, sha)) = current
        .as_ref()
        .filter(|c| c.source == "verify.version_url")
        .and_then(|c| c.tag.as_ref().map(|t| (t, &c.sha)))
    {
        if let Ok(it) = render_image_tag(
            "coolify.image_tag",
            &s.coolify.image_tag,
            Some(t),
            Some(sha),
        ) {
            for a in &mut prepared.apps {
                if let deploy::LastFinished::Unknown(_) = a.last_finished {
                    a.last_finished = deploy::LastFinished::Known(
                        Some(it.clone()),
                        "the release production runs".into(),
                    );
                }
            }
            plan.production_image_tag = Some(it);
        }
    }
    let target = choose_target(ctx, &repo, &release, current.as_ref(), req)?;
    if target.tag.is_prerelease() {
        ui.warn(&format!(
            "{} is a pre-release; rolling back to it because --to names it",
            target.tag.name
        ));
    }
    let image_tag = match &req.image_tag {
        Some(t) => render_image_tag("--image-tag", t, Some(&target.tag), Some(&target.sha))?,
        None => render_image_tag(
            "coolify.image_tag",
            &s.coolify.image_tag,
            Some(&target.tag),
            Some(&target.sha),
        )?,
    };
    // The probes' own checks (usage errors) before any change.
    let prober = ctx.prober(&target.sha)?;
    plan.target = target.tag.name.clone();
    plan.image_tag = image_tag.clone();
    plan.audit_details = serde_json::to_value(DeployAudit {
        tag: target.tag.name.clone(),
        sha: target.sha.clone(),
        via: "rollback",
    })
    .unwrap_or_default();

    let mut report = RollbackReport {
        current: current.clone(),
        target: TargetOut {
            tag: target.tag.name.clone(),
            sha: target.sha.clone(),
        },
        image_tag: image_tag.clone(),
        migrations: None,
        migration_paths: s.rollback.migration_paths.clone(),
        allow_migrations: req.allow_migrations,
        commits_undone: None,
        already_running: false,
        plan: Vec::new(),
        dry_run,
        steps: Vec::new(),
        apps: None,
        deployments: None,
        verify: None,
        failed_step: None,
        continue_with: None,
        lines: Vec::new(),
        next: None,
        done: false,
    };

    // Already there: production's SHA is the target's and every app is on
    // its image tag with its last deployment finished. Nothing to send.
    let on_target = current
        .as_ref()
        .is_some_and(|c| c.source == "verify.version_url" && c.sha == target.sha);
    let not_all_on = prepared.not_all_on(&image_tag);
    if let (true, Some(why)) = (on_target, &not_all_on) {
        ui.warn(&format!(
            "production's version endpoint already reports {} ({}), but {why}: deploying every app again",
            target.tag.name,
            crate::version::short_sha(&target.sha)
        ));
    }
    if on_target && not_all_on.is_none() {
        report.already_running = true;
        report.lines.push(format!(
            "{} production already runs {} ({}) on every app ({}): nothing to roll back; nothing was changed",
            ui.mark(Tone::Ok),
            target.tag.name,
            crate::version::short_sha(&target.sha),
            prepared
                .apps
                .iter()
                .map(|a| a.app.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        report.next = Some(Next::new([
            "verify",
            "--expect-tag",
            target.tag.name.as_str(),
        ]));
        if !dry_run {
            let actor = actor(&repo, gh.as_ref()).await;
            ctx.audit_already_done(
                "rollback",
                &target.tag.name,
                actor,
                &format!("production already runs {}", target.tag.name),
                serde_json::to_value(RollbackAudit {
                    sha: target.sha.clone(),
                    from_sha: current.as_ref().map(|c| c.sha.clone()),
                    from_tag: current
                        .as_ref()
                        .and_then(|c| c.tag.as_ref().map(|t| t.name.clone())),
                    steps_done: Vec::new(),
                    froze: false,
                })
                .unwrap_or_default(),
            );
        }
        return Ok(report);
    }

    // (b) Migrations between the target and the current release.
    let migrations: Option<Vec<String>> = match &current {
        Some(c) if !s.rollback.migration_paths.is_empty() => {
            Some(repo.changed_files(&target.sha, &c.sha, &s.rollback.migration_paths)?)
        }
        _ => None,
    };
    report.migrations = migrations.clone();

    // Freeze plan.
    let (freeze_line, workflow) = match &gh {
        None => ("skipped (--no-freeze)".to_owned(), None),
        Some(gh) => {
            let wf = gh.workflow(&s.github.deploy_workflow).await?;
            let line = if gh.is_frozen().await? {
                format!(
                    "releases are already frozen ({} is disabled); reject any waiting {} deployment",
                    wf.name, s.github.environment
                )
            } else {
                format!(
                    "disable workflow {} and reject waiting {} deployments",
                    wf.name, s.github.environment
                )
            };
            (line, Some(wf.name))
        }
    };
    let reason = format!(
        "rollback to {} from {}",
        target.tag.name,
        current
            .as_ref()
            .map(|c| c.tag.as_ref().map_or_else(
                || crate::version::short_sha(&c.sha).to_owned(),
                |t| t.name.clone()
            ))
            .unwrap_or_else(|| "an unknown release".into())
    );
    let deploy_items = prepared.plan(&plan);
    let writes = prepared.planned_writes(&plan);
    report.commits_undone = match &current {
        Some(c) if repo.has_commit(&c.sha) => repo
            .commits_between(Some(&target.sha), &c.sha)
            .map(|v| v.len())
            .ok(),
        _ => None,
    };
    report.plan.push(PlanItem {
        action: "freeze".into(),
        target: workflow
            .clone()
            .unwrap_or_else(|| s.github.deploy_workflow.clone()),
        detail: freeze_line.clone(),
    });
    report.plan.extend(deploy_items);
    report.plan.push(PlanItem {
        action: "verify".into(),
        target: target.sha.clone(),
        detail: format!(
            "production runs {} (waiting up to {})",
            target.sha,
            humantime::format_duration(req.wait)
        ),
    });
    print_plan(
        ctx,
        &PlanView {
            current: current.as_ref(),
            target: &target,
            migrations: migrations.as_deref(),
            commits_undone: report.commits_undone,
            image_tag: &image_tag,
            freeze_line: &freeze_line,
            writes: &writes,
            wait: req.wait,
            reason: &reason,
        },
    );

    // Refusals: nothing changed, not even a freeze.
    if let Some(files) = migrations.as_deref().filter(|f| !f.is_empty()) {
        if !req.allow_migrations {
            let mut shown: Vec<&str> = files.iter().take(MAX_FILES).map(String::as_str).collect();
            let more = files.len().saturating_sub(MAX_FILES);
            let extra = if more > 0 {
                format!(", … {more} more")
            } else {
                String::new()
            };
            if shown.is_empty() {
                shown.push("?");
            }
            let runbook = match &s.rollback.database_runbook {
                Some(r) => format!("follow {r} for the database first"),
                None => {
                    "roll the database back by hand first (rollback.database_runbook is not set)"
                        .to_owned()
                }
            };
            return Err(Error::refused(format!(
                "{} database migration file(s) changed between {} and {}: {}{extra}",
                files.len(),
                target.tag.name,
                current.as_ref().map_or_else(|| "production".into(), Current::describe),
                shown.join(", ")
            ))
            .with_code("migrations")
            .with_hint(format!(
                "the old release may not run on the new schema: {runbook}, then re-run with --allow-migrations (or fix forward); nothing was changed"
            ))
            .with_report(&report));
        }
        ui.warn(&format!(
            "{} migration file(s) changed; rolling back anyway (--allow-migrations)",
            files.len()
        ));
    }

    if dry_run {
        report.lines.push("dry run: nothing was changed".into());
        report.next = Some(continue_command(req, &target, req.freeze));
        return Ok(report);
    }

    ctx.confirm(&format!(
        "roll production back to {} ({}){}?",
        target.tag.name,
        crate::version::short_sha(&target.sha),
        if gh.is_some() {
            ", freezing releases first"
        } else {
            ""
        }
    ))
    .await?;

    let actor = actor(&repo, gh.as_ref()).await;
    plan.actor = actor.clone();
    // From here on an interruption names the exact continuation: the target
    // is decided, so a re-run must not pick "the release before" again.
    ctx.journal
        .set_resume(continue_command(req, &target, req.freeze));
    let freeze_write = gh.as_ref().map(|_| {
        ctx.journal.plan(
            format!("freeze releases ({freeze_line})"),
            Some("almarel status".to_owned()),
        )
    });
    let deploy_write = ctx.journal.plan(
        format!(
            "deploy {} (image tag {image_tag}) to {}",
            target.tag.name,
            app_names(&prepared)
        ),
        Some(Next::new(["status", target.tag.name.as_str()]).to_string()),
    );
    let entry = ctx.audit_start(
        "rollback",
        &target.tag.name,
        actor,
        audit_details(&target, current.as_ref(), &[], false),
    )?;
    let mut run = Run {
        ctx,
        req,
        target: &target,
        current: current.as_ref(),
        entry: Some(entry),
        steps: Vec::new(),
        froze: false,
    };

    // (1) Freeze.
    if let (Some(gh), Some(id)) = (&gh, freeze_write) {
        ui.progress("step 1/4: freeze");
        let w = ctx.journal.start(id);
        match crate::release::freeze::freeze_for(ctx, gh, &reason).await {
            Ok(done) if done.is_empty() => {
                w.done();
                step_line(
                    ctx,
                    "1/4 freeze",
                    "releases were already frozen; nothing was waiting",
                );
            }
            Ok(done) => {
                w.done();
                for d in &done {
                    step_line(ctx, "1/4 freeze", d);
                }
            }
            Err(e) => {
                w.failed(&e.message);
                return Err(run.fail(1, "freeze", e, report));
            }
        }
        run.froze = true;
        run.steps.push("freeze".into());
        // The freeze is done: continuing must not freeze again.
        ctx.journal
            .set_resume(continue_command(req, &target, false));
    } else {
        step_line(ctx, "1/4 freeze", "skipped (--no-freeze)");
    }

    // (2) Deploy (no gates: this is the deploy a freeze allows).
    ui.progress(&format!(
        "step 2/4: deploy {} (image tag {image_tag})",
        target.tag.name
    ));
    let w = ctx.journal.start(deploy_write);
    let progress = DeployProgress::new(ui, &prepared.apps);
    let step = deploy::deploy_apps(ctx, &client, &plan, &prepared, &|e| progress.show(e)).await;
    progress.clear();
    let step = match step {
        Ok(step) => step,
        Err(e) => {
            w.failed(&e.message);
            return Err(run.fail(2, "deploy", e, report));
        }
    };
    show_failures(ui, &step);
    for l in table_lines(ui, &step, "  ") {
        ui.result(&l);
    }
    report.apps = Some(step.results());
    report.deployments = Some(step.deployments());
    if let Err(e) = step.result(&plan) {
        w.failed(&e.message);
        return Err(run.fail(2, "deploy", e, report));
    }
    w.done();
    step_line(
        ctx,
        "2/4 deploy",
        &format!("{} finished on {}", image_tag, step_app_names(&step)),
    );
    run.steps.push("deploy".into());
    // Deployed: what continues from here is the verify.
    ctx.journal.set_resume(verify_command(&target, req.wait));

    // (3) Verify.
    ui.progress(&format!(
        "step 3/4: verify that production runs {} ({}), waiting up to {}",
        target.tag.name,
        crate::version::short_sha(&target.sha),
        humantime::format_duration(req.wait)
    ));
    let verify_ui = ui.clone();
    let checked = probe::verify(&prober, req.wait, VERIFY_INTERVAL, |n, checks| {
        let failing: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok && !c.skipped)
            .map(|c| format!("{} ({})", c.name, c.detail))
            .collect();
        verify_ui.progress(&format!(
            "verify attempt {n}: failing: {}",
            failing.join(", ")
        ));
    })
    .await;
    for l in probe_lines(ui, &checked, "  ") {
        ui.result(&l);
    }
    if checked.attempts > 1 {
        ui.progress(&format!("{} attempts", checked.attempts));
    }
    report.verify = Some(VerifyOut {
        attempts: checked.attempts,
        checks: checked.checks.clone(),
    });
    if !checked.passed() {
        let names: Vec<String> = checked.failing().iter().map(|c| c.name.clone()).collect();
        let e = Error::failed(format!(
            "production does not pass the checks for {} after {}: failing {}",
            target.tag.name,
            humantime::format_duration(req.wait),
            names.join(", ")
        ));
        return Err(run.fail(3, "verify", e, report));
    }
    step_line(
        ctx,
        "3/4 verify",
        &format!("all {} checks passed", checked.checks.len()),
    );
    run.steps.push("verify".into());

    // (4) Summary.
    run.finish(Ok(()));
    report.steps = run.steps.clone();
    report.done = true;
    report.lines.push(format!(
        "{} rolled back: production runs {} ({}){}",
        ui.mark(Tone::Ok),
        target.tag.name,
        crate::version::short_sha(&target.sha),
        current
            .as_ref()
            .map(|c| format!(" instead of {}", c.describe()))
            .unwrap_or_default()
    ));
    if run.froze {
        report
            .lines
            .push("releases stay frozen until you run `almarel unfreeze`".into());
        report.lines.push(
            "fix forward on main and tag the fix (`almarel tag`), then resume releases:".into(),
        );
        report.next = Some(Next::new(["unfreeze"]));
    } else {
        // --no-freeze: frozen or not is GitHub's to say (a resumed rollback
        // froze in its first run; a colleague may have frozen meanwhile).
        let frozen = match ctx.github().await {
            Ok(gh) => crate::release::freeze::state(&gh, &s.github.deploy_workflow)
                .await
                .ok()
                .map(|st| st.frozen()),
            Err(_) => None,
        };
        match frozen {
            Some(true) => {
                report
                    .lines
                    .push("releases are frozen (not by this run): they stay frozen until you run `almarel unfreeze`".into());
                report.lines.push(
                    "fix forward on main and tag the fix (`almarel tag`), then resume releases:"
                        .into(),
                );
                report.next = Some(Next::new(["unfreeze"]));
            }
            Some(false) => {
                ui.warn("releases are not frozen: the next deploy of main replaces this rollback");
                report
                    .lines
                    .push("fix forward on main and tag the fix with `almarel tag`".into());
            }
            None => {
                ui.warn("this rollback did not freeze releases (--no-freeze), and whether they are frozen could not be read: unless they are, the next deploy of main replaces it (`almarel status` says)");
                report
                    .lines
                    .push("fix forward on main and tag the fix with `almarel tag`".into());
            }
        }
    }
    if let Some(r) = &s.rollback.staging_data_runbook {
        report.lines.push(format!(
            "staging data: follow {r} if staging needs production's data"
        ));
    }
    Ok(report)
}

/// What the audit log's deploy lines of a rollback carry.
#[derive(Serialize)]
struct DeployAudit {
    tag: String,
    sha: String,
    via: &'static str,
}

/// What the audit log's rollback line carries.
#[derive(Serialize)]
struct RollbackAudit {
    sha: String,
    from_sha: Option<String>,
    from_tag: Option<String>,
    steps_done: Vec<String>,
    froze: bool,
}

fn audit_details(
    target: &TargetRelease,
    current: Option<&Current>,
    steps: &[String],
    froze: bool,
) -> serde_json::Value {
    serde_json::to_value(RollbackAudit {
        sha: target.sha.clone(),
        from_sha: current.map(|c| c.sha.clone()),
        from_tag: current.and_then(|c| c.tag.as_ref().map(|t| t.name.clone())),
        steps_done: steps.to_vec(),
        froze,
    })
    .unwrap_or_default()
}

/// Who rolls back: the clone's git identity and the token's GitHub login.
async fn actor(repo: &Repo, gh: Option<&crate::github::Client>) -> Actor {
    Actor {
        git: repo.identity().map(|i| i.to_string()),
        github: match gh {
            Some(gh) => gh.current_user().await.ok().map(|u| u.login),
            None => None,
        },
    }
}

/// State of a rollback in progress: what was done, for failures and the audit line.
struct Run<'a> {
    ctx: &'a Context,
    req: &'a Request,
    target: &'a TargetRelease,
    current: Option<&'a Current>,
    entry: Option<AuditEntry>,
    steps: Vec<String>,
    froze: bool,
}

impl Run<'_> {
    /// Writes the outcome line of the rollback's audit entry.
    fn finish(&mut self, result: std::result::Result<(), &str>) {
        if let Some(entry) = self.entry.take() {
            entry.set_details(audit_details(
                self.target,
                self.current,
                &self.steps,
                self.froze,
            ));
            if let Err(e) = entry.finish(result) {
                self.ctx
                    .ui
                    .warn(&format!("audit log not written: {}", e.message));
            }
        }
    }

    /// Step `n` failed: audit it, say what was done and what continues.
    fn fail(&mut self, n: usize, name: &str, e: Error, mut report: RollbackReport) -> Error {
        self.finish(Err(&format!("{name}: {}", e.message)));
        let done = if self.steps.is_empty() {
            "no step was completed".to_owned()
        } else {
            format!("done: {}", self.steps.join(", "))
        };
        let next = match n {
            3 => verify_command(self.target, self.req.wait),
            _ => continue_command(self.req, self.target, self.req.freeze && !self.froze),
        };
        // On the environment this rollback acted on (a staging rollback's
        // continuation must not roll back production).
        let next = crate::release::environments::next_with_env(&self.ctx.settings, next);
        report.steps = self.steps.clone();
        report.failed_step = Some(name.to_owned());
        report.continue_with = Some(next.to_string());
        let mut hint = format!("{done}; continue with: {next}");
        if let Some(h) = e.hint() {
            hint = format!("{h}; {hint}");
        }
        self.ctx.ui.next(&next.to_string());
        let mut err = Error::new(
            e.kind,
            format!("rollback step {n}/4 ({name}) failed: {}", e.message),
        )
        .with_hint(hint)
        .with_report(&report);
        err.code = e.code;
        err
    }
}

/// The verify that continues a rollback whose deploy step is done.
fn verify_command(target: &TargetRelease, wait: Duration) -> Next {
    Next::new([
        "verify".to_owned(),
        "--expect-sha".to_owned(),
        target.sha.clone(),
        "--wait".to_owned(),
        // A deploy can take a while to switch over: never suggest 0s.
        humantime::format_duration(wait.max(Duration::from_secs(300))).to_string(),
    ])
}

/// The command that runs the rollback (again) with the target already
/// decided: from the deploy step, or from the start when `freeze` is true.
fn continue_command(req: &Request, target: &TargetRelease, freeze: bool) -> Next {
    let mut words = vec![
        "rollback".to_owned(),
        "--to".to_owned(),
        target.tag.name.clone(),
    ];
    if !freeze {
        words.push("--no-freeze".into());
    }
    if req.allow_migrations {
        words.push("--allow-migrations".into());
    }
    if let Some(t) = &req.image_tag {
        words.extend(["--image-tag".to_owned(), t.clone()]);
    }
    Next::new(words)
}

/// What production runs: `verify.version_url`'s SHA, resolved in the clone;
/// when that endpoint cannot be read, the release whose image tag every
/// Coolify app is configured with (a warning says so). `None` when neither
/// tells and `--to` was given (the migration check then needs
/// `--allow-migrations`).
async fn read_current(
    ctx: &Context,
    repo: &Repo,
    release: &[(ReleaseTag, String)],
    prepared: &Prepared,
    have_to: bool,
) -> Result<Option<Current>> {
    let prefix = &ctx.settings.git.tag_prefix;
    let tags_at = |sha: &str| -> Vec<ReleaseTag> {
        release
            .iter()
            .filter(|(_, s)| s == sha)
            .map(|(t, _)| t.clone())
            .collect()
    };
    match probe::running_sha(&ctx.settings.verify).await {
        Ok(sha) => {
            let full = repo.resolve_commit(&sha, prefix).map_err(|_| {
                Error::refused(format!(
                    "production runs {sha}, a commit this clone does not have"
                ))
                .with_hint(format!(
                    "git fetch {} --tags, then re-run",
                    ctx.settings.git.remote
                ))
            })?;
            let tags = tags_at(&full);
            Ok(Some(Current {
                tag: preferred_tag(&tags).cloned(),
                sha: full,
                source: "verify.version_url".into(),
            }))
        }
        Err(e) if e.kind == crate::error::Kind::Usage => Err(e),
        Err(e) => {
            // Production may be down: that is when rollbacks happen.
            let configured: Vec<&str> = prepared
                .apps
                .iter()
                .filter_map(|a| a.previous_tag.as_deref())
                .collect();
            let same = configured.first().copied().filter(|first| {
                configured.len() == prepared.apps.len() && configured.iter().all(|t| t == first)
            });
            let from_coolify = same.and_then(|image| {
                release.iter().find(|(t, sha)| {
                    render_image_tag(
                        "coolify.image_tag",
                        &ctx.settings.coolify.image_tag,
                        Some(t),
                        Some(sha),
                    )
                    .is_ok_and(|r| r == image)
                })
            });
            match from_coolify {
                Some((t, sha)) => {
                    ctx.ui.warn(&format!(
                        "{}; taking the current release from the image tag the Coolify apps are configured with: {}",
                        e.message, t.name
                    ));
                    let tags = tags_at(sha);
                    Ok(Some(Current {
                        tag: preferred_tag(&tags).cloned().or_else(|| Some(t.clone())),
                        sha: sha.clone(),
                        source: "coolify image tag".into(),
                    }))
                }
                None if have_to => {
                    ctx.ui.warn(&format!(
                        "{}; the current release is unknown, so migrations cannot be checked",
                        e.message
                    ));
                    Ok(None)
                }
                None => Err(e.with_hint(
                    "production's version endpoint does not answer: pass --to TAG (the release to go back to)",
                )),
            }
        }
    }
}

/// `--to`, else the newest final release tag older than production's.
fn choose_target(
    ctx: &Context,
    repo: &Repo,
    release: &[(ReleaseTag, String)],
    current: Option<&Current>,
    req: &Request,
) -> Result<TargetRelease> {
    let recent = || {
        let finals: Vec<&str> = release
            .iter()
            .rev()
            .filter(|(t, _)| !t.is_prerelease())
            .take(3)
            .map(|(t, _)| t.name.as_str())
            .collect();
        if finals.is_empty() {
            String::new()
        } else {
            format!(" (recent releases: {})", finals.join(", "))
        }
    };
    if let Some(tag) = &req.to {
        let name = &tag.name;
        let sha = repo.resolve_tag(name)?.ok_or_else(|| {
            Error::usage(format!("no tag {name} in this clone")).with_hint(format!(
                "git fetch {} tag {name}, or check the name{}",
                ctx.settings.git.remote,
                recent()
            ))
        })?;
        let tag = tag.clone();
        return Ok(TargetRelease { tag, sha });
    }
    let Some(current) = current else {
        return Err(Error::refused("cannot tell which release production runs")
            .with_code("current_unknown")
            .with_hint(format!("pass --to TAG{}", recent())));
    };
    let Some(cur_tag) = &current.tag else {
        return Err(Error::refused(format!(
            "production runs {}, which carries no release tag: there is no \"previous release\" to pick",
            crate::version::short_sha(&current.sha)
        ))
        .with_code("current_untagged")
        .with_hint(format!(
            "pass --to TAG with the release to go back to{} (and --image-tag if it shipped as {})",
            recent(),
            ctx.settings.coolify.untagged_image_tag
        )));
    };
    release
        .iter()
        .filter(|(t, sha)| !t.is_prerelease() && t.version < cur_tag.version && *sha != current.sha)
        .max_by(|a, b| a.0.version.cmp(&b.0.version))
        .map(|(t, sha)| TargetRelease {
            tag: t.clone(),
            sha: sha.clone(),
        })
        .ok_or_else(|| {
            Error::refused(format!(
                "no final release older than {} to roll back to",
                cur_tag.name
            ))
            .with_code("no_older_release")
            .with_hint("pass --to TAG, or fix forward")
        })
}

struct PlanView<'a> {
    current: Option<&'a Current>,
    target: &'a TargetRelease,
    migrations: Option<&'a [String]>,
    commits_undone: Option<usize>,
    image_tag: &'a str,
    freeze_line: &'a str,
    writes: &'a [String],
    wait: Duration,
    reason: &'a str,
}

fn print_plan(ctx: &Context, p: &PlanView<'_>) {
    let ui = &ctx.ui;
    let s = &ctx.settings;
    let subject = Repo::discover(&s.workdir)
        .ok()
        .and_then(|r| r.commit_info(&p.target.sha).ok())
        .map(|c| format!(" \"{}\"", c.subject))
        .unwrap_or_default();
    ui.result(&format!(
        "{} to {}",
        ui.paint(Tone::Bold, "rollback"),
        ui.paint(Tone::Bold, &p.target.tag.name)
    ));
    let mut rows: Vec<Vec<String>> = Vec::new();
    rows.push(vec![
        "  production".into(),
        match p.current {
            Some(c) => format!("runs {} (from {})", c.describe(), c.source),
            None => "unknown".into(),
        },
    ]);
    rows.push(vec![
        "  target".into(),
        format!(
            "{} {}{subject}",
            p.target.tag.name,
            crate::version::short_sha(&p.target.sha)
        ),
    ]);
    if let Some(n) = p.commits_undone {
        rows.push(vec!["  undoes".into(), format!("{n} commit(s)")]);
    }
    let paths = s.rollback.migration_paths.join(", ");
    rows.push(vec![
        "  migrations".into(),
        match p.migrations {
            None if s.rollback.migration_paths.is_empty() => {
                "not checked: rollback.migration_paths is not set".into()
            }
            None => "not checked: the current release is unknown".into(),
            Some([]) => format!("none changed under {paths}"),
            Some(files) => format!("{} file(s) changed under {paths}:", files.len()),
        },
    ]);
    for line in ui::table(&rows) {
        ui.result(&line);
    }
    if let Some(files) = p.migrations {
        for f in files {
            ui.result(&format!("      {}", ui.paint(Tone::Warn, f)));
        }
    }
    ui.result("steps");
    ui.result(&format!(
        "  1. freeze: {} (reason \"{}\")",
        p.freeze_line, p.reason
    ));
    ui.result(&format!("  2. deploy image tag {}:", p.image_tag));
    for w in p.writes {
        ui.result(&format!("       {w}"));
    }
    ui.result(&format!(
        "  3. verify: health, version = {}, web, smoke (waiting up to {})",
        crate::version::short_sha(&p.target.sha),
        humantime::format_duration(p.wait)
    ));
    ui.result("  4. summary and next steps (fix forward, then `almarel unfreeze`)");
}

fn step_line(ctx: &Context, step: &str, what: &str) {
    ctx.ui
        .result(&format!("{} {step}: {what}", ctx.ui.mark(Tone::Ok)));
}

fn step_app_names(report: &AppsReport) -> String {
    report
        .apps
        .iter()
        .map(|a| a.app.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn app_names(prepared: &Prepared) -> String {
    prepared
        .apps
        .iter()
        .map(|a| a.app.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(freeze: bool, allow: bool, image: Option<&str>) -> Request {
        Request {
            to: None,
            apps: Vec::new(),
            allow_migrations: allow,
            freeze,
            wait: Duration::from_secs(300),
            image_tag: image.map(str::to_owned),
            timeout: Duration::from_secs(1200),
        }
    }

    #[test]
    fn the_continue_command_keeps_the_choices_that_matter() {
        let t = TargetRelease {
            tag: ReleaseTag::from_name("v1.2.2", "v").unwrap(),
            sha: "1a2b3c4".into(),
        };
        assert_eq!(
            continue_command(&req(true, false, None), &t, false).to_string(),
            "almarel rollback --to v1.2.2 --no-freeze"
        );
        assert_eq!(
            continue_command(&req(true, true, Some("prod-{sha}")), &t, true).to_string(),
            "almarel rollback --to v1.2.2 --allow-migrations --image-tag 'prod-{sha}'"
        );
    }
}
