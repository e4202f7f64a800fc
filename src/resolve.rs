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
    Ok(crate::commands::status::Request {
        reference: args.reference.clone(),
        watch: args.watch,
        timeout: args.timeout,
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
