//! Every verb's flags → a plain request value, before any I/O. Commands never
//! see clap types; a usage error (exit 2) in the arguments is found here.
//! (Every verb has its function here.)

use crate::cli::{DeployArgs, RollbackArgs, TagArgs};
use crate::commands::{deploy, rollback, tag};
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
        allow_gap: args.allow_gap,
        allow_same_commit: args.allow_same_commit,
    })
}

/// `almarel approve [REF | --run ID] [--reject] [--comment C] [--allow-untagged]
/// [--allow-prerelease] [--watch [--timeout T]]`.
pub fn approve(
    args: &crate::cli::ApproveArgs,
    settings: &Settings,
) -> Result<crate::commands::approve::Request> {
    use crate::commands::approve::{Request, Target};
    use crate::error::Error;
    let target = match (&args.reference, args.run) {
        (Some(r), Some(id)) => {
            return Err(Error::usage(format!(
                "give REF ({r}) or --run {id}, not both: almarel would review run {id} and ignore REF"
            ))
            .with_code("ref_and_run")
            .with_hint(format!(
                "drop one: `almarel approve {r}` finds the waiting run of that commit, `almarel approve --run {id}` reviews that run"
            )));
        }
        (Some(r), None) => {
            // REF is checked before anything is sent (SPEC §7.7).
            crate::version::parse_ref(r, &settings.git.tag_prefix)?;
            Target::Ref(Some(r.clone()))
        }
        (None, Some(id)) => Target::Run(id),
        (None, None) => Target::Ref(None),
    };
    Ok(Request {
        target,
        reject: args.reject,
        comment: args.comment.clone(),
        allow_untagged: args.allow_untagged,
        allow_prerelease: args.allow_prerelease,
        watch: args.watch,
        timeout: args.timeout,
    })
}

/// `almarel deploy [REF] [--tag TAG] [--app NAME]… [--allow-*] [--no-wait]`:
/// REF and `--tag` are validated, the `--app` names looked up in
/// `coolify.apps`, and both image tag templates checked (exit 2, nothing sent).
pub fn deploy(args: &DeployArgs, settings: &Settings) -> Result<deploy::Request> {
    let prefix = &settings.git.tag_prefix;
    let target = match (&args.tag, &args.reference) {
        (Some(t), _) => deploy::TargetSpec::Tag(release_tag("--tag", t, prefix)?),
        (None, Some(r)) => {
            crate::version::parse_ref(r, prefix)?;
            deploy::TargetSpec::Ref(Some(r.clone()))
        }
        (None, None) => deploy::TargetSpec::Ref(None),
    };
    if args.allow_unverified_digest
        && settings.environment.name == crate::settings::STAGING_ENVIRONMENT
    {
        return Err(crate::error::Error::usage(
            "--allow-unverified-digest is for production: staging is where digests are verified",
        )
        .with_hint("drop --allow-unverified-digest, or deploy to production"));
    }
    let apps = crate::release::target::select_apps(&settings.coolify.apps, &args.apps)?;
    crate::release::target::check_template("coolify.image_tag", &settings.coolify.image_tag)?;
    crate::release::target::check_template(
        "coolify.untagged_image_tag",
        &settings.coolify.untagged_image_tag,
    )?;
    Ok(deploy::Request {
        target,
        apps,
        app_names: args.apps.clone(),
        allow_untagged: args.allow_untagged,
        allow_prerelease: args.allow_prerelease,
        allow_unverified_digest: args.allow_unverified_digest,
        allow_failed_ci: args.allow_failed_ci,
        skip_approval: args.skip_approval,
        timeout: args.timeout,
        wait: !args.no_wait,
    })
}

/// `almarel rollback [--to TAG] [--allow-migrations] [--no-freeze] [--wait D]
/// [--image-tag T] [--timeout D]`: `--to` must name a release tag, the apps
/// and the image tag template (`--image-tag`, else `coolify.image_tag`) are
/// checked (exit 2, nothing sent).
pub fn rollback(args: &RollbackArgs, settings: &Settings) -> Result<rollback::Request> {
    let prefix = &settings.git.tag_prefix;
    let to = args
        .to
        .as_deref()
        .map(|t| release_tag("--to", t, prefix))
        .transpose()?;
    let apps = crate::release::target::select_apps(&settings.coolify.apps, &[])?;
    crate::release::target::check_template("coolify.image_tag", &settings.coolify.image_tag)?;
    if let Some(t) = &args.image_tag {
        crate::release::target::check_template("--image-tag", t)?;
    }
    Ok(rollback::Request {
        to,
        apps,
        allow_migrations: args.allow_migrations,
        freeze: !args.no_freeze,
        wait: args.wait,
        image_tag: args.image_tag.clone(),
        timeout: args.timeout,
    })
}

/// `1.2.3` or `v1.2.3` → the release tag `v1.2.3` (exit 2 naming `flag` otherwise).
fn release_tag(flag: &str, given: &str, prefix: &str) -> Result<crate::version::ReleaseTag> {
    let name = crate::version::normalize_tag(given.trim(), prefix);
    crate::version::ReleaseTag::from_name(&name, prefix).ok_or_else(|| {
        crate::error::Error::usage(format!(
            "{flag} {given}: `{name}` is not a release tag ({prefix}MAJOR.MINOR.PATCH)"
        ))
        .with_hint(format!("e.g. {flag} 1.2.3 or {flag} {prefix}1.2.3"))
    })
}

/// `almarel freeze --reason TEXT [--cancel-running]`.
pub fn freeze(args: &crate::cli::FreezeArgs) -> Result<crate::release::freeze::FreezeRequest> {
    if args.reason.trim().is_empty() {
        return Err(crate::error::Error::usage("--reason must not be empty")
            .with_hint("say why, e.g. --reason \"checkout errors after v1.2.3\""));
    }
    Ok(crate::release::freeze::FreezeRequest {
        reason: args.reason.clone(),
        cancel_running: args.cancel_running,
    })
}

/// `almarel unfreeze [--only TAG]` (`TAG`: a release tag or version, checked
/// against `git.tag_prefix`).
pub fn unfreeze(
    args: &crate::cli::UnfreezeArgs,
    settings: &Settings,
) -> Result<crate::release::freeze::UnfreezeRequest> {
    let only = match &args.only {
        Some(t) => Some(crate::version::parse_tag(t, &settings.git.tag_prefix)?),
        None => None,
    };
    Ok(crate::release::freeze::UnfreezeRequest { only })
}

/// `almarel verify --expect-sha SHA | --expect-tag TAG [--wait D] [--interval D]`.
pub fn verify(
    args: &crate::cli::VerifyArgs,
    settings: &Settings,
) -> Result<crate::commands::verify::Request> {
    use crate::commands::verify::{Expect, Request};
    let expect = match (&args.expect_sha, &args.expect_tag) {
        (Some(sha), _) => Expect::Sha(crate::probe::parse_sha(sha)?),
        (None, Some(tag)) => Expect::Tag(crate::version::parse_tag(tag, &settings.git.tag_prefix)?),
        (None, None) => {
            return Err(crate::error::Error::usage(
                "verify needs --expect-sha SHA or --expect-tag TAG",
            )
            .with_code("no_expectation")
            .with_hint("e.g. almarel verify --expect-tag v1.2.3"));
        }
    };
    Ok(Request {
        expect,
        wait: args.wait,
        interval: args.interval,
        record: !args.no_record,
    })
}

/// `almarel status [REF] [--watch] [--timeout D]`: REF is checked here,
/// before anything is sent (SPEC §7.7).
pub fn status(
    args: &crate::cli::StatusArgs,
    settings: &Settings,
) -> Result<crate::commands::status::Request> {
    if let Some(r) = &args.reference {
        crate::version::parse_ref(r, &settings.git.tag_prefix)?;
    }
    use crate::release::watch::End;
    let until = match args.until.as_deref() {
        None => End::default_for(settings),
        Some(s) => End::parse(s).ok_or_else(|| {
            crate::error::Error::usage(format!("--until {s}: expected approval, runs or live"))
        })?,
    };
    if until == End::Live && !End::live_configured(settings) {
        return Err(crate::error::Error::usage(
            "--until live needs something that says what production runs: coolify.url and coolify.apps, or verify.version_url",
        )
        .with_hint("set one of them in almarel.toml, or end the watch with --until runs"));
    }
    Ok(crate::commands::status::Request {
        reference: args.reference.clone(),
        watch: args.watch,
        timeout: args.timeout,
        until,
        dispatch: args.dispatch,
    })
}

/// `almarel checklist [PHASE] [REF] [--version X]`: the phase, REF and the
/// version are checked here, before anything is read.
pub fn checklist(
    args: &crate::cli::ChecklistArgs,
    settings: &Settings,
) -> Result<crate::commands::checklist::Request> {
    let g = &settings.git;
    let (phases, named_phase, reference) = crate::commands::checklist::phases_and_ref(
        args.phase.as_deref(),
        args.reference.as_deref(),
    )?;
    if let Some(r) = &reference {
        crate::version::parse_ref(r, &g.tag_prefix)?;
    }
    let version = match &args.version {
        Some(v) => Some(ReleaseVersion::parse(v, &g.tag_prefix, &g.prerelease)?),
        None => None,
    };
    Ok(crate::commands::checklist::Request {
        phases,
        named_phase,
        reference,
        version,
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

/// `almarel completions SHELL`.
pub fn completions(
    args: &crate::cli::CompletionsArgs,
) -> Result<crate::commands::completions::CompletionsRequest> {
    Ok(crate::commands::completions::CompletionsRequest { shell: args.shell })
}

/// `almarel man` (no options of its own).
pub fn man(_args: &crate::cli::ManArgs) -> Result<crate::commands::completions::ManRequest> {
    Ok(crate::commands::completions::ManRequest::default())
}

/// `almarel rehearse [SCENARIO] [--interactive]`: `--interactive` prints
/// instructions for a person and cannot give one `--json` report (exit 2).
pub fn rehearse(
    args: &crate::cli::RehearseArgs,
    settings: &Settings,
) -> Result<crate::commands::rehearse::Request> {
    if args.interactive && settings.global.json {
        return Err(crate::error::Error::usage(
            "--interactive prints instructions for a person; it cannot be combined with --json",
        )
        .with_hint("drop --json, or drop --interactive to get one JSON report"));
    }
    Ok(crate::commands::rehearse::Request {
        scenario: args.scenario,
        interactive: args.interactive,
    })
}
