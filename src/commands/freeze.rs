//! `almarel freeze` and `almarel unfreeze`: stop / resume production
//! releases, enforced by GitHub, recorded on GitHub (docs/commands/freeze.md).
//!
//! `freeze` disables the deploy workflow first (no new run starts, the
//! CI-triggered path included), writes the freeze record (who, when, why) to
//! the repository variable `ALMAREL_FREEZE`, rejects every waiting deployment
//! of `github.environment` with the reason as the comment, then lists deploy
//! runs still in progress (`--cancel-running` cancels them).
//!
//! `unfreeze` lifts the freeze; `unfreeze --only TAG` rolls one release
//! forward under it. The steps live in [`crate::release::freeze`] (rollback
//! uses them too); every write is journaled before it leaves and audited
//! ahead (SPEC §7.1, §7.2). Both are idempotent.

use serde::Serialize;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::release::freeze::{
    self as steps, Exception, FreezePlan, Progress, Record, RecordState, RunRef, Standing,
    UnfreezePlan,
};
pub use crate::release::freeze::{FreezeRequest, UnfreezeRequest};
use crate::report::{Next, PlanItem, Report};
use crate::ui::{Tone, Ui};
use crate::version::{ReleaseTag, short_sha};

/// The result of `almarel freeze` (its `--json` object; see `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct FreezeReport {
    /// The deploy workflow's name.
    pub workflow: String,
    /// Its id.
    pub workflow_id: u64,
    /// Whether it was already disabled before this run.
    pub was_frozen: bool,
    /// Where releases stand now (`frozen`; on a dry run, as they were).
    pub state: Standing,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// What a dry run would do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlanItem>>,
    /// What was done, in order.
    pub done: Vec<String>,
    /// Production deployments rejected by this run.
    pub rejected: Vec<RunRef>,
    /// Deploy runs still queued or in progress when it read them.
    pub running: Vec<RunRef>,
    /// Whether `--cancel-running` was given.
    pub cancel_running: bool,
    /// Runs this run asked GitHub to cancel.
    pub cancelled: Vec<u64>,
    /// The freeze record on GitHub now (`null` when there is none or it
    /// cannot be read).
    pub record: Option<Record>,
    /// Why the record was not written or read (the token's permission).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_note: Option<String>,
    #[serde(skip)]
    lines: Vec<String>,
    #[serde(skip)]
    next: Option<Next>,
}

impl Report for FreezeReport {
    fn render(&self, ui: &Ui) {
        for l in &self.lines {
            ui.result(l);
        }
    }
    fn next(&self) -> Option<Next> {
        self.next.clone()
    }
    fn summary(&self) -> Option<String> {
        (!self.dry_run).then(|| {
            format!(
                "### almarel freeze\n\nReleases are frozen: `{}` is disabled.{}\n",
                self.workflow,
                self.record
                    .as_ref()
                    .map(|r| format!(" {}.", r.describe()))
                    .unwrap_or_default()
            )
        })
    }
}

/// The result of `almarel unfreeze` (its `--json` object; see `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct UnfreezeReport {
    /// The deploy workflow's name.
    pub workflow: String,
    /// Its id.
    pub workflow_id: u64,
    /// Its state before this run.
    pub was: String,
    /// Whether this run enabled it.
    pub enabled: bool,
    /// Where releases stand now: `not_frozen`, or `roll_forward` after
    /// `--only` (on a dry run, as they were).
    pub state: Standing,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// What a dry run would do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlanItem>>,
    /// What was done, in order.
    pub done: Vec<String>,
    /// Waiting production deployments of other commits rejected by this run.
    pub rejected: Vec<RunRef>,
    /// The release rolled forward (`--only`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only: Option<Exception>,
    /// The deploy run started for it with `workflow_dispatch`, when seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatched: Option<RunRef>,
    /// The freeze record on GitHub now.
    pub record: Option<Record>,
    /// Why the record was not written, deleted or read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_note: Option<String>,
    #[serde(skip)]
    lines: Vec<String>,
    #[serde(skip)]
    next: Option<Next>,
}

impl Report for UnfreezeReport {
    fn render(&self, ui: &Ui) {
        for l in &self.lines {
            ui.result(l);
        }
    }
    fn next(&self) -> Option<Next> {
        self.next.clone()
    }
    fn summary(&self) -> Option<String> {
        (!self.dry_run).then(|| match &self.only {
            Some(o) => format!(
                "### almarel unfreeze --only {}\n\nReleases stay frozen except `{}` (`{}`).\n",
                o.tag,
                o.tag,
                short_sha(&o.sha)
            ),
            None => format!(
                "### almarel unfreeze\n\nReleases are not frozen: `{}` is active.\n",
                self.workflow
            ),
        })
    }
}

fn freeze_words(req: &FreezeRequest) -> Vec<String> {
    let mut w = vec![
        "freeze".to_owned(),
        "--reason".to_owned(),
        req.reason.clone(),
    ];
    if req.cancel_running {
        w.push("--cancel-running".to_owned());
    }
    w
}

fn unfreeze_words(req: &UnfreezeRequest) -> Vec<String> {
    let mut w = vec!["unfreeze".to_owned()];
    if let Some(t) = &req.only {
        w.push("--only".to_owned());
        w.push(t.clone());
    }
    w
}

fn with(words: &[String], extra: &str) -> Next {
    Next::new(words.iter().cloned().chain([extra.to_owned()]))
}

fn freeze_plan_items(plan: &FreezePlan, env: &str) -> Vec<PlanItem> {
    let wf = &plan.workflow;
    let mut items = Vec::new();
    if plan.disable {
        items.push(PlanItem {
            action: "disable workflow".into(),
            target: wf.name.clone(),
            detail: format!("PUT .../actions/workflows/{}/disable", wf.id),
        });
    }
    if let Some((r, exists)) = &plan.record {
        items.push(PlanItem {
            action: "write freeze record".into(),
            target: steps::VARIABLE.into(),
            detail: format!(
                "{} .../actions/variables: {}",
                if *exists { "PATCH" } else { "POST" },
                r.describe()
            ),
        });
    }
    for (r, _) in &plan.reject {
        items.push(PlanItem {
            action: "reject deployment".into(),
            target: format!("run {}", r.id),
            detail: format!(
                "the waiting {env} deployment of {} with comment \"{}\"",
                short_sha(&r.head_sha),
                plan.reason
            ),
        });
    }
    for r in &plan.cancel {
        items.push(PlanItem {
            action: "cancel run".into(),
            target: format!("run {}", r.id),
            detail: format!("{}, {}", short_sha(&r.head_sha), r.state_text()),
        });
    }
    items
}

fn running_warning(ctx: &Context, running: &[RunRef], cancelling: bool) {
    if running.is_empty() || cancelling {
        return;
    }
    ctx.ui.warn(&format!(
        "{} deploy run(s) still in progress (GitHub does not stop them): {}",
        running.len(),
        running
            .iter()
            .map(|r| format!("{} {} ({})", r.id, r.status, r.url))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    ctx.ui
        .progress("re-run with --cancel-running to cancel them");
}

fn record_of(st: &RecordState) -> Option<Record> {
    st.record().cloned()
}

/// Runs `almarel freeze`.
pub async fn run_freeze(ctx: &Context, req: &FreezeRequest) -> Result<FreezeReport> {
    let gh = ctx.github().await?;
    let env = ctx.settings.github.environment.clone();
    let dry_run = ctx.settings.global.dry_run;
    let who = steps::actor(&gh).await;
    let (st, plan) = steps::plan_freeze(ctx, &gh, req, who.github.clone()).await?;
    let words = freeze_words(req);
    let running: Vec<RunRef> = plan
        .running
        .iter()
        .map(|r| RunRef {
            id: r.id,
            sha: r.head_sha.clone(),
            status: r.state_text(),
            url: r.html_url.clone(),
        })
        .collect();
    let ui = &ctx.ui;
    let mut report = FreezeReport {
        workflow: plan.workflow.name.clone(),
        workflow_id: plan.workflow.id,
        was_frozen: !st.workflow_active(),
        state: st.standing(),
        dry_run,
        plan: None,
        done: Vec::new(),
        rejected: Vec::new(),
        running: running.clone(),
        cancel_running: req.cancel_running,
        cancelled: Vec::new(),
        record: record_of(&st.record),
        record_note: plan.record_note.clone(),
        lines: Vec::new(),
        next: None,
    };
    if let Some(note) = &plan.record_note {
        ui.warn(note);
    }

    if dry_run {
        let items = freeze_plan_items(&plan, &env);
        if items.is_empty() {
            report.lines.push(format!(
                "dry run: nothing to do: releases are already {}",
                st.describe().unwrap_or_else(|| "frozen".into())
            ));
        }
        for p in &items {
            report.lines.push(format!(
                "dry run: would {} {}: {}",
                p.action, p.target, p.detail
            ));
        }
        running_warning(ctx, &running, req.cancel_running);
        report.plan = Some(items);
        report.next = Some(Next::new(words));
        return Ok(report);
    }

    if plan.is_empty() {
        report.lines.push(format!(
            "{} releases are already {} ({} is {}); no deployment is waiting",
            ui.mark(Tone::Ok),
            st.describe().unwrap_or_else(|| "frozen".into()),
            plan.workflow.name,
            plan.workflow.state
        ));
        ctx.audit_already_done(
            "freeze",
            &plan.workflow.name,
            who,
            "releases are already frozen",
            steps::audit_details(&req.reason, &[], None),
        );
        running_warning(ctx, &running, false);
        report.state = Standing::Frozen;
        report.lines.push(
            "fix forward (`almarel unfreeze --only TAG` rolls the fix out), then resume releases:"
                .into(),
        );
        report.next = Some(Next::new(["unfreeze"]));
        return Ok(report);
    }

    let items = freeze_plan_items(&plan, &env);
    ctx.confirm(&format!(
        "freeze production releases ({})?",
        items
            .iter()
            .map(|p| format!("{} {}", p.action, p.target))
            .collect::<Vec<_>>()
            .join("; ")
    ))
    .await?;
    let check = with(&words, "--dry-run");
    let audit = ctx.audit_start(
        "freeze",
        &plan.workflow.name,
        who,
        steps::audit_details(&req.reason, &[], None),
    )?;
    let mut progress = Progress::default();
    let result = steps::execute_freeze(ctx, &gh, &plan, &check, &mut progress).await;
    audit.set_details(steps::audit_details(&req.reason, &progress.done, None));
    let finished = audit.finish(result.as_ref().map(|_| ()).map_err(|e| e.message.as_str()));
    fill_freeze(&mut report, &progress, &plan);
    if let Err(e) = result {
        return Err(steps::partial(&progress.done, e).with_report(&report));
    }
    if let Err(e) = finished {
        ui.warn(&format!("audit log not written: {}", e.message));
    }
    report.state = Standing::Frozen;
    for d in &progress.done {
        report.lines.push(format!("{} {d}", ui.mark(Tone::Ok)));
    }
    if let Some(note) = &progress.record_note {
        if plan.record_note.is_none() {
            ui.warn(note);
        }
        report.lines.push(format!(
            "{} frozen by the workflow state only: no freeze record on GitHub",
            ui.mark(Tone::Warn)
        ));
    }
    if !req.cancel_running {
        running_warning(ctx, &running, false);
    }
    report.lines.push(
        "fix forward (`almarel unfreeze --only TAG` rolls the fix out) or `almarel rollback`; then resume releases:"
            .into(),
    );
    report.next = Some(Next::new(["unfreeze"]));
    Ok(report)
}

fn fill_freeze(report: &mut FreezeReport, progress: &Progress, plan: &FreezePlan) {
    report.done = progress.done.clone();
    report.rejected = progress.rejected.clone();
    report.cancelled = progress.cancelled.clone();
    if progress.record_note.is_some() {
        report.record_note = progress.record_note.clone();
    } else if let Some((r, _)) = &plan.record {
        if progress
            .done
            .iter()
            .any(|d| d.starts_with("recorded the freeze"))
        {
            report.record = Some(r.clone());
        }
    }
}

fn unfreeze_plan_items(plan: &UnfreezePlan, env: &str) -> Vec<PlanItem> {
    let wf = &plan.workflow;
    let mut items = Vec::new();
    if let Some((r, exists)) = &plan.record {
        items.push(PlanItem {
            action: "write roll-forward exception".into(),
            target: steps::VARIABLE.into(),
            detail: format!(
                "{} .../actions/variables: {}",
                if *exists { "PATCH" } else { "POST" },
                r.describe()
            ),
        });
    }
    for (r, _) in &plan.reject {
        items.push(PlanItem {
            action: "reject deployment".into(),
            target: format!("run {}", r.id),
            detail: format!(
                "the waiting {env} deployment of {} (\"{}\")",
                short_sha(&r.head_sha),
                plan.comment
            ),
        });
    }
    if plan.enable {
        items.push(PlanItem {
            action: "enable workflow".into(),
            target: wf.name.clone(),
            detail: format!(
                "PUT .../actions/workflows/{}/enable (it is {})",
                wf.id, wf.state
            ),
        });
    }
    if let (true, Some(o)) = (plan.dispatch, &plan.only) {
        items.push(PlanItem {
            action: "dispatch workflow".into(),
            target: wf.name.clone(),
            detail: format!(
                "POST .../actions/workflows/{}/dispatches ref {} ({} has no deploy run)",
                wf.id,
                o.tag,
                short_sha(&o.sha)
            ),
        });
    }
    if plan.delete_record {
        items.push(PlanItem {
            action: "delete freeze record".into(),
            target: steps::VARIABLE.into(),
            detail: "DELETE .../actions/variables/ALMAREL_FREEZE".into(),
        });
    }
    items
}

/// Runs `almarel unfreeze` (with `--only`, a roll forward under the freeze).
pub async fn run_unfreeze(ctx: &Context, req: &UnfreezeRequest) -> Result<UnfreezeReport> {
    let gh = ctx.github().await?;
    let env = ctx.settings.github.environment.clone();
    let dry_run = ctx.settings.global.dry_run;
    let prefix = ctx.settings.git.tag_prefix.clone();
    let ui = &ctx.ui;
    let words = unfreeze_words(req);

    // The release to roll forward: a final release tag on GitHub.
    let only = match &req.only {
        None => None,
        Some(tag) => {
            if ReleaseTag::from_name(tag, &prefix).is_some_and(|t| t.is_prerelease()) {
                return Err(Error::refused(format!(
                    "{tag} is a pre-release; production gets final releases"
                ))
                .with_code("prerelease")
                .with_hint(
                    "tag the fix as a final release (almarel tag X.Y.Z) and roll that forward",
                ));
            }
            match gh.tag_commit(tag).await? {
                Some(sha) => Some((tag.clone(), sha)),
                None => {
                    return Err(Error::refused(format!(
                        "{tag} is not on GitHub: there is no release to roll forward"
                    ))
                    .with_code("tag_not_found")
                    .with_hint(format!(
                        "tag and push the fix first: almarel tag {}",
                        tag.strip_prefix(prefix.as_str()).unwrap_or(tag)
                    )));
                }
            }
        }
    };
    let who = steps::actor(&gh).await;
    let (st, plan) = steps::plan_unfreeze(
        ctx,
        &gh,
        only.as_ref().map(|(t, s)| (t.as_str(), s.as_str())),
        who.github.clone(),
    )
    .await?;
    let mut report = UnfreezeReport {
        workflow: plan.workflow.name.clone(),
        workflow_id: plan.workflow.id,
        was: plan.workflow.state.as_str().to_owned(),
        enabled: false,
        state: st.standing(),
        dry_run,
        plan: None,
        done: Vec::new(),
        rejected: Vec::new(),
        only: plan.only.clone(),
        dispatched: None,
        record: record_of(&st.record),
        record_note: match &st.record {
            RecordState::Unavailable(why) => Some(format!(
                "the freeze record could not be read ({why}); the workflow state alone decides. The token needs {}",
                steps::RECORD_PERMISSION
            )),
            _ => None,
        },
        lines: Vec::new(),
        next: None,
    };
    if let Some(n) = &report.record_note {
        ui.warn(n);
    }
    if let Some(n) = &plan.dispatch_note {
        ui.warn(n);
    }
    let status_next = match &req.only {
        Some(t) => Next::new(["status", t.as_str(), "--watch"]),
        None => Next::new(["status"]),
    };

    if dry_run {
        let items = unfreeze_plan_items(&plan, &env);
        if items.is_empty() {
            report.lines.push(match &plan.only {
                Some(o) => format!(
                    "dry run: nothing to do: {} is already being rolled forward ({})",
                    o.tag,
                    st.describe().unwrap_or_default()
                ),
                None => format!(
                    "dry run: nothing to do: releases are not frozen ({} is {})",
                    plan.workflow.name, plan.workflow.state
                ),
            });
        }
        for p in &items {
            report.lines.push(format!(
                "dry run: would {} {}: {}",
                p.action, p.target, p.detail
            ));
        }
        report.plan = Some(items);
        report.next = Some(Next::new(words));
        return Ok(report);
    }

    if plan.only.is_none() && !st.frozen() && plan.is_empty() {
        ctx.audit_already_done(
            "unfreeze",
            &plan.workflow.name,
            who,
            "releases are not frozen",
            steps::audit_details("", &[], None),
        );
        report.lines.push(format!(
            "{} releases are not frozen: {} is already active{}",
            ui.mark(Tone::Ok),
            plan.workflow.name,
            req.only
                .as_ref()
                .map(|t| format!("; {t} needs no exception and deploys as usual"))
                .unwrap_or_default()
        ));
        report.next = Some(status_next);
        return Ok(report);
    }
    if let (true, Some(o)) = (plan.is_empty(), plan.only.clone()) {
        // A re-run of `--only` that finds everything in place.
        ctx.audit_already_done(
            "unfreeze",
            &plan.workflow.name,
            who,
            &format!("{} is already being rolled forward", o.tag),
            steps::audit_details("", &[], Some(&o.tag)),
        );
        report.lines.push(format!(
            "{} {} is already being rolled forward; no other production deployment is waiting",
            ui.mark(Tone::Ok),
            o.tag
        ));
        roll_forward_lines(&mut report, &o, ui);
        report.next = Some(status_next);
        return Ok(report);
    }

    let items = unfreeze_plan_items(&plan, &env);
    ctx.confirm(&match &plan.only {
        Some(o) => format!(
            "roll {} forward under the freeze ({})?",
            o.tag,
            items
                .iter()
                .map(|p| format!("{} {}", p.action, p.target))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        None => format!(
            "unfreeze production releases ({})?",
            items
                .iter()
                .map(|p| format!("{} {}", p.action, p.target))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    })
    .await?;
    let check = with(&words, "--dry-run");
    let only_tag = plan.only.as_ref().map(|o| o.tag.clone());
    let audit = ctx.audit_start(
        "unfreeze",
        &plan.workflow.name,
        who,
        steps::audit_details("", &[], only_tag.as_deref()),
    )?;
    let mut progress = Progress::default();
    let result = steps::execute_unfreeze(ctx, &gh, &plan, &check, &mut progress).await;
    audit.set_details(steps::audit_details(
        "",
        &progress.done,
        only_tag.as_deref(),
    ));
    let finished = audit.finish(result.as_ref().map(|_| ()).map_err(|e| e.message.as_str()));
    report.done = progress.done.clone();
    report.rejected = progress.rejected.clone();
    report.dispatched = progress.dispatched.clone();
    report.enabled = progress.done.iter().any(|d| d.starts_with("enabled "));
    if let Err(e) = result {
        return Err(steps::partial(&progress.done, e).with_report(&report));
    }
    if let Err(e) = finished {
        ui.warn(&format!("audit log not written: {}", e.message));
    }
    for d in &progress.done {
        report.lines.push(format!("{} {d}", ui.mark(Tone::Ok)));
    }
    if let Some(note) = &progress.record_note {
        ui.warn(note);
        report.record_note = Some(note.clone());
    }
    match &plan.only {
        Some(o) => {
            report.state = Standing::RollForward;
            report.record = plan
                .record
                .as_ref()
                .map(|(r, _)| r.clone())
                .or(report.record.take());
            roll_forward_lines(&mut report, o, ui);
        }
        None => {
            report.state = Standing::NotFrozen;
            if progress.record_note.is_none() {
                report.record = None;
            }
            report.lines.push(format!(
                "{} releases are not frozen: {} is active",
                ui.mark(Tone::Ok),
                plan.workflow.name
            ));
            if report.enabled {
                ui.warn(
                    "commits pushed while releases were frozen got no deploy run; \
re-run the deploy workflow for the release you want on GitHub, or push/tag a new release",
                );
            }
        }
    }
    report.next = Some(status_next);
    Ok(report)
}

fn roll_forward_lines(report: &mut UnfreezeReport, o: &Exception, ui: &Ui) {
    report.lines.push(format!(
        "{} releases stay FROZEN except {} ({}): only its deploy run may be approved and deployed",
        ui.mark(Tone::Warn),
        o.tag,
        short_sha(&o.sha)
    ));
    report.lines.push(format!(
        "  re-run `almarel unfreeze --only {}` to reject any other deploy run that appears meanwhile",
        o.tag
    ));
    report.lines.push(
        "  once it is live: `almarel unfreeze` lifts the freeze, or `almarel freeze --reason TEXT` restores it"
            .into(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_words_repeat_the_request() {
        let r = FreezeRequest {
            reason: "bad deploy".into(),
            cancel_running: true,
        };
        assert_eq!(
            Next::new(freeze_words(&r)).to_string(),
            "almarel freeze --reason 'bad deploy' --cancel-running"
        );
        assert_eq!(
            with(
                &unfreeze_words(&UnfreezeRequest {
                    only: Some("v1.2.4".into())
                }),
                "--dry-run"
            )
            .to_string(),
            "almarel unfreeze --only v1.2.4 --dry-run"
        );
    }
}
