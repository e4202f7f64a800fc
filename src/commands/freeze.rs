//! `almarel freeze` and `almarel unfreeze`: stop / resume production
//! releases, enforced by GitHub. Frozen means the deploy workflow's state is
//! not `active`. `freeze` disables the deploy workflow first (no new run
//! starts, the CI-triggered path included), then rejects every waiting
//! deployment of `github.environment` with the reason as the comment, then
//! lists deploy runs still in progress (`--cancel-running` cancels them).
//! Both are idempotent; a step that fails after another succeeded is exit 4
//! with what was done.

use serde_json::{Value, json};

use crate::audit::Actor;
use crate::cli::{FreezeArgs, UnfreezeArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::github::{Client, Run, WorkflowState, WriteOutcome};
use crate::ui::Tone;
use crate::version::short_sha;

async fn actor(gh: &Client) -> Actor {
    Actor {
        git: None,
        github: gh.current_user().await.ok().map(|u| u.login),
    }
}

/// Deploy runs waiting for a review of `env` (run, environment id).
async fn waiting_for_env(gh: &Client, workflow_id: u64, env: &str) -> Result<Vec<(Run, u64)>> {
    let mut out = Vec::new();
    for run in gh.runs_with_status(workflow_id, "waiting").await? {
        let pending = gh.pending_deployments(run.id).await?;
        if let Some(p) = pending
            .iter()
            .find(|p| p.environment.name.as_deref() == Some(env))
        {
            out.push((run, p.environment.id));
        }
    }
    Ok(out)
}

async fn in_progress(gh: &Client, workflow_id: u64) -> Result<Vec<Run>> {
    let mut runs = Vec::new();
    for status in ["in_progress", "queued", "requested", "pending"] {
        for r in gh.runs_with_status(workflow_id, status).await? {
            if !runs.iter().any(|x: &Run| x.id == r.id) {
                runs.push(r);
            }
        }
    }
    Ok(runs)
}

fn partial(done: &[String], e: Error) -> Error {
    if done.is_empty() {
        return e;
    }
    let hint = e.hint().unwrap_or_default().to_owned();
    Error::remote(format!("{}; already done: {}", e.message, done.join("; ")))
        .with_hint(if hint.is_empty() {
            "re-run the same command: every step is idempotent".to_owned()
        } else {
            format!("{hint}; every step is idempotent, so re-running is safe")
        })
        .with_data(json!({"done": done}))
}

/// Runs `almarel freeze`.
pub async fn run_freeze(ctx: &Context, args: &FreezeArgs) -> Result<Value> {
    if args.reason.trim().is_empty() {
        return Err(Error::usage("--reason must not be empty")
            .with_hint("say why, e.g. --reason \"checkout errors after v1.2.3\""));
    }
    let gh = ctx.github().await?;
    let g = &ctx.settings.github;
    let env = g.environment.clone();
    let wf = gh.workflow(&g.deploy_workflow).await?;
    let state = gh.workflow_fresh(wf.id).await?.state;
    let already = state != WorkflowState::Active;
    let waiting = waiting_for_env(&gh, wf.id, &env).await?;
    let running = in_progress(&gh, wf.id).await?;
    let ui = &ctx.ui;

    // The plan.
    let mut plan = Vec::new();
    if already {
        plan.push(format!(
            "{} is already disabled ({state}); nothing to disable",
            wf.name
        ));
    } else {
        plan.push(format!(
            "disable workflow {} (PUT .../actions/workflows/{}/disable)",
            wf.name, wf.id
        ));
    }
    for (r, _) in &waiting {
        plan.push(format!(
            "reject the waiting {env} deployment of run {} ({}) with comment \"{}\"",
            r.id,
            short_sha(&r.head_sha),
            args.reason
        ));
    }
    for r in &running {
        if args.cancel_running {
            plan.push(format!(
                "cancel run {} ({}, {})",
                r.id,
                short_sha(&r.head_sha),
                r.state_text()
            ));
        }
    }
    let data = |done: &[String]| {
        json!({
            "workflow": wf.name,
            "workflow_id": wf.id,
            "was_frozen": already,
            "plan": plan,
            "done": done,
            "rejected": waiting.iter().map(|(r, _)| r.id).collect::<Vec<_>>(),
            "running": running.iter().map(|r| json!({"id": r.id, "sha": r.head_sha, "status": r.state_text(), "url": r.html_url})).collect::<Vec<_>>(),
            "cancel_running": args.cancel_running,
        })
    };
    let nothing_to_do =
        already && waiting.is_empty() && (running.is_empty() || !args.cancel_running);
    if ctx.settings.global.dry_run {
        for p in &plan {
            ui.result(&format!("dry run: would {p}"));
        }
        list_running(ctx, &running, args.cancel_running);
        let mut again = format!(
            "almarel freeze --reason {}",
            crate::report::shell_quote(&args.reason)
        );
        if args.cancel_running {
            again.push_str(" --cancel-running");
        }
        ui.next(&again);
        let mut d = data(&[]);
        d["dry_run"] = json!(true);
        return Ok(d);
    }
    if nothing_to_do {
        ui.result(&format!(
            "{} releases are already frozen ({} is {state}); no deployment is waiting",
            ui.mark(Tone::Ok),
            wf.name
        ));
        list_running(ctx, &running, false);
        ui.result("fix forward, then resume releases:");
        ui.next("almarel unfreeze");
        return Ok(data(&[]));
    }
    ctx.confirm(&format!(
        "freeze production releases ({})?",
        plan.join("; ")
    ))
    .await?;
    let who = actor(&gh).await;
    let mut done: Vec<String> = Vec::new();
    let result = freeze_steps(
        ctx, &gh, args, wf.id, &wf.name, already, &waiting, &running, &mut done,
    )
    .await;
    let details = json!({"reason": args.reason, "done": done});
    match &result {
        Ok(()) => ctx.audit("freeze", &wf.name, Ok(()), who, details),
        Err(e) => ctx.audit("freeze", &wf.name, Err(&e.message), who, details),
    }
    result.map_err(|e| {
        let e = partial(&done, e);
        let mut d = data(&done);
        if let Some(extra) = &e.data {
            d["done"] = extra["done"].clone();
        }
        e.with_data(d)
    })?;
    for d in &done {
        ui.result(&format!("{} {d}", ui.mark(Tone::Ok)));
    }
    if !args.cancel_running {
        list_running(ctx, &running, false);
    }
    ui.result("fix forward (or `almarel rollback`), then resume releases:");
    ui.next("almarel unfreeze");
    Ok(data(&done))
}

/// Freezes releases on behalf of another command (`rollback`), through the
/// same steps as `almarel freeze` (disable the deploy workflow, reject the
/// waiting deployments with `reason`), without a confirmation of its own and
/// without cancelling running deploy runs. Writes the `freeze` audit line.
/// Returns what was done (empty when releases were already frozen and
/// nothing was waiting); a failure after a step succeeded is exit 4 naming it.
pub async fn freeze_for(ctx: &Context, gh: &Client, reason: &str) -> Result<Vec<String>> {
    let g = &ctx.settings.github;
    let wf = gh.workflow(&g.deploy_workflow).await?;
    let already = gh.workflow_fresh(wf.id).await?.state != WorkflowState::Active;
    let waiting = waiting_for_env(gh, wf.id, &g.environment).await?;
    if already && waiting.is_empty() {
        return Ok(Vec::new());
    }
    let args = FreezeArgs {
        reason: reason.to_owned(),
        cancel_running: false,
    };
    let who = actor(gh).await;
    let mut done: Vec<String> = Vec::new();
    let result = freeze_steps(
        ctx,
        gh,
        &args,
        wf.id,
        &wf.name,
        already,
        &waiting,
        &[],
        &mut done,
    )
    .await;
    let details = json!({"reason": reason, "done": done});
    match &result {
        Ok(()) => ctx.audit("freeze", &wf.name, Ok(()), who, details),
        Err(e) => ctx.audit("freeze", &wf.name, Err(&e.message), who, details),
    }
    result.map_err(|e| partial(&done, e))?;
    Ok(done)
}

#[allow(clippy::too_many_arguments)]
async fn freeze_steps(
    ctx: &Context,
    gh: &Client,
    args: &FreezeArgs,
    workflow_id: u64,
    workflow_name: &str,
    already: bool,
    waiting: &[(Run, u64)],
    running: &[Run],
    done: &mut Vec<String>,
) -> Result<()> {
    let env = &ctx.settings.github.environment;
    if !already {
        gh.disable_workflow(workflow_id).await?;
        let msg = format!("disabled {workflow_name}");
        ctx.done(msg.clone());
        done.push(msg);
    }
    // Runs that started waiting between the read and the disable are caught here.
    let mut to_reject: Vec<(Run, u64)> = waiting.to_vec();
    for extra in waiting_for_env(gh, workflow_id, env).await? {
        if !to_reject.iter().any(|(r, _)| r.id == extra.0.id) {
            to_reject.push(extra);
        }
    }
    for (run, env_id) in &to_reject {
        match gh.review(run.id, &[*env_id], false, &args.reason).await? {
            WriteOutcome::Accepted(_) => {}
            WriteOutcome::Refused { status, message } => {
                return Err(Error::remote(format!(
                    "github refused to reject run {} ({status}: {message})",
                    run.id
                ))
                .with_hint("a token of a required reviewer can reject; disabling the workflow already stops new runs"));
            }
            WriteOutcome::Unknown(e) => {
                let still = gh
                    .pending_deployments(run.id)
                    .await?
                    .iter()
                    .any(|p| p.environment.id == *env_id);
                if still {
                    return Err(Error::remote(format!(
                        "rejecting run {} failed: {}",
                        run.id, e.message
                    )));
                }
            }
        }
        let msg = format!(
            "rejected the {env} deployment of run {} ({})",
            run.id,
            short_sha(&run.head_sha)
        );
        ctx.done(msg.clone());
        done.push(msg);
    }
    if args.cancel_running {
        for run in running {
            match gh.cancel_run(run.id).await? {
                WriteOutcome::Accepted(_) => {}
                WriteOutcome::Refused { status: 409, .. } => {
                    done.push(format!("run {} had already completed", run.id));
                    continue;
                }
                WriteOutcome::Refused { status, message } => {
                    return Err(Error::remote(format!(
                        "github refused to cancel run {} ({status}: {message})",
                        run.id
                    )));
                }
                WriteOutcome::Unknown(e) => {
                    let r = gh.run(run.id).await?;
                    if !r.is_completed() {
                        return Err(Error::remote(format!(
                            "cancelling run {} may not have been applied: {}",
                            run.id, e.message
                        ))
                        .with_hint(format!("check the run: {}", run.html_url)));
                    }
                }
            }
            let msg = format!(
                "asked GitHub to cancel run {} ({})",
                run.id,
                short_sha(&run.head_sha)
            );
            ctx.done(msg.clone());
            done.push(msg);
        }
    }
    Ok(())
}

fn list_running(ctx: &Context, running: &[Run], cancelling: bool) {
    if running.is_empty() || cancelling {
        return;
    }
    ctx.ui.warn(&format!(
        "{} deploy run(s) still in progress (GitHub does not stop them): {}",
        running.len(),
        running
            .iter()
            .map(|r| format!("{} {} ({})", r.id, r.state_text(), r.html_url))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    ctx.ui
        .progress("re-run with --cancel-running to cancel them");
}

/// Runs `almarel unfreeze`.
pub async fn run_unfreeze(ctx: &Context, _args: &UnfreezeArgs) -> Result<Value> {
    let gh = ctx.github().await?;
    let g = &ctx.settings.github;
    let wf = gh.workflow(&g.deploy_workflow).await?;
    let state = gh.workflow_fresh(wf.id).await?.state;
    let ui = &ctx.ui;
    let data = |changed: bool| json!({"workflow": wf.name, "workflow_id": wf.id, "was": state.as_str(), "enabled": changed});
    if state == WorkflowState::Active {
        ui.result(&format!(
            "{} releases are not frozen: {} is already active",
            ui.mark(Tone::Ok),
            wf.name
        ));
        ui.next("almarel status");
        return Ok(data(false));
    }
    if ctx.settings.global.dry_run {
        ui.result(&format!(
            "dry run: would enable workflow {} (PUT .../actions/workflows/{}/enable); it is {state}",
            wf.name, wf.id
        ));
        let mut d = data(false);
        d["dry_run"] = json!(true);
        return Ok(d);
    }
    ctx.confirm(&format!(
        "unfreeze production releases (enable {})?",
        wf.name
    ))
    .await?;
    let who = actor(&gh).await;
    let result = gh.enable_workflow(wf.id).await;
    match &result {
        Ok(()) => ctx.audit(
            "unfreeze",
            &wf.name,
            Ok(()),
            who,
            json!({"was": state.as_str()}),
        ),
        Err(e) => ctx.audit(
            "unfreeze",
            &wf.name,
            Err(&e.message),
            who,
            json!({"was": state.as_str()}),
        ),
    }
    result?;
    ctx.done(format!("enabled {}", wf.name));
    ui.result(&format!(
        "{} enabled {} (it was {state})",
        ui.mark(Tone::Ok),
        wf.name
    ));
    ui.warn(
        "commits pushed while releases were frozen got no deploy run; \
re-run the deploy workflow for the release you want on GitHub, or push/tag a new release",
    );
    ui.next("almarel status");
    Ok(data(true))
}
