//! `almarel approve [REF] [--run ID] [--reject]`: review the waiting
//! production deployment after printing the evidence and checking the gates
//! (CI green for that exact commit, a release tag that is not only a
//! pre-release, releases not frozen, the caller may approve). The review POST
//! is journaled and audited before it leaves and sent exactly once; an
//! unknown outcome (5xx, timeout) is settled by re-reading the run. A run
//! already reviewed (by a colleague in the browser, or by an earlier
//! interrupted run) is reported as such, naming who, and nothing is sent.

use std::time::Duration;

use serde::Serialize;

use crate::audit::{Actor, AuditEntry};
use crate::clock::Deadline;
use crate::context::Context;
use crate::env;
use crate::error::{Error, Result};
use crate::github::{Client, PendingDeployment, Run, TagRef, User, WriteOutcome};
use crate::journal::Snapshot;
use crate::release::approval::{self, Approval};
use crate::release::watch;
use crate::report::{Check, Next, PlanItem, Report};
use crate::ui::{Tone, Ui};
use crate::version::{ReleaseTag, preferred_tag, short_sha};

/// Which run to review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The waiting deploy run of REF's commit (`None`: the commit at
    /// `<remote>/<branch>`); REF is validated.
    Ref(Option<String>),
    /// This workflow run (`--run ID`).
    Run(u64),
}

/// What `almarel approve` is asked to do (resolved from the flags by
/// [`crate::resolve::approve`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The run to review.
    pub target: Target,
    /// Reject instead of approving.
    pub reject: bool,
    /// The review comment (default: the checks that passed).
    pub comment: Option<String>,
    /// `--allow-untagged`.
    pub allow_untagged: bool,
    /// `--allow-prerelease`.
    pub allow_prerelease: bool,
    /// Follow the run after the review.
    pub watch: bool,
    /// Deadline for `watch`.
    pub timeout: Duration,
}

impl Request {
    fn verb(&self) -> &'static str {
        if self.reject { "reject" } else { "approve" }
    }

    /// `approved` / `rejected`.
    fn state(&self) -> &'static str {
        if self.reject { "rejected" } else { "approved" }
    }

    /// The same request against `what` (a tag, a SHA, or `--run ID`), with
    /// the flags that change the decision: the command a dry run's `next:`
    /// names.
    fn again(&self, what: &[String]) -> Next {
        let mut words = vec!["approve".to_owned()];
        words.extend(what.iter().cloned());
        if self.reject {
            words.push("--reject".into());
        } else {
            if self.allow_untagged {
                words.push("--allow-untagged".into());
            }
            if self.allow_prerelease {
                words.push("--allow-prerelease".into());
            }
        }
        if let Some(c) = &self.comment {
            words.push("--comment".into());
            words.push(c.clone());
        }
        Next::new(words)
    }
}

/// The review POST's body (`--json` `review`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewBody {
    /// The environment reviewed (its id).
    pub environment_ids: Vec<u64>,
    /// `approved` or `rejected`.
    pub state: String,
    /// The review comment.
    pub comment: String,
}

/// The result of `almarel approve` (its `--json` object; see `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct ApproveReport {
    /// The deploy run.
    pub run_id: u64,
    /// The run's page on GitHub.
    pub url: String,
    /// The run's head SHA.
    pub sha: String,
    /// The release tag at the commit (a final one when there is one), or null.
    pub tag: Option<String>,
    /// The environment reviewed (`github.environment`).
    pub environment: String,
    /// The gates (empty for `--reject` and for a run already reviewed).
    pub checks: Vec<Check>,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// What a dry run would do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlanItem>>,
    /// The review this run sent (or, on a dry run, would send).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewBody>,
    /// `approved` / `rejected`: this run's review was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed: Option<String>,
    /// `approved` / `rejected`: someone's review decided before ours (before
    /// this run started, or between our read and our POST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub already: Option<String>,
    /// Who made that review (login).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// With `--watch`: the run's conclusion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_conclusion: Option<String>,
    /// The staging evidence (SPEC §8.3): `{name, ok, detail, fix}` for the
    /// commit's newest verdict in staging; absent without `[environments.staging]`
    /// or when approving staging itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staging: Option<Check>,
    /// With `--watch`: whether the release went live (SPEC §7.4), once the
    /// run succeeded and Coolify or `verify.version_url` is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<crate::release::live::LiveReport>,
    #[serde(skip)]
    lines: Vec<String>,
    #[serde(skip)]
    next: Option<Next>,
    #[serde(skip)]
    summary: Option<String>,
}

impl ApproveReport {
    fn new(run: &Run, environment: &str) -> ApproveReport {
        ApproveReport {
            run_id: run.id,
            url: run.html_url.clone(),
            sha: run.head_sha.clone(),
            tag: None,
            environment: environment.to_owned(),
            checks: Vec::new(),
            dry_run: false,
            plan: None,
            review: None,
            reviewed: None,
            already: None,
            by: None,
            run_conclusion: None,
            staging: None,
            live: None,
            lines: Vec::new(),
            next: None,
            summary: None,
        }
    }
}

impl Report for ApproveReport {
    fn render(&self, ui: &Ui) {
        for l in &self.lines {
            ui.result(l);
        }
    }
    fn next(&self) -> Option<Next> {
        self.next.clone()
    }
    fn outputs(&self) -> Vec<(&'static str, String)> {
        if self.dry_run || (self.reviewed.is_none() && self.already.is_none()) {
            return Vec::new();
        }
        vec![
            ("sha", self.sha.clone()),
            ("tag", self.tag.clone().unwrap_or_default()),
        ]
    }
    fn summary(&self) -> Option<String> {
        self.summary.clone()
    }
}

/// The `--json` data of "no run waiting" (`waiting_runs`).
#[derive(Debug, Serialize)]
struct NothingWaiting {
    waiting_runs: Vec<WaitingRun>,
}

#[derive(Debug, Serialize)]
struct WaitingRun {
    id: u64,
    sha: String,
    url: String,
}

/// The audit line's `details`.
#[derive(Debug, Serialize)]
struct AuditDetails<'a> {
    run_id: u64,
    sha: &'a str,
    environment: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<&'a str>,
}

impl AuditDetails<'_> {
    fn value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Whether the token came from `GITHUB_TOKEN` inside GitHub Actions (it cannot review).
fn actions_token(ctx: &Context) -> bool {
    ctx.env.in_github_actions()
        && ctx.env.get(env::GH_TOKEN).is_none()
        && ctx.env.get(env::GITHUB_TOKEN).is_some()
}

/// The command that tells, reading only, whether a review of `run_id` was
/// applied (it answers "already approved by @…" when it was).
fn check_command(run_id: u64, reject: bool) -> Next {
    let mut words = vec![
        "approve".to_owned(),
        "--run".to_owned(),
        run_id.to_string(),
        "--dry-run".to_owned(),
    ];
    if reject {
        words.push("--reject".into());
    }
    Next::new(words)
}

/// The resume hint after an interruption (SPEC §7.3): the exact command that
/// continues safely, taken from the in-flight review's check command.
pub fn resume_hint(snap: &Snapshot) -> String {
    let rerun = snap.in_flight.iter().find_map(|w| {
        w.check
            .as_deref()
            .filter(|c| c.starts_with("almarel approve --run "))
            .map(|c| c.replace(" --dry-run", ""))
    });
    match rerun {
        Some(cmd) => format!(
            "`{cmd}` is safe to re-run: if the review landed it says \"already approved\" (or rejected) by whom and sends nothing; if not, it checks the gates again and asks before sending it"
        ),
        None => "re-run the same command: it finds the review already made, says by whom and sends nothing again".to_owned(),
    }
}

/// The label of the release in messages and `next:` lines: the preferred
/// tag, else REF as given, else the short SHA.
fn label_of(req: &Request, tag: Option<&str>, sha: &str) -> String {
    if let Some(t) = tag {
        return t.to_owned();
    }
    match &req.target {
        Target::Ref(Some(r)) => r.clone(),
        _ => short_sha(sha).to_owned(),
    }
}

fn status_watch(what: &str) -> Next {
    Next::new(["status", what, "--watch"])
}

fn audit_actor(me: Option<&User>) -> Actor {
    Actor {
        git: None,
        github: me.map(|u| u.login.clone()),
    }
}

fn finish_audit(ctx: &Context, entry: AuditEntry, outcome: std::result::Result<(), &str>) {
    if let Err(e) = entry.finish(outcome) {
        ctx.ui
            .warn(&format!("audit log not written: {}", e.message));
    }
}

/// The run is not waiting for `github.environment`: the review history says
/// whether someone decided already. `Some` when it did (the report or the
/// refusal), `None` when nobody reviewed it.
async fn already_reviewed(
    ctx: &Context,
    gh: &Client,
    run: &Run,
    req: &Request,
) -> Result<Option<ApproveReport>> {
    let env = &ctx.settings.github.environment;
    let reviews = gh.approvals(run.id).await?;
    let decision = approval::decide(Some(run), &[], &reviews, env);
    let Some(by) = decision.reviewer().map(str::to_owned) else {
        return Ok(None);
    };
    // The release tag at the commit, for the report and the next step
    // (unknown when the tags cannot be read: the review is what matters here).
    let at_commit: Vec<ReleaseTag> = gh
        .release_tags()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, t)| t.commit == run.head_sha)
        .map(|(r, _)| r)
        .collect();
    let tag = preferred_tag(&at_commit).map(|t| t.name.clone());
    let what = label_of(req, tag.as_deref(), &run.head_sha);
    let mut report = ApproveReport::new(run, env);
    report.tag = tag;
    report.dry_run = ctx.settings.global.dry_run;
    let comment = decision
        .comment()
        .map(|c| format!(" (\"{c}\")"))
        .unwrap_or_default();
    let state = if decision.is_approved() {
        "approved"
    } else {
        "rejected"
    };
    report.already = Some(state.to_owned());
    report.by = Some(by.clone());
    if decision.is_approved() && req.reject {
        return Err(Error::refused(format!(
            "run {} was already approved for {env} by @{by}{comment}; there is nothing left to reject",
            run.id
        ))
        .with_code("already_approved")
        .with_hint("no flag overrides this: an approval cannot be withdrawn on GitHub")
        .with_hint(format!(
            "to stop the release now: `{}`",
            Next::new([
                "freeze",
                "--reason",
                "approved by mistake",
                "--cancel-running"
            ])
        ))
        .with_report(&report));
    }
    if decision.is_rejected() && !req.reject {
        return Err(Error::refused(format!(
            "run {} was rejected for {env} by @{by}{comment}; it cannot be approved any more",
            run.id
        ))
        .with_code("rejected")
        .with_hint("no flag overrides a rejection: re-run the deploy workflow's jobs on GitHub (the new attempt waits for review again), or tag a new release")
        .with_report(&report));
    }
    // The review we would send is there already: say so, send nothing.
    report.lines.push(format!(
        "{} run {} was already {state} for {env} by @{by}{comment}; nothing was sent",
        ctx.ui.mark(Tone::Ok),
        run.id,
    ));
    if !report.dry_run {
        let me = gh.current_user().await.ok();
        ctx.audit_already_done(
            req.verb(),
            &format!("run {} ({what})", run.id),
            audit_actor(me.as_ref()),
            &format!("run {} was already {state} by @{by}", run.id),
            AuditDetails {
                run_id: run.id,
                sha: &run.head_sha,
                environment: env,
                comment: None,
                by: Some(&by),
            }
            .value(),
        );
    }
    if req.reject {
        report.next = Some(Next::new(["status", short_sha(&run.head_sha)]));
        return Ok(Some(report));
    }
    if req.watch && !report.dry_run {
        follow_into(ctx, gh, run.id, req, &mut report).await?;
        return Ok(Some(report));
    }
    report.next = Some(status_watch(&what));
    Ok(Some(report))
}

/// Follows the run after an approval; the report gets the conclusion and
/// the next step (verify), or the error says how the run ended.
async fn follow_into(
    ctx: &Context,
    gh: &Client,
    run_id: u64,
    req: &Request,
    report: &mut ApproveReport,
) -> Result<()> {
    let deadline = Deadline::after(ctx.clock.as_ref(), req.timeout);
    let r = match follow(ctx, gh, run_id, deadline).await {
        Ok(r) => r,
        Err(e) => return Err(e.with_report(&*report)),
    };
    report.run_conclusion = r.conclusion.as_ref().map(ToString::to_string);
    if !(r.conclusion.as_ref().is_some_and(|c| c.is_ok()) || req.reject) {
        return Err(
            Error::failed(format!("run {} {} ({})", r.id, r.state_text(), r.html_url))
                .with_code("run_failed")
                .with_hint("open the run's log; production still runs the previous release")
                .with_report(&*report),
        );
    }
    report
        .lines
        .push(format!("run {} {}", r.id, r.state_text()));
    if req.reject {
        report.next = Some(Next::new(["status", short_sha(&report.sha)]));
        return Ok(());
    }
    report.next = Some(Next::new(["verify", "--expect-sha", report.sha.as_str()]));
    if watch::End::default_for(&ctx.settings) != watch::End::Live {
        return Ok(());
    }
    // The approved run deployed (SPEC §8.1): production and every app are
    // followed until the release is live.
    let prefix = &ctx.settings.git.tag_prefix;
    let tags: Vec<ReleaseTag> = report
        .tag
        .iter()
        .filter_map(|t| ReleaseTag::from_name(t, prefix))
        .collect();
    let sha = report.sha.clone();
    let on_change = |o: &watch::Observed| {
        ctx.ui.progress(&format!("live: {}", watch::stands_text(o)));
    };
    match watch::until_live(ctx, &sha, &tags, deadline, &on_change).await {
        Ok(watch::LiveEnd::Live(o)) => {
            report.live = o.live;
            report
                .lines
                .push(format!("{} is live in production", short_sha(&sha)));
            Ok(())
        }
        Ok(watch::LiveEnd::Mixed(o, why)) => {
            report.live = o.live;
            Err(Error::failed(format!(
                "run {} succeeded, but the release is mixed: {why}",
                r.id
            ))
            .with_code("release_mixed")
            .with_hint("see `almarel status` for each app; finish with `almarel deploy`, or go back with `almarel rollback`")
            .with_report(&*report))
        }
        Err(e) => Err(e
            .with_hint(format!(
                "run {} succeeded; the release may still be rolling out: follow it with `almarel status {} --watch`",
                r.id,
                report.tag.clone().unwrap_or_else(|| sha.clone())
            ))
            .with_report(&*report)),
    }
}

/// Runs `almarel approve`.
pub async fn run(ctx: &Context, req: &Request) -> Result<ApproveReport> {
    let gh = ctx.github().await?;
    let g = &ctx.settings.github;
    let env_name = g.environment.clone();
    let verb = req.verb();
    let dry_run = ctx.settings.global.dry_run;
    let deploy_wf = gh.workflow(&g.deploy_workflow).await?;
    let freeze = crate::release::freeze::state(&gh, &g.deploy_workflow).await?;

    // 1. The run.
    let run = match &req.target {
        Target::Run(id) => gh.run(*id).await?,
        Target::Ref(reference) => {
            let target = gh.resolve_ref(reference.as_deref()).await?;
            let runs = gh.runs_for_commit(deploy_wf.id, &target.sha).await?;
            match runs.iter().find(|r| r.is_waiting()) {
                Some(r) => r.clone(),
                None => {
                    for r in &runs {
                        if let Some(done) = already_reviewed(ctx, &gh, r, req).await? {
                            return Ok(done);
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
                    let data = NothingWaiting {
                        waiting_runs: waiting
                            .iter()
                            .map(|r| WaitingRun {
                                id: r.id,
                                sha: r.head_sha.clone(),
                                url: r.html_url.clone(),
                            })
                            .collect(),
                    };
                    return Err(Error::refused(format!(
                        "no {} run waiting for approval for {} ({}); {there}",
                        deploy_wf.name,
                        target.label,
                        target.short()
                    ))
                    .with_code("no_waiting_run")
                    .with_hint(format!(
                        "no flag overrides this: there is nothing to review until the deploy run waits for {env_name}; follow it with `{}`, or pass --run ID to review another run",
                        status_watch(&target.label)
                    ))
                    .with_report(&data));
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
        .with_code("not_deploy_run")
        .with_hint("no flag overrides this: pass the id of a deploy run (see `almarel status`), or set github.deploy_workflow"));
    }
    let sha = run.head_sha.clone();

    // 2. The pending deployment of github.environment.
    let pending_all = gh.pending_deployments(run.id).await?;
    let Some(pending) = pending_all
        .iter()
        .find(|p| p.environment.name.as_deref() == Some(env_name.as_str()))
        .cloned()
    else {
        if let Some(done) = already_reviewed(ctx, &gh, &run, req).await? {
            return Ok(done);
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
        .with_code("not_pending")
        .with_hint("no flag overrides this: only a pending deployment can be reviewed; check github.environment, or `almarel status` for the run's state")
        .with_report(&ApproveReport::new(&run, &env_name)));
    };

    // 3. Evidence (printed before anything is sent).
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
    let staging = staging_evidence(ctx, &gh, &sha).await;
    if let Some((check, _)) = &staging {
        evidence.push(vec![
            crate::settings::STAGING_ENVIRONMENT.to_owned(),
            match check {
                Ok(c) => c.detail.clone(),
                Err(e) => format!("unknown: {}", e.message),
            },
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

    let what = label_of(req, preferred.as_ref().map(|t| t.name.as_str()), &sha);
    let mut report = ApproveReport::new(&run, &env_name);
    report.tag = preferred.as_ref().map(|t| t.name.clone());
    report.dry_run = dry_run;
    report.staging = staging.as_ref().and_then(|(c, _)| c.as_ref().ok().cloned());

    // 4. Gates (all evaluated; printed before anything is sent).
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
    if !req.reject {
        report.checks = gates(
            ctx,
            req,
            &GateInputs {
                sha: &sha,
                ci_run: ci_run.as_ref(),
                release_tags: &release_tags,
                preferred: preferred.as_ref(),
                frozen: freeze.refusal(&sha).map(|e| (e.message, e.hints)),
                frozen_pass: if freeze.frozen() {
                    "releases are frozen, but this commit is the roll forward's (`almarel unfreeze --only`)"
                } else {
                    "releases are not frozen"
                },
                pending: &pending,
                me: me.as_ref(),
                cannot_approve: &can_approve_explained,
            },
        );
        for c in &report.checks {
            ui.result(&format!(
                "{} {}",
                ui.mark(if c.ok { Tone::Ok } else { Tone::Fail }),
                c.detail
            ));
        }
        let failed: Vec<&Check> = report.checks.iter().filter(|c| !c.ok).collect();
        if !failed.is_empty() {
            let code = match failed.as_slice() {
                [c] => match c.name.as_str() {
                    "ci" => "ci_not_green",
                    "tagged" => "untagged",
                    "final_release" => "prerelease",
                    "accepted_release" => "environment_refuses_version",
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
                    .map(|c| c.detail.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
            .with_code(code);
            for c in &failed {
                err = err.with_hint(c.fix.clone().unwrap_or_default());
            }
            return Err(err.with_hint("nothing was sent").with_report(&report));
        }
    } else if !pending.current_user_can_approve {
        return Err(Error::refused(format!(
            "cannot reject run {}: {can_approve_explained}",
            run.id
        ))
        .with_code("cannot_approve")
        .with_hint(
            "no flag overrides this: ask a required reviewer to reject it, or stop releases with `almarel freeze` (disables the deploy workflow)",
        )
        .with_report(&report));
    }

    // `approve.require_staging`: a successful verify in staging first.
    if let (false, Some((check, verified))) = (req.reject, &staging) {
        if let Err(e) = check {
            if ctx.settings.approve.require_staging {
                return Err(Error::remote(format!(
                    "cannot read the staging evidence that approve.require_staging asks for: {}",
                    e.message
                ))
                .with_hint("nothing was sent")
                .with_report(&report));
            }
        }
        if let Err(e) =
            crate::release::evidence::require_staging(&ctx.settings, &sha, verified.as_ref())
        {
            ui.result(&format!("{} {}", ui.mark(Tone::Fail), e.message));
            return Err(e.with_hint("nothing was sent").with_report(&report));
        }
    }

    // 5. The review.
    let comment = req.comment.clone().unwrap_or_else(|| {
        if req.reject {
            "Rejected with almarel".to_owned()
        } else {
            let passed: Vec<String> = report
                .checks
                .iter()
                .filter(|c| c.ok)
                .map(|c| c.detail.clone())
                .collect();
            format!("Approved with almarel: {}", passed.join("; "))
        }
    });
    let body = ReviewBody {
        environment_ids: vec![pending.environment.id],
        state: req.state().to_owned(),
        comment: comment.clone(),
    };
    report.review = Some(body.clone());
    let post = format!(
        "POST /repos/{}/actions/runs/{}/pending_deployments",
        gh.repo(),
        run.id
    );
    if dry_run {
        let body_text = serde_json::to_string(&body).unwrap_or_default();
        report
            .lines
            .push(format!("dry run: would {post} {body_text}"));
        report.lines.push("dry run: nothing was sent".to_owned());
        report.plan = Some(vec![PlanItem {
            action: format!("{verb} (review POST)"),
            target: format!("run {}", run.id),
            detail: format!("{post} {body_text}"),
        }]);
        let again = match req.target {
            Target::Run(id) => vec!["--run".to_owned(), id.to_string()],
            Target::Ref(_) => vec![what.clone()],
        };
        report.next = Some(req.again(&again));
        return Ok(report);
    }
    ctx.confirm(&format!(
        "{verb} the {env_name} deployment of {what} (run {})?",
        run.id
    ))
    .await?;
    let actor = audit_actor(me.as_ref());
    let target = format!("run {} ({what})", run.id);
    let audit = ctx.audit_start(
        verb,
        &target,
        actor,
        AuditDetails {
            run_id: run.id,
            sha: &sha,
            environment: &env_name,
            comment: Some(&comment),
            by: None,
        }
        .value(),
    )?;
    let write = ctx.journal.begin(
        format!("review POST: {verb} run {} for {env_name}", run.id),
        Some(check_command(run.id, req.reject).to_string()),
    );
    let outcome = gh
        .review(run.id, &[pending.environment.id], !req.reject, &comment)
        .await;
    let settled = match outcome {
        Err(e) => Settled::Failed(e),
        Ok(WriteOutcome::Accepted(_)) => {
            // Read back: a 2xx that left no review in the run's history
            // recorded nothing (a read that fails trusts the answer).
            match gh.approvals(run.id).await {
                Ok(reviews)
                    if approval::decide(Some(&run), &[], &reviews, &env_name)
                        .reviewer()
                        .is_none() =>
                {
                    Settled::Failed(
                        Error::remote(format!(
                            "GitHub accepted the review of run {} but its review history has none for {env_name}: nothing was recorded",
                            run.id
                        ))
                        .with_code("review_not_applied")
                        .with_hint(format!(
                            "`{}` is safe to re-run: it checks again before sending",
                            req.again(std::slice::from_ref(&what))
                        )),
                    )
                }
                _ => Settled::Applied,
            }
        }
        Ok(WriteOutcome::Refused { status, message }) => {
            refused_review(
                ctx,
                &gh,
                &run,
                &pending,
                me.as_ref(),
                status,
                &message,
                verb,
            )
            .await
        }
        Ok(WriteOutcome::Unknown(e)) => {
            ui.warn(&format!(
                "{}; re-reading the run to see whether the review was applied",
                e.message
            ));
            let unknown = |e2: &Error| {
                Settled::Unknown(
                    Error::remote(format!(
                        "the outcome of the review of run {} is unknown: {}; re-reading failed: {}",
                        run.id, e.message, e2.message
                    ))
                    .with_code("review_unknown")
                    .with_hint(format!(
                        "check with `{}` before doing anything else: it says \"already {}\" if the review landed",
                        check_command(run.id, req.reject),
                        req.state()
                    )),
                )
            };
            let not_applied = |why: String| {
                Settled::Failed(
                    Error::remote(format!(
                        "the review of run {} was not applied ({}): {why}",
                        run.id, e.message
                    ))
                    .with_code("review_not_applied")
                    .with_hint(format!(
                        "`{}` is safe to re-run: it checks again before sending",
                        req.again(std::slice::from_ref(&what))
                    )),
                )
            };
            match gh.pending_deployments(run.id).await {
                // No longer pending: the newest review in the run's history
                // says whose it was; none means the run stopped waiting some
                // other way (cancelled), and ours was not recorded.
                Ok(p) if !p.iter().any(|p| p.environment.id == pending.environment.id) => {
                    match newest_review(ctx, &gh, &run).await {
                        Err(e2) => unknown(&e2),
                        Ok(None) => not_applied(
                            "the deployment is no longer waiting, and the run's history has no review"
                                .to_owned(),
                        ),
                        Ok(Some((decision, by))) if is_ours(&decision, &by, me.as_ref(), req) => {
                            ui.progress("the review was applied: the run's history shows it");
                            Settled::Applied
                        }
                        Ok(Some((decision, by))) => Settled::Raced {
                            decision,
                            by,
                            why: format!("{}; the run was reviewed by someone else", e.message),
                        },
                    }
                }
                Ok(_) => not_applied("nothing changed".to_owned()),
                Err(e2) => unknown(&e2),
            }
        }
    };
    match settled {
        Settled::Applied => {
            write.done();
            finish_audit(ctx, audit, Ok(()));
        }
        Settled::Failed(e) => {
            write.failed(e.message.clone());
            finish_audit(ctx, audit, Err(&e.message));
            return Err(e.with_report(&report));
        }
        Settled::Unknown(e) => {
            // Left in flight in the journal: it may have been applied.
            drop(write);
            finish_audit(ctx, audit, Err(&e.message));
            return Err(e.with_report(&report));
        }
        Settled::Raced { decision, by, why } => {
            let state = if decision.is_approved() {
                "approved"
            } else {
                "rejected"
            };
            let why = format!("{why}: the run was {state} by @{by} first; ours was not recorded");
            write.failed(why.clone());
            finish_audit(ctx, audit, Err(&why));
            report.already = Some(state.to_owned());
            report.by = Some(by.clone());
            let comment = decision
                .comment()
                .map(|c| format!(" (\"{c}\")"))
                .unwrap_or_default();
            if decision.is_approved() && req.reject {
                return Err(Error::refused(format!(
                    "cannot reject run {}: it was approved for {env_name} by @{by}{comment} in the meantime",
                    run.id
                ))
                .with_code("already_approved")
                .with_hint("no flag overrides this: an approval cannot be withdrawn on GitHub")
                .with_hint(format!(
                    "to stop the release now: `{}`",
                    Next::new(["freeze", "--reason", "approved by mistake", "--cancel-running"])
                ))
                .with_report(&report));
            }
            if decision.is_rejected() && !req.reject {
                return Err(Error::refused(format!(
                    "cannot approve run {}: it was rejected for {env_name} by @{by}{comment} in the meantime",
                    run.id
                ))
                .with_code("rejected")
                .with_hint("no flag overrides a rejection: re-run the deploy workflow's jobs on GitHub (the new attempt waits for review again), or tag a new release")
                .with_report(&report));
            }
            report.lines.push(format!(
                "{} run {} was already {state} for {env_name} by @{by}{comment} (their review arrived before ours; ours was not recorded)",
                ui.mark(Tone::Ok),
                run.id
            ));
            if req.watch && !req.reject {
                follow_into(ctx, &gh, run.id, req, &mut report).await?;
            } else if req.reject {
                report.next = Some(Next::new(["status", short_sha(&sha)]));
            } else {
                report.next = Some(status_watch(&what));
            }
            return Ok(report);
        }
    }

    report.reviewed = Some(req.state().to_owned());
    report.lines.push(format!(
        "{} {} the {env_name} deployment of {what} (run {})",
        ui.mark(Tone::Ok),
        req.state(),
        run.id
    ));
    report.summary = Some(format!(
        "### almarel {verb}\n\n{} the `{env_name}` deployment of {what} ([run {}]({})), commit `{sha}`\n",
        if req.reject { "Rejected" } else { "Approved" },
        run.id,
        run.html_url
    ));
    if req.watch {
        follow_into(ctx, &gh, run.id, req, &mut report).await?;
    } else if req.reject {
        report.next = Some(Next::new(["status", short_sha(&sha)]));
    } else {
        report.next = Some(status_watch(&what));
    }
    Ok(report)
}

/// How the review POST ended.
enum Settled {
    /// Our review was applied.
    Applied,
    /// Not applied (or refused): the error says why.
    Failed(Error),
    /// Nobody can tell yet whether it was applied.
    Unknown(Error),
    /// Someone else's review decided before ours arrived.
    Raced {
        decision: Approval,
        by: String,
        why: String,
    },
}

/// The newest decisive review of the run and who made it, from its history
/// (`None`: no decisive review).
async fn newest_review(
    ctx: &Context,
    gh: &Client,
    run: &Run,
) -> Result<Option<(Approval, String)>> {
    let reviews = gh.approvals(run.id).await?;
    let decision = approval::decide(Some(run), &[], &reviews, &ctx.settings.github.environment);
    Ok(decision
        .reviewer()
        .map(str::to_owned)
        .map(|by| (decision, by)))
}

/// Whether a decision is the one we sent: ours by login (without our login,
/// when GET /user failed, a decision like ours counts as ours).
fn is_ours(decision: &Approval, by: &str, me: Option<&User>, req: &Request) -> bool {
    me.is_none_or(|m| m.login == by) && decision.is_approved() != req.reject
}

/// A 4xx answer to the review: re-read to tell "someone else reviewed it
/// first" (their review decides) from a real refusal.
#[allow(clippy::too_many_arguments)]
async fn refused_review(
    ctx: &Context,
    gh: &Client,
    run: &Run,
    pending: &PendingDeployment,
    me: Option<&User>,
    status: u16,
    message: &str,
    verb: &str,
) -> Settled {
    let env_name = &ctx.settings.github.environment;
    let now = gh.pending_deployments(run.id).await.ok();
    let still = now.as_ref().and_then(|p| {
        p.iter()
            .find(|p| p.environment.id == pending.environment.id)
            .cloned()
    });
    let mut why = format!("GitHub answered {status}: {message}");
    let mut code = "review_refused";
    if let Some(p) = &still {
        if !p.current_user_can_approve {
            why.push_str("; ");
            why.push_str(
                &explain_cannot_approve(ctx, gh, run, p, me.map(|u| u.login.as_str())).await,
            );
            code = "cannot_approve";
        }
    } else if now.is_some() {
        // Someone else reviewed the run in between: their review decides.
        let reviews = gh.approvals(run.id).await.unwrap_or_default();
        let decision = approval::decide(Some(run), &[], &reviews, env_name);
        if let Some(by) = decision.reviewer().map(str::to_owned) {
            return Settled::Raced {
                decision,
                by,
                why: format!("GitHub answered {status}"),
            };
        }
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
    Settled::Failed(e.with_code(code).with_hint(format!(
        "no flag overrides GitHub's refusal; `almarel status {}` shows the run's state and reviews",
        short_sha(&run.head_sha)
    )))
}

/// What the gates read.
struct GateInputs<'a> {
    sha: &'a str,
    ci_run: Option<&'a Run>,
    release_tags: &'a [ReleaseTag],
    preferred: Option<&'a ReleaseTag>,
    /// The freeze's refusal for this commit (its message and hints):
    /// `None` when not frozen, or this is the roll forward's commit.
    frozen: Option<(String, Vec<String>)>,
    /// The passing check's words when `frozen` is `None`.
    frozen_pass: &'static str,
    pending: &'a PendingDeployment,
    me: Option<&'a User>,
    cannot_approve: &'a str,
}

/// The approval gates (SPEC §3 approve), each failing one with its way out:
/// the override flag, or plainly that there is none.
fn gates(ctx: &Context, req: &Request, i: &GateInputs<'_>) -> Vec<Check> {
    let sha = i.sha;
    let short = short_sha(sha);
    let env_name = &ctx.settings.github.environment;
    let mut checks = Vec::new();
    let ci_ok = i.ci_run.is_some_and(|r| {
        r.conclusion
            .as_ref()
            .is_some_and(|c| *c == crate::github::Conclusion::Success)
    });
    let ci_detail = match i.ci_run {
        Some(r) => format!("CI for {short} is {}", r.state_text()),
        None => format!("no CI run for {short}"),
    };
    checks.push(if ci_ok {
        Check::pass("ci", ci_detail)
    } else {
        Check::fail(
            "ci",
            ci_detail,
            format!(
                "no flag overrides this gate: wait for CI to succeed for {short} (`almarel status {short} --watch`), or fix the build and release a new commit"
            ),
        )
    });
    if !i.release_tags.is_empty() {
        checks.push(Check::pass(
            "tagged",
            format!(
                "tagged {}",
                i.release_tags
                    .iter()
                    .map(|t| t.name.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    } else {
        let image = ctx
            .settings
            .coolify
            .untagged_image_tag
            .replace("{sha}", sha)
            .replace("{short_sha}", short);
        let detail = format!("{short} carries no release tag: the deploy would ship {image}");
        checks.push(if req.allow_untagged {
            Check::pass("tagged", format!("{detail} (allowed by --allow-untagged)"))
        } else {
            Check::fail(
                "tagged",
                detail,
                "tag the commit (almarel tag, with the next version, on that commit), or pass --allow-untagged to ship it untagged",
            )
        });
    }
    // The environment's `accepts` rule (pre-releases to staging, finals to
    // production); `--allow-prerelease` lets a pre-release through.
    match i.preferred {
        Some(t) => match crate::release::environments::accepts(&ctx.settings, &t.version) {
            Ok(()) if t.is_prerelease() => checks.push(Check::pass(
                "final_release",
                format!(
                    "{} is a pre-release; {env_name} accepts pre-releases",
                    t.name
                ),
            )),
            Ok(()) => checks.push(Check::pass(
                "final_release",
                format!("{} is a final release", t.name),
            )),
            Err(e) if t.is_prerelease() => {
                let detail = format!(
                    "{} is a pre-release and no final tag sits on the same commit",
                    t.name
                );
                let elsewhere = e
                    .hints
                    .iter()
                    .find_map(|h| h.strip_prefix("deploy it with "))
                    .map(|env| format!(" (or approve it with {env})"))
                    .unwrap_or_default();
                checks.push(if req.allow_prerelease {
                    Check::pass(
                        "final_release",
                        format!("{detail} (allowed by --allow-prerelease)"),
                    )
                } else {
                    Check::fail(
                        "final_release",
                        detail,
                        format!(
                            "tag a final release on the commit, or pass --allow-prerelease{elsewhere}"
                        ),
                    )
                });
            }
            Err(e) => checks.push(Check::fail(
                "accepted_release",
                e.message.clone(),
                e.hints.join("; "),
            )),
        },
        None => checks.push(Check::pass("final_release", "no release tag")),
    }
    checks.push(match &i.frozen {
        Some((why, hints)) => Check::fail(
            "not_frozen",
            why.clone(),
            hints
                .first()
                .cloned()
                .unwrap_or_else(|| "`almarel unfreeze` first".to_owned()),
        ),
        None => Check::pass("not_frozen", i.frozen_pass),
    });
    checks.push(if i.pending.current_user_can_approve {
        Check::pass(
            "can_approve",
            format!(
                "{} may approve {env_name}",
                i.me.map(|u| format!("@{}", u.login))
                    .unwrap_or_else(|| "the token's user".into())
            ),
        )
    } else {
        Check::fail(
            "can_approve",
            i.cannot_approve,
            "no flag overrides this: ask a required reviewer to approve, or use a required reviewer's personal token (GH_TOKEN)",
        )
    });
    checks
}

/// The staging evidence for `sha` (SPEC §8.3): the "staging validated"
/// check and the verdict it was made from; `None` without
/// `[environments.staging]` or when staging itself is being approved.
async fn staging_evidence(
    ctx: &Context,
    gh: &Client,
    sha: &str,
) -> Option<(Result<Check>, Option<crate::release::evidence::Verified>)> {
    use crate::release::evidence;
    let staging = evidence::staging(&ctx.settings)?;
    if ctx.settings.environment.name == staging.name {
        return None;
    }
    Some(
        match evidence::read(gh, &staging.github_environment, sha).await {
            Ok(v) => (
                Ok(evidence::staging_check(&staging.name, sha, v.as_ref())),
                v,
            ),
            Err(e) => (Err(e), None),
        },
    )
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
pub async fn follow(ctx: &Context, gh: &Client, run_id: u64, deadline: Deadline) -> Result<Run> {
    gh.set_deadline(Some(deadline));
    let on_change = |run: &Run| {
        ctx.ui
            .progress(&format!("run {run_id}: {}", run.state_text()));
    };
    let r = watch::follow_run(ctx, gh, run_id, deadline, &on_change).await;
    gh.set_deadline(None);
    r.map_err(|e| {
        if e.kind == crate::error::Kind::Timeout {
            e.with_hint(format!(
                "the run continues on GitHub; follow it with `almarel status --watch` (run {run_id})"
            ))
        } else {
            e
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::env::Env;
    use crate::journal::Journal;
    use crate::settings::Settings;
    use clap::Parser;

    fn resolve(words: &[&str]) -> Result<Request> {
        let cli = Cli::try_parse_from(words).expect("parses");
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::resolve(&cli.global, &Env::default(), dir.path()).unwrap();
        let Command::Approve(a) = &cli.command else {
            panic!("not approve");
        };
        crate::resolve::approve(a, &settings)
    }

    #[test]
    fn flags_resolve_to_a_request_and_usage_errors_come_first() {
        let r = resolve(&["almarel", "approve", "v1.2.3", "--allow-untagged"]).unwrap();
        assert_eq!(r.target, Target::Ref(Some("v1.2.3".into())));
        assert!(r.allow_untagged && !r.reject && !r.watch);
        let r = resolve(&["almarel", "approve", "--run", "42", "--reject"]).unwrap();
        assert_eq!(r.target, Target::Run(42));
        assert_eq!((r.verb(), r.state()), ("reject", "rejected"));
        assert_eq!(
            resolve(&["almarel", "approve"]).unwrap().target,
            Target::Ref(None)
        );
        let e = resolve(&["almarel", "approve", "v1.2.3", "--run", "42"]).unwrap_err();
        assert_eq!((e.exit_code(), e.code), (2, Some("ref_and_run")));
        let e = resolve(&["almarel", "approve", "../../etc/passwd"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn a_dry_runs_next_keeps_what_changes_the_decision() {
        let r = resolve(&[
            "almarel",
            "approve",
            "abc1234",
            "--allow-untagged",
            "--allow-prerelease",
            "--comment",
            "it's fine",
        ])
        .unwrap();
        assert_eq!(
            r.again(&["abc1234".into()]).to_string(),
            r"almarel approve abc1234 --allow-untagged --allow-prerelease --comment 'it'\''s fine'"
        );
        let r = resolve(&[
            "almarel",
            "approve",
            "v1.2.3",
            "--reject",
            "--allow-untagged",
        ])
        .unwrap();
        assert_eq!(
            r.again(&["v1.2.3".into()]).to_string(),
            "almarel approve v1.2.3 --reject"
        );
    }

    #[test]
    fn the_resume_hint_names_the_run_when_the_review_was_in_flight() {
        let j = Journal::new();
        let w = j.begin(
            "review POST: approve run 42 for production",
            Some(check_command(42, false).to_string()),
        );
        let hint = resume_hint(&j.snapshot());
        assert!(
            hint.starts_with("`almarel approve --run 42` is safe to re-run"),
            "{hint}"
        );
        w.done();
        let hint = resume_hint(&j.snapshot());
        assert!(hint.starts_with("re-run the same command"), "{hint}");
        let j = Journal::new();
        let _w = j.begin(
            "review POST: reject run 7 for production",
            Some(check_command(7, true).to_string()),
        );
        assert!(
            resume_hint(&j.snapshot()).starts_with("`almarel approve --run 7 --reject`"),
            "{}",
            resume_hint(&j.snapshot())
        );
    }
}
