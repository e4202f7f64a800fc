//! `almarel approve [REF] [--run ID] [--reject]`: review the waiting
//! production deployment after printing the evidence and checking the gates
//! (CI green for that exact commit, a release tag that is not only a
//! pre-release, releases not frozen, the caller may approve). The review POST
//! is sent exactly once; an unknown outcome (5xx, timeout) is settled by
//! re-reading the pending deployments.

use std::time::Duration;

use serde_json::{Value, json};

use crate::audit::Actor;
use crate::cli::ApproveArgs;
use crate::clock::{self, Deadline, Poll, PollError};
use crate::context::Context;
use crate::env;
use crate::error::{Error, Result};
use crate::github::{Client, PendingDeployment, Run, TagRef, WriteOutcome};
use crate::release::approval;
use crate::ui::Tone;
use crate::version::{ReleaseTag, preferred_tag, short_sha};

/// One gate and its outcome.
#[derive(Debug, Clone)]
struct Gate {
    name: &'static str,
    ok: bool,
    detail: String,
}

fn gate_json(gates: &[Gate]) -> Value {
    Value::Array(
        gates
            .iter()
            .map(|g| json!({"check": g.name, "ok": g.ok, "detail": g.detail}))
            .collect(),
    )
}

/// Whether the token came from `GITHUB_TOKEN` inside GitHub Actions (it cannot review).
fn actions_token(ctx: &Context) -> bool {
    ctx.env.in_github_actions()
        && ctx.env.get(env::GH_TOKEN).is_none()
        && ctx.env.get(env::GITHUB_TOKEN).is_some()
}

async fn already_reviewed(
    ctx: &Context,
    gh: &Client,
    run: &Run,
    want_approve: bool,
) -> Result<Option<Result<Value>>> {
    let env = &ctx.settings.github.environment;
    let reviews = gh.approvals(run.id).await?;
    // Called when the run has no pending deployment of the environment.
    let decision = approval::decide(Some(run), &[], &reviews, env);
    let (Some(by), state) = (
        decision.reviewer(),
        if decision.is_approved() {
            "approved"
        } else {
            "rejected"
        },
    ) else {
        return Ok(None);
    };
    let comment = decision
        .comment()
        .map(|c| format!(" (\"{c}\")"))
        .unwrap_or_default();
    let data = json!({"run_id": run.id, "sha": run.head_sha, "already": state, "by": by, "url": run.html_url});
    if decision.is_approved() {
        ctx.ui.result(&format!(
            "{} run {} was already approved for {env} by @{by}{comment}",
            ctx.ui.mark(Tone::Ok),
            run.id,
        ));
        if want_approve {
            ctx.ui
                .next(&format!("almarel status {} --watch", run.head_sha));
            return Ok(Some(Ok(data)));
        }
        return Ok(Some(Err(Error::refused(format!(
            "run {} was already approved by @{by}; there is nothing left to reject",
            run.id
        ))
        .with_hint("to stop the release now: `almarel freeze --reason 'approved by mistake' --cancel-running`")
        .with_data(data))));
    }
    if want_approve {
        return Ok(Some(Err(Error::refused(format!(
            "run {} was rejected for {env} by @{by}{comment}; it cannot be approved any more",
            run.id
        ))
        .with_hint("re-run the deploy workflow on GitHub, or tag a new release")
        .with_data(data))));
    }
    ctx.ui.result(&format!(
        "run {} was already rejected by @{by}{comment}",
        run.id
    ));
    Ok(Some(Ok(data)))
}

/// Runs `almarel approve`.
pub async fn run(ctx: &Context, args: &ApproveArgs) -> Result<Value> {
    // REF is checked before anything is sent (SPEC §7.7).
    if let Some(r) = &args.reference {
        crate::version::parse_ref(r, &ctx.settings.git.tag_prefix)?;
    }
    let gh = ctx.github().await?;
    let g = &ctx.settings.github;
    let env_name = g.environment.clone();
    let verb = if args.reject { "reject" } else { "approve" };
    let deploy_wf = gh.workflow(&g.deploy_workflow).await?;
    let frozen = gh.is_frozen().await?;

    // 1. The run.
    let run = match args.run {
        Some(id) => gh.run(id).await?,
        None => {
            let target = gh.resolve_ref(args.reference.as_deref()).await?;
            let runs = gh.runs_for_commit(deploy_wf.id, &target.sha).await?;
            match runs.iter().find(|r| r.is_waiting()) {
                Some(r) => r.clone(),
                None => {
                    for r in &runs {
                        if let Some(done) = already_reviewed(ctx, &gh, r, !args.reject).await? {
                            return done;
                        }
                    }
                    let waiting = gh.runs_with_status(deploy_wf.id, "waiting").await?;
                    let list: Vec<String> = waiting
                        .iter()
                        .map(|r| {
                            format!(
                                "run {} for {} ({})",
                                r.id,
                                short_sha(&r.head_sha),
                                r.html_url
                            )
                        })
                        .collect();
                    let there = if list.is_empty() {
                        format!("no {} run is waiting for approval", deploy_wf.name)
                    } else {
                        format!("waiting runs: {}", list.join("; "))
                    };
                    return Err(Error::refused(format!(
                        "no {} run waiting for approval for {} ({}); {there}",
                        deploy_wf.name,
                        target.label,
                        target.short()
                    ))
                    .with_hint(format!(
                        "check `almarel status {} --watch`, or pass --run ID",
                        target.label
                    ))
                    .with_data(json!({"waiting_runs": waiting.iter().map(|r| json!({"id": r.id, "sha": r.head_sha, "url": r.html_url})).collect::<Vec<_>>()})));
                }
            }
        }
    };
    if run.workflow_id != deploy_wf.id {
        return Err(Error::refused(format!(
            "run {} belongs to workflow {}, not to the deploy workflow {} (github.deploy_workflow)",
            run.id,
            run.name
                .clone()
                .unwrap_or_else(|| run.workflow_id.to_string()),
            deploy_wf.name
        ))
        .with_hint("pass the id of a deploy run (see `almarel status`)"));
    }
    let sha = run.head_sha.clone();

    // 2. The pending deployment of github.environment.
    let pending_all = gh.pending_deployments(run.id).await?;
    let Some(pending) = pending_all
        .iter()
        .find(|p| p.environment.name.as_deref() == Some(env_name.as_str()))
        .cloned()
    else {
        if let Some(done) = already_reviewed(ctx, &gh, &run, !args.reject).await? {
            return done;
        }
        let others: Vec<String> = pending_all
            .iter()
            .filter_map(|p| p.environment.name.clone())
            .collect();
        return Err(Error::refused(format!(
            "run {} has no pending deployment for environment `{env_name}` (status: {}{})",
            run.id,
            run.state_text(),
            if others.is_empty() {
                String::new()
            } else {
                format!("; pending: {}", others.join(", "))
            }
        ))
        .with_hint("check github.environment, or `almarel status` for the run's state"));
    };

    // 3. Evidence.
    let me = gh.current_user().await.ok();
    let all_tags = gh.release_tags().await?;
    let at_commit: Vec<(ReleaseTag, TagRef)> = all_tags
        .iter()
        .filter(|(_, t)| t.commit == sha)
        .cloned()
        .collect();
    let release_tags: Vec<ReleaseTag> = at_commit.iter().map(|(r, _)| r.clone()).collect();
    let preferred = preferred_tag(&release_tags).cloned();
    let subject = gh
        .commit(&sha)
        .await
        .map(|c| c.subject().to_owned())
        .unwrap_or_default();
    let ci_run = match gh.workflow(&g.ci_workflow).await {
        Ok(w) => gh.runs_for_commit(w.id, &sha).await?.into_iter().next(),
        Err(e) => {
            ctx.ui.warn(&e.message);
            None
        }
    };
    let production = crate::probe::production_sha(&ctx.settings.verify).await;
    let prod_sha = production.as_ref().ok().and_then(Clone::clone);
    let previous = all_tags
        .iter()
        .filter(|(r, t)| !r.is_prerelease() && t.commit != sha)
        .filter(|(r, _)| preferred.as_ref().is_none_or(|p| r.version < p.version))
        .max_by(|a, b| a.0.version.cmp(&b.0.version))
        .cloned();
    // The commits between what production runs (else the previous final release) and this one.
    let base = match &prod_sha {
        Some(p) if !crate::probe::sha_matches(p, &sha) => {
            Some((prod_label(p, &all_tags), p.clone()))
        }
        _ => previous
            .as_ref()
            .map(|(r, t)| (r.name.clone(), t.commit.clone())),
    };
    let between = match &base {
        Some((label, base_sha)) => match gh.compare(base_sha, &sha).await {
            Ok(c) => Some((label.clone(), c)),
            Err(e) => {
                ctx.ui.detail(1, &format!("compare failed: {}", e.message));
                None
            }
        },
        None => None,
    };
    let production_text = match &production {
        Ok(Some(p)) if crate::probe::sha_matches(p, &sha) => {
            format!("already runs {} (this commit)", prod_label(p, &all_tags))
        }
        Ok(Some(p)) => format!("runs {}", prod_label(p, &all_tags)),
        Ok(None) => "unknown (verify.version_url is not set)".to_owned(),
        Err(why) => format!("unknown: {why}"),
    };
    let ui = &ctx.ui;
    let tag_text = if at_commit.is_empty() {
        ui.paint(Tone::Warn, "none (the deploy would ship an untagged image)")
    } else {
        at_commit
            .iter()
            .map(|(r, _)| r.name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ci_text = ci_run
        .as_ref()
        .map(|r| format!("{} ({})", r.state_text(), r.html_url))
        .unwrap_or_else(|| "no CI run for this commit".into());
    let reviewers: Vec<String> = pending.reviewers.iter().map(|r| r.label()).collect();
    let mut evidence = vec![
        vec![
            "run".to_owned(),
            format!("{} {} ({})", run.id, run.state_text(), run.html_url),
        ],
        vec![
            "commit".to_owned(),
            format!("{} {subject}", short_sha(&sha)),
        ],
        vec!["tags".to_owned(), tag_text],
        vec!["CI".to_owned(), ci_text],
        vec!["production".to_owned(), production_text],
    ];
    if let Some((prev, c)) = &between {
        let mut subjects: Vec<String> = c
            .commits
            .iter()
            .rev()
            .take(10)
            .map(|c| c.subject().to_owned())
            .collect();
        if c.commits.len() > 10 {
            subjects.push(format!("… {} more", c.commits.len() - 10));
        }
        evidence.push(vec![
            "changes".to_owned(),
            format!(
                "{} commit(s) since {prev}: {}",
                c.ahead_by,
                subjects.join(" | ")
            ),
        ]);
    }
    evidence.push(vec![
        "environment".to_owned(),
        format!("{env_name} (id {})", pending.environment.id),
    ]);
    evidence.push(vec![
        "wait timer".to_owned(),
        format!("{} min", pending.wait_timer),
    ]);
    evidence.push(vec![
        "reviewers".to_owned(),
        if reviewers.is_empty() {
            "none listed".into()
        } else {
            reviewers.join(", ")
        },
    ]);
    for line in crate::ui::table(&evidence) {
        ui.result(&line);
    }

    // 4. Gates.
    let mut gates = Vec::new();
    let can_approve_explained = if pending.current_user_can_approve {
        String::new()
    } else {
        explain_cannot_approve(
            ctx,
            &gh,
            &run,
            &pending,
            me.as_ref().map(|u| u.login.as_str()),
        )
        .await
    };
    if !args.reject {
        let ci_ok = ci_run.as_ref().is_some_and(|r| {
            r.conclusion
                .as_ref()
                .is_some_and(|c| *c == crate::github::Conclusion::Success)
        });
        gates.push(Gate {
            name: "ci",
            ok: ci_ok,
            detail: match &ci_run {
                Some(r) => format!("CI for {} is {}", short_sha(&sha), r.state_text()),
                None => format!("no CI run for {}", short_sha(&sha)),
            },
        });
        gates.push(Gate {
            name: "tagged",
            ok: !release_tags.is_empty() || args.allow_untagged,
            detail: if release_tags.is_empty() {
                format!(
                    "{} carries no release tag: the deploy would ship {}{}",
                    short_sha(&sha),
                    ctx.settings
                        .coolify
                        .untagged_image_tag
                        .replace("{sha}", &sha)
                        .replace("{short_sha}", short_sha(&sha)),
                    if args.allow_untagged {
                        " (allowed by --allow-untagged)"
                    } else {
                        ""
                    }
                )
            } else {
                format!(
                    "tagged {}",
                    release_tags
                        .iter()
                        .map(|t| t.name.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        });
        let pre_only = preferred.as_ref().is_some_and(ReleaseTag::is_prerelease);
        gates.push(Gate {
            name: "final_release",
            ok: !pre_only || args.allow_prerelease,
            detail: match &preferred {
                Some(t) if t.is_prerelease() => format!(
                    "{} is a pre-release and no final tag sits on the same commit{}",
                    t.name,
                    if args.allow_prerelease {
                        " (allowed by --allow-prerelease)"
                    } else {
                        ""
                    }
                ),
                Some(t) => format!("{} is a final release", t.name),
                None => "no release tag".to_owned(),
            },
        });
        gates.push(Gate {
            name: "not_frozen",
            ok: !frozen,
            detail: if frozen {
                format!(
                    "releases are frozen ({} is disabled); `almarel unfreeze` first",
                    deploy_wf.name
                )
            } else {
                "releases are not frozen".to_owned()
            },
        });
        gates.push(Gate {
            name: "can_approve",
            ok: pending.current_user_can_approve,
            detail: if pending.current_user_can_approve {
                format!(
                    "{} may approve {env_name}",
                    me.as_ref()
                        .map(|u| format!("@{}", u.login))
                        .unwrap_or_else(|| "the token's user".into())
                )
            } else {
                can_approve_explained.clone()
            },
        });
        for gate in &gates {
            ui.result(&format!(
                "{} {}",
                ui.mark(if gate.ok { Tone::Ok } else { Tone::Fail }),
                gate.detail
            ));
        }
        let failed: Vec<&Gate> = gates.iter().filter(|g| !g.ok).collect();
        if !failed.is_empty() {
            let code = match failed.as_slice() {
                [g] => match g.name {
                    "ci" => "ci_not_green",
                    "tagged" => "untagged",
                    "final_release" => "prerelease",
                    "not_frozen" => "frozen",
                    _ => "cannot_approve",
                },
                _ => "checks_failed",
            };
            let mut err = Error::refused(format!(
                "not approving run {}: {}",
                run.id,
                failed
                    .iter()
                    .map(|g| g.detail.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
            .with_code(code);
            for g in &failed {
                err = err.with_hint(match g.name {
                    "ci" => format!("wait for CI to succeed for {} (`almarel status {} --watch`)", short_sha(&sha), short_sha(&sha)),
                    "tagged" => "tag the commit (`almarel tag`), or pass --allow-untagged to ship it untagged".to_owned(),
                    "final_release" => "tag a final release on the commit, or pass --allow-prerelease".to_owned(),
                    "not_frozen" => "releases are frozen: `almarel unfreeze` first".to_owned(),
                    _ => "ask a required reviewer to approve".to_owned(),
                });
            }
            return Err(err
                .with_hint("nothing was sent")
                .with_data(json!({"run_id": run.id, "sha": sha, "checks": gate_json(&gates)})));
        }
    } else if !pending.current_user_can_approve {
        return Err(Error::refused(format!(
            "cannot reject run {}: {can_approve_explained}",
            run.id
        ))
        .with_hint(
            "ask a required reviewer, or use `almarel freeze` (disables the deploy workflow)",
        ));
    }

    // 5. The review.
    let comment = args.comment.clone().unwrap_or_else(|| {
        if args.reject {
            "Rejected with almarel".to_owned()
        } else {
            let passed: Vec<String> = gates
                .iter()
                .filter(|g| g.ok)
                .map(|g| g.detail.clone())
                .collect();
            format!("Approved with almarel: {}", passed.join("; "))
        }
    });
    let body = json!({
        "environment_ids": [pending.environment.id],
        "state": if args.reject { "rejected" } else { "approved" },
        "comment": comment,
    });
    let what = preferred
        .as_ref()
        .map(|t| t.name.clone())
        .unwrap_or_else(|| short_sha(&sha).to_owned());
    let mut data = json!({
        "run_id": run.id,
        "sha": sha,
        "tag": preferred.as_ref().map(|t| t.name.clone()),
        "environment": env_name,
        "checks": gate_json(&gates),
        "review": body,
    });
    if ctx.settings.global.dry_run {
        ui.result(&format!(
            "dry run: would POST /repos/{}/actions/runs/{}/pending_deployments {}",
            gh.repo(),
            run.id,
            body
        ));
        data["dry_run"] = json!(true);
        ui.next(&format!(
            "almarel approve {what}{}",
            if args.reject { " --reject" } else { "" }
        ));
        return Ok(data);
    }
    ctx.confirm(&format!(
        "{verb} the {env_name} deployment of {what} (run {})?",
        run.id
    ))
    .await?;
    let actor = Actor {
        git: None,
        github: me.as_ref().map(|u| u.login.clone()),
    };
    let target = format!("run {} ({what})", run.id);
    let outcome = gh
        .review(run.id, &[pending.environment.id], !args.reject, &comment)
        .await;
    let result: Result<()> = match outcome {
        Err(e) => Err(e),
        Ok(WriteOutcome::Accepted(_)) => Ok(()),
        Ok(WriteOutcome::Refused { status, message }) => {
            let now = gh.pending_deployments(run.id).await.ok();
            let still = now.as_ref().and_then(|p| {
                p.iter()
                    .find(|p| p.environment.id == pending.environment.id)
                    .cloned()
            });
            let mut why = format!("GitHub answered {status}: {message}");
            if let Some(p) = &still {
                if !p.current_user_can_approve {
                    why.push_str("; ");
                    why.push_str(
                        &explain_cannot_approve(
                            ctx,
                            &gh,
                            &run,
                            p,
                            me.as_ref().map(|u| u.login.as_str()),
                        )
                        .await,
                    );
                }
            } else if now.is_some() && status == 422 {
                // Someone else reviewed the run in between: their review decides.
                let reviews = gh.approvals(run.id).await.unwrap_or_default();
                let decision = approval::decide(Some(&run), &[], &reviews, &env_name);
                if let Some(by) = decision.reviewer() {
                    let by = by.to_owned();
                    ctx.audit(
                        verb,
                        &target,
                        Err(&format!(
                            "GitHub answered 422: the run was {} by @{by} first",
                            if decision.is_approved() {
                                "approved"
                            } else {
                                "rejected"
                            }
                        )),
                        actor.clone(),
                        json!({"run_id": run.id, "sha": sha, "environment": env_name}),
                    );
                    if decision.is_approved() && !args.reject {
                        ui.result(&format!(
                            "{} run {} was already approved for {env_name} by @{by}",
                            ui.mark(Tone::Ok),
                            run.id
                        ));
                        ui.next(&format!("almarel status {what} --watch"));
                        data["already"] = json!("approved");
                        data["by"] = json!(by);
                        return Ok(data);
                    }
                    if decision.is_rejected() && !args.reject {
                        return Err(Error::refused(format!(
                            "cannot approve run {}: it was rejected for {env_name} by @{by} in the meantime",
                            run.id
                        ))
                        .with_code("rejected")
                        .with_hint("re-run the deploy workflow on GitHub, or tag a new release")
                        .with_data(data));
                    }
                }
                why.push_str("; the deployment is no longer pending (someone else reviewed it?)");
            } else if now.is_some() {
                why.push_str("; the deployment is no longer pending (someone else reviewed it?)");
            }
            let e = if status == 422 {
                Error::refused(format!("cannot {verb} run {}: {why}", run.id))
            } else {
                Error::remote(format!(
                    "github refused the review of run {}: {why}",
                    run.id
                ))
            };
            Err(e.with_hint(format!(
                "`almarel status {}` shows the run's state and reviews",
                short_sha(&sha)
            )))
        }
        Ok(WriteOutcome::Unknown(e)) => {
            ui.warn(&format!(
                "{}; re-reading the pending deployments to see whether it was applied",
                e.message
            ));
            let now = gh.pending_deployments(run.id).await;
            match now {
                Ok(p) if !p.iter().any(|p| p.environment.id == pending.environment.id) => {
                    ui.progress("the review was applied: the deployment is no longer pending");
                    Ok(())
                }
                Ok(_) => Err(Error::remote(format!(
                    "the review of run {} was not applied ({}); nothing changed",
                    run.id, e.message
                ))
                .with_hint(format!(
                    "re-run `almarel approve {what}{}` (it checks again before sending)",
                    if args.reject { " --reject" } else { "" }
                ))),
                Err(e2) => Err(Error::remote(format!(
                    "the outcome of the review of run {} is unknown: {}; re-reading failed: {}",
                    run.id, e.message, e2.message
                ))
                .with_hint(format!(
                    "check `almarel status {}` before re-running",
                    short_sha(&sha)
                ))),
            }
        }
    };
    match &result {
        Ok(()) => ctx.audit(
            verb,
            &target,
            Ok(()),
            actor,
            json!({"run_id": run.id, "sha": sha, "environment": env_name, "comment": comment}),
        ),
        Err(e) => ctx.audit(
            verb,
            &target,
            Err(&e.message),
            actor,
            json!({"run_id": run.id, "sha": sha, "environment": env_name}),
        ),
    }
    result.map_err(|e| e.with_data(data.clone()))?;
    ctx.done(format!("{verb}d run {}", run.id));
    ui.result(&format!(
        "{} {} the {env_name} deployment of {what} (run {})",
        ui.mark(Tone::Ok),
        if args.reject { "rejected" } else { "approved" },
        run.id
    ));
    data["reviewed"] = json!(if args.reject { "rejected" } else { "approved" });
    if ui.in_github_actions() {
        let md = format!(
            "### almarel {verb}\n\n{} the `{env_name}` deployment of {what} ([run {}]({})), commit `{sha}`\n",
            if args.reject { "Rejected" } else { "Approved" },
            run.id,
            run.html_url
        );
        for r in [
            ui.summary(&md),
            ui.output("sha", &sha),
            ui.output(
                "tag",
                preferred.as_ref().map(|t| t.name.as_str()).unwrap_or(""),
            ),
        ] {
            if let Err(e) = r {
                ui.warn(&e.message);
            }
        }
    }

    if args.watch {
        let final_run = follow(ctx, &gh, run.id, args.timeout).await;
        match final_run {
            Ok(r) => {
                data["run_conclusion"] = json!(r.conclusion.as_ref().map(ToString::to_string));
                if r.conclusion.as_ref().is_some_and(|c| c.is_ok()) || args.reject {
                    ui.result(&format!("run {} {}", r.id, r.state_text()));
                } else {
                    return Err(Error::failed(format!(
                        "run {} {} ({})",
                        r.id,
                        r.state_text(),
                        r.html_url
                    ))
                    .with_hint("open the run's log; production still runs the previous release")
                    .with_data(data));
                }
            }
            Err(e) => return Err(e.with_data(data)),
        }
    }
    if args.reject {
        ui.next(&format!("almarel status {}", short_sha(&sha)));
    } else if args.watch {
        ui.next(&format!("almarel verify --expect-sha {sha}"));
    } else {
        ui.next(&format!("almarel status {what} --watch"));
    }
    Ok(data)
}

async fn explain_cannot_approve(
    ctx: &Context,
    gh: &Client,
    run: &Run,
    pending: &PendingDeployment,
    me: Option<&str>,
) -> String {
    let env_name = &ctx.settings.github.environment;
    if actions_token(ctx) {
        return format!(
            "the Actions GITHUB_TOKEN (like any GitHub App token) cannot review deployments of `{env_name}`; \
set GH_TOKEN to a personal token of a required reviewer"
        );
    }
    let who = me
        .map(|m| format!("@{m}"))
        .unwrap_or_else(|| "the token's user".into());
    let triggered = me.is_some_and(|m| {
        run.actor.as_ref().is_some_and(|a| a.login == m)
            || run.triggering_actor.as_ref().is_some_and(|a| a.login == m)
    });
    let prevents = gh
        .environment(env_name)
        .await
        .ok()
        .flatten()
        .is_some_and(|e| e.prevents_self_review());
    if prevents && triggered {
        return format!(
            "{who} triggered this run and `{env_name}` has prevent_self_review set: another required reviewer must approve"
        );
    }
    let reviewers: Vec<String> = pending.reviewers.iter().map(|r| r.label()).collect();
    format!(
        "{who} may not approve `{env_name}` (current_user_can_approve is false; required reviewers: {})",
        if reviewers.is_empty() {
            "none listed".into()
        } else {
            reviewers.join(", ")
        }
    )
}

/// Follows a run until it completes (exit 5 at the deadline).
pub async fn follow(ctx: &Context, gh: &Client, run_id: u64, timeout: Duration) -> Result<Run> {
    let deadline = Deadline::after(ctx.clock.as_ref(), timeout);
    gh.set_deadline(Some(deadline));
    let last = std::sync::Mutex::new(String::new());
    let r = clock::poll_until(
        ctx.clock.as_ref(),
        deadline,
        Duration::from_secs(2),
        Duration::from_secs(20),
        || async {
            let run = gh.run(run_id).await?;
            let text = run.state_text();
            let changed = last
                .lock()
                .map(|mut l| {
                    let c = *l != text;
                    *l = text.clone();
                    c
                })
                .unwrap_or(true);
            if changed {
                ctx.ui.progress(&format!("run {run_id}: {text}"));
            }
            Ok::<_, Error>(if run.is_completed() {
                Poll::Ready(run)
            } else {
                Poll::Pending { changed }
            })
        },
    )
    .await;
    gh.set_deadline(None);
    match r {
        Ok(run) => Ok(run),
        Err(PollError::Failed(e)) => Err(e),
        Err(PollError::TimedOut) => Err(Error::timeout(format!(
            "run {run_id} did not complete within {}",
            humantime::format_duration(timeout)
        ))
        .with_hint(format!(
            "the run continues on GitHub; follow it with `almarel status --watch` (run {run_id})"
        ))),
    }
}

fn prod_label(p: &str, tags: &[(ReleaseTag, TagRef)]) -> String {
    let names: Vec<String> = tags
        .iter()
        .filter(|(_, t)| crate::probe::sha_matches(&t.commit, p))
        .map(|(r, _)| r.name.clone())
        .collect();
    if names.is_empty() {
        short_sha(p).to_owned()
    } else {
        format!("{} ({})", short_sha(p), names.join(", "))
    }
}
