//! doctor's workflow checks: each configured workflow exists, is active,
//! and is triggered the way almarel expects (its file read from the clone,
//! else through the contents API), and the deploy workflow's jobs use the
//! environment that guards production.

use std::path::Path;

use super::fail_from;
use crate::context::Context;
use crate::github::{Workflow as GhWorkflow, WorkflowState};
use crate::report::Check;
use crate::settings::Settings;
use crate::workflow::{Event, Verdict, Workflow};

/// Which configured workflow: its settings key, the configured value, and
/// the event almarel expects to start it.
struct Expected<'a> {
    role: &'static str,
    key: &'static str,
    configured: &'a str,
}

pub(super) async fn checks(
    ctx: &Context,
    client: &crate::github::Client,
    repo: &str,
    checks: &mut Vec<Check>,
) {
    let g = &ctx.settings.github;
    let all = match client.workflows().await {
        Ok(w) => w,
        Err(e) => {
            checks.push(fail_from(
                "workflows",
                &e,
                "give the token read access to Actions (classic: `repo`; fine-grained: Actions read)",
            ));
            return;
        }
    };
    let expected = [
        Expected {
            role: "ci",
            key: "github.ci_workflow",
            configured: &g.ci_workflow,
        },
        Expected {
            role: "release",
            key: "github.release_workflow",
            configured: &g.release_workflow,
        },
        Expected {
            role: "deploy",
            key: "github.deploy_workflow",
            configured: &g.deploy_workflow,
        },
    ];
    let there: Vec<String> = all
        .iter()
        .map(|w| format!("{} ({})", w.name, w.file_name()))
        .collect();
    for e in &expected {
        let name = format!("workflow {}", e.role);
        let Some(w) = all.iter().find(|w| w.matches(e.configured)) else {
            checks.push(Check::fail(
                name,
                format!(
                    "no workflow `{}` in {repo} (there are: {})",
                    e.configured,
                    if there.is_empty() {
                        "none".to_owned()
                    } else {
                        there.join(", ")
                    }
                ),
                format!(
                    "set {} in almarel.toml to the name or file name of the {} workflow, or add that workflow to .github/workflows",
                    e.key, e.role
                ),
            ));
            continue;
        };
        if w.state != WorkflowState::Active {
            let fix = if e.role == "deploy" {
                "releases are frozen (the deploy workflow is disabled): `almarel unfreeze` when the freeze is over".to_owned()
            } else {
                format!(
                    "enable it: GitHub → Actions → {} → Enable workflow (or `gh workflow enable {}`)",
                    w.name,
                    w.file_name()
                )
            };
            checks.push(Check::fail(
                name,
                format!("{} ({}) is {}", w.name, w.file_name(), w.state.as_str()),
                fix,
            ));
            continue;
        }
        let file = match local_workflow(&ctx.settings, &w.path) {
            Some(f) => Some(f),
            None => remote_workflow(ctx, client, &w.path).await,
        };
        checks.push(trigger_check(ctx, &name, e, w, &all, file));
    }
}

/// The workflow file in this clone, parsed; `None` when there is no clone
/// or no such file (the triggers are then not checked).
fn local_workflow(
    settings: &Settings,
    path: &str,
) -> Option<(String, std::result::Result<Workflow, String>)> {
    let root = crate::git::work_tree_root(&settings.workdir)?;
    let file = root.join(Path::new(path));
    let text = std::fs::read_to_string(&file).ok()?;
    Some((
        path.to_owned(),
        Workflow::parse(&text).map_err(|e| e.to_string()),
    ))
}

/// The workflow file on GitHub, at `git.branch` (the contents API), parsed;
/// `None` when it cannot be read (the triggers are then not checked).
pub async fn remote_workflow(
    ctx: &Context,
    client: &crate::github::Client,
    path: &str,
) -> Option<(String, std::result::Result<Workflow, String>)> {
    let text = client
        .file_at(path, &ctx.settings.git.branch)
        .await
        .ok()??;
    Some((
        format!("{path} on {}", ctx.settings.git.branch),
        Workflow::parse(&text).map_err(|e| e.to_string()),
    ))
}

fn trigger_check(
    ctx: &Context,
    name: &str,
    e: &Expected<'_>,
    w: &GhWorkflow,
    all: &[GhWorkflow],
    file: Option<(String, std::result::Result<Workflow, String>)>,
) -> Check {
    let s = &ctx.settings;
    let label = format!("{} ({}) active", w.name, w.file_name());
    let Some((path, parsed)) = file else {
        return Check::pass(
            name,
            format!(
                "{label}; triggers not checked ({} is neither in this clone nor readable on GitHub)",
                w.path
            ),
        );
    };
    let file = match parsed {
        Ok(f) => f,
        Err(why) => {
            return Check::fail(
                name,
                format!("{label}, but {path}: {why}"),
                format!("fix {path}: GitHub starts no run of a file it cannot read"),
            );
        }
    };
    let branch = &s.git.branch;
    let sample_tag = format!("{}1.0.0", s.git.tag_prefix);
    match e.role {
        "ci" => match crate::workflow::evaluate(&file, &Event::branch_push(branch, None)) {
            Verdict::Triggers => {
                Check::pass(name, format!("{label}; a push to {branch} starts it"))
            }
            Verdict::Unknown { reason } => Check::pass(
                name,
                format!("{label}; a push to {branch} may start it ({reason})"),
            ),
            Verdict::NotTriggered { reason } => Check::fail(
                name,
                format!("{label}, but a push to {branch} does not start it: {reason}"),
                format!(
                    "add `on: push: branches: [{branch}]` to {path}: approve and deploy need CI's result for the release commit"
                ),
            ),
        },
        "release" => match crate::workflow::evaluate(&file, &Event::tag_push(&sample_tag)) {
            Verdict::Triggers => Check::pass(
                name,
                format!("{label}; pushing a release tag ({sample_tag}) starts it"),
            ),
            Verdict::Unknown { reason } => Check::pass(
                name,
                format!("{label}; a release tag may start it ({reason})"),
            ),
            Verdict::NotTriggered { reason } => Check::fail(
                name,
                format!("{label}, but pushing {sample_tag} does not start it: {reason}"),
                format!(
                    "add `on: push: tags: ['{}*']` to {path}, or point github.release_workflow at the workflow that runs on release tags",
                    s.git.tag_prefix
                ),
            ),
        },
        _ => deploy_trigger_check(ctx, name, &label, &path, &file, all),
    }
}

fn deploy_trigger_check(
    ctx: &Context,
    name: &str,
    label: &str,
    path: &str,
    file: &Workflow,
    all: &[GhWorkflow],
) -> Check {
    let s = &ctx.settings;
    let branch = &s.git.branch;
    let tag = format!("{}1.0.0", s.git.tag_prefix);
    let display = |configured: &str| {
        all.iter()
            .find(|w| w.matches(configured))
            .map_or_else(|| configured.to_owned(), |w| w.name.clone())
    };
    // Whatever a release does: another workflow completing (CI on the
    // branch, the release workflow on the tag), the tag push, the branch push.
    let mut candidates = Vec::new();
    let upstream: Vec<&GhWorkflow> = all
        .iter()
        .filter(|w| !w.matches(&s.github.deploy_workflow))
        .collect();
    for w in &upstream {
        for head in [branch, &tag] {
            candidates.push((
                Event::WorkflowRun {
                    workflow: w.name.clone(),
                    activity: "completed".into(),
                    head_branch: head.clone(),
                },
                format!("{} completing on {head} starts it", w.name),
            ));
        }
    }
    candidates.push((
        Event::tag_push(&tag),
        format!("pushing a release tag ({tag}) starts it"),
    ));
    candidates.push((
        Event::branch_push(branch, None),
        format!("a push to {branch} starts it"),
    ));
    let mut reasons = Vec::new();
    let mut started_by = None;
    for (event, says) in &candidates {
        match crate::workflow::evaluate(file, event) {
            Verdict::Triggers => {
                started_by = Some(says.clone());
                break;
            }
            v => {
                if let Some(r) = v.reason() {
                    if !reasons.iter().any(|x: &String| x == r) {
                        reasons.push(r.to_owned());
                    }
                }
            }
        }
    }
    let started_by = match started_by {
        Some(s) => s,
        None if file.workflow_dispatch => "started by hand (workflow_dispatch)".to_owned(),
        None => {
            return Check::fail(
                name,
                format!(
                    "{label}, but nothing a release does starts it: {}",
                    reasons.join("; ")
                ),
                format!(
                    "trigger {path} on CI completing on {branch} (`on: workflow_run: workflows: [{}], types: [completed], branches: [{branch}]`) or on release tags (`on: push: tags: ['{}*']`)",
                    display(&s.github.ci_workflow),
                    s.git.tag_prefix
                ),
            );
        }
    };
    let env = &s.github.environment;
    if !file.environments().iter().any(|e| e == env) {
        return Check::fail(
            name,
            format!(
                "{label}; {started_by}; but no job uses the environment `{env}`, so GitHub never holds it for an approval"
            ),
            format!(
                "add `environment: {env}` to the deploy job in {path}, or set github.environment to the environment it uses"
            ),
        );
    }
    Check::pass(
        name,
        format!("{label}; {started_by}; its jobs use the environment `{env}`"),
    )
}
