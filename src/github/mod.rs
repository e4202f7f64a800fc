//! The GitHub REST client (octocrab underneath); returns our own types, never
//! octocrab models.
//!
//! [`Client::new`] takes a plain [`Config`] (URL, repository, token, clock,
//! timeout, an optional `-vv` log hook); it never prints and never reads the
//! environment. Commands get the run's one client from the context
//! (`ctx.github().await?`); clones share the ETag cache and the counters.
//! Every GET is conditional (ETag /
//! `If-None-Match` against an in-memory cache, so polling an unchanged run
//! costs no rate limit) and retried on 5xx / network errors; rate limits are
//! waited out inside the deadline set with [`Client::set_deadline`]; writes
//! that must not repeat (the review POST, cancel) are sent once.

pub mod actions;
pub mod cache;
pub mod deployments;
pub mod http;
pub mod models;
mod peel;
pub mod variables;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::http::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;

use crate::clock::{Clock, Deadline};
use crate::error::{Error, Result};
use crate::version::{RefSpec, ReleaseTag};

/// How long the workflow list read from GitHub answers
/// [`Client::workflow_fresh`].
pub const FRESH_LIST: Duration = Duration::from_secs(5);

/// Receives one line per request at `-vv` (`github: GET /repos/o/r → 200`).
/// The caller owns where it goes (the context sends it to the redacting `ui`).
/// A plain callback rather than `tracing`: almarel has no subscriber, and
/// every line must pass the `ui` redactor on its way out.
pub type LogHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Everything a [`Client`] needs; plain values, no context.
#[derive(Clone)]
pub struct Config {
    /// The REST API base (`https://api.github.com`), without a trailing slash.
    pub api_url: String,
    /// The repository, `owner/name`.
    pub repository: String,
    /// The token (already trimmed and checked, see [`crate::auth::github_token`]).
    pub token: SecretString,
    /// Time source for retries, rate-limit waits and deadlines.
    pub clock: Arc<dyn Clock>,
    /// Timeout of one request, send + whole body (`github.request_timeout`).
    pub request_timeout: Duration,
    /// Where `-vv` request lines go; `None`: nowhere.
    pub log: Option<LogHook>,
    /// The release tag prefix (`git.tag_prefix`).
    pub tag_prefix: String,
    /// The release branch (`git.branch`): what "no REF" resolves to.
    pub branch: String,
    /// The deploy workflow (`github.deploy_workflow`): its state is the freeze.
    pub deploy_workflow: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("api_url", &self.api_url)
            .field("repository", &self.repository)
            .finish_non_exhaustive()
    }
}

pub use self::http::{Idempotency, Response, Stats};
pub use self::models::*;

/// A tag as GitHub has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRef {
    /// Tag name (`v1.2.3`).
    pub name: String,
    /// Annotated (a tag object) or lightweight.
    pub annotated: bool,
    /// The commit it points at (peeled).
    pub commit: String,
}

/// What a REF resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The commit's full SHA.
    pub sha: String,
    /// Release tags (prefix + SemVer) at that commit.
    pub tags: Vec<ReleaseTag>,
    /// Every tag at that commit, release tags or not.
    pub tag_refs: Vec<TagRef>,
    /// The tag the user named, when REF was a tag.
    pub requested_tag: Option<TagRef>,
    /// How REF was given, for messages (`v1.2.3`, `abc1234`, `origin/main`).
    pub label: String,
}

impl Target {
    /// The first 7 characters of the SHA.
    pub fn short(&self) -> &str {
        crate::version::short_sha(&self.sha)
    }
}

/// The outcome of a write that must not be repeated (review POST, cancel).
#[derive(Debug, Clone)]
pub enum WriteOutcome {
    /// GitHub accepted it.
    Accepted(Response),
    /// GitHub refused it (4xx other than auth and rate limits): status + message.
    Refused {
        /// HTTP status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// The outcome is unknown (5xx, timeout, cut connection): re-read state.
    Unknown(Error),
}

/// The GitHub client for one repository.
#[derive(Clone)]
pub struct Client {
    http: self::http::Http,
    api_url: String,
    owner: String,
    name: String,
    tag_prefix: String,
    branch: String,
    deploy_workflow: String,
    workflows: Arc<Mutex<Option<Vec<Workflow>>>>,
    /// When this client last read the workflow list from GitHub (not from
    /// memory); no longer set after it changes a workflow's state.
    workflows_read: Arc<Mutex<Option<std::time::Instant>>>,
    peeled: Arc<Mutex<HashMap<String, String>>>,
    disk: Option<Arc<cache::DiskCache>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("repo", &self.repo())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `config.repository` at `config.api_url`. Must run
    /// inside the tokio runtime. The caller checks beforehand that the URL may
    /// carry a token ([`crate::net::check_secret_url`]).
    pub fn new(config: Config) -> Result<Client> {
        let repo = config.repository.clone();
        let (owner, name) = repo
            .split_once('/')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| Error::usage(format!("github.repository `{repo}` is not owner/name")))?;
        let api_url = config.api_url.trim_end_matches('/').to_owned();
        let http = self::http::Http::new(&api_url, &config.token, &repo, config.clock)?
            .with_log(config.log)
            .with_request_timeout(config.request_timeout);
        Ok(Client {
            http,
            api_url,
            owner: owner.to_owned(),
            name: name.to_owned(),
            tag_prefix: config.tag_prefix,
            branch: config.branch,
            deploy_workflow: config.deploy_workflow,
            workflows: Arc::default(),
            workflows_read: Arc::default(),
            peeled: Arc::default(),
            disk: None,
        })
    }

    /// Keeps conditional-request entries and peeled tags under `root`
    /// (`$XDG_CACHE_HOME/almarel`), in a directory of this API URL and
    /// token ([`cache::DiskCache`]); `None`: memory only.
    #[must_use]
    pub fn with_cache_dir(mut self, root: Option<&std::path::Path>, token: &SecretString) -> Self {
        let Some(root) = root else {
            return self;
        };
        let disk = Arc::new(cache::DiskCache::new(root, &self.api_url, token));
        if let Ok(mut p) = self.peeled.lock() {
            p.extend(disk.peeled());
        }
        self.http = self.http.with_disk_cache(Some(disk.clone()));
        self.disk = Some(disk);
        self
    }

    /// `owner/name`.
    pub fn repo(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Sets the deadline that retries and rate-limit waits of later calls
    /// must fit in (a watch's `--timeout`); `None`: 2 minutes per call.
    /// Returns the deadline it replaces (to restore after a bounded call).
    pub fn set_deadline(&self, deadline: Option<Deadline>) -> Option<Deadline> {
        self.http.set_deadline(deadline)
    }

    /// Requests sent and 304s received so far.
    pub fn stats(&self) -> Stats {
        self.http.stats()
    }

    /// The transport, for calls this API does not cover.
    pub fn http(&self) -> &self::http::Http {
        &self.http
    }

    /// The absolute URL of a repository path (`/actions/runs/1`).
    pub fn repo_url(&self, path: &str) -> String {
        format!("{}/repos/{}/{}{path}", self.api_url, self.owner, self.name)
    }

    /// `GET /user`: who the token belongs to.
    pub async fn current_user(&self) -> Result<User> {
        self.http
            .get(&format!("{}/user", self.api_url))
            .await?
            .json("/user")
    }

    // ---- refs and tags ----

    /// The commit a branch points at (`git/ref/heads/<branch>`).
    pub async fn branch_head(&self, branch: &str) -> Result<String> {
        let url = self.repo_url(&format!("/git/ref/heads/{branch}"));
        match self.http.get_opt(&url).await? {
            Some(r) => Ok(r.json::<GitRef>("branch ref")?.object.sha),
            None => Err(Error::remote(format!(
                "github: branch `{branch}` not found in {} (or the token cannot read the repository)",
                self.repo()
            ))
            .with_hint("check git.branch and github.repository")),
        }
    }

    async fn peel(&self, obj: &GitObject) -> Result<String> {
        if obj.kind != "tag" {
            return Ok(obj.sha.clone());
        }
        if let Some(c) = self
            .peeled
            .lock()
            .ok()
            .and_then(|p| p.get(&obj.sha).cloned())
        {
            return Ok(c);
        }
        let mut current = obj.clone();
        for _ in 0..5 {
            if current.kind != "tag" {
                break;
            }
            let t: GitTag = self
                .http
                .get(&self.repo_url(&format!("/git/tags/{}", current.sha)))
                .await?
                .json("tag object")?;
            current = t.object;
        }
        // On disk with the others at the end of `tags` (one write, not one per tag).
        self.remember_peels(&[(obj.sha.clone(), current.sha.clone())], false);
        Ok(current.sha)
    }

    /// The tag `name` (exact), peeled to its commit; `None` when absent.
    pub async fn tag(&self, name: &str) -> Result<Option<TagRef>> {
        let url = self.repo_url(&format!("/git/ref/tags/{name}"));
        let Some(resp) = self.http.get_opt(&url).await? else {
            return Ok(None);
        };
        let r: GitRef = resp.json("tag ref")?;
        // git/ref falls back to a prefix match returning an array for some inputs.
        if r.name != format!("refs/tags/{name}") {
            return Ok(None);
        }
        let commit = self.peel(&r.object).await?;
        Ok(Some(TagRef {
            name: name.to_owned(),
            annotated: r.object.kind == "tag",
            commit,
        }))
    }

    /// The commit the tag points at, `None` when the tag does not exist.
    pub async fn tag_commit(&self, tag: &str) -> Result<Option<String>> {
        Ok(self.tag(tag).await?.map(|t| t.commit))
    }

    /// Every tag whose name starts with `prefix` (`v`), peeled (annotated
    /// tags in one GraphQL query per 1,000, see the `peel` module). The endpoint
    /// answers every match at once and ignores `per_page`.
    pub async fn tags(&self, prefix: &str) -> Result<Vec<TagRef>> {
        let url = self.repo_url(&format!("/git/matching-refs/tags/{prefix}"));
        let refs: Vec<GitRef> = self.http.get_all(&url, None).await?;
        self.peel_all(refs.iter().map(|r| &r.object)).await?;
        let mut peels = Vec::new();
        let mut out = Vec::new();
        for r in refs {
            let Some(name) = r.name.strip_prefix("refs/tags/") else {
                continue;
            };
            let commit = self.peel(&r.object).await?;
            if r.object.kind == "tag" {
                peels.push((r.object.sha.clone(), commit.clone()));
            }
            out.push(TagRef {
                name: name.to_owned(),
                annotated: r.object.kind == "tag",
                commit,
            });
        }
        // Those peeled over REST too (nothing is written when all are known).
        if let Some(disk) = &self.disk {
            disk.add_peeled(&peels);
        }
        Ok(out)
    }

    /// Release tags (prefix + SemVer) of the repository with their commits.
    pub async fn release_tags(&self) -> Result<Vec<(ReleaseTag, TagRef)>> {
        Ok(self
            .tags(&self.tag_prefix)
            .await?
            .into_iter()
            .filter_map(|t| ReleaseTag::from_name(&t.name, &self.tag_prefix).map(|rt| (rt, t)))
            .collect())
    }

    /// Tags at `sha` (all tags with the release prefix).
    pub async fn tags_at(&self, sha: &str) -> Result<Vec<TagRef>> {
        Ok(self
            .tags(&self.tag_prefix)
            .await?
            .into_iter()
            .filter(|t| t.commit == sha)
            .collect())
    }

    /// Resolves REF: a version or tag (`1.2.3`, `v1.2.3`), a commit SHA (7-40
    /// hex), or `None` for the commit at `git.branch` on GitHub (what
    /// `<remote>/<branch>` is after a fetch). REF is validated first
    /// ([`crate::version::parse_ref`]): anything else is exit 2 and nothing
    /// is sent.
    pub async fn resolve_ref(&self, reference: Option<&str>) -> Result<Target> {
        let branch = self.branch.clone();
        self.resolve_ref_on(reference, &branch).await
    }

    /// [`Client::resolve_ref`] with an explicit branch for the `None` case.
    pub async fn resolve_ref_on(&self, reference: Option<&str>, branch: &str) -> Result<Target> {
        let spec = reference
            .map(|r| crate::version::parse_ref(r, &self.tag_prefix))
            .transpose()?;
        self.resolve_spec_on(spec.as_ref(), branch).await
    }

    /// Resolves an already validated REF (`None`: the head of `branch`).
    pub async fn resolve_spec_on(&self, spec: Option<&RefSpec>, branch: &str) -> Result<Target> {
        // A release tag is found in the listing `tags_at` needs anyway.
        let mut listing = None;
        let (sha, requested_tag, label) = match spec {
            None => (
                self.branch_head(branch).await?,
                None,
                format!("{branch} on GitHub"),
            ),
            Some(RefSpec::Tag(name)) => match self.listed_tag(name, &mut listing).await? {
                Some(t) => (t.commit.clone(), Some(t), name.clone()),
                None => {
                    return Err(
                        Error::usage(format!("tag `{name}` not found in {}", self.repo()))
                            .with_hint("check the tag name (was it pushed?), or give a commit SHA"),
                    );
                }
            },
            Some(RefSpec::Sha(hex)) => (self.commit(hex).await?.sha, None, hex.clone()),
        };
        let tag_refs = match listing {
            Some(all) => all.into_iter().filter(|t| t.commit == sha).collect(),
            None => self.tags_at(&sha).await?,
        };
        let tags = tag_refs
            .iter()
            .filter_map(|t| ReleaseTag::from_name(&t.name, &self.tag_prefix))
            .collect();
        Ok(Target {
            sha,
            tags,
            tag_refs,
            requested_tag,
            label,
        })
    }

    /// The tag `name`, looked up in the listing of release tags (kept in
    /// `listing`) when it has the release prefix, else on its own.
    async fn listed_tag(
        &self,
        name: &str,
        listing: &mut Option<Vec<TagRef>>,
    ) -> Result<Option<TagRef>> {
        if name.starts_with(&self.tag_prefix) {
            let all = self.tags(&self.tag_prefix).await?;
            let found = all.iter().find(|t| t.name == name).cloned();
            *listing = Some(all);
            if found.is_some() {
                return Ok(found);
            }
        }
        self.tag(name).await
    }

    /// `GET /commits/{ref}` (a short SHA works); unknown → usage error.
    pub async fn commit(&self, reference: &str) -> Result<Commit> {
        let url = self.repo_url(&format!("/commits/{reference}"));
        let resp = self
            .http
            .request(Method::GET, &url, None, Idempotency::Repeatable)
            .await?;
        // An unknown SHA in a readable repository is 422; 404 means the repository itself.
        if resp.status == StatusCode::UNPROCESSABLE_ENTITY {
            return Err(
                Error::usage(format!("commit `{reference}` not found in {}", self.repo()))
                    .with_hint("push the commit, or check the SHA"),
            );
        }
        self.http.expect_ok(resp, &url)?.json("commit")
    }

    /// `GET /compare/{base}...{head}`.
    pub async fn compare(&self, base: &str, head: &str) -> Result<Comparison> {
        self.http
            .get(&self.repo_url(&format!("/compare/{base}...{head}")))
            .await?
            .json("compare")
    }

    /// The repository's default branch (`GET /repos/{owner}/{repo}`): where
    /// GitHub reads `workflow_run` and `schedule` triggers from.
    pub async fn default_branch(&self) -> Result<String> {
        #[derive(serde::Deserialize)]
        struct Repository {
            default_branch: String,
        }
        let r: Repository = self
            .http
            .get(&self.repo_url(""))
            .await?
            .json("the repository")?;
        Ok(r.default_branch)
    }

    /// The published GitHub Release for `tag`, `None` when there is none.
    pub async fn release_by_tag(&self, tag: &str) -> Result<Option<Release>> {
        match self
            .http
            .get_opt(&self.repo_url(&format!("/releases/tags/{tag}")))
            .await?
        {
            Some(r) => r.json("release").map(Some),
            None => Ok(None),
        }
    }

    // ---- workflows and runs ----

    /// Every workflow of the repository (read once, then cached).
    pub async fn workflows(&self) -> Result<Vec<Workflow>> {
        if let Some(w) = self.workflows.lock().ok().and_then(|w| w.clone()) {
            return Ok(w);
        }
        let list: Vec<Workflow> = self
            .http
            .get_all(
                &self.repo_url("/actions/workflows?per_page=100"),
                Some("workflows"),
            )
            .await?;
        if let Ok(mut w) = self.workflows.lock() {
            *w = Some(list.clone());
        }
        if let Ok(mut t) = self.workflows_read.lock() {
            *t = Some(std::time::Instant::now());
        }
        Ok(list)
    }

    /// The workflow named `name_or_file` (its name, or the file name of its
    /// path); a missing one is a configuration error listing those there are.
    pub async fn workflow(&self, name_or_file: &str) -> Result<Workflow> {
        let all = self.workflows().await?;
        all.iter()
            .find(|w| w.matches(name_or_file))
            .cloned()
            .ok_or_else(|| {
                let names: Vec<String> = all
                    .iter()
                    .map(|w| format!("{} ({})", w.name, w.file_name()))
                    .collect();
                Error::usage(format!(
                    "no workflow `{name_or_file}` in {} (there are: {})",
                    self.repo(),
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                ))
                .with_hint("set github.ci_workflow / deploy_workflow / release_workflow to a workflow name or file name")
            })
    }

    /// The workflow's current state, read fresh: from GitHub, or from the
    /// workflow list when this client read that from GitHub less than
    /// [`FRESH_LIST`] ago and has changed no workflow since (the list
    /// carries each workflow's state: reading it again a moment later is a
    /// request that says the same thing).
    pub async fn workflow_fresh(&self, id: u64) -> Result<Workflow> {
        let recent = self
            .workflows_read
            .lock()
            .ok()
            .and_then(|t| *t)
            .is_some_and(|t| t.elapsed() < FRESH_LIST);
        if recent {
            let listed = self
                .workflows
                .lock()
                .ok()
                .and_then(|w| w.as_ref()?.iter().find(|w| w.id == id).cloned());
            if let Some(w) = listed {
                return Ok(w);
            }
        }
        self.http
            .get(&self.repo_url(&format!("/actions/workflows/{id}")))
            .await?
            .json("workflow")
    }

    /// Whether releases are frozen: the state of `github.deploy_workflow`
    /// (read fresh) is not `active`.
    pub async fn is_frozen(&self) -> Result<bool> {
        let name = self.deploy_workflow.clone();
        let w = self.workflow(&name).await?;
        let fresh = self.workflow_fresh(w.id).await?;
        Ok(fresh.state != WorkflowState::Active)
    }

    /// Runs of workflow `workflow_id` for commit `sha`, newest first.
    pub async fn runs_for_commit(&self, workflow_id: u64, sha: &str) -> Result<Vec<Run>> {
        let url = self.repo_url(&format!(
            "/actions/workflows/{workflow_id}/runs?head_sha={sha}&per_page=100"
        ));
        let mut runs: Vec<Run> = self.http.get_all(&url, Some("workflow_runs")).await?;
        runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(runs)
    }

    /// Runs of every workflow for commit `sha`, newest first: one listing
    /// (`GET /actions/runs?head_sha=`) instead of one per workflow.
    pub async fn runs_of_commit(&self, sha: &str) -> Result<Vec<Run>> {
        let url = self.repo_url(&format!("/actions/runs?head_sha={sha}&per_page=100"));
        let mut runs: Vec<Run> = self.http.get_all(&url, Some("workflow_runs")).await?;
        runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(runs)
    }

    /// Runs of workflow `workflow_id` with `status` (`waiting`, `in_progress`, ...), newest first.
    pub async fn runs_with_status(&self, workflow_id: u64, status: &str) -> Result<Vec<Run>> {
        let url = self.repo_url(&format!(
            "/actions/workflows/{workflow_id}/runs?status={status}&per_page=100"
        ));
        let mut runs: Vec<Run> = self.http.get_all(&url, Some("workflow_runs")).await?;
        runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(runs)
    }

    /// One run.
    pub async fn run(&self, run_id: u64) -> Result<Run> {
        let url = self.repo_url(&format!("/actions/runs/{run_id}"));
        match self.http.get_opt(&url).await? {
            Some(r) => r.json("run"),
            None => Err(Error::usage(format!(
                "workflow run {run_id} not found in {}",
                self.repo()
            ))),
        }
    }

    /// Pending deployments of a run (environments waiting for review).
    pub async fn pending_deployments(&self, run_id: u64) -> Result<Vec<PendingDeployment>> {
        self.http
            .get(&self.repo_url(&format!("/actions/runs/{run_id}/pending_deployments")))
            .await?
            .json("pending deployments")
    }

    /// Review history of a run (who approved or rejected).
    pub async fn approvals(&self, run_id: u64) -> Result<Vec<Approval>> {
        self.http
            .get(&self.repo_url(&format!("/actions/runs/{run_id}/approvals")))
            .await?
            .json("approvals")
    }

    /// An environment's configuration; `None` when it does not exist.
    pub async fn environment(&self, name: &str) -> Result<Option<Environment>> {
        match self
            .http
            .get_opt(&self.repo_url(&format!("/environments/{name}")))
            .await?
        {
            Some(r) => r.json("environment").map(Some),
            None => Ok(None),
        }
    }

    /// Reviews pending deployments: `POST .../pending_deployments` with
    /// `state` `approved` or `rejected`. Sent once; re-sent only after a
    /// rate-limit answer. The caller re-reads state on [`WriteOutcome::Unknown`].
    pub async fn review(
        &self,
        run_id: u64,
        environment_ids: &[u64],
        approve: bool,
        comment: &str,
    ) -> Result<WriteOutcome> {
        let body = json!({
            "environment_ids": environment_ids,
            "state": if approve { "approved" } else { "rejected" },
            "comment": comment,
        });
        let url = self.repo_url(&format!("/actions/runs/{run_id}/pending_deployments"));
        self.write_once(Method::POST, &url, Some(&body)).await
    }

    /// `POST .../runs/{id}/cancel` (202), sent once.
    pub async fn cancel_run(&self, run_id: u64) -> Result<WriteOutcome> {
        let url = self.repo_url(&format!("/actions/runs/{run_id}/cancel"));
        self.write_once(Method::POST, &url, None).await
    }

    async fn write_once(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<WriteOutcome> {
        match self.http.request_once(method, url, body).await? {
            Ok(resp) if resp.status.is_success() => Ok(WriteOutcome::Accepted(resp)),
            Ok(resp) => Ok(WriteOutcome::Refused {
                status: resp.status.as_u16(),
                message: resp.message().unwrap_or_default(),
            }),
            // 5xx, timeouts and cut connections: the write may have happened.
            Err(e) => Ok(WriteOutcome::Unknown(e)),
        }
    }

    /// `PUT .../workflows/{id}/disable` (204). Repeating it is harmless.
    pub async fn disable_workflow(&self, workflow_id: u64) -> Result<()> {
        self.put_204(&format!("/actions/workflows/{workflow_id}/disable"))
            .await
    }

    /// `PUT .../workflows/{id}/enable` (204). Repeating it is harmless.
    pub async fn enable_workflow(&self, workflow_id: u64) -> Result<()> {
        self.put_204(&format!("/actions/workflows/{workflow_id}/enable"))
            .await
    }

    async fn put_204(&self, path: &str) -> Result<()> {
        // A workflow changes state: the list no longer says how it is now.
        if let Ok(mut t) = self.workflows_read.lock() {
            *t = None;
        }
        let url = self.repo_url(path);
        let resp = self
            .http
            .request(Method::PUT, &url, None, Idempotency::Repeatable)
            .await?;
        self.http.expect_ok(resp, &url).map(|_| ())
    }
}
