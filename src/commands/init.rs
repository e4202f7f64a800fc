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
use crate::coolify::Application;
use crate::error::{Error, Result};
use crate::report::{Next, Report};
use crate::settings::Settings;
use crate::ui::Ui;
use crate::workflow::{Event, Verdict, Workflow};

use super::doctor::{self, DoctorReport};

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
        match &self.doctor {
            Some(d) if d.ok() => Some(Next::new(["checklist"])),
            _ => Some(Next::new(["doctor"])),
        }
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

    // Workflows: the clone's files, else GitHub's list.
    ctx.ui.progress("reading the workflows…");
    let files = local_workflows(&s.workdir);
    let listed = if files.is_empty() {
        match remote_workflows(&dctx).await {
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
        env_flag.as_deref().unwrap_or("production"),
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

    // The environment's protection rules, for the comment.
    let rules = match dctx.github().await {
        Ok(client) => match client.environment(&environment).await {
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
    };

    // Coolify apps.
    let coolify_url = dsettings.coolify.url.clone();
    let mut apps = Vec::new();
    if coolify_url.is_some() {
        ctx.ui.progress("listing the Coolify applications…");
        match dctx.coolify() {
            Ok(client) => match client.applications().await {
                Ok(all) => apps = pick_apps(ctx, req, &all, &mut notes).await?,
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

    // Verify URLs: flags, else the apps' domains.
    let api_app = pick_by_name(&apps, &["api", "backend", "server"]).or_else(|| apps.first());
    let web_app = pick_by_name(&apps, &["web", "front", "site", "ui", "app"])
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
    let verify = Verify {
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
    };

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
        "write {path} ({} workflows, {} Coolify apps)?",
        3,
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

// ---- workflows ----

/// One workflow file (or one GitHub lists).
#[derive(Debug, Clone)]
struct Found {
    /// The file name (`deploy.yml`).
    file: String,
    /// The path (`.github/workflows/deploy.yml`).
    path: String,
    /// `name:`, else the path (as GitHub shows it).
    name: String,
    /// Parsed, when the file was read.
    parsed: Option<Workflow>,
}

fn local_workflows(workdir: &Path) -> Vec<Found> {
    let Some(root) = crate::git::work_tree_root(workdir) else {
        return Vec::new();
    };
    let dir = root.join(".github").join("workflows");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let file = p.file_name()?.to_string_lossy().into_owned();
            let path = format!(".github/workflows/{file}");
            let parsed = std::fs::read_to_string(&p)
                .ok()
                .and_then(|t| Workflow::parse(&t).ok());
            let name = parsed
                .as_ref()
                .and_then(|w| w.name.clone())
                .unwrap_or_else(|| path.clone());
            Some(Found {
                file,
                path,
                name,
                parsed,
            })
        })
        .collect()
}

/// GitHub's workflow list, each file read through the contents API at
/// `git.branch` when it can be (for its jobs' environments and triggers).
async fn remote_workflows(ctx: &Context) -> Result<Vec<Found>> {
    let client = ctx.github().await?;
    let mut out = Vec::new();
    for w in client.workflows().await? {
        let parsed = doctor::remote_workflow(ctx, &client, &w.path)
            .await
            .and_then(|(_, p)| p.ok());
        out.push(Found {
            file: w.file_name().to_owned(),
            path: w.path.clone(),
            name: w.name.clone(),
            parsed,
        });
    }
    Ok(out)
}

fn chosen(f: &Found, how: &str) -> ChosenWorkflow {
    // The name as GitHub shows it, unless it is only the path: then the file name.
    let name = if f.name == f.path {
        f.file.clone()
    } else {
        f.name.clone()
    };
    ChosenWorkflow {
        name,
        path: Some(f.path.clone()),
        how: how.to_owned(),
    }
}

fn by_flag(listed: &[Found], flag: &str) -> ChosenWorkflow {
    listed
        .iter()
        .find(|f| f.name == flag || f.file == flag || f.path == flag)
        .map_or_else(
            || ChosenWorkflow {
                name: flag.to_owned(),
                path: None,
                how: "flag".to_owned(),
            },
            |f| ChosenWorkflow {
                name: flag.to_owned(),
                path: Some(f.path.clone()),
                how: "flag".to_owned(),
            },
        )
}

/// The deploy workflow: the flag; else the one whose jobs use `env`; else
/// the one whose name says deploy. Also the file found, for its environment.
fn choose_deploy<'a>(
    listed: &'a [Found],
    flag: Option<&str>,
    env: &str,
) -> (ChosenWorkflow, Option<&'a Found>) {
    if let Some(flag) = flag {
        let f = listed
            .iter()
            .find(|f| f.name == flag || f.file == flag || f.path == flag);
        return (by_flag(listed, flag), f);
    }
    let by_env = listed.iter().find(|f| {
        f.parsed
            .as_ref()
            .is_some_and(|w| w.environments().contains(&env))
    });
    if let Some(f) = by_env {
        return (
            chosen(f, &format!("its jobs use the environment `{env}`")),
            Some(f),
        );
    }
    let by_name = listed.iter().find(|f| {
        f.name.to_ascii_lowercase().contains("deploy")
            || f.file.to_ascii_lowercase().contains("deploy")
    });
    if let Some(f) = by_name {
        return (chosen(f, "its name says deploy"), Some(f));
    }
    (
        ChosenWorkflow {
            name: "Deploy to Production".to_owned(),
            path: None,
            how: "default (no deploy workflow found)".to_owned(),
        },
        None,
    )
}

#[allow(clippy::too_many_arguments)]
fn choose(
    listed: &[Found],
    flag: Option<&str>,
    deploy: &ChosenWorkflow,
    default: &str,
    by_name: impl Fn(&Found) -> bool,
    by_trigger: impl Fn(&Workflow) -> bool,
    trigger_says: &str,
) -> ChosenWorkflow {
    if let Some(flag) = flag {
        return by_flag(listed, flag);
    }
    let others: Vec<&Found> = listed
        .iter()
        .filter(|f| deploy.path.as_deref() != Some(f.path.as_str()))
        .collect();
    if let Some(f) = others.iter().find(|f| by_name(f)) {
        return chosen(f, "its name");
    }
    if let Some(f) = others
        .iter()
        .find(|f| f.parsed.as_ref().is_some_and(&by_trigger))
    {
        return chosen(f, trigger_says);
    }
    ChosenWorkflow {
        name: default.to_owned(),
        path: None,
        how: "default (none found)".to_owned(),
    }
}

fn describe_rules(env: &crate::github::Environment) -> String {
    let mut parts = Vec::new();
    for r in &env.protection_rules {
        match r.kind.as_str() {
            "required_reviewers" => {
                let who: Vec<String> = r.reviewers.iter().flatten().map(|x| x.label()).collect();
                parts.push(format!("required reviewers {}", who.join(", ")));
                if r.prevent_self_review == Some(true) {
                    parts.push("prevent self-review".to_owned());
                }
            }
            "wait_timer" => {
                if let Some(m) = r.wait_timer.filter(|m| *m > 0) {
                    parts.push(format!("wait timer {m} min"));
                }
            }
            other => parts.push(other.replace('_', " ")),
        }
    }
    if parts.is_empty() {
        "no protection rules (add required reviewers: Settings → Environments)".to_owned()
    } else {
        parts.join("; ")
    }
}

// ---- Coolify apps ----

async fn pick_apps(
    ctx: &Context,
    req: &Request,
    all: &[Application],
    notes: &mut Vec<String>,
) -> Result<Vec<ChosenApp>> {
    let docker: Vec<&Application> = all.iter().filter(|a| a.is_docker_image()).collect();
    let others: Vec<String> = all
        .iter()
        .filter(|a| !a.is_docker_image())
        .filter_map(|a| a.name.clone())
        .collect();
    if !others.is_empty() {
        notes.push(format!(
            "left out (not Docker Image apps, almarel cannot set their image tag): {}",
            others.join(", ")
        ));
    }
    let name_of = |a: &Application| a.name.clone().unwrap_or_default();
    let mut wanted: Vec<String> = req.apps.clone();
    if wanted.is_empty() && docker.len() > 1 && ctx.ui.can_ask() && !ctx.settings.global.yes {
        let names: Vec<String> = docker.iter().map(|a| name_of(a)).collect();
        if let Some(answer) = ctx
            .ui
            .ask(&format!(
                "Coolify apps to deploy ({}), comma-separated, empty for all:",
                names.join(", ")
            ))
            .await?
        {
            wanted = answer
                .split(',')
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty())
                .collect();
        }
    }
    let picked: Vec<&Application> = if wanted.is_empty() {
        docker.clone()
    } else {
        let mut out = Vec::new();
        for w in &wanted {
            match all.iter().find(|a| a.name.as_deref() == Some(w.as_str())) {
                Some(a) if a.is_docker_image() => out.push(a),
                Some(a) => {
                    return Err(Error::usage(format!(
                        "the Coolify app `{w}` is not a Docker Image app (build pack {})",
                        a.build_pack.as_deref().unwrap_or("unknown")
                    ))
                    .with_hint(
                        "almarel deploys by setting the image tag: pick Docker Image apps",
                    ));
                }
                None => {
                    let names: Vec<String> = docker.iter().map(|a| name_of(a)).collect();
                    return Err(Error::usage(format!("no Coolify app named `{w}`"))
                        .with_hint(format!("the Docker Image apps are: {}", names.join(", "))));
                }
            }
        }
        out
    };
    if picked.is_empty() {
        notes.push(
            "Coolify has no Docker Image app: add [[coolify.apps]] once there is one".to_owned(),
        );
    }
    Ok(picked
        .into_iter()
        .map(|a| ChosenApp {
            name: name_of(a),
            uuid: a.uuid.clone().unwrap_or_default(),
            domain: a
                .fqdn
                .as_deref()
                .and_then(|f| f.split(',').map(str::trim).find(|d| !d.is_empty()))
                .map(|d| d.trim_end_matches('/').to_owned()),
            image: a.docker_registry_image_name.clone(),
        })
        .filter(|a| !a.name.is_empty() && !a.uuid.is_empty())
        .collect())
}

fn pick_by_name<'a>(apps: &'a [ChosenApp], words: &[&str]) -> Option<&'a ChosenApp> {
    words.iter().find_map(|w| {
        apps.iter()
            .find(|a| a.name.to_ascii_lowercase().contains(w))
    })
}

// ---- the file ----

struct Verify {
    health: Option<(String, String)>,
    version: Option<(String, String)>,
    web: Option<(String, String)>,
}

struct FileParts<'a> {
    settings: &'a Settings,
    repository: &'a str,
    environment: &'a str,
    rules: Option<&'a str>,
    ci: &'a ChosenWorkflow,
    release: &'a ChosenWorkflow,
    deploy: &'a ChosenWorkflow,
    coolify_url: Option<&'a str>,
    apps: &'a [ChosenApp],
    verify: &'a Verify,
}

/// Text safe inside a `#` comment (no line breaks or other control characters).
fn c(s: &str) -> String {
    s.replace(char::is_control, " ")
}

/// A TOML string literal.
fn q(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn workflow_line(out: &mut String, key: &str, what: &str, w: &ChosenWorkflow) {
    let whence = match &w.path {
        Some(p) => format!("{p}; chosen by: {}", w.how),
        None => format!("chosen by: {}", w.how),
    };
    out.push_str(&format!(
        "# {what} ({}).\n{key} = {}\n",
        c(&whence),
        q(&w.name)
    ));
}

fn render_file(p: &FileParts<'_>) -> String {
    let s = p.settings;
    let mut out = String::new();
    out.push_str(
        "# almarel.toml, written by `almarel init`. Every key is optional; see\n\
         # docs/configuration.md. No secrets here: the GitHub token comes from GH_TOKEN,\n\
         # GITHUB_TOKEN or `gh auth login`, the Coolify token from COOLIFY_TOKEN.\n\
         # Check the setup with `almarel doctor`.\n\n",
    );
    out.push_str("[git]\n");
    out.push_str(&format!(
        "# The remote release tags are pushed to and fetched from.\nremote = {}\n",
        q(&s.git.remote)
    ));
    out.push_str(&format!(
        "# The release branch: tags are made on it, CI must pass on it.\nbranch = {}\n",
        q(&s.git.branch)
    ));
    out.push_str(&format!(
        "# Release tags are <tag_prefix><version>, e.g. {}1.2.3.\ntag_prefix = {}\n\n",
        s.git.tag_prefix,
        q(&s.git.tag_prefix)
    ));
    out.push_str("[github]\n");
    out.push_str(&format!(
        "# The repository on GitHub.\nrepository = {}\n",
        q(p.repository)
    ));
    out.push_str(&format!(
        "# The REST API (GitHub Enterprise Server: https://HOST/api/v3).\napi_url = {}\n",
        q(&s.github.api_url)
    ));
    let rules = p
        .rules
        .map(|r| format!(" Protection rules found: {}.", c(r)))
        .unwrap_or_default();
    out.push_str(&format!(
        "# The environment that guards production: its approval is what `almarel approve` gives.{rules}\nenvironment = {}\n",
        q(p.environment)
    ));
    workflow_line(
        &mut out,
        "ci_workflow",
        "CI: its success on the release commit is what approve and deploy check",
        p.ci,
    );
    workflow_line(
        &mut out,
        "deploy_workflow",
        "Deploy: waits for the production approval, then deploys; disabling it is the freeze",
        p.deploy,
    );
    workflow_line(
        &mut out,
        "release_workflow",
        "Release: runs on the release tag and creates the GitHub Release",
        p.release,
    );
    out.push('\n');
    match p.coolify_url {
        Some(url) => {
            out.push_str("[coolify]\n");
            out.push_str(&format!(
                "# The Coolify dashboard's base URL (the token comes from COOLIFY_TOKEN).\nurl = {}\n",
                q(url)
            ));
            out.push_str(&format!(
                "# The image tag deploy sets for a release: {{tag}} {{version}} {{sha}} {{short_sha}}.\nimage_tag = {}\n",
                q(&s.coolify.image_tag)
            ));
            out.push_str(&format!(
                "# The image tag CI deploys for a commit without a release tag.\nuntagged_image_tag = {}\n",
                q(&s.coolify.untagged_image_tag)
            ));
            for a in p.apps {
                let image = a.image.as_deref().unwrap_or("?");
                let domain = a
                    .domain
                    .as_deref()
                    .map(|d| format!(", {d}"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "\n# The Coolify app {} (Docker Image {}{}).\n[[coolify.apps]]\n# Its name in almarel's output and in `--app`.\nname = {}\n# Its uuid in Coolify (the last part of the app's URL).\nuuid = {}\n",
                    c(&a.name),
                    c(image),
                    c(&domain),
                    q(&a.name),
                    q(&a.uuid)
                ));
            }
            out.push('\n');
        }
        None => out.push_str(
            "# [coolify] was not configured: re-run `almarel init --coolify-url URL` with\n\
             # COOLIFY_TOKEN set, or add url and [[coolify.apps]] (name, uuid) here.\n\n",
        ),
    }
    let v = p.verify;
    if v.health.is_none() && v.version.is_none() && v.web.is_none() {
        out.push_str(
            "# [verify] was not configured: add version_url (JSON with the running commit SHA),\n\
             # health_url and web_url, or pass --version-url/--health-url/--web-url to init.\n",
        );
        return out;
    }
    out.push_str("[verify]\n");
    let whence = |app: &str| {
        if app.is_empty() {
            String::new()
        } else {
            format!(" (from the domain of the app {})", c(app))
        }
    };
    if let Some((url, app)) = &v.health {
        out.push_str(&format!(
            "# Must answer 200{}.\nhealth_url = {}\n",
            whence(app),
            q(url)
        ));
    }
    if let Some((url, app)) = &v.version {
        out.push_str(&format!(
            "# Its JSON carries the running commit SHA, at /commit, /sha, … or version_sha_pointer{}.\nversion_url = {}\n",
            whence(app),
            q(url)
        ));
    }
    if let Some((url, app)) = &v.web {
        out.push_str(&format!(
            "# The web app: must answer 200 with HTML{}.\nweb_url = {}\n",
            whence(app),
            q(url)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(file: &str, text: &str) -> Found {
        let parsed = Workflow::parse(text).ok();
        let path = format!(".github/workflows/{file}");
        Found {
            file: file.to_owned(),
            name: parsed
                .as_ref()
                .and_then(|w| w.name.clone())
                .unwrap_or_else(|| path.clone()),
            path,
            parsed,
        }
    }

    #[test]
    fn the_deploy_workflow_is_the_one_whose_jobs_use_the_environment() {
        let listed = vec![
            found(
                "deploy-staging.yml",
                "name: Deploy staging\non: push\njobs:\n  d:\n    environment: staging\n    runs-on: x\n",
            ),
            found(
                "ship.yml",
                "name: Ship\non: push\njobs:\n  d:\n    environment:\n      name: production\n    runs-on: x\n",
            ),
        ];
        let (w, f) = choose_deploy(&listed, None, "production");
        assert_eq!(w.name, "Ship");
        assert!(f.is_some());
        let (w, _) = choose_deploy(&listed, None, "qa");
        assert_eq!(
            (w.name.as_str(), w.how.as_str()),
            ("Deploy staging", "its name says deploy")
        );
        let (w, _) = choose_deploy(&[], None, "production");
        assert_eq!(w.name, "Deploy to Production");
        // A file without `name:` is written by its file name.
        let unnamed = vec![found(
            "cd.yml",
            "on: push\njobs:\n  d:\n    environment: production\n    runs-on: x\n",
        )];
        assert_eq!(choose_deploy(&unnamed, None, "production").0.name, "cd.yml");
    }

    #[test]
    fn the_file_quotes_what_it_writes_and_loads() {
        let settings = crate::settings::parse_config_text("").unwrap();
        let wf = ChosenWorkflow {
            name: "CI \"main\"".into(),
            path: None,
            how: "flag".into(),
        };
        let apps = vec![ChosenApp {
            name: "api \\ \"x\"\n[oops]".into(),
            uuid: "u1".into(),
            domain: Some("https://api.example.com".into()),
            image: None,
        }];
        let text = render_file(&FileParts {
            settings: &settings,
            repository: "o/r",
            environment: "prod",
            rules: None,
            ci: &wf,
            release: &wf,
            deploy: &wf,
            coolify_url: Some("https://coolify.example.com"),
            apps: &apps,
            verify: &Verify {
                health: None,
                version: Some(("https://api.example.com/api/version".into(), "api".into())),
                web: None,
            },
        });
        let loaded = crate::settings::parse_config_text(&text).unwrap();
        assert_eq!(loaded.github.ci_workflow, "CI \"main\"");
        assert_eq!(loaded.coolify.apps[0].name, "api \\ \"x\"\n[oops]");
        assert_eq!(loaded.github.environment, "prod");
        assert!(loaded.verify.health_url.is_none());
    }
}
