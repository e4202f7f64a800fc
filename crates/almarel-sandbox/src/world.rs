//! The whole release world in one sandbox, for `almarel rehearse`: a
//! temporary git world (bare origin, clone on `main`, release tags), the
//! GitHub, Coolify and production simulators on loopback ports, an
//! `almarel.toml` pointing at them, and the bridges that make the remotes
//! move the way the real ones do:
//!
//! - a push to origin (commits on `main`, a release tag) reaches GitHub
//!   ([`World::sync`]): the commits are registered, the tag added, and the
//!   workflows start — CI and Release, and the deploy run waiting for the
//!   production approval once CI passed;
//! - a finished Coolify deployment of the `api` app switches what production
//!   serves to the commit of the image tag it deployed (`vX.Y.Z` → that tag's
//!   commit on origin, `prod-<sha>` → that SHA);
//! - an approved deploy run runs its job when the rehearsal installed one
//!   ([`GithubSim::on_approved`]): [`World::actions_runner`] gives the job
//!   its own checkout of the run's commit and the GitHub Actions
//!   environment, and [`World::sync`] narrates the job starting and ending.
//!
//! Everything lives under one temporary directory, removed when the
//! [`World`] is dropped (also on failure or Ctrl-C).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::env;
use crate::error::{Error, Result};
use crate::git::{GitWorld, OriginRef};

use super::coolify::{self, AppSpec, CoolifySim};
use super::github::{GithubSim, RunInfo, RunPlan};
use super::production::{self, ProductionSim};

/// `github.repository` of the sandbox.
pub const REPOSITORY: &str = "almafrica/platform";
/// The GitHub token the sandbox's simulator requires (not a real token).
pub const GH_TOKEN: &str = "ghp_almarelRehearsalSandbox000000000000";
/// The Coolify token the sandbox's simulator accepts (not a real token).
pub const COOLIFY_TOKEN: &str = coolify::TOKEN;
/// The Coolify uuid of the `api` app.
pub const API_UUID: &str = "rh0api0wccw4g0o0kw4okcs8";
/// The Coolify uuid of the `web` app.
pub const WEB_UUID: &str = "rh0web0wccw4g0o0kw4okcs8";
/// The staging api app's uuid (with [`WorldSpec::staging`]).
pub const STG_API_UUID: &str = "rh0sta0wccw4g0o0kw4okcs8";
/// The staging web app's uuid (with [`WorldSpec::staging`]).
pub const STG_WEB_UUID: &str = "rh0stw0wccw4g0o0kw4okcs8";
/// Where the database rollback runbook lives in the sandbox project.
pub const DATABASE_RUNBOOK: &str = "docs/runbooks/database-rollback.md";
/// Where DB migrations live in the sandbox project.
pub const MIGRATION_PATH: &str = "api/Migrations/";

/// The git identity of a deploy run's job (`user.name`).
pub const RUNNER_NAME: &str = "github-actions[bot]";
/// The git identity of a deploy run's job (`user.email`).
pub const RUNNER_EMAIL: &str = "41898282+github-actions[bot]@users.noreply.github.com";

/// A release that exists before the rehearsal starts.
#[derive(Debug, Clone)]
pub struct SeedRelease {
    /// The tag (`v1.2.2`).
    pub tag: String,
    /// Commit subject.
    pub message: String,
    /// Files the commit writes (path, content).
    pub files: Vec<(String, String)>,
}

impl SeedRelease {
    /// A release commit writing `files`.
    pub fn new(tag: &str, message: &str, files: &[(&str, &str)]) -> Self {
        SeedRelease {
            tag: tag.to_owned(),
            message: message.to_owned(),
            files: files
                .iter()
                .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
                .collect(),
        }
    }
}

/// What the world looks like when the rehearsal starts.
#[derive(Debug, Clone)]
pub struct WorldSpec {
    /// Released versions, oldest first (tagged, pushed, their runs done).
    pub releases: Vec<SeedRelease>,
    /// The release production runs (and both Coolify apps are configured with).
    pub production: String,
    /// Commits merged on `main` after the last release, not tagged yet.
    pub unreleased: Vec<(String, Vec<(String, String)>)>,
    /// How CI ends for commits tagged during the rehearsal.
    pub ci_conclusion: String,
    /// Start the deploy run even when CI fails (a deploy workflow triggered
    /// by the push, not by CI's success): the approval gate must catch it.
    pub deploy_despite_red_ci: bool,
    /// Time CI takes.
    pub ci_after: Duration,
    /// Time the Release workflow takes.
    pub release_after: Duration,
    /// Time a Coolify deployment stays queued, then running.
    pub coolify_times: (Duration, Duration),
    /// Give each Coolify app a finished deployment of `production` in its
    /// history (what a failed deploy restores, SPEC §7.6); without it the
    /// apps have no history and a failed deploy cannot know what to restore.
    pub app_history: bool,
    /// A staging environment too: two more Coolify apps (`stg-api`,
    /// `stg-web`, on `production`'s release), a staging server
    /// ([`World::staging`]) and `[environments.staging]` in the config.
    pub staging: bool,
}

impl Default for WorldSpec {
    fn default() -> Self {
        WorldSpec {
            releases: Vec::new(),
            production: String::new(),
            unreleased: Vec::new(),
            ci_conclusion: "success".into(),
            deploy_despite_red_ci: false,
            ci_after: Duration::from_millis(1500),
            release_after: Duration::from_millis(1000),
            coolify_times: (Duration::from_millis(200), Duration::from_millis(800)),
            app_history: false,
            staging: false,
        }
    }
}

/// The running sandbox. Dropping it stops the simulators and removes the
/// temporary directory.
pub struct World {
    /// The git world (origin and clone).
    pub git: GitWorld,
    /// The GitHub simulator.
    pub github: GithubSim,
    /// The Coolify simulator.
    pub coolify: CoolifySim,
    /// The production simulator.
    pub production: ProductionSim,
    /// The staging server (with [`WorldSpec::staging`]).
    pub staging: Option<ProductionSim>,
    /// With [`WorldSpec::staging`]: the image registry every app's image
    /// (`almafrica/api`, `almafrica/web`, public) is read from, so promotion
    /// by digest is checked on loopback, never on a real registry.
    pub registry: Option<super::registry::RegistrySim>,
    /// The generated `almarel.toml` (outside the clone, so the tree stays clean).
    pub config: PathBuf,
    /// The audit log's directory.
    pub state_dir: PathBuf,
    spec: WorldSpec,
    runs_started: Mutex<HashSet<String>>,
    deploy_runs: Mutex<Vec<u64>>,
    /// Jobs narrated so far: run id → whether its end was narrated too.
    jobs_told: Mutex<HashMap<u64, bool>>,
    // Last: removed after everything above has stopped.
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

fn io(what: &str, e: std::io::Error) -> Error {
    Error::local(format!("sandbox: {what}: {e}"))
}

impl World {
    /// Builds the world described by `spec` (inside a tokio runtime).
    pub async fn start(spec: WorldSpec) -> Result<World> {
        let dir = tempfile::Builder::new()
            .prefix("almarel-rehearse-")
            .tempdir()
            .map_err(|e| io("cannot create a temporary directory", e))?;
        let git = GitWorld::create(dir.path(), "Rehearsal Dev", "dev@rehearsal.invalid")?;
        let github = GithubSim::start(REPOSITORY).await?;
        github.require_token(GH_TOKEN);
        github.set_user("rehearsal-lead");

        // The project: a README, the runbooks, and the seeded releases.
        git.commit(
            &[
                ("README.md", "# platform\n"),
                (
                    DATABASE_RUNBOOK,
                    "# Database rollback\n\n1. Stop writes.\n2. Restore the snapshot taken before the release.\n",
                ),
                (
                    "docs/runbooks/staging-data-copy.md",
                    "# Staging data copy\n",
                ),
            ],
            "Initial commit",
        )?;
        let mut started = HashSet::new();
        for r in &spec.releases {
            let files: Vec<(&str, &str)> = r
                .files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect();
            let sha = git.commit(&files, &r.message)?;
            git.tag(&r.tag, &sha)?;
            git.push(&[
                "refs/heads/main:refs/heads/main",
                &format!("refs/tags/{0}:refs/tags/{0}", r.tag),
            ])?;
            register_history(&git, &github)?;
            github.add_tag(&r.tag, &sha, true);
            github.add_release(&r.tag, is_prerelease(&r.tag));
            for wf in ["CI", "Release", "Deploy to Production"] {
                github.add_run(wf, &sha, RunPlan::success());
            }
            started.insert(sha);
        }
        for (message, files) in &spec.unreleased {
            let files: Vec<(&str, &str)> = files
                .iter()
                .map(|(p, c)| (p.as_str(), c.as_str()))
                .collect();
            git.commit(&files, message)?;
        }
        if !spec.unreleased.is_empty() {
            git.push(&["refs/heads/main:refs/heads/main"])?;
            register_history(&git, &github)?;
        }

        let prod_sha = tag_commit(&git, &spec.production).ok_or_else(|| {
            Error::local(format!(
                "sandbox: production release {} is not a seeded tag",
                spec.production
            ))
        })?;
        let (queued, running) = spec.coolify_times;
        let apps: Vec<AppSpec> = [("api", API_UUID), ("web", WEB_UUID)]
            .iter()
            .map(|(name, uuid)| {
                let mut a = AppSpec::docker(name, uuid, &spec.production);
                a.queued_for = queued;
                a.running_for = running;
                if spec.app_history {
                    a = a.with_history(&[spec.production.as_str()]);
                }
                a
            })
            .collect();
        let mut apps = apps;
        let registry = match spec.staging {
            true => Some(super::registry::RegistrySim::start().await?),
            false => None,
        };
        if let Some(r) = &registry {
            // The candidate's image, and the final tag on the same build.
            for repo in ["almafrica/api", "almafrica/web"] {
                r.control().set_public(repo, true);
                let digest = r.control().push(repo, "v1.3.0-rc.1");
                r.control().tag(repo, "v1.3.0", &digest);
            }
        }
        if spec.staging {
            for (name, uuid) in [("stg-api", STG_API_UUID), ("stg-web", STG_WEB_UUID)] {
                let mut a = AppSpec::docker(name, uuid, &spec.production);
                a.queued_for = queued;
                a.running_for = running;
                apps.push(a);
            }
        }
        if let Some(r) = &registry {
            for a in &mut apps {
                let repo = if a.name.ends_with("api") {
                    "api"
                } else {
                    "web"
                };
                a.image_name = r.image(&format!("almafrica/{repo}"));
            }
        }
        let coolify = coolify::start(coolify::Config::new(apps)).await?;
        let production = production::start(production::Config::new(&prod_sha)).await?;
        let staging = match spec.staging {
            true => Some(production::start(production::Config::new(&prod_sha)).await?),
            false => None,
        };

        // A finished api deployment changes what production (stg-api:
        // staging) serves.
        let control = production.control();
        let staging_control = staging.as_ref().map(ProductionSim::control);
        let bridge_git = git.clone();
        coolify.on_finish(move |app, image_tag| {
            let control = match (app, &staging_control) {
                ("api", _) => &control,
                ("stg-api", Some(c)) => c,
                _ => return,
            };
            let sha = match image_tag.strip_prefix("prod-") {
                Some(sha) => Some(sha.to_owned()),
                None => tag_commit(&bridge_git, image_tag),
            };
            if let Some(sha) = sha {
                control.set_sha(&sha);
            }
        });

        let state_dir = dir.path().join("state");
        std::fs::create_dir_all(&state_dir).map_err(|e| io("state dir", e))?;
        let config = dir.path().join("almarel.toml");
        let mut toml = config_toml(&github.url(), &coolify.url(), &production.url());
        if let Some(stg) = &staging {
            toml.push_str(&staging_toml(&stg.url()));
        }
        std::fs::write(&config, toml).map_err(|e| io("cannot write almarel.toml", e))?;

        Ok(World {
            git,
            github,
            coolify,
            production,
            staging,
            registry,
            config,
            state_dir,
            spec,
            runs_started: Mutex::new(started),
            deploy_runs: Mutex::default(),
            jobs_told: Mutex::default(),
            dir,
        })
    }

    /// The sandbox's temporary directory (removed on drop).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The commit `tag` points at on origin.
    pub fn tag_sha(&self, tag: &str) -> Option<String> {
        tag_commit(&self.git, tag)
    }

    /// The environment almarel runs with in the sandbox: the sandbox tokens,
    /// the smoke credentials and the audit log's directory.
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        let p = production::Config::new("");
        vec![
            (
                env::ALMAREL_CONFIG.to_owned(),
                self.config.display().to_string(),
            ),
            (env::GH_TOKEN.to_owned(), GH_TOKEN.to_owned()),
            (env::COOLIFY_TOKEN.to_owned(), COOLIFY_TOKEN.to_owned()),
            ("SMOKE_EMAIL".to_owned(), p.email),
            ("SMOKE_PASSWORD".to_owned(), p.password),
            (
                env::ALMAREL_STATE_DIR.to_owned(),
                self.state_dir.display().to_string(),
            ),
        ]
    }

    /// The deploy runs started during the rehearsal (by [`World::sync`]).
    pub fn deploy_runs(&self) -> Vec<u64> {
        self.deploy_runs
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    /// Refs on the sandbox origin.
    pub fn origin_refs(&self) -> Result<Vec<OriginRef>> {
        self.git.origin_refs()
    }

    /// The GitHub side of a push: registers origin's new commits, adds new
    /// tags, and starts the workflows GitHub would start. Returns one line
    /// per thing that happened (empty when nothing was new).
    pub fn sync(&self) -> Result<Vec<String>> {
        register_history(&self.git, &self.github)?;
        // Approved deploy runs whose job started or ended since the last sync.
        let mut notes = self.job_notes();
        for r in self.git.origin_refs()? {
            let Some(tag) = r.name.strip_prefix("refs/tags/") else {
                continue;
            };
            if self.github.has_tag(tag) {
                continue;
            }
            self.github.add_tag(tag, &r.commit, r.annotated);
            self.github.add_release(tag, is_prerelease(tag));
            let first = self
                .runs_started
                .lock()
                .map(|mut s| s.insert(r.commit.clone()))
                .unwrap_or(false);
            let s = &self.spec;
            let short = &r.commit[..r.commit.len().min(7)];
            if first {
                self.github.add_run(
                    "CI",
                    &r.commit,
                    RunPlan::completes_after(s.ci_after, &s.ci_conclusion),
                );
                self.github.add_run(
                    "Release",
                    &r.commit,
                    RunPlan::completes_after(s.release_after, "success"),
                );
                let wants_deploy = s.ci_conclusion == "success" || s.deploy_despite_red_ci;
                // A disabled deploy workflow (a freeze) starts no run.
                let enabled = self
                    .github
                    .workflow_state("Deploy to Production")
                    .is_none_or(|st| st == "active");
                let deploy = wants_deploy && enabled;
                if deploy {
                    let id = self.github.add_run(
                        "Deploy to Production",
                        &r.commit,
                        RunPlan::waiting_after(s.ci_after),
                    );
                    if let Ok(mut d) = self.deploy_runs.lock() {
                        d.push(id);
                    }
                }
                notes.push(format!(
                    "GitHub saw {tag} pushed ({short}): started CI, Release{}",
                    if deploy {
                        " and Deploy to Production (it will wait for the production approval)"
                    } else if wants_deploy {
                        "; no Deploy to Production run: the workflow is disabled (frozen)"
                    } else {
                        ""
                    }
                ));
            } else {
                self.github.add_run(
                    "Release",
                    &r.commit,
                    RunPlan::completes_after(s.release_after, "success"),
                );
                notes.push(format!(
                    "GitHub saw {tag} pushed ({short}, a commit it already built): started Release"
                ));
            }
        }
        // Deploy runs started otherwise (workflow_dispatch) join the list.
        if let Ok(mut known) = self.deploy_runs.lock() {
            for (id, sha, event) in self.github.runs_of("Deploy to Production") {
                if event == "workflow_dispatch" && !known.contains(&id) {
                    known.push(id);
                    notes.push(format!(
                        "GitHub started Deploy to Production for {} (workflow_dispatch); it will wait for the production approval",
                        &sha[..sha.len().min(7)]
                    ));
                }
            }
        }
        Ok(notes)
    }

    /// A teammate's commit lands on `main` (pushed to origin): GitHub runs CI
    /// for it and, when the deploy workflow is active, a deploy run that
    /// waits for the production approval. Returns the commit and the deploy
    /// run, if one started.
    pub fn push_commit(
        &self,
        message: &str,
        files: &[(&str, &str)],
    ) -> Result<(String, Option<u64>)> {
        let sha = self.git.commit(files, message)?;
        self.git.push(&["refs/heads/main:refs/heads/main"])?;
        register_history(&self.git, &self.github)?;
        if let Ok(mut started) = self.runs_started.lock() {
            started.insert(sha.clone());
        }
        self.github.add_run(
            "CI",
            &sha,
            RunPlan::completes_after(self.spec.ci_after, "success"),
        );
        let enabled = self
            .github
            .workflow_state("Deploy to Production")
            .is_none_or(|st| st == "active");
        let deploy = enabled.then(|| {
            let id = self.github.add_run(
                "Deploy to Production",
                &sha,
                RunPlan::waiting_after(self.spec.ci_after),
            );
            if let Ok(mut d) = self.deploy_runs.lock() {
                d.push(id);
            }
            id
        });
        Ok((sha, deploy))
    }
}

impl World {
    /// What a deploy run's job needs to run in the sandbox: its own
    /// checkout and the GitHub Actions environment (see [`ActionsRunner`]).
    pub fn actions_runner(&self) -> ActionsRunner {
        ActionsRunner {
            origin: self.git.origin.clone(),
            root: self.dir.path().join("actions"),
            env: self.env_pairs(),
        }
    }

    /// Waits until no approved run's job is still running, up to `deadline`;
    /// returns what [`World::sync`] would narrate about them. A job still
    /// running at the deadline is named.
    pub async fn settle_jobs(&self, deadline: Duration) -> Vec<String> {
        let until = std::time::Instant::now() + deadline;
        while self.github.jobs().iter().any(|j| j.outcome.is_none())
            && std::time::Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut notes = self.job_notes();
        for j in self.github.jobs() {
            if j.outcome.is_none() {
                notes.push(format!(
                    "{} run {} is still in progress after {}",
                    j.info.workflow,
                    j.info.id,
                    humantime::format_duration(deadline)
                ));
            }
        }
        notes
    }

    /// One line per job that started or ended since the last call.
    fn job_notes(&self) -> Vec<String> {
        let Ok(mut told) = self.jobs_told.lock() else {
            return Vec::new();
        };
        let mut notes = Vec::new();
        for j in self.github.jobs() {
            let i = &j.info;
            if let std::collections::hash_map::Entry::Vacant(e) = told.entry(i.id) {
                e.insert(false);
                notes.push(format!(
                    "GitHub: {} run {} approved by @{}: its deploy job is in progress",
                    i.workflow, i.id, i.approved_by
                ));
            }
            if let Some(o) = &j.outcome {
                if told.insert(i.id, true) != Some(true) {
                    notes.push(format!(
                        "GitHub: {} run {} completed/{}: {}",
                        i.workflow, i.id, o.conclusion, o.summary
                    ));
                }
            }
        }
        notes
    }
}

/// What a deploy run's job runs with in the sandbox, as on a GitHub runner:
/// a checkout of the run's commit with every tag (`actions/checkout` with
/// `fetch-depth: 0`), and the Actions environment (`GITHUB_ACTIONS=true`,
/// `GITHUB_RUN_ID`, a step summary and an output file per step) on top of
/// the sandbox's tokens and settings. Owns everything it needs, so a hook
/// installed with [`GithubSim::on_approved`] can keep it.
#[derive(Debug, Clone)]
pub struct ActionsRunner {
    origin: PathBuf,
    root: PathBuf,
    env: Vec<(String, String)>,
}

/// The files a step writes in GitHub Actions mode.
#[derive(Debug, Clone)]
pub struct StepFiles {
    /// `$GITHUB_STEP_SUMMARY`.
    pub summary: PathBuf,
    /// `$GITHUB_OUTPUT`.
    pub output: PathBuf,
}

impl ActionsRunner {
    /// The run's workspace: a fresh clone of origin with HEAD detached at
    /// the run's commit.
    pub fn checkout(&self, run: &RunInfo) -> Result<PathBuf> {
        let dir = self.root.join(format!("run-{}", run.id));
        let workspace = dir.join("workspace");
        std::fs::create_dir_all(&dir).map_err(|e| io("runner dir", e))?;
        let gerr = |what: &str, e: git2::Error| {
            Error::local(format!("sandbox runner: {what}: {}", e.message().trim()))
        };
        let url = self.origin.to_string_lossy().into_owned();
        let repo = git2::build::RepoBuilder::new()
            .clone(&url, &workspace)
            .map_err(|e| gerr("clone", e))?;
        // Every tag, as `fetch-depth: 0` brings them.
        repo.find_remote("origin")
            .and_then(|mut r| r.fetch(&["+refs/tags/*:refs/tags/*"], None, None))
            .map_err(|e| gerr("fetch tags", e))?;
        // The identity a workflow configures for itself (the audit log's
        // `actor.git` of what the job does: the workflow, not a person).
        repo.config()
            .and_then(|mut c| {
                c.set_str("user.name", RUNNER_NAME)?;
                c.set_str("user.email", RUNNER_EMAIL)
            })
            .map_err(|e| gerr("identity", e))?;
        let oid = git2::Oid::from_str(&run.head_sha).map_err(|e| gerr("sha", e))?;
        repo.set_head_detached(oid)
            .map_err(|e| gerr("detach HEAD", e))?;
        repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
            .map_err(|e| gerr("checkout", e))?;
        Ok(workspace)
    }

    /// The environment of step `step` (1-based) of `run`'s job, and the
    /// summary and output files it writes to.
    pub fn step_env(&self, run: &RunInfo, step: usize) -> (Vec<(String, String)>, StepFiles) {
        let dir = self.root.join(format!("run-{}", run.id));
        let files = StepFiles {
            summary: dir.join(format!("step-{step}-summary.md")),
            output: dir.join(format!("step-{step}-output.txt")),
        };
        let mut env = self.env.clone();
        env.extend(
            [
                ("CI", "true".to_owned()),
                ("GITHUB_ACTIONS", "true".to_owned()),
                ("GITHUB_RUN_ID", run.id.to_string()),
                ("GITHUB_RUN_ATTEMPT", "1".to_owned()),
                ("GITHUB_WORKFLOW", run.workflow.clone()),
                ("GITHUB_JOB", "deploy".to_owned()),
                ("GITHUB_SHA", run.head_sha.clone()),
                ("GITHUB_REPOSITORY", REPOSITORY.to_owned()),
                ("GITHUB_SERVER_URL", "https://github.com".to_owned()),
                ("GITHUB_ACTOR", run.approved_by.clone()),
                ("GITHUB_STEP_SUMMARY", files.summary.display().to_string()),
                ("GITHUB_OUTPUT", files.output.display().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
        );
        (env, files)
    }
}

/// Whether `tag` is a `v`-prefixed SemVer pre-release (`v1.3.0-rc.1`).
fn is_prerelease(tag: &str) -> bool {
    tag.strip_prefix('v')
        .and_then(|v| semver::Version::parse(v).ok())
        .is_some_and(|v| v.build.is_empty() && !v.pre.is_empty())
}

fn tag_commit(git: &GitWorld, tag: &str) -> Option<String> {
    let name = format!("refs/tags/{tag}");
    git.origin_refs()
        .ok()?
        .into_iter()
        .find(|r| r.name == name)
        .map(|r| r.commit)
}

fn register_history(git: &GitWorld, github: &GithubSim) -> Result<()> {
    for (sha, subject) in git.origin_history()? {
        github.register_commit(&sha, &subject);
    }
    Ok(())
}

fn config_toml(github: &str, coolify: &str, prod: &str) -> String {
    format!(
        r#"# Generated by `almarel rehearse`: every URL is a loopback simulator.
[github]
repository = "{REPOSITORY}"
api_url = "{github}"

[coolify]
url = "{coolify}"
[[coolify.apps]]
name = "api"
uuid = "{API_UUID}"
[[coolify.apps]]
name = "web"
uuid = "{WEB_UUID}"

[verify]
health_url = "{prod}/health"
version_url = "{prod}/api/version"
web_url = "{prod}/"
web_expect = "<div id=\"root\">"
request_timeout = "5s"
[[verify.smoke]]
name = "login"
method = "POST"
url = "{prod}/api/auth/login"
json = {{ email = "${{SMOKE_EMAIL}}", password = "${{SMOKE_PASSWORD}}" }}
expect_status = 200
capture = {{ token = "/token" }}
[[verify.smoke]]
name = "list orders"
url = "{prod}/api/orders"
headers = {{ Authorization = "Bearer ${{token}}" }}
expect_status = 200

[rollback]
migration_paths = ["{MIGRATION_PATH}"]
database_runbook = "{DATABASE_RUNBOOK}"
staging_data_runbook = "docs/runbooks/staging-data-copy.md"
"#
    )
}

/// `[environments.staging]`: the staging apps and server (SPEC §8.3).
fn staging_toml(stg: &str) -> String {
    format!(
        r#"
[environments.staging]
[[environments.staging.coolify.apps]]
name = "api"
uuid = "{STG_API_UUID}"
[[environments.staging.coolify.apps]]
name = "web"
uuid = "{STG_WEB_UUID}"
[environments.staging.verify]
health_url = "{stg}/health"
version_url = "{stg}/api/version"
web_url = "{stg}/"
web_expect = "<div id=\"root\">"
request_timeout = "5s"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prerelease_tags_are_v_prefixed_semver_with_a_pre_part() {
        assert!(is_prerelease("v1.3.0-rc.1"));
        assert!(!is_prerelease("v1.3.0"));
        assert!(!is_prerelease("1.3.0-rc.1"));
        assert!(!is_prerelease("v1.3.0-rc.1+build.5"));
        assert!(!is_prerelease("release-candidate"));
    }
}
