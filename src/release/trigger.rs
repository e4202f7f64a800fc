//! "Did my tag start anything?" (SPEC §8.2): why an expected workflow has no
//! run for the commit, checked, not guessed; and starting it by hand.
//!
//! [`diagnose`] is what `status --watch` calls once an expected workflow
//! (CI, Release, Deploy) still has no run for the commit after [`GRACE`].
//! For each such workflow it reads, in this order:
//!
//! 1. the workflow as GitHub has it (`GET /actions/workflows/{id}`): a state
//!    other than `active` (`disabled_manually`, `disabled_inactivity`, …)
//!    means no run starts;
//! 2. the repository's Actions permissions (`GET /actions/permissions`):
//!    Actions disabled means nothing starts (a token that may not read them
//!    leaves this "not known", never a verdict);
//! 3. the workflow file at the commit (the local clone when it has the
//!    commit, else the contents API), whose `on:` triggers and filters are
//!    evaluated with GitHub's rules ([`crate::workflow`]) against the push of
//!    the tag and the push of `git.branch`; `workflow_run` and `schedule`
//!    triggers are read from the file on the repository's default branch
//!    (`GET /repos/{owner}/{repo}`, as GitHub does; `git.branch` with a note
//!    when it cannot be read), `workflow_run` against the runs of the
//!    workflows it waits for;
//! 4. when the file says the tag push starts it: who pushed the tag, from the
//!    repository's events (`CreateEvent`); `github-actions[bot]` is the
//!    Actions `GITHUB_TOKEN`, whose pushes start no workflows.
//!
//! Each workflow ends as [`Status::NeverStarts`] (a cause was established:
//! the watch reports it at once and ends with 1), [`Status::Waiting`] (it
//! starts later, e.g. after CI completes) or [`Status::Unknown`] (nothing
//! checked explains it: the watch says so after [`UNEXPLAINED_AFTER`], with
//! what was checked). A file that cannot be read is "unknown", never a
//! verdict.
//!
//! [`dispatch`] starts a workflow that has `workflow_dispatch` for the
//! release's tag and returns the run it started.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::clock::{Clock, Deadline};
use crate::error::{Error, Result};
use crate::github::actions::ActionsPermissions;
use crate::github::{Client, Run, RunStatus, WorkflowState, WriteOutcome};
use crate::report::Next;
use crate::workflow::{self, Event, Verdict, Workflow};

/// How long after the push a missing run is normal (GitHub queues runs
/// within seconds); the watch diagnoses after this.
pub const GRACE: Duration = Duration::from_secs(5);

/// An absence no check explains is reported after this long (SPEC §8.2).
pub const UNEXPLAINED_AFTER: Duration = Duration::from_secs(15);

/// The login of the Actions `GITHUB_TOKEN`.
pub const GITHUB_TOKEN_ACTOR: &str = "github-actions[bot]";

/// What to diagnose. Plain values: the caller (the watch) already knows
/// which expected workflows have no run for the commit.
#[derive(Debug, Clone)]
pub struct Request {
    /// The commit (full SHA).
    pub sha: String,
    /// The release tag at the commit, when there is one (the pushed ref).
    pub tag: Option<String>,
    /// `git.branch`: the branch push evaluated (`workflow_run` and `schedule`
    /// triggers are read from the repository's default branch).
    pub branch: String,
    /// The expected workflows (as configured: name or file name) that have
    /// no run for the commit.
    pub missing: Vec<String>,
    /// A local clone to read workflow files from before asking GitHub.
    pub clone: Option<PathBuf>,
}

/// The outcome for one workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A cause was established: no run will start for this commit.
    NeverStarts,
    /// It starts later (after another workflow's run, or by the clock).
    Waiting,
    /// Nothing checked explains the absence.
    Unknown,
}

/// An established reason why no run starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Cause {
    /// The `on:` triggers or filters do not match the push (or the other run).
    NotTriggered {
        /// Which trigger or filter, shown, and the name it was checked against.
        detail: String,
    },
    /// The workflow's state is not `active`.
    WorkflowDisabled {
        /// `disabled_manually`, `disabled_inactivity`, `disabled_fork`, `deleted`.
        state: String,
    },
    /// Actions is disabled for the repository.
    ActionsDisabled,
    /// The tag was pushed by the Actions `GITHUB_TOKEN`, whose pushes start
    /// no workflows.
    PushedWithGithubToken {
        /// The actor GitHub recorded (`github-actions[bot]`).
        actor: String,
    },
    /// GitHub refuses the workflow file (it is not valid YAML, or not a valid
    /// workflow).
    InvalidWorkflowFile {
        /// What is wrong, as the parser says.
        detail: String,
    },
}

impl Cause {
    /// One line for people.
    pub fn message(&self) -> String {
        match self {
            Cause::NotTriggered { detail } => detail.clone(),
            Cause::WorkflowDisabled { state } => {
                let why = match state.as_str() {
                    "disabled_manually" => {
                        "someone disabled it (almarel freeze does this to the deploy workflow)"
                    }
                    "disabled_inactivity" => {
                        "GitHub disabled it after 60 days without activity in the repository"
                    }
                    "disabled_fork" => "workflows of a fork stay disabled until enabled there",
                    "deleted" => "its file was deleted",
                    _ => "no run starts unless it is active",
                };
                format!("the workflow is {state}: {why}")
            }
            Cause::ActionsDisabled => "GitHub Actions is disabled for the repository".to_owned(),
            Cause::PushedWithGithubToken { actor } => format!(
                "the tag was pushed by {actor}, i.e. with the Actions GITHUB_TOKEN, and such pushes start no workflows"
            ),
            Cause::InvalidWorkflowFile { detail } => {
                format!("GitHub refuses the workflow file: {detail}")
            }
        }
    }

    /// What to do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            Cause::NotTriggered { .. } => {
                "change the workflow's on: filters (or the tag), or start it by hand if it has workflow_dispatch"
            }
            Cause::WorkflowDisabled { .. } => {
                "enable the workflow (almarel unfreeze for the deploy workflow; otherwise the Actions tab or `gh workflow enable`)"
            }
            Cause::ActionsDisabled => {
                "enable Actions in the repository's Settings → Actions → General (an admin can)"
            }
            Cause::PushedWithGithubToken { .. } => {
                "push tags with a personal access token or a GitHub App token, not GITHUB_TOKEN; start this one by hand if it has workflow_dispatch"
            }
            Cause::InvalidWorkflowFile { .. } => {
                "fix the workflow file (the Actions tab shows GitHub's own message) and tag a new release"
            }
        }
    }
}

/// One trigger checked against one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerCheck {
    /// The event, in words (`push of tag v1.3.0`).
    pub event: String,
    /// What the file says about it.
    #[serde(flatten)]
    pub verdict: Verdict,
}

/// Where the workflow file was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRead {
    /// The file's path (`.github/workflows/ci.yml`).
    pub path: String,
    /// The commit or branch it was read at.
    pub at: String,
    /// `local git` or `contents API`.
    pub source: String,
}

/// The diagnosis of one expected workflow without a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkflowDiagnosis {
    /// As configured (`github.ci_workflow`, …).
    pub workflow: String,
    /// GitHub's name for it, when found.
    pub name: Option<String>,
    /// Its state on GitHub, when read.
    pub state: Option<String>,
    /// The workflow file read at the commit, when it could be.
    pub file: Option<FileRead>,
    /// The triggers evaluated.
    pub triggers: Vec<TriggerCheck>,
    /// The outcome.
    pub status: Status,
    /// The established causes (for [`Status::NeverStarts`]).
    pub causes: Vec<Cause>,
    /// What it waits for ([`Status::Waiting`]) or what was checked and what
    /// could not be ([`Status::Unknown`]).
    pub notes: Vec<String>,
    /// Whether it can be started by hand now: the file at the commit has
    /// `workflow_dispatch`, the workflow is active, Actions is not disabled,
    /// and there is a tag to start it for.
    pub dispatchable: bool,
}

/// What the repository's Actions permissions say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "actions", rename_all = "snake_case")]
pub enum ActionsCheck {
    /// Enabled; `allowed_actions` is `all`, `local_only` or `selected` (a run
    /// using an action not allowed still starts, and fails).
    Enabled {
        /// As GitHub says.
        allowed_actions: Option<String>,
    },
    /// Disabled: nothing starts.
    Disabled,
    /// Could not be read (often: the token lacks administration read).
    Unknown {
        /// Why.
        reason: String,
    },
}

/// The whole diagnosis: the serializable value the watch prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The commit.
    pub sha: String,
    /// The release tag, when there is one.
    pub tag: Option<String>,
    /// The repository's Actions permissions.
    pub actions: ActionsCheck,
    /// Who pushed the tag, when it was looked up and found.
    pub tag_pushed_by: Option<String>,
    /// One entry per workflow without a run, in the order asked.
    pub workflows: Vec<WorkflowDiagnosis>,
}

impl Diagnosis {
    /// Whether some workflow will never start (the watch ends with 1).
    pub fn any_never_starts(&self) -> bool {
        self.workflows
            .iter()
            .any(|w| w.status == Status::NeverStarts)
    }

    /// What to report now, as SPEC §8.2 times it: a workflow that never
    /// starts at once; one nothing explains once the watch has waited
    /// [`UNEXPLAINED_AFTER`] for it; everything at the deadline. `waited` is
    /// how long the watch has waited for the runs. The result renders and
    /// serializes like the whole ([`Diagnosis::lines`], `--json`).
    pub fn due(&self, waited: Duration, at_deadline: bool) -> Diagnosis {
        let mut out = self.clone();
        out.workflows.retain(|w| {
            at_deadline
                || match w.status {
                    Status::NeverStarts => true,
                    Status::Unknown => waited >= UNEXPLAINED_AFTER,
                    Status::Waiting => false,
                }
        });
        out
    }

    /// The workflows of one status.
    pub fn with_status(&self, status: &Status) -> Vec<&WorkflowDiagnosis> {
        self.workflows
            .iter()
            .filter(|w| &w.status == status)
            .collect()
    }

    /// The lines for people, one block per workflow:
    ///
    /// ```text
    /// Release never starts for v1.3.0: on.push.tags ['release-*'] does not match v1.3.0
    ///   file: .github/workflows/release.yml at 1a2b3c4 (contents API)
    ///   fix: change the workflow's on: filters (or the tag), …
    /// ```
    pub fn lines(&self) -> Vec<String> {
        let target = self
            .tag
            .clone()
            .unwrap_or_else(|| crate::version::short_sha(&self.sha).to_owned());
        let mut out = Vec::new();
        for w in &self.workflows {
            let label = w.name.as_deref().unwrap_or(&w.workflow);
            match w.status {
                Status::NeverStarts => {
                    let reasons: Vec<String> = w.causes.iter().map(Cause::message).collect();
                    out.push(format!(
                        "{label} never starts for {target}: {}",
                        reasons.join("; ")
                    ));
                }
                Status::Waiting => out.push(format!(
                    "{label} has not started for {target} yet: {}",
                    w.notes.join("; ")
                )),
                Status::Unknown => out.push(format!(
                    "{label} has not started for {target}, and no check explains why"
                )),
            }
            if let Some(f) = &w.file {
                out.push(format!(
                    "  file: {} at {} ({})",
                    f.path,
                    crate::version::short_sha(&f.at),
                    f.source
                ));
            }
            if w.status == Status::Unknown {
                for t in &w.triggers {
                    out.push(format!("  {}: {}", t.event, t.verdict));
                }
                for n in &w.notes {
                    out.push(format!("  checked: {n}"));
                }
            }
            let mut fixes: Vec<&str> = w.causes.iter().map(Cause::fix).collect();
            fixes.dedup();
            for fix in fixes {
                out.push(format!("  fix: {fix}"));
            }
            if w.dispatchable && w.status != Status::Waiting {
                out.push(format!(
                    "  it has workflow_dispatch: `{}` starts it for {target} and follows the run",
                    dispatch_next(&target)
                ));
            }
        }
        out
    }

    /// The workflows (as configured) that `--dispatch` starts: those that
    /// can be started by hand and are not merely waiting.
    pub fn to_dispatch(&self) -> Vec<&str> {
        self.workflows
            .iter()
            .filter(|w| w.dispatchable && w.status != Status::Waiting)
            .map(|w| w.workflow.as_str())
            .collect()
    }

    /// The `next:` step: the dispatch, when a workflow that will not start
    /// (or has not, unexplained) can be started by hand for REF
    /// (`ref_words`, as the user gave it).
    pub fn next(&self, ref_words: &str) -> Option<Next> {
        (!self.to_dispatch().is_empty()).then(|| dispatch_next(ref_words))
    }
}

/// `almarel status REF --watch --dispatch`.
pub fn dispatch_next(ref_words: &str) -> Next {
    Next::new(["status", ref_words, "--watch", "--dispatch"])
}

/// Shared, lazily read facts for one diagnosis.
struct Facts<'a> {
    client: &'a Client,
    req: &'a Request,
    actions: ActionsCheck,
    events: Option<std::result::Result<Option<String>, String>>,
    /// The repository's default branch, or why it could not be read.
    default_branch: Option<std::result::Result<String, String>>,
}

impl Facts<'_> {
    /// The branch GitHub reads `workflow_run` and `schedule` triggers from:
    /// the repository's default branch (read once); `git.branch` with a note
    /// saying so when it cannot be read.
    async fn trigger_branch(&mut self) -> (String, Option<String>) {
        if self.default_branch.is_none() {
            self.default_branch = Some(self.client.default_branch().await.map_err(|e| e.message));
        }
        match &self.default_branch {
            Some(Ok(b)) => (b.clone(), None),
            Some(Err(why)) => (
                self.req.branch.clone(),
                Some(format!(
                    "the default branch could not be read ({why}): workflow_run / schedule triggers were read from {} (git.branch)",
                    self.req.branch
                )),
            ),
            None => (self.req.branch.clone(), None),
        }
    }
}

/// Diagnoses every workflow of `req.missing` (SPEC §8.2). Errors reading
/// GitHub that make a check impossible are turned into "unknown" notes; only
/// a failure to read the workflow list or runs is an error.
///
/// For the watch: call it once the runs have been missing for [`GRACE`],
/// then again while they stay missing (every GET is conditional, so an
/// unchanged answer is a 304), and print [`Diagnosis::due`].
pub async fn diagnose(client: &Client, req: &Request) -> Result<Diagnosis> {
    let actions = match client.actions_permissions().await {
        Ok(ActionsPermissions { enabled: false, .. }) => ActionsCheck::Disabled,
        Ok(p) => ActionsCheck::Enabled {
            allowed_actions: p.allowed_actions,
        },
        Err(e) => ActionsCheck::Unknown { reason: e.message },
    };
    let mut facts = Facts {
        client,
        req,
        actions,
        events: None,
        default_branch: None,
    };
    let mut workflows = Vec::new();
    for name in &req.missing {
        workflows.push(one(&mut facts, name).await?);
    }
    let tag_pushed_by = facts.events.clone().and_then(|e| e.ok().flatten());
    Ok(Diagnosis {
        sha: req.sha.clone(),
        tag: req.tag.clone(),
        actions: facts.actions,
        tag_pushed_by,
        workflows,
    })
}

/// What the triggers say, before the other checks.
enum Starts {
    /// The tag push starts it.
    ByTag,
    /// Only a push of the branch starts it (when the commit was its head).
    ByBranch(String),
    /// Another workflow's run started (or should have started) it.
    ByOtherRun(String),
    /// It starts later.
    Later(String),
    /// It does not start: why.
    No(String),
    /// The file cannot decide.
    Maybe(String),
}

async fn one(facts: &mut Facts<'_>, configured: &str) -> Result<WorkflowDiagnosis> {
    let client = facts.client;
    let req = facts.req;
    let mut d = WorkflowDiagnosis {
        workflow: configured.to_owned(),
        name: None,
        state: None,
        file: None,
        triggers: Vec::new(),
        status: Status::Unknown,
        causes: Vec::new(),
        notes: Vec::new(),
        dispatchable: false,
    };
    let gh = match client.workflow(configured).await {
        Ok(w) => w,
        Err(e) if e.kind == crate::error::Kind::Usage => {
            d.notes.push(e.message);
            return Ok(d);
        }
        Err(e) => return Err(e),
    };
    d.name = Some(gh.name.clone());
    let active = match client.workflow_fresh(gh.id).await {
        Ok(fresh) => {
            d.state = Some(fresh.state.as_str().to_owned());
            if fresh.state != WorkflowState::Active {
                d.causes.push(Cause::WorkflowDisabled {
                    state: fresh.state.as_str().to_owned(),
                });
            }
            fresh.state == WorkflowState::Active
        }
        Err(e) => {
            d.notes.push(format!(
                "the workflow's state could not be read: {}",
                e.message
            ));
            false
        }
    };
    match &facts.actions {
        ActionsCheck::Disabled => d.causes.push(Cause::ActionsDisabled),
        ActionsCheck::Enabled { .. } => {}
        ActionsCheck::Unknown { reason } => d.notes.push(format!(
            "whether Actions is enabled for the repository is not known: {reason}"
        )),
    }

    // The file at the commit.
    let read = read_file(client, req, &gh.path, &req.sha).await;
    let wf = match read {
        Ok(Some((text, source))) => {
            d.file = Some(FileRead {
                path: gh.path.clone(),
                at: req.sha.clone(),
                source,
            });
            match Workflow::parse(&text) {
                Ok(wf) => Some(wf),
                Err(e) => {
                    d.causes.push(Cause::InvalidWorkflowFile {
                        detail: e.to_string(),
                    });
                    None
                }
            }
        }
        Ok(None) => {
            d.notes.push(format!(
                "{} is not in commit {} (read from {}), so its triggers are not known",
                gh.path,
                crate::version::short_sha(&req.sha),
                if req.clone.is_some() {
                    "the local clone and the contents API"
                } else {
                    "the contents API"
                }
            ));
            None
        }
        Err(e) => {
            d.notes.push(format!(
                "{} at {} could not be read: {}",
                gh.path,
                crate::version::short_sha(&req.sha),
                e.message
            ));
            None
        }
    };
    let Some(wf) = wf else {
        return Ok(finish(d));
    };
    d.dispatchable = workflow::dispatchable(&wf)
        && active
        && req.tag.is_some()
        && facts.actions != ActionsCheck::Disabled;

    match starts(facts, &gh.path, &wf, &mut d).await? {
        Starts::No(why) => d.causes.push(Cause::NotTriggered { detail: why }),
        Starts::Later(what) => {
            if d.causes.is_empty() {
                d.status = Status::Waiting;
            }
            d.notes.push(what);
        }
        Starts::Maybe(why) => d.notes.push(why),
        Starts::ByBranch(note) | Starts::ByOtherRun(note) => d.notes.push(note),
        Starts::ByTag => {
            let tag = req.tag.clone().unwrap_or_default();
            match pusher(facts).await {
                Ok(Some(actor)) if actor == GITHUB_TOKEN_ACTOR => {
                    d.causes.push(Cause::PushedWithGithubToken { actor });
                }
                Ok(Some(actor)) => d.notes.push(format!(
                    "{tag} was pushed by {actor} (the repository's events), not with GITHUB_TOKEN"
                )),
                Ok(None) => d.notes.push(format!(
                    "who pushed {tag} is not known: the repository's events do not list its creation (GitHub lists events 30 s to 6 h late)"
                )),
                Err(e) => d.notes.push(format!(
                    "who pushed {tag} is not known: the repository's events could not be read: {e}"
                )),
            }
            d.notes.push(format!(
                "GitHub starts no push runs for a push of more than three tags at once; whether {tag} came with others cannot be read from GitHub"
            ));
        }
    }
    Ok(finish(d))
}

fn finish(mut d: WorkflowDiagnosis) -> WorkflowDiagnosis {
    if !d.causes.is_empty() {
        d.status = Status::NeverStarts;
    }
    d
}

/// Evaluates the triggers: the tag push, the branch push, then
/// `workflow_run` / `schedule` (from the file on the default branch).
async fn starts(
    facts: &mut Facts<'_>,
    path: &str,
    wf: &Workflow,
    d: &mut WorkflowDiagnosis,
) -> Result<Starts> {
    let client = facts.client;
    let req = facts.req;
    let push_only = push_only(wf);
    let mut no = Vec::new();
    if wf.push.is_none() {
        // Neither push starts it: say so once, and let the other triggers decide.
        d.triggers.push(TriggerCheck {
            event: "push".to_owned(),
            verdict: Verdict::NotTriggered {
                reason: format!("no push trigger (on: {})", wf.events.join(", ")),
            },
        });
        if wf.workflow_run.is_none() && !wf.has_event("schedule") {
            return Ok(Starts::No(
                if wf.workflow_dispatch && wf.events.len() == 1 {
                    "on: workflow_dispatch only: it starts only by hand".to_owned()
                } else {
                    format!(
                        "no trigger starts it for a push (on: {})",
                        wf.events.join(", ")
                    )
                },
            ));
        }
    } else if let Some(tag) = &req.tag {
        let v = workflow::evaluate(&push_only, &Event::tag_push(tag));
        d.triggers.push(TriggerCheck {
            event: format!("push of tag {tag}"),
            verdict: v.clone(),
        });
        match v {
            Verdict::Triggers => return Ok(Starts::ByTag),
            Verdict::NotTriggered { reason } => no.push(reason),
            Verdict::Unknown { reason } => return Ok(Starts::Maybe(reason)),
        }
    }
    if wf.push.is_some() {
        let v = workflow::evaluate(&push_only, &Event::branch_push(&req.branch, None));
        d.triggers.push(TriggerCheck {
            event: format!("push of branch {}", req.branch),
            verdict: v.clone(),
        });
        let short = crate::version::short_sha(&req.sha).to_owned();
        match v {
            Verdict::Triggers | Verdict::Unknown { .. } => {
                // Runs for pushes of the branch exist only for the commit that was
                // the head of a push: is the commit on the branch at all?
                match client.compare(&req.sha, &req.branch).await {
                    Ok(c) if matches!(c.status.as_str(), "identical" | "ahead") => {
                        let why = match &v {
                            Verdict::Unknown { reason } => format!("; {reason}"),
                            _ => String::new(),
                        };
                        return Ok(Starts::ByBranch(format!(
                            "it starts on pushes of {branch}{why}; {short} is on {branch}, and GitHub starts push runs only for the head commit of each push, so it runs for {short} only if {short} was pushed as the head of {branch}",
                            branch = req.branch
                        )));
                    }
                    Ok(_) => no.push(format!(
                        "it starts on pushes of {branch}, but {short} is not on {branch}",
                        branch = req.branch
                    )),
                    Err(e) => {
                        return Ok(Starts::Maybe(format!(
                            "it starts on pushes of {}; whether {short} is on it could not be read: {}",
                            req.branch, e.message
                        )));
                    }
                }
            }
            Verdict::NotTriggered { reason } => no.push(reason),
        }
    }
    // Triggers GitHub reads from the default branch.
    if wf.workflow_run.is_some() || wf.has_event("schedule") {
        let (branch, note) = facts.trigger_branch().await;
        d.notes.extend(note);
        let (branch_wf, note) = match read_file(client, req, path, &branch).await {
            Ok(Some((text, _))) => match Workflow::parse(&text) {
                Ok(b) => (Some(b), None),
                Err(e) => (None, Some(format!("{path} on {branch}: {e}"))),
            },
            Ok(None) => (None, Some(format!("{path} is not on {branch}"))),
            Err(e) => (
                None,
                Some(format!(
                    "{path} on {branch} could not be read: {}",
                    e.message
                )),
            ),
        };
        let Some(bwf) = branch_wf else {
            return Ok(Starts::Maybe(format!(
                "its workflow_run / schedule triggers are read from {branch} by GitHub, and {}",
                note.unwrap_or_default()
            )));
        };
        if let Some(run) = &bwf.workflow_run {
            match after_runs(facts, &bwf, run, &branch, d).await? {
                Starts::No(why) => no.push(why),
                other => return Ok(other),
            }
        }
        if bwf.has_event("schedule") {
            return Ok(Starts::Later(format!(
                "on.schedule (on {branch}): it starts by the clock ({})",
                bwf.schedule.join(", ")
            )));
        }
    }
    if no.is_empty() {
        no.push(format!(
            "no trigger starts it (on: {})",
            wf.events.join(", ")
        ));
    }
    Ok(Starts::No(no.join("; ")))
}

/// `on.workflow_run`: did (or will) a run of a workflow it waits for start it?
async fn after_runs(
    facts: &mut Facts<'_>,
    bwf: &Workflow,
    trigger: &workflow::WorkflowRunTrigger,
    read_from: &str,
    d: &mut WorkflowDiagnosis,
) -> Result<Starts> {
    let client = facts.client;
    let req = facts.req;
    let mut no = Vec::new();
    let mut later = Vec::new();
    for upstream in &trigger.workflows {
        let runs: Vec<Run> = match client.workflow(upstream).await {
            Ok(w) => client.runs_for_commit(w.id, &req.sha).await?,
            Err(e) if e.kind == crate::error::Kind::Usage => {
                no.push(format!(
                    "on.workflow_run waits for '{upstream}', and there is no such workflow"
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        let Some(run) = runs.first() else {
            later.push(format!(
                "on.workflow_run: it starts after a run of '{upstream}', which has no run for this commit yet"
            ));
            continue;
        };
        let head_branch = run.head_branch.clone().unwrap_or_default();
        let completed = run.is_completed();
        let mut happened_triggers = false;
        let mut future_triggers = false;
        let mut reasons = Vec::new();
        for activity in ["requested", "in_progress", "completed"] {
            let v = workflow::evaluate(
                bwf,
                &Event::WorkflowRun {
                    workflow: upstream.clone(),
                    activity: activity.to_owned(),
                    head_branch: head_branch.clone(),
                },
            );
            let happened = match activity {
                "completed" => completed,
                "in_progress" => matches!(
                    run.status,
                    Some(RunStatus::InProgress | RunStatus::Waiting | RunStatus::Completed)
                ),
                _ => true,
            };
            // An activity the trigger does not listen to says nothing useful.
            let listened = trigger.types.is_empty() || trigger.types.iter().any(|t| t == activity);
            match v {
                Verdict::Triggers if happened => happened_triggers = true,
                Verdict::Triggers => future_triggers = true,
                Verdict::NotTriggered { reason } | Verdict::Unknown { reason } => {
                    if listened && !reasons.contains(&reason) {
                        reasons.push(reason);
                    }
                }
            }
        }
        let event = format!(
            "run {} of '{upstream}' ({}, head branch {head_branch})",
            run.id,
            run.state_text()
        );
        if happened_triggers {
            d.triggers.push(TriggerCheck {
                event,
                verdict: Verdict::Triggers,
            });
            return Ok(Starts::ByOtherRun(format!(
                "on.workflow_run (on {read_from}): run {} of '{upstream}' should have started it",
                run.id
            )));
        }
        if future_triggers {
            d.triggers.push(TriggerCheck {
                event,
                verdict: Verdict::Unknown {
                    reason: "starts once that run completes".into(),
                },
            });
            later.push(format!(
                "on.workflow_run (on {read_from}): it starts when run {} of '{upstream}' completes",
                run.id
            ));
            continue;
        }
        if reasons.is_empty() {
            reasons.push(format!(
                "on.workflow_run.types {:?} lists no activity GitHub reports",
                trigger.types
            ));
        }
        let reason = reasons.join("; ");
        d.triggers.push(TriggerCheck {
            event,
            verdict: Verdict::NotTriggered {
                reason: reason.clone(),
            },
        });
        no.push(format!("{reason} (read from {read_from}, as GitHub does)"));
    }
    if !later.is_empty() {
        return Ok(Starts::Later(later.join("; ")));
    }
    if no.is_empty() {
        no.push("on.workflow_run names no workflow".to_owned());
    }
    Ok(Starts::No(no.join("; ")))
}

/// The workflow with only its push trigger (so the push verdict is not
/// mixed with triggers evaluated separately).
fn push_only(wf: &Workflow) -> Workflow {
    let mut w = wf.clone();
    w.workflow_run = None;
    w.schedule.clear();
    w.events.retain(|e| e != "schedule");
    w
}

/// Who created the tag, from the repository's events (read once).
async fn pusher(facts: &mut Facts<'_>) -> std::result::Result<Option<String>, String> {
    if facts.events.is_none() {
        let tag = facts.req.tag.clone().unwrap_or_default();
        let found = match facts.client.repo_events().await {
            Ok(events) => Ok(events
                .iter()
                .find(|e| e.creates_tag(&tag))
                .map(|e| e.actor.login.clone())),
            Err(e) => Err(e.message),
        };
        facts.events = Some(found);
    }
    facts.events.clone().unwrap_or(Ok(None))
}

/// The file's text at `at` (a commit or branch): the local clone first (for
/// a commit it has), then the contents API. `(text, source)`.
async fn read_file(
    client: &Client,
    req: &Request,
    path: &str,
    at: &str,
) -> Result<Option<(String, String)>> {
    if let Some(dir) = &req.clone {
        if crate::version::is_sha(at) {
            if let Some(text) = local_file(dir, at, path) {
                return Ok(Some((text, "local git".to_owned())));
            }
        }
    }
    Ok(client
        .file_at(path, at)
        .await?
        .map(|t| (t, "contents API".to_owned())))
}

/// Synchronous, so no git handle is held across an await.
fn local_file(dir: &std::path::Path, sha: &str, path: &str) -> Option<String> {
    let repo = crate::git::Repo::discover(dir).ok()?;
    if !repo.has_commit(sha) {
        return None;
    }
    repo.file_at(sha, path).ok().flatten()
}

/// A run started by [`dispatch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dispatched {
    /// The workflow (GitHub's name).
    pub workflow: String,
    /// The ref it was started for (the tag).
    pub reference: String,
    /// The new run's id.
    pub run_id: u64,
    /// Its page.
    pub html_url: String,
}

/// How long `status --dispatch` looks for the run it started.
pub const DISPATCH_FIND_WITHIN: Duration = Duration::from_secs(60);

/// How often [`dispatch`] looks for the new run.
pub const FIND_INTERVAL: Duration = Duration::from_secs(2);

/// Starts `workflow` (as configured) by hand for `reference` (the release
/// tag, whose commit is `sha`; GitHub takes a branch or tag name, and a
/// branch would run its head, which may be another commit), then finds the
/// run it started: a
/// `workflow_dispatch` run for `sha` that was not there before, looked for
/// every [`FIND_INTERVAL`] for up to `find_within`. The POST is a remote
/// write: the caller journals it (`ctx.journal.begin`) around this call.
/// GitHub refusing (422:
/// no `workflow_dispatch` trigger, a disabled workflow, an unknown ref) is
/// exit 4 with GitHub's message; no run appearing in time is exit 5.
pub async fn dispatch(
    client: &Client,
    clock: &dyn Clock,
    workflow: &str,
    reference: &str,
    sha: &str,
    find_within: Duration,
) -> Result<Dispatched> {
    let gh = client.workflow(workflow).await?;
    let before: Vec<u64> = client
        .dispatched_runs(gh.id, sha)
        .await?
        .iter()
        .map(|r| r.id)
        .collect();
    let mut unsure = None;
    match client.dispatch_workflow(gh.id, reference).await? {
        WriteOutcome::Accepted(_) => {}
        WriteOutcome::Refused { status, message } => {
            return Err(Error::remote(format!(
                "github refused to start {} for {reference} ({status}): {message}",
                gh.name
            ))
            .with_code("dispatch_refused")
            .with_hint(
                "the workflow needs `on: workflow_dispatch` in its file at that ref and must be enabled; the token needs Actions: write",
            ));
        }
        // The POST may or may not have arrived: look for the run either way.
        WriteOutcome::Unknown(e) => unsure = Some(e.message),
    }
    let deadline = Deadline::after(clock, find_within);
    loop {
        let runs = client.dispatched_runs(gh.id, sha).await?;
        if let Some(run) = runs.iter().find(|r| !before.contains(&r.id)) {
            return Ok(Dispatched {
                workflow: gh.name.clone(),
                reference: reference.to_owned(),
                run_id: run.id,
                html_url: run.html_url.clone(),
            });
        }
        if deadline.passed(clock) {
            let what = match &unsure {
                Some(e) => format!(
                    "the request to start {} for {reference} got no clear answer ({e}), and no new run appeared within {}",
                    gh.name,
                    humantime::format_duration(find_within)
                ),
                None => format!(
                    "GitHub accepted starting {} for {reference}, but no new run appeared within {}",
                    gh.name,
                    humantime::format_duration(find_within)
                ),
            };
            return Err(Error::timeout(what)
                .with_code("dispatch_run_not_found")
                .with_hint(format!(
                    "look at the workflow's runs on GitHub before starting it again (a second request would start a second run); `almarel status {reference}` shows them"
                )));
        }
        clock
            .sleep(FIND_INTERVAL.min(deadline.remaining(clock)))
            .await;
    }
}

#[cfg(test)]
mod tests;
