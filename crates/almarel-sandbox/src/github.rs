//! Simulator of the GitHub REST endpoints almarel uses: a stateful fake of one
//! repository with commits, branches, tags (annotated and lightweight),
//! workflows (active / disabled), runs that progress on a schedule or on
//! demand, pending deployments that disappear once reviewed, review history,
//! releases and environments; workflow files per commit (contents API, with
//! the `on:` blocks of `docs/workflows/` by default), the repository's Actions
//! permissions, tag-creation events (who pushed a tag), and `workflow_dispatch`
//! (a new run for the ref when the file there has the trigger, GitHub's 422
//! otherwise), deployments and deployment statuses (list, create; approving
//! a pending deployment creates the environment's deployment, as GitHub
//! does). Bodies are GitHub's official examples
//! (`tests/fixtures/github/*.json`, from the REST description) with the
//! scenario's values put in.
//!
//! Also: ETag on every GET and `304` on a matching `If-None-Match` (counted),
//! `Link` pagination, token checking (`401`), fault injection (the next N
//! answers for a path are 500/502/429/422..., optionally after applying the
//! change), and a [`Recorder`] of every request.
//!
//! ```no_run
//! # async fn demo() -> almarel_sandbox::Result<()> {
//! use almarel_sandbox::github::{GithubSim, RunPlan};
//! let sim = GithubSim::start("octo/app").await?;
//! let sha = sim.add_commit("Add login page");
//! sim.add_tag("v1.2.3", &sha, true);
//! sim.add_run("CI", &sha, RunPlan::success());
//! let deploy = sim.add_run("Deploy to Production", &sha, RunPlan::awaiting_approval());
//! // ... run almarel against sim.url() ...
//! assert_eq!(sim.approvals(deploy).len(), 1);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Recorded, Recorder, Server, serve};
use crate::error::Result;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/github/",
            $name,
            ".json"
        ))
    };
}

struct Templates {
    run: Value,
    job: Value,
    workflow: Value,
    pending: Value,
    approval: Value,
    environment: Value,
    git_ref: Value,
    release: Value,
    user: Value,
    commit: Value,
    compare: Value,
    review: Value,
    deployment: Value,
    deployment_status: Value,
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn first(v: Value) -> Value {
    match v {
        Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
        other => other,
    }
}

static TEMPLATES: LazyLock<Templates> = LazyLock::new(|| Templates {
    run: parse(fixture!("workflow-run")),
    job: parse(fixture!("jobs"))["jobs"][0].clone(),
    workflow: parse(fixture!("workflow")),
    pending: first(parse(fixture!("pending-deployments"))),
    approval: first(parse(fixture!("approvals"))),
    environment: parse(fixture!("environment")),
    git_ref: parse(fixture!("ref")),
    release: parse(fixture!("release")),
    user: parse(fixture!("user")),
    commit: parse(fixture!("commit")),
    compare: parse(fixture!("compare")),
    review: first(parse(fixture!("review-deployments"))),
    deployment: first(parse(fixture!("deployments"))),
    deployment_status: first(parse(fixture!("deployment-statuses"))),
});

/// The phase of a simulated run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// `queued`.
    Queued,
    /// `in_progress`.
    InProgress,
    /// `waiting`: a pending deployment for the environment is open.
    Waiting,
    /// `completed` with this conclusion (`success`, `failure`, ...).
    Completed(String),
}

impl Phase {
    fn status(&self) -> &str {
        match self {
            Phase::Queued => "queued",
            Phase::InProgress => "in_progress",
            Phase::Waiting => "waiting",
            Phase::Completed(_) => "completed",
        }
    }
    fn conclusion(&self) -> Option<&str> {
        match self {
            Phase::Completed(c) => Some(c),
            _ => None,
        }
    }
}

/// How a run progresses: phases at offsets from its creation, and, for a
/// deploy run, phases at offsets from its approval.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// `(offset from creation, phase)`, in order.
    pub steps: Vec<(Duration, Phase)>,
    /// `(offset from approval, phase)`, in order (used once approved).
    pub after_approval: Vec<(Duration, Phase)>,
}

impl RunPlan {
    /// Stays in `phase` until changed with [`GithubSim::set_phase`].
    pub fn fixed(phase: Phase) -> Self {
        RunPlan {
            steps: vec![(Duration::ZERO, phase)],
            after_approval: vec![(Duration::ZERO, Phase::Completed("success".into()))],
        }
    }
    /// Already completed successfully.
    pub fn success() -> Self {
        Self::fixed(Phase::Completed("success".into()))
    }
    /// Already completed with `failure`.
    pub fn failure() -> Self {
        Self::fixed(Phase::Completed("failure".into()))
    }
    /// queued → in_progress (at d/2) → completed/`conclusion` (at d).
    pub fn completes_after(d: Duration, conclusion: &str) -> Self {
        RunPlan {
            steps: vec![
                (Duration::ZERO, Phase::Queued),
                (d / 2, Phase::InProgress),
                (d, Phase::Completed(conclusion.into())),
            ],
            after_approval: Vec::new(),
        }
    }
    /// Waiting for approval now; once approved, in_progress then success after 1 s.
    pub fn awaiting_approval() -> Self {
        Self::waiting_after(Duration::ZERO)
    }
    /// queued until `d`, then waiting for approval; once approved, in_progress,
    /// then success after 1 s.
    pub fn waiting_after(d: Duration) -> Self {
        RunPlan {
            steps: vec![(Duration::ZERO, Phase::Queued), (d, Phase::Waiting)],
            after_approval: vec![
                (Duration::ZERO, Phase::InProgress),
                (Duration::from_secs(1), Phase::Completed("success".into())),
            ],
        }
    }
}

/// A recorded review of a run's pending deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// `approved` or `rejected`.
    pub state: String,
    /// The comment.
    pub comment: String,
    /// The reviewer's login.
    pub user: String,
    /// Environments reviewed.
    pub environment_ids: Vec<u64>,
}

#[derive(Debug, Clone)]
struct SimRun {
    id: u64,
    workflow_id: u64,
    sha: String,
    branch: Option<String>,
    event: String,
    actor: String,
    created: Instant,
    created_at: String,
    plan: RunPlan,
    reviewed: Option<(Instant, bool)>,
    forced: Option<Phase>,
    reviews: Vec<Review>,
}

impl SimRun {
    fn phase(&self, now: Instant) -> Phase {
        if let Some(p) = &self.forced {
            return p.clone();
        }
        if let Some((at, approved)) = self.reviewed {
            if !approved {
                return Phase::Completed("failure".into());
            }
            let since = now.saturating_duration_since(at);
            return pick(&self.plan.after_approval, since)
                .unwrap_or(Phase::Completed("success".into()));
        }
        let since = now.saturating_duration_since(self.created);
        pick(&self.plan.steps, since).unwrap_or(Phase::Queued)
    }
}

fn pick(steps: &[(Duration, Phase)], since: Duration) -> Option<Phase> {
    steps
        .iter()
        .rfind(|(d, _)| *d <= since)
        .map(|(_, p)| p.clone())
}

#[derive(Debug, Clone)]
struct SimWorkflow {
    id: u64,
    name: String,
    path: String,
    state: String,
}

#[derive(Debug, Clone)]
struct SimTag {
    name: String,
    commit: String,
    annotated: bool,
    object: String,
}

#[derive(Debug, Clone)]
struct SimCommit {
    sha: String,
    message: String,
}

#[derive(Debug, Clone)]
struct SimEnvironment {
    id: u64,
    name: String,
    wait_timer: u64,
    prevent_self_review: bool,
    can_approve: bool,
}

/// A deployment as the simulator holds it (`GET /deployments`), with the
/// fields almarel sends when it creates one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDeployment {
    /// Its id.
    pub id: u64,
    /// The commit.
    pub sha: String,
    /// The ref it was created for (branch, tag or SHA).
    pub reference: String,
    /// The GitHub Environment.
    pub environment: String,
    /// `task` (default `deploy`).
    pub task: String,
    /// `description`.
    pub description: Option<String>,
    /// Who created it (`github-actions[bot]` for an approved environment job).
    pub creator: String,
    /// `auto_merge` as sent (`None`: absent, GitHub's default `true`).
    pub auto_merge: Option<bool>,
    /// `required_contexts` as sent (`None`: absent, every context required).
    pub required_contexts: Option<Vec<String>>,
    /// Created by approving a pending deployment (as GitHub does), not by a POST.
    pub from_approval: bool,
    /// `created_at` (RFC 3339, seconds).
    pub created_at: String,
    /// Its statuses, oldest first.
    pub statuses: Vec<SimDeploymentStatus>,
}

/// A deployment status as the simulator holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimDeploymentStatus {
    /// Its id.
    pub id: u64,
    /// `state` (`success`, `failure`, `in_progress`, ...).
    pub state: String,
    /// `description`.
    pub description: String,
    /// `environment_url`.
    pub environment_url: String,
    /// `log_url`.
    pub log_url: String,
    /// Who created it.
    pub creator: String,
    /// `created_at` (RFC 3339, seconds).
    pub created_at: String,
}

/// A fault to inject: the next `count` requests matching `method` and a
/// path containing `path_contains` get `status` (with `headers` and `body`).
#[derive(Debug, Clone)]
pub struct Fault {
    /// HTTP method (`GET`, `POST`, `PUT`), or `*`.
    pub method: String,
    /// Substring of the path (and query); a final `$` anchors it to the
    /// end (`/repos/octo/app$` is the repository itself, nothing below it).
    pub path_contains: String,
    /// How many answers to replace.
    pub count: u32,
    /// Status to answer.
    pub status: u16,
    /// Extra headers (`retry-after`, `x-ratelimit-*`, `x-accepted-github-permissions`).
    pub headers: Vec<(String, String)>,
    /// Body (a GitHub error object).
    pub body: String,
    /// Apply the request's effect first, then answer with the fault (a lost answer).
    pub apply_first: bool,
}

impl Fault {
    /// `count` answers of `status` for `method` requests whose path contains `path`.
    pub fn new(method: &str, path: &str, count: u32, status: u16) -> Self {
        let message = match status {
            401 => "Bad credentials",
            403 => "Resource not accessible by personal access token",
            404 => "Not Found",
            422 => "There was a problem approving one of the gates",
            429 => "You have exceeded a secondary rate limit",
            500 => "Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            _ => "Error",
        };
        Fault {
            method: method.to_owned(),
            path_contains: path.to_owned(),
            count,
            status,
            headers: Vec::new(),
            body: json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}).to_string(),
            apply_first: false,
        }
    }
    /// Adds a response header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
    /// Applies the request's effect before answering with the fault.
    #[must_use]
    pub fn after_applying(mut self) -> Self {
        self.apply_first = true;
        self
    }
}

#[derive(Debug)]
struct State {
    owner: String,
    name: String,
    base_url: String,
    token: Option<String>,
    user: String,
    user_id: u64,
    commits: Vec<SimCommit>,
    branches: HashMap<String, String>,
    /// `GET /repos/{owner}/{repo}`'s `default_branch` (`main`).
    default_branch: String,
    tags: Vec<SimTag>,
    workflows: Vec<SimWorkflow>,
    runs: Vec<SimRun>,
    /// The hook of approved runs, and their jobs.
    jobs: Jobs,
    environments: Vec<SimEnvironment>,
    releases: Vec<(String, bool)>,
    faults: Vec<Fault>,
    race: Option<(String, String)>,
    files: Vec<SimFile>,
    actions_enabled: bool,
    allowed_actions: String,
    events: Vec<Value>,
    dispatch_plans: HashMap<u64, RunPlan>,
    /// Held answers: `(method, path substring, delay)`, applied at once.
    slow_answers: Vec<(String, String, Duration)>,
    deployments: Vec<SimDeployment>,
    not_modified: u64,
    next_id: u64,
    /// Repository variables: name → (value, created_at, updated_at).
    variables: Vec<(String, String, String, String)>,
    /// Slow answers: `(method, path substring, delay)`.
    slow: Vec<(String, String, Duration)>,
    /// How many requests a slow rule has held so far.
    slow_arrivals: u64,
    /// `X-OAuth-Scopes` sent on every answer (a classic token); `None`: not sent.
    oauth_scopes: Option<String>,
    /// The token is a GitHub App installation / Actions token: `GET /user` is 403.
    integration_token: bool,
    /// Active members of the owner's teams, by team slug.
    team_members: HashMap<String, Vec<String>>,
    /// The environment's required reviewers, users only (`None`: the
    /// example's user and team; empty: no required-reviewers rule).
    reviewers: Option<Vec<String>>,
}

/// A running GitHub simulator; stops when dropped.
#[derive(Debug, Clone)]
pub struct GithubSim {
    server: Arc<Server>,
    state: Arc<Mutex<State>>,
    recorder: Recorder,
}

/// The workflows a new simulator has: `CI` (ci.yml), `Release` (release.yml)
/// and `Deploy to Production` (deploy.yml), matching the default settings.
pub const DEFAULT_WORKFLOWS: [(&str, &str); 3] = [
    ("CI", "ci.yml"),
    ("Release", "release.yml"),
    ("Deploy to Production", "deploy.yml"),
];

fn fake_sha(seed: &str) -> String {
    let h = |salt: u64| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut hasher);
        seed.hash(&mut hasher);
        hasher.finish()
    };
    format!("{:016x}{:016x}{:08x}", h(1), h(2), h(3) as u32)
}

impl GithubSim {
    /// Starts a simulator for `repo` (`owner/name`) with one commit on `main`,
    /// the [`DEFAULT_WORKFLOWS`] (active), a `production` environment that the
    /// user `octocat` may approve, and no token check (see [`GithubSim::require_token`]).
    pub async fn start(repo: &str) -> Result<GithubSim> {
        let (owner, name) = repo.split_once('/').unwrap_or(("octo", "app"));
        let root = SimCommit {
            sha: fake_sha("initial commit"),
            message: "Initial commit".into(),
        };
        let mut branches = HashMap::new();
        branches.insert("main".to_owned(), root.sha.clone());
        let state = State {
            owner: owner.to_owned(),
            name: name.to_owned(),
            base_url: String::new(),
            token: None,
            user: "octocat".into(),
            user_id: 1,
            commits: vec![root],
            branches,
            default_branch: "main".into(),
            tags: Vec::new(),
            workflows: DEFAULT_WORKFLOWS
                .iter()
                .enumerate()
                .map(|(i, (n, f))| SimWorkflow {
                    id: 161_335 + i as u64,
                    name: (*n).to_owned(),
                    path: format!(".github/workflows/{f}"),
                    state: "active".into(),
                })
                .collect(),
            runs: Vec::new(),
            jobs: Jobs::new(),
            environments: vec![SimEnvironment {
                id: 161_088_068,
                name: "production".into(),
                wait_timer: 0,
                prevent_self_review: false,
                can_approve: true,
            }],
            releases: Vec::new(),
            faults: Vec::new(),
            race: None,
            files: DEFAULT_WORKFLOW_FILES
                .iter()
                .map(|(path, content)| SimFile {
                    path: (*path).to_owned(),
                    at: None,
                    content: (*content).to_owned(),
                })
                .collect(),
            actions_enabled: true,
            allowed_actions: "all".into(),
            events: Vec::new(),
            dispatch_plans: HashMap::new(),
            slow_answers: Vec::new(),
            deployments: Vec::new(),
            not_modified: 0,
            next_id: 30_433_642,
            variables: Vec::new(),
            slow: Vec::new(),
            slow_arrivals: 0,
            oauth_scopes: None,
            integration_token: false,
            team_members: HashMap::new(),
            reviewers: None,
        };
        let state = Arc::new(Mutex::new(state));
        let recorder = Recorder::default();
        let app = Router::new()
            .fallback(handle)
            .with_state((state.clone(), recorder.clone()));
        let server = serve(app).await?;
        if let Ok(mut s) = state.lock() {
            s.base_url = server.url();
        }
        Ok(GithubSim {
            server: Arc::new(server),
            state,
            recorder,
        })
    }

    fn st(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// `http://127.0.0.1:PORT` (the `github.api_url` to configure).
    pub fn url(&self) -> String {
        self.server.url()
    }
    /// Every request received.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
    /// How many `304 Not Modified` answers were sent.
    pub fn not_modified_count(&self) -> u64 {
        self.st().not_modified
    }

    // ---- scenario set-up ----

    /// Requests must carry `Authorization: Bearer <token>` (or `token <token>`); others get 401.
    pub fn require_token(&self, token: &str) {
        self.st().token = Some(token.to_owned());
    }
    /// The login the token belongs to (`GET /user`, reviews).
    pub fn set_user(&self, login: &str) {
        self.st().user = login.to_owned();
    }
    /// Adds a commit on `main` (linear history) and returns its SHA.
    pub fn add_commit(&self, message: &str) -> String {
        let mut s = self.st();
        let sha = fake_sha(&format!("{message}#{}", s.commits.len()));
        s.commits.push(SimCommit {
            sha: sha.clone(),
            message: message.to_owned(),
        });
        s.branches.insert("main".into(), sha.clone());
        sha
    }
    /// Registers a real commit (e.g. one pushed to a sandbox origin) on
    /// `main`, after the ones already known; a known SHA changes nothing.
    /// GitHub learns about commits from pushes: this is that bridge.
    pub fn register_commit(&self, sha: &str, message: &str) {
        let mut s = self.st();
        if s.commits.iter().any(|c| c.sha == sha) {
            return;
        }
        s.commits.push(SimCommit {
            sha: sha.to_owned(),
            message: message.to_owned(),
        });
        s.branches.insert("main".into(), sha.to_owned());
    }
    /// Whether the tag `name` exists.
    pub fn has_tag(&self, name: &str) -> bool {
        self.st().tags.iter().any(|t| t.name == name)
    }
    /// Makes `name`, pointing at commit `at`, the repository's default
    /// branch. Workflow files on it are set with [`GithubSim::set_file`] at
    /// that commit; [`GithubSim::add_commit`] still moves `main`.
    pub fn set_default_branch(&self, name: &str, at: &str) {
        let mut s = self.st();
        s.branches.insert(name.to_owned(), at.to_owned());
        s.default_branch = name.to_owned();
    }
    /// The SHA `main` points at.
    pub fn head(&self) -> String {
        self.st().branches.get("main").cloned().unwrap_or_default()
    }
    /// Adds a tag at `sha`, annotated (a tag object) or lightweight.
    pub fn add_tag(&self, name: &str, sha: &str, annotated: bool) {
        let mut s = self.st();
        s.tags.retain(|t| t.name != name);
        s.tags.push(SimTag {
            name: name.to_owned(),
            commit: sha.to_owned(),
            annotated,
            object: if annotated {
                fake_sha(&format!("tag object {name}"))
            } else {
                sha.to_owned()
            },
        });
    }
    /// Adds a published release for `tag`.
    pub fn add_release(&self, tag: &str, prerelease: bool) {
        self.st().releases.push((tag.to_owned(), prerelease));
    }
    /// Adds a run of workflow `workflow` (name) for `sha` (on `main`, event
    /// `push`) progressing per `plan`; returns the run id.
    pub fn add_run(&self, workflow: &str, sha: &str, plan: RunPlan) -> u64 {
        let mut s = self.st();
        s.next_id += 1;
        let id = s.next_id;
        let workflow_id = s
            .workflows
            .iter()
            .find(|w| w.name == workflow || w.path.ends_with(workflow))
            .map(|w| w.id)
            .unwrap_or(0);
        let actor = s.user.clone();
        s.runs.push(SimRun {
            id,
            workflow_id,
            sha: sha.to_owned(),
            branch: Some("main".into()),
            event: "push".into(),
            actor,
            created: Instant::now(),
            created_at: crate::clock::rfc3339(SystemTime::now()),
            plan,
            reviewed: None,
            forced: None,
            reviews: Vec::new(),
        });
        id
    }
    /// The usual release flow for `sha`, as GitHub would start it after a
    /// tag push: CI per `ci`, `Release` completing after `release_after`, and
    /// the deploy run waiting for approval once CI is done (if `ci` ends in
    /// success; with a failing CI no deploy run starts, as with a
    /// `workflow_run` trigger). Returns `(ci, release, deploy)` run ids.
    pub fn start_release_runs(
        &self,
        sha: &str,
        ci_after: Duration,
        ci_conclusion: &str,
        release_after: Duration,
    ) -> (u64, u64, Option<u64>) {
        let ci = self.add_run("CI", sha, RunPlan::completes_after(ci_after, ci_conclusion));
        let release = self.add_run(
            "Release",
            sha,
            RunPlan::completes_after(release_after, "success"),
        );
        let deploy = (ci_conclusion == "success").then(|| {
            self.add_run(
                "Deploy to Production",
                sha,
                RunPlan::waiting_after(ci_after),
            )
        });
        (ci, release, deploy)
    }

    /// Sets who triggered a run (for `prevent_self_review`).
    pub fn set_run_actor(&self, run: u64, login: &str) {
        if let Some(r) = self.st().runs.iter_mut().find(|r| r.id == run) {
            r.actor = login.to_owned();
        }
    }
    /// Forces a run into `phase` (on demand progress).
    pub fn set_phase(&self, run: u64, phase: Phase) {
        if let Some(r) = self.st().runs.iter_mut().find(|r| r.id == run) {
            r.forced = Some(phase);
        }
    }
    /// Configures the `production` environment: may the user approve, does it
    /// prevent self-review, its wait timer (minutes).
    pub fn set_environment(&self, can_approve: bool, prevent_self_review: bool, wait_timer: u64) {
        let mut s = self.st();
        if let Some(e) = s.environments.first_mut() {
            e.can_approve = can_approve;
            e.prevent_self_review = prevent_self_review;
            e.wait_timer = wait_timer;
        }
    }
    /// The token is a classic one with these scopes: every answer carries
    /// `X-OAuth-Scopes: <scopes>` (e.g. `"repo, workflow"`), as GitHub sends it.
    pub fn set_oauth_scopes(&self, scopes: &str) {
        self.st().oauth_scopes = Some(scopes.to_owned());
    }
    /// The token is a GitHub App installation token (or the Actions
    /// `GITHUB_TOKEN`): `GET /user` answers 403 "Resource not accessible by integration".
    pub fn set_integration_token(&self, yes: bool) {
        self.st().integration_token = yes;
    }
    /// The environment's required reviewers are exactly these users (no
    /// team); an empty list removes the required-reviewers rule.
    pub fn set_required_reviewers(&self, logins: &[&str]) {
        self.st().reviewers = Some(logins.iter().map(|l| (*l).to_owned()).collect());
    }
    /// `login` is an active member of the owner's team `slug`
    /// (`GET /orgs/{owner}/teams/{slug}/memberships/{login}`).
    pub fn add_team_member(&self, slug: &str, login: &str) {
        self.st()
            .team_members
            .entry(slug.to_owned())
            .or_default()
            .push(login.to_owned());
    }
    /// A file on the default branch (`GET .../contents/{path}`), e.g. a
    /// workflow file `.github/workflows/ci.yml`.
    pub fn set_default_file(&self, path: &str, text: &str) {
        self.set_file(path, None, text);
    }
    /// Sets a workflow's state (`active`, `disabled_manually`, ...).
    pub fn set_workflow_state(&self, workflow: &str, state: &str) {
        if let Some(w) = self.st().workflows.iter_mut().find(|w| w.name == workflow) {
            w.state = state.to_owned();
        }
    }
    /// The next review POST finds that `login` reviewed the run (`state`:
    /// `approved` or `rejected`) just before it arrived (a lost race).
    pub fn race_review(&self, login: &str, state: &str) {
        self.st().race = Some((login.to_owned(), state.to_owned()));
    }
    /// The next review POST finds the run cancelled just before it arrived
    /// (a colleague cancelled it in the browser): no review is recorded.
    pub fn race_cancel(&self) {
        self.st().race = Some((String::new(), "cancelled".to_owned()));
    }
    /// Answers every `method` request whose path contains `path` only after
    /// `delay`: the request is applied and recorded at once, the answer is
    /// held back (a slow GitHub; a signal can arrive while the write is in
    /// flight).
    pub fn slow_answer(&self, method: &str, path: &str, delay: Duration) {
        self.st()
            .slow_answers
            .push((method.to_owned(), path.to_owned(), delay));
    }
    /// `login` reviews the run's pending deployment of the first environment
    /// outside almarel (`state`: `approved` or `rejected`), as a colleague in
    /// the browser would: the run leaves the waiting state.
    pub fn review_as(&self, run: u64, login: &str, state: &str, comment: &str) {
        let mut s = self.st();
        let Some(env) = s.environments.first().map(|e| e.id) else {
            return;
        };
        if let Some(r) = s.runs.iter_mut().find(|r| r.id == run) {
            r.reviewed = Some((Instant::now(), state == "approved"));
            r.reviews.push(Review {
                state: state.to_owned(),
                comment: comment.to_owned(),
                user: login.to_owned(),
                environment_ids: vec![env],
            });
        }
        drop(s);
        launch_jobs(&self.state);
    }
    /// Injects a fault.
    pub fn fault(&self, fault: Fault) {
        self.st().faults.push(fault);
    }
    /// Every request matching `method` (or `*`) whose path contains `path`
    /// is answered only after `delay` (the change is applied then too): a
    /// slow GitHub, to interrupt a write while it is in flight.
    pub fn slow(&self, method: &str, path: &str, delay: Duration) {
        self.st()
            .slow
            .push((method.to_owned(), path.to_owned(), delay));
    }
    /// Removes every [`GithubSim::slow`] rule.
    pub fn clear_slow(&self) {
        self.st().slow.clear();
    }
    /// How many requests a [`GithubSim::slow`] rule is holding or has held.
    pub fn slow_arrivals(&self) -> u64 {
        self.st().slow_arrivals
    }
    /// Sets a repository variable (as `gh variable set` would).
    pub fn set_variable(&self, name: &str, value: &str) {
        let mut s = self.st();
        let now = crate::clock::rfc3339(SystemTime::now());
        let name = name.to_ascii_uppercase();
        s.variables.retain(|v| v.0 != name);
        s.variables.push((name, value.to_owned(), now.clone(), now));
    }

    /// Sets the text of the file at `path` (`.github/workflows/ci.yml`) as
    /// the contents API serves it: at commit `at` only, or at every commit
    /// that has no version of its own (`None`). Replaces an earlier text for
    /// the same `(path, at)`. The default workflows come with the `on:`
    /// blocks of `docs/workflows/` ([`DEFAULT_WORKFLOW_FILES`]).
    pub fn set_file(&self, path: &str, at: Option<&str>, content: &str) {
        let mut s = self.st();
        s.files
            .retain(|f| !(f.path == path && f.at.as_deref() == at));
        s.files.push(SimFile {
            path: path.to_owned(),
            at: at.map(str::to_owned),
            content: content.to_owned(),
        });
    }
    /// Removes every version of the file at `path` (the contents API then
    /// answers 404).
    pub fn remove_file(&self, path: &str) {
        self.st().files.retain(|f| f.path != path);
    }
    /// The repository's Actions permissions (`GET /actions/permissions`):
    /// `enabled: false` disables Actions; `allowed` is `all`, `local_only`
    /// or `selected`.
    pub fn set_actions_permissions(&self, enabled: bool, allowed: &str) {
        let mut s = self.st();
        s.actions_enabled = enabled;
        s.allowed_actions = allowed.to_owned();
    }
    /// Records that `actor` created (pushed) tag `tag`: a `CreateEvent` in
    /// `GET /events` (`github-actions[bot]` is the Actions `GITHUB_TOKEN`).
    pub fn add_tag_push_event(&self, tag: &str, actor: &str) {
        let mut s = self.st();
        s.next_id += 1;
        let event = json!({
            "id": s.next_id.to_string(),
            "type": "CreateEvent",
            "actor": {
                "id": 41_898_282,
                "login": actor,
                "display_login": actor,
                "gravatar_id": "",
                "url": format!("https://api.github.com/users/{actor}"),
                "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4"
            },
            "repo": {
                "id": 1_296_269,
                "name": format!("{}/{}", s.owner, s.name),
                "url": format!("{}/repos/{}/{}", s.base_url, s.owner, s.name)
            },
            "payload": {"ref": tag, "ref_type": "tag", "master_branch": "main", "description": null, "pusher_type": "user"},
            "public": false,
            "created_at": crate::clock::rfc3339(SystemTime::now())
        });
        s.events.insert(0, event);
    }
    /// How runs started by `workflow_dispatch` of `workflow` (name or file)
    /// progress (default: the deploy workflow waits for the production
    /// approval after 300 ms; others are in progress, then success after 2 s).
    pub fn set_dispatch_plan(&self, workflow: &str, plan: RunPlan) {
        let mut s = self.st();
        if let Some(id) = s
            .workflows
            .iter()
            .find(|w| w.name == workflow || w.path.ends_with(workflow))
            .map(|w| w.id)
        {
            s.dispatch_plans.insert(id, plan);
        }
    }

    // ---- inspection ----

    /// A repository variable's value.
    pub fn variable(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_uppercase();
        self.st()
            .variables
            .iter()
            .find(|v| v.0 == name)
            .map(|v| v.1.clone())
    }
    /// Runs of `workflow` (name), oldest first, with their SHA and event.
    pub fn runs_of(&self, workflow: &str) -> Vec<(u64, String, String)> {
        let s = self.st();
        let Some(id) = s
            .workflows
            .iter()
            .find(|w| w.name == workflow)
            .map(|w| w.id)
        else {
            return Vec::new();
        };
        s.runs
            .iter()
            .filter(|r| r.workflow_id == id)
            .map(|r| (r.id, r.sha.clone(), r.event.clone()))
            .collect()
    }
    /// Runs of `workflow` (name) started by `workflow_dispatch`, oldest
    /// first: `(run id, head sha, ref)`.
    pub fn dispatched_runs(&self, workflow: &str) -> Vec<(u64, String, String)> {
        let s = self.st();
        let Some(id) = s
            .workflows
            .iter()
            .find(|w| w.name == workflow || w.path.ends_with(workflow))
            .map(|w| w.id)
        else {
            return Vec::new();
        };
        s.runs
            .iter()
            .filter(|r| r.workflow_id == id && r.event == "workflow_dispatch")
            .map(|r| (r.id, r.sha.clone(), r.branch.clone().unwrap_or_default()))
            .collect()
    }

    /// A workflow's state.
    pub fn workflow_state(&self, workflow: &str) -> Option<String> {
        self.st()
            .workflows
            .iter()
            .find(|w| w.name == workflow)
            .map(|w| w.state.clone())
    }
    /// A run's current `(status, conclusion)`.
    pub fn run_state(&self, run: u64) -> Option<(String, Option<String>)> {
        let now = Instant::now();
        self.st().runs.iter().find(|r| r.id == run).map(|r| {
            let p = r.phase(now);
            (p.status().to_owned(), p.conclusion().map(str::to_owned))
        })
    }
    /// Reviews recorded for a run.
    pub fn approvals(&self, run: u64) -> Vec<Review> {
        self.st()
            .runs
            .iter()
            .find(|r| r.id == run)
            .map(|r| r.reviews.clone())
            .unwrap_or_default()
    }
    /// Every deployment, oldest first (those GitHub created on approval and
    /// those POSTed), with their statuses.
    pub fn deployments(&self) -> Vec<SimDeployment> {
        self.st().deployments.clone()
    }
    /// Adds a deployment of `sha` to `environment` as an Actions environment
    /// job creates it (creator `github-actions[bot]`, ref `main`); returns its id.
    pub fn add_deployment(&self, sha: &str, environment: &str) -> u64 {
        let mut s = self.st();
        new_deployment(
            &mut s,
            sha,
            "main",
            environment,
            "github-actions[bot]",
            true,
        )
    }
    /// Adds a status to deployment `id` as someone other than almarel would
    /// (creator `github-actions[bot]`); returns its id, `None` for an unknown
    /// deployment.
    pub fn add_deployment_status(&self, id: u64, state: &str, description: &str) -> Option<u64> {
        let mut s = self.st();
        s.next_id += 1;
        let status_id = s.next_id;
        let d = s.deployments.iter_mut().find(|d| d.id == id)?;
        d.statuses.push(SimDeploymentStatus {
            id: status_id,
            state: state.to_owned(),
            description: description.to_owned(),
            environment_url: String::new(),
            log_url: String::new(),
            creator: "github-actions[bot]".into(),
            created_at: crate::clock::rfc3339(SystemTime::now()),
        });
        Some(status_id)
    }
    /// Whether a run has an open pending deployment.
    pub fn is_pending(&self, run: u64) -> bool {
        let now = Instant::now();
        self.st()
            .runs
            .iter()
            .find(|r| r.id == run)
            .is_some_and(|r| r.phase(now) == Phase::Waiting)
    }
}

// ---- jobs of approved runs ----

impl GithubSim {
    /// Runs the job of every approved run of `workflow` (name) with `hook`,
    /// as the workflow's job would run after the production approval: from
    /// the approval on, the run is `in_progress`; once the hook's future
    /// ends, `completed` with the conclusion it returned (`success` or
    /// `failure`; anything else, a panic or a cancelled task: `failure`).
    /// Without a hook an approved run follows its [`RunPlan`]. A run
    /// cancelled meanwhile (`POST .../cancel`) stops its job and stays
    /// `cancelled`. What each job printed: [`GithubSim::jobs`].
    pub fn on_approved(&self, workflow: &str, hook: ApprovedHook) {
        let mut s = self.st();
        if s.jobs.rt.is_none() {
            s.jobs.rt = tokio::runtime::Handle::try_current().ok();
        }
        s.jobs.hook = Some((workflow.to_owned(), hook));
    }
    /// The runs whose job the hook ran, in the order they were approved.
    pub fn jobs(&self) -> Vec<JobRecord> {
        self.st()
            .jobs
            .runs
            .iter()
            .map(|j| JobRecord {
                info: j.info.clone(),
                outcome: j.outcome.clone(),
            })
            .collect()
    }
}

/// An approved run handed to the hook installed with
/// [`GithubSim::on_approved`]: what the run's job is told about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// The run id (`GITHUB_RUN_ID`).
    pub id: u64,
    /// The workflow's name.
    pub workflow: String,
    /// The commit the run is for (`head_sha`).
    pub head_sha: String,
    /// Who approved the production deployment.
    pub approved_by: String,
    /// The run's page on GitHub.
    pub html_url: String,
}

/// What a run's job ended with: the run's conclusion and what the job printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobOutcome {
    /// The run's conclusion: `success` or `failure`.
    pub conclusion: String,
    /// One line saying what the job did (`deployed api, web; verified v1.3.0`).
    pub summary: String,
    /// The job's log: everything its steps printed.
    pub log: String,
}

impl JobOutcome {
    /// A failed job whose log is `why` (nothing else ran).
    pub fn failure(why: &str) -> Self {
        JobOutcome {
            conclusion: "failure".into(),
            summary: why.to_owned(),
            log: format!("{why}\n"),
        }
    }
}

/// The future a hook returns: the job, run to its end.
pub type JobFuture = std::pin::Pin<Box<dyn std::future::Future<Output = JobOutcome> + Send>>;
/// Runs the job of an approved run (see [`GithubSim::on_approved`]).
pub type ApprovedHook = Arc<dyn Fn(RunInfo) -> JobFuture + Send + Sync>;

/// A run whose job the hook ran (or runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// The run.
    pub info: RunInfo,
    /// `None` while the job runs; then how it ended.
    pub outcome: Option<JobOutcome>,
}

struct JobRun {
    info: RunInfo,
    outcome: Option<JobOutcome>,
    abort: Option<tokio::task::AbortHandle>,
}

/// The hook, the runs waiting to start their job, and the jobs so far.
struct Jobs {
    rt: Option<tokio::runtime::Handle>,
    /// `(workflow name, hook)`.
    hook: Option<(String, ApprovedHook)>,
    queued: Vec<RunInfo>,
    runs: Vec<JobRun>,
    /// Runs already handed to the hook.
    seen: std::collections::HashSet<u64>,
}

impl Jobs {
    fn new() -> Self {
        Jobs {
            rt: tokio::runtime::Handle::try_current().ok(),
            hook: None,
            queued: Vec::new(),
            runs: Vec::new(),
            seen: std::collections::HashSet::new(),
        }
    }
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("workflow", &self.hook.as_ref().map(|(w, _)| w))
            .field("queued", &self.queued.len())
            .field("runs", &self.runs.len())
            .finish()
    }
}

/// Every run of the hooked workflow approved since the last look (a review
/// through the API, [`GithubSim::review_as`], a lost race) turns
/// `in_progress` (its job started) and waits in the queue for
/// [`launch_jobs`]. Called after every request and review.
fn queue_approved(s: &mut State) {
    let Some((workflow, _)) = &s.jobs.hook else {
        return;
    };
    let Some(wid) = s
        .workflows
        .iter()
        .find(|w| &w.name == workflow)
        .map(|w| w.id)
    else {
        return;
    };
    let approved: Vec<(usize, String)> = s
        .runs
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.workflow_id == wid
                && matches!(r.reviewed, Some((_, true)))
                && r.forced.is_none()
                && !s.jobs.seen.contains(&r.id)
        })
        .map(|(i, r)| {
            let by = r
                .reviews
                .iter()
                .rev()
                .find(|v| v.state == "approved")
                .map(|v| v.user.clone())
                .unwrap_or_default();
            (i, by)
        })
        .collect();
    for (idx, by) in approved {
        let id = s.runs[idx].id;
        s.jobs.seen.insert(id);
        queue_job(s, idx, &by);
    }
}

fn queue_job(s: &mut State, idx: usize, approved_by: &str) {
    let Some((workflow, _)) = &s.jobs.hook else {
        return;
    };
    let run = &s.runs[idx];
    let Some(w) = s
        .workflows
        .iter()
        .find(|w| w.id == run.workflow_id && &w.name == workflow)
    else {
        return;
    };
    let info = RunInfo {
        id: run.id,
        workflow: w.name.clone(),
        head_sha: run.sha.clone(),
        approved_by: approved_by.to_owned(),
        html_url: format!(
            "https://github.com/{}/{}/actions/runs/{}",
            s.owner, s.name, run.id
        ),
    };
    s.runs[idx].forced = Some(Phase::InProgress);
    s.jobs.queued.push(info);
}

/// Starts the job of every queued run on the simulator's runtime. The run
/// stays `in_progress` while the hook runs and is `completed` with the
/// hook's conclusion afterwards; a hook that panics (or whose task ends any
/// other way without an outcome) concludes `failure`, never a stuck run.
fn launch_jobs(state: &Arc<Mutex<State>>) {
    let (hook, rt, queued) = {
        let mut s = lock(state);
        queue_approved(&mut s);
        if s.jobs.queued.is_empty() {
            return;
        }
        let Some((_, hook)) = s.jobs.hook.clone() else {
            return;
        };
        let rt = s
            .jobs
            .rt
            .clone()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        (hook, rt, std::mem::take(&mut s.jobs.queued))
    };
    for info in queued {
        lock(state).jobs.runs.push(JobRun {
            info: info.clone(),
            outcome: None,
            abort: None,
        });
        let Some(rt) = rt.clone() else {
            finish_job(
                state,
                info.id,
                JobOutcome::failure("no runtime to run the job on"),
            );
            continue;
        };
        let hook = hook.clone();
        let job_info = info.clone();
        let job = rt.spawn(async move { hook(job_info).await });
        let abort = job.abort_handle();
        if let Some(j) = lock(state)
            .jobs
            .runs
            .iter_mut()
            .find(|j| j.info.id == info.id && j.outcome.is_none())
        {
            j.abort = Some(abort);
        }
        let state = state.clone();
        rt.spawn(async move {
            let outcome = match job.await {
                Ok(o) => o,
                Err(e) if e.is_panic() => {
                    let p = e.into_panic();
                    let why = p
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "no message".into());
                    JobOutcome::failure(&format!("the job panicked: {why}"))
                }
                Err(_) => JobOutcome::failure("the job was cancelled"),
            };
            finish_job(&state, info.id, outcome);
        });
    }
}

fn finish_job(state: &Arc<Mutex<State>>, id: u64, mut outcome: JobOutcome) {
    let mut s = lock(state);
    if !matches!(outcome.conclusion.as_str(), "success" | "failure") {
        outcome.conclusion = "failure".into();
    }
    if let Some(r) = s.runs.iter_mut().find(|r| r.id == id) {
        // A cancelled run stays cancelled.
        if !matches!(r.forced, Some(Phase::Completed(_))) {
            r.forced = Some(Phase::Completed(outcome.conclusion.clone()));
        }
    }
    if let Some(j) = s.jobs.runs.iter_mut().find(|j| j.info.id == id) {
        j.outcome = Some(outcome);
        j.abort = None;
    }
}

// ---- request handling ----

type Shared = (Arc<Mutex<State>>, Recorder);

fn lock(state: &Arc<Mutex<State>>) -> MutexGuard<'_, State> {
    match state.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn json(body: Value) -> Self {
        Reply {
            status: 200,
            body: Some(body),
            headers: Vec::new(),
        }
    }
    fn status(status: u16, body: Option<Value>) -> Self {
        Reply {
            status,
            body,
            headers: Vec::new(),
        }
    }
    fn not_found() -> Self {
        Self::status(
            404,
            Some(
                json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
            ),
        )
    }
}

async fn handle(AxState((state, recorder)): AxState<Shared>, req: Request) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let headers = req.headers().clone();
    let delay = {
        let mut s = lock(&state);
        let d = s
            .slow
            .iter()
            .find(|(m, p, _)| (m == "*" || *m == method) && path.contains(p.as_str()))
            .map(|(_, _, d)| *d);
        if d.is_some() {
            s.slow_arrivals += 1;
        }
        d
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let body = to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut recorded_headers = Vec::new();
    for (k, v) in &headers {
        let name = k.as_str();
        let value = v.to_str().unwrap_or("");
        match name {
            "authorization" => recorded_headers.push((
                name.to_owned(),
                value.split_whitespace().next().unwrap_or("").to_owned(),
            )),
            "accept" | "x-github-api-version" | "if-none-match" | "content-type" | "user-agent" => {
                recorded_headers.push((name.to_owned(), value.to_owned()));
            }
            _ => {}
        }
    }
    let (status, response) = respond(&state, &method, &path, &headers, &body);
    launch_jobs(&state);
    let delay = lock(&state)
        .slow_answers
        .iter()
        .find(|(m, p, _)| (m == "*" || *m == method) && path.contains(p.as_str()))
        .map(|(_, _, d)| *d);
    recorder.push(Recorded {
        method,
        path,
        headers: recorded_headers,
        body,
        status,
    });
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    response
}

fn respond(
    state: &Arc<Mutex<State>>,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &str,
) -> (u16, Response) {
    let mut s = lock(state);
    // Authentication.
    if let Some(token) = &s.token {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let ok = auth == format!("Bearer {token}") || auth == format!("token {token}");
        if !ok {
            let r = Reply::status(
                401,
                Some(
                    json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
                ),
            );
            return finish(&mut s, r, method, headers);
        }
    }
    // Faults.
    let fault_idx = s.faults.iter().position(|f| {
        let matches = match f.path_contains.strip_suffix('$') {
            Some(end) => path.ends_with(end),
            None => path.contains(&f.path_contains),
        };
        f.count > 0 && (f.method == "*" || f.method == method) && matches
    });
    if let Some(i) = fault_idx {
        let f = s.faults[i].clone();
        s.faults[i].count -= 1;
        if f.apply_first {
            let _ = route(&mut s, method, path, body);
        }
        let mut r = Reply::status(f.status, serde_json::from_str(&f.body).ok());
        r.headers = f.headers.clone();
        return finish(&mut s, r, method, headers);
    }
    let reply = route(&mut s, method, path, body);
    finish(&mut s, reply, method, headers)
}

fn etag_of(text: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    format!("W/\"{:016x}\"", h.finish())
}

fn finish(s: &mut State, reply: Reply, method: &str, headers: &HeaderMap) -> (u16, Response) {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("x-github-media-type", "github.v3; format=json");
    for (k, v) in [
        ("x-ratelimit-limit", "5000"),
        ("x-ratelimit-remaining", "4999"),
        ("x-ratelimit-resource", "core"),
    ] {
        if !reply
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(k))
        {
            builder = builder.header(k, v);
        }
    }
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    if let Some(scopes) = &s.oauth_scopes {
        builder = builder.header("x-oauth-scopes", scopes.as_str());
        // Classic tokens with an expiry carry it on every answer.
        builder = builder.header(
            "github-authentication-token-expiration",
            "2027-03-01 00:00:00 UTC",
        );
    }
    let text = reply.body.map(|b| b.to_string()).unwrap_or_default();
    let mut status = reply.status;
    let body = if method == "GET" && status == 200 {
        let etag = etag_of(&text);
        let inm = headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        builder = builder.header("etag", etag.as_str());
        if inm == etag {
            s.not_modified += 1;
            status = 304;
            builder = builder.status(StatusCode::NOT_MODIFIED);
            String::new()
        } else {
            text
        }
    } else {
        text
    };
    if !body.is_empty() {
        builder = builder.header("content-type", "application/json; charset=utf-8");
    }
    let resp = builder
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()));
    (status, resp)
}

/// `POST /graphql`, the one query shape almarel sends: tag objects under
/// aliases, `tN:object(oid:"SHA"){...on Tag{target{__typename oid}}}` inside
/// `repository(owner:$owner,name:$name)`. A tag object answers its target, a
/// commit answers `{}` (the `Tag` fragment does not apply), anything else
/// `null`, as GitHub does.
fn graphql(s: &State, body: &str) -> Reply {
    let req: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let query = req["query"].as_str().unwrap_or("");
    let vars = &req["variables"];
    if vars["owner"].as_str() != Some(s.owner.as_str())
        || vars["name"].as_str() != Some(s.name.as_str())
    {
        return Reply::json(json!({
            "data": {"repository": null},
            "errors": [{"type": "NOT_FOUND", "path": ["repository"],
                "message": format!("Could not resolve to a Repository with the name '{}/{}'.",
                    vars["owner"].as_str().unwrap_or(""), vars["name"].as_str().unwrap_or(""))}]
        }));
    }
    let mut repo = serde_json::Map::new();
    let pieces: Vec<&str> = query.split(":object(oid:\"").collect();
    for (i, piece) in pieces.iter().enumerate().skip(1) {
        let before = pieces[i - 1];
        let alias: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let oid = piece.split('"').next().unwrap_or("");
        let answer = if let Some(t) = s.tags.iter().find(|t| t.annotated && t.object == oid) {
            json!({"target": {"__typename": "Commit", "oid": t.commit}})
        } else if s.commits.iter().any(|c| c.sha == oid) {
            json!({})
        } else {
            Value::Null
        };
        repo.insert(alias, answer);
    }
    let mut r = Reply::json(json!({"data": {"repository": repo}}));
    r.headers
        .push(("x-ratelimit-resource".into(), "graphql".into()));
    r
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })
}

fn route(s: &mut State, method: &str, full: &str, body: &str) -> Reply {
    let (path, query) = full.split_once('?').unwrap_or((full, ""));
    if path == "/user" && s.integration_token {
        return Reply::status(
            403,
            Some(
                json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user", "status": "403"}),
            ),
        );
    }
    if method == "POST" && path == "/graphql" {
        return graphql(s, body);
    }
    if path == "/user" {
        let mut u = TEMPLATES.user.clone();
        u["login"] = json!(s.user);
        u["id"] = json!(s.user_id);
        return Reply::json(u);
    }
    if let Some(rest) = path.strip_prefix(&format!("/orgs/{}/teams/", s.owner)) {
        let parts: Vec<&str> = rest.split('/').collect();
        if let [slug, "memberships", login] = parts.as_slice() {
            if s.team_members
                .get(*slug)
                .is_some_and(|m| m.iter().any(|x| x == login))
            {
                // GitHub's "team-membership" example.
                return Reply::json(json!({
                    "url": format!("{}/organizations/1/team/1/memberships/{login}", s.base_url),
                    "role": "member",
                    "state": "active",
                }));
            }
        }
        return Reply::not_found();
    }
    let prefix = format!("/repos/{}/{}", s.owner, s.name);
    let Some(rest) = path.strip_prefix(&prefix) else {
        return Reply::not_found();
    };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let now = Instant::now();
    match (method, parts.as_slice()) {
        // GitHub's "repository" example, the fields almarel reads.
        ("GET", [""]) => Reply::json(json!({
            "id": 1_296_269,
            "name": s.name,
            "full_name": format!("{}/{}", s.owner, s.name),
            "private": false,
            "owner": {"login": s.owner, "type": "Organization"},
            "html_url": format!("https://github.com/{}/{}", s.owner, s.name),
            "default_branch": s.default_branch,
        })),
        ("GET", ["actions", "workflows"]) => {
            let items: Vec<Value> = s.workflows.iter().map(|w| workflow_json(s, w)).collect();
            paginate(s, full, items, Some("workflows"))
        }
        ("GET", ["actions", "workflows", id]) => match find_workflow(s, id) {
            Some(w) => Reply::json(workflow_json(s, &w)),
            None => Reply::not_found(),
        },
        ("GET", ["actions", "workflows", id, "runs"]) => match find_workflow(s, id) {
            Some(w) => {
                let runs = list_runs(s, Some(w.id), query, now);
                paginate(s, full, runs, Some("workflow_runs"))
            }
            None => Reply::not_found(),
        },
        ("GET", ["actions", "permissions"]) => {
            let mut v = json!({"enabled": s.actions_enabled});
            if s.actions_enabled {
                v["allowed_actions"] = json!(s.allowed_actions);
                if s.allowed_actions == "selected" {
                    v["selected_actions_url"] = json!(format!(
                        "{}/repos/{}/{}/actions/permissions/selected-actions",
                        s.base_url, s.owner, s.name
                    ));
                }
            }
            Reply::json(v)
        }
        ("POST", ["actions", "workflows", id, "dispatches"]) => dispatch(s, id, body, now),
        ("GET", ["contents", path @ ..]) => contents(s, &path.join("/"), query),
        ("GET", ["events"]) => {
            let items = s.events.clone();
            paginate(s, full, items, None)
        }
        ("GET", ["actions", "runs"]) => {
            let runs = list_runs(s, None, query, now);
            paginate(s, full, runs, Some("workflow_runs"))
        }
        ("GET", ["actions", "variables", name]) => {
            let name = name.to_ascii_uppercase();
            match s.variables.iter().find(|v| v.0 == name) {
                Some((n, v, c, u)) => {
                    Reply::json(json!({"name": n, "value": v, "created_at": c, "updated_at": u}))
                }
                None => Reply::not_found(),
            }
        }
        ("POST", ["actions", "variables"]) => {
            let req: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let (Some(name), Some(value)) = (req["name"].as_str(), req["value"].as_str()) else {
                return Reply::status(
                    422,
                    Some(
                        json!({"message": "Invalid request.\n\n\"name\", \"value\" are required.", "documentation_url": "https://docs.github.com/rest/actions/variables#create-a-repository-variable"}),
                    ),
                );
            };
            let name = name.to_ascii_uppercase();
            if s.variables.iter().any(|v| v.0 == name) {
                return Reply::status(
                    409,
                    Some(
                        json!({"message": "Already exists - Variable already exists", "documentation_url": "https://docs.github.com/rest/actions/variables#create-a-repository-variable"}),
                    ),
                );
            }
            let now = crate::clock::rfc3339(SystemTime::now());
            s.variables.push((name, value.to_owned(), now.clone(), now));
            Reply::status(201, Some(json!({})))
        }
        ("PATCH", ["actions", "variables", name]) => {
            let name = name.to_ascii_uppercase();
            let req: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let now = crate::clock::rfc3339(SystemTime::now());
            match s.variables.iter_mut().find(|v| v.0 == name) {
                Some(v) => {
                    if let Some(value) = req["value"].as_str() {
                        v.1 = value.to_owned();
                    }
                    v.3 = now;
                    Reply::status(204, None)
                }
                None => Reply::not_found(),
            }
        }
        ("DELETE", ["actions", "variables", name]) => {
            let name = name.to_ascii_uppercase();
            let before = s.variables.len();
            s.variables.retain(|v| v.0 != name);
            if s.variables.len() == before {
                Reply::not_found()
            } else {
                Reply::status(204, None)
            }
        }
        ("PUT", ["actions", "workflows", id, action @ ("disable" | "enable")]) => {
            let Some(w) = find_workflow(s, id) else {
                return Reply::not_found();
            };
            if let Some(w) = s.workflows.iter_mut().find(|x| x.id == w.id) {
                w.state = if *action == "disable" {
                    "disabled_manually".into()
                } else {
                    "active".into()
                };
            }
            Reply::status(204, None)
        }
        ("GET", ["actions", "runs", id]) => match s.runs.iter().find(|r| r.id.to_string() == *id) {
            Some(r) => Reply::json(run_json(s, r, now)),
            None => Reply::not_found(),
        },
        ("POST", ["actions", "runs", id, "cancel"]) => {
            let Some(r) = s.runs.iter_mut().find(|r| r.id.to_string() == *id) else {
                return Reply::not_found();
            };
            if matches!(r.phase(now), Phase::Completed(_)) {
                return Reply::status(
                    409,
                    Some(
                        json!({"message": "Cannot cancel a workflow run that is completed.", "documentation_url": "https://docs.github.com/rest"}),
                    ),
                );
            }
            r.forced = Some(Phase::Completed("cancelled".into()));
            let run_id = r.id;
            if let Some(j) = s.jobs.runs.iter_mut().find(|j| j.info.id == run_id) {
                if let Some(a) = j.abort.take() {
                    a.abort();
                }
            }
            Reply::status(202, Some(json!({})))
        }
        ("GET", ["actions", "runs", id, "pending_deployments"]) => {
            let Some(r) = s.runs.iter().find(|r| r.id.to_string() == *id) else {
                return Reply::not_found();
            };
            let items = if r.phase(now) == Phase::Waiting {
                s.environments
                    .first()
                    .map(|e| vec![pending_json(s, e)])
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            Reply::json(Value::Array(items))
        }
        ("POST", ["actions", "runs", id, "pending_deployments"]) => review(s, id, body, now),
        ("GET", ["actions", "runs", id, "jobs"]) => {
            match s.runs.iter().find(|r| r.id.to_string() == *id) {
                Some(r) => {
                    let items = vec![job_json(s, r, now)];
                    paginate(s, full, items, Some("jobs"))
                }
                None => Reply::not_found(),
            }
        }
        ("GET", ["actions", "runs", id, "approvals"]) => {
            let Some(r) = s.runs.iter().find(|r| r.id.to_string() == *id) else {
                return Reply::not_found();
            };
            let items: Vec<Value> = r
                .reviews
                .iter()
                .map(|rv| {
                    let mut a = TEMPLATES.approval.clone();
                    a["state"] = json!(rv.state);
                    a["comment"] = json!(rv.comment);
                    a["user"]["login"] = json!(rv.user);
                    if let Some(e) = s.environments.first() {
                        a["environments"][0]["id"] = json!(e.id);
                        a["environments"][0]["name"] = json!(e.name);
                    }
                    a
                })
                .collect();
            Reply::json(Value::Array(items))
        }
        ("GET", ["deployments"]) => {
            let mut list: Vec<&SimDeployment> = s
                .deployments
                .iter()
                .filter(|d| {
                    [
                        ("sha", &d.sha),
                        ("ref", &d.reference),
                        ("task", &d.task),
                        ("environment", &d.environment),
                    ]
                    .iter()
                    .all(|(k, v)| query_param(query, k).is_none_or(|q| percent_decode(q) == **v))
                })
                .collect();
            // GitHub lists the newest first.
            list.sort_by_key(|d| std::cmp::Reverse(d.id));
            let items: Vec<Value> = list.iter().map(|d| deployment_json(s, d)).collect();
            paginate(s, full, items, None)
        }
        ("POST", ["deployments"]) => create_deployment(s, body),
        ("GET", ["deployments", id]) => {
            match s.deployments.iter().find(|d| d.id.to_string() == *id) {
                Some(d) => Reply::json(deployment_json(s, d)),
                None => Reply::not_found(),
            }
        }
        ("GET", ["deployments", id, "statuses"]) => {
            let Some(d) = s.deployments.iter().find(|d| d.id.to_string() == *id) else {
                return Reply::not_found();
            };
            let items: Vec<Value> = d
                .statuses
                .iter()
                .rev()
                .map(|st| deployment_status_json(s, d, st))
                .collect();
            paginate(s, full, items, None)
        }
        ("POST", ["deployments", id, "statuses"]) => create_deployment_status(s, id, body),
        ("GET", ["environments", name]) => match s.environments.iter().find(|e| e.name == *name) {
            Some(e) => {
                let mut v = TEMPLATES.environment.clone();
                v["id"] = json!(e.id);
                v["name"] = json!(e.name);
                if let Some(rules) = v["protection_rules"].as_array_mut() {
                    for rule in rules.iter_mut() {
                        match rule["type"].as_str() {
                            Some("wait_timer") => rule["wait_timer"] = json!(e.wait_timer),
                            Some("required_reviewers") => {
                                rule["prevent_self_review"] = json!(e.prevent_self_review);
                                // The user reviewer is the token's user when
                                // it may approve, someone else otherwise.
                                let login = if e.can_approve {
                                    s.user.as_str()
                                } else {
                                    "hubot"
                                };
                                if let Some(list) = rule["reviewers"].as_array_mut() {
                                    for r in list.iter_mut().filter(|r| r["type"] == "User") {
                                        r["reviewer"]["login"] = json!(login);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                if let (Some(logins), Some(rules)) =
                    (&s.reviewers, v["protection_rules"].as_array_mut())
                {
                    if logins.is_empty() {
                        rules.retain(|r| r["type"] != "required_reviewers");
                    }
                    for rule in rules
                        .iter_mut()
                        .filter(|r| r["type"] == "required_reviewers")
                    {
                        let user = rule["reviewers"]
                            .as_array()
                            .and_then(|l| l.iter().find(|r| r["type"] == "User").cloned())
                            .unwrap_or(Value::Null);
                        let list: Vec<Value> = logins
                            .iter()
                            .map(|login| {
                                let mut u = user.clone();
                                u["reviewer"]["login"] = json!(login);
                                u
                            })
                            .collect();
                        rule["reviewers"] = Value::Array(list);
                    }
                }
                Reply::json(v)
            }
            None => Reply::not_found(),
        },
        ("GET", ["git", "ref", kind, name @ ..]) => {
            let name = name.join("/");
            let found = match *kind {
                "heads" => s
                    .branches
                    .get(&name)
                    .map(|sha| ref_json(s, &format!("refs/heads/{name}"), "commit", sha)),
                "tags" => s
                    .tags
                    .iter()
                    .find(|t| t.name == name)
                    .map(|t| tag_ref_json(s, t)),
                _ => None,
            };
            found.map(Reply::json).unwrap_or_else(Reply::not_found)
        }
        ("GET", ["git", "matching-refs", "tags", prefix @ ..]) => {
            let prefix = prefix.join("/");
            let mut tags: Vec<&SimTag> = s
                .tags
                .iter()
                .filter(|t| t.name.starts_with(&prefix))
                .collect();
            tags.sort_by(|a, b| a.name.cmp(&b.name));
            let items: Vec<Value> = tags.iter().map(|t| tag_ref_json(s, t)).collect();
            // Like GitHub: every match in one answer, `per_page` ignored.
            Reply::json(Value::Array(items))
        }
        ("GET", ["git", "tags", sha]) => {
            match s.tags.iter().find(|t| t.annotated && t.object == *sha) {
                Some(t) => Reply::json(json!({
                    "node_id": "MDM6VGFnOTQwYmQzMzYyNDhlZmFlMGY5ZWU1YmM3YjJkNWM5ODU4ODdiMTZhYw==",
                    "tag": t.name,
                    "sha": t.object,
                    "url": format!("{}{prefix}/git/tags/{}", s.base_url, t.object),
                    "message": format!("Release {}", t.name),
                    "tagger": {"name": "Monalisa Octocat", "email": "octocat@github.com", "date": "2014-11-07T22:01:45Z"},
                    "object": {"type": "commit", "sha": t.commit, "url": format!("{}{prefix}/git/commits/{}", s.base_url, t.commit)},
                    "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null}
                })),
                None => Reply::not_found(),
            }
        }
        ("GET", ["releases", "tags", tag]) => match s.releases.iter().find(|(t, _)| t == tag) {
            Some((t, pre)) => {
                let mut v = TEMPLATES.release.clone();
                v["tag_name"] = json!(t);
                v["name"] = json!(t);
                v["prerelease"] = json!(pre);
                v["draft"] = json!(false);
                v["html_url"] = json!(format!(
                    "https://github.com/{}/{}/releases/tag/{t}",
                    s.owner, s.name
                ));
                Reply::json(v)
            }
            None => Reply::not_found(),
        },
        ("GET", ["commits", reference]) => match find_commit(s, reference) {
            Some(c) => Reply::json(commit_json(s, &c, true)),
            None => Reply::status(
                422,
                Some(
                    json!({"message": format!("No commit found for SHA: {reference}"), "documentation_url": "https://docs.github.com/rest"}),
                ),
            ),
        },
        ("GET", ["compare", basehead]) => {
            let Some((base, head)) = basehead.split_once("...") else {
                return Reply::not_found();
            };
            let (Some(b), Some(h)) = (find_commit(s, base), find_commit(s, head)) else {
                return Reply::not_found();
            };
            let bi = s.commits.iter().position(|c| c.sha == b.sha).unwrap_or(0);
            let hi = s.commits.iter().position(|c| c.sha == h.sha).unwrap_or(0);
            let (ahead, behind) = if hi >= bi { (hi - bi, 0) } else { (0, bi - hi) };
            let commits: Vec<Value> = if hi > bi {
                s.commits[bi + 1..=hi]
                    .iter()
                    .map(|c| commit_json(s, c, false))
                    .collect()
            } else {
                Vec::new()
            };
            let mut v = TEMPLATES.compare.clone();
            v["status"] = json!(match (ahead, behind) {
                (0, 0) => "identical",
                (_, 0) => "ahead",
                _ => "behind",
            });
            v["ahead_by"] = json!(ahead);
            v["behind_by"] = json!(behind);
            v["total_commits"] = json!(commits.len());
            v["commits"] = Value::Array(commits);
            v["files"] = json!([]);
            Reply::json(v)
        }
        _ => Reply::not_found(),
    }
}

fn review(s: &mut State, id: &str, body: &str, now: Instant) -> Reply {
    let Some(idx) = s.runs.iter().position(|r| r.id.to_string() == id) else {
        return Reply::not_found();
    };
    let Ok(req) = serde_json::from_str::<Value>(body) else {
        return Reply::status(400, Some(json!({"message": "Problems parsing JSON"})));
    };
    let (Some(ids), Some(state), Some(comment)) = (
        req["environment_ids"].as_array(),
        req["state"].as_str(),
        req["comment"].as_str(),
    ) else {
        return Reply::status(
            422,
            Some(
                json!({"message": "Invalid request.\n\n\"environment_ids\", \"state\" and \"comment\" are required."}),
            ),
        );
    };
    let ids: Vec<u64> = ids.iter().filter_map(Value::as_u64).collect();
    let Some(env) = s.environments.first().cloned() else {
        return Reply::not_found();
    };
    if let Some((_, cancelled)) = s.race.take_if(|(_, state)| state == "cancelled") {
        s.runs[idx].forced = Some(Phase::Completed(cancelled));
    }
    if let Some((login, other)) = s.race.take() {
        let r = &mut s.runs[idx];
        r.reviewed = Some((now, other == "approved"));
        r.reviews.push(Review {
            state: other,
            comment: String::new(),
            user: login,
            environment_ids: vec![env.id],
        });
    }
    let run = &s.runs[idx];
    let self_review = env.prevent_self_review && run.actor == s.user;
    if run.phase(now) != Phase::Waiting
        || !ids.contains(&env.id)
        || !env.can_approve
        || self_review
        || !matches!(state, "approved" | "rejected")
    {
        return Reply::status(
            422,
            Some(
                json!({"message": "There was a problem approving one of the gates", "documentation_url": "https://docs.github.com/rest/actions/workflow-runs#review-pending-deployments-for-a-workflow-run"}),
            ),
        );
    }
    let user = s.user.clone();
    let sha = run.sha.clone();
    let reference = run.branch.clone().unwrap_or_else(|| sha.clone());
    // Approving starts the environment job: GitHub creates its deployment.
    let deployment = (state == "approved")
        .then(|| new_deployment(s, &sha, &reference, &env.name, "github-actions[bot]", true));
    let run = &mut s.runs[idx];
    run.reviewed = Some((now, state == "approved"));
    run.reviews.push(Review {
        state: state.to_owned(),
        comment: comment.to_owned(),
        user,
        environment_ids: ids,
    });
    let created = deployment.and_then(|id| s.deployments.iter().find(|d| d.id == id));
    let d = match created {
        Some(d) => deployment_json(s, d),
        None => {
            let mut d = TEMPLATES.review.clone();
            d["sha"] = json!(sha);
            d["environment"] = json!(env.name);
            d
        }
    };
    Reply::json(json!([d]))
}

fn new_deployment(
    s: &mut State,
    sha: &str,
    reference: &str,
    environment: &str,
    creator: &str,
    from_approval: bool,
) -> u64 {
    s.next_id += 1;
    let id = s.next_id;
    s.deployments.push(SimDeployment {
        id,
        sha: sha.to_owned(),
        reference: reference.to_owned(),
        environment: environment.to_owned(),
        task: "deploy".into(),
        description: None,
        creator: creator.to_owned(),
        auto_merge: None,
        required_contexts: None,
        from_approval,
        created_at: crate::clock::rfc3339(SystemTime::now()),
        statuses: Vec::new(),
    });
    id
}

fn validation_failed(message: &str) -> Reply {
    Reply::status(
        422,
        Some(json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest/deployments/deployments#create-a-deployment",
            "status": "422"
        })),
    )
}

/// `POST /deployments`: `ref` must name a commit, branch or tag; 201 with the
/// deployment. `auto_merge` and `required_contexts` are kept as sent.
fn create_deployment(s: &mut State, body: &str) -> Reply {
    let Ok(req) = serde_json::from_str::<Value>(body) else {
        return Reply::status(400, Some(json!({"message": "Problems parsing JSON"})));
    };
    let Some(reference) = req["ref"].as_str() else {
        return validation_failed("Invalid request.\n\n\"ref\" wasn't supplied.");
    };
    let sha = if let Some(c) = find_commit(s, reference) {
        c.sha
    } else if let Some(sha) = named_ref(s, reference) {
        sha
    } else {
        return validation_failed(&format!("No ref found for: {reference}"));
    };
    let environment = req["environment"]
        .as_str()
        .unwrap_or("production")
        .to_owned();
    let user = s.user.clone();
    let id = new_deployment(s, &sha, reference, &environment, &user, false);
    if let Some(d) = s.deployments.iter_mut().find(|d| d.id == id) {
        d.task = req["task"].as_str().unwrap_or("deploy").to_owned();
        d.description = req["description"].as_str().map(str::to_owned);
        d.auto_merge = req["auto_merge"].as_bool();
        d.required_contexts = req["required_contexts"].as_array().map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        });
    }
    match s.deployments.iter().find(|d| d.id == id) {
        Some(d) => Reply::status(201, Some(deployment_json(s, d))),
        None => Reply::not_found(),
    }
}

/// `POST /deployments/{id}/statuses`: `state` from GitHub's enum,
/// `description` at most 140 characters; 201 with the status.
fn create_deployment_status(s: &mut State, id: &str, body: &str) -> Reply {
    let Ok(req) = serde_json::from_str::<Value>(body) else {
        return Reply::status(400, Some(json!({"message": "Problems parsing JSON"})));
    };
    if !s.deployments.iter().any(|d| d.id.to_string() == id) {
        return Reply::not_found();
    }
    let state = req["state"].as_str().unwrap_or("");
    if !matches!(
        state,
        "error" | "failure" | "inactive" | "in_progress" | "queued" | "pending" | "success"
    ) {
        return validation_failed(&format!("Validation Failed: state `{state}` is not valid"));
    }
    let description = req["description"].as_str().unwrap_or("").to_owned();
    if description.chars().count() > 140 {
        return validation_failed(
            "Validation Failed: description is too long (maximum is 140 characters)",
        );
    }
    s.next_id += 1;
    let status_id = s.next_id;
    let creator = s.user.clone();
    let status = SimDeploymentStatus {
        id: status_id,
        state: state.to_owned(),
        description,
        environment_url: req["environment_url"].as_str().unwrap_or("").to_owned(),
        log_url: req["log_url"].as_str().unwrap_or("").to_owned(),
        creator,
        created_at: crate::clock::rfc3339(SystemTime::now()),
    };
    let Some(d) = s.deployments.iter_mut().find(|d| d.id.to_string() == id) else {
        return Reply::not_found();
    };
    d.statuses.push(status.clone());
    let d = d.clone();
    Reply::status(201, Some(deployment_status_json(s, &d, &status)))
}

#[derive(Debug, Clone)]
struct SimFile {
    path: String,
    /// The commit this version is at; `None`: every commit without its own.
    at: Option<String>,
    content: String,
}

/// The workflow files a new simulator serves (contents API), with the `on:`
/// triggers of the example workflows in `docs/workflows/`.
pub const DEFAULT_WORKFLOW_FILES: [(&str, &str); 3] = [
    (
        ".github/workflows/ci.yml",
        "name: CI\n\non:\n  push:\n    branches: [main]\n  pull_request:\n\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo test\n",
    ),
    (
        ".github/workflows/release.yml",
        "name: Release\n\non:\n  push:\n    tags: [\"v*\"]\n\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./scripts/release.sh\n",
    ),
    (
        ".github/workflows/deploy.yml",
        "name: Deploy to Production\n\non:\n  workflow_run:\n    workflows: [CI]\n    types: [completed]\n    branches: [main]\n  workflow_dispatch:\n\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    environment: production\n    steps:\n      - run: almarel deploy\n",
    ),
];

/// The commit a branch or tag name points at (not a SHA: what
/// `workflow_dispatch` accepts as `ref`).
fn named_ref(s: &State, name: &str) -> Option<String> {
    let name = name
        .strip_prefix("refs/heads/")
        .or_else(|| name.strip_prefix("refs/tags/"))
        .unwrap_or(name);
    s.branches.get(name).cloned().or_else(|| {
        s.tags
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.commit.clone())
    })
}

fn file_at<'a>(s: &'a State, path: &str, sha: &str) -> Option<&'a SimFile> {
    s.files
        .iter()
        .find(|f| f.path == path && f.at.as_deref() == Some(sha))
        .or_else(|| s.files.iter().find(|f| f.path == path && f.at.is_none()))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    // GitHub wraps the content at 60 characters, with a final newline.
    let mut wrapped = String::new();
    for line in out.as_bytes().chunks(60) {
        wrapped.push_str(&String::from_utf8_lossy(line));
        wrapped.push('\n');
    }
    wrapped
}

/// `GET /contents/{path}?ref=`: the `content-file` shape of GitHub's OpenAPI
/// description (`repos/get-content`), base64 wrapped at 60 columns.
fn contents(s: &State, path: &str, query: &str) -> Reply {
    let path = percent_decode(path);
    let reference = query_param(query, "ref")
        .map(percent_decode)
        .unwrap_or_else(|| "main".to_owned());
    let Some(commit) = find_commit(s, &reference) else {
        return Reply::status(
            404,
            Some(
                json!({"message": format!("No commit found for the ref {reference}"), "documentation_url": "https://docs.github.com/rest/repos/contents#get-repository-content", "status": "404"}),
            ),
        );
    };
    let Some(file) = file_at(s, &path, &commit.sha) else {
        return Reply::not_found();
    };
    let name = path.rsplit('/').next().unwrap_or(&path);
    let blob = fake_sha(&format!("blob {path} {}", file.content));
    let api = format!("{}/repos/{}/{}", s.base_url, s.owner, s.name);
    let html = format!(
        "https://github.com/{}/{}/blob/{}/{path}",
        s.owner, s.name, commit.sha
    );
    Reply::json(json!({
        "type": "file",
        "encoding": "base64",
        "size": file.content.len(),
        "name": name,
        "path": path,
        "content": base64(file.content.as_bytes()),
        "sha": blob,
        "url": format!("{api}/contents/{path}?ref={}", commit.sha),
        "git_url": format!("{api}/git/blobs/{blob}"),
        "html_url": html,
        "download_url": format!("https://raw.githubusercontent.com/{}/{}/{}/{path}", s.owner, s.name, commit.sha),
        "_links": {
            "git": format!("{api}/git/blobs/{blob}"),
            "self": format!("{api}/contents/{path}?ref={}", commit.sha),
            "html": html
        }
    }))
}

/// `POST /actions/workflows/{id}/dispatches` (`actions/create-workflow-dispatch`):
/// 204 and a new `workflow_dispatch` run for the ref's commit when the
/// workflow is active and its file at that ref has `workflow_dispatch`
/// (a text check: the simulator does not parse YAML); 422 with GitHub's
/// messages otherwise.
fn dispatch(s: &mut State, id: &str, body: &str, now: Instant) -> Reply {
    let Some(w) = find_workflow(s, id) else {
        return Reply::not_found();
    };
    let unprocessable = |message: String| {
        Reply::status(
            422,
            Some(
                json!({"message": message, "documentation_url": "https://docs.github.com/rest/actions/workflows#create-a-workflow-dispatch-event", "status": "422"}),
            ),
        )
    };
    let Ok(req) = serde_json::from_str::<Value>(body) else {
        return Reply::status(400, Some(json!({"message": "Problems parsing JSON"})));
    };
    let Some(reference) = req["ref"].as_str() else {
        return unprocessable("Invalid request.\n\n\"ref\" wasn't supplied.".into());
    };
    let Some(sha) = named_ref(s, reference) else {
        return unprocessable(format!("No ref found for: {reference}"));
    };
    if w.state != "active" {
        return unprocessable("Cannot trigger a 'workflow_dispatch' on a disabled workflow".into());
    }
    let allows = file_at(s, &w.path, &sha).is_some_and(|f| f.content.contains("workflow_dispatch"));
    if !allows {
        return unprocessable("Workflow does not have 'workflow_dispatch' trigger".into());
    }
    let plan = s.dispatch_plans.get(&w.id).cloned().unwrap_or_else(|| {
        if w.name == "Deploy to Production" {
            RunPlan::waiting_after(Duration::from_millis(300))
        } else {
            RunPlan {
                steps: vec![
                    (Duration::ZERO, Phase::InProgress),
                    (Duration::from_secs(2), Phase::Completed("success".into())),
                ],
                after_approval: Vec::new(),
            }
        }
    });
    s.next_id += 1;
    let run_id = s.next_id;
    let actor = s.user.clone();
    let branch = reference
        .strip_prefix("refs/heads/")
        .or_else(|| reference.strip_prefix("refs/tags/"))
        .unwrap_or(reference)
        .to_owned();
    s.runs.push(SimRun {
        id: run_id,
        workflow_id: w.id,
        sha,
        branch: Some(branch),
        event: "workflow_dispatch".into(),
        actor,
        created: now,
        created_at: crate::clock::rfc3339(SystemTime::now()),
        plan,
        reviewed: None,
        forced: None,
        reviews: Vec::new(),
    });
    Reply::status(204, None)
}

fn find_workflow(s: &State, id: &str) -> Option<SimWorkflow> {
    s.workflows
        .iter()
        .find(|w| w.id.to_string() == id || w.path.ends_with(&format!("/{id}")))
        .cloned()
}

fn find_commit(s: &State, reference: &str) -> Option<SimCommit> {
    let sha = s
        .branches
        .get(reference)
        .cloned()
        .or_else(|| {
            s.tags
                .iter()
                .find(|t| t.name == reference)
                .map(|t| t.commit.clone())
        })
        .unwrap_or_else(|| reference.to_owned());
    if sha.len() < 7 {
        return None;
    }
    s.commits.iter().find(|c| c.sha.starts_with(&sha)).cloned()
}

fn list_runs(s: &State, workflow: Option<u64>, query: &str, now: Instant) -> Vec<Value> {
    let head_sha = query_param(query, "head_sha");
    let status = query_param(query, "status");
    let event = query_param(query, "event");
    let mut runs: Vec<&SimRun> = s
        .runs
        .iter()
        .filter(|r| workflow.is_none_or(|w| r.workflow_id == w))
        .filter(|r| head_sha.is_none_or(|h| r.sha == h))
        .filter(|r| event.is_none_or(|e| r.event == e))
        .filter(|r| {
            status.is_none_or(|st| {
                let p = r.phase(now);
                p.status() == st || p.conclusion() == Some(st)
            })
        })
        .collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.id));
    runs.into_iter().map(|r| run_json(s, r, now)).collect()
}

fn paginate(s: &State, full: &str, items: Vec<Value>, key: Option<&str>) -> Reply {
    let (path, query) = full.split_once('?').unwrap_or((full, ""));
    let per_page: usize = query_param(query, "per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page: usize = query_param(query, "page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let start = (page - 1) * per_page;
    let slice: Vec<Value> = items.into_iter().skip(start).take(per_page).collect();
    let mut headers = Vec::new();
    if start + per_page < total {
        let others: Vec<&str> = query
            .split('&')
            .filter(|kv| !kv.is_empty() && !kv.starts_with("page="))
            .collect();
        let mut q = others.join("&");
        if !q.is_empty() {
            q.push('&');
        }
        let last = total.div_ceil(per_page);
        headers.push((
            "link".to_owned(),
            format!(
                "<{base}{path}?{q}page={next}>; rel=\"next\", <{base}{path}?{q}page={last}>; rel=\"last\"",
                base = s.base_url,
                next = page + 1
            ),
        ));
    }
    let body = match key {
        Some(k) => json!({"total_count": total, k: slice}),
        None => Value::Array(slice),
    };
    Reply {
        status: 200,
        body: Some(body),
        headers,
    }
}

fn workflow_json(s: &State, w: &SimWorkflow) -> Value {
    let mut v = TEMPLATES.workflow.clone();
    v["id"] = json!(w.id);
    v["name"] = json!(w.name);
    v["path"] = json!(w.path);
    v["state"] = json!(w.state);
    v["url"] = json!(format!(
        "{}/repos/{}/{}/actions/workflows/{}",
        s.base_url, s.owner, s.name, w.id
    ));
    v["html_url"] = json!(format!(
        "https://github.com/{}/{}/blob/main/{}",
        s.owner, s.name, w.path
    ));
    v
}

fn run_json(s: &State, r: &SimRun, now: Instant) -> Value {
    let p = r.phase(now);
    let w = s.workflows.iter().find(|w| w.id == r.workflow_id);
    let mut v = TEMPLATES.run.clone();
    let api = format!(
        "{}/repos/{}/{}/actions/runs/{}",
        s.base_url, s.owner, s.name, r.id
    );
    v["id"] = json!(r.id);
    v["name"] = json!(w.map(|w| w.name.clone()));
    v["path"] = json!(w.map(|w| w.path.clone()));
    v["workflow_id"] = json!(r.workflow_id);
    v["head_sha"] = json!(r.sha);
    v["head_branch"] = json!(r.branch);
    v["event"] = json!(r.event);
    v["status"] = json!(p.status());
    v["conclusion"] = json!(p.conclusion());
    v["run_number"] = json!(r.id % 1000);
    v["url"] = json!(api);
    v["html_url"] = json!(format!(
        "https://github.com/{}/{}/actions/runs/{}",
        s.owner, s.name, r.id
    ));
    v["created_at"] = json!(r.created_at);
    v["updated_at"] = json!(r.created_at);
    v["run_started_at"] = json!(r.created_at);
    v["actor"]["login"] = json!(r.actor);
    v["triggering_actor"]["login"] = json!(r.actor);
    v["head_commit"]["id"] = json!(r.sha);
    if let Some(c) = s.commits.iter().find(|c| c.sha == r.sha) {
        v["display_title"] = json!(c.message);
        v["head_commit"]["message"] = json!(c.message);
    }
    v
}

fn deployment_json(s: &State, d: &SimDeployment) -> Value {
    let mut v = TEMPLATES.deployment.clone();
    let base = format!("{}/repos/{}/{}", s.base_url, s.owner, s.name);
    v["url"] = json!(format!("{base}/deployments/{}", d.id));
    v["id"] = json!(d.id);
    v["sha"] = json!(d.sha);
    v["ref"] = json!(d.reference);
    v["task"] = json!(d.task);
    v["environment"] = json!(d.environment);
    v["original_environment"] = json!(d.environment);
    v["description"] = json!(d.description);
    v["creator"]["login"] = json!(d.creator);
    v["created_at"] = json!(d.created_at);
    v["updated_at"] = json!(d.created_at);
    v["statuses_url"] = json!(format!("{base}/deployments/{}/statuses", d.id));
    v["repository_url"] = json!(base);
    v["production_environment"] = json!(d.environment == "production");
    v
}

fn deployment_status_json(s: &State, d: &SimDeployment, st: &SimDeploymentStatus) -> Value {
    let mut v = TEMPLATES.deployment_status.clone();
    let base = format!("{}/repos/{}/{}", s.base_url, s.owner, s.name);
    v["url"] = json!(format!("{base}/deployments/{}/statuses/{}", d.id, st.id));
    v["id"] = json!(st.id);
    v["state"] = json!(st.state);
    v["creator"]["login"] = json!(st.creator);
    v["description"] = json!(st.description);
    v["environment"] = json!(d.environment);
    v["target_url"] = json!(st.log_url);
    v["log_url"] = json!(st.log_url);
    v["environment_url"] = json!(st.environment_url);
    v["created_at"] = json!(st.created_at);
    v["updated_at"] = json!(st.created_at);
    v["deployment_url"] = json!(format!("{base}/deployments/{}", d.id));
    v["repository_url"] = json!(base);
    v
}

fn pending_json(s: &State, e: &SimEnvironment) -> Value {
    let mut v = TEMPLATES.pending.clone();
    v["environment"]["id"] = json!(e.id);
    v["environment"]["name"] = json!(e.name);
    v["environment"]["url"] = json!(format!(
        "{}/repos/{}/{}/environments/{}",
        s.base_url, s.owner, s.name, e.name
    ));
    v["wait_timer"] = json!(e.wait_timer);
    v["current_user_can_approve"] = json!(e.can_approve);
    v
}

fn ref_json(s: &State, name: &str, kind: &str, sha: &str) -> Value {
    let mut v = TEMPLATES.git_ref.clone();
    let base = format!("{}/repos/{}/{}", s.base_url, s.owner, s.name);
    v["ref"] = json!(name);
    v["url"] = json!(format!("{base}/git/{name}"));
    v["object"]["type"] = json!(kind);
    v["object"]["sha"] = json!(sha);
    v["object"]["url"] = json!(format!("{base}/git/{kind}s/{sha}"));
    v
}

fn tag_ref_json(s: &State, t: &SimTag) -> Value {
    let kind = if t.annotated { "tag" } else { "commit" };
    ref_json(s, &format!("refs/tags/{}", t.name), kind, &t.object)
}

fn commit_json(s: &State, c: &SimCommit, full: bool) -> Value {
    let mut v = if full {
        TEMPLATES.commit.clone()
    } else {
        TEMPLATES.compare["commits"][0].clone()
    };
    v["sha"] = json!(c.sha);
    v["commit"]["message"] = json!(c.message);
    v["url"] = json!(format!(
        "{}/repos/{}/{}/commits/{}",
        s.base_url, s.owner, s.name, c.sha
    ));
    if full {
        v["files"] = json!([]);
    }
    v
}

/// The run's one job (`actions/list-jobs-for-workflow-run`, the official
/// example with the run's values): `deploy` for the deploy workflow, else
/// `build`; its status is the run's (a waiting run's job is `waiting`), and
/// a run whose job the hook runs shows it `in_progress` until it ended.
fn job_json(s: &State, r: &SimRun, now: Instant) -> Value {
    let p = r.phase(now);
    let w = s.workflows.iter().find(|w| w.id == r.workflow_id);
    let mut v = TEMPLATES.job.clone();
    let job_id = r.id * 10 + 1;
    v["id"] = json!(job_id);
    v["run_id"] = json!(r.id);
    v["run_url"] = json!(format!(
        "{}/repos/{}/{}/actions/runs/{}",
        s.base_url, s.owner, s.name, r.id
    ));
    v["head_sha"] = json!(r.sha);
    v["url"] = json!(format!(
        "{}/repos/{}/{}/actions/jobs/{job_id}",
        s.base_url, s.owner, s.name
    ));
    v["html_url"] = json!(format!(
        "https://github.com/{}/{}/actions/runs/{}/job/{job_id}",
        s.owner, s.name, r.id
    ));
    let deploy = w.is_some_and(|w| w.name == "Deploy to Production");
    v["name"] = json!(if deploy { "deploy" } else { "build" });
    v["workflow_name"] = json!(w.map(|w| w.name.clone()));
    v["head_branch"] = json!(r.branch);
    v["status"] = json!(p.status());
    v["conclusion"] = json!(p.conclusion());
    v["started_at"] = json!(r.created_at);
    if p.conclusion().is_none() {
        v["completed_at"] = Value::Null;
    }
    // The example's steps are another workflow's: the simulator has none.
    v["steps"] = json!([]);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// Waits (up to 5 s) until `run` is completed; returns its conclusion.
    async fn completed(sim: &GithubSim, run: u64) -> Option<String> {
        for _ in 0..500 {
            if let Some((status, conclusion)) = sim.run_state(run) {
                if status == "completed" {
                    return conclusion;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("run {run} is still {:?} after 5 s", sim.run_state(run));
    }

    async fn waiting_deploy_run(sim: &GithubSim) -> u64 {
        let sha = sim.add_commit("Add order export");
        sim.add_run("Deploy to Production", &sha, RunPlan::awaiting_approval())
    }

    #[test]
    fn an_approved_run_is_in_progress_while_its_job_runs_then_concludes_as_the_job_returned() {
        runtime().block_on(async {
            let sim = GithubSim::start("octo/app").await.expect("sim");
            let run = waiting_deploy_run(&sim).await;
            let release = Arc::new(AtomicBool::new(false));
            let gate = release.clone();
            sim.on_approved(
                "Deploy to Production",
                Arc::new(move |info: RunInfo| {
                    let gate = gate.clone();
                    Box::pin(async move {
                        while !gate.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        JobOutcome {
                            conclusion: "failure".into(),
                            summary: format!("run {}: web failed", info.id),
                            log: "web: deployment failed\n".into(),
                        }
                    })
                }),
            );
            sim.review_as(run, "lead", "approved", "ship it");
            tokio::time::sleep(Duration::from_millis(50)).await;
            // The job runs: the run is in progress, with nothing concluded.
            assert_eq!(sim.run_state(run), Some(("in_progress".into(), None)));
            let jobs = sim.jobs();
            assert_eq!(jobs.len(), 1);
            assert_eq!(jobs[0].info.id, run);
            assert_eq!(jobs[0].info.approved_by, "lead");
            assert_eq!(jobs[0].outcome, None);
            let job = {
                let s = lock(&sim.state);
                let r = s.runs.iter().find(|r| r.id == run).expect("run");
                job_json(&s, r, Instant::now())
            };
            assert_eq!(job["name"], "deploy");
            assert_eq!(job["status"], "in_progress");

            release.store(true, Ordering::SeqCst);
            assert_eq!(completed(&sim, run).await.as_deref(), Some("failure"));
            let outcome = sim.jobs()[0].outcome.clone().expect("ended");
            assert_eq!(outcome.summary, format!("run {run}: web failed"));
            assert_eq!(outcome.log, "web: deployment failed\n");
        });
    }

    #[test]
    fn a_panicking_job_concludes_failure_never_a_stuck_run() {
        runtime().block_on(async {
            let sim = GithubSim::start("octo/app").await.expect("sim");
            // Panics inside the job's future.
            sim.on_approved(
                "Deploy to Production",
                Arc::new(|_| Box::pin(async { panic!("deploy exploded") })),
            );
            let run = waiting_deploy_run(&sim).await;
            sim.review_as(run, "lead", "approved", "");
            assert_eq!(completed(&sim, run).await.as_deref(), Some("failure"));
            let outcome = sim.jobs()[0].outcome.clone().expect("ended");
            assert!(
                outcome.log.contains("panicked: deploy exploded"),
                "{outcome:?}"
            );

            // Panics before it even returns a future.
            sim.on_approved(
                "Deploy to Production",
                Arc::new(|_| -> JobFuture { panic!("no job") }),
            );
            let run = waiting_deploy_run(&sim).await;
            sim.review_as(run, "lead", "approved", "");
            assert_eq!(completed(&sim, run).await.as_deref(), Some("failure"));

            // A conclusion GitHub's job cannot have is a failure too.
            sim.on_approved(
                "Deploy to Production",
                Arc::new(|_| {
                    Box::pin(async {
                        JobOutcome {
                            conclusion: "exit 3".into(),
                            summary: String::new(),
                            log: String::new(),
                        }
                    })
                }),
            );
            let run = waiting_deploy_run(&sim).await;
            sim.review_as(run, "lead", "approved", "");
            assert_eq!(completed(&sim, run).await.as_deref(), Some("failure"));
        });
    }

    #[test]
    fn without_a_hook_or_for_another_workflow_an_approved_run_follows_its_plan() {
        runtime().block_on(async {
            let sim = GithubSim::start("octo/app").await.expect("sim");
            sim.on_approved(
                "Release",
                Arc::new(|_| Box::pin(async { JobOutcome::failure("x") })),
            );
            let run = waiting_deploy_run(&sim).await;
            sim.review_as(run, "lead", "approved", "");
            // RunPlan::awaiting_approval: in progress, success after 1 s.
            assert_eq!(completed(&sim, run).await.as_deref(), Some("success"));
            assert!(sim.jobs().is_empty());
        });
    }
}
