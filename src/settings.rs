//! `almarel.toml` + `ALMAREL_*` environment + flags, merged once into [`Settings`].
//!
//! Precedence: flag > `ALMAREL_*` environment > file > ambient environment
//! (`GITHUB_API_URL`, `GITHUB_REPOSITORY`) > default. Unknown keys are an error
//! naming the key and its line. Commands receive [`Settings`], never raw flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{ColorChoice, GlobalArgs};
use crate::env::{self, Env};
use crate::error::{Error, Result};

/// The config file's name, looked up at the git work tree's root.
pub const CONFIG_FILE_NAME: &str = "almarel.toml";

/// Options every command sees (from the global flags).
#[derive(Debug, Clone)]
pub struct Global {
    /// `--json`.
    pub json: bool,
    /// `--yes`.
    pub yes: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `--color`.
    pub color: ColorChoice,
}

/// The fully resolved configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Global flags.
    pub global: Global,
    /// The directory almarel acts in (`-C`, else the current directory).
    pub workdir: PathBuf,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// Allow tokens over plain http to non-loopback hosts.
    pub allow_insecure_http: bool,
    /// `[git]`.
    pub git: GitSettings,
    /// `[github]`.
    pub github: GithubSettings,
    /// `[coolify]`.
    pub coolify: CoolifySettings,
    /// `[verify]`.
    pub verify: VerifySettings,
    /// `[rollback]`.
    pub rollback: RollbackSettings,
    /// The environment this run acts on (`--env NAME`, default
    /// [`DEFAULT_ENVIRONMENT`]). `github.environment`, `coolify` and `verify`
    /// above are this environment's view.
    pub environment: EnvironmentSettings,
    /// Whether `--env` named the environment (false: the default was used).
    pub environment_given: bool,
    /// Every configured environment, [`DEFAULT_ENVIRONMENT`] first, then by
    /// name (for reading each one's evidence).
    pub environments: Vec<EnvironmentSettings>,
    /// `[approve]`.
    pub approve: ApproveSettings,
}

/// The environment used without `--env`; today's top-level keys describe it.
pub const DEFAULT_ENVIRONMENT: &str = "production";

/// The environment `approve.require_staging` asks evidence from.
pub const STAGING_ENVIRONMENT: &str = "staging";

/// One environment (`[environments.<name>]`, or the top-level keys for
/// `production`), fully resolved.
#[derive(Debug, Clone)]
pub struct EnvironmentSettings {
    /// almarel's name for it (`production`, `staging`): what `--env` takes.
    pub name: String,
    /// The GitHub Environment (`github_environment`, default: the name;
    /// `production`: `github.environment`).
    pub github_environment: String,
    /// Which versions may be deployed there.
    pub accepts: Accepts,
    /// Its Coolify apps and image tags.
    pub coolify: CoolifySettings,
    /// Its probes and smoke steps.
    pub verify: VerifySettings,
}

/// Which release versions an environment takes (`accepts = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepts {
    /// `"prerelease"`: `X.Y.Z-rc.N`.
    pub prerelease: bool,
    /// `"final"`: `X.Y.Z`.
    pub final_release: bool,
}

impl Accepts {
    /// The default for an environment called `name`: `production` takes final
    /// releases only; every other environment takes both.
    pub fn default_for(name: &str) -> Accepts {
        Accepts {
            prerelease: name != DEFAULT_ENVIRONMENT,
            final_release: true,
        }
    }

    /// How it is written in the file (`["prerelease", "final"]`).
    pub fn words(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.prerelease {
            out.push("prerelease");
        }
        if self.final_release {
            out.push("final");
        }
        out
    }
}

/// `[approve]`.
#[derive(Debug, Clone, Default)]
pub struct ApproveSettings {
    /// `approve` refuses unless the commit was verified in `staging`.
    pub require_staging: bool,
}

/// `[git]`.
#[derive(Debug, Clone)]
pub struct GitSettings {
    /// Remote name (default `origin`).
    pub remote: String,
    /// Release branch (default `main`).
    pub branch: String,
    /// Tag prefix (default `v`).
    pub tag_prefix: String,
    /// Pre-release identifiers `tag` accepts (default `["rc"]`).
    pub prerelease: Vec<String>,
}

/// `[github]`.
#[derive(Debug, Clone)]
pub struct GithubSettings {
    /// `owner/name`: flag/env, else the file, else ambient `GITHUB_REPOSITORY`,
    /// else parsed from `git.remote`'s URL; `None` when none of these gives one.
    pub repository: Option<String>,
    /// REST API base URL.
    pub api_url: String,
    /// The GitHub Environment that guards production.
    pub environment: String,
    /// CI workflow name or file name.
    pub ci_workflow: String,
    /// Deploy workflow name or file name.
    pub deploy_workflow: String,
    /// Release workflow name or file name.
    pub release_workflow: String,
    /// Total timeout of one GitHub request (default 45s).
    pub request_timeout: Duration,
}

/// `[coolify]`.
#[derive(Debug, Clone)]
pub struct CoolifySettings {
    /// Coolify base URL (without `/api/v1`).
    pub url: Option<String>,
    /// Image tag template for a tagged release.
    pub image_tag: String,
    /// Image tag template for an untagged commit (`--allow-untagged`).
    pub untagged_image_tag: String,
    /// The apps to deploy.
    pub apps: Vec<CoolifyApp>,
    /// Total timeout of one Coolify request (default 30s).
    pub request_timeout: Duration,
    /// The environment variable holding the Coolify token (default
    /// `COOLIFY_TOKEN`; an environment may name its own).
    pub token_env: String,
}

/// One `[[coolify.apps]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoolifyApp {
    /// Short name (`api`, `web`).
    pub name: String,
    /// Coolify application uuid.
    pub uuid: String,
}

/// `[verify]`.
#[derive(Debug, Clone)]
pub struct VerifySettings {
    /// Health endpoint that must answer 200.
    pub health_url: Option<String>,
    /// Version endpoint whose JSON carries the running commit SHA.
    pub version_url: Option<String>,
    /// JSON pointer to the SHA in the version body.
    pub version_sha_pointer: Option<String>,
    /// Web app URL that must answer 200 with HTML.
    pub web_url: Option<String>,
    /// Substring the web page must contain.
    pub web_expect: Option<String>,
    /// Timeout of each probe request.
    pub request_timeout: Duration,
    /// Smoke steps, run in order after the probes pass.
    pub smoke: Vec<SmokeStep>,
}

/// One `[[verify.smoke]]` step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeStep {
    /// Step name shown in the report.
    pub name: String,
    /// HTTP method (default GET).
    #[serde(default = "default_method")]
    pub method: String,
    /// URL; `${VAR}` is replaced from the environment or an earlier capture.
    pub url: String,
    /// JSON body; strings may contain `${VAR}`.
    #[serde(default)]
    pub json: Option<toml::Value>,
    /// Request headers; values may contain `${VAR}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Expected status (default 200).
    #[serde(default = "default_status")]
    pub expect_status: u16,
    /// Captures: name → JSON pointer into the response body.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
}

fn default_method() -> String {
    "GET".to_owned()
}
fn default_status() -> u16 {
    200
}

/// `[rollback]`.
#[derive(Debug, Clone, Default)]
pub struct RollbackSettings {
    /// Path prefixes that hold DB migrations.
    pub migration_paths: Vec<String>,
    /// Runbook for database rollbacks.
    pub database_runbook: Option<String>,
    /// Runbook for the staging data copy.
    pub staging_data_runbook: Option<String>,
}

// ---- the file, as written ----

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    allow_insecure_http: Option<bool>,
    #[serde(default)]
    git: FileGit,
    #[serde(default)]
    github: FileGithub,
    #[serde(default)]
    coolify: FileCoolify,
    #[serde(default)]
    verify: FileVerify,
    #[serde(default)]
    rollback: FileRollback,
    #[serde(default)]
    approve: FileApprove,
    #[serde(default)]
    environments: BTreeMap<String, FileEnvironment>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApprove {
    require_staging: Option<bool>,
}

/// `[environments.<name>]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEnvironment {
    github_environment: Option<String>,
    accepts: Option<Vec<String>>,
    #[serde(default)]
    coolify: Option<FileEnvCoolify>,
    #[serde(default)]
    verify: Option<FileVerify>,
}

/// `[environments.<name>.coolify]`: `[coolify]` plus the token variable.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEnvCoolify {
    url: Option<String>,
    token_env: Option<String>,
    image_tag: Option<String>,
    untagged_image_tag: Option<String>,
    apps: Option<Vec<CoolifyApp>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGit {
    remote: Option<String>,
    branch: Option<String>,
    tag_prefix: Option<String>,
    prerelease: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGithub {
    repository: Option<String>,
    api_url: Option<String>,
    environment: Option<String>,
    ci_workflow: Option<String>,
    deploy_workflow: Option<String>,
    release_workflow: Option<String>,
    request_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCoolify {
    url: Option<String>,
    image_tag: Option<String>,
    untagged_image_tag: Option<String>,
    #[serde(default)]
    apps: Vec<CoolifyApp>,
    request_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVerify {
    health_url: Option<String>,
    version_url: Option<String>,
    version_sha_pointer: Option<String>,
    web_url: Option<String>,
    web_expect: Option<String>,
    request_timeout: Option<String>,
    #[serde(default)]
    smoke: Vec<SmokeStep>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRollback {
    #[serde(default)]
    migration_paths: Vec<String>,
    database_runbook: Option<String>,
    staging_data_runbook: Option<String>,
}

impl Settings {
    /// Resolves flags, environment and the config file into one value.
    ///
    /// `cwd` is the process's current directory; `-C` is applied to it.
    pub fn resolve(args: &GlobalArgs, env: &Env, cwd: &Path) -> Result<Settings> {
        let workdir = match &args.dir {
            Some(d) if d.is_absolute() => d.clone(),
            Some(d) => cwd.join(d),
            None => cwd.to_path_buf(),
        };
        if !workdir.is_dir() {
            return Err(Error::usage(format!(
                "-C {}: no such directory",
                workdir.display()
            )));
        }
        // `--config` (clap also reads ALMAREL_CONFIG into it); relative to the workdir.
        let explicit = args.config.as_ref().map(|p| {
            if p.is_absolute() {
                p.clone()
            } else {
                workdir.join(p)
            }
        });
        let config_file = match explicit {
            Some(p) => {
                if !p.is_file() {
                    return Err(
                        Error::usage(format!("config file {} not found", p.display()))
                            .with_hint("check --config or ALMAREL_CONFIG"),
                    );
                }
                Some(p)
            }
            None => crate::git::work_tree_root(&workdir)
                .map(|root| root.join(CONFIG_FILE_NAME))
                .filter(|p| p.is_file()),
        };
        let file = match &config_file {
            Some(p) => load_file(p)?,
            None => FileConfig::default(),
        };
        let mut settings = Self::merge(args, env, workdir, config_file, file)?;
        // Lowest precedence for the repository: the remote's URL.
        if settings.github.repository.is_none() {
            settings.github.repository =
                crate::git::default_repository(&settings.workdir, &settings.git.remote);
        }
        Ok(settings)
    }

    /// The settings `init` starts from: flags, `ALMAREL_*` and ambient
    /// environment, the remote's URL and defaults, but not the config file
    /// (init writes it, and replaces a broken one with `--force`).
    /// `config_file` is where the file goes: `--config` (it need not exist),
    /// else `almarel.toml` at the git work tree's root, else `None`.
    pub fn resolve_for_init(args: &GlobalArgs, env: &Env, cwd: &Path) -> Result<Settings> {
        let workdir = match &args.dir {
            Some(d) if d.is_absolute() => d.clone(),
            Some(d) => cwd.join(d),
            None => cwd.to_path_buf(),
        };
        if !workdir.is_dir() {
            return Err(Error::usage(format!(
                "-C {}: no such directory",
                workdir.display()
            )));
        }
        let target = match &args.config {
            Some(p) if p.is_absolute() => Some(p.clone()),
            Some(p) => Some(workdir.join(p)),
            None => crate::git::work_tree_root(&workdir).map(|root| root.join(CONFIG_FILE_NAME)),
        };
        let mut settings = Self::merge(args, env, workdir, target, FileConfig::default())?;
        if settings.github.repository.is_none() {
            settings.github.repository =
                crate::git::default_repository(&settings.workdir, &settings.git.remote);
        }
        Ok(settings)
    }

    fn merge(
        args: &GlobalArgs,
        env: &Env,
        workdir: PathBuf,
        config_file: Option<PathBuf>,
        file: FileConfig,
    ) -> Result<Settings> {
        let pick = |var: &str, from_file: Option<String>| -> Option<String> {
            env.get(var).map(str::to_owned).or(from_file)
        };
        let git = GitSettings {
            remote: pick(env::ALMAREL_GIT_REMOTE, file.git.remote)
                .unwrap_or_else(|| "origin".into()),
            branch: pick(env::ALMAREL_GIT_BRANCH, file.git.branch).unwrap_or_else(|| "main".into()),
            tag_prefix: file.git.tag_prefix.unwrap_or_else(|| "v".into()),
            prerelease: file.git.prerelease.unwrap_or_else(|| vec!["rc".into()]),
        };
        crate::version::check_tag_prefix(&git.tag_prefix)?;
        for id in &git.prerelease {
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(Error::usage(format!(
                    "git.prerelease: `{id}` is not a valid pre-release identifier (letters and digits only)"
                )));
            }
        }
        let repository = pick(env::ALMAREL_GITHUB_REPOSITORY, file.github.repository)
            .or_else(|| env.get(env::GITHUB_REPOSITORY).map(str::to_owned));
        if let Some(r) = &repository {
            validate_repository(r)?;
        }
        let api_url = pick(env::ALMAREL_GITHUB_API_URL, file.github.api_url)
            .or_else(|| env.get(env::GITHUB_API_URL).map(str::to_owned))
            .unwrap_or_else(|| "https://api.github.com".into());
        validate_url("github.api_url", &api_url)?;
        let mut github = GithubSettings {
            repository,
            api_url: api_url.trim_end_matches('/').to_owned(),
            environment: pick(env::ALMAREL_GITHUB_ENVIRONMENT, file.github.environment)
                .unwrap_or_else(|| "production".into()),
            ci_workflow: file.github.ci_workflow.unwrap_or_else(|| "CI".into()),
            deploy_workflow: file
                .github
                .deploy_workflow
                .unwrap_or_else(|| "Deploy to Production".into()),
            release_workflow: file
                .github
                .release_workflow
                .unwrap_or_else(|| "Release".into()),
            request_timeout: parse_timeout(
                "github.request_timeout",
                file.github.request_timeout,
                Duration::from_secs(45),
            )?,
        };
        let coolify_url = pick(env::ALMAREL_COOLIFY_URL, file.coolify.url);
        if let Some(u) = &coolify_url {
            validate_url("coolify.url", u)?;
        }
        check_apps("coolify.apps", &file.coolify.apps)?;
        let coolify = CoolifySettings {
            token_env: env::COOLIFY_TOKEN.to_owned(),
            url: coolify_url.map(|u| u.trim_end_matches('/').to_owned()),
            image_tag: file.coolify.image_tag.unwrap_or_else(|| "{tag}".into()),
            untagged_image_tag: file
                .coolify
                .untagged_image_tag
                .unwrap_or_else(|| "prod-{sha}".into()),
            apps: file.coolify.apps,
            request_timeout: parse_timeout(
                "coolify.request_timeout",
                file.coolify.request_timeout,
                Duration::from_secs(30),
            )?,
        };
        for (key, url) in [
            ("verify.health_url", &file.verify.health_url),
            ("verify.version_url", &file.verify.version_url),
            ("verify.web_url", &file.verify.web_url),
        ] {
            if let Some(u) = url {
                validate_url(key, u)?;
            }
        }
        let request_timeout = parse_timeout(
            "verify.request_timeout",
            file.verify.request_timeout,
            Duration::from_secs(10),
        )?;
        let verify = VerifySettings {
            health_url: file.verify.health_url,
            version_url: file.verify.version_url,
            version_sha_pointer: file.verify.version_sha_pointer,
            web_url: file.verify.web_url,
            web_expect: file.verify.web_expect,
            request_timeout,
            smoke: file.verify.smoke,
        };
        let rollback = RollbackSettings {
            migration_paths: file.rollback.migration_paths,
            database_runbook: file.rollback.database_runbook,
            staging_data_runbook: file.rollback.staging_data_runbook,
        };
        let environments = resolve_environments(
            file.environments,
            &github.environment,
            env.get(env::ALMAREL_GITHUB_ENVIRONMENT).is_some(),
            &coolify,
            &verify,
        )?;
        let approve = ApproveSettings {
            require_staging: file.approve.require_staging.unwrap_or(false),
        };
        if approve.require_staging && !environments.iter().any(|e| e.name == STAGING_ENVIRONMENT) {
            return Err(Error::usage(format!(
                "approve.require_staging = true needs an [environments.{STAGING_ENVIRONMENT}] table"
            ))
            .with_hint(format!(
                "add [environments.{STAGING_ENVIRONMENT}] to almarel.toml (docs/configuration.md), or set require_staging = false"
            )));
        }
        // Without `--env`: the default environment, which always exists.
        let Some(selected) = environments
            .iter()
            .find(|e| e.name == DEFAULT_ENVIRONMENT)
            .cloned()
        else {
            return Err(Error::local(format!(
                "the `{DEFAULT_ENVIRONMENT}` environment is missing"
            )));
        };
        github.environment = selected.github_environment.clone();
        Ok(Settings {
            global: Global {
                json: args.json,
                yes: args.yes,
                dry_run: args.dry_run,
                quiet: args.quiet,
                verbose: args.verbose,
                color: args.color,
            },
            workdir,
            config_file,
            allow_insecure_http: file.allow_insecure_http.unwrap_or(false),
            git,
            github,
            coolify: selected.coolify.clone(),
            verify: selected.verify.clone(),
            rollback,
            environment: selected,
            environment_given: false,
            environments,
            approve,
        })
    }

    /// Makes `name` (`--env NAME`) the environment this run acts on:
    /// `github.environment`, `coolify` and `verify` become its view. `None`
    /// keeps [`DEFAULT_ENVIRONMENT`]. An unknown name is a usage error (exit
    /// 2) naming the configured ones.
    pub fn select_environment(mut self, name: Option<&str>) -> Result<Settings> {
        let Some(name) = name else {
            return Ok(self);
        };
        let Some(env) = self.environments.iter().find(|e| e.name == name).cloned() else {
            let known: Vec<&str> = self.environments.iter().map(|e| e.name.as_str()).collect();
            return Err(Error::usage(format!(
                "--env {name}: no such environment (configured: {})",
                known.join(", ")
            ))
            .with_code("unknown_environment")
            .with_hint(format!(
                "use one of: {}; or add [environments.{name}] to almarel.toml",
                known
                    .iter()
                    .map(|k| format!("--env {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        self.github.environment = env.github_environment.clone();
        self.coolify = env.coolify.clone();
        self.verify = env.verify.clone();
        self.environment = env;
        self.environment_given = true;
        Ok(self)
    }

    /// The environment called `name`, if configured.
    pub fn environment_named(&self, name: &str) -> Option<&EnvironmentSettings> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// `github.repository`, or an error naming the key (exit 2).
    pub fn require_repository(&self) -> Result<&str> {
        self.github.repository.as_deref().ok_or_else(|| {
            Error::usage("github.repository is not set and could not be read from the git remote")
                .with_hint("set [github] repository = \"owner/name\" in almarel.toml (`almarel init --repository owner/name` writes the whole file), or run inside a clone whose remote is on GitHub")
        })
    }

    /// `coolify.url`, or an error naming the key (exit 2).
    pub fn require_coolify_url(&self) -> Result<&str> {
        self.coolify.url.as_deref().ok_or_else(|| {
            Error::usage("coolify.url is not set")
                .with_hint("set [coolify] url in almarel.toml or ALMAREL_COOLIFY_URL")
        })
    }
}

/// Builds every environment: `production` from the top-level keys overlaid
/// by `[environments.production]`; every other one from its own table, taking
/// from the top level only what cannot point at the wrong servers (Coolify
/// URL, image tag templates, timeouts, the version pointer and page marker).
/// Apps, probe URLs and smoke steps are never inherited: a staging verify must
/// not probe production.
fn resolve_environments(
    mut tables: BTreeMap<String, FileEnvironment>,
    github_environment: &str,
    github_environment_from_env: bool,
    coolify: &CoolifySettings,
    verify: &VerifySettings,
) -> Result<Vec<EnvironmentSettings>> {
    let production = tables.remove(DEFAULT_ENVIRONMENT).unwrap_or_default();
    let mut out = vec![environment(
        DEFAULT_ENVIRONMENT,
        production,
        true,
        coolify,
        verify,
    )?];
    // ALMAREL_GITHUB_ENVIRONMENT overrides `github.environment`, and beats
    // the file for production (flag > environment > file).
    if github_environment_from_env || out[0].github_environment.is_empty() {
        out[0].github_environment = github_environment.to_owned();
    }
    for (name, table) in tables {
        out.push(environment(&name, table, false, coolify, verify)?);
    }
    Ok(out)
}

fn environment(
    name: &str,
    table: FileEnvironment,
    is_default: bool,
    top_coolify: &CoolifySettings,
    top_verify: &VerifySettings,
) -> Result<EnvironmentSettings> {
    let key = format!("environments.{name}");
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::usage(format!(
            "environments: `{name}` is not a valid environment name (letters, digits, - _ .)"
        )));
    }
    let github_environment = match table.github_environment {
        Some(g) if g.trim().is_empty() => {
            return Err(Error::usage(format!(
                "{key}.github_environment: must not be empty"
            )));
        }
        Some(g) => g,
        // Production: filled from `github.environment` by the caller.
        None if is_default => String::new(),
        None => name.to_owned(),
    };
    let accepts = match table.accepts {
        None => Accepts::default_for(name),
        Some(words) => {
            let mut a = Accepts {
                prerelease: false,
                final_release: false,
            };
            for w in &words {
                match w.as_str() {
                    "prerelease" => a.prerelease = true,
                    "final" => a.final_release = true,
                    other => {
                        return Err(Error::usage(format!(
                            "{key}.accepts: `{other}` is not a kind of release (use \"prerelease\" and/or \"final\")"
                        )));
                    }
                }
            }
            if words.is_empty() {
                return Err(Error::usage(format!(
                    "{key}.accepts: empty; the environment would take no release"
                ))
                .with_hint("use [\"prerelease\"], [\"final\"] or both"));
            }
            a
        }
    };
    let c = table.coolify.unwrap_or_default();
    if let Some(u) = &c.url {
        validate_url(&format!("{key}.coolify.url"), u)?;
    }
    if let Some(t) = &c.token_env {
        if t.is_empty() || !t.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
            return Err(Error::usage(format!(
                "{key}.coolify.token_env: `{t}` is not an environment variable name"
            )));
        }
    }
    let apps = match c.apps {
        Some(apps) => {
            check_apps(&format!("{key}.coolify.apps"), &apps)?;
            apps
        }
        None if is_default => top_coolify.apps.clone(),
        None => Vec::new(),
    };
    let coolify = CoolifySettings {
        url: c
            .url
            .map(|u| u.trim_end_matches('/').to_owned())
            .or_else(|| top_coolify.url.clone()),
        image_tag: c.image_tag.unwrap_or_else(|| top_coolify.image_tag.clone()),
        untagged_image_tag: c
            .untagged_image_tag
            .unwrap_or_else(|| top_coolify.untagged_image_tag.clone()),
        apps,
        request_timeout: top_coolify.request_timeout,
        token_env: c.token_env.unwrap_or_else(|| top_coolify.token_env.clone()),
    };
    let v = table.verify.unwrap_or_default();
    for (k, url) in [
        ("health_url", &v.health_url),
        ("version_url", &v.version_url),
        ("web_url", &v.web_url),
    ] {
        if let Some(u) = url {
            validate_url(&format!("{key}.verify.{k}"), u)?;
        }
    }
    let own_or_top = |own: Option<String>, top: &Option<String>| {
        if is_default {
            own.or_else(|| top.clone())
        } else {
            own
        }
    };
    let verify = VerifySettings {
        health_url: own_or_top(v.health_url, &top_verify.health_url),
        version_url: own_or_top(v.version_url, &top_verify.version_url),
        version_sha_pointer: v
            .version_sha_pointer
            .or_else(|| top_verify.version_sha_pointer.clone()),
        web_url: own_or_top(v.web_url, &top_verify.web_url),
        web_expect: v.web_expect.or_else(|| top_verify.web_expect.clone()),
        request_timeout: parse_timeout(
            &format!("{key}.verify.request_timeout"),
            v.request_timeout,
            top_verify.request_timeout,
        )?,
        smoke: if v.smoke.is_empty() && is_default {
            top_verify.smoke.clone()
        } else {
            v.smoke
        },
    };
    Ok(EnvironmentSettings {
        name: name.to_owned(),
        github_environment,
        accepts,
        coolify,
        verify,
    })
}

/// Every app has a name and a uuid; names are unique.
fn check_apps(key: &str, apps: &[CoolifyApp]) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for app in apps {
        if app.name.trim().is_empty() || app.uuid.trim().is_empty() {
            return Err(Error::usage(format!(
                "{key}: every app needs a name and a uuid"
            )));
        }
        if !seen.insert(app.name.as_str()) {
            return Err(Error::usage(format!(
                "{key}: the name `{}` is used twice",
                app.name
            )));
        }
    }
    Ok(())
}

/// Checks that `owner/name` has that shape.
pub fn validate_repository(r: &str) -> Result<()> {
    let ok = r.split('/').count() == 2
        && r.split('/').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "github.repository `{r}` is not of the form owner/name"
        )))
    }
}

fn validate_url(key: &str, value: &str) -> Result<()> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(Error::usage(format!(
            "{key}: `{value}` is not an http(s) URL"
        ))),
    }
}

/// A request timeout key: a humantime duration, at least 1ms.
fn parse_timeout(key: &str, value: Option<String>, default: Duration) -> Result<Duration> {
    let Some(s) = value else {
        return Ok(default);
    };
    match humantime::parse_duration(&s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => {
            Err(Error::usage(format!("{key}: must be more than 0")).with_hint("use e.g. \"10s\""))
        }
        Err(e) => Err(Error::usage(format!("{key}: `{s}` is not a duration: {e}"))
            .with_hint("use e.g. \"10s\"")),
    }
}

/// Parses and resolves the text of an `almarel.toml` as if it were the only
/// source (no flags, no environment, workdir `.`): what the fuzz target and
/// the config tests drive. Never panics; a bad file is a usage error.
pub fn parse_config_text(text: &str) -> Result<Settings> {
    let file = parse_file(text).map_err(Error::usage)?;
    let args = GlobalArgs {
        dir: None,
        config: None,
        json: false,
        yes: false,
        dry_run: false,
        quiet: false,
        verbose: 0,
        color: ColorChoice::Never,
    };
    Settings::merge(&args, &Env::default(), PathBuf::from("."), None, file)
}

fn load_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read {}: {e}", path.display())))?;
    parse_file(&text).map_err(|msg| {
        Error::usage(format!("{}: {msg}", path.display()))
            .with_hint("fix the file; docs/configuration.md lists every key")
    })
}

/// Parses config text; the error names the line and, for unknown keys, the key.
fn parse_file(text: &str) -> std::result::Result<FileConfig, String> {
    toml::from_str::<FileConfig>(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let msg = e.message().trim().to_owned();
        match line {
            Some(l) => format!("line {l}: {msg}"),
            None => msg,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> GlobalArgs {
        GlobalArgs {
            dir: None,
            config: None,
            json: false,
            yes: false,
            dry_run: false,
            quiet: false,
            verbose: 0,
            color: ColorChoice::Never,
        }
    }

    fn merge(text: &str, env: Env) -> Result<Settings> {
        let file = parse_file(text).map_err(Error::usage)?;
        Settings::merge(&args(), &env, PathBuf::from("/"), None, file)
    }

    #[test]
    fn defaults_match_the_spec() {
        let s = merge("", Env::default()).unwrap();
        assert_eq!(s.git.remote, "origin");
        assert_eq!(s.git.branch, "main");
        assert_eq!(s.git.tag_prefix, "v");
        assert_eq!(s.git.prerelease, vec!["rc"]);
        assert_eq!(s.github.api_url, "https://api.github.com");
        assert_eq!(s.github.environment, "production");
        assert_eq!(s.github.deploy_workflow, "Deploy to Production");
        assert_eq!(s.coolify.image_tag, "{tag}");
        assert_eq!(s.coolify.untagged_image_tag, "prod-{sha}");
        assert_eq!(s.verify.request_timeout, Duration::from_secs(10));
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = parse_file("[git]\nremote = \"origin\"\nbrnach = \"main\"\n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("brnach"), "{err}");
    }

    #[test]
    fn malformed_toml_names_the_line() {
        let err = parse_file("[git]\nremote = \"origin\nbranch = 1\n").unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
    }

    #[test]
    fn precedence_env_over_file_over_ambient() {
        let text = "[github]\nrepository = \"file/repo\"\n";
        let env = Env::from_pairs([("GITHUB_REPOSITORY", "ambient/repo")]);
        assert_eq!(
            merge(text, env.clone())
                .unwrap()
                .github
                .repository
                .as_deref(),
            Some("file/repo")
        );
        assert_eq!(
            merge("", env.clone()).unwrap().github.repository.as_deref(),
            Some("ambient/repo")
        );
        let env = env.with("ALMAREL_GITHUB_REPOSITORY", "explicit/repo");
        assert_eq!(
            merge(text, env).unwrap().github.repository.as_deref(),
            Some("explicit/repo")
        );
    }

    fn git(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {:?}", out);
    }

    #[test]
    fn repository_defaults_to_the_remote_url_with_lowest_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q"]);
        git(
            d,
            &["remote", "add", "origin", "git@github.com:acme/shop.git"],
        );
        git(
            d,
            &["remote", "add", "upstream", "https://github.com/up/stream"],
        );
        let resolve = |env: Env| Settings::resolve(&args(), &env, d).unwrap();
        assert_eq!(
            resolve(Env::default()).github.repository.as_deref(),
            Some("acme/shop")
        );
        let env = Env::from_pairs([("ALMAREL_GIT_REMOTE", "upstream")]);
        assert_eq!(resolve(env).github.repository.as_deref(), Some("up/stream"));
        let env = Env::from_pairs([("GITHUB_REPOSITORY", "ambient/repo")]);
        assert_eq!(
            resolve(env).github.repository.as_deref(),
            Some("ambient/repo")
        );
        std::fs::write(
            d.join(CONFIG_FILE_NAME),
            "[github]\nrepository = \"file/repo\"\n",
        )
        .unwrap();
        let env = Env::from_pairs([("GITHUB_REPOSITORY", "ambient/repo")]);
        assert_eq!(resolve(env).github.repository.as_deref(), Some("file/repo"));
        // A remote that is a local path gives no repository.
        let other = tempfile::tempdir().unwrap();
        git(other.path(), &["init", "-q"]);
        git(
            other.path(),
            &["remote", "add", "origin", "/srv/origin.git"],
        );
        let s = Settings::resolve(&args(), &Env::default(), other.path()).unwrap();
        assert_eq!(s.github.repository, None);
    }

    #[test]
    fn ambient_api_url_never_overrides_the_file() {
        let env = Env::from_pairs([("GITHUB_API_URL", "https://ghe.example.com/api/v3")]);
        let s = merge(
            "[github]\napi_url = \"https://api.github.com\"\n",
            env.clone(),
        )
        .unwrap();
        assert_eq!(s.github.api_url, "https://api.github.com");
        let s = merge("", env).unwrap();
        assert_eq!(s.github.api_url, "https://ghe.example.com/api/v3");
    }

    #[test]
    fn request_timeouts_default_and_parse() {
        let s = parse_config_text("").unwrap();
        assert_eq!(s.github.request_timeout, Duration::from_secs(45));
        assert_eq!(s.coolify.request_timeout, Duration::from_secs(30));
        let s = parse_config_text(
            "[github]\nrequest_timeout = \"500ms\"\n[coolify]\nrequest_timeout = \"2s\"\n",
        )
        .unwrap();
        assert_eq!(s.github.request_timeout, Duration::from_millis(500));
        assert_eq!(s.coolify.request_timeout, Duration::from_secs(2));
        for bad in [
            "[github]\nrequest_timeout = \"soon\"\n",
            "[coolify]\nrequest_timeout = \"0s\"\n",
        ] {
            let e = parse_config_text(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.message.contains("request_timeout"), "{}", e.message);
        }
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for text in [
            "[github]\nrepository = \"nope\"\n",
            "[github]\napi_url = \"ftp://x\"\n",
            "[verify]\nrequest_timeout = \"soon\"\n",
            "[git]\nprerelease = [\"r c\"]\n",
            "[[coolify.apps]]\nname = \"api\"\nuuid = \"a\"\n[[coolify.apps]]\nname = \"api\"\nuuid = \"b\"\n",
        ] {
            let e = merge(text, Env::default()).unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Usage, "{text}");
        }
    }

    #[test]
    fn full_example_parses() {
        let text = r#"
allow_insecure_http = false
[git]
remote = "origin"
branch = "main"
tag_prefix = "v"
prerelease = ["rc"]
[github]
repository = "owner/name"
api_url = "https://api.github.com"
environment = "production"
ci_workflow = "CI"
deploy_workflow = "Deploy to Production"
release_workflow = "Release"
[coolify]
url = "https://coolify.example.com"
image_tag = "{tag}"
untagged_image_tag = "prod-{sha}"
[[coolify.apps]]
name = "api"
uuid = "u1"
[[coolify.apps]]
name = "web"
uuid = "u2"
[verify]
health_url = "https://api.example.com/health"
version_url = "https://api.example.com/api/version"
version_sha_pointer = "/commit"
web_url = "https://app.example.com"
web_expect = "<div id=\"root\">"
request_timeout = "10s"
[[verify.smoke]]
name = "login"
method = "POST"
url = "https://api.example.com/api/auth/login"
json = { email = "${SMOKE_EMAIL}", password = "${SMOKE_PASSWORD}" }
expect_status = 200
capture = { token = "/token" }
[[verify.smoke]]
name = "list orders"
url = "https://api.example.com/api/orders"
headers = { Authorization = "Bearer ${token}" }
expect_status = 200
[rollback]
migration_paths = ["api/Migrations/"]
database_runbook = "docs/runbooks/database-rollback.md"
staging_data_runbook = "docs/runbooks/staging-data-copy.md"
"#;
        let s = merge(text, Env::default()).unwrap();
        assert_eq!(s.coolify.apps.len(), 2);
        assert_eq!(s.verify.smoke.len(), 2);
        assert_eq!(s.verify.smoke[1].method, "GET");
        assert_eq!(s.rollback.migration_paths, vec!["api/Migrations/"]);
    }

    const ENVIRONMENTS: &str = r#"
[github]
repository = "acme/shop"
environment = "production"
[coolify]
url = "https://coolify.example.com"
image_tag = "{tag}"
[[coolify.apps]]
name = "api"
uuid = "prod-api"
[verify]
health_url = "https://api.example.com/health"
version_sha_pointer = "/commit"
[[verify.smoke]]
name = "home"
url = "https://app.example.com/"

[environments.staging]
github_environment = "staging-eu"
accepts = ["prerelease", "final"]
[environments.staging.coolify]
url = "https://coolify-staging.example.com"
token_env = "COOLIFY_STAGING_TOKEN"
untagged_image_tag = "staging-{sha}"
[[environments.staging.coolify.apps]]
name = "api"
uuid = "stg-api"
[environments.staging.verify]
health_url = "https://staging.example.com/health"
version_url = "https://staging.example.com/api/version"

[approve]
require_staging = true
"#;

    #[test]
    fn a_single_environment_config_is_production_exactly_as_before() {
        let s = merge(
            "[github]\nenvironment = \"prod\"\n[coolify]\nurl = \"https://c.example.com\"\n[[coolify.apps]]\nname = \"api\"\nuuid = \"u1\"\n[verify]\nhealth_url = \"https://a.example.com/health\"\n",
            Env::default(),
        )
        .unwrap();
        assert_eq!(s.environments.len(), 1);
        assert_eq!(s.environment.name, "production");
        assert!(!s.environment_given);
        assert_eq!(s.environment.github_environment, "prod");
        assert_eq!(s.github.environment, "prod");
        assert_eq!(s.coolify.apps, s.environment.coolify.apps);
        assert_eq!(s.coolify.token_env, "COOLIFY_TOKEN");
        assert_eq!(
            s.verify.health_url.as_deref(),
            Some("https://a.example.com/health")
        );
        assert_eq!(
            s.environment.accepts,
            Accepts {
                prerelease: false,
                final_release: true
            }
        );
        assert!(!s.approve.require_staging);
        // Selecting it by name changes nothing.
        let same = s.clone().select_environment(Some("production")).unwrap();
        assert_eq!(same.github.environment, "prod");
        assert_eq!(same.coolify.apps, s.coolify.apps);
        assert_eq!(same.verify.smoke, s.verify.smoke);
    }

    #[test]
    fn environments_parse_and_select_their_own_view() {
        let s = merge(ENVIRONMENTS, Env::default()).unwrap();
        let names: Vec<&str> = s.environments.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, vec!["production", "staging"]);
        assert!(s.approve.require_staging);
        // Without --env: production, from the top-level keys.
        assert_eq!(s.github.environment, "production");
        assert_eq!(s.coolify.apps[0].uuid, "prod-api");
        assert_eq!(s.verify.smoke.len(), 1);
        let st = s.select_environment(Some("staging")).unwrap();
        assert!(st.environment_given);
        assert_eq!(st.environment.name, "staging");
        assert_eq!(st.github.environment, "staging-eu");
        assert_eq!(
            st.coolify.url.as_deref(),
            Some("https://coolify-staging.example.com")
        );
        assert_eq!(st.coolify.token_env, "COOLIFY_STAGING_TOKEN");
        assert_eq!(st.coolify.apps[0].uuid, "stg-api");
        // Templates come from the top level unless the environment sets them.
        assert_eq!(st.coolify.image_tag, "{tag}");
        assert_eq!(st.coolify.untagged_image_tag, "staging-{sha}");
        assert_eq!(
            st.verify.health_url.as_deref(),
            Some("https://staging.example.com/health")
        );
        assert_eq!(st.verify.version_sha_pointer.as_deref(), Some("/commit"));
        // Never inherited: production's web URL and smoke steps.
        assert_eq!(st.verify.web_url, None);
        assert!(st.verify.smoke.is_empty());
        assert!(st.environment.accepts.prerelease && st.environment.accepts.final_release);
    }

    #[test]
    fn an_environment_without_its_own_coolify_url_or_apps_inherits_the_url_only() {
        let s = merge(
            "[coolify]\nurl = \"https://c.example.com\"\n[[coolify.apps]]\nname = \"api\"\nuuid = \"p\"\n[environments.qa]\n",
            Env::default(),
        )
        .unwrap()
        .select_environment(Some("qa"))
        .unwrap();
        assert_eq!(s.github.environment, "qa");
        assert_eq!(s.coolify.url.as_deref(), Some("https://c.example.com"));
        assert!(s.coolify.apps.is_empty());
        assert_eq!(s.coolify.token_env, "COOLIFY_TOKEN");
    }

    #[test]
    fn environments_production_overlays_the_top_level() {
        let s = merge(
            "[github]\nenvironment = \"prod\"\n[[coolify.apps]]\nname = \"api\"\nuuid = \"old\"\n[environments.production]\ngithub_environment = \"live\"\n[[environments.production.coolify.apps]]\nname = \"api\"\nuuid = \"new\"\n",
            Env::default(),
        )
        .unwrap();
        assert_eq!(s.github.environment, "live");
        assert_eq!(s.coolify.apps[0].uuid, "new");
        // ALMAREL_GITHUB_ENVIRONMENT beats the file for production only.
        let env = Env::from_pairs([("ALMAREL_GITHUB_ENVIRONMENT", "from-env")]);
        let s = merge(ENVIRONMENTS, env).unwrap();
        assert_eq!(s.github.environment, "from-env");
        let st = s.select_environment(Some("staging")).unwrap();
        assert_eq!(st.github.environment, "staging-eu");
    }

    #[test]
    fn an_unknown_environment_is_exit_2_naming_the_configured_ones() {
        let s = merge(ENVIRONMENTS, Env::default()).unwrap();
        let e = s.select_environment(Some("qa")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.code, Some("unknown_environment"));
        assert!(
            e.message
                .contains("--env qa: no such environment (configured: production, staging)"),
            "{}",
            e.message
        );
        assert!(
            e.hint()
                .unwrap()
                .contains("--env production, --env staging"),
            "{:?}",
            e.hints
        );
    }

    #[test]
    fn an_unknown_key_in_an_environment_names_the_key_and_line() {
        for (text, key, line) in [
            (
                "[environments.staging]\nacepts = [\"final\"]\n",
                "acepts",
                2,
            ),
            (
                "[environments.staging.coolify]\nurl = \"https://c.example.com\"\ntoken = \"x\"\n",
                "token",
                3,
            ),
            (
                "[environments.staging.verify]\nhealth = \"https://s.example.com\"\n",
                "health",
                2,
            ),
            ("[approve]\nrequire_stagin = true\n", "require_stagin", 2),
        ] {
            let err = parse_file(text).unwrap_err();
            assert!(err.contains(key), "{text}: {err}");
            assert!(err.contains(&format!("line {line}")), "{text}: {err}");
        }
    }

    #[test]
    fn bad_environment_values_are_usage_errors() {
        for (text, needle) in [
            (
                "[environments.staging]\naccepts = [\"rc\"]\n",
                "environments.staging.accepts: `rc`",
            ),
            (
                "[environments.staging]\naccepts = []\n",
                "environments.staging.accepts: empty",
            ),
            (
                "[environments.staging.coolify]\nurl = \"ftp://x\"\n",
                "environments.staging.coolify.url",
            ),
            (
                "[environments.staging.coolify]\ntoken_env = \"A-B\"\n",
                "environments.staging.coolify.token_env",
            ),
            (
                "[environments.staging.verify]\nhealth_url = \"nope\"\n",
                "environments.staging.verify.health_url",
            ),
            (
                "[[environments.staging.coolify.apps]]\nname = \"api\"\nuuid = \"a\"\n[[environments.staging.coolify.apps]]\nname = \"api\"\nuuid = \"b\"\n",
                "used twice",
            ),
            ("[environments.\"st ag\"]\n", "not a valid environment name"),
            (
                "[approve]\nrequire_staging = true\n",
                "[environments.staging]",
            ),
        ] {
            let e = merge(text, Env::default()).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{text}");
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
    }
}
