//! `almarel doctor`: checks that a release could go through (SPEC §9.2),
//! each item with pass/fail and its fix. It writes nothing anywhere: every
//! request is a GET, except the Coolify deploy-ability probe (a deploy
//! request naming no application, which deploys nothing).
//!
//! The checks, in order: the GitHub repository and token (where from, its
//! kind, a classic token's scopes), the three workflows (exist, active, and
//! triggered the way almarel expects, read from the clone's workflow files),
//! the environment and whether the caller can approve it (required
//! reviewer, `prevent_self_review`, a token kind that can review), Coolify
//! (answers, token accepted, `deploy` ability, each app a Docker Image app,
//! `read:sensitive` for build logs) and the verify URLs (health 200, version
//! JSON with a SHA field, web HTML). [`examine`] is also what `init` runs.

use std::path::Path;

use http::Method;
use serde::Serialize;

use crate::auth::TokenSource;
use crate::clock::Deadline;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::github::{Environment, Idempotency, User, Workflow as GhWorkflow, WorkflowState};
use crate::report::{Check, Report};
use crate::settings::Settings;
use crate::ui::{Tone, Ui, table};
use crate::workflow::{Event, Verdict, Workflow};

/// How long doctor may spend on GitHub's and Coolify's retries and rate
/// limits in all: an unreachable remote fails its check within this, instead
/// of each call waiting out the commands' usual two minutes.
const REMOTE_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

/// `almarel doctor` takes no options of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {}

/// What doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// The config file that was read, if any.
    pub config_file: Option<String>,
    /// Every check, in order: `{name, ok, detail, fix}`.
    pub checks: Vec<Check>,
    /// How many passed.
    pub passed: usize,
    /// How many failed.
    pub failed: usize,
}

impl DoctorReport {
    fn new(settings: &Settings, checks: Vec<Check>) -> DoctorReport {
        let failed = checks.iter().filter(|c| !c.ok).count();
        DoctorReport {
            config_file: settings
                .config_file
                .as_ref()
                .map(|p| p.display().to_string()),
            passed: checks.len() - failed,
            failed,
            checks,
        }
    }

    /// Whether a release could go through (every check passed).
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// The closing line.
    pub fn verdict(&self) -> String {
        if self.ok() {
            format!("{} checks passed: a release could go through", self.passed)
        } else {
            format!(
                "{} of {} checks failed: a release would not go through until they are fixed",
                self.failed,
                self.checks.len()
            )
        }
    }
}

impl Report for DoctorReport {
    fn render(&self, ui: &Ui) {
        render_checks(ui, &self.checks);
        ui.result(&self.verdict());
    }
    fn summary(&self) -> Option<String> {
        let mut md = String::from("### almarel doctor\n\n| | check | detail |\n|---|---|---|\n");
        for c in &self.checks {
            let detail = match &c.fix {
                Some(f) => format!("{} — fix: {f}", c.detail),
                None => c.detail.clone(),
            };
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                if c.ok { "✓" } else { "✗" },
                c.name,
                detail.replace('|', "\\|")
            ));
        }
        md.push_str(&format!("\n{}\n", self.verdict()));
        Some(md)
    }
}

/// Prints the checks as a table, each failing one followed by its fix.
pub fn render_checks(ui: &Ui, checks: &[Check]) {
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            vec![
                format!("  {}", ui.mark(if c.ok { Tone::Ok } else { Tone::Fail })),
                c.name.clone(),
                c.detail.clone(),
            ]
        })
        .collect();
    let name_width = checks
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0);
    for (line, c) in table(&rows).iter().zip(checks) {
        ui.result(line);
        if let Some(fix) = &c.fix {
            ui.result(&format!(
                "{}{} fix: {fix}",
                " ".repeat(5 + name_width + 2),
                ui.paint(Tone::Dim, "→")
            ));
        }
    }
}

/// Runs doctor: exit 0 when every check passes, else 1 (`doctor_failed`)
/// with the report (`checks`) in `--json`.
pub async fn run(ctx: &Context, _req: &Request) -> Result<DoctorReport> {
    let report = examine(ctx).await;
    if report.ok() {
        return Ok(report);
    }
    // `finish` prints only the error for a failure: the checks (and, in
    // Actions, the job summary) go out here.
    render_checks(&ctx.ui, &report.checks);
    if ctx.ui.in_github_actions() {
        if let Some(md) = report.summary() {
            if let Err(e) = ctx.ui.summary(&md) {
                ctx.ui.warn(&e.message);
            }
        }
    }
    Err(Error::failed(report.verdict())
        .with_code("doctor_failed")
        .with_hint("fix each ✗ as its `fix:` says, then run `almarel doctor` again")
        .with_report(&report))
}

/// Every check, with `ctx`'s settings. Never fails: a check that cannot be
/// made is a failing check saying why.
pub async fn examine(ctx: &Context) -> DoctorReport {
    let mut checks = Vec::new();
    ctx.ui.progress("checking GitHub…");
    github_checks(ctx, &mut checks).await;
    ctx.ui.progress("checking Coolify…");
    coolify_checks(ctx, &mut checks).await;
    ctx.ui.progress("checking the verify URLs…");
    verify_checks(ctx, &mut checks).await;
    DoctorReport::new(&ctx.settings, checks)
}

// ---- GitHub ----

/// What kind of token GitHub was given.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenKind {
    /// Classic personal access token (or OAuth token): `X-OAuth-Scopes`.
    Classic(Vec<String>),
    /// No scopes header, and `GET /user` answers: fine-grained (or an App's user token).
    FineGrained,
    /// `GET /user` is "not accessible by integration": an App installation token.
    App,
    /// The same, inside GitHub Actions: the job's `GITHUB_TOKEN`.
    Actions,
}

impl TokenKind {
    fn describe(&self) -> String {
        match self {
            TokenKind::Classic(scopes) if scopes.is_empty() => {
                "classic token without scopes".to_owned()
            }
            TokenKind::Classic(scopes) => format!("classic token, scopes: {}", scopes.join(", ")),
            TokenKind::FineGrained => "fine-grained token (no X-OAuth-Scopes)".to_owned(),
            TokenKind::App => "GitHub App installation token".to_owned(),
            TokenKind::Actions => "GitHub Actions token".to_owned(),
        }
    }
    fn can_review(&self) -> bool {
        !matches!(self, TokenKind::App | TokenKind::Actions)
    }
}

const REVIEWER_TOKEN_FIX: &str = "run `almarel approve` with a personal token of a required reviewer \
(GH_TOKEN, or `gh auth login`): classic with the `repo` scope, or fine-grained with \
Actions and Deployments read and write";

async fn github_checks(ctx: &Context, checks: &mut Vec<Check>) {
    let s = &ctx.settings;
    let Some(repo) = s.github.repository.clone() else {
        checks.push(Check::fail(
            "github repository",
            "github.repository is not set and could not be read from the git remote",
            "set [github] repository = \"owner/name\" in almarel.toml (`almarel init` writes it)",
        ));
        return;
    };
    let api = s.github.api_url.trim_end_matches('/').to_owned();
    let source = match crate::auth::github_token(&ctx.env, &api) {
        Ok((_, source)) => source,
        Err(e) => {
            checks.push(Check::fail(
                "github token",
                e.message.clone(),
                e.hint()
                    .unwrap_or("set GH_TOKEN or GITHUB_TOKEN, or run `gh auth login`"),
            ));
            return;
        }
    };
    let client = match ctx.github().await {
        Ok(c) => {
            c.set_deadline(Some(Deadline::after(ctx.clock.as_ref(), REMOTE_BUDGET)));
            c
        }
        Err(e) => {
            checks.push(fail_from("github token", &e, "check github.api_url"));
            return;
        }
    };
    // Who the token is, what kind it is, and when it expires (GitHub sends
    // `GitHub-Authentication-Token-Expiration` for tokens that do).
    let mut expires: Option<String> = None;
    let (kind, user) = match client
        .http()
        .request(
            Method::GET,
            &format!("{api}/user"),
            None,
            Idempotency::Repeatable,
        )
        .await
    {
        Ok(resp) if resp.status.is_success() => {
            let scopes = resp
                .headers
                .get("x-oauth-scopes")
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.split(',')
                        .map(|x| x.trim().to_owned())
                        .filter(|x| !x.is_empty())
                        .collect::<Vec<_>>()
                });
            let user = resp.json::<User>("/user").ok();
            expires = resp
                .headers
                .get("github-authentication-token-expiration")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let kind = match scopes {
                Some(list) => TokenKind::Classic(list),
                None => TokenKind::FineGrained,
            };
            (kind, user)
        }
        Ok(resp) => {
            checks.push(Check::fail(
                "github token",
                format!(
                    "GET /user answered {}: {}",
                    resp.status.as_u16(),
                    resp.message().unwrap_or_default()
                ),
                "check github.api_url (GHES: https://HOST/api/v3)",
            ));
            return;
        }
        Err(e) if e.message.contains("by integration") => {
            let actions = ctx.env.in_github_actions()
                && matches!(source, TokenSource::GithubToken | TokenSource::GhToken);
            (
                if actions {
                    TokenKind::Actions
                } else {
                    TokenKind::App
                },
                None,
            )
        }
        Err(e) => {
            checks.push(fail_from(
                "github token",
                &e,
                "set GH_TOKEN to a valid token, or run `gh auth login`",
            ));
            return;
        }
    };
    let token_detail = match (&kind, &user) {
        (TokenKind::Classic(scopes), Some(u)) => format!(
            "from {source}: classic token of @{} (scopes: {})",
            u.login,
            if scopes.is_empty() {
                "none".to_owned()
            } else {
                scopes.join(", ")
            }
        ),
        (_, Some(u)) => format!("from {source}: {} of @{}", kind.describe(), u.login),
        (_, None) => format!("from {source}: {}", kind.describe()),
    };
    let token_detail = match &expires {
        Some(at) => format!("{token_detail}; expires {at}"),
        None => token_detail,
    };
    match &kind {
        TokenKind::Classic(scopes) if !scopes.iter().any(|x| x == "repo") => {
            checks.push(Check::fail(
                "github token",
                format!("{token_detail}; the `repo` scope is missing"),
                "add the `repo` scope to the token (GitHub → Settings → Developer settings → \
                 Personal access tokens → the token → repo), or with gh: `gh auth refresh -s repo`",
            ));
        }
        _ => checks.push(Check::pass("github token", token_detail)),
    }

    workflow_checks(ctx, &client, &repo, checks).await;
    approval_check(ctx, &client, &repo, &kind, user.as_ref(), checks).await;
}

/// `name: message` from an error, with its hint (or `fallback`) as the fix.
fn fail_from(name: &str, e: &Error, fallback: &str) -> Check {
    Check::fail(name, e.message.clone(), e.hint().unwrap_or(fallback))
}

/// Which configured workflow: its settings key, the configured value, and
/// the event almarel expects to start it.
struct Expected<'a> {
    role: &'static str,
    key: &'static str,
    configured: &'a str,
}

async fn workflow_checks(
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
    let url = client.repo_url(&format!("/contents/{path}?ref={}", ctx.settings.git.branch));
    let resp = client.http().get_opt(&url).await.ok()??;
    let body: serde_json::Value = resp.json("workflow file").ok()?;
    let encoded: String = body["content"]
        .as_str()?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let text = String::from_utf8(base64_decode(&encoded)?).ok()?;
    Some((
        format!("{path} on {}", ctx.settings.git.branch),
        Workflow::parse(&text).map_err(|e| e.to_string()),
    ))
}

/// Standard base64 (with padding), as the contents API sends it.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= value(*c)? << (18 - 6 * i);
        }
        let n = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        for i in 0..n {
            out.push(((acc >> (16 - 8 * i)) & 0xff) as u8);
        }
    }
    Some(out)
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

async fn approval_check(
    ctx: &Context,
    client: &crate::github::Client,
    repo: &str,
    kind: &TokenKind,
    user: Option<&User>,
    checks: &mut Vec<Check>,
) {
    let env_name = &ctx.settings.github.environment;
    let env: Environment = match client.environment(env_name).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            checks.push(Check::fail(
                "environment",
                format!("no environment `{env_name}` in {repo}"),
                format!(
                    "create it: GitHub → Settings → Environments → New environment `{env_name}`, with required reviewers; or set github.environment to the one the deploy job uses"
                ),
            ));
            return;
        }
        Err(e) => {
            checks.push(fail_from(
                "environment",
                &e,
                "give the token read access to the repository's environments",
            ));
            return;
        }
    };
    let rules: Vec<&str> = env
        .protection_rules
        .iter()
        .map(|r| r.kind.as_str())
        .collect();
    checks.push(Check::pass(
        "environment",
        format!(
            "`{}` exists (protection rules: {})",
            env.name,
            if rules.is_empty() {
                "none".to_owned()
            } else {
                rules.join(", ")
            }
        ),
    ));

    let settings_path = format!("GitHub → Settings → Environments → {env_name}");
    if !kind.can_review() {
        checks.push(Check::fail(
            "approve",
            format!(
                "a {} cannot review deployments (GitHub lets only required reviewers, people or teams, approve)",
                kind.describe()
            ),
            REVIEWER_TOKEN_FIX,
        ));
        return;
    }
    let reviewers: Vec<&crate::github::Reviewer> = env
        .protection_rules
        .iter()
        .filter(|r| r.kind == "required_reviewers")
        .flat_map(|r| r.reviewers.iter().flatten())
        .collect();
    if reviewers.is_empty() {
        checks.push(Check::fail(
            "approve",
            format!("`{env_name}` has no required reviewers: deploy runs start without an approval, so the runbook's approval step cannot happen"),
            format!("add required reviewers: {settings_path} → Required reviewers"),
        ));
        return;
    }
    let Some(user) = user else {
        checks.push(Check::fail(
            "approve",
            "the token's user is unknown (GET /user did not answer)",
            REVIEWER_TOKEN_FIX,
        ));
        return;
    };
    let labels: Vec<String> = reviewers.iter().map(|r| r.label()).collect();
    let direct = reviewers
        .iter()
        .any(|r| r.kind == "User" && r.reviewer.login.as_deref() == Some(user.login.as_str()));
    let mut via = direct.then(|| "a required reviewer".to_owned());
    if via.is_none() {
        let owner = repo.split('/').next().unwrap_or_default();
        for r in reviewers.iter().filter(|r| r.kind == "Team") {
            let Some(slug) = r.reviewer.slug.as_deref() else {
                continue;
            };
            let url = format!(
                "{}/orgs/{owner}/teams/{slug}/memberships/{}",
                ctx.settings.github.api_url.trim_end_matches('/'),
                user.login
            );
            let member = client
                .http()
                .request(Method::GET, &url, None, Idempotency::Repeatable)
                .await
                .ok()
                .filter(|resp| resp.status.is_success())
                .and_then(|resp| resp.json::<serde_json::Value>("team membership").ok())
                .is_some_and(|v| v["state"] == "active");
            if member {
                via = Some(format!("a member of the required team {slug}"));
                break;
            }
        }
    }
    let Some(via) = via else {
        checks.push(Check::fail(
            "approve",
            format!(
                "@{} is not a required reviewer of `{env_name}` (reviewers: {})",
                user.login,
                labels.join(", ")
            ),
            format!(
                "add @{} (or a team of theirs) under {settings_path} → Required reviewers, or run `almarel approve` with a reviewer's token",
                user.login
            ),
        ));
        return;
    };
    if env.prevents_self_review() {
        let only_me = reviewers.len() == 1 && direct;
        if only_me {
            checks.push(Check::fail(
                "approve",
                format!(
                    "@{} is the only required reviewer and prevent_self_review is on: nobody can approve a release @{} triggered (tagged or merged)",
                    user.login, user.login
                ),
                format!(
                    "add a second required reviewer, or turn off \"Prevent self-review\" under {settings_path}"
                ),
            ));
            return;
        }
        checks.push(Check::pass(
            "approve",
            format!(
                "@{} is {via}; prevent_self_review is on: someone other than whoever triggered the run approves it (reviewers: {})",
                user.login,
                labels.join(", ")
            ),
        ));
        return;
    }
    checks.push(Check::pass(
        "approve",
        format!("@{} is {via} of `{env_name}`", user.login),
    ));
}

// ---- Coolify ----

async fn coolify_checks(ctx: &Context, checks: &mut Vec<Check>) {
    let s = &ctx.settings;
    let Some(url) = s.coolify.url.clone() else {
        checks.push(Check::fail(
            "coolify url",
            "coolify.url is not set: almarel deploy and rollback cannot run",
            "set [coolify] url (the dashboard's base URL) and the apps; `almarel init` lists them",
        ));
        return;
    };
    if let Err(e) = crate::net::check_secret_url("coolify.url", &url, s.allow_insecure_http) {
        checks.push(fail_from("coolify url", &e, "use https for coolify.url"));
        return;
    }
    match get(&format!("{url}/api/health"), s.coolify.request_timeout).await {
        Ok((200, _, _)) => checks.push(Check::pass(
            "coolify url",
            format!("{url} answers (/api/health 200)"),
        )),
        Ok((status, _, _)) => {
            checks.push(Check::fail(
                "coolify url",
                format!("{url}/api/health answered {status}"),
                "check coolify.url: the Coolify dashboard's base URL, without /api",
            ));
            return;
        }
        Err(why) => {
            checks.push(Check::fail(
                "coolify url",
                format!("cannot reach {url}: {why}"),
                "check coolify.url and that this machine can reach Coolify",
            ));
            return;
        }
    }
    let client = match ctx.coolify() {
        Ok(c) => c.with_deadline(Deadline::after(ctx.clock.as_ref(), REMOTE_BUDGET)),
        Err(e) => {
            checks.push(fail_from(
                "coolify token",
                &e,
                "set COOLIFY_TOKEN to an API token with read, deploy and write",
            ));
            return;
        }
    };
    match client.version().await {
        Ok(v) => checks.push(Check::pass(
            "coolify token",
            format!("from COOLIFY_TOKEN: accepted, API enabled, `read` ability (Coolify {v})"),
        )),
        Err(e) => {
            checks.push(fail_from(
                "coolify token",
                &e,
                crate::coolify::TOKEN_ABILITIES_HINT,
            ));
            return;
        }
    }
    match client.has_deploy_ability().await {
        Ok(true) => checks.push(Check::pass(
            "coolify deploy",
            "the token has the `deploy` ability (probed with a deploy request naming no app: nothing deployed)",
        )),
        Ok(false) => checks.push(Check::fail(
            "coolify deploy",
            "the token lacks the `deploy` ability (Coolify: \"Missing required permissions: deploy\")",
            "grant `deploy`: in Coolify, Keys & Tokens → API Tokens, create a token with read, deploy and write \
             (ticking Deploy resets the others: tick it first, then add read and write), and set COOLIFY_TOKEN to it",
        )),
        Err(e) => checks.push(fail_from(
            "coolify deploy",
            &e,
            crate::coolify::TOKEN_ABILITIES_HINT,
        )),
    }
    if s.coolify.apps.is_empty() {
        checks.push(Check::fail(
            "coolify apps",
            "coolify.apps is empty: deploy has nothing to deploy",
            "add [[coolify.apps]] entries (name, uuid); `almarel init` lists the Docker Image apps",
        ));
        return;
    }
    let mut first_found = None;
    for app in &s.coolify.apps {
        let name = format!("app {}", app.name);
        match client.application(&app.name, &app.uuid).await {
            Ok(a) if a.is_docker_image() => {
                first_found.get_or_insert_with(|| app.clone());
                checks.push(Check::pass(
                    name,
                    format!(
                        "{}: Docker Image app {}:{}",
                        app.uuid,
                        a.docker_registry_image_name.as_deref().unwrap_or("?"),
                        a.image_tag().unwrap_or("latest")
                    ),
                ));
            }
            Ok(a) => checks.push(Check::fail(
                name,
                format!(
                    "{}: build pack `{}`, not a Docker Image app; almarel deploys by setting the image tag",
                    app.uuid,
                    a.build_pack.as_deref().unwrap_or("unknown")
                ),
                "make it a Docker Image app (build pack dockerimage) fed by the images CI builds, or remove it from coolify.apps",
            )),
            Err(e) => checks.push(fail_from(
                &name,
                &e,
                "check the uuid in coolify.apps (the last part of the app's URL in Coolify)",
            )),
        }
    }
    if let Some(app) = first_found {
        let detail = match client.app_deployments(&app.name, &app.uuid, 1).await {
            Ok(list) => match list.deployments.first() {
                Some(d) if d.logs.is_some() => {
                    "the token can read deployment logs: deploy shows build logs and confirms the deployed image from them".to_owned()
                }
                Some(_) => "the token cannot read deployment logs (optional: grant `read:sensitive` to see build logs on failures)".to_owned(),
                None => format!("not known yet: app {} has no deployment to read", app.name),
            },
            Err(e) => format!("not known: {}", e.message),
        };
        checks.push(Check::pass("coolify read:sensitive", detail));
    }
}

/// One GET without a token: `(status, content-type, body)` or why it failed.
async fn get(
    url: &str,
    timeout: std::time::Duration,
) -> std::result::Result<(u16, String, String), String> {
    let http = crate::probe::http_client(
        timeout,
        concat!("almarel/", env!("CARGO_PKG_VERSION"), " (doctor)"),
    )
    .map_err(|e| e.message)?;
    let resp = http.get(url).send().await.map_err(|e| {
        if e.is_timeout() {
            "no answer in time".to_owned()
        } else if e.is_connect() {
            "connection failed".to_owned()
        } else {
            "the connection broke".to_owned()
        }
    })?;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = crate::transport::read_capped_text(resp, crate::transport::MAX_BODY)
        .await
        .map_err(|e| e.reason())?;
    Ok((status, ct, body))
}

// ---- verify ----

async fn verify_checks(ctx: &Context, checks: &mut Vec<Check>) {
    let v = &ctx.settings.verify;
    let timeout = v.request_timeout;
    match &v.health_url {
        None => checks.push(Check::pass(
            "verify health_url",
            "not set: verify skips the health check",
        )),
        Some(url) => checks.push(match get(url, timeout).await {
            Ok((200, _, _)) => Check::pass("verify health_url", format!("{url} answers 200")),
            Ok((status, _, _)) => Check::fail(
                "verify health_url",
                format!("{url} answered {status}, not 200"),
                "check verify.health_url and that production is healthy",
            ),
            Err(why) => Check::fail(
                "verify health_url",
                format!("cannot reach {url}: {why}"),
                "check verify.health_url and that this machine can reach production",
            ),
        }),
    }
    match &v.version_url {
        None => checks.push(Check::fail(
            "verify version_url",
            "verify.version_url is not set: verify, status and rollback cannot tell which commit production runs",
            "set [verify] version_url to the endpoint whose JSON carries the running commit SHA",
        )),
        Some(url) => checks.push(match crate::probe::running_sha(v).await {
            Ok(sha) => Check::pass(
                "verify version_url",
                format!(
                    "{url} answers with the commit {}",
                    crate::version::short_sha(&sha)
                ),
            ),
            Err(e) if e.message.contains("SHA") => Check::fail(
                "verify version_url",
                e.message.clone(),
                format!(
                    "make {url} answer JSON with the running commit SHA (e.g. {{\"commit\": \"<40 hex>\"}}), or set verify.version_sha_pointer to where it is"
                ),
            ),
            Err(e) => fail_from(
                "verify version_url",
                &e,
                "check verify.version_url and that production is up",
            ),
        }),
    }
    match &v.web_url {
        None => checks.push(Check::pass(
            "verify web_url",
            "not set: verify skips the web check",
        )),
        Some(url) => checks.push(match get(url, timeout).await {
            Ok((200, ct, body)) => {
                let html = ct.contains("html") || body.trim_start().starts_with('<');
                let expected = v.web_expect.as_deref().is_none_or(|x| body.contains(x));
                if !html {
                    Check::fail(
                        "verify web_url",
                        format!("{url} answers 200 but not HTML ({ct})"),
                        "point verify.web_url at the web app's page, not the API",
                    )
                } else if !expected {
                    Check::fail(
                        "verify web_url",
                        format!(
                            "{url} answers HTML without {:?}",
                            v.web_expect.as_deref().unwrap_or_default()
                        ),
                        "fix verify.web_expect, or check that the web app is deployed",
                    )
                } else {
                    Check::pass("verify web_url", format!("{url} answers 200 with HTML"))
                }
            }
            Ok((status, _, _)) => Check::fail(
                "verify web_url",
                format!("{url} answered {status}, not 200"),
                "check verify.web_url and that the web app is up",
            ),
            Err(why) => Check::fail(
                "verify web_url",
                format!("cannot reach {url}: {why}"),
                "check verify.web_url and that this machine can reach it",
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_what_the_contents_api_sends() {
        assert_eq!(
            base64_decode("bmFtZTogQ0k=").as_deref(),
            Some(&b"name: CI"[..])
        );
        assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
        assert_eq!(base64_decode("Y*=="), None);
        assert_eq!(base64_decode("Y"), None);
    }

    #[test]
    fn only_personal_tokens_can_review() {
        assert!(TokenKind::Classic(vec!["repo".into()]).can_review());
        assert!(TokenKind::FineGrained.can_review());
        assert!(!TokenKind::App.can_review());
        assert!(!TokenKind::Actions.can_review());
        assert_eq!(TokenKind::Actions.describe(), "GitHub Actions token");
    }
}
