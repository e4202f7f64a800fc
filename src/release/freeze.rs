//! The freeze: what "frozen" means, the freeze record on GitHub, and the
//! journaled steps `freeze`, `unfreeze` (with `--only`, the roll forward)
//! and `rollback` share (docs/commands/freeze.md).
//!
//! Frozen means the deploy workflow is not `active`, **or** the freeze
//! record says so: the repository variable [`VARIABLE`] (`ALMAREL_FREEZE`)
//! holds who froze, when and why, so every teammate's `status` and the
//! approve / deploy refusals can say "frozen by @x at T: reason". During a
//! roll forward (`unfreeze --only TAG`) the record names the one release that
//! may go out ([`Exception`]) while the workflow is enabled for it.
//!
//! A token that may not read or write repository variables (403/404)
//! degrades to the workflow state alone; the reports say so.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::Actor;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::github::variables::{VariableRead, VariableWrite};
use crate::github::{Client, Run, Workflow, WorkflowState, WriteOutcome};
use crate::journal::WriteId;
use crate::report::Next;
use crate::version::short_sha;

/// The repository variable that holds the freeze record.
pub const VARIABLE: &str = "ALMAREL_FREEZE";

/// What the token needs for the freeze record (said when it is missing).
pub const RECORD_PERMISSION: &str = "repository variables read/write: fine-grained token \
\"Variables: Read and write\", classic token `repo` scope; GITHUB_TOKEN in Actions cannot write variables";

/// What `almarel freeze` is asked to do (from [`crate::resolve::freeze`];
/// `rollback` builds one too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeRequest {
    /// Why (the rejection comment and the record's reason).
    pub reason: String,
    /// Also cancel deploy runs still in progress.
    pub cancel_running: bool,
}

/// What `almarel unfreeze` is asked to do (from [`crate::resolve::unfreeze`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfreezeRequest {
    /// `--only TAG`: roll this one release forward, everything else stays frozen.
    pub only: Option<String>,
}

/// The one release a roll forward lets through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    /// The release tag (`v1.2.4`).
    pub tag: String,
    /// Its commit.
    pub sha: String,
    /// Who opened the exception (GitHub login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When (RFC 3339).
    pub at: String,
}

/// The freeze record: who froze, when and why (and the roll-forward
/// exception, if one is open). Stored as JSON in [`VARIABLE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Who froze (GitHub login), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When (RFC 3339), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// Why.
    pub reason: String,
    /// The release a roll forward lets through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only: Option<Exception>,
}

impl Record {
    /// Reads a variable's value: almarel's JSON, or (set by hand, e.g.
    /// `gh variable set ALMAREL_FREEZE --body "incident 42"`) plain text as
    /// the reason.
    pub fn parse(value: &str) -> Record {
        serde_json::from_str(value).unwrap_or_else(|_| Record {
            by: None,
            at: None,
            reason: value.trim().to_owned(),
            only: None,
        })
    }

    /// The variable's value.
    pub fn to_value(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `frozen by @x at T: reason` (the line status and refusals show).
    pub fn describe(&self) -> String {
        let mut s = "frozen".to_owned();
        if let Some(by) = &self.by {
            s.push_str(&format!(" by @{by}"));
        }
        if let Some(at) = &self.at {
            s.push_str(&format!(" at {at}"));
        }
        if !self.reason.is_empty() {
            s.push_str(&format!(": {}", self.reason));
        }
        if let Some(o) = &self.only {
            s.push_str(&format!(
                " (roll forward of {} ({}) only{})",
                o.tag,
                short_sha(&o.sha),
                o.by.as_ref()
                    .map(|b| format!(", opened by @{b}"))
                    .unwrap_or_default()
            ));
        }
        s
    }
}

/// What reading the freeze record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordState {
    /// There is a record.
    Present(Record),
    /// There is none.
    Absent,
    /// The token may not read it (GitHub's message): the workflow state alone decides.
    Unavailable(String),
}

impl RecordState {
    /// The record, if present.
    pub fn record(&self) -> Option<&Record> {
        match self {
            RecordState::Present(r) => Some(r),
            _ => None,
        }
    }
}

/// Where releases stand, as the reports say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Frozen: no release goes out (rollback excepted).
    Frozen,
    /// Frozen except one release (a roll forward is open).
    RollForward,
    /// Not frozen.
    NotFrozen,
}

/// The freeze as GitHub shows it now: the deploy workflow (state read
/// fresh) and the record.
#[derive(Debug, Clone)]
pub struct FreezeState {
    /// The deploy workflow, with its current state.
    pub workflow: Workflow,
    /// The freeze record.
    pub record: RecordState,
}

impl FreezeState {
    /// Whether the deploy workflow is `active`.
    pub fn workflow_active(&self) -> bool {
        self.workflow.state == WorkflowState::Active
    }

    /// The open roll-forward exception, if any.
    pub fn exception(&self) -> Option<&Exception> {
        self.record.record().and_then(|r| r.only.as_ref())
    }

    /// Frozen, rolling forward, or not frozen.
    pub fn standing(&self) -> Standing {
        match (&self.record, self.workflow_active()) {
            (RecordState::Present(r), true) if r.only.is_some() => Standing::RollForward,
            (RecordState::Present(_), _) | (_, false) => Standing::Frozen,
            _ => Standing::NotFrozen,
        }
    }

    /// Whether releases are frozen (for any commit; see [`FreezeState::allows`]).
    pub fn frozen(&self) -> bool {
        self.standing() != Standing::NotFrozen
    }

    /// Whether the release at `sha` may go out: not frozen, or it is the
    /// open roll forward's commit.
    pub fn allows(&self, sha: &str) -> bool {
        match self.standing() {
            Standing::NotFrozen => true,
            Standing::RollForward => self.exception().is_some_and(|o| same_sha(&o.sha, sha)),
            Standing::Frozen => false,
        }
    }

    /// The line to show (status, refusals): `frozen by @x at T: reason`,
    /// else what the workflow state says; `None` when not frozen.
    pub fn describe(&self) -> Option<String> {
        if !self.frozen() {
            return None;
        }
        Some(match &self.record {
            RecordState::Present(r) => r.describe(),
            RecordState::Absent => format!(
                "frozen: the `{}` workflow is {} (no freeze record on GitHub says who or why)",
                self.workflow.name, self.workflow.state
            ),
            RecordState::Unavailable(_) => format!(
                "frozen: the `{}` workflow is {} (the freeze record could not be read: the token needs {RECORD_PERMISSION})",
                self.workflow.name, self.workflow.state
            ),
        })
    }

    /// The refusal (exit 3, code `frozen`) for a release at `sha`, or
    /// `None` when it may go out. For approve and deploy.
    pub fn refusal(&self, sha: &str) -> Option<Error> {
        if self.allows(sha) {
            return None;
        }
        let line = self.describe().unwrap_or_default();
        let e = Error::refused(format!("releases are {line}")).with_code("frozen");
        Some(match self.exception() {
            Some(o) => e.with_hint(format!(
                "only {} ({}) may go out during this roll forward; lift the freeze with `almarel unfreeze`",
                o.tag,
                short_sha(&o.sha)
            )),
            None => e.with_hint(
                "roll a fix forward with `almarel unfreeze --only TAG`, or lift the freeze with `almarel unfreeze`; `almarel rollback` is the one deploy a freeze allows",
            ),
        })
    }
}

fn same_sha(a: &str, b: &str) -> bool {
    let n = a.len().min(b.len());
    n >= 7 && a[..n].eq_ignore_ascii_case(&b[..n])
}

/// Reads the freeze record (`GET .../actions/variables/ALMAREL_FREEZE`).
pub async fn read(gh: &Client) -> Result<RecordState> {
    Ok(match gh.variable(VARIABLE).await? {
        VariableRead::Found(v) => RecordState::Present(Record::parse(&v.value)),
        VariableRead::Absent => RecordState::Absent,
        VariableRead::Denied(why) => RecordState::Unavailable(why),
    })
}

/// Reads the freeze: the deploy workflow `deploy_workflow` (state fresh)
/// and the record. What `status`, `approve` and `deploy` call.
pub async fn state(gh: &Client, deploy_workflow: &str) -> Result<FreezeState> {
    let wf = gh.workflow(deploy_workflow).await?;
    let workflow = gh.workflow_fresh(wf.id).await?;
    let record = read(gh).await?;
    Ok(FreezeState { workflow, record })
}

/// A run this module reviewed or lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRef {
    /// Run id.
    pub id: u64,
    /// Its commit.
    pub sha: String,
    /// `status` or `completed/conclusion`.
    pub status: String,
    /// Web URL.
    pub url: String,
}

impl RunRef {
    fn of(r: &Run) -> RunRef {
        RunRef {
            id: r.id,
            sha: r.head_sha.clone(),
            status: r.state_text(),
            url: r.html_url.clone(),
        }
    }
}

/// Deploy runs waiting for a review of `env` (run, environment id).
pub async fn waiting_for_env(gh: &Client, workflow_id: u64, env: &str) -> Result<Vec<(Run, u64)>> {
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

/// Deploy runs queued or in progress (GitHub does not stop them on a disable).
pub async fn in_progress(gh: &Client, workflow_id: u64) -> Result<Vec<Run>> {
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

/// The GitHub login of the token (for the record and the audit line).
pub async fn actor(gh: &Client) -> Actor {
    Actor {
        git: None,
        github: gh.current_user().await.ok().map(|u| u.login),
    }
}

/// What the steps did so far; reports are built from it (also on failure).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// What was done, in words, in order.
    pub done: Vec<String>,
    /// Production deployments this run rejected.
    pub rejected: Vec<RunRef>,
    /// Runs this run asked GitHub to cancel.
    pub cancelled: Vec<u64>,
    /// Why the freeze record was not written / deleted (token without the permission).
    pub record_note: Option<String>,
    /// The deploy run this run started with `workflow_dispatch`, if seen.
    pub dispatched: Option<RunRef>,
    /// Whether a dispatch was sent.
    pub dispatch_sent: bool,
}

impl Progress {
    fn did(&mut self, what: String) {
        self.done.push(what);
    }
}

/// A write declared in the journal before any is sent.
struct Planned {
    id: WriteId,
}

fn plan_write(ctx: &Context, what: String, check: &Next) -> Planned {
    Planned {
        id: ctx.journal.plan(what, Some(check.to_string())),
    }
}

/// The freeze's writes, decided from what was read.
#[derive(Debug, Clone)]
pub struct FreezePlan {
    /// The deploy workflow.
    pub workflow: Workflow,
    /// Disable it (it is active now).
    pub disable: bool,
    /// Write this record (`bool`: a record exists, PATCH rather than POST).
    pub record: Option<(Record, bool)>,
    /// Why the record is not written (the token cannot read it).
    pub record_note: Option<String>,
    /// Waiting production deployments to reject.
    pub reject: Vec<(Run, u64)>,
    /// Runs to cancel (`--cancel-running`).
    pub cancel: Vec<Run>,
    /// Runs still in progress (listed; cancelled only with `--cancel-running`).
    pub running: Vec<Run>,
    /// The reason.
    pub reason: String,
}

impl FreezePlan {
    /// Whether nothing would be sent.
    pub fn is_empty(&self) -> bool {
        !self.disable && self.record.is_none() && self.reject.is_empty() && self.cancel.is_empty()
    }
}

/// Reads what a freeze would change.
pub async fn plan_freeze(
    ctx: &Context,
    gh: &Client,
    req: &FreezeRequest,
    who: Option<String>,
) -> Result<(FreezeState, FreezePlan)> {
    let g = &ctx.settings.github;
    let st = state(gh, &g.deploy_workflow).await?;
    let wf = st.workflow.clone();
    let reject = waiting_for_env(gh, wf.id, &g.environment).await?;
    let running = in_progress(gh, wf.id).await?;
    let (record, record_note) = match &st.record {
        // Already frozen with a record and no exception: keep who froze first.
        RecordState::Present(r) if r.only.is_none() => (None, None),
        RecordState::Present(_) => (Some((new_record(ctx, &req.reason, who), true)), None),
        RecordState::Absent => (Some((new_record(ctx, &req.reason, who), false)), None),
        RecordState::Unavailable(why) => (
            None,
            Some(format!(
                "freeze record not written: the token cannot read repository variables ({why}); frozen by the workflow state alone. It needs {RECORD_PERMISSION}"
            )),
        ),
    };
    let plan = FreezePlan {
        disable: st.workflow_active(),
        record,
        record_note,
        cancel: if req.cancel_running {
            running.clone()
        } else {
            Vec::new()
        },
        running,
        reject,
        reason: req.reason.clone(),
        workflow: wf,
    };
    Ok((st, plan))
}

fn new_record(ctx: &Context, reason: &str, who: Option<String>) -> Record {
    Record {
        by: who,
        at: Some(crate::clock::rfc3339(ctx.clock.wall())),
        reason: reason.to_owned(),
        only: None,
    }
}

/// Runs a freeze plan, each write journaled before it leaves (SPEC §7.1):
/// disable the workflow, write the record, reject the waiting deployments
/// (again read after the disable: runs that began waiting meanwhile are
/// caught), cancel runs. Stops at the first failure.
pub async fn execute_freeze(
    ctx: &Context,
    gh: &Client,
    plan: &FreezePlan,
    check: &Next,
    progress: &mut Progress,
) -> Result<()> {
    let env = ctx.settings.github.environment.clone();
    let wf = &plan.workflow;
    // Declared up front: an interruption lists what never left.
    let disable = plan
        .disable
        .then(|| plan_write(ctx, format!("disable workflow {}", wf.name), check));
    let record = plan.record.as_ref().map(|(r, exists)| {
        (
            plan_write(ctx, format!("write the freeze record {VARIABLE}"), check),
            r,
            *exists,
        )
    });
    let rejects: Vec<(Planned, &Run, u64)> = plan
        .reject
        .iter()
        .map(|(r, env_id)| (plan_write(ctx, reject_words(&env, r), check), r, *env_id))
        .collect();
    let cancels: Vec<(Planned, &Run)> = plan
        .cancel
        .iter()
        .map(|r| {
            (
                plan_write(
                    ctx,
                    format!("cancel run {} ({})", r.id, short_sha(&r.head_sha)),
                    check,
                ),
                r,
            )
        })
        .collect();
    progress.record_note = plan.record_note.clone();

    if let Some(p) = disable {
        let w = ctx.journal.start(p.id);
        match gh.disable_workflow(wf.id).await {
            Ok(()) => w.done(),
            Err(e) => {
                w.failed(&e.message);
                return Err(e);
            }
        }
        progress.did(format!("disabled {}", wf.name));
    }
    if let Some((p, r, exists)) = record {
        write_record(ctx, gh, p, r, exists, progress).await?;
    }
    let mut seen: Vec<u64> = Vec::new();
    for (p, run, env_id) in rejects {
        reject(ctx, gh, Some(p), run, env_id, &plan.reason, progress).await?;
        seen.push(run.id);
    }
    // Runs that started waiting between the read and the disable.
    for (run, env_id) in waiting_for_env(gh, wf.id, &env).await? {
        if !seen.contains(&run.id) {
            reject(ctx, gh, None, &run, env_id, &plan.reason, progress).await?;
        }
    }
    for (p, run) in cancels {
        let w = ctx.journal.start(p.id);
        match gh.cancel_run(run.id).await {
            Ok(WriteOutcome::Accepted(_)) => w.done(),
            Ok(WriteOutcome::Refused { status: 409, .. }) => {
                w.done();
                progress.did(format!("run {} had already completed", run.id));
                continue;
            }
            Ok(WriteOutcome::Refused { status, message }) => {
                w.failed(format!("{status}: {message}"));
                return Err(Error::remote(format!(
                    "github refused to cancel run {} ({status}: {message})",
                    run.id
                )));
            }
            Ok(WriteOutcome::Unknown(e)) => {
                let r = gh.run(run.id).await?;
                if !r.is_completed() {
                    w.failed(&e.message);
                    return Err(Error::remote(format!(
                        "cancelling run {} may not have been applied: {}",
                        run.id, e.message
                    ))
                    .with_hint(format!("check the run: {}", run.html_url)));
                }
                w.done();
            }
            Err(e) => {
                w.failed(&e.message);
                return Err(e);
            }
        }
        progress.cancelled.push(run.id);
        progress.did(format!(
            "asked GitHub to cancel run {} ({})",
            run.id,
            short_sha(&run.head_sha)
        ));
    }
    Ok(())
}

fn reject_words(env: &str, r: &Run) -> String {
    format!(
        "reject the {env} deployment of run {} ({})",
        r.id,
        short_sha(&r.head_sha)
    )
}

async fn reject(
    ctx: &Context,
    gh: &Client,
    planned: Option<Planned>,
    run: &Run,
    env_id: u64,
    comment: &str,
    progress: &mut Progress,
) -> Result<()> {
    let env = &ctx.settings.github.environment;
    let w = match planned {
        Some(p) => ctx.journal.start(p.id),
        None => ctx.journal.begin(reject_words(env, run), None),
    };
    let outcome = match gh.review(run.id, &[env_id], false, comment).await {
        Ok(o) => o,
        Err(e) => {
            w.failed(&e.message);
            return Err(e);
        }
    };
    match outcome {
        WriteOutcome::Accepted(_) => w.done(),
        WriteOutcome::Refused { status, message } => {
            w.failed(format!("{status}: {message}"));
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
                .any(|p| p.environment.id == env_id);
            if still {
                w.failed(&e.message);
                return Err(Error::remote(format!(
                    "rejecting run {} failed: {}",
                    run.id, e.message
                )));
            }
            w.done();
        }
    }
    progress.rejected.push(RunRef::of(run));
    progress.did(format!(
        "rejected the {env} deployment of run {} ({})",
        run.id,
        short_sha(&run.head_sha)
    ));
    Ok(())
}

async fn write_record(
    ctx: &Context,
    gh: &Client,
    p: Planned,
    record: &Record,
    exists: bool,
    progress: &mut Progress,
) -> Result<()> {
    let w = ctx.journal.start(p.id);
    match gh.set_variable(VARIABLE, &record.to_value(), exists).await {
        Ok(VariableWrite::Applied) => {
            w.done();
            let what = if record.only.is_some() {
                "recorded the roll-forward exception in"
            } else {
                "recorded the freeze in"
            };
            progress.did(format!("{what} {VARIABLE}: {}", record.describe()));
        }
        Ok(VariableWrite::Denied(why)) => {
            // Nothing was applied: the write is settled as failed, the freeze goes on.
            w.failed(&why);
            progress.record_note = Some(format!(
                "freeze record not written ({why}): teammates see the workflow state only, without who, when or why. The token needs {RECORD_PERMISSION}"
            ));
        }
        Err(e) => {
            w.failed(&e.message);
            return Err(e);
        }
    }
    Ok(())
}

async fn delete_record(
    ctx: &Context,
    gh: &Client,
    p: Planned,
    progress: &mut Progress,
) -> Result<()> {
    let w = ctx.journal.start(p.id);
    match gh.delete_variable(VARIABLE).await {
        Ok(VariableWrite::Applied) => {
            w.done();
            progress.did(format!("deleted the freeze record {VARIABLE}"));
        }
        Ok(VariableWrite::Denied(why)) => {
            w.failed(&why);
            progress.record_note = Some(format!(
                "freeze record {VARIABLE} not deleted ({why}): `status` will still show it. The token needs {RECORD_PERMISSION}; or delete it by hand: gh variable delete {VARIABLE}"
            ));
        }
        Err(e) => {
            w.failed(&e.message);
            return Err(e);
        }
    }
    Ok(())
}

/// Freezes releases on behalf of `rollback`, through the same steps as
/// `almarel freeze` (disable the deploy workflow, write the record, reject
/// the waiting deployments with `reason`), without a confirmation of its
/// own and without cancelling running deploy runs. Writes the `freeze` audit
/// lines (started, outcome). Returns what was done (empty when releases were
/// already frozen and nothing was waiting); a failure after a step succeeded
/// is exit 4 naming it.
pub async fn freeze_for(ctx: &Context, gh: &Client, reason: &str) -> Result<Vec<String>> {
    let req = FreezeRequest {
        reason: reason.to_owned(),
        cancel_running: false,
    };
    let who = actor(gh).await;
    let (_, plan) = plan_freeze(ctx, gh, &req, who.github.clone()).await?;
    if plan.is_empty() {
        return Ok(Vec::new());
    }
    let check = Next::new(["freeze", "--reason", reason, "--dry-run"]);
    let audit = ctx.audit_start(
        "freeze",
        &plan.workflow.name,
        who,
        audit_details(&req.reason, &[], None),
    )?;
    let mut progress = Progress::default();
    let result = execute_freeze(ctx, gh, &plan, &check, &mut progress).await;
    audit.set_details(audit_details(&req.reason, &progress.done, None));
    let _ = audit.finish(result.as_ref().map(|_| ()).map_err(|e| e.message.as_str()));
    result.map_err(|e| partial(&progress.done, e))?;
    let mut done = progress.done;
    if let Some(note) = progress.record_note {
        done.push(note);
    }
    Ok(done)
}

/// The audit line's details.
#[derive(Debug, Serialize)]
struct AuditDetails<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    done: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    only: Option<&'a str>,
}

/// The audit details of a freeze / unfreeze.
pub fn audit_details(reason: &str, done: &[String], only: Option<&str>) -> serde_json::Value {
    serde_json::to_value(AuditDetails { reason, done, only }).unwrap_or_default()
}

/// A failure after other steps succeeded: exit 4 naming what was done.
pub fn partial(done: &[String], e: Error) -> Error {
    if done.is_empty() {
        return e;
    }
    let hints = e.hints.clone();
    let mut out = Error::remote(format!("{}; already done: {}", e.message, done.join("; ")));
    out.code = e.code;
    for h in hints {
        out = out.with_hint(h);
    }
    out.with_hint("every step is idempotent: re-running the same command continues from here")
}

/// The unfreeze's writes, decided from what was read.
#[derive(Debug, Clone)]
pub struct UnfreezePlan {
    /// The deploy workflow.
    pub workflow: Workflow,
    /// The record to write (roll forward: the exception) and whether one exists.
    pub record: Option<(Record, bool)>,
    /// Delete the record (lifting the freeze).
    pub delete_record: bool,
    /// Waiting production deployments of other commits to reject.
    pub reject: Vec<(Run, u64)>,
    /// Enable the workflow.
    pub enable: bool,
    /// The roll forward: the release let through.
    pub only: Option<Exception>,
    /// Dispatch the deploy workflow for the release's tag (no usable run exists).
    pub dispatch: bool,
    /// Why no dispatch is planned although the release has no run.
    pub dispatch_note: Option<String>,
    /// The comment for rejections.
    pub comment: String,
}

impl UnfreezePlan {
    /// Whether nothing would be sent.
    pub fn is_empty(&self) -> bool {
        self.record.is_none()
            && !self.delete_record
            && self.reject.is_empty()
            && !self.enable
            && !self.dispatch
    }
}

/// Whether a run of the release can still deploy it (waiting, queued,
/// running, or done successfully): then no dispatch is needed.
fn usable(r: &Run) -> bool {
    !r.is_completed() || r.conclusion.as_ref().is_some_and(|c| c.is_ok())
}

/// The deploy workflow's file at `sha`, read from the local clone.
fn workflow_file_at(workdir: &Path, sha: &str, path: &str) -> Option<String> {
    let repo = git2::Repository::discover(workdir).ok()?;
    let commit = repo.find_commit(git2::Oid::from_str(sha).ok()?).ok()?;
    let entry = commit.tree().ok()?.get_path(Path::new(path)).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    String::from_utf8(blob.content().to_vec()).ok()
}

/// Whether the deploy workflow at `sha` has `workflow_dispatch`: `None`
/// when its file cannot be read locally (then GitHub's answer decides).
pub fn dispatchable_at(ctx: &Context, sha: &str, path: &str) -> Option<bool> {
    let text = workflow_file_at(&ctx.settings.workdir, sha, path)?;
    let wf = crate::workflow::Workflow::parse(&text).ok()?;
    Some(crate::workflow::dispatchable(&wf))
}

/// Reads what an unfreeze (with `--only`: a roll forward) would change.
/// `only` is `(tag, sha)`. Refuses (exit 3, nothing sent) a roll forward
/// whose exception cannot be recorded.
pub async fn plan_unfreeze(
    ctx: &Context,
    gh: &Client,
    only: Option<(&str, &str)>,
    who: Option<String>,
) -> Result<(FreezeState, UnfreezePlan)> {
    let g = &ctx.settings.github;
    let st = state(gh, &g.deploy_workflow).await?;
    let wf = st.workflow.clone();
    let waiting = waiting_for_env(gh, wf.id, &g.environment).await?;
    let now = crate::clock::rfc3339(ctx.clock.wall());
    let mut plan = UnfreezePlan {
        workflow: wf.clone(),
        record: None,
        delete_record: false,
        reject: Vec::new(),
        enable: !st.workflow_active(),
        only: None,
        dispatch: false,
        dispatch_note: None,
        comment: String::new(),
    };
    // Not frozen at all: a roll forward needs no exception (and must not
    // create a freeze record). A record that cannot be read may hide a roll
    // forward of another tag: that is refused below, never "not frozen".
    let only = only.filter(|_| st.frozen() || matches!(st.record, RecordState::Unavailable(_)));
    match only {
        None => {
            // Lifting: deployments that appeared during a roll forward stay out.
            if let Some(o) = st.exception() {
                plan.comment = format!(
                    "created while releases were frozen (only {} was rolled forward)",
                    o.tag
                );
                plan.reject = waiting
                    .into_iter()
                    .filter(|(r, _)| !same_sha(&r.head_sha, &o.sha))
                    .collect();
            }
            plan.delete_record = matches!(st.record, RecordState::Present(_));
        }
        Some((tag, sha)) => {
            let base = match &st.record {
                RecordState::Present(r) => Some(r.clone()),
                RecordState::Absent => None,
                RecordState::Unavailable(why) => {
                    return Err(Error::refused(format!(
                        "cannot roll {tag} forward under the freeze: the freeze record {VARIABLE} cannot be read ({why})"
                    ))
                    .with_code("freeze_record_unavailable")
                    .with_hint(format!(
                        "without the record, enabling the deploy workflow would unfreeze every commit; give the token {RECORD_PERMISSION}, or lift the freeze with `almarel unfreeze`"
                    )));
                }
            };
            let exception = Exception {
                tag: tag.to_owned(),
                sha: sha.to_owned(),
                by: who.clone(),
                at: now.clone(),
            };
            let same = base
                .as_ref()
                .and_then(|r| r.only.as_ref())
                .is_some_and(|o| o.tag == tag && same_sha(&o.sha, sha));
            if !same {
                let exists = base.is_some();
                let mut r = base.unwrap_or_else(|| Record {
                    by: None,
                    at: None,
                    reason: format!("the `{}` workflow was {}", wf.name, wf.state),
                    only: None,
                });
                r.only = Some(exception.clone());
                plan.record = Some((r, exists));
            }
            plan.only = Some(
                st.exception()
                    .filter(|_| same)
                    .cloned()
                    .unwrap_or(exception),
            );
            plan.comment = format!("releases are frozen; only {tag} is being rolled forward");
            plan.reject = waiting
                .into_iter()
                .filter(|(r, _)| !same_sha(&r.head_sha, sha))
                .collect();
            let runs = gh.runs_for_commit(wf.id, sha).await?;
            if !runs.iter().any(usable) {
                match dispatchable_at(ctx, sha, &wf.path) {
                    Some(false) => {
                        plan.dispatch_note = Some(format!(
                            "{} at {tag} has no workflow_dispatch trigger, so almarel cannot start its run: add `workflow_dispatch:` to {} (or re-run the CI run of {} on GitHub so its workflow_run trigger starts the deploy run)",
                            wf.name,
                            wf.path,
                            short_sha(sha)
                        ));
                    }
                    _ => plan.dispatch = true,
                }
            }
        }
    }
    Ok((st, plan))
}

/// Runs an unfreeze plan, each write journaled: record (the exception) first,
/// then reject other commits' waiting deployments, enable the workflow,
/// dispatch the release's run, sweep again (runs that began waiting once the
/// workflow was enabled), and delete the record when lifting.
pub async fn execute_unfreeze(
    ctx: &Context,
    gh: &Client,
    plan: &UnfreezePlan,
    check: &Next,
    progress: &mut Progress,
) -> Result<()> {
    let env = ctx.settings.github.environment.clone();
    let wf = &plan.workflow;
    let record = plan.record.as_ref().map(|(r, exists)| {
        (
            plan_write(
                ctx,
                format!("write the roll-forward exception to {VARIABLE}"),
                check,
            ),
            r,
            *exists,
        )
    });
    let rejects: Vec<(Planned, &Run, u64)> = plan
        .reject
        .iter()
        .map(|(r, env_id)| (plan_write(ctx, reject_words(&env, r), check), r, *env_id))
        .collect();
    let enable = plan
        .enable
        .then(|| plan_write(ctx, format!("enable workflow {}", wf.name), check));
    let dispatch = match (&plan.only, plan.dispatch) {
        (Some(o), true) => Some((
            plan_write(
                ctx,
                format!("dispatch workflow {} for {}", wf.name, o.tag),
                check,
            ),
            o,
        )),
        _ => None,
    };
    let delete = plan
        .delete_record
        .then(|| plan_write(ctx, format!("delete the freeze record {VARIABLE}"), check));

    if let Some((p, r, exists)) = record {
        write_record(ctx, gh, p, r, exists, progress).await?;
        if let Some(note) = progress.record_note.take() {
            // The exception could not be recorded: do not open the workflow.
            return Err(Error::remote(note).with_code("freeze_record_unavailable"));
        }
    }
    let mut seen: Vec<u64> = Vec::new();
    for (p, run, env_id) in rejects {
        reject(ctx, gh, Some(p), run, env_id, &plan.comment, progress).await?;
        seen.push(run.id);
    }
    if let Some(p) = enable {
        let w = ctx.journal.start(p.id);
        match gh.enable_workflow(wf.id).await {
            Ok(()) => w.done(),
            Err(e) => {
                w.failed(&e.message);
                return Err(e);
            }
        }
        progress.did(format!("enabled {}", wf.name));
    }
    if let Some((p, o)) = dispatch {
        let w = ctx.journal.start(p.id);
        progress.dispatch_sent = true;
        match gh.dispatch_workflow(wf.id, &o.tag).await {
            Ok(WriteOutcome::Accepted(_)) => w.done(),
            Ok(WriteOutcome::Refused { status, message }) => {
                w.failed(format!("{status}: {message}"));
                return Err(Error::remote(format!(
                    "github refused to start {} for {} ({status}: {message})",
                    wf.name, o.tag
                ))
                .with_hint(format!(
                    "start it on GitHub (Actions → {} → Run workflow, ref {}), or add `workflow_dispatch:` to {}",
                    wf.name, o.tag, wf.path
                )));
            }
            Ok(WriteOutcome::Unknown(e)) => {
                // Whether it started shows as a run below.
                w.failed(&e.message);
            }
            Err(e) => {
                w.failed(&e.message);
                return Err(e);
            }
        }
        // GitHub creates the run shortly after the 204.
        for _ in 0..20 {
            let runs = gh.runs_for_commit(wf.id, &o.sha).await?;
            if let Some(r) = runs.iter().find(|r| usable(r)) {
                progress.dispatched = Some(RunRef::of(r));
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        progress.did(match &progress.dispatched {
            Some(r) => format!("started {} for {} (run {})", wf.name, o.tag, r.id),
            None => format!(
                "asked GitHub to start {} for {} (no run seen yet)",
                wf.name, o.tag
            ),
        });
    }
    // A sweep after the workflow opened: runs of other commits that began
    // waiting meanwhile.
    if plan.only.is_some() || plan.enable {
        let keep = plan.only.as_ref().map(|o| o.sha.clone());
        if keep.is_some() {
            for (run, env_id) in waiting_for_env(gh, wf.id, &env).await? {
                if seen.contains(&run.id)
                    || keep.as_deref().is_some_and(|k| same_sha(k, &run.head_sha))
                {
                    continue;
                }
                reject(ctx, gh, None, &run, env_id, &plan.comment, progress).await?;
            }
        }
    }
    if let Some(p) = delete {
        delete_record(ctx, gh, p, progress).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(state: WorkflowState) -> Workflow {
        serde_json::from_value(serde_json::json!({
            "id": 1, "name": "Deploy to Production", "path": ".github/workflows/deploy.yml",
            "state": state.as_str()
        }))
        .unwrap()
    }

    fn rec(only: Option<&str>) -> Record {
        Record {
            by: Some("lead".into()),
            at: Some("2026-12-01T03:00:00Z".into()),
            reason: "checkout errors".into(),
            only: only.map(|sha| Exception {
                tag: "v1.2.4".into(),
                sha: sha.into(),
                by: Some("oncall".into()),
                at: "2026-12-01T03:30:00Z".into(),
            }),
        }
    }

    #[test]
    fn a_record_round_trips_and_plain_text_is_a_reason() {
        let r = rec(Some("abcdef1234567"));
        assert_eq!(Record::parse(&r.to_value()), r);
        let hand = Record::parse("incident 42\n");
        assert_eq!(hand.reason, "incident 42");
        assert_eq!(hand.by, None);
        assert_eq!(
            rec(None).describe(),
            "frozen by @lead at 2026-12-01T03:00:00Z: checkout errors"
        );
        assert!(
            r.describe()
                .ends_with("(roll forward of v1.2.4 (abcdef1) only, opened by @oncall)")
        );
    }

    #[test]
    fn standing_follows_the_workflow_and_the_record() {
        let s = |active, record| FreezeState {
            workflow: wf(if active {
                WorkflowState::Active
            } else {
                WorkflowState::DisabledManually
            }),
            record,
        };
        assert_eq!(s(true, RecordState::Absent).standing(), Standing::NotFrozen);
        assert_eq!(s(false, RecordState::Absent).standing(), Standing::Frozen);
        assert_eq!(
            s(true, RecordState::Present(rec(None))).standing(),
            Standing::Frozen
        );
        let rf = s(true, RecordState::Present(rec(Some("abcdef1234567"))));
        assert_eq!(rf.standing(), Standing::RollForward);
        assert!(rf.allows("abcdef1234567890"));
        assert!(!rf.allows("1234567abcdef"));
        let e = rf.refusal("1234567abcdef").unwrap();
        assert_eq!(e.code, Some("frozen"));
        assert!(e.message.contains("frozen by @lead"), "{}", e.message);
        assert!(e.hint().unwrap().contains("only v1.2.4"));
        // Exception recorded but the workflow disabled again: frozen for all.
        let closed = s(false, RecordState::Present(rec(Some("abcdef1234567"))));
        assert!(!closed.allows("abcdef1234567"));
        let denied = s(false, RecordState::Unavailable("403".into()));
        assert!(denied.describe().unwrap().contains("could not be read"));
        assert!(
            s(true, RecordState::Unavailable("403".into()))
                .refusal("abc1234")
                .is_none()
        );
    }
}
