//! Every verb's flags → a plain request value, before any I/O. Commands never
//! see clap types; a usage error (exit 2) in the arguments is found here.
//! (Converted so far: `tag`. The other verbs still take their clap args.)

use crate::cli::TagArgs;
use crate::commands::tag;
use crate::error::Result;
use crate::settings::Settings;
use crate::version::ReleaseVersion;

/// `almarel tag VERSION [--message M] [--no-push]`.
pub fn tag(args: &TagArgs, settings: &Settings) -> Result<tag::Request> {
    let g = &settings.git;
    Ok(tag::Request {
        version: ReleaseVersion::parse(&args.version, &g.tag_prefix, &g.prerelease)?,
        message: args.message.clone(),
        push: !args.no_push,
    })
}

/// `almarel doctor` (no options of its own).
pub fn doctor(
    _args: &crate::cli::DoctorArgs,
    _settings: &Settings,
) -> Result<crate::commands::doctor::Request> {
    Ok(crate::commands::doctor::Request::default())
}

/// A URL flag of `init`: http(s) with a host, else exit 2 naming the flag.
fn init_url(flag: &str, value: Option<&String>) -> Result<Option<String>> {
    let Some(v) = value else { return Ok(None) };
    let ok = url::Url::parse(v)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    match ok {
        Some(_) => Ok(Some(v.trim_end_matches('/').to_owned())),
        None => Err(
            crate::error::Error::usage(format!("{flag} `{v}` is not an http(s) URL"))
                .with_hint(format!("pass {flag} https://HOST/...")),
        ),
    }
}

/// `almarel init [--force] [--repository R] [--coolify-url U] [--app NAME]… …`.
pub fn init(
    args: &crate::cli::InitArgs,
    settings: &Settings,
) -> Result<crate::commands::init::Request> {
    if let Some(r) = &args.repository {
        crate::settings::validate_repository(r)?;
    }
    let target = settings.config_file.clone().ok_or_else(|| {
        crate::error::Error::usage(
            "init writes almarel.toml at the git work tree's root, and this is not a git work tree",
        )
        .with_hint("run it inside your project's clone, or name the file with --config FILE")
    })?;
    Ok(crate::commands::init::Request {
        target,
        force: args.force,
        repository: args.repository.clone(),
        github_api_url: init_url("--github-api-url", args.github_api_url.as_ref())?,
        environment: args.environment.clone(),
        ci_workflow: args.ci_workflow.clone(),
        deploy_workflow: args.deploy_workflow.clone(),
        release_workflow: args.release_workflow.clone(),
        coolify_url: init_url("--coolify-url", args.coolify_url.as_ref())?,
        apps: args.apps.clone(),
        health_url: init_url("--health-url", args.health_url.as_ref())?,
        version_url: init_url("--version-url", args.version_url.as_ref())?,
        web_url: init_url("--web-url", args.web_url.as_ref())?,
        doctor: !args.no_doctor,
    })
}
