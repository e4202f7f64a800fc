//! `almarel init`: writes `almarel.toml` from what can be discovered (SPEC
//! §9.1), then runs doctor.
//!
//! Discovered: the repository from the remote's URL (or asked on a
//! terminal), the three workflows from the clone's `.github/workflows` (else
//! GitHub's workflow list), the environment the deploy workflow's jobs name
//! and its protection rules, the Coolify Docker Image apps (`GET
//! /api/v1/applications`) and verify URLs from their domains. Flags win over
//! discovery. It never overwrites a file without `--force` (exit 3, the file
//! untouched), needs `--yes` without a terminal (exit 3, nothing written),
//! and `--dry-run` prints the file instead of writing it. Nothing is sent
//! anywhere but GETs (init reads; the only file it writes is the config).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::report::{Next, Report};
use crate::settings::Settings;
use crate::ui::Ui;
use crate::workflow::{Event, Verdict};

use crate::setup::{self as doctor, DoctorReport};

mod apps;
mod file;
mod workflows;

use apps::{pick_apps, pick_by_name};
use file::{FileParts, Verify, render_file};
use workflows::{choose, choose_deploy, describe_rules, local_workflows, remote_workflows};

/// `almarel init`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Where the file goes.
    pub target: PathBuf,
    /// Replace an existing file.
    pub force: bool,
    /// `--repository`.
    pub repository: Option<String>,
    /// `--github-api-url`.
    pub github_api_url: Option<String>,
    /// `--environment`.
    pub environment: Option<String>,
    /// `--ci-workflow`.
    pub ci_workflow: Option<String>,
    /// `--deploy-workflow`.
    pub deploy_workflow: Option<String>,
    /// `--release-workflow`.
    pub release_workflow: Option<String>,
    /// `--coolify-url`.
    pub coolify_url: Option<String>,
    /// `--app` (names).
    pub apps: Vec<String>,
    /// `--health-url`.
    pub health_url: Option<String>,
    /// `--version-url`.
    pub version_url: Option<String>,
    /// `--web-url`.
    pub web_url: Option<String>,
    /// Run doctor after writing (not `--no-doctor`).
    pub doctor: bool,
}

/// A workflow init chose: the value written and where it came from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChosenWorkflow {
    /// What is written (`name:` of the file, else its file name).
    pub name: String,
    /// The file, when known.
    pub path: Option<String>,
    /// How it was chosen (`flag`, `jobs use the environment`, `name`, `default`, …).
    pub how: String,
}

/// One Coolify app written.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChosenApp {
    /// Name in Coolify.
    pub name: String,
    /// uuid.
    pub uuid: String,
    /// Its first domain, if any.
    pub domain: Option<String>,
    /// Image repository.
    pub image: Option<String>,
}

/// What init did.
#[derive(Debug, Clone, Serialize)]
pub struct InitReport {
    /// The file.
    pub path: String,
    /// `--config FILE` as given, for the next command.
    #[serde(skip)]
    pub config_arg: Option<String>,
    /// Whether it was written (false on a dry run).
    pub written: bool,
    /// Whether an existing file was replaced (`--force`).
    pub replaced: bool,
    /// `--dry-run`: printed, not written.
    pub dry_run: bool,
    /// `github.repository`.
    pub repository: String,
    /// `github.environment`.
    pub environment: String,
    /// The CI workflow.
    pub ci_workflow: ChosenWorkflow,
    /// The release workflow.
    pub release_workflow: ChosenWorkflow,
    /// The deploy workflow.
    pub deploy_workflow: ChosenWorkflow,
    /// `coolify.url`, if known.
    pub coolify_url: Option<String>,
    /// The apps written.
    pub apps: Vec<ChosenApp>,
    /// What could not be discovered, and why.
    pub notes: Vec<String>,
    /// The file's text.
    pub config: String,
    /// Doctor's findings on the written file (none on a dry run or `--no-doctor`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doctor: Option<DoctorReport>,
}

impl Report for InitReport {
    fn render(&self, ui: &Ui) {
        if self.dry_run {
            ui.result(&format!("would write {} (dry run):", self.path));
            ui.result("");
            for l in self.config.lines() {
                ui.result(l);
            }
            return;
        }
        ui.result(&format!(
            "{} {}",
            if self.replaced { "replaced" } else { "wrote" },
            self.path
        ));
        for n in &self.notes {
            ui.result(&format!("  note: {n}"));
        }
        if let Some(d) = &self.doctor {
            ui.result("doctor");
            doctor::render_checks(ui, &d.checks);
            ui.result(&d.verdict());
        }
    }
    fn next(&self) -> Option<Next> {
        if self.dry_run {
            return None;
        }
        let verb = match &self.doctor {
            Some(d) if d.ok() => "checklist",
            _ => "doctor",
        };
        // A file named with --config is only found again with --config.
        let mut words = vec![verb.to_owned()];
        if let Some(file) = &self.config_arg {
            words.extend(["--config".to_owned(), file.clone()]);
        }
        Some(Next::new(words))
    }
}

/// Runs init.
pub async fn run(ctx: &Context, req: &Request) -> Result<InitReport> {
    let s = &ctx.settings;
    let path = req.target.display().to_string();
    let exists = req.target.exists();
    // Refused before anything is read or sent: the file stays untouched.
    if exists && !req.force {
        return Err(Error::refused(format!("{path} already exists; nothing was written"))
            .with_code("config_exists")
            .with_hint("re-run with --force to replace it (`almarel init --force`), or edit it by hand and run `almarel doctor`"));
    }
    let mut notes = Vec::new();

    // The repository: flag or ALMAREL_GITHUB_REPOSITORY, else the remote, else asked.
    let repository = match req
        .repository
        .clone()
        .or_else(|| s.github.repository.clone())
    {
        Some(r) => r,
        None => ask_repository(ctx).await?,
    };
    let mut dsettings = s.clone();
    dsettings.github.repository = Some(repository.clone());
    if let Some(u) = &req.github_api_url {
        dsettings.github.api_url = u.clone();
    }
    if let Some(u) = &req.coolify_url {
        dsettings.coolify.url = Some(u.clone());
    }
    let dctx = Context::new(dsettings.clone(), ctx.ui.clone(), ctx.env.clone())
        .with_clock(ctx.clock.clone());

    let (ci, release, deploy, environment) = discover_workflows(ctx, &dctx, req, &mut notes).await;
    let rules = protection_rules(&dctx, &environment, &mut notes).await;
    let coolify_url = dsettings.coolify.url.clone();
    let apps = discover_apps(ctx, &dctx, req, &mut notes).await?;
    let verify = verify_urls(req, &apps);

    let text = render_file(&FileParts {
        settings: &dsettings,
        repository: &repository,
        environment: &environment,
        rules: rules.as_deref(),
        ci: &ci,
        release: &release,
        deploy: &deploy,
        coolify_url: coolify_url.as_deref(),
        apps: &apps,
        verify: &verify,
    });
    // The file must load with the normal loader.
    crate::settings::parse_config_text(&text).map_err(|e| {
        Error::local(format!(
            "init composed a file that does not load: {}",
            e.message
        ))
        .with_hint("pass the values as flags (almarel init --help) and report this")
    })?;

    let mut report = InitReport {
        path: path.clone(),
        // Not where the other commands look by themselves (almarel.toml at
        // the work tree's root): they need to be told.
        config_arg: crate::git::work_tree_root(&s.workdir)
            .map(|root| root.join(crate::settings::CONFIG_FILE_NAME))
            .filter(|default| *default == req.target)
            .is_none()
            .then(|| req.target.to_string_lossy().into_owned()),
        written: false,
        replaced: false,
        dry_run: s.global.dry_run,
        repository,
        environment,
        ci_workflow: ci,
        release_workflow: release,
        deploy_workflow: deploy,
        coolify_url,
        apps,
        notes,
        config: text,
        doctor: None,
    };
    if report.dry_run {
        return Ok(report);
    }
    if ctx.ui.can_ask() && !s.global.yes {
        // On a terminal, show what would be written before asking.
        for l in report.config.lines() {
            ctx.ui.progress(&format!("  {l}"));
        }
        for n in &report.notes {
            ctx.ui.progress(&format!("note: {n}"));
        }
    }
    ctx.confirm(&format!(
        "write {path} (3 workflows, {} Coolify apps)?",
        report.apps.len()
    ))
    .await?;
    // Journaled like a remote write, so an interruption during doctor says
    // the file was written (and how to check it), not "nothing was changed".
    let w = ctx
        .journal
        .begin(format!("write {path}"), Some("almarel doctor".to_owned()));
    match write_file(&req.target, &report.config, req.force) {
        Ok(()) => w.done(),
        Err(e) => {
            w.failed(&e.message);
            return Err(e);
        }
    }
    report.written = true;
    report.replaced = exists;

    if req.doctor {
        let written = reload(ctx, &req.target)?;
        let dctx =
            Context::new(written, ctx.ui.clone(), ctx.env.clone()).with_clock(ctx.clock.clone());
        report.doctor = Some(doctor::examine(&dctx).await);
    }
    Ok(report)
}

/// The three workflows and the environment: the clone's files, else
/// GitHub's list; flags win.
async fn discover_workflows(
    ctx: &Context,
    dctx: &Context,
    req: &Request,
    notes: &mut Vec<String>,
) -> (ChosenWorkflow, ChosenWorkflow, ChosenWorkflow, String) {
    let s = &ctx.settings;
    // Workflows: the clone's files, else GitHub's list.
    ctx.ui.progress("reading the workflows…");
    let files = local_workflows(&s.workdir);
    let listed = if files.is_empty() {
        match remote_workflows(dctx).await {
            Ok(l) => l,
            Err(e) => {
                notes.push(format!(
                    "no workflow files in this clone, and GitHub's list could not be read ({}); the default workflow names are written",
                    e.message
                ));
                Vec::new()
            }
        }
    } else {
        files
    };
    let env_flag = req.environment.clone();
    let deploy = choose_deploy(
        &listed,
        req.deploy_workflow.as_deref(),
        env_flag.as_deref().unwrap_or(&s.github.environment),
    );
    let environment = env_flag
        .or_else(|| {
            deploy
                .1
                .as_ref()
                .and_then(|f| f.parsed.as_ref())
                .and_then(|w| {
                    w.environments()
                        .into_iter()
                        .find(|e| !e.contains("${{"))
                        .map(str::to_owned)
                })
        })
        .unwrap_or_else(|| s.github.environment.clone());
    let deploy = deploy.0;
    let ci = choose(
        &listed,
        req.ci_workflow.as_deref(),
        &deploy,
        &s.github.ci_workflow,
        |f| f.name.eq_ignore_ascii_case("ci") || matches!(f.file.as_str(), "ci.yml" | "ci.yaml"),
        |w| {
            crate::workflow::evaluate(w, &Event::branch_push(&s.git.branch, None))
                == Verdict::Triggers
        },
        "runs on pushes to the branch",
    );
    let sample_tag = format!("{}1.0.0", s.git.tag_prefix);
    let release = choose(
        &listed,
        req.release_workflow.as_deref(),
        &deploy,
        &s.github.release_workflow,
        |f| {
            f.name.to_ascii_lowercase().contains("release")
                || f.file.to_ascii_lowercase().contains("release")
        },
        |w| crate::workflow::evaluate(w, &Event::tag_push(&sample_tag)) == Verdict::Triggers,
        "runs on release tags",
    );

    (ci, release, deploy, environment)
}

/// The environment's protection rules, in words (for the file's comment).
async fn protection_rules(
    dctx: &Context,
    environment: &str,
    notes: &mut Vec<String>,
) -> Option<String> {
    // The environment's protection rules, for the comment.
    match dctx.github().await {
        Ok(client) => match client.environment(environment).await {
            Ok(Some(env)) => Some(describe_rules(&env)),
            Ok(None) => {
                notes.push(format!(
                    "the environment `{environment}` does not exist on GitHub yet: create it with required reviewers (Settings → Environments)"
                ));
                None
            }
            Err(e) => {
                notes.push(format!(
                    "the environment's protection rules could not be read: {}",
                    e.message
                ));
                None
            }
        },
        Err(e) => {
            notes.push(format!("GitHub was not read: {}", e.message));
            None
        }
    }
}

/// The Coolify apps to configure (none without a Coolify URL and token).
async fn discover_apps(
    ctx: &Context,
    dctx: &Context,
    req: &Request,
    notes: &mut Vec<String>,
) -> Result<Vec<ChosenApp>> {
    // Coolify apps.
    let mut apps = Vec::new();
    if dctx.settings.coolify.url.is_some() {
        ctx.ui.progress("listing the Coolify applications…");
        match dctx.coolify() {
            Ok(client) => match client.applications().await {
                Ok(all) => apps = pick_apps(ctx, req, &all, notes).await?,
                Err(e) => notes.push(format!(
                    "the Coolify applications could not be listed ({}); add [[coolify.apps]] by hand",
                    e.message
                )),
            },
            Err(e) => notes.push(format!(
                "the Coolify applications were not listed: {}",
                e.message
            )),
        }
    } else {
        notes.push(
            "no Coolify URL (--coolify-url or ALMAREL_COOLIFY_URL): [coolify] is left out"
                .to_owned(),
        );
    }

    Ok(apps)
}

/// Verify URLs: flags, else the apps' domains (`<api>/health`,
/// `<api>/api/version`, `<web>/`).
fn verify_urls(req: &Request, apps: &[ChosenApp]) -> Verify {
    // Verify URLs: flags, else the apps' domains.
    let api_app = pick_by_name(apps, &["api", "backend", "server"]).or_else(|| apps.first());
    let web_app = pick_by_name(apps, &["web", "front", "site", "ui", "app"])
        .filter(|w| Some(w.uuid.as_str()) != api_app.map(|a| a.uuid.as_str()))
        .or_else(|| (apps.len() == 1).then(|| &apps[0]));
    let from = |app: Option<&ChosenApp>, suffix: &str| {
        app.and_then(|a| a.domain.as_ref()).map(|d| {
            (
                format!("{d}{suffix}"),
                app.map(|a| a.name.clone()).unwrap_or_default(),
            )
        })
    };
    Verify {
        health: req
            .health_url
            .clone()
            .map(|u| (u, String::new()))
            .or_else(|| from(api_app, "/health")),
        version: req
            .version_url
            .clone()
            .map(|u| (u, String::new()))
            .or_else(|| from(api_app, "/api/version")),
        web: req
            .web_url
            .clone()
            .map(|u| (u, String::new()))
            .or_else(|| from(web_app, "/")),
    }
}

async fn ask_repository(ctx: &Context) -> Result<String> {
    let remote = &ctx.settings.git.remote;
    let missing = || {
        Error::usage(format!(
            "cannot tell the GitHub repository: the remote `{remote}` has no GitHub URL"
        ))
        .with_hint("pass --repository owner/name (or set ALMAREL_GITHUB_REPOSITORY)")
    };
    let Some(answer) = ctx.ui.ask("GitHub repository (owner/name):").await? else {
        return Err(missing());
    };
    if answer.is_empty() {
        return Err(missing());
    }
    crate::settings::validate_repository(&answer)?;
    Ok(answer)
}

/// The settings of the file just written, loaded the normal way.
fn reload(ctx: &Context, target: &Path) -> Result<Settings> {
    let g = &ctx.settings.global;
    let args = GlobalArgs {
        dir: Some(ctx.settings.workdir.clone()),
        config: Some(target.to_path_buf()),
        json: g.json,
        yes: g.yes,
        dry_run: g.dry_run,
        quiet: g.quiet,
        verbose: g.verbose,
        color: g.color,
    };
    Settings::resolve(&args, &ctx.env, &ctx.settings.workdir)
}

/// Writes `text` to `target`: through a temporary file renamed into place;
/// without `force`, an existing file (even one created meanwhile) is kept.
fn write_file(target: &Path, text: &str, force: bool) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::local(format!("cannot write {}: {e}", target.display()))
            .with_hint("check the directory's permissions")
    };
    let dir = target.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    std::fs::write(tmp.path(), text).map_err(fail)?;
    if force {
        tmp.persist(target).map_err(|e| fail(e.error))?;
    } else {
        tmp.persist_noclobber(target).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::refused(format!(
                    "{} appeared meanwhile; nothing was written",
                    target.display()
                ))
                .with_code("config_exists")
                .with_hint("re-run with --force to replace it")
            } else {
                fail(e.error)
            }
        })?;
    }
    Ok(())
}
