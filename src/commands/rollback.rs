//! `almarel rollback`: the runbook's "If something goes wrong" 1–4 as one
//! command (SPEC §3 rollback).
//!
//! Everything is read and checked before any change: the target (`--to`, else
//! the newest final release tag older than the one production runs, read
//! from `verify.version_url` and the clone's release tags), the migration
//! files changed between the two (refused unless `--allow-migrations`), the
//! Coolify apps ([`deploy::prepare`]) and the probes. The plan is
//! printed and confirmed; `--dry-run` stops there. Then, each step printed as
//! it happens: (1) freeze through [`crate::release::freeze::freeze_for`] (unless
//! `--no-freeze`); (2) deploy the target through
//! [`deploy::deploy_apps`], without deploy's frozen gate (a rollback
//! is the one deploy a freeze allows); (3) verify the target's commit through
//! [`probe::verify`], waiting up to `--wait`; (4) summary and next steps. A
//! failing step names the steps already done and the command that continues.

use std::time::Duration;

use serde_json::{Value, json};

use crate::audit::Actor;
use crate::cli::RollbackArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::git::Repo;
use crate::probe;
use crate::release::deploy::{self, DeployPlan, DeployReport, Prepared};
use crate::ui::{self, Tone};
use crate::version::{ReleaseTag, normalize_tag, preferred_tag};

use super::deploy::{check_template, render_image_tag, select_apps};

/// Pause between verify attempts.
const VERIFY_INTERVAL: Duration = Duration::from_secs(5);
/// How many migration files the refusal message names before "… N more".
const MAX_FILES: usize = 10;

/// What production runs now.
#[derive(Debug, Clone)]
struct Current {
    /// Full commit SHA.
    sha: String,
    /// Its preferred release tag (final over rc), when it carries one.
    tag: Option<ReleaseTag>,
    /// Where it was read from (`verify.version_url`, or Coolify's image tag).
    source: String,
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

/// Runs `almarel rollback`.
pub async fn run(ctx: &Context, args: &RollbackArgs) -> Result<Value> {
    let s = &ctx.settings;
    let prefix = s.git.tag_prefix.clone();
    let dry_run = s.global.dry_run;
    let ui = &ctx.ui;

    // Everything that fails without a request first.
    let repo = Repo::discover(&s.workdir)?;
    let apps = select_apps(&s.coolify.apps, &[])?;
    check_template("coolify.image_tag", &s.coolify.image_tag)?;
    let client = ctx.coolify()?;
    let gh = if args.no_freeze {
        None
    } else {
        Some(ctx.github().await?)
    };
    let release = repo.release_tags(&prefix)?;

    // The apps as they are (nothing changed): their configured image tag is
    // the fallback for "what production runs" when the version URL is down.
    let mut plan = DeployPlan::new("deploy", "", "", apps, args.timeout);
    ui.progress(&format!(
        "reading the Coolify apps on {}…",
        client.base_url()
    ));
    let mut prepared = deploy::prepare(&client, &plan).await?;

    // (a) What production runs, and the target.
    ui.progress("reading what production runs…");
    let current = read_current(ctx, &repo, &release, &prepared, args.to.is_some()).await?;
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
    let target = choose_target(ctx, &repo, &release, current.as_ref(), args)?;
    if target.tag.is_prerelease() {
        ui.warn(&format!(
            "{} is a pre-release; rolling back to it because --to names it",
            target.tag.name
        ));
    }
    let image_tag = match &args.image_tag {
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

    // (b) Migrations between the target and the current release.
    let migrations: Option<Vec<String>> = match &current {
        Some(c) if !s.rollback.migration_paths.is_empty() => {
            Some(repo.changed_files(&target.sha, &c.sha, &s.rollback.migration_paths)?)
        }
        _ => None,
    };

    plan.target = target.tag.name.clone();
    plan.image_tag = image_tag.clone();
    plan.audit_details = json!({"tag": target.tag.name, "sha": target.sha, "via": "rollback"});

    // Freeze plan.
    let freeze_line = match &gh {
        None => "skipped (--no-freeze)".to_owned(),
        Some(gh) => {
            let wf = gh.workflow(&s.github.deploy_workflow).await?;
            if gh.is_frozen().await? {
                format!(
                    "releases are already frozen ({} is disabled); reject any waiting {} deployment",
                    wf.name, s.github.environment
                )
            } else {
                format!(
                    "disable workflow {} and reject waiting {} deployments",
                    wf.name, s.github.environment
                )
            }
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
    let writes = prepared.planned_writes(&plan);
    let commits_undone = match &current {
        Some(c) if repo.has_commit(&c.sha) => repo
            .commits_between(Some(&target.sha), &c.sha)
            .map(|v| v.len())
            .ok(),
        _ => None,
    };
    let mut data = json!({
        "current": current.as_ref().map(|c| json!({
            "sha": c.sha,
            "tag": c.tag.as_ref().map(|t| t.name.clone()),
            "source": c.source,
        })),
        "target": {"tag": target.tag.name, "sha": target.sha},
        "image_tag": image_tag,
        "migrations": migrations,
        "migration_paths": s.rollback.migration_paths,
        "allow_migrations": args.allow_migrations,
        "commits_undone": commits_undone,
        "plan": {
            "freeze": freeze_line,
            "deploy": writes,
            "verify": format!("production runs {} (waiting up to {})", target.sha, humantime::format_duration(args.wait)),
        },
        "dry_run": dry_run,
        "steps": [],
    });
    print_plan(
        ctx,
        &PlanView {
            current: current.as_ref(),
            target: &target,
            migrations: migrations.as_deref(),
            commits_undone,
            image_tag: &image_tag,
            freeze_line: &freeze_line,
            writes: &writes,
            wait: args.wait,
            reason: &reason,
        },
    );

    // Refusals: nothing changed, not even a freeze.
    if let Some(files) = migrations.as_deref().filter(|f| !f.is_empty()) {
        if !args.allow_migrations {
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
            .with_hint(format!(
                "the old release may not run on the new schema: {runbook}, then re-run with --allow-migrations (or fix forward); nothing was changed"
            ))
            .with_data(data));
        }
        ui.warn(&format!(
            "{} migration file(s) changed; rolling back anyway (--allow-migrations)",
            files.len()
        ));
    }

    if dry_run {
        ui.result("dry run: nothing was changed");
        ui.next(&continue_command(args, &target, !args.no_freeze));
        return Ok(data);
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

    let actor = Actor {
        git: repo.identity().map(|i| i.to_string()),
        github: match &gh {
            Some(gh) => gh.current_user().await.ok().map(|u| u.login),
            None => None,
        },
    };
    plan.actor = actor.clone();
    let mut run = Run {
        ctx,
        args,
        target: &target,
        current: current.as_ref(),
        actor,
        steps: Vec::new(),
        froze: false,
    };

    // (1) Freeze.
    if let Some(gh) = &gh {
        ui.progress("step 1/4: freeze");
        match crate::release::freeze::freeze_for(ctx, gh, &reason).await {
            Ok(done) if done.is_empty() => {
                step_line(
                    ctx,
                    "1/4 freeze",
                    "releases were already frozen; nothing was waiting",
                );
            }
            Ok(done) => {
                for d in &done {
                    step_line(ctx, "1/4 freeze", d);
                }
            }
            Err(e) => return Err(run.fail(1, "freeze", e, data)),
        }
        run.froze = true;
        run.steps.push("freeze".into());
    } else {
        step_line(ctx, "1/4 freeze", "skipped (--no-freeze)");
    }

    // (2) Deploy (no frozen gate: this is the deploy a freeze allows).
    ui.progress(&format!(
        "step 2/4: deploy {} (image tag {image_tag})",
        target.tag.name
    ));
    let progress = crate::commands::deploy::DeployProgress::new(ui, &prepared.apps);
    let report = deploy::deploy_apps(ctx, &client, &plan, &prepared, &|e| progress.show(e)).await;
    progress.clear();
    crate::commands::deploy::print_report(ctx, &report, "  ");
    data["apps"] = report.to_json();
    data["deployments"] = report.deployments_json();
    if let Err(e) = report.result(&plan) {
        return Err(run.fail(2, "deploy", e, data));
    }
    step_line(
        ctx,
        "2/4 deploy",
        &format!("{} finished on {}", image_tag, app_names(&report)),
    );
    run.steps.push("deploy".into());

    // (3) Verify.
    ui.progress(&format!(
        "step 3/4: verify that production runs {} ({}), waiting up to {}",
        target.tag.name,
        crate::version::short_sha(&target.sha),
        humantime::format_duration(args.wait)
    ));
    let verify_ui = ui.clone();
    let report = probe::verify(&prober, args.wait, VERIFY_INTERVAL, |n, checks| {
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
    crate::commands::verify::print_checks(ctx, &report, "  ");
    data["verify"] = json!({"attempts": report.attempts, "checks": report.checks});
    if !report.passed() {
        let names: Vec<String> = report.failing().iter().map(|c| c.name.clone()).collect();
        let e = Error::failed(format!(
            "production does not pass the checks for {} after {}: failing {}",
            target.tag.name,
            humantime::format_duration(args.wait),
            names.join(", ")
        ));
        return Err(run.fail(3, "verify", e, data));
    }
    step_line(
        ctx,
        "3/4 verify",
        &format!("all {} checks passed", report.checks.len()),
    );
    run.steps.push("verify".into());

    // (4) Summary.
    run.audit(Ok(()));
    data["steps"] = json!(run.steps);
    ui.result(&format!(
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
        ui.result("releases stay frozen until you run `almarel unfreeze`");
        ui.result("fix forward on main and tag the fix (`almarel tag`), then resume releases:");
        ui.next("almarel unfreeze");
    } else {
        ui.warn("releases were not frozen by this rollback: the next deploy of main replaces it");
        ui.result("fix forward on main and tag the fix with `almarel tag`");
    }
    if let Some(r) = &s.rollback.staging_data_runbook {
        ui.result(&format!(
            "staging data: follow {r} if staging needs production's data"
        ));
    }
    actions_report(ctx, &target, &image_tag);
    Ok(data)
}

/// State of a rollback in progress: what was done, for failures and the audit line.
struct Run<'a> {
    ctx: &'a Context,
    args: &'a RollbackArgs,
    target: &'a TargetRelease,
    current: Option<&'a Current>,
    actor: Actor,
    steps: Vec<String>,
    froze: bool,
}

impl Run<'_> {
    fn audit(&self, result: std::result::Result<(), &str>) {
        self.ctx.audit(
            "rollback",
            &self.target.tag.name,
            result,
            self.actor.clone(),
            json!({
                "sha": self.target.sha,
                "from_sha": self.current.map(|c| c.sha.clone()),
                "from_tag": self.current.and_then(|c| c.tag.as_ref().map(|t| t.name.clone())),
                "steps_done": self.steps,
                "froze": self.froze,
            }),
        );
    }

    /// Step `n` failed: audit it, say what was done and what continues.
    fn fail(&self, n: usize, name: &str, e: Error, mut data: Value) -> Error {
        self.audit(Err(&format!("{name}: {}", e.message)));
        let done = if self.steps.is_empty() {
            "no step was completed".to_owned()
        } else {
            format!("done: {}", self.steps.join(", "))
        };
        let next = match n {
            3 => format!(
                "almarel verify --expect-sha {} --wait {}",
                self.target.sha,
                // A deploy can take a while to switch over: never suggest 0s.
                humantime::format_duration(self.args.wait.max(Duration::from_secs(300)))
            ),
            _ => continue_command(self.args, self.target, !self.args.no_freeze && !self.froze),
        };
        data["steps"] = json!(self.steps);
        data["failed_step"] = json!(name);
        data["continue"] = json!(next);
        let mut hint = format!("{done}; continue with: {next}");
        if let Some(h) = e.hint() {
            hint = format!("{h}; {hint}");
        }
        self.ctx.ui.next(&next);
        Error::new(
            e.kind,
            format!("rollback step {n}/4 ({name}) failed: {}", e.message),
        )
        .with_hint(hint)
        .with_data(data)
    }
}

/// The command that runs the rollback (again) from the deploy step, or from
/// the start when `freeze` is true.
fn continue_command(args: &RollbackArgs, target: &TargetRelease, freeze: bool) -> String {
    let mut c = format!("almarel rollback --to {}", target.tag.name);
    if !freeze {
        c.push_str(" --no-freeze");
    }
    if args.allow_migrations {
        c.push_str(" --allow-migrations");
    }
    if let Some(t) = &args.image_tag {
        c.push_str(&format!(" --image-tag {t}"));
    }
    c
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
    args: &RollbackArgs,
) -> Result<TargetRelease> {
    let prefix = &ctx.settings.git.tag_prefix;
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
    if let Some(to) = &args.to {
        let name = normalize_tag(to.trim(), prefix);
        let tag = ReleaseTag::from_name(&name, prefix).ok_or_else(|| {
            Error::usage(format!(
                "--to {to}: `{name}` is not a release tag ({prefix}MAJOR.MINOR.PATCH)"
            ))
            .with_hint(format!("e.g. --to {prefix}1.2.2{}", recent()))
        })?;
        let sha = repo.resolve_tag(&name)?.ok_or_else(|| {
            Error::usage(format!("no tag {name} in this clone")).with_hint(format!(
                "git fetch {} tag {name}, or check the name{}",
                ctx.settings.git.remote,
                recent()
            ))
        })?;
        return Ok(TargetRelease { tag, sha });
    }
    let Some(current) = current else {
        return Err(Error::refused("cannot tell which release production runs")
            .with_hint(format!("pass --to TAG{}", recent())));
    };
    let Some(cur_tag) = &current.tag else {
        return Err(Error::refused(format!(
            "production runs {}, which carries no release tag: there is no \"previous release\" to pick",
            crate::version::short_sha(&current.sha)
        ))
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

fn app_names(report: &DeployReport) -> String {
    report
        .apps
        .iter()
        .map(|a| a.app.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn actions_report(ctx: &Context, target: &TargetRelease, image_tag: &str) {
    let ui = &ctx.ui;
    if !ui.in_github_actions() {
        return;
    }
    let results = [
        ui.output("tag", &target.tag.name),
        ui.output("sha", &target.sha),
        ui.output("version", &target.tag.version.to_string()),
        ui.summary(&format!(
            "### almarel rollback\n\nProduction runs `{}` (`{}`, image tag `{image_tag}`) again.\n\nNext: fix forward, then `almarel unfreeze`.\n",
            target.tag.name,
            crate::version::short_sha(&target.sha)
        )),
    ];
    for r in results {
        if let Err(e) = r {
            ui.warn(&e.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(no_freeze: bool, allow: bool, image: Option<&str>) -> RollbackArgs {
        RollbackArgs {
            to: None,
            allow_migrations: allow,
            no_freeze,
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
            continue_command(&args(false, false, None), &t, false),
            "almarel rollback --to v1.2.2 --no-freeze"
        );
        assert_eq!(
            continue_command(&args(false, true, Some("prod-{sha}")), &t, true),
            "almarel rollback --to v1.2.2 --allow-migrations --image-tag prod-{sha}"
        );
    }
}
