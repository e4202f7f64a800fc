//! Would this workflow file start a run for this event? (SPEC §8.2)
//!
//! [`Workflow::parse`] reads a GitHub Actions workflow file (with a real YAML
//! parser) into the parts that decide whether a run starts: its `name`, the
//! `on:` triggers in all three forms (a string, a list, a map) with their
//! branch, tag and path filters, and each job's `environment`.
//! [`evaluate`] then answers for one [`Event`] with a [`Verdict`] whose
//! reason names the filter that decided, using GitHub's documented filter
//! rules ([`glob`]). Pure: no I/O, no output; callers read the file (local git
//! or the contents API) and render the verdict.
//!
//! What is *not* checked here, because the file does not say: whether the
//! workflow or Actions is disabled, which token pushed (a push with the
//! Actions `GITHUB_TOKEN` starts nothing), whether more than three tags were
//! pushed at once (GitHub then starts no push runs for them), and jobs' `if:`
//! conditions (they skip jobs, not the run).

pub mod glob;
mod parse;

use std::fmt;

use serde::Serialize;

pub use glob::{Filter, Glob, GlobError, Pattern};

/// GitHub compares at most this many changed files against path filters.
pub const PATH_FILTER_FILE_LIMIT: usize = 300;

/// Why a workflow file could not be read as a workflow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not YAML at all: nothing can be said about its triggers ("unknown").
    #[error("the workflow file is not valid YAML: {0}")]
    Yaml(String),
    /// YAML, but not a workflow GitHub accepts (no `on:`, `branches` together
    /// with `branches-ignore`, a bad pattern, …). GitHub refuses such a file,
    /// so no event starts it; the message names the offending key.
    #[error("the workflow file is invalid: {0}")]
    Invalid(String),
}

/// Branch, tag and path filters of a `push` (or `pull_request`) trigger.
/// `None` means the key is absent, which is not the same as an empty list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefFilters {
    /// `branches`.
    pub branches: Option<Filter>,
    /// `branches-ignore`.
    pub branches_ignore: Option<Filter>,
    /// `tags` (push only).
    pub tags: Option<Filter>,
    /// `tags-ignore` (push only).
    pub tags_ignore: Option<Filter>,
    /// `paths`.
    pub paths: Option<Filter>,
    /// `paths-ignore`.
    pub paths_ignore: Option<Filter>,
}

/// An `on.workflow_run` trigger: runs after another workflow's run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkflowRunTrigger {
    /// `workflows`: the names of the workflows it waits for.
    pub workflows: Vec<String>,
    /// `types` (`requested`, `in_progress`, `completed`); empty means all.
    pub types: Vec<String>,
    /// `branches`: the head branch of the other run must match.
    pub branches: Option<Filter>,
    /// `branches-ignore`.
    pub branches_ignore: Option<Filter>,
}

/// One job: its id and the deployment environment it uses, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The key under `jobs:`.
    pub id: String,
    /// `name:`, if given.
    pub name: Option<String>,
    /// `environment:` (a string, or `{name: …}`), as written (it may hold an
    /// expression such as `${{ inputs.env }}`).
    pub environment: Option<String>,
}

/// The parts of a workflow file that decide whether a run starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Workflow {
    /// `name:`; GitHub shows the file's path when it is absent.
    pub name: Option<String>,
    /// Every event under `on:`, in file order.
    pub events: Vec<String>,
    /// `on.push`, with its filters (all `None` for `on: push`).
    pub push: Option<RefFilters>,
    /// `on.pull_request`, with its branch and path filters.
    pub pull_request: Option<RefFilters>,
    /// Whether `on.workflow_dispatch` is present.
    pub workflow_dispatch: bool,
    /// `on.workflow_run`.
    pub workflow_run: Option<WorkflowRunTrigger>,
    /// The `cron` expressions of `on.schedule`.
    pub schedule: Vec<String>,
    /// The jobs, in file order.
    pub jobs: Vec<Job>,
}

impl Workflow {
    /// The name GitHub shows: `name:`, else the file's path.
    pub fn display_name<'a>(&'a self, path: &'a str) -> &'a str {
        self.name.as_deref().unwrap_or(path)
    }

    /// The distinct environments the jobs use, in job order (the deploy
    /// workflow's `production`, say).
    pub fn environments(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for env in self.jobs.iter().filter_map(|j| j.environment.as_deref()) {
            if !out.contains(&env) {
                out.push(env);
            }
        }
        out
    }

    /// Whether `on:` lists `event`.
    pub fn has_event(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }
}

/// What happened, as far as triggers are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A push of one ref.
    Push {
        /// `refs/heads/<branch>` or `refs/tags/<tag>`.
        git_ref: String,
        /// The files the push changed (GitHub's two-dot diff), when known;
        /// `None` makes path filters "unknown". (GitHub runs path-filtered
        /// workflows regardless when the push has more than 1,000 commits or
        /// the diff timed out; a caller that knows this should not pass paths.)
        changed_paths: Option<Vec<String>>,
    },
    /// Another workflow's run changed state (`on.workflow_run`).
    WorkflowRun {
        /// That workflow's name (`name:`, as GitHub shows it).
        workflow: String,
        /// `requested`, `in_progress` or `completed`.
        activity: String,
        /// That run's head branch (for a tag push, GitHub reports the tag).
        head_branch: String,
    },
    /// A `workflow_dispatch` request.
    WorkflowDispatch,
}

impl Event {
    /// A push of tag `tag` (`v1.3.0`, not `refs/tags/v1.3.0`).
    pub fn tag_push(tag: &str) -> Event {
        Event::Push {
            git_ref: format!("refs/tags/{tag}"),
            changed_paths: None,
        }
    }

    /// A push of branch `branch` that changed `changed_paths`, when known.
    pub fn branch_push(branch: &str, changed_paths: Option<Vec<String>>) -> Event {
        Event::Push {
            git_ref: format!("refs/heads/{branch}"),
            changed_paths,
        }
    }
}

/// Whether the event starts a run of the workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The triggers and filters let the event start a run.
    Triggers,
    /// It does not; `reason` names the trigger or filter, e.g.
    /// `on.push.tags ['release-*'] does not match v1.3.0`.
    NotTriggered {
        /// The filter and the name it was checked against.
        reason: String,
    },
    /// The file cannot decide alone: path filters with unknown changed files,
    /// or a run that waits for another workflow or the clock.
    Unknown {
        /// What it depends on (which workflow it waits for, …).
        reason: String,
    },
}

impl Verdict {
    /// The reason, for `NotTriggered` and `Unknown`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Triggers => None,
            Verdict::NotTriggered { reason } | Verdict::Unknown { reason } => Some(reason),
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Triggers => f.write_str("triggers"),
            Verdict::NotTriggered { reason } => write!(f, "not triggered: {reason}"),
            Verdict::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

/// Whether the workflow can be started by hand (`on.workflow_dispatch`).
pub fn dispatchable(workflow: &Workflow) -> bool {
    workflow.workflow_dispatch
}

/// Would `event` start a run of `workflow`? See [`Verdict`].
pub fn evaluate(workflow: &Workflow, event: &Event) -> Verdict {
    match event {
        Event::Push {
            git_ref,
            changed_paths,
        } => push(workflow, git_ref, changed_paths.as_deref()),
        Event::WorkflowRun {
            workflow: upstream,
            activity,
            head_branch,
        } => after_run(workflow, upstream, activity, head_branch),
        Event::WorkflowDispatch if workflow.workflow_dispatch => Verdict::Triggers,
        Event::WorkflowDispatch => not(format!(
            "no workflow_dispatch trigger (on: {}): it cannot be started by hand",
            events(workflow)
        )),
    }
}

fn push(workflow: &Workflow, git_ref: &str, changed: Option<&[String]>) -> Verdict {
    let direct = match &workflow.push {
        Some(filters) => push_filters(filters, git_ref, changed),
        None => not(format!("no push trigger (on: {})", events(workflow))),
    };
    let Some(other) = other_starts(workflow) else {
        return direct;
    };
    match direct {
        Verdict::Triggers => Verdict::Triggers,
        Verdict::NotTriggered { reason } | Verdict::Unknown { reason } => Verdict::Unknown {
            reason: format!("{reason}; {other}"),
        },
    }
}

/// The triggers that start the workflow without a push, said for a reason.
fn other_starts(workflow: &Workflow) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(run) = &workflow.workflow_run {
        let names = if run.workflows.is_empty() {
            "no workflow".to_owned()
        } else {
            run.workflows
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let types = if run.types.is_empty() {
            "requested, in progress or completed".to_owned()
        } else {
            run.types.join(" or ").replace('_', " ")
        };
        let branches = match (&run.branches, &run.branches_ignore) {
            (Some(b), _) => format!(" on a branch matching {b}"),
            (None, Some(b)) => format!(" on a branch not matching {b}"),
            (None, None) => String::new(),
        };
        parts.push(format!(
            "on.workflow_run: it starts when a run of {names} is {types}{branches}, not from the push"
        ));
    }
    if workflow.has_event("schedule") {
        let crons = workflow
            .schedule
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(", ");
        parts.push(format!("on.schedule: it starts by the clock ({crons})"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn push_filters(f: &RefFilters, git_ref: &str, changed: Option<&[String]>) -> Verdict {
    if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        let verdict = ref_filter("on.push.tags", &f.tags, &f.tags_ignore, tag);
        if verdict != Verdict::Triggers {
            return verdict;
        }
        if f.tags.is_none() && f.tags_ignore.is_none() {
            if let Some(key) = branch_key(f) {
                return not(format!(
                    "on.push has {key} but no tags: a tag push does not trigger it"
                ));
            }
        }
        // GitHub does not evaluate path filters for tag pushes.
        return Verdict::Triggers;
    }
    if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
        let verdict = ref_filter("on.push.branches", &f.branches, &f.branches_ignore, branch);
        if verdict != Verdict::Triggers {
            return verdict;
        }
        if f.branches.is_none() && f.branches_ignore.is_none() {
            if let Some(key) = tag_key(f) {
                return not(format!(
                    "on.push has {key} but no branches: a branch push does not trigger it"
                ));
            }
        }
        return paths("on.push", f, changed);
    }
    Verdict::Unknown {
        reason: format!("{git_ref} is neither a branch (refs/heads/…) nor a tag (refs/tags/…)"),
    }
}

fn branch_key(f: &RefFilters) -> Option<&'static str> {
    if f.branches.is_some() {
        Some("branches")
    } else if f.branches_ignore.is_some() {
        Some("branches-ignore")
    } else {
        None
    }
}

fn tag_key(f: &RefFilters) -> Option<&'static str> {
    if f.tags.is_some() {
        Some("tags")
    } else if f.tags_ignore.is_some() {
        Some("tags-ignore")
    } else {
        None
    }
}

/// Checks `name` against an include list (`key`) or an ignore list
/// (`key-ignore`); neither present lets it through.
fn ref_filter(key: &str, include: &Option<Filter>, ignore: &Option<Filter>, name: &str) -> Verdict {
    if let Some(list) = include {
        return match list.deciding(name) {
            Some(p) if !p.negated => Verdict::Triggers,
            Some(p) => not(format!("{key} {list} excludes {name} (by '{}')", p.text)),
            None => not(format!("{key} {list} does not match {name}")),
        };
    }
    if let Some(list) = ignore {
        if let Some(p) = list.deciding(name).filter(|p| !p.negated) {
            return not(format!(
                "{key}-ignore {list} ignores {name} (by '{}')",
                p.text
            ));
        }
    }
    Verdict::Triggers
}

fn paths(at: &str, f: &RefFilters, changed: Option<&[String]>) -> Verdict {
    let (key, list, ignore) = match (&f.paths, &f.paths_ignore) {
        (Some(list), _) => ("paths", list, false),
        (None, Some(list)) => ("paths-ignore", list, true),
        (None, None) => return Verdict::Triggers,
    };
    let Some(changed) = changed else {
        return Verdict::Unknown {
            reason: format!(
                "{at}.{key} {list} depends on the files the push changed, which are not known"
            ),
        };
    };
    if changed.is_empty() {
        return not(format!(
            "{at}.{key} {list}: the push changed no files, and GitHub does not start a path-filtered workflow then"
        ));
    }
    let counts = |p: &String| {
        if ignore {
            !list.selects(p)
        } else {
            list.selects(p)
        }
    };
    let (seen, unseen) = changed.split_at(changed.len().min(PATH_FILTER_FILE_LIMIT));
    if seen.iter().any(counts) {
        return Verdict::Triggers;
    }
    if unseen.iter().any(counts) {
        return Verdict::Unknown {
            reason: format!(
                "{at}.{key} {list}: only files after the first {PATH_FILTER_FILE_LIMIT} of {} changed files count, and GitHub compares only the first {PATH_FILTER_FILE_LIMIT}",
                changed.len()
            ),
        };
    }
    let files = file_list(changed);
    if ignore {
        not(format!(
            "{at}.paths-ignore {list} ignores every changed file ({files})"
        ))
    } else {
        not(format!(
            "{at}.paths {list} matches none of the changed files ({files})"
        ))
    }
}

fn file_list(files: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut out = files
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > SHOWN {
        out.push_str(&format!(", … {} files in all", files.len()));
    }
    out
}

fn after_run(workflow: &Workflow, upstream: &str, activity: &str, head_branch: &str) -> Verdict {
    let Some(run) = &workflow.workflow_run else {
        return not(format!(
            "no workflow_run trigger (on: {})",
            events(workflow)
        ));
    };
    if !run.workflows.iter().any(|w| w == upstream) {
        return not(format!(
            "on.workflow_run.workflows {} does not name '{upstream}'",
            quoted(&run.workflows)
        ));
    }
    if !run.types.is_empty() && !run.types.iter().any(|t| t == activity) {
        return not(format!(
            "on.workflow_run.types {} does not include {activity}",
            quoted(&run.types)
        ));
    }
    ref_filter(
        "on.workflow_run.branches",
        &run.branches,
        &run.branches_ignore,
        head_branch,
    )
}

fn not(reason: String) -> Verdict {
    Verdict::NotTriggered { reason }
}

fn events(workflow: &Workflow) -> String {
    if workflow.events.is_empty() {
        "nothing".to_owned()
    } else {
        workflow.events.join(", ")
    }
}

fn quoted(items: &[String]) -> String {
    let inner = items
        .iter()
        .map(|i| format!("'{i}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("[{inner}]")
}

#[cfg(test)]
mod tests;
